"""What the attach, exec and terminal tests share: reading /proc, running cntr, slim containers
and their fixtures, and the leftover check. conftest.py loads this module as a pytest plugin
(pytest_plugins), so its fixtures, the autouse leftover check among them, reach every test
module without being imported; a new module cannot lose the check by forgetting an import.
Helpers are imported by name: `from session_support import ...`.

After every test (autouse fixture `no_leftovers`): no cntr process of ours
(recognised by a token in its environment), no process in a container's pid
namespace besides the ones the fixtures started, the container's mountinfo as
it was when the container started, no new fuse.cntrfs mount on the host, no
temp file named after cntr, nothing new in the host's /var/lib/cntr.
"""


import atexit
import ctypes
import itertools
import os
import random
import re
import select
import signal
import stat
import subprocess
import tempfile
import time
import uuid

import pytest

import cntr_helpers as H
import slimctr
from slimctr import SlimContainer, TIME_OFFSET, USERNS_BASE, USERNS_COUNT  # noqa: F401 (for the tests)

CNTR = os.path.realpath(H.cntr_bin())
# Every cntr we start carries this in its environment: that is how leftovers are found.
TOKEN = "cntr-it-session-" + uuid.uuid4().hex
# The PATH handed to cntr; the last entry proves the session's PATH is ours.
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/cntr-it-path-marker"
# cntr's TMPDIR: it must stay empty.
CNTR_TMPDIR = tempfile.mkdtemp(prefix="cntr-it-tmpdir-")
atexit.register(lambda: os.path.isdir(CNTR_TMPDIR) and not os.listdir(CNTR_TMPDIR) and os.rmdir(CNTR_TMPDIR))
MARKER = "slim-container-marker\n"
# The plain container's /etc/localtime (the host's is UTC): the session's `date` must say JST.
TOKYO = "/usr/share/zoneinfo/Asia/Tokyo"
NS_SHARED = ("cgroup", "ipc", "net", "pid", "uts", "user", "time")

CAP = {"CHOWN": 0, "NET_BIND_SERVICE": 10, "NET_ADMIN": 12, "NET_RAW": 13, "SYS_CHROOT": 18,
       "SYS_PTRACE": 19, "SYS_ADMIN": 21, "MKNOD": 27}
FUSE_RDEV = os.makedev(10, 229)
PTMX_RDEV = os.makedev(5, 2)


def bits(*names):
    v = 0
    for n in names:
        v |= 1 << CAP[n]
    return v


def last_cap():
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


ALL_CAPS = (1 << (last_cap() + 1)) - 1


# ---------------------------------------------------------------------------
# /proc reading
# ---------------------------------------------------------------------------

def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def proc_status(pid):
    """/proc/PID/status as a dict of strings (tabs collapsed)."""
    res = {}
    for line in read("/proc/%d/status" % pid).splitlines():
        k, _, v = line.partition(":")
        res[k] = " ".join(v.split())
    return res


def parse_status(text):
    res = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        res[k] = " ".join(v.split())
    return res


