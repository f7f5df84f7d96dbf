"""Scale and stress: big trees against the server's open-file limit, a find
over /usr, concurrent writers checked against a model, a seeded random
operation sequence run natively and through the mount, fio verify, dbench."""

import errno
import fcntl
import os
import random
import resource
import shutil
import stat
import subprocess
import time

import pytest

import cntr_helpers as H
from cntr_helpers import Rec, differential, run_child

N_DIRS, N_PER_DIR = 300, 200  # 60,000 files


@pytest.fixture(scope="module")
def tree60k(base_dir):
    root = os.path.join(base_dir, "tree60k")
    os.mkdir(root)
    os.chmod(root, 0o755)
    for d in range(N_DIRS):
        dp = os.path.join(root, "dir%03d" % d)
        os.mkdir(dp)
        for f in range(N_PER_DIR):
            os.close(os.open(os.path.join(dp, "file%03d" % f), os.O_CREAT | os.O_WRONLY, 0o644))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _mount_tree(mount_factory, src, args=(), prefix=()):
    e = mount_factory(args, start=False)
    os.rmdir(e.src)
    e.src = src
    return e.start(prefix=prefix)


def _find_files(mnt, timeout):
    # -printf %s makes find stat every file, so every file is looked up
    r = H.run_cmd(["find", mnt, "-type", "f", "-printf", "%s %P\n"], timeout=timeout)
    lines = r.stdout.decode(errors="replace").splitlines()
    return r.returncode, lines, r.stderr.decode(errors="replace")


def _open_some(mnt, n=500):
    rnd = random.Random(1)
    bad = []
    for _ in range(n):
        p = os.path.join(mnt, "dir%03d" % rnd.randrange(N_DIRS), "file%03d" % rnd.randrange(N_PER_DIR))
        try:
            os.close(os.open(p, os.O_RDONLY))
        except OSError as e:
            bad.append((p, errno.errorcode.get(e.errno)))
    return bad


@pytest.mark.slow
@pytest.mark.deadline(150)
def test_find_over_60000_files_with_the_default_open_file_limit(mount_factory, tree60k):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft <= 20000, "this test expects the server's open-file limit to be below 60,000"
    e = _mount_tree(mount_factory, tree60k)
    rc, lines, err = _find_files(e.mnt, timeout=90)
    assert rc == 0 and err == "", err[-2000:]
    assert len(lines) == N_DIRS * N_PER_DIR
    assert len(set(lines)) == len(lines)
    # all 60,000 inodes are now cached by the kernel: the server must still open files
    assert _open_some(e.mnt) == []
    rc, lines, err = _find_files(e.mnt, timeout=90)
    assert rc == 0 and len(lines) == N_DIRS * N_PER_DIR, err[-2000:]
    assert e.server.alive()
    assert "Too many open files" not in e.server.stderr()


@pytest.mark.slow
@pytest.mark.deadline(150)
def test_find_over_60000_files_with_server_nofile_1024(mount_factory, tree60k):
    e = _mount_tree(mount_factory, tree60k, prefix=["prlimit", "--nofile=1024:1024"])
    with open("/proc/%d/limits" % e.server.proc.pid) as f:
        assert any(l.startswith("Max open files") and "1024" in l for l in f)
    rc, lines, err = _find_files(e.mnt, timeout=90)
    assert rc == 0 and err == "", err[-2000:]
    assert len(lines) == N_DIRS * N_PER_DIR
    assert _open_some(e.mnt) == []
    assert e.server.alive()


@pytest.mark.slow
@pytest.mark.deadline(150)
def test_find_over_usr_through_a_read_only_mount_matches_native(mount_factory):
    e = mount_factory(["-o", "ro"], start=False)
    os.rmdir(e.src)
    e.src = "/usr"
    e.start()
    fmt = "%y %m %n %U %G %s %P -> %l\n"

    def listing(root):
        r = H.run_cmd(["find", root, "-printf", fmt], timeout=100)
        return r.returncode, sorted(r.stdout.decode(errors="replace").splitlines()), r.stderr.decode(errors="replace")

    nrc, native, nerr = listing("/usr")
    mrc, mounted, merr = listing(e.mnt)
    if mounted != native:  # /usr may have changed meanwhile (e.g. a .pyc written): look again
        nrc, native, nerr = listing("/usr")
    assert (mrc, merr) == (nrc, nerr)
    assert len(mounted) == len(native)
    missing = sorted(set(native) - set(mounted))[:10]
    extra = sorted(set(mounted) - set(native))[:10]
    assert mounted == native, "only native: %r\nonly mount: %r" % (missing, extra)


