#!/usr/bin/env bash
# The fleet process alone at scale: CPU (share of one core) and RSS of `edge-node --nodes N`
# serving its built-in traffic, with request logs on (JSON to /dev/null) and off
# (RUST_LOG=warn). Prints Markdown rows for docs/BENCHMARKS.md. Loopback only; stops what it
# starts; every run is bounded (WARMUP + SAMPLE seconds).
#
#   scripts/bench/fleet_process.sh                      # 200 and 1000 nodes, 20 req/s, 30 s each
#   NODES="1000" RPS=2 SAMPLE=60 BASE_PORT=20000 scripts/bench/fleet_process.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

NODES=${NODES:-"200 1000"}
RPS=${RPS:-20}
WARMUP=${WARMUP:-5}
SAMPLE=${SAMPLE:-30}
BASE_PORT=${BASE_PORT:-20000}
BIN=${BIN:-target/release/edge-node}

[ "${BUILD:-1}" = 1 ] && cargo build --release -q -p edge-node

pid=
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo "| nodes | req/s per node | request logs | CPU (of one core) | RSS | load average |"
echo "|---|---|---|---|---|---|"
for n in $NODES; do
  for logs in on off; do
    filter=info; [ "$logs" = off ] && filter=warn
    RUST_LOG=$filter "$BIN" --nodes "$n" --base-port "$BASE_PORT" --seed 1 --rps "$RPS" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
      curl -fsS -o /dev/null --max-time 0.5 "http://127.0.0.1:$((BASE_PORT + n))/healthz" 2>/dev/null && break
      sleep 0.1
    done
    sleep "$WARMUP"
    c0=$(cpu_ticks "$pid"); sleep "$SAMPLE"; c1=$(cpu_ticks "$pid")
    rss=$(awk '/^VmRSS/ { printf "%.0f MB", $2 / 1024 }' "/proc/$pid/status")
    load=$(cut -d' ' -f1 /proc/loadavg)
    cleanup; pid=
    awk -v a="$c0" -v b="$c1" -v t="$ticks" -v s="$SAMPLE" -v n="$n" -v r="$RPS" -v l="$logs" -v m="$rss" -v la="$load" \
      'BEGIN { printf "| %d | %s | %s | %.0f %% | %s | %s |\n", n, r, l, 100 * (b - a) / t / s, m, la }'
  done
done
