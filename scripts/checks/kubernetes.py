"""Checks the Kubernetes manifests (deploy/kubernetes) offline, as built by `kubectl kustomize`
(no cluster can run here):

- schemas: the built-in kinds against the Kubernetes API schemas (PyPI kubernetes-validate,
  strict: unknown fields fail) for the oldest supported and the newest Kubernetes; the Prometheus
  Operator's kinds with npm @kubernetes-models/prometheus-operator: its validate() (the CRD
  schemas' types, patterns and enums) and a TypeScript type check of the same objects against its
  types (which catches unknown fields, as the API server's strict field validation would);
- rules: the PrometheusRules and the standalone rules ConfigMap hold exactly the rules of
  prometheus/rules/ (runbook links moved off localhost, nothing else), pass `promtool check rules`,
  and the standalone prometheus.yml passes `promtool check config`;
- routing: the Alertmanager config the operator builds from the AlertmanagerConfig (emulated as
  pkg/alertmanager/amcfg.go builds it) passes `amtool check-config` and routes every case of
  alertmanager/tests/routes.txt to its receiver; the standalone Alertmanager runs
  alertmanager.yml unchanged;
- references: every Service selects pods that exist and targets ports they declare; every
  ConfigMap, ServiceAccount and Role a pod or binding names exists; the ServiceMonitor selects the
  fleet's Service by a port it has; every host:port the servers' configs name is a Service here;
- identity: node N is pod edge-node-N, reads its id from its pod index, and the monitors'
  relabelling gives its series node=N and the region the node binary assigns to N, under the
  job name the rules select; the node_exporter shape and the probes get the same node and region
  under Compose's job names, and the probes go to the blackbox exporter's Service;
- your rules (docs/USER_RULES.md): the standalone Prometheus runs init/prometheus-start.sh in an
  init container over the user-rules ConfigMap and the settings ConfigMap (Compose's defaults),
  with yq from an init container, and serves the config it rendered; a user's own kustomization
  over either overlay (fixtures of scripts/e2e) gets its rule files and settings in;
- habits: non-root, read-only root filesystem, no privilege escalation, no capabilities,
  requests and limits, probes, the four app.kubernetes.io labels, images pinned to Compose's;
  the standalone servers run with Compose's flags;
- dashboards and configs: every dashboard and config file is the repository's, byte for byte.

    scripts/py -m checks.kubernetes              # both overlays
    scripts/py -m checks.kubernetes --self-test  # prove every check catches a breakage

Needs kubectl, npm, and promtool/amtool v3 on PATH (scripts/checks/kubernetes.sh sets them up).
"""
import copy
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import kubernetes_validate
import yaml

from gen import kubernetes as gen
from lib import ROOT, tooling

OVERLAYS = {name: gen.DEPLOY / "overlays" / name for name in ("kube-prometheus", "standalone")}
# Oldest Kubernetes the manifests need (start ordinal and pod-index label on by default), newest known.
K8S_VERSIONS = ["1.28", kubernetes_validate.utils.latest_version()]
# The CRD models and the type checker, pinned so the check is reproducible.
NPM_PACKAGES = {"@kubernetes-models/prometheus-operator": "6.0.0", "typescript": "7.0.2"}
CRDS = {"ServiceMonitor": "v1", "PodMonitor": "v1", "PrometheusRule": "v1", "AlertmanagerConfig": "v1alpha1"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}
APP_LABELS = [f"app.kubernetes.io/{k}" for k in ("name", "component", "part-of", "version")]
# Which Compose service each app runs as (for images and flags).
COMPOSE_SERVICE = {"edge-node": "edge-node-1", "alert-sink": "alert-sink", "prometheus": "prometheus",
                   "alertmanager": "alertmanager", "grafana": "grafana", "loki": "loki", "alloy": "alloy",
                   "tempo": "tempo", "blackbox": "blackbox"}
# Init containers that are a Compose service of their own.
COMPOSE_INIT = {"rules-tools": "rules-tools"}


class Loader(yaml.SafeLoader):
    """YAML as Kubernetes reads it: kustomize writes the matcher type `=` bare, which YAML 1.1
    (PyYAML) would take for its `value` tag; Go's YAML reads a string."""


Loader.add_constructor("tag:yaml.org,2002:value", Loader.construct_scalar)


def build(overlay):
    run = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"kubectl kustomize {overlay.relative_to(ROOT)} failed:\n{run.stderr}")
    return [d for d in yaml.load_all(run.stdout, Loader=Loader) if d]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def of_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def named(docs, kind, name):
    """The object of `kind` called `name`, or its kustomize-hashed name (name-0123456789)."""
    return next((d for d in of_kind(docs, kind)
                 if re.fullmatch(re.escape(name) + r"(-[a-z0-9]{10})?", d["metadata"]["name"])), None)


def pod_specs(docs):
    for d in docs:
        if d["kind"] in WORKLOADS:
            yield d, d["spec"]["template"]


def app(d):
    return d["metadata"]["labels"].get("app.kubernetes.io/name")


# ---- schemas -------------------------------------------------------------------------------------

def schemas(builds):
    problems = []
    for overlay, docs in builds.items():
        for d in docs:
            where = f"{overlay}: {d['kind']}/{d['metadata']['name']}"
            if d["kind"] in CRDS:
                continue
            for version in K8S_VERSIONS:
                try:
                    kubernetes_validate.validate(d, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    problems.append(f"{where} (Kubernetes {version}): {'.'.join(map(str, e.path))}: {e.message}")
                except kubernetes_validate.SchemaNotFoundError:
                    problems.append(f"{where}: no schema for {d['apiVersion']} {d['kind']} in Kubernetes {version}")
    return problems + crd_schemas(builds)


VALIDATE_JS = """// Generated by scripts/py -m checks.kubernetes: validate() every operator resource.
import { readFileSync } from "node:fs";
const docs = JSON.parse(readFileSync(process.argv[2], "utf8"));
const problems = [];
for (const [where, d] of docs) {
  const [group, version] = d.apiVersion.split("/");
  const { [d.kind]: Model } = await import(`@kubernetes-models/prometheus-operator/${group}/${version}/${d.kind}`);
  try { new Model(d).validate(); } catch (e) { problems.push(`${where}: ${e.message}`); }
}
console.log(JSON.stringify(problems));
"""


def crd_schemas(builds):
    work = tooling.npm_workspace("kubernetes-crds", NPM_PACKAGES, module=True)
    docs = [(f"{o}: {d['kind']}/{d['metadata']['name']}", d)
            for o, ds in builds.items() for d in ds if d["kind"] in CRDS]
    (work / "docs.json").write_text(json.dumps(docs))
    (work / "validate.mjs").write_text(VALIDATE_JS)
    run = subprocess.run(["node", "validate.mjs", "docs.json"], cwd=work, capture_output=True, text=True)
    if run.returncode != 0:
        return [f"@kubernetes-models validation did not run:\n{run.stderr}"]
    problems = [f"{p} (CRD schema)" for p in json.loads(run.stdout)]
    # The types: an object literal with a field its type lacks fails to compile.
    imports = {f'import type {{ I{k} }} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/{v}/{k}";'
               for k, v in CRDS.items()}
    lines = sorted(imports) + [f"// {where}\nexport const doc{i}: I{d['kind']} = {json.dumps(d)};"
                               for i, (where, d) in enumerate(docs)]
    (work / "docs.ts").write_text("\n".join(lines) + "\n")
    (work / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "noEmit": True, "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022",
        "skipLibCheck": True, "types": []}, "files": ["docs.ts"]}))
    run = subprocess.run(["node_modules/.bin/tsc", "-p", "."], cwd=work, capture_output=True, text=True)
    if run.returncode != 0:
        problems.append(f"operator resources do not type-check ({work}/docs.ts):\n{run.stdout}{run.stderr}")
    return problems


