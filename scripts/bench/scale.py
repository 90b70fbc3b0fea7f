"""The scale benchmark: for each fleet size, starts the no-Docker stack at the fleet profile
(scripts/run-native.sh with PROFILE=fleet, 10 s scrapes) and measures, in this order:

1. cost at rest: the fleet process's and Prometheus' (and Alertmanager's) CPU and RSS,
   Prometheus' head series, samples appended per second, rule evaluation time per round
   and the share of a core the rules take, the p99 across nodes of each node's slowest scrape;
2. notifications at rest over --rest-min minutes (the Watchdog excluded);
3. a region outage: every node of one region crashed at once (regions rotated): seconds to
   the RegionDown page, and how many notifications the outage produced (the target: one);
4. time to detect each failure mode: every round injects each mode on a different node at
   once (the alerts are per node), nodes rotated between rounds; seconds from injection to
   firing in Prometheus and to the notification at the alert sink.

    scripts/py -m bench.scale                                   # 12,100,250,500,1000 nodes
    scripts/py -m bench.scale --sizes 12,100 --rest-min 1 --rounds 1 --no-write

Writes the table into docs/BENCHMARKS.md between the bench-scale markers (raw results in
target/bench-scale.json). Every wait is bounded; the script fails only if a stack cannot start.
Figures are measurements, not assertions.
"""
import argparse
import json
import sys
import time

import yaml

from bench.detection import MODES, Sampler, versions
from gen.profiles import FLEET
from lib import ROOT
from lib.stack import NativeStack, get, http, promql, wait_until

BEGIN, END = "<!-- bench-scale:begin -->", "<!-- bench-scale:end -->"
SCRAPE_S = FLEET.scrape_s


def scalar(prom, expr):
    got = promql(prom, expr)
    return float(got[0]["value"][1]) if got else None


def prometheus_figures(stack):
    """Prometheus' own figures, from its self-scrape and the fleet's scrape series."""
    p = stack.prom
    groups = promql(p, "prometheus_rule_group_last_duration_seconds")
    intervals = {g["metric"]["rule_group"]: float(g["value"][1])
                 for g in promql(p, "prometheus_rule_group_interval_seconds")}
    per_round = sum(float(g["value"][1]) for g in groups)
    core_share = sum(float(g["value"][1]) / intervals[g["metric"]["rule_group"]] for g in groups
                     if intervals.get(g["metric"]["rule_group"]))
    return {
        "head_series": scalar(p, "prometheus_tsdb_head_series"),
        "samples_per_s": scalar(p, "rate(prometheus_tsdb_head_samples_appended_total[1m])"),
        "rules_s_per_round": per_round,
        "rules_core_share": core_share,
        "slowest_group": max(((float(g["value"][1]), g["metric"]["rule_group"]) for g in groups), default=(None, None)),
        "scrape_p99_s": scalar(p, 'quantile(0.99, max_over_time(scrape_duration_seconds{job="edge-node"}[2m]))'),
        "targets_up": scalar(p, 'sum(up{job="edge-node"})'),
    }


def firing(stack):
    """{(alertname, node or region): True} of alerts firing now in Prometheus."""
    return {(a["labels"]["alertname"], a["labels"].get("node") or a["labels"].get("region"))
            for a in get(f"{stack.prom}/api/v1/alerts")["data"]["alerts"] if a["state"] == "firing"}


def newest_seq(stack):
    return max([n["seq"] for n in get(f"{stack.sink}/notifications?limit=1")] or [0])


def detection_round(stack, nodes, modes, duration, timeout):
    """Every mode at once, each on its own node: seconds to firing and to the notification."""
    seq0, t0 = newest_seq(stack), time.time()
    expected = {}
    for mode, node in zip(modes, nodes, strict=True):
        fault = http("POST", f"{stack.node_url(node)}/inject", {"failure": mode, "duration_s": duration})
        expected[(fault["expected_alert"], str(node))] = {"mode": mode, "node": node, "alert": fault["expected_alert"],
                                                          "firing": None, "notified": None}
    while time.time() < t0 + timeout and any(r["notified"] is None for r in expected.values()):
        now = time.time() - t0
        for key in firing(stack) & expected.keys():
            if expected[key]["firing"] is None:
                expected[key]["firing"] = round(now, 1)
        for n in get(f"{stack.sink}/notifications"):
            key = (n["alertname"], n["node"])
            if n["seq"] > seq0 and n["status"] == "firing" and key in expected and expected[key]["notified"] is None:
                expected[key]["notified"] = round(n["received_at"] - t0, 1)
        time.sleep(0.5)
    for node in nodes:
        http("DELETE", f"{stack.node_url(node)}/inject")
    return list(expected.values())