def caps_of(status):
    return {k: int(status[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def ns_links(pid, names=NS_SHARED + ("mnt",)):
    return {n: os.readlink("/proc/%d/ns/%s" % (pid, n)) for n in names}


def environ_of(pid):
    data = read("/proc/%d/environ" % pid, "rb")
    return dict(e.decode().split("=", 1) for e in data.split(b"\0") if e)


def parse_env(data):
    if isinstance(data, bytes):
        data = data.decode()
    sep = "\0" if "\0" in data else "\n"
    return dict(e.split("=", 1) for e in data.split(sep) if e)


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def find_by_cmdline(argv):
    """Host pids whose command line is exactly argv."""
    want = b"\0".join(a.encode() for a in argv) + b"\0"
    res = []
    for pid in all_pids():
        try:
            if read("/proc/%d/cmdline" % pid, "rb") == want:
                res.append(pid)
        except OSError:
            pass
    return res


def wait_for_cmdline(argv, timeout=15, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find_by_cmdline(argv)
        if found:
            return found[0]
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError("cntr exited (%s) before %r started; stdout %r stderr %r"
                                 % (proc.returncode, argv, out, err))
        time.sleep(0.02)
    raise AssertionError("no process %r appeared within %ss" % (argv, timeout))


def token_procs():
    """Processes whose environment holds our token: the cntr processes we started."""
    res = []
    needle = TOKEN.encode()
    for pid in all_pids():
        if pid == os.getpid():
            continue
        try:
            if needle in read("/proc/%d/environ" % pid, "rb"):
                res.append(pid)
        except OSError:
            pass
    return res


def pidns_members(nslink):
    res = []
    for pid in all_pids():
        try:
            if os.readlink("/proc/%d/ns/pid" % pid) == nslink:
                res.append(pid)
        except OSError:
            pass
    return res


def describe(pid):
    try:
        st = read("/proc/%d/stat" % pid)
        state = st[st.rindex(")") + 2]
        cmd = read("/proc/%d/cmdline" % pid, "rb").replace(b"\0", b" ").decode(errors="replace")
        wchan = read("/proc/%d/wchan" % pid)
        return "%d [%s wchan=%s] %s" % (pid, state, wchan, cmd)
    except (OSError, ValueError):
        return "%d (gone)" % pid


def assert_gone(pids, why, timeout=5):
    """Every process in pids ends (or is a zombie) within timeout seconds."""
    H.wait_until(lambda: all(proc_state(p) in (None, "Z") for p in pids), timeout)
    stuck = [p for p in pids if proc_state(p) not in (None, "Z")]
    assert not stuck, "still there %ss after %s: %s" % (timeout, why, "; ".join(describe(p) for p in stuck))


def proc_state(pid):
    try:
        st = read("/proc/%d/stat" % pid)
        return st[st.rindex(")") + 2]
    except (OSError, ValueError):
        return None


def fd_rdevs(pid):
    """{fd: (target, rdev or None)} of a host process."""
    res = {}
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, fd))
            st = os.stat(os.path.join(d, fd))
            rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) else None
        except OSError:
            continue
        res[int(fd)] = (target, rdev)
    return res


def assert_no_fuse_or_ptmx_fds(pid, what):
    bad = {fd: t for fd, (t, rdev) in fd_rdevs(pid).items() if rdev in (FUSE_RDEV, PTMX_RDEV)}
    assert not bad, "%s (pid %d) holds /dev/fuse or a pty master: %r" % (what, pid, bad)


def host_mounts():
    return {(m["id"], m["mountpoint"], m["fstype"]) for m in H.mounts()}


def tree_state(root):
    """Names, types, modes, owners, sizes, mtimes and ctimes under root."""
    res = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for p in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
            st = os.lstat(p)
            res[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size,
                                             st.st_mtime_ns, st.st_ctime_ns)
    return res


def temp_names():
    res = set()
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        try:
            for n in os.listdir(d):
                # Test scratch dirs (cntr-it-*, cntr-mount-it-*, ...) come and go with other runs.
                if "cntr" in n.lower() and "-it-" not in n and not n.startswith("cntr-demo"):
                    res.add(os.path.join(d, n))
        except OSError:
            pass
    return res


def host_base_listing():
    try:
        return sorted(os.listdir("/var/lib/cntr"))
    except OSError:
        return None


# ---------------------------------------------------------------------------
# running cntr
# ---------------------------------------------------------------------------

def cntr_env(**extra):
    env = {"PATH": HOST_PATH, "HOME": "/root", "SHELL": "/bin/sh", "LANG": "C", "TMPDIR": CNTR_TMPDIR,
           "CNTR_IT_TOKEN": TOKEN, "CNTR_IT_HOST_ONLY": "host-only-variable"}
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def cntr_argv(sub, target, cmd=None, args=()):
    argv = [CNTR, sub] + list(args)
    if target is not None:
        argv.append(str(target))
    if cmd is not None:
        argv += ["--"] + list(cmd)
    return argv


def run(argv, input=None, timeout=30, env=None, **kw):
    """subprocess.run with a bound; stdin is /dev/null unless input is given."""
    if input is None and "stdin" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    try:
        return subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                              env=env if env is not None else cntr_env(), **kw)
    except subprocess.TimeoutExpired:
        raise AssertionError("timed out after %ss: %r" % (timeout, argv))


def cntr(sub, target, cmd=None, args=(), **kw):
    return run(cntr_argv(sub, target, cmd, args), **kw)


def attach_sh(target, script, **kw):
    return cntr("attach", target, ["/bin/sh", "-c", script], **kw)


def ok(p):
    """Asserts rc 0 and no stderr; returns stdout as text."""
    assert p.returncode == 0 and p.stderr == b"", \
        "rc %d, stdout %r, stderr %r" % (p.returncode, p.stdout[:2000], p.stderr[:2000])
    return p.stdout.decode()


