"""A hostile container against a live `cntr attach` session (issue 11).

Run as root with Debian's pytest:

    CNTR_BIN=$PWD/build/cntr /usr/bin/python3 -m pytest -q tests/integration/test_hostile.py

Without the docker and podman tests: -m "not engines"; without the slow ones: -m "not slow".

People attach to the containers they distrust. Every test here plays a container that attacks
the session (or cntr itself) and asserts that the attack gets nothing: the host's secrets are
never read, no file appears on the host, nothing of the session can be traced, taken or left
behind. The one attack the kernel cannot stop (a container with CAP_SYS_PTRACE) is asserted as
possible, in a test whose name says it is the documented limit, so that a change is noticed.

The attacker is tests/helpers/attacker.c (static, built next to cntr): copied into the
container, it loops over every /proc/N it sees and tries /proc/N/{root,cwd,fd,environ,mem},
PTRACE_SEIZE, pidfd_getfd (and, with a stolen relay socket, cntr's exec relay) and writing
into /proc/N/fd/1; it reports each outcome as a line (see its header). The host holds a
directory the container cannot see (under /srv: neither /tmp nor a HOME, which the session may
replace with private ones) with a canary readable only by host root (0600, random secret), a
world-readable one (for attackers that are not root), and a world-writable drop directory.

The containers are test_attach's slim containers (slimctr.py) as docker runs them: root with
docker's 14 default capabilities, a non-root user (uid 1000, no capabilities), and a
user-namespaced root with docker's capabilities; plus real docker and podman containers where
tests/engines/*.sh can run them (marked `engines`). Every attach runs with --backend cntrfs and
--backend bind where both apply. After every test, test_attach's `no_leftovers` check runs.

What is asserted (numbers as in the issue's plan):

 1. test_session_out_of_reach, test_engine_session_out_of_reach: without CAP_SYS_PTRACE,
    every /proc/N/{root,cwd,fd,environ,mem} access, PTRACE_SEIZE, pidfd_getfd and writing
    /proc/N/fd/1 fails with EACCES/EPERM on every session process (the reaper `cntr`, the
    command, its children); no secret read, no host file made, the relay unused.
    test_documented_limit_cap_sys_ptrace_still_reaches_the_session: with CAP_SYS_PTRACE it
    still can (ptrace, environ). test_userns_root_is_never_host_root_through_the_session:
    container root with every capability of its user namespace never acts as host root on
    host files. test_session_can_still_strace_the_container: debugging still works.
 2. test_loader_and_startup_variables_do_not_pass, test_ld_preload_from_the_container_is_not_loaded,
    test_huge_environment_attaches_quickly (120,000 variables within 10 s).
 3. test_no_caller_fd_reaches_the_session (fd 7 of cntr's caller).
 4. test_seccomp_and_groups_survive_a_long_status (1200 groups, status past 8 KiB).
 5. test_hostile_dev_ptmx (symlink to the host canary, fifo, regular file).
 6. test_session_tmp_is_private, test_session_home_is_private_and_temporary,
    test_interactive_shell_leaves_no_history_on_the_host.
 7. test_fat_view_is_nosuid_nodev, test_setuid_host_binary_does_not_elevate.
 8. test_container_without_dev_gets_no_host_devices.
 9. test_exec_relay_refuses_after_the_target_died (pid taken by a host process).
10. test_fifo_in_a_bound_etc_file_does_not_hang_attach,
    test_stuck_fuse_mount_in_the_container_does_not_hang_attach (5 s),
    test_signal_during_setup_ends_attach_within_a_second (TERM, INT, HUP).
11. test_sigkill_of_cntr_leaves_nothing_in_the_container,
    test_container_killing_the_reaper_leaves_nothing (no process, no zombie).
"""

import ctypes
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import termios
import time
import uuid

import pytest

import cntr_helpers as H
from slimctr import DOCKER_CAPS_MASK, USERNS_BASE
from test_attach import (  # noqa: F401  (fixtures are used by name)
    CNTR, Ctr, cntr_env, describe, find_by_cmdline, no_leftovers, parse_env,
    parse_status, pidns_members, proc_state, proc_status, read, start_ctr, unique_secs, wait_for_cmdline)

BUILD = os.path.dirname(os.path.realpath(os.environ.get("CNTR_BUILD_BIN") or H.cntr_bin()))
BACKENDS = ("cntrfs", "bind")
# What the attacker must be denied on every session process (its attack names), and how.
ATTACKS = ("root", "cwd", "root-read", "cwd-read", "root-create", "cwd-create", "fd", "fd-read",
           "environ", "mem", "ptrace", "pidfd-getfd", "fd1-write")
DENIED_BY = ("EACCES", "EPERM")
# The attacker gives up after this long (ms) if the test does not stop it first.
ATTACK_MS = 30000


def helper(name):
    """A program built next to cntr (meson builds them with the bare compiler)."""
    path = os.path.join(BUILD, name)
    if not os.path.isfile(path):
        pytest.fail("%s is missing next to cntr (build with `ninja -C %s`)" % (path, BUILD), pytrace=False)
    return path


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


# ---------------------------------------------------------------------------
# the host's secrets
# ---------------------------------------------------------------------------

class HostSecrets:
    """/srv/cntr-it-hostile-XXXX (0755): `canary` (root, 0600), `public` (0644) and `drop`
    (1777). Each holds a fresh secret; `env_secret` goes into cntr's own environment."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cntr-it-hostile-", dir="/srv" if os.path.isdir("/srv") else "/var/lib")
        os.chmod(self.dir, 0o755)
        tag = uuid.uuid4().hex
        self.private = "cntr-hostile-private-" + tag
        self.public_secret = "cntr-hostile-public-" + tag
        self.env_secret = "cntr-hostile-env-" + tag
        self.canary = os.path.join(self.dir, "canary")
        self.public = os.path.join(self.dir, "public")
        self.drop = os.path.join(self.dir, "drop")
        for path, text, mode in ((self.canary, self.private, 0o600), (self.public, self.public_secret, 0o644)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            os.write(fd, (text + "\n").encode())
            os.close(fd)
            os.chmod(path, mode)
        os.mkdir(self.drop)
        os.chmod(self.drop, 0o1777)
        self.before = self.listing()

    def secrets(self):
        return (self.private, self.public_secret, self.env_secret)

    def listing(self):
        res = []
        for dirpath, dirnames, filenames in os.walk(self.dir):
            for n in dirnames + filenames:
                res.append(os.path.relpath(os.path.join(dirpath, n), self.dir))
        return sorted(res)

    def new_files(self):
        return sorted(set(self.listing()) - set(self.before))

    def remove(self):
        if not H.mounts_under(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def host():
    h = HostSecrets()
    yield h
    h.remove()


def leaks_in_tree(root, secrets, skip=("proc", "sys", "dev")):
    """(path, secret) for every regular file under root (not below skip) holding a secret."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for n in filenames:
            p = os.path.join(dirpath, n)
            try:
                st = os.lstat(p)
                if not stat.S_ISREG(st.st_mode) or st.st_size > (16 << 20):
                    continue
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            for s in secrets:
                if s.encode() in data:
                    found.append((p, s))
    return found


# ---------------------------------------------------------------------------
# sessions
# ---------------------------------------------------------------------------

def attach_argv(target_args, cmd, backend=None, args=()):
    return [CNTR, "attach"] + (["--backend", backend] if backend else []) + list(args) + \
        list(target_args) + ["--"] + list(cmd)


def descendants(pid):
    """pid's descendants (host pids), from every process's PPid."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    res, todo = [], [pid]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            res.append(k)
            todo.append(k)
    return res


def kill_tree(pid):
    """SIGKILL pid and everything below it (a hung cntr and its session)."""
    for p in [pid] + descendants(pid):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def ns_level(pid):
    """How deep pid's pid namespace is below ours: the index of its own pid in NSpid."""
    return len(proc_status(pid)["NSpid"].split()) - 1