# ---- rules ---------------------------------------------------------------------------------------

def compose_groups():
    """{group name: group} of prometheus/rules/*.yml."""
    return {g["name"]: g for p in gen.RULES for g in yaml.safe_load(p.read_text())["groups"]}


def runbook_base(groups, where):
    """The one base every alert's runbook_url uses (`<base>/<alert>`), and problems."""
    urls = {r["alert"]: r.get("annotations", {}).get("runbook_url", "")
            for g in groups for r in g["rules"] if "alert" in r}
    bases = {u.removesuffix(f"/{a}") for a, u in urls.items()}
    problems = [f"{where}: runbook_url of {a} is not <base>/{a}: {u}"
                for a, u in urls.items() if not u.endswith(f"/{a}")]
    if len(bases) != 1:
        return None, problems + [f"{where}: alerts use several runbook bases: {sorted(bases)}"]
    base = bases.pop()
    if re.search(r"//(localhost|127\.0\.0\.1)\b", base):
        problems.append(f"{where}: runbook links point at {base}, which is no address on a cluster")
    return base, problems


def same_rules(groups, where, extra_keys=lambda g: {}):
    """`groups` are Compose's, with runbook links moved to one base (and `extra_keys`)."""
    base, problems = runbook_base(groups, where)
    expected = compose_groups()
    if [g["name"] for g in groups] != list(expected):
        return problems + [f"{where}: groups {[g['name'] for g in groups]}, Compose has {list(expected)}"]
    for g in groups:
        want = copy.deepcopy(expected[g["name"]])
        for r in want["rules"]:
            if "alert" in r and base:
                r["annotations"]["runbook_url"] = r["annotations"]["runbook_url"].replace(gen.RUNBOOKS, base)
        want.update(extra_keys(want))
        if g != want:
            diff = [k for k in set(g) | set(want) if g.get(k) != want.get(k)]
            problems.append(f"{where}: group {g['name']} differs from Compose's in {sorted(diff)}")
    return problems


def promtool(*args, files):
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            (pathlib.Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            (pathlib.Path(tmp) / name).write_text(text)
        run = subprocess.run(["promtool", *args], cwd=tmp, capture_output=True, text=True)
    return [] if run.returncode == 0 else [f"promtool {' '.join(args)}:\n{run.stdout}{run.stderr}"]


def rules(builds):
    problems = []
    interval = gen.compose_prometheus()["global"]["evaluation_interval"]
    kp = [(d, g) for d in of_kind(builds["kube-prometheus"], "PrometheusRule") for g in d["spec"]["groups"]]
    if kp:
        namespace = kp[0][0]["metadata"]["namespace"]
        problems += same_rules([g for _, g in kp], "kube-prometheus PrometheusRules", lambda want: {
            "interval": want.get("interval", interval), "labels": {**want.get("labels", {}), "namespace": namespace}})
        problems += [f"kube-prometheus: PrometheusRule {d['metadata']['name']} is in {d['metadata']['namespace']}, "
                     f"its group {g['name']} labels alerts {g.get('labels', {}).get('namespace')}" for d, g in kp
                     if g.get("labels", {}).get("namespace") != d["metadata"]["namespace"]]
        problems += promtool("check", "rules", "rules.yml",
                             files={"rules.yml": yaml.safe_dump({"groups": [g for _, g in kp]})})
    else:
        problems.append("kube-prometheus: no PrometheusRule")
    rules_cm = named(builds["standalone"], "ConfigMap", "prometheus-rules")
    config_cm = named(builds["standalone"], "ConfigMap", "prometheus-config")
    if not rules_cm or not config_cm:
        return problems + ["standalone: no prometheus-rules or prometheus-config ConfigMap"]
    if sorted(rules_cm["data"]) != [p.name for p in gen.RULES]:
        problems.append(f"standalone: rules ConfigMap holds {sorted(rules_cm['data'])}, "
                        f"Compose has {[p.name for p in gen.RULES]}")
    groups = [g for name in sorted(rules_cm["data"]) for g in yaml.safe_load(rules_cm["data"][name])["groups"]]
    problems += same_rules(groups, "standalone rules")
    files = ({f"rules/{k}": v for k, v in rules_cm["data"].items()}
             | {"prometheus.yml": config_cm["data"]["prometheus.yml"]})
    return problems + promtool("check", "config", "prometheus.yml", files=files)


# ---- routing -------------------------------------------------------------------------------------

def operator_config(amc):
    """The Alertmanager config the Prometheus Operator makes of one AlertmanagerConfig, merged into
    kube-prometheus-stack's default config (root route and Watchdog to "null"), as
    pkg/alertmanager/amcfg.go does with the default matcher strategy (OnNamespace): receivers are
    renamed <namespace>/<name>/<receiver>, the top route gets namespace="<namespace>" and
    `continue: true`, and inhibit rules get the namespace matcher on both sides."""
    ns, prefix = amc["metadata"]["namespace"], f"{amc['metadata']['namespace']}/{amc['metadata']['name']}/"

    def matchers(ms):
        return [f'{m["name"]}{m.get("matchType", "=")}"{m["value"]}"' for m in ms]

    def route(r):
        out = {gen_key: r[key] for key, gen_key in (("groupBy", "group_by"), ("groupWait", "group_wait"),
               ("groupInterval", "group_interval"), ("repeatInterval", "repeat_interval"), ("continue", "continue"))
               if key in r}
        if r.get("receiver"):
            out["receiver"] = prefix + r["receiver"]
        out["matchers"] = matchers(r.get("matchers", []))
        out["routes"] = [route(c) for c in r.get("routes", [])]
        return out

    top = route(amc["spec"]["route"])
    top["matchers"].append(f'namespace="{ns}"')
    top["continue"] = True
    receivers = [{"name": prefix + r["name"], "webhook_configs": [
        {"url": w["url"], "send_resolved": w.get("sendResolved", True)} for w in r.get("webhookConfigs", [])]}
        for r in amc["spec"]["receivers"]]
    inhibit = [{"source_matchers": matchers(i["sourceMatch"]) + [f'namespace="{ns}"'],
                "target_matchers": matchers(i["targetMatch"]) + [f'namespace="{ns}"'], "equal": i.get("equal", [])}
               for i in amc["spec"].get("inhibitRules", [])]
    return {"route": {"receiver": "null", "group_by": ["namespace"],
                      "routes": [top, {"receiver": "null", "matchers": ['alertname="Watchdog"']}]},
            "receivers": [{"name": "null"}, *receivers], "inhibit_rules": inhibit}


def route_cases():
    for line in (ROOT / "alertmanager/tests/routes.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            receiver, *labels = line.split()
            yield receiver, labels


def amtool_routes(config, cases, ignore=()):
    """Problems of `amtool check-config`, and of each (expected receiver, labels) case: the
    receivers `amtool config routes test` names, less `ignore`, must be exactly the expected one."""
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config))
        run = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True)
        if run.returncode != 0:
            return [f"amtool check-config:\n{run.stdout}{run.stderr}"]
        problems = []
        for receiver, labels in cases:
            run = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={path}", *labels],
                                 capture_output=True, text=True)
            got = set(run.stdout.strip().split(","))
            if run.returncode != 0:
                problems.append(f"amtool config routes test {' '.join(labels)}: {run.stderr.strip()}")
            elif (got - set(ignore) or got) != {receiver}:
                problems.append(f"{{{' '.join(labels)}}} should reach {receiver}, reaches {run.stdout.strip()}")
        return problems