def unique_secs():
    return "1000.%06d" % random.randrange(10 ** 6)


class Live:
    """A cntr session running in the background whose command ends in
    `sleep <unique>`; .sleep is that sleep's host pid, .shell its parent.
    With direct=True the command is the sleep itself (.shell is then cntr's)."""

    def __init__(self, sub, target, before="", args=(), env=None, shell="/bin/sh", direct=False):
        self.secs = unique_secs()
        script = before + "sleep %s; echo after-sleep" % self.secs
        cmd = ["sleep", self.secs] if direct else [shell, "-c", script]
        self.argv = cntr_argv(sub, target, cmd, args)
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env if env is not None else cntr_env())
        try:
            self.sleep = wait_for_cmdline(["sleep", self.secs], proc=self.proc)
            self.shell = int(proc_status(self.sleep)["PPid"])
        except BaseException:
            self.kill()
            raise

    def finish(self, timeout=15):
        """Ends the sleep; returns (rc, stdout, stderr)."""
        try:
            os.kill(self.sleep, signal.SIGTERM)
        except ProcessLookupError:
            pass
        return self.wait(timeout)

    def wait(self, timeout=15):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("cntr did not exit within %ss" % timeout)
        return self.proc.returncode, out, err

    def kill(self):
        """Cleanup: kills cntr and the sleep (which a failed test may have orphaned)."""
        if self.proc.poll() is None:
            self.proc.kill()
        if getattr(self, "sleep", None) and find_by_cmdline(["sleep", self.secs]):
            try:
                os.kill(self.sleep, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


# ---------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _ck(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def _prctl(*args):
    a = [ctypes.c_ulong(x) for x in args] + [ctypes.c_ulong(0)] * (5 - len(args))
    _ck(libc.prctl(ctypes.c_int(args[0]), *a[1:]), "prctl %r" % (args,))


def _capset(eff, prm, inh):
    hdr = CapHeader(0x20080522, 0)
    data = (CapData * 2)()
    for i in range(2):
        data[i].effective = (eff >> (32 * i)) & 0xffffffff
        data[i].permitted = (prm >> (32 * i)) & 0xffffffff
        data[i].inheritable = (inh >> (32 * i)) & 0xffffffff
    _ck(libc.capset(ctypes.byref(hdr), data), "capset")


_ctr_counter = itertools.count(1)
# Containers alive in this run; the leftover check looks into each of them.
LIVE_CTRS = []


class Ctr:
    """A SlimContainer with what the tests compare against."""

    def __init__(self, base, name, cgroup=False, files=None, **opts):
        self.root = os.path.join(base, "%s-%d-%d" % (name, os.getpid(), next(_ctr_counter)))
        os.mkdir(self.root)
        os.chmod(self.root, 0o755)
        self.userns = opts.get("userns", False)
        self.slim = SlimContainer(self.root, **opts)
        for rel, data in (files or {}).items():
            with open(os.path.join(self.root, rel), "wb") as f:
                f.write(data)
        self.cgroup_dirs = []
        self.want_cgroup = cgroup
        self.pid = None
        self.extra = []  # target processes started in it

    def start(self):
        try:
            self.slim.start()
            self.pid = self.slim.pid
            if self.want_cgroup:
                self.cgroup_dirs = make_cgroups(os.path.basename(self.root))
                move_to_cgroups(self.pid, self.cgroup_dirs)
            self.pidns = os.readlink("/proc/%d/ns/pid" % self.pid)
            self.ns = ns_links(self.pid)
            self.own = own_namespaces(self)
            self.mountinfo = read("/proc/%d/mountinfo" % self.pid)
            self.allowed = {self.pid}
        except BaseException:
            self.stop()
            raise
        LIVE_CTRS.append(self)
        return self

    def stop(self):
        if self in LIVE_CTRS:
            LIVE_CTRS.remove(self)
        for p in self.extra:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.slim.stop()
        remove_cgroups(self.cgroup_dirs)
        self.cgroup_dirs = []

    def alive(self):
        return proc_state(self.pid) not in (None, "Z")

    def spawn(self, **kw):
        pid = spawn_target(self, **kw)
        self.extra.append(pid)
        self.allowed.add(pid)
        return pid

    def problems(self):
        """Strays in its pid namespace; changes to its mount table."""
        out = []
        if not self.alive():
            return out
        # Zombies are ignored: the slim init never reaps, and they hold nothing.
        strays = [p for p in pidns_members(self.pidns) if p not in self.allowed and proc_state(p) != "Z"]
        if strays:
            out.append("processes left in container %d: %s" % (self.pid, "; ".join(map(describe, strays))))
        try:
            now = read("/proc/%d/mountinfo" % self.pid)
        except OSError:
            return out
        if now != self.mountinfo:
            out.append("mountinfo of container %d changed (its root %s %s):\n--- before\n%s--- now\n%s"
                       % (self.pid, self.root, "exists" if os.path.isdir(self.root) else "is gone",
                          self.mountinfo, now))
        return out


def own_namespaces(ctr):
    """The namespaces ctr claims to have of its own (slimctr.NAMESPACES, and user when it
    is user-namespaced), each checked to differ from ours: a session found in one of them
    joined it, it cannot have had it from us. The others (user of a plain container) are ours."""
    claimed = set(slimctr.NAMESPACES) | ({"user"} if ctr.userns else set())
    ours = ns_links(os.getpid())
    same = sorted(n for n in claimed if ctr.ns[n] == ours[n])
    if same:
        raise AssertionError("container %d shares namespaces %s with the host" % (ctr.pid, same))
    if read("/proc/%d/timens_offsets" % ctr.pid).split() != [
            "monotonic", str(TIME_OFFSET), "0", "boottime", str(TIME_OFFSET), "0"]:
        raise AssertionError("container %d: time offsets %r" % (ctr.pid, read("/proc/%d/timens_offsets" % ctr.pid)))
    return claimed


def assert_ns_joined(got, ctr, names=NS_SHARED, what="session"):
    """got: {namespace: ns link} of a session process. Each of names is the container's; those
    the container has of its own differ from ours (own_namespaces), those it has not are ours."""
    ours = ns_links(os.getpid(), names)
    for n in names:
        assert got[n] == ctr.ns[n], "namespace %s: %s %s, container %s" % (n, what, got[n], ctr.ns[n])
        assert (got[n] != ours[n]) == (n in ctr.own), "namespace %s: %s, ours %s" % (n, got[n], ours[n])


def start_ctr(base, name, **opts):
    return Ctr(base, name, **opts).start()


def spawn_target(ctr, uid=0, gid=0, groups=(), bnd=None, prm=None, inh=0, amb=0, umask=0o022,
                 nnp=False, argv=None, env=None, timeout=10):
    """Starts a process in ctr's namespaces and root with these credentials;
    returns its host pid. With argv it execs that (in the container's root),
    else it stays a Python process that keeps exactly the capabilities given."""
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(r)
            names = ["ipc", "uts", "net", "cgroup", "pid", "time", "mnt"]
            fds = {n: os.open("/proc/%d/ns/%s" % (ctr.pid, n), os.O_RDONLY) for n in names + ["user"]}
            rootfd = os.open("/proc/%d/root" % ctr.pid, os.O_RDONLY | os.O_DIRECTORY)
            for n in names:
                _ck(libc.setns(fds[n], 0), "setns " + n)
            os.fchdir(rootfd)
            os.chroot(".")
            os.chdir("/")
            if ctr.userns:
                _ck(libc.setns(fds["user"], 0), "setns user")
            for fd in list(fds.values()) + [rootfd]:
                os.close(fd)
            child = os.fork()
            if child == 0:
                try:
                    os.setgroups(list(groups))
                    os.setresgid(gid, gid, gid)
                    if bnd is not None:
                        for cap in range(last_cap() + 1):
                            if not bnd & (1 << cap):
                                _prctl(PR_CAPBSET_DROP, cap)
                    _prctl(PR_SET_KEEPCAPS, 1)
                    os.setresuid(uid, uid, uid)
                    p = prm if prm is not None else (bnd if bnd is not None else ALL_CAPS)
                    _capset(p, p, inh)
                    for cap in range(last_cap() + 1):
                        if amb & (1 << cap):
                            _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)
                    _prctl(PR_SET_KEEPCAPS, 0)
                    os.umask(umask)
                    if nnp:
                        _prctl(PR_SET_NO_NEW_PRIVS, 1)
                    if argv:
                        os.execve(argv[0], argv, env or {})
                    os.write(w, b"ready\n")
                    while True:
                        time.sleep(3600)
                except BaseException as e:  # noqa: BLE001
                    os.write(w, ("error %r\n" % (e,)).encode())
                finally:
                    os._exit(1)
            os.write(w, ("pid %d\n" % child).encode())
        except BaseException as e:  # noqa: BLE001
            os.write(w, ("error %r\n" % (e,)).encode())
        finally:
            os._exit(0)
    os.close(w)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            rd, _, _ = select.select([r], [], [], 0.1)
            if rd:
                chunk = os.read(r, 4096)
                if not chunk:
                    break
                buf += chunk
                # The target may say "ready" before its parent has written its pid.
                if b"error" in buf or (b"ready\n" in buf and re.search(rb"pid \d+\n", buf)):
                    break
    finally:
        os.close(r)
        os.waitpid(middle, 0)
    m = re.search(rb"pid (\d+)\n", buf)
    pid = int(m.group(1)) if m else None
    if b"error" in buf or not pid:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise RuntimeError("spawning a target in container %d failed: %r" % (ctr.pid, buf))
    if argv:  # wait for the exec
        name = os.path.basename(argv[0]).encode()[:15]
        ok_ = H.wait_until(lambda: read("/proc/%d/comm" % pid, "rb").strip() == name, 10)
        assert ok_, "target %d did not exec %r" % (pid, argv)
    return pid


