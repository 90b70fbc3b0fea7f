"""Checks the Grafana provisioning and dashboards by structure (Grafana cannot run here):

- every dashboard parses (that they are what scripts/gen/dashboards.py writes is `gen --check`);
- dashboard uids are unique, and the node dashboard the alert sink links to exists with `$node`;
- every datasource a dashboard names (panels, queries, annotations, variables) is provisioned;
- every panel has a query, panel ids are unique, and no two panels overlap in the 24-column grid;
- every time series dashboard carries the fault annotations (from edge_fault_active);
- a dashboard tagged `scale` (built for a thousand nodes) reads only recording rules
  (level:metric:operations names) and ALERTS in its panels and variables, never raw series;
- every LogQL stream selector uses only labels the Alloy config sets;
- the dashboards type-check against @grafana/schema (tsc --noEmit, options per panel type).

    scripts/py -m checks.dashboards [--no-types]     # from the repository root, with the venv's Python
    scripts/py -m checks.dashboards --self-test      # prove the checks catch broken dashboards

The PromQL and LogQL queries are run for real by scripts/e2e/test_native.py.
"""
import copy
import json
import re
import subprocess
import sys

import yaml

from lib import ROOT, tooling

DASHBOARDS = ROOT / "grafana/dashboards"
# Versions of the type-check toolchain (npm), pinned so the check is reproducible.
NPM_PACKAGES = {"@grafana/schema": "13.2.3", "typescript": "7.0.2"}
# Panel types whose options (and custom field config) have a type in @grafana/schema.
PANEL_TYPES = {"stat": "StatPanelCfg", "timeseries": "TimeSeriesPanelCfg", "table": "TablePanelCfg",
               "logs": "LogsPanelCfg", "state-timeline": "StateTimelinePanelCfg", "bargauge": "BarGaugePanelCfg"}
GRAFANA_BUILTIN = {"-- Grafana --", "grafana"}


def load_dashboards():
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def provisioned_datasources():
    doc = yaml.safe_load((ROOT / "grafana/provisioning/datasources/datasources.yml").read_text())
    return {d["uid"]: d["type"] for d in doc["datasources"]}


def alloy_labels():
    """Labels the Compose Alloy config gives log streams."""
    return tooling.alloy_labels((ROOT / "alloy/config.alloy").read_text())


def panels_of(dash):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])


def datasource_uids(dash):
    for p in panels_of(dash):
        for ds in [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]:
            if ds:
                yield p.get("title"), ds
    for a in dash.get("annotations", {}).get("list", []):
        yield f"annotation {a['name']}", a["datasource"]
    for v in dash.get("templating", {}).get("list", []):
        if v.get("datasource"):
            yield f"variable {v['name']}", v["datasource"]


def overlaps(dash):
    found, owner = [], {}
    for p in dash["panels"]:
        g = p["gridPos"]
        if g["x"] < 0 or g["x"] + g["w"] > 24:
            found.append(f"panel {p['title']!r} leaves the 24-column grid")
        cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        for other in sorted({owner[c] for c in cells if c in owner}):
            found.append(f"panels {other!r} and {p['title']!r} overlap")
        owner.update(dict.fromkeys(cells, p["title"]))
    return found


# PromQL words that are not metric names (functions, aggregations, keywords).
PROMQL_WORDS = {"sum", "count", "min", "max", "avg", "topk", "bottomk", "by", "without", "on", "ignoring", "group_left",
                "group_right", "or", "and", "unless", "rate", "increase", "histogram_quantile", "label_values",
                "clamp_max", "clamp_min", "vector", "bool", "offset", "abs", "time"}


def metric_names(expr):
    """The metric names a PromQL expression selects (strings, label matchers and ranges removed)."""
    values_of = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", expr, re.S)
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', values_of.group(1) if values_of else expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\([^()]*\bby\b[^()]*\)", " ", bare)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    words = re.findall(r"(?<![\w$.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()", bare)
    return sorted({w for w in words if w not in PROMQL_WORDS and not w.startswith("__")})


