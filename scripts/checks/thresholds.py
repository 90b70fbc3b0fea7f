"""Checks that prometheus/src/thresholds.yml is the one place each alert line is written, and
that the rules and the dashboards both follow it (`gen --check` only proves the committed files
are what the generators write, not where the generators take their numbers from):

- as committed: every alert the file names (gen/thresholds.py) compares against the file's value
  in both profiles' rules, every SLO burn alert against a burn rate times the budget, and every
  value the dashboards draw is a threshold step of a panel;
- moved: for every value of the file, the rules and dashboards generated from the file with that
  value changed differ from today's in every profile's rules and in the dashboards; the alert it
  names compares against the new value, and each panel that drew the old line draws the new one
  in its place, nothing else. A number written out in a rule source or in gen/dashboards.py
  fails here.

    scripts/py -m checks.thresholds              # from the repository root, with the venv's Python
    scripts/py -m checks.thresholds --self-test  # prove the comparisons catch what they must
"""
import dataclasses
import functools
import importlib
import json
import re
import sys

import yaml

from gen import dashboards, rules, thresholds
from gen.profiles import PROFILES
from lib import ROOT

# The numbers a PromQL expression compares against (`> 0.9`, `>= 2`, `> (0.144)`).
COMPARISON = re.compile(r"(?:[<>]=?|==)\s*\(?\s*([0-9]+(?:\.[0-9]+)?)")
BURN_ALERTS = ("ServiceAvailabilityBurn", "ServiceLatencyBurn")


def comparisons(expr):
    return {float(n) for n in COMPARISON.findall(expr)}


def generate(t):
    """{path: text} the rules and dashboards generators write from thresholds `t`. The dashboards
    module reads the file when it is imported, so it is reloaded (and reloaded back after)."""
    try:
        with thresholds.replaced(t):
            importlib.reload(dashboards)
            return rules.outputs() | dashboards.outputs()
    finally:
        importlib.reload(dashboards)


@functools.cache
def alerts_of(text):
    """The alerting rules of a rules file (libyaml's parser: the check reads some 200 files)."""
    return [r for g in yaml.load(text, Loader=yaml.CSafeLoader)["groups"] for r in g["rules"] if "alert" in r]


def profile_alerts(files):
    """{profile name: [alert rule]} of the rules files among `files`."""
    return {p.name: [r for path, text in files.items() if path.parent == p.rules_dir for r in alerts_of(text)]
            for p in PROFILES.values()}


def panel_lines(files):
    """{(dashboard, panel id): (panel title, {threshold step values})} of the dashboards among `files`."""
    out = {}
    for path, text in files.items():
        if path.parent != dashboards.OUT:
            continue
        for p in json.loads(text)["panels"]:
            steps = p.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
            out[(path.name, p["id"])] = (p["title"], {s["value"] for s in steps if s["value"] is not None})
    return out


def values(t):
    """(name, value, key metadata, thresholds with this value replaced) of every value in the
    file; a mapping's entries (slo_burn_rates.1h) one by one."""
    for name, meta in thresholds.FIELDS.items():
        value = getattr(t, name)
        if isinstance(value, dict):
            for k, v in value.items():
                yield (f"{name}.{k}", v, meta,
                       lambda new, name=name, value=value, k=k: dataclasses.replace(t, **{name: {**value, k: new}}))
        else:
            yield name, value, meta, lambda new, name=name: dataclasses.replace(t, **{name: new})


def moved(value, unit):
    """Another valid value, distinct from the old one and unlikely to be any other line."""
    return value + 1 if unit == "count" else round(value * 0.97, 6)


def alert_compares(alerts, meta, want, where):
    """Problems unless every alert `meta` names (of its severity) compares against `want`."""
    named = [r for r in alerts if r["alert"] == meta["alert"]
             and meta["severity"] in (None, r.get("labels", {}).get("severity"))]
    if not named:
        return [f"{where}: no alert {meta['alert']}"]
    return [f"{where}: {meta['alert']} compares against {sorted(comparisons(r['expr']))}, not {want:g}: "
            f"{r['expr'].strip()}" for r in named if want not in comparisons(r["expr"])]


def burn_compares(alerts, want, where):
    """Problems unless some SLO burn alert compares against burn rate x budget, `want`."""
    burn = [r for r in alerts if r["alert"] in BURN_ALERTS]
    if not any(want in comparisons(r["expr"]) for r in burn):
        return [f"{where}: no SLO burn alert compares against {want:g} (burn rate x budget)"]
    return []


def as_committed(t, files):
    """The file's values in the committed rules and dashboards."""
    problems = []
    lines = set().union(*(drawn for _, drawn in panel_lines(files).values()))
    for profile, alerts in profile_alerts(files).items():
        for name, value, meta, _ in values(t):
            where = f"{profile} rules, {name}"
            if name.startswith("slo_burn_rates."):
                problems += burn_compares(alerts, round(value * t.slo_error_budget_ratio, 4), where)
            elif meta["alert"]:
                problems += alert_compares(alerts, meta, value, where)
    for name, value, meta, _ in values(t):
        if meta["line"] and value not in lines:
            problems.append(f"dashboards, {name}: no panel draws a line at {value:g}")
    return problems


