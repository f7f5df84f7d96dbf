#!/bin/bash
# Podman test containers (Debian's podman 4.3, rootful, daemonless), without systemd.
#
#   podman.sh start          install podman and runc, run cntr-test-podman
#   podman.sh start-userns   cntr-test-podman-userns with --uidmap/--gidmap 0:1179648:65536
#   podman.sh stopped        create cntr-test-podman-stopped (exists, never started)
#   podman.sh pid | pid-userns
#   podman.sh stop           remove the test containers, empty libpod cgroups and, once no podman
#                            container is left, the storage bind mount podman keeps
#   podman.sh purge          stop, then remove the image
#
# Flags this machine needs: --runtime runc (crun rejects a cgroup v1/v2 hybrid with hugetlb on
# v2), --cgroup-manager cgroupfs (no systemd), explicit --ulimit values (podman asks for nofile
# and nproc limits above the sandbox's hard limits, and there is no CAP_SYS_RESOURCE), and
# --network=none (no CNI bridge).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs --events-backend=file)
IMAGE=localhost/cntr-test/busybox:latest
NAME=cntr-test-podman

limits() {  # the rlimits we may set: at most our hard limits, nproc at most podman's 32768
	local nofile nproc
	nofile=$(ulimit -Hn)
	[ "$nofile" = unlimited ] && nofile=1048576
	nproc=$(ulimit -Hu)
	if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
	echo "--ulimit=nofile=$nofile:$nofile --ulimit=nproc=$nproc:$nproc"
}

running_pid() {
	local p
	p=$("${PODMAN[@]}" inspect -f '{{if .State.Running}}{{.State.Pid}}{{end}}' "$1" 2>/dev/null) || return 1
	[ -n "$p" ] && [ "$p" != 0 ] && echo "$p"
}

ensure_image() {
	"${PODMAN[@]}" image exists "$IMAGE" && return 0
	"${PODMAN[@]}" import --quiet --change 'CMD ["/sbin/cntr-test-init"]' "$(rootfs_tar)" "$IMAGE" >/dev/null
}

run_container() {  # run_container NAME EXTRA_ARGS...
	local name=$1
	shift
	ensure_image
	if ! running_pid "$name" >/dev/null; then
		"${PODMAN[@]}" rm -f --ignore --time 0 "$name" >/dev/null 2>&1 || true
		# shellcheck disable=SC2046
		"${PODMAN[@]}" run -d --name "$name" --hostname "$name" --network=none $(limits) "$@" \
			"$IMAGE" >/dev/null
		wait_until 20 running_pid "$name" || die "container $name does not run"
	fi
	report "$(running_pid "$name")"
}

stop_all() {
	local n
	# One name per call: podman rm gives up on all of them when one is missing.
	for n in "$NAME" "$NAME-userns" "$NAME-stopped"; do
		"${PODMAN[@]}" rm -f --ignore --time 0 "$n" >/dev/null 2>&1 || true
	done
	[ -n "$("${PODMAN[@]}" ps -q 2>/dev/null)" ] || rmdir_cgroups libpod_parent
	[ -n "$("${PODMAN[@]}" ps -aq 2>/dev/null)" ] || umount_under /var/lib/containers/storage/overlay
}

case "${1:-start}" in
start) apt_install podman runc busybox-static; run_container "$NAME" ;;
start-userns)
	apt_install podman runc busybox-static
	run_container "$NAME-userns" --uidmap 0:1179648:65536 --gidmap 0:1179648:65536
	;;
stopped)
	apt_install podman runc busybox-static
	ensure_image
	"${PODMAN[@]}" container exists "$NAME-stopped" ||
		"${PODMAN[@]}" create --name "$NAME-stopped" --network=none $(limits) "$IMAGE" >/dev/null
	echo "$NAME-stopped"
	;;
pid) running_pid "$NAME" ;;
pid-userns) running_pid "$NAME-userns" ;;
stop) command -v podman >/dev/null || exit 0; stop_all ;;
purge)
	command -v podman >/dev/null || exit 0
	stop_all
	"${PODMAN[@]}" rmi -f "$IMAGE" >/dev/null 2>&1 || true
	umount_under /var/lib/containers/storage/overlay
	;;
*) echo "usage: $0 start|start-userns|stopped|pid|pid-userns|stop|purge" >&2; exit 2 ;;
esac
