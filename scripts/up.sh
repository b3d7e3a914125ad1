#!/usr/bin/env bash
# The README's first command: installs what pvs needs to build and run on this machine if it
# is missing (GDAL from Debian; Node.js and npm to build the web client), builds pvs and runs
# `pvs up --demo`: every service in one process on http://127.0.0.1:8080/, on embedded
# backends in ./pvs-data, with the bundled demo reports ingested. Ctrl-C stops it; extra
# arguments go to `pvs up` (e.g. --listen 0.0.0.0:8080, --data-dir DIR).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
packages=(pkg-config libgdal-dev)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
install_missing_debian_packages "${packages[@]}"

echo "[up] building pvs (release; a few minutes the first time)"
cargo build --release --locked --quiet -p pvs
exec "${CARGO_TARGET_DIR:-target}/release/pvs" up --demo "$@"
