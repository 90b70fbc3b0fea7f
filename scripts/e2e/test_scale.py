"""The fleet at scale, as far as a CI machine affords it: scripts/run-native.sh with
PROFILE=fleet (10 s scrapes, prometheus/fleet/) and E2E_SCALE_NODES nodes (200) at the
default 20 req/s each (at 2 req/s the SLO burn alerts' short windows hold too few requests and
fire on healthy nodes' rare slow requests), one claim per test:

- every target is up and, at rest, nothing but the Watchdog fires or reaches the alert sink;
- every recording rule of the fleet profile answers;
- a whole region goes dark (every node of eu-west crashed through its own POST /inject) while
  one node of us-east crashes on its own: the sink gets one RegionDown page for eu-west, no
  NodeDown from eu-west (inhibited), and the us-east node's own NodeDown;
- the "fleet at scale" dashboard's queries all return data against this Prometheus;
- the region's recovery is one resolved notification, and still no per-node page from it.

The tests run in any order, or alone by id: the rest window and the outage are module
fixtures that record what Prometheus, the sink and the dashboard's queries said while they
lasted, and the outage asks for the rest, so rest, outage and recovery happen in that order
whichever test asks first; each test judges one claim from what was recorded.

Bounded: about four minutes including start-up (E2E_SCALE_REST_S, E2E_SCALE_NODES).
"""
import os
import subprocess
import time
import urllib.parse
from types import SimpleNamespace

import pytest
import yaml

from gen.profiles import FLEET
from lib import ROOT
from lib.dashboard_queries import label_values_query, queries, substitute
from lib.stack import NativeStack, get, http, promql, wait_until

NODES = int(os.environ.get("E2E_SCALE_NODES", "200"))
REST_S = int(os.environ.get("E2E_SCALE_REST_S", "60"))
# After every target is up: the one-minute SLIs fill and start-up's slow requests age out of
# the fast windows.
SETTLE_S = 30
# Long enough for the region alert, the lone crash's page and the dashboard queries.
OUTAGE_S = 90
LONE_S = 45
# Seconds from injection to a page at the sink: a scrape (10 s) and an evaluation of the
# per-node group (5 s), then RegionDown at once; NodeDown pends 10 s more and its route waits
# 5 s. Plus a margin for a loaded CI machine (the figures belong to the benchmark).
REGION_PAGE_LIMIT = 40
NODE_PAGE_LIMIT = 50
# The board built for scale, and what Grafana would put in its variables at this profile.
BOARD = "fleet-scale.json"
VALUES = {"region": ".*"}
SCRAPE_S = FLEET.scrape_s


@pytest.fixture(scope="module")
def scale():
    """The fleet profile's stack with NODES nodes, every target up; regions as the node's own
    targets file names them."""
    with NativeStack(ROOT, nodes=NODES, profile="fleet") as running:
        wait_until(f"{NODES} edge-node targets up",
                   lambda: len(promql(running.prom, 'up{job="edge-node"} == 1')) == NODES, timeout=180, every=2)
        targets = yaml.safe_load((running.state / "edge-nodes.yml").read_text())
        running.regions = {}
        for t in targets:
            running.regions.setdefault(t["labels"]["region"], []).append(int(t["labels"]["node"]))
        yield running
        print(f"\n(scale stack logs in {running.state})")


def notifications(stack, **filters):
    return get(f"{stack.sink}/notifications?" + urllib.parse.urlencode(filters))


def crash(stack, node, seconds):
    http("POST", f"{stack.node_url(node)}/inject", {"failure": "node_crash", "duration_s": seconds})


