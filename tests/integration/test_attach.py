"""Integration tests for `cntr attach`, against real slim containers (slimctr.py).

Run as root with Debian's pytest:

    /usr/bin/python3 -m pytest tests/integration/test_attach.py

Every property the session inherits is checked against the target's own /proc
entries as the host sees them. Sessions that must be inspected from the host
run `sleep <unique number>` and are found by that command line.

The helpers, the container fixtures and the leftover check after every test
are in session_support.py (a pytest plugin loaded by conftest.py). This module
re-exports its names: test_hostile.py imports them from here.
"""

import os
import signal
import subprocess
import time

import pytest

import cntr_helpers as H
# Everything, fixtures included (the plugin provides those anyway): test_hostile.py imports
# helpers and fixtures from this module.
from session_support import *  # noqa: F401,F403


# ---------------------------------------------------------------------------
# namespaces, cgroups, mounts: from inside and from the host
# ---------------------------------------------------------------------------

def test_namespaces_from_inside(plain, be):
    out = ok(attach_sh(plain.pid, NS_SCRIPT + "; " + UPTIME_SCRIPT, args=be))
    inside = dict(line.split(" ", 1) for line in out.splitlines())
    assert_ns_joined(inside, plain)
    assert_container_clock(inside)
    assert inside["mnt"] != plain.ns["mnt"], "the session must have its own mount namespace"
    assert inside["mnt"] != os.readlink("/proc/self/ns/mnt")


def test_live_session_seen_from_host(plain, be):
    with Live("attach", plain.pid, args=be) as s:
        host = ns_links(s.sleep)
        assert_ns_joined(host, plain)
        assert host["mnt"] not in (plain.ns["mnt"], os.readlink("/proc/self/ns/mnt"))
        assert os.readlink("/proc/%d/ns/mnt" % s.shell) == host["mnt"]
        # The command is inside the container's pid namespace, one level below ours.
        nspid = proc_status(s.sleep)["NSpid"].split()
        assert len(nspid) == 2 and nspid[0] == str(s.sleep), nspid
        assert len(proc_status(s.shell)["NSpid"].split()) == 2
        # The container's own mount table does not see the session.
        assert read("/proc/%d/mountinfo" % plain.pid) == plain.mountinfo
        # The session's table: the container's own mounts (the same superblocks) below the base dir.
        session = mountinfo_entries(read("/proc/%d/mountinfo" % s.sleep))
        ctr = mountinfo_entries(plain.mountinfo)
        for sub in ("proc", "dev", "dev/pts"):
            theirs = [m["majmin"] for m in ctr if m["mountpoint"] == "/" + sub]
            ours = [m["majmin"] for m in session if m["mountpoint"] == "/var/lib/cntr/" + sub]
            bound = [m["majmin"] for m in session if m["mountpoint"] == "/" + sub]
            assert theirs and ours and ours[-1] == theirs[-1], (sub, theirs, ours)
            assert bound and bound[-1] == theirs[-1], (sub, theirs, bound)
        # Neither /dev/fuse nor a pty master reaches the session.
        assert_no_fuse_or_ptmx_fds(s.sleep, "session command")
        assert_no_fuse_or_ptmx_fds(s.shell, "session shell")
        rc, out, err = s.finish()
    assert (rc, out) == (0, b"after-sleep\n") and b"cntr:" not in err, (rc, out, err)


def test_cgroups_are_the_targets(plain, be):
    """Checked over several sessions: joining the cgroups must not race with the command's start."""
    target_cg = read("/proc/%d/cgroup" % plain.pid)
    assert target_cg != read("/proc/self/cgroup"), "the container should have cgroups of its own"
    wrong = []
    for _ in range(8):
        with Live("attach", plain.pid, args=be, direct=True) as s:
            got = read("/proc/%d/cgroup" % s.sleep)
            if got != target_cg:
                wrong.append(got)
            s.finish()
    assert not wrong, "%d of 8 sessions were not in the target's cgroups %r; first: %r" % (
        len(wrong), target_cg, wrong[0])


