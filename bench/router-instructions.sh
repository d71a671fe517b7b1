#!/usr/bin/env bash
# Instructions per proxied request, Slipway's router vs nginx, counted by callgrind (issue 15:
# "instructions per request ≤ nginx's"). This machine exposes no hardware counters to `perf`,
# so bench/router.sh cannot count them; callgrind counts every instruction a process executes
# (user space only: the kernel's work in each system call is not counted), and its count does not
# depend on how fast the shared machine runs.
#
# Targets, each run alone under `valgrind --tool=callgrind` with one worker and an upstream
# (bench-upstream, not under valgrind) serving 1 KiB:
#   - nginx-logged: Debian's nginx (`master_process off`, one process) as a keep-alive reverse
#     proxy with the JSON access log of bench/router.sh (`buffer=64k flush=1s`);
#   - slipway-logged: bench-router with the access log on (`--access-log DIR`: the writer thread,
#     per-site files and rotation as the agent runs them) and metrics on (always);
#   - slipway-log-off, and nginx without its access log, for comparison.
# Each gets WARMUP requests, then the counters are zeroed (`callgrind_control -z`), REQUESTS
# requests are sent by slipway-loadgen over CONCURRENCY keep-alive connections, the logs are
# given 1.5 s to flush, and the counters are dumped. Instructions per request = the total / REQUESTS.
#
# Needs: valgrind, nginx, python3 (apt-get install -y valgrind nginx).
# Usage: bench/router-instructions.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=20000 WARMUP=2000 CONCURRENCY=16
[[ "${1:-}" == "--quick" ]] && REQUESTS=2000 WARMUP=200
HOST=bench.localhost

for tool in valgrind callgrind_control nginx python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install -y valgrind nginx python3)" >&2; exit 1; }
done

cargo build --release -q -p slipway-router-bench -p slipway-loadgen
UPSTREAM_BIN=target/release/bench-upstream
ROUTER_BIN=target/release/bench-router
LOADGEN_BIN=target/release/slipway-loadgen

WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID: until something accepts on 127.0.0.1:PORT (valgrind starts slowly).
wait_port() {
  for _ in $(seq 1 600); do
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "process $2 exited before listening on $1" >&2; exit 1; }
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; exit 1
}

load() {
  local port=$1 count=$2
  "$LOADGEN_BIN" --url "http://127.0.0.1:$port/" --header "Host: $HOST" --requests "$count" --concurrency "$CONCURRENCY"
}

nginx_conf() {
  local dir=$1 port=$2 upstream=$3 logged=$4
  mkdir -p "$dir/logs"
  local access_log="access_log off;"
  if [[ "$logged" == yes ]]; then
    access_log="log_format slipway escape=json '{\"time\":\"\$time_iso8601\",\"host\":\"\$host\",\"method\":\"\$request_method\",\"path\":\"\$uri\",\"status\":\$status,\"duration_ms\":\$request_time,\"bytes\":\$body_bytes_sent,\"request_id\":\"\$request_id\",\"backend\":\"\$upstream_addr\",\"client\":\"\$remote_addr\"}';
  access_log $dir/logs/access.json slipway buffer=64k flush=1s;"
  fi
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  $access_log
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  upstream app {
    server $upstream;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$port;
    server_name $HOST;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header X-Request-Id \$request_id;
      add_header X-Request-Id \$request_id;
    }
  }
}
EOF
}

"$UPSTREAM_BIN" --listen 127.0.0.1:0 >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  UPSTREAM=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$WORK/upstream.log")
  [[ -n "$UPSTREAM" ]] && break
  sleep 0.05
done
[[ -n "$UPSTREAM" ]] || { echo "bench-upstream did not start" >&2; exit 1; }

RESULTS="$WORK/results.jsonl"
# measure NAME COMMAND…: runs COMMAND (which must listen on $PORT) under callgrind.
measure() {
  local name=$1; shift
  local out="$WORK/$name.callgrind"
  valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_port "$PORT" "$pid"
  load "$PORT" "$WARMUP" >/dev/null
  callgrind_control -z "$pid" >/dev/null
  local report
  report=$(load "$PORT" "$REQUESTS")
  sleep 1.5 # the access logs flush (Slipway: every 200 ms; nginx: flush=1s)
  rm -f "$out".*
  callgrind_control -d "$pid" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # The dump after zeroing holds exactly the measured requests (and the 1.5 s of idling).
  local total
  total=$(cat "$out".* | sed -n 's/^summary: *\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s}')
  python3 -c 'import json, sys; r = json.loads(sys.argv[1]); r.update(target=sys.argv[2], instructions=int(sys.argv[3])); print(json.dumps(r))' \
    "$report" "$name" "$total" | tee -a "$RESULTS" >&2
}