def structure(dashboards, datasources, log_labels):
    problems = []
    uids = [d["uid"] for d in dashboards.values()]
    if len(set(uids)) != len(uids):
        problems.append(f"dashboard uids are not unique: {uids}")
    for name, d in dashboards.items():
        where = f"{name}:"
        for title, ds in datasource_uids(d):
            uid = ds.get("uid")
            if uid not in datasources and uid not in GRAFANA_BUILTIN:
                problems.append(f"{where} {title!r} names datasource uid {uid!r}, not provisioned")
            elif uid in datasources and ds.get("type") not in (None, datasources[uid]):
                problems.append(f"{where} {title!r} says datasource {uid!r} is {ds['type']}, it is {datasources[uid]}")
        ids = [p["id"] for p in panels_of(d)]
        if len(set(ids)) != len(ids):
            problems.append(f"{where} panel ids are not unique")
        for p in panels_of(d):
            if p["type"] == "row":
                continue
            # PromQL and LogQL in `expr`; Tempo's TraceQL in `query`.
            exprs = [(t.get("expr") or t.get("query") or "").strip() for t in p.get("targets", [])]
            if not exprs or not all(exprs):
                problems.append(f"{where} panel {p.get('title')!r} has no query")
            if not p.get("title"):
                problems.append(f"{where} a {p['type']} panel has no title")
            for e in exprs:
                # Without the hint Tempo returns the first traces it finds, not the newest
                # (TraceQL query hints, Tempo 2.8+): a "recent traces" table would not be.
                if p["datasource"]["uid"] == "tempo" and not re.search(
                        r"\bwith\s*\(\s*most_recent\s*=\s*true\s*\)\s*$", e):
                    problems.append(f"{where} {p['title']!r} asks Tempo without `with (most_recent=true)`: it gets "
                                    "any traces, not the most recent")
                if p["datasource"]["uid"] == "loki":
                    for label in re.findall(r"(\w+)\s*=~?", e.split("}")[0]):
                        if label not in log_labels:
                            problems.append(f"{where} {p['title']!r} selects on label {label!r}, "
                                            f"which Alloy does not set ({sorted(log_labels)})")
        problems += [f"{where} {o}" for o in overlaps(d)]
        if "scale" in d.get("tags", []):
            queries = [(p["title"], t["expr"]) for p in panels_of(d) for t in p.get("targets", [])]
            queries += [(f"variable {v['name']}", v["query"]) for v in d["templating"]["list"] if v["type"] == "query"]
            for title, expr in queries:
                raw = [m for m in metric_names(expr) if ":" not in m and m != "ALERTS"]
                if raw:
                    problems.append(f"{where} {title!r} reads raw series {raw}; at scale, read recording rules")
        has_series = any(p["type"] == "timeseries" for p in panels_of(d))
        faults = [a for a in d.get("annotations", {}).get("list", [])
                  if "edge_fault_active" in a.get("target", {}).get("expr", "")]
        if has_series and not any(a["enable"] for a in faults):
            problems.append(f"{where} time series without the fault annotation")
    by_uid = {d["uid"]: d for d in dashboards.values()}
    node = by_uid.get("edge-node-detail")
    if not node or "node" not in [v["name"] for v in node["templating"]["list"]]:
        problems.append("no dashboard edge-node-detail with a $node variable (the alert sink links to it)")
    for name, d in dashboards.items():
        for link in re.findall(r'/d/([\w-]+)/', json.dumps(d)):
            if link not in by_uid:
                problems.append(f"{name}: links to dashboard uid {link!r}, which does not exist")
    return problems


def provisioning():
    """The provisioning files against docker-compose.yml. How the dashboards are mounted (each
    once, the home one outside the provider's folder) and the anonymous role are checked, with
    self-tests, by checks.compose."""
    problems = []
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/dashboards.yml").read_text())["providers"][0]
    path = provider["options"]["path"]
    into_folder = {target: source for target, source in mounts.items() if target.startswith(path + "/")}
    if not into_folder or not all(s.startswith("./grafana/dashboards/") for s in into_folder.values()):
        problems.append(f"the dashboard provider reads {path}, into which compose mounts "
                        f"{sorted(into_folder.values())}, not dashboards from ./grafana/dashboards")
    home = grafana["environment"].get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", "")
    source = mounts.get(home, "")
    if not source.startswith("./grafana/dashboards/") or not (ROOT / source).exists():
        problems.append(f"the home dashboard {home} is not mounted from one of grafana/dashboards")
    if grafana["environment"].get("GF_AUTH_ANONYMOUS_ORG_ROLE") != "Viewer":
        problems.append("anonymous access must be Viewer")
    for ds in yaml.safe_load((ROOT / "grafana/provisioning/datasources/datasources.yml").read_text())["datasources"]:
        host = re.match(r"https?://([\w-]+):", ds["url"]).group(1)
        if host not in compose["services"]:
            problems.append(f"datasource {ds['name']} points at {host}, not a compose service")
    return problems

TS_HEADER = """// Generated by scripts/py -m checks.dashboards: every dashboard, typed by @grafana/schema.
import type {{ AnnotationQuery, Dashboard, DataQuery }} from '@grafana/schema';
{imports}

// String enums of the schema accept their literal values, as in JSON.
// Prometheus annotations: the query in `target`, the display fields beside it.
interface PromQuery extends DataQuery {{ expr: string; interval?: string; }}
interface PromAnnotation extends AnnotationQuery<PromQuery> {{
  titleFormat?: string; textFormat?: string; tagKeys?: string; useValueForTime?: boolean;
}}
type Widen<T> = T extends string ? `${{T}}` : T extends (infer U)[] ? Widen<U>[] : T extends object ? {{ [K in keyof T]: Widen<T[K]> }} : T;
"""  # noqa: E501 (TypeScript source, one type per line)


