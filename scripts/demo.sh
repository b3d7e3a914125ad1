#!/usr/bin/env bash
# Shows pvs working on this machine: builds pvs, starts the ingestor against the local Redis,
# POSTs a real ngEO browse report, prints the ingestion response and the queued browse item,
# then stops the ingestor. Run scripts/setup.sh first (the README's run command does).
#
# Until `pvs up` (the whole pipeline in one process) exists, this is the one service to try.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

port="${PVS_DEMO_PORT:-8081}"
prefix="pvs-demo:"
cargo build --release --quiet -p pvs
pvs="${CARGO_TARGET_DIR:-target}/release/pvs"

REDIS_URL=redis://127.0.0.1:6379 REDIS_KEY_PREFIX="$prefix" "$pvs" ingestor --listen "127.0.0.1:$port" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; redis-cli -h 127.0.0.1 DEL "${prefix}preprocess-md_queue" >/dev/null' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

echo "== GET /ready"
curl -s "http://127.0.0.1:$port/ready"; echo
echo "== POST a browse report (fixtures/ngeo/reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml)"
curl -s -w '\nHTTP %{http_code}\n' -H 'Content-Type: application/xml' \
  --data-binary @fixtures/ngeo/reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml "http://127.0.0.1:$port/ingest"
echo "== the item queued for the preprocessor (LRANGE ${prefix}preprocess-md_queue)"
redis-cli -h 127.0.0.1 LRANGE "${prefix}preprocess-md_queue" 0 -1
