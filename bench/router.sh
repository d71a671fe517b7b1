#!/usr/bin/env bash
# Edge-router benchmark (issue: custom domains, TLS and the edge router — "Performance").
#
# In one run on this machine, on 127.0.0.1 only:
#   - a fixed fast upstream (bench-upstream: hyper HTTP/1.1 keep-alive, 1 KiB body),
#   - Debian's nginx as a keep-alive reverse proxy to it (upstream keepalive 64, HTTP/1.1),
#   - Slipway's edge router (bench-router: slipway-router with the access log off),
# each driven by the same load generator (wrk): 2 threads, 64 keep-alive connections, 20 s,
# then 1 connection for 5 s (latency); Host: bench.localhost; 5 interleaved rounds, medians
# reported (see ROUNDS below). Done twice: with 1 route in
# each proxy's table and with 1,000 (999 other hosts app-N.localhost); then with 1 route over
# HTTPS (nginx/OpenSSL vs rustls, one self-signed certificate, keep-alive so the handshake is
# amortised as in real use). Writes req/s, p50 and p99 side by side, the machine, the date and
# the versions into BENCHMARKS.md. The row "slipway-multi-thread" (bench-router --flavor
# multi-thread: `serve` on one multi-threaded runtime, the layout before the per-core workers)
# is shown for comparison; the targets are checked against "slipway", the router as the agent
# runs it.
#
# Then the router as the product ships it (issue 15): `slipway up` (release build, default
# settings: access log and metrics on, sandbox on as root) with an app deployed by `git push` —
# Debian's nginx serving 1 KiB on its $PORT (bench/shipped_router.py) — against Debian's nginx as
# a keep-alive reverse proxy to the same app instance writing an equivalent JSON access log
# (`buffer=64k flush=1s`); plus a second platform with `SLIPWAY_ACCESS_LOG=off` for comparison.
#
# Needs: cargo, python3, openssl, nginx and wrk (apt-get install -y nginx wrk openssl).
# Usage: bench/router.sh [--quick]   (--quick: 3 s / 2 s runs, for a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."

# Each target is measured in ROUNDS interleaved rounds (all proxies run side by side and take
# turns, in a rotating order), and the table shows each figure's median over the rounds: on a
# shared machine a single run swings by ±10% and more, in either proxy's favour.
THREADS=2 CONNECTIONS=64 DURATION=20 LATENCY_DURATION=5 WARMUP=2 ROUNDS=5
MODE="${1:-}"
if [[ "$MODE" == "--quick" ]]; then DURATION=3 LATENCY_DURATION=2 WARMUP=1 ROUNDS=1; fi
HOST=bench.localhost

for tool in nginx wrk python3 openssl; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install -y nginx wrk python3 openssl)" >&2; exit 1; }
done

# The shipped rows run the `slipway` binary itself.
cargo build --release -q -p slipway-router-bench -p slipway
UPSTREAM_BIN=target/release/bench-upstream
ROUTER_BIN=target/release/bench-router

WORK=$(mktemp -d)
# nginx workers run as `nobody` when started as root; let them reach their temp paths.
chmod 755 "$WORK"
RESULTS="$WORK/results.jsonl"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a binary that prints `listening on ADDR ...`; sets LISTEN_ADDR and LAST_PID.
start_listener() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  LISTEN_ADDR=""
  for _ in $(seq 1 100); do
    LISTEN_ADDR=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$log")
    [[ -n "$LISTEN_ADDR" ]] && return 0
    kill -0 "$LAST_PID" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.05
  done
  echo "$* did not start" >&2; cat "$log" >&2; exit 1
}