# ---------------------------------------------------------------------------
# concurrent writers against a model
# ---------------------------------------------------------------------------

NFILES = 5


def _journaled_worker(mnt, lockpath, journal, wid, seconds, seed):
    """Random writes / truncates / appends / renames on shared files, each
    under an exclusive lock (so there is a total order), logged to a journal
    with the inode they hit. Keeps its descriptors open across renames."""
    rnd = random.Random(seed)
    lockfd = os.open(lockpath, os.O_RDWR)
    jfd = os.open(journal, os.O_WRONLY | os.O_APPEND)
    fds = {}
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        fcntl.flock(lockfd, fcntl.LOCK_EX)
        try:
            op = rnd.choice(["pwrite", "pwrite", "pwrite", "append", "truncate", "rename", "reopen"])
            name = "f%d" % rnd.randrange(NFILES)
            if name not in fds or op == "reopen":
                if name in fds:
                    os.close(fds.pop(name))
                fds[name] = os.open(os.path.join(mnt, name), os.O_RDWR)
            fd = fds[name]
            ino = os.fstat(fd).st_ino
            if op == "pwrite":
                off = rnd.randrange(0, 300_000)
                ln = rnd.randrange(1, 70_000)
                data = bytes([(wid * 31 + n) % 251 + 1]) * ln
                assert os.pwrite(fd, data, off) == ln
                entry = ("pwrite", ino, off, ln, data[0])
            elif op == "append":
                afd = os.open(os.path.join(mnt, name), os.O_WRONLY | os.O_APPEND)
                ino = os.fstat(afd).st_ino
                ln = rnd.randrange(1, 9000)
                data = bytes([(wid * 17 + n) % 251 + 1]) * ln
                assert os.write(afd, data) == ln
                os.close(afd)
                entry = ("append", ino, 0, ln, data[0])
            elif op == "truncate":
                size = rnd.randrange(0, 320_000)
                os.ftruncate(fd, size)
                entry = ("truncate", ino, size, 0, 0)
            elif op == "rename":
                other = "f%d" % ((int(name[1:]) + rnd.randrange(1, NFILES)) % NFILES)
                tmp = os.path.join(mnt, "tmp-%d" % wid)
                os.rename(os.path.join(mnt, name), tmp)
                os.rename(os.path.join(mnt, other), os.path.join(mnt, name))
                os.rename(tmp, os.path.join(mnt, other))
                entry = ("swap", 0, name, other, 0)
            else:
                entry = ("reopen", ino, 0, 0, 0)
            os.write(jfd, (repr(entry) + "\n").encode())
            n += 1
        finally:
            fcntl.flock(lockfd, fcntl.LOCK_UN)
    return n


def _replay(journal, names):
    """names: name -> ino at the start. Returns (name -> ino, ino -> bytes)."""
    import ast
    content = {ino: bytearray() for ino in names.values()}
    names = dict(names)
    with open(journal) as f:
        for line in f:
            op, ino, a, b, byte = ast.literal_eval(line)
            if op == "pwrite":
                buf = content[ino]
                if len(buf) < a:
                    buf.extend(bytes(a - len(buf)))
                buf[a:a + b] = bytes([byte]) * b
            elif op == "append":
                content[ino].extend(bytes([byte]) * b)
            elif op == "truncate":
                buf = content[ino]
                if a < len(buf):
                    del buf[a:]
                else:
                    buf.extend(bytes(a - len(buf)))
            elif op == "swap":
                names[a], names[b] = names[b], names[a]
    return names, content


