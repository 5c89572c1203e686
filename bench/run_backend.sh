#!/bin/bash
# run_backend.sh - builds bench_backend without sanitizers and runs it:
# vfs metadata ops/s vs redis-benchmark GET, sequential I/O vs dd on tmpfs.
#   bench/run_backend.sh [files] [mib]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${GATEFS_BENCH_BUILD:-$src/build-bench-backend}
cmake -S "$src" -B "$build" -DGATEFS_SANITIZE=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target bench_backend >/dev/null
exec "$build/bench/bench_backend" "$@"
