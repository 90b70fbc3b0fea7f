#!/usr/bin/env python3
"""Injects each failure mode into a running stack (scripts/run-native.sh) and measures
detection: time from injection to the expected alert firing in Prometheus and arriving at
the alert sink, and from the fault's end to the resolved notification. Also reports every
other alert that reached the sink meanwhile.

    scripts/e2e-detection.py [--modes cpu_spike,node_crash] [--duration 15] [--json]

Exit status 1 if an expected alert did not arrive within --timeout or did not resolve.
"""
import argparse
import json
import sys
import time
import urllib.request

MODES = ["cpu_spike", "memory_leak", "latency_spike", "error_burst", "node_crash", "dependency_failure", "flaky_network"]


def get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def run_one(args, mode, node):
    node_url = f"http://127.0.0.1:{args.base_port + node}"
    seq0 = max([n["seq"] for n in get(f"{args.sink}/notifications?limit=1")] or [0])
    fault = post(f"{node_url}/inject", {"failure": mode, "duration_s": args.duration})
    t0, t_end, alert = fault["started_at"], fault["expires_at"], fault["expected_alert"]
    result = {"mode": mode, "node": node, "alert": alert, "pending_s": None, "firing_s": None,
              "notified_s": None, "resolved_s": None, "others": []}
    deadline = t_end + args.timeout
    while time.time() < deadline:
        now = time.time()
        if result["firing_s"] is None:
            for a in get(f"{args.prom}/api/v1/alerts")["data"]["alerts"]:
                if a["labels"]["alertname"] == alert and a["labels"].get("node") == str(node):
                    if result["pending_s"] is None:
                        result["pending_s"] = round(now - t0, 2)
                    if a["state"] == "firing":
                        result["firing_s"] = round(now - t0, 2)
        new = [n for n in get(f"{args.sink}/notifications") if n["seq"] > seq0]
        for n in new:
            mine = n["alertname"] == alert and n["node"] == str(node)
            if mine and n["status"] == "firing" and result["notified_s"] is None:
                result["notified_s"] = round(n["received_at"] - t0, 2)
            if mine and n["status"] == "resolved" and result["resolved_s"] is None:
                result["resolved_s"] = round(n["received_at"] - t_end, 2)
            if not mine and n["alertname"] != "Watchdog" and n["status"] == "firing":
                other = f'{n["alertname"]}{{node={n["node"]}}}'
                if other not in result["others"]:
                    result["others"].append(other)
        if result["notified_s"] is not None and now > t_end and result["resolved_s"] is not None:
            break
        if result["notified_s"] is None and now > t0 + args.timeout:
            break
        time.sleep(0.1)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prom", default="http://127.0.0.1:9090")
    p.add_argument("--sink", default="http://127.0.0.1:9095")
    p.add_argument("--base-port", type=int, default=8000)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--timeout", type=float, default=30, help="seconds to wait for firing and for resolution")
    p.add_argument("--settle", type=float, default=5, help="pause between modes")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    results = []
    for i, mode in enumerate(args.modes.split(",")):
        results.append(run_one(args, mode, node=i + 1))
        time.sleep(args.settle)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'mode':<20}{'node':>5}  {'alert':<22}{'pending':>8}{'firing':>8}{'notified':>10}{'resolved':>10}  others")
        for r in results:
            fmt = lambda v: "-" if v is None else f"{v:.2f}"
            print(f"{r['mode']:<20}{r['node']:>5}  {r['alert']:<22}{fmt(r['pending_s']):>8}{fmt(r['firing_s']):>8}"
                  f"{fmt(r['notified_s']):>10}{fmt(r['resolved_s']):>10}  {', '.join(r['others'])}")
    failed = [r for r in results if r["notified_s"] is None or r["resolved_s"] is None]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
