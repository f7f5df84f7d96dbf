"""The command line: help and version, mount options visible in mountinfo,
every kind of bad input (one 'cntr:' line on stderr, non-zero exit, nothing
mounted, no process left), and the mount(8) helper."""

import os
import re
import stat
import subprocess

import pytest

import cntr_helpers as H
import fsstats


def project_version():
    with open(os.path.join(H.REPO, "meson.build")) as f:
        m = re.search(r"version\s*:\s*'([^']+)'", f.read())
    return m.group(1)


def run(args, timeout=20, **kw):
    return H.run_cmd([H.cntr_bin()] + list(args), timeout=timeout, **kw)


def fuse_mounts():
    return {(m["mountpoint"], m["majmin"]) for m in H.mounts() if m["fstype"].startswith("fuse")}


# ---------------------------------------------------------------------------
# help and version
# ---------------------------------------------------------------------------

def test_version_flag_prints_the_project_version():
    r = run(["--version"])
    assert r.returncode == 0, r.stderr
    assert project_version() in r.stdout.decode()
    assert r.stderr == b""


@pytest.mark.parametrize("args", [["--help"], ["help"], ["-h"]], ids=["--help", "help", "-h"])
def test_help_prints_usage_with_the_mount_command(args):
    r = run(args)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("Usage: cntr COMMAND [ARGS...]\n"), out[:200]
    assert re.search(r"^  mount\b", out, re.M), out
    assert r.stderr == b""


def test_mount_help_lists_the_documented_options():
    r = run(["mount", "--help"])
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    for opt in ("--foreground", "-o", "--threads", "--uid-map", "--gid-map", "--attr-timeout",
                "--entry-timeout", "--negative-timeout", "--no-passthrough", "--writeback",
                "--no-keep-cache", "--no-readdirplus", "--no-parallel-dirops", "--no-opendir",
                "--no-killpriv", "--stats", "--verbose"):
        assert opt in out, opt


def assert_one_error_line(r):
    err = r.stderr.decode(errors="replace")
    lines = err.splitlines()
    assert r.returncode != 0, "exit code 0; stderr: %r" % err
    assert len(lines) == 1 and lines[0].startswith("cntr: "), "stderr is not one 'cntr: ' line: %r" % err


def test_unknown_subcommand_is_an_error():
    assert_one_error_line(run(["frobnicate"]))


def test_no_subcommand_is_a_usage_error():
    """Exit status 2 (usage, as the man page says) with the usage on stderr, nothing on stdout."""
    r = run([])
    assert r.returncode == 2, r.returncode
    assert r.stderr.decode().startswith("Usage: cntr COMMAND [ARGS...]\n"), r.stderr[:200]
    assert r.stdout == b""


# ---------------------------------------------------------------------------
# bad input to `cntr mount`
# ---------------------------------------------------------------------------

@pytest.fixture
def dirs(workdir):
    src = os.path.join(workdir, "src")
    mnt = os.path.join(workdir, "mnt")
    os.mkdir(src)
    os.mkdir(mnt)
    with open(os.path.join(workdir, "file"), "w") as f:
        f.write("x")
    return {"src": src, "mnt": mnt, "file": os.path.join(workdir, "file"),
            "missing": os.path.join(workdir, "missing"), "work": workdir}


BAD = {
    "missing-src": ["{missing}", "{mnt}"],
    "src-is-a-file": ["{file}", "{mnt}"],
    "missing-mnt": ["{src}", "{missing}"],
    "mnt-is-a-file": ["{src}", "{file}"],
    "unknown-option": ["--bogus", "{src}", "{mnt}"],
    "unknown-short-option": ["-Z", "{src}", "{mnt}"],
    "unknown-o-option": ["-o", "bogus", "{src}", "{mnt}"],
    "bad-o-value-threads": ["-o", "threads=abc", "{src}", "{mnt}"],
    "bad-o-value-timeout": ["-o", "attr_timeout=soon", "{src}", "{mnt}"],
    "o-flag-with-value": ["-o", "ro=1", "{src}", "{mnt}"],
    "o-missing-value": ["-o", "uid_map", "{src}", "{mnt}"],
    "o-without-argument": ["{src}", "{mnt}", "-o"],
    "map-two-fields": ["--uid-map", "0:1000", "{src}", "{mnt}"],
    "map-letters": ["--uid-map", "a:b:c", "{src}", "{mnt}"],
    "map-zero-count": ["--gid-map", "0:1000:0", "{src}", "{mnt}"],
    "map-negative": ["--uid-map", "0:-1:10", "{src}", "{mnt}"],
    "map-overlapping-extents": ["--uid-map", "0:1000:10,5:2000:10", "{src}", "{mnt}"],
    "map-past-32-bits": ["--uid-map", "0:4294967295:10", "{src}", "{mnt}"],
    "map-via-o": ["-o", "gid_map=1:2", "{src}", "{mnt}"],
    "threads-zero": ["--threads", "0", "{src}", "{mnt}"],
    "threads-abc": ["--threads", "abc", "{src}", "{mnt}"],
    "threads-negative": ["--threads", "-3", "{src}", "{mnt}"],
    "timeout-negative": ["--entry-timeout", "-1", "{src}", "{mnt}"],
    "timeout-garbage": ["--negative-timeout", "1x", "{src}", "{mnt}"],
    "too-few-none": [],
    "too-few-one": ["{src}"],
    "too-many": ["{src}", "{mnt}", "{mnt}"],
}


