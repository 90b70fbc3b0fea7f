"""Rule coverage, virtual against live: our own rules at the fleet profile (prometheus/fleet/:
10 s scrapes and evaluations, the per-node group every 5 s) under one plan, every failure mode
on its own node of a 12-node fleet after a rest, run twice with one seed:

- live: `coverage --live` against the no-Docker stack (scripts/run-native.sh, PROFILE=fleet),
  whose own Prometheus evaluates the rules while the faults go over POST /inject in real time;
- virtual: `coverage` in virtual time, the same rules and prometheus.yml, the real Prometheus
  over backfilled blocks.

Claims (issue 24): both catch every mode with the alert the catalogue expects for it; they
agree on which of the node's own alerts each mode raises (every one that fired in one run
went at least pending in the other); the time to detect (fault start to the first firing of
any of the node's own alerts) differs by at most one scrape plus one evaluation interval (the
mode's own alert by one more scrape, see the test);
nothing but the Watchdog fires at rest in either. Region- and fleet-wide alerts are in the
table but not compared (see `own`). The comparison table is printed (docs/COVERAGE.md quotes a
run of it).

Bounded: the plan is a 60 s rest and faults capped at 90 s (about four minutes of wall time),
then the virtual run (seconds)."""
import json
import os
import subprocess

import pytest

from lib import ROOT, fleet
from lib.stack import NativeStack, promql, wait_until

NODES = 12
SEED = "7"
PLAN = ["--rules", "prometheus/fleet/rules", "--nodes", str(NODES), "--seed", SEED, "--rest", "60s",
        "--fault-cap", "90s"]
