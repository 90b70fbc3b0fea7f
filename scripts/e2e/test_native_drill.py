"""A blind drill on the whole no-Docker stack, the way a learner and an instructor use it
(`inject drill ...`), on a stack of its own (the `stack` fixture is per module, so
test_native.py's rest check never sees this).

One drill, started with a fixed seed and a short start delay: while it is sealed, no API,
metric, log line, dashboard query or `inject status` names the fault, yet its alert fires for
real; bad input is refused with one line and changes nothing; wrong, near and right answers
and a hint are judged and cost what the README says; `inject clear` mitigates and the drill
sees the steady state come back; `drill stop` leaves the fleet healthy; the report's timeline
matches what Prometheus and the alert sink recorded. About a minute.

The two tests run in either order, or alone: each leaves the stack as it found it (its faults
ended, its alerts resolved at the sink), and reads only what happened after it began.
"""
import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request

from lib import fleet
from lib.dashboard_queries import queries, substitute
from lib.stack import get, log_lines, promql, wait_until

DRILL, SEED = "easy-hot-cpu", 20261122
MODE, ALERT = "cpu_spike", "HighCPUUsage"


def drill(stack, binaries, tmp, *args, check=True):
    env = dict(os.environ, INJECT_DRILL_STATE=str(tmp / "drill.json"), INJECT_SINK=stack.sink,
               INJECT_PROMETHEUS=stack.prom)
    run = subprocess.run([str(binaries["inject"]), "--base-port", str(stack.base), *args],
                         capture_output=True, text=True, timeout=60, env=env)
    if check:
        assert run.returncode == 0, f"inject {' '.join(args)} exited {run.returncode}: {run.stdout} {run.stderr}"
    return run


def refused(run, says):
    """A one-line error naming the problem, and a non-zero exit."""
    lines = run.stderr.strip().splitlines()
    assert run.returncode != 0 and len(lines) == 1 and says in lines[0], \
        f"expected one line saying {says!r} and a non-zero exit; got {run.returncode}: {run.stderr!r} {run.stdout!r}"


def fleet_faults(stack):
    return {n: get(f"{stack.node_url(n)}/inject")["faults"] for n in fleet.nodes()}


