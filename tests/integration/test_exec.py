"""Integration tests for `cntr exec`: a command with the container's own root,
environment and credentials (like docker exec), with a target pid or from
inside a `cntr attach` session.

Run as root:  /usr/bin/python3 -m pytest tests/integration/test_exec.py

Helpers come from session_support.py; its fixtures (containers, the leftover check after every
test) reach this module through conftest.py.
Inside an exec session the tools are the container's busybox.
"""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import cntr_helpers as H
import untouched
from session_support import (
    assert_container_clock, assert_gone, assert_no_fuse_or_ptmx_fds, assert_ns_joined, bad_input_cases,
    caps_of, check_bad_input, check_stdin_eof_ends_cat, CNTR, cntr, cntr_argv, cntr_env, CNTR_TMPDIR, describe,
    environ_of, expected_caps, hexcaps, Live, MARKER, NS_SCRIPT, NS_SHARED, ok, pidns_members,
    proc_status, read, ROOTCAPS_DROP_PRM, run, session_status, start_ctr, token_procs, tree_state, unique_secs,
    UPTIME_SCRIPT, USERNS_BASE, wait_for_cmdline)


def exec_sh(target, script, **kw):
    return cntr("exec", target, ["/bin/sh", "-c", script], **kw)


# ---------------------------------------------------------------------------
# root, environment, namespaces, cgroups
# ---------------------------------------------------------------------------

def test_runs_in_the_containers_root(plain):
    out = ok(exec_sh(plain.pid, "cat /marker; ls -a /; test -e /usr/bin/python3 && echo HOST-TOOLS || echo NO-HOST-TOOLS;"
                                "cat /etc/hosts; hostname"))
    lines = out.split("\n")
    assert lines[0] + "\n" == MARKER
    listing = sorted(x for x in lines[1:-4] if x not in (".", ".."))
    assert listing == sorted(os.listdir(plain.root))
    assert lines[-4] == "NO-HOST-TOOLS"
    assert lines[-3] + "\n" == read(os.path.join(plain.root, "etc/hosts"))
    assert lines[-2] == "slim"


def test_environment_is_the_containers(plain):
    p = cntr("exec", plain.pid, ["/bin/cat", "/proc/self/environ"], env=cntr_env(TERM="xterm-cntr-it"))
    ok(p)
    got = dict(e.decode().split("=", 1) for e in p.stdout.split(b"\0") if e)
    assert got == environ_of(plain.pid)


def test_environment_fallbacks(plain, app_target):
    p = cntr("exec", app_target, ["/bin/env"])
    got = dict(line.split("=", 1) for line in ok(p).splitlines())
    assert got == {"PATH": "/bin", "APP_MARKER": "app-env", "HOME": "/"}


def test_namespaces_all_the_targets(plain):
    out = ok(exec_sh(plain.pid, NS_SCRIPT + "; " + UPTIME_SCRIPT))
    inside = dict(line.split(" ", 1) for line in out.splitlines())
    assert_ns_joined(inside, plain, NS_SHARED + ("mnt",))
    assert_container_clock(inside)


def test_live_exec_seen_from_host(plain):
    with Live("exec", plain.pid) as s:
        for pid in (s.shell, s.sleep):
            host = {n: os.readlink("/proc/%d/ns/%s" % (pid, n)) for n in NS_SHARED + ("mnt",)}
            assert_ns_joined(host, plain, NS_SHARED + ("mnt",))
            assert os.readlink("/proc/%d/root" % pid) == plain.root
            assert len(proc_status(pid)["NSpid"].split()) == 2
            assert_no_fuse_or_ptmx_fds(pid, "exec session process")
        assert read("/proc/%d/mountinfo" % plain.pid) == plain.mountinfo
        rc, out, err = s.finish()
    assert (rc, out) == (0, b"after-sleep\n"), err


def test_cgroups_are_the_targets(plain):
    """Checked over several sessions: joining the cgroups must not race with the command's start."""
    target_cg = read("/proc/%d/cgroup" % plain.pid)
    assert target_cg != read("/proc/self/cgroup"), "the container should have cgroups of its own"
    wrong = []
    for _ in range(8):
        with Live("exec", plain.pid, direct=True) as s:
            got = read("/proc/%d/cgroup" % s.sleep)
            if got != target_cg:
                wrong.append(got)
            s.finish()
    assert not wrong, "%d of 8 sessions were not in the target's cgroups %r; first: %r" % (
        len(wrong), target_cg, wrong[0])


