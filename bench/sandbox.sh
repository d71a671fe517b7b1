#!/usr/bin/env bash
# What the tenant sandbox costs per start of tenant code and in memory per running instance,
# side by side with the sandbox off in the same run (interleaved), on this machine.
# Needs root (uids, namespaces, cgroups). Writes the figures to bench/results/sandbox.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-100}"
cargo build --release -q -p slipway-sandbox --example start_cost
mkdir -p bench/results
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
  echo "runs: $runs (sandbox off and on interleaved)"
  ./target/release/examples/start_cost "$runs"
} | tee bench/results/sandbox.txt