def test_fat_view(plain, be):
    out = ok(attach_sh(plain.pid, "grep ' / / ' /proc/self/mountinfo | tail -1; "
                                  "stat -L -c '%d %i' /usr/bin/python3; cat /etc/os-release", args=be))
    top, ids, rest = out.split("\n", 2)
    if be[1] == "cntrfs":
        assert " - fuse.cntrfs " in top, top
    else:
        host_root = [m for m in H.mounts() if m["mountpoint"] == "/"][-1]
        assert (" - %s " % host_root["fstype"]) in top, top
    st = os.stat("/usr/bin/python3")
    dev, ino = (int(x) for x in ids.split())
    assert ino == st.st_ino
    if be[1] == "bind":
        assert dev == st.st_dev
    assert rest == read("/etc/os-release")


def test_no_pty_without_a_terminal(plain):
    p = attach_sh(plain.pid, "tty; echo rc=$?; test -t 0 || echo stdin-not-tty")
    assert p.stdout == b"not a tty\nrc=1\nstdin-not-tty\n", p
    p = attach_sh(plain.pid, "tty; test -t 1 || echo stdout-not-tty", input=b"")
    assert p.stdout == b"not a tty\nstdout-not-tty\n", p


def test_fds_from_inside(plain, be):
    out = ok(attach_sh(plain.pid, 'for f in /proc/$$/fd/*; do echo "$f -> $(readlink $f)"; done', args=be))
    assert "/proc/" in out
    assert "fuse" not in out and "ptmx" not in out, out


# ---------------------------------------------------------------------------
# credentials
# ---------------------------------------------------------------------------

def test_identity_of_root_container(plain, be):
    st = session_status(plain.pid, args=be)
    tgt = proc_status(plain.pid)
    for k in ("Uid", "Gid", "Groups", "NoNewPrivs", "Umask"):
        assert st[k] == tgt[k], k
    assert hexcaps(caps_of(st)) == hexcaps(expected_caps(plain.pid))
    out = ok(attach_sh(plain.pid, "id -u; id -g", args=be))
    assert out == "0\n0\n"


def test_identity_of_unprivileged_target(plain, app_target, be):
    st = session_status(app_target, args=be)
    tgt = proc_status(app_target)
    for k in ("Uid", "Gid", "NoNewPrivs", "Umask"):
        assert st[k] == tgt[k], (k, st[k], tgt[k])
    assert sorted(st["Groups"].split()) == sorted(tgt["Groups"].split()) == ["1000", "2000", "3000"]
    got, want = caps_of(st), expected_caps(app_target)
    assert hexcaps(got) == hexcaps(want)
    guard = 1 << guard_cap(caps_of(tgt))
    assert want["CapAmb"] == bits("NET_BIND_SERVICE") | guard and want["CapBnd"] & bits("SYS_ADMIN") == 0
    assert st["NoNewPrivs"] == "1" and st["Umask"] == "0027"
    out = ok(attach_sh(app_target, "id -u; id -g; id -G; umask; echo $HOME", args=be))
    assert out.split("\n")[:5] == ["1000", "1000", "1000 2000 3000", "0027", "/tmp/home"], out


def test_bounding_set_of_root_target_is_limited_to_its_permitted_set(plain, rootcaps_target, be):
    st = session_status(rootcaps_target, args=be)
    tgt = proc_status(rootcaps_target)
    c = caps_of(tgt)
    got = caps_of(st)
    assert hex(got["CapBnd"]) == hex(c["CapBnd"] & c["CapPrm"]), (hex(c["CapBnd"]), hex(c["CapPrm"]))
    assert got["CapBnd"] & ROOTCAPS_DROP_PRM == 0
    assert hexcaps(got) == hexcaps(expected_caps(rootcaps_target))
    assert st["Umask"] == "0077" == tgt["Umask"]
    assert sorted(st["Groups"].split()) == sorted(tgt["Groups"].split()) == ["0", "10", "4242"]


# ---------------------------------------------------------------------------
# environment, files, tools
# ---------------------------------------------------------------------------

def test_environment(plain, be):
    p = cntr("attach", plain.pid, ["/usr/bin/env", "-0"], args=be, env=cntr_env(TERM="xterm-cntr-it"))
    env = parse_env(p.stdout)
    ok(p)
    want = environ_of(plain.pid)
    want["PATH"] = HOST_PATH
    want["HOME"] = "/tmp/home"  # private, in the session's own /tmp
    want["CNTR_TARGET_PID"] = "1"
    want["CNTR_BASE_DIR"] = "/var/lib/cntr"  # where `cntr exec` in the session finds the root
    want["CNTR_EXEC_FD"] = "64"  # the relay for `cntr exec` in the session
    assert env == want


