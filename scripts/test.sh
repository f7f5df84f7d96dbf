#!/bin/sh
# Installs every test dependency (Debian packages) and runs the whole suite:
# style and static checks, unit tests, integration tests against the real
# binary, and the unit and filesystem tests again under ASan+UBSan.
set -eu
cd "$(dirname "$0")/.."
. scripts/deps.sh
install_pkgs $BUILD_DEPS $TEST_DEPS
PYTEST="/usr/bin/python3 -m pytest"
status=0

step() { printf '\n=== %s\n' "$*"; }

step "build"
[ -d build ] || meson setup build >/dev/null
ninja -C build
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-asan

step "clang-format"
clang-format --dry-run --Werror src/*.c src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h

step "cppcheck"
cppcheck -q --enable=warning,performance,portability --inline-suppr --std=c11 -D_GNU_SOURCE \
	-I src --error-exitcode=1 src tests/unit

step "clang-tidy"
clang-tidy -p build --quiet src/*.c src/*/*.c 2>&1 | grep -E '(warning|error):' && status=1

step "unit tests"
meson test -C build --print-errorlogs || status=1

step "unit tests (ASan+UBSan)"
meson test -C build-asan --print-errorlogs || status=1

# Requests reach CntrFS through io_uring where the kernel has it (the suite sets
# fuse.enable_uring for its run), and through /dev/fuse alone in the second run.
step "integration tests"
CNTR_BIN="$PWD/build/cntr" $PYTEST -q tests/integration || status=1

step "filesystem tests (/dev/fuse only)"
CNTR_BIN="$PWD/build/cntr" CNTR_TEST_FUSE_TRANSPORT=dev \
	$PYTEST -q -m "not slow" tests/integration/test_fs_differential.py \
	tests/integration/test_fs_semantics.py tests/integration/test_fs_faults.py || status=1

# attach and exec too: the tests compare stderr, so a sanitizer report fails them.
step "filesystem, attach and exec tests (ASan+UBSan)"
ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	CNTR_BIN="$PWD/build-asan/cntr" CNTR_SANITIZED=1 \
	$PYTEST -q -m "not slow" tests/integration/test_fs_differential.py \
	tests/integration/test_fs_semantics.py tests/integration/test_attach.py \
	tests/integration/test_exec.py tests/integration/test_attach_tty.py || status=1

if [ "$status" -ne 0 ]; then
	echo "FAILED"
	exit 1
fi
echo "all tests passed"
