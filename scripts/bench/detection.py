"""The detection benchmark: starts the no-Docker stack (scripts/run-native.sh) on free loopback
ports, soaks it at rest, then injects every failure mode several times (rotating nodes) and
times each expected alert: injection -> firing in Prometheus -> notification at the alert sink,
and fault end -> resolved notification; then injects the fast modes on every node, for the
spread across scrape phases. Samples the processes' CPU and memory throughout and
writes the results into docs/BENCHMARKS.md (between the bench-detection markers).

    scripts/py -m bench.detection                      # 8 runs per mode, a 10-minute soak
    scripts/py -m bench.detection --runs 3 --soak-min 2 --no-write

Figures are measurements, not assertions: the script fails only if the stack cannot start.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time

from lib import ROOT, fleet
from lib.stack import NativeStack, get, http, promql, wait_until

# Every mode of the catalog, as `edge-node catalog --json` lists it.
MODES = [m["failure"] for m in fleet.catalog()]
# The modes whose alerts read a gauge or `up` directly: their time to detect is the scrape and
# evaluation phase alone, so they are also injected on every node to show the spread by phase.
FAST_MODES = ["cpu_spike", "node_crash"]
# The Python ancestor, measured on Debian's Prometheus 2.42 / Alertmanager 0.25 (issue 6):
# median seconds from injection to the first notification.
ANCESTOR_MEDIAN = {"cpu_spike": "0.82", "error_burst": "0.90", "node_crash": "4.65", "latency_spike": "25.7",
                   "memory_leak": "19.7 (never resolves)"}
BEGIN, END = "<!-- bench-detection:begin -->", "<!-- bench-detection:end -->"
TICK = os.sysconf("SC_CLK_TCK")


class Sampler(threading.Thread):
    """Samples CPU time and RSS of the stack's processes every few seconds, per phase."""

    def __init__(self, stack, every=5.0):
        super().__init__(daemon=True)
        self.stack, self.every, self.phase = stack, every, "start"
        self.samples = []  # (phase, t, {name: (cpu_s, rss_bytes)})
        self.stopped = threading.Event()

    def read(self):
        out = {}
        for name, pid in self.stack.pids().items():
            if name not in ("edge-node", "prometheus", "alertmanager", "alert-sink"):
                continue
            try:
                stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                rss = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1)) * 1024
                out[name] = ((int(stat[11]) + int(stat[12])) / TICK, rss)
            except (OSError, AttributeError):
                continue
        return out

    def run(self):
        while not self.stopped.wait(self.every):
            self.samples.append((self.phase, time.monotonic(), self.read()))

    def summary(self, phase):
        """{name: (mean CPU share of one core, max RSS)} over one phase."""
        rows = [s for s in self.samples if s[0] == phase]
        result = {}
        for name in sorted({n for _, _, procs in rows for n in procs}):
            points = [(t, procs[name]) for _, t, procs in rows if name in procs]
            if len(points) < 2:
                continue
            (t0, (c0, _)), (t1, (c1, _)) = points[0], points[-1]
            result[name] = ((c1 - c0) / (t1 - t0), max(rss for _, (_, rss) in points))
        return result


