"""Slim containers for the attach/exec tests, made without any engine.

A container is a busybox-static root filesystem, a process started in new
namespaces (mnt, uts, ipc, net, pid, cgroup, time, and optionally user with a
shifted id map) that chroots into it and sleeps. Its time namespace moves the
monotonic and boot-time clocks TIME_OFFSET seconds ahead, so a process in it is
told apart from one outside by its clocks as well as by its ns link. Usable from pytest
(`SlimContainer`) and from the command line:

    python3 slimctr.py start DIR [--userns] [--no-proc] [--no-dev] [--readonly]
                                 [--docker-caps] [--user UID[:GID]]
    python3 slimctr.py stop PID

By default the init is root with every capability. --docker-caps (caps="docker")
limits its bounding, permitted and effective sets to docker's 14 default
capabilities (the hostile-container tests' "root with docker's default caps");
--user (user=(uid, gid)) makes it run as that user with no capabilities and no
supplementary groups. `env` adds variables to the init's environment, `ptmx`
replaces /dev/ptmx (see SlimContainer).
"""

import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import time

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

BUSYBOX = "/bin/busybox"
APPLETS = ["sh", "sleep", "ls", "cat", "echo", "id", "ps", "hostname", "readlink", "stat",
           "touch", "test", "true", "false", "env", "printf", "grep", "wc", "head", "kill"]

# Docker's default capability set (moby's oci/caps/defaults.go), as capability numbers.
DOCKER_CAPS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
               "SETUID": 7, "SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_RAW": 13, "SYS_CHROOT": 18,
               "MKNOD": 27, "AUDIT_WRITE": 29, "SETFCAP": 31}
DOCKER_CAPS_MASK = sum(1 << n for n in DOCKER_CAPS.values())  # 0xa80425fb, docker's CapEff
PR_CAPBSET_DROP = 24
PR_SET_DUMPABLE = 4

# The namespaces every slim container has of its own (user only with userns=True).
NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "uts")
# Seconds the container's monotonic and boot-time clocks are ahead of the host's.
TIME_OFFSET = 10 * 86400

