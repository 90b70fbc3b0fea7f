"""The stack's production-shaped jobs and the user's rules, on the real thing: scripts/run-native.sh
with two nodes, real Prometheus 3, the real blackbox exporter 0.28 (Debian's), a user rule
folder of plain and PrometheusRule files, and job names other than the defaults, set the way a
user sets them (docs/USER_RULES.md):

- the node_exporter-shaped job scrapes every node's /host/metrics under NODE_EXPORTER_JOB, with
  the node's `node` and `region` labels; the blackbox job probes every node's shop through the
  exporter under BLACKBOX_JOB (multi-target relabelling: target, instance, exporter address);
- probe_success is 1 for each node, and 0 with a 503 for a node in node_crash (injected with the
  real inject CLI), the other node still 1;
- every user rule file is loaded (/api/v1/rules) and evaluated;
- the nodes' /host/metrics series arrive under the job name.
"""
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from lib import ROOT
from lib.stack import NativeStack, get, promql, wait_until

FIXTURES = ROOT / "scripts/e2e/fixtures/user-rules"
NODES = 2
HOST_JOB, PROBE_JOB = "node-exporter", "probes"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    rules = tmp_path_factory.mktemp("user-rules")
    for f in (FIXTURES / "good").iterdir():
        shutil.copy(f, rules / f.name)
    running = NativeStack(ROOT, nodes=NODES)
    running.env.update(USER_RULES_DIR=str(rules), NODE_EXPORTER_JOB=HOST_JOB, BLACKBOX_JOB=PROBE_JOB,
                       EDGE_METRIC_SHAPES="node_exporter,otel,promhttp", EDGE_BLACKBOX_PROBES="on")
    with running:
        wait_until(f"{NODES} edge-node targets up",
                   lambda: len(promql(running.prom, 'up{job="edge-node"} == 1')) == NODES, timeout=300)
        yield running
        print(f"\n(stack logs in {running.state})")


def targets(stack, job):
    active = get(f"{stack.prom}/api/v1/targets?state=active")["data"]["activeTargets"]
    return sorted((t for t in active if t["labels"]["job"] == job), key=lambda t: t["labels"]["node"])


def test_the_host_job_scrapes_every_node_under_the_users_job_name(stack):
    found = targets(stack, HOST_JOB)
    assert [t["labels"]["node"] for t in found] == [str(n) for n in range(1, NODES + 1)], found
    for t in found:
        node = int(t["labels"]["node"])
        assert t["scrapeUrl"] == f"{stack.node_url(node)}/host/metrics", t
        assert t["labels"]["region"] == "eu-west" and t["labels"]["instance"] == f"127.0.0.1:{stack.base + node}"
    assert not targets(stack, "node"), "the default job name is still scraped beside the user's"


def test_the_probe_job_goes_through_the_exporter(stack):
    found = targets(stack, PROBE_JOB)
    assert len(found) == NODES, found
    for t in found:
        node = int(t["labels"]["node"])
        shop = f"{stack.node_url(node)}/api/products"
        assert t["labels"]["instance"] == shop, t
        assert t["scrapeUrl"].startswith(f"http://127.0.0.1:{stack.bb_port}/probe?"), t
        assert "module=http_2xx" in t["scrapeUrl"] and "target=" + urllib.request.quote(shop, safe="") \
            in t["scrapeUrl"], t
    wait_until("the probe targets up", lambda: len(promql(stack.prom, f'up{{job="{PROBE_JOB}"}} == 1')) == NODES,
               timeout=30)


def probes(stack, metric):
    return {r["metric"]["node"]: float(r["value"][1]) for r in promql(stack.prom, f'{metric}{{job="{PROBE_JOB}"}}')}


def test_probes_succeed_then_fail_for_a_crashed_node(stack, binaries):
    want = {str(n): 1.0 for n in range(1, NODES + 1)}
    wait_until("probe_success 1 for every node", lambda: probes(stack, "probe_success") == want, timeout=30)
    assert all(v > 0 for v in probes(stack, "probe_duration_seconds").values())
    assert probes(stack, "probe_http_status_code") == {n: 200.0 for n in want}
    inject = [str(binaries["inject"]), "--base-port", str(stack.base)]
    run = subprocess.run([*inject, "--node", "1", "--failure", "node_crash", "--duration", "30"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    try:
        wait_until("probe_success 0 for the crashed node 1, 1 for node 2",
                   lambda: probes(stack, "probe_success") == {"1": 0.0, "2": 1.0}, timeout=15)
        assert probes(stack, "probe_http_status_code")["1"] == 503.0
        # The user's plain rule (user-rules/blackbox.yml) fires for it.
        wait_until("FixtureProbeFailed firing for node 1", lambda: [
            a for a in get(f"{stack.prom}/api/v1/alerts")["data"]["alerts"]
            if a["labels"]["alertname"] == "FixtureProbeFailed" and a["labels"].get("node") == "1"
            and a["state"] == "firing"], timeout=15)
    finally:
        subprocess.run([*inject, "clear", "--node", "1"], capture_output=True, timeout=60)
    wait_until("probe_success back to 1", lambda: probes(stack, "probe_success") == want, timeout=15)


def test_every_user_rule_file_is_loaded_and_evaluated(stack):
    groups = get(f"{stack.prom}/api/v1/rules")["data"]["groups"]
    user = {g["name"]: g["file"] for g in groups if g["name"].startswith("fixture-")}
    assert sorted(user) == ["fixture-blackbox", "fixture-flow", "fixture-second", "fixture-team"], user
    assert all("/run/user-rules/" in f for f in user.values()), user
    wait_until("the PrometheusRule's recording rule evaluated",
               lambda: len(promql(stack.prom, "node:probe_success:min")) == NODES, timeout=20)
    assert promql(stack.prom, "fixture:flow:one")
    assert {r["metric"]["job"] for r in promql(stack.prom, "job:up:sum")} >= {"edge-node", HOST_JOB, PROBE_JOB}


def serves_host_metrics(stack):
    try:
        with urllib.request.urlopen(f"{stack.node_url(1)}/host/metrics", timeout=5) as res:
            return res.status == 200
    except urllib.error.URLError:
        return False


def test_host_series_arrive_under_the_job_name(stack):
    assert serves_host_metrics(stack), "node 1 does not serve /host/metrics with the node_exporter shape on"
    wait_until(f"up{{job={HOST_JOB!r}}} == 1 for every node",
               lambda: len(promql(stack.prom, f'up{{job="{HOST_JOB}"}} == 1')) == NODES, timeout=20)
    cpu = promql(stack.prom, f'count by (node, region) (node_cpu_seconds_total{{job="{HOST_JOB}"}})')
    assert sorted(r["metric"]["node"] for r in cpu) == [str(n) for n in range(1, NODES + 1)], cpu