@pytest.mark.slow
@pytest.mark.parametrize("cfg", ["default", "no-passthrough", "writeback"])
def test_concurrent_writers_truncates_and_renames_match_a_model(mount_factory, cfg):
    from conftest import CONFIGS
    e = mount_factory(CONFIGS[cfg])
    for i in range(NFILES):
        with open(e.m("f%d" % i), "wb"):
            pass
    start = {"f%d" % i: os.stat(e.m("f%d" % i)).st_ino for i in range(NFILES)}
    lockpath = os.path.join(e.work, "lock")
    journal = os.path.join(e.work, "journal")
    for p in (lockpath, journal):
        open(p, "w").close()
    import threading
    results, threads = {}, []
    for w in range(4):
        def go(w=w):
            try:
                results[w] = run_child(_journaled_worker, e.mnt, lockpath, journal, w, 3.0, 100 + w, timeout=30)
            except Exception as ex:  # noqa: BLE001
                results[w] = ex
        t = threading.Thread(target=go)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(40)
    assert all(isinstance(v, int) and v > 0 for v in results.values()) and len(results) == 4, results
    names, content = _replay(journal, start)
    for name, ino in sorted(names.items()):
        assert os.stat(e.m(name)).st_ino == ino, name
        with open(e.m(name), "rb") as f:
            got = f.read()
        with open(e.s(name), "rb") as f:
            disk = f.read()
        want = bytes(content[ino])
        assert len(got) == len(want), "%s: size %d, model says %d" % (name, len(got), len(want))
        assert got == want, "%s: content differs from the model at byte %d" % (
            name, next(i for i in range(len(want)) if got[i] != want[i]))
        assert disk == want, "%s: backing file differs from the model" % name


def _disjoint_writer(path, wid, nworkers, seconds, seed, stripe):
    """Writes only bytes whose stripe (offset // stripe) % nworkers == wid;
    stripes are not page aligned, so workers share pages. Returns its model."""
    rnd = random.Random(seed)
    fd = os.open(path, os.O_RDWR)
    mine = {}
    maxend = 0
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        s = rnd.randrange(0, 400) * nworkers + wid
        k = rnd.randrange(1, 4)  # several of my stripes, skipping the others'
        for j in range(k):
            idx = s + j * nworkers
            val = (wid * 50 + n) % 251 + 1
            off = idx * stripe
            os.pwrite(fd, bytes([val]) * stripe, off)
            mine[idx] = val
            maxend = max(maxend, off + stripe)
            n += 1
    os.close(fd)
    return mine, maxend


@pytest.mark.slow
@pytest.mark.parametrize("cfg", ["default", "no-passthrough", "writeback"])
def test_concurrent_writers_on_disjoint_unaligned_ranges_lose_nothing(mount_factory, cfg):
    from conftest import CONFIGS
    e = mount_factory(CONFIGS[cfg])
    path = e.m("shared")
    open(path, "wb").close()
    stripe, nw = 1000, 4
    import threading
    results, threads = {}, []
    for w in range(nw):
        def go(w=w):
            try:
                results[w] = run_child(_disjoint_writer, path, w, nw, 3.0, 7 + w, stripe, timeout=30)
            except Exception as ex:  # noqa: BLE001
                results[w] = ex
        t = threading.Thread(target=go)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(40)
    assert len(results) == nw and all(isinstance(v, tuple) for v in results.values()), results
    size = max(v[1] for v in results.values())
    want = bytearray(size)
    for mine, _ in results.values():
        for idx, val in mine.items():
            want[idx * stripe:(idx + 1) * stripe] = bytes([val]) * stripe
    with open(path, "rb") as f:
        got = f.read()
    assert len(got) == size
    if got != want:
        bad = next(i for i in range(size) if got[i] != want[i])
        pytest.fail("byte %d (stripe %d, owner %d): got %d, want %d" % (bad, bad // stripe, (bad // stripe) % nw,
                                                                        got[bad], want[bad]))
    with open(e.s("shared"), "rb") as f:
        assert f.read() == want


# ---------------------------------------------------------------------------
# a seeded random operation sequence, natively and through the mount
# ---------------------------------------------------------------------------