def compare(name, old, new, meta, t_new, before, after):
    """Problems with how the outputs moved when `name` went from `old` to `new`."""
    problems = []
    alerts_after = profile_alerts(after)
    for p in PROFILES.values():
        where = f"{name} {old:g} -> {new:g}, {p.name} rules"
        if all(before[path] == after[path] for path in before if path.parent == p.rules_dir):
            problems.append(f"{where}: nothing changed (a number written out in prometheus/src/?)")
            continue
        if name.startswith("slo_burn_rates."):
            problems += burn_compares(alerts_after[p.name], round(new * t_new.slo_error_budget_ratio, 4), where)
        elif meta["alert"]:
            problems += alert_compares(alerts_after[p.name], meta, new, where)
    where = f"{name} {old:g} -> {new:g}, dashboards"
    if all(before[path] == after[path] for path in before if path.parent == dashboards.OUT):
        return problems + [f"{where}: nothing changed (a number written out in gen/dashboards.py?)"]
    if meta["line"]:
        lines_before, lines_after = panel_lines(before), panel_lines(after)
        if set(lines_before) != set(lines_after):
            return problems + [f"{where}: the panels changed, not only their lines"]
        changed = sorted(k for k in lines_before if lines_before[k][1] != lines_after[k][1])
        if not changed:
            problems.append(f"{where}: no panel's line moved")
        for k in changed:
            (title, was), (_, now) = lines_before[k], lines_after[k]
            if (was - now, now - was) != ({old}, {new}):
                problems.append(f"{where}: {k[0]} {title!r} went from lines {sorted(was)} to {sorted(now)}, "
                                f"not the one line from {old:g} to {new:g}")
    return problems


def check():
    t = thresholds.load()
    before = generate(t)
    stale = [str(path.relative_to(ROOT)) for path, text in before.items()
             if not path.exists() or path.read_text() != text]
    if stale:
        return [f"generated files are stale ({', '.join(stale)}): run scripts/py -m gen first"]
    problems = as_committed(t, before)
    for name, old, meta, replace in values(t):
        new = moved(old, meta["unit"])
        problems += compare(name, old, new, meta, replace(new), before, generate(replace(new)))
    return problems


def self_test():
    """Each breakage must be reported (and the unbroken files must pass)."""
    t = thresholds.load()
    before = generate(t)
    if as_committed(t, before):
        return ["(the unbroken files already fail)"]
    name, old = "cpu_utilization_ratio", t.cpu_utilization_ratio
    meta, new = thresholds.FIELDS[name], moved(old, "ratio")
    t_new = dataclasses.replace(t, **{name: new})
    after = generate(t_new)
    if compare(name, old, new, meta, t_new, before, after):
        return ["(the unbroken move already fails)"]
    rule_files = [path for path in before if path.parent.name == "rules"]
    alerts = next(path for path in rule_files if path.name == "alerts.yml")
    cpu_expr = f"node:edge_cpu_utilization:ratio > {old:g}\n"

    def moves(changed):
        return compare(name, old, new, meta, t_new, before, after | changed)

    def literal_in_rules():  # the rule source has the number written out: the rules do not move
        return moves({p: before[p] for p in rule_files})

    def literal_in_dashboards():  # gen/dashboards.py has the number written out: the dashboards do not move
        return moves({p: before[p] for p in before if p.suffix == ".json"})

    def alert_left_behind():  # the rules change, but the alert's expression keeps the old number
        return moves({alerts: before[alerts] + "# moved\n"})

    def another_line_moves():  # the CPU line moves, and a line of its own appears on the same panel
        board = next(p for p in after if p.name == "fleet-overview.json")
        doc = json.loads(after[board])
        panel = next(p for p in doc["panels"] if p["title"] == "CPU per node")
        panel["fieldConfig"]["defaults"]["thresholds"]["steps"].append({"color": "orange", "value": 0.5})
        return moves({board: json.dumps(doc)})

    def committed_alert_off():  # a committed rules file compares against another number
        off = before[alerts].replace(cpu_expr, cpu_expr.replace(f"{old:g}", "0.91"))
        return as_committed(t, before | {alerts: off})

    return [c.__name__ for c in (literal_in_rules, literal_in_dashboards, alert_left_behind, another_line_moves,
                                 committed_alert_off) if not c()]


def main():
    if "--self-test" in sys.argv:
        failures = self_test()
        print(f"self-test: {'missed ' + ', '.join(failures) if failures else 'every breakage caught'}")
        return 1 if failures else 0
    problems = check()
    for p in problems:
        print(f"thresholds: {p}", file=sys.stderr)
    if not problems:
        count = sum(1 for _ in values(thresholds.load()))
        print(f"{count} thresholds: in the committed rules and dashboards, and each moves its alert and its lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
