"""The real Alertmanager (0.33) and the alert sink: routing, inhibition, delivery, and the
sink's page in headless Chromium. Alerts are posted to Alertmanager's API; the tests check
what the sink received. Each test has an Alertmanager and a sink of its own (a second each to
start) and posts what it needs itself, or takes it from a fixture (a node down, a region
outage), so the tests run in any order and alone."""
import shutil
import subprocess
import time
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest

from lib import ROOT
from lib.stack import alertmanager, free_port, http, stop, wait_until


def iso(t):
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert(name, severity, node=None, ends_in=300, **labels):
    now = datetime.now(UTC)
    all_labels = {"alertname": name, "severity": severity, **labels}
    if node:
        all_labels["node"] = node
    return {
        "labels": all_labels,
        "annotations": {"summary": f"{name} on node {node}", "runbook_url": f"http://localhost:9095/runbooks/{name}"},
        "startsAt": iso(now - timedelta(seconds=1)),
        "endsAt": iso(now + timedelta(seconds=ends_in)),
    }


@pytest.fixture
def alerting(binaries, tmp_path):
    """A fresh alert sink and Alertmanager (the repo's alertmanager.yml, webhooks pointed at
    the sink on loopback) on free ports, for one test; both stopped by PID at its end."""
    tmp = tmp_path
    sink_port, am_port = free_port(), free_port()
    sink_url, am_url = f"http://127.0.0.1:{sink_port}", f"http://127.0.0.1:{am_port}"
    config = (ROOT / "alertmanager/alertmanager.yml").read_text().replace("http://alert-sink:9095", sink_url)
    (tmp / "alertmanager.yml").write_text(config)
    procs = []
    with open(tmp / "processes.log", "w") as log:
        try:
            procs.append(subprocess.Popen(
                [str(binaries["alert-sink"]), "--port", str(sink_port), "--runbooks", str(ROOT / "docs/runbooks")],
                stdout=log, stderr=log))
            procs.append(alertmanager(tmp / "alertmanager.yml", tmp / "am", am_port, log))
            wait_until("the alert sink", lambda: http("GET", f"{sink_url}/healthz") == "ok", timeout=20)
            wait_until("Alertmanager", lambda: http("GET", f"{am_url}/-/ready") is not None, timeout=20)
            yield {"sink": sink_url, "am": am_url, "tmp": tmp}
        finally:
            stop(procs)


def received(alerting, **filters):
    return http("GET", f"{alerting['sink']}/notifications?" + urllib.parse.urlencode(filters))


def post(alerting, *alerts):
    http("POST", f"{alerting['am']}/api/v2/alerts", list(alerts))


def page_node_down(alerting, node="3"):
    post(alerting, alert("NodeDown", "critical", node))
    return wait_until(f"NodeDown of node {node} at the pager",
                      lambda: received(alerting, receiver="pager", alertname="NodeDown", node=node))


@pytest.fixture
def node_down(alerting):
    """Node 3's NodeDown, delivered to the pager: active before the alerts it inhibits arrive."""
    page_node_down(alerting)
    return alerting


@pytest.fixture
def region_outage(alerting):
    """A region outage as Prometheus sends it, delivered: eu-west's NodeDowns reach
    Alertmanager first (nodes are seen down scrape by scrape) and RegionDown a second later,
    with a lone NodeDown in us-east; yielded once both pages arrived and the region's NodeDown
    groups were due (group_wait 5 s after they arrived, plus 3 s)."""
    eu_west = ("13", "14", "15")
    start = time.monotonic()
    post(alerting, *(alert("NodeDown", "critical", n, region="eu-west") for n in eu_west))
    time.sleep(1)
    post(alerting, alert("RegionDown", "critical", region="eu-west"),
         alert("NodeDown", "critical", "6", region="us-east"))
    wait_until("RegionDown for eu-west at the pager",
               lambda: [n for n in received(alerting, receiver="pager", alertname="RegionDown")
                        if n["labels"].get("region") == "eu-west"])
    wait_until("NodeDown of node 6 (us-east) at the pager",
               lambda: received(alerting, receiver="pager", alertname="NodeDown", node="6"), timeout=20)
    time.sleep(max(0.0, start + 8 - time.monotonic()))
    return {**alerting, "eu_west": eu_west, "lone": "6"}


def test_a_critical_alert_pages(alerting):
    page_node_down(alerting)


