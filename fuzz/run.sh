#!/usr/bin/env bash
# Runs one fuzz target for a number of executions, one job, growing a working corpus outside
# the repository (seeded from corpus/<target>), and prints libFuzzer's final figures.
#
#   fuzz/run.sh <target> [runs (10000000)] [max_len (4096)] [max_total_time, s (0: none)]
#
# Environment: FUZZ_WORK (working corpora and logs, default $HOME/.cache/pvs-fuzz-work),
# CARGO_TARGET_DIR (default $HOME/.cache/pvs-fuzz-target), FUZZ_SANITIZER (address; none
# builds without ASan), FUZZ_BUILD_FLAGS (more flags of `cargo fuzz run`, e.g.
# --no-trace-compares; give such a build a CARGO_TARGET_DIR of its own, or it replaces the
# other).
set -euo pipefail
target=$1
runs=${2:-10000000}
max_len=${3:-4096}
max_time=${4:-0}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work=${FUZZ_WORK:-$HOME/.cache/pvs-fuzz-work}
mkdir -p "$work/$target"
# GDAL reports refused CRS codes on stderr; they are expected.
export CPL_LOG=/dev/null RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/pvs-fuzz-target}
cd "$here"
# -jobs=1 runs one fuzzing process, whose output libFuzzer writes to fuzz-0.log.
rm -f fuzz-0.log
# shellcheck disable=SC2086 # FUZZ_BUILD_FLAGS is a list of flags
cargo fuzz run -O -s "${FUZZ_SANITIZER:-address}" ${FUZZ_BUILD_FLAGS:-} "$target" "$work/$target" "corpus/$target" -- \
  -runs="$runs" -max_total_time="$max_time" -max_len="$max_len" -jobs=1 -rss_limit_mb=2048 \
  -timeout=10 -print_final_stats=1 >"$work/$target.log" 2>&1 || true
cat fuzz-0.log >>"$work/$target.log" 2>/dev/null && rm -f fuzz-0.log
grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|^==[0-9]+==|ERROR: libFuzzer|panicked|SUMMARY|Test unit written' \
  "$work/$target.log" || true
