#!/usr/bin/env bash
# Floods and slow clients (issue 23): the latency of normal requests to the ingestor, the
# renderer and the cache, each a `pvs` process of its own with its default HTTP_* limits,
# under no attack (baseline), idle connections, slow headers (slowloris), slow bodies and a
# connection flood, each from another process on this machine (benches/flood/flood.py). See
# docs/security.md, "Floods and slow clients". Not run by CI; takes about
# rounds x 3 services x 5 faults x (seconds + ~5 s): ~20 minutes with the defaults.
#
# The data: `pvs up --demo` on the same Redis, PostGIS and local storage first (seven
# ENVISAT browses, the collection SAR), then stopped.
#
# Normal requests, one after another, each on a new connection: the ingestor a POST of a
# browse report (queued under a Redis key prefix of its own, deleted at the end); the
# renderer WMS GetCapabilities and a 256 x 256 GetMap; the cache an XYZ tile (a hit).
# The run fails if a normal request fails (error, status >= 300, no answer within 10 s) or
# if a p95 exceeds PVS_BENCH_BUDGET_MS.
#
# Environment: PVS_BENCH_DIR (work folder, default /tmp/pvs-flood-bench), PVS_BENCH_ROUNDS
# (interleaved rounds, default 3), PVS_BENCH_SECONDS (of measurement per fault, default 10),
# PVS_BENCH_CONNECTIONS (attacking connections, default 2000), PVS_BENCH_INTERVAL (seconds
# between two pieces of a slow head or body, default 5), PVS_BENCH_BUDGET_MS (largest p95,
# default 1000), PVS_BENCH_SERVICES and PVS_BENCH_FAULTS (subsets, space-separated),
# CARGO_TARGET_DIR; HTTP_* are passed on to the services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo="$(pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pvs-target}"
work="${PVS_BENCH_DIR:-/tmp/pvs-flood-bench}"
rounds="${PVS_BENCH_ROUNDS:-3}"
seconds="${PVS_BENCH_SECONDS:-10}"
connections="${PVS_BENCH_CONNECTIONS:-2000}"
interval="${PVS_BENCH_INTERVAL:-5}"
budget_ms="${PVS_BENCH_BUDGET_MS:-1000}"
services="${PVS_BENCH_SERVICES:-ingestor renderer cache}"
faults="${PVS_BENCH_FAULTS:-baseline idle slowloris slowbody flood}"
database=pvs_flood_bench
prefix="pvs-flood-bench:"
up_port=18580
declare -A port_of=([ingestor]=18581 [renderer]=18582 [cache]=18583)

log() { echo "[flood bench] $*" >&2; }

scripts/setup.sh >/dev/null
log "building pvs (release)"
cargo build --release --locked -p pvs 2>&1 | tail -1
pvs="$CARGO_TARGET_DIR/release/pvs"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli -h 127.0.0.1 --scan --pattern "$prefix*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
}
trap cleanup EXIT

rm -rf "$work" && mkdir -p "$work"
redis-cli -h 127.0.0.1 --scan --pattern "$prefix*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $database" >/dev/null
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $database" >/dev/null
export REDIS_URL=redis://127.0.0.1:6379/0 REDIS_KEY_PREFIX="$prefix" \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database" \
  STORAGE_URL="file://$work/store" TILES_STORAGE_URL="file://$work/tiles" RUST_LOG=warn
mkdir -p "$work/store" "$work/tiles"

wait_for() { # url
  for _ in $(seq 1 100); do
    curl -sf "$1" >/dev/null && return 0
    sleep 0.2
  done
  log "no answer from $1" && return 1
}

log "registering the demo with pvs up"
"$pvs" up --demo --data-dir "$work/up" --listen "127.0.0.1:$up_port" > "$work/up.log" 2>&1 &
up_pid=$!
pids+=("$up_pid")
wait_for "http://127.0.0.1:$up_port/health"
for _ in $(seq 1 300); do
  registered=$(curl -sf "http://127.0.0.1:$up_port/api/status" |
    python3 -c 'import json, sys; print(next(s["succeeded"] for s in json.load(sys.stdin)["stages"] if s["name"] == "register"))')
  [ "$registered" -ge 7 ] && break
  sleep 1
done
[ "$registered" -ge 7 ] || { log "only $registered products registered"; exit 1; }
kill -INT "$up_pid" && wait "$up_pid" || true

log "starting the ingestor, the renderer and the cache"
declare -A pid_of
for service in ingestor renderer cache; do
  LISTEN_ADDR="127.0.0.1:${port_of[$service]}" "$pvs" "$service" > "$work/$service.log" 2>&1 &
  pid_of[$service]=$!
  pids+=($!)
