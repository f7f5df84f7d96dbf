#!/bin/bash
# Docker test containers (Debian's docker.io), without systemd, without touching the network.
#
#   docker.sh start          install docker.io, start dockerd if none answers, run cntr-test-docker
#   docker.sh start-userns   a second dockerd with --userns-remap=default on its own socket
#                            (DOCKER_HOST=unix:///run/cntr-test/docker-userns.sock), running
#                            cntr-test-docker-userns
#   docker.sh stopped        create cntr-test-docker-stopped (exists, never started)
#   docker.sh pid | pid-userns   the running container's host pid (exit 1 if not running)
#   docker.sh stop           remove the test containers; stop the daemons this script started
#   docker.sh purge          stop, then delete the daemons' data
#
# dockerd runs with no iptables, no bridge and overlay2; containers get --network=none. The
# script calls Debian's /usr/bin/docker: this machine image also has a newer client in
# /usr/local/bin. Both daemons exit about 2.5 s after TERM; containers are removed first, so no
# containerd-shim outlives them.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOCKER=/usr/bin/docker
IMAGE=cntr-test/busybox:latest
NAME=cntr-test-docker
DAEMON_FLAGS=(--iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none
	--storage-driver=overlay2)
USOCK=$STATE/docker-userns.sock
UPIDFILE=$STATE/docker-userns.pid
UDATA=$DATA/docker-userns
UEXEC=$STATE/docker-userns

# The client for the main daemon, or (with "userns") for the remapped one.
cli() {
	if [ "${1:-}" = userns ]; then
		shift
		"$DOCKER" -H "unix://$USOCK" "$@"
	else
		"$DOCKER" -H unix:///run/docker.sock "$@"
	fi
}

answers() { cli "$@" version >/dev/null 2>&1; }

start_main() {
	answers && return 0
	local old
	old=$(cat /run/docker.pid 2>/dev/null || true)
	if alive "$old"; then
		wait_until 60 answers || die "dockerd $old does not answer (see $LOGS/dockerd.log)"
		return 0
	fi
	rm -f /run/docker.pid /run/docker.sock
	log "starting dockerd"
	setsid dockerd "${DAEMON_FLAGS[@]}" </dev/null >>"$LOGS/dockerd.log" 2>&1 &
	touch "$STATE/dockerd.ours"
	wait_until 60 answers || { tail -n 20 "$LOGS/dockerd.log" >&2; die "dockerd did not start"; }
}

start_userns() {
	answers userns && return 0
	local old
	old=$(cat "$UPIDFILE" 2>/dev/null || true)
	if alive "$old"; then
		wait_until 60 answers userns || die "dockerd $old does not answer on $USOCK"
		return 0
	fi
	rm -f "$UPIDFILE" "$USOCK"
	mkdir -p "$UDATA" "$UEXEC"
	log "starting dockerd --userns-remap=default on $USOCK"
	setsid dockerd "${DAEMON_FLAGS[@]}" --userns-remap=default -H "unix://$USOCK" \
		--pidfile "$UPIDFILE" --data-root "$UDATA" --exec-root "$UEXEC" \
		--containerd-namespace moby-userns --containerd-plugins-namespace plugins-moby-userns \
		</dev/null >>"$LOGS/dockerd-userns.log" 2>&1 &
	wait_until 60 answers userns ||
		{ tail -n 20 "$LOGS/dockerd-userns.log" >&2; die "the userns dockerd did not start"; }
}

running_pid() {  # running_pid [userns] NAME
	local which=() p
	[ "$1" = userns ] && { which=(userns); shift; }
	p=$(cli "${which[@]}" inspect -f '{{if .State.Running}}{{.State.Pid}}{{end}}' "$1" 2>/dev/null) || return 1
	[ -n "$p" ] && [ "$p" != 0 ] && echo "$p"
}

ensure_image() {  # ensure_image [userns]
	cli "$@" image inspect "$IMAGE" >/dev/null 2>&1 && return 0
	cli "$@" import -c 'CMD ["/sbin/cntr-test-init"]' "$(rootfs_tar)" "$IMAGE" >/dev/null
}

run_container() {  # run_container [userns] NAME
	local which=()
	[ "$1" = userns ] && { which=(userns); shift; }
	ensure_image "${which[@]}"
	if ! running_pid "${which[@]}" "$1" >/dev/null; then
		cli "${which[@]}" rm -f "$1" >/dev/null 2>&1 || true
		cli "${which[@]}" run -d --name "$1" --hostname "$1" --network=none "$IMAGE" >/dev/null
		wait_until 20 running_pid "${which[@]}" "$1" || die "container $1 does not run"
	fi
	report "$(running_pid "${which[@]}" "$1")"
}

stop_all() {
	if answers; then
		cli rm -f "$NAME" "$NAME-stopped" >/dev/null 2>&1 || true
	fi
	if answers userns; then
		cli userns rm -f "$NAME-userns" >/dev/null 2>&1 || true
	fi
	stop_pid "$(cat "$UPIDFILE" 2>/dev/null || true)" 30
	rm -f "$UPIDFILE" "$USOCK"
	umount_under "$UDATA"
	umount_under "$UEXEC"
	rm -rf "$UEXEC"
	if [ -e "$STATE/dockerd.ours" ]; then
		stop_pid "$(cat /run/docker.pid 2>/dev/null || true)" 30
		rm -f "$STATE/dockerd.ours"
	elif answers; then
		log "dockerd was running before: left running"
		return 0
	fi
	umount_under /var/lib/docker
	umount_under /run/docker
	rmdir_cgroups docker
}

case "${1:-start}" in
start) apt_install docker.io busybox-static; start_main; run_container "$NAME" ;;
start-userns) apt_install docker.io busybox-static; start_userns; run_container userns "$NAME-userns" ;;
stopped)
	apt_install docker.io busybox-static
	start_main
	ensure_image
	cli inspect "$NAME-stopped" >/dev/null 2>&1 ||
		cli create --name "$NAME-stopped" --network=none "$IMAGE" >/dev/null
	echo "$NAME-stopped"
	;;
pid) running_pid "$NAME" ;;
pid-userns) running_pid userns "$NAME-userns" ;;
stop) [ -x "$DOCKER" ] || exit 0; stop_all ;;
purge)
	[ -x "$DOCKER" ] || exit 0
	stop_all
	answers || rm -rf /var/lib/docker
	rm -rf "$UDATA"
	;;
*) echo "usage: $0 start|start-userns|stopped|pid|pid-userns|stop|purge" >&2; exit 2 ;;
esac