def nspid(pid, level):
    """pid as a process at that pid namespace level sees it (None when it is gone)."""
    try:
        ids = proc_status(pid)["NSpid"].split()
    except (OSError, KeyError):
        return None
    return int(ids[level]) if len(ids) > level else None


class Session:
    """`cntr attach ... -- /bin/sh -c SCRIPT` in the background. The script ends with a
    background `sleep` and a foreground `sleep <unique>` (.fg), found on the host."""

    def __init__(self, target_args, before="", backend=None, env=None, args=(), wrap=(), stdin=None, daemon=False):
        self.fg = unique_secs()
        self.bg = unique_secs()
        self.daemon = unique_secs() if daemon else None
        if daemon:  # a child in a session of its own, as daemons are
            before += "setsid sleep %s </dev/null >/dev/null 2>&1 & " % self.daemon
        script = before + "sleep %s </dev/null >/dev/null 2>&1 & sleep %s; echo after-sleep" % (self.bg, self.fg)
        self.argv = list(wrap) + attach_argv(target_args, ["/bin/sh", "-c", script], backend, args)
        self.proc = subprocess.Popen(self.argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env if env is not None else cntr_env())
        self.out = self.err = b""
        try:
            self.sleep = wait_for_cmdline(["sleep", self.fg], proc=self.proc)
            for secs in (self.bg, self.daemon):
                if secs:
                    H.wait_until(lambda: find_by_cmdline(["sleep", secs]), 5)
        except BaseException:
            self.kill()
            raise

    def processes(self, pidns):
        """The session's processes in the container's pid namespace (host pids)."""
        res = []
        for p in descendants(self.proc.pid):
            try:
                if os.readlink("/proc/%d/ns/pid" % p) == pidns:
                    res.append(p)
            except OSError:
                pass
        return res

    def finish(self, timeout=15):
        """Ends the foreground sleep; returns (rc, stdout, stderr)."""
        try:
            os.kill(self.sleep, signal.SIGTERM)
        except ProcessLookupError:
            pass
        return self.wait(timeout)

    def wait(self, timeout=15):
        try:
            self.out, self.err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("cntr did not exit within %ss" % timeout)
        return self.proc.returncode, self.out, self.err

    def kill(self):
        if self.proc.poll() is None:
            kill_tree(self.proc.pid)
        for secs in (self.fg, self.bg, self.daemon):
            for p in find_by_cmdline(["sleep", secs]) if secs else []:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        try:
            out, err = self.proc.communicate(timeout=10)
            self.out, self.err = self.out + out, self.err + err
        except (subprocess.TimeoutExpired, ValueError):
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


# ---------------------------------------------------------------------------
# victims: a container, how to attach to it, and how to run the attacker in it
# ---------------------------------------------------------------------------

class SlimVictim:
    """A slim container (test_attach.Ctr); the attacker runs with `creds` (spawn_target's)."""

    def __init__(self, ctr, creds):
        self.ctr = ctr
        self.creds = creds
        self.pid = ctr.pid
        self.pidns = ctr.pidns
        self.root = ctr.root
        self.owner = USERNS_BASE if ctr.userns else 0
        self.target_args = [str(ctr.pid)]
        self.env = {}

    def run_attacker(self, argv):
        return self.ctr.spawn(argv=argv, **self.creds)

    def allow(self, pids):
        self.ctr.allowed |= set(pids)


def install(victim, src, name, mode=0o755):
    """Copies src to /hostile/name in the container's root; returns the path inside."""
    d = os.path.join(victim.root, "hostile")
    for sub in [""] + [os.path.dirname(name)] if os.path.dirname(name) else [""]:
        if not os.path.isdir(os.path.join(d, sub)):
            os.mkdir(os.path.join(d, sub))
            os.chmod(os.path.join(d, sub), 0o1777)
            os.chown(os.path.join(d, sub), victim.owner, victim.owner)
    dst = os.path.join(d, name)
    shutil.copyfile(src, dst)
    os.chmod(dst, mode)
    os.chown(dst, victim.owner, victim.owner)
    return "/hostile/" + name


