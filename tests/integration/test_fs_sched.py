"""Scheduling of the server threads: SCHED_IDLE by default, so a reply wakes the caller on
the CPU it ran on (src/fuse/ring.c, src/fuse/session.c), with a guard that runs them at
normal priority while requests wait for CPU time (src/fuse/idle_guard.h)."""

import os
import signal
import time

import pytest

import cntr_helpers as H

URING = os.path.exists("/sys/module/fuse/parameters/enable_uring")
needs_uring = pytest.mark.skipif(not URING, reason="this kernel has no FUSE over io_uring")

# (cntr flags, fuse.enable_uring, the name of the threads that serve requests)
TRANSPORTS = {
    "ring": ([], True, "cntrfs-ring"),
    "dev": (["--no-io-uring"], False, "cntrfs-dev"),
}


def policies(tids):
    return {os.sched_getscheduler(int(t)) for t in tids}


def start(mount_factory, uring_param, transport, extra=(), prefix=()):
    args, uring, name = TRANSPORTS[transport]
    if URING:
        uring_param(uring)
    e = mount_factory(["-v"] + args + list(extra), prefix=prefix)
    H.settled_stderr(e, "cntr: FUSE 7.")
    return e, name


@needs_uring
@pytest.mark.parametrize("args,policy", [([], os.SCHED_IDLE), (["--no-sched-idle"], os.SCHED_OTHER)],
                         ids=["default", "no-sched-idle"])
def test_ring_thread_policy(mount_factory, uring_param, args, policy):
    e, name = start(mount_factory, uring_param, "ring", args)
    H.settled_stderr(e, "FUSE over io_uring: ")
    pid = e.server.proc.pid
    tids = H.named_threads(pid, name)
    assert tids
    assert H.wait_until(lambda: policies(tids) == {policy}, 5), policies(tids)
    # The /dev/fuse workers (INIT, FORGET, INTERRUPT) and the guard keep the normal policy.
    others = [t for t in os.listdir("/proc/%d/task" % pid) if t not in tids]
    assert policies(others) == {os.SCHED_OTHER}


@pytest.mark.parametrize("args,policy", [([], os.SCHED_IDLE), (["--no-sched-idle"], os.SCHED_OTHER)],
                         ids=["default", "no-sched-idle"])
def test_dev_worker_policy_and_cpus(mount_factory, uring_param, args, policy):
    """Without a ring the /dev/fuse workers serve everything: SCHED_IDLE, one on each CPU
    (the default is a worker per CPU), or normal and free to move with --no-sched-idle."""
    e, name = start(mount_factory, uring_param, "dev", args)
    tids = H.named_threads(e.server.proc.pid, name)
    allowed = os.sched_getaffinity(0)
    assert len(tids) == len(allowed)
    assert H.wait_until(lambda: policies(tids) == {policy}, 5), policies(tids)
    guard = H.named_threads(e.server.proc.pid, "cntrfs-guard")
    if policy == os.SCHED_IDLE:  # the guard itself must never starve, nor be pinned
        assert policies(guard) == {os.SCHED_OTHER}
        assert os.sched_getaffinity(int(guard[0])) == allowed
    else:
        assert not guard
    cpus = [os.sched_getaffinity(int(t)) for t in tids]
    if policy == os.SCHED_IDLE:
        assert all(len(c) == 1 for c in cpus), cpus
        assert set().union(*cpus) == allowed, cpus
    else:
        assert all(c == allowed for c in cpus), cpus
    with open(e.m("f"), "w") as f:
        f.write("served")
    with open(e.s("f")) as f:
        assert f.read() == "served"


def test_dev_workers_stay_unpinned_when_fewer_than_cpus(mount_factory, uring_param):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU")
    e, name = start(mount_factory, uring_param, "dev", ["--threads", "1"])
    tids = H.named_threads(e.server.proc.pid, name)
    assert H.wait_until(lambda: policies(tids) == {os.SCHED_IDLE}, 5)
    assert os.sched_getaffinity(int(tids[0])) == os.sched_getaffinity(0)


@pytest.mark.parametrize("transport", [t for t in TRANSPORTS if URING or t == "dev"])
def test_requests_served_while_every_cpu_is_busy(mount_factory, uring_param, workdir, transport):
    """A loaded host is when people debug: the server must not wait for idle CPU time.
    The busy loops run in the server's own session (hence its scheduling group; in another
    one, autogroup or a cgroup would shield the server). Unguarded SCHED_IDLE ring threads
    starved there: about 20 create+unlink pairs a second, single ones taking over a second.
    The guard moves the threads to normal priority, and back once the CPUs are free again."""
    pids = os.path.join(workdir, "hogs.pids")
    spawn = ('i=0; while [ $i -lt %d ]; do sh -c "while :; do :; done" & echo $! >> %s; '
             'i=$((i+1)); done; exec "$@"' % (3 * len(os.sched_getaffinity(0)), pids))
    try:
        e, name = start(mount_factory, uring_param, transport, prefix=["sh", "-c", spawn, "hogs"])
        tids = H.named_threads(e.server.proc.pid, name)
        deadline = time.monotonic() + 30
        done = 0
        while done < 1000 and time.monotonic() < deadline:
            p = e.m("f%d" % done)
            with open(p, "w") as f:
                f.write("x")
            os.unlink(p)
            done += 1
        boosted = policies(tids)
    finally:
        with open(pids) as f:
            for pid in f.read().split():
                os.kill(int(pid), signal.SIGKILL)
    assert done == 1000, "only %d create+unlink pairs in 30 s with every CPU busy" % done
    assert boosted == {os.SCHED_OTHER}, boosted
    assert "every CPU is busy" in e.server.stderr()
    # Idle again: after the guard's 10 s without a waiting request, back to SCHED_IDLE.
    os.stat(e.m("."))
    assert H.wait_until(lambda: policies(tids) == {os.SCHED_IDLE}, 20), policies(tids)
