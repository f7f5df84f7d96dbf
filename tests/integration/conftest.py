"""Fixtures for the cntr integration tests (real FUSE mounts, run as root).

Run with:  /usr/bin/python3 -m pytest tests/integration
Binary:    $CNTR_BIN, else <repo>/build/cntr  (a missing binary is an error, not a skip)
"""

import faulthandler
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

import pytest

import cntr_helpers as H

DEFAULT_DEADLINE = 90  # seconds per test unless @pytest.mark.deadline(N)

# The mount configurations the data-path tests run against.
CONFIGS = {
    "default": [],
    "no-passthrough": ["--no-passthrough"],
    "writeback": ["--writeback"],
}


# ---------------------------------------------------------------------------
# session-wide
# ---------------------------------------------------------------------------

def _copy_binary_out_of_tmp():
    """An attach session has a private /tmp and /var/tmp, so a cntr binary built under
    either is out of sight there, and the tests run it inside sessions (in-session cntr exec).
    Such a binary is copied outside them for the run; CNTR_BUILD_BIN keeps the original for
    the tests that need its build directory. Runs when this file is imported: before the
    plugin below (session_support reads CNTR_BIN when it is imported) and any test module."""
    path = os.path.realpath(H.cntr_bin())
    if not path.startswith(("/tmp/", "/var/tmp/")) or not os.path.isfile(path):
        return None
    os.makedirs("/srv", exist_ok=True)
    copy_dir = tempfile.mkdtemp(prefix="cntr-it-bin-", dir="/srv")
    os.chmod(copy_dir, 0o755)
    copy = os.path.join(copy_dir, "cntr")
    shutil.copy2(path, copy)
    os.environ["CNTR_BUILD_BIN"] = path
    os.environ["CNTR_BIN"] = copy
    return copy_dir


_BIN_COPY = _copy_binary_out_of_tmp()

# Container fixtures, session helpers and the leftover check (autouse) for every test module.
pytest_plugins = ["session_support"]


def pytest_unconfigure(config):
    if _BIN_COPY:
        shutil.rmtree(_BIN_COPY, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def cntr_binary():
    path = H.cntr_bin()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("cntr binary not found or not executable at %s (set CNTR_BIN, or build it with "
                    "`meson setup build && ninja -C build`)" % path, pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the cntr integration tests must run as root", pytrace=False)
    if not os.path.exists("/dev/fuse"):
        pytest.fail("/dev/fuse is missing", pytrace=False)
    return path


@pytest.fixture(scope="session", autouse=True)
def fuse_transport():
    """Which way requests reach cntr: "uring" (FUSE over io_uring, the default where the
    kernel has it) or "dev" (/dev/fuse only), from $CNTR_TEST_FUSE_TRANSPORT. The kernel
    offers io_uring only while fuse.enable_uring is set, so the session sets it as asked
    and puts the old value back afterwards."""
    want = os.environ.get("CNTR_TEST_FUSE_TRANSPORT", "uring")
    if want not in ("uring", "dev"):
        pytest.fail("CNTR_TEST_FUSE_TRANSPORT must be uring or dev, not %r" % want, pytrace=False)
    if not os.path.exists(H.URING_PARAM):
        yield "dev"
        return
    old = H.fuse_uring()
    H.set_fuse_uring(want == "uring")
    try:
        yield want
    finally:
        H.set_fuse_uring(old)


@pytest.fixture(scope="session", autouse=True)
def fusectl():
    """fusectl lets the harness abort a hung connection; mount it if needed.
    It stays mounted afterwards (as systemd would have it): another test
    session running at the same time may rely on it."""
    H.ensure_fusectl()


def _supports_xattr_acl(d):
    probe = os.path.join(d, ".probe")
    open(probe, "w").close()
    try:
        os.setxattr(probe, "user.probe", b"1")
        os.setxattr(probe, "trusted.probe", b"1")
        r = subprocess.run(["setfacl", "-m", "u:1234:r", probe], capture_output=True, timeout=10)
        return r.returncode == 0
    except OSError:
        return False
    finally:
        os.unlink(probe)


@pytest.fixture(scope="session")
def base_dir():
    """A world-traversable scratch directory on a filesystem with user/trusted
    xattrs and POSIX ACLs (the root ext4 here; else an ext4 image on a loop device).
    Not under /tmp: attach sessions get a private /tmp, and many tests look at these files
    from inside a session."""
    os.makedirs("/srv", exist_ok=True)
    base = tempfile.mkdtemp(prefix="cntr-mount-it-", dir="/srv")
    os.chmod(base, 0o755)
    loop_mnt = None
    if not _supports_xattr_acl(base):
        img = os.path.join(base, "fs.img")
        with open(img, "wb") as f:
            f.truncate(16 << 30)
        subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True, timeout=60)
        loop_mnt = os.path.join(base, "fs")
        os.mkdir(loop_mnt)
        subprocess.run(["mount", "-o", "loop,user_xattr,acl", img, loop_mnt], check=True, timeout=60)
        os.chmod(loop_mnt, 0o755)
    work = loop_mnt or base
    yield work
    # Never rmtree across a live mount (a mount of /usr lives under here at times).
    leftovers = [m for m in H.mounts_under(base) if m["mountpoint"] != loop_mnt]
    for m in leftovers:
        if m["fstype"].startswith("fuse"):
            H.abort_connection(m["majmin"])
        try:
            H.umount2(m["mountpoint"], H.MNT_DETACH)
        except OSError:
            pass
    strays = H.server_pids_for_prefix(base)
    for pid in strays:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    if loop_mnt:
        subprocess.run(["umount", "-l", loop_mnt], timeout=30)
    if not H.mounts_under(base):
        shutil.rmtree(base, ignore_errors=True)
    if leftovers or strays:
        sys.stderr.write("cntr tests: cleaned up leftover mounts %r and processes %r\n"
                         % ([m["mountpoint"] for m in leftovers], strays))


# ---------------------------------------------------------------------------
# per test
# ---------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _watchdog(request):
    """Bounds every test: past its deadline, dump tracebacks, abort our FUSE
    connections (which unblocks anything stuck in the kernel) and kill our
    processes; the test then fails."""
    m = request.node.get_closest_marker("deadline")
    limit = m.args[0] if m else DEFAULT_DEADLINE
    fired = []

    def fire():
        fired.append(True)
        H.emergency_abort("deadline of %s" % request.node.nodeid)
        try:  # pytest's captured sys.stderr has no usable fileno: use the real one
            sys.__stderr__.write("\n*** %s exceeded its %ss deadline; tracebacks:\n" % (request.node.nodeid, limit))
            sys.__stderr__.flush()
            faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)
        except Exception:  # noqa: BLE001 - the abort above is what matters
            pass

    t = threading.Timer(limit, fire)
    t.daemon = True
    t.start()
    yield
    t.cancel()
    if fired:
        pytest.fail("test exceeded its %ss deadline (FUSE connections were aborted)" % limit, pytrace=False)