@pytest.fixture(scope="module")
def at_rest(scale):
    """REST_S seconds of the fleet at rest, from once every target is up and the start-up has
    settled, before anything disturbs it: what Prometheus and the sink saw. While 200 nodes,
    Prometheus and Alertmanager start on two cores, requests really are slow, and the SLO
    ticket alerts' long windows hold nothing else yet (see docs/ALERTING.md)."""
    time.sleep(SETTLE_S)
    startup = [(n["alertname"], n["node"]) for n in notifications(scale) if n["alertname"] != "Watchdog"]
    seq0 = max([n["seq"] for n in notifications(scale, limit=1)] or [0])
    time.sleep(REST_S)
    fired = promql(scale.prom,
                   f'count by (alertname, node, region) (count_over_time(ALERTS{{alertname!="Watchdog"}}[{REST_S}s]))')
    notified = [n for n in notifications(scale) if n["alertname"] != "Watchdog" and n["seq"] > seq0]
    up = len(promql(scale.prom, 'up{job="edge-node"} == 1'))
    print(f"\nnotifications during start-up (not at rest): {startup}")
    return SimpleNamespace(fired=fired, notified=notified, up=up)


@pytest.fixture(scope="module")
def outage(scale, binaries, at_rest):
    """eu-west dark (every node crashed by `inject --region`) and a lone us-east node crashed,
    after the rest window, and what was seen while it lasted: when each page reached the sink,
    the region's NodeDowns firing in Prometheus, the pages, and the scale dashboard's queries
    (`dashboard`). The tests judge these; the recovery test waits for its end."""
    region, lone = scale.regions["eu-west"], scale.regions["us-east"][0]
    start = time.monotonic()
    # The region loses power as a user would make it: the CLI learns the running fleet and
    # its regions from the fleet process, and crashes every eu-west node at once.
    run = subprocess.run([str(binaries["inject"]), "--base-port", str(scale.base), "--region", "eu-west",
                          "--failure", "node_crash", "--duration", str(OUTAGE_S)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"inject --region failed: {run.stdout}{run.stderr}"
    crash(scale, lone, LONE_S)
    crashed = [n for n in scale.regions["eu-west"] if http("GET", f"{scale.node_url(n)}/inject")["faults"]]

    def region_pages():
        return [n for n in notifications(scale, alertname="RegionDown", status="firing")
                if n["labels"].get("region") == "eu-west"]

    wait_until("RegionDown for eu-west at the sink", region_pages, timeout=REGION_PAGE_LIMIT, every=0.5)
    region_s = time.monotonic() - start
    wait_until(f"NodeDown of node {lone} (us-east) at the sink",
               lambda: notifications(scale, alertname="NodeDown", node=str(lone), status="firing"),
               timeout=NODE_PAGE_LIMIT, every=0.5)
    lone_s = time.monotonic() - start
    print(f"\n{len(region)} nodes of eu-west down: RegionDown at the sink after {region_s:.1f} s; "
          f"node {lone}'s NodeDown after {lone_s:.1f} s")
    time.sleep(10)  # every NodeDown of the region is firing by now (it pends one scrape)
    firing = promql(scale.prom, 'count(ALERTS{alertname="NodeDown", alertstate="firing", region="eu-west"})')
    pages = [(n["alertname"], n["labels"].get("region"), n["node"])
             for n in notifications(scale, receiver="pager", status="firing")]
    return SimpleNamespace(start=start, region=region, lone=lone, crashed=crashed, firing=firing, pages=pages,
                           dashboard=read_dashboard(scale))


def read_dashboard(scale):
    """Runs the scale dashboard's queries (with a CPU spike on a node of a third region, for
    the fault annotation: crashed nodes expose no gauges); returns how many were checked, the
    problems, and the queries that returned no data."""
    spiking = scale.regions["ap-south"][0]
    http("POST", f"{scale.node_url(spiking)}/inject", {"failure": "cpu_spike", "duration_s": 30})
    wait_until(f"node {spiking}'s cpu_spike scraped",
               lambda: promql(scale.prom, f'edge_fault_active{{node="{spiking}", failure="cpu_spike"}} == 1'),
               timeout=30, every=1)
    now, empty, problems, checked = time.time(), [], [], 0
    for board, where, _ds, expr in queries():
        if board != BOARD:
            continue
        checked += 1
        query = substitute(expr, VALUES, SCRAPE_S)
        label_values = label_values_query(query)
        if label_values:
            selector, label = label_values
            got = get(f"{scale.prom}/api/v1/label/{label}/values?" + urllib.parse.urlencode({"match[]": selector}))
            if sorted(got["data"]) != sorted(scale.regions):
                problems.append(f"{where}: expected the regions {sorted(scale.regions)}, got {got['data']}")
            continue
        result = get(f"{scale.prom}/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": query, "start": now - 60, "end": now, "step": 10}))["data"]["result"]
        if not result:
            empty.append(f"{where}: {query}")
    return SimpleNamespace(checked=checked, problems=problems, empty=empty)