def _fill(args, d):
    return [a.format(**d) for a in args]


def _assert_nothing_left(d, before):
    # Only a cntr process can still mount something: once none is left under the test
    # directory (a detached child included), nothing can appear any more.
    gone = H.wait_until(lambda: not [p for p in H.server_pids_for_prefix(d["work"]) if H.pid_alive(p)], 10)
    assert gone, "a cntr process was left running: %r" % H.server_pids_for_prefix(d["work"])
    assert H.mount_at(d["mnt"]) is None, "something got mounted on MNT"
    assert H.mount_at(d["src"]) is None
    # (other FUSE mounts may come and go on this machine: look only at ours)
    assert H.mounts_under(d["work"]) == [], "a mount appeared under the test directory"
    assert not [m for m in H.mounts() if m["source"] in (d["src"], d["missing"], d["file"])]


@pytest.mark.parametrize("foreground", [False, True], ids=["detached", "foreground"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gives_one_error_line_and_mounts_nothing(dirs, case, foreground):
    before = fuse_mounts()
    args = ["mount"] + (["-f"] if foreground else []) + _fill(BAD[case], dirs)
    r = run(args)
    try:
        assert_one_error_line(r)
    finally:
        _assert_nothing_left(dirs, before)


def test_not_root_is_an_error(dirs):
    before = fuse_mounts()
    r = subprocess.run([H.cntr_bin(), "mount", "-f", dirs["src"], dirs["mnt"]], capture_output=True, timeout=20,
                       user=65534, group=65534, extra_groups=[])
    try:
        assert_one_error_line(r)
    finally:
        _assert_nothing_left(dirs, before)


@pytest.mark.parametrize("how", ["tmpfs-over-dev", "dev-null-over-dev-fuse"])
def test_unusable_dev_fuse_is_an_error(dirs, how):
    # In a private mount namespace, so the host's /dev is untouched.
    hide = ("mount -t tmpfs none /dev" if how == "tmpfs-over-dev" else "mount --bind /dev/null /dev/fuse")
    script = '%s && exec "$0" mount -f "$1" "$2"' % hide
    before = fuse_mounts()
    r = H.run_cmd(["unshare", "-m", "--propagation", "private", "sh", "-c", script, H.cntr_bin(),
                   dirs["src"], dirs["mnt"]], timeout=20)
    try:
        assert_one_error_line(r)
        assert os.path.exists("/dev/fuse") and stat.S_ISCHR(os.stat("/dev/fuse").st_mode)
    finally:
        _assert_nothing_left(dirs, before)


# ---------------------------------------------------------------------------
# options that show up in mountinfo
# ---------------------------------------------------------------------------

def test_default_fstype_is_fuse_cntrfs_with_allow_other_and_default_permissions(env):
    m = H.mount_at(env.mnt)
    assert m["fstype"] == "fuse.cntrfs"
    assert "allow_other" in m["superopts"]
    assert "default_permissions" in m["superopts"]
    assert "rw" in m["opts"]


def test_fsname_and_subtype_options(mount_factory):
    e = mount_factory(start=False)
    e.server = H.CntrServer(e.src, e.mnt, ["-o", "fsname=my-source,subtype=mysub"], logdir=e.work,
                            fstype="fuse.mysub").start()
    m = H.mount_at(e.mnt)
    assert (m["source"], m["fstype"]) == ("my-source", "fuse.mysub")


@pytest.mark.parametrize("opt", ["ro", "nosuid", "nodev", "noexec", "noatime"])
def test_mount_flag_option_appears_in_mountinfo(mount_factory, opt):
    e = mount_factory(["-o", opt])
    assert opt in H.mount_at(e.mnt)["opts"]


def test_rw_option_is_accepted(mount_factory):
    e = mount_factory(["-o", "rw"])
    assert "rw" in H.mount_at(e.mnt)["opts"]
    with open(e.m("f"), "w") as f:
        f.write("x")


def test_long_options_are_accepted_as_o_keys(mount_factory):
    e = mount_factory(["-o", "threads=2,attr_timeout=0,entry_timeout=0,negative_timeout=0,no_passthrough,"
                             "no_readdirplus,no_parallel_dirops,no_keep_cache,uid_map=0:0:65536,gid_map=0:0:65536"])
    # the zero timeouts took effect: a change behind the mount's back shows at once
    assert not os.path.exists(e.m("f"))
    with open(e.s("f"), "w") as f:
        f.write("abc")
    assert os.stat(e.m("f")).st_size == 3
    with open(e.s("f"), "a") as f:
        f.write("def")
    assert os.stat(e.m("f")).st_size == 6


def test_uid_map_given_as_o_key_takes_effect(mount_factory):
    e = mount_factory(["-o", "uid_map=0:1000:10,gid_map=0:2000:10"])
    st = os.stat(e.mnt)
    assert (st.st_uid, st.st_gid) == (1000, 2000)


def test_writeback_as_o_key(mount_factory):
    e = mount_factory(["-o", "writeback"])
    with open(e.m("f"), "wb") as f:
        f.write(b"x" * 100000)
    with open(e.s("f"), "rb") as f:
        assert f.read() == b"x" * 100000


def test_verbose_reports_settings_on_stderr_and_quiet_by_default(mount_factory):
    loud = mount_factory(["-v"], name="loud")
    quiet = mount_factory([], name="quiet")
    for e in (loud, quiet):
        assert e.stop() == []
    err = open(loud.work + "/server-mnt.stderr").read()
    assert err.strip(), "-v printed nothing"
    assert all(line.startswith("cntr: ") for line in err.splitlines()), err
    assert open(quiet.work + "/server-mnt.stderr").read() == ""


def test_options_after_the_operands_are_accepted(mount_factory):
    e = mount_factory(start=False)
    # mount(8) style: options after SRC MNT
    e.server = H.CntrServer(e.src, e.mnt, [], logdir=e.work)
    cmd = [H.cntr_bin(), "mount", e.src, e.mnt, "-f", "-o", "ro"]
    with open(e.server.err_path, "wb") as err:
        e.server.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                         start_new_session=True)
    H._live_servers.append(e.server)
    assert H.wait_until(e.server._mounted_entry, 10), e.server.stderr()
    e.server.majmin = H.mount_at(e.mnt)["majmin"]
    assert "ro" in H.mount_at(e.mnt)["opts"]


# ---------------------------------------------------------------------------
# --stats
# ---------------------------------------------------------------------------

def _stats_workload(e):
    os.mkdir(e.m("d1"))
    os.mkdir(e.m("d2"))
    os.symlink("target", e.m("d1/l"))
    os.unlink(e.m("d1/l"))
    os.rmdir(e.m("d2"))
    os.statvfs(e.mnt)


@pytest.mark.parametrize("how", ["umount", "SIGTERM"])
def test_stats_prints_requests_per_opcode_at_unmount(mount_factory, how):
    """--stats: one line per opcode seen, with its count and average handling time, then the
    total and how many came through io_uring, printed when the mount ends (by umount or by a
    stop signal) and not before."""
    import signal
    e = mount_factory(["--stats"])
    _stats_workload(e)
    server = e.server
    assert fsstats.HEADER not in server.stderr(), "the table came before the unmount"
    if how == "umount":
        assert e.stop() == []
    else:
        server.proc.send_signal(signal.SIGTERM)
        assert server.wait_exit(10) == 0, server.stderr()
        assert H.mount_at(e.mnt) is None
        e.server = None
        server.force_cleanup()
    err = server.stderr()
    assert err.count(fsstats.HEADER) == 1, err
    lines = err[err.index(fsstats.HEADER):].splitlines()[1:]
    rows = [re.match(r"^cntr:   ([A-Z_0-9]+)\s+(\d+)\s+(\d+\.\d) us$", line) for line in lines[:-2]]
    assert rows and all(rows), lines
    stats = fsstats.parse(err)
    for op, n in (("MKDIR", 2), ("SYMLINK", 1), ("UNLINK", 1), ("RMDIR", 1), ("INIT", 1)):
        assert stats.get(op) == n, (op, stats)
    assert stats.get("STATFS", 0) >= 1, stats  # (statfs of all mounts by others counts too)
    per_op = {m.group(1): int(m.group(2)) for m in rows}
    assert stats["total"] == sum(per_op.values()), stats
    assert 0 <= stats["via io_uring"] <= stats["total"] - 1, stats  # INIT never comes through the ring
    assert re.match(r"^cntr:   total\s+\d+\s+\d+\.\d us$", lines[-2]), lines[-2]


def test_no_stats_table_without_the_option(mount_factory):
    e = mount_factory([])
    _stats_workload(e)
    server = e.server
    assert e.stop() == []
    assert server.stderr() == ""


# ---------------------------------------------------------------------------
# the mount(8) helper
# ---------------------------------------------------------------------------

HELPER = "/sbin/mount.fuse.cntrfs"


@pytest.fixture
def helper():
    """/sbin/mount.fuse.cntrfs, created as a symlink to the binary for the test if missing."""
    created = False
    if not os.path.lexists(HELPER):
        os.symlink(os.path.abspath(H.cntr_bin()), HELPER)
        created = True
    yield HELPER
    if created:
        os.unlink(HELPER)


def _wait_detached_server_gone(mnt, timeout=10):
    return H.wait_until(lambda: not [p for p in H.server_pids_for(mnt) if H.pid_alive(p)], timeout)


def _helper_mount(cmd, mnt, work):
    out = open(os.path.join(work, "helper.out"), "wb")
    try:
        p = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=20)
    except subprocess.TimeoutExpired:
        H.emergency_abort("mount helper hung")
        raise AssertionError("%s did not return within 20 s" % " ".join(cmd))
    finally:
        out.close()
    m = H.mount_at(mnt)
    if m is not None:
        H.register_conn(mnt, m["majmin"])
    return p.returncode, open(os.path.join(work, "helper.out")).read()


