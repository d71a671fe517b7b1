#!/usr/bin/env python3
"""The measuring half of bench/push.sh: runs a platform, pushes, measures,
and writes the push-bench section of BENCHMARKS.md.

Usage: push_bench.py SLIPWAY_BINARY [--quick]

Runs everything twice, on two fresh platforms: with the tenant sandbox off
(`SLIPWAY_SANDBOX=off`) and on (the default; needs root), so the section
shows what the sandbox costs side by side.

Every process it starts (`slipway up`, and through `slipway down` the agent
and the apps) is stopped again, also when a step fails.
"""

import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# Set by main(), or by a script that imports this one (bench/shipped_router.py).
SLIPWAY = None
QUICK = "--quick" in sys.argv[2:]
REDEPLOYS = 2 if QUICK else 5
APPS = 3 if QUICK else 10
PASSWORD = "bench-password"
WORKSPACE = "bench"
GIT_ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", GIT_TERMINAL_PROMPT="0")
GIT = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@slipway.invalid",
       "-c", "commit.gpgsign=false", "-c", "credential.helper="]
SERVER_JS = """const express = require("express");
const app = express();
app.get("/", (req, res) => res.send(%s));
app.listen(Number(process.env.PORT), "127.0.0.1");
"""


def log(message):
    print(f"[push-bench] {message}", flush=True)


