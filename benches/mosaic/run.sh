#!/usr/bin/env bash
# Low-zoom mosaic tiles: pvs (drawing from its overview mosaics) side by side with MapServer
# (WMS over a tile index of every product) and, when asked, TiTiler (MosaicJSON), over 1,000
# and then 10,000 products of one collection, at WebMercator zooms 0 to 6.
#
#   bash benches/mosaic/run.sh
#
# For each product count: generates the products (small COGs at random places over Europe,
# kept in $PVS_MOSAIC_DIR between runs), registers them in a catalog database of the run's
# own, starts the servers with the same number of workers, paints pvs's overview (timed: a
# first zoom-0 tile), then runs interleaved rounds of load (each server in turn, every round)
# on the same tile list and prints the medians over the rounds. A server's error, tiles
# that differ from pvs's (a product missing on one side, or other pixels), or tiles of any
# server that disagree with the products' footprints (a product not drawn, or drawn where it
# is not), fails the run.
# Finally one product is replaced and the next zoom-0 and zoom-6 tiles over it are timed (the
# repaint). Everything it started is stopped on exit. See benches/README.md.
#
# Environment (defaults): PVS_MOSAIC_DIR (/tmp/pvs-mosaic), PVS_MOSAIC_PRODUCTS ("1000
# 10000"), PVS_MOSAIC_SERVERS ("pvs mapserver"; add titiler to measure it too),
# PVS_MOSAIC_WORKERS (nproc), PVS_MOSAIC_CLIENTS ("1 8"), PVS_MOSAIC_ROUNDS (3),
# PVS_MOSAIC_WARMUP (3 s), PVS_MOSAIC_DURATION (20 s), PVS_MOSAIC_TILES (700),
# PVS_TEST_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres), CARGO_TARGET_DIR
# (target).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/benches/peers
WORK=${PVS_MOSAIC_DIR:-/tmp/pvs-mosaic}
COUNTS=${PVS_MOSAIC_PRODUCTS:-"1000 10000"}
SERVERS=${PVS_MOSAIC_SERVERS:-"pvs mapserver"}
WORKERS=${PVS_MOSAIC_WORKERS:-$(nproc)}
CLIENTS=${PVS_MOSAIC_CLIENTS:-"1 8"}
ROUNDS=${PVS_MOSAIC_ROUNDS:-3}
WARMUP=${PVS_MOSAIC_WARMUP:-3}
DURATION=${PVS_MOSAIC_DURATION:-20}
TILES=${PVS_MOSAIC_TILES:-700}
ADMIN_URL=${PVS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TITILER_VERSION=2.4.0
UVICORN_VERSION=0.54.0
PVS_PORT=18182
TITILER_PORT=18190
MAPSERVER_PORT=18191
DATABASE=pvs_bench_mosaic_$$
DATABASE_URL=${ADMIN_URL%/*}/$DATABASE

# shellcheck source=../peers/servers.sh
source "$HERE/servers.sh"

mkdir -p "$WORK"
RUN=$WORK/run
check_ports
install_peers
build_pvs_and_load

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
WMS="SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=MOSAIC&STYLES=&CRS=EPSG:3857&BBOX={minx},{miny},{maxx},{maxy}&WIDTH=256&HEIGHT=256&FORMAT={mime}&TRANSPARENT=TRUE"
WORLD="SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=MOSAIC&STYLES=&CRS=EPSG:3857&BBOX=-20037508.34,-20037508.34,20037508.34,20037508.34&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE"
# The zoom-6 tile over 10° E, 50° N.
Z6="SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=MOSAIC&STYLES=&CRS=EPSG:3857&BBOX=939258.2,6261721.4,1565430.3,6887893.5&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE"

# Seconds curl takes for one URL (a failure fails the run).
timed() {
    curl -fsS -o /dev/null --max-time 1800 -w '%{time_total}' "$1"
}

for count in $COUNTS; do
    DATA=$WORK/data-$count
    RUN=$WORK/run-$count
    SAMPLES=$WORK/samples-$count
    RESULTS=$WORK/results-$STAMP-$count.jsonl
    mkdir -p "$DATA" "$RUN"
    rm -rf "$SAMPLES"

    log "$count products: catalog database $DATABASE; data in $DATA"
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null
    psql -q "$ADMIN_URL" -c "CREATE DATABASE $DATABASE" >/dev/null
    "$RENDER" many --dir "$DATA" --database-url "$DATABASE_URL" --products "$count"
    "$RENDER" tiles --dir "$DATA" --count "$TILES" --seed 42 --zooms 0-6

    # MapServer draws the tile index's later tiles on top: oldest first.
    mapfile -t NEWEST_FIRST < <(grep -v '^#' "$DATA/products.tsv" | cut -f2)
    OLDEST_FIRST=()
    for ((i = ${#NEWEST_FIRST[@]} - 1; i >= 0; i--)); do OLDEST_FIRST+=("${NEWEST_FIRST[i]}"); done
    rm -f "$DATA"/tindex.*
    printf '%s\n' "${OLDEST_FIRST[@]}" >"$DATA/oldest-first.txt"
    gdaltindex -tileindex location "$DATA/tindex.shp" --optfile "$DATA/oldest-first.txt" >/dev/null
    EXTENT=$(ogrinfo -so -al "$DATA/tindex.shp" | sed -n 's/^Extent: (\(.*\), \(.*\)) - (\(.*\), \(.*\))$/\1 \2 \3 \4/p')
    if [[ " $SERVERS " == *" titiler "* ]]; then
        "$WORK/venv/bin/python" - "$DATA/mosaic.json" "${NEWEST_FIRST[@]}" <<'EOF'
import sys
from cogeo_mosaic.mosaic import MosaicJSON
# Quadkeys at zoom 0 (the lowest zoom requested): each lists its assets newest first.
mosaic = MosaicJSON.from_urls(sys.argv[2:], minzoom=0, maxzoom=6, quiet=True)
with open(sys.argv[1], "w") as f:
    f.write(mosaic.model_dump_json(exclude_none=True))
EOF
    fi

    log "starting $SERVERS ($WORKERS workers each)"
    for server in $SERVERS; do
        case $server in
        pvs) start_pvs ;;
        titiler) start_titiler ;;
        mapserver) start_mapserver ;;
        *) echo "PVS_MOSAIC_SERVERS: unknown server $server (pvs, titiler, mapserver)" >&2; exit 2 ;;
        esac
    done
    declare -A TEMPLATE=(
        [pvs]="http://127.0.0.1:$PVS_PORT/ows?$WMS"
        [titiler]="http://127.0.0.1:$TITILER_PORT/mosaicjson/tiles/WebMercatorQuad/{z}/{x}/{y}.{ext}?url=$DATA/mosaic.json&tilesize=256&resampling=bilinear&reproject=bilinear"
        # GDAL's PNG writer at zlib level 1, as pvs writes PNG.
        [mapserver]="http://127.0.0.1:$MAPSERVER_PORT/mapserv?${WMS/FORMAT=\{mime\}/FORMAT=gdalpng1}"
    )
    declare -A PID=([pvs]=$PVS_PID [titiler]=$TITILER_PID [mapserver]=$MAPSERVER_PID)

    if [[ " $SERVERS " == *" pvs "* ]]; then
        log "painting pvs's overview (the first zoom-0 tile)"
        PAINT=$(timed "http://127.0.0.1:$PVS_PORT/ows?$WORLD")
        log "painted in $PAINT s"
    fi

    for round in $(seq "$ROUNDS"); do
        for clients in $CLIENTS; do
            for server in $SERVERS; do
                log "round $round/$ROUNDS: $server, $clients clients, ${WARMUP} s warm-up, ${DURATION} s measured"
                "$RENDER" load --name "$server" --template "${TEMPLATE[$server]}" \
                    --format png --tiles "$DATA/tiles.txt" --concurrency "$clients" \
                    --warmup "$WARMUP" --duration "$DURATION" --pid "${PID[$server]}" \
                    --samples "$SAMPLES" | tee -a "$RESULTS"
            done
        done
    done

    if [[ " $SERVERS " == *" pvs "* ]]; then
        # A replacement: the next zoom-0 tile repaints the pieces the product touches at
        # every zoom; the zoom-6 tile is drawn from them.
        "$RENDER" replace --dir "$DATA" --database-url "$DATABASE_URL"
        REPAINT=$(timed "http://127.0.0.1:$PVS_PORT/ows?$WORLD")
        AFTER=$(timed "http://127.0.0.1:$PVS_PORT/ows?$WORLD")
        Z6_TIME=$(timed "http://127.0.0.1:$PVS_PORT/ows?$Z6")
    fi

    echo
    echo "$count products; $(date -u +%F), $(nproc) cores, $WORKERS workers per server, $ROUNDS interleaved rounds of ${DURATION} s after ${WARMUP} s warm-up each, $CLIENTS clients, PNG; results: $RESULTS"
    if [[ " $SERVERS " == *" pvs "* ]]; then
        echo "pvs: overview painted by the first zoom-0 tile in $PAINT s; after a replacement, the next zoom-0 tile in $REPAINT s, the one after in $AFTER s, a zoom-6 tile in $Z6_TIME s"
    fi
    "$RENDER" report --results "$RESULTS" --samples "$SAMPLES" --footprints "$DATA"
    stop_servers
done
