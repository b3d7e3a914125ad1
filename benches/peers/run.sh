#!/usr/bin/env bash
# The pvs renderer (WMS GetMap) side by side with TiTiler (MosaicJSON tiles) and MapServer
# (WMS over a tile index), on the same 10 COGs, the same tiles, the same machine.
#
#   bash benches/peers/run.sh
#
# Installs the peers (apt: mapserver-bin cgi-mapserver lighttpd; pip in a venv:
# titiler.application, uvicorn; both idempotent), generates the data (kept in
# $PVS_PEERS_DIR between runs, the catalog database is made anew and dropped), starts the
# three servers with the same number of workers, runs the load (benches/benches/render.rs)
# and prints the table. Everything it started is stopped on exit. See benches/README.md.
#
# Environment (defaults): PVS_PEERS_DIR (/tmp/pvs-peers), PVS_PEERS_WORKERS (nproc),
# PVS_PEERS_CLIENTS ("8 64"), PVS_PEERS_FORMATS ("png jpeg"), PVS_PEERS_WARMUP (5 s),
# PVS_PEERS_DURATION (20 s), PVS_PEERS_SERVERS ("pvs titiler mapserver": which to run; a
# PNG run adds mapserver-gdalpng when mapserver is in), PVS_TEST_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres),
# CARGO_TARGET_DIR (target).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${PVS_PEERS_DIR:-/tmp/pvs-peers}
WORKERS=${PVS_PEERS_WORKERS:-$(nproc)}
CLIENTS=${PVS_PEERS_CLIENTS:-"8 64"}
FORMATS=${PVS_PEERS_FORMATS:-"png jpeg"}
WARMUP=${PVS_PEERS_WARMUP:-5}
DURATION=${PVS_PEERS_DURATION:-20}
SERVERS=${PVS_PEERS_SERVERS:-"pvs titiler mapserver"}
ADMIN_URL=${PVS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TITILER_VERSION=2.4.0
UVICORN_VERSION=0.54.0
PVS_PORT=18082
TITILER_PORT=18090
MAPSERVER_PORT=18091
DATABASE=pvs_bench_peers_$$
DATABASE_URL=${ADMIN_URL%/*}/$DATABASE
RUN=$WORK/run
DATA=$WORK/data

# shellcheck source=servers.sh
source "$HERE/servers.sh"

# ---------------------------------------------------------------------------------------
# Main

mkdir -p "$WORK" "$RUN" "$DATA"
check_ports
install_peers

build_pvs_and_load

log "catalog database $DATABASE; data in $DATA"
psql -q "$ADMIN_URL" -c "CREATE DATABASE $DATABASE" >/dev/null
"$RENDER" data --dir "$DATA" --database-url "$DATABASE_URL"
"$RENDER" tiles --dir "$DATA" --count 3000 --seed 42

# The same COGs for the peers: newest first in the MosaicJSON (TiTiler takes the first
# asset that has data), oldest first in the tile index (MapServer draws later tiles on top).
mapfile -t NEWEST_FIRST < <(grep -v '^#' "$DATA/products.tsv" | cut -f2)
OLDEST_FIRST=()
for ((i = ${#NEWEST_FIRST[@]} - 1; i >= 0; i--)); do OLDEST_FIRST+=("${NEWEST_FIRST[i]}"); done
rm -f "$DATA"/tindex.*
gdaltindex -tileindex location "$DATA/tindex.shp" "${OLDEST_FIRST[@]}" >/dev/null
EXTENT=$(ogrinfo -so -al "$DATA/tindex.shp" | sed -n 's/^Extent: (\(.*\), \(.*\)) - (\(.*\), \(.*\))$/\1 \2 \3 \4/p')
"$WORK/venv/bin/python" - "$DATA/mosaic.json" "${NEWEST_FIRST[@]}" <<'EOF'
import sys
from cogeo_mosaic.mosaic import MosaicJSON
# Quadkeys at zoom 8 (the lowest zoom requested): each lists its assets newest first.
mosaic = MosaicJSON.from_urls(sys.argv[2:], minzoom=8, maxzoom=12, quiet=True)
with open(sys.argv[1], "w") as f:
    f.write(mosaic.model_dump_json(exclude_none=True))
EOF

log "starting $SERVERS ($WORKERS workers each)"
for server in $SERVERS; do
    case $server in
    pvs) start_pvs ;;
    titiler) start_titiler ;;
    mapserver) start_mapserver ;;
    *) echo "PVS_PEERS_SERVERS: unknown server $server (pvs, titiler, mapserver)" >&2; exit 2 ;;
    esac
done

WMS="SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=MOSAIC&STYLES=&CRS=EPSG:3857&BBOX={minx},{miny},{maxx},{maxy}&WIDTH=256&HEIGHT=256&FORMAT={mime}&TRANSPARENT=TRUE"
declare -A TEMPLATE=(
    [pvs]="http://127.0.0.1:$PVS_PORT/ows?$WMS"
    [titiler]="http://127.0.0.1:$TITILER_PORT/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}.{ext}?url=$DATA/mosaic.json&tilesize=256&resampling=bilinear&reproject=bilinear"
    [mapserver]="http://127.0.0.1:$MAPSERVER_PORT/mapserv?$WMS"
    [mapserver-gdalpng]="http://127.0.0.1:$MAPSERVER_PORT/mapserv?${WMS/FORMAT=\{mime\}/FORMAT=gdalpng}"
)
declare -A PID=([pvs]=$PVS_PID [titiler]=$TITILER_PID [mapserver]=$MAPSERVER_PID
    [mapserver-gdalpng]=$MAPSERVER_PID)

RESULTS=$WORK/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl
rm -rf "$WORK/samples"
for format in $FORMATS; do
    for clients in $CLIENTS; do
        servers=$SERVERS
        # MapServer's own PNG writer compresses less (about twice the bytes) than GDAL's,
        # which pvs and TiTiler use: PNG is also measured with MapServer on GDAL's writer.
        [ "$format" = png ] && [[ " $SERVERS " == *" mapserver "* ]] &&
            servers="$servers mapserver-gdalpng"
        for server in $servers; do
            log "$server $format, $clients clients: ${WARMUP} s warm-up, ${DURATION} s measured"
            "$RENDER" load --name "$server" --template "${TEMPLATE[$server]}" \
                --format "$format" --tiles "$DATA/tiles.txt" --concurrency "$clients" \
                --warmup "$WARMUP" --duration "$DURATION" --pid "${PID[$server]}" \
                --samples "$WORK/samples" | tee -a "$RESULTS"
        done
    done
done

echo
echo "$(date -u +%F), $(nproc) cores, $WORKERS workers per server, ${DURATION} s per run after ${WARMUP} s warm-up; results: $RESULTS"
"$RENDER" report --results "$RESULTS" --samples "$WORK/samples"
