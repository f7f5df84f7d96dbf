# Shared helpers for the engine scripts (sourced, bash). Every wait is bounded.
#
# Conventions: state (pidfiles, sockets, "we started it" markers) in /run/cntr-test, logs in
# /var/log/cntr-test, data in /var/lib/cntr-test. A script's last line of output on `start*`
# is the container's host pid. Exit status 77 means the engine cannot run on this machine
# (its packages cannot be installed); the message says why.

STATE=/run/cntr-test
LOGS=/var/log/cntr-test
DATA=/var/lib/cntr-test
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOTFS_TAR=$DATA/busybox-rootfs.tar
MARKER=etc/cntr-test-rootfs
CANNOT_RUN=77

log() { echo "[$(basename "$0")] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
cannot_run() { log "CANNOT RUN: $*"; exit $CANNOT_RUN; }

# apt_install PKG...: installs the missing ones (no recommends). A failed install is retried
# once after `apt-get update`; if that fails too, the engine cannot run here.
apt_install() {
	local missing=() p apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
	mkdir -p "$LOGS"
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >>"$LOGS/apt.log" 2>&1; then
		"${apt[@]}" update >>"$LOGS/apt.log" 2>&1 || true
		"${apt[@]}" install --no-install-recommends "${missing[@]}" >>"$LOGS/apt.log" 2>&1 ||
			cannot_run "apt-get install ${missing[*]} failed: $(grep -E '^E:' "$LOGS/apt.log" | tail -n1)"
	fi
}

# wait_until SECONDS CMD...: polls CMD every 0.2 s; false when time runs out.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
dead() { ! alive "$1"; }

# stop_pid PID [SECONDS]: TERM, then KILL if it is still there.
stop_pid() {
	alive "${1:-}" || return 0
	kill -TERM "$1" 2>/dev/null || true
	wait_until "${2:-30}" dead "$1" && return 0
	log "pid $1 ignored TERM: KILL"
	kill -KILL "$1" 2>/dev/null || true
	wait_until 5 dead "$1" || true
}

# umount_under DIR: lazily unmounts DIR and everything below it, deepest first.
umount_under() {
	awk -v p="$1" '$5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# rmdir_cgroups NAME: removes the empty cgroup NAME (and its empty children) everywhere.
rmdir_cgroups() {
	local d
	for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}

# rootfs_tar: the busybox image as a tarball, built once.
rootfs_tar() {
	[ -f "$ROOTFS_TAR" ] || "$HERE/busybox-rootfs.sh" "$ROOTFS_TAR" >/dev/null
	echo "$ROOTFS_TAR"
}

# shows_rootfs PID: the process sees the test image at / (not the host's root).
shows_rootfs() { nsenter -t "$1" -m cat "/$MARKER" >/dev/null 2>&1; }

# report PID: the last line of every start: the pid, once it shows the test image.
report() {
	[ -n "${1:-}" ] || die "no pid"
	wait_until 10 shows_rootfs "$1" || die "pid $1 does not show the test rootfs"
	echo "$1"
}

mkdir -p "$STATE" "$LOGS" "$DATA"
