"""Fixtures of the end-to-end suite: the binaries it drives and the whole no-Docker stack
(scripts/run-native.sh on free loopback ports), started once per test module that uses it and
stopped by process group at the end, also on failure.

No test depends on another having run: each runs alone by id and in any order. What a claim
needs of the stack's history is a fixture of its module (a rest window observed before
anything disturbs the stack, an outage and what was read while it lasted), so it happens, in
the order the claims need, whichever test asks first."""
import subprocess

import pytest

from lib import ROOT, fleet
from lib.stack import NativeStack, promql, wait_until


@pytest.fixture(scope="session")
def binaries():
    """The debug builds of the CLI and the alert sink (the stack builds its own release ones)."""
    subprocess.run(["cargo", "build", "-q", "-p", "inject", "-p", "alert-sink"], cwd=ROOT, check=True)
    return {"inject": ROOT / "target/debug/inject", "alert-sink": ROOT / "target/debug/alert-sink"}


@pytest.fixture(scope="module")
def stack():
    """The running stack (demo profile, the default fleet), with every target up; stopped at
    the end of the module that uses it, so the scale test's stack never runs beside it."""
    with NativeStack(ROOT) as running:
        wait_until(f"{fleet.size()} edge-node targets up",
                   lambda: len(promql(running.prom, 'up{job="edge-node"} == 1')) == fleet.size(), timeout=300)
        yield running
        print(f"\n(stack logs in {running.state})")
