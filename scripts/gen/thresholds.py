"""prometheus/src/thresholds.yml, the one file of alert lines and SLOs that the rules generator
(gen/rules.py, gen/slo_rules.py) and the dashboards generator (gen/dashboards.py) both read, as
kubernetes-mixin's config.libsonnet is for its rules and dashboards. `load()` parses and
validates it; `placeholders()` is what the rule sources' @name@ placeholders become.

Each field of `Thresholds` is a key of the file, with what reads it: `alert` (and `severity`)
names the alert whose expression compares against the value, `line` says the dashboards draw
it as a threshold step. checks.thresholds uses both to prove a changed value moves the alert
and its dashboard line.
"""
import contextlib
import dataclasses

import yaml

from lib import ROOT

SOURCE = ROOT / "prometheus/src/thresholds.yml"
# Units: a 0-1 ratio, seconds, a count of nodes, a burn-rate factor (times the error budget).
UNITS = ("ratio", "seconds", "count", "factor")


def key(unit, alert=None, severity=None, line=False):
    return dataclasses.field(metadata={"unit": unit, "alert": alert, "severity": severity, "line": line})


@dataclasses.dataclass(frozen=True)
class Thresholds:
    cpu_utilization_ratio: float = key("ratio", "HighCPUUsage", line=True)
    memory_utilization_warning_ratio: float = key("ratio", "HighMemoryUsage", "warning", line=True)
    memory_utilization_critical_ratio: float = key("ratio", "HighMemoryUsage", "critical", line=True)
    # The horizon is the second argument of predict_linear, not a line an alert compares
    # against: it moves the rule and the disk panel's trend, not a threshold step.
    disk_full_horizon_seconds: float = key("seconds")
    disk_used_critical_ratio: float = key("ratio", "DiskFull", line=True)
    http_error_ratio: float = key("ratio", "HighErrorRate", line=True)
    http_p95_latency_seconds: float = key("seconds", "HighLatency", line=True)
    upstream_error_ratio: float = key("ratio", "UpstreamFailing", line=True)
    reliability_score_ratio: float = key("ratio", "LowReliabilityScore", line=True)
    error_budget_remaining_ratio: float = key("ratio", "ErrorBudgetBurn", line=True)
    region_down_ratio: float = key("ratio", "RegionDown", line=True)
    region_down_min_nodes: int = key("count", "RegionDown")
    # The SLO alerts compare against burn rate x budget, and the latency SLO is a bucket label:
    # they move the rules and the dashboards, but no alert compares against them as written.
    slo_error_budget_ratio: float = key("ratio")
    slo_latency_seconds: float = key("seconds")
    # {the workbook's long window ("1h"): burn rate}, one per window pair of gen/slo_rules.py.
    slo_burn_rates: dict = key("factor", line=True)


FIELDS = {f.name: f.metadata for f in dataclasses.fields(Thresholds)}


def number(value, unit, where):
    """The value as the generators use it: an int for a count, else a float (so a line written
    `6` is drawn as 6.0, like one read from a rule), or SystemExit naming the bad key."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SystemExit(f"{SOURCE.relative_to(ROOT)}: {where} is {value!r}, not a positive number")
    if unit == "count":
        if not isinstance(value, int):
            raise SystemExit(f"{SOURCE.relative_to(ROOT)}: {where} is {value!r}, not a whole number of nodes")
        return value
    if unit == "ratio" and value > 1:
        raise SystemExit(f"{SOURCE.relative_to(ROOT)}: {where} is {value!r}, not a 0-1 ratio")
    return float(value)


def parse(doc):
    """Thresholds from the file's mapping, or SystemExit naming every missing or unknown key."""
    doc = doc if isinstance(doc, dict) else {}
    missing, unknown = sorted(set(FIELDS) - set(doc)), sorted(set(doc) - set(FIELDS))
    if missing or unknown:
        raise SystemExit(f"{SOURCE.relative_to(ROOT)}: missing keys {missing}, unknown keys {unknown}")
    values = {}
    for name, meta in FIELDS.items():
        if name == "slo_burn_rates":
            if not isinstance(doc[name], dict) or not doc[name]:
                raise SystemExit(f"{SOURCE.relative_to(ROOT)}: {name} is not a mapping of window: burn rate")
            values[name] = {str(w): number(v, meta["unit"], f"{name}.{w}") for w, v in doc[name].items()}
        else:
            values[name] = number(doc[name], meta["unit"], name)
    t = Thresholds(**values)
    if t.memory_utilization_warning_ratio >= t.memory_utilization_critical_ratio:
        raise SystemExit(f"{SOURCE.relative_to(ROOT)}: the memory warning line is not below the critical one")
    return t


_replacement = None


def load():
    """The thresholds file, parsed (or, inside `replaced`, the thresholds given there)."""
    return _replacement or parse(yaml.safe_load(SOURCE.read_text()))


@contextlib.contextmanager
def replaced(thresholds):
    """For checks.thresholds: `load()` returns `thresholds` inside the block, so the generators
    can be run on a changed file without writing one."""
    global _replacement
    _replacement = thresholds
    try:
        yield
    finally:
        _replacement = None


def placeholders(t):
    """{name: text} for the rule sources: @key@ is the value as PromQL reads it (0.9); a ratio
    also has @key_percent@ (90 %), a duration @key_text@ (0.4 s), for the annotations and
    comments that state the line."""
    out = {}
    for name, meta in FIELDS.items():
        value = getattr(t, name)
        if isinstance(value, dict):
            continue
        out[name] = f"{value:g}"
        if meta["unit"] == "ratio":
            out[f"{name}_percent"] = f"{value * 100:g} %"
        if meta["unit"] == "seconds":
            out[f"{name}_text"] = f"{value:g} s"
    return out