def test_warnings_go_to_tickets_and_inhibited_alerts_nowhere(node_down):
    alerting = node_down
    post(alerting,
         alert("HighCPUUsage", "warning", "4"),
         alert("HighCPUUsage", "warning", "3"),  # inhibited: node 3 is down
         alert("HighMemoryUsage", "critical", "7"),
         alert("HighMemoryUsage", "warning", "7"),  # inhibited: its critical twin fires
         alert("Watchdog", "none"))
    wait_until("HighCPUUsage on node 4 in the ticket queue",
               lambda: received(alerting, receiver="ticket-queue", alertname="HighCPUUsage", node="4"))
    wait_until("the critical HighMemoryUsage at the pager",
               lambda: received(alerting, receiver="pager", alertname="HighMemoryUsage", node="7"))
    wait_until("the Watchdog at the heartbeat", lambda: received(alerting, receiver="heartbeat", alertname="Watchdog"))
    time.sleep(2)  # give an inhibited alert every chance to (wrongly) arrive
    assert received(alerting, alertname="HighCPUUsage", node="3") == [], "NodeDown must inhibit node 3's other alerts"
    memory = received(alerting, alertname="HighMemoryUsage", node="7")
    assert [n["severity"] for n in memory] == ["critical"], f"the warning twin must be inhibited, got {memory}"
    inhibited = [a for a in http("GET", f"{alerting['am']}/api/v2/alerts") if a["status"]["inhibitedBy"]]
    names = sorted((a["labels"]["alertname"], a["labels"].get("node"), a["labels"]["severity"]) for a in inhibited)
    assert names == [("HighCPUUsage", "3", "warning"), ("HighMemoryUsage", "7", "warning")], names
    assert received(alerting, receiver="pager", alertname="HighCPUUsage") == [], "warnings never page"


def resolve_node_down(alerting):
    # group_interval is 1 s.
    post(alerting, alert("NodeDown", "critical", "3", ends_in=0))
    wait_until("NodeDown resolved at the pager",
               lambda: received(alerting, receiver="pager", alertname="NodeDown", status="resolved"), timeout=10)


def test_a_resolved_alert_is_reported_within_seconds(node_down):
    resolve_node_down(node_down)


def test_the_oncall_page_in_chromium_shows_what_arrived(node_down):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is not installed"
    alerting = node_down
    # What the page should show: a firing warning, the heartbeat, and newest the NodeDown resolved.
    post(alerting, alert("HighCPUUsage", "warning", "4"), alert("Watchdog", "none"))
    wait_until("HighCPUUsage on node 4 in the ticket queue",
               lambda: received(alerting, receiver="ticket-queue", alertname="HighCPUUsage", node="4"))
    wait_until("the Watchdog at the heartbeat", lambda: received(alerting, receiver="heartbeat", alertname="Watchdog"))
    resolve_node_down(alerting)
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={alerting['tmp'] / 'chrome'}", "--dump-dom", f"{alerting['sink']}/"],
        capture_output=True, text=True, timeout=60).stdout
    for needle in ['<li class="resolved" data-alertname="NodeDown">',
                   '<li class="firing" data-alertname="HighCPUUsage">',
                   'href="http://localhost:9095/runbooks/NodeDown"', "#oncall"]:
        assert needle in dom, f"the page in Chromium lacks {needle!r}; it rendered:\n{dom[:2000]}"
    first = dom.index('data-alertname="NodeDown"')
    assert dom.index('data-alertname="Watchdog"') > first, "newest first: the resolved NodeDown leads"


def test_a_region_outage_pages_once_and_a_lone_crash_elsewhere_on_its_own(region_outage):
    """The NodeDown route's group_wait lets the region alert claim the region's NodeDowns
    (see the fixture for the order they arrive in). A crash in another region pages by itself."""
    alerting, eu_west = region_outage, region_outage["eu_west"]
    lone = received(alerting, alertname="NodeDown", node=region_outage["lone"])
    region_nodes = [n for n in received(alerting, alertname="NodeDown") if n["node"] in eu_west]
    assert region_nodes == [], f"RegionDown must inhibit eu-west's NodeDown pages, got {region_nodes}"
    assert [n["status"] for n in received(alerting, alertname="RegionDown")] == ["firing"], "one page for the region"
    assert [n["status"] for n in lone] == ["firing"], f"node 6's crash pages once on its own, got {lone}"
    inhibited = {a["labels"].get("node") for a in http("GET", f"{alerting['am']}/api/v2/alerts")
                 if a["labels"]["alertname"] == "NodeDown" and a["status"]["inhibitedBy"]}
    assert inhibited == set(eu_west), f"Alertmanager should hold eu-west's NodeDowns as inhibited, got {inhibited}"


def test_a_region_that_recovers_resolves_once_and_never_pages_its_nodes(region_outage):
    alerting = region_outage
    # The nodes come back first, then the region alert (it is held a little in Prometheus).
    post(alerting, *(alert("NodeDown", "critical", n, ends_in=0, region="eu-west") for n in region_outage["eu_west"]))
    time.sleep(1)
    post(alerting, alert("RegionDown", "critical", ends_in=0, region="eu-west"))
    wait_until("RegionDown resolved at the pager",
               lambda: received(alerting, receiver="pager", alertname="RegionDown", status="resolved"), timeout=10)
    time.sleep(2)
    region_nodes = [n for n in received(alerting, alertname="NodeDown") if n["node"] in region_outage["eu_west"]]
    assert region_nodes == [], f"the region's nodes never page, firing or resolved; got {region_nodes}"