class Attacker:
    """The attacker program running in the victim container, and its report."""

    def __init__(self, victim, host, relay_marker=None, extra=()):
        self.victim = victim
        self.tag = uuid.uuid4().hex[:12]
        self.fd1_marker = "HOSTILE-FD1-MARKER-" + self.tag
        self.relay_marker = relay_marker or "/hostile/relay-used-" + self.tag
        exe = install(victim, helper("attacker"), "attacker-" + self.tag)
        self.report_inside = "/hostile/report-" + self.tag
        self.report = os.path.join(victim.root, self.report_inside.lstrip("/"))
        argv = [exe, "-t", str(ATTACK_MS), "-c", host.canary, "-c", host.public, "-d", host.dir,
                "-d", host.drop, "-m", self.fd1_marker + "\n", "-e", "echo relay > " + self.relay_marker,
                "-x", "1"] + list(extra) + [self.report_inside]
        self.pid = victim.run_attacker(argv)
        if not H.wait_until(lambda: self.text().startswith("START "), 10):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            raise AssertionError("the attacker did not start: report %r" % self.text())

    def text(self):
        try:
            with open(self.report, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def seen(self):
        return {int(m.group(1)) for m in re.finditer(r"^SEEN (\d+) ", self.text(), re.M)}

    def wait_seen(self, pids, timeout=10):
        """Waits until every attack was tried on each pid, then lets a few more rounds run."""
        ok_ = H.wait_until(lambda: set(pids) <= self.seen(), timeout)
        assert ok_, "the attacker never got round to pids %r in %ss; report:\n%s" % (
            sorted(set(pids) - self.seen()), timeout, self.text()[-3000:])
        time.sleep(0.5)

    def stop(self):
        """Ends it (SIGTERM); returns the report."""
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not H.wait_until(lambda: "\nDONE " in self.text(), 10):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            raise AssertionError("the attacker did not finish within 10 s of SIGTERM; report:\n%s"
                                 % self.text()[-3000:])
        return self.parse()

    def parse(self):
        ok_, denied = {}, {}
        for line in self.text().splitlines():
            parts = line.split(" ", 4)
            if parts[0] == "OK" and len(parts) >= 4:
                ok_[(parts[1], int(parts[2]))] = (parts[3], parts[4] if len(parts) > 4 else "")
            elif parts[0] == "DENIED" and len(parts) == 5:
                denied[(parts[1], int(parts[2]))] = (parts[3], parts[4])
        return ok_, denied


def attack_session(victim, host, backend, session_env=None, before=None):
    """Runs the attacker against a session of victim; returns what the assertions need."""
    attacker = Attacker(victim, host)
    level = ns_level(victim.pid)
    env = cntr_env(CNTR_IT_HOST_SECRET=host.env_secret)
    env.update(victim.env)
    env.update(session_env or {})
    # The administrator looks at the host's secret: the session holds it open (fd 5) while
    # the attack runs. A session that may not read the canary holds the public file.
    if before is None:
        before = "if [ -r {c} ]; then exec 5<{c}; else exec 5<{p}; fi; ".format(c=host.canary, p=host.public)
    s = None
    try:
        s = Session(victim.target_args, before=before, backend=backend, env=env)
        session = {}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for p in s.processes(victim.pidns):
                n = nspid(p, level)
                if n is not None:
                    session[n] = describe(p)
            if len(session) >= 4:  # reaper, shell, two sleeps
                break
            time.sleep(0.05)
        assert len(session) >= 3, "session processes in the container: %r" % session
        attacker.wait_seen(session)
        rc, out, err = s.finish()
    finally:
        if s is not None:
            s.kill()
        report = attacker.stop()
    return attacker, session, report, (rc, out, err)


def assert_nothing_reached(attacker, host, session, report, result, victim):
    ok_, denied = report
    rc, out, err = result
    print("the attacker's report:\n" + attacker.text())  # shown when the test fails
    problems = []
    for (attack, pid), (comm, detail) in sorted(ok_.items()):
        if pid in session and attack in ATTACKS + ("relay", "maps"):
            problems.append("%s of session process %d (%s) succeeded: %s" % (attack, pid, comm, detail[:300]))
    for pid, what in sorted(session.items()):
        for attack in ATTACKS:
            got = denied.get((attack, pid))
            if (attack, pid) in ok_:
                continue
            if got is None:
                problems.append("%s was never tried on session process %d (%s)" % (attack, pid, what))
            elif got[1] not in DENIED_BY:
                problems.append("%s of session process %d (%s) failed with %s, not with EACCES/EPERM"
                                % (attack, pid, got[0], got[1]))
    text = attacker.text()
    leaked = [s for s in host.secrets() if s in text]
    if leaked:
        problems.append("the attacker's report holds the host's secrets %r" % leaked)
    in_tree = leaks_in_tree(victim.root, host.secrets())
    if in_tree:
        problems.append("files the container wrote hold the host's secrets: %r" % in_tree)
    if host.new_files():
        problems.append("files appeared in the host's directory %s: %r" % (host.dir, host.new_files()))
    if attacker.fd1_marker.encode() in out + err:
        problems.append("the attacker wrote into cntr's own stdout/stderr through /proc/N/fd/1")
    relay_file = os.path.join(victim.root, attacker.relay_marker.lstrip("/"))
    if os.path.exists(relay_file):
        problems.append("a stolen relay socket ran a command in the container (%s)" % attacker.relay_marker)
    assert not problems, "the container reached the session (session processes as the container sees them: " \
        "%r):\n%s" % (session, "\n".join(problems))
    # The session itself was not disturbed.
    assert (rc, out.replace(attacker.fd1_marker.encode() + b"\n", b"")) == (0, b"after-sleep\n"), (rc, out, err)


# ---------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------

def started(ctr):
    """Waits until the container's init runs its final program (sleep)."""
    assert H.wait_until(lambda: read("/proc/%d/comm" % ctr.pid).strip() == "sleep", 10)
    return ctr


@pytest.fixture(scope="module")
def dockercaps(base_dir):
    """Root with docker's default capabilities (no CAP_SYS_PTRACE)."""
    c = started(start_ctr(base_dir, "dockercaps", caps="docker"))
    yield c
    c.stop()


@pytest.fixture(scope="module")
def nonroot(base_dir):
    """uid/gid 1000, no capabilities."""
    c = started(start_ctr(base_dir, "nonroot", user=(1000, 1000)))
    yield c
    c.stop()


@pytest.fixture(scope="module")
def userns_docker(base_dir):
    """User-namespaced (container root is host uid 100000) with docker's default capabilities."""
    c = started(start_ctr(base_dir, "usernsdocker", userns=True, caps="docker"))
    yield c
    c.stop()


@pytest.fixture(scope="module")
def allcaps(base_dir):
    """Root with every capability, CAP_SYS_PTRACE included (a privileged container)."""
    c = started(start_ctr(base_dir, "allcaps"))
    yield c
    c.stop()


DOCKER_ROOT = dict(uid=0, gid=0, groups=(), bnd=DOCKER_CAPS_MASK, prm=DOCKER_CAPS_MASK)
APP_USER = dict(uid=1000, gid=1000, groups=(), prm=0)
KINDS = {
    "root-docker-caps": ("dockercaps", DOCKER_ROOT),
    "nonroot-uid1000": ("nonroot", APP_USER),
    "userns-docker-caps": ("userns_docker", DOCKER_ROOT),
}


# ---------------------------------------------------------------------------
# 1. the session's processes are out of the container's reach
# ---------------------------------------------------------------------------

@pytest.mark.deadline(60)
@pytest.mark.parametrize("kind", list(KINDS))
def test_session_out_of_reach(request, kind, backend, host):
    """Without CAP_SYS_PTRACE the container gets nothing through the session's /proc/N
    entries, ptrace, pidfd_getfd or its fd 1: every try fails with EACCES/EPERM, no secret is
    read, no file appears on the host."""
    fixture, creds = KINDS[kind]
    ctr = request.getfixturevalue(fixture)
    victim = SlimVictim(ctr, creds)
    attacker, session, report, result = attack_session(victim, host, backend)
    assert_nothing_reached(attacker, host, session, report, result, victim)


def own_bounding_set():
    return int(proc_status(os.getpid())["CapBnd"], 16)


@pytest.mark.deadline(60)
def test_documented_limit_cap_sys_ptrace_still_reaches_the_session(allcaps, backend, host):
    """The trust model's stated limit: a container WITH CAP_SYS_PTRACE (here root with every
    capability) can still ptrace the session's processes and read their /proc/N/environ. If
    this starts failing, the limit changed: update the trust model."""
    victim = SlimVictim(allcaps, dict(uid=0, gid=0, groups=(), bnd=own_bounding_set(), prm=own_bounding_set()))
    attacker, session, report, result = attack_session(victim, host, backend)
    ok_, denied = report
    missing = [(a, pid, session[pid], denied.get((a, pid))) for pid in session for a in ("ptrace", "environ")
               if (a, pid) not in ok_]
    assert not missing, "a container with CAP_SYS_PTRACE could not reach session processes: %r" % missing
    assert result[0] == 0, result


@pytest.fixture(scope="module")
def userns_allcaps(base_dir):
    """User-namespaced; its root has every capability in its own namespace."""
    c = started(start_ctr(base_dir, "usernsall", userns=True))
    yield c
    c.stop()


@pytest.mark.deadline(60)
def test_userns_root_is_never_host_root_through_the_session(userns_allcaps, backend, host):
    """A user-namespaced container whose root holds every capability in its own namespace
    (CAP_SYS_PTRACE too: ptrace of the session's processes remains, as the trust model says)
    must still never act as host root on host files through the session: the root-only canary
    is not read and nothing is created in a root-owned host directory; what it may create in a
    world-writable one is not owned by host root."""
    bnd = own_bounding_set()
    victim = SlimVictim(userns_allcaps, dict(uid=0, gid=0, groups=(), bnd=bnd, prm=bnd))
    attacker, session, report, result = attack_session(victim, host, backend, before="")
    ok_, _ = report
    text = attacker.text()
    problems = []
    if host.private in text:
        how = [(a, pid) for (a, pid), (_, detail) in ok_.items() if host.private in detail]
        problems.append("container root read the host's root-only canary (through %r)" % how)
    new = host.new_files()
    top = [n for n in new if not n.startswith("drop/")]
    if top:
        problems.append("container root created files in the root-owned host directory %s: %r" % (host.dir, top))
    owned = [n for n in new if os.lstat(os.path.join(host.dir, n)).st_uid == 0]
    if owned:
        problems.append("files created by container root are owned by host root: %r" % owned)
    assert not problems, "\n".join(problems)
    assert result[0] == 0, result


@pytest.mark.deadline(60)
def test_session_can_still_strace_the_container(dockercaps, backend):
    """Not an attack: the session (root with docker's capabilities, like its container) can
    still trace the container's processes, which is what debugging sessions are for."""
    target = dockercaps.spawn(argv=["/bin/sleep", "100000"], **DOCKER_ROOT)
    local = nspid(target, ns_level(dockercaps.pid))
    p = subprocess.run(attach_argv([str(dockercaps.pid)], ["/bin/sh", "-c", "timeout -s INT 1 strace -p %d 2>&1; "
                                                           "true" % local], backend),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=cntr_env())
    assert p.returncode == 0, p
    assert b"Process %d attached" % local in p.stdout, p.stdout


# ---------------------------------------------------------------------------
# 2. the container's environment: no loader or start-up variables reach the session
# ---------------------------------------------------------------------------

DANGEROUS = ["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GCONV_PATH", "GLIBC_TUNABLES", "HOSTALIASES",
             "LOCALDOMAIN", "MALLOC_ARENA_MAX", "NLSPATH", "RES_OPTIONS", "TMPDIR", "BASH_ENV", "ENV",
             "PROMPT_COMMAND", "PS4", "SHELLOPTS", "BASHOPTS", "IFS", "PYTHONPATH", "PYTHONSTARTUP",
             "PERL5LIB", "PERL5OPT", "RUBYOPT", "NODE_OPTIONS"]


def hostile_env():
    """The variables, with values that are harmless should one get through."""
    env = {name: "/nonexistent/hostile-" + name.lower() for name in DANGEROUS}
    env.update({"GLIBC_TUNABLES": "glibc.hostile=1", "MALLOC_ARENA_MAX": "1", "IFS": " \t\n",
                "SHELLOPTS": "braceexpand", "BASHOPTS": "checkwinsize", "PS4": "+ ", "PROMPT_COMMAND": ":",
                "PATH": "/bin", "FOO": "bar"})
    return env


@pytest.mark.deadline(60)
def test_loader_and_startup_variables_do_not_pass(dockercaps, backend):
    target = dockercaps.spawn(argv=["/bin/sleep", "100000"], env=hostile_env(), **DOCKER_ROOT)
    p = subprocess.run(attach_argv([str(target)], ["/usr/bin/env", "-0"], backend), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30, env=cntr_env(TMPDIR=None))
    assert p.returncode == 0, p
    env = parse_env(p.stdout)
    passed = sorted(n for n in DANGEROUS if n in env)
    assert not passed, "variables from the container's environment reached the session: %r" % (
        {n: env[n] for n in passed},)
    assert env.get("FOO") == "bar", "an ordinary variable of the container did not pass: %r" % env


@pytest.mark.deadline(60)
def test_ld_preload_from_the_container_is_not_loaded(dockercaps, backend):
    """The container exports LD_PRELOAD=/var/lib/cntr/evil.so; the session runs host tools."""
    victim = SlimVictim(dockercaps, DOCKER_ROOT)
    install(victim, helper("evil.so"), "evil.so", 0o644)
    marker = os.path.join(dockercaps.root, "hostile", "evil-loaded")
    env = {"PATH": "/bin", "LD_PRELOAD": "/var/lib/cntr/hostile/evil.so",
           "EVIL_MARKERS": "/var/lib/cntr/hostile/evil-loaded:/hostile/evil-loaded"}
    target = dockercaps.spawn(argv=["/bin/sleep", "100000"], env=env, **DOCKER_ROOT)
    try:
        p = subprocess.run(attach_argv([str(target)], ["/bin/sh", "-c", "/usr/bin/true; ls / >/dev/null; id -u"],
                                       backend),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=cntr_env())
        loaded = os.path.exists(marker)
        assert not loaded and b"EVIL-LOADED" not in p.stderr, \
            "host tools in the session loaded the container's LD_PRELOAD library: %r" % (
                read(marker) if loaded else p.stderr.decode(errors="replace"))
        assert (p.returncode, p.stdout) == (0, b"0\n"), p
    finally:
        for f in (marker, os.path.join(dockercaps.root, "hostile", "evil.so")):
            if os.path.exists(f):
                os.unlink(f)


def short_names(n):
    """n distinct short variable names (base 36)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    res = []
    for i in range(n):
        s, k = "", i
        while True:
            s = digits[k % 36] + s
            k //= 36
            if not k:
                break
        res.append("v" + s)
    return res


@pytest.mark.slow
@pytest.mark.deadline(60)
def test_huge_environment_attaches_quickly(dockercaps):
    """A target with 120,000 environment variables: attach and `true` within 10 s (63 s once)."""
    env = {name: "1" for name in short_names(120000)}
    env["PATH"] = "/bin"
    target = dockercaps.spawn(argv=["/bin/sleep", "100000"], env=env, **DOCKER_ROOT)
    argv = attach_argv([str(target)], ["/usr/bin/true"])
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cntr_env())
    start = time.monotonic()
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        proc.communicate(timeout=10)
        raise AssertionError("attaching to a target with 120,000 environment variables took over 10 s") from None
    finally:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, (proc.returncode, err)
    print("attach with 120,000 variables took %.2f s" % (time.monotonic() - start))


# ---------------------------------------------------------------------------
# 3. no fd of cntr's caller reaches the session
# ---------------------------------------------------------------------------

def fds_of(pid):
    """{fd: (link, (st_dev, st_ino))} of a host process."""
    res = {}
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            link = os.readlink(os.path.join(d, fd))
            st = os.stat(os.path.join(d, fd))
            res[int(fd)] = (link, (st.st_dev, st.st_ino))
        except OSError:
            continue
    return res


@pytest.mark.deadline(60)
def test_no_caller_fd_reaches_the_session(dockercaps, backend, host):
    """cntr is started with fd 7 open on a host directory: no session process holds it, and
    the command and its children hold only 0, 1, 2 and the relay socket (CNTR_EXEC_FD)."""
    # cntr closes it first thing, so the wrapper itself proves fd 7 was there at its exec.
    wrap = ["/bin/sh", "-c", 'exec 7<"$0" || exit 99; [ -d /proc/self/fd/7/ ] || exit 98; exec "$@"',
            host.dir]
    st = os.stat(host.dir)
    with Session([str(dockercaps.pid)], backend=backend, wrap=wrap) as s:
        cntr_fds = fds_of(s.proc.pid)
        assert all(ident != (st.st_dev, st.st_ino) for _, ident in cntr_fds.values()), \
            "cntr kept its caller's fd on %s: %r" % (host.dir, cntr_fds)
        procs = s.processes(dockercaps.pidns)
        assert len(procs) >= 4, [describe(p) for p in procs]
        problems = []
        for p in procs:
            fds = fds_of(p)
            comm = read("/proc/%d/comm" % p).strip()
            leaked = {fd: link for fd, (link, ident) in fds.items() if ident == (st.st_dev, st.st_ino)}
            if leaked:
                problems.append("session process %s holds the caller's fd 7 (%s) as %r"
                                % (describe(p), host.dir, leaked))
            if comm != "cntr":
                relay = parse_env(read("/proc/%d/environ" % p, "rb")).get("CNTR_EXEC_FD")
                allowed = {0, 1, 2} | ({int(relay)} if relay else set())
                extra = {fd: link for fd, (link, _) in fds.items() if fd not in allowed}
                if extra:
                    problems.append("session process %s has fds beyond 0, 1, 2 and CNTR_EXEC_FD=%s: %r"
                                    % (describe(p), relay, extra))
        s.finish()
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# 4. a long /proc/PID/status: the filter, no_new_privs and every group stay
# ---------------------------------------------------------------------------

STATUS_CUT = 8191  # what the unfixed cntr read of /proc/PID/status (an 8 KiB buffer)


def spawn_filtered(ctr, exe, nnp, groups):
    """A root process in ctr under seccomp_sleep's filter (and no_new_privs), with groups."""
    bnd = own_bounding_set()
    argv = [exe] + (["nnp"] if nnp else []) + ["/bin/sleep", "100000"]
    pid = ctr.spawn(uid=0, gid=0, groups=groups, bnd=bnd, prm=bnd, argv=argv)
    assert H.wait_until(lambda: proc_status(pid).get("Seccomp") == "2"
                        and os.readlink("/proc/%d/exe" % pid).endswith("/busybox"), 10), proc_status(pid)
    return pid


def tuned_groups(ctr, exe, nnp):
    """1200 group ids whose widths put the 8191st byte of the target's status between its
    CapAmb line and the Seccomp value: cut there, the capability sets still parse while
    NoNewPrivs or Seccomp are lost (the silent version of the attack, not a refused attach)."""
    groups = list(range(10000, 11200))
    probe = spawn_filtered(ctr, exe, nnp, groups)
    text = read("/proc/%d/status" % probe)
    os.kill(probe, signal.SIGKILL)
    start = text.index("\n", text.index("CapAmb:")) + 1
    end = text.index("Seccomp:") + len("Seccomp:\t")
    delta = STATUS_CUT - (start + end) // 2
    if delta >= 0:  # widen some ids to six digits
        return list(range(100000, 100000 + min(delta, 1200))) + groups[min(delta, 1200):]
    return list(range(1000, 1000 - delta)) + groups[-delta:]  # narrow some to four


@pytest.mark.deadline(60)
@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_seccomp_and_groups_survive_a_long_status(allcaps, backend, nnp):
    """A target with 1200 supplementary groups (its /proc/PID/status is over 8 KiB) and a
    seccomp filter that fails uname(2) (tests/helpers/seccomp_sleep.c): the session has
    Seccomp: 2, its NoNewPrivs, all 1200 groups, and uname fails."""
    victim = SlimVictim(allcaps, {})
    tag = uuid.uuid4().hex[:8]
    # Named `sleep`: spawn_target waits for that name, before and after it execs /bin/sleep.
    exe = install(victim, helper("seccomp_sleep.static"), "seccomp-%s/sleep" % tag)
    groups = tuned_groups(allcaps, exe, nnp)
    target = spawn_filtered(allcaps, exe, nnp, groups)
    try:
        tgt = proc_status(target)
        text = read("/proc/%d/status" % target)
        assert len(text) > 8192 and len(tgt["Groups"].split()) == 1200
        print("the target's status cut at %d bytes ends with %r" % (STATUS_CUT, text[STATUS_CUT - 40:STATUS_CUT]))
        assert tgt["NoNewPrivs"] == ("1" if nnp else "0")
        p = subprocess.run(attach_argv([str(target)], ["/bin/sh", "-c", "cat /proc/self/status; "
                                                       "uname -s >/dev/null 2>&1; echo uname-rc=$?"], backend),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=cntr_env())
        assert p.returncode == 0, p
        text = p.stdout.decode()
        st = parse_status(text)
        got_groups = sorted(int(g) for g in st.get("Groups", "").split())
        problems = []
        if st.get("Seccomp") != "2":
            problems.append("Seccomp: %r in the session (the target's filter was not copied)" % st.get("Seccomp"))
        if st.get("NoNewPrivs") != tgt["NoNewPrivs"]:
            problems.append("NoNewPrivs: %r in the session, %r in the target"
                            % (st.get("NoNewPrivs"), tgt["NoNewPrivs"]))
        if "uname-rc=0" in text:
            problems.append("uname(2) works in the session; the target's filter denies it")
        if got_groups != sorted(groups):
            problems.append("the session has %d of the target's 1200 groups (missing e.g. %r)"
                            % (len(set(got_groups) & set(groups)), sorted(set(groups) - set(got_groups))[:5]))
        assert not problems, "\n".join(problems)
    finally:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------------------
# 5. a hostile /dev/ptmx
# ---------------------------------------------------------------------------

IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_CLOSE_NOWRITE, IN_OPEN = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
IN_NAMES = {IN_ACCESS: "ACCESS", IN_MODIFY: "MODIFY", IN_ATTRIB: "ATTRIB", IN_CLOSE_WRITE: "CLOSE_WRITE",
            IN_CLOSE_NOWRITE: "CLOSE_NOWRITE", IN_OPEN: "OPEN"}
libc = ctypes.CDLL(None, use_errno=True)


class Inotify:
    """Watches one host file for opens, reads and writes."""

    def __init__(self, path):
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        wd = libc.inotify_add_watch(self.fd, os.fsencode(path), IN_OPEN | IN_ACCESS | IN_MODIFY | IN_CLOSE_WRITE
                                    | IN_CLOSE_NOWRITE)
        assert wd >= 0, os.strerror(ctypes.get_errno())

    def events(self):
        res = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            off = 0
            while off + 16 <= len(buf):
                _, mask, _, n = struct.unpack_from("iIII", buf, off)
                res.append("|".join(v for k, v in IN_NAMES.items() if mask & k) or hex(mask))
                off += 16 + n
        return res

    def close(self):
        os.close(self.fd)


def run_on_pty(argv, timeout, env=None, steps=()):
    """Runs argv with a new pty as its controlling terminal. steps: (regex, bytes) pairs:
    once the output matches regex, bytes are typed. Returns (rc or None, output, seconds);
    rc None means it was still running at the timeout (it is killed then)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))

    def ctty():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env or cntr_env(),
                         start_new_session=True, preexec_fn=ctty)
    os.close(slave)
    out, steps, rc = b"", list(steps), None
    try:
        while True:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                break
            r, _, _ = select.select([master], [], [], min(left, 0.1))
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: nothing holds the terminal any more
                    chunk = b""
                out += chunk
                if not chunk and p.poll() is not None:
                    rc = p.returncode
                    break
            elif p.poll() is not None:
                rc = p.returncode
                break
            if steps and re.search(steps[0][0], out.decode(errors="replace")):
                os.write(master, steps.pop(0)[1])
    finally:
        if rc is None:
            kill_tree(p.pid)
        p.wait(timeout=10)
        os.close(master)
    return rc, out.decode(errors="replace"), time.monotonic() - start


PTMX_KINDS = ["symlink-to-host-canary", "fifo", "regular-file"]


@pytest.mark.deadline(60)
@pytest.mark.parametrize("kind", PTMX_KINDS)
def test_hostile_dev_ptmx(base_dir, backend, host, kind):
    """The container's /dev/ptmx is a symlink to the host canary's path, a fifo or a regular
    file. cntr attach on a terminal must not open the host's canary, not hang, and either run
    the session (on some other pty) or fail with one clear line."""
    ptmx = {"symlink-to-host-canary": "symlink:" + host.canary, "fifo": "fifo", "regular-file": "file"}[kind]
    ctr = started(start_ctr(base_dir, "ptmx", ptmx=ptmx, caps="docker"))
    watch = Inotify(host.canary)
    try:
        rc, out, secs = run_on_pty(attach_argv([str(ctr.pid)], ["/bin/sh", "-c", "echo pty-session-ran"], backend),
                                   timeout=10)
        events = watch.events()
    finally:
        watch.close()
        ctr.stop()
    assert not events, "cntr opened the host's canary %s through the container's /dev/ptmx: %r (output %r)" % (
        host.canary, events, out)
    assert read(host.canary) == host.private + "\n"
    assert rc is not None, "cntr attach hung for %ss on a container whose /dev/ptmx is a %s: %r" % (10, kind, out)
    if rc == 0:
        assert "pty-session-ran" in out, out
    else:
        lines = [x for x in out.splitlines() if x.strip()]
        assert lines and lines[-1].startswith("cntr: "), "attach failed (%d) without a clear error: %r" % (rc, out)


# ---------------------------------------------------------------------------
# 6. private /tmp, /var/tmp and HOME; no shell history on the host
# ---------------------------------------------------------------------------

@pytest.mark.deadline(60)
def test_session_tmp_is_private(dockercaps, backend):
    name = "hostile-tmp-" + uuid.uuid4().hex[:12]
    places = ["/tmp", "/var/tmp", os.path.join(dockercaps.root, "tmp"), os.path.join(dockercaps.root, "var/tmp")]
    try:
        p = subprocess.run(attach_argv([str(dockercaps.pid)], ["/bin/sh", "-c", "touch /tmp/%s /var/tmp/%s && echo made"
                                                               % (name, name)], backend),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=cntr_env())
        found = [d for d in places if os.path.exists(os.path.join(d, name))]
        assert not found, "a file made in the session's /tmp or /var/tmp is on the host in %r" % found
        assert (p.returncode, p.stdout) == (0, b"made\n"), "the session's /tmp and /var/tmp must be writable: %r" % (p,)
    finally:
        for d in places:
            if os.path.exists(os.path.join(d, name)):
                os.unlink(os.path.join(d, name))


@pytest.mark.deadline(60)
def test_session_home_is_private_and_temporary(dockercaps, backend):
    """The container says HOME=/root. The session's HOME is a writable directory of its own:
    a file made there is neither on the host nor in the container afterwards."""
    name = "hostile-home-" + uuid.uuid4().hex[:12]
    script = 'echo "HOME=$HOME"; cd "$HOME" && touch %s && echo made' % name
    p = subprocess.run(attach_argv([str(dockercaps.pid)], ["/bin/sh", "-c", script], backend),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=cntr_env())
    lines = p.stdout.decode().splitlines()
    home = lines[0][len("HOME="):] if lines and lines[0].startswith("HOME=") else None
    places = [os.path.join(home, name), os.path.join(dockercaps.root, home.lstrip("/"), name)] if home else []
    found = [f for f in places if os.path.exists(f)]
    for f in found:
        os.unlink(f)
    assert home, p
    assert not found, "a file made in the session's HOME (%s) is left on the host: %r" % (home, found)
    assert p.returncode == 0 and lines[1:] == ["made"], "the session's HOME must be writable: %r" % (p,)


@pytest.mark.deadline(60)
def test_interactive_shell_leaves_no_history_on_the_host(dockercaps, backend):
    """The container says HOME=/: an interactive bash in the session must not leave
    /.bash_history on the host (nor in the container)."""
    files = ["/.bash_history", "/.ash_history", os.path.join(dockercaps.root, ".bash_history")]
    before = {f: os.path.exists(f) for f in files}
    target = dockercaps.spawn(argv=["/bin/sleep", "100000"], env={"PATH": "/bin", "HOME": "/"}, **DOCKER_ROOT)
    marker = "hostile-history-" + uuid.uuid4().hex[:12]
    try:
        rc, out, _ = run_on_pty(attach_argv([str(target)], ["/bin/bash", "-i"], backend), timeout=20,
                                env=cntr_env(SHELL="/bin/bash"),
                                steps=[(r"[#$] $", b"echo " + marker.encode() + b"\n"),
                                       (marker + r"\s+.*[#$] $", b"exit\n")])
        made = [f for f in files if os.path.exists(f) and not before[f]]
        grew = [f for f in files if before[f] and marker.encode() in read(f, "rb")]
        assert not made and not grew, "the session's shell wrote its history onto the host: %r" % (made + grew)
        assert rc == 0, "the interactive session did not end normally (%r): %r" % (rc, out)
    finally:
        for f in files:
            if os.path.exists(f) and not before[f]:
                os.unlink(f)
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------------------
# 7. the fat view is nosuid,nodev
# ---------------------------------------------------------------------------

@pytest.mark.deadline(60)
def test_fat_view_is_nosuid_nodev(dockercaps, backend):
    p = subprocess.run(attach_argv([str(dockercaps.pid)], ["/bin/cat", "/proc/self/mountinfo"], backend),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=cntr_env())
    assert p.returncode == 0, p
    tops = [line for line in p.stdout.decode().splitlines() if line.split()[4] == "/"]
    assert tops, p.stdout
    opts = tops[-1].split()[5].split(",")
    missing = [o for o in ("nosuid", "nodev") if o not in opts]
    assert not missing, "the session's / is mounted without %s: %s" % (",".join(missing), tops[-1])


@pytest.mark.deadline(60)
def test_setuid_host_binary_does_not_elevate(nonroot, backend, host):
    """A setuid-root copy of `id` on the host, run by the session of a uid-1000 container."""
    suid = os.path.join(host.dir, "suid-id")
    shutil.copy2("/usr/bin/id", suid)
    os.chown(suid, 0, 0)
    os.chmod(suid, 0o4755)
    host.before = host.listing()
    p = subprocess.run(attach_argv([str(nonroot.pid)], ["/bin/sh", "-c", "id -ru; %s -u" % suid], backend),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=cntr_env())
    assert p.returncode == 0, p
    real, effective = p.stdout.decode().split()
    assert real == "1000", p
    assert effective != "0", "a setuid-root host binary ran with euid 0 in the session of a uid-1000 container"


# ---------------------------------------------------------------------------
# 8. a container without /dev does not get the host's
# ---------------------------------------------------------------------------

SAFE_DEV = {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "console"}


@pytest.fixture(scope="module")
def nodevdir(base_dir):
    """A container (docker's capabilities) whose root has no /dev at all."""
    c = Ctr(base_dir, "nodevdir", dev=False, caps="docker")
    os.rmdir(os.path.join(c.root, "dev"))
    started(c.start())
    yield c
    c.stop()


@pytest.mark.deadline(60)
def test_container_without_dev_gets_no_host_devices(nodevdir, backend):
    host_devs = sorted(n for n in os.listdir("/dev") if n not in SAFE_DEV
                       and (stat.S_ISCHR(os.lstat("/dev/" + n).st_mode) or stat.S_ISBLK(os.lstat("/dev/" + n).st_mode)))
    assert host_devs, "the host has no device nodes to look for"
    p = subprocess.run(attach_argv([str(nodevdir.pid)], ["/bin/sh", "-c", "ls -A /dev"], backend),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=cntr_env())
    if p.returncode != 0:
        lines = p.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cntr: ") and not p.stdout, p
        return
    seen = set(p.stdout.decode().split())
    got = sorted(seen & set(host_devs))
    assert not got, "the session of a container without /dev sees the host's devices: %r" % got


# ---------------------------------------------------------------------------
# 9. the exec relay after the target died and its pid was reused
# ---------------------------------------------------------------------------

def children(pid):
    try:
        return [int(x) for x in read("/proc/%d/task/%d/children" % (pid, pid)).split()]
    except OSError:
        return []


def take_pid(want, tries=400):
    """A host process (sleep) with pid `want`, through ns_last_pid; None if another process
    keeps taking it first."""
    secs = unique_secs()
    for _ in range(tries):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(want - 1))
        p = subprocess.Popen(["sleep", secs], stdin=subprocess.DEVNULL)
        if p.pid == want:
            return p
        p.kill()
        p.wait()
    return None


@pytest.mark.deadline(60)
def test_exec_relay_refuses_after_the_target_died(base_dir, backend):
    """Attach to a non-init, non-root process (its session cannot chroot, so `cntr exec` in it
    goes through the relay), kill it, let a host process take its pid, then run
    `cntr exec $CNTR_TARGET_PID -- ...` in the session: it must fail with a clear error and
    never run on the host."""
    ctr = started(start_ctr(base_dir, "relay", caps="docker"))
    host_proc = None
    try:
        # A uid-1000 shell whose child `sleep` is the target; the shell reaps it when it dies.
        shell = ctr.spawn(uid=1000, gid=1000, groups=(), prm=0,
                          argv=["/bin/sh", "-c", "sleep 100000 & wait; sleep 100000; true"])
        assert H.wait_until(lambda: children(shell), 10)
        target = children(shell)[0]
        ctr.allowed.add(target)
        go = os.path.join(ctr.root, "hostile-go")
        inner = ("while [ ! -e /var/lib/cntr/hostile-go ]; do sleep 0.05; done; "
                 "%s exec $CNTR_TARGET_PID -- /bin/sh -c 'readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; "
                 "cat /proc/self/status'; echo exec-rc=$?" % CNTR)
        marker = unique_secs()
        argv = attach_argv([str(target)], ["/bin/sh", "-c", inner, marker], backend)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=cntr_env())
        try:
            wait_for_cmdline(["/bin/sh", "-c", inner, marker], proc=proc)
            os.kill(target, signal.SIGKILL)
            assert H.wait_until(lambda: proc_state(target) is None, 5), "the target %d was not reaped" % target
            host_proc = take_pid(target)
            ctr.allowed.add(shell)
            open(go, "w").close()
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                kill_tree(proc.pid)
                proc.communicate(timeout=10)
        text = out.decode(errors="replace")
        rc_line = [x for x in text.splitlines() if x.startswith("exec-rc=")]
        host_ns = (os.readlink("/proc/self/ns/pid"), os.readlink("/proc/self/ns/mnt"))
        ran_on_host = [ns for ns in host_ns if ns in text]
        st = parse_status(text) if "CapEff" in text else {}
        assert not ran_on_host, "`cntr exec` through the relay ran in the host's namespaces %r (pid %d was %s): %s" % (
            ran_on_host, target, "taken by a host process" if host_proc else "free", text[:700])
        assert st.get("Uid", "").split()[:1] != ["0"], "the relayed command ran as root: %s" % text[:700]
        assert rc_line, "the session ended before `cntr exec` ran in it (cntr exited %r, stderr %r): the spec " \
            "wants the session to stay and the relay to refuse" % (proc.returncode, err)
        assert rc_line[0] != "exec-rc=0", "`cntr exec` after the target died did not fail: %r" % text
        msgs = [x for x in err.decode(errors="replace").splitlines() if x.startswith("cntr: ")]
        assert msgs, "no error from cntr explaining why the relay refused: %r" % err
        assert host_proc is not None, "the test could not give pid %d to a host process (the relay did refuse)" % target
    finally:
        if host_proc is not None:
            host_proc.kill()
            host_proc.wait()
        ctr.stop()


