"""cntr attach and exec against containers of real engines, resolved by name.

Run as root with Debian's pytest (only these tests: -m engines; without them: -m "not engines"):

    /usr/bin/python3 -m pytest -m engines tests/integration/test_engines.py

For each engine (docker, podman, containerd, lxc, lxd, nspawn) a module-scoped fixture runs
tests/engines/ENGINE.sh: it installs the engine from Debian's archive if it is missing (once per
machine), starts its daemon if it has one, and runs a plain and a user-namespaced container of
a local busybox image, plus one that exists but is not running. The fixture stops what it
started before the next engine begins. An engine whose script exits 77 (its packages cannot be
installed) is skipped with the script's reason, except in CI (CI=true), where that fails the
engine's tests; any other failure is an error.

Every attach runs twice, with --backend cntrfs and with --backend bind; exec runs once (it uses
the container's own root, so the back end does not apply). Every session runs one script inside
and exits 3. From its output the tests check the namespaces against the container pid's ns
links as the host sees them (attach has its own mount namespace, exec the container's), the
session's cgroups (its /proc/self/cgroup must equal the container pid's, read from inside the
container's cgroup namespace), the uid and uid_map (container root; shifted for user
namespaces), the image's marker file (at /var/lib/cntr for attach, / for exec), for attach the
host's tools at / and the filesystem type of / (fuse.cntrfs for cntrfs, the host root's for
bind), and that the exit status comes through. `cntr exec NAME` inside `cntr attach NAME` is
checked the same way (the host-side cntr runs it). Without --backend, attach -v must report its
choice: bind for plain containers, cntrfs for user-namespaced ones. Docker sessions
(attach with each back end, exec) must carry docker's seccomp filter: Seccomp 2 with the
container's filter count, unshare -U and keyctl denied; with --seccomp off neither. On docker and
podman containers a subset of test_attach's and test_exec's properties is checked too (helpers
from session_support): the command's credentials, the pty of a terminal session (the container's
devpts), SIGKILL of cntr ending the session, no background process outliving it, the relay for
a target without CAP_SYS_CHROOT, and nothing written on the host or in the container but the
session's own file (untouched.py). Stopped containers and unknown names must fail with one line. The last three tests need no engine and are not marked
"engines": -m "not engines" runs them, and starts and stops nothing.
"""

import os
import signal
import subprocess

import pytest

import cntr_helpers as H
import session_support as S
import untouched

# Marked one by one: the tests under "no engine needed" run with -m "not engines" too.
engines = pytest.mark.engines

CNTR = os.path.realpath(H.cntr_bin())
ENGINES_DIR = os.path.join(H.REPO, "tests", "engines")
ENGINES = ["docker", "podman", "containerd", "lxc", "lxd", "nspawn"]
CANNOT_RUN = 77
NS_SHARED = ("cgroup", "ipc", "net", "pid", "uts", "user", "time")
MARKER = "cntr-test busybox rootfs"
DOCKER_USERNS_HOST = "unix:///run/cntr-test/docker-userns.sock"
# Installs can take minutes on a fresh machine; a start once installed takes seconds.
SCRIPT_TIMEOUT = 900
RUN_TIMEOUT = 60

# Printed by the session: one "key value" per line; the marker path is $1. "cg" comes once per
# line of the shell's own /proc/self/cgroup (read by the shell itself, not by a child), "root_fs"
# is the filesystem type of the top mount on /.
SESSION = ('for n in cgroup ipc net pid uts user time mnt; do echo "ns_$n $(readlink /proc/self/ns/$n)"; '
           'done; echo "uid $(id -u)"; echo "uid_map $(cat /proc/self/uid_map)"; '
           'while read -r l; do echo "cg $l"; done </proc/self/cgroup; '
           r'echo "root_fs $(sed -n "s/^[0-9]* [0-9]* [^ ]* [^ ]* \/ .* - \([^ ]*\) .*/\1/p" '
           '/proc/self/mountinfo | tail -n 1)"; '
           'echo "marker $(cat "$1")"; [ -e /usr/bin/python3 ] && echo "host_tools yes"; exit 3')
# How test_session runs: attach with each back end, exec once (it has no fat view, so no back end).
MODES = [("attach", "cntrfs"), ("attach", "bind"), ("exec", None)]
MODE_IDS = ["attach-cntrfs", "attach-bind", "exec"]