def typescript(dashboards):
    """Writes dashboards.ts: each dashboard as a Dashboard, each panel's options and custom field
    config as its panel type's Options and FieldConfig (excess or misspelled fields fail)."""
    imports = [f"import type {{ Options as {cfg}Options"
               f"{', FieldConfig as ' + cfg + 'Field' if kind not in ('stat', 'logs', 'bargauge') else ''} }} "
               f"from '@grafana/schema/dist/esm/raw/composable/{kind.replace('-', '')}/panelcfg/x/{cfg}_types.gen';"
               for kind, cfg in PANEL_TYPES.items()]
    out = [TS_HEADER.format(imports="\n".join(imports))]
    for name, d in dashboards.items():
        ident = re.sub(r"\W", "_", name.removesuffix(".json"))
        annotations = d["annotations"]["list"]
        out.append(f"export const {ident}_annotations: Widen<PromAnnotation>[] = {json.dumps(annotations, indent=1)};")
        body = json.dumps(dict(d, annotations={"list": "@ANNOTATIONS@"}), indent=1)
        body = body.replace('"@ANNOTATIONS@"', f"{ident}_annotations")
        out.append(f"export const {ident}: Widen<Dashboard> = {body};\n")
        for p in panels_of(d):
            cfg = PANEL_TYPES.get(p["type"])
            if p["type"] == "row":
                continue
            if cfg is None:
                raise SystemExit(f"{name}: panel type {p['type']} has no type check; add it to PANEL_TYPES")
            out.append(f"export const {ident}_{p['id']}_options: Widen<{cfg}Options> = {json.dumps(p['options'])};")
            custom = p["fieldConfig"]["defaults"].get("custom")
            if custom is not None and p["type"] not in ("stat", "logs", "bargauge"):
                out.append(f"export const {ident}_{p['id']}_custom: Widen<{cfg}Field> = {json.dumps(custom)};")
    return "\n".join(out) + "\n"


def type_check(dashboards):
    work = tooling.npm_workspace("dashboard-types", NPM_PACKAGES)
    (work / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "strict": True, "noEmit": True, "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022",
        "skipLibCheck": True, "types": []}, "files": ["dashboards.ts"]}))
    (work / "dashboards.ts").write_text(typescript(dashboards))
    run = subprocess.run(["node_modules/.bin/tsc", "-p", "."], cwd=work, capture_output=True, text=True)
    if run.returncode != 0:
        return [f"type check against @grafana/schema failed ({work}/dashboards.ts):\n{run.stdout}{run.stderr}"]
    return []


def self_test(dashboards, datasources, log_labels):
    """Each deliberate breakage must be reported (and the unbroken dashboards must pass, or a
    breakage would count as caught for any reason)."""
    if structure(dashboards, datasources, log_labels):
        return ["(the unbroken dashboards already fail)"]
    def broken(change):
        ds = copy.deepcopy(dashboards)
        change(ds)
        return structure(ds, datasources, log_labels)

    def overlap(ds):
        ds["node-detail.json"]["panels"][3]["gridPos"] = dict(ds["node-detail.json"]["panels"][2]["gridPos"])

    def unknown_ds(ds):
        ds["services.json"]["panels"][1]["datasource"] = {"type": "prometheus", "uid": "nope"}

    def no_query(ds):
        ds["slos.json"]["panels"][1]["targets"][0]["expr"] = ""

    def same_uid(ds):
        ds["slos.json"]["uid"] = ds["services.json"]["uid"]

    def bad_label(ds):
        p = next(p for p in ds["node-detail.json"]["panels"] if p["type"] == "logs")
        p["targets"][0]["expr"] = p["targets"][0]["expr"].replace("node=", "host=")

    def no_annotation(ds):
        ds["services.json"]["annotations"]["list"] = ds["services.json"]["annotations"]["list"][:1]

    def raw_at_scale(ds):
        p = next(p for p in ds["fleet-scale.json"]["panels"] if p["type"] != "row")
        p["targets"][0]["expr"] = 'sum by (region) (up{job="edge-node"})'

    def traces_not_recent(ds):
        p = next(p for p in ds["node-detail.json"]["panels"] if p.get("datasource", {}).get("uid") == "tempo")
        p["targets"][0]["query"] = p["targets"][0]["query"].split(" with ")[0]

    failures = [c.__name__ for c in (overlap, unknown_ds, no_query, same_uid, bad_label, no_annotation, raw_at_scale,
                                     traces_not_recent) if not broken(c)]
    typed = copy.deepcopy(dashboards)
    typed["fleet-overview.json"]["panels"][1]["options"]["colourMode"] = "background"
    if not type_check(typed):
        failures.append("misspelled option")
    return failures


def main():
    dashboards, datasources, log_labels = load_dashboards(), provisioned_datasources(), alloy_labels()
    if "--self-test" in sys.argv:
        failures = self_test(dashboards, datasources, log_labels)
        print(f"self-test: {'missed ' + ', '.join(failures) if failures else 'every breakage caught'}")
        return 1 if failures else 0
    problems = structure(dashboards, datasources, log_labels) + provisioning()
    if "--no-types" not in sys.argv:
        problems += type_check(dashboards)
    for p in problems:
        print(f"dashboards: {p}", file=sys.stderr)
    if not problems:
        panels = sum(1 for d in dashboards.values() for p in panels_of(d) if p["type"] != "row")
        print(f"{len(dashboards)} dashboards, {panels} panels: structure and types OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
