"""Holds what makes the first run work on machines unlike ours (docs/COMPOSE.md, "The first run
elsewhere" and "Cross-site requests", argues each from upstream source):

- the Dockerfile copies every crate's manifest into its dependency layer;
- the Dockerfile uses only what the classic builder also reads (Docker without the buildx
  plugin falls back to it): no `RUN --mount`, heredocs or BuildKit-only COPY/ADD/RUN flags;
- every file a container bind-mounts from the repository is world-readable, every folder
  world-searchable (the stock images run as users other than the clone's owner);
- compose.selinux.yml gives every repository bind mount `z` (read-only still), for SELinux hosts;
- Alloy picks containers by a label of ours that every service carries, whatever the project
  name (`-p`, COMPOSE_PROJECT_NAME), never by Compose's project label;
- the Docker socket the proxy mounts follows DOCKER_SOCKET (rootless Docker, Podman);
- no Prometheus is started with --web.enable-lifecycle (Compose, Kubernetes, the no-Docker run):
  its /-/quit and /-/reload are plain POSTs any web page can send;
- Alloy sends no usage reports;
- the workspace's rust-version is at least every locked crate's (a toolchain too old for a
  dependency then gets Cargo's clear message, not a compile error).

    scripts/py -m checks.first_run              # from the repository root
    scripts/py -m checks.first_run --self-test  # break each rule on purpose and see it caught
"""
import copy
import json
import os
import pathlib
import re
import stat
import subprocess
import sys
import tempfile

from checks.compose import compose_config
from lib import ROOT

# Dockerfile syntax the classic builder rejects (docs.docker.com/reference/dockerfile: these
# are BuildKit features; `# syntax=` is only a comment to the classic builder).
BUILDKIT_ONLY = {
    r"^RUN\s+--(mount|network|security)\b": "RUN --mount/--network/--security",
    r"^(COPY|ADD)\s+(\S+\s+)*--(link|parents|exclude|checksum|keep-git-dir)\b": "COPY/ADD --link/--parents/...",
    r"^(COPY|ADD)\s+(\S+\s+)*--chmod\b": "COPY --chmod",
    r"^(RUN|COPY)\s.*<<-?\s*['\"]?\w+": "a heredoc",
}
LABEL_FILTER = re.compile(r'filter\s*{\s*name\s*=\s*"label"\s*values\s*=\s*\["([^"=]+)=([^"]*)"\]\s*}')
SELINUX_OVERRIDE = "compose.selinux.yml"
SOCKET_VAR, MOVED_SOCKET = "DOCKER_SOCKET", "/run/user/1000/docker.sock"
OTHER_PROJECT = "someone-elses-name"
LIFECYCLE = "--web.enable-lifecycle"
PROMETHEUS_COMMANDS = ("docker-compose.yml", "deploy/kubernetes/overlays/standalone/prometheus.yaml",
                       "scripts/run-native.sh", "scripts/lib/stack.py")


def classic_builder(dockerfile):
    text = dockerfile.replace("\\\n", " ")
    return [f"Dockerfile: {what} needs BuildKit; Docker without buildx uses the classic builder, which rejects "
            f"it: `{line.strip()[:70]}`"
            for line in text.splitlines() for pattern, what in BUILDKIT_ONLY.items()
            if re.search(pattern, line.strip())]


def dependency_layer(dockerfile):
    """Every workspace crate's manifest is copied before the dependencies are built (a new crate
    left out fails the image build with a missing-manifest error)."""
    copied = set(re.findall(r"^COPY (crates/[\w-]+/Cargo\.toml) ", dockerfile, re.M))
    crates = {str(p.relative_to(ROOT)) for p in ROOT.glob("crates/*/Cargo.toml")}
    return [f"Dockerfile: the dependency layer does not copy {m}: add `COPY {m} {m.rsplit('/', 1)[0]}/`"
            for m in sorted(crates - copied)]


def unreadable(paths):
    """Files that are not world-readable and folders that are not world-searchable, under `paths`."""
    problems = []
    for top in paths:
        for path in [top, *sorted(top.rglob("*"))] if top.is_dir() else [top]:
            mode = path.stat().st_mode
            need = stat.S_IROTH | stat.S_IXOTH if path.is_dir() else stat.S_IROTH
            if mode & need != need:
                problems.append(f"{path.relative_to(ROOT)} is mode {stat.filemode(mode)}: a container running as "
                                "another user cannot read it (fix a clone: chmod -R a+rX "
                                "prometheus alertmanager grafana loki tempo alloy haproxy blackbox init user-rules)")
    return problems


