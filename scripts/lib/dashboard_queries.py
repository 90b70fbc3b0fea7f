"""The dashboards' queries, for the end-to-end suite: every PromQL and LogQL expression of
grafana/dashboards/*.json (panels, annotations, variables) with Grafana's variables
substituted, and a small LogQL evaluator for the subset the dashboards use, so their log
queries can be run over a real node's log lines (Loki itself cannot run here).
"""
import json
import re

from lib import ROOT


def grafana_vars(scrape_s):
    """What Grafana would put in at a profile's scrape interval: $__rate_interval is
    max(4 x the scrape interval, step + scrape)."""
    return {"__rate_interval": f"{4 * scrape_s:g}s", "__interval": f"{scrape_s:g}s", "__range": "15m"}


# The demo profile's (1 s scrapes); the scale test substitutes the fleet profile's.
GRAFANA_VARS = grafana_vars(1)


def queries():
    """[(dashboard file, where, datasource uid, expression)] of every query."""
    found = []
    for path in sorted((ROOT / "grafana/dashboards").glob("*.json")):
        d = json.loads(path.read_text())
        for p in d["panels"]:
            for t in p.get("targets", []):
                # PromQL and LogQL in `expr`; Tempo's TraceQL in `query`.
                found.append((path.name, p["title"], t["datasource"]["uid"], t.get("expr", t.get("query"))))
        for a in d["annotations"]["list"]:
            if "target" in a:
                found.append((path.name, f"annotation {a['name']}", a["datasource"]["uid"], a["target"]["expr"]))
        for v in d["templating"]["list"]:
            if v["type"] == "query":
                found.append((path.name, f"variable {v['name']}", v["datasource"]["uid"], v["query"]))
    return found


def substitute(expr, values, scrape_s=1):
    """Replaces $name and ${name} with values[name] (and Grafana's own interval variables at
    the profile's scrape interval)."""
    merged = {**grafana_vars(scrape_s), **values}
    return re.sub(r"\$\{?(\w+)\}?", lambda m: merged.get(m.group(1), m.group(0)), expr)


def label_values_query(expr):
    """label_values(selector, label) -> (selector, label), else None."""
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", expr.strip())
    return (m.group(1), m.group(2)) if m else None


def _compare(value, op, want):
    if value is None:
        return False
    if op == "=~":
        return re.fullmatch(want, str(value)) is not None
    if op in ("=", "=="):
        return str(value) == want
    if op == "!=":
        return str(value) != want
    try:
        v, w = float(value), float(want)
    except ValueError:
        return False
    return {">": v > w, ">=": v >= w, "<": v < w, "<=": v <= w}[op]


def logql_fields(expr):
    """The JSON fields a query's `| json a="field"` stages read."""
    return [f for stage in re.findall(r"\|\s*json\s+([^|]+)", expr) for f in re.findall(r'\w+="(\w+)"', stage)]


def logql_match(expr, line, stream):
    """Whether a parsed JSON log line of a stream (its Loki labels) passes a LogQL query of the
    subset the dashboards use: a stream selector, `| json name="field", ...` and label filters."""
    selector, _, pipeline = expr.partition("}")
    for label, op, want in re.findall(r'(\w+)\s*(=~|!=|=)\s*"([^"]*)"', selector):
        if not _compare(stream.get(label), op, want):
            return False
    labels = dict(stream)
    for stage in [s.strip() for s in pipeline.split("|") if s.strip()]:
        if stage.startswith("json"):
            for name, field in re.findall(r'(\w+)="(\w+)"', stage):
                labels[name] = line.get(field)
            continue
        m = re.fullmatch(r'(\w+)\s*(=~|!=|>=|<=|==|=|>|<)\s*"?([^"]*)"?', stage)
        if not m:
            raise ValueError(f"LogQL stage outside the supported subset: {stage!r}")
        if not _compare(labels.get(m.group(1)), m.group(2), m.group(3)):
            return False
    return True
