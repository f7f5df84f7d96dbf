#!/bin/bash
# containerd test containers (Debian's containerd 1.6 and runc), driven with ctr, without systemd.
#
#   containerd.sh start         install containerd and runc, start containerd on the default socket
#                               if none answers, run task cntr-test-containerd (namespace default)
#   containerd.sh start-userns  task cntr-test-containerd-userns in a user namespace (0 -> 1245184)
#   containerd.sh start-moby    task cntr-test-containerd-moby in namespace moby (docker's)
#   containerd.sh start-k8s     in namespace k8s.io, what a kubelet would have made for pod
#                               cntr-test/web-0: a sandbox and container "app", both running, with
#                               the CRI labels; the last line is app's pid
#   containerd.sh stopped       containers without a task: cntr-test-containerd-stopped (default)
#                               and, in k8s.io, container "app" of pod cntr-test/web-1
#   containerd.sh k8s-id        the CRI id of web-0's app container
#   containerd.sh pid | pid-userns | pid-moby | pid-k8s
#   containerd.sh stop          remove all of the above; stop containerd if this script started it
#                               and no other namespace (docker's moby, say) still has containers
#   containerd.sh purge         stop, then remove the images, the userns rootfs and, when
#                               containerd is down, its state
#
# `ctr run --uidmap` fails with containerd 1.6 here (runc cannot mount the rootfs from the 0700
# bundle directory as the mapped root), so the userns task uses `ctr run --config` with an OCI
# spec whose root is a rootfs directory chowned to the mapped range.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOCK=/run/containerd/containerd.sock
IMAGE=docker.io/cntr-test/busybox:latest
OCI_TAR=$DATA/busybox-oci.tar
NAME=cntr-test-containerd
USER_BASE=1245184
UROOT=$DATA/containerd-userns-rootfs
USPEC=$DATA/containerd-userns.json
K8S_NS=cntr-test
# CRI ids are 64 hex digits; these are fixed so that runs agree.
k8s_id() { printf 'cntr-test-k8s-%s' "$1" | sha256sum | cut -c1-64; }

# ctr NS ARGS...: the connect timeout keeps a dead socket from stalling ctr for 10 s.
c() {
	local ns=$1
	shift
	ctr --address "$SOCK" --connect-timeout 2s --namespace "$ns" "$@"
}

answers() { [ -S "$SOCK" ] && c default version >/dev/null 2>&1; }

start_daemon() {
	answers && return 0
	local old
	old=$(cat "$STATE/containerd.pid" 2>/dev/null || true)
	if alive "$old"; then
		wait_until 60 answers || die "containerd $old does not answer"
		return 0
	fi
	# A stale socket would also make a later dockerd believe containerd runs.
	rm -f "$SOCK" "$SOCK.ttrpc"
	log "starting containerd"
	setsid containerd </dev/null >>"$LOGS/containerd.log" 2>&1 &
	echo $! >"$STATE/containerd.pid"
	wait_until 60 answers || { tail -n 20 "$LOGS/containerd.log" >&2; die "containerd did not start"; }
}

running_pid() {  # running_pid NS ID
	c "$1" task ls 2>/dev/null |
		awk -v id="$2" '$1 == id && $3 == "RUNNING" { print $2; found = 1 } END { exit !found }'
}

ensure_image() {  # ensure_image NS
	c "$1" images ls -q 2>/dev/null | grep -qx "$IMAGE" && return 0
	[ -f "$OCI_TAR" ] || "$HERE/busybox-rootfs.sh" --oci "$OCI_TAR" "$IMAGE" >/dev/null
	c "$1" images import "$OCI_TAR" >/dev/null
}

remove() {  # remove NS ID: task, container and snapshot, whatever of them exists
	if c "$1" task ls -q 2>/dev/null | grep -qx "$2"; then
		c "$1" task kill -s SIGKILL "$2" >/dev/null 2>&1 || true
		wait_until 10 bash -c "! ctr --address $SOCK -n $1 task ls | grep -q '^$2 .*RUNNING'" || true
		c "$1" task rm -f "$2" >/dev/null 2>&1 || true
	fi
	c "$1" containers rm "$2" >/dev/null 2>&1 || true
	c "$1" snapshots rm "$2" >/dev/null 2>&1 || true
}

run_task() {  # run_task NS ID CTR_RUN_ARGS...: runs ID unless it runs already
	local ns=$1 id=$2
	shift 2
	if ! running_pid "$ns" "$id" >/dev/null; then
		remove "$ns" "$id"
		c "$ns" run -d --null-io "$@" "$id" >/dev/null
		wait_until 20 running_pid "$ns" "$id" || die "task $ns/$id does not run"
	fi
	running_pid "$ns" "$id"
}

# The labels a kubelet sets on CRI containers (KIND: container or sandbox).
k8s_labels() {  # k8s_labels POD KIND [CONTAINER]
	echo --label io.kubernetes.pod.namespace=$K8S_NS --label io.kubernetes.pod.name="$1" \
		--label io.cri-containerd.kind="$2" --label io.kubernetes.pod.uid="$(k8s_id "uid-$1" | cut -c1-32)"
	[ -n "${3:-}" ] && echo --label io.kubernetes.container.name="$3"
	return 0
}