stop() {
  local pid=$1
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

wait_http() {
  local url=$1
  for _ in $(seq 1 100); do
    python3 - "$url" "$HOST" <<'PY' && return 0
import ssl, sys, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Host": sys.argv[2]})
try:
    with urllib.request.urlopen(request, timeout=1, context=ssl._create_unverified_context()) as response:
        sys.exit(0 if response.status == 200 and len(response.read()) == 1024 else 1)
except Exception:
    sys.exit(1)
PY
    sleep 0.05
  done
  echo "$url does not answer 200 with a 1 KiB body" >&2; exit 1
}

# wrk prints one JSON line from its `done` hook; latencies are in microseconds.
cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"non_2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.timeout, errors.status))
end
LUA

# Runs wrk (the rest of the arguments) and adds to its JSON line the CPU time the proxy (pids in
# $1, comma-separated; may be empty) used per request, and how busy the machine was with work
# that is neither the proxy, the upstream (pid in $2) nor wrk (a cargo build, say), which
# skews every figure.
cat >"$WORK/measure.py" <<'PY'
import json, os, resource, shutil, signal, subprocess, sys

proxy = [int(p) for p in sys.argv[1].split(",") if p]
upstream = int(sys.argv[2])
tick = os.sysconf("SC_CLK_TCK")

def busy():
    # user + nice + system + steal; not irq/softirq, which the kernel charges to no process
    # (loopback TCP is mostly softirq work, done on behalf of whichever process sent).
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(x) for x in open("/proc/stat").readline().split()[1:9])
    return user + nice + system + steal

def cpu(pids):
    total = 0
    for pid in pids:
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(stat[11]) + int(stat[12])
        except OSError:
            pass
    return total