_counter = [0]


@pytest.fixture
def workdir(base_dir, request):
    _counter[0] += 1
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]
    d = os.path.join(base_dir, "%04d-%s" % (_counter[0], name))
    os.mkdir(d)
    os.chmod(d, 0o755)
    yield d
    if not H.mounts_under(d):
        shutil.rmtree(d, ignore_errors=True)


class Env:
    """A backing dir (src) mounted through cntr on mnt, plus an identical
    native twin dir for differential tests."""

    def __init__(self, work, args, config="custom"):
        self.work = work
        self.args = list(args)
        self.config = config
        self.src = os.path.join(work, "src")
        self.mnt = os.path.join(work, "mnt")
        self.native = os.path.join(work, "native")
        for d in (self.src, self.mnt, self.native):
            os.makedirs(d, exist_ok=True)
        for d in (self.src, self.native):
            os.chmod(d, 0o755)
        self.server = None

    def start(self, prefix=()):
        self.server = H.CntrServer(self.src, self.mnt, self.args, logdir=self.work, prefix=prefix).start()
        return self

    def stop(self):
        """Unmounts; returns a list of problems (server exit code, leftovers)."""
        if self.server is None:
            return []
        problems = self.server.stop()
        self.server = None
        return problems

    def m(self, *parts):
        return os.path.join(self.mnt, *parts)

    def s(self, *parts):
        return os.path.join(self.src, *parts)

    def n(self, *parts):
        return os.path.join(self.native, *parts)


@pytest.fixture
def uring_param():
    """set(on) sets fuse.enable_uring for the test; the old value comes back after it."""
    old = H.fuse_uring()
    yield H.set_fuse_uring
    H.set_fuse_uring(old)


@pytest.fixture
def mount_factory(workdir):
    """mount_factory(args=(), name=None, prefix=()) -> started Env. Everything
    it started is unmounted at teardown, where the server must exit 0."""
    envs = []

    def make(args=(), name=None, prefix=(), start=True):
        sub = os.path.join(workdir, name or "m%d" % len(envs))
        os.makedirs(sub, exist_ok=True)
        os.chmod(sub, 0o755)
        e = Env(sub, args)
        envs.append(e)
        if start:
            e.start(prefix=prefix)
        return e

    yield make
    problems = []
    for e in envs:
        try:
            problems += e.stop()
        finally:
            if e.server is not None:
                e.server.force_cleanup()
    if problems:
        pytest.fail("teardown: " + "\n".join(problems), pytrace=False)


@pytest.fixture
def env(mount_factory):
    """Default configuration: yields an Env with src mounted on mnt."""
    return mount_factory(CONFIGS["default"], name="default")


@pytest.fixture(params=list(CONFIGS))
def env3(request, mount_factory):
    """The same, once per data-path configuration (default, no passthrough, writeback)."""
    e = mount_factory(CONFIGS[request.param], name=request.param)
    e.config = request.param
    return e