userns_spec() {
	ctr oci spec >"$USPEC.tmp"
	python3 - "$USPEC.tmp" "$UROOT" "$USER_BASE" "$NAME-userns" <<'PY'
import json, sys
path, root, base, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
spec = json.load(open(path))
spec["root"] = {"path": root, "readonly": False}
spec["process"]["args"] = ["/sbin/cntr-test-init"]
spec["process"]["terminal"] = False
spec["hostname"] = name
lin = spec["linux"]
lin["namespaces"] = [ns for ns in lin["namespaces"] if ns["type"] != "user"] + [{"type": "user"}]
lin["uidMappings"] = [{"containerID": 0, "hostID": base, "size": 65536}]
lin["gidMappings"] = [{"containerID": 0, "hostID": base, "size": 65536}]
lin["cgroupsPath"] = "/default/" + name
json.dump(spec, open(path, "w"), indent=1)
PY
	mv -f "$USPEC.tmp" "$USPEC"
}

start_userns() {
	local id=$NAME-userns
	if ! running_pid default "$id" >/dev/null; then
		if [ "$(stat -c %u "$UROOT/$MARKER" 2>/dev/null)" != "$USER_BASE" ]; then
			"$HERE/busybox-rootfs.sh" --dir "$UROOT" >/dev/null
			chown -R -h "$USER_BASE:$USER_BASE" "$UROOT"
		fi
		userns_spec
	fi
	run_task default "$id" --config "$USPEC"
}

# What we create, as "NS ID" lines.
ours() {
	echo "default $NAME"
	echo "default $NAME-userns"
	echo "default $NAME-stopped"
	echo "moby $NAME-moby"
	echo "k8s.io $(k8s_id sandbox-web-0)"
	echo "k8s.io $(k8s_id web-0-app)"
	echo "k8s.io $(k8s_id web-1-app)"
}

stop_all() {
	local ns id busy=""
	if answers; then
		while read -r ns id; do remove "$ns" "$id"; done < <(ours)
		for ns in $(c default namespaces ls -q 2>/dev/null); do
			[ -n "$(c "$ns" containers ls -q 2>/dev/null)" ] && busy="$busy $ns"
		done
	fi
	local p
	p=$(cat "$STATE/containerd.pid" 2>/dev/null || true)
	if alive "$p"; then
		if [ -n "$busy" ]; then
			log "containerd left running: namespace(s)$busy still have containers"
			return 0
		fi
		stop_pid "$p" 30
	elif answers; then
		log "containerd was running before: left running"
		return 0
	fi
	rm -f "$STATE/containerd.pid" "$SOCK" "$SOCK.ttrpc"
	rmdir_cgroups default
	rmdir_cgroups moby
	rmdir_cgroups k8s.io
}

prepare() { apt_install containerd runc busybox-static; start_daemon; }

case "${1:-start}" in
start) prepare; ensure_image default; report "$(run_task default "$NAME" "$IMAGE")" ;;
start-userns) prepare; report "$(start_userns)" ;;
start-moby) prepare; ensure_image moby; report "$(run_task moby "$NAME-moby" "$IMAGE")" ;;
start-k8s)
	prepare
	ensure_image k8s.io
	# shellcheck disable=SC2046
	run_task k8s.io "$(k8s_id sandbox-web-0)" $(k8s_labels web-0 sandbox) "$IMAGE" >/dev/null
	# shellcheck disable=SC2046
	report "$(run_task k8s.io "$(k8s_id web-0-app)" $(k8s_labels web-0 container app) "$IMAGE")"
	;;
stopped)
	prepare
	ensure_image default
	ensure_image k8s.io
	c default containers info "$NAME-stopped" >/dev/null 2>&1 ||
		c default containers create "$IMAGE" "$NAME-stopped" >/dev/null
	id=$(k8s_id web-1-app)
	# shellcheck disable=SC2046
	c k8s.io containers info "$id" >/dev/null 2>&1 ||
		c k8s.io containers create $(k8s_labels web-1 container app) "$IMAGE" "$id" >/dev/null
	echo "$NAME-stopped"
	;;
k8s-id) k8s_id web-0-app ;;
pid) running_pid default "$NAME" ;;
pid-userns) running_pid default "$NAME-userns" ;;
pid-moby) running_pid moby "$NAME-moby" ;;
pid-k8s) running_pid k8s.io "$(k8s_id web-0-app)" ;;
stop) command -v ctr >/dev/null || exit 0; stop_all ;;
purge)
	command -v ctr >/dev/null || exit 0
	if answers; then
		for ns in default moby k8s.io; do c "$ns" images rm "$IMAGE" >/dev/null 2>&1 || true; done
	fi
	stop_all
	rm -rf "$UROOT" "$USPEC" "$OCI_TAR"
	answers || rm -rf /var/lib/containerd /run/containerd
	;;
*) echo "usage: $0 start|start-userns|start-moby|start-k8s|stopped|k8s-id|pid|pid-userns|pid-moby|pid-k8s|stop|purge" >&2; exit 2 ;;
esac
