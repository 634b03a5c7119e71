#!/usr/bin/env bash
# How fast a big report opens: writes a 10 000-run store (report_store_gen, through the Store API),
# times `joulebench report` on it, and times headless Chromium drawing the page until every chart
# is drawn (report_render_time.py: the page's own marker, over the DevTools pipe). Target (issue 6):
# under 2 s in a browser. Not a test: prints the numbers for BENCHMARKS.md.
# Usage: bench/report_render.sh [build dir] [runs in the store] [browser runs]
set -euo pipefail
BUILD=${1:-build}
RUNS=${2:-10000}
TIMES=${3:-5}
PY=/usr/bin/python3
command -v "$PY" >/dev/null || PY=python3
CHROMIUM=${JOULEBENCH_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "chromium not found ($CHROMIUM): apt-get install chromium" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
start=$(date +%s%N)
"$BUILD/report_store_gen" "$tmp/big.db" "$RUNS"
echo "store written in $(ms_since "$start") ms"

start=$(date +%s%N)
"$BUILD/joulebench" report "$tmp/big.db" -o "$tmp/big.html"
echo "joulebench report: $(ms_since "$start") ms, $(stat -c %s "$tmp/big.html") bytes of HTML"

"$PY" "$(dirname "$0")/report_render_time.py" "$tmp/big.html" "$TIMES" "$CHROMIUM"