# --- cgroups: the container gets its own, so joining them is observable ---

def make_cgroups(name):
    """A child cgroup of ours in every mounted hierarchy; returns the dirs."""
    mounts = H.mounts()
    dirs = []
    for line in read("/proc/self/cgroup").splitlines():
        _, ctrls, path = line.split(":", 2)
        if ctrls == "":
            m = next((m for m in mounts if m["fstype"] == "cgroup2"), None)
        else:
            want = set(ctrls.split(","))
            m = next((m for m in mounts if m["fstype"] == "cgroup" and want <= set(m["superopts"])), None)
        if m is None or m["root"] != "/":
            continue
        parent = m["mountpoint"] + path.rstrip("/")
        d = os.path.join(parent, "cntr-it-" + name)
        try:
            os.mkdir(d)
            if "cpuset" in ctrls.split(","):
                for f in ("cpuset.cpus", "cpuset.mems"):
                    with open(os.path.join(d, f), "w") as fh:
                        fh.write(read(os.path.join(parent, f)).strip())
        except OSError:
            continue
        dirs.append(d)
    return dirs


def move_to_cgroups(pid, dirs):
    for d in dirs:
        try:
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        except OSError:
            pass


def remove_cgroups(dirs):
    for d in reversed(dirs):
        deadline = time.monotonic() + 5
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------