def test_every_target_is_up_and_at_rest_only_the_watchdog_fires(at_rest):
    fired, notified = at_rest.fired, at_rest.notified
    assert not fired and not notified, (f"at rest, expected only the Watchdog; Prometheus saw "
                                        f"{[f['metric'] for f in fired]}, the sink got "
                                        f"{[(n['alertname'], n['node']) for n in notified]}")
    assert at_rest.up == NODES, f"{at_rest.up} of {NODES} targets up at the end of the rest"


def test_every_fleet_recording_rule_answers(scale):
    """Reads only, so it needs no rest: just the first scrapes in each rule's window, should
    it run first."""
    records = [r["record"] for f in sorted((ROOT / "prometheus/fleet/rules").glob("*.yml"))
               for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"] if "record" in r]
    deadline = time.monotonic() + 120
    while (empty := [r for r in records if not promql(scale.prom, r)]) and time.monotonic() < deadline:
        time.sleep(5)
    assert not empty, f"recording rules of the fleet profile with no value: {empty}"


def test_a_region_outage_pages_once_and_a_lone_crash_elsewhere_pages_on_its_own(outage):
    region, lone, firing = outage.region, outage.lone, outage.firing
    assert outage.crashed == region, f"inject --region eu-west crashed {outage.crashed}, the region is {region}"
    assert firing and int(firing[0]["value"][1]) == len(region), \
        f"Prometheus should fire NodeDown for all {len(region)} nodes of eu-west, got {firing}"
    assert sorted(outage.pages) == sorted([("RegionDown", "eu-west", None), ("NodeDown", "us-east", str(lone))]), \
        f"expected one page for the region and one for node {lone}, the sink got {outage.pages}"


def test_the_scale_dashboard_queries_return_data(outage):
    """Read during the outage (the fixture), so the alert panels have something to show."""
    checked, problems, empty = outage.dashboard.checked, outage.dashboard.problems, outage.dashboard.empty
    assert checked >= 10, f"{BOARD}: only {checked} queries found (renamed?): the check would prove nothing"
    assert not problems, "\n".join(problems)
    assert not empty, f"{BOARD} queries that returned no data:\n" + "\n".join(empty)


def test_the_region_recovers_with_one_resolved_notification_and_no_node_pages(scale, outage):
    def resolved():
        return [n for n in notifications(scale, alertname="RegionDown", status="resolved")
                if n["labels"].get("region") == "eu-west"]

    left = OUTAGE_S - (time.monotonic() - outage.start)
    wait_until("RegionDown for eu-west resolved at the sink", resolved, timeout=max(left, 0) + 60, every=1)
    time.sleep(10)  # a NodeDown that lost its inhibition too early would be sent by now
    region = {str(n) for n in scale.regions["eu-west"]}
    from_region = [(n["alertname"], n["node"], n["status"]) for n in notifications(scale, alertname="NodeDown")
                   if n["node"] in region]
    region_down = [n["status"] for n in notifications(scale, alertname="RegionDown")]
    assert not from_region, f"eu-west's nodes must never page, got {from_region}"
    assert sorted(region_down) == ["firing", "resolved"], f"one page and one resolution, got {region_down}"