# The id map of user-namespaced containers: container root is host uid 100000.
USERNS_BASE = 100000
USERNS_COUNT = 65536


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def _mount(src, dst, fstype, flags=0, data=None):
    _check(libc.mount(src.encode() if src else None, dst.encode(),
                      fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                      data.encode() if data else None), "mount %s" % dst)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def limit_caps(mask):
    """Drops every capability outside mask from the bounding set, and sets the
    permitted and effective sets to mask (inheritable empty)."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        if not mask & (1 << cap):
            _check(libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), ctypes.c_ulong(0), ctypes.c_ulong(0),
                              ctypes.c_ulong(0)), "drop capability %d from the bounding set" % cap)
    hdr = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    for i in range(2):
        data[i].effective = data[i].permitted = (mask >> (32 * i)) & 0xffffffff
    _check(libc.capset(ctypes.byref(hdr), data), "capset")


def make_rootfs(root, owner=0):
    """A busybox root with /etc files, a marker file and empty proc/dev/sys/tmp."""
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "root"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    for applet in APPLETS:
        link = os.path.join(root, "bin", applet)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    files = {
        "etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n",
        "etc/group": "root:x:0:\napp:x:1000:\n",
        "etc/hostname": "slim\n",
        "etc/hosts": "127.0.0.1 localhost slim-hosts-marker\n",
        "etc/resolv.conf": "nameserver 127.0.0.53\n# slim-resolv-marker\n",
        "marker": "slim-container-marker\n",
    }
    for name, text in files.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    if owner:
        for dirpath, dirnames, filenames in os.walk(root):
            for n in [dirpath] + [os.path.join(dirpath, x) for x in dirnames + filenames]:
                os.lchown(n, owner, owner)


def _container_init(root, opts, ready_w):
    """Runs as the container's pid 1: mounts, chroot, then sleep."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    if opts.get("proc", True):
        _mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if opts.get("dev", True):
        dev = os.path.join(root, "dev")
        _mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755")
        os.mkdir(os.path.join(dev, "pts"))
        _mount("devpts", os.path.join(dev, "pts"), "devpts", MS_NOSUID | MS_NOEXEC,
               "newinstance,ptmxmode=0666,mode=620")
        ptmx = opts.get("ptmx")
        path = os.path.join(dev, "ptmx")
        if ptmx is None:
            os.symlink("pts/ptmx", path)
        elif ptmx == "fifo":
            os.mkfifo(path, 0o666)
        elif ptmx == "file":
            with open(path, "w") as f:
                f.write("not a ptmx\n")
        elif ptmx.startswith("symlink:"):
            os.symlink(ptmx[len("symlink:"):], path)
        else:
            raise ValueError("ptmx=%r" % (ptmx,))
        open(os.path.join(dev, "null"), "w").close()
        _mount("/dev/null", os.path.join(dev, "null"), None, MS_BIND)
    if opts.get("readonly"):
        _mount(root, root, None, MS_BIND | MS_REC)
        _mount(None, root, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    libc.sethostname(b"slim", 4)
    os.chroot(root)
    os.chdir("/")
    if opts.get("caps") is not None:
        limit_caps(DOCKER_CAPS_MASK if opts["caps"] == "docker" else opts["caps"])
    if opts.get("user") is not None:
        uid, gid = opts["user"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)  # clears the permitted and effective sets
    os.write(ready_w, b"r")
    os.close(ready_w)
    env = {"PATH": "/bin", "HOME": "/root", "CONTAINER_MARKER": "slim-env"}
    env.update(opts.get("env") or {})
    os.execve("/bin/sleep", ["sleep", "100000"], env)


class SlimContainer:
    """A running slim container; .pid is its init process as the host sees it."""

    def __init__(self, root, userns=False, proc=True, dev=True, readonly=False, make=True, caps=None,
                 user=None, env=None, ptmx=None):
        """caps: None (all), "docker" (docker's default set) or a bit mask; user: None (root)
        or (uid, gid) for an unprivileged init; env: extra variables of the init; ptmx: None
        (/dev/ptmx -> pts/ptmx), "fifo", "file" or "symlink:TARGET" (a hostile /dev/ptmx)."""
        self.root = root
        self.userns = userns
        self.opts = {"proc": proc, "dev": dev, "readonly": readonly, "caps": caps, "user": user, "env": env,
                     "ptmx": ptmx}
        if make:
            make_rootfs(root, owner=USERNS_BASE if userns else 0)
        self.pid = None
        self._outer = None

    def start(self):
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ready_r)
                os.close(go_w)
                if self.userns:
                    _check(libc.unshare(CLONE_NEWUSER), "unshare user")
                    os.write(ready_w, b"u")
                    os.read(go_r, 1)  # the parent wrote our id maps
                    os.setresgid(0, 0, 0)
                    os.setresuid(0, 0, 0)
                    # The id change made us undumpable, which gives /proc/self to host root, whom
                    # the namespace does not map: timens_offsets below would be out of reach.
                    _check(libc.prctl(PR_SET_DUMPABLE, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0),
                                      ctypes.c_ulong(0)), "set dumpable")
                flags = (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP
                         | CLONE_NEWTIME)
                _check(libc.unshare(flags), "unshare")
                # Only the children enter the new time (like pid) namespace; its offsets can be
                # set only before the first of them does.
                with open("/proc/self/timens_offsets", "w") as f:
                    f.write("monotonic %d 0\nboottime %d 0\n" % (TIME_OFFSET, TIME_OFFSET))
                child = os.fork()
                if child == 0:
                    _container_init(self.root, self.opts, ready_w)
                os.close(ready_w)
                # Stay as the parent of the pid namespace's init, like engines' shims.
                _, status = os.waitpid(child, 0)
                os._exit(0)
            except BaseException as e:  # noqa: BLE001 - report and die in the child
                sys.stderr.write("slimctr: %s\n" % e)
                os._exit(1)
        os.close(ready_w)
        os.close(go_r)
        self._outer = pid
        if self.userns:
            if os.read(ready_r, 1) != b"u":
                raise RuntimeError("container failed to create its user namespace")
            for f in ("uid_map", "gid_map"):
                with open("/proc/%d/%s" % (pid, f), "w") as m:
                    m.write("0 %d %d\n" % (USERNS_BASE, USERNS_COUNT))
            os.write(go_w, b"g")
        os.close(go_w)
        got = os.read(ready_r, 1)
        os.close(ready_r)
        if got != b"r":
            raise RuntimeError("container failed to start")
        self.pid = self._find_init()
        return self

    def _find_init(self):
        """The container's pid 1 is the only child of the process we forked."""
        deadline = time.time() + 5
        path = "/proc/%d/task/%d/children" % (self._outer, self._outer)
        while time.time() < deadline:
            with open(path) as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
            time.sleep(0.02)
        raise RuntimeError("container init not found")

    def stop(self):
        for p in (self.pid, self._outer):
            if p:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._outer:
            try:
                os.waitpid(self._outer, 0)
            except ChildProcessError:
                pass
        self.pid = self._outer = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    if len(argv) >= 3 and argv[1] == "start":
        user = None
        if "--user" in argv:
            ids = argv[argv.index("--user") + 1].split(":")
            user = (int(ids[0]), int(ids[-1]))
        c = SlimContainer(argv[2], userns="--userns" in argv, proc="--no-proc" not in argv,
                          dev="--no-dev" not in argv, readonly="--readonly" in argv,
                          caps="docker" if "--docker-caps" in argv else None, user=user)
        c.start()
        print(c.pid, flush=True)
        # Keep the container's parent alive until stopped.
        signal.signal(signal.SIGTERM, lambda *a: (c.stop(), sys.exit(0)))
        while True:
            signal.pause()
    if len(argv) == 3 and argv[1] == "stop":
        os.kill(int(argv[2]), signal.SIGKILL)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
