"""Checks the Loki and Alloy configs by structure (neither can run here):

- loki/loki.yml: single tenant, TSDB index with schema v13 on the filesystem, retention
  enforced by the compactor, and listening where Grafana's datasource and Alloy send;
- alloy/config.alloy: balanced blocks; discovers containers through the Docker socket proxy
  (Alloy holds no socket; checks.compose checks the proxy's rules), filtered to the containers
  that carry this project's label; labels streams with service and node; keeps JSON lines; writes to the compose
  service `loki`.

Which JSON fields the dashboards' LogQL queries read, and that real log lines carry them,
is checked by scripts/e2e/test_native.py against the running fleet's log.
"""
import re
import sys

import yaml

from lib import ROOT


def loki(compose):
    problems = []
    cfg = yaml.safe_load((ROOT / "loki/loki.yml").read_text())
    schema = cfg["schema_config"]["configs"][-1]
    if (schema["store"], schema["schema"], schema["object_store"]) != ("tsdb", "v13", "filesystem"):
        problems.append(f"loki.yml: the current schema must be tsdb/v13/filesystem, is {schema}")
    if cfg.get("auth_enabled") is not False:
        problems.append("loki.yml: auth_enabled must be false for the single-tenant demo")
    if (not cfg.get("compactor", {}).get("retention_enabled")
            or not cfg.get("limits_config", {}).get("retention_period")):
        problems.append("loki.yml: retention needs compactor.retention_enabled and limits_config.retention_period")
    if cfg["compactor"].get("retention_enabled") and not cfg["compactor"].get("delete_request_store"):
        problems.append("loki.yml: retention needs compactor.delete_request_store")
    port = cfg["server"]["http_listen_port"]
    datasources = (ROOT / "grafana/provisioning/datasources/datasources.yml").read_text()
    if f"http://loki:{port}" not in datasources:
        problems.append(f"Grafana's Loki datasource does not point at loki:{port}")
    mounts = [v for v in compose["services"]["loki"]["volumes"] if v.startswith("./loki/loki.yml:")]
    if not mounts or f"-config.file={mounts[0].split(':')[1]}" not in compose["services"]["loki"]["command"]:
        problems.append("compose does not start Loki with the mounted loki/loki.yml")
    return problems, port


def alloy(compose, loki_port):
    problems = []
    text = (ROOT / "alloy/config.alloy").read_text()
    code = re.sub(r'"(\\.|[^"\\])*"', '""', re.sub(r"//[^\n]*", "", text))
    if code.count("{") != code.count("}"):
        problems.append("config.alloy: unbalanced braces")
    for component in ("discovery.docker", "discovery.relabel", "loki.source.docker", "loki.process", "loki.write"):
        if not re.search(rf'^{re.escape(component)} "\w+" {{', text, re.M):
            problems.append(f"config.alloy: no {component} block")
    if not re.search(r'name\s*=\s*"label"\s*values\s*=\s*\["edge-fleet\.logs=ship"\]', text):
        problems.append("config.alloy: discovery is not limited to the containers labelled edge-fleet.logs=ship "
                        "(checks.first_run holds that every service carries it)")
    labels = set(re.findall(r'target_label\s*=\s*"(\w+)"', text))
    if not {"service", "node"} <= labels:
        problems.append(f"config.alloy: streams must be labelled service and node, are {sorted(labels)}")
    if "stage.json" not in text:
        problems.append("config.alloy: the JSON lines are not parsed")
    if f"http://loki:{loki_port}/loki/api/v1/push" not in text:
        problems.append(f"config.alloy: does not write to loki:{loki_port}")
    service = compose["services"]["alloy"]
    if any("docker.sock" in v for v in service["volumes"]):
        problems.append("compose: Alloy must not mount the Docker socket (it reaches the API through the proxy)")
    proxy = re.findall(r'host\s*=\s*"tcp://([\w-]+):\d+"', text)
    if len(proxy) != 2 or proxy[0] not in compose["services"]:
        problems.append("config.alloy: discovery and log reading must go through the socket proxy service, "
                        f"go to {proxy}")
    if not any(c.endswith("config.alloy") for c in service["command"]):
        problems.append("compose: Alloy is not started with alloy/config.alloy")
    return problems


def main():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    problems, port = loki(compose)
    problems += alloy(compose, port)
    for p in problems:
        print(f"logging: {p}", file=sys.stderr)
    if not problems:
        print("loki/loki.yml and alloy/config.alloy: structure OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
