"""Helpers for the cntr integration tests: starting and stopping real FUSE
mounts, running code in forked (optionally unprivileged) children with a
bound on time, and the recorder used by the differential tests.

Nothing here is mocked: every mount is a real `cntr mount` of a real
directory.  Every wait is bounded.  When a wait runs out, the FUSE
connections this test run created are aborted through fusectl, which
releases any process stuck in a request to a hung server, so a server bug
turns into a failing test instead of a hanging suite.
"""

import ctypes
import ctypes.util
import errno
import hashlib
import os
import pickle
import select
import signal
import stat
import subprocess
import sys
import threading
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUSECTL = "/sys/fs/fuse/connections"


def cntr_bin():
    return os.environ.get("CNTR_BIN") or os.path.join(REPO, "build", "cntr")


def named_threads(pid, name):
    """Thread ids of process pid whose name (comm) is name."""
    tids = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if f.read().strip() == name:
                tids.append(tid)
    return tids


def settled_stderr(env, line):
    """The server logs INIT (and starts its ring) only when the kernel's first request arrives."""
    os.stat(env.m("."))
    wait_until(lambda: line in env.server.stderr(), 5)
    return env.server.stderr()


URING_PARAM = "/sys/module/fuse/parameters/enable_uring"


def fuse_uring():
    """Whether the kernel offers FUSE over io_uring to new mounts (fuse.enable_uring)."""
    with open(URING_PARAM) as f:
        return f.read().strip() == "Y"


def set_fuse_uring(on):
    """Lets the kernel offer FUSE over io_uring to new mounts (fuse.enable_uring), or not."""
    with open(URING_PARAM, "w") as f:
        f.write("1" if on else "0")


# ---------------------------------------------------------------------------
# libc bits that Python's os module does not expose
# ---------------------------------------------------------------------------

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
MNT_DETACH = 2

libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(Timespec), ctypes.c_int]


def _check(ret, what):
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))
    return ret


def _b(path):
    return path if isinstance(path, bytes) else os.fsencode(path)


def renameat2(old, new, flags):
    return _check(libc.renameat2(AT_FDCWD, _b(old), AT_FDCWD, _b(new), flags), "renameat2")


def fallocate(fd, mode, offset, length):
    return _check(libc.fallocate(fd, mode, offset, length), "fallocate")


def utimensat(path, atime, mtime, nofollow=False):
    """atime/mtime: (sec, nsec), or UTIME_NOW / UTIME_OMIT."""
    ts = (Timespec * 2)()
    for i, t in enumerate((atime, mtime)):
        if t in (UTIME_NOW, UTIME_OMIT):
            ts[i].tv_sec, ts[i].tv_nsec = 0, t
        else:
            ts[i].tv_sec, ts[i].tv_nsec = t
    return _check(libc.utimensat(AT_FDCWD, _b(path), ts, AT_SYMLINK_NOFOLLOW if nofollow else 0), "utimensat")


def umount2(path, flags=0):
    return _check(libc.umount2(_b(path), flags), "umount2")


# ---------------------------------------------------------------------------
# mountinfo
# ---------------------------------------------------------------------------

def _unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 3 < len(s) and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def mounts(text=None):
    """The mount table: /proc/self/mountinfo, or the mountinfo text given (another process's)."""
    if text is None:
        with open("/proc/self/mountinfo") as f:
            text = f.read()
    res = []
    for line in text.splitlines():
        left, right = line.split(" - ", 1)
        lf = left.split(" ")
        rf = right.split(" ")
        res.append({
            "id": lf[0], "parent": lf[1], "majmin": lf[2], "root": _unescape(lf[3]),
            "mountpoint": _unescape(lf[4]), "opts": lf[5].split(","),
            "fstype": rf[0], "source": _unescape(rf[1]),
            "superopts": rf[2].split(",") if len(rf) > 2 else [],
        })
    return res


def _norm(path):
    # Never realpath(): resolving a path that crosses a hung FUSE mount blocks
    # (this runs in the watchdog too). Test paths contain no symlinks.
    return os.path.normpath(os.path.abspath(path))