def test_environment_fallbacks_and_target_pid(plain, app_target, be):
    p = cntr("attach", app_target, ["/usr/bin/env", "-0"], args=be)
    env = parse_env(p.stdout)
    ok(p)
    local_pid = proc_status(app_target)["NSpid"].split()[-1]
    assert local_pid != "1"
    assert env == {"PATH": HOST_PATH, "APP_MARKER": "app-env", "HOME": "/tmp/home", "CNTR_TARGET_PID": local_pid,
                   "CNTR_BASE_DIR": "/var/lib/cntr", "CNTR_EXEC_FD": "64"}


def test_working_directory_and_container_root(plain, be):
    out = ok(attach_sh(plain.pid, "pwd; cat /var/lib/cntr/marker; ls -a /var/lib/cntr", args=be))
    lines = out.split("\n")
    assert lines[0] == "/var/lib/cntr"
    assert lines[1] + "\n" == MARKER
    assert sorted(x for x in lines[2:] if x not in ("", ".", "..")) == sorted(os.listdir(plain.root))


def test_base_dir_override(plain, workdir, be):
    base = os.path.join(workdir, "alt-base")
    os.mkdir(base)
    out = ok(attach_sh(plain.pid, "pwd; cat marker; test -e /var/lib/cntr/marker && echo default-too || echo only-here",
                       args=be, env=cntr_env(CNTR_BASE_DIR=base)))
    assert out == "%s\n%sonly-here\n" % (base, MARKER)
    assert os.listdir(base) == [], "the base directory on the host must stay empty"


def test_failed_attach_creates_no_base_directory(workdir):
    base = os.path.join(workdir, "never", "base")
    for args in (["999999999", "--", "/bin/true"], []):
        p = run(cntr_argv("attach", None, None, args), env=cntr_env(CNTR_BASE_DIR=base))
        assert p.returncode != 0 and len(p.stderr.splitlines()) == 1, p
        assert not os.path.exists(os.path.dirname(base)), "a failed attach created %s" % base


def test_exec_in_session_uses_the_overridden_base(plain, workdir):
    base = os.path.join(workdir, "alt-base2")
    p = cntr("attach", plain.pid, [CNTR, "exec", "--", "/bin/cat", "/marker"],
             env=cntr_env(CNTR_BASE_DIR=base))
    assert (p.returncode, p.stdout.decode(), p.stderr) == (0, MARKER, b""), p


def test_host_tools_work(plain, workdir, be):
    with open(os.path.join(workdir, "hello.c"), "w") as f:
        f.write('#include <stdio.h>\nint main(void){puts("hello from gcc");return 0;}\n')
    script = ("/usr/bin/python3 -c 'import os,sys; print(sys.version_info[0], os.getuid(), "
              "open(\"/var/lib/cntr/marker\").read().strip())'; "
              "stat --version | head -1; stat -c %s /var/lib/cntr/marker; "
              "gcc -o {w}/hello {w}/hello.c && {w}/hello").format(w=workdir)
    out = ok(attach_sh(plain.pid, script, args=be))
    lines = out.split("\n")
    assert lines[0] == "3 0 slim-container-marker", out
    assert lines[1].startswith("stat (GNU coreutils)"), out
    assert lines[2:4] == [str(len(MARKER)), "hello from gcc"], out


def test_bound_files_are_the_containers(plain, be):
    script = ("cat /etc/hosts; echo ==; cat /etc/resolv.conf; echo ==; cat /etc/hostname; echo ==; "
              "cat /etc/passwd; echo ==; cat /etc/group; echo ==; hostname; echo ==; "
              "tr '\\0' ' ' </proc/1/cmdline; echo; echo ==; ls -A /dev; echo ==; ls -A /sys | wc -l; "
              "echo ==; date +%Z; cmp /etc/localtime /var/lib/cntr/etc/localtime && echo same-localtime")
    parts = ok(attach_sh(plain.pid, script, args=be)).split("==\n")
    for name, part in zip(["hosts", "resolv.conf", "hostname", "passwd", "group"], parts):
        assert part == read(os.path.join(plain.root, "etc", name)), name
    assert "slim-hosts-marker" in parts[0] and "# slim-resolv-marker" in parts[1]
    assert parts[5] == "slim\n"
    assert parts[6] == "sleep 100000 \n"
    assert sorted(parts[7].split()) == sorted(os.listdir("/proc/%d/root/dev" % plain.pid))
    assert parts[8] == "%d\n" % len(os.listdir("/proc/%d/root/sys" % plain.pid))
    assert parts[9] == "JST\nsame-localtime\n"


