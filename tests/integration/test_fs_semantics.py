"""Behaviour of the mount that has no native twin: id shifting, read-only
mounts, statfs, locks between processes, inode flags, exec, mmap, and
coherence between the mount and its backing directory."""

import errno
import fcntl
import mmap
import os
import random
import select
import shutil
import stat
import struct
import subprocess
import time

import pytest

import cntr_helpers as H
import fsstats
from cntr_helpers import run_child

O_CREAT, O_WRONLY, O_RDONLY, O_RDWR = os.O_CREAT, os.O_WRONLY, os.O_RDONLY, os.O_RDWR


def write_file(path, data=b"data", mode=None, uid=None, gid=None):
    with open(path, "wb") as f:
        f.write(data)
    if uid is not None:
        os.chown(path, uid, gid)
    if mode is not None:
        os.chmod(path, mode)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def errno_of(fn, *args, **kw):
    """errno name of fn(*args), or 'ok'."""
    try:
        fn(*args, **kw)
    except OSError as e:
        return errno.errorcode[e.errno]
    return "ok"


# ---------------------------------------------------------------------------
# --uid-map / --gid-map
# ---------------------------------------------------------------------------

MAP_ARGS = ["--uid-map", "0:1000:10", "--gid-map", "0:2000:10"]


def populate_mapped(e):
    os.chmod(e.src, 0o755)
    write_file(e.s("f0"), mode=0o644)
    write_file(e.s("f5"), mode=0o644, uid=5, gid=7)
    write_file(e.s("f50"), mode=0o644, uid=50, gid=60)
    os.mkdir(e.s("d0"), 0o755)
    os.mkdir(e.s("d3"))
    os.chown(e.s("d3"), 3, 3)
    os.chmod(e.s("d3"), 0o755)


@pytest.fixture
def mapped(mount_factory):
    e = mount_factory(MAP_ARGS, name="mapped", start=False)
    populate_mapped(e)
    return e.start()


