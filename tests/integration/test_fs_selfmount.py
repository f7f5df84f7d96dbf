"""A mount placed inside its own source must not serve itself through itself."""

import errno
import os
import subprocess
import tempfile

import cntr_helpers as H


def test_mountpoint_inside_source_is_refused_not_recursed():
    src = tempfile.mkdtemp(prefix="cntr-self-")
    mnt = os.path.join(src, "mnt")
    os.mkdir(mnt)
    with open(os.path.join(src, "file"), "w") as f:
        f.write("x")
    p = subprocess.run([H.cntr_bin(), "mount", src, mnt], timeout=20)
    assert p.returncode == 0
    try:
        # A child bounded in time: a recursing server would hang here.
        code = subprocess.run(["timeout", "10", "ls", os.path.join(mnt, "mnt")],
                              capture_output=True).returncode
        assert code != 124, "lookup of the mount point through itself hung"
        try:
            os.stat(os.path.join(mnt, "mnt"))
            raise AssertionError("the mount was served through itself")
        except OSError as e:
            assert e.errno == errno.ELOOP
        assert sorted(os.listdir(mnt)) == ["file", "mnt"]
    finally:
        subprocess.run(["umount", mnt], timeout=20)
        subprocess.run(["rm", "-rf", src])
