"""FUSE over io_uring: used when the kernel offers it, never required.

The kernel offers it only while fuse.enable_uring is set; these tests set the parameter
themselves (the session fixture puts the old value back). The rest of the suite runs
with whichever transport $CNTR_TEST_FUSE_TRANSPORT names.
"""

import os

import pytest

import cntr_helpers as H
import fsstats

STATS = 2000
PARAM = "/sys/module/fuse/parameters/enable_uring"

pytestmark = pytest.mark.skipif(not os.path.exists(PARAM), reason="this kernel has no FUSE over io_uring")


def ring_threads(pid):
    return H.named_threads(pid, "cntrfs-ring")


def stopped_stats(e):
    """Unmounts e and returns its --stats counts."""
    server = e.server
    assert e.stop() == []
    return fsstats.parse(server.stderr())


# What the kernel still sends through /dev/fuse while a ring is up (fs/fuse/dev_uring.c:
# forgets and interrupts stay on /dev/fuse), and INIT, which comes before the ring exists.
DEV_ONLY = ("INIT", "FORGET", "BATCH_FORGET", "INTERRUPT")


def test_ring_serves_requests(mount_factory, uring_param):
    uring_param(True)
    e = mount_factory(["-v", "--stats", "--attr-timeout", "0"])
    err = H.settled_stderr(e, "FUSE over io_uring")
    ncpu = len(os.sched_getaffinity(0))
    assert "FUSE over io_uring: " in err, err
    tids = ring_threads(e.server.proc.pid)
    assert len(tids) >= 2 * ncpu, tids
    with open(e.s("f"), "w") as f:
        f.write("data")
    for _ in range(STATS):
        os.stat(e.m("f"))  # attr timeout 0: every stat is a GETATTR
    with open(e.m("f")) as f:
        assert f.read() == "data"
    stats = stopped_stats(e)
    assert stats.get("GETATTR", 0) >= STATS, stats
    dev_only = sum(stats.get(op, 0) for op in DEV_ONLY)
    assert stats["via io_uring"] == stats["total"] - dev_only, (
        "requests other than %s reached the server through /dev/fuse: %r" % ("/".join(DEV_ONLY), stats))


def test_kernel_without_ring(mount_factory, uring_param):
    uring_param(False)
    e = mount_factory(["-v", "--stats"])
    err = H.settled_stderr(e, "FUSE over io_uring")
    assert "FUSE over io_uring not offered by the kernel" in err, err
    assert not ring_threads(e.server.proc.pid)
    with open(e.m("g"), "w") as f:
        f.write("still works")
    with open(e.s("g")) as f:
        assert f.read() == "still works"
    stats = stopped_stats(e)
    assert stats["via io_uring"] == 0 and stats.get("CREATE", 0) >= 1, stats


def test_switched_off(mount_factory, uring_param):
    uring_param(True)
    e = mount_factory(["-v", "--stats", "--no-io-uring"])
    err = H.settled_stderr(e, "cntr: FUSE 7.")
    assert "io_uring" not in err, err
    assert not ring_threads(e.server.proc.pid)
    os.mkdir(e.m("d"))
    assert os.path.isdir(e.s("d"))
    stats = stopped_stats(e)
    assert stats["via io_uring"] == 0 and stats.get("MKDIR", 0) == 1, stats
