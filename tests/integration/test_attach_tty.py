"""`cntr attach` (and `cntr exec`) on a real terminal, driven through tmux:
window-size changes reach the session, Ctrl-C interrupts the foreground
command and not the shell, the exit status comes back, the pty is the
container's own (from its devpts) and the terminal is restored afterwards.

Run as root:  /usr/bin/python3 -m pytest tests/integration/test_attach_tty.py

Helpers come from session_support.py; its fixtures (containers, the leftover check after every
test) reach this module through conftest.py.
"""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from session_support import (
    assert_gone, assert_no_fuse_or_ptmx_fds, CNTR, cntr_env, describe, MARKER, proc_state, proc_status, read,
    unique_secs, wait_for_cmdline)

if not shutil.which("tmux"):
    pytest.fail("tmux is needed for the terminal tests", pytrace=False)


class Tmux:
    """A private tmux server running `CMD; echo rc=$? > rcfile` in one pane."""

    def __init__(self, workdir, cmd, x=100, y=30):
        self.dir = workdir
        self.sock = os.path.join(workdir, "tmux.sock")
        self.rcfile = os.path.join(workdir, "rc")
        self.sttyfile = os.path.join(workdir, "stty")
        self.env = cntr_env()
        # The terminal's settings before and after cntr: they must be the same.
        full = "stty -g > {s}.before; {cmd}; echo rc=$? > {rc}.tmp; stty -g > {s}.after; mv {rc}.tmp {rc}".format(
            s=self.sttyfile, cmd=cmd, rc=self.rcfile)
        self.tm("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(x), "-y", str(y), full)
        # Keys typed before the session's shell reads them may be flushed: wait for its prompt.
        self.wait_for(r"[#$] ?\s*$", timeout=15)

    def tm(self, *args, check=True):
        p = subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True, env=self.env, timeout=10)
        if check and p.returncode != 0:
            raise AssertionError("tmux %r failed: %r" % (args, p.stderr))
        return p

    def send(self, text, enter=True):
        self.tm("send-keys", "-t", "t", "-l", text)
        if enter:
            self.tm("send-keys", "-t", "t", "Enter")

    def key(self, name):
        self.tm("send-keys", "-t", "t", name)

    def screen(self):
        p = self.tm("capture-pane", "-p", "-J", "-S", "-2000", "-t", "t", check=False)
        return p.stdout.decode(errors="replace")

    def wait_for(self, pattern, timeout=10):
        """Waits until the regex matches the screen; returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            m = re.search(pattern, s)
            if m:
                return m
            if os.path.exists(self.rcfile) or time.monotonic() > deadline:
                raise AssertionError("%r not on the screen within %ss; rc file: %r; screen:\n%s"
                                     % (pattern, timeout, self.rc(), s))
            time.sleep(0.05)

    def run(self, command, timeout=10):
        """Runs a command in the session's shell; returns its output (between markers)."""
        n = unique_secs().replace(".", "")
        self.send("echo B%s; %s; echo E$((%s+1))" % (n, command, n))
        m = self.wait_for(r"(?s)\nB%s\n(?:(.*?)\n)?E%d\n" % (n, int(n) + 1), timeout)
        return m.group(1) or ""

    def wait_size(self, want, stty="stty", timeout=5):
        """`stty size` until it says want (the resize reaches the session asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.run("%s size" % stty)
            if got == want or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def rc(self):
        try:
            return read(self.rcfile).strip()
        except OSError:
            return None

    def wait_exit(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.rc() is None:
            if time.monotonic() > deadline:
                raise AssertionError("cntr did not exit within %ss; screen:\n%s" % (timeout, self.screen()))
            time.sleep(0.05)
        return self.rc()

    def stty_restored(self):
        return read(self.sttyfile + ".before") == read(self.sttyfile + ".after")

    def kill(self):
        self.tm("kill-server", check=False)
        deadline = time.monotonic() + 5
        while os.path.exists(self.sock) and time.monotonic() < deadline:
            if self.tm("has-session", check=False).returncode != 0:
                break
            time.sleep(0.05)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


BASH = "/bin/bash --norc --noprofile -i"


def attach_cmd(ctr, backend=None, shell=BASH):
    args = " --backend %s" % backend if backend else ""
    return "%s attach%s %d -- %s" % (CNTR, args, ctr.pid, shell)


def default_terminal(t):
    return t.tm("show-options", "-gv", "default-terminal").stdout.decode().strip()


# ---------------------------------------------------------------------------

def test_window_size_changes_reach_the_session(plain, workdir):
    with Tmux(workdir, attach_cmd(plain)) as t:
        assert t.run("stty size") == "30 100"
        t.tm("resize-window", "-t", "t", "-x", "120", "-y", "40")
        assert t.wait_size("40 120") == "40 120"
        t.tm("resize-window", "-t", "t", "-x", "90", "-y", "25")
        assert t.wait_size("25 90") == "25 90"
        t.tm("resize-window", "-t", "t", "-x", "132", "-y", "50")
        assert t.wait_size("50 132") == "50 132"
        t.send("exit")
        assert t.wait_exit() == "rc=0"
        assert t.stty_restored(), "cntr left the terminal in another mode"


def test_ctrl_c_interrupts_the_foreground_command_only(plain, workdir):
    with Tmux(workdir, attach_cmd(plain)) as t:
        t.run("true")
        secs = unique_secs()
        t.send("sleep %s" % secs)
        pid = wait_for_cmdline(["sleep", secs])
        t.key("C-c")
        gone = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not gone:
            gone = proc_state(pid) in (None, "Z")
            time.sleep(0.05)
        assert gone, "Ctrl-C did not interrupt the foreground sleep: %s" % describe(pid)
        # The shell survived, saw the sleep die of SIGINT, and still works.
        t.send("echo S$?S")
        assert t.wait_for(r"\nS(\d+)S\n").group(1) == str(128 + signal.SIGINT)
        assert t.run("cat /var/lib/cntr/marker") == MARKER.strip()
        assert t.rc() is None, "cntr ended on Ctrl-C"
        t.send("exit")
        assert t.wait_exit() == "rc=0"


@pytest.mark.parametrize("how,rc", [("exit 7", 7), ("kill -KILL $$", 128 + 9)])
def test_exit_status(plain, workdir, how, rc):
    with Tmux(workdir, attach_cmd(plain)) as t:
        t.run("true")
        t.send(how)
        assert t.wait_exit() == "rc=%d" % rc
        assert t.stty_restored(), "cntr left the terminal in another mode"


@pytest.mark.parametrize("backend", ["cntrfs", "bind"])
def test_pty_is_the_containers(plain, workdir, backend):
    with Tmux(workdir, attach_cmd(plain, backend)) as t:
        tty = t.run("tty")
        assert re.fullmatch(r"/dev/pts/\d+", tty), tty
        assert t.run('test -c "$(tty)" && echo exists') == "exists"
        assert t.run("echo TERM=$TERM") == "TERM=" + default_terminal(t)
        fds = t.run('for f in /proc/$$/fd/*; do echo "$f -> $(readlink $f)"; done')
        assert "ptmx" not in fds and "fuse" not in fds, fds
        # From the host: the terminal of a foreground command is a pty of the container's devpts.
        secs = unique_secs()
        t.send("sleep %s" % secs)
        pid = wait_for_cmdline(["sleep", secs])
        try:
            st = os.stat("/proc/%d/fd/0" % pid)
            ctr_devpts = os.stat("/proc/%d/root/dev/pts/ptmx" % plain.pid).st_dev
            assert st.st_dev == ctr_devpts, "the session's pty is not from the container's devpts"
            assert "/dev/pts/%d" % os.minor(st.st_rdev) == tty
            shell = int(proc_status(pid)["PPid"])
            assert_no_fuse_or_ptmx_fds(shell, "session shell")
            assert_no_fuse_or_ptmx_fds(pid, "session command")
        finally:
            t.key("C-c")
        t.run("true")
        t.send("exit 3")
        assert t.wait_exit() == "rc=3"


def test_container_without_devpts_gets_a_host_pty(bare, workdir):
    with Tmux(workdir, attach_cmd(bare, shell="/bin/sh -i")) as t:
        assert t.run("stty size") == "30 100"
        t.tm("resize-window", "-t", "t", "-x", "80", "-y", "20")
        assert t.wait_size("20 80") == "20 80"
        assert t.run("cat /var/lib/cntr/marker") == MARKER.strip()
        secs = unique_secs()
        t.send("sleep %s" % secs)
        pid = wait_for_cmdline(["sleep", secs])
        try:
            st = os.stat("/proc/%d/fd/0" % pid)
            assert os.major(st.st_rdev) >= 136, st  # a pty slave
            assert st.st_dev == os.stat("/dev/pts/ptmx").st_dev, "expected a pty of the host's devpts"
        finally:
            t.key("C-c")
        t.run("true")
        t.send("exit 4")
        assert t.wait_exit() == "rc=4"
        assert t.stty_restored()


def check_busybox_shell_terminal(t):
    """The container's busybox shell on its pty: the size and its changes, Ctrl-C ends the
    foreground command and only that."""
    assert t.run("busybox stty size") == "30 100"
    t.tm("resize-window", "-t", "t", "-x", "110", "-y", "35")
    assert t.wait_size("35 110", stty="busybox stty") == "35 110"
    secs = unique_secs()
    t.send("sleep %s" % secs)
    pid = wait_for_cmdline(["sleep", secs])
    t.key("C-c")
    assert_gone([pid], "Ctrl-C")
    assert t.run("echo alive") == "alive"


def test_exec_on_a_terminal(plain, workdir):
    with Tmux(workdir, "%s exec %d" % (CNTR, plain.pid)) as t:
        tty = t.run("busybox tty")
        assert re.fullmatch(r"/dev/pts/\d+", tty), tty
        assert t.run("test -c $(busybox tty) && echo exists; cat /marker") == "exists\n" + MARKER.strip()
        check_busybox_shell_terminal(t)
        t.send("exit 5")
        assert t.wait_exit() == "rc=5"
        assert t.stty_restored()


def test_relayed_exec_on_a_terminal(plain, app_target, workdir):
    """In a session without CAP_SYS_CHROOT, `cntr exec` on the terminal: a pty of its own, the
    size, Ctrl-C, the exit status, and the session's terminal back as it was."""
    with Tmux(workdir, "%s attach %d -- %s" % (CNTR, app_target, BASH)) as t:
        outer = t.run("tty")
        t.send("%s exec; echo relayed-rc=$?" % CNTR)
        t.wait_for(r"built-in shell")  # keys typed before the raw mode are flushed
        tty = t.run("busybox tty")
        assert re.fullmatch(r"/dev/pts/\d+", tty) and tty != outer, (tty, outer)
        assert t.run("id -u; cat /marker") == "1000\n" + MARKER.strip()
        check_busybox_shell_terminal(t)
        t.send("exit 6")
        t.wait_for(r"relayed-rc=6")
        assert t.run("stty size") == "35 110"
        t.send("exit 4")
        assert t.wait_exit() == "rc=4"
        assert t.stty_restored()
