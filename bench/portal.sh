#!/usr/bin/env bash
# Portal benchmark (issue: web portal — "a project page with 1,000 deployments loads its first
# view in ≤ 200 ms server time").
#
# Runs the portal's router test that queues 1,000 deployments and requests the project page 11
# times through the real API router on SQLite (release build), reads the median and worst time it
# prints, and writes them into the portal section of BENCHMARKS.md (the line between the
# `portal-first-view` markers). The log-view figures of that section come from the browser test
# (crates/slipway-portal/tests/browser/journey.mjs) and logview-bench.mjs.
#
# Needs: cargo. Usage: bench/portal.sh
set -euo pipefail
cd "$(dirname "$0")/.."

output=$(cargo test --release -q -p slipway-portal --test router a_project_with_1000_deployments -- --nocapture 2>&1)
line=$(grep -m1 '^portal-bench:' <<<"$output") || { echo "$output" >&2; echo "no portal-bench line" >&2; exit 1; }
echo "$line"
python3 - "$line" <<'PY'
import datetime, os, re, sys
line = sys.argv[1]
median, worst = re.search(r"median ([\d.]+\w+), worst ([\d.]+\w+)", line).groups()
def ms(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1, "s": 1000}[unit]
m, w = ms(median), ms(worst)
section = (f"<!-- portal-first-view:start -->\n**Project page with 1,000 deployments, first view** (`bench/portal.sh`, "
           f"{datetime.date.today()}, {os.cpu_count()} cores, release build; the real API router on SQLite behind the portal, "
           f"`oneshot`, 11 requests after 1,000 queued deployments; the history shows 20 per page with an \"Older\" link): "
           f"**median {m:.1f} ms, worst {w:.1f} ms** server time (target ≤ 200 ms: **{'met' if m <= 200 else 'NOT met'}**).\n"
           f"<!-- portal-first-view:end -->")
text = open("BENCHMARKS.md").read()
if "<!-- portal-first-view:start -->" not in text:
    sys.exit("BENCHMARKS.md has no portal-first-view markers")
text = re.sub(r"<!-- portal-first-view:start -->.*<!-- portal-first-view:end -->", lambda _: section, text, flags=re.S)
open("BENCHMARKS.md", "w").write(text)
print(section)
PY
