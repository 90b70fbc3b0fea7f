"""What each metric shape costs: for each choice of `--metric-shapes`, starts
`edge-node --nodes N` with its built-in traffic and measures, per node, the series and bytes of
`/metrics` and `/host/metrics`, the latency of a paced `/metrics` scrape of one node, and the
fleet process's CPU (share of one core) and RSS while every node is scraped once per interval,
as Prometheus would (1 s for 12 nodes, 10 s for 1000).

    scripts/py -m bench.shapes                          # 12 and 1000 nodes
    scripts/py -m bench.shapes --sizes 12 --sample 20

Prints Markdown rows for docs/BENCHMARKS.md. Loopback only; stops what it starts (by PID);
every wait and loop is bounded. Figures are measurements, not assertions.
"""
import argparse
import concurrent.futures
import http.client
import os
import subprocess
import sys
import time

from lib import ROOT

CHOICES = ["none", "node_exporter", "otel", "promhttp", "node_exporter,otel,promhttp"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def fetch(port, path):
    """Status, bytes and sample lines of one scrape (0, 0, 0 when it fails)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
    except OSError:
        return 0, 0, 0
    finally:
        conn.close()
    samples = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    return resp.status, len(body), samples


def latency(port, scrapes=300, pace=0.01):
    """p50 and p99 of paced keep-alive `/metrics` scrapes of one node, in ms."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    times = []
    for i in range(scrapes + 20):
        time.sleep(pace)
        t0 = time.perf_counter()
        conn.request("GET", "/metrics")
        conn.getresponse().read()
        if i >= 20:
            times.append(time.perf_counter() - t0)
    conn.close()
    times.sort()
    return times[len(times) // 2] * 1000, times[int(0.99 * len(times))] * 1000


def scrape_round(base, n, host):
    paths = ["/metrics"] + (["/host/metrics"] if host else [])
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda a: fetch(*a), [(base + i, p) for i in range(1, n + 1) for p in paths]))


def wait_ready(port, proc, limit=60.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"edge-node exited with {proc.returncode}")
        if fetch(port, "/healthz")[0] == 200:
            return
        time.sleep(0.2)
    raise SystemExit(f"edge-node on port {port} not ready in {limit:.0f} s")


def measure(binary, n, shapes, base, rps, warmup, sample):
    env = dict(os.environ, RUST_LOG="warn")
    proc = subprocess.Popen(
        [binary, "--nodes", str(n), "--base-port", str(base), "--seed", "1", "--rps", str(rps),
         "--metric-shapes", shapes],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_ready(base + n, proc)
        time.sleep(warmup)  # every route and status seen at least once
        host = "node_exporter" in shapes
        _, app_bytes, app_samples = fetch(base + 1, "/metrics")
        status, host_bytes, host_samples = fetch(base + 1, "/host/metrics")
        if status != 200:
            host_bytes = host_samples = 0
        p50, p99 = latency(base + 1)
        interval = 1.0 if n <= 100 else 10.0
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        rounds = 0
        while time.monotonic() - t0 < sample:
            start = time.monotonic()
            scrape_round(base, n, host)
            rounds += 1
            time.sleep(max(0.0, interval - (time.monotonic() - start)))
        cpu = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
        return (f"| {n} | {shapes} | {app_samples} | {app_bytes / 1024:.1f} KiB | {host_samples} | "
                f"{host_bytes / 1024:.1f} KiB | {p50:.2f} ms | {p99:.2f} ms | {cpu:.1%} | "
                f"{rss_mb(proc.pid):.0f} MB | {rounds} x {interval:.0f} s |")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="12,1000")
    ap.add_argument("--shapes", default=";".join(CHOICES), help="choices separated by ';'")
    ap.add_argument("--base-port", type=int, default=21000)
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--sample", type=float, default=30.0)
    ap.add_argument("--binary", default=str(ROOT / "target/release/edge-node"))
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "edge-node"], cwd=ROOT, check=True)
    print("| nodes | shapes | /metrics samples (node 1) | /metrics bytes | /host/metrics samples | "
          "/host/metrics bytes | scrape p50 | scrape p99 | fleet CPU (of one core) | RSS | scrapes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        rps = 20 if n <= 100 else 2
        for shapes in args.shapes.split(";"):
            print(measure(args.binary, n, shapes, args.base_port, rps, args.warmup, args.sample), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