def mounted_from_repository(model):
    return sorted({pathlib.Path(v["source"]) for s in model["services"].values() for v in s.get("volumes", [])
                   if v["type"] == "bind" and pathlib.Path(v["source"]).is_relative_to(ROOT)})


def selinux_override(model, with_override):
    """Every repository bind mount of the plain model is, with the override, read-only and `z`."""
    problems = []
    for name, s in model["services"].items():
        for v in s.get("volumes", []):
            if v["type"] != "bind" or not pathlib.Path(v["source"]).is_relative_to(ROOT):
                continue
            over = [o for o in with_override["services"][name].get("volumes", []) if o.get("target") == v["target"]]
            if len(over) != 1 or (over[0].get("bind") or {}).get("selinux") != "z" or not over[0].get("read_only"):
                problems.append(f"compose.selinux.yml: {name}'s mount of {pathlib.Path(v['source']).relative_to(ROOT)} "
                                f"at {v['target']} is not read-only with `z` ({over})")
    return problems


def log_label(model, alloy):
    filters = LABEL_FILTER.findall(alloy)
    if len(filters) != 1:
        return [f"alloy/config.alloy: discovery needs exactly one label filter, has {filters}"]
    key, value = filters[0]
    if key.startswith("com.docker.compose."):
        return [f"alloy/config.alloy: filters on Compose's {key}, which `-p` or COMPOSE_PROJECT_NAME changes"]
    return [f"{name}: no label {key}={value} under another project name: Alloy would not ship its logs"
            for name, s in model["services"].items() if (s.get("labels") or {}).get(key) != value]


def socket_variable(moved):
    proxy = moved["services"].get("docker-socket-proxy", {})
    if not any(v.get("source") == MOVED_SOCKET for v in proxy.get("volumes", [])):
        return [f"docker-socket-proxy: with {SOCKET_VAR}={MOVED_SOCKET} it does not mount that socket"]
    return []


def prometheus_flags(texts):
    problems = []
    for name, text in texts.items():
        code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
        if re.search(rf"(^|\s){re.escape(LIFECYCLE)}\b", code, re.M):
            problems.append(f"{name}: starts Prometheus with {LIFECYCLE}: a page on any web site can POST /-/quit")
    return problems


def alloy_reporting(model):
    command = model["services"].get("alloy", {}).get("command") or []
    return [] if "--disable-reporting" in command else ["alloy: sends usage reports (add --disable-reporting)"]


def version(v):
    """(major, minor, patch): "1.88" and "1.88.0" are the same version."""
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def msrv(metadata, cargo_toml):
    declared = re.search(r'^rust-version = "([\d.]+)"', cargo_toml, re.M)
    if not declared:
        return ["Cargo.toml: no workspace rust-version"]
    members = set(metadata["workspace_members"])
    needs = [(version(p["rust_version"]), f"{p['name']} {p['version']}") for p in metadata["packages"]
             if p.get("rust_version") and p["id"] not in members]
    top = max(needs, default=((0,), "nothing"))
    if version(declared.group(1)) < top[0]:
        return [f"Cargo.toml: rust-version {declared.group(1)}, but the lockfile's {top[1]} needs "
                f"{'.'.join(map(str, top[0]))}"]
    return []


def inputs():
    model = json.loads(compose_config("--format", "json").stdout)
    other = json.loads(compose_config("--format", "json", env={"COMPOSE_PROJECT_NAME": OTHER_PROJECT}).stdout)
    moved = json.loads(compose_config("--format", "json", env={SOCKET_VAR: MOVED_SOCKET}).stdout)
    selinux = json.loads(compose_config("--format", "json", files=("docker-compose.yml", SELINUX_OVERRIDE)).stdout)
    metadata = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--locked"], cwd=ROOT,
                                         capture_output=True, text=True, check=True).stdout)
    texts = {name: (ROOT / name).read_text() for name in PROMETHEUS_COMMANDS if (ROOT / name).exists()}
    return dict(dockerfile=(ROOT / "Dockerfile").read_text(), model=model, other=other, moved=moved, selinux=selinux,
                alloy=(ROOT / "alloy/config.alloy").read_text(), metadata=metadata,
                cargo_toml=(ROOT / "Cargo.toml").read_text(), texts=texts,
                mounted=mounted_from_repository(model))


