#!/usr/bin/env bash
# Route-update benchmark (issue: edge router — "a route-table update takes effect within 10 ms").
#
# On a fresh platform (release build, SQLite) with one live static app: add a custom domain
# through the API and time until the edge router serves it, remove it and time until it answers
# 404; 100 rounds → p50, p95, max into BENCHMARKS.md.
#
# Needs: cargo, git, python3.
# Usage: bench/route-update.sh [--quick]   (--quick: 10 rounds, for a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p slipway
exec python3 bench/route_update.py target/release/slipway "$@"