def _cleanup_mount(mnt):
    m = H.mount_at(mnt)
    if m:
        H.abort_connection(m["majmin"])
        H.umount2(mnt, H.MNT_DETACH)
    for p in H.server_pids_for(mnt):
        try:
            os.kill(p, 9)
        except OSError:
            pass


def test_mount_t_fuse_cntrfs_mounts_and_umount_ends_it(helper, dirs):
    with open(os.path.join(dirs["src"], "hello"), "w") as f:
        f.write("via mount(8)")
    try:
        rc, out = _helper_mount(["mount", "-t", "fuse.cntrfs", dirs["src"], dirs["mnt"]], dirs["mnt"], dirs["work"])
        assert rc == 0, out
        m = H.mount_at(dirs["mnt"])
        assert m and m["fstype"] == "fuse.cntrfs"
        assert open(os.path.join(dirs["mnt"], "hello")).read() == "via mount(8)"
        pids = [p for p in H.server_pids_for(dirs["mnt"]) if H.pid_alive(p)]
        assert pids, "no server process found for the helper mount"
        r = subprocess.run(["umount", dirs["mnt"]], capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
        assert H.mount_at(dirs["mnt"]) is None
        assert _wait_detached_server_gone(dirs["mnt"]), "server still running 10 s after umount"
    finally:
        _cleanup_mount(dirs["mnt"])


def test_mount_t_passes_options_to_the_helper(helper, dirs):
    with open(os.path.join(dirs["src"], "f"), "w") as f:
        f.write("x")
    try:
        rc, out = _helper_mount(["mount", "-t", "fuse.cntrfs", "-o", "ro,nosuid,uid_map=0:1000:10,attr_timeout=0",
                                 dirs["src"], dirs["mnt"]], dirs["mnt"], dirs["work"])
        assert rc == 0, out
        m = H.mount_at(dirs["mnt"])
        assert "ro" in m["opts"] and "nosuid" in m["opts"]
        assert os.stat(os.path.join(dirs["mnt"], "f")).st_uid == 1000
        with pytest.raises(OSError) as ei:
            open(os.path.join(dirs["mnt"], "g"), "w")
        assert ei.value.errno == 30  # EROFS
        assert subprocess.run(["umount", dirs["mnt"]], timeout=20).returncode == 0
        assert _wait_detached_server_gone(dirs["mnt"])
    finally:
        _cleanup_mount(dirs["mnt"])


def test_helper_name_as_argv0_acts_as_mount_helper(dirs):
    try:
        out = open(os.path.join(dirs["work"], "argv0.out"), "wb")
        p = subprocess.run(["mount.fuse.cntrfs", dirs["src"], dirs["mnt"], "-o", "rw,noatime"],
                           executable=H.cntr_bin(), stdout=out, stderr=subprocess.STDOUT, timeout=20)
        out.close()
        assert p.returncode == 0, open(os.path.join(dirs["work"], "argv0.out")).read()
        m = H.mount_at(dirs["mnt"])
        assert m and m["fstype"] == "fuse.cntrfs" and "noatime" in m["opts"]
        H.register_conn(dirs["mnt"], m["majmin"])
        assert subprocess.run(["umount", dirs["mnt"]], timeout=20).returncode == 0
        assert _wait_detached_server_gone(dirs["mnt"])
    finally:
        _cleanup_mount(dirs["mnt"])


def test_mount_t_with_bad_source_fails_and_mounts_nothing(helper, dirs):
    before = fuse_mounts()
    try:
        rc, out = _helper_mount(["mount", "-t", "fuse.cntrfs", dirs["missing"], dirs["mnt"]], dirs["mnt"],
                                dirs["work"])
        assert rc != 0
        assert "cntr: " in out
    finally:
        _cleanup_mount(dirs["mnt"])
    _assert_nothing_left(dirs, before)


# The helper as `meson install` puts it (README: "meson install also installs
# /sbin/mount.fuse.cntrfs"), not one the test makes: installed into a DESTDIR, then put in
# place in a private mount namespace, where mount(8) must find and run it.
INSTALLED_HELPER_SCRIPT = r'''
set -eu
mount --bind "$DEST$BINDIR" "$BINDIR"
mount --bind "$DEST/sbin" /sbin
mount -t fuse.cntrfs -o ro,noatime "$SRC" "$MNT"
grep " $MNT " /proc/self/mountinfo
cat "$MNT/hello"; echo
for p in /proc/[0-9]*; do
    if tr '\0' '\n' < "$p/cmdline" 2>/dev/null | grep -qxF "$MNT"; then
        echo "server exe $(stat -L -c %d:%i "$p/exe")"
        pid=${p#/proc/}
    fi
done
umount "$MNT"
i=0
while [ -e "/proc/$pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
[ ! -e "/proc/$pid" ] && echo "server gone"
'''


def _meson_option(build, name):
    import json
    r = H.run_cmd(["meson", "introspect", build, "--buildoptions"], timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}[name]


def test_installed_mount_helper_serves_mount_t_fuse_cntrfs(dirs):
    build = os.path.dirname(os.path.abspath(os.environ.get("CNTR_BUILD_BIN") or H.cntr_bin()))
    assert os.path.isfile(os.path.join(build, "build.ninja")), "CNTR_BIN is not in a meson build directory"
    dest = os.path.join(dirs["work"], "destdir")
    r = H.run_cmd(["meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest], timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()
    bindir = os.path.join(_meson_option(build, "prefix"), _meson_option(build, "bindir"))
    helper = os.path.join(dest, "sbin", "mount.fuse.cntrfs")
    installed = dest + os.path.join(bindir, "cntr")
    assert os.path.islink(helper) and os.readlink(helper) == os.path.join(bindir, "cntr"), helper
    assert os.access(installed, os.X_OK)
    assert os.path.isdir(bindir), "%s must exist to put the installed binary there" % bindir
    with open(os.path.join(dirs["src"], "hello"), "w") as f:
        f.write("via the installed helper")
    env = dict(os.environ, DEST=dest, BINDIR=bindir, SRC=dirs["src"], MNT=dirs["mnt"])
    r = H.run_cmd(["unshare", "-m", "--propagation", "private", "sh", "-c", INSTALLED_HELPER_SCRIPT],
                  timeout=60, env=env)
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    lines = out.splitlines()
    assert " - fuse.cntrfs %s " % dirs["src"] in lines[0] and "ro," in lines[0] and "noatime" in lines[0], out
    assert lines[1] == "via the installed helper", out
    st = os.stat(installed)
    assert "server exe %d:%d" % (st.st_dev, st.st_ino) in lines, (out, st.st_dev, st.st_ino)
    assert lines[-1] == "server gone", out
    assert H.mount_at(dirs["mnt"]) is None  # it never was, outside the namespace
