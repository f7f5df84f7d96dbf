#!/bin/bash
# LXD test containers (Debian's lxd 5.0), with the daemon started by hand (no systemd) and
# no network at all.
#
#   lxd.sh start          install lxd, start it if it does not answer, preseed it once (a "dir"
#                         storage pool, no networks, a default profile with only the root disk),
#                         import the busybox image, launch cntr-test-lxd (security.privileged)
#   lxd.sh start-userns   cntr-test-lxd-userns: LXD's default, unprivileged (ids from root's
#                         /etc/subuid range, which the lxd package adds)
#   lxd.sh stopped        cntr-test-lxd-stopped: created with `lxc init`, never started
#   lxd.sh pid | pid-userns
#   lxd.sh stop           delete the test instances; `lxd shutdown` if this script started lxd and
#                         nothing else is left; unmount what lxd may leave mounted
#   lxd.sh purge          stop, then delete the image
#
# lxd fetches instance types from images.linuxcontainers.org when it starts; the proxy variables
# point at a closed local port so that this fails at once, without DNS or traffic.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALIAS=cntr-test-busybox
NAME=cntr-test-lxd
SOCK=/var/lib/lxd/unix.socket

answers() { [ -S "$SOCK" ] && lxd waitready --timeout 1 >/dev/null 2>&1; }

start_daemon() {
	answers && return 0
	local old
	old=$(cat "$STATE/lxd.pid" 2>/dev/null || true)
	if alive "$old"; then
		wait_until 60 answers || die "lxd $old does not answer"
		return 0
	fi
	log "starting lxd"
	env https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
		HTTP_PROXY=http://127.0.0.1:9 no_proxy= NO_PROXY= \
		setsid lxd --group lxd --logfile "$LOGS/lxd.log" </dev/null >>"$LOGS/lxd.out" 2>&1 &
	echo $! >"$STATE/lxd.pid"
	lxd waitready --timeout 60 || { tail -n 20 "$LOGS/lxd.log" >&2; die "lxd did not start"; }
	lxc storage show default >/dev/null 2>&1 && return 0
	log "lxd init --preseed"
	lxd init --preseed <<'YAML'
config: {}
networks: []
storage_pools:
- name: default
  driver: dir
  config: {}
profiles:
- name: default
  config: {}
  devices:
    root:
      path: /
      pool: default
      type: disk
YAML
}

ensure_image() {
	lxc image show "$ALIAS" >/dev/null 2>&1 && return 0
	local w
	w=$(mktemp -d)
	# A split image: metadata tarball plus the rootfs tarball. creation_date 0 is refused.
	printf 'architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  description: cntr-test busybox\n  os: busybox\n' \
		>"$w/metadata.yaml"
	tar -C "$w" --mtime=@0 --owner=0 --group=0 --numeric-owner -czf "$w/meta.tar.gz" metadata.yaml
	lxc image import "$w/meta.tar.gz" "$(rootfs_tar)" --alias "$ALIAS" >/dev/null
	rm -rf "$w"
}

running_pid() {
	local p
	p=$(lxc info "$1" 2>/dev/null |
		awk '/^Status:/ { s = $2 } /^PID:/ { p = $2 } END { if (s == "RUNNING" && p > 0) print p }')
	[ -n "$p" ] && echo "$p"
}

create() {  # create launch|init NAME PRIVILEGED
	lxc "$1" "$ALIAS" "$2" -c security.privileged="$3" \
		-c raw.lxc="lxc.init.cmd = /sbin/cntr-test-init" >/dev/null 2>"$LOGS/lxd-$2.err" ||
		{ cat "$LOGS/lxd-$2.err" >&2; die "lxc $1 $2 failed"; }
}

run_container() {  # run_container NAME PRIVILEGED
	if ! running_pid "$1" >/dev/null; then
		lxc delete -f "$1" >/dev/null 2>&1 || true
		create launch "$1" "$2"
		wait_until 30 running_pid "$1" || die "instance $1 does not run"
	fi
	report "$(running_pid "$1")"
}

stop_all() {
	local p n
	if answers; then
		for n in "$NAME" "$NAME-userns" "$NAME-stopped"; do lxc delete -f "$n" >/dev/null 2>&1 || true; done
	fi
	p=$(cat "$STATE/lxd.pid" 2>/dev/null || true)
	if alive "$p"; then
		if [ -n "$(lxc list --format csv -c n 2>/dev/null)" ]; then
			log "lxd left running: it has other instances"
			return 0
		fi
		timeout 60 lxd shutdown >/dev/null 2>&1 || true
		wait_until 30 dead "$p" || stop_pid "$p" 5
		rm -f "$STATE/lxd.pid"
	elif answers; then
		log "lxd was running before: left running"
		return 0
	fi
	umount_under /var/lib/lxd/shmounts
	umount_under /var/lib/lxd/devlxd
	umount_under /var/lib/lxd/storage-pools
	rmdir_cgroups lxc.pivot
}

prepare() { apt_install lxd busybox-static; start_daemon; ensure_image; }

case "${1:-start}" in
start) prepare; run_container "$NAME" true ;;
start-userns) prepare; run_container "$NAME-userns" false ;;
stopped)
	prepare
	lxc info "$NAME-stopped" >/dev/null 2>&1 || create init "$NAME-stopped" true
	echo "$NAME-stopped"
	;;
pid) running_pid "$NAME" ;;
pid-userns) running_pid "$NAME-userns" ;;
stop) command -v lxd >/dev/null || exit 0; stop_all ;;
purge)
	command -v lxd >/dev/null || exit 0
	if answers; then lxc image delete "$ALIAS" >/dev/null 2>&1 || true; fi
	stop_all
	;;
*) echo "usage: $0 start|start-userns|stopped|pid|pid-userns|stop|purge" >&2; exit 2 ;;
esac