def _random_ops(r, seed, nops=1500, seek=True):
    rnd = random.Random(seed)
    names = ["a", "b", "c", "d/x", "d/y", "e/f/z", "l1", "l2"]
    dirs = ["d", "e", "e/f", "g"]
    fds = []
    for i in range(nops):
        op = rnd.choice(["open", "write", "pwrite", "read", "truncate", "ftruncate", "close", "rename", "link",
                         "unlink", "mkdir", "rmdir", "symlink", "chmod", "stat", "listdir", "fsync", "fallocate",
                         "setxattr", "seek_data"])
        n1, n2 = rnd.choice(names), rnd.choice(names)
        d = rnd.choice(dirs)
        if op == "open":
            fd = r.open(n1, rnd.choice([os.O_RDWR | os.O_CREAT, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                                        os.O_RDONLY, os.O_RDWR | os.O_TRUNC, os.O_CREAT | os.O_EXCL | os.O_RDWR]),
                        rnd.choice([0o644, 0o600, 0o755]))
            if fd is not None:
                fds.append(fd)
        elif op in ("write", "pwrite", "read", "ftruncate", "close", "fsync", "fallocate", "seek_data") and fds:
            fd = rnd.choice(fds)
            if op == "write":
                r.write(fd, bytes([i % 256]) * rnd.randrange(1, 20000))
            elif op == "pwrite":
                r.pwrite(fd, bytes([i % 256]) * rnd.randrange(1, 20000), rnd.randrange(0, 200000))
            elif op == "read":
                r.pread(fd, rnd.randrange(1, 30000), rnd.randrange(0, 200000))
            elif op == "ftruncate":
                r.ftruncate(fd, rnd.randrange(0, 150000))
            elif op == "fsync":
                r.fsync(fd)
            elif op == "fallocate":
                r.fallocate(fd, rnd.choice([0, H.FALLOC_FL_KEEP_SIZE,
                                            H.FALLOC_FL_PUNCH_HOLE | H.FALLOC_FL_KEEP_SIZE, H.FALLOC_FL_ZERO_RANGE]),
                            rnd.randrange(0, 100000), rnd.randrange(1, 50000))
            elif op == "seek_data":
                # Only on regular files (the kernel seeks FUSE directories itself).
                # Not with a writeback cache: the kernel neither flushes before
                # FUSE_LSEEK nor writes back only the dirty bytes (whole folios
                # turn holes into zeroed data), so SEEK_DATA legitimately differs.
                if seek and stat.S_ISREG(os.fstat(fd).st_mode):
                    r.fsync(fd)
                    r.lseek(fd, rnd.randrange(0, 100000), os.SEEK_DATA)
            else:
                fds.remove(fd)
                r.close(fd)
        elif op == "truncate":
            r.truncate(n1, rnd.randrange(0, 100000))
        elif op == "rename":
            r.rename(rnd.choice([n1, d]), rnd.choice([n2, d]))
        elif op == "link":
            r.link(n1, n2)
        elif op == "unlink":
            r.unlink(n1)
        elif op == "mkdir":
            r.mkdir(d)
        elif op == "rmdir":
            r.rmdir(d)
        elif op == "symlink":
            r.symlink(rnd.choice(names), n1)
        elif op == "chmod":
            r.chmod(n1, rnd.choice([0o644, 0o600, 0o4755, 0o2700]))
        elif op == "stat":
            r.stat(rnd.choice([n1, d]), follow=rnd.random() < 0.5)
        elif op == "listdir":
            r.listdir(rnd.choice(["", d]))
        elif op == "setxattr":
            r.setxattr(n1, "user.k%d" % rnd.randrange(3), b"v%d" % i)
    for fd in fds:
        r.close(fd)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_random_operations_match_native(env3, seed):
    seek = env3.config != "writeback"
    differential(env3, lambda r: _random_ops(r, seed, seek=seek), timeout=60)


# ---------------------------------------------------------------------------
# tools
# ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("cfg,direct", [("default", 0), ("no-passthrough", 0), ("no-passthrough", 1),
                                        ("writeback", 0)])