def test_no_fuse_or_pty_master_fds(plain):
    out = ok(exec_sh(plain.pid, 'for f in /proc/$$/fd/*; do echo "$f -> $(readlink $f)"; done'))
    assert "/proc/" in out and "fuse" not in out and "ptmx" not in out, out


# ---------------------------------------------------------------------------
# credentials
# ---------------------------------------------------------------------------

def test_identity_of_root_container(plain):
    st = session_status(plain.pid, sub="exec")
    tgt = proc_status(plain.pid)
    for k in ("Uid", "Gid", "Groups", "NoNewPrivs", "Umask"):
        assert st[k] == tgt[k], k
    assert hexcaps(caps_of(st)) == hexcaps(expected_caps(plain.pid))


def test_identity_of_unprivileged_target(plain, app_target):
    st = session_status(app_target, sub="exec")
    tgt = proc_status(app_target)
    for k in ("Uid", "Gid", "NoNewPrivs", "Umask"):
        assert st[k] == tgt[k], (k, st[k], tgt[k])
    assert sorted(st["Groups"].split()) == ["1000", "2000", "3000"]
    assert hexcaps(caps_of(st)) == hexcaps(expected_caps(app_target))
    out = ok(exec_sh(app_target, "id -u; id -g; id -G; umask"))
    assert out.split("\n")[:4] == ["1000", "1000", "1000 2000 3000", "0027"], out


def test_bounding_set_of_root_target(plain, rootcaps_target):
    st = session_status(rootcaps_target, sub="exec")
    c = caps_of(proc_status(rootcaps_target))
    got = caps_of(st)
    assert hex(got["CapBnd"]) == hex(c["CapBnd"] & c["CapPrm"])
    assert got["CapBnd"] & ROOTCAPS_DROP_PRM == 0
    assert hexcaps(got) == hexcaps(expected_caps(rootcaps_target))
    assert st["Umask"] == "0077"


def test_userns_container(userns_ctr):
    out = ok(exec_sh(userns_ctr.pid, NS_SCRIPT + "; id -u; id -g; touch /tmp/made-by-exec; cat /marker"))
    made = os.path.join(userns_ctr.root, "tmp", "made-by-exec")
    try:
        lines = out.splitlines()
        inside = dict(line.split(" ", 1) for line in lines[:8])
        assert_ns_joined(inside, userns_ctr, NS_SHARED + ("mnt",))
        assert lines[8:11] == ["0", "0", MARKER.strip()]
        st = os.stat(made)
        assert (st.st_uid, st.st_gid) == (USERNS_BASE, USERNS_BASE)
    finally:
        if os.path.exists(made):
            os.unlink(made)
    st = session_status(userns_ctr.pid, sub="exec")
    assert st["Uid"] == "0 0 0 0"
    assert hexcaps(caps_of(st)) == hexcaps(expected_caps(userns_ctr.pid, userns_root_uid=USERNS_BASE))


def test_userns_unprivileged_target(userns_ctr, userns_app_target):
    st = session_status(userns_app_target, sub="exec")
    assert st["Uid"] == "1000 1000 1000 1000" and sorted(st["Groups"].split()) == ["1000", "2000"], st
    assert hexcaps(caps_of(st)) == hexcaps(expected_caps(userns_app_target))
    assert ok(exec_sh(userns_app_target, "id -u; id -G")) == "1000\n1000 2000\n"


# ---------------------------------------------------------------------------
# stdio, exit status, default command
# ---------------------------------------------------------------------------

def test_stdio_byte_exact(plain):
    p = exec_sh(plain.pid, "printf 'a\\nb'")
    assert (p.returncode, p.stdout, p.stderr) == (0, b"a\nb", b"")
    p = exec_sh(plain.pid, "printf out; printf err >&2")
    assert (p.returncode, p.stdout, p.stderr) == (0, b"out", b"err")
    data = os.urandom(2 << 20) + bytes(range(256))
    p = cntr("exec", plain.pid, ["/bin/cat"], input=data, timeout=60)
    assert p.returncode == 0 and p.stdout == data and p.stderr == b""


