#!/usr/bin/env bash
# run.sh - the whole test suite, as README.md and .ci/run give it:
# installs the Debian packages, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer and -Werror, checks formatting, and runs every
# test with ctest (unit, component against a real redis-server and Ceph
# radosgw, protocol over TCP, and Linux kernel clients in qemu guests).
# Environment: BUILD_DIR (default build-test), CTEST_ARGS (extra ctest args).
set -euo pipefail
cd "$(dirname "$0")/.."

# The suite needs root (network namespaces, qemu, Podman, apt-get); a user
# with sudo is lifted once here, so the same command serves both.
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then
	exec sudo -E bash "$0" "$@"
fi

bash tests/deps.sh test

BUILD_DIR=${BUILD_DIR:-build-test}
cmake -S . -B "$BUILD_DIR" -DGATEFS_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"

bash tests/check-format.sh

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
# Benchmarks (LABELS bench) print ratios and are run from bench/; the
# test-bed self-check against nfs-ganesha (LABELS testbed) is run by hand
# when the kernel test bed changes (tests/kernel/README.md).
# shellcheck disable=SC2086
rc=0
ctest --output-on-failure --timeout 1200 -j2 -LE 'bench|testbed' ${CTEST_ARGS:-} || rc=$?
if [ "$rc" != 0 ]; then
	# A failed test's output can be long; its failed checks are repeated
	# last, where a log viewer that keeps only the tail still shows them.
	echo "== failed checks (from Testing/Temporary/LastTest.log) =="
	grep -E '^FAIL |^  [^ ]+:[0-9]+: |ERROR: AddressSanitizer|runtime error:|^not ok ' \
		Testing/Temporary/LastTest.log | head -40 || true
fi
exit "$rc"