class Platform:
    """`slipway up` on a fresh data dir, with API and router on free ports."""

    def __init__(self, work, sandbox):
        self.work = work
        self.data = os.path.join(work, "data")
        self.log = open(os.path.join(work, "up.log"), "w")
        env = dict(os.environ, SLIPWAY_DATA_DIR=self.data, SLIPWAY_API_ADDR="127.0.0.1:0",
                   SLIPWAY_HTTP_ADDR="127.0.0.1:0", SLIPWAY_ADMIN_PASSWORD=PASSWORD, SLIPWAY_LOG="warn",
                   SLIPWAY_SANDBOX=sandbox)
        for name in ["SLIPWAY_DATABASE_URL", "SLIPWAY_SECRET_KEY", "SLIPWAY_HTTPS_ADDR", "SLIPWAY_DOMAIN",
                     "SLIPWAY_HEALTH_TIMEOUT", "SLIPWAY_TOKEN"]:
            env.pop(name, None)
        self.up = subprocess.Popen([SLIPWAY, "up"], env=env, cwd=work, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.api = self.router = self.agent_pid = None
        deadline = time.monotonic() + 60
        while self.api is None:
            line = self.up.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise SystemExit(f"slipway up did not start; see {self.log.name}")
            self.log.write(line)
            match = re.match(r"Edge router on http://(\S+) \(agent (\d+);", line)
            if match:
                self.router, self.agent_pid = match.group(1), int(match.group(2))
            match = re.match(r"Slipway API listening on (http://\S+)", line)
            if match:
                self.api = match.group(1)
        threading.Thread(target=self._drain, daemon=True).start()
        self.token = self.call("POST", "/v1/auth/login", {"username": "admin", "password": PASSWORD}, auth=False)["token"]

    def _drain(self):
        for line in self.up.stdout:
            self.log.write(line)

    def stop(self):
        self.up.terminate()
        try:
            self.up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.up.kill()
            self.up.wait()
        subprocess.run([SLIPWAY, "down"], env=dict(os.environ, SLIPWAY_DATA_DIR=self.data),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def call(self, method, path, body=None, auth=True):
        request = urllib.request.Request(self.api + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("content-type", "application/json")
        if auth:
            request.add_header("authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def remote(self, app, token):
        return f"http://git:{token}@{self.api.removeprefix('http://')}/git/{WORKSPACE}/{app}.git"

    def get(self, app):
        """GET / of `app` through the edge router: (status, body); status None when no answer."""
        request = urllib.request.Request(f"http://{self.router}/", headers={"Host": f"{app}-{WORKSPACE}.localhost"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, ""
        except OSError:
            return None, ""


def git(cwd, *args):
    result = subprocess.run(GIT + list(args), cwd=cwd, env=GIT_ENV, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"git {args} failed: {result.stderr}")


def source(work, app):
    """A copy of examples/express committed on main."""
    path = os.path.join(work, "src", app)
    shutil.copytree(os.path.join(ROOT, "examples", "express"), path)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    return path


def timed_push(plat, src, remote, app, body):
    """Pushes main; returns (seconds to the first 200 answering `body`, seconds until git push returned)."""
    start = time.monotonic()
    push = subprocess.Popen(GIT + ["push", remote, "main"], cwd=src, env=GIT_ENV, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    reader = threading.Thread(target=lambda: output.extend(push.stdout), daemon=True)
    reader.start()
    first_200 = push_returned = None
    while first_200 is None or push_returned is None:
        now = time.monotonic()
        if now - start > 900:
            raise SystemExit("a deploy took longer than 15 minutes:\n" + "".join(output))
        if push_returned is None and push.poll() is not None:
            push_returned = now - start
            if push.returncode != 0:
                raise SystemExit("git push failed:\n" + "".join(output))
        if first_200 is None:
            status, got = plat.get(app)
            if status == 200 and got == body:
                first_200 = time.monotonic() - start
        time.sleep(0.01)
    reader.join()
    if not any("-----> Deployed #" in line for line in output):
        raise SystemExit("the push did not deploy:\n" + "".join(output))
    return first_200, push_returned


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for pid {pid}")


def app_processes_rss_kib(data):
    """Summed RSS of the app instances (every process in the groups the agent records)."""
    groups = {int(name) for name in os.listdir(os.path.join(data, "run", "instances")) if name.isdigit()}
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                group = int(stat.read().rsplit(")", 1)[1].split()[2])
            if group in groups:
                total += rss_kib(pid)
        except (OSError, SystemExit, ValueError, IndexError):
            pass
    return total


def sandbox_helpers_pss_kib():
    """Summed PSS of the sandbox's helper processes (`slipway __sandbox-exec`) beside the instances."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"__sandbox-exec" not in cmdline.read():
                    continue
            with open(f"/proc/{pid}/smaps_rollup") as smaps:
                total += next(int(line.split()[1]) for line in smaps if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            pass
    return total


def settled_rss_kib(pid):
    """Agent RSS after a short idle period (the larger of two samples a second apart)."""
    time.sleep(2)
    first = rss_kib(pid)
    time.sleep(1)
    return max(first, rss_kib(pid))


def measure(work, sandbox):
    plat = Platform(work, sandbox)
    try:
        log(f"platform up: API {plat.api}, router {plat.router}, agent {plat.agent_pid}")
        rss_idle = settled_rss_kib(plat.agent_pid)
        plat.call("POST", "/v1/workspaces", {"slug": WORKSPACE})
        token = plat.call("POST", "/v1/tokens", {"name": "bench"})["token"]

        plat.call("POST", f"/v1/workspaces/{WORKSPACE}/projects", {"slug": "web"})
        src = source(work, "web")
        remote = plat.remote("web", token)
        log("first deploy (cold: empty npm cache)")
        cold = timed_push(plat, src, remote, "web", "hello from express")
        log(f"  first 200 after {cold[0]:.2f} s, git push returned after {cold[1]:.2f} s")
        redeploys = []
        for run in range(1, REDEPLOYS + 1):
            body = f"hello from express, run {run}"
            with open(os.path.join(src, "server.js"), "w") as server:
                server.write(SERVER_JS % json.dumps(body))
            git(src, "commit", "-q", "-am", f"run {run}")
            redeploys.append(timed_push(plat, src, remote, "web", body))
            log(f"  redeploy {run}: first 200 after {redeploys[-1][0]:.2f} s, git push returned after {redeploys[-1][1]:.2f} s")

        for _ in range(50):
            plat.get("web")
        rss_one = settled_rss_kib(plat.agent_pid)
        log(f"memory: deploying {APPS - 1} more Express apps")
        apps = ["web"]
        for n in range(1, APPS):
            app = f"mem-{n}"
            plat.call("POST", f"/v1/workspaces/{WORKSPACE}/projects", {"slug": app})
            timed_push(plat, source(work, app), plat.remote(app, token), app, "hello from express")
            apps.append(app)
        for app in apps:  # every route used, so the router holds its per-backend state
            for _ in range(50):
                status, _ = plat.get(app)
                if status != 200:
                    raise SystemExit(f"{app} answered {status}")
        rss_loaded = settled_rss_kib(plat.agent_pid)
        app_rss = app_processes_rss_kib(plat.data)
        helpers = sandbox_helpers_pss_kib()
        return {"cold": cold, "redeploys": redeploys, "rss_idle": rss_idle, "rss_one": rss_one, "rss_loaded": rss_loaded,
                "apps": len(apps), "app_rss": app_rss, "helpers": helpers}
    finally:
        plat.stop()


def tool_version(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def write_section(results):
    off, on = results["off"], results["on"]

    def firsts(r):
        return [x[0] for x in r["redeploys"]]

    def returns(r):
        return [x[1] for x in r["redeploys"]]

    def per_app_mib(r):
        # What one more running app costs: the agent's growth past the first app (the first one
        # also pays one-off costs, shown on their own), plus its share of the sandbox helpers.
        return ((r["rss_loaded"] - r["rss_one"]) / (r["apps"] - 1) + r["helpers"] / r["apps"]) / 1024

    median_on = statistics.median(firsts(on))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.processor())
    mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)

    def row(label, pick):
        return f"| {label} | {pick(off)} | {pick(on)} |"

    lines = [
        "<!-- push-bench:start -->",
        "## Push to live (`bench/push.sh`)",
        "",
        f"{datetime.date.today()} · {os.cpu_count()} cores ({cpu}) · {mem_gib} GiB · Linux {platform.release()} · "
        f"{tool_version('git', '--version')} · node {tool_version('node', '--version')} · "
        f"npm {tool_version('npm', '--version')} · release build · SQLite"
        + (" · **quick mode (not a full run)**" if QUICK else ""),
        "",
        "Time from the start of `git push` to the first `200` answered by the *new* release through the edge "
        "router, for the sample Express app (`examples/express`, dependencies from the npm registry). The first "
        "deploy runs on a fresh data dir, so the project's npm cache is empty; each redeploy changes the response "
        "in `server.js` (dependencies unchanged, so `node_modules` comes from the project's cache). The live URL "
        "is polled every 10 ms. `git push` returns once the pusher has seen `Deployed #N`. Everything runs twice "
        "in one run, on two fresh platforms: tenant sandbox off (`SLIPWAY_SANDBOX=off`) and on (the default).",
        "",
        "| | sandbox off | sandbox on |",
        "|---|---:|---:|",
        row("first deploy (cold): push → first 200 (s)", lambda r: f"{r['cold'][0]:.2f}"),
        row(f"redeploy, median of {len(firsts(on))}: push → first 200 (s)",
            lambda r: f"**{statistics.median(firsts(r)):.2f}**"),
        row("redeploy, min – max (s)", lambda r: f"{min(firsts(r)):.2f} – {max(firsts(r)):.2f}"),
        row("redeploy, median: push → `git push` returned (s)", lambda r: f"{statistics.median(returns(r)):.2f}"),
        row("agent RSS, 0 apps (MiB)", lambda r: f"{r['rss_idle'] / 1024:.1f}"),
        row("agent RSS, 1 Express app (MiB)", lambda r: f"{r['rss_one'] / 1024:.1f}"),
        row(f"agent RSS, {on['apps']} Express apps (MiB)", lambda r: f"{r['rss_loaded'] / 1024:.1f}"),
        row("sandbox helpers beside the apps, PSS (MiB)", lambda r: f"{r['helpers'] / 1024:.1f}"),
        row("**platform memory per running app (MiB)**", lambda r: f"**{per_app_mib(r):.2f}**"),
        "",
        f"Redeploys, push → first 200, sandbox off: {', '.join(f'{t:.2f}' for t in firsts(off))} s; "
        f"on: {', '.join(f'{t:.2f}' for t in firsts(on))} s. Platform memory per app = (agent RSS with all the apps "
        "− agent RSS with the first app) / (apps − 1) + the sandbox helpers' PSS / apps: what one more running app costs. "
        "The first app also pays one-off costs (code paged in, allocator heaps of the router workers, the health "
        "checker's HTTP client): agent RSS with 1 app − idle. Each app served 50 requests through the router first "
        "(so the router holds its per-backend state and the access log has written its lines).",
        "",
        f"Targets with the sandbox on: redeploy ≤ 1.0 s (median): **{'met' if median_on <= 1.0 else 'NOT met'}**; "
        f"≤ 5 MB of platform memory per app: **{'met' if per_app_mib(on) * 1.048576 <= 5 else 'NOT met'}**; "
        f"agent's own memory ≤ 1 MiB per app: **{'met' if all((r['rss_loaded'] - r['rss_one']) / (r['apps'] - 1) <= 1024 for r in (off, on)) else 'NOT met'}**.",
        "<!-- push-bench:end -->",
    ]
    section = "\n".join(lines)
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read() if os.path.exists(path) else \
        "# Benchmarks\n\nFigures recorded by the scripts in `bench/`; each section says how it was measured.\n"
    if "<!-- push-bench:start -->" in text:
        text = re.sub(r"<!-- push-bench:start -->.*<!-- push-bench:end -->", lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(path, "w") as out:
        out.write(text)
    print(section)


def main():
    global SLIPWAY
    SLIPWAY = os.path.abspath(sys.argv[1])
    results = {}
    for sandbox in ["off", "on"]:
        work = tempfile.mkdtemp(prefix=f"slipway-push-bench-{sandbox}-")
        try:
            log(f"sandbox {sandbox}")
            results[sandbox] = measure(work, sandbox)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    write_section(results)


if __name__ == "__main__":
    main()
