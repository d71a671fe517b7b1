#!/usr/bin/env bash
# Push-to-live benchmark, with the tenant sandbox off and on in one run (needs root for "on").
#
# On a fresh platform (release build, SQLite, fresh data dir, so no npm cache):
#   - time from the start of `git push` to the first 200 of the new release at
#     the live URL, for examples/express: the first (cold) deploy, then 5
#     redeploys with unchanged dependencies (one line of server.js changes)
#     → median, min, max;
#   - the platform's own memory per running app: RSS of the agent process
#     (supervisor + edge router) with 0 apps vs with 10 Express apps running,
#     (delta)/10; the app processes themselves are not counted.
# and writes the figures, the machine and the date into BENCHMARKS.md.
#
# Needs: cargo, git, node + npm (and the npm registry), python3.
# Usage: bench/push.sh [--quick]   (--quick: 2 redeploys, 3 apps, for a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p slipway
exec python3 bench/push_bench.py target/release/slipway "$@"