def test_default_backend(plain, userns_ctr):
    """auto: bind for an ordinary container, CntrFS for a user-namespaced one."""
    for ctr, want in ((plain, None), (userns_ctr, "fuse.cntrfs")):
        p = attach_sh(ctr.pid, "grep ' / / ' /proc/self/mountinfo | tail -1; cat /var/lib/cntr/marker",
                      args=["-v"])
        assert p.returncode == 0, p
        top, marker = p.stdout.decode().split("\n", 1)
        assert marker == MARKER
        if want:
            assert " - %s " % want in top, top
            assert b"back end: cntrfs\n" in p.stderr, p.stderr
        else:
            assert "fuse.cntrfs" not in top, top
            assert b"back end: bind\n" in p.stderr, p.stderr


# ---------------------------------------------------------------------------
# stdio and exit status
# ---------------------------------------------------------------------------

def test_stdout_is_byte_exact(plain, be):
    p = attach_sh(plain.pid, "printf 'a\\nb'", args=be)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"a\nb", b"")
    p = attach_sh(plain.pid, "printf out; printf err >&2", args=be)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"out", b"err")


def test_binary_data_through_cat(plain, be):
    data = os.urandom(3 << 20) + bytes(range(256)) + b"\r\n\x03\x04\x1a\x00"
    p = cntr("attach", plain.pid, ["/usr/bin/cat"], input=data, timeout=60, args=be)
    assert p.returncode == 0 and p.stderr == b""
    assert len(p.stdout) == len(data) and p.stdout == data


def test_stdin_eof_ends_cat(plain, be):
    check_stdin_eof_ends_cat(cntr_argv("attach", plain.pid, ["/usr/bin/cat"], be), b"line one\n")


@pytest.mark.parametrize("script,rc", [
    ("exit 0", 0),
    ("exit 42", 42),
    ("kill -KILL $$", 128 + 9),
    ("kill -TERM $$", 128 + 15),
    ("kill -SEGV $$", 128 + 11),
])
def test_exit_status(plain, script, rc):
    p = attach_sh(plain.pid, script)
    assert p.returncode == rc, (p.returncode, p.stderr)


def test_missing_command_is_127(plain):
    p = cntr("attach", plain.pid, ["/no/such/command"])
    assert p.returncode == 127, (p.returncode, p.stderr)
    assert p.stderr.startswith(b"cntr: ") and b"/no/such/command" in p.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_to_cntr_reach_the_command(plain, sig):
    with Live("attach", plain.pid, direct=True) as s:
        os.kill(s.proc.pid, sig)
        rc, out, err = s.wait()
        assert rc == 128 + sig, (rc, out, err)
        assert proc_state(s.sleep) in (None, "Z")


def test_default_command_is_login_shell(plain):
    p = cntr("attach", plain.pid, None, input=b"shopt -q login_shell && echo LOGIN; echo \"$0\"; exit 3\n",
             env=cntr_env(SHELL="/bin/bash"))
    assert (p.returncode, p.stdout) == (3, b"LOGIN\n/bin/bash\n"), p


def test_no_shell_variable_falls_back_to_bin_sh(plain):
    p = cntr("attach", plain.pid, None, input=b"echo \"$0\" $CONTAINER_MARKER; exit 5\n", env=cntr_env(SHELL=None))
    assert (p.returncode, p.stdout) == (5, b"/bin/sh slim-env\n"), p


# ---------------------------------------------------------------------------
# the container is not changed
# ---------------------------------------------------------------------------

def test_container_untouched(plain, be):
    before_tree = tree_state(plain.root)
    before_mi = read("/proc/%d/mountinfo" % plain.pid)
    with Live("attach", plain.pid, args=be,
              before="ls -R /var/lib/cntr >/dev/null; cat /etc/hosts /etc/passwd >/dev/null; ") as s:
        assert read("/proc/%d/mountinfo" % plain.pid) == before_mi
        s.finish()
    assert read("/proc/%d/mountinfo" % plain.pid) == before_mi == plain.mountinfo
    assert tree_state(plain.root) == before_tree