def region_outage(stack, region, nodes, duration, timeout):
    """Every node of a region crashed at once: seconds to the RegionDown page, and every
    notification the outage produced until it resolved."""
    seq0, t0 = newest_seq(stack), time.time()
    for node in nodes:
        http("POST", f"{stack.node_url(node)}/inject", {"failure": "node_crash", "duration_s": duration})
    page = resolved = None
    while time.time() < t0 + duration + timeout and resolved is None:
        for n in get(f"{stack.sink}/notifications"):
            if n["seq"] <= seq0 or n["alertname"] != "RegionDown" or n["labels"].get("region") != region:
                continue
            if n["status"] == "firing" and page is None:
                page = round(n["received_at"] - t0, 1)
            if n["status"] == "resolved":
                resolved = round(n["received_at"] - t0 - duration, 1)
        time.sleep(0.5)
    time.sleep(10)  # anything that lost its inhibition on the way out arrives by now
    notes = [n for n in get(f"{stack.sink}/notifications") if n["seq"] > seq0 and n["alertname"] != "Watchdog"]
    firing = [n for n in notes if n["status"] == "firing"]
    return {"region": region, "nodes": len(nodes), "page_s": page, "resolved_after_end_s": resolved,
            "firing_notifications": len(firing),
            "pages": sum(n["receiver"] == "pager" for n in firing),
            "all_notifications": len(notes),
            "node_pages": sum(n["alertname"] == "NodeDown" for n in firing),
            "others": sorted({f'{n["alertname"]}@{n["node"] or n["labels"].get("region")}' for n in firing
                              if n["alertname"] != "RegionDown"})}