def test_stdio_byte_exact_with_a_slow_reader(plain, workdir):
    """The command ends while much of its output still waits in cntr's pipe and our end of
    stdout is full: cntr passes the rest on as the reader takes it, none is dropped."""
    data = os.urandom(4 << 20)
    src = os.path.join(workdir, "in")
    with open(src, "wb") as f:
        f.write(data)
    with open(src, "rb") as fin:
        p = subprocess.Popen(cntr_argv("exec", plain.pid, ["/bin/cat"]), stdin=fin,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=cntr_env())
    got = bytearray()
    while True:
        chunk = p.stdout.read(16384)
        if not chunk:
            break
        got += chunk
        time.sleep(0.0005)
    assert p.wait(timeout=60) == 0
    assert len(got) == len(data) and bytes(got) == data, "%d of %d bytes" % (len(got), len(data))


def test_stdin_eof_ends_cat(plain):
    check_stdin_eof_ends_cat(cntr_argv("exec", plain.pid, ["/bin/cat"]), b"xyz\n")


@pytest.mark.parametrize("script,rc", [
    ("exit 0", 0),
    ("exit 42", 42),
    ("kill -KILL $$", 128 + 9),
    ("kill -TERM $$", 128 + 15),
])
def test_exit_status(plain, script, rc):
    p = exec_sh(plain.pid, script)
    assert p.returncode == rc, (p.returncode, p.stderr)


def test_missing_command_is_127(plain):
    # /usr/bin/python3 exists on the host, not in the container.
    p = cntr("exec", plain.pid, ["/usr/bin/python3", "-c", "pass"])
    assert p.returncode == 127, (p.returncode, p.stderr)
    assert p.stderr.startswith(b"cntr: ")


def test_default_command_is_bin_sh(plain):
    p = cntr("exec", plain.pid, None, input=b"echo hello-$CONTAINER_MARKER; cat /marker; exit 4\n")
    assert (p.returncode, p.stdout) == (4, b"hello-slim-env\n" + MARKER.encode()), p


def test_signals_to_cntr_reach_the_command(plain):
    with Live("exec", plain.pid, direct=True) as s:
        os.kill(s.proc.pid, signal.SIGTERM)
        rc, out, err = s.wait()
        assert rc == 128 + signal.SIGTERM, (rc, out, err)


# ---------------------------------------------------------------------------
# odd containers; the container is not changed
# ---------------------------------------------------------------------------

def test_container_untouched(plain):
    before = tree_state(plain.root)
    ok(exec_sh(plain.pid, "ls -R / >/dev/null 2>&1; cat /marker /etc/passwd >/dev/null"))
    assert read("/proc/%d/mountinfo" % plain.pid) == plain.mountinfo
    assert tree_state(plain.root) == before


def test_readonly_root(ro_ctr):
    before = tree_state(ro_ctr.root)
    p = exec_sh(ro_ctr.pid, "cat /marker; touch /new 2>&1 && echo WROTE; echo done")
    assert p.returncode == 0, p
    out = p.stdout.decode()
    assert out.startswith(MARKER) and out.endswith("done\n"), out
    assert "Read-only file system" in out and "WROTE" not in out, out
    assert tree_state(ro_ctr.root) == before


def test_container_without_proc_and_dev(bare):
    before = tree_state(bare.root)
    p = exec_sh(bare.pid, "cat /marker; echo $CONTAINER_MARKER; echo $$")
    assert p.returncode == 0, p
    lines = p.stdout.decode().split("\n")
    assert lines[0] + "\n" == MARKER and lines[1] == "slim-env"
    assert int(lines[2]) > 1  # a process in the container's pid namespace
    assert read("/proc/%d/mountinfo" % bare.pid) == bare.mountinfo
    assert tree_state(bare.root) == before


def test_host_process_target_warns():
    host = subprocess.Popen(["sleep", unique_secs()])
    try:
        p = cntr("exec", host.pid, ["/bin/cat", "/etc/hostname"])
        assert p.returncode == 0 and p.stdout.decode() == read("/etc/hostname"), p
        lines = p.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cntr: ") and "not in a container" in lines[0], lines
    finally:
        host.kill()
        host.wait()


