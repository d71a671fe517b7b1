#!/usr/bin/env bash
# GitOps benchmark (issue 5: Kubernetes target through GitOps).
#
# Runs `cargo run --release -p slipway-gitops --example gitops_bench`, which
#   - renders all 1,000 apps (100 workspaces x 10 projects, web + worker each)
#     from scratch in memory, and renders + commits all of them as one commit
#     into an empty local bare repository with RepoWriter::commit_apps
#     (target <= 10 s);
#   - then times 50 single deployments (render + fast-import commit + push
#     through RepoWriter::deploy from a persistent clone) into that repository
#     holding 1,000 apps (target: median <= 200 ms);
# and writes the figures, the machine and the date into BENCHMARKS.md between
# the gitops-bench markers.
#
# Needs: cargo, git, python3. Usage: bench/gitops.sh [--quick]  (100 apps, 10 deployments)
set -euo pipefail
cd "$(dirname "$0")/.."

APPS=1000 DEPLOYMENTS=50
if [[ "${1:-}" == "--quick" ]]; then APPS=100 DEPLOYMENTS=10; fi

cargo build --release -q -p slipway-gitops --example gitops_bench
RESULT=$(target/release/examples/gitops_bench "$APPS" "$DEPLOYMENTS")
echo "$RESULT"

RESULT="$RESULT" python3 - <<'PY'
import json, os, platform, re, subprocess, datetime
r = json.loads(os.environ["RESULT"])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
cores = os.cpu_count()
load = open("/proc/loadavg").read().split()[:3]
git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
ok_deploy = r["deploy_median_ms"] <= 200
ok_render = r["render_and_commit_all_ms"] <= 10_000
lines = [
    "<!-- gitops-bench:start -->",
    "## GitOps: render and commit (bench/gitops.sh)",
    "",
    f"Run {date} at {commit} on {cores} cores ({cpu}), shared with other work (load average {' '.join(load)} at the end); {git}. "
    f"Release build. Apps: {r['apps']:,} (10 projects per workspace), each a `web` (2 replicas, Ingress, probes) and a `worker` with a plain and a secret config var: {r['files_per_render_all'] // r['apps']} files per app.",
    "",
    "| measurement | figure | target |",
    "|---|---:|---|",
    f"| render all {r['apps']:,} apps from scratch (in memory only) | {r['render_all_ms']:,.0f} ms | – |",
    f"| render all {r['apps']:,} apps from scratch + commit them ({r['files_in_repo']:,} files) as one commit into an empty repo + push | {r['render_and_commit_all_ms']:,.0f} ms | ≤ 10 s: **{'met' if ok_render else 'NOT met'}** |",
    f"| one deployment into a repo holding {r['apps']:,} apps: render + commit + push, median of {r['deployments']} | {r['deploy_median_ms']:.1f} ms | ≤ 200 ms: **{'met' if ok_deploy else 'NOT met'}** |",
    f"| same, p90 / min / max | {r['deploy_p90_ms']:.1f} / {r['deploy_min_ms']:.1f} / {r['deploy_max_ms']:.1f} ms | – |",
    "",
    "The remote is a local bare repository (the default: Slipway's own git server's repo on the same machine), so the push costs "
    "git's local transport, not a network. A deployment is `git fetch` + `git ls-tree` of `apps/` + `git fast-import` of the "
    "changed folders onto the fetched tree + `git push`; nothing is checked out, so its cost does not grow with the number of files.",
    "<!-- gitops-bench:end -->",
]
section = "\n".join(lines)
text = open("BENCHMARKS.md").read()
if "<!-- gitops-bench:start -->" in text:
    text = re.sub(r"<!-- gitops-bench:start -->.*<!-- gitops-bench:end -->", lambda _: section, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open("BENCHMARKS.md", "w").write(text)
print("BENCHMARKS.md updated")
PY
