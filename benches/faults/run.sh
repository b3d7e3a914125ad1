#!/usr/bin/env bash
# The fault suite (issue 23): the separate pvs services (`pvs ingestor`, two `pvs preprocessor`,
# `pvs registrar`, `pvs seeder`, `pvs cache`) on real backends of the suite's own (a
# redis-server and a PostgreSQL/PostGIS cluster on free ports, the S3 test server moto behind a
# TCP proxy that can be made unreachable), fed with browse reports made from the fixtures
# (fixtures/ngeo/reference_test_data, ids rewritten, footprints moved on a grid), while one
# fault per row is injected. After each row: one catalog row per product, one registration
# report per accepted report with every product a success, the Redis success sets holding
# every product, failure sets, queues and processing lists empty, and the cache serving no
# stale tile of a replaced product (each tile compared with one drawn by a cache with an
# empty store). It prints a table (faults × outcomes) and exits 1 when a row loses or
# duplicates anything; the row `redis-nopersist` (Redis without persistence) is the
# documented expected loss and never fails the run. See docs/operations.md, "Faults".
#
#   bash benches/faults/run.sh                     # the long form: 1,000 reports a row
#   PVS_FAULTS_SHORT=1 bash benches/faults/run.sh  # the short form CI runs (crates/pvs/tests/faults.rs;
#                                                  # about 15 minutes on 2 shared cores)
#
# Rows (PVS_FAULTS_SCENARIOS, space-separated): baseline (no fault), kill (kill -9 of every service kind at random
# moments, the ingestor mid-POST with the client sending again, the seeder mid-job; each
# restarted under its name or a new one), redis-restart (Redis killed and started again,
# AOF with appendfsync always), redis-everysec (the same with appendfsync everysec),
# redis-nopersist (without persistence: expected loss), pg-restart (PostgreSQL stopped
# immediately for 5 s), s3-outage (object storage unreachable for PVS_FAULTS_OUTAGE s),
# netns (a preprocessor in a network namespace of its own cut off while it holds items, past
# the heartbeat TTL, then healed), disk-tiles (the cache's and seeder's file:// tile store,
# on a tmpfs, full), disk-work (the preprocessor's work folder, on a tmpfs, full). netns,
# disk-tiles and disk-work need root and are skipped with a reason otherwise. Items failed
# by a fault are retried as an operator does (`pvs queue retry STAGE --all`) once it is over
# and counted.
#
# Environment: PVS_FAULTS_REPORTS (products a row; default 1000, short 50),
# PVS_FAULTS_REPLACED (of them replaced by a second report; default 20, short 6),
# PVS_FAULTS_SCENARIOS (default: every row but baseline; short: every row but baseline and
# redis-everysec), PVS_FAULTS_KILLS (kills of each service kind in the
# kill row; default 6, short 2), PVS_FAULTS_OUTAGE (seconds of an outage or a
# full disk; default 30, short 15), PVS_FAULTS_WAIT (longest wait for the pipeline to settle,
# s; default 900, short 300), PVS_FAULTS_DIR (work folder; default /tmp/pvs-faults),
# PVS_FAULTS_BIN (the pvs binary; default: a release build in CARGO_TARGET_DIR),
# PVS_FAULTS_RESULTS (a JSON file for the rows).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

short="${PVS_FAULTS_SHORT:-}"
if [ -n "$short" ] && [ "$short" != 0 ]; then
  reports="${PVS_FAULTS_REPORTS:-50}"
  replaced="${PVS_FAULTS_REPLACED:-6}"
  scenarios="${PVS_FAULTS_SCENARIOS:-kill redis-restart redis-nopersist pg-restart s3-outage netns disk-tiles disk-work}"
  kills="${PVS_FAULTS_KILLS:-2}"
  outage="${PVS_FAULTS_OUTAGE:-15}"
  wait="${PVS_FAULTS_WAIT:-300}"
else
  reports="${PVS_FAULTS_REPORTS:-1000}"
  replaced="${PVS_FAULTS_REPLACED:-20}"
  scenarios="${PVS_FAULTS_SCENARIOS:-kill redis-restart redis-everysec redis-nopersist pg-restart s3-outage netns disk-tiles disk-work}"
  kills="${PVS_FAULTS_KILLS:-6}"
  outage="${PVS_FAULTS_OUTAGE:-30}"
  wait="${PVS_FAULTS_WAIT:-900}"
fi
work="${PVS_FAULTS_DIR:-/tmp/pvs-faults}"

for tool in redis-server psql gdal_translate curl; do
  command -v "$tool" >/dev/null || { echo "[faults] $tool is missing: run scripts/setup.sh" >&2; exit 2; }
done
[ -x /usr/lib/postgresql/15/bin/initdb ] || { echo "[faults] PostgreSQL 15 is missing: run scripts/setup.sh" >&2; exit 2; }

pvs="${PVS_FAULTS_BIN:-}"
if [ -z "$pvs" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pvs-target}"
  echo "[faults] building pvs (release)" >&2
  cargo build --release --locked -p pvs 2>&1 | tail -1 >&2
  pvs="$CARGO_TARGET_DIR/release/pvs"
fi

exec python3 benches/faults/faults.py --pvs "$pvs" --work "$work" --reports "$reports" \
  --replaced "$replaced" --scenarios "$scenarios" --kills "$kills" --outage "$outage" \
  --wait "$wait" ${PVS_FAULTS_RESULTS:+--results "$PVS_FAULTS_RESULTS"}
