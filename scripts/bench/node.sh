#!/usr/bin/env bash
# Whole-process benchmark of edge-node: RSS and CPU of one node and of the 12-node fleet
# at the default traffic rate, and /metrics latency over HTTP (keep-alive, sequential).
# Prints a Markdown section for docs/BENCHMARKS.md. Loopback only; stops what it starts.
#
#   scripts/bench/node.sh            # 20 s warm-up, 30 s sample, 2000 scrapes
#   WARMUP=5 SAMPLE=10 SCRAPES=500 BASE_PORT=18000 scripts/bench/node.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

WARMUP=${WARMUP:-20}
SAMPLE=${SAMPLE:-30}
SCRAPES=${SCRAPES:-2000}
PACE_MS=${PACE_MS:-10}  # pause between scrapes; 0 = back to back
BASE_PORT=${BASE_PORT:-18000}
BIN=target/release/edge-node

cargo build --release -q -p edge-node

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

ticks=$(getconf CLK_TCK)

# cpu_seconds PID: user+system CPU seconds used so far.
cpu_seconds() { awk -v t="$ticks" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }
rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

wait_up() {
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null --max-time 0.5 "http://127.0.0.1:$1/healthz" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "node on port $1 did not come up" >&2; exit 1
}

# measure NAME NODES: start, warm up, sample CPU and RSS; leaves the process running.
measure() {
  local name=$1 nodes=$2
  "$BIN" --nodes "$nodes" --base-port "$BASE_PORT" --seed 1 >/dev/null 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_up $((BASE_PORT + 1))
  sleep "$WARMUP"
  local c0 c1
  c0=$(cpu_seconds "$pid")
  sleep "$SAMPLE"
  c1=$(cpu_seconds "$pid")
  local rss; rss=$(rss_mb "$pid")
  local core_pct per_node
  core_pct=$(awk -v a="$c0" -v b="$c1" -v s="$SAMPLE" 'BEGIN { printf "%.2f", 100 * (b - a) / s }')
  per_node=$(awk -v c="$core_pct" -v n="$nodes" 'BEGIN { printf "%.3f", c / n }')
  echo "| $name | $nodes | $rss MB | $core_pct % | $per_node % |"
  LAST_PID=$pid
}

scrape_latency() { scripts/py -m bench.scrape_latency "$1" "$SCRAPES" "$PACE_MS"; }

echo "### Whole process (warm-up ${WARMUP} s, sampled over ${SAMPLE} s, default 20 req/s per node)"
echo
echo "| run | nodes | RSS | CPU (of one core) | CPU per node |"
echo "|---|---|---|---|---|"
measure "one node" 1
kill "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true
measure "fleet" 12
echo
echo "### /metrics over HTTP (node 3 of the running fleet, ${SCRAPES} keep-alive scrapes ${PACE_MS} ms apart, Python client)"
echo
echo "| samples exposed | body | p50 | p99 | max |"
echo "|---|---|---|---|---|"
scrape_latency $((BASE_PORT + 3))
