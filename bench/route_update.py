#!/usr/bin/env python3
"""The measuring half of bench/route-update.sh: how long a route change takes to reach the
edge router. On a fresh platform with one live app (examples/static), it adds a custom domain
through the API and polls the router over one keep-alive connection until the domain answers
200, then removes it and polls until 404; repeated N times. Writes the route-update section of
BENCHMARKS.md.

Usage: route_update.py SLIPWAY_BINARY [--quick]
"""

import datetime
import http.client
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from push_bench import ROOT, WORKSPACE, Platform, git  # noqa: E402  (same argv: the binary first)

QUICK = "--quick" in sys.argv[2:]
ROUNDS = 10 if QUICK else 100
APP = "site"


def log(message):
    print(f"[route-update-bench] {message}", flush=True)


def wait_for(router, host, status, limit=10.0):
    """Seconds until `host` answers `status` through the router, polling without pause."""
    conn = http.client.HTTPConnection(router, timeout=5)
    start = time.monotonic()
    try:
        while True:
            conn.request("GET", "/", headers={"Host": host})
            response = conn.getresponse()
            response.read()
            if response.status == status:
                return time.monotonic() - start
            if time.monotonic() - start > limit:
                raise SystemExit(f"{host} did not answer {status} within {limit} s")
    finally:
        conn.close()


def summary(values_ms):
    values = sorted(values_ms)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return statistics.median(values), p95, values[-1]


def measure(work):
    plat = Platform(work)
    try:
        plat.call("POST", "/v1/workspaces", {"slug": WORKSPACE})
        token = plat.call("POST", "/v1/tokens", {"name": "bench"})["token"]
        plat.call("POST", f"/v1/workspaces/{WORKSPACE}/projects", {"slug": APP})
        src = os.path.join(work, "src")
        shutil.copytree(os.path.join(ROOT, "examples", "static"), src)
        git(src, "init", "-q", "-b", "main")
        git(src, "add", "-A")
        git(src, "commit", "-q", "-m", "first")
        git(src, "push", "-q", plat.remote(APP, token), "main")
        wait_for(plat.router, f"{APP}-{WORKSPACE}.localhost", 200, limit=120)
        log(f"app live at {plat.router}; {ROUNDS} rounds")
        domains = f"/v1/workspaces/{WORKSPACE}/projects/{APP}/environments/production/domains"
        added, removed, added_from_request = [], [], []
        for n in range(ROUNDS):
            host = f"www{n}.example.test"
            sent = time.monotonic()
            plat.call("POST", domains, {"hostname": host})
            answered = time.monotonic()
            added.append(wait_for(plat.router, host, 200) * 1000)
            added_from_request.append(added[-1] + (answered - sent) * 1000)
            plat.call("DELETE", f"{domains}/{host}")
            removed.append(wait_for(plat.router, host, 404) * 1000)
        return added, removed, added_from_request
    finally:
        plat.stop()


def write(added, removed, from_request):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    rows = [("domain added: API answered → router serves it", added),
            ("domain removed: API answered → router answers 404", removed),
            ("domain added: API request sent → router serves it", from_request)]
    lines = [
        "<!-- route-update-bench:start -->",
        "## Route updates (`bench/route-update.sh`)",
        "",
        f"{datetime.date.today()} · {os.cpu_count()} cores ({cpu}) · {mem_gib} GiB · Linux {platform.release()} · release build"
        + (" · **quick mode (not a full run)**" if QUICK else ""),
        "",
        f"`slipway up` (SQLite) with one live static app; {len(added)} rounds of adding a custom domain through the API and "
        "removing it again. Measured from the moment the API call returned (the change is committed and the agent nudged) "
        "until the edge router answers for the new host (200) or no longer does (404), polled over one keep-alive "
        "connection without pause (each poll costs ~0.1 ms, which bounds the resolution).",
        "",
        "| change | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|",
    ]
    for label, values in rows:
        p50, p95, top = summary(values)
        lines.append(f"| {label} | {p50:.2f} | {p95:.2f} | {top:.2f} |")
    p50, p95, _ = summary(added)
    met = p95 <= 10 and summary(removed)[1] <= 10
    lines += ["", f"Target (≤ 10 ms from the change to the router): **{'met' if met else 'NOT met'}** at p95 "
              f"(added {p95:.2f} ms, removed {summary(removed)[1]:.2f} ms).", "<!-- route-update-bench:end -->"]
    section = "\n".join(lines)
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read()
    if "<!-- route-update-bench:start -->" in text:
        text = re.sub(r"<!-- route-update-bench:start -->.*<!-- route-update-bench:end -->", lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(path, "w").write(text)
    print(section)


def main():
    work = tempfile.mkdtemp(prefix="slipway-route-bench-")
    try:
        write(*measure(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
