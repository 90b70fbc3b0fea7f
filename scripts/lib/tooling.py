"""Helpers the checks share for tools outside Python: a pinned npm workspace under target/,
and what an Alloy config labels log streams with."""
import json
import re
import subprocess

from lib import ROOT


def npm_workspace(name, packages, module=False):
    """target/NAME with exactly `packages` ({name: version}) installed from npm, reinstalled
    only when the pins change; returns the folder."""
    work = ROOT / "target" / name
    work.mkdir(parents=True, exist_ok=True)
    package = {"name": name, "private": True, **({"type": "module"} if module else {}), "devDependencies": packages}
    manifest = work / "package.json"
    if not manifest.exists() or json.loads(manifest.read_text()) != package or not (work / "node_modules").exists():
        manifest.write_text(json.dumps(package, indent=1))
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund"], cwd=work, check=True)
    return work


def alloy_labels(text):
    """Labels an Alloy config gives log streams (`target_label` and `stage.labels`)."""
    labels = set(re.findall(r'target_label\s*=\s*"([^"]+)"', text))
    for block in re.findall(r"stage\.labels\s*{\s*values\s*=\s*{([^}]*)}", text):
        labels |= set(re.findall(r"(\w+)\s*=", block))
    return labels
