#!/usr/bin/env bash
# STAC Item Search: pvs's STAC API on a PostGIS catalog (`pvs renderer`) and on a SQLite
# catalog (`pvs up`), beside stac-fastapi-pgstac, on the same products, the same queries,
# the same machine (benches/benches/stac.rs does the data and the load; see
# benches/README.md, "STAC Item Search").
#
#   bash benches/stac/run.sh
#
# Installs pypgstac, stac-fastapi-pgstac and uvicorn (pinned, pip, in a venv; idempotent),
# builds pvs and the bench in release mode, writes PVS_BENCH_PRODUCTS products as STAC
# Items (NDJSON), registers them in a PostGIS database and a SQLite catalog of their own
# (pvs_catalog's register_batch) and loads them into a pgstac database of its own
# (`pypgstac migrate`, `pypgstac load`), vacuums the two PostgreSQL databases as autovacuum
# would, starts the three servers with the same number of workers, prints the plan of pvs's
# search SQL, then runs the interleaved query rounds (`stac query`). Any server error or
# any difference in the returned ids fails the run. Everything it started is stopped on
# exit; the databases are dropped unless PVS_BENCH_STAC_KEEP=1 (then a later run with the
# same products and seed reuses them).
#
# Environment (defaults): PVS_BENCH_PRODUCTS (1000000), PVS_BENCH_STAC_SEED (42),
# PVS_BENCH_STAC_DIR (/tmp/pvs-bench-stac), PVS_BENCH_STAC_WORKERS (nproc),
# PVS_BENCH_STAC_ROUNDS (3), PVS_BENCH_STAC_QUERIES (1000), PVS_BENCH_STAC_CLIENTS ("1 8"),
# PVS_BENCH_STAC_WARMUP (300), PVS_BENCH_STAC_CHECK (50), PVS_BENCH_STAC_SERVERS
# ("pvs-postgis pvs-sqlite pgstac"), PVS_BENCH_STAC_KEEP (0),
# PVS_TEST_DATABASE_URL
# (postgres://postgres@127.0.0.1:5432/postgres), CARGO_TARGET_DIR ($HOME/.cache/pvs-target).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PRODUCTS=${PVS_BENCH_PRODUCTS:-1000000}
SEED=${PVS_BENCH_STAC_SEED:-42}
WORK=${PVS_BENCH_STAC_DIR:-/tmp/pvs-bench-stac}
WORKERS=${PVS_BENCH_STAC_WORKERS:-$(nproc)}
ROUNDS=${PVS_BENCH_STAC_ROUNDS:-3}
QUERIES=${PVS_BENCH_STAC_QUERIES:-1000}
CLIENTS=${PVS_BENCH_STAC_CLIENTS:-"1 8"}
WARMUP=${PVS_BENCH_STAC_WARMUP:-300}
CHECK=${PVS_BENCH_STAC_CHECK:-50}
SERVERS=${PVS_BENCH_STAC_SERVERS:-"pvs-postgis pvs-sqlite pgstac"}
KEEP=${PVS_BENCH_STAC_KEEP:-0}
ADMIN_URL=${PVS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/pvs-target}
PYPGSTAC_VERSION=0.10.0
STAC_FASTAPI_PGSTAC_VERSION=7.2.0
UVICORN_VERSION=0.55.0
PVS_POSTGIS_PORT=18110
PVS_SQLITE_PORT=18111
PGSTAC_PORT=18112
PVS_DATABASE=pvs_bench_stac_pvs
PGSTAC_DATABASE=pvs_bench_stac_pgstac
PVS_URL=${ADMIN_URL%/*}/$PVS_DATABASE
PGSTAC_URL=${ADMIN_URL%/*}/$PGSTAC_DATABASE
VENV=$WORK/venv
UP_DIR=$WORK/up
SQLITE=$UP_DIR/catalog.sqlite
ITEMS=$WORK/items
LOGS=$WORK/logs
LOADED=$WORK/loaded

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" "$@"; }
database_exists() {
    [ "$(psql -X -At "$ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]
}

# ---------------------------------------------------------------------------------------
# Servers, and stopping them

# Each server runs in a process group of its own (setsid), so that stopping the group also
# stops uvicorn's workers.
PIDS=()
cleanup() {
    local status=$?
    set +e
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null
    done
    if [ "$KEEP" != 1 ]; then
        psql_admin -c "DROP DATABASE IF EXISTS $PVS_DATABASE WITH (FORCE)" 2>/dev/null
        psql_admin -c "DROP DATABASE IF EXISTS $PGSTAC_DATABASE WITH (FORCE)" 2>/dev/null
        rm -rf "$UP_DIR" "$ITEMS" "$LOADED"
    fi
    exit "$status"
}
trap cleanup EXIT INT TERM

wait_for() { # name url
    for _ in $(seq 300); do
        if curl -fsS -o /dev/null "$2" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    echo "$1 did not answer $2 within 60 s; its log: $LOGS/$1.log" >&2
    tail -20 "$LOGS/$1.log" >&2
    return 1
}

start_pvs_postgis() { # name database-url port
    DATABASE_URL=$2 STORAGE_URL=file://$WORK/storage RUST_LOG=warn \
        TOKIO_WORKER_THREADS=$WORKERS \
        setsid "$PVS" renderer --listen "127.0.0.1:$3" >"$LOGS/$1.log" 2>&1 &
    PIDS+=($!)
    wait_for "$1" "http://127.0.0.1:$3/ready"
}

start_pvs_sqlite() { # name data-dir port
    # `pvs up` on a data directory: the embedded catalog is its catalog.sqlite.
    env -u DATABASE_URL -u REDIS_URL -u STORAGE_URL RUST_LOG=warn \
        TOKIO_WORKER_THREADS=$WORKERS \
        setsid "$PVS" up --data-dir "$2" --listen "127.0.0.1:$3" >"$LOGS/$1.log" 2>&1 &
    PIDS+=($!)
    wait_for "$1" "http://127.0.0.1:$3/ready"
}

start_pgstac() {
    PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD='' PGDATABASE=$PGSTAC_DATABASE \
        setsid "$VENV/bin/uvicorn" --factory stac_fastapi.pgstac.app:create_app \
        --host 127.0.0.1 --port "$PGSTAC_PORT" --workers "$WORKERS" --no-access-log \
        --log-level warning >"$LOGS/pgstac.log" 2>&1 &
    PIDS+=($!)
    wait_for pgstac "http://127.0.0.1:$PGSTAC_PORT/_mgmt/ping"
}

# ---------------------------------------------------------------------------------------
# Main

mkdir -p "$WORK" "$LOGS" "$WORK/storage"
for port in $PVS_POSTGIS_PORT $PVS_SQLITE_PORT $PGSTAC_PORT; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port on 127.0.0.1 is in use: stop what listens there first" >&2
        exit 1
    fi
done

if ! "$VENV/bin/python" -c "import pypgstac, stac_fastapi.pgstac, uvicorn, uvloop" 2>/dev/null; then
    log "installing pypgstac==$PYPGSTAC_VERSION stac-fastapi-pgstac==$STAC_FASTAPI_PGSTAC_VERSION uvicorn==$UVICORN_VERSION (pip, $VENV)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "pypgstac[psycopg]==$PYPGSTAC_VERSION" \
        "stac-fastapi-pgstac==$STAC_FASTAPI_PGSTAC_VERSION" "uvicorn[standard]==$UVICORN_VERSION"
fi

log "building pvs and the bench (release)"
cd "$ROOT"
cargo build --release --locked -q -p pvs
# A copy: other builds in a shared target directory may replace the binary during the run.
PVS=$WORK/pvs
cp "$CARGO_TARGET_DIR/release/pvs" "$PVS"
STAC=$(cargo bench --locked -q -p pvs-benches --bench stac --no-run \
    --message-format=json 2>/dev/null | "$VENV/bin/python" -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "stac" and m.get("executable"):
        print(m["executable"])')
[ -x "$STAC" ] || { echo "the stac bench did not build" >&2; exit 1; }
cp "$STAC" "$WORK/stac-bench"
STAC=$WORK/stac-bench

if [ "$(cat "$LOADED" 2>/dev/null)" = "$PRODUCTS $SEED" ] && [ -f "$SQLITE" ] &&
    database_exists "$PVS_DATABASE" && database_exists "$PGSTAC_DATABASE"; then
    log "reusing the loaded databases ($PRODUCTS products, seed $SEED)"
else
    rm -f "$LOADED"
    rm -rf "$UP_DIR"
    mkdir -p "$UP_DIR"
    psql_admin -c "DROP DATABASE IF EXISTS $PVS_DATABASE WITH (FORCE)"
    psql_admin -c "DROP DATABASE IF EXISTS $PGSTAC_DATABASE WITH (FORCE)"
    psql_admin -c "CREATE DATABASE $PVS_DATABASE"
    psql_admin -c "CREATE DATABASE $PGSTAC_DATABASE"

    log "writing $PRODUCTS products as STAC Items (seed $SEED)"
    "$STAC" items --products "$PRODUCTS" --seed "$SEED" --dir "$ITEMS"

    log "pvs: registering them in $PVS_DATABASE and $SQLITE"
    started=$SECONDS
    "$STAC" load --products "$PRODUCTS" --seed "$SEED" --postgis "$PVS_URL" --sqlite "$SQLITE"
    log "pvs: loaded in $((SECONDS - started)) s"

    log "pgstac: migrating $PGSTAC_DATABASE and loading the items"
    started=$SECONDS
    "$VENV/bin/pypgstac" migrate --dsn "$PGSTAC_URL" >"$LOGS/pypgstac.log" 2>&1
    "$VENV/bin/pypgstac" load collections "$ITEMS/collection.json" --dsn "$PGSTAC_URL" \
        --method insert >>"$LOGS/pypgstac.log" 2>&1
    # eo:cloud_cover read as a number and indexed, as pvs's catalog does.
    "$VENV/bin/pypgstac" load_queryables "$HERE/queryables.json" --dsn "$PGSTAC_URL" \
        --index_fields '["eo:cloud_cover"]' >>"$LOGS/pypgstac.log" 2>&1
    "$VENV/bin/pypgstac" load items "$ITEMS/items.ndjson" --dsn "$PGSTAC_URL" \
        --method insert >>"$LOGS/pypgstac.log" 2>&1
    log "pgstac: loaded in $((SECONDS - started)) s"

    # What autovacuum does after a bulk load: statistics and hint bits.
    psql -X -q -v ON_ERROR_STOP=1 "$PVS_URL" -c "VACUUM ANALYZE"
    psql -X -q -v ON_ERROR_STOP=1 "$PGSTAC_URL" -c "VACUUM ANALYZE"
    echo "$PRODUCTS $SEED" >"$LOADED"
fi

# The plan of pvs's count query (its search adds ORDER BY and LIMIT) for a 5° x 5°, 30-day,
# cloud < 20 query: the generic plan, which a pooled connection uses from its sixth
# execution of the statement on, then the custom plan of the first five.
explain_pvs() { # database-url
    psql -X -q -v ON_ERROR_STOP=1 "$1" <<'EOF'
PREPARE c(text, float8, float8, float8, float8, timestamptz, timestamptz, float8) AS
SELECT count(*) FROM products WHERE collection = $1 AND (ST_Intersects(footprint,
    ST_Envelope(ST_SetSRID(ST_MakeLine(ST_MakePoint($2, $3), ST_MakePoint($4, $5)), 4326))))
    AND begin_time <= $7 AND end_time >= $6
    AND (((properties ->> 'eo:cloud_cover')::float8) < $8::float8);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
    EXECUTE c('BENCH', 10, 40, 15, 45, '2022-06-01Z', '2022-07-01Z', 20);
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
    EXECUTE c('BENCH', 10, 40, 15, 45, '2022-06-01Z', '2022-07-01Z', 20);
EOF
}
log "pvs's count query on $PVS_DATABASE (generic plan, then custom plan):"
explain_pvs "$PVS_URL" >&2

log "sizes: $PVS_DATABASE $(psql -X -At "$ADMIN_URL" -c "SELECT pg_size_pretty(pg_database_size('$PVS_DATABASE'))"), $PGSTAC_DATABASE $(psql -X -At "$ADMIN_URL" -c "SELECT pg_size_pretty(pg_database_size('$PGSTAC_DATABASE'))"), $SQLITE $(du -h "$SQLITE" | cut -f1)"

log "starting $SERVERS ($WORKERS workers each)"
ARGS=()
for server in $SERVERS; do
    case $server in
    pvs-postgis)
        start_pvs_postgis pvs-postgis "$PVS_URL" "$PVS_POSTGIS_PORT"
        ARGS+=(--server "pvs-postgis=http://127.0.0.1:$PVS_POSTGIS_PORT/stac/search")
        ;;
    pvs-sqlite)
        start_pvs_sqlite pvs-sqlite "$UP_DIR" "$PVS_SQLITE_PORT"
        ARGS+=(--server "pvs-sqlite=http://127.0.0.1:$PVS_SQLITE_PORT/stac/search")
        ;;
    pgstac)
        start_pgstac
        ARGS+=(--server "pgstac=http://127.0.0.1:$PGSTAC_PORT/search")
        ;;
    *) echo "PVS_BENCH_STAC_SERVERS: unknown server $server" >&2; exit 2 ;;
    esac
done
for clients in $CLIENTS; do ARGS+=(--clients "$clients"); done

RESULTS=$WORK/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl
log "querying: $ROUNDS rounds of $QUERIES queries, clients: $CLIENTS; results in $RESULTS"
echo "$(date -u +%F), $(nproc) cores, $WORKERS workers per server, $PRODUCTS products (seed $SEED)"
"$STAC" query "${ARGS[@]}" --rounds "$ROUNDS" --queries "$QUERIES" --warmup "$WARMUP" \
    --check "$CHECK" --results "$RESULTS"
