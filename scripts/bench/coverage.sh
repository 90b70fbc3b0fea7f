#!/usr/bin/env bash
# Rule coverage end to end (issue 24's speed target): `coverage` (release build) on this repo's
# rules plus the community-style examples, 12 nodes, a simulated rest of REST plus every failure
# mode at the length its rules need (capped at CAP), 15 s scrapes and evaluations. Prints the
# command's own phase timings (stderr) and the wall time and peak memory of the whole run
# (GNU time). Local files only; the command starts and stops its own Prometheus by PID.
#
#   scripts/bench/coverage.sh                 # 12 nodes, 24h rest, 1h cap
#   NODES=4 REST=1h CAP=10m scripts/bench/coverage.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
NODES=${NODES:-12}
REST=${REST:-24h}
CAP=${CAP:-1h}
OUT=${OUT:-target/bench-coverage}
mkdir -p "$OUT"
[ "${BUILD:-1}" = 1 ] && cargo build --release -q -p coverage
rules=$(find prometheus/rules examples/community-style-rules -name '*.yml' | wc -l)
echo "coverage: $NODES nodes, rest $REST, fault cap $CAP, $rules rule files ($(date -u +%F), $(nproc) cores)"
/usr/bin/time -v target/release/coverage --rules prometheus/rules examples/community-style-rules \
  --nodes "$NODES" --rest "$REST" --fault-cap "$CAP" --scrape-interval 15s --evaluation-interval 15s \
  --work-dir "$OUT/work" --format json --out "$OUT/report.json" 2> "$OUT/stderr.txt"
cat "$OUT/stderr.txt" | grep -v "^\s*\(Page size\|Exit status\|Socket\|Signals\|Swaps\|File system\|Average\|Minor\|Major\|Voluntary\|Involuntary\)" 