# ---------------------------------------------------------------------------
# `cntr exec` without a target, inside an attach session
# ---------------------------------------------------------------------------

EXEC_IN_SESSION_SCRIPT = ("echo $PATH; echo $CONTAINER_MARKER; cat /marker; "
                          "test -e /usr/bin/python3 && echo HOST-TOOLS || echo NO-HOST-TOOLS; "
                          "echo target=${CNTR_TARGET_PID:-unset}; exit 9")
EXEC_IN_SESSION_OUT = "/bin\nslim-env\n%sNO-HOST-TOOLS\ntarget=unset\n" % MARKER


@pytest.mark.parametrize("backend", ["cntrfs", "bind"])
def test_exec_inside_attach_session(plain, backend):
    """`cntr exec` with no TARGET (its default /bin/sh reads the script from stdin)."""
    p = cntr("attach", plain.pid, [CNTR, "exec"], args=["--backend", backend],
             input=EXEC_IN_SESSION_SCRIPT.encode() + b"\n")
    assert (p.returncode, p.stdout.decode(), p.stderr) == (9, EXEC_IN_SESSION_OUT, b""), p


def test_exec_inside_attach_session_with_command(plain):
    """The documented form `cntr exec -- CMD` inside a session."""
    p = cntr("attach", plain.pid, [CNTR, "exec", "--", "/bin/sh", "-c", EXEC_IN_SESSION_SCRIPT])
    assert (p.returncode, p.stdout.decode(), p.stderr) == (9, EXEC_IN_SESSION_OUT, b""), p


# A session whose target lacks CAP_SYS_CHROOT (app_target) cannot chroot: its
# `cntr exec` goes through the relay, run by the host-side cntr.

STATUS_KEYS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
               "Seccomp", "Seccomp_filters")


def relay_sh(target, script, args=(), **kw):
    """An attach session on target whose shell runs script, in which $CNTR is cntr."""
    return cntr("attach", target, ["/bin/sh", "-c", "CNTR=%s; %s" % (CNTR, script)], args=args, **kw)


@pytest.mark.parametrize("backend", ["cntrfs", "bind"])
def test_exec_relay_without_chroot_capability(plain, app_target, backend):
    p = cntr("attach", app_target, [CNTR, "exec"], args=["--backend", backend],
             input=b"echo $APP_MARKER; " + EXEC_IN_SESSION_SCRIPT.encode() + b"\n")
    # The application's environment (it has no CONTAINER_MARKER), the container's root.
    want = "app-env\n" + EXEC_IN_SESSION_OUT.replace("slim-env", "")
    assert (p.returncode, p.stdout.decode(), p.stderr) == (9, want, b""), p


def test_exec_relay_has_the_targets_credentials(plain, app_target):
    """Relayed or run on the host, `cntr exec` gives the command the same identity."""
    host = session_status(app_target, sub="exec")
    p = cntr("attach", app_target, [CNTR, "exec", "--", "/bin/cat", "/proc/self/status"])
    relayed = dict(line.split(":", 1) for line in ok(p).splitlines() if ":" in line)
    assert {k: relayed[k].split() for k in STATUS_KEYS} == {k: host[k].split() for k in STATUS_KEYS}


def test_exec_relay_in_a_user_namespace(userns_ctr, userns_app_target):
    out = ok(relay_sh(userns_app_target, "$CNTR exec -- /bin/sh -c 'id -u; id -G; cat /marker'"))
    assert out == "1000\n1000 2000\n" + MARKER


def test_exec_relay_same_target_by_name_or_pid(plain, app_target):
    local = proc_status(app_target)["NSpid"].split()[-1]
    out = ok(relay_sh(app_target, "for t in %d %s; do $CNTR exec $t -- /bin/cat /marker; done" % (
        app_target, local)))
    assert out == MARKER * 2


def test_exec_with_target_in_a_root_session_uses_the_relay(plain):
    """A root session could chroot, but a TARGET cannot be resolved from inside: the relay does it."""
    out = ok(relay_sh(plain.pid, "$CNTR exec %d -- /bin/sh -c 'cat /marker; echo $CNTR_TARGET_PID'" % plain.pid))
    assert out == MARKER + "\n"


