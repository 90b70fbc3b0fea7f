#!/usr/bin/env python3
"""End to end against the real Alertmanager: routing, inhibition, delivery to the alert sink,
and the sink's page in headless Chromium.

Starts the alert sink and Debian's Alertmanager (with the repo's alertmanager.yml, webhooks
pointed at the sink on loopback) on free 127.0.0.1 ports with a temp data dir, posts alerts to
Alertmanager's API, and checks what the sink received. Stops both by PID, also on failure.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

from e2elib import free_port, http, wait_until

ROOT = pathlib.Path(__file__).resolve().parent.parent
SINK = ROOT / "target/debug/alert-sink"


def iso(t):
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def alert(name, severity, node=None, ends_in=300, **labels):
    now = datetime.now(timezone.utc)
    all_labels = {"alertname": name, "severity": severity, **labels}
    if node:
        all_labels["node"] = node
    return {
        "labels": all_labels,
        "annotations": {"summary": f"{name} on node {node}", "runbook_url": f"http://localhost:9095/runbooks/{name}"},
        "startsAt": iso(now - timedelta(seconds=1)),
        "endsAt": iso(now + timedelta(seconds=ends_in)),
    }


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="edge-e2e-am-"))
    procs = []
    try:
        sink_port, am_port = free_port(), free_port()
        sink_url, am_url = f"http://127.0.0.1:{sink_port}", f"http://127.0.0.1:{am_port}"
        config = (ROOT / "alertmanager/alertmanager.yml").read_text().replace("http://alert-sink:9095", sink_url)
        (tmp / "alertmanager.yml").write_text(config)
        log = open(tmp / "processes.log", "w")
        procs.append(subprocess.Popen(
            [str(SINK), "--port", str(sink_port), "--runbooks", str(ROOT / "docs/runbooks")],
            stdout=log, stderr=log))
        procs.append(subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            stdout=log, stderr=log))
        wait_until("the alert sink", lambda: http("GET", f"{sink_url}/healthz") == "ok", timeout=20)
        wait_until("Alertmanager", lambda: http("GET", f"{am_url}/-/ready") is not None, timeout=20)

        def received(**filters):
            query = "&".join(f"{k}={v}" for k, v in filters.items())
            return http("GET", f"{sink_url}/notifications?{query}")

        # 1. A critical alert pages; the inhibitor must be active before its targets arrive.
        http("POST", f"{am_url}/api/v2/alerts", [alert("NodeDown", "critical", "3")])
        wait_until("NodeDown at the pager", lambda: received(receiver="pager", alertname="NodeDown"))

        # 2. Warnings go to the ticket queue; the heartbeat to its own receiver; inhibited ones nowhere.
        http("POST", f"{am_url}/api/v2/alerts", [
            alert("HighCPUUsage", "warning", "4"),
            alert("HighCPUUsage", "warning", "3"),  # inhibited: node 3 is down
            alert("HighMemoryUsage", "critical", "7"),
            alert("HighMemoryUsage", "warning", "7"),  # inhibited: its critical twin fires
            alert("Watchdog", "none"),
        ])
        wait_until("HighCPUUsage on node 4 in the ticket queue",
                   lambda: received(receiver="ticket-queue", alertname="HighCPUUsage", node="4"))
        wait_until("the critical HighMemoryUsage at the pager",
                   lambda: received(receiver="pager", alertname="HighMemoryUsage", node="7"))
        wait_until("the Watchdog at the heartbeat", lambda: received(receiver="heartbeat", alertname="Watchdog"))
        time.sleep(2)  # give an inhibited alert every chance to (wrongly) arrive
        assert received(alertname="HighCPUUsage", node="3") == [], "NodeDown must inhibit node 3's other alerts"
        memory = received(alertname="HighMemoryUsage", node="7")
        assert [n["severity"] for n in memory] == ["critical"], f"the warning twin must be inhibited, got {memory}"
        inhibited = [a for a in http("GET", f"{am_url}/api/v2/alerts") if a["status"]["inhibitedBy"]]
        names = sorted((a["labels"]["alertname"], a["labels"].get("node"), a["labels"]["severity"]) for a in inhibited)
        assert names == [("HighCPUUsage", "3", "warning"), ("HighMemoryUsage", "7", "warning")], names
        assert received(receiver="pager", alertname="HighCPUUsage") == [], "warnings never page"

        # 3. A resolved alert is reported resolved within seconds (group_interval 1 s).
        http("POST", f"{am_url}/api/v2/alerts", [alert("NodeDown", "critical", "3", ends_in=0)])
        wait_until("NodeDown resolved at the pager",
                   lambda: received(receiver="pager", alertname="NodeDown", status="resolved"), timeout=10)

        # 4. The on-call page, rendered by a real browser, shows what just arrived.
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            raise AssertionError("chromium is not installed")
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / 'chrome'}", "--dump-dom", f"{sink_url}/"],
            capture_output=True, text=True, timeout=60).stdout
        for needle in ['<li class="resolved" data-alertname="NodeDown">', '<li class="firing" data-alertname="HighCPUUsage">',
                       'href="http://localhost:9095/runbooks/NodeDown"', "#oncall"]:
            assert needle in dom, f"the page in Chromium lacks {needle!r}; it rendered:\n{dom[:2000]}"
        first = dom.index('data-alertname="NodeDown"')
        assert dom.index('data-alertname="Watchdog"') > first, "newest first: the resolved NodeDown leads"
        print("alertmanager e2e: routing, inhibition, resolution and the on-call page check out")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if os.environ.get("KEEP_TMP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