def test_readonly_root(ro_ctr, be):
    before = tree_state(ro_ctr.root)
    p = attach_sh(ro_ctr.pid, "cat /var/lib/cntr/marker; cat /etc/hosts; "
                              "touch /var/lib/cntr/new 2>&1 && echo WROTE; python3 -c 'print(6*7)'", args=be)
    assert p.returncode == 0, p
    out = p.stdout.decode()
    assert out.startswith(MARKER + read(os.path.join(ro_ctr.root, "etc/hosts"))), out
    assert "Read-only file system" in out and "WROTE" not in out, out
    assert out.endswith("42\n"), out
    assert tree_state(ro_ctr.root) == before


def test_container_without_proc_and_dev(bare, be):
    before = tree_state(bare.root)
    p = attach_sh(bare.pid, "grep -c ' /proc proc ' /proc/self/mounts", args=be)
    # bind stacks the fresh procfs over the host's: the top one is checked below
    assert int(p.stdout or b"0") >= 1, "no procfs at /proc in the session: %r" % p
    p = attach_sh(bare.pid, "readlink /proc/self/ns/pid; tr '\\0' ' ' </proc/1/cmdline; echo; "
                            "ls /proc | grep -c '^[0-9]'; echo $CNTR_TARGET_PID; cat /var/lib/cntr/marker; "
                            "ls -A /dev | wc -l", args=be)
    assert p.returncode == 0, p
    lines = p.stdout.decode().split("\n")
    assert lines[0] == bare.ns["pid"]
    assert lines[1] == "sleep 100000 "
    # Only the container's processes: its init, the shell, ls and grep.
    assert 2 <= int(lines[2]) <= 6, lines
    assert lines[3] == "1"
    assert lines[4] + "\n" == MARKER
    # /dev is the container's (an empty directory), bound over the host's.
    assert lines[5] == str(len(os.listdir(os.path.join(bare.root, "dev"))))
    assert read("/proc/%d/mountinfo" % bare.pid) == bare.mountinfo
    assert os.listdir(os.path.join(bare.root, "proc")) == []
    assert tree_state(bare.root) == before


# ---------------------------------------------------------------------------
# user-namespaced container
# ---------------------------------------------------------------------------

def test_userns_namespaces_and_identity(userns_ctr, be):
    out = ok(attach_sh(userns_ctr.pid, NS_SCRIPT + "; id -u; id -g; cat /proc/self/uid_map; " + UPTIME_SCRIPT,
                       args=be))
    lines = out.splitlines()
    inside = dict(line.split(" ", 1) for line in lines[:8] + lines[-1:])
    assert_ns_joined(inside, userns_ctr)
    assert_container_clock(inside)
    assert inside["mnt"] != userns_ctr.ns["mnt"]
    assert lines[8:10] == ["0", "0"]
    assert lines[10].split() == ["0", str(USERNS_BASE), str(USERNS_COUNT)]
    st = session_status(userns_ctr.pid, args=be)
    tgt = proc_status(userns_ctr.pid)
    assert st["Uid"] == "0 0 0 0" and st["Gid"] == "0 0 0 0"
    assert tgt["Uid"].split()[0] == str(USERNS_BASE)
    assert hexcaps(caps_of(st)) == hexcaps(expected_caps(userns_ctr.pid, userns_root_uid=USERNS_BASE))
    assert st["NoNewPrivs"] == tgt["NoNewPrivs"] and st["Umask"] == tgt["Umask"]


def test_userns_unprivileged_target(userns_ctr, userns_app_target, be):
    st = session_status(userns_app_target, args=be)
    assert st["Uid"] == "1000 1000 1000 1000" and st["Gid"] == "1000 1000 1000 1000", st
    assert sorted(st["Groups"].split()) == ["1000", "2000"], st
    assert st["Umask"] == "0002"
    assert hexcaps(caps_of(st)) == hexcaps(expected_caps(userns_app_target))
    out = ok(attach_sh(userns_app_target, "id -u; id -G; echo $CNTR_TARGET_PID", args=be))
    assert out.split("\n")[:3] == ["1000", "1000 2000", proc_status(userns_app_target)["NSpid"].split()[-1]]