def routing(builds):
    amcs = of_kind(builds["kube-prometheus"], "AlertmanagerConfig")
    if len(amcs) != 1:
        return [f"kube-prometheus: {len(amcs)} AlertmanagerConfigs, expected one"]
    amc = amcs[0]
    prefix = f"{amc['metadata']['namespace']}/{amc['metadata']['name']}/"
    cases = [(prefix + r, [*labels, f"namespace={amc['metadata']['namespace']}"]) for r, labels in route_cases()]
    # Another namespace's alerts (kube-prometheus-stack's own Watchdog) never reach the fleet's receivers.
    cases.append(("null", ["alertname=Watchdog", "severity=none"]))
    # The top route continues (the operator's rule), so the fleet's Watchdog also meets the
    # stack's Watchdog route to "null", which discards it: only the fleet's receivers count.
    problems = [f"kube-prometheus routing: {p}" for p in amtool_routes(operator_config(amc), cases, ignore=["null"])]
    cm = named(builds["standalone"], "ConfigMap", "alertmanager-config")
    if not cm or cm["data"].get("alertmanager.yml") != (ROOT / "alertmanager/alertmanager.yml").read_text():
        problems.append("standalone: the Alertmanager ConfigMap is not alertmanager/alertmanager.yml")
    return problems


# ---- references ----------------------------------------------------------------------------------

def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def service_target(docs, host, port, where):
    """Problems unless `host` (a Service name, or <name>.<namespace>.svc...) is a Service of
    this build with `port`."""
    name, _, rest = host.partition(".")
    svc = named(docs, "Service", name)
    if not svc:
        return [f"{where}: {host}:{port} names no Service of this build"]
    if rest and not re.fullmatch(rf"{re.escape(svc['metadata']['namespace'])}\.svc(\.cluster\.local)?", rest):
        return [f"{where}: {host}:{port} is not the Service {name} of namespace {svc['metadata']['namespace']}"]
    if int(port) not in [p["port"] for p in svc["spec"]["ports"]]:
        return [f"{where}: Service {name} has no port {port}"]
    return []


def config_hosts(docs):
    """(where, host, port) of every http URL or host:port the servers' config files and the
    PrometheusRules' runbook links name."""
    texts = [(f"ConfigMap {cm['metadata']['name']} ({key})", text) for cm in of_kind(docs, "ConfigMap")
             if not cm["metadata"]["name"].startswith("dashboard-") for key, text in cm.get("data", {}).items()]
    texts += [(f"PrometheusRule {d['metadata']['name']}", yaml.safe_dump(d["spec"]))
              for d in of_kind(docs, "PrometheusRule")]
    for where, text in texts:
        for host, port in re.findall(r"(?:https?://|targets:\s*\[?\s*-?\s*|- )([a-z][a-z0-9.-]*):(\d+)", text):
            if host not in ("localhost", "0.0.0.0"):
                yield where, host, port


