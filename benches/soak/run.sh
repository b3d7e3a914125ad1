#!/usr/bin/env bash
# The renderer's memory under load for an hour: 64 clients send mixed requests (WMS GetMap as
# PNG and JPEG, WCS GetCoverage of a 0.1° square as GeoTIFF, OpenSearch product searches as GeoJSON, WMS
# GetCapabilities) to `pvs renderer` over the 10 COGs of the peers bench, while the RSS of the
# renderer is sampled every 100 ms (its peak) and every second (its slope).
#
#   bash benches/soak/run.sh
#
# Fails when a request gets an error or a body that is not what it asked for, when the peak
# RSS is over PVS_SOAK_MAX_PEAK_MB, or when the RSS grew faster than PVS_SOAK_MAX_SLOPE MiB an
# hour over the second half of the run (the least-squares slope of the per-second samples,
# after the warm-up has filled GDAL's block cache and the connection pools). The per-second
# samples are written beside the results. See benches/README.md, "Soak".
#
# Environment (defaults): PVS_SOAK_DIR (/tmp/pvs-soak), PVS_SOAK_DURATION (3600 s),
# PVS_SOAK_WARMUP (60 s), PVS_SOAK_CLIENTS (64), PVS_SOAK_MAX_PEAK_MB (200),
# PVS_SOAK_MAX_SLOPE (5 MiB an hour), PVS_TEST_DATABASE_URL
# (postgres://postgres@127.0.0.1:5432/postgres), CARGO_TARGET_DIR (target).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/benches/peers
WORK=${PVS_SOAK_DIR:-/tmp/pvs-soak}
DURATION=${PVS_SOAK_DURATION:-3600}
WARMUP=${PVS_SOAK_WARMUP:-60}
CLIENTS=${PVS_SOAK_CLIENTS:-64}
MAX_PEAK=${PVS_SOAK_MAX_PEAK_MB:-200}
MAX_SLOPE=${PVS_SOAK_MAX_SLOPE:-5}
ADMIN_URL=${PVS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PVS_PORT=18184
# No peer runs here (servers.sh checks their ports too).
TITILER_PORT= MAPSERVER_PORT=
DATABASE=pvs_bench_soak_$$
DATABASE_URL=${ADMIN_URL%/*}/$DATABASE
DATA=$WORK/data
RUN=$WORK/run
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$WORK/results-$STAMP.jsonl
RSS_LOG=$WORK/rss-$STAMP.txt

# Starting pvs, stopping it and dropping the database on exit, building the load generator.
# shellcheck source=../peers/servers.sh
source "$HERE/servers.sh"

mkdir -p "$DATA" "$RUN"
check_ports
build_pvs_and_load
psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null
psql -q "$ADMIN_URL" -c "CREATE DATABASE $DATABASE" >/dev/null
log "10 COGs (kept in $DATA between runs), registered in $DATABASE"
"$RENDER" data --dir "$DATA" --database-url "$DATABASE_URL"
"$RENDER" tiles --dir "$DATA" --count 2000 --seed 11
start_pvs

BASE="http://127.0.0.1:$PVS_PORT"
GETMAP="SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=MOSAIC&STYLES=&CRS=EPSG:3857&BBOX={minx},{miny},{maxx},{maxy}&WIDTH=256&HEIGHT=256&TRANSPARENT=TRUE"
cat >"$WORK/templates.txt" <<EOF
# <format> <URL template>: each tile with each line in turn (render bench, load --templates).
png $BASE/ows?$GETMAP&FORMAT=image/png
jpeg $BASE/ows?$GETMAP&FORMAT=image/jpeg
tiff $BASE/ows?SERVICE=WCS&VERSION=2.0.1&REQUEST=GetCoverage&COVERAGEID=p3&FORMAT=image/tiff&SUBSET=Long(16.0,16.1)&SUBSET=Lat(43.0,43.1)
json $BASE/opensearch/collections/MOSAIC/json?bbox={west},{south},{east},{north}&count=20
png $BASE/ows?$GETMAP&FORMAT=image/png
xml $BASE/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities
EOF

log "$CLIENTS clients, ${WARMUP} s warm-up, ${DURATION} s measured; RSS samples in $RSS_LOG"
"$RENDER" load --name pvs-soak --templates "$WORK/templates.txt" --tiles "$DATA/tiles.txt" \
    --concurrency "$CLIENTS" --warmup "$WARMUP" --duration "$DURATION" --pid "$PVS_PID" \
    --rss-log "$RSS_LOG" | tee "$RESULTS"

python3 - "$RESULTS" "$MAX_PEAK" "$MAX_SLOPE" <<'EOF'
import json, sys
result = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
max_peak, max_slope = float(sys.argv[2]), float(sys.argv[3])
peak, slope = result["peak_rss_mb"], result["rss_slope_second_half_mb_per_hour"]
print(f"requests answered {result['ok']} ({result['rps']:.1f}/s), errors {result['errors']}; "
      f"p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms")
print(f"renderer RSS: peak {peak:.1f} MiB (limit {max_peak:g}), at the end {result['rss_end_mb']:.1f} MiB, "
      f"slope over the second half {slope:+.2f} MiB an hour (limit {max_slope:g})")
failed = []
if peak > max_peak:
    failed.append(f"peak RSS {peak:.1f} MiB over {max_peak:g}")
if not slope <= max_slope:
    failed.append(f"RSS grew {slope:+.2f} MiB an hour over the second half, over {max_slope:g}")
if failed:
    sys.exit("soak failed: " + "; ".join(failed))
print("soak ok")
EOF
