"""Checks that a cntr session writes nothing it was not asked to, on the host or in the container.

    host = HostChanges(ignore=[scratch]).start()
    ctr = TreeSnapshot("/proc/%d/root" % pid)     # the container's root as it sees it
    ... run the session ...
    assert host.changes() == []
    assert ctr.diff() == {}                        # or the session's own writes

HostChanges: `find / -xdev` for anything whose mtime or ctime is newer than a stamp file made
at start() (created, written, chmod/chown/xattr changes; a removal shows as its directory's
change). Not searched: the pseudo filesystems' mount points (/proc, /sys, /dev, /run), the
directories every other job on a shared machine writes into (/tmp, /var/tmp, /var/log), the
directory holding this source tree and anything inside a source checkout (a directory with
.git: other checkouts build while the tests run), /srv (the test suites' scratch directories,
where the slim containers live: TreeSnapshot covers them), and the
prefixes in `ignore` and in $CNTR_IT_UNTOUCHED_IGNORE (colon-separated): on a machine where
other people or jobs change files elsewhere (an apt install in /usr), list those there, or the
check reports them. Each directory in
`watch` (cntr's TMPDIR, its working directory: they may be under an unsearched one) must keep
its mtime and ctime and gain no entry: a helper file created and removed again there shows.

TreeSnapshot: every path under a root, crossing mounts (so a container's private mounts, seen
through /proc/PID/root, are in), but not into proc or sysfs: type, mode, owner, size, mtime,
ctime, atime (but a directory's: listing it here moves it) and every extended attribute. A
file's or symbolic link's atime moves when anything reads it (nothing is read or followed
here, and a freshly written file's atime is not after its mtime, so relatime moves it).
"""

import os
import stat
import subprocess
import tempfile

import cntr_helpers as H

PRUNE = ("/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp", "/var/log",
         os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SCRATCH = ("/srv/",)  # test suites' scratch (conftest base_dir, binary copies), and others'
PSEUDO_FS = {"proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "bpf",
             "fusectl", "configfs", "pstore", "efivarfs"}


class HostChanges:
    def __init__(self, ignore=(), watch=()):
        env = [p for p in os.environ.get("CNTR_IT_UNTOUCHED_IGNORE", "").split(":") if p]
        self.prune = tuple(p.rstrip("/") or "/" for p in PRUNE + tuple(ignore) + tuple(env))
        self.watch = list(watch)
        self.watched = {}
        self.stamp_dir = None
        self.stamp = None

    def start(self):
        for d in self.watch:
            st = os.stat(d)
            self.watched[d] = (st.st_mtime_ns, st.st_ctime_ns, sorted(os.listdir(d)))
        # The stamp lives in a directory that is not searched: it must not report itself.
        self.stamp_dir = tempfile.mkdtemp(prefix="cntr-it-stamp-", dir="/run")
        self.stamp = os.path.join(self.stamp_dir, "stamp")
        with open(self.stamp, "w"):
            pass
        return self

    def changes(self):
        """Paths changed since start(), as "path" or "path (watched: what)"; removes the stamp."""
        prune = []
        for p in self.prune:
            prune += ["-path", p, "-o"]
        argv = (["find", "/", "-xdev", "("] + prune[:-1] + [")", "-prune", "-o", "(", "-newer", self.stamp,
                "-o", "-cnewer", self.stamp, ")", "-print0"])
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        os.unlink(self.stamp)
        os.rmdir(self.stamp_dir)
        # find's complaints are about files that vanished under it: other jobs' temp files.
        found = [x.decode(errors="replace") for x in p.stdout.split(b"\0") if x]
        res = sorted(x for x in found if not x.startswith(SCRATCH) and x != "/srv" and not _in_checkout(x))
        for d, (mtime, ctime, names) in self.watched.items():
            st = os.stat(d)
            now = sorted(os.listdir(d))
            if (st.st_mtime_ns, st.st_ctime_ns, now) != (mtime, ctime, names):
                res.append("%s (watched: entries %r -> %r, mtime/ctime moved: %s)" % (
                    d, names, now, (st.st_mtime_ns, st.st_ctime_ns) != (mtime, ctime)))
        return res


def _in_checkout(path):
    """Whether path is in a source checkout (a directory with .git): other checkouts on the
    machine build while the tests run (a CI run in /tmp, worktrees next to this one)."""
    d = os.path.dirname(path) if not os.path.isdir(path) else path
    while d not in ("/", ""):
        if os.path.exists(os.path.join(d, ".git")):
            return True
        d = os.path.dirname(d)
    return False


def _pseudo_mounts(root):
    """Mount points (relative to root) of proc, sysfs and the like in the mount table of the
    process whose root root is (/proc/PID/root), or of ours."""
    parts = root.split("/")
    table = "/proc/%s/mountinfo" % parts[2] if root.startswith("/proc/") else "/proc/self/mountinfo"
    with open(table) as f:
        return {m["mountpoint"] for m in H.mounts(f.read()) if m["fstype"] in PSEUDO_FS}


def _rel(path, root):
    rel = os.path.relpath(path, root)
    return "/" if rel == "." else "/" + rel


def _walk(root, skip):
    """(directory, [entry names]) for root and every directory below it, never following a
    symbolic link (reading one moves its atime on a strictatime mount, as docker's /dev is)."""
    todo = [root]
    while todo:
        d = todo.pop()
        with os.scandir(d) as it:
            entries = list(it)
        yield d, [e.name for e in entries]
        for e in entries:
            if e.is_dir(follow_symlinks=False) and _rel(e.path, root) not in skip:
                todo.append(e.path)


class TreeSnapshot:
    def __init__(self, root):
        self.root = root
        self.skip = _pseudo_mounts(root)
        self.before = self.take()

    def take(self):
        res = {}
        for dirpath, names in _walk(self.root, self.skip):
            for p in [dirpath] + [os.path.join(dirpath, n) for n in names]:
                if _rel(p, self.root) in self.skip:  # the kernel's, not the container's
                    continue
                try:
                    # The root itself may be /proc/PID/root, a link to the directory.
                    st = os.stat(p) if p == dirpath == self.root else os.lstat(p)
                    try:
                        xattrs = {n: os.getxattr(p, n, follow_symlinks=False)
                                  for n in os.listxattr(p, follow_symlinks=False)}
                    except OSError:
                        xattrs = None
                except FileNotFoundError:
                    continue
                res[_rel(p, self.root)] = {
                    "mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size,
                    "mtime": st.st_mtime_ns, "ctime": st.st_ctime_ns, "atime": st.st_atime_ns, "xattrs": xattrs}
        return res

    def diff(self):
        """{path: what changed} since the snapshot: "created", "removed" or the changed fields."""
        now = self.take()
        res = {}
        for p in set(self.before) | set(now):
            a, b = self.before.get(p), now.get(p)
            if a is None:
                res[p] = "created"
            elif b is None:
                res[p] = "removed"
            else:
                fields = sorted(k for k in a if a[k] != b[k])
                if stat.S_ISDIR(int(b["mode"], 8)) and "atime" in fields:
                    # take() itself lists every directory: under relatime after its mtime moved,
                    # under strictatime (docker's /dev) always.
                    fields.remove("atime")
                if fields:
                    res[p] = fields
        return res