@pytest.mark.parametrize("mapped", [False, True], ids=["default", "map-host-root"])
def test_userns_ids_of_the_fat_side(userns_ctr, workdir, be, mapped):
    """By default container root is host uid 100000 on the fat side's files: host root's files
    show as nobody and it cannot create a file in a root-owned host directory. With
    --map-host-root they show as its own, and what it creates there is host root's."""
    host_file = os.path.join(workdir, "by-container-root")
    inside_file = os.path.join(userns_ctr.root, "tmp", "made-inside")
    script = ("stat -c '%u %g' /usr/bin/python3 /var/lib/cntr/marker; "
              "touch {f} 2>/dev/null || echo denied; touch /var/lib/cntr/tmp/made-inside; "
              "python3 -c 'import os; print(os.getuid())'").format(f=host_file)
    try:
        out = ok(attach_sh(userns_ctr.pid, script, args=list(be) + (["--map-host-root"] if mapped else [])))
        if mapped:
            assert out.split("\n")[:3] == ["0 0", "0 0", "0"], out
            st = os.stat(host_file)
            assert (st.st_uid, st.st_gid) == (0, 0), "a file container root made on the host side"
        else:
            assert out.split("\n")[:4] == ["65534 65534", "0 0", "denied", "0"], out
            assert not os.path.exists(host_file)
        st = os.stat(inside_file)
        assert (st.st_uid, st.st_gid) == (USERNS_BASE, USERNS_BASE)
    finally:
        for p in (host_file, inside_file):
            if os.path.exists(p):
                os.unlink(p)


def test_userns_live_session(userns_ctr, be):
    with Live("attach", userns_ctr.pid, args=be) as s:
        host = ns_links(s.sleep)
        assert_ns_joined(host, userns_ctr)
        assert proc_status(s.sleep)["Uid"].split()[0] == str(USERNS_BASE)
        assert read("/proc/%d/mountinfo" % userns_ctr.pid) == userns_ctr.mountinfo
        assert_no_fuse_or_ptmx_fds(s.shell, "session shell")
        assert_no_fuse_or_ptmx_fds(s.sleep, "session command")
        rc, out, err = s.finish()
    assert (rc, out) == (0, b"after-sleep\n"), err


# ---------------------------------------------------------------------------
# lifetime: the session ends with its command, its container, or cntr
# ---------------------------------------------------------------------------

def test_container_death_ends_session(base_dir, be):
    c = start_ctr(base_dir, "dies")
    try:
        s = Live("attach", c.pid, args=be)
        try:
            members = [p for p in pidns_members(c.pidns) if p != c.pid]
            assert s.sleep in members and s.shell in members
            cntr_procs = token_procs()
            c.stop()
            rc, out, err = s.wait(timeout=15)
            assert rc == 128 + signal.SIGKILL, (rc, out, err)
            assert_gone(members + cntr_procs, "the container died")
        finally:
            s.kill()
    finally:
        c.stop()


def test_sigkill_of_cntr_ends_session(plain, be):
    s = Live("attach", plain.pid, args=be)
    try:
        session = token_procs() + [s.shell, s.sleep]
        assert s.proc.pid in session and len(session) >= 4, [describe(p) for p in session]
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait(timeout=10)
        assert_gone([p for p in session if p != s.proc.pid], "cntr was killed")
    finally:
        s.kill()
    assert plain.alive()
    assert read("/proc/%d/mountinfo" % plain.pid) == plain.mountinfo
    # The container is still usable.
    assert ok(attach_sh(plain.pid, "cat /var/lib/cntr/marker", args=be)) == MARKER


def test_sigkill_of_cntr_during_cntrfs_traffic(plain, workdir):
    """The CntrFS server dies while the session keeps it busy: no process may hang (D state)."""
    marker = unique_secs()
    code = ("import os, sys\n"
            "p = os.path.join(sys.argv[1], 'churn')\n"
            "while True:\n"
            "    with open(p, 'w') as f: f.write('x')\n"
            "    os.stat(p); os.unlink(p); os.listdir(sys.argv[1])\n")
    argv = ["/usr/bin/python3", "-c", code, workdir, marker]
    proc = subprocess.Popen(cntr_argv("attach", plain.pid, argv, ["--backend", "cntrfs"]),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cntr_env())
    try:
        pid = wait_for_cmdline(argv, proc=proc)
        time.sleep(0.5)  # let it churn
        session = token_procs() + [pid]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert_gone([p for p in session if p != proc.pid], "cntr was killed")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    assert read("/proc/%d/mountinfo" % plain.pid) == plain.mountinfo


