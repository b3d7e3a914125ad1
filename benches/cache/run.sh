#!/usr/bin/env bash
# Cache hits side by side: `pvs cache` (local-directory tile store) against nginx serving the
# same tile files from the same disk, with wrk on loopback; then seeding (see benches/README.md,
# "Cache and seeder"). Not run by CI; takes about 5 minutes. Any wrk error (non-2xx answer,
# socket error) fails the run.
#
# Environment: PVS_BENCH_DIR (work folder, default /tmp/pvs-cache-bench), PVS_BENCH_DURATION
# (seconds per measurement, default 10), PVS_BENCH_ROUNDS (interleaved rounds of the hits,
# default 3), PVS_BENCH_SEED_ZOOM (seeded zoom levels, default 0-10), CARGO_TARGET_DIR;
# PVS_BENCH_HITS_ONLY=1 stops after the cache hits.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo="$(pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pvs-target}"
work="${PVS_BENCH_DIR:-/tmp/pvs-cache-bench}"
duration="${PVS_BENCH_DURATION:-10}"
rounds="${PVS_BENCH_ROUNDS:-3}"
database=pvs_cache_bench
seed_database=pvs_cache_bench_seed
seed_zoom="${PVS_BENCH_SEED_ZOOM:-0-10}"
renderer_port=18482
nginx_port=18480
pvs_port=18483

log() { echo "[cache bench] $*" >&2; }

scripts/setup.sh >/dev/null
missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]} (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

log "building pvs (release)"
cargo build --release --locked -p pvs 2>&1 | tail -1
pvs="$CARGO_TARGET_DIR/release/pvs"

rm -rf "$work" && mkdir -p "$work/nginx"
log "writing 10,000 tiles"
cargo bench --locked -p pvs-benches --bench cache -- tiles --dir "$work" --count 10000 --seed 42

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
  for db in "$database" "$seed_database"; do
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

# nginx as a static file server is commonly set up: 2 workers (one per core), sendfile,
# no access log, open file cache.
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  open_file_cache max=20000 inactive=60s;
  types { image/png png; }
  client_body_temp_path $work/nginx/tmp;
  proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp;
  uwsgi_temp_path $work/nginx/tmp;
  scgi_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/store;
  }
}
CONF
mkdir -p "$work/nginx/tmp"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx"

psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $database" >/dev/null
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $database" >/dev/null
declare -A port_of=([nginx]=$nginx_port [pvs]=$pvs_port)
DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database" STORAGE_URL="file://$work/store" \
  LISTEN_ADDR="127.0.0.1:$pvs_port" RUST_LOG=warn "$pvs" cache > "$work/pvs.log" 2>&1 &
pids+=($!)
pvs_pid=$!
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$pvs_port/health" >/dev/null && break
  sleep 0.2
done

# Both must serve the very same bytes.
read -r z x y < "$work/tiles.txt"
curl -sf "http://127.0.0.1:$nginx_port/tiles/BENCH/default/WebMercatorQuad/$z/$x/$y.png" -o "$work/a.png"
curl -sf "http://127.0.0.1:$pvs_port/tiles/BENCH/$z/$x/$y.png" -o "$work/b.png"
cmp "$work/a.png" "$work/b.png"

results="$work/results.tsv"
: > "$results"
# CPU seconds (user + system) a process has used: all nginx workers, or one pvs.
cpu_of() { # server
  local pids_
  if [ "$1" = nginx ]; then pids_=$(pgrep -P "$(cat "$work/nginx/nginx.pid")"); else pids_=$pvs_pid; fi
  local ticks=0
  for p in $pids_; do ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$ticks / $(getconf CLK_TCK)" | bc -l
}
run() { # server clients
  local form=xyz output before after
  [ "$1" = nginx ] && form=file
  before=$(cpu_of "$1")
  output=$(cd "$work" && PVS_BENCH_FORM="$form" PVS_BENCH_TILES="$work/tiles.txt" \
    wrk -t2 -c"$2" -d"${duration}s" --latency -s "$repo/benches/cache/wrk-paths.lua" \
    "http://127.0.0.1:${port_of[$1]}")
  after=$(cpu_of "$1")
  local rps p99 requests non2xx sockets cpu_us
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$output")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$output")
  requests=$(awk '/requests in/ {print $1}' <<<"$output")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$output")
  sockets=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$output")
  cpu_us=$(echo "($after - $before) * 1000000 / $requests" | bc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%.1f\n' "$1" "$2" "$rps" "$p99" "$(( ${non2xx:-0} + ${sockets:-0} ))" "$cpu_us" >> "$results"
  log "$1, $2 clients: $rps req/s, p99 $p99, non-2xx ${non2xx:-0}, socket errors ${sockets:-0}, $(printf %.1f "$cpu_us") µs CPU a request"
}
log "warm-up (page cache, open file caches)"
for server in nginx pvs; do
  form=xyz; [ "$server" = nginx ] && form=file
  (cd "$work" && PVS_BENCH_FORM=$form PVS_BENCH_TILES="$work/tiles.txt" \
    wrk -t2 -c16 -d5s -s "$repo/benches/cache/wrk-paths.lua" "http://127.0.0.1:${port_of[$server]}" >/dev/null)
