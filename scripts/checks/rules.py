"""Structural checks of the alerting config that promtool and amtool do not make:

- every alert has severity, summary, description and a runbook_url naming its own runbook,
  and that runbook exists in docs/runbooks/;
- every alert but the Watchdog keeps the `node` label (its expression aggregates by node
  or keeps the target labels);
- every alert and every recording rule is exercised by a promtool test in prometheus/tests/;
- every alert the failure catalog promises (FaultKind::expected_alert) exists;
- every route's receiver exists, and every receiver is covered by a routing case.

Run from the repository root with the venv's Python (PyYAML).
"""
import re
import sys

import yaml

from lib import ROOT

problems = []

rules = []
for path in sorted((ROOT / "prometheus/rules").glob("*.yml")):
    for group in yaml.safe_load(path.read_text())["groups"]:
        for rule in group["rules"]:
            rules.append((path.name, rule))

tests_text = "\n".join(p.read_text() for p in sorted((ROOT / "prometheus/tests").glob("*.yml")))
alerts = [r for _, r in rules if "alert" in r]
records = [r for _, r in rules if "record" in r]

for rule in alerts:
    name = rule["alert"]
    labels = rule.get("labels", {})
    annotations = rule.get("annotations", {})
    for key in ("summary", "description", "runbook_url"):
        if not annotations.get(key):
            problems.append(f"alert {name}: no {key} annotation")
    if "severity" not in labels:
        problems.append(f"alert {name}: no severity label")
    if not str(annotations.get("runbook_url", "")).endswith(f"/runbooks/{name}"):
        problems.append(f"alert {name}: runbook_url does not point at its runbook")
    if not (ROOT / "docs/runbooks" / f"{name}.md").exists():
        problems.append(f"alert {name}: docs/runbooks/{name}.md is missing")
    # Every aggregation in the expression must keep `node` (recording rules are checked too).
    if name != "Watchdog" and any("node" not in by for by in re.findall(r"by \(([^)]*)\)", rule["expr"])):
        problems.append(f"alert {name}: its expression drops the node label")
    if f"alertname: {name}" not in tests_text:
        problems.append(f"alert {name}: no promtool test case")

for rule in records:
    name = rule["record"]
    if any("node" not in by for by in re.findall(r"by \(([^)]*)\)", rule["expr"])):
        problems.append(f"recording rule {name}: drops the node label")
    if name not in tests_text:
        problems.append(f"recording rule {name}: no promql_expr_test")
    if not re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name):
        problems.append(f"recording rule {name}: not named level:metric:operations")

alert_names = {r["alert"] for r in alerts}
catalog = (ROOT / "crates/edge-sim/src/catalog.rs").read_text()
for promised in re.findall(r'FaultKind::\w+ => "([A-Z]\w+)"', catalog):
    if promised not in alert_names:
        problems.append(f"the failure catalog promises alert {promised}, which no rule defines")

am = yaml.safe_load((ROOT / "alertmanager/alertmanager.yml").read_text())
receivers = {r["name"] for r in am["receivers"]}
def walk(route):
    yield route
    for child in route.get("routes", []):
        yield from walk(child)
for route in walk(am["route"]):
    if route.get("receiver") and route["receiver"] not in receivers:
        problems.append(f"route to unknown receiver {route['receiver']}")
cases = (ROOT / "alertmanager/tests/routes.txt").read_text()
for receiver in receivers:
    if not re.search(rf"^{re.escape(receiver)}\s", cases, re.M):
        problems.append(f"receiver {receiver}: no routing case in alertmanager/tests/routes.txt")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"{len(alerts)} alerts, {len(records)} recording rules and {len(receivers)} receivers check out")