def rfc3339(stamp):
    """Unix time of Prometheus' RFC 3339 timestamps (nanoseconds cut to microseconds)."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (frac or "0"))


def sink_seq(stack):
    return max([n["seq"] for n in get(f"{stack.sink}/notifications?limit=1")] or [0])


def measure(stack, mode, node, duration, timeout):
    """One injection: seconds to firing (Prometheus' activeAt), to the
    notification (sink arrival), and from the fault's end to the resolved notification."""
    seq0 = sink_seq(stack)
    fault = http("POST", f"{stack.node_url(node)}/inject", {"failure": mode, "duration_s": duration})
    t0, t_end, alert = fault["started_at"], fault["expires_at"], fault["expected_alert"]
    r = {"mode": mode, "node": node, "alert": alert, "firing": None, "notified": None, "resolved": None, "others": []}
    while time.time() < t_end + timeout:
        now = time.time()
        if r["firing"] is None:
            for a in get(f"{stack.prom}/api/v1/alerts")["data"]["alerts"]:
                mine = a["labels"]["alertname"] == alert and a["labels"].get("node") == str(node)
                if mine and a["state"] == "firing" and rfc3339(a["activeAt"]) > t0 - 1:
                    # No alert has a `for:`, so it fired at the evaluation that made it active.
                    r["firing"] = rfc3339(a["activeAt"]) - t0
        for n in (n for n in get(f"{stack.sink}/notifications") if n["seq"] > seq0):
            mine = n["alertname"] == alert and n["node"] == str(node)
            if mine and n["status"] == "firing" and r["notified"] is None:
                r["notified"] = n["received_at"] - t0
            elif mine and n["status"] == "resolved" and r["resolved"] is None and n["received_at"] > t_end:
                r["resolved"] = n["received_at"] - t_end
            elif not mine and n["alertname"] != "Watchdog" and n["status"] == "firing":
                name = f'{n["alertname"]}@{n["node"] or "-"}'
                if name not in r["others"]:
                    r["others"].append(name)
        if r["resolved"] is not None or (r["notified"] is None and now > t0 + timeout):
            break
        time.sleep(0.1)
    return r


def soak(stack, minutes):
    """At rest: every non-Watchdog alert that fired (Prometheus) or was notified (sink)."""
    seq0, start = sink_seq(stack), time.time()
    time.sleep(minutes * 60)
    notes = [n for n in get(f"{stack.sink}/notifications") if n["seq"] > seq0]
    false = [n for n in notes if n["alertname"] != "Watchdog" and n["status"] == "firing"]
    fired = promql(stack.prom, f'count by (alertname, node) (count_over_time(ALERTS{{alertstate="firing", '
                               f'alertname!="Watchdog"}}[{int(time.time() - start)}s]))')
    peaks = {q: float(promql(stack.prom, f"max(max_over_time({q}[{int(minutes * 60)}s]))")[0]["value"][1])
             for q in ("node:edge_cpu_utilization:ratio", "node:edge_memory_utilization:ratio",
                       "node:edge_http_request_duration_seconds:p95_rate3s", "node:edge_http_error_ratio:rate3s")}
    return {"minutes": minutes, "notifications": len(notes), "false_notifications": len(false),
            "false_series": [f["metric"] for f in fired], "peaks": peaks}


def stats(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    p95 = v[min(len(v) - 1, max(0, round(0.95 * len(v) + 0.5) - 1))]  # nearest rank
    return {"n": len(v), "min": v[0], "median": statistics.median(v), "p95": p95, "max": v[-1]}


def fmt(s, key):
    return "-" if s is None else f"{s[key]:.2f}"


def versions():
    def first_line(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    # What run-native.sh runs: the Debian sid binaries in target/tools (scripts/lib/tools.sh).
    tools = ROOT / "target/tools/root/usr/bin"
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    mem = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1)) / 1024 / 1024
    return {"machine": f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.platform()}",
            "prometheus": first_line([str(tools / "prometheus"), "--version"]),
            "alertmanager": first_line([str(tools / "prometheus-alertmanager"), "--version"]),
            "rust": first_line(["rustc", "--version"])}


