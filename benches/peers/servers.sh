# What benches/peers/run.sh, benches/mosaic/run.sh and benches/soak/run.sh share: installing the peers, starting
# pvs, TiTiler and MapServer (each in a process group of its own) and stopping them on exit,
# and building pvs and the load generator. Sourced after the caller has set WORK, RUN, DATA,
# WORKERS, ADMIN_URL, DATABASE, DATABASE_URL, TARGET, ROOT, HERE (the peers folder, for the
# mapfile) and the ports PVS_PORT, TITILER_PORT, MAPSERVER_PORT.

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# ---------------------------------------------------------------------------------------
# Peers

install_peers() {
    local packages=(mapserver-bin cgi-mapserver lighttpd gdal-bin postgresql-client)
    if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
        log "installing ${packages[*]} (apt)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
    fi
    if ! "$WORK/venv/bin/python" -c "import titiler.application, uvicorn" 2>/dev/null; then
        log "installing titiler.application==$TITILER_VERSION uvicorn==$UVICORN_VERSION (pip, $WORK/venv)"
        python3 -m venv "$WORK/venv"
        "$WORK/venv/bin/pip" install -q "titiler.application==$TITILER_VERSION" \
            "uvicorn==$UVICORN_VERSION"
    fi
}

# ---------------------------------------------------------------------------------------
# Servers, and stopping them

# Each server runs in a process group of its own (setsid), so stopping the group also stops
# uvicorn's workers and lighttpd's FastCGI mapserv processes (which lighttpd would respawn).
PIDS=()
PVS_PID= TITILER_PID= MAPSERVER_PID=
# Stops every server started so far.
stop_servers() {
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    local status=$?
    set +e
    stop_servers
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1
    exit "$status"
}
trap cleanup EXIT INT TERM

wait_for() { # name url
    for _ in $(seq 300); do
        if curl -fsS -o /dev/null "$2" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    echo "$1 did not answer $2 within 60 s; its log: $RUN/$1.log" >&2
    tail -20 "$RUN/$1.log" >&2
    return 1
}

start_pvs() {
    DATABASE_URL=$DATABASE_URL STORAGE_URL=file://$DATA RUST_LOG=warn \
        setsid "$TARGET/release/pvs" renderer --listen "127.0.0.1:$PVS_PORT" >"$RUN/pvs.log" 2>&1 &
    PIDS+=($!)
    PVS_PID=$!
    wait_for pvs "http://127.0.0.1:$PVS_PORT/ready"
}

start_titiler() {
    # GDAL settings TiTiler's docs recommend for COGs.
    GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR GDAL_HTTP_MERGE_CONSECUTIVE_RANGES=YES \
    GDAL_HTTP_MULTIPLEX=YES VSI_CACHE=TRUE \
        setsid "$WORK/venv/bin/uvicorn" titiler.application.main:app --host 127.0.0.1 \
        --port "$TITILER_PORT" --workers "$WORKERS" --no-access-log --log-level warning \
        >"$RUN/titiler.log" 2>&1 &
    PIDS+=($!)
    TITILER_PID=$!
    wait_for titiler "http://127.0.0.1:$TITILER_PORT/healthz"
}

start_mapserver() {
    sed -e "s|@TILEINDEX@|$DATA/tindex.shp|" -e "s|@EXTENT@|$EXTENT|" \
        "$HERE/mosaic.map.in" >"$RUN/mosaic.map"
    cat >"$RUN/mapserver.conf" <<EOF
CONFIG
  ENV
    MS_MAPFILE "$RUN/mosaic.map"
  END
END
EOF
    cat >"$RUN/lighttpd.conf" <<EOF
server.modules = ("mod_fastcgi")
server.document-root = "$RUN"
server.bind = "127.0.0.1"
server.port = $MAPSERVER_PORT
server.errorlog = "$RUN/lighttpd-error.log"
server.max-connections = 1024
fastcgi.server = ("/mapserv" => ((
    "bin-path" => "/usr/lib/cgi-bin/mapserv",
    "socket" => "$RUN/mapserv.sock",
    "max-procs" => $WORKERS,
    "check-local" => "disable",
    "bin-environment" => ("MAPSERVER_CONFIG_FILE" => "$RUN/mapserver.conf"),
)))
EOF
    setsid lighttpd -D -f "$RUN/lighttpd.conf" >"$RUN/mapserver.log" 2>&1 &
    PIDS+=($!)
    MAPSERVER_PID=$!
    wait_for mapserver \
        "http://127.0.0.1:$MAPSERVER_PORT/mapserv?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0"
}

# Builds pvs and the render bench (the load generator) in release mode; sets RENDER.
build_pvs_and_load() {
    log "building pvs and the load generator (release)"
    cd "$ROOT"
    export CARGO_TARGET_DIR=$TARGET
    cargo build --release --locked -q -p pvs
    RENDER=$(cargo bench --locked -q -p pvs-benches --bench render --no-run \
        --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "render" and m.get("executable"):
        print(m["executable"])')
    [ -x "$RENDER" ] || { echo "the render bench did not build" >&2; exit 1; }
}

# Fails when one of the ports is taken.
check_ports() {
    # A server left on one of the ports would answer in place of the one started here.
    for port in $PVS_PORT $TITILER_PORT $MAPSERVER_PORT; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "port $port on 127.0.0.1 is in use: stop what listens there first" >&2
            exit 1
        fi
    done
}
