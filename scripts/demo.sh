#!/bin/sh
# Builds cntr and shows CntrFS serving a directory through FUSE.
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh
install_pkgs $BUILD_DEPS fuse3
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

demo=$(mktemp -d /tmp/cntr-demo.XXXXXX)
cleanup() {
	umount "$demo/mnt" 2>/dev/null || true
	rm -rf "$demo"
}
trap cleanup EXIT INT TERM
mkdir "$demo/src" "$demo/mnt"
echo "hello from the backing directory" >"$demo/src/greeting"

echo "+ cntr mount $demo/src $demo/mnt"
build/cntr mount "$demo/src" "$demo/mnt"
echo "+ grep fuse.cntrfs /proc/self/mountinfo"
grep " $demo/mnt " /proc/self/mountinfo
echo "+ cat $demo/mnt/greeting"
cat "$demo/mnt/greeting"
echo "+ echo written through CntrFS > $demo/mnt/reply; cat $demo/src/reply"
echo "written through CntrFS" >"$demo/mnt/reply"
cat "$demo/src/reply"
echo "+ stat -c '%i %s %U' (inode numbers are the backing file's)"
stat -c '%n: inode %i, %s bytes, owner %U' "$demo/src/greeting" "$demo/mnt/greeting"
echo "+ umount $demo/mnt"
umount "$demo/mnt"
echo "demo ok"
