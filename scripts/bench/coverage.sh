#!/usr/bin/env bash
# Rule coverage end to end (issue 24's speed target): `coverage` (release build) on this repo's
# rules plus the community-style examples, 12 nodes, a simulated rest of REST plus every failure
# mode at the length its rules need (capped at CAP), 15 s scrapes and evaluations. Prints the
# command's own phase timings (stderr) and the wall time and peak memory of the whole run
# (GNU time). Local files only; the command starts and stops its own Prometheus by PID.
# GNU time's "Maximum resident set size" is that of the largest single process: the backfill
# runs one promtool per core at once, and most of a promtool's RSS is its input file mapped
# (page cache, not heap). The run is niced (NICE, 10 by default): the machine is usually shared.
#
#   scripts/bench/coverage.sh                 # 12 nodes, 24h rest, 1h cap (26 simulated hours)
#   REST=4h scripts/bench/coverage.sh         # 12 nodes, 6 simulated hours: the quick measure
#   NODES=4 REST=1h CAP=10m scripts/bench/coverage.sh
#   RULES=examples/community-style-rules REST=4h scripts/bench/coverage.sh   # fewer rules
set -euo pipefail
cd "$(dirname "$0")/../.."
NODES=${NODES:-12}
REST=${REST:-24h}
CAP=${CAP:-1h}
OUT=${OUT:-target/bench-coverage}
NICE=${NICE:-10}
RULES=${RULES:-prometheus/rules examples/community-style-rules}
mkdir -p "$OUT"
[ "${BUILD:-1}" = 1 ] && cargo build --release -q -p coverage
# shellcheck disable=SC2086 # RULES is a list of folders
rules=$(find $RULES -name '*.yml' | wc -l)
echo "coverage: $NODES nodes, rest $REST, fault cap $CAP, $rules rule files ($(date -u +%F), $(nproc) cores)"
# shellcheck disable=SC2086 # RULES is a list of folders
nice -n "$NICE" /usr/bin/time -v target/release/coverage --rules $RULES \
  --nodes "$NODES" --rest "$REST" --fault-cap "$CAP" --scrape-interval 15s --evaluation-interval 15s \
  --work-dir "$OUT/work" --format json --out "$OUT/report.json" 2> "$OUT/stderr.txt"
cat "$OUT/stderr.txt" | grep -v "^\s*\(Page size\|Exit status\|Socket\|Signals\|Swaps\|File system\|Average\|Minor\|Major\|Voluntary\|Involuntary\)" 
