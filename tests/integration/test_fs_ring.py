"""FUSE over io_uring: used when the kernel offers it, never required.

The kernel offers it only while fuse.enable_uring is set; these tests set the parameter
themselves (the session fixture puts the old value back). The rest of the suite runs
with whichever transport $CNTR_TEST_FUSE_TRANSPORT names.
"""

import os

import pytest

import cntr_helpers as H

STATS = 2000
PARAM = "/sys/module/fuse/parameters/enable_uring"

pytestmark = pytest.mark.skipif(not os.path.exists(PARAM), reason="this kernel has no FUSE over io_uring")


def ring_threads(pid):
    return H.named_threads(pid, "cntrfs-ring")





def switches(pid, tids):
    """Times these threads gave up the CPU: each request they serve is one more (they sleep
    until it comes, or, as SCHED_IDLE, the woken caller preempts them)."""
    total = 0
    for tid in tids:
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
    return total


def test_ring_serves_requests(mount_factory, uring_param):
    uring_param(True)
    e = mount_factory(["-v", "--attr-timeout", "0"])
    err = H.settled_stderr(e, "FUSE over io_uring")
    ncpu = len(os.sched_getaffinity(0))
    assert "FUSE over io_uring: " in err, err
    tids = ring_threads(e.server.proc.pid)
    assert len(tids) >= 2 * ncpu, tids
    with open(e.s("f"), "w") as f:
        f.write("data")
    before = switches(e.server.proc.pid, tids)
    for _ in range(STATS):
        os.stat(e.m("f"))  # attr timeout 0: every stat is a GETATTR
    after = switches(e.server.proc.pid, tids)
    assert after - before >= STATS, "ring threads woke %d times for %d requests" % (after - before, STATS)
    with open(e.m("f")) as f:
        assert f.read() == "data"


def test_kernel_without_ring(mount_factory, uring_param):
    uring_param(False)
    e = mount_factory(["-v"])
    err = H.settled_stderr(e, "FUSE over io_uring")
    assert "FUSE over io_uring not offered by the kernel" in err, err
    assert not ring_threads(e.server.proc.pid)
    with open(e.m("g"), "w") as f:
        f.write("still works")
    with open(e.s("g")) as f:
        assert f.read() == "still works"


def test_switched_off(mount_factory, uring_param):
    uring_param(True)
    e = mount_factory(["-v", "--no-io-uring"])
    err = H.settled_stderr(e, "cntr: FUSE 7.")
    assert "io_uring" not in err, err
    assert not ring_threads(e.server.proc.pid)
    os.mkdir(e.m("d"))
    assert os.path.isdir(e.s("d"))