# Hardware counters (perf stat), where the machine exposes them: CPU cycles and instructions,
# user + kernel, of the proxy's processes. Unlike CPU time, cycles do not depend on the clock
# speed the machine happened to run at during the run.
perf = None
if proxy and shutil.which("perf"):
    events = "cycles,instructions"
    pids = ",".join(map(str, proxy))
    perf = subprocess.Popen(["perf", "stat", "-x,", "-e", events, "-p", pids],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
b0, p0, u0 = busy(), cpu(proxy), cpu([upstream])
out = subprocess.run(sys.argv[3:], capture_output=True, text=True, check=True).stdout
b1, p1, u1 = busy(), cpu(proxy), cpu([upstream])
counters = {}
if perf:
    perf.send_signal(signal.SIGINT)
    for row in perf.communicate()[1].splitlines():
        fields = row.split(",")
        if len(fields) > 2 and fields[0].isdigit():
            counters[fields[2].split(":")[0]] = int(fields[0])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
line = next((l for l in out.splitlines() if l.startswith("WRK-JSON ")), None)
if line is None:
    sys.exit(out)
r = json.loads(line[len("WRK-JSON "):])
seconds = r["duration_us"] / 1e6
wrk_ticks = (usage.ru_utime + usage.ru_stime) * tick
foreign = (b1 - b0) - (p1 - p0) - (u1 - u0) - wrk_ticks
r["proxy_cpu_us_per_req"] = (p1 - p0) / tick * 1e6 / r["requests"] if proxy and r["requests"] else None
r["foreign_cpu_pct"] = max(0.0, foreign / tick / seconds * 100)
for event in ("cycles", "instructions"):
    r[f"proxy_{event}_per_req"] = counters[event] / r["requests"] if event in counters and r["requests"] else None
print(json.dumps(r))
PY

# The Host header each target is sent, where it is not $HOST.
declare -A TARGET_HOST=()

# run_load ROUTES TARGET URL PROXY_PIDS: warm-up, 64-connection throughput run, 1-connection latency run.
run_load() {
  local routes=$1 target=$2 url=$3 proxy_pids=${4:-}
  local host=${TARGET_HOST[$target]:-$HOST}
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -H "Host: $host" "$url" >/dev/null
  local run
  for run in throughput latency; do
    local threads=$THREADS connections=$CONNECTIONS duration=$DURATION
    if [[ $run == latency ]]; then threads=1 connections=1 duration=$LATENCY_DURATION; fi
    echo "[$routes routes] $target: $run ($connections connections, ${duration}s)" >&2
    local json
    json=$(python3 "$WORK/measure.py" "$proxy_pids" "$UPSTREAM_PID" \
      wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$WORK/report.lua" -H "Host: $host" "$url")
    python3 -c 'import json, sys; r = json.loads(sys.argv[1]); r.update(routes=int(sys.argv[2]), target=sys.argv[3], run=sys.argv[4], connections=int(sys.argv[5])); print(json.dumps(r))' \
      "$json" "$routes" "$target" "$run" "$connections" | tee -a "$RESULTS" >&2
  done
}

write_nginx_conf() {
  local dir=$1 port=$2 upstream=$3 routes=$4 tls_port=${5:-} logged=${6:-}
  mkdir -p "$dir/logs"
  # With `logged`: the same fields as Slipway's access log, as JSON, buffered like Slipway's.
  local access_log="access_log off;"
  if [[ -n "$logged" ]]; then
    access_log="log_format slipway escape=json '{\"time\":\"\$time_iso8601\",\"host\":\"\$host\",\"method\":\"\$request_method\",\"path\":\"\$uri\",\"status\":\$status,\"duration_ms\":\$request_time,\"bytes\":\$body_bytes_sent,\"request_id\":\"\$request_id\",\"backend\":\"\$upstream_addr\",\"client\":\"\$remote_addr\"}';
  access_log $dir/logs/access.json slipway buffer=64k flush=1s;"
  fi
  {
    cat <<EOF
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  $access_log
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server_names_hash_max_size 4096;
  server_names_hash_bucket_size 128;
  upstream app {
    server $upstream;
    keepalive 64;
  }
  ssl_certificate $WORK/tls.pem;
  ssl_certificate_key $WORK/tls-key.pem;
EOF
    # The same header work as Slipway's router: Host passed on, X-Forwarded-*, a request id
    # sent upstream and returned to the client. bench.localhost is not the default server
    # when there are other hosts, so it is found by name.
    local n
    for ((n = 1; n <= routes; n++)); do
      local name="app-$n.localhost"
      [[ $n == "$(( (routes + 1) / 2 ))" ]] && name=$HOST
      cat <<EOF
  server {
    listen 127.0.0.1:$port;
    ${tls_port:+listen 127.0.0.1:$tls_port ssl;}
    server_name $name;
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
EOF
    done
    echo "}"
  } >"$dir/nginx.conf"
}

# One self-signed certificate for the HTTPS runs, for both proxies. wrk sends the URL's host
# as SNI, so the HTTPS URLs name `localhost` (which resolves to 127.0.0.1) and the route is
# chosen by the Host header, as in the plain runs.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,DNS:$HOST" -keyout "$WORK/tls-key.pem" -out "$WORK/tls.pem" 2>/dev/null

start_listener "$WORK/upstream.log" "$UPSTREAM_BIN" --listen 127.0.0.1:0
UPSTREAM=$LISTEN_ADDR
UPSTREAM_PID=$LAST_PID
wait_http "http://$UPSTREAM/"

# start_nginx ROUTES [TLS_PORT [UPSTREAM LOGGED]]: sets NGINX_PORT and NGINX_PID.
start_nginx() {
  local routes=$1 tls_port=${2:-} upstream=${3:-$UPSTREAM} logged=${4:-}
  local dir="$WORK/nginx-$routes${tls_port:+-tls}${logged:+-logged}"
  NGINX_PORT=$(free_port)
  write_nginx_conf "$dir" "$NGINX_PORT" "$upstream" "$routes" "$tls_port" "$logged"
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" -t -q
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$dir/stdout.log" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  [[ -n "$logged" ]] || wait_http "http://127.0.0.1:$NGINX_PORT/"
}

# run_rounds ROUTES NAME URL PIDS [NAME URL PIDS]…: ROUNDS rounds over the targets, each round
# starting one target later than the one before.
run_rounds() {
  local routes=$1; shift
  local -a targets=("$@")
  local count=$(( ${#targets[@]} / 3 )) round i
  for ((round = 0; round < ROUNDS; round++)); do
    for ((i = 0; i < count; i++)); do
      local at=$(( ((i + round) % count) * 3 ))
      run_load "$routes" "${targets[at]}" "${targets[at + 1]}" "${targets[at + 2]}"
    done
  done
}

for routes in 1 1000; do
  start_nginx "$routes"
  nginx_pid=$NGINX_PID nginx_url="http://127.0.0.1:$NGINX_PORT/"
  start_listener "$WORK/router-$routes.log" "$ROUTER_BIN" --listen 127.0.0.1:0 --upstream "$UPSTREAM" --routes "$routes"
  router_pid=$LAST_PID router_url="http://$LISTEN_ADDR/"
  wait_http "$router_url"
  # For comparison: `serve` on one multi-threaded runtime (shared upstream pool).
  start_listener "$WORK/router-mt-$routes.log" "$ROUTER_BIN" --flavor multi-thread --listen 127.0.0.1:0 \
    --upstream "$UPSTREAM" --routes "$routes"
  mt_pid=$LAST_PID mt_url="http://$LISTEN_ADDR/"
  wait_http "$mt_url"
  run_rounds "$routes" direct "http://$UPSTREAM/" "" \
    nginx "$nginx_url" "$(pgrep -d, -P "$nginx_pid")" \
    slipway "$router_url" "$router_pid" \
    slipway-multi-thread "$mt_url" "$mt_pid"
  stop "$nginx_pid"; stop "$router_pid"; stop "$mt_pid"
done

# The router as shipped (see the top): two platforms, each with the nginx app pushed to it.
SHIPPED_STATE="$WORK/shipped.json"
python3 bench/shipped_router.py target/release/slipway "$SHIPPED_STATE" >"$WORK/shipped.log" 2>&1 &
SHIPPED_PID=$!
PIDS+=("$SHIPPED_PID")
for _ in $(seq 1 1200); do
  [[ -s "$SHIPPED_STATE" ]] && break
  kill -0 "$SHIPPED_PID" 2>/dev/null || { cat "$WORK/shipped.log" >&2; exit 1; }
  sleep 0.5
done
[[ -s "$SHIPPED_STATE" ]] || { echo "the shipped platforms did not start" >&2; cat "$WORK/shipped.log" >&2; exit 1; }
shipped() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$SHIPPED_STATE" "$1" "$2"; }
TARGET_HOST[slipway-shipped]=$(shipped on host)
TARGET_HOST[slipway-shipped-log-off]=$(shipped off host)
TARGET_HOST[nginx-logged]=$(shipped on host)
TARGET_HOST[app-direct]=$(shipped on host)
start_nginx 1 "" "$(shipped on upstream)" logged
HOST=$(shipped on host) wait_http "http://127.0.0.1:$NGINX_PORT/"
run_rounds 1 app-direct "http://$(shipped on upstream)/" "" \
  nginx-logged "http://127.0.0.1:$NGINX_PORT/" "$(pgrep -d, -P "$NGINX_PID")" \
  slipway-shipped "http://$(shipped on router)/" "$(shipped on agent_pid)" \
  slipway-shipped-log-off "http://$(shipped off router)/" "$(shipped off agent_pid)"
SHIPPED_LOG_BYTES=$(du -cb "$(shipped on data)/logs/access" | tail -1 | cut -f1)
NGINX_LOG_BYTES=$(du -cb "$WORK/nginx-1-logged/logs/access.json" | tail -1 | cut -f1)
AGENT_LOG_BYTES=$(du -cb "$(shipped on data)/logs/agent.log"* | tail -1 | cut -f1)
echo "access logs: slipway $SHIPPED_LOG_BYTES bytes (agent log $AGENT_LOG_BYTES), nginx $NGINX_LOG_BYTES bytes" >&2
stop "$NGINX_PID"
stop "$SHIPPED_PID"

# HTTPS, 1 route.
tls_port=$(free_port)
start_nginx 1 "$tls_port"
wait_http "https://localhost:$tls_port/"
start_listener "$WORK/router-tls.log" "$ROUTER_BIN" --listen 127.0.0.1:0 --upstream "$UPSTREAM" --routes 1 \
  --tls "$WORK/tls.pem" "$WORK/tls-key.pem" --tls-listen 127.0.0.1:0
router_pid=$LAST_PID
tls_addr=$(sed -n 's/^listening tls on \([^ ]*\).*/\1/p' "$WORK/router-tls.log")
wait_http "https://localhost:${tls_addr##*:}/"
run_rounds 1 nginx-https "https://localhost:$tls_port/" "$(pgrep -d, -P "$NGINX_PID")" \
  slipway-https "https://localhost:${tls_addr##*:}/" "$router_pid"
stop "$NGINX_PID"; stop "$router_pid"
stop "$UPSTREAM_PID"

python3 - "$RESULTS" "$MODE" "$THREADS" "$CONNECTIONS" "$DURATION" "$LATENCY_DURATION" "$ROUNDS" \
  "$SHIPPED_LOG_BYTES" "$NGINX_LOG_BYTES" "$AGENT_LOG_BYTES" <<'PY'
import datetime, json, os, platform, re, statistics, subprocess, sys

results = [json.loads(line) for line in open(sys.argv[1])]
mode, threads, connections, duration, latency_duration, rounds = sys.argv[2], *map(int, sys.argv[3:8])
shipped_log_bytes, nginx_log_bytes, agent_log_bytes = map(int, sys.argv[8:11])

def run(*cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    return (done.stdout + done.stderr).strip()

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
nginx = run("nginx", "-v").replace("nginx version: ", "")
wrk = run("wrk", "--version").splitlines()[0].split(" Copyright")[0]
rustc = run("rustc", "--version")
lock = open("Cargo.lock").read()
def locked(name):
    found = re.findall(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), lock)
    return "/".join(found) or "?"

def figures(r):
    seconds = r["duration_us"] / 1e6
    errors = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"] + r["non_2xx"]
    return r["requests"] / seconds, r["p50_us"] / 1000, r["p99_us"] / 1000, r["max_us"] / 1000, errors

# Each figure: its median over the rounds of one (routes, target, run).
groups = {}
for r in results:
    groups.setdefault((r["routes"], r["target"], r["run"]), []).append(r)
def median_figures(rs):
    each = [figures(r) for r in rs]
    return (*(statistics.median(f[i] for f in each) for i in range(4)), sum(f[4] for f in each))
by = {key: median_figures(rs) for key, rs in groups.items()}
def median_of(field):
    return {key: (statistics.median(r[field] for r in rs) if all(r.get(field) is not None for r in rs) else None)
            for key, rs in groups.items()}
cpu_us, kcycles, kinstr = median_of("proxy_cpu_us_per_req"), median_of("proxy_cycles_per_req"), median_of("proxy_instructions_per_req")
foreign = max(r["foreign_cpu_pct"] for r in results)
foreign_median = statistics.median(r["foreign_cpu_pct"] for r in results)
lines = [
    "<!-- router-bench:start -->",
    "## Edge router (`bench/router.sh`)",
    "",
    f"{datetime.date.today()} · {os.cpu_count()} cores ({cpu}) · {mem_gib} GiB · Linux {platform.release()} · "
    f"{nginx} (Debian) · {wrk} · {rustc} · hyper {locked('hyper')} · release build"
    + (" · **quick mode (not a full run)**" if mode == "--quick" else ""),
    "",
    f"All on 127.0.0.1, plain HTTP/1.1, keep-alive everywhere. Upstream: `bench-upstream` (hyper, multi-threaded tokio, fixed 1 KiB body). "
    "nginx: `worker_processes auto`, `access_log off`, `upstream` with `keepalive 64`, `proxy_http_version 1.1`, `proxy_set_header Connection \"\"`, "
    "and the same header work as Slipway (Host, X-Forwarded-For/Proto/Host, X-Request-Id to the app and back). "
    "Slipway: `bench-router` (`slipway_router::Router`, as the agent runs it: one single-threaded runtime per core, each with its own "
    "SO_REUSEPORT socket and upstream pool; requests without a body go upstream through the router's own HTTP/1.1 client; "
    "mimalloc, the `slipway` binary's allocator; release profile with fat LTO; no access log). "
    f"Load: wrk, Host `bench.localhost`, {threads} threads × {connections} connections for {duration} s (throughput), "
    f"then 1 connection for {latency_duration} s (latency); {2 if mode != '--quick' else 1} s warm-up before each. "
    f"All proxies run side by side and take turns: {rounds} interleaved round{'s' if rounds > 1 else ''} (each round starts one target later), "
    "and every figure is the **median over the rounds** (errors: the sum). "
    "With 1,000 routes, each proxy has 999 other hosts (`app-N.localhost`) in its table. "
    "`slipway-multi-thread` is for comparison only: `serve` on one multi-threaded tokio runtime with one shared upstream pool, the layout "
    "the router had before. HTTPS rows: 1 route, TLS 1.3 with one self-signed P-256 certificate (nginx: OpenSSL; Slipway: rustls with ring), "
    "`https://localhost:PORT/` so wrk sends SNI `localhost`, keep-alive connections (the handshake is amortised, as with real browsers). "
    f"**The load generator, the upstream and the proxy share the machine's {os.cpu_count()} cores**, so absolute figures are "
    "lower than on a dedicated box and the comparison favours whichever proxy uses less CPU per request.",
    "",
    "| routes | target | req/s (64 conn) | p50 ms | p99 ms | max ms | proxy CPU µs/req | proxy k-instructions/req | proxy kcycles/req | req/s (1 conn) | p50 ms | p99 ms | errors |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for routes in (1, 1000):
    for target in ("direct", "nginx", "slipway", "slipway-multi-thread", "nginx-https", "slipway-https",
                   "app-direct", "nginx-logged", "slipway-shipped", "slipway-shipped-log-off"):
        t, l = by.get((routes, target, "throughput")), by.get((routes, target, "latency"))
        if not (t and l):
            continue
        us = cpu_us.get((routes, target, "throughput"))
        us = "–" if us is None else f"{us:.1f}"
        kc = kcycles.get((routes, target, "throughput"))
        kc = "–" if kc is None else f"{kc / 1000:.1f}"
        ki = kinstr.get((routes, target, "throughput"))
        ki = "–" if ki is None else f"{ki / 1000:.1f}"
        lines.append(
            f"| {routes:,} | {target} | {t[0]:,.0f} | {t[1]:.2f} | {t[2]:.2f} | {t[3]:.2f} | {us} | {ki} | {kc} | {l[0]:,.0f} | {l[1]:.3f} | {l[2]:.3f} | {t[4] + l[4]} |"
        )

checks, all_met = [], True
for routes in (1, 1000):
    n_t, s_t = by[(routes, "nginx", "throughput")], by[(routes, "slipway", "throughput")]
    n_l, s_l = by[(routes, "nginx", "latency")], by[(routes, "slipway", "latency")]
    for what, ok, detail in (
        ("req/s ≥ nginx (64 conn)", s_t[0] >= n_t[0], f"{s_t[0]:,.0f} vs {n_t[0]:,.0f} ({(s_t[0] / n_t[0] - 1) * 100:+.1f}%)"),
        ("p99 ≤ nginx p99 + 0.5 ms (64 conn)", s_t[2] <= n_t[2] + 0.5, f"{s_t[2]:.2f} ms vs {n_t[2]:.2f} ms"),
        ("p99 ≤ nginx p99 + 0.5 ms (1 conn)", s_l[2] <= n_l[2] + 0.5, f"{s_l[2]:.3f} ms vs {n_l[2]:.3f} ms"),
    ):
        all_met &= ok
        checks.append(f"- {routes:,} route{'s' if routes > 1 else ''}: {what}: **{'met' if ok else 'NOT met'}** ({detail})")
lines += ["", f"Proxy CPU µs/req: CPU time (user + system) of the proxy's processes during the 64-connection run, per request. "
          f"Other work on the machine (neither proxy, upstream nor wrk; softirq not counted) used {foreign_median:.0f}% of one core "
          f"in the median run and up to {foreign:.0f}% in the worst"
          + (" — **figures skewed by it**." if foreign_median >= 10 else ".")
          + " Proxy k-instructions/req and kcycles/req: instructions executed and CPU cycles (user + kernel, hardware counters "
          "read with `perf stat`) of the proxy's processes in the same run, per request, in thousands. Instructions count the "
          "work itself and barely move between runs; cycles and CPU time also depend on how fast the shared machine ran at "
          "the time (they rise when another tenant shares the core)."]

n_t, s_t = by[(1, "nginx-https", "throughput")], by[(1, "slipway-https", "throughput")]
n_l, s_l = by[(1, "nginx-https", "latency")], by[(1, "slipway-https", "latency")]
for what, ok, detail in (
    ("req/s ≥ 90% of nginx's (64 conn)", s_t[0] >= 0.9 * n_t[0], f"{s_t[0]:,.0f} vs {n_t[0]:,.0f} ({(s_t[0] / n_t[0] - 1) * 100:+.1f}%)"),
    ("p99 ≤ 110% of nginx's (64 conn)", s_t[2] <= 1.1 * n_t[2], f"{s_t[2]:.2f} ms vs {n_t[2]:.2f} ms"),
    ("p99 ≤ 110% of nginx's (1 conn)", s_l[2] <= 1.1 * n_l[2], f"{s_l[2]:.3f} ms vs {n_l[2]:.3f} ms"),
):
    all_met &= ok
    checks.append(f"- HTTPS, 1 route: {what}: **{'met' if ok else 'NOT met'}** ({detail})")
n_t, s_t = by[(1, "nginx-logged", "throughput")], by[(1, "slipway-shipped", "throughput")]
n_l, s_l = by[(1, "nginx-logged", "latency")], by[(1, "slipway-shipped", "latency")]
s_i, n_i = kinstr.get((1, "slipway-shipped", "throughput")), kinstr.get((1, "nginx-logged", "throughput"))
for what, ok, detail in (
    ("req/s ≥ nginx's (64 conn; goal 1.2×)", s_t[0] >= n_t[0], f"{s_t[0]:,.0f} vs {n_t[0]:,.0f} ({s_t[0] / n_t[0]:.2f}×)"),
    ("p99 ≤ nginx p99 + 0.5 ms (64 conn)", s_t[2] <= n_t[2] + 0.5, f"{s_t[2]:.2f} ms vs {n_t[2]:.2f} ms"),
    ("p99 ≤ nginx p99 + 0.5 ms (1 conn)", s_l[2] <= n_l[2] + 0.5, f"{s_l[2]:.3f} ms vs {n_l[2]:.3f} ms"),
    *((("instructions/req ≤ nginx's", s_i <= n_i, f"{s_i / 1000:.1f}k vs {n_i / 1000:.1f}k"),) if s_i and n_i else ()),
):
    all_met &= ok
    checks.append(f"- As shipped, with access logs: {what}: **{'met' if ok else 'NOT met'}** ({detail})")
lines += ["", "As shipped (rows `app-direct`, `nginx-logged`, `slipway-shipped`, `slipway-shipped-log-off`): `slipway up` with "
          "default settings (the agent's router, JSON access log and metrics on, "
          + ("the sandbox on" if os.geteuid() == 0 else "the sandbox off (not root)")
          + "), an app pushed with `git push`: Debian's nginx (1 worker) serving 1 KiB on its $PORT; Host `web-bench.localhost`. "
          "`nginx-logged`: Debian's nginx as above, proxying to the same app instance, with a JSON `log_format` of the same "
          "fields and `access_log … buffer=64k flush=1s`. `slipway-shipped-log-off`: a second platform, the same app, "
          "`SLIPWAY_ACCESS_LOG=off`. `app-direct`: the app instance itself. Proxy CPU and counters of `slipway-shipped` are "
          "the whole agent process (router workers, the access-log writer, the supervisor). "
          f"Access-log bytes written over the whole run: Slipway {shipped_log_bytes / 2**20:,.1f} MiB (rotated at 10 MiB, "
          f"5 kept), nginx {nginx_log_bytes / 2**20:,.1f} MiB (unbounded); the agent's own log: {agent_log_bytes / 1024:,.0f} KiB."]
reference = []
for label, routes, ours, theirs in (("1 route", 1, "slipway", "nginx"), ("1,000 routes", 1000, "slipway", "nginx"),
                                    ("HTTPS, 1 route", 1, "slipway-https", "nginx-https"),
                                    ("As shipped, with access logs", 1, "slipway-shipped", "nginx-logged")):
    for counter, unit in ((kinstr, "instructions"), (kcycles, "cycles")):
        mine, other = counter.get((routes, ours, "throughput")), counter.get((routes, theirs, "throughput"))
        if mine and other:
            reference.append(f"- {label}: {mine / 1000:.1f}k vs {other / 1000:.1f}k {unit} per request ({(mine / other - 1) * 100:+.1f}%)")
lines += ["", "Targets (Slipway vs nginx, same run):", *checks,
          "", f"Targets overall: **{'met' if all_met else 'NOT met'}**."]
if reference:
    lines += ["", "For reference, the work each proxy does per request, Slipway vs nginx (not one of the targets, but the "
              "figures this shared machine's changing speed disturbs least, instructions least of all):", *reference]
lines.append("<!-- router-bench:end -->")
section = "\n".join(lines)
path = "BENCHMARKS.md"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nFigures recorded by the scripts in `bench/`; each section says how it was measured.\n"
if "<!-- router-bench:start -->" in text:
    text = re.sub(r"<!-- router-bench:start -->.*<!-- router-bench:end -->", lambda _: section, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
print(section)
PY