# ---------------------------------------------------------------------------
# 10. nothing of the container hangs cntr; signals end it at every stage
# ---------------------------------------------------------------------------

BOUND_ETC = ["hosts", "resolv.conf", "hostname", "passwd", "group", "localtime"]


def fifo_ctr(base_dir, name):
    """A container (docker's capabilities) whose /etc/NAME is a fifo nobody writes to."""
    c = Ctr(base_dir, "fifo", caps="docker")
    path = os.path.join(c.root, "etc", name)
    if os.path.lexists(path):
        os.unlink(path)
    os.mkfifo(path, 0o644)
    return started(c.start())


def attach_bounded(ctr, backend, what, on_hang=None, seconds=5):
    """Runs `cntr attach CTR -- echo attached`; fails naming what if it is not done within
    seconds, after killing it (and calling on_hang, which unblocks what it waits for).
    Returns (returncode, stdout, stderr)."""
    proc = subprocess.Popen(attach_argv([str(ctr.pid)], ["/bin/echo", "attached"], backend),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cntr_env())
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        stack = describe(proc.pid) + "; " + "; ".join(describe(p) for p in descendants(proc.pid))
        kill_tree(proc.pid)
        if on_hang:
            on_hang()
        proc.communicate(timeout=10)
        raise AssertionError("cntr attach hung for %d s on a container whose %s: %s"
                             % (seconds, what, stack)) from None
    return proc.returncode, out, err


