"""`/metrics` latency over HTTP, as a Markdown table row: keep-alive scrapes of one node,
paced like Prometheus (not back to back), after a warm-up. Used by bench/node.sh.

    scripts/py -m bench.scrape_latency PORT [SCRAPES] [PACE_MS]
"""
import http.client
import sys
import time

WARMUP = 50


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    pace = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.01
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    times, size, samples = [], 0, 0
    for i in range(n + WARMUP):
        if pace:
            time.sleep(pace)
        t0 = time.perf_counter()
        conn.request("GET", "/metrics")
        body = conn.getresponse().read()
        dt = time.perf_counter() - t0
        if i >= WARMUP:
            times.append(dt)
        size = len(body)
        samples = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    times.sort()

    def q(p):
        return times[min(len(times) - 1, int(p * len(times)))] * 1000

    print(f"| {samples} | {size / 1024:.1f} KiB | {q(0.5):.3f} ms | {q(0.99):.3f} ms | {times[-1] * 1000:.3f} ms |")


if __name__ == "__main__":
    main()