def test_exec_relay_refuses_another_target(plain, app_target, rootcaps_target):
    p = relay_sh(app_target, "$CNTR exec %d -- /bin/echo ran" % rootcaps_target)
    assert p.returncode == 1 and p.stdout == b"", p
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cntr: ") and str(rootcaps_target) in lines[0], lines


@pytest.mark.parametrize("opt", ["--seccomp", "--apparmor"])
def test_exec_relay_refuses_to_shed_restrictions(plain, app_target, opt):
    p = relay_sh(app_target, "$CNTR exec %s off %d -- /bin/echo ran" % (opt, app_target))
    assert p.returncode == 1 and p.stdout == b"", p
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cntr: ") and opt in lines[0], lines


def test_exec_relay_stdio_byte_exact(plain, app_target):
    data = bytes(range(256)) * 4096 + b"no newline at the end"
    p = cntr("attach", app_target, [CNTR, "exec", "--", "/bin/cat"], input=data)
    assert (p.returncode, p.stdout == data, p.stderr) == (0, True, b""), (p.returncode, p.stderr)
    p = relay_sh(app_target, "$CNTR exec -- /bin/sh -c 'echo out; echo err >&2; exit 3'; echo rc=$?")
    assert (p.returncode, p.stdout, p.stderr) == (0, b"out\nrc=3\n", b"err\n"), p


def test_exec_relay_closed_stdin_is_dev_null(plain, app_target):
    """A closed stdin reaches the command as an empty input (the pipe cntr relays its
    /dev/null through), never as one of cntr's own sockets."""
    p = relay_sh(app_target, "$CNTR exec -- /bin/sh -c 'readlink /proc/self/fd/0; cat' <&-; echo rc=$?")
    link, rest = ok(p).split("\n", 1)
    assert re.fullmatch(r"pipe:\[\d+\]", link), link
    assert rest == "rc=0\n"


def test_exec_relay_passes_signals_on(plain, app_target):
    inner = "trap \"echo got-term; exit 3\" TERM; echo ready; sleep 1000 & wait"
    script = ("$CNTR exec -- /bin/sh -c '%s' > $HOME/out & c=$!; "
              "while ! grep -q ready $HOME/out 2>/dev/null; do sleep 0.05; done; "
              "kill -TERM $c; wait $c; echo rc=$?; cat $HOME/out" % inner)
    p = relay_sh(app_target, "HOME=/tmp; " + script)
    assert ok(p) == "rc=3\nready\ngot-term\n"


def test_exec_relay_client_killed_ends_the_command(plain, app_target):
    secs = unique_secs()
    client = [CNTR, "exec", "--", "/bin/sleep", secs]
    with Live("attach", app_target, before="%s & " % " ".join(client)) as s:
        relayed = wait_for_cmdline(["/bin/sleep", secs])
        os.kill(wait_for_cmdline(client), signal.SIGKILL)
        assert_gone([relayed], "its client was killed", timeout=10)
        assert s.finish()[0] == 0


def test_sigkill_of_cntr_attach_ends_relayed_exec(plain, app_target):
    secs = unique_secs()
    with Live("attach", app_target, before="%s exec -- /bin/sleep %s & " % (CNTR, secs)) as s:
        relayed = wait_for_cmdline(["/bin/sleep", secs])
        session = token_procs() + [s.shell, s.sleep, relayed]
        assert any("__exec-relay" in describe(p) for p in session), [describe(p) for p in session]
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait(timeout=10)
        assert_gone([p for p in session if p != s.proc.pid], "cntr was killed")


def test_exec_relay_fd_reused_by_a_script(plain, app_target):
    p = relay_sh(app_target, "CNTR_EXEC_FD=0 $CNTR exec -- /bin/echo ran </dev/null")
    assert p.returncode == 125 and p.stdout == b"", p
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cntr: ") and "CNTR_EXEC_FD" in lines[0], lines


@pytest.mark.parametrize("cmd", [[], ["--", "/bin/true"]], ids=["no-command", "with-command"])
def test_exec_without_target_outside_a_session(cmd):
    p = run([CNTR, "exec"] + cmd, env=cntr_env(), input=b"echo ran\n")
    assert p.returncode == 2 and p.stdout == b"", p
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cntr: ") and "session" in lines[0], lines


# ---------------------------------------------------------------------------
# lifetime
# ---------------------------------------------------------------------------

