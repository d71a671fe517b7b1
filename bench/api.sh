#!/usr/bin/env bash
# Control-plane API benchmark (issue: foundation).
#
# Loads 1,000 workspaces x 10 projects into a fresh store, then measures at a
# fixed request rate (open loop, latency from each request's scheduled start):
#   - GET  /v1/workspaces/{ws}/projects   (one workspace's list) at 500 req/s
#   - POST /v1/workspaces/{ws}/projects   (project creation)     at 100 req/s
# on SQLite (the embedded default) and on PostgreSQL, and writes the figures,
# the machine and the date into BENCHMARKS.md.
#
# Needs: cargo, curl, python3, and PostgreSQL at SLIPWAY_TEST_DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/postgres).
# Usage: bench/api.sh [--quick]   (--quick: 10x fewer requests, for a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."

LIST_RATE=500 LIST_REQUESTS=10000 CREATE_RATE=100 CREATE_REQUESTS=2000 WORKSPACES=1000
if [[ "${1:-}" == "--quick" ]]; then LIST_REQUESTS=1000 CREATE_REQUESTS=200 WORKSPACES=100; fi
PG_ADMIN_URL="${SLIPWAY_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

cargo build --release -q -p slipway -p slipway-loadgen
SLIPWAY=target/release/slipway
LOADGEN=target/release/slipway-loadgen
WORK=$(mktemp -d)
RESULTS="$WORK/results.jsonl"
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS slipway_bench WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

run_backend() {
  local backend=$1 database_url=$2
  local data="$WORK/$backend" log="$WORK/$backend.log"
  mkdir -p "$data"
  local database_env=(-u SLIPWAY_DATABASE_URL)
  [[ -n "$database_url" ]] && database_env=("SLIPWAY_DATABASE_URL=$database_url")
  env "${database_env[@]}" SLIPWAY_DATA_DIR="$data" SLIPWAY_API_ADDR=127.0.0.1:0 \
    SLIPWAY_ADMIN_PASSWORD=bench-password SLIPWAY_LOG=warn "$SLIPWAY" up >"$log" 2>&1 &
  SERVER_PID=$!
  local url=""
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^Slipway API listening on \(http[^ ]*\).*/\1/p' "$log")
    [[ -n "$url" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
  done
  [[ -n "$url" ]] || { echo "slipway up did not start"; cat "$log"; exit 1; }
  local token
  token=$(curl -sf "$url/v1/auth/login" -H 'content-type: application/json' \
    -d '{"username":"admin","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  local auth="Authorization: Bearer $token"

  echo "[$backend] seeding $WORKSPACES workspaces x 10 projects"
  "$LOADGEN" --label seed --method POST --url "$url/v1/workspaces" --body '{"slug":"ws-{n}"}' \
    --header "$auth" --requests "$WORKSPACES" --concurrency 8 >"$WORK/seed1.json"
  "$LOADGEN" --label seed --method POST --url "$url/v1/workspaces/ws-{n/10}/projects" --body '{"slug":"p-{n%10}"}' \
    --header "$auth" --requests $((WORKSPACES * 10)) --concurrency 8 >"$WORK/seed2.json"
  python3 - "$WORK/seed1.json" "$WORK/seed2.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    report = json.load(open(path))
    if report["errors"]:
        sys.exit(f"seeding failed: {report}")
PY
  # Warm caches and connection pools before measuring.
  "$LOADGEN" --url "$url/v1/workspaces/ws-{n%$WORKSPACES}/projects" --header "$auth" --requests 500 --concurrency 8 >/dev/null

  echo "[$backend] list at $LIST_RATE req/s"
  "$LOADGEN" --label "$backend list" --url "$url/v1/workspaces/ws-{n%$WORKSPACES}/projects" --header "$auth" \
    --rate "$LIST_RATE" --requests "$LIST_REQUESTS" >>"$RESULTS"
  echo "[$backend] create at $CREATE_RATE req/s"
  "$LOADGEN" --label "$backend create" --method POST --url "$url/v1/workspaces/ws-{n%$WORKSPACES}/projects" \
    --body '{"slug":"bench-{n}"}' --header "$auth" --rate "$CREATE_RATE" --requests "$CREATE_REQUESTS" >>"$RESULTS"
  tail -n 2 "$RESULTS"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS slipway_bench WITH (FORCE)" >/dev/null 2>&1
psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE slipway_bench" >/dev/null
run_backend sqlite ""
run_backend postgres "${PG_ADMIN_URL%/*}/slipway_bench"

python3 - "$RESULTS" "$WORKSPACES" "${1:-}" <<'PY'
import json, os, platform, re, subprocess, sys, datetime
results = [json.loads(line) for line in open(sys.argv[1])]
workspaces, mode = int(sys.argv[2]), sys.argv[3]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
pg = subprocess.run(["psql", "-tAc", "SHOW server_version", os.environ.get("SLIPWAY_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")], capture_output=True, text=True).stdout.strip()
lines = [
    "<!-- api-bench:start -->",
    "## Control-plane API (`bench/api.sh`)",
    "",
    f"{datetime.date.today()} · {os.cpu_count()} cores ({cpu}) · {mem_gib} GiB · Linux {platform.release()} · PostgreSQL {pg} · release build"
    + (" · **quick mode (not a full run)**" if mode == "--quick" else ""),
    "",
    f"Store loaded with {workspaces:,} workspaces × 10 projects. Open-loop load at a fixed rate; latency counts from each request's scheduled start. "
    "`list` = `GET /v1/workspaces/{ws}/projects` (10 projects with environments and hostnames, bearer-token auth, role check); "
    "`create` = `POST /v1/workspaces/{ws}/projects` (project + production environment + route + audit row in one transaction).",
    "",
    "| backend | operation | target req/s | achieved req/s | p50 ms | p99 ms | max ms | errors |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
]
for r in results:
    backend, op = r["label"].split()
    lines.append(f"| {backend} | {op} | {r['target_rps']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.2f} | {r['errors']} |")
lists = [r for r in results if r["label"].endswith("list")]
ok = all(r["p99_ms"] <= 10 and r["errors"] == 0 for r in lists)
lines += ["", f"Target (list p99 ≤ 10 ms at 500 req/s on both backends): **{'met' if ok else 'NOT met'}**.", "<!-- api-bench:end -->"]
section = "\n".join(lines)
path = "BENCHMARKS.md"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nFigures recorded by the scripts in `bench/`; each section says how it was measured.\n"
if "<!-- api-bench:start -->" in text:
    text = re.sub(r"<!-- api-bench:start -->.*<!-- api-bench:end -->", lambda _: section, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
print(section)
PY
