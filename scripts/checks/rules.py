"""Structural checks of the alerting config that promtool and amtool do not make:

- every alert has severity, summary, description and a runbook_url naming its own runbook,
  and that runbook exists in docs/runbooks/;
- every alert but the Watchdog keeps the `node` label (its expression aggregates by node
  or keeps the target labels);
- every alert and every recording rule is exercised by a promtool test in prometheus/tests/
  (the demo profile); the fleet profile's tests (prometheus/fleet/tests/) cover what differs in
  kind at its scale: RegionDown, NodeDown (it pends there), the region figures and the fast
  SLIs; the other rules are the same expressions over windows scaled by the interval;
- region-level rules (`region:` records, RegionDown) keep the `region` label instead;
- every alert the failure catalog promises (`edge-node catalog --json`, expected_alert) exists;
- every route's receiver exists, and every receiver is covered by a routing case.

Run from the repository root with the venv's Python (PyYAML).
"""
import re
import sys

import yaml

from gen.profiles import PROFILES
from lib import ROOT, fleet

problems = []


def load(profile):
    rules = []
    for path in sorted(profile.rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(group["rules"])
    tests = "\n".join(p.read_text() for p in sorted((ROOT / profile.dir / "tests").glob("*.yml")))
    return rules, tests


def keeps(level_label, expr):
    """Whether every aggregation in expr keeps level_label."""
    return all(level_label in by for by in re.findall(r"by \(([^)]*)\)", expr))


def fleet_must_test(rule):
    name = rule.get("alert") or rule["record"]
    return name in ("RegionDown", "NodeDown") or name.startswith("region:") or re.search(r":\w*rate30s$", name)


for profile in PROFILES.values():
    rules, tests_text = load(profile)
    every = profile.name == "demo"
    alerts = [r for r in rules if "alert" in r]
    records = [r for r in rules if "record" in r]
    for rule in alerts:
        name = rule["alert"]
        labels = rule.get("labels", {})
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not annotations.get(key):
                problems.append(f"{profile.name}: alert {name}: no {key} annotation")
        if "severity" not in labels:
            problems.append(f"{profile.name}: alert {name}: no severity label")
        if not str(annotations.get("runbook_url", "")).endswith(f"/runbooks/{name}"):
            problems.append(f"{profile.name}: alert {name}: runbook_url does not point at its runbook")
        if not (ROOT / "docs/runbooks" / f"{name}.md").exists():
            problems.append(f"{profile.name}: alert {name}: docs/runbooks/{name}.md is missing")
        # Every aggregation must keep `node` (a region alert: `region`).
        level = "region" if name.startswith("Region") else "node"
        if name != "Watchdog" and not keeps(level, rule["expr"]):
            problems.append(f"{profile.name}: alert {name}: its expression drops the {level} label")
        if (every or fleet_must_test(rule)) and f"alertname: {name}" not in tests_text:
            problems.append(f"{profile.name}: alert {name}: no promtool test case in {profile.dir}/tests/")
    for rule in records:
        name = rule["record"]
        level = "region" if name.startswith("region:") else "node"
        if not keeps(level, rule["expr"]):
            problems.append(f"{profile.name}: recording rule {name}: drops the {level} label")
        if (every or fleet_must_test(rule)) and name not in tests_text:
            problems.append(f"{profile.name}: recording rule {name}: no promql_expr_test in {profile.dir}/tests/")
        if not re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name):
            problems.append(f"{profile.name}: recording rule {name}: not named level:metric:operations")
    if every:
        demo_alerts, demo_records = alerts, records
alerts, records = demo_alerts, demo_records

alert_names = {r["alert"] for r in alerts}
catalog = fleet.catalog()
if len(catalog) < 5:
    problems.append(f"edge-node catalog --json lists {len(catalog)} modes: the seed's five at least")
for mode in catalog:
    if mode["expected_alert"] not in alert_names:
        problems.append(f"the failure catalog promises alert {mode['expected_alert']} for {mode['failure']}, "
                        "which no rule defines")

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