def test_container_death_ends_exec(base_dir):
    c = start_ctr(base_dir, "exec-dies")
    try:
        s = Live("exec", c.pid)
        try:
            members = [p for p in pidns_members(c.pidns) if p != c.pid]
            assert s.sleep in members
            cntr_procs = token_procs()
            c.stop()
            rc, out, err = s.wait(timeout=15)
            assert rc == 128 + signal.SIGKILL, (rc, out, err)
            assert_gone(members + cntr_procs, "the container died")
        finally:
            s.kill()
    finally:
        c.stop()


def test_sigkill_of_cntr_ends_exec(plain):
    s = Live("exec", plain.pid)
    try:
        session = token_procs() + [s.shell, s.sleep]
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait(timeout=10)
        assert_gone([p for p in session if p != s.proc.pid], "cntr was killed")
    finally:
        s.kill()
    assert plain.alive() and read("/proc/%d/mountinfo" % plain.pid) == plain.mountinfo


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", bad_input_cases("exec"), ids=lambda c: c[0])
def test_bad_input(plain, case):
    check_bad_input(plain.pid, case)


@pytest.mark.parametrize("argv,env,rc,msg", [
    ([], {}, 2, b"Usage: cntr COMMAND"),
    (["bogus"], {}, 2, b"cntr: unknown command 'bogus'"),
    (["exec", "--", "/bin/true"], {}, 2, b"cntr: exec: no TARGET given, and this is not a cntr attach session"),
    (["exec", "-t", "podman,lxc", "x", "--", "/bin/true"], {"PATH": "/nonexistent"}, 1,
     b"cntr: no container 'x' found (tried: podman: not installed; lxc: not installed)"),
    # exec without TARGET in a session whose attached process is gone: a set-up failure.
    (["exec", "--", "/bin/true"], {"CNTR_TARGET_PID": "999999999"}, 125,
     b"cntr: exec: the attached process 999999999 is gone"),
], ids=["no-command", "unknown-command", "exec-without-target", "missing-engine", "attached-process-gone"])
def test_exit_status_of_cntr_itself(argv, env, rc, msg):
    """The exit statuses doc/cntr.1 (EXIT STATUS) and the README give: 2 usage, 1 before the
    command could start, 125 while setting up the session."""
    p = run([CNTR] + argv, env=cntr_env(**env))
    assert (p.returncode, p.stdout) == (rc, b""), p
    assert p.stderr.startswith(msg), p.stderr


def test_help():
    p = run([CNTR, "exec", "--help"])
    assert p.returncode == 0 and p.stdout.startswith(b"Usage: cntr exec") and p.stderr == b""


# ---------------------------------------------------------------------------
# nothing written anywhere but where the session writes
# ---------------------------------------------------------------------------

# Each session writes one file into the container's /tmp, on purpose; cntr must write nothing else,
# on the host (untouched.HostChanges: anything on / newer than a stamp) or in the container (its
# root as it sees it, private mounts included: names, modes, owners, sizes, times, xattrs).
ON_PURPOSE = {
    "attach-cntrfs": ("attach", ["--backend", "cntrfs"], "echo on-purpose > /var/lib/cntr/tmp/on-purpose"),
    "attach-bind": ("attach", ["--backend", "bind"], "echo on-purpose > /var/lib/cntr/tmp/on-purpose"),
    "exec": ("exec", [], "echo on-purpose > /tmp/on-purpose"),
    "relay": ("attach", [], "%s exec {pid} -- /bin/sh -c 'echo on-purpose > /tmp/on-purpose'" % CNTR),
}
ON_PURPOSE_DIFF = {"/tmp/on-purpose": "created", "/tmp": ["ctime", "mtime"]}


