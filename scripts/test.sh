#!/usr/bin/env bash
# The test command (README): sets up what the tests need (scripts/setup.sh), then checks
# formatting and lints and runs every test of the workspace against the real services.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