def _leftovers(before_mounts):
    problems = []
    tp = token_procs()
    if tp:
        problems.append("cntr processes left: " + "; ".join(map(describe, tp)))
    for c in list(LIVE_CTRS):
        problems += c.problems()
    # New mounts on the host where a session could leave one: on /, at the base
    # dir, in our scratch dir. (Other test files mount elsewhere concurrently.)
    ours = ["/var/lib/cntr"] + [os.path.dirname(c.root) for c in LIVE_CTRS]
    new = [m for m in host_mounts() - before_mounts
           if m[1] == "/" or any(m[1] == r or m[1].startswith(r + "/") for r in ours)]
    if new:
        problems.append("mounts left on the host: %r" % (new,))
    return problems


@pytest.fixture(autouse=True)
def no_leftovers():
    before_mounts = host_mounts()
    before_tmp = temp_names()
    before_base = host_base_listing()
    yield
    problems = []
    deadline = time.monotonic() + 5
    while True:
        problems = _leftovers(before_mounts)
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    new_tmp = (temp_names() - before_tmp) | {os.path.join(CNTR_TMPDIR, n) for n in os.listdir(CNTR_TMPDIR)}
    if new_tmp:
        problems.append("temp files left: %r" % sorted(new_tmp))
    after_base = host_base_listing()
    if before_base is not None and after_base != before_base:
        problems.append("the host's /var/lib/cntr changed: %r -> %r" % (before_base, after_base))
    if problems:
        # Clean up so that later tests start from a clean state, then fail.
        for pid in token_procs():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for c in list(LIVE_CTRS):
            for pid in pidns_members(c.pidns):
                if pid not in c.allowed:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            # A changed mount table is reported once, then becomes the new baseline.
            try:
                c.mountinfo = read("/proc/%d/mountinfo" % c.pid)
            except OSError:
                pass
        pytest.fail("left behind after the test:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def plain(base_dir):
    """A container with /proc and /dev, in cgroups of its own."""
    c = start_ctr(base_dir, "plain", cgroup=True, files={"etc/localtime": read(TOKYO, "rb")})
    yield c
    c.stop()


@pytest.fixture(scope="module")
def userns_ctr(base_dir):
    c = start_ctr(base_dir, "userns", userns=True)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def bare(base_dir):
    """No /proc and no /dev mounted in the container."""
    c = start_ctr(base_dir, "bare", proc=False, dev=False)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def ro_ctr(base_dir):
    c = start_ctr(base_dir, "ro", readonly=True)
    yield c
    c.stop()


def _self_bnd():
    return int(proc_status(os.getpid())["CapBnd"], 16)


# An unprivileged application process: uid/gid 1000, more groups, a narrow
# bounding set, an ambient capability, umask 027, no_new_privs, no HOME.
APP = dict(uid=1000, gid=1000, groups=(1000, 2000, 3000),
           inh=bits("NET_BIND_SERVICE", "CHOWN"), prm=bits("NET_BIND_SERVICE", "CHOWN"),
           amb=bits("NET_BIND_SERVICE"), umask=0o027, nnp=True,
           argv=["/bin/sleep", "100000"], env={"PATH": "/bin", "APP_MARKER": "app-env"})
# A root process whose permitted set is smaller than its bounding set (it did
# not exec after dropping them): the session's bounding set must shrink to it.
ROOTCAPS_DROP_BND = bits("SYS_ADMIN")
ROOTCAPS_DROP_PRM = bits("NET_ADMIN", "SYS_PTRACE")


@pytest.fixture(scope="module")
def app_target(plain):
    bnd = _self_bnd() & ~bits("SYS_ADMIN", "NET_RAW", "MKNOD")
    pid = plain.spawn(bnd=bnd, **APP)
    st = proc_status(pid)
    assert st["Uid"].split()[0] == "1000" and st["NoNewPrivs"] == "1", st
    return pid


@pytest.fixture(scope="module")
def userns_app_target(userns_ctr):
    """uid/gid 1000 with groups 1000 and 2000 inside the user namespace (host 101000...)."""
    pid = userns_ctr.spawn(uid=1000, gid=1000, groups=(1000, 2000), prm=0, umask=0o002,
                           argv=["/bin/sleep", "100000"], env={"PATH": "/bin"})
    st = proc_status(pid)
    assert st["Uid"].split()[0] == str(USERNS_BASE + 1000), st
    assert sorted(st["Groups"].split()) == [str(USERNS_BASE + 1000), str(USERNS_BASE + 2000)], st
    return pid


@pytest.fixture(scope="module")
def rootcaps_target(plain):
    bnd = _self_bnd() & ~ROOTCAPS_DROP_BND
    pid = plain.spawn(bnd=bnd, prm=bnd & ~ROOTCAPS_DROP_PRM, groups=(0, 10, 4242), umask=0o077)
    st = caps_of(proc_status(pid))
    assert st["CapPrm"] != st["CapBnd"], st
    return pid


def expected_caps(target_pid, userns_root_uid=None):
    """The capability sets a session of target_pid should have: the target's,
    with the bounding set also limited to the permitted set for root targets."""
    st = proc_status(target_pid)
    c = caps_of(st)
    uid = int(st["Uid"].split()[1])
    if userns_root_uid is not None:
        uid -= userns_root_uid
    exp = dict(c)
    if uid == 0:
        exp["CapBnd"] = c["CapBnd"] & c["CapPrm"]
    guard = guard_cap(c)
    if guard is not None:
        for k in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            exp[k] |= 1 << guard
    return exp


def guard_cap(c):
    """The capability cntr adds to a session so that the container's processes fail the
    kernel's ptrace check on it (src/identity.c): wake-alarm, block-suspend or audit-read,
    the first the container cannot gain (not in the bounding set), else the first the target
    has not got; None when the target holds them all."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for held in (c["CapBnd"], c["CapPrm"] | c["CapEff"] | c["CapInh"] | c["CapAmb"]):
        for cap in (35, 36, 37):
            if cap <= last and not held & (1 << cap):
                return cap
    return None


def hexcaps(c):
    return {k: hex(v) for k, v in c.items()}


def session_status(target, sub="attach", args=()):
    """/proc/self/status of the session's command itself (no shell in between)."""
    cat = "/usr/bin/cat" if sub == "attach" else "/bin/cat"
    p = cntr(sub, target, [cat, "/proc/self/status"], args=args)
    return parse_status(ok(p))


BACKENDS = ("cntrfs", "bind")


@pytest.fixture(params=BACKENDS)
def be(request):
    """The --backend arguments: the attach tests run with each back end."""
    return ["--backend", request.param]


def mountinfo_entries(text):
    """Another process's mount table (its mountinfo text), parsed as cntr_helpers.mounts() does."""
    return H.mounts(text)


def check_stdin_eof_ends_cat(argv, line):
    """cat in the session keeps running while stdin is open and ends at its EOF."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=cntr_env())
    try:
        proc.stdin.write(line)
        proc.stdin.flush()
        time.sleep(0.3)
        assert proc.poll() is None, "cat ended before its stdin did"
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("cat did not see EOF on stdin")
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for f in (proc.stdout, proc.stderr):
            f.close()
    assert (proc.returncode, out, err) == (0, line, b"")


def _zombie():
    z = subprocess.Popen(["/bin/true"])
    assert H.wait_until(lambda: proc_state(z.pid) == "Z", 5)
    return z


def _as_nobody():
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)


def bad_input_cases(sub):
    """(name, build(ctr pid) -> (argv, run kwargs, cleanup), wanted exit status)."""
    def simple(args):
        return lambda pid: (cntr_argv(sub, None, None, args), {}, None)

    def zombie(pid):
        z = _zombie()
        return cntr_argv(sub, z.pid, ["/bin/true"]), {}, z.wait

    cases = [
        # 1: failed before starting the command; 2: usage (doc/cntr.1, EXIT STATUS).
        ("unknown-pid", simple(["999999999", "--", "/bin/true"]), 1),
        ("non-numeric-pid", simple(["abc", "--", "/bin/true"]), 1),
        ("negative-pid", simple(["-5", "--", "/bin/true"]), 2),
        ("zombie", zombie, 1),
        ("bad-option-value", lambda pid: (cntr_argv(sub, pid, ["/bin/true"], ["--seccomp", "maybe"]), {}, None), 2),
        ("bad-option", lambda pid: (cntr_argv(sub, pid, ["/bin/true"], ["--bogus"]), {}, None), 2),
        ("command-without-dashes", lambda pid: (cntr_argv(sub, pid) + ["/bin/true"], {}, None), 2),
        ("not-root", lambda pid: (cntr_argv(sub, pid, ["/bin/true"]), {"preexec_fn": _as_nobody}, None), 1),
    ]
    if sub == "attach":
        cases.append(("no-target", simple([]), 2))

        def no_fuse(pid):
            # /dev/fuse hidden in a private mount namespace of cntr's own.
            argv = ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
                    'mount -t tmpfs none /dev && exec "$0" "$@"'] + cntr_argv(sub, pid, ["/bin/true"],
                                                                            ["--backend", "cntrfs"])
            return argv, {}, None

        cases.append(("no-dev-fuse", no_fuse, 1))
    return cases


def check_bad_input(pid, case):
    """One line on stderr naming the problem, nothing on stdout, a failure status."""
    name, build, want_rc = case
    argv, kw, cleanup = build(pid)
    try:
        p = run(argv, **kw)
    finally:
        if cleanup:
            cleanup()
    lines = p.stderr.decode(errors="replace").splitlines()
    assert p.returncode == want_rc, p
    assert len(lines) == 1 and lines[0].startswith("cntr: "), "stderr: %r" % p.stderr
    assert p.stdout == b""


NS_SCRIPT = 'for n in cgroup ipc net pid uts user time mnt; do echo "$n $(readlink /proc/self/ns/$n)"; done'
# Prints "uptime SECONDS": the container's boot-time clock is TIME_OFFSET ahead of ours.
UPTIME_SCRIPT = 'read up idle </proc/uptime; echo "uptime ${up%.*}"'


def uptime():
    return int(float(read("/proc/uptime").split()[0]))


def assert_container_clock(inside, what="session"):
    """inside["uptime"]: the boot-time clock seen in a session, which must be the container's."""
    got = int(inside["uptime"])
    assert got - uptime() > TIME_OFFSET - 60, "%s uptime %s, ours %s: not in the container's time namespace" % (
        what, got, uptime())
