#!/usr/bin/env bash
# The fleet process alone at scale: CPU (share of one core), requests served and CPU per
# request, and RSS of `edge-node --nodes N` serving its built-in traffic, with request logs
# on (JSON to /dev/null) and off (RUST_LOG=warn). CPU per request is the figure to compare
# on a shared machine: a starved process serves fewer requests and shows less CPU.
# Prints Markdown rows for docs/BENCHMARKS.md. Loopback only; stops what it starts; every
# run is bounded (about WARMUP + SAMPLE + 10 seconds).
#
#   scripts/bench/fleet_process.sh                      # 200 and 1000 nodes, 20 req/s, 30 s each
#   NODES="1000" RPS=2 SAMPLE=60 BASE_PORT=20000 BIN=target/release/edge-node scripts/bench/fleet_process.sh
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
# served BASE N: requests every node has served so far (16 scrapes at a time).
served() {
  python3 - "$1" "$2" <<'PY'
import sys, urllib.request, concurrent.futures
base, n = int(sys.argv[1]), int(sys.argv[2])
def one(i):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{base + i}/metrics", timeout=5).read().decode()
    except OSError:
        return 0.0
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith("edge_http_requests_total{"))
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    print(sum(pool.map(one, range(1, n + 1))))
PY
}

echo "| nodes | req/s per node (set) | request logs | CPU (of one core) | served req/s | CPU per request | CPU at exactly the set rate | RSS | load average |"
echo "|---|---|---|---|---|---|---|---|---|"
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
    r0=$(served "$BASE_PORT" "$n"); c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
    sleep "$SAMPLE"
    c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N); r1=$(served "$BASE_PORT" "$n")
    rss=$(awk '/^VmRSS/ { printf "%.0f MB", $2 / 1024 }' "/proc/$pid/status")
    load=$(cut -d' ' -f1 /proc/loadavg)
    cleanup; pid=
    awk -v a="$c0" -v b="$c1" -v t="$ticks" -v t0="$t0" -v t1="$t1" -v r0="$r0" -v r1="$r1" -v n="$n" \
        -v r="$RPS" -v l="$logs" -v m="$rss" -v la="$load" 'BEGIN {
      cpu = (b - a) / t; secs = t1 - t0; req = r1 - r0
      printf "| %d | %s | %s | %.0f %% | %.0f | %.1f µs | %.0f %% | %s | %s |\n",
        n, r, l, 100 * cpu / secs, req / secs, 1e6 * cpu / req, 100 * cpu / req * n * r, m, la }'
  done
done
