#!/usr/bin/env bash
# Sets up what is missing, then runs every check: formatting, clippy with -D warnings, and all
# tests (unit, property, scenario with real processes, doc tests). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh

echo "== fmt"
cargo fmt --all -- --check
echo "== build"
cargo build --workspace --all-targets --locked
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests"
cargo test --workspace --locked --no-fail-fast