def mounts_at(path):
    path = _norm(path)
    return [m for m in mounts() if m["mountpoint"] == path]


def mount_at(path):
    """The top mount on path, or None."""
    ms = mounts_at(path)
    return ms[-1] if ms else None


def mounts_under(path):
    path = _norm(path).rstrip("/") + "/"
    return [m for m in mounts() if (m["mountpoint"] + "/").startswith(path)]


def ensure_fusectl():
    """Mounts fusectl if needed; returns True when this call mounted it."""
    if any(m["fstype"] == "fusectl" for m in mounts()):
        return False
    subprocess.run(["mount", "-t", "fusectl", "fusectl", FUSECTL], check=True, timeout=10)
    return True


def abort_connection(majmin):
    major, minor = (int(x) for x in majmin.split(":"))
    dev = (major << 20) | minor
    p = os.path.join(FUSECTL, str(dev), "abort")
    try:
        with open(p, "w") as f:
            f.write("1")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Registry of what this test run started, for emergency cleanup
# ---------------------------------------------------------------------------

_registry_lock = threading.Lock()
_live_servers = []  # CntrServer
_live_children = set()  # pids
_mounted_conns = {}  # mountpoint -> majmin, for connections we created


def register_conn(mnt, majmin):
    with _registry_lock:
        _mounted_conns[_norm(mnt)] = majmin


def emergency_abort(reason=""):
    """Aborts every FUSE connection this run created and kills its processes.
    Called by the watchdog and by timed-out waits; unblocks stuck syscalls."""
    try:
        sys.__stderr__.write("\n*** cntr tests: emergency abort (%s)\n" % reason)
    except Exception:  # noqa: BLE001
        pass
    with _registry_lock:
        conns = dict(_mounted_conns)
        children = list(_live_children)
        servers = list(_live_servers)
    for mnt, majmin in conns.items():
        m = mount_at(mnt)
        if m and m["majmin"] == majmin:
            abort_connection(majmin)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for s in servers:
        s.kill()


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------