def test_a_blind_drill_from_start_to_report(stack, binaries, tmp_path):
    t0 = time.time()
    counters_before = promql(stack.prom, "sum by (node) (edge_fault_injections_total)")

    # Bad input first: nothing running, a corrupt state file, then nothing changes.
    refused(drill(stack, binaries, tmp_path, "drill", "answer", "--node", "3", "--failure", MODE, check=False),
            "no drill")
    (tmp_path / "drill.json").write_text("{half a file")
    refused(drill(stack, binaries, tmp_path, "drill", "start", "--seed", str(SEED), check=False), "corrupt")
    assert not any(fleet_faults(stack).values()), "a refused start changed the fleet"
    (tmp_path / "drill.json").unlink()

    # Start: the learner is told only that something is wrong.
    t_start = time.time()
    started = drill(stack, binaries, tmp_path, "drill", "start", "--drill", DRILL, "--seed", str(SEED), "--delay", "3")
    assert f"seed {SEED}" in started.stdout and MODE not in started.stdout and ALERT not in started.stdout, \
        started.stdout
    refused(drill(stack, binaries, tmp_path, "drill", "start", check=False), "already running")
    truth = json.loads(drill(stack, binaries, tmp_path, "--json", "drill", "reveal").stdout)  # the instructor's view
    assert [f["failure"] for f in truth["faults"]] == [MODE], truth
    node = truth["faults"][0]["node"]

    # It is real: the alert fires on that node.
    wait_until(f"{ALERT} firing on node {node}", lambda: promql(
        stack.prom, f'ALERTS{{alertname="{ALERT}", alertstate="firing", node="{node}"}}'), timeout=30)
    time.sleep(2)

    # And sealed: nothing a learner reads names it.
    assert not any(fleet_faults(stack).values()), "GET /inject lists a sealed fault"
    assert not promql(stack.prom, "edge_fault_active == 1"), "edge_fault_active shows the sealed fault"
    counters = promql(stack.prom, "sum by (node) (edge_fault_injections_total)")
    assert {r["metric"]["node"]: r["value"][1] for r in counters} == \
        {r["metric"]["node"]: r["value"][1] for r in counters_before}, "the injection counter moved"
    now, checked = time.time(), 0
    for board, where, ds, expr in queries():
        if ds != "prometheus" or "edge_fault" not in expr:
            continue
        checked += 1
        query = substitute(expr, {"node": str(node), "service": "orders"})
        # The drill's own window: a fault of an earlier test on the same stack is not its leak.
        result = get(f"{stack.prom}/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": query, "start": max(now - 15, t_start), "end": now, "step": 1}))["data"]["result"]
        shown = [s["metric"] for s in result if any(float(v) > 0 for _, v in s["values"])]
        assert not shown, f"{board} / {where} shows the sealed fault: {query} -> {shown}"
    assert checked, "no Prometheus panel reads edge_fault_*: the sealed check would prove nothing"
    lines = log_lines(stack.state / "fleet.log")
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_start + 1))  # RFC 3339 sorts as text
    recent = [line for line in lines if line.get("node") == node and line.get("timestamp", "") >= since]
    assert any(line.get("route") for line in recent), "no request lines from the node: the check would prove nothing"
    leaks = [line for line in recent if MODE in json.dumps(line) or "fault_" in line.get("event", "")
             or line.get("fault", "none") != "none"]
    assert not leaks, f"log lines name the sealed fault: {leaks[:3]}"
    for path in ("/api/products", "/api/products/1", "/healthz"):
        with urllib.request.urlopen(stack.node_url(node) + path, timeout=10) as res:
            seen = json.dumps(dict(res.headers)) + res.read().decode()
        assert MODE not in seen and "inject" not in seen.lower(), f"{path} names the fault: {seen[:300]}"
    status = subprocess.run([str(binaries["inject"]), "--base-port", str(stack.base), "status", "--json"],
                            capture_output=True, text=True, timeout=30)
    assert status.returncode == 0 and MODE not in status.stdout, status.stdout
    res = get(f"{stack.prom}/api/v1/query?" + urllib.parse.urlencode({"query": f'ALERTS{{node="{node}"}}'}))
    assert MODE not in json.dumps(res), "an alert's labels name the mode"
    assert MODE not in json.dumps(get(f"{stack.sink}/notifications?node={node}")), "a notification names the mode"

    # A hint, answers wrong and right, bad answers refused without being recorded.
    hint = drill(stack, binaries, tmp_path, "drill", "hint")
    assert hint.stdout.startswith("Hint 1 of 3 (-10 points)"), hint.stdout
    other = next(n for n in fleet.nodes() if n != node)
    assert drill(stack, binaries, tmp_path, "drill", "answer", "--node", str(other), "--failure", MODE) \
        .stdout.startswith("not it")
    refused(drill(stack, binaries, tmp_path, "drill", "answer", "--node", "99", "--failure", MODE, check=False),
            "node 99 is not in this drill's fleet")
    near = drill(stack, binaries, tmp_path, "drill", "answer", "--node", str(node), "--failure", "memory_leak")
    assert near.stdout.startswith("right node, close"), near.stdout
    right = drill(stack, binaries, tmp_path, "drill", "answer", "--node", str(node), "--failure", MODE)
    assert right.stdout.startswith("right: 1 of 1"), right.stdout
    state = json.loads((tmp_path / "drill.json").read_text())
    assert [a["verdict"] for a in state["answers"]] == ["wrong", "near", "right"], state["answers"]

    # Mitigate the way the runbook says; the drill sees the steady state come back.
    subprocess.run([str(binaries["inject"]), "--base-port", str(stack.base), "clear", "--node", str(node)],
                   check=True, capture_output=True, timeout=30)
    status = wait_until("the drill to see the steady state back", lambda: (
        s := json.loads(drill(stack, binaries, tmp_path, "--json", "drill", "status").stdout))["mitigated"] and s,
        timeout=30, every=1)
    score = status["score"]
    # 60 diagnosis + 20 mitigation + 20 speed - 10 (one hint) - 5 (one wrong answer).
    assert score["total"] == 85, score
    assert 0 < score["detect_s"] < 10 and score["diagnose_s"] < 120 and score["mitigate_s"] > score["diagnose_s"], score

    # Stop: the fleet is healthy and the alert is resolved.
    drill(stack, binaries, tmp_path, "drill", "stop")
    assert not any(fleet_faults(stack).values())
    wait_until(f"no {ALERT} on node {node}",
               lambda: not promql(stack.prom, f'ALERTS{{alertname="{ALERT}", node="{node}"}}'), timeout=15)
    # The report reads the sink too: let Alertmanager deliver the resolution first (it follows
    # Prometheus' by a resend and a group interval, longer on a loaded machine).
    wait_until(f"{ALERT} on node {node} resolved at the alert sink", lambda: any(
        n["status"] == "resolved" and n["received_at"] >= t0
        for n in get(f"{stack.sink}/notifications?alertname={ALERT}&node={node}")), timeout=30)
    ended = json.loads(drill(stack, binaries, tmp_path, "--json", "drill", "reveal").stdout)["faults"][0]
    assert ended["end_reason"] == "cleared", ended

    # The report: every section, and a timeline that matches Prometheus and the sink.
    drill(stack, binaries, tmp_path, "drill", "report", "-o", str(tmp_path / "report.md"))
    md = (tmp_path / "report.md").read_text()
    (stack.state / "drill-report.md").write_text(md)  # kept with the stack's logs, for a reader
    for section in ("## Summary", "## Impact", "## Timeline", "## Detection and response", "## What went well",
                    "## What did not go well", "## Action items", "edge_http_requests_total"):
        assert section in md, f"{section} missing from the report:\n{md}"
    assert "Gaps in the sources" not in md, md

    def clock(t):
        return time.strftime("%H:%M:%S", time.gmtime(round(t * 10) / 10)) + f".{round(t * 10) % 10}"

    def row(event):
        hits = [line for line in md.splitlines() if line.startswith("| ") and event in line]
        assert hits, f"no timeline row with {event!r}:\n{md}"
        return hits[0]

    assert clock(ended["starts_at"]) in row("fault started"), row("fault started")
    assert clock(ended["ended_at"]) in row("cleared (the mitigation)")
    # Prometheus' own record: the raw samples of ALERTS, one per evaluation that found it firing.
    window = int(time.time() - t_start) + 1
    fired = promql(stack.prom, f'ALERTS{{alertname="{ALERT}", alertstate="firing", node="{node}"}}[{window}s]')
    first = min(float(t) for s in fired for t, _ in s["values"])
    assert clock(first) in row(f"{ALERT} on node {node} firing"), (clock(first), row(f"{ALERT} on node {node} firing"))
    sink = [n for n in get(f"{stack.sink}/notifications?alertname={ALERT}&node={node}") if n["received_at"] >= t0]
    for n in sink:
        assert clock(n["received_at"]) in md, f"notification at {clock(n['received_at'])} not in the timeline"
    assert any(n["status"] == "firing" for n in sink) and any(n["status"] == "resolved" for n in sink), sink
    assert re.search(r"\| took hint 1 \|", md) and "--failure memory_leak`: right node, close" in md, md
    print(f"drill on node {node}: score {score['total']}, detected {score['detect_s']} s, "
          f"mitigated {score['mitigate_s']} s; report {len(md)} bytes, {time.time() - t0:.0f} s in all")