def owner(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def test_uidmap_shows_on_disk_ids_shifted(mapped):
    assert owner(mapped.mnt) == (1000, 2000)
    assert owner(mapped.m("f0")) == (1000, 2000)
    assert owner(mapped.m("f5")) == (1005, 2007)
    assert owner(mapped.m("d3")) == (1003, 2003)


def test_uidmap_unmapped_ids_show_as_65534(mapped):
    assert owner(mapped.m("f50")) == (65534, 65534)


def shifted_owner(path):
    """The owner MAP_ARGS should show for the backing file path (65534 where unmapped)."""
    uid, gid = owner(path)
    return (uid + 1000 if uid < 10 else 65534, gid + 2000 if gid < 10 else 65534)


@pytest.mark.parametrize("how", ["readdirplus", "lookup"])
def test_uidmap_owner_from_readdirplus_and_from_lookup_is_the_shifted_backing_owner(mount_factory, how):
    """The attributes of a listed name come from READDIRPLUS; with --no-readdirplus, from a
    LOOKUP of each name. Either way they must be the backing file's owner, shifted. (Comparing
    the two within one mount proves nothing: the second stat is served from the attributes
    the first one cached.) --stats shows which request really served them."""
    args = MAP_ARGS + ["--stats", "--attr-timeout", "60", "--entry-timeout", "60"]
    if how == "lookup":
        args.append("--no-readdirplus")
    e = mount_factory(args, name="mapped", start=False)
    populate_mapped(e)
    e.start()
    want = {n: shifted_owner(e.s(n)) for n in os.listdir(e.src)}
    assert {(1000, 2000), (1005, 2007), (1003, 2003), (65534, 65534)} <= set(want.values()), want
    got = {}
    for ent in os.scandir(e.mnt):
        st = ent.stat(follow_symlinks=False)
        got[ent.name] = (st.st_uid, st.st_gid)
    assert got == want
    server = e.server
    assert e.stop() == []
    stats = fsstats.parse(server.stderr())
    if how == "readdirplus":
        assert stats.get("READDIRPLUS", 0) >= 1 and stats.get("LOOKUP", 0) == 0, stats
    else:
        assert stats.get("READDIRPLUS", 0) == 0 and stats.get("LOOKUP", 0) >= len(want), stats


def test_uidmap_file_created_by_outside_user_is_owned_by_inside_id_on_disk(mapped):
    def create(path):
        write_file(path, b"from outside")
        os.mkdir(path + ".dir")
        os.symlink("t", path + ".lnk")
        os.mkfifo(path + ".fifo")
        return [owner(p) for p in (path, path + ".dir", path + ".lnk", path + ".fifo")]

    seen = run_child(create, mapped.m("d0", "new"), uid=1000, gid=2000, groups=[2000])
    assert seen == [(1000, 2000)] * 4
    for suffix in ("", ".dir", ".lnk", ".fifo"):
        assert owner(mapped.s("d0", "new" + suffix)) == (0, 0), suffix

    run_child(write_file, mapped.m("d3", "by1003"), uid=1003, gid=2003, groups=[2003])
    assert owner(mapped.s("d3", "by1003")) == (3, 3)


def test_uidmap_outside_owner_gets_owner_rights_and_others_do_not(mapped):
    def try_write(path):
        return errno_of(lambda: os.close(os.open(path, O_WRONLY)))

    assert run_child(try_write, mapped.m("f0"), uid=1000, gid=2000) == "ok"
    assert run_child(try_write, mapped.m("f5"), uid=1005, gid=2005) == "ok"
    assert run_child(try_write, mapped.m("f0"), uid=1001, gid=2001) == "EACCES"
    # a non-owner may not chmod
    assert run_child(errno_of, os.chmod, mapped.m("f0"), 0o600, uid=1001, gid=2001) == "EPERM"
    assert run_child(errno_of, os.chmod, mapped.m("f0"), 0o600, uid=1000, gid=2000) == "ok"
    assert stat.S_IMODE(os.stat(mapped.s("f0")).st_mode) == 0o600


def test_uidmap_chown_through_mount_is_translated(mapped):
    os.chown(mapped.m("f0"), 1007, 2008)
    assert owner(mapped.s("f0")) == (7, 8)
    assert owner(mapped.m("f0")) == (1007, 2008)
    os.chown(mapped.m("f0"), -1, 2001)
    assert owner(mapped.s("f0")) == (7, 1)
    os.chown(mapped.m("d3"), 1000, 2000, follow_symlinks=False)
    assert owner(mapped.s("d3")) == (0, 0)


def test_uidmap_chown_to_unmapped_id_fails_and_changes_nothing(mapped):
    # Like an idmapped mount (EOVERFLOW there): an id with no inside
    # counterpart cannot be stored; it must not turn into 65534 on disk.
    got = {}
    for uid, gid in ((3000, -1), (-1, 5)):  # gid 5 is an inside id, not an outside one
        got[(uid, gid)] = errno_of(os.chown, mapped.m("f5"), uid, gid)
        got[(uid, gid, "disk owner after")] = owner(mapped.s("f5"))
    assert got == {(3000, -1): "EOVERFLOW", (3000, -1, "disk owner after"): (5, 7),
                   (-1, 5): "EOVERFLOW", (-1, 5, "disk owner after"): (5, 7)}, got


def test_uidmap_translates_ids_in_posix_acls(mapped):
    subprocess.run(["setfacl", "-m", "u:5:r,g:6:rw", mapped.s("f0")], check=True, timeout=10)
    out = subprocess.run(["getfacl", "-n", "-p", mapped.m("f0")], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert "user:1005:r--" in out.stdout and "group:2006:rw-" in out.stdout, out.stdout
    r = subprocess.run(["setfacl", "-m", "u:1008:rwx", mapped.m("f0")], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    disk = subprocess.run(["getfacl", "-n", "-p", mapped.s("f0")], capture_output=True, text=True, timeout=10)
    assert "user:8:rwx" in disk.stdout, disk.stdout


def test_uidmap_acl_entry_grants_access_to_the_shifted_user(mapped):
    write_file(mapped.s("acl"), b"secret", mode=0o600)
    subprocess.run(["setfacl", "-m", "u:4:r", mapped.s("acl")], check=True, timeout=10)
    assert run_child(lambda: read_file(mapped.m("acl")), uid=1004, gid=2004) == b"secret"
    assert run_child(errno_of, read_file, mapped.m("acl"), uid=1006, gid=2006) == "EACCES"


# ---------------------------------------------------------------------------
# read-only mounts, statfs
# ---------------------------------------------------------------------------

def test_ro_mount_refuses_every_change_with_erofs(mount_factory):
    e = mount_factory(["-o", "ro"], start=False)
    write_file(e.s("f"), b"readable")
    os.mkdir(e.s("d"))
    e.start()
    assert "ro" in H.mount_at(e.mnt)["opts"]
    assert read_file(e.m("f")) == b"readable"
    checks = {
        "create": lambda: os.open(e.m("new"), O_CREAT | O_WRONLY),
        "open for write": lambda: os.open(e.m("f"), O_WRONLY),
        "mkdir": lambda: os.mkdir(e.m("d2")),
        "unlink": lambda: os.unlink(e.m("f")),
        "rmdir": lambda: os.rmdir(e.m("d")),
        "rename": lambda: os.rename(e.m("f"), e.m("g")),
        "chmod": lambda: os.chmod(e.m("f"), 0o600),
        "chown": lambda: os.chown(e.m("f"), 1, 1),
        "truncate": lambda: os.truncate(e.m("f"), 0),
        "utime": lambda: os.utime(e.m("f"), (1, 1)),
        "setxattr": lambda: os.setxattr(e.m("f"), "user.x", b"1"),
        "symlink": lambda: os.symlink("x", e.m("l")),
        "link": lambda: os.link(e.m("f"), e.m("h")),
        "mknod": lambda: os.mkfifo(e.m("p")),
    }
    got = {k: errno_of(fn) for k, fn in checks.items()}
    assert got == {k: "EROFS" for k in checks}
    assert sorted(os.listdir(e.src)) == ["d", "f"]


def test_statfs_matches_the_backing_filesystem(env):
    a, b = os.statvfs(env.mnt), os.statvfs(env.src)
    for f in ("f_bsize", "f_frsize", "f_blocks", "f_files", "f_namemax"):
        assert getattr(a, f) == getattr(b, f), f
    for f in ("f_bfree", "f_bavail"):
        assert abs(getattr(a, f) - getattr(b, f)) <= max(1024, b.f_blocks // 1000), f
    assert abs(a.f_ffree - b.f_ffree) <= 1000


# ---------------------------------------------------------------------------
# locks between processes
# ---------------------------------------------------------------------------

class Holder:
    """A forked process that runs acquire(), reports, and holds until told."""

    def __init__(self, acquire, timeout=10):
        self.r1, self.w1 = os.pipe()
        self.r2, self.w2 = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.r1)
                os.close(self.w2)
                acquire()
                os.write(self.w1, b"held")
                os.read(self.r2, 1)
                os._exit(0)
            except BaseException:
                os._exit(1)
        os.close(self.w1)
        os.close(self.r2)
        self.released = False
        H._live_children.add(self.pid)
        got = select.select([self.r1], [], [], timeout)[0]
        if not got or os.read(self.r1, 4) != b"held":
            self.release()
            raise AssertionError("lock holder did not get its lock within %ss" % timeout)

    def release(self):
        if self.released:
            return
        self.released = True
        try:
            os.write(self.w2, b"x")
        except OSError:
            pass
        H._reap(self.pid, time.monotonic() + 10)
        H._live_children.discard(self.pid)
        for fd in (self.r1, self.w2):
            try:
                os.close(fd)
            except OSError:
                pass


FLOCK_FMT = "hhqqi4x"


def getlk(fd, start=0, length=0):
    res = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(FLOCK_FMT, fcntl.F_WRLCK, os.SEEK_SET, start, length, 0))
    l_type, _, l_start, l_len, l_pid = struct.unpack(FLOCK_FMT, res)
    return l_type, l_start, l_len, l_pid


def test_posix_locks_conflict_between_two_processes(env):
    path = env.m("lockfile")
    write_file(path, b"x" * 100)

    def lock_range():
        fd = os.open(path, O_RDWR)
        fcntl.lockf(fd, fcntl.LOCK_EX, 10, 50)  # bytes 50..59

    h = Holder(lock_range)
    try:
        def contender():
            fd = os.open(path, O_RDWR)
            res = {"conflict": errno_of(fcntl.lockf, fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 55),
                   "other range": errno_of(fcntl.lockf, fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)}
            t, s, ln, pid = getlk(fd, 50, 1)
            res["getlk"] = (t, s, ln, pid)
            return res

        res = run_child(contender)
        assert res["conflict"] in ("EAGAIN", "EACCES")
        assert res["other range"] == "ok"
        assert res["getlk"] == (fcntl.F_WRLCK, 50, 10, h.pid)
    finally:
        h.release()
    fd = os.open(path, O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 55)  # free once the holder exited
    finally:
        os.close(fd)


def test_posix_lock_waiter_is_woken_when_the_holder_releases(env):
    path = env.m("lockfile")
    write_file(path)

    def lock_all():
        fd = os.open(path, O_RDWR)
        fcntl.lockf(fd, fcntl.LOCK_EX)

    h = Holder(lock_all)
    released = [False]

    def waiter():
        fd = os.open(path, O_RDWR)
        t0 = time.monotonic()
        fcntl.lockf(fd, fcntl.LOCK_EX)  # blocks until released
        return time.monotonic() - t0

    import threading
    timer = threading.Timer(0.5, lambda: (released.__setitem__(0, True), h.release()))
    timer.start()
    try:
        waited = run_child(waiter, timeout=15)
    finally:
        timer.cancel()
        h.release()
    assert released[0] and waited >= 0.3


def test_flock_conflicts_between_two_processes(env):
    path = env.m("flockfile")
    write_file(path)

    def take():
        fd = os.open(path, O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)

    h = Holder(take)
    try:
        def contender():
            fd = os.open(path, O_RDONLY)
            return (errno_of(fcntl.flock, fd, fcntl.LOCK_EX | fcntl.LOCK_NB),
                    errno_of(fcntl.flock, fd, fcntl.LOCK_SH | fcntl.LOCK_NB))
        assert run_child(contender) == ("EAGAIN", "EAGAIN")  # EWOULDBLOCK == EAGAIN
    finally:
        h.release()

    def shared():
        fd = os.open(path, O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_SH)

    h = Holder(shared)
    try:
        def contender2():
            fd = os.open(path, O_RDONLY)
            return (errno_of(fcntl.flock, fd, fcntl.LOCK_SH | fcntl.LOCK_NB),
                    errno_of(fcntl.flock, os.open(path, O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB))
        assert run_child(contender2) == ("ok", "EAGAIN")
    finally:
        h.release()


# ---------------------------------------------------------------------------
# inode flags (FS_IOC_GETFLAGS / SETFLAGS)
# ---------------------------------------------------------------------------

def lsattr_flags(path):
    r = subprocess.run(["lsattr", "-d", path], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[0]


def test_lsattr_through_mount_matches_backing(env):
    write_file(env.s("f"))
    os.mkdir(env.s("d"))
    assert lsattr_flags(env.m("f")) == lsattr_flags(env.s("f"))
    assert lsattr_flags(env.m("d")) == lsattr_flags(env.s("d"))


def test_chattr_immutable_as_root_blocks_writes_until_removed(env):
    write_file(env.s("f"), b"frozen")
    try:
        r = subprocess.run(["chattr", "+i", env.m("f")], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        assert "i" in lsattr_flags(env.s("f"))
        assert "i" in lsattr_flags(env.m("f"))
        assert errno_of(os.open, env.m("f"), O_WRONLY) == "EPERM"
        assert errno_of(os.unlink, env.m("f")) == "EPERM"
        assert errno_of(os.rename, env.m("f"), env.m("g")) == "EPERM"
        assert errno_of(os.chmod, env.m("f"), 0o600) == "EPERM"
        assert errno_of(os.setxattr, env.m("f"), "user.x", b"1") == "EPERM"
        assert read_file(env.m("f")) == b"frozen"
        r = subprocess.run(["chattr", "-i", env.m("f")], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        assert "i" not in lsattr_flags(env.s("f"))
        with open(env.m("f"), "ab") as f:
            f.write(b"+thawed")
        assert read_file(env.s("f")) == b"frozen+thawed"
    finally:
        subprocess.run(["chattr", "-i", env.s("f")], capture_output=True, timeout=10)


def test_chattr_append_only_allows_only_appends(env):
    write_file(env.s("f"), b"log")
    try:
        r = subprocess.run(["chattr", "+a", env.m("f")], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        assert errno_of(os.open, env.m("f"), O_WRONLY) == "EPERM"
        assert errno_of(os.truncate, env.m("f"), 0) == "EPERM"
        fd = os.open(env.m("f"), O_WRONLY | os.O_APPEND)
        os.write(fd, b"+line")
        os.close(fd)
        assert read_file(env.s("f")) == b"log+line"
    finally:
        subprocess.run(["chattr", "-a", env.s("f")], capture_output=True, timeout=10)


def test_chattr_immutable_as_nonroot_owner_is_refused_natively_and_through_mount(env):
    write_file(env.s("f"), uid=1001, gid=1001)
    write_file(env.n("f"), uid=1001, gid=1001)

    def chattr(path):
        r = subprocess.run(["chattr", "+i", path], capture_output=True, text=True, timeout=10)
        return r.returncode, r.stderr.replace(path, "PATH")

    native = run_child(chattr, env.n("f"), uid=1001, gid=1001)
    mounted = run_child(chattr, env.m("f"), uid=1001, gid=1001)
    assert native[0] != 0 and "Operation not permitted" in native[1]
    assert mounted == native
    assert "i" not in lsattr_flags(env.s("f"))


# ---------------------------------------------------------------------------
# exec and mmap (every data path)
# ---------------------------------------------------------------------------

def test_exec_of_static_and_dynamic_binaries_and_scripts(env3):
    shutil.copy2("/bin/busybox", env3.s("busybox"))
    shutil.copy2("/usr/bin/env", env3.s("env"))
    write_file(env3.s("script.sh"), b"#!/bin/sh\necho script says $1\n", mode=0o755)
    r = H.run_cmd([env3.m("busybox"), "echo", "static ok"], timeout=20)
    assert (r.returncode, r.stdout) == (0, b"static ok\n")
    r = H.run_cmd([env3.m("env"), "echo", "dynamic ok"], timeout=20)
    assert (r.returncode, r.stdout) == (0, b"dynamic ok\n")
    r = H.run_cmd([env3.m("script.sh"), "hi"], timeout=20)
    assert (r.returncode, r.stdout) == (0, b"script says hi\n")


def test_exec_of_a_file_open_for_writing_is_etxtbsy(env):
    shutil.copy2("/bin/busybox", env.s("bb"))
    fd = os.open(env.m("bb"), O_WRONLY)
    try:
        with pytest.raises(OSError) as ei:
            subprocess.run([env.m("bb"), "true"], timeout=10)
        assert ei.value.errno == errno.ETXTBSY
    finally:
        os.close(fd)


def test_mmap_shared_writes_reach_the_backing_file(env3):
    size = 3 * 1024 * 1024 + 123
    data = random.Random(1).randbytes(size)
    write_file(env3.s("f"), bytes(size))
    fd = os.open(env3.m("f"), O_RDWR)
    try:
        m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        m[:] = data
        m.flush()
        m.close()
    finally:
        os.close(fd)
    assert read_file(env3.s("f")) == data
    assert read_file(env3.m("f")) == data


def test_mmap_reads_data_written_on_the_backing_dir(env3):
    data = random.Random(2).randbytes(1 << 20)
    write_file(env3.s("g"), data)
    with open(env3.m("g"), "rb") as f:
        m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
        try:
            assert m[:] == data
            assert m[12345:12400] == data[12345:12400]
        finally:
            m.close()


def test_mmap_private_writes_stay_private(env3):
    write_file(env3.s("p"), b"A" * 8192)
    with open(env3.m("p"), "r+b") as f:
        m = mmap.mmap(f.fileno(), 0, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
        m[0:4] = b"BBBB"
        assert m[0:5] == b"BBBBA"
        m.close()
    assert read_file(env3.m("p")) == b"A" * 8192
    assert read_file(env3.s("p")) == b"A" * 8192


def test_mmap_and_write_see_each_other(env3):
    write_file(env3.s("c"), bytes(16384))
    fd = os.open(env3.m("c"), O_RDWR)
    try:
        m = mmap.mmap(fd, 16384, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        os.pwrite(fd, b"written", 100)
        assert m[100:107] == b"written"
        m[200:205] = b"mmapd"
        assert os.pread(fd, 5, 200) == b"mmapd"
        m.close()
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# coherence with the backing directory
# ---------------------------------------------------------------------------

def test_writes_through_mount_are_on_the_backing_dir_after_close(env3):
    data = random.Random(3).randbytes(777_777)
    with open(env3.m("f"), "wb") as f:
        f.write(data)
    assert read_file(env3.s("f")) == data
    os.rename(env3.m("f"), env3.m("g"))
    assert not os.path.exists(env3.s("f")) and read_file(env3.s("g")) == data
    os.mkdir(env3.m("d"))
    os.symlink("g", env3.m("d/l"))
    assert os.readlink(env3.s("d/l")) == "g"


ZERO = ["--attr-timeout", "0", "--entry-timeout", "0", "--negative-timeout", "0"]


# Not with --writeback: there the kernel trusts its own cached size and times
# and ignores changes made behind its back (a kernel rule for writeback caches).
@pytest.mark.parametrize("extra", [[], ["--no-passthrough"]], ids=["default", "no-passthrough"])
def test_backing_changes_are_visible_at_once_with_zero_timeouts(mount_factory, extra):
    e = mount_factory(ZERO + extra)
    assert errno_of(os.stat, e.m("f")) == "ENOENT"  # negative lookup
    write_file(e.s("f"), b"one")
    assert read_file(e.m("f")) == b"one"
    with open(e.s("f"), "ab") as f:
        f.write(b" two")
    assert os.stat(e.m("f")).st_size == 7
    assert read_file(e.m("f")) == b"one two"
    write_file(e.s("f"), b"replaced!")  # truncate + rewrite in place
    assert read_file(e.m("f")) == b"replaced!"
    os.chmod(e.s("f"), 0o600)
    assert stat.S_IMODE(os.stat(e.m("f")).st_mode) == 0o600
    os.rename(e.s("f"), e.s("g"))
    assert errno_of(os.stat, e.m("f")) == "ENOENT"
    assert read_file(e.m("g")) == b"replaced!"
    os.mkdir(e.s("d"))
    write_file(e.s("d/x"))
    assert os.listdir(e.m("d")) == ["x"]
    os.unlink(e.s("d/x"))
    assert os.listdir(e.m("d")) == []
    os.unlink(e.s("g"))
    assert errno_of(os.stat, e.m("g")) == "ENOENT"


def test_backing_file_replaced_by_a_new_file_is_seen_as_new(mount_factory):
    e = mount_factory(ZERO)
    write_file(e.s("f"), b"old file")
    assert os.stat(e.m("f")).st_ino == os.stat(e.s("f")).st_ino
    fd = os.open(e.m("f"), O_RDONLY)
    try:
        os.unlink(e.s("f"))
        write_file(e.s("f"), b"new file, other inode")
        st = os.stat(e.m("f"))
        assert st.st_ino == os.stat(e.s("f")).st_ino
        assert read_file(e.m("f")) == b"new file, other inode"
        assert os.pread(fd, 100, 0) == b"old file"  # the open file is still the old one
    finally:
        os.close(fd)


def test_backing_changes_become_visible_after_the_timeouts(mount_factory):
    e = mount_factory(["--attr-timeout", "1", "--entry-timeout", "1", "--negative-timeout", "1"])
    assert errno_of(os.stat, e.m("late")) == "ENOENT"
    write_file(e.s("existing"), b"abc")
    assert read_file(e.m("existing")) == b"abc"
    write_file(e.s("late"), b"now here")
    with open(e.s("existing"), "ab") as f:
        f.write(b"defg")
    deadline = time.monotonic() + 4
    ok = False
    while time.monotonic() < deadline:
        if os.path.exists(e.m("late")) and os.stat(e.m("existing")).st_size == 7:
            ok = True
            break
        time.sleep(0.1)
    assert ok, "changes on the backing dir were not visible through the mount 4 s later (timeouts 1 s)"
    assert read_file(e.m("existing")) == b"abcdefg"


def test_backing_directory_changes_reach_cached_listings_after_the_timeouts(mount_factory):
    # --no-opendir: listings are cached by the kernel and checked against the
    # directory's mtime once its attributes expire; a change right after a
    # listing, within the same timestamp tick, must show up all the same.
    e = mount_factory(["--no-opendir", "--attr-timeout", "1", "--entry-timeout", "1", "--negative-timeout", "1"])
    os.mkdir(e.s("d"))
    names = set()
    for k in range(4):
        assert set(os.listdir(e.m("d"))) == names
        if k % 2 == 0:
            write_file(e.s("d/f%d" % k))
            names.add("f%d" % k)
        else:
            name = sorted(names)[0]
            os.unlink(e.s("d/" + name))
            names.discard(name)
        deadline = time.monotonic() + 4
        while set(os.listdir(e.m("d"))) != names and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(os.listdir(e.m("d"))) == names, "listing still stale 4 s after a change (timeouts 1 s)"


def test_inode_numbers_match_backing_and_survive_forget(env):
    write_file(env.s("f"))
    os.mkdir(env.s("d"))
    os.link(env.s("f"), env.s("d/hard"))
    ino = os.stat(env.s("f")).st_ino
    assert os.stat(env.m("f")).st_ino == ino
    assert os.stat(env.m("d/hard")).st_ino == ino
    assert {e.name: e.inode() for e in os.scandir(env.m("d"))} == {"hard": ino}
    H.drop_caches()  # FORGET everything the kernel can drop, then look up again
    assert os.stat(env.m("d/hard")).st_ino == ino
    assert os.stat(env.m("f")).st_ino == ino
    os.rename(env.m("f"), env.m("d/moved"))
    assert os.stat(env.m("d/moved")).st_ino == ino
    assert os.stat(env.m("d")).st_ino == os.stat(env.s("d")).st_ino
    assert os.stat(env.mnt).st_ino == os.stat(env.src).st_ino


def test_many_lookups_and_forgets_keep_serving(env):
    os.mkdir(env.s("d"))
    for i in range(2000):
        write_file(env.s("d/f%04d" % i), b"%d" % i)
    for rnd in range(3):
        for i in range(0, 2000, 7):
            assert read_file(env.m("d/f%04d" % i)) == b"%d" % i
        H.drop_caches()
    assert len(os.listdir(env.m("d"))) == 2000


# ---------------------------------------------------------------------------
# options with visible effects
# ---------------------------------------------------------------------------

def _switches(pid, tid):
    with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
        return sum(int(line.split()[1]) for line in f
                   if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")))


def test_threads_option_serves_parallel_readers(mount_factory):
    # Through /dev/fuse, where --threads sets the number of workers (ring threads are one
    # per CPU queue, whatever --threads says).
    # --no-keep-cache: every round reads through the server, not the page cache.
    e = mount_factory(["--threads", "4", "--no-passthrough", "--no-io-uring", "--no-keep-cache"])
    data = random.Random(5).randbytes(1 << 20)
    for i in range(8):
        write_file(e.s("f%d" % i), data)
    pid = e.server.proc.pid
    workers = H.named_threads(pid, "cntrfs-dev")
    assert len(workers) == 4, workers
    before = {t: _switches(pid, t) for t in workers}

    def reader(i):
        for _ in range(5):
            if read_file(e.m("f%d" % i)) != data:
                return False
        return True

    import concurrent.futures as cf
    with cf.ThreadPoolExecutor(8) as ex:
        assert all(ex.map(reader, range(8)))
    served = [t for t in workers if _switches(pid, t) > before[t]]
    assert len(served) >= 2, "only %d of the 4 workers served the 8 parallel readers" % len(served)


@pytest.mark.parametrize("keep", [True, False], ids=["keep-cache", "no-keep-cache"])
def test_no_keep_cache_rereads_changed_backing_data(mount_factory, keep):
    """A change on the backing side that leaves size and mtime alone is seen at the next open
    only with --no-keep-cache; by default the kernel keeps the cached pages (the control)."""
    e = mount_factory(ZERO + ["--no-passthrough"] + ([] if keep else ["--no-keep-cache"]))
    write_file(e.s("f"), b"A" * 4096)
    assert read_file(e.m("f")) == b"A" * 4096
    st = os.stat(e.s("f"))
    with open(e.s("f"), "r+b") as f:  # same size, same mtime: only dropping the cache shows it
        f.write(b"B" * 4096)
    os.utime(e.s("f"), ns=(st.st_atime_ns, st.st_mtime_ns))
    assert read_file(e.m("f")) == (b"A" if keep else b"B") * 4096


def test_noexec_and_nosuid_nodev_options(mount_factory):
    e = mount_factory(["-o", "noexec,nosuid,nodev,noatime"])
    opts = H.mount_at(e.mnt)["opts"]
    for o in ("noexec", "nosuid", "nodev", "noatime"):
        assert o in opts
    shutil.copy2("/bin/busybox", e.s("bb"))
    with pytest.raises(PermissionError):
        subprocess.run([e.m("bb"), "true"], timeout=10)
    os.mknod(e.s("null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
    assert errno_of(os.open, e.m("null"), O_WRONLY) == "EACCES"  # nodev
