#!/usr/bin/env bash
# A local S3-compatible server (moto) for pvs's tests and single-machine runs.
#
#   scripts/s3-server.sh start    start moto on 127.0.0.1:${PVS_S3_PORT:-9000} unless something
#                                 already answers there, and wait until it answers
#   scripts/s3-server.sh stop     stop the server this script started (nothing else)
#   scripts/s3-server.sh status   say whether the port answers (exit 0) or not (exit 1)
#
# Idempotent. Installs "moto[server]" with pip when it is missing. The log and the pid file are
# ${TMPDIR:-/tmp}/pvs-s3-server-PORT.{log,pid}. PVS_S3_START_TIMEOUT (seconds, default 30)
# bounds the wait. moto is path-style, accepts any credentials, answers ranged GETs, and keeps
# everything in memory: stopping it drops all buckets.
set -euo pipefail

host=127.0.0.1
port="${PVS_S3_PORT:-9000}"
state_dir="${TMPDIR:-/tmp}"
log_file="$state_dir/pvs-s3-server-$port.log"
pid_file="$state_dir/pvs-s3-server-$port.pid"
start_timeout="${PVS_S3_START_TIMEOUT:-30}"

log() { printf '[s3-server] %s\n' "$*"; }
fail() {
  printf '[s3-server] error: %s\n' "$*" >&2
  exit 1
}

# True when an HTTP server answers on the port (any status counts).
answers() {
  curl --silent --output /dev/null --max-time 2 "http://$host:$port/"
}

# The pid of the moto server this script started, if it is still running.
our_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid="$(<"$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  # The pid must still be our moto server, not a process that reused the number.
  ps -o args= -p "$pid" 2>/dev/null | grep -q 'moto_server' || return 1
  printf '%s\n' "$pid"
}

ensure_moto() {
  if ! command -v moto_server >/dev/null 2>&1; then
    log 'moto_server not found: installing "moto[server]" with pip'
    python3 -m pip install --quiet "moto[server]"
    hash -r
    # pyenv only exposes new console scripts after a rehash.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
    command -v moto_server >/dev/null 2>&1 ||
      fail 'moto_server is still not on PATH after pip install "moto[server]"'
  fi
}

start() {
  command -v curl >/dev/null 2>&1 || fail 'curl is needed to check the server (apt-get install curl)'
  if answers; then
    log "already answering on http://$host:$port"
    return 0
  fi
  ensure_moto
  mkdir -p "$state_dir"
  log "starting moto_server on http://$host:$port (log: $log_file)"
  # setsid: the server outlives the shell (and process group) that started it.
  setsid moto_server -H "$host" -p "$port" >>"$log_file" 2>&1 </dev/null &
  local pid=$!
  printf '%s\n' "$pid" >"$pid_file"
  local waited=0
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$log_file" >&2 || true
      rm -f "$pid_file"
      fail "moto_server exited during start-up (see $log_file)"
    fi
    if ((waited >= start_timeout)); then
      tail -n 20 "$log_file" >&2 || true
      fail "moto_server did not answer on http://$host:$port within ${start_timeout}s (see $log_file)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "ready on http://$host:$port (pid $pid)"
}

stop() {
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$pid_file"
    if answers; then
      log "something answers on http://$host:$port but was not started by this script: left running"
    else
      log 'not running'
    fi
    return 0
  fi
  log "stopping moto_server (pid $pid)"
  kill "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    ((waited < 10)) || fail "moto_server (pid $pid) did not stop within 10s"
    sleep 1
    waited=$((waited + 1))
  done
  rm -f "$pid_file"
  log 'stopped'
}

status() {
  local pid
  if answers; then
    if pid="$(our_pid)"; then
      log "running on http://$host:$port (moto_server, pid $pid, log: $log_file)"
    else
      log "something answers on http://$host:$port (not started by this script)"
    fi
    return 0
  fi
  log "nothing answers on http://$host:$port; run: scripts/s3-server.sh start"
  return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    printf 'usage: %s start|stop|status\n' "$0" >&2
    exit 2
    ;;
esac