def test_a_scenario_run_writes_its_incident_report(stack, binaries, tmp_path):
    """`inject scenario FILE --report FILE`: the same post-mortem for a game day, each fault
    timed by its documented alert as Prometheus recorded it."""
    node = fleet.size()
    (tmp_path / "s.toml").write_text(f'name = "CPU on node {node}"\n[[step]]\nat = 0\nnode = "{node}"\n'
                                     f'failure = "{MODE}"\nduration = 4\n')
    t_start = time.time()
    run = subprocess.run([str(binaries["inject"]), "--base-port", str(stack.base), "--prometheus", stack.prom,
                          "scenario", str(tmp_path / "s.toml"), "--report", str(tmp_path / "run.md")],
                         capture_output=True, text=True, timeout=90, env=dict(os.environ, INJECT_SINK=stack.sink))
    assert run.returncode == 0, f"{run.stdout} {run.stderr}"
    md = (tmp_path / "run.md").read_text()
    (stack.state / "scenario-report.md").write_text(md)
    row = next((line for line in md.splitlines() if line.startswith(f"| `{MODE}` #")), None)
    assert row and f"| {node} | {ALERT} |" in row and "missed" not in row and "not seen" not in row, md
    window = int(time.time() - t_start) + 1
    fired = promql(stack.prom, f'ALERTS{{alertname="{ALERT}", alertstate="firing", node="{node}"}}[{window}s]')
    first = min(float(t) for s in fired for t, _ in s["values"])
    stamp = time.strftime("%H:%M:%S", time.gmtime(round(first * 10) / 10)) + f".{round(first * 10) % 10}"
    assert f"| {stamp} | Prometheus | {ALERT} on node {node} firing |" in md, (stamp, md)
    for section in ("## Summary", "## Impact", "## Timeline", "## Detection and response", "## Action items"):
        assert section in md, section
    # Leave the stack as found: the resolution delivered (it follows Prometheus' by a resend
    # and a group interval), so a test after this one never reads it as its own.
    wait_until(f"{ALERT} on node {node} resolved at the alert sink", lambda: any(
        n["status"] == "resolved" and n["received_at"] >= t_start
        for n in get(f"{stack.sink}/notifications?alertname={ALERT}&node={node}")), timeout=30)