def in_ci():
    """CI=true (GitHub Actions, GitLab and most CI systems set it): an engine that cannot run is a
    failure there, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


def script(engine, action):
    return subprocess.run([os.path.join(ENGINES_DIR, engine + ".sh"), action], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=SCRIPT_TIMEOUT)


def last_line(p):
    lines = p.stdout.decode().split()
    return lines[-1] if lines else ""


class Target:
    """A container: its type and name for cntr, the host pid, and the environment cntr needs."""

    def __init__(self, type_, name, pid, env=None):
        self.type, self.name, self.pid = type_, name, pid
        self.env = dict(os.environ)
        self.env.pop("DOCKER_HOST", None)
        self.env.update(env or {})


class Engine:
    def __init__(self, name):
        self.name = name
        self.targets = {}  # "plain", "userns" -> Target
        self.stopped = []  # [(type, name)] that exist but do not run
        self.extra = []  # [(type, name, pid, env)] other spellings that must resolve
        self.setup_steps = []

    def run(self, action):
        p = script(self.name, action)
        self.setup_steps.append(action)
        if p.returncode == CANNOT_RUN:
            why = "%s cannot run on this machine: %s" % (self.name, p.stderr.decode().strip())
            if in_ci():
                pytest.fail(why + " (a skip is a failure in CI: CI=true)", pytrace=False)
            pytest.skip(why)
        if p.returncode != 0:
            raise AssertionError("%s.sh %s failed (exit %d):\n%s" % (
                self.name, action, p.returncode, p.stderr.decode(errors="replace")))
        return last_line(p)

    def start(self):
        t = self.name  # the -t name is the engine's
        base = "cntr-test-" + self.name
        self.targets["plain"] = Target(t, base, int(self.run("start")))
        env = {"DOCKER_HOST": DOCKER_USERNS_HOST} if self.name == "docker" else {}
        self.targets["userns"] = Target(t, base + "-userns", int(self.run("start-userns")), env)
        self.stopped.append((t, self.run("stopped")))
        if self.name in ("docker", "podman"):
            # A short id: in the default order only after every engine lacked that exact name.
            tool = ["/usr/bin/docker", "-H", "unix:///run/docker.sock"] if t == "docker" else ["podman"]
            cid = subprocess.check_output(tool + ["inspect", "-f", "{{.Id}}", base], timeout=RUN_TIMEOUT)
            self.extra.append((t, cid.decode().strip()[:12], self.targets["plain"].pid, {}))
        if self.name == "containerd":
            moby = int(self.run("start-moby"))
            app = int(self.run("start-k8s"))
            cri = self.run("k8s-id")
            self.extra += [
                ("containerd", base + "-moby", moby, {}),
                ("kubernetes", "cntr-test/web-0/app", app, {}),
                ("kubernetes", "web-0/app", app, {}),
                ("kubernetes", "cntr-test/web-0", app, {}),  # ns/pod: its one app container
                ("kubernetes", "web-0", app, {}),
                ("kubernetes", cri, app, {}),
                ("kubernetes", cri[:12], app, {}),
                ("containerd", cri, app, {}),
            ]
            self.stopped.append(("kubernetes", "cntr-test/web-1/app"))

    def stop(self):
        p = script(self.name, "stop")
        assert p.returncode == 0, "%s.sh stop: %s" % (self.name, p.stderr.decode(errors="replace"))
        left = [(a, script(self.name, a)) for a in ("pid", "pid-userns")]
        # Asking podman re-creates its storage mount: a second stop drops it again.
        script(self.name, "stop")
        for action, p in left:
            assert p.returncode != 0 and not p.stdout.strip(), "%s.sh %s after stop: %r" % (
                self.name, action, p.stdout)


@pytest.fixture(scope="module")
def final_sweep():
    """cntr's default order asks every engine, and `podman container inspect` re-creates the
    storage mount podman keeps; one last quiet stop per engine leaves the machine as found."""
    yield
    for name in ENGINES:
        script(name, "stop")


@pytest.fixture(scope="module", params=ENGINES)
def engine(request, final_sweep):
    e = Engine(request.param)
    try:
        e.start()
    except BaseException:
        script(e.name, "stop")
        raise
    yield e
    e.stop()


def cntr(sub, target_args, cmd, env=None):
    return subprocess.run([CNTR, sub] + target_args + ["--"] + cmd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)


def backend_args(backend):
    return ["--backend", backend] if backend else []


def session(sub, target_args, env):
    marker = "/var/lib/cntr/etc/cntr-test-rootfs" if sub == "attach" else "/etc/cntr-test-rootfs"
    p = cntr(sub, target_args, ["/bin/sh", "-c", SESSION, "sh", marker], env)
    return p, parse_session(p)


def parse_session(p):
    """The key/value lines SESSION printed."""
    out = {"cg": []}
    for line in p.stdout.decode(errors="replace").splitlines():
        k, _, v = line.partition(" ")
        if k == "cg":
            out[k].append(v)
        else:
            out[k] = v
    return out


def cgroups_seen_inside(pid):
    """pid's /proc/PID/cgroup as a process in pid's cgroup namespace reads it."""
    p = subprocess.run(["nsenter", "--cgroup=/proc/%d/ns/cgroup" % pid, "cat", "/proc/%d/cgroup" % pid],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=RUN_TIMEOUT, check=True)
    return p.stdout.decode().splitlines()


def host_root_fstype():
    return [m for m in H.mounts() if m["mountpoint"] == "/"][-1]["fstype"]


def check_session(sub, p, out, pid, backend=None):
    """The session ran in pid's container and cgroups, as its root, with the exit status passed
    on; attach's fat view came from `backend` ("cntrfs" or "bind")."""
    assert p.returncode == 3, "exit %d, stderr %r, stdout %r" % (p.returncode, p.stderr, p.stdout)
    # Only a namespace the container has of its own tells joining it from keeping ours: every
    # engine makes ipc, net, pid and uts ones, and a user namespace for a shifted id map. Those
    # it shares with us (time, and user for plain containers) must stay ours.
    theirs = {n: os.readlink("/proc/%d/ns/%s" % (pid, n)) for n in NS_SHARED}
    own = {n for n in NS_SHARED if theirs[n] != os.readlink("/proc/self/ns/" + n)}
    want_own = {"ipc", "net", "pid", "uts"} | (set() if is_identity_map(pid) else {"user"})
    assert want_own <= own, "container %d shares namespaces %s with the host" % (pid, sorted(want_own - own))
    for n in NS_SHARED:
        assert out["ns_" + n] == theirs[n], "namespace %s: session %s, container %s (%s)" % (
            n, out["ns_" + n], theirs[n], "its own" if n in own else "the host's")
    # Same cgroup namespace (above) and the same paths in it: the same cgroups.
    want_cg = cgroups_seen_inside(pid)
    assert want_cg, "no cgroups for pid %d" % pid
    assert out["cg"] == want_cg, "session's cgroups %r, the container's %r" % (out["cg"], want_cg)
    theirs = os.readlink("/proc/%d/ns/mnt" % pid)
    if sub == "exec":
        assert backend is None
        assert out["ns_mnt"] == theirs
        assert "host_tools" not in out
    else:
        # attach: a private mount namespace nested in the container's, with our tools at /
        assert out["ns_mnt"] not in (theirs, os.readlink("/proc/self/ns/mnt"))
        assert out["host_tools"] == "yes"
        assert backend in ("cntrfs", "bind"), backend
        # cntrfs serves / through FUSE; bind mounts the host's root itself.
        if backend == "cntrfs":
            assert out["root_fs"] == "fuse.cntrfs", "/ is %r with --backend cntrfs" % out["root_fs"]
        else:
            assert out["root_fs"] == host_root_fstype() != "fuse.cntrfs", (
                "/ is %r with --backend bind" % out["root_fs"])
    assert out["uid"] == "0"
    with open("/proc/%d/uid_map" % pid) as f:
        assert out["uid_map"].split() == f.read().split()
    assert out["marker"] == MARKER


