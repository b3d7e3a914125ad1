#!/usr/bin/env bash
# `pvs up` on embedded backends: cold start to the first served request, and POST of a
# single-browse report (2,000 x 2,000 JPEG) to its first WMTS tile (see benches/benches/up.rs).
# Not run by CI; takes about a minute after the release build.
#
# Environment: PVS_BENCH_RUNS (runs, default 7), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pvs-target}"

scripts/setup.sh >/dev/null
echo "[up bench] building pvs (release)" >&2
cargo build --release --locked --quiet -p pvs
PVS_BIN="$CARGO_TARGET_DIR/release/pvs" cargo bench --locked --quiet -p pvs-benches --bench up
