#!/bin/bash
# LXC test containers (Debian's lxc 5.0, no daemon), in the default lxcpath /var/lib/lxc.
#
#   lxc.sh start          install lxc, write and start cntr-test-lxc (privileged, own empty netns)
#   lxc.sh start-userns   cntr-test-lxc-userns: started by root, ids mapped 0 -> 1114112 (65536)
#   lxc.sh stopped        write cntr-test-lxc-stopped, never started
#   lxc.sh pid | pid-userns
#   lxc.sh stop | purge   stop and destroy the test containers, drop empty lxc cgroups
#
# The config is written by hand: Debian's default.conf wants a veth on lxcbr0 (absent) and an
# AppArmor profile (no AppArmor here). Once the uidmap package is installed (lxd brings it),
# liblxc maps ids with newuidmap even for root, so root needs the range in /etc/sub[ug]id.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LXCPATH=/var/lib/lxc
NAME=cntr-test-lxc
USER_BASE=1114112

state() { lxc-info -P "$LXCPATH" -n "$1" -s -H 2>/dev/null; }
running_pid() {
	[ "$(state "$1")" = RUNNING ] || return 1
	local p
	p=$(lxc-info -P "$LXCPATH" -n "$1" -p -H 2>/dev/null) && [ -n "$p" ] && echo "$p"
}

write_container() {  # write_container NAME userns|plain
	local dir=$LXCPATH/$1
	rm -rf "$dir"
	mkdir -p "$dir"
	"$HERE/busybox-rootfs.sh" --dir "$dir/rootfs" >/dev/null
	{
		echo "lxc.include = /usr/share/lxc/config/common.conf"
		if [ "$2" = userns ]; then
			echo "lxc.include = /usr/share/lxc/config/userns.conf"
			echo "lxc.idmap = u 0 $USER_BASE 65536"
			echo "lxc.idmap = g 0 $USER_BASE 65536"
		fi
		echo "lxc.arch = linux64"
		echo "lxc.uts.name = $1"
		echo "lxc.rootfs.path = dir:$dir/rootfs"
		echo "lxc.net.0.type = empty"
		echo "lxc.apparmor.profile = unconfined"
		echo "lxc.init.cmd = /sbin/cntr-test-init"
		echo "lxc.signal.halt = SIGTERM"
		echo "lxc.log.file = $LOGS/lxc-$1.log"
		echo "lxc.log.level = WARN"
	} >"$dir/config"
	if [ "$2" = userns ]; then chown -R -h "$USER_BASE:$USER_BASE" "$dir/rootfs"; fi
}

subids() {
	local f
	for f in /etc/subuid /etc/subgid; do
		grep -qx "root:$USER_BASE:65536" "$f" 2>/dev/null || echo "root:$USER_BASE:65536" >>"$f"
	done
}

run_container() {  # run_container NAME userns|plain
	if ! running_pid "$1" >/dev/null; then
		lxc-stop -P "$LXCPATH" -n "$1" -k >/dev/null 2>&1 || true
		write_container "$1" "$2"
		lxc-start -P "$LXCPATH" -n "$1" -d ||
			{ tail -n 20 "$LOGS/lxc-$1.log" >&2; die "lxc-start $1 failed"; }
		wait_until 20 running_pid "$1" || die "container $1 does not run"
	fi
	report "$(running_pid "$1")"
}

stop_all() {
	local n
	for n in "$NAME" "$NAME-userns" "$NAME-stopped"; do
		[ -e "$LXCPATH/$n/config" ] || continue
		lxc-stop -P "$LXCPATH" -n "$n" -k >/dev/null 2>&1 || true
		lxc-destroy -P "$LXCPATH" -n "$n" >/dev/null 2>&1 || rm -rf "${LXCPATH:?}/$n"
	done
	[ -n "$(lxc-ls -P "$LXCPATH" --running 2>/dev/null)" ] || rmdir_cgroups lxc.pivot
}

prepare() { apt_install lxc busybox-static; mkdir -p "$LXCPATH"; }

case "${1:-start}" in
start) prepare; run_container "$NAME" plain ;;
start-userns) prepare; subids; run_container "$NAME-userns" userns ;;
stopped)
	prepare
	[ -e "$LXCPATH/$NAME-stopped/config" ] || write_container "$NAME-stopped" plain
	echo "$NAME-stopped"
	;;
pid) running_pid "$NAME" ;;
pid-userns) running_pid "$NAME-userns" ;;
stop | purge) command -v lxc-stop >/dev/null || exit 0; stop_all ;;
*) echo "usage: $0 start|start-userns|stopped|pid|pid-userns|stop|purge" >&2; exit 2 ;;
esac