def references(builds):
    problems = []
    for overlay, docs in builds.items():
        pods = list(pod_specs(docs))
        for svc in of_kind(docs, "Service"):
            where = f"{overlay}: Service {svc['metadata']['name']}"
            chosen = [t for _, t in pods if selects(svc["spec"].get("selector"), t["metadata"]["labels"])]
            if not chosen:
                problems.append(f"{where} selects no pods")
            for port in svc["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                for t in chosen:
                    declared = [(p.get("name"), p["containerPort"])
                                for c in t["spec"]["containers"] for p in c.get("ports", [])]
                    if not any(target in (n, number) for n, number in declared):
                        problems.append(f"{where}: port {port['name']} targets {target}, which its pods do not declare")
        for pdb in of_kind(docs, "PodDisruptionBudget"):
            if not any(selects(pdb["spec"]["selector"]["matchLabels"], t["metadata"]["labels"]) for _, t in pods):
                problems.append(f"{overlay}: PodDisruptionBudget {pdb['metadata']['name']} selects no pods")
        for w, t in pods:
            where = f"{overlay}: {w['kind']} {w['metadata']['name']}"
            spec = t["spec"]
            if spec.get("serviceAccountName") and not named(docs, "ServiceAccount", spec["serviceAccountName"]):
                problems.append(f"{where}: ServiceAccount {spec['serviceAccountName']} does not exist")
            # Volume name -> the ConfigMaps it shows (one, several when projected, none for an emptyDir).
            maps = {v["name"]: [v["configMap"]] if "configMap" in v else
                    [s["configMap"] for s in v.get("projected", {}).get("sources", []) if "configMap" in s]
                    for v in spec.get("volumes", [])}
            for volume, refs in maps.items():
                for ref in refs:
                    cm = next((c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] == ref["name"]), None)
                    if not cm:
                        problems.append(f"{where}: volume {volume} names ConfigMap {ref['name']}, which does not exist")
            for c in spec["containers"]:
                for m in c.get("volumeMounts", []):
                    if m["name"] not in maps:
                        problems.append(f"{where}: mounts volume {m['name']}, which the pod does not have")
                    elif m.get("subPath") and not any(
                            m["subPath"] in (named(docs, "ConfigMap", r["name"]) or {}).get("data", {})
                            for r in maps[m["name"]]):
                        problems.append(f"{where}: mounts {m['subPath']}, which volume {m['name']} does not hold")
        for rb in of_kind(docs, "RoleBinding"):
            if not named(docs, rb["roleRef"]["kind"], rb["roleRef"]["name"]):
                problems.append(f"{overlay}: RoleBinding {rb['metadata']['name']} binds a missing "
                                f"{rb['roleRef']['kind']}")
            problems += [f"{overlay}: RoleBinding {rb['metadata']['name']} names missing {s['kind']} {s['name']}"
                         for s in rb["subjects"] if not named(docs, s["kind"], s["name"])]
        for sm in of_kind(docs, "ServiceMonitor"):
            svcs = [s for s in of_kind(docs, "Service")
                    if selects(sm["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
            if not svcs:
                problems.append(f"{overlay}: ServiceMonitor {sm['metadata']['name']} selects no Service")
            for ep in sm["spec"]["endpoints"]:
                problems += [f"{overlay}: ServiceMonitor {sm['metadata']['name']} scrapes port {ep['port']}, "
                             f"which Service {s['metadata']['name']} does not name"
                             for s in svcs if ep["port"] not in [p["name"] for p in s["spec"]["ports"]]]
        for amc in of_kind(docs, "AlertmanagerConfig"):
            for r in amc["spec"]["receivers"]:
                for w in r.get("webhookConfigs", []):
                    m = re.fullmatch(r"https?://([^:/]+):(\d+)/.*", w["url"])
                    problems += (service_target(docs, m[1], m[2], f"{overlay}: receiver {r['name']}") if m
                                 else [f"{overlay}: {w['url']}"])
        for where, host, port in dict.fromkeys(config_hosts(docs)):
            problems += service_target(docs, host, port, f"{overlay}: {where}")
        problems += fleet_job(docs, overlay)
    return problems


def fleet_job(docs, overlay):
    """The standalone Prometheus keeps the fleet's Service by name and port name: both must exist."""
    cm = named(docs, "ConfigMap", "prometheus-config")
    if not cm:
        return []
    job = next(j for j in yaml.safe_load(cm["data"]["prometheus.yml"])["scrape_configs"]
               if j["job_name"] == gen.FLEET_SERVICE)
    keep = next(r for r in job["relabel_configs"] if r.get("action") == "keep")
    service, port = keep["regex"].split(";")
    svc = named(docs, "Service", service)
    if not svc or port not in [p["name"] for p in svc["spec"]["ports"]]:
        return [f"{overlay}: the Prometheus job {job['job_name']} keeps Service {service} port {port}, "
                "which does not exist"]
    return []


# ---- identity ------------------------------------------------------------------------------------

def relabel(labels, configs):
    """Prometheus' target relabelling (replace, keep, drop: what the fleet's rules use), on a dict
    of labels; None when the target is dropped. Takes the ServiceMonitor's camelCase keys too."""
    labels = dict(labels)
    for c in configs:
        c = {re.sub(r"[A-Z]", lambda m: "_" + m[0].lower(), k): v for k, v in c.items()}
        value = c.get("separator", ";").join(labels.get(s, "") for s in c.get("source_labels", []))
        m = re.fullmatch(c.get("regex", "(.*)"), value)
        action = c.get("action", "replace")
        if (action == "keep" and not m) or (action == "drop" and m):
            return None
        if action == "replace" and m:
            labels[c["target_label"]] = m.expand(re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", c.get("replacement", "$1")))
    return labels


def identity(builds):
    """Node N is pod <statefulset>-N, its process reads N from the pod-index label, and the
    monitors' relabelling of that pod's meta labels gives node=N, the node binary's region for N,
    and instance <pod>:<port> (as Compose's edge-node-N:8080)."""
    problems = []
    region_of = {int(i): r for r, ids in gen.regions().items() for i in ids}
    for overlay, docs in builds.items():
        sts = named(docs, "StatefulSet", gen.FLEET_SERVICE)
        if not sts:
            problems.append(f"{overlay}: no StatefulSet {gen.FLEET_SERVICE}")
            continue
        spec, container = sts["spec"], sts["spec"]["template"]["spec"]["containers"][0]
        if spec.get("ordinals", {}).get("start") != 1:
            problems.append(f"{overlay}: the fleet's ordinals do not start at 1, so pod N is not node N")
        if spec["replicas"] > gen.MAX_NODES:
            problems.append(f"{overlay}: {spec['replicas']} nodes, the region relabelling covers {gen.MAX_NODES}")
        env = {e["name"]: e for e in container.get("env", [])}
        if (env.get("EDGE_NODE_ID", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
                != "metadata.labels['apps.kubernetes.io/pod-index']"):
            problems.append(f"{overlay}: EDGE_NODE_ID does not come from the pod-index label")
        if "EDGE_REGION" in env:
            problems.append(f"{overlay}: EDGE_REGION is set; the node must derive its region from its id, "
                            "as the monitors do")
        port = next((p["containerPort"] for p in container["ports"] if p["name"] == gen.FLEET_PORT), None)
        # The rules select the fleet by job: the operator names a ServiceMonitor's job after the
        # Service (unless jobLabel says otherwise); the standalone config names it itself.
        if overlay == "kube-prometheus":
            # The fleet's own metrics; the shaped jobs are held by shaped_jobs.
            monitors = [sm for sm in of_kind(docs, "ServiceMonitor")
                        if all(ep.get("path", "/metrics") == "/metrics" for ep in sm["spec"]["endpoints"])]
            configs = [r for sm in monitors for ep in sm["spec"]["endpoints"] for r in ep.get("relabelings", [])]
            jobs = [s["metadata"]["name"] if "jobLabel" not in sm["spec"]
                    else f"{s['metadata']['name']}'s {sm['spec']['jobLabel']} label"
                    for sm in monitors for s in of_kind(docs, "Service")
                    if selects(sm["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
        else:
            cm = named(docs, "ConfigMap", "prometheus-config")
            scrapes = [j for j in yaml.safe_load(cm["data"]["prometheus.yml"])["scrape_configs"]
                       if j.get("kubernetes_sd_configs") and j.get("metrics_path", "/metrics") == "/metrics"]
            configs = [r for j in scrapes for r in j.get("relabel_configs", [])]
            jobs = [j["job_name"] for j in scrapes]
        selected = sorted(set(re.findall(r'job="([^"]+)"', "".join(p.read_text() for p in gen.RULES))))
        if jobs != selected:
            problems.append(f"{overlay}: the fleet is scraped as job {jobs}, the rules select job {selected}")
        for i in range(1, spec["replicas"] + 1):
            pod = f"{sts['metadata']['name']}-{i}"
            meta = {gen.POD_INDEX: str(i), "__meta_kubernetes_pod_name": pod,
                    "__meta_kubernetes_pod_container_port_number": str(port),
                    "__meta_kubernetes_service_name": spec["serviceName"],
                    "__meta_kubernetes_endpointslice_port_name": gen.FLEET_PORT}
            got = relabel(meta, configs) or {}
            want = {"node": str(i), "region": region_of.get(i), "instance": f"{pod}:{port}"}
            if {k: got.get(k) for k in want} != want:
                problems.append(f"{overlay}: pod {pod} gets target labels {({k: got.get(k) for k in want})}, "
                                f"expected {want}")
                break
    return problems


def shaped_jobs(builds):
    """The node_exporter shape and the probes: every pod N gets node=N and its region under
    Compose's job names (node, blackbox); the probe's target is the node's shop route, its instance
    that URL, its address the blackbox exporter's Service of this build."""
    problems = []
    region_of = {int(i): r for r, ids in gen.regions().items() for i in ids}
    compose_jobs = {j["job_name"]: j for j in gen.compose_prometheus()["scrape_configs"]}
    for overlay, docs in builds.items():
        sts = named(docs, "StatefulSet", gen.FLEET_SERVICE)
        port = next(p["containerPort"] for p in sts["spec"]["template"]["spec"]["containers"][0]["ports"]
                    if p["name"] == gen.FLEET_PORT)
        if overlay == "kube-prometheus":
            jobs = {ep.get("path"): (ep.get("relabelings", []), ep.get("params", {}), sm["metadata"]["name"])
                    for sm in of_kind(docs, "ServiceMonitor") for ep in sm["spec"]["endpoints"]}
        else:
            cm = named(docs, "ConfigMap", "prometheus-config")
            jobs = {j.get("metrics_path"): (j.get("relabel_configs", []), j.get("params", {}), j["job_name"])
                    for j in yaml.safe_load(cm["data"]["prometheus.yml"])["scrape_configs"]
                    if j.get("kubernetes_sd_configs")}
        for name in ("node", "blackbox"):
            want_job = compose_jobs[name]
            found = jobs.get(want_job["metrics_path"])
            if not found:
                problems.append(f"{overlay}: nothing scrapes the fleet's {want_job['metrics_path']} "
                                f"(Compose's job {name})")
                continue
            configs, params, job_name = found
            if params != want_job.get("params", {}):
                problems.append(f"{overlay}: {job_name} asks {params}, Compose {want_job.get('params', {})}")
            pod = f"{sts['metadata']['name']}-3"
            meta = {gen.POD_INDEX: "3", "__meta_kubernetes_pod_name": pod, "__address__": f"10.0.0.3:{port}",
                    "__meta_kubernetes_pod_container_port_number": str(port), "job": job_name,
                    "__meta_kubernetes_service_name": gen.FLEET_SERVICE,
                    "__meta_kubernetes_endpointslice_port_name": gen.FLEET_PORT}
            got = relabel(meta, configs) or {}
            want = {"node": "3", "region": region_of.get(3), "job": name}
            if name == "blackbox":
                want |= {"instance": f"http://10.0.0.3:{port}/api/products",
                         "__param_target": f"http://10.0.0.3:{port}/api/products"}
                host, _, bb_port = got.get("__address__", "").rpartition(":")
                problems += service_target(docs, host, bb_port or "0", f"{overlay}: {job_name}'s exporter")
            if {k: got.get(k) for k in want} != want:
                problems.append(f"{overlay}: {job_name} gives pod {pod} {({k: got.get(k) for k in want})}, "
                                f"expected {want}")
    return problems


# ---- your rules ----------------------------------------------------------------------------------

START = ROOT / "init/prometheus-start.sh"
FIXTURES = ROOT / "scripts/e2e/fixtures/user-rules/good"


def script_default(name):
    m = re.search(rf"^\w+=\$\{{{name}:?-([^}}]*)\}}", START.read_text(), re.M)
    return m and m.group(1)


def user_rules(builds):
    """The standalone Prometheus: the prepare init container runs the start script over the
    user's rules and the settings, with yq from the rules-tools init container, and the server
    reads what it rendered. The settings' defaults are Compose's."""
    problems = []
    docs = builds["standalone"]
    w = named(docs, "Deployment", "prometheus")
    spec = w["spec"]["template"]["spec"] if w else {"initContainers": [], "containers": [{}], "volumes": []}
    inits = {c["name"]: c for c in spec.get("initContainers", [])}
    prepare, tools, server = inits.get("prepare", {}), inits.get("rules-tools", {}), spec["containers"][0]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}

    def mounted(c, path):
        m = next((m for m in c.get("volumeMounts", []) if m["mountPath"] == path), None)
        return (m, volumes.get(m["name"], {})) if m else (None, {})

    start = named(docs, "ConfigMap", "prometheus-start")
    script = prepare.get("command", [None, None])[1] if len(prepare.get("command", [])) > 1 else None
    m, v = mounted(prepare, script)
    if (prepare.get("command", [])[:1] != ["/bin/sh"] or "--prepare-only" not in prepare.get("command", [])
            or not start or v.get("configMap", {}).get("name") != start["metadata"]["name"]
            or start["data"].get(m and m.get("subPath")) != START.read_text()):
        problems.append("standalone: the prepare init container must run init/prometheus-start.sh --prepare-only "
                        "from the prometheus-start ConfigMap (a copy of the file)")
    user = named(docs, "ConfigMap", "prometheus-user-rules")
    m, v = mounted(prepare, script_default("EDGE_USER_RULES"))
    if not user or v.get("configMap", {}).get("name") != user["metadata"]["name"]:
        problems.append(f"standalone: the prepare init container must mount the prometheus-user-rules ConfigMap at "
                        f"{script_default('EDGE_USER_RULES')}")
    run = "/run/edge-fleet"
    (pm, pv), (sm, _) = mounted(prepare, run), mounted(server, run)
    if not pm or not sm or pm["name"] != sm["name"] or "emptyDir" not in pv:
        problems.append(f"standalone: prepare and the server must share an emptyDir at {run}")
    config = next((a.split("=", 1)[1] for a in server.get("args", []) if a.startswith("--config.file=")), None)
    if config != f"{run}/prometheus.yml":
        problems.append(f"standalone: the server reads {config}, not the config prepare renders")
    yq = script_default("EDGE_YQ") or ""
    tm, _ = mounted(prepare, str(pathlib.PurePosixPath(yq).parent))
    wm = next((m for m in tools.get("volumeMounts", []) if tm and m["name"] == tm["name"]), None)
    if not tm or not wm or f"{wm['mountPath']}/yq" not in " ".join(tools.get("command", [])):
        problems.append(f"standalone: the rules-tools init container must put yq at {yq} for prepare")
    # The settings: the env the script reads, with Compose's defaults.
    refs = [e["configMapRef"]["name"] for e in prepare.get("envFrom", []) if "configMapRef" in e]
    settings = next((c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] in refs), None)
    compose_env = compose().get("prometheus", {}).get("environment", {})
    if not settings:
        problems.append("standalone: prepare reads no settings ConfigMap")
    else:
        for key, value in settings["data"].items():
            if key not in compose_env:
                problems.append(f"standalone: settings {key} is no variable Compose gives the start script")
                continue
            want = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(compose_env[key]))
            if want != value:
                problems.append(f"standalone: settings {key}={value!r}, Compose defaults {want!r}")
    problems += user_overlays()
    return problems


def user_overlays():
    """A user's kustomization over each overlay, as docs/USER_RULES.md writes it, builds with
    their files in: the standalone user-rules ConfigMap replaced and still the one mounted, a
    setting merged; a PrometheusRule added for kube-prometheus-stack, with the release label."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        d = pathlib.Path(tmp)
        for f in ("team.yaml", "blackbox.yml"):
            shutil.copy(FIXTURES / f, d / f)
        standalone = d / "standalone"
        standalone.mkdir()
        for f in ("team.yaml", "blackbox.yml"):
            shutil.copy(FIXTURES / f, standalone / f)
        (standalone / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [os.path.relpath(OVERLAYS["standalone"], standalone)],
            "configMapGenerator": [
                {"name": "prometheus-user-rules", "namespace": "edge-fleet", "behavior": "replace",
                 "files": ["team.yaml", "blackbox.yml"]},
                {"name": "edge-fleet-settings", "namespace": "edge-fleet", "behavior": "merge",
                 "literals": ["NODE_EXPORTER_JOB=node-exporter"]}]}))
        docs = build(standalone)
        user = named(docs, "ConfigMap", "prometheus-user-rules")
        w = named(docs, "Deployment", "prometheus")
        used = [v["configMap"]["name"] for v in w["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
        if not user or sorted(user.get("data", {})) != ["blackbox.yml", "team.yaml"] \
                or user["metadata"]["name"] not in used:
            problems.append("standalone: a user's kustomization does not get its rule files to Prometheus")
        if named(docs, "ConfigMap", "edge-fleet-settings")["data"].get("NODE_EXPORTER_JOB") != "node-exporter":
            problems.append("standalone: a user's kustomization cannot set NODE_EXPORTER_JOB")
        kp = d / "kube-prometheus"
        kp.mkdir()
        shutil.copy(FIXTURES / "team.yaml", kp / "team.yaml")
        (kp / "kustomization.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [os.path.relpath(OVERLAYS["kube-prometheus"], kp), "team.yaml"],
            "labels": [{"pairs": {"release": "kube-prometheus-stack"}, "includeSelectors": False}]}))
        docs = build(kp)
        mine = [d for d in of_kind(docs, "PrometheusRule") if d["metadata"]["name"].startswith("fixture-")]
        if [d["metadata"].get("labels", {}).get("release") for d in mine] != ["kube-prometheus-stack"] * 2:
            problems.append("kube-prometheus: a user's PrometheusRules do not build with the release label")
    return problems


# ---- habits --------------------------------------------------------------------------------------

def pinned(image):
    return bool(re.fullmatch(r"[^:@\s]+(:[\w][\w.-]*)?(@sha256:[0-9a-f]{64})?", image)) \
        and ":" in image.split("/")[-1] and not image.endswith(":latest")


def habits(builds):
    problems = []
    services = compose()
    for overlay, docs in builds.items():
        namespaces = of_kind(docs, "Namespace")
        if not namespaces or (namespaces[0]["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce")
                              != "restricted"):
            problems.append(f"{overlay}: the namespace does not enforce the restricted Pod Security Standard")
        if not any(selects(p["spec"]["selector"]["matchLabels"], {"app.kubernetes.io/name": gen.FLEET_SERVICE})
                   for p in of_kind(docs, "PodDisruptionBudget")):
            problems.append(f"{overlay}: no PodDisruptionBudget for the fleet")
        for w, t in pod_specs(docs):
            where = f"{overlay}: {w['kind']} {w['metadata']['name']}"
            for obj, what in ((w, ""), (t, " (pod template)")):
                missing = [k for k in APP_LABELS if k not in obj["metadata"].get("labels", {})]
                if missing:
                    problems.append(f"{where}{what}: no {', '.join(missing)}")
            pod = t["spec"].get("securityContext", {})
            if pod.get("runAsNonRoot") is not True or pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                problems.append(f"{where}: pod must set runAsNonRoot and the RuntimeDefault seccomp profile")
            inits = [c["name"] for c in t["spec"].get("initContainers", [])]
            for c in t["spec"].get("initContainers", []) + t["spec"]["containers"]:
                init = c["name"] in inits
                sc, res = c.get("securityContext", {}), c.get("resources", {})
                if (sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True
                        or sc.get("capabilities", {}).get("drop") != ["ALL"]):
                    problems.append(f"{where}: container {c['name']} must be read-only, without privilege escalation "
                                    "or capabilities")
                if not all(k in res.get(kind, {}) for kind in ("requests", "limits") for k in ("cpu", "memory")):
                    problems.append(f"{where}: container {c['name']} lacks cpu/memory requests or limits")
                # Init containers run to completion: Kubernetes allows them no probes.
                if not init and ("readinessProbe" not in c or "livenessProbe" not in c):
                    problems.append(f"{where}: container {c['name']} lacks a readiness or liveness probe")
                if not pinned(c["image"]):
                    problems.append(f"{where}: image {c['image']} is not pinned to a version")
                elif not init and (w["metadata"]["labels"].get("app.kubernetes.io/version")
                                   != c["image"].split(":")[-1].split("@")[0]):
                    problems.append(f"{where}: app.kubernetes.io/version is not the image's tag ({c['image']})")
                service = services.get(COMPOSE_INIT.get(c["name"]) or COMPOSE_SERVICE.get(app(w), ""), {})
                if service.get("image") != c["image"]:
                    problems.append(f"{where}: image {c['image']}, Compose runs {service.get('image')}")
                if (not init and app(w) in ("prometheus", "alertmanager", "loki", "alloy", "tempo", "blackbox")
                        and c.get("args") != service.get("command")):
                    problems.append(f"{where}: flags {c.get('args')} are not Compose's {service.get('command')}")
                if app(w) == "grafana":
                    env = {e["name"]: e.get("value") for e in c.get("env", [])}
                    # Compose's `${VAR:-default}` as a cluster without the variable sees it.
                    compose_env = {k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v))
                                   for k, v in service["environment"].items()}
                    problems += [f"{where}: {k}={env.get(k)!r}, Compose sets {v!r}" for k, v in compose_env.items()
                                 if not k.startswith("GF_SECURITY_ADMIN_") and env.get(k) != v]
            if app(w) == gen.FLEET_SERVICE:
                c = t["spec"]["containers"][0]
                probes = (c.get("readinessProbe", {}).get("httpGet", {}).get("path"),
                          c.get("livenessProbe", {}).get("httpGet", {}).get("path"))
                if probes != ("/readyz", "/healthz"):
                    problems.append(f"{where}: probes {probes}, expected readiness /readyz and liveness /healthz")
    return problems


# ---- dashboards and config files -----------------------------------------------------------------

def configs(builds):
    problems = []
    dashboards = {p.name: p.read_text() for p in sorted((ROOT / "grafana/dashboards").glob("*.json"))}
    for overlay, docs in builds.items():
        held = {k: v for cm in of_kind(docs, "ConfigMap")
                if cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1" for k, v in cm["data"].items()}
        problems += [f"{overlay}: dashboard {name} is not grafana/dashboards/{name}"
                     for name in sorted(set(held) | set(dashboards)) if held.get(name) != dashboards.get(name)]
    for overlay, docs in builds.items():
        cm = named(docs, "ConfigMap", "blackbox-config")
        if not cm or list(cm["data"].values()) != [(ROOT / "blackbox/blackbox.yml").read_text()]:
            problems.append(f"{overlay}: ConfigMap blackbox-config is not blackbox/blackbox.yml")
    docs = builds["standalone"]
    copies = {"grafana-datasources": "grafana/provisioning/datasources/datasources.yml", "loki-config": "loki/loki.yml",
              "grafana-dashboard-provider": "grafana/provisioning/dashboards/dashboards.yml"}
    for name, path in copies.items():
        cm = named(docs, "ConfigMap", name)
        if not cm or list(cm["data"].values()) != [(ROOT / path).read_text()]:
            problems.append(f"standalone: ConfigMap {name} is not {path}")
    alloy = named(docs, "ConfigMap", "alloy-config")
    text = alloy["data"]["config.alloy"] if alloy else ""
    compose_alloy = (ROOT / "alloy/config.alloy").read_text()
    if compose_alloy[compose_alloy.find(gen.ALLOY_PIPELINE):] not in text:
        problems.append("standalone: the Alloy config does not carry Compose's pipeline (alloy/config.alloy)")
    if tooling.alloy_labels(text) != tooling.alloy_labels(compose_alloy):
        problems.append(f"standalone: Alloy labels streams {sorted(tooling.alloy_labels(text))}, "
                        f"Compose {sorted(tooling.alloy_labels(compose_alloy))}")
    grafana = named(docs, "Deployment", "grafana")
    provider = (yaml.safe_load((ROOT / copies["grafana-dashboard-provider"]).read_text())
                ["providers"][0]["options"]["path"])
    spec = grafana["spec"]["template"]["spec"] if grafana else {"volumes": [], "containers": [{}]}
    container = spec["containers"][0]

    def files_at(path):
        """The dashboard files the volume mounted at `path` holds (a ConfigMap or a projection)."""
        mount = next((m["name"] for m in container.get("volumeMounts", []) if m["mountPath"] == path), None)
        volume = next((v for v in spec["volumes"] if v["name"] == mount), {})
        sources = volume.get("projected", {}).get("sources", []) or ([volume] if "configMap" in volume else [])
        return {k for src in sources for k in named(docs, "ConfigMap", src["configMap"]["name"])["data"]}

    # As in Compose: the home dashboard mounted on its own (Grafana provisions its home path
    # itself), every other one in the provider's folder, so each is provisioned exactly once.
    home = ({e["name"]: e.get("value") for e in container.get("env", [])}
            .get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH") or "")
    home_dir, _, home_file = home.rpartition("/")
    in_folder, at_home = files_at(provider), files_at(home_dir) if home_dir != provider else set()
    if home_file not in at_home or home_file in in_folder:
        problems.append(f"standalone: the home dashboard {home!r} must be mounted on its own, outside {provider}")
    if in_folder | at_home != set(dashboards) or in_folder & at_home:
        problems.append(f"standalone: Grafana's {provider} holds {sorted(in_folder)} and {home_dir} {sorted(at_home)}; "
                        f"grafana/dashboards has {sorted(dashboards)}, each to be mounted once")
    return problems


# ---- main ----------------------------------------------------------------------------------------

CHECKS = [schemas, rules, routing, references, identity, shaped_jobs, user_rules, habits, configs]


def first(docs, kind, name=None):
    return next(d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"].startswith(name)))


def container(docs, kind, name):
    return first(docs, kind, name)["spec"]["template"]["spec"]["containers"][0]


def breakages():
    """(check, what, change): each change breaks the built manifests in a way that check must see."""
    def kp(b): return b["kube-prometheus"]
    def sa(b): return b["standalone"]

    def edit_rule(b):
        rule = first(kp(b), "PrometheusRule")["spec"]["groups"][0]["rules"][0]
        rule["expr"] = rule["expr"].replace("[3s]", "[5s]")

    def edit_standalone_rule(b):
        cm = first(sa(b), "ConfigMap", "prometheus-rules")
        cm["data"]["alerts.yml"] = cm["data"]["alerts.yml"].replace("> 0.9", "> 0.8")

    def localhost_runbooks(b):
        for g in first(kp(b), "PrometheusRule")["spec"]["groups"]:
            for r in g["rules"]:
                if "alert" in r:
                    r["annotations"]["runbook_url"] = f"{gen.RUNBOOKS}/{r['alert']}"

    def no_namespace_label(b):
        del first(kp(b), "PrometheusRule")["spec"]["groups"][0]["labels"]

    def misroute(b):
        routes = first(kp(b), "AlertmanagerConfig")["spec"]["route"]["routes"]
        pager = next(r for r in routes
                     if r["matchers"] == [{"name": "severity", "matchType": "=", "value": "critical"}])
        pager["matchers"][0]["value"] = "warning"

    def wrong_selector(b):
        first(sa(b), "Service", "prometheus")["spec"]["selector"]["app.kubernetes.io/name"] = "promethues"

    def wrong_port(b):
        first(kp(b), "Service", "alert-sink")["spec"]["ports"][0]["targetPort"] = "web"

    def missing_configmap(b):
        first(sa(b), "Deployment", "loki")["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] = "loki"

    def runbooks_elsewhere(b):
        cm = first(sa(b), "ConfigMap", "prometheus-rules")
        cm["data"] = {k: v.replace(".edge-fleet.svc", ".monitoring.svc") for k, v in cm["data"].items()}

    def monitor_port(b):
        first(kp(b), "ServiceMonitor")["spec"]["endpoints"][0]["port"] = "metrics"

    def wrong_region(b):
        first(kp(b), "ServiceMonitor")["spec"]["endpoints"][0]["relabelings"][1]["replacement"] = "us-east"

    def other_job(b):
        first(kp(b), "ServiceMonitor")["spec"]["jobLabel"] = "app.kubernetes.io/component"

    def ordinals_from_zero(b):
        del first(sa(b), "StatefulSet")["spec"]["ordinals"]

    def writable_root(b):
        container(sa(b), "Deployment", "grafana")["securityContext"]["readOnlyRootFilesystem"] = False

    def latest_image(b):
        container(kp(b), "Deployment", "alert-sink")["image"] = "edge-fleet:latest"

    def no_limits(b):
        del container(sa(b), "Deployment", "prometheus")["resources"]["limits"]

    def other_flags(b):
        container(sa(b), "Deployment", "prometheus")["args"].remove("--rules.alert.resend-delay=1s")

    def edited_dashboard(b):
        cm = first(kp(b), "ConfigMap", "dashboard-slos")
        cm["data"]["slos.json"] = cm["data"]["slos.json"].replace("edge", "egde", 1)

    def grafana_volume(b, name):
        return next(v for v in first(sa(b), "Deployment", "grafana")["spec"]["template"]["spec"]["volumes"]
                    if v["name"] == name)

    def unmounted_dashboard(b):
        grafana_volume(b, "dashboards")["projected"]["sources"].pop()

    def home_dashboard_twice(b):
        grafana_volume(b, "dashboards")["projected"]["sources"].append(dict(grafana_volume(b, "home-dashboard")))

    def grafana_not_composes(b):
        env = container(sa(b), "Deployment", "grafana")["env"]
        env[:] = [e for e in env if e["name"] != "GF_SERVER_ENABLE_GZIP"]

    def bad_field_type(b):
        first(kp(b), "StatefulSet")["spec"]["replicas"] = "twelve"

    def unknown_field(b):
        container(sa(b), "Deployment", "alertmanager")["readOnlyRootFileSystem"] = True

    def crd_pattern(b):
        first(kp(b), "ServiceMonitor")["spec"]["endpoints"][0]["interval"] = "1 second"

    def crd_unknown_field(b):
        first(kp(b), "AlertmanagerConfig")["spec"]["route"]["groupwait"] = "0s"

    def probe_elsewhere(b):
        sm = first(kp(b), "ServiceMonitor", "edge-node-probes")
        for r in sm["spec"]["endpoints"][0]["relabelings"]:
            if r.get("targetLabel") == "__address__":
                r["replacement"] = "blackbox.monitoring.svc:9115"

    def host_job_renamed(b):
        sm = first(kp(b), "ServiceMonitor", "edge-node-host")
        sm["spec"]["endpoints"][0]["relabelings"][-1]["replacement"] = "node-exporter"

    def old_start_script(b):
        cm = first(sa(b), "ConfigMap", "prometheus-start")
        cm["data"]["prometheus-start.sh"] += "# edited by hand\n"

    def server_reads_the_source(b):
        container(sa(b), "Deployment", "prometheus")["args"][0] = "--config.file=/etc/prometheus/prometheus.yml"

    def user_rules_unmounted(b):
        spec = first(sa(b), "Deployment", "prometheus")["spec"]["template"]["spec"]
        prepare = next(c for c in spec["initContainers"] if c["name"] == "prepare")
        prepare["volumeMounts"] = [m for m in prepare["volumeMounts"] if m["name"] != "user-rules"]

    def edited_blackbox_config(b):
        cm = first(sa(b), "ConfigMap", "blackbox-config")
        cm["data"]["blackbox.yml"] = cm["data"]["blackbox.yml"].replace("http_2xx", "http_any")

    def other_settings(b):
        first(sa(b), "ConfigMap", "edge-fleet-settings")["data"]["NODE_EXPORTER_JOB"] = "node-exporter"

    return [(shaped_jobs, probe_elsewhere), (shaped_jobs, host_job_renamed), (user_rules, old_start_script),
            (user_rules, server_reads_the_source), (user_rules, user_rules_unmounted),
            (configs, edited_blackbox_config),
            (user_rules, other_settings),
            (rules, edit_rule), (rules, edit_standalone_rule), (rules, localhost_runbooks), (rules, no_namespace_label),
            (routing, misroute), (references, wrong_selector), (references, wrong_port),
            (references, missing_configmap), (references, runbooks_elsewhere), (references, monitor_port),
            (identity, wrong_region), (identity, other_job), (identity, ordinals_from_zero), (habits, writable_root),
            (habits, latest_image), (habits, no_limits), (habits, other_flags), (configs, edited_dashboard),
            (configs, unmounted_dashboard), (configs, home_dashboard_twice), (habits, grafana_not_composes),
            (schemas, bad_field_type), (schemas, unknown_field), (schemas, crd_pattern), (schemas, crd_unknown_field)]


def self_test(builds):
    # A check that already fails on the unbroken builds would count every breakage as caught.
    missed = [f"{c.__name__} (fails unbroken)" for c in {check for check, _ in breakages()} if c(builds)]
    for check, change in breakages():
        broken = copy.deepcopy(builds)
        change(broken)
        if not check(broken):
            missed.append(f"{change.__name__} ({check.__name__})")
    return missed


def main():
    for tool in ("kubectl", "npm", "promtool", "amtool"):
        if not shutil.which(tool):
            raise SystemExit(f"checks.kubernetes: {tool} is not on PATH (run scripts/checks/kubernetes.sh)")
    builds = {name: build(path) for name, path in OVERLAYS.items()}
    if "--self-test" in sys.argv:
        missed = self_test(builds)
        print(f"self-test: {'missed ' + ', '.join(missed) if missed else 'every breakage caught'}")
        return 1 if missed else 0
    problems = [p for check in CHECKS for p in check(builds)]
    for p in problems:
        print(f"kubernetes: {p}", file=sys.stderr)
    if not problems:
        print(", ".join(f"{name}: {len(docs)} resources" for name, docs in builds.items())
              + f"; schemas (Kubernetes {' and '.join(K8S_VERSIONS)}, operator CRDs), rules, routing, references, "
              "identity, shaped jobs, user rules, habits and config files OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