@pytest.mark.slow
@pytest.mark.deadline(300)
@pytest.mark.parametrize("mode", list(ON_PURPOSE))
def test_nothing_written_but_the_sessions_own_file(plain, workdir, mode):
    sub, args, script = ON_PURPOSE[mode]
    made = os.path.join(plain.root, "tmp", "on-purpose")
    cwd = os.path.join(workdir, "cwd")
    os.mkdir(cwd)
    host = untouched.HostChanges(watch=[CNTR_TMPDIR, cwd]).start()
    # What the session's command reads on purpose: the container's /bin/sh and busybox (their
    # atimes move the first time, under relatime).
    with open("/proc/%d/root/bin/sh" % plain.pid, "rb") as f:
        f.read(1)
    ctr = untouched.TreeSnapshot("/proc/%d/root" % plain.pid)
    try:
        ok(cntr(sub, plain.pid, ["/bin/sh", "-c", script.format(pid=plain.pid)], args=args, cwd=cwd))
        assert ctr.diff() == ON_PURPOSE_DIFF
        assert read(made) == "on-purpose\n"
    finally:
        changed = host.changes()
        if os.path.exists(made):
            os.unlink(made)
    assert changed == [], "changed on the host during the session: %r" % changed


# ---------------------------------------------------------------------------
# options that cannot be honoured are refused, not ignored
# ---------------------------------------------------------------------------

SECCOMP_SLEEP = os.path.join(os.path.dirname(os.environ.get("CNTR_BUILD_BIN", CNTR)), "seccomp_sleep.static")


def spawn_filtered(c, n):
    """A root process in c with our bounding set under n stacked filters (seccomp_sleep run n
    times over, then /bin/sleep). The helper is installed as /seccomp/sleep: spawn_target waits
    for the name `sleep`, which the helper has before and after it execs /bin/sleep."""
    os.mkdir(os.path.join(c.root, "seccomp"))
    shutil.copy2(SECCOMP_SLEEP, os.path.join(c.root, "seccomp", "sleep"))
    ours = int(proc_status(os.getpid())["CapBnd"], 16)
    pid = c.spawn(argv=["/seccomp/sleep"] * n + ["/bin/sleep", "100000"], bnd=ours)

    def done():
        return (proc_status(pid)["Seccomp_filters"] == str(n)
                and os.readlink("/proc/%d/exe" % pid).endswith("/bin/busybox"))
    assert H.wait_until(done, 10), proc_status(pid)
    return pid


@pytest.fixture
def filtered_target(base_dir):
    """A root process with every capability (so its sessions may chroot) under a seccomp filter
    that denies uname(2) (tests/helpers/seccomp_sleep.c), in a container of its own."""
    c = start_ctr(base_dir, "filtered")
    try:
        yield spawn_filtered(c, 1)
    finally:
        c.stop()


def test_exec_in_session_refuses_to_shed_the_seccomp_filter(filtered_target):
    """In a session that may chroot, `cntr exec --seccomp off` cannot drop the filter the session
    process carries: refused with the relay's message, not run under the filter regardless."""
    script = ("grep '^Seccomp:' /proc/self/status; {c} exec -- /bin/sh -c 'grep ^Seccomp: /proc/self/status'; "
              "{c} exec --seccomp off -- /bin/echo ran; echo rc=$?").format(c=CNTR)
    p = cntr("attach", filtered_target, ["/bin/sh", "-c", script])
    out = p.stdout.decode().replace("\t", " ")
    assert (p.returncode, out) == (0, "Seccomp: 2\nSeccomp: 2\nrc=1\n"), p
    assert p.stderr == b"cntr: exec: --seccomp off is not allowed inside a session attached with --seccomp auto\n", p


def test_exec_in_session_without_a_filter_accepts_seccomp_off(plain):
    """With no filter to keep (the target has none), --seccomp off is what happens anyway."""
    p = cntr("attach", plain.pid, ["/bin/sh", "-c", "%s exec --seccomp off --apparmor off -- /bin/echo ran" % CNTR])
    assert (p.returncode, p.stdout, p.stderr) == (0, b"ran\n", b""), p


@pytest.mark.parametrize("sub", ["attach", "exec"])
def test_every_seccomp_filter_is_copied(base_dir, sub):
    """A target under 70 stacked filters (seccomp_sleep run 70 times over): the session carries
    all 70, not the first 64 (or any other cut) without a word."""
    c = start_ctr(base_dir, "filters70")
    try:
        target = spawn_filtered(c, 70)
        cat = "/usr/bin/cat" if sub == "attach" else "/bin/cat"
        p = cntr(sub, target, [cat, "/proc/self/status"])
        st = dict(line.split(":", 1) for line in ok(p).splitlines())
        assert (st["Seccomp"].strip(), st["Seccomp_filters"].strip()) == ("2", "70"), p.stderr
    finally:
        c.stop()