def check(i):
    return (classic_builder(i["dockerfile"]) + dependency_layer(i["dockerfile"]) + unreadable(i["mounted"])
            + selinux_override(i["model"], i["selinux"])
            + log_label(i["other"], i["alloy"])
            + socket_variable(i["moved"]) + prometheus_flags(i["texts"]) + alloy_reporting(i["model"])
            + msrv(i["metadata"], i["cargo_toml"]))


def self_test(i):
    """Breaks each rule on purpose and returns the names of the breakages not caught."""
    def services(m):
        return m["services"]

    with tempfile.TemporaryDirectory(dir=ROOT / "target") as tmp:
        private = pathlib.Path(tmp) / "prometheus.yml"
        private.write_text("global: {}\n")
        os.chmod(private, 0o600)
        os.chmod(tmp, 0o755)
        cases = {
            "cache mount": lambda j: j.update(dockerfile=j["dockerfile"].replace(
                "RUN find crates", "RUN --mount=type=cache,target=/src/target find crates")),
            "COPY --link": lambda j: j.update(dockerfile=j["dockerfile"].replace("COPY crates ./crates",
                                                                                 "COPY --link crates ./crates")),
            "a crate's manifest left out": lambda j: j.update(dockerfile=j["dockerfile"].replace(
                "COPY crates/stack-client/Cargo.toml crates/stack-client/\n", "")),
            "heredoc": lambda j: j.update(dockerfile=j["dockerfile"] + "RUN <<EOF\ntrue\nEOF\n"),
            "a private config file": lambda j: j["mounted"].append(private),
            "a mount without z": lambda j: next(v for v in services(j["selinux"])["grafana"]["volumes"]
                                                if v["type"] == "bind")["bind"].pop("selinux"),
            "a mount left out": lambda j: services(j["selinux"])["loki"]["volumes"].pop(
                next(k for k, v in enumerate(services(j["selinux"])["loki"]["volumes"]) if v["type"] == "bind")),
            "compose project filter": lambda j: j.update(alloy=j["alloy"].replace(
                LABEL_FILTER.search(j["alloy"]).group(0),
                'filter {\n    name   = "label"\n    values = ["com.docker.compose.project=edge-fleet"]\n  }')),
            "a service without the label": lambda j: services(j["other"])["loki"].pop("labels"),
            "socket path fixed": lambda j: [v.update(source="/var/run/docker.sock")
                                            for v in services(j["moved"])["docker-socket-proxy"]["volumes"]
                                            if v.get("source") == MOVED_SOCKET],
            "lifecycle in compose": lambda j: j["texts"].update({"docker-compose.yml": j["texts"][
                "docker-compose.yml"] + f"\n      - {LIFECYCLE}\n"}),
            "lifecycle in the no-Docker run": lambda j: j["texts"].update({"scripts/run-native.sh": j["texts"][
                "scripts/run-native.sh"].replace("--enable-feature=exemplar-storage",
                                                 f"--enable-feature=exemplar-storage {LIFECYCLE}")}),
            "alloy reports": lambda j: services(j["model"])["alloy"]["command"].remove("--disable-reporting"),
            "a crate newer than the MSRV": lambda j: j["metadata"]["packages"].append(
                {"id": "x", "name": "newer", "version": "1.0.0", "rust_version": "1.999"}),
        }
        if check(i):
            return ["(the unbroken inputs already fail)"]
        missed = []
        for name, breakage in cases.items():
            j = copy.deepcopy(i)
            breakage(j)
            if not check(j):
                missed.append(name)
        return missed


def main():
    i = inputs()
    if "--self-test" in sys.argv:
        missed = self_test(i)
        print(f"self-test: {'missed ' + ', '.join(missed) if missed else 'every breakage caught'}")
        return 1 if missed else 0
    problems = check(i)
    for p in problems:
        print(f"first run: {p}", file=sys.stderr)
    if not problems:
        print(f"first run: classic builder, {len(i['mounted'])} mounts readable, SELinux override, log label, "
              "socket variable, Prometheus flags, Alloy reporting, rust-version: OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