def report(args, results, per_node, rest, usage, info):
    lines = [BEGIN, "", f"## Detection (`scripts/py -m bench.detection`, {datetime.date.today()})", "",
             f"Machine: {info['machine']}. {info['prometheus']}; {info['alertmanager']}; {info['rust']}.",
             f"The stack of `scripts/run-native.sh`: {fleet.size()} nodes at the default 20 req/s, seed 42, 1 s "
             f"scrapes, the fast alerts evaluated every 0.5 s. {args.runs} injections per mode of {args.duration:g} s "
             "each, nodes rotated; times in seconds from the injection (firing: the evaluation that made the alert "
             "active in Prometheus, its `activeAt`; notified: arrival at the alert sink through Alertmanager) and from "
             "the fault's end (resolved notification)."
             + (f" With {args.runs} runs the p95 (nearest rank) is the largest value." if args.runs < 20 else ""), "",
             "| fault | alert | firing min / median / p95 / max | notified min / median / p95 / max | "
             "resolved median / max | missed | ancestor's median notification |",
             "|---|---|---|---|---|---|---|"]
    for mode in args.modes:
        rs = [r for r in results if r["mode"] == mode]
        f, n, res = (stats(r[k] for r in rs) for k in ("firing", "notified", "resolved"))
        missed = sum(r["notified"] is None for r in rs)
        def quad(s):
            return "-" if s is None else " / ".join(fmt(s, k) for k in ("min", "median", "p95", "max"))
        lines.append(f"| `{mode}` | `{rs[0]['alert']}` | {quad(f)} | {quad(n)} | {fmt(res, 'median')} / "
                     f"{fmt(res, 'max')} | {missed}/{len(rs)} | {ANCESTOR_MEDIAN.get(mode, 'no such mode')} |")
    # Alerts of other nodes that arrive meanwhile are the slow tails of an earlier injection's burn alerts.
    others = sorted({o.split("@")[0] + f" ({r['mode']})" for r in results for o in r["others"]
                     if o.split("@")[1] == str(r["node"])})
    lines += ["", "The physical floor is the wait for the node's next scrape (0-1 s) plus the wait for the next "
              "evaluation of the fast alerts (0-0.5 s), plus Alertmanager's dispatch (group_wait 0 s) and one "
              "webhook call.",
              ""] + per_node_table(args, per_node) + [
              "", "Other alerts of the injected node that reached the sink (by design, see ALERTING.md; alerts "
              "of other nodes that arrived meanwhile were the slow tails of an earlier injection's burn alerts): "
              + (", ".join(f"`{o}`" for o in others) if others else "none") + ".", "",
              f"### At rest ({rest['minutes']:g} minutes, no fault)", "",
              f"Non-Watchdog notifications: {rest['false_notifications']} "
              f"({rest['false_notifications'] / (rest['minutes'] / 60):.0f} per hour); alert series that fired in "
              f"Prometheus: {len(rest['false_series'])}"
              + (f" ({', '.join(json.dumps(s) for s in rest['false_series'])})" if rest['false_series'] else "")
              + f"; notifications of any kind: {rest['notifications']} (the Watchdog's heartbeat).",
              "Highest values seen against the alert lines: CPU "
              f"{rest['peaks']['node:edge_cpu_utilization:ratio']:.2f} (line 0.90), memory "
              f"{rest['peaks']['node:edge_memory_utilization:ratio']:.2f} (0.85), 3 s p95 "
              f"{rest['peaks']['node:edge_http_request_duration_seconds:p95_rate3s']:.3f} s (0.4 s), 3 s error "
              f"ratio {rest['peaks']['node:edge_http_error_ratio:rate3s']:.3f} (0.05).",
              "The Python ancestor at rest: `LowReliabilityScore` on 12/12 nodes 93 % of the time, "
              "`ErrorBudgetBurn` on 12/12 nodes 77 % of the time, 126 notifications in 10 minutes.", "",
              "### The stack's cost while it ran", "",
              "| process | CPU at rest (of one core) | CPU during injections | max RSS |", "|---|---|---|---|"]
    for name in sorted(set(usage["soak"]) | set(usage["faults"])):
        soak_cpu, soak_rss = usage["soak"].get(name, (None, 0))
        fault_cpu, fault_rss = usage["faults"].get(name, (None, 0))
        def pct(c):
            return "-" if c is None else f"{100 * c:.1f} %"
        lines.append(f"| {name} | {pct(soak_cpu)} | {pct(fault_cpu)} | {max(soak_rss, fault_rss) / 1e6:.1f} MB |")
    lines += ["", END]
    return "\n".join(lines)


