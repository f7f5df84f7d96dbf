#!/bin/bash
# The test image: a tiny, reproducible busybox root filesystem from Debian's busybox-static.
#
#   busybox-rootfs.sh [TAR]          write the rootfs as a tarball (default /var/lib/cntr-test/busybox-rootfs.tar)
#   busybox-rootfs.sh --dir DIR      (re)create DIR holding the same tree (lxc, nspawn, ctr --config)
#   busybox-rootfs.sh --oci TAR [REF]
#                                    an OCI image archive of it (ctr images import, podman load);
#                                    REF defaults to docker.io/cntr-test/busybox:latest
#
# The image holds /bin/busybox with a symlink per applet, minimal /etc files, the marker file
# /etc/cntr-test-rootfs ("cntr-test busybox rootfs") that tests look for, and /sbin/cntr-test-init,
# an init that sleeps until TERM/INT/HUP/PWR and then exits 0. Archives are byte-for-byte
# reproducible (sorted names, mtime 0, owner 0). The last line printed is the path written.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

fill() {  # fill DIR: writes the tree into the empty DIR
	local root=$1 applet
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/lib,etc,dev,proc,sys,run,root,tmp,var/tmp,var/log,home,mnt}
	chmod 1777 "$root/tmp" "$root/var/tmp"
	chmod 0700 "$root/root"
	install -m 0755 /bin/busybox "$root/bin/busybox"
	for applet in $(/bin/busybox --list-full); do
		[ "$applet" = bin/busybox ] && continue
		mkdir -p "$root/$(dirname "$applet")"
		ln -sfn /bin/busybox "$root/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	printf 'NAME="cntr-test busybox"\nID=cntr-test-busybox\n' >"$root/usr/lib/os-release"
	ln -sfn ../usr/lib/os-release "$root/etc/os-release"
	echo cntr-test >"$root/etc/hostname"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
	: >"$root/etc/resolv.conf"
	echo "cntr-test busybox rootfs" >"$root/$MARKER"
	cat >"$root/sbin/cntr-test-init" <<'INIT'
#!/bin/sh
# PID 1 of the test containers: idle until asked to stop.
trap 'exit 0' TERM INT HUP PWR
while :; do sleep 1 & wait $!; done
INIT
	chmod 0755 "$root/sbin/cntr-test-init"
}

pack() {  # pack DIR TAR: a reproducible tarball of DIR's contents
	tar -C "$1" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$2" .
}

blob() {  # blob DIR FILE: moves FILE into DIR/blobs/sha256 and prints "digest size"
	local sum size
	sum=$(sha256sum "$2" | cut -d' ' -f1)
	size=$(stat -c %s "$2")
	mv -f "$2" "$1/blobs/sha256/$sum"
	echo "$sum $size"
}

oci() {  # oci TAR REF: an OCI image layout archive with the rootfs as its only layer
	local out=$1 ref=$2 w layer config manifest
	w=$(mktemp -d "$DATA/.oci.XXXXXX")
	mkdir -p "$w/blobs/sha256" "$w/root"
	fill "$w/root"
	pack "$w/root" "$w/layer.tar"
	rm -rf "$w/root"
	read -r lsum lsize < <(blob "$w" "$w/layer.tar")
	printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/sbin/cntr-test-init"],"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$lsum" >"$w/config.json"
	read -r csum csize < <(blob "$w" "$w/config.json")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$csum" "$csize" "$lsum" "$lsize" >"$w/manifest.json"
	read -r msum msize < <(blob "$w" "$w/manifest.json")
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
		"$msum" "$msize" "$ref" "${ref##*:}" >"$w/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$w/oci-layout"
	tar -C "$w" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		-cf "$w/image.tar" oci-layout index.json blobs
	mv -f "$w/image.tar" "$out"
	rm -rf "$w"
}

apt_install busybox-static
case "${1:-}" in
--dir)
	dir=${2:?usage: $0 --dir DIR}
	# Never wipe a directory that is not one of ours.
	if [ -n "$(ls -A "$dir" 2>/dev/null)" ] && [ ! -e "$dir/$MARKER" ]; then
		die "$dir is not empty and has no /$MARKER: not overwriting it"
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	fill "$dir"
	echo "$dir"
	;;
--oci)
	out=${2:?usage: $0 --oci TAR [REF]}
	mkdir -p "$(dirname "$out")"
	oci "$out" "${3:-docker.io/cntr-test/busybox:latest}"
	echo "$out"
	;;
*)
	out=${1:-$ROOTFS_TAR}
	mkdir -p "$(dirname "$out")"
	w=$(mktemp -d "$(dirname "$out")/.rootfs.XXXXXX")
	trap 'rm -rf "$w"' EXIT
	fill "$w/root"
	pack "$w/root" "$w/rootfs.tar"
	mv -f "$w/rootfs.tar" "$out"
	echo "$out"
	;;
esac