done
for service in ingestor renderer cache; do
  wait_for "http://127.0.0.1:${port_of[$service]}/health"
done

report="fixtures/ngeo/reference_test_data/browseReport_ASA_IM__0P_20100722_213840.xml"
getmap="/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=SAR&STYLES=&CRS=EPSG:4326&BBOX=48,-4,52,4&WIDTH=256&HEIGHT=256&FORMAT=image/png"
tile="/tiles/SAR/5/15/10.png"
declare -A requests_of=(
  [ingestor]="ingest=POST /ingest@$report"
  [renderer]="GetCapabilities=GET /ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities|GetMap=GET $getmap"
  [cache]="tile=GET $tile"
)
# Where slow bodies go: an endpoint that reads a body where the service has one.
declare -A slow_path_of=([ingestor]=/ingest [renderer]=/stac/search [cache]=/ows)

# Each normal request answers 2xx before anything is measured (and the tile is drawn).
curl -sf -o /dev/null -X POST --data-binary "@$report" -H 'Content-Type: application/xml' \
  "http://127.0.0.1:${port_of[ingestor]}/ingest"
curl -sf -o /dev/null "http://127.0.0.1:${port_of[renderer]}$getmap"
curl -sf -o /dev/null "http://127.0.0.1:${port_of[cache]}$tile"

results="$work/results.jsonl"
: > "$results"
for round in $(seq 1 "$rounds"); do
  for service in $services; do
    for fault in $faults; do
      IFS='|' read -r -a requests <<< "${requests_of[$service]}"
      request_args=()
      for request in "${requests[@]}"; do request_args+=(--request "$request"); done
      python3 "$repo/benches/flood/flood.py" --service "$service" --port "${port_of[$service]}" \
        --fault "$fault" --round "$round" --connections "$connections" --interval "$interval" \
        --seconds "$seconds" --slow-path "${slow_path_of[$service]}" "${request_args[@]}" \
        >> "$results"
      # Let the attacker's connections drain before the next measurement.
      sleep 2
    done
  done
done

for service in ingestor renderer cache; do
  log "$service: peak RSS $(( $(awk '/VmHWM/ {print $2}' "/proc/${pid_of[$service]}/status") / 1024 )) MiB"
done

echo
# The verdict is kept for the end, so that the load line is printed whatever it is.
verdict=0
python3 - "$results" "$budget_ms" <<'PY' || verdict=$?
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
budget = float(sys.argv[2])
faults = ["baseline", "idle", "slowloris", "slowbody", "flood"]
print("| Service | request | fault | p50 ms (median) | rounds' p50 | p95 ms (median) | rounds' p95 | max ms | answered | failed | attacker: opened/s, closed by the server/s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
failed = 0
over = []
keys = []
for r in rows:
    key = (r["service"], r["request"], r["fault"])
    if key not in keys:
        keys.append(key)
keys.sort(key=lambda k: (["ingestor", "renderer", "cache"].index(k[0]), k[1], faults.index(k[2])))
for key in keys:
    rs = [r for r in rows if (r["service"], r["request"], r["fault"]) == key]
    # A round with no answered request has no percentiles: "none" in its place, and a row
    # with none answered in any round has no median either (it fails the budget).
    p50s = [r["p50"] for r in rs if r["p50"] is not None]
    p95s = [r["p95"] for r in rs if r["p95"] is not None]
    maxes = [r["max"] for r in rs if r["max"] is not None]
    errors = sum(r["errors"] for r in rs)
    failed += errors
    p95 = statistics.median(p95s) if p95s else float("inf")
    if p95 > budget:
        over.append(f"{' '.join(key)}: p95 {p95} ms")
    each = lambda field: " · ".join("none" if r[field] is None else f"{r[field]:.1f}" for r in rs)
    number = lambda value, digits: "none" if value is None else f"{value:.{digits}f}"
    attack = " · ".join(f"{r['attack']['opened_per_s']}/{r['attack']['closed_by_server_per_s']}" for r in rs)
    print(f"| {key[0]} | {key[1]} | {key[2]} | "
          f"{number(statistics.median(p50s) if p50s else None, 1)} | {each('p50')} | "
          f"{number(p95 if p95s else None, 1)} | {each('p95')} | {number(max(maxes) if maxes else None, 0)} | "
          f"{sum(r['count'] for r in rs)} | {errors} | {attack if key[2] != 'baseline' else '—'} |")
print()
if failed or over:
    print(f"FAILED: {failed} normal requests failed; over the budget of {budget:.0f} ms: {over or 'none'}")
    sys.exit(1)
print(f"every normal request answered; every p95 within {budget:.0f} ms")
PY
echo "load: $(uptime)"
exit "$verdict"
