#!/usr/bin/env python3
"""The router as `slipway up` ships it, for bench/router.sh.

Usage: shipped_router.py SLIPWAY_BINARY STATE_FILE

Starts two platforms (fresh data dirs, default settings, sandbox on when root): one with the
access log on (the default) and one with `SLIPWAY_ACCESS_LOG=off`, for comparison. On each it
deploys, by `git push`, the same app: Debian's nginx serving a fixed 1 KiB body on its $PORT
(a Procfile app). Then writes STATE_FILE, one JSON object:
  {"on": {"router", "host", "upstream", "agent_pid", "access_log"}, "off": {...}}
(`upstream` is the app instance's own address, which nginx-as-proxy in the benchmark is pointed
at) and waits; SIGTERM or SIGINT stops both platforms and their apps.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import push_bench  # noqa: E402  (the platform and git helpers)

BODY = "x" * 1024
NGINX_CONF = """worker_processes 1;
daemon off;
pid /tmp/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path /tmp/client_body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  server {
    listen 127.0.0.1:@PORT@;
    default_type text/plain;
    location / { return 200 "%s"; }
  }
}
""" % BODY
PROCFILE = 'web: sed "s/@PORT@/$PORT/" nginx.conf.in > /tmp/nginx.conf && exec nginx -e stderr -c /tmp/nginx.conf\n'


def start(work, access_log):
    os.environ["SLIPWAY_ACCESS_LOG"] = access_log
    return push_bench.Platform(work, "on" if os.geteuid() == 0 else "off")


def deploy(plat, access_log):
    work = plat.work
    plat.call("POST", "/v1/workspaces", {"slug": push_bench.WORKSPACE})
    token = plat.call("POST", "/v1/tokens", {"name": "bench"})["token"]
    plat.call("POST", f"/v1/workspaces/{push_bench.WORKSPACE}/projects", {"slug": "web"})
    src = os.path.join(work, "src")
    os.makedirs(src)
    with open(os.path.join(src, "nginx.conf.in"), "w") as conf:
        conf.write(NGINX_CONF)
    with open(os.path.join(src, "Procfile"), "w") as procfile:
        procfile.write(PROCFILE)
    push_bench.git(src, "init", "-q", "-b", "main")
    push_bench.git(src, "add", "-A")
    push_bench.git(src, "commit", "-q", "-m", "nginx serving 1 KiB")
    push_bench.timed_push(plat, src, plat.remote("web", token), "web", BODY)
    # The agent reports what runs every few seconds.
    path = f"/v1/workspaces/{push_bench.WORKSPACE}/projects/web/environments/production/instances"
    deadline = time.monotonic() + 60
    while True:
        instances = plat.call("GET", path)
        ports = [i["port"] for i in instances if i.get("port") and i["state"] == "running"]
        if len(ports) == 1:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"expected one running web instance, got {instances}")
        time.sleep(0.5)
    return {"router": plat.router, "host": f"web-{push_bench.WORKSPACE}.localhost",
                  "upstream": f"127.0.0.1:{ports[0]}", "agent_pid": plat.agent_pid, "access_log": access_log,
                  "data": plat.data}


def main():
    push_bench.SLIPWAY = os.path.abspath(sys.argv[1])
    state_file = sys.argv[2]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    platforms, works, state = [], [], {}
    try:
        for access_log in ["on", "off"]:
            work = tempfile.mkdtemp(prefix=f"slipway-shipped-router-{access_log}-")
            works.append(work)
            plat = start(work, access_log)
            platforms.append(plat)  # stopped below even when the deploy fails
            state[access_log] = deploy(plat, access_log)
            print(f"[shipped-router] access log {access_log}: {state[access_log]}", flush=True)
        with open(state_file + ".tmp", "w") as out:
            json.dump(state, out)
        os.rename(state_file + ".tmp", state_file)
        while not stop:
            time.sleep(0.2)
    finally:
        for plat in platforms:
            plat.stop()
        for work in works:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
