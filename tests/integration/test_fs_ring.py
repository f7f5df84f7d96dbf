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
    tids = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if f.read().strip() == "cntrfs-ring":
                tids.append(tid)
    return tids


def settled_stderr(e, line):
    """The server logs INIT (and starts its ring) only when the kernel's first request arrives."""
    os.stat(e.m("."))
    H.wait_until(lambda: line in e.server.stderr(), 5)
    return e.server.stderr()


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


@pytest.fixture
def uring_param():
    with open(PARAM) as f:
        old = f.read().strip()
    yield H.set_fuse_uring
    H.set_fuse_uring(old == "Y")


def test_ring_serves_requests(mount_factory, uring_param):
    uring_param(True)
    e = mount_factory(["-v", "--attr-timeout", "0"])
    err = settled_stderr(e, "FUSE over io_uring")
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
    err = settled_stderr(e, "FUSE over io_uring")
    assert "FUSE over io_uring not offered by the kernel" in err, err
    assert not ring_threads(e.server.proc.pid)
    with open(e.m("g"), "w") as f:
        f.write("still works")
    with open(e.s("g")) as f:
        assert f.read() == "still works"


def test_switched_off(mount_factory, uring_param):
    uring_param(True)
    e = mount_factory(["-v", "--no-io-uring"])
    err = settled_stderr(e, "cntr: FUSE 7.")
    assert "io_uring" not in err, err
    assert not ring_threads(e.server.proc.pid)
    os.mkdir(e.m("d"))
    assert os.path.isdir(e.s("d"))


@pytest.mark.parametrize("args,policy", [([], "SCHED_IDLE"), (["--no-ring-idle"], "SCHED_OTHER")],
                         ids=["default", "no-ring-idle"])
def test_ring_thread_policy(mount_factory, uring_param, args, policy):
    """SCHED_IDLE ring threads let the woken caller stay on its CPU (src/fuse/ring.c)."""
    uring_param(True)
    e = mount_factory(["-v"] + args)
    settled_stderr(e, "FUSE over io_uring: ")
    tids = ring_threads(e.server.proc.pid)
    assert tids
    assert {os.sched_getscheduler(int(t)) for t in tids} == {getattr(os, policy)}
    # The /dev/fuse workers (INIT, FORGET, INTERRUPT) and the guard keep the normal policy.
    others = [int(t) for t in os.listdir("/proc/%d/task" % e.server.proc.pid) if t not in tids]
    assert {os.sched_getscheduler(t) for t in others} == {os.SCHED_OTHER}



def test_requests_served_while_every_cpu_is_busy(mount_factory, uring_param, workdir):
    """A loaded host is when people debug: the server must not wait for idle CPU time.
    The busy loops run in the server's own session (hence its scheduling group; in another
    one, autogroup or a cgroup would shield the server). Plain SCHED_IDLE ring threads
    starved there: about 20 create+unlink pairs a second, single ones taking over a second.
    The guard moves them to normal priority, and back once the CPUs are free again."""
    import signal
    import time
    uring_param(True)
    pids = os.path.join(workdir, "hogs.pids")
    spawn = ('i=0; while [ $i -lt %d ]; do sh -c "while :; do :; done" & echo $! >> %s; '
             'i=$((i+1)); done; exec "$@"' % (3 * len(os.sched_getaffinity(0)), pids))
    try:
        e = mount_factory(["-v"], prefix=["sh", "-c", spawn, "hogs"])
        settled_stderr(e, "FUSE over io_uring: ")
        tids = ring_threads(e.server.proc.pid)
        deadline = time.monotonic() + 30
        done = 0
        while done < 1000 and time.monotonic() < deadline:
            p = e.m("f%d" % done)
            with open(p, "w") as f:
                f.write("x")
            os.unlink(p)
            done += 1
        boosted = {os.sched_getscheduler(int(t)) for t in tids}
    finally:
        with open(pids) as f:
            for pid in f.read().split():
                os.kill(int(pid), signal.SIGKILL)
    assert done == 1000, "only %d create+unlink pairs in 30 s with every CPU busy" % done
    assert boosted == {os.SCHED_OTHER}, boosted
    assert "every CPU is busy" in e.server.stderr()
    # Idle again: after the guard's 10 s without a starved request, back to SCHED_IDLE.
    os.stat(e.m("."))
    assert H.wait_until(lambda: {os.sched_getscheduler(int(t)) for t in tids} == {os.SCHED_IDLE}, 20)
