#!/bin/sh
# Debian 12 packages, in two sets: building cntr, and running every test.
# Sourced by demo.sh and test.sh; installs only what is missing.
set -eu

BUILD_DEPS="meson ninja-build gcc libc6-dev pkg-config"
TEST_DEPS="python3 python3-pytest attr acl fuse3 bindfs busybox-static tmux e2fsprogs util-linux
 procps psmisc clang clang-tidy clang-format cppcheck libclang-rt-14-dev sqlite3 fio dbench git
 strace groff-base"

install_pkgs() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing"
	if [ ! -e /var/lib/apt/lists/lock ] || [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock)" ]; then
		apt-get update -qq
	fi
	# A stale package list gives 404s: refresh once and retry.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
}