def test_background_process_does_not_outlive_session(plain, be):
    secs = unique_secs()
    # The shell waits until the background sleep has really started, then exits.
    p = attach_sh(plain.pid, "sleep %s </dev/null >/dev/null 2>&1 & "
                             "until tr '\\0' ' ' </proc/$!/cmdline | grep -q '^sleep'; do :; done; "
                             "echo started" % secs, args=be, timeout=20)
    try:
        assert (p.returncode, p.stdout) == (0, b"started\n"), p
        time.sleep(0.3)
        left = find_by_cmdline(["sleep", secs])
        assert not left, "a process started in the session outlived it: %s" % "; ".join(map(describe, left))
    finally:
        for pid in find_by_cmdline(["sleep", secs]):
            os.kill(pid, signal.SIGKILL)


def test_two_sessions_at_once(plain, be):
    with Live("attach", plain.pid, args=be) as a, Live("attach", plain.pid, args=be) as b:
        assert os.readlink("/proc/%d/ns/mnt" % a.sleep) != os.readlink("/proc/%d/ns/mnt" % b.sleep)
        assert ok(attach_sh(plain.pid, "cat /var/lib/cntr/marker", args=be)) == MARKER
        assert a.finish()[:2] == (0, b"after-sleep\n")
        assert b.finish()[:2] == (0, b"after-sleep\n")


# ---------------------------------------------------------------------------
# options, bad input
# ---------------------------------------------------------------------------

def test_options(plain):
    p = cntr("attach", plain.pid, ["/bin/sh", "-c", "echo $CONTAINER_MARKER"],
             args=["--apparmor", "off", "--seccomp", "off", "-v"])
    assert p.returncode == 0 and p.stdout == b"slim-env\n", p
    assert p.stderr, "-v should report what is done"
    assert all(line.startswith(b"cntr: ") for line in p.stderr.splitlines()), p.stderr
    for opt in (["--apparmor", "sometimes"], ["--backend", "nfs"], ["--seccomp"]):
        p = cntr("attach", plain.pid, ["/bin/true"], args=opt)
        assert p.returncode == 2 and p.stderr.count(b"\n") == 1 and p.stderr.startswith(b"cntr: "), (opt, p)


def test_help():
    p = run([CNTR, "attach", "--help"])
    assert p.returncode == 0 and p.stdout.startswith(b"Usage: cntr attach") and p.stderr == b""


def test_host_process_target_warns(be):
    secs = unique_secs()
    host = subprocess.Popen(["sleep", secs])
    try:
        p = attach_sh(host.pid, "echo ok; readlink /proc/self/ns/net; cat /etc/hostname", args=be)
        assert p.returncode == 0, p
        assert p.stdout.decode() == "ok\n%s\n%s" % (os.readlink("/proc/self/ns/net"), read("/etc/hostname"))
        lines = p.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cntr: ") and "not in a container" in lines[0], lines
    finally:
        host.kill()
        host.wait()


@pytest.mark.parametrize("case", bad_input_cases("attach"), ids=lambda c: c[0])
def test_bad_input(plain, case):
    check_bad_input(plain.pid, case)


def test_missing_etc_files_are_reported(base_dir, be):
    """A container without /etc/passwd or /etc/hosts (or /etc/localtime, which slim containers
    lack) leaves the session the host's: -v says so in one line; without -v nothing is said."""
    c = Ctr(base_dir, "noetc")
    for name in ("etc/passwd", "etc/hosts"):
        os.unlink(os.path.join(c.root, name))
    c.start()
    try:
        want = "cntr: the container has no /etc/passwd, /etc/hosts, /etc/localtime: the session sees the host's"
        p = attach_sh(c.pid, "cat /etc/hosts", args=be + ["-v"])
        assert p.returncode == 0 and p.stdout.decode() == read("/etc/hosts"), p
        said = [x for x in p.stderr.decode().splitlines() if "the container has no" in x]
        assert said == [want], p.stderr
        assert ok(attach_sh(c.pid, "cat /etc/hosts", args=be)) == read("/etc/hosts")
    finally:
        c.stop()


def test_no_missing_etc_files_no_report(plain, be):
    p = attach_sh(plain.pid, "true", args=be + ["-v"])
    assert p.returncode == 0 and b"the container has no" not in p.stderr, p