done
# Interleaved rounds: the machine's noise (other tenants, CPU frequency) is shared by the
# servers within a round, and the medians over rounds are reported. The order of the servers
# turns from one round to the next, so that neither always runs first.
orders=("nginx pvs" "pvs nginx")
for round in $(seq 1 "$rounds"); do
  for clients in 8 64; do
    for server in ${orders[$(( (round - 1) % 2 ))]}; do
      run "$server" "$clients"
    done
  done
done
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pvs_pid/status")

echo
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]

def millis(value):  # wrk writes 850.00us, 2.06ms, 1.02s
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * scale
    return float("inf")

servers = ("nginx", "pvs")
print("| Clients | server | req/s (median) | rounds' req/s | p99 (median) | CPU µs a request (median) | errors |")
print("|---|---|---|---|---|---|---|")
of = lambda name, clients: [r for r in rows if r[0] == name and r[1] == clients]
for clients in ("8", "64"):
    for name in servers:
        rs = of(name, clients)
        p99 = sorted((r[3] for r in rs), key=millis)[len(rs) // 2]
        print(f"| {clients} | {name} | {statistics.median(float(r[2]) for r in rs):,.0f} | "
              f"{' · '.join(f'{float(r[2]):,.0f}' for r in rs)} | {p99} | "
              f"{statistics.median(float(r[5]) for r in rs):.0f} | {sum(int(r[4]) for r in rs)} |")
print()
print("| Clients | ratio | median of rounds | rounds |")
print("|---|---|---|---|")
for clients in ("8", "64"):
    for a, b in (("pvs", "nginx"),):
        ratios = [float(x[2]) / float(y[2]) for x, y in zip(of(a, clients), of(b, clients))]
        print(f"| {clients} | {a} ÷ {b} | {statistics.median(ratios):.2f}× | {' · '.join(f'{r:.2f}' for r in ratios)} |")
PY
echo
errors=$(awk -F'\t' '{s += $5} END {print s}' "$results")
echo "pvs cache peak RSS: $((rss / 1024)) MiB; errors (non-2xx answers and socket errors): $errors; load: $(uptime)"
if [ "$errors" -ne 0 ]; then
  log "FAILED: $errors errors in the cache hits"
  exit 1
fi
[ "${PVS_BENCH_HITS_ONLY:-0}" = 1 ] && exit 0

# ---------------------------------------------------------------------------------------
# Seeding: the render bench's mosaic of 10 products (4096² RGB COGs), WebMercatorQuad PNG
# tiles at zooms $seed_zoom, by `pvs seeder` (in-process renderer, 2 × cores tiles at once),
# then the very same tiles by sequential GetMap calls to `pvs renderer`.
kill "$pvs_pid" 2>/dev/null || true
kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true
seed_url="postgres://postgres@127.0.0.1:5432/$seed_database"
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $seed_database" >/dev/null
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $seed_database" >/dev/null
log "writing the mosaic (10 COGs)"
cargo bench --locked -q -p pvs-benches --bench render -- data --dir "$work/seed" --database-url "$seed_url" 2>/dev/null
log "seeding MOSAIC at zooms $seed_zoom"
start=$(date +%s.%N)
DATABASE_URL="$seed_url" STORAGE_URL="file://$work/seed" TILES_STORAGE_URL="file://$work/seed-tiles" \
  RUST_LOG=warn "$pvs" seeder --collection MOSAIC --time 2024-01-01/2024-02-01 --zoom "$seed_zoom" \
  --tms WebMercatorQuad --format png 2> "$work/seeder.log"
seed_seconds=$(echo "$(date +%s.%N) - $start" | bc)
tail -1 "$work/seeder.log" >&2
rendered=$(find "$work/seed-tiles/tiles" -type f -size +0 | wc -l)
empty=$(find "$work/seed-tiles/tiles" -type f -size 0 | wc -l)

DATABASE_URL="$seed_url" STORAGE_URL="file://$work/seed" LISTEN_ADDR="127.0.0.1:$renderer_port" \
  RUST_LOG=warn "$pvs" renderer > "$work/renderer.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$renderer_port/health" >/dev/null && break
  sleep 0.2
done
log "the same tiles by sequential GetMap"
sequential=$(cargo bench --locked -q -p pvs-benches --bench cache -- sequential \
  --store "$work/seed-tiles/tiles" --renderer "http://127.0.0.1:$renderer_port" 2>/dev/null)
echo "$sequential" >&2
sequential_rate=$(awk '{print $(NF-1)}' <<<"$sequential")

echo
echo "| Seeding ($seed_zoom, WebMercatorQuad, PNG) | Tiles drawn | Empty tiles | Seconds | Tiles/s |"
echo "|---|---|---|---|---|"
awk -v r="$rendered" -v e="$empty" -v s="$seed_seconds" -v q="$sequential_rate" 'BEGIN {
  printf "| pvs seeder | %d | %d | %.1f | %.1f |\n", r, e, s, r / s
  printf "| sequential GetMap (same tiles) | %d | | %.1f | %.1f |\n", r, r / q, q
  printf "\nseeder ÷ sequential GetMap: %.2f×\n", (r / s) / q
}'