# What each mode must raise on its node: the catalogue's expected alert.
EXPECTED = {m["failure"]: m["expected_alert"] for m in fleet.catalog()}
# Fleet-wide by design: fires at rest and under faults alike.
ALWAYS = {"Watchdog"}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The live report, then the virtual one, as JSON."""
    out = tmp_path_factory.mktemp("coverage-live")
    subprocess.run(["cargo", "build", "-q", "-p", "coverage"], cwd=ROOT, check=True)
    binary = ROOT / "target/debug/coverage"
    with NativeStack(ROOT, seed=SEED, nodes=NODES, profile="fleet") as running:
        wait_until(f"{NODES} edge-node targets up",
                   lambda: len(promql(running.prom, 'up{job="edge-node"} == 1')) == NODES, timeout=180, every=2)
        live = out / "live.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INJECT_", "EDGE_NODE_"))}
        done = subprocess.run(
            [binary, "--live", "--prometheus", running.prom, "--base-port", str(running.base), *PLAN,
             "--format", "json", "--out", live],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        print(done.stderr)
        assert done.returncode == 0, done.stderr
    virtual = out / "virtual.json"
    done = subprocess.run(
        [binary, "--prometheus-config", "prometheus/fleet/prometheus.yml", *PLAN, "--format", "json",
         "--out", virtual],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    both = {name: json.loads(path.read_text()) for name, path in (("live", live), ("virtual", virtual))}
    print(table(both))
    return both


def by_failure(report):
    return {f["failure"]: f for f in report["faults"]}


def firing_after(fault):
    return {d["alert"]: d["firing_after_s"] for d in fault["detections"] if d["firing_after_s"] is not None}


def table(both):
    """The comparison as Markdown rows: mode, alerts fired live / virtually, time to detect."""
    live, virtual = by_failure(both["live"]), by_failure(both["virtual"])
    rows = ["| mode | node | live: caught by (s to firing) | virtual: caught by (s to firing) |",
            "|---|---|---|---|"]

    def cell(report, fault):
        mine = own(report, fault)
        times = sorted(firing_after(fault).items(), key=lambda x: x[1])
        return ", ".join(f"{a} ({t:.1f}){'' if a in mine else '*'}" for a, t in times if a in fault["caught_by"]) or "-"

    for mode, f in live.items():
        rows.append(f"| {mode} | {f['node']} | {cell(both['live'], f)} | {cell(both['virtual'], virtual[mode])} |")
    rows.append("\n(* region- or fleet-wide: not compared)")
    return "\n".join(rows)


def test_the_same_plan_ran_in_both(reports):
    live, virtual = reports["live"], reports["virtual"]
    assert (live["run"]["mode"], virtual["run"]["mode"]) == ("live", "virtual")

    def key(r):
        return [(f["failure"], f["node"], round(f["end_s"] - f["start_s"])) for f in r["faults"]]

    assert key(live) == key(virtual)
    assert {f["failure"] for f in live["faults"]} == set(EXPECTED)
    for r in (live, virtual):
        assert (r["run"]["scrape_interval_s"], r["run"]["evaluation_interval_s"]) == (10, 10)


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_both_catch_each_mode_with_its_own_alert(reports, mode):
    for name, report in reports.items():
        assert EXPECTED[mode] in by_failure(report)[mode]["caught_by"], (name, by_failure(report)[mode])


def own(report, fault):
    """The alerts that caught `fault` on its node itself (their label set names the node), not
    region- or fleet-wide ones: those aggregate over the wave's parallel faults (RegionDown when
    a crashed node and a flaky one share a region, the service burn rates), so when they fire
    depends on which coin flips coincide, live or virtual."""
    mine = {t["alert"] for t in report["timelines"] if t["node"] == fault["node"]}
    return {a for a in fault["caught_by"] if a in mine}


def seen(report, fault):
    """The node's own alerts that went pending (fired or not) in the fault's window."""
    mine = {t["alert"] for t in report["timelines"] if t["node"] == fault["node"]}
    return {d["alert"] for d in fault["detections"]} & mine


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_live_and_virtual_agree_on_the_alerts_each_mode_raises_on_its_node(reports, mode):
    """Every alert of the node that fired for the mode in one run saw the fault in the other:
    it fired there too, or went pending and its `for:` was cut short. Under oom_kill a 5 s
    gap is scraped every 10 s: NodeDown (`for: 10s`) fires only when two scrapes in a row land
    in gaps, which depends on where the scrapes fall in the crash loop."""
    live, virtual = by_failure(reports["live"])[mode], by_failure(reports["virtual"])[mode]
    fired_live, fired_virtual = own(reports["live"], live), own(reports["virtual"], virtual)
    assert fired_live <= seen(reports["virtual"], virtual), (live["caught_by"], virtual["detections"])
    assert fired_virtual <= seen(reports["live"], live), (virtual["caught_by"], live["detections"])


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_live_and_virtual_agree_on_time_to_detect_within_a_scrape_and_an_evaluation(reports, mode):
    """Time to detect: fault start to the first firing of any of the node's own alerts. The
    mode's own alert is held to one more scrape: under oom_kill, the scrape after a kill can
    land in the 5 s the process is gone (live, where the scrapes fall in the crash loop is
    chance; virtually the fault starts on a scrape), and NodeOOMKilled then waits one more.
    Later alerts of a fault are in the table, not compared."""
    run = reports["live"]["run"]
    scrape, evaluation = run["scrape_interval_s"], run["evaluation_interval_s"]
    live, virtual = by_failure(reports["live"])[mode], by_failure(reports["virtual"])[mode]
    first_live = min(firing_after(live)[a] for a in own(reports["live"], live))
    first_virtual = min(firing_after(virtual)[a] for a in own(reports["virtual"], virtual))
    assert abs(first_live - first_virtual) <= scrape + evaluation, \
        f"first alert: live {first_live} s, virtual {first_virtual} s"
    expected = EXPECTED[mode]
    t_live, t_virtual = firing_after(live)[expected], firing_after(virtual)[expected]
    assert abs(t_live - t_virtual) <= 2 * scrape + evaluation, f"{expected}: live {t_live} s, virtual {t_virtual} s"


def test_nothing_but_the_watchdog_fires_at_rest_in_either(reports):
    for name, report in reports.items():
        noisy = [r["alert"] for r in report["rules"]
                 if r["false_alerts_at_rest"]["episodes"] and r["alert"] not in ALWAYS]
        assert noisy == [], (name, noisy)