nginx_target() {
  local name=$1 logged=$2
  PORT=$(free_port)
  nginx_conf "$WORK/$name" "$PORT" "$UPSTREAM" "$logged"
  measure "$name" nginx -p "$WORK/$name" -c "$WORK/$name/nginx.conf" -e "$WORK/$name/logs/error.log"
}
slipway_target() {
  local name=$1; shift
  PORT=$(free_port)
  measure "$name" "$ROUTER_BIN" --listen "127.0.0.1:$PORT" --upstream "$UPSTREAM" --threads 1 "$@"
}
mkdir -p "$WORK/access"
nginx_target nginx-logged yes
slipway_target slipway-logged --access-log "$WORK/access"
nginx_target nginx-log-off no
slipway_target slipway-log-off

LINES=$(cat "$WORK/access"/*.log | wc -l)
[[ "$LINES" -ge "$REQUESTS" ]] || { echo "slipway-logged wrote $LINES access lines for $REQUESTS+ requests" >&2; exit 1; }

DATE=$(date -u +%F)
MACHINE="$(nproc) cores ($(lscpu | sed -n 's/^Vendor ID: *//p' | head -1)) · $(free -g | awk '/^Mem:/ {print $2}') GiB · Linux $(uname -r)"
VERSIONS="$(valgrind --version) · $(nginx -v 2>&1 | sed 's/^nginx version: //') · release build"
python3 - "$RESULTS" "$DATE" "$MACHINE" "$VERSIONS" "$REQUESTS" "$CONCURRENCY" <<'PY'
import json, os, re, sys
results_path, date, machine, versions, requests, concurrency = sys.argv[1:]
rows = {r["target"]: r for r in map(json.loads, open(results_path))}
per = {name: r["instructions"] / int(requests) for name, r in rows.items()}
lines = [
    "<!-- router-instructions:start -->",
    "## Router: instructions per request (`bench/router-instructions.sh`)",
    "",
    f"{date} · {machine} · {versions}",
    "",
    f"Instructions each proxy executed per proxied request, counted by callgrind (user space only: the kernel's "
    f"work in each system call is not counted), over {int(requests):,} requests sent by `slipway-loadgen` on "
    f"{concurrency} keep-alive connections after a warm-up; one worker each (nginx `master_process off`, bench-router "
    "`--threads 1`), upstream `bench-upstream` (1 KiB). `logged`: nginx with the JSON access log of `bench/router.sh` "
    "(`buffer=64k flush=1s`); Slipway's router with its access log on (`--access-log`: the writer thread, per-site file, "
    "rotation) — counts include the 1.5 s the logs were given to flush. Metrics are always on in Slipway's router. "
    "Instructions do not depend on how fast the shared machine runs, unlike req/s and CPU time.",
    "",
    "| target | k-instructions/req | errors |",
    "|---|---:|---:|",
]
for name in ("nginx-logged", "slipway-logged", "nginx-log-off", "slipway-log-off"):
    lines.append(f"| {name} | {per[name] / 1000:.1f} | {rows[name]['errors']} |")
ok = per["slipway-logged"] <= per["nginx-logged"]
lines += [
    "",
    f"Target (as shipped, with access logs: instructions/req ≤ nginx's): **{'met' if ok else 'NOT met'}** "
    f"({per['slipway-logged'] / 1000:.1f}k vs {per['nginx-logged'] / 1000:.1f}k, "
    f"{(per['slipway-logged'] / per['nginx-logged'] - 1) * 100:+.1f}%). The access log costs Slipway "
    f"{(per['slipway-logged'] - per['slipway-log-off']) / 1000:.1f}k instructions per request, nginx "
    f"{(per['nginx-logged'] - per['nginx-log-off']) / 1000:.1f}k.",
    "<!-- router-instructions:end -->",
]
section = "\n".join(lines)
text = open("BENCHMARKS.md").read()
if "<!-- router-instructions:start -->" in text:
    text = re.sub(r"<!-- router-instructions:start -->.*<!-- router-instructions:end -->", lambda _: section, text, flags=re.S)
else:
    text = text.replace("<!-- gitops-bench:start -->", section + "\n\n<!-- gitops-bench:start -->")
open("BENCHMARKS.md", "w").write(text)
print(section)
PY
