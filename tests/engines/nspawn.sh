#!/bin/bash
# systemd-nspawn test machines (Debian's systemd-container 252) on a host whose PID 1 is not
# systemd: no machined, no D-Bus, so nspawn runs with --register=no --keep-unit.
#
#   nspawn.sh start          install systemd-container, run machine cntr-test-nspawn from
#                            /var/lib/machines/cntr-test-nspawn in the background
#   nspawn.sh start-userns   cntr-test-nspawn-userns with --private-users=1048576:65536 (nspawn
#                            wants the base a multiple of 65536) and ownership chowned to match
#   nspawn.sh stopped        /var/lib/machines/cntr-test-nspawn-stopped: an image that is not running
#   nspawn.sh pid | pid-userns   the machine's PID 1: the systemd-nspawn process's child
#   nspawn.sh stop | purge   TERM the machines' init (nspawn then exits), remove the images,
#                            their cgroups and nspawn's /run/systemd/nspawn leftovers
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MACHINES=/var/lib/machines
NAME=cntr-test-nspawn

# Each machine gets its own cgroup, so nspawn's payload/ and supervisor/ cgroups are per machine.
cgroups() {
	local h
	for h in unified systemd; do
		mountpoint -q "/sys/fs/cgroup/$h" && echo "/sys/fs/cgroup/$h/$1"
	done
	return 0
}

nspawn_pid() {  # nspawn_pid NAME: our systemd-nspawn process for the machine
	local p
	p=$(cat "$STATE/nspawn-$1.pid" 2>/dev/null) || return 1
	alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- " -M $1 " && echo "$p"
}

running_pid() {  # the child of nspawn that shows the test image
	local np c
	np=$(nspawn_pid "$1") || return 1
	for c in $(cat "/proc/$np/task/$np/children" 2>/dev/null); do
		if [ "$(readlink "/proc/$c/ns/pid")" != "$(readlink "/proc/$np/ns/pid")" ] && shows_rootfs "$c"; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

run_machine() {  # run_machine NAME NSPAWN_ARGS...
	local name=$1 dir=$MACHINES/$1 d
	shift
	if ! running_pid "$name" >/dev/null; then
		stop_machine "$name"
		"$HERE/busybox-rootfs.sh" --dir "$dir" >/dev/null
		for d in $(cgroups "$name"); do mkdir -p "$d"; done
		(
			for d in $(cgroups "$name"); do echo "$BASHPID" >"$d/cgroup.procs"; done
			exec setsid systemd-nspawn --quiet --register=no --keep-unit --console=pipe \
				--private-network -M "$name" -D "$dir" "$@" /sbin/cntr-test-init \
				</dev/null >>"$LOGS/nspawn-$name.log" 2>&1
		) &
		echo $! >"$STATE/nspawn-$name.pid"
		wait_until 30 running_pid "$name" ||
			{ tail -n 5 "$LOGS/nspawn-$name.log" >&2; die "machine $name did not start"; }
	fi
	report "$(running_pid "$name")"
}

stop_machine() {
	local name=$1 np c d
	np=$(nspawn_pid "$name" || true)
	if [ -n "$np" ]; then
		c=$(running_pid "$name" || true)
		# Our init exits on TERM and nspawn follows; TERM to nspawn itself SIGKILLs the payload.
		[ -n "$c" ] && kill -TERM "$c" 2>/dev/null
		wait_until 5 dead "$np" || stop_pid "$np" 10
	fi
	rm -f "$STATE/nspawn-$name.pid"
	umount_under "/run/systemd/nspawn/propagate/$name"
	rm -rf "/run/systemd/nspawn/propagate/$name" "/run/systemd/nspawn/unix-export/$name"
	umount_under "$MACHINES/$name"
	rm -rf "${MACHINES:?}/$name"
	for d in $(cgroups "$name"); do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}

prepare() { apt_install systemd-container busybox-static; mkdir -p "$MACHINES"; }

case "${1:-start}" in
start) prepare; run_machine "$NAME" ;;
start-userns)
	prepare
	run_machine "$NAME-userns" --private-users=1048576:65536 --private-users-ownership=chown
	;;
stopped)
	prepare
	[ -e "$MACHINES/$NAME-stopped/$MARKER" ] ||
		"$HERE/busybox-rootfs.sh" --dir "$MACHINES/$NAME-stopped" >/dev/null
	echo "$NAME-stopped"
	;;
pid) running_pid "$NAME" ;;
pid-userns) running_pid "$NAME-userns" ;;
stop | purge) stop_machine "$NAME"; stop_machine "$NAME-userns"; stop_machine "$NAME-stopped" ;;
*) echo "usage: $0 start|start-userns|stopped|pid|pid-userns|stop|purge" >&2; exit 2 ;;
esac