def test_fio_random_writes_verify(mount_factory, cfg, direct):
    from conftest import CONFIGS
    e = mount_factory(CONFIGS[cfg])
    r = H.run_cmd(["fio", "--name=verify", "--directory=" + e.mnt, "--size=32M", "--numjobs=2",
                   "--rw=randwrite", "--bsrange=512-64k", "--ioengine=psync", "--verify=crc32c",
                   "--verify_state_save=0", "--direct=%d" % direct, "--do_verify=1", "--verify_fatal=1", "--group_reporting",
                   "--minimal"], timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")[-3000:]
    # the data also verifies when read back from the backing files
    H.drop_caches()
    r = H.run_cmd(["fio", "--name=verify", "--directory=" + e.src, "--size=32M", "--numjobs=2",
                   "--rw=randwrite", "--bsrange=512-64k", "--ioengine=psync", "--verify=crc32c",
                   "--verify_state_save=0", "--verify_only", "--verify_fatal=1", "--group_reporting", "--minimal"], timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")[-3000:]


@pytest.mark.slow
def test_dbench_runs_clean(env):
    r = H.run_cmd(["dbench", "-t", "5", "-D", env.mnt, "-c", "/usr/share/dbench/client.txt", "3"], timeout=60)
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, out[-3000:]
    assert "ERROR" not in out and "failed" not in out.lower(), out[-3000:]


def _namespace_worker(mnt, wid, seconds, seed):
    """Creates, renames, links and unlinks its own names in a shared directory;
    returns the set of names it believes exist at the end."""
    rnd = random.Random(seed)
    d = os.path.join(mnt, "shared")
    mine = set()
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        op = rnd.random()
        if op < 0.4 or not mine:
            name = "w%d-%d" % (wid, n)
            with open(os.path.join(d, name), "wb") as f:
                f.write(name.encode())
            mine.add(name)
        elif op < 0.6:
            old = rnd.choice(sorted(mine))
            new = "w%d-r%d" % (wid, n)
            os.rename(os.path.join(d, old), os.path.join(d, new))
            mine.discard(old)
            mine.add(new)
        elif op < 0.7:
            src = rnd.choice(sorted(mine))
            new = "w%d-l%d" % (wid, n)
            os.link(os.path.join(d, src), os.path.join(d, new))
            mine.add(new)
        elif op < 0.9:
            old = rnd.choice(sorted(mine))
            os.unlink(os.path.join(d, old))
            mine.discard(old)
        else:
            listing = set(os.listdir(d))
            if not mine <= listing:
                raise AssertionError("readdir misses %r" % sorted(mine - listing)[:5])
    return sorted(mine)


def _run_namespace_workers(root, n=4, seconds=3.0):
    import threading
    os.mkdir(os.path.join(root, "shared"))
    results, threads = {}, []
    for w in range(n):
        def go(w=w):
            try:
                results[w] = run_child(_namespace_worker, root, w, seconds, 50 + w, timeout=30)
            except Exception as ex:  # noqa: BLE001
                results[w] = ex
        t = threading.Thread(target=go)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(40)
    return results


@pytest.mark.slow
@pytest.mark.parametrize("cfg", ["default", "writeback", "no-keep-cache"])
def test_concurrent_creates_renames_links_unlinks_in_one_directory(mount_factory, cfg):
    """Each worker checks that readdir lists all of its own files (which exist
    for the whole listing) while the others change the same directory. Run
    natively first: there it always holds."""
    from conftest import CONFIGS
    e = mount_factory(CONFIGS.get(cfg, ["--no-keep-cache"]))
    native = _run_namespace_workers(e.native)
    assert all(isinstance(v, list) for v in native.values()), "native run failed: %r" % native
    results = _run_namespace_workers(e.mnt)
    assert len(results) == 4 and all(isinstance(v, list) for v in results.values()), results
    expected = set().union(*[set(v) for v in results.values()])
    listing = os.listdir(e.m("shared"))
    assert len(listing) == len(set(listing)), "duplicate readdir entries"
    assert set(listing) == expected
    assert set(os.listdir(e.s("shared"))) == expected
    wb = cfg == "writeback"
    problems = H.compare_with_backing(e.mnt, e.src, check_ctime=not wb, check_mtime=not wb)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_the_namespace_check_catches_the_inexact_listing_cache_of_no_opendir(mount_factory):
    """README: with --no-opendir the kernel caches listings, and a listing read while another
    process creates a name can be cached without it; the concurrent test above catches that.
    So it must fail there: run its workers on a --no-opendir mount (up to three times, it is a
    race; measured: the first run caught it 4 times out of 4) and expect a missing name. If
    this fails, either the check went blind or the kernel became exact (then README and the
    default of --no-opendir deserve another look)."""
    e = mount_factory(["--no-opendir"])
    seen = []
    for attempt in range(3):
        root = e.m("try%d" % attempt)
        os.mkdir(root)
        results = _run_namespace_workers(root)
        seen.append(results)
        if any(isinstance(v, Exception) and "readdir misses" in str(v) for v in results.values()):
            return
        assert all(isinstance(v, list) for v in results.values()), results
    pytest.fail("3 runs of the concurrent namespace workers on a --no-opendir mount saw no missing name",
                pytrace=False)