def one_line_error(p, rc=1):
    """One "cntr: " line on stderr, nothing on stdout, exit status rc (1: cntr failed before
    starting the command, 2: usage; doc/cntr.1, EXIT STATUS)."""
    lines = p.stderr.decode(errors="replace").splitlines()
    assert p.returncode == rc, p
    assert len(lines) == 1 and lines[0].startswith("cntr: "), "stderr: %r" % p.stderr
    assert p.stdout == b""
    return lines[0]


# ---------------------------------------------------------------------------
# every engine
# ---------------------------------------------------------------------------

def is_identity_map(pid):
    with open("/proc/%d/uid_map" % pid) as f:
        return f.read().split() == ["0", "0", "4294967295"]


@engines
@pytest.mark.parametrize("how", ["typed", "default"])
@pytest.mark.parametrize("sub,backend", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("variant", ["plain", "userns"])
def test_session(engine, variant, sub, backend, how):
    t = engine.targets[variant]
    args = backend_args(backend) + (["-t", t.type] if how == "typed" else []) + [t.name]
    p, out = session(sub, args, t.env)
    check_session(sub, p, out, t.pid, backend)
    assert is_identity_map(t.pid) == (variant == "plain"), "uid_map of %s" % t.name


@engines
@pytest.mark.parametrize("variant", ["plain", "userns"])
def test_exec_by_name_inside_a_session(engine, variant):
    """`cntr exec NAME` inside `cntr attach NAME`: the host's cntr resolves nothing new, it runs
    the command in the attached container as `cntr exec NAME` on the host would."""
    t = engine.targets[variant]
    inner = [CNTR, "exec", t.name, "--", "/bin/sh", "-c", SESSION, "sh", "/etc/cntr-test-rootfs"]
    p = cntr("attach", [t.name], inner, t.env)
    check_session("exec", p, parse_session(p), t.pid)


@engines
@pytest.mark.parametrize("variant", ["plain", "userns"])
def test_default_backend(engine, variant):
    """Without --backend, attach picks bind for a plain container and cntrfs for a
    user-namespaced one, and -v says which (src/cmd/attach.c, choose_backend)."""
    t = engine.targets[variant]
    want = "bind" if variant == "plain" else "cntrfs"
    p, out = session("attach", ["-v", t.name], t.env)
    check_session("attach", p, out, t.pid, want)
    lines = p.stderr.decode(errors="replace").splitlines()
    assert [x for x in lines if x.startswith("cntr: back end: ")] == ["cntr: back end: " + want], lines


@engines
@pytest.mark.parametrize("how", ["typed", "default"])
@pytest.mark.parametrize("sub,backend", MODES, ids=MODE_IDS)
def test_stopped_container(engine, sub, backend, how):
    for type_, name in engine.stopped:
        p = cntr(sub, backend_args(backend) + (["-t", type_] if how == "typed" else []) + [name],
                 ["/bin/true"])
        line = one_line_error(p)
        assert "not running" in line and name in line, line


@engines
@pytest.mark.parametrize("how", ["typed", "default"])
@pytest.mark.parametrize("sub,backend", MODES, ids=MODE_IDS)
def test_unknown_name(engine, sub, backend, how):
    t = engine.targets["plain"]
    p = cntr(sub, backend_args(backend) + (["-t", t.type] if how == "typed" else [])
             + ["cntr-test-no-such-container"], ["/bin/true"], t.env)
    line = one_line_error(p)
    assert "no container 'cntr-test-no-such-container' found (tried: " in line, line
    assert t.type + ": " in line, line


# Seccomp state of the session, then two system calls docker's default profile denies to a
# process without CAP_SYS_ADMIN: unshare(CLONE_NEWUSER) (busybox's or the host's unshare) and,
# where the host's python3 is at hand (attach), keyctl(KEYCTL_GET_KEYRING_ID, session keyring).
SECCOMP_SCRIPT = (
    'grep -E "^Seccomp(_filters)?:" /proc/self/status; unshare -U true 2>/dev/null; echo "unshare $?"; '
    'if [ -x /usr/bin/python3 ]; then /usr/bin/python3 -c "import ctypes, platform; '
    'assert platform.machine() == \'x86_64\'; l = ctypes.CDLL(None, use_errno=True); '
    'r = l.syscall(250, 0, -3, 0); print(\'keyctl\', ctypes.get_errno() if r < 0 else 0)"; fi')


@engines
@pytest.mark.parametrize("engine", ["docker"], indirect=True)
@pytest.mark.parametrize("seccomp", ["auto", "off"])
@pytest.mark.parametrize("sub,backend", MODES, ids=MODE_IDS)
def test_docker_seccomp(engine, sub, backend, seccomp):
    """A session in a docker container carries docker's seccomp filter: Seccomp 2 with the
    container's number of filters, and unshare -U and keyctl fail with EPERM (both succeed on this
    host as root without the filter, which --seccomp off shows)."""
    t = engine.targets["plain"]
    with open("/proc/%d/status" % t.pid) as f:
        theirs = dict(line.split(":", 1) for line in f.read().splitlines())
    assert theirs["Seccomp"].strip() == "2", "docker's container runs without a filter: %r" % theirs["Seccomp"]
    args = backend_args(backend) + (["--seccomp", "off"] if seccomp == "off" else []) + [t.name]
    p = cntr(sub, args, ["/bin/sh", "-c", SECCOMP_SCRIPT], t.env)
    assert p.returncode == 0, p
    got = dict(line.split(None, 1) for line in p.stdout.decode().splitlines())
    if seccomp == "auto":
        want = {"Seccomp:": "2", "Seccomp_filters:": theirs["Seccomp_filters"].strip(), "unshare": "1"}
        if sub == "attach":
            want["keyctl"] = "1"  # EPERM
    else:
        want = {"Seccomp:": "0", "Seccomp_filters:": "0", "unshare": "0"}
        if sub == "attach":
            want["keyctl"] = "0"
    assert got == want, "stdout %r, stderr %r" % (p.stdout, p.stderr)


@engines
def test_other_spellings(engine):
    """docker, podman: a short id; docker also a numeric name that is a pid too; containerd:
    the moby and k8s.io namespaces, Kubernetes names and CRI ids. Nothing extra for the others."""
    for type_, name, pid, env in engine.extra:
        for args in (["-t", type_, name], [name]):
            p, out = session("exec", args, dict(os.environ, **env))
            check_session("exec", p, out, pid)
    if engine.name == "docker":
        numeric_name_is_ambiguous(engine.targets["plain"])


def numeric_name_is_ambiguous(t):
    name = str(t.pid)
    docker = ["/usr/bin/docker", "-H", "unix:///run/docker.sock"]
    subprocess.run(docker + ["run", "-d", "--name", name, "--network=none", "cntr-test/busybox:latest"],
                   check=True, stdout=subprocess.DEVNULL, timeout=RUN_TIMEOUT)
    try:
        other = int(subprocess.check_output(docker + ["inspect", "-f", "{{.State.Pid}}", name],
                                            timeout=RUN_TIMEOUT))
        line = one_line_error(cntr("exec", [name], ["/bin/true"], t.env))
        assert "ambiguous" in line and "-t process_id" in line and "-t docker" in line, line
        p, out = session("exec", ["-t", "process_id", name], t.env)
        check_session("exec", p, out, t.pid)
        p, out = session("exec", ["-t", "docker", name], t.env)
        check_session("exec", p, out, other)
    finally:
        subprocess.run(docker + ["rm", "-f", name], stdout=subprocess.DEVNULL, timeout=RUN_TIMEOUT)


# ---------------------------------------------------------------------------
# no engine needed
# ---------------------------------------------------------------------------

def test_unknown_type():
    p = cntr("exec", ["-t", "docker,rkt", "x"], ["/bin/true"])
    line = one_line_error(p, rc=2)
    assert "unknown container type 'rkt'" in line, line


def test_explicit_type_without_its_tool():
    env = dict(os.environ, PATH="/nonexistent")
    line = one_line_error(cntr("exec", ["-t", "podman,lxc", "x"], ["/bin/true"], env))
    assert line == "cntr: no container 'x' found (tried: podman: not installed; lxc: not installed)", line


def test_command_type():
    """The oldest process whose command line holds the string; never cntr itself."""
    first = subprocess.Popen(["sleep", "86400.4242"])
    second = None
    try:
        assert H.wait_until(lambda: os.path.exists("/proc/%d/cmdline" % first.pid), 5)
        p = cntr("exec", ["-v", "-t", "command", "86400.4242"], ["/bin/true"])
        assert p.returncode == 0, p
        assert "'86400.4242' matches process %d" % first.pid in p.stderr.decode(), p.stderr
        second = subprocess.Popen(["sleep", "86400.4242"])
        p = cntr("exec", ["-v", "-t", "command", "86400.4242"], ["/bin/true"])
        assert p.returncode == 0, p
        err = p.stderr.decode()
        assert "2 processes match" in err and "matches process %d" % first.pid in err, err
        line = one_line_error(cntr("exec", ["-t", "command", "86400.4243"], ["/bin/true"]))
        assert "no process's command line contains" in line, line
    finally:
        for proc in (first, second):
            if proc:
                proc.kill()
                proc.wait()


# ---------------------------------------------------------------------------
# docker and podman: properties test_attach and test_exec check on slim containers
# ---------------------------------------------------------------------------

DOCKER_PODMAN = pytest.mark.parametrize("engine", ["docker", "podman"], indirect=True)
# The engine's own tool, to start a second process in its container.
ENGINE_CLI = {"docker": ["/usr/bin/docker", "-H", "unix:///run/docker.sock"],
              "podman": ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "--events-backend=file"]}