@pytest.mark.deadline(60)
@pytest.mark.parametrize("name", BOUND_ETC)
def test_fifo_in_a_bound_etc_file_does_not_hang_attach(base_dir, backend, name):
    """/etc/NAME of the container is a fifo: attach fails with one clear line or runs the
    command, within 5 s either way."""
    ctr = fifo_ctr(base_dir, name)
    try:
        rc, out, err = attach_bounded(ctr, backend, "/etc/%s is a fifo" % name)
    finally:
        ctr.stop()
    if rc == 0:
        assert out == b"attached\n", (out, err)
    else:
        lines = err.decode(errors="replace").splitlines()
        assert len(lines) == 1 and lines[0].startswith("cntr: ") and name in lines[0], \
            "attach failed (%d) without one clear line naming /etc/%s: %r" % (rc, name, err)


class StuckFuse:
    """A FUSE mount in the container's own mount namespace (`cntr mount` serving a host
    directory at /stuck), with the container's /etc/hosts a symlink into it, then the server
    stopped (SIGSTOP): every request to it waits until the server dies."""

    def __init__(self, ctr, workdir):
        self.ctr = ctr
        src = os.path.join(workdir, "stuck-src")
        os.mkdir(src)
        with open(os.path.join(src, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost stuck-hosts\n")
        mnt = os.path.join(ctr.root, "stuck")
        os.mkdir(mnt)
        self.proc = subprocess.Popen(["nsenter", "--mount=/proc/%d/ns/mnt" % ctr.pid, "--", CNTR, "mount", "-f",
                                      src, mnt], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        ok_ = H.wait_until(lambda: " /stuck " in read("/proc/%d/mountinfo" % ctr.pid), 10)
        assert ok_, "the container's FUSE mount did not appear"
        # The mount works (a request answered) before it is made to hang.
        assert read("/proc/%d/root/stuck/hosts" % ctr.pid).endswith("stuck-hosts\n")
        hosts = os.path.join(ctr.root, "etc", "hosts")
        os.unlink(hosts)
        os.symlink("/stuck/hosts", hosts)
        os.kill(self.proc.pid, signal.SIGSTOP)

    def release(self):
        """Kills the server: its connection goes, and every waiting request fails."""
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


@pytest.mark.deadline(60)
def test_stuck_fuse_mount_in_the_container_does_not_hang_attach(base_dir, workdir, backend):
    """The container's /etc/hosts leads into a container-owned FUSE mount whose server is
    stopped: attach fails with one clear line or runs the command, within 5 s either way."""
    ctr = started(start_ctr(base_dir, "stuck", caps="docker"))
    stuck = None
    try:
        stuck = StuckFuse(ctr, workdir)
        rc, out, err = attach_bounded(ctr, backend, "/etc/hosts is on a stuck FUSE mount", stuck.release)
    finally:
        if stuck:
            stuck.release()
        ctr.stop()
    if rc != 0:
        lines = err.decode(errors="replace").splitlines()
        assert len(lines) == 1 and lines[0].startswith("cntr: "), \
            "attach failed (%d) without one clear line: %r" % (rc, err)
    else:
        assert out == b"attached\n", (out, err)


@pytest.mark.deadline(60)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_during_setup_ends_attach_within_a_second(base_dir, workdir, sig):
    """cntr attach is busy setting up (the container's /etc/hosts is on a stuck FUSE mount;
    a cntr that copes with that has failed or is done by then): the signal, 0.5 s after the
    start, ends it within 1 s."""
    ctr = started(start_ctr(base_dir, "stucksig", caps="docker"))
    stuck = None
    try:
        stuck = StuckFuse(ctr, workdir)
        proc = subprocess.Popen(attach_argv([str(ctr.pid)], ["/bin/sleep", unique_secs()]),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=cntr_env())
        time.sleep(0.5)
        os.kill(proc.pid, sig)
        start = time.monotonic()
        try:
            proc.communicate(timeout=1)
        except subprocess.TimeoutExpired:
            stack = describe(proc.pid) + "; " + "; ".join(describe(p) for p in descendants(proc.pid))
            kill_tree(proc.pid)
            stuck.release()
            proc.communicate(timeout=10)
            raise AssertionError("cntr attach was still running 1 s after %s during set-up: %s"
                                 % (sig.name, stack)) from None
        print("ended %.2f s after %s with %d" % (time.monotonic() - start, sig.name, proc.returncode))
    finally:
        if stuck:
            stuck.release()
        ctr.stop()


# ---------------------------------------------------------------------------
# 11. nothing of the session survives cntr or its reaper: no process, no zombie
# ---------------------------------------------------------------------------

def ppid_of(pid):
    """The parent of pid, None once it is gone."""
    try:
        return int(proc_status(pid)["PPid"])
    except (OSError, KeyError, ValueError):
        return None


def assert_vanished(pids, why, timeout=5):
    """Every pid is gone entirely (a zombie counts as left behind) within timeout."""
    H.wait_until(lambda: all(proc_state(p) is None for p in pids), timeout)
    left = [p for p in pids if proc_state(p) is not None]
    assert not left, "%ss after %s, still there (Z = zombie, never reaped): %s" % (
        timeout, why, "; ".join(describe(p) for p in left))


@pytest.mark.deadline(60)
def test_sigkill_of_cntr_leaves_nothing_in_the_container(dockercaps, backend):
    """kill -9 of cntr attach after the session ran a while (longer than CntrFS's 1 s entry
    cache, so a reaper that looks up /proc through a dead fat view fails): the command, its
    background child and a child in a session of its own all end, and none stays a zombie."""
    with Session([str(dockercaps.pid)], backend=backend, daemon=True) as s:
        procs = s.processes(dockercaps.pidns)
        comms = sorted(read("/proc/%d/comm" % p).strip() for p in procs)
        assert len(procs) >= 5 and "cntr" in comms, [describe(p) for p in procs]
        time.sleep(1.5)
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait(timeout=10)
        assert_vanished(procs, "kill -9 of cntr attach")


@pytest.mark.deadline(60)
def test_container_killing_the_reaper_leaves_nothing(dockercaps, backend):
    """Container root (docker's capabilities include CAP_KILL) kills the session's reaper
    (comm `cntr`): the command and its background children end too, and nothing is left as
    a zombie."""
    level = ns_level(dockercaps.pid)
    with Session([str(dockercaps.pid)], backend=backend, daemon=True) as s:
        procs = s.processes(dockercaps.pidns)
        reapers = [p for p in procs if read("/proc/%d/comm" % p).strip() == "cntr"]
        assert reapers and len(procs) >= 5, [describe(p) for p in procs]
        local = nspid(reapers[0], level)
        rcfile = os.path.join(dockercaps.root, "hostile-kill-rc")
        killer = dockercaps.spawn(argv=["/bin/sh", "-c", "kill -9 %d; echo $? > /hostile-kill-rc; sleep 100000; true"
                                        % local], **DOCKER_ROOT)
        try:
            assert H.wait_until(lambda: os.path.exists(rcfile) and read(rcfile).strip(), 5)
            assert read(rcfile).strip() == "0", "container root could not kill the reaper (%s)" % read(rcfile)
            # Documented limit (README, trust model): cntr kills the orphans, the kernel hands
            # them to the container's init, and only that init can reap them. Anything else
            # left, running or a zombie elsewhere, fails.
            init = dockercaps.pid
            H.wait_until(lambda: all(proc_state(p) in (None, "Z") for p in procs), 5)
            running = [describe(p) for p in procs if proc_state(p) not in (None, "Z")]
            assert not running, "still running after the reaper was killed: %s" % running
            strays = [describe(p) for p in procs
                      if proc_state(p) == "Z" and ppid_of(p) not in (init, None)]
            assert not strays, "zombies not left to the container's init %d: %s" % (init, strays)
        finally:
            os.unlink(rcfile)
            kill_tree(killer)
        s.wait(timeout=10)


# ---------------------------------------------------------------------------
# 1 again, under real engines: docker and podman containers with their default capabilities
# ---------------------------------------------------------------------------

ENGINE_EXEC = {
    "docker": lambda env: ["/usr/bin/docker", "-H", env.get("DOCKER_HOST", "unix:///run/docker.sock"), "exec", "-d"],
    "podman": lambda env: ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "--events-backend=file",
                           "exec", "-d"],
}


class EngineVictim:
    """A container of a real engine (test_engines' Target). The attacker runs through
    `docker exec` / `podman exec`: with the engine's default capabilities, seccomp profile
    and cgroup, as any process of that container would."""

    def __init__(self, engine, target):
        self.engine = engine
        self.t = target
        self.pid = target.pid
        self.pidns = os.readlink("/proc/%d/ns/pid" % target.pid)
        self.root = "/proc/%d/root" % target.pid
        self.owner = int(read("/proc/%d/uid_map" % target.pid).split()[1])
        self.target_args = ["-t", target.type, target.name]
        self.env = {k: v for k, v in target.env.items() if k == "DOCKER_HOST"}

    def run_attacker(self, argv):
        cmd = ENGINE_EXEC[self.engine](self.t.env) + [self.t.name] + argv
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, env=self.t.env)
        assert p.returncode == 0, "%s exec failed: %r" % (self.engine, p)
        want = b"\0".join(a.encode() for a in argv) + b"\0"
        found = H.wait_until(lambda: [q for q in pidns_members(self.pidns) if _cmdline(q) == want], 10)
        assert found, "the attacker did not start in %s" % self.t.name
        return found[0]

    def cleanup(self):
        shutil.rmtree(os.path.join(self.root, "hostile"), ignore_errors=True)


def _cmdline(pid):
    try:
        return read("/proc/%d/cmdline" % pid, "rb")
    except OSError:
        return b""


@pytest.fixture(scope="module", params=["docker", "podman"])
def engine_ctrs(request):
    """tests/engines/ENGINE.sh's plain and user-namespaced containers (skipped where the
    engine cannot run, as in test_engines.py)."""
    from test_engines import Engine, script
    e = Engine(request.param)
    try:
        e.start()
    except BaseException:
        script(e.name, "stop")
        raise
    yield e
    e.stop()


@pytest.mark.engines
@pytest.mark.deadline(90)
@pytest.mark.parametrize("variant", ["plain", "userns"])
def test_engine_session_out_of_reach(engine_ctrs, variant, backend, host):
    """As test_session_out_of_reach, against a docker or podman container (root with the
    engine's default capabilities, user-namespaced or not), the attacker run by `exec`."""
    victim = EngineVictim(engine_ctrs.name, engine_ctrs.targets[variant])
    try:
        attacker, session, report, result = attack_session(victim, host, backend)
        assert_nothing_reached(attacker, host, session, report, result, victim)
    finally:
        victim.cleanup()


# ---------------------------------------------------------------------------
# 4 again: without a terminal the session's stdio are cntr's pipes, never the caller's fds
# ---------------------------------------------------------------------------

@pytest.mark.deadline(60)
def test_session_stdio_is_relayed_not_the_callers(dockercaps, backend, workdir):
    """cntr's stdin and stdout are host files: the command's fds 0-2 are pipes that cntr
    relays, byte for byte, so no session process holds the caller's files."""
    src, dst = os.path.join(workdir, "in"), os.path.join(workdir, "out")
    data = os.urandom(3 << 20)
    with open(src, "wb") as f:
        f.write(data)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        p = subprocess.run(attach_argv([str(dockercaps.pid)],
                                       ["/bin/sh", "-c", "readlink /proc/self/fd/0 /proc/self/fd/1 >&2; cat"],
                                       backend),
                           stdin=fin, stdout=fout, stderr=subprocess.PIPE, env=cntr_env(), timeout=30)
    assert p.returncode == 0, p.stderr
    links = p.stderr.decode().split()
    assert len(links) == 2 and all(re.fullmatch(r"pipe:\[\d+\]", link) for link in links), links
    with open(dst, "rb") as f:
        assert f.read() == data, "the relayed stdout differs from the input"


# ---------------------------------------------------------------------------
# the CntrFS server: its workers hold only the capabilities they use
# ---------------------------------------------------------------------------

# src/cntrfs/creds.c (SYS_PTRACE, 19: reading a caller's /proc/PID/ns/user needs it)
WORKER_MAY_HOLD = {0, 1, 2, 3, 4, 6, 7, 9, 19, 21, 23, 24, 27, 31, 32, 33}
NEVER_IN_A_WORKER = {5: "KILL", 16: "SYS_MODULE", 17: "SYS_RAWIO", 18: "SYS_CHROOT",
                     12: "NET_ADMIN", 22: "SYS_BOOT", 39: "BPF"}


@pytest.mark.deadline(60)
def test_cntrfs_workers_drop_capabilities_they_do_not_use(dockercaps):
    """The threads that answer FUSE requests for a session (cntrfs-dev, cntrfs-ring) keep
    file-access capabilities only: no kill, raw I/O, modules, networking or BPF."""
    with Session([str(dockercaps.pid)], backend="cntrfs") as s:
        tids = H.named_threads(s.proc.pid, "cntrfs-dev") + H.named_threads(s.proc.pid, "cntrfs-ring")
        assert tids, "no CntrFS worker threads in %d" % s.proc.pid
        for tid in tids:
            st = parse_status(read("/proc/%d/task/%s/status" % (s.proc.pid, tid)))
            prm, eff = int(st["CapPrm"], 16), int(st["CapEff"], 16)
            held = {c for c in range(64) if (prm | eff) >> c & 1}
            assert held <= WORKER_MAY_HOLD, "worker %s holds %s" % (tid, sorted(held - WORKER_MAY_HOLD))
            assert 2 in held, "worker %s lost CAP_DAC_READ_SEARCH (open_by_handle_at)" % tid
            assert not held & set(NEVER_IN_A_WORKER), [NEVER_IN_A_WORKER[c] for c in held & set(NEVER_IN_A_WORKER)]
        # H itself keeps what the exec relay and the set-up need.
        main = int(proc_status(s.proc.pid)["CapEff"], 16)
        assert main >> 5 & 1, "the attach process lost CAP_KILL"
        s.finish()
