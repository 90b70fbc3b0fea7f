"""The Compose fleet as the generated targets file describes it (prometheus/targets/
edge-nodes.yml, written by `edge-node targets`, which owns the fleet's size and regions):
every script that needs the node count or the regions reads them here."""
import functools
import json
import subprocess

import yaml

from lib import ROOT

TARGETS = ROOT / "prometheus/targets/edge-nodes.yml"


@functools.cache
def nodes():
    """{node id: region} of the default fleet."""
    return {int(t["labels"]["node"]): t["labels"]["region"] for t in yaml.safe_load(TARGETS.read_text())}


def size():
    """How many nodes the default fleet has."""
    return len(nodes())


def regions():
    """The regions, in node order."""
    return list(dict.fromkeys(nodes().values()))


@functools.cache
def rules(kind):
    """Every rule of prometheus/rules/*.yml that has `kind` ("alert" or "record")."""
    return [r for f in sorted((ROOT / "prometheus/rules").glob("*.yml"))
            for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"] if kind in r]


@functools.cache
def catalog():
    """The failure catalog as `edge-node catalog --json` prints it: one entry per mode with its
    `failure`, `expected_alert`, `accepts_service` and `intensity` (never read from Rust source)."""
    out = subprocess.run(["cargo", "run", "-q", "-p", "edge-node", "--", "catalog", "--json"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)
