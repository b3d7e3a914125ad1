#!/usr/bin/env bash
# Shows the pvs pipeline working on this machine: builds pvs, starts the ingestor (watching a
# drop folder), the preprocessor, the registrar and the renderer against the local Redis and
# PostgreSQL, with a local folder as object storage; drops two real ngEO browse reports with
# their images into the folder, waits for the registration reports, and prints what each
# stage made: the queue sets, the COGs (gdalinfo), the catalog rows, and a WMS map from the
# renderer. Then it stops the services and removes its database and Redis keys
# (PVS_DEMO_KEEP=path.png keeps the map). Run scripts/setup.sh first (the README's run
# command does).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

prefix="pvs-demo:"
database="pvs_demo"
work="$(mktemp -d /tmp/pvs-demo.XXXXXX)"
mkdir -p "$work/from-fepd" "$work/to-panda" "$work/storage"
cargo build --release --quiet -p pvs
pvs="${CARGO_TARGET_DIR:-target}/release/pvs"

psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $database" \
  -c "CREATE DATABASE $database" >/dev/null
export REDIS_URL=redis://127.0.0.1:6379 REDIS_KEY_PREFIX="$prefix" \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database" \
  STORAGE_URL="file://$work/storage" REPORT_DIR="$work/to-panda" INGEST_PREFIX=incoming \
  RUST_LOG=warn

pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  redis-cli -h 127.0.0.1 --scan --pattern "${prefix}*" | xargs -r redis-cli -h 127.0.0.1 DEL >/dev/null
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $database" >/dev/null || true
  [ -n "${PVS_DEMO_KEEP:-}" ] && cp "$work/map.png" "$PVS_DEMO_KEEP" 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT

"$pvs" ingestor --watch "$work/from-fepd" --quiet 0.3 --poll 0.3 --listen 127.0.0.1:18081 & pids+=($!)
"$pvs" preprocessor --listen 127.0.0.1:18084 & pids+=($!)
"$pvs" registrar --listen 127.0.0.1:18085 & pids+=($!)
"$pvs" renderer --listen 127.0.0.1:18082 & pids+=($!)
for port in 18081 18084 18085 18082; do
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
done
echo "== four services ready: ingestor :18081, preprocessor :18084, registrar :18085, renderer :18082"

echo "== dropping two browse reports and their images into $work/from-fepd"
cp fixtures/ngeo/reference_test_data/ASA_IM__0P_20100722_213840.jpg \
  fixtures/ngeo/test_data/S2.jp2 "$work/from-fepd/"
cp fixtures/ngeo/reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml \
  fixtures/ngeo/test_data/S2.xml "$work/from-fepd/"

for _ in $(seq 1 300); do
  [ "$(find "$work/to-panda" -name '*.xml' | wc -l)" -ge 2 ] && break
  sleep 0.1
done

echo "== preprocess-success_set / register-success_set"
redis-cli -h 127.0.0.1 SMEMBERS "${prefix}preprocess-success_set"
redis-cli -h 127.0.0.1 SMEMBERS "${prefix}register-success_set"
echo "== registration reports written to REPORT_DIR (the SFTP to/panda folder)"
for report in "$work"/to-panda/*.xml; do
  echo "-- $(basename "$report")"
  cat "$report"
done
echo "== the COGs on storage"
find "$work/storage" -name '*.tif' | sort | while read -r cog; do
  echo "-- ${cog#"$work/storage/"}"
  gdalinfo "$cog" | grep -E 'Size is|Coordinate System|ID\["EPSG",[0-9]+\]\]$|LAYOUT|COMPRESSION|Overviews|Band 4' | head -8
done
echo "== the catalog (PostGIS)"
psql -h 127.0.0.1 -U postgres -d "$database" -c \
  "SELECT id, collection, begin_time, end_time, ST_AsText(ST_Envelope(footprint)) AS bbox FROM products ORDER BY id"
echo "== the map: WMS GetCapabilities layers, then a GetMap of the SAR collection (saved as map.png)"
curl -s 'http://127.0.0.1:18082/ows?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0' | grep -o '<Name>[^<]*</Name>'
curl -s -o "$work/map.png" -w 'GetMap: HTTP %{http_code}, %{content_type}, %{size_download} bytes\n' \
  'http://127.0.0.1:18082/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=SAR&CRS=EPSG:4326&BBOX=49,-3.5,53.5,0.5&WIDTH=512&HEIGHT=576&FORMAT=image/png&TRANSPARENT=TRUE'
gdalinfo -stats "$work/map.png" 2>/dev/null | grep -E 'Size is|Band 4|STATISTICS_MEAN' | head -6
