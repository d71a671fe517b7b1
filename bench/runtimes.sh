#!/usr/bin/env bash
# Runtime-version benchmark: what pinning Node.js costs, cold (the install) and warm (each
# build after it), against the build machine's own Node in the same run. Needs root (the
# sandbox is on), cargo, git, node + npm (and the npm registry), python3.
# Usage: bench/runtimes.sh [--quick]   (--quick: 2 redeploys each)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p slipway
exec python3 bench/runtimes_bench.py target/release/slipway "$@"