def per_node_table(args, per_node):
    """The fast modes on every node: each node scrapes at its own phase of the second."""
    if not per_node:
        return []
    lines = [f"### Every node ({args.node_runs} injections of each fast mode per node, "
             f"{args.node_duration:g} s each)", "",
             "Seconds from the injection to firing in Prometheus (`activeAt`), per node; a node's scrape offset "
             "within the interval is fixed, so the spread across nodes is the spread across scrape phases.", "",
             "| node | " + " | ".join(f"`{m}` firing" for m in FAST_MODES) + " |",
             "|---|" + "---|" * len(FAST_MODES)]
    for node in sorted(fleet.nodes()):
        cells = [", ".join("-" if r["firing"] is None else f"{r['firing']:.2f}"
                           for r in per_node if r["mode"] == m and r["node"] == node) for m in FAST_MODES]
        lines.append(f"| {node} | " + " | ".join(cells) + " |")
    spread = []
    for m in FAST_MODES:
        s = stats(r["firing"] for r in per_node if r["mode"] == m)
        missed = sum(r["firing"] is None for r in per_node if r["mode"] == m)
        spread.append("-" if s is None else f"{s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f} ({missed} missed)")
    lines += ["| all nodes: min / median / max | " + " | ".join(spread) + " |", ""]
    return lines


def write(doc, section):
    text = doc.read_text()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=8, help="injections per mode")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--duration", type=float, default=10, help="seconds each fault lasts")
    p.add_argument("--timeout", type=float, default=40, help="seconds to wait for firing and for resolution")
    p.add_argument("--settle", type=float, default=4, help="pause between injections")
    p.add_argument("--soak-min", type=float, default=10, help="minutes at rest before the injections")
    p.add_argument("--node-runs", type=int, default=2, help="injections of each fast mode on every node")
    p.add_argument("--node-duration", type=float, default=4, help="seconds each of those faults lasts")
    p.add_argument("--no-write", action="store_true", help="print the section instead of writing docs/BENCHMARKS.md")
    args = p.parse_args()
    args.modes = args.modes.split(",")
    info = versions()
    with NativeStack(ROOT) as stack:
        wait_until("every edge-node target up",
                   lambda: len(promql(stack.prom, 'up{job="edge-node"} == 1')) == fleet.size(), timeout=600)
        sampler = Sampler(stack)
        sampler.start()
        print("warming up 30 s", flush=True)
        time.sleep(30)
        sampler.phase = "soak"
        print(f"soaking {args.soak_min:g} minutes at rest", flush=True)
        rest = soak(stack, args.soak_min)
        print(json.dumps(rest), flush=True)
        sampler.phase = "faults"
        results = []
        for run in range(args.runs):
            for i, mode in enumerate(args.modes):
                node = (run * len(args.modes) + i) % fleet.size() + 1
                r = measure(stack, mode, node, args.duration, args.timeout)
                results.append(r)
                print(json.dumps(r), flush=True)
                time.sleep(args.settle)
        per_node = []
        for _ in range(args.node_runs):
            for mode in FAST_MODES:
                for node in sorted(fleet.nodes()):
                    r = measure(stack, mode, node, args.node_duration, args.timeout)
                    per_node.append(r)
                    print(json.dumps(r), flush=True)
                    time.sleep(args.settle)
        sampler.stopped.set()
        usage = {"soak": sampler.summary("soak"), "faults": sampler.summary("faults")}
    section = report(args, results, per_node, rest, usage, info)
    (ROOT / "target").mkdir(exist_ok=True)
    (ROOT / "target/bench-detection.json").write_text(
        json.dumps({"results": results, "per_node": per_node, "rest": rest}, indent=1))
    if args.no_write:
        print(section)
    else:
        write(ROOT / "docs/BENCHMARKS.md", section)
        print("wrote docs/BENCHMARKS.md; raw results in target/bench-detection.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
