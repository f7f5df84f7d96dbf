#!/bin/sh
# Builds cntr, starts a slim container (busybox only, in its own namespaces, no
# engine needed) and attaches to it with this host's tools.
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh
install_pkgs $BUILD_DEPS busybox-static util-linux procps
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

demo=$(mktemp -d /tmp/cntr-demo.XXXXXX)
shim=""
cleanup() {
	[ -n "$shim" ] && kill -9 "$shim" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$demo"
}
trap cleanup EXIT INT TERM

# The slim image: a static busybox and one application file, nothing else.
root="$demo/rootfs"
mkdir -p "$root/bin" "$root/proc" "$root/dev" "$root/etc" "$root/app"
cp /bin/busybox "$root/bin/"
for a in sh sleep hostname ls cat; do ln -s busybox "$root/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "state of the slim application" >"$root/app/data.txt"

# Start it: new mount, pid, uts, ipc, net and cgroup namespaces, chrooted.
unshare --mount --pid --uts --ipc --net --cgroup --fork --kill-child sh -c "
	mount --make-rprivate /
	hostname slim-demo
	mount -t proc proc '$root/proc'
	exec chroot '$root' /bin/sleep 100000" &
shim=$!
pid=""
for _ in $(seq 50); do
	pid=$(cat "/proc/$shim/task/$shim/children" 2>/dev/null | awk '{print $1}')
	# Started once it has chrooted into its image.
	[ -n "$pid" ] && [ "$(readlink "/proc/$pid/root")" = "$root" ] && break
	pid=""
	sleep 0.1
done
[ -n "$pid" ] || { echo "the demo container did not start" >&2; exit 1; }
echo "slim container running as pid $pid; its /bin holds: $(ls "$root/bin" | tr '\n' ' ')"
before=$(cat "/proc/$pid/mountinfo")

echo "+ cntr attach $pid -- <commands>"
build/cntr attach "$pid" -- /bin/sh -c '
	echo "hostname:            $(hostname)"
	echo "container root:      $(ls /var/lib/cntr | tr "\n" " ")"
	echo "container file:      $(cat /var/lib/cntr/app/data.txt)"
	echo "host tool inside:    $(stat --version | head -1)"
	echo "processes seen:      $(ls /proc | grep -c "^[0-9]") (the container pid namespace)"
	echo "my pid in container: $$"
	echo "/ is served by:      $(grep " / / " /proc/self/mountinfo | tail -1 | sed "s/.* - //" | cut -d" " -f1)"
'
after=$(cat "/proc/$pid/mountinfo")
if [ "$before" = "$after" ]; then
	echo "the container's own mount table is unchanged: it never saw the session"
else
	echo "the container's mount table changed" >&2
	exit 1
fi
echo "demo ok"