def run_size(size, args):
    print(f"== {size} nodes", flush=True)
    with NativeStack(ROOT, nodes=size, rps=args.rps, profile="fleet") as stack:
        wait_until(f"{size} targets up", lambda: len(promql(stack.prom, 'up{job="edge-node"} == 1')) == size,
                   timeout=300, every=2)
        regions = {}
        for t in yaml.safe_load((stack.state / "edge-nodes.yml").read_text()):
            regions.setdefault(t["labels"]["region"], []).append(int(t["labels"]["node"]))
        sampler = Sampler(stack)
        sampler.start()
        time.sleep(args.warmup_s)
        sampler.phase = "rest"
        seq0 = newest_seq(stack)
        time.sleep(args.rest_min * 60)
        sampler.phase = "faults"
        rest_notes = [n for n in get(f"{stack.sink}/notifications") if n["seq"] > seq0 and n["alertname"] != "Watchdog"]
        result = {"size": size, "prometheus": prometheus_figures(stack), "rest_min": args.rest_min,
                  "rest_notifications": len(rest_notes), "rest_alerts": sorted({n["alertname"] for n in rest_notes})}
        print(json.dumps(result), flush=True)
        # Outages first, on a fleet at rest: the slow SLO alerts of the detection rounds
        # below outlive their faults and would be counted in an outage after them.
        outages = []
        names = sorted(regions)
        for r in range(args.outages):
            region = names[r % len(names)]
            outages.append(region_outage(stack, region, regions[region], args.outage_s, args.timeout))
            print(json.dumps(outages[-1]), flush=True)
            time.sleep(args.settle)
        ids = sorted(n for ns in regions.values() for n in ns)
        detections = []
        for r in range(args.rounds):
            # Rotate: each round starts len(modes) nodes further on.
            nodes = [ids[(r * len(args.modes) + i * max(1, size // len(args.modes))) % size]
                     for i in range(len(args.modes))]
            detections += detection_round(stack, nodes, args.modes, args.duration, args.timeout)
            print(json.dumps(detections[-len(args.modes):]), flush=True)
            time.sleep(args.settle)
        sampler.stopped.set()
        result.update(usage_rest=sampler.summary("rest"), usage_faults=sampler.summary("faults"),
                      detections=detections, outages=outages)
    return result


def write(doc, section):
    """Replaces this benchmark's section of doc (between its markers), or appends it."""
    text = doc.read_text()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)


def cell(v, fmt="{:.1f}"):
    return "-" if v is None else fmt.format(v)


def report(args, results, info):
    lines = [BEGIN, "",
             f"`scripts/py -m bench.scale --sizes {','.join(map(str, args.sizes))} --rest-min {args.rest_min:g} "
             f"--rounds {args.rounds} --outages {args.outages} --rps {args.rps:g}` "
             f"({time.strftime('%Y-%m-%d')}; {info['machine']}; {info['prometheus']}; {info['alertmanager']}). "
             "Fleet profile: 10 s scrapes, rules every 10 s, the per-node group every 5 s. CPU is the share of one "
             "core over the rest phase.", "",
             "| nodes | fleet CPU | fleet RSS | Prometheus CPU | Prometheus RSS | Alertmanager CPU | head series | "
             "samples/s | rules per round | rules' share of a core | slowest scrape p99 | notifications at rest |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        u, p = r["usage_rest"], r["prometheus"]
        def use(name, i, fmt, u=u):  # this row's usage
            return cell(u[name][i] * (100 if i == 0 else 1 / 2**20), fmt) if name in u else "-"
        lines.append(f"| {r['size']} | {use('edge-node', 0, '{:.1f} %')} | {use('edge-node', 1, '{:.0f} MiB')} | "
                     f"{use('prometheus', 0, '{:.1f} %')} | {use('prometheus', 1, '{:.0f} MiB')} | "
                     f"{use('alertmanager', 0, '{:.1f} %')} | {cell(p['head_series'], '{:.0f}')} | "
                     f"{cell(p['samples_per_s'], '{:.0f}')} | {cell(p['rules_s_per_round'] * 1000, '{:.0f} ms')} | "
                     f"{cell(p['rules_core_share'] * 100, '{:.1f} %')} | "
                     f"{cell(p['scrape_p99_s'] * 1000, '{:.1f} ms')} | "
                     f"{r['rest_notifications']} in {r['rest_min']:g} min |")
    lines += ["", "Time to detect (seconds from injection; firing in Prometheus / notification at the sink; "
              f"target: within three scrape intervals, {3 * SCRAPE_S} s):", "",
              "| nodes | " + " | ".join(args.modes) + " |", "|---|" + "---|" * len(args.modes)]
    for r in results:
        row = []
        for mode in args.modes:
            runs = [d for d in r["detections"] if d["mode"] == mode]
            row.append(", ".join(f"{cell(d['firing'])} / {cell(d['notified'])}" for d in runs) or "-")
        lines.append(f"| {r['size']} | " + " | ".join(row) + " |")
    lines += ["", "Region outage (every node of the region crashed at once; target: at most two notifications):", "",
              "| nodes | region (nodes down) | RegionDown page after | resolved after the end | pages "
              "| firing notifications (any receiver) | NodeDown notifications | all notifications (with resolved) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for o in r["outages"]:
            lines.append(f"| {r['size']} | {o['region']} ({o['nodes']}) | {cell(o['page_s'])} s | "
                         f"{cell(o['resolved_after_end_s'])} s | {o['pages']} | {o['firing_notifications']} | "
                         f"{o['node_pages']} | {o['all_notifications']} |")
    lines += ["", END]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="12,100,250,500,1000", help="fleet sizes, comma separated")
    p.add_argument("--rps", type=float, default=20, help="built-in requests per second per node")
    p.add_argument("--warmup-s", type=float, default=60, help="seconds before measuring (rules need 1 min windows)")
    p.add_argument("--rest-min", type=float, default=10, help="minutes at rest (cost, notifications at rest)")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--rounds", type=int, default=3, help="rounds of every mode at once, nodes rotated")
    p.add_argument("--duration", type=float, default=60, help="seconds each fault lasts")
    p.add_argument("--timeout", type=float, default=90, help="seconds to wait for a page")
    p.add_argument("--outages", type=int, default=2, help="region outages, regions rotated")
    p.add_argument("--outage-s", type=float, default=60, help="seconds a region outage lasts")
    p.add_argument("--settle", type=float, default=20, help="pause after each round")
    p.add_argument("--no-write", action="store_true", help="print the section instead of writing docs/BENCHMARKS.md")
    args = p.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.modes = args.modes.split(",")
    info = versions()
    results = [run_size(size, args) for size in args.sizes]
    section = report(args, results, info)
    (ROOT / "target").mkdir(exist_ok=True)
    (ROOT / "target/bench-scale.json").write_text(json.dumps(results, indent=1))
    if args.no_write:
        print(section)
    else:
        write(ROOT / "docs/BENCHMARKS.md", section)
        print("wrote docs/BENCHMARKS.md; raw results in target/bench-scale.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