def session_env(t):
    """session_support's environment for cntr (its token marks our processes), plus the engine's."""
    return S.cntr_env(**{k: t.env[k] for k in ("DOCKER_HOST",) if k in t.env})


def userns_root(pid):
    """The host uid of root in pid's user namespace (None for the host's)."""
    with open("/proc/%d/uid_map" % pid) as f:
        first = f.read().split()
    return None if first[:2] == ["0", "0"] else int(first[1])


@engines
@DOCKER_PODMAN
@pytest.mark.parametrize("sub,backend", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("variant", ["plain", "userns"])
def test_engine_credentials(engine, variant, sub, backend):
    """The session's command has the container process's ids, groups, umask, no_new_privs and
    capabilities (the bounding set limited to the permitted one, cntr's guard capability added:
    session_support.expected_caps), as on slim containers."""
    t = engine.targets[variant]
    cat = "/usr/bin/cat" if sub == "attach" else "/bin/cat"
    p = S.cntr(sub, t.name, [cat, "/proc/self/status"], args=backend_args(backend), env=session_env(t))
    st = S.parse_status(S.ok(p))
    theirs = S.proc_status(t.pid)
    for k in ("Uid", "Gid", "Groups", "NoNewPrivs", "Umask"):
        want = theirs[k]
        if k in ("Uid", "Gid", "Groups") and userns_root(t.pid) is not None:  # as seen inside
            want = " ".join(str(int(x) - userns_root(t.pid)) for x in want.split())
        assert st[k] == want, (k, st[k], want)
    assert S.hexcaps(S.caps_of(st)) == S.hexcaps(S.expected_caps(t.pid, userns_root_uid=userns_root(t.pid)))


@engines
@DOCKER_PODMAN
@pytest.mark.parametrize("backend", ["cntrfs", "bind"])
def test_engine_pty_is_the_containers(engine, backend):
    """On a terminal, the session's stdin is a pty of the container's devpts, not ours."""
    t = engine.targets["plain"]
    secs = S.unique_secs()
    master, slave = os.openpty()
    proc = subprocess.Popen(S.cntr_argv("attach", t.name, ["/bin/sh", "-c", "sleep %s" % secs],
                                        backend_args(backend)),
                            stdin=slave, stdout=slave, stderr=slave, env=session_env(t), start_new_session=True)
    os.close(slave)
    try:
        sleep = S.wait_for_cmdline(["sleep", secs], proc=proc)
        fd0 = os.stat("/proc/%d/fd/0" % sleep)
        devpts = os.stat("/proc/%d/root/dev/pts/ptmx" % t.pid)
        assert os.major(fd0.st_rdev) == 136, "stdin of the session is not a pty: %r" % fd0
        assert fd0.st_dev == devpts.st_dev != os.stat("/dev/pts/ptmx").st_dev, "not the container's devpts"
        os.kill(sleep, signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


@engines
@DOCKER_PODMAN
@pytest.mark.parametrize("backend", ["cntrfs", "bind"])
def test_engine_sigkill_of_cntr_ends_session(engine, backend):
    t = engine.targets["plain"]
    with S.Live("attach", t.name, args=backend_args(backend), env=session_env(t)) as s:
        session = S.token_procs() + [s.shell, s.sleep]
        assert s.proc.pid in session, [S.describe(p) for p in session]
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait(timeout=10)
        S.assert_gone([p for p in session if p != s.proc.pid], "cntr was killed")
    # The container lives on, and takes a new session.
    assert S.proc_state(t.pid) not in (None, "Z")
    p = S.cntr("attach", t.name, ["/bin/cat", "/var/lib/cntr/etc/cntr-test-rootfs"], env=session_env(t))
    assert S.ok(p).strip() == MARKER


@engines
@DOCKER_PODMAN
@pytest.mark.parametrize("sub,backend", MODES, ids=MODE_IDS)
def test_engine_background_process_does_not_outlive_session(engine, sub, backend):
    t = engine.targets["plain"]
    secs = S.unique_secs()
    p = S.cntr(sub, t.name, ["/bin/sh", "-c", "sleep %s </dev/null >/dev/null 2>&1 & "
                             "until tr '\\0' ' ' </proc/$!/cmdline | grep -q '^sleep'; do :; done; "
                             "echo started" % secs], args=backend_args(backend), env=session_env(t), timeout=20)
    try:
        assert (p.returncode, p.stdout) == (0, b"started\n"), p
        assert H.wait_until(lambda: not S.find_by_cmdline(["sleep", secs]), 5), (
            "a process started in the session outlived it: %s"
            % "; ".join(map(S.describe, S.find_by_cmdline(["sleep", secs]))))
    finally:
        for pid in S.find_by_cmdline(["sleep", secs]):
            os.kill(pid, signal.SIGKILL)


@engines
@DOCKER_PODMAN
def test_engine_relay_for_a_target_without_chroot(engine):
    """A container process of uid 1000 (started with the engine's exec) has no CAP_SYS_CHROOT:
    `cntr exec` in an attach session on it goes through the relay, which runs the command in the
    container's root and pid namespace with that process's identity (cntr's guard capability
    added, as for any session)."""
    t = engine.targets["plain"]
    secs = S.unique_secs()
    subprocess.run(ENGINE_CLI[engine.name] + ["exec", "-d", "-u", "1000:1000", t.name, "sleep", secs],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=RUN_TIMEOUT)
    try:
        target = S.wait_for_cmdline(["sleep", secs])
        assert int(S.proc_status(target)["CapEff"], 16) & (1 << 18) == 0
        p = S.cntr("attach", target, [CNTR, "exec", "--", "/bin/sh", "-c",
                                      "id -u; cat /etc/cntr-test-rootfs; readlink /proc/self/ns/pid; "
                                      "cat /proc/self/status"], env=session_env(t))
        out = S.ok(p).split("\n", 3)
        assert out[:3] == ["1000", MARKER, os.readlink("/proc/%d/ns/pid" % t.pid)], out
        relayed = S.parse_status(out[3])
        # The relay runs the command from the host side: same pid namespace, the target's identity.
        assert relayed["Uid"] == S.proc_status(target)["Uid"] == "1000 1000 1000 1000", relayed
        assert S.hexcaps(S.caps_of(relayed)) == S.hexcaps(S.expected_caps(target))
    finally:
        for pid in S.find_by_cmdline(["sleep", secs]):
            os.kill(pid, signal.SIGKILL)


@engines
@DOCKER_PODMAN
@pytest.mark.deadline(300)
@pytest.mark.parametrize("sub,backend", MODES, ids=MODE_IDS)
def test_engine_nothing_written_but_the_sessions_own_file(engine, sub, backend, workdir):
    """As test_exec's test on slim containers: the container's root as it sees it (overlay and
    private mounts) changes only by the file the session writes, the host not at all."""
    t = engine.targets["plain"]
    where = "/var/lib/cntr/tmp/on-purpose" if sub == "attach" else "/tmp/on-purpose"
    cwd = os.path.join(workdir, "cwd")
    os.mkdir(cwd)
    # The engines' own state: their daemons write there on their own schedule.
    host = untouched.HostChanges(ignore=["/var/lib/docker", "/var/lib/containers", "/var/lib/containerd"],
                                 watch=[S.CNTR_TMPDIR, cwd]).start()
    # Once before: the overlay copies /tmp up (and marks / for it) at the first write below it.
    subprocess.run(ENGINE_CLI[engine.name] + ["exec", t.name, "sh", "-c", "echo x >/tmp/on-purpose; rm /tmp/on-purpose"],
                   check=True, stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT)
    ctr = untouched.TreeSnapshot("/proc/%d/root" % t.pid)
    try:
        S.ok(S.cntr(sub, t.name, ["/bin/sh", "-c", "echo on-purpose > " + where], args=backend_args(backend),
                    env=session_env(t), cwd=cwd))
        assert ctr.diff() == {"/tmp/on-purpose": "created", "/tmp": ["ctime", "mtime"]}
    finally:
        changed = host.changes()
        subprocess.run(ENGINE_CLI[engine.name] + ["exec", t.name, "rm", "-f", "/tmp/on-purpose"],
                       stdin=subprocess.DEVNULL, timeout=RUN_TIMEOUT)
    assert changed == [], "changed on the host during the session: %r" % changed