def wait_until(pred, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


class CntrServer:
    """One `cntr mount -f` process serving SRC on MNT."""

    def __init__(self, src, mnt, args=(), logdir=None, prefix=(), fstype="fuse.cntrfs", env=None):
        self.src, self.mnt = src, _norm(mnt)
        self.args = list(args)
        self.prefix = list(prefix)
        self.fstype = fstype
        self.logdir = logdir or os.path.dirname(self.mnt)
        self.proc = None
        self.majmin = None
        self.env = env
        tag = os.path.basename(self.mnt)
        self.out_path = os.path.join(self.logdir, "server-%s.stdout" % tag)
        self.err_path = os.path.join(self.logdir, "server-%s.stderr" % tag)

    @property
    def cmd(self):
        return self.prefix + [cntr_bin(), "mount", "-f"] + self.args + [self.src, self.mnt]

    def start(self, timeout=10):
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         start_new_session=True, env=self.env)
        with _registry_lock:
            _live_servers.append(self)
        m = wait_until(lambda: self._mounted_entry() or self.proc.poll() is not None, timeout)
        entry = self._mounted_entry()
        if not entry:
            rc = self.proc.poll()
            self.kill()
            raise AssertionError("cntr did not mount %s within %ss (exit code %r)\ncmd: %s\nstderr:\n%s"
                                 % (self.mnt, timeout, rc, " ".join(self.cmd), self.stderr()))
        self.majmin = entry["majmin"]
        register_conn(self.mnt, self.majmin)
        return self

    def _mounted_entry(self):
        m = mount_at(self.mnt)
        if m and m["fstype"] == self.fstype:
            return m
        return None

    def is_mounted(self):
        m = mount_at(self.mnt)
        return bool(m and self.majmin and m["majmin"] == self.majmin)

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout=10):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def umount(self, timeout=10, lazy=False):
        """`umount [-l] MNT`; returns the CompletedProcess."""
        cmd = ["umount"] + (["-l"] if lazy else []) + [self.mnt]
        try:
            return subprocess.run(cmd, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.abort()
            raise AssertionError("umount %s hung for %ss" % (self.mnt, timeout))

    def abort(self):
        if self.majmin and self.is_mounted():
            abort_connection(self.majmin)

    def abort_conn_anyway(self):
        if self.majmin:
            abort_connection(self.majmin)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.kill()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stop(self):
        """Normal end of a test: unmount, and check that the server exited 0
        and that nothing is left mounted. Returns a list of problems."""
        problems = []
        if self.proc is None:
            return problems
        if self.is_mounted():
            if not self.alive():
                problems.append("server exited (code %r) while the mount was still live" % self.proc.returncode)
            else:
                r = self.umount()
                if r.returncode != 0:
                    problems.append("umount %s failed: %s" % (self.mnt, r.stderr.decode(errors="replace").strip()))
        rc = self.wait_exit(10)
        if rc is None:
            others = foreign_holders(self.majmin)
            if others:
                # Another mount namespace (someone's unshare or container, made
                # while we were mounted) still holds a copy of the mount, so
                # the connection legitimately lives on: not the server's fault.
                sys.__stderr__.write("cntr tests: %s is still mounted in other mount namespaces (pids %r); "
                                     "aborting the connection\n" % (self.mnt, others[:5]))
                self.abort_conn_anyway()
                self.wait_exit(10)
            else:
                problems.append("server did not exit within 10 s of umount (no other mount namespace holds "
                                "the mount)")
        elif rc != 0:
            problems.append("server exited with code %r after umount" % rc)
        self.force_cleanup()
        if mount_at(self.mnt):
            problems.append("something is still mounted on %s" % self.mnt)
        if problems:
            problems.append("server stderr:\n" + self.stderr())
        return problems

    def force_cleanup(self):
        """Whatever state things are in: nothing mounted, no process left."""
        for _ in range(5):
            m = mount_at(self.mnt)
            if not m:
                break
            if m["fstype"].startswith("fuse"):
                abort_connection(m["majmin"])
            try:
                umount2(self.mnt, MNT_DETACH)
            except OSError:
                break
        self.kill()
        with _registry_lock:
            if self in _live_servers:
                _live_servers.remove(self)


def foreign_holders(majmin):
    """Pids (one per mount namespace) whose namespace still has majmin mounted."""
    if not majmin:
        return []
    mine = os.readlink("/proc/self/ns/mnt")
    seen, res = {mine}, []
    needle = " %s " % majmin
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ns = os.readlink("/proc/%s/ns/mnt" % d)
            if ns in seen:
                continue
            seen.add(ns)
            with open("/proc/%s/mountinfo" % d) as f:
                if any(needle in line and " - fuse" in line for line in f):
                    res.append(int(d))
        except OSError:
            continue
    return res


def server_pids_for(path):
    """Pids of processes whose command line mentions path (used for detached servers)."""
    res = []
    needle = os.fsencode(path)
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if needle in args:
            res.append(int(d))
    return res


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()[0]
        return st != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Forked children with a time bound (optionally unprivileged)
# ---------------------------------------------------------------------------

_progress_fd = None


def progress(label):
    """In a child: tell the parent what we are about to do (shown on timeouts)."""
    if _progress_fd is not None:
        msg = pickle.dumps(("progress", str(label)[:300]))
        os.write(_progress_fd, len(msg).to_bytes(4, "little") + msg)


class ChildTimeout(AssertionError):
    pass


class ChildError(AssertionError):
    pass


def run_child(fn, *args, uid=None, gid=None, groups=None, umask=0o022, timeout=30, cwd=None):
    """Runs fn(*args) in a forked child (as uid/gid/groups when given) and
    returns its (picklable) result. Raises ChildError with the child's
    traceback, or ChildTimeout (after aborting our FUSE connections)."""
    global _progress_fd
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            _progress_fd = w
            if gid is not None:
                os.setgroups(list(groups) if groups is not None else [gid])
                os.setresgid(gid, gid, gid)
            elif groups is not None:
                os.setgroups(list(groups))
            if uid is not None:
                os.setresuid(uid, uid, uid)
            if umask is not None:
                os.umask(umask)
            if cwd:
                os.chdir(cwd)
            res = ("ok", fn(*args))
        except BaseException as e:  # noqa: B902 - report everything to the parent
            res = ("exc", "%s: %s" % (type(e).__name__, e), traceback.format_exc())
            code = 1
        try:
            msg = pickle.dumps(res)
        except Exception as e:
            msg = pickle.dumps(("exc", "result not picklable: %r" % e, ""))
        try:
            data = len(msg).to_bytes(4, "little") + msg
            while data:
                n = os.write(w, data)
                data = data[n:]
        finally:
            os._exit(code)
    os.close(w)
    with _registry_lock:
        _live_children.add(pid)
    buf = b""
    last = "(nothing yet)"
    result = None
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                emergency_abort("child %d timed out after %ss; last step: %s" % (pid, timeout, last))
                raise ChildTimeout("child timed out after %ss (server hung?); last step: %s" % (timeout, last))
            rl, _, _ = select.select([r], [], [], min(left, 1.0))
            if not rl:
                continue
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 4:
                n = int.from_bytes(buf[:4], "little")
                if len(buf) < 4 + n:
                    break
                msg = pickle.loads(buf[4:4 + n])
                buf = buf[4 + n:]
                if msg[0] == "progress":
                    last = msg[1]
                else:
                    result = msg
    finally:
        os.close(r)
        _reap(pid, deadline=max(deadline, time.monotonic() + 5))
        with _registry_lock:
            _live_children.discard(pid)
    if result is None:
        raise ChildError("child died without a result; last step: %s" % last)
    if result[0] == "exc":
        raise ChildError("child failed (last step: %s): %s\n%s" % (last, result[1], result[2]))
    return result[1]


def _reap(pid, deadline):
    while True:
        try:
            p, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if p:
            return
        if time.monotonic() > deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            emergency_abort("child %d would not exit" % pid)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            return
        time.sleep(0.01)


def run_cmd(cmd, timeout=30, **kw):
    """subprocess.run with a bound; on timeout aborts our FUSE connections."""
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        emergency_abort("command timed out: %s" % " ".join(map(str, cmd)))
        raise AssertionError("command timed out after %ss: %s" % (timeout, " ".join(map(str, cmd))))


# ---------------------------------------------------------------------------
# Differential recorder
# ---------------------------------------------------------------------------

FMT_NAMES = {stat.S_IFREG: "reg", stat.S_IFDIR: "dir", stat.S_IFLNK: "lnk", stat.S_IFIFO: "fifo",
             stat.S_IFSOCK: "sock", stat.S_IFCHR: "chr", stat.S_IFBLK: "blk"}


def norm_stat(st, blocks=False, times=False, dirsize=True):
    kind = FMT_NAMES.get(stat.S_IFMT(st.st_mode), "?")
    d = {"type": kind, "mode": oct(stat.S_IMODE(st.st_mode)), "uid": st.st_uid, "gid": st.st_gid,
         "nlink": st.st_nlink}
    if kind != "dir" or dirsize:
        d["size"] = st.st_size
    if kind in ("chr", "blk"):
        d["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
    if blocks:
        d["blocks"] = st.st_blocks
    if times:
        if times != "m":  # "m": mtime only (atime moves under relatime when a symlink is followed)
            d["atime_ns"] = st.st_atime_ns
        d["mtime_ns"] = st.st_mtime_ns
    return d


def errname(e):
    return "E:" + errno.errorcode.get(e.errno, str(e.errno))


class Rec:
    """Runs operations relative to a root directory and records every
    outcome (value or errno) so two runs can be compared."""

    def __init__(self, root, blocks_ok=True):
        self.root = root
        self.blocks_ok = blocks_ok  # False: st_blocks is not recorded (writeback cache)
        self.log = []
        self.marks = {}
        self.fdnames = {}  # fd -> "#n" in open order, so logs say which descriptor

    def p(self, rel):
        if isinstance(rel, bytes):
            return os.path.join(os.fsencode(self.root), rel) if rel else os.fsencode(self.root)
        return os.path.join(self.root, rel) if rel else self.root

    def do(self, label, fn, *args, **kw):
        progress(label)
        try:
            v = fn(*args, **kw)
        except OSError as e:
            self.log.append((label, errname(e)))
            return None
        return v

    def rec(self, label, fn, *args, **kw):
        """Like do(), but also records the returned value."""
        progress(label)
        try:
            v = fn(*args, **kw)
        except OSError as e:
            self.log.append((label, errname(e)))
            return None
        self.log.append((label, v))
        return v

    def note(self, label, value):
        self.log.append((label, value))

    # --- files ---
    def open(self, rel, flags, mode=0o644, dir_fd=None):
        label = "open %r %#o" % (rel, flags)
        progress(label)
        try:
            fd = os.open(self.p(rel) if dir_fd is None else rel, flags, mode, dir_fd=dir_fd)
        except OSError as e:
            self.log.append((label, errname(e)))
            return None
        self.nopens = getattr(self, "nopens", 0) + 1
        self.fdnames[fd] = "#%d" % self.nopens
        self.log.append((label, "fd " + self.fdnames[fd]))
        return fd

    def _fd(self, label, fd, fn, *args):
        if fd is None:
            self.log.append((label, "no fd"))
            return None
        return self.rec("%s %s" % (self.fdnames.get(fd, "fd"), label), fn, fd, *args)

    def close(self, fd):
        return self._fd("close", fd, lambda f: os.close(f) or "ok")

    def write(self, fd, data, label="write"):
        return self._fd("%s %d" % (label, len(data)), fd, os.write, data)

    def pwrite(self, fd, data, off):
        return self._fd("pwrite %d@%d" % (len(data), off), fd, os.pwrite, data, off)

    def read(self, fd, n, label="read"):
        return self._fd("%s %d" % (label, n), fd, lambda f: _digest(os.read(f, n)))

    def pread(self, fd, n, off):
        return self._fd("pread %d@%d" % (n, off), fd, lambda f: _digest(os.pread(f, n, off)))

    def lseek(self, fd, off, whence):
        return self._fd("lseek %d %d" % (off, whence), fd, os.lseek, off, whence)

    def ftruncate(self, fd, size):
        return self._fd("ftruncate %d" % size, fd, lambda f: os.ftruncate(f, size) or "ok")

    def fsync(self, fd):
        return self._fd("fsync", fd, lambda f: os.fsync(f) or "ok")

    def fdatasync(self, fd):
        return self._fd("fdatasync", fd, lambda f: os.fdatasync(f) or "ok")

    def fallocate(self, fd, mode, off, length):
        return self._fd("fallocate mode=%#x %d+%d" % (mode, off, length), fd,
                        lambda f: fallocate(f, mode, off, length) or "ok")

    def fchmod(self, fd, mode):
        return self._fd("fchmod %#o" % mode, fd, lambda f: os.fchmod(f, mode) or "ok")

    def fchown(self, fd, uid, gid):
        return self._fd("fchown %d %d" % (uid, gid), fd, lambda f: os.fchown(f, uid, gid) or "ok")

    # --- names ---
    def _ok(self, label, fn, *args, **kw):
        return self.rec(label, lambda: fn(*args, **kw) or "ok")

    def mkdir(self, rel, mode=0o755):
        return self._ok("mkdir %r %#o" % (rel, mode), os.mkdir, self.p(rel), mode)

    def rmdir(self, rel):
        return self._ok("rmdir %r" % (rel,), os.rmdir, self.p(rel))

    def unlink(self, rel):
        return self._ok("unlink %r" % (rel,), os.unlink, self.p(rel))

    def rename(self, a, b):
        return self._ok("rename %r %r" % (a, b), os.rename, self.p(a), self.p(b))

    def renameat2(self, a, b, flags):
        return self._ok("renameat2 %r %r %d" % (a, b, flags), renameat2, self.p(a), self.p(b), flags)

    def link(self, a, b):
        return self._ok("link %r %r" % (a, b), os.link, self.p(a), self.p(b), follow_symlinks=False)

    def symlink(self, target, rel):
        return self._ok("symlink %r %r" % (target, rel), os.symlink, target, self.p(rel))

    def readlink(self, rel):
        return self.rec("readlink %r" % (rel,), os.readlink, self.p(rel))

    def chmod(self, rel, mode, follow=True):
        if follow:
            return self._ok("chmod %r %#o" % (rel, mode), os.chmod, self.p(rel), mode)
        return self._ok("fchmodat %r %#o nofollow" % (rel, mode), lambda: _check(
            libc.fchmodat(AT_FDCWD, _b(self.p(rel)), mode, AT_SYMLINK_NOFOLLOW), "fchmodat"))

    def chown(self, rel, uid, gid, follow=True):
        return self._ok("chown %r %d %d%s" % (rel, uid, gid, "" if follow else " nofollow"),
                        os.chown, self.p(rel), uid, gid, follow_symlinks=follow)

    def truncate(self, rel, size):
        return self._ok("truncate %r %d" % (rel, size), os.truncate, self.p(rel), size)

    def mknod(self, rel, mode, dev=0):
        return self._ok("mknod %r %#o %r" % (rel, mode, dev), os.mknod, self.p(rel), mode, dev)

    def access(self, rel, mode):
        return self._ok("access %r %d" % (rel, mode), lambda: os.access(self.p(rel), mode) and "yes" or "no")

    def utimens(self, rel, atime, mtime, nofollow=False):
        return self._ok("utimensat %r %r %r%s" % (rel, atime, mtime, " nofollow" if nofollow else ""),
                        utimensat, self.p(rel), atime, mtime, nofollow)

    def setxattr(self, rel, name, value, flags=0, follow=True):
        return self._ok("setxattr %r %s %d %d%s" % (rel, name, len(value), flags, "" if follow else " nofollow"),
                        os.setxattr, self.p(rel), name, value, flags, follow_symlinks=follow)

    def getxattr(self, rel, name, follow=True):
        return self.rec("getxattr %r %s%s" % (rel, name, "" if follow else " nofollow"),
                        lambda: _digest(os.getxattr(self.p(rel), name, follow_symlinks=follow)))

    def listxattr(self, rel, follow=True):
        return self.rec("listxattr %r%s" % (rel, "" if follow else " nofollow"),
                        lambda: sorted(os.listxattr(self.p(rel), follow_symlinks=follow)))

    def removexattr(self, rel, name, follow=True):
        return self._ok("removexattr %r %s%s" % (rel, name, "" if follow else " nofollow"),
                        os.removexattr, self.p(rel), name, follow_symlinks=follow)

    def sh(self, *cmd, label=None):
        """Runs a command with cwd=root (use relative paths); records rc and output."""
        label = label or " ".join(cmd)
        progress(label)
        p = subprocess.run(list(cmd), cwd=self.root, capture_output=True, timeout=20)
        res = (p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
        self.log.append((label, res))
        return res

    def content(self, rel):
        def f():
            with open(self.p(rel), "rb") as fh:
                return _digest(fh.read())
        return self.rec("content %r" % (rel,), f)

    def stat(self, rel, follow=True, blocks=False, times=False, dirsize=True):
        return self.rec("%sstat %r" % ("" if follow else "l", rel),
                        lambda: norm_stat(os.stat(self.p(rel), follow_symlinks=follow), blocks and self.blocks_ok,
                                          times, dirsize))

    def fstat(self, fd, blocks=False, times=False):
        return self._fd("fstat", fd, lambda f: norm_stat(os.fstat(f), blocks and self.blocks_ok, times))

    def mark(self, *rels):
        """Remembers times of rels; sleeps so that later changes are visible."""
        for rel in rels:
            st = os.stat(self.p(rel), follow_symlinks=False)
            self.marks[rel] = (st.st_mtime_ns, st.st_ctime_ns)
        time.sleep(0.03)

    def changed(self, label, *rels):
        """Records for each rel whether mtime / ctime moved since mark()."""
        res = []
        for rel in rels:
            try:
                st = os.stat(self.p(rel), follow_symlinks=False)
            except OSError as e:
                res.append((rel, errname(e)))
                continue
            m, c = self.marks[rel]
            res.append((rel, "mtime" if st.st_mtime_ns != m else "-", "ctime" if st.st_ctime_ns != c else "-"))
        self.note("changed after %s" % label, res)

    def listdir(self, rel=""):
        return self.rec("listdir %r" % (rel,), lambda: sorted(os.listdir(self.p(rel))))

    def call(self, label, fn):
        """fn(path_func) -> value; records value or errno."""
        return self.rec(label, fn)


def _digest(data):
    if len(data) <= 64:
        return data
    return ("sha1", len(data), hashlib.sha1(data).hexdigest())


# ---------------------------------------------------------------------------
# Tree snapshots
# ---------------------------------------------------------------------------

def _xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        return errname(e)
    res = {}
    for n in sorted(names):
        try:
            res[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError as e:
            res[n] = errname(e)
    return res


def tree_snapshot(root, xattrs=True, content=True, blocks=False, dirsize=True):
    """Deterministic description of everything under root (no times, no inode numbers)."""
    snap = {}
    rootb = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(rootb):
        dirnames.sort()
        for name in [b""] + sorted(dirnames + filenames) if dirpath == rootb else sorted(dirnames + filenames):
            p = os.path.join(dirpath, name) if name else dirpath
            rel = os.path.relpath(p, rootb)
            st = os.lstat(p)
            d = norm_stat(st, blocks=blocks, dirsize=dirsize)
            if rel == b".":
                d.pop("nlink", None)  # the roots' parents differ; nlink of root itself does not
            if stat.S_ISLNK(st.st_mode):
                d["target"] = os.readlink(p)
            elif stat.S_ISREG(st.st_mode) and content:
                with open(p, "rb") as f:
                    h = hashlib.sha1()
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        h.update(chunk)
                d["sha1"] = h.hexdigest()
            if xattrs:
                d["xattrs"] = _xattrs(p)
            snap[rel] = d
    return snap


def diff_dicts(a, b, names=("native", "mount"), limit=20):
    out = []
    for k in sorted(set(a) | set(b)):
        if k not in a:
            out.append("%r only in %s: %r" % (k, names[1], b[k]))
        elif k not in b:
            out.append("%r only in %s: %r" % (k, names[0], a[k]))
        elif a[k] != b[k]:
            out.append("%r differs:\n    %s: %r\n    %s: %r" % (k, names[0], a[k], names[1], b[k]))
        if len(out) >= limit:
            out.append("...")
            break
    return "\n".join(out)


def diff_logs(a, b, names=("native", "mount")):
    """First differences between two Rec logs, with context."""
    out = []
    n = max(len(a), len(b))
    for i in range(n):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if x != y:
            ctx = a[max(0, i - 3):i]
            out.append("step %d differs (previous steps: %r)\n  %s: %r\n  %s: %r" % (i, ctx, names[0], x, names[1], y))
            if len(out) >= 5:
                break
    return "\n".join(out)


def compare_with_backing(mnt, src, check_ctime=True, check_mtime=True):
    """Walks the mount and its backing directory together: same names, and
    st_ino (from stat and from readdir d_ino), ownership, mode, size, nlink and
    times equal to the backing files'. Returns a list of problems."""
    problems = []
    mntb, srcb = os.fsencode(mnt), os.fsencode(src)
    stack = [b""]
    while stack:
        rel = stack.pop()
        md = os.path.join(mntb, rel) if rel else mntb
        sd = os.path.join(srcb, rel) if rel else srcb
        m_entries = {}
        for e in os.scandir(md):
            if e.name in m_entries:
                problems.append("duplicate readdir entry %r in %r" % (e.name, rel))
            m_entries[e.name] = e
        s_names = set(os.listdir(sd))
        if set(m_entries) != s_names:
            problems.append("names in %r differ: only mount %r, only backing %r"
                            % (rel, sorted(set(m_entries) - s_names)[:10], sorted(s_names - set(m_entries))[:10]))
        for name, e in m_entries.items():
            if name not in s_names:
                continue
            r = os.path.join(rel, name) if rel else name
            mst = os.lstat(os.path.join(md, name))
            sst = os.lstat(os.path.join(sd, name))
            if e.inode() != mst.st_ino:
                problems.append("%r: readdir d_ino %d != st_ino %d" % (r, e.inode(), mst.st_ino))
            fields = ["st_ino", "st_mode", "st_uid", "st_gid", "st_size", "st_nlink"]
            if check_mtime:
                fields.append("st_mtime_ns")
            if check_ctime:
                fields.append("st_ctime_ns")
            if stat.S_ISCHR(sst.st_mode) or stat.S_ISBLK(sst.st_mode):
                fields.append("st_rdev")
            for f in fields:
                if getattr(mst, f) != getattr(sst, f):
                    problems.append("%r: %s through mount %r != backing %r" % (r, f, getattr(mst, f), getattr(sst, f)))
            if e.is_dir(follow_symlinks=False) != stat.S_ISDIR(sst.st_mode) or \
                    e.is_symlink() != stat.S_ISLNK(sst.st_mode):
                problems.append("%r: readdir d_type does not match the file type" % (r,))
            if stat.S_ISDIR(sst.st_mode):
                stack.append(r)
        if len(problems) > 30:
            break
    return problems


def drop_caches():
    """Makes the kernel forget cached FUSE dentries/inodes (FORGET requests follow)."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")


def server_pids_for_prefix(prefix):
    """Pids of processes with a command-line argument under prefix (strays)."""
    res = []
    needle = os.fsencode(prefix)
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.startswith(needle) for a in args):
            res.append(int(d))
    return res


# ---------------------------------------------------------------------------
# The differential driver
# ---------------------------------------------------------------------------

class User:
    def __init__(self, uid, gid=None, groups=None, umask=0o022):
        self.uid = uid
        self.gid = uid if gid is None else gid
        self.groups = [self.gid] if groups is None else list(groups)
        self.umask = umask

    def __repr__(self):
        return "User(%d, %d, %r, umask=%#o)" % (self.uid, self.gid, self.groups, self.umask)


ROOT = User(0, 0, [0])


def _run_steps_in(root, fn, blocks_ok):
    r = Rec(root, blocks_ok)
    fn(r)
    return r.log


def run_scenario(root, steps, timeout=60, blocks_ok=True):
    """Runs each (user, fn) step in its own child on root; returns the joined log."""
    log = []
    for user, fn in steps:
        user = user or ROOT
        part = run_child(_run_steps_in, root, fn, blocks_ok, uid=user.uid, gid=user.gid, groups=user.groups,
                         umask=user.umask, timeout=timeout)
        log.append(("-- as %r" % (user,), len(part)))
        log.extend(part)
    return log


def differential(env, steps, setup=None, timeout=60, tree=True, backing=True, check_ctime=True,
                 blocks=False, xattrs=True, content=True, dirsize=True):
    """Runs the same steps on the native twin directory and through the mount
    of an identical directory; asserts that every recorded outcome, the final
    trees, and the mount's view versus its backing files agree.

    steps: a function fn(rec) run as root, or a list of (User or None, fn).

    With --writeback the kernel owns mtime/ctime and st_blocks of files it
    caches (it keeps its own values and does not push ctime to the server),
    so those are not compared with the backing files in that configuration."""
    writeback = getattr(env, "config", "") == "writeback"
    if writeback:
        check_ctime = False
        blocks = False
    if callable(steps):
        steps = [(None, steps)]
    if setup is not None:
        for root in (env.native, env.src):
            setup(root)
    nlog = run_scenario(env.native, steps, timeout, not writeback)
    mlog = run_scenario(env.mnt, steps, timeout, not writeback)
    assert mlog == nlog, "operation results differ between native and mount:\n" + diff_logs(nlog, mlog)
    if tree:
        ns = tree_snapshot(env.native, xattrs=xattrs, content=content, blocks=blocks, dirsize=dirsize)
        ms = tree_snapshot(env.mnt, xattrs=xattrs, content=content, blocks=blocks, dirsize=dirsize)
        assert ms == ns, "final trees differ:\n" + diff_dicts(ns, ms)
    if backing:
        problems = compare_with_backing(env.mnt, env.src, check_ctime=check_ctime, check_mtime=not writeback)
        assert not problems, "mount disagrees with its backing dir:\n" + "\n".join(problems)
    return nlog
