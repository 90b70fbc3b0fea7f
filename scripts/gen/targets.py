"""prometheus/targets/edge-nodes.yml: the Compose fleet's file_sd targets, written by the node
binary itself (`edge-node targets`), which owns the fleet's default size and its regions."""
import subprocess

from lib import ROOT

PATH = ROOT / "prometheus/targets/edge-nodes.yml"


def outputs():
    """{path: text} this generator writes."""
    text = subprocess.run(["cargo", "run", "-q", "-p", "edge-node", "--", "targets",
                           "--address", "edge-node-{id}:8080"],
                          cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return {PATH: text}
