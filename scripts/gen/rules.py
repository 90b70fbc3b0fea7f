"""The alerting and recording rules of every Prometheus profile (gen/profiles.py), from one
definition: the rule sources prometheus/src/{alerts,recording}.yml, whose @name@ placeholders
are the lines of prometheus/src/thresholds.yml (gen/thresholds.py) and what depends on the
scrape interval (windows, evaluation intervals, holds: `values` below), plus the SLO rules of
gen/slo_rules.py. Writes <profile dir>/rules/*.yml, and the fleet profile's prometheus.yml
from the demo's (only the global intervals and the paths differ). `scripts/py -m gen rules`.
"""
import re

import yaml

from gen import generated_by, slo_rules, thresholds
from gen.profiles import DEMO, PROFILES, duration
from lib import ROOT

SOURCES = ROOT / "prometheus/src"
# A line of a rule source that starts with `##` is a note for its editors (what the
# placeholders are), left out of the rules.
EDITOR_NOTE = re.compile(r"^##.*\n", re.M)


def text(seconds):
    """A duration for prose: 1 s, 0.5 s, 30 s, 100 s."""
    return f"{seconds:g} s"


def values(p):
    keep = {n: p.scrape_s * n for n in (1, 2, 5)}
    return {
        "profile": p.name,
        "scrape_text": text(p.scrape_s),
        "eval_text": text(p.eval_s),
        "fast_eval": duration(p.fast_eval_s),
        "fast_eval_text": text(p.fast_eval_s),
        "detect_text": text(p.scrape_s + p.fast_eval_s + p.fast_eval_s),
        "fast": p.fast,
        "fast_text": text(p.scrape_s * 3),
        "history": p.history,
        "history_text": text(p.scrape_s * 10),
        "leak": p.leak,
        "leak_text": text(p.scrape_s * p.leak_scrapes),
        "oom": p.oom,
        "oom_text": text(p.oom_s),
        "fast_fail": f"{p.scrape_timeout_s / 2:g}",
        "timeout_line": f"{p.scrape_timeout_s * 0.9:g}",
        "timeout_text": text(p.scrape_timeout_s),
        "keep1": duration(keep[1]),
        "keep2": duration(keep[2]),
        "keep5": duration(keep[5]),
        "keep5_text": text(keep[5]),
        "node_down_for": duration(p.node_down_for_s) if p.node_down_for_s else "0s",
        "region_keep": duration(p.region_keep_firing_s),
        "period": f"{slo_rules.period_hours(p):g}h",
        "period_text": f"{slo_rules.period_hours(p):g} h",
    }


def render(source, p):
    """prometheus/src/<source> at profile p, opened by the line that marks it generated."""
    profile, lines = values(p), thresholds.placeholders(thresholds.load())
    if set(profile) & set(lines):
        raise SystemExit(f"gen/rules.py: placeholders {sorted(set(profile) & set(lines))} are both a profile "
                         "value and a threshold; rename one")
    vals = profile | lines

    def value(m):
        if m.group(1) not in vals:
            raise SystemExit(f"prometheus/src/{source}: unknown placeholder {m.group(0)}")
        return vals[m.group(1)]

    body = re.sub(r"@(\w+)@", value, EDITOR_NOTE.sub("", (SOURCES / source).read_text()))
    out = f"# {generated_by('rules', f'prometheus/src/{source}', 'prometheus/src/thresholds.yml')}\n" + body
    yaml.safe_load(out)  # a source edit that breaks YAML fails here, not in Prometheus
    return out


def prometheus_config(p):
    """The demo's prometheus.yml with the profile's global intervals (the demo's own file is
    hand-written; its intervals must be the demo profile's)."""
    demo = (ROOT / "prometheus/prometheus.yml").read_text()
    glob = yaml.safe_load(demo)["global"]
    want = {"scrape_interval": duration(DEMO.scrape_s), "scrape_timeout": duration(DEMO.scrape_timeout_s),
            "evaluation_interval": duration(DEMO.eval_s)}
    if {k: glob[k] for k in want} != want:
        raise SystemExit(f"prometheus/prometheus.yml: global intervals {glob} are not the demo profile's {want}")
    head, _, rest = demo.partition("\nglobal:")
    comment = (f"# {generated_by('rules', 'prometheus/prometheus.yml')}\n"
               f"# Prometheus at the {p.name} profile: {text(p.scrape_s)} scrapes, {text(p.eval_s)} evaluations (the\n"
               f"# per-node alerts every {text(p.fast_eval_s)}), for hundreds to a thousand nodes on one machine.\n"
               "# Only the global intervals and the targets' path differ from prometheus/prometheus.yml.\n"
               "# Its rules are in rules/ beside this file.\n")
    body = ("\nglobal:" + rest).replace(f"scrape_interval: {want['scrape_interval']}",
                                        f"scrape_interval: {duration(p.scrape_s)}")
    body = body.replace(f"scrape_timeout: {want['scrape_timeout']}", f"scrape_timeout: {duration(p.scrape_timeout_s)}")
    body = body.replace(f"evaluation_interval: {want['evaluation_interval']}",
                        f"evaluation_interval: {duration(p.eval_s)}")
    body = body.replace('"targets/edge-nodes.yml"', '"../targets/edge-nodes.yml"')
    return comment + body


def outputs():
    """{path: text} this generator writes."""
    out = {}
    for p in PROFILES.values():
        out[p.rules_dir / "alerts.yml"] = render("alerts.yml", p)
        out[p.rules_dir / "recording.yml"] = render("recording.yml", p)
        out[p.rules_dir / "slo.yml"] = slo_rules.render(p)
        if p is not DEMO:
            out[ROOT / p.dir / "prometheus.yml"] = prometheus_config(p)
    return out
