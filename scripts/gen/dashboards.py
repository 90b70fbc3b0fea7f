"""The Grafana dashboards (grafana/dashboards/*.json) from the short descriptions below.
`scripts/py -m gen dashboards`.

One place for the dashboards' shared parts (datasource uids, fault annotations, units, the
grid layout), so the boards stay consistent. The alert lines, SLOs and burn rates come from
prometheus/src/thresholds.yml, the file the rules are generated from, so a graph's red line is
always its alert's. Edit this file and that one, not the JSON: each dashboard's description
ends by saying so (JSON holds no comments).
"""
import json

from gen import generated_by, slo_rules, thresholds
from gen.profiles import DEMO
from lib import ROOT, fleet

OUT = ROOT / "grafana/dashboards"

PROM = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "loki"}
TEMPO = {"type": "tempo", "uid": "tempo"}
EDGE = 'job="edge-node"'
RATE = "$__rate_interval"
NODE_LINK = "/d/edge-node-detail/edge-node?var-node=${__field.labels.node}&${__url_time_range}"
SERVICES = ["orders", "products", "payments"]


GENERATED = generated_by("dashboards", "scripts/gen/dashboards.py", "prometheus/src/thresholds.yml")

# The alert lines and SLOs, read once (checks.thresholds reloads this module to draw the boards
# from a changed thresholds file).
LINES = thresholds.load()
CPU_LINE = LINES.cpu_utilization_ratio
MEMORY_WARN, MEMORY_CRIT = LINES.memory_utilization_warning_ratio, LINES.memory_utilization_critical_ratio
DISK_CRIT, DISK_HORIZON = LINES.disk_used_critical_ratio, LINES.disk_full_horizon_seconds
P95_LINE, ERROR_LINE = LINES.http_p95_latency_seconds, LINES.http_error_ratio
UPSTREAM_LINE, RELIABILITY_LINE = LINES.upstream_error_ratio, LINES.reliability_score_ratio
BUDGET_LINE = LINES.error_budget_remaining_ratio
REGION_LINE, REGION_MIN_NODES = LINES.region_down_ratio, LINES.region_down_min_nodes
SLO_BUDGET, SLO_LATENCY = LINES.slo_error_budget_ratio, LINES.slo_latency_seconds
# The SLO's texts: "99 %", "1 %", "0.25 s", "250" (the logs' latency_ms).
SLO_TARGET_TEXT, SLO_BUDGET_TEXT = f"{(1 - SLO_BUDGET) * 100:g} %", f"{SLO_BUDGET * 100:g} %"
SLO_LATENCY_TEXT, SLO_LATENCY_MS = f"{SLO_LATENCY:g} s", f"{SLO_LATENCY * 1000:g}"


def burn_windows():
    """(long, short, burn rate, severity) of each SLO window pair, at the demo profile's windows."""
    return slo_rules.window_pairs(DEMO, LINES)


# --- thresholds, mappings, field config --------------------------------------------------

def steps(*pairs):
    """Threshold steps: ("green", None), ("red", 0.9), ... (the first is the base)."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in pairs]}


def field(unit, thresholds=None, lo=None, hi=None, line=False, mappings=None, links=None, decimals=None,
          fill=10, stack=False):
    defaults = {"unit": unit, "color": {"mode": "thresholds" if thresholds and not line else "palette-classic"}}
    if thresholds:
        defaults["thresholds"] = thresholds
    if lo is not None:
        defaults["min"] = lo
    if hi is not None:
        defaults["max"] = hi
    if mappings:
        defaults["mappings"] = mappings
    if links:
        defaults["links"] = links
    if decimals is not None:
        defaults["decimals"] = decimals
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": fill, "showPoints": "never",
              "spanNulls": False, "axisBorderShow": False, "axisCenteredZero": False, "axisColorMode": "text",
              "axisLabel": "", "axisPlacement": "auto", "barAlignment": 0, "barWidthFactor": 0.6,
              "gradientMode": "none", "insertNulls": False, "lineInterpolation": "linear", "pointSize": 4,
              "scaleDistribution": {"type": "linear"}, "hideFrom": {"legend": False, "tooltip": False, "viz": False},
              "stacking": {"group": "A", "mode": "normal" if stack else "none"},
              "thresholdsStyle": {"mode": "dashed" if line else "off"}}
    return {"defaults": {**defaults, "custom": custom}, "overrides": []}


def text_map(ranges):
    """Value mappings: [(from, to, text, color)] over numeric ranges."""
    return [{"type": "range", "options": {"from": lo, "to": hi, "result": {"text": text, "color": color, "index": i}}}
            for i, (lo, hi, text, color) in enumerate(ranges)]


UP_MAP = text_map([(1, 1, "UP", "green"), (0, 0, "DOWN", "red")])


# --- queries --------------------------------------------------------------------------------

def prom(expr, legend="__auto", instant=False, exemplar=False, fmt="time_series"):
    t = {"datasource": PROM, "expr": expr, "legendFormat": legend, "range": not instant, "instant": instant,
         "editorMode": "code", "format": fmt}
    if exemplar:
        t["exemplar"] = True
    return t


def loki(expr):
    return {"datasource": LOKI, "expr": expr, "queryType": "range", "editorMode": "code"}


def traceql(query, limit=50):
    """The newest `limit` traces matching `query`: without the most_recent hint Tempo returns
    the first it finds, in no order (TraceQL query hints, Tempo 2.8+)."""
    return {"datasource": TEMPO, "queryType": "traceql", "query": f"{query} with (most_recent=true)", "limit": limit,
            "tableType": "traces"}


# --- panels ----------------------------------------------------------------------------------

def panel(kind, title, desc, targets, w, h, fc=None, options=None, ds=PROM, transformations=None):
    p = {"type": kind, "title": title, "description": desc, "datasource": ds, "w": w, "h": h,
         "targets": [dict(t, refId=chr(65 + i)) for i, t in enumerate(targets)],
         "fieldConfig": fc or {"defaults": {}, "overrides": []}, "options": options or {}}
    if transformations:
        p["transformations"] = transformations
    return p


def timeseries(title, desc, targets, unit, w=12, h=8, **kw):
    legend_calcs = kw.pop("calcs", ["lastNotNull", "max"])
    options = {"legend": {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": legend_calcs},
               "tooltip": {"mode": "multi", "sort": "desc", "hideZeros": False}}
    return panel("timeseries", title, desc, targets, w, h, field(unit, **kw), options)


def stat(title, desc, targets, unit, w=4, h=4, thresholds=None, mappings=None, links=None, graph=True,
         text="auto", decimals=None, no_value=None):
    fc = field(unit, thresholds or steps(("blue", None)), mappings=mappings, links=links, decimals=decimals)
    del fc["defaults"]["custom"]
    if no_value is not None:
        fc["defaults"]["noValue"] = no_value
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "orientation": "auto", "textMode": text, "colorMode": "background",
               "graphMode": "area" if graph else "none", "justifyMode": "auto", "wideLayout": True,
               "showPercentChange": False, "percentChangeColorMode": "standard"}
    return panel("stat", title, desc, targets, w, h, fc, options)


def bargauge(title, desc, targets, unit, thresholds, w=12, h=8, lo=0, hi=1):
    fc = field(unit, thresholds, lo=lo, hi=hi)
    del fc["defaults"]["custom"]
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "orientation": "horizontal", "displayMode": "gradient", "valueMode": "color", "namePlacement": "auto",
               "showUnfilled": True, "sizing": "auto", "minVizHeight": 16, "minVizWidth": 8, "maxVizHeight": 300,
               "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False, "calcs": []}}
    return panel("bargauge", title, desc, targets, w, h, fc, options)


def table(title, desc, targets, w=12, h=8, hide=(), rename=None, links=None, unit=None):
    fc = {"defaults": {"custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False}},
          "overrides": []}
    if unit:
        fc["defaults"]["unit"] = unit
    if links:
        fc["overrides"].append({"matcher": {"id": "byName", "options": "node"},
                                "properties": [{"id": "links", "value": links}]})
    options = {"showHeader": True, "cellHeight": "sm", "frameIndex": 0, "sortBy": []}
    excluded = {name: True for name in ("Time", "__name__", "job", "instance", "alertstate", "monitor", *hide)}
    transformations = [{"id": "merge", "options": {}},
                       {"id": "organize", "options": {"excludeByName": excluded, "renameByName": rename or {},
                                                      "indexByName": {}}}]
    return panel("table", title, desc, targets, w, h, fc, options, transformations=transformations)


def slowest_traces(title, desc, query, w=24, h=8):
    """The most recent traces matching a TraceQL query, slowest first (click a trace id to open it)."""
    fc = {"defaults": {"custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False}},
          "overrides": []}
    options = {"showHeader": True, "cellHeight": "sm", "frameIndex": 0,
               "sortBy": [{"displayName": "Duration", "desc": True}]}
    return panel("table", title, desc, [traceql(query)], w, h, fc, options, ds=TEMPO)


def state_timeline(title, desc, targets, w=24, h=6, mappings=None, thresholds=None):
    fc = field("none", thresholds or steps(("transparent", None), ("red", 1)), mappings=mappings)
    fc["defaults"]["custom"] = {"lineWidth": 0, "fillOpacity": 80, "hideFrom": {"legend": False, "tooltip": False,
                                                                               "viz": False}}
    fc["defaults"]["color"] = {"mode": "thresholds"}
    options = {"showValue": "never", "mergeValues": True, "alignValue": "left", "rowHeight": 0.8,
               "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False, "calcs": []},
               "tooltip": {"mode": "single", "sort": "none", "hideZeros": False}, "perPage": 20}
    return panel("state-timeline", title, desc, targets, w, h, fc, options)


def logs(title, desc, expr, w=24, h=10):
    options = {"showTime": True, "showLabels": False, "showCommonLabels": False, "wrapLogMessage": True,
               "prettifyLogMessage": False, "enableLogDetails": True, "enableInfiniteScrolling": False,
               "dedupStrategy": "none", "sortOrder": "Descending", "showLogContextToggle": True}
    return panel("logs", title, desc, [loki(expr)], w, h, options=options, ds=LOKI)


# --- dashboards ----------------------------------------------------------------------------

def annotations(node_filter=""):
    """Fault regions from the fault gauges, and firing alerts, on every time series."""
    sel = f'{EDGE}{", " + node_filter if node_filter else ""}'
    return {"list": [
        {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
         "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"},
        {"datasource": PROM, "enable": True, "hide": False, "iconColor": "red", "name": "Injected faults",
         "target": {"refId": "Anno", "expr": f"edge_fault_active{{{sel}}} == 1", "interval": "5s"},
         "titleFormat": "{{failure}} on node {{node}}", "textFormat": "injected fault",
         "tagKeys": "failure,node", "useValueForTime": False},
        {"datasource": PROM, "enable": False, "hide": False, "iconColor": "orange", "name": "Firing alerts",
         "target": {"refId": "Alerts", "interval": "5s",
                    "expr": f'ALERTS{{alertstate="firing", alertname!="Watchdog"'
                            f'{", " + node_filter if node_filter else ""}}}'},
         "titleFormat": "{{alertname}} ({{severity}})", "textFormat": "node {{node}}",
         "tagKeys": "alertname,severity,node", "useValueForTime": False},
    ]}


def layout(sections):
    """Places panels left to right in 24 columns under collapsible-free rows; assigns ids."""
    panels, y, next_id = [], 0, 1
    for row_title, items in sections:
        panels.append({"type": "row", "title": row_title, "collapsed": False, "id": next_id, "panels": [],
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}})
        next_id, y, x, row_h = next_id + 1, y + 1, 0, 0
        for p in items:
            w, h = p.pop("w"), p.pop("h")
            if x + w > 24:
                x, y, row_h = 0, y + row_h, 0
            p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
            p["id"] = next_id
            panels.append(p)
            next_id, x, row_h = next_id + 1, x + w, max(row_h, h)
        y += row_h
    return panels


def dashboard(uid, title, desc, sections, variables=(), node_filter="", tags=()):
    return {
        "uid": uid, "title": title, "description": f"{desc} {GENERATED}", "tags": ["edge-fleet", *tags],
        "editable": False, "graphTooltip": 1, "refresh": "5s", "schemaVersion": 41, "version": 1,
        "time": {"from": "now-15m", "to": "now"}, "timezone": "browser", "fiscalYearStartMonth": 0,
        "liveNow": False, "timepicker": {"refresh_intervals": ["1s", "5s", "10s", "30s", "1m"]},
        "links": [{"title": "Edge fleet", "type": "dashboards", "tags": ["edge-fleet"], "asDropdown": True,
                   "includeVars": False, "keepTime": True, "targetBlank": False, "icon": "external link",
                   "tooltip": "", "url": ""}],
        "annotations": annotations(node_filter),
        "templating": {"list": list(variables)},
        "panels": layout(sections),
    }


def node_variable():
    q = f"label_values(up{{{EDGE}}}, node)"
    return {"name": "node", "label": "Node", "type": "query", "datasource": PROM, "query": q,
            "refresh": 2, "sort": 3, "includeAll": False, "multi": False, "current": {"text": "1", "value": "1"},
            "hide": 0, "options": []}


def service_variable():
    options = [{"text": s, "value": s, "selected": i == 0} for i, s in enumerate(SERVICES)]
    return {"name": "service", "label": "Service", "type": "custom", "query": ",".join(SERVICES),
            "current": {"text": SERVICES[0], "value": SERVICES[0]}, "options": options, "includeAll": False,
            "multi": False, "hide": 0}


PCT = steps(("red", None), ("orange", RELIABILITY_LINE), ("green", 0.99))
BUDGET = steps(("red", None), ("orange", BUDGET_LINE), ("green", 0.75))
ERRORS = steps(("green", None), ("orange", 0.01), ("red", ERROR_LINE))


def error_ratio(by, sel=""):
    extra = f", {sel}" if sel else ""
    return (f'sum by ({by}) (rate(edge_http_requests_total{{{EDGE}, status=~"5.."{extra}}}[{RATE}]))\n'
            f"/ sum by ({by}) (rate(edge_http_requests_total{{{EDGE}{extra}}}[{RATE}]))")


def quantile(q, by, sel=""):
    extra = f", {sel}" if sel else ""
    group = f"{by}, le" if by else "le"
    return (f"histogram_quantile({q}, sum by ({group}) "
            f"(rate(edge_http_request_duration_seconds_bucket{{{EDGE}{extra}}}[{RATE}])))")


def fleet_overview():
    status = (f"2 * max by (node) (up{{{EDGE}}})\n- clamp_max(count by (node) (ALERTS{{alertstate=\"firing\", "
              f"alertname!=\"Watchdog\", node!=\"\"}})\n  or 0 * max by (node) (up{{{EDGE}}}), 1)")
    grid = stat("Node status", "One tile per node: OK (up, no alert firing), ALERTING (up, an alert firing) or "
                "DOWN (the scrape fails). Click a tile for the node's dashboard.",
                [prom(status, "node {{node}}", instant=True)], "none", w=24, h=5, graph=False, text="value_and_name",
                thresholds=steps(("red", None), ("orange", 1), ("green", 2)),
                mappings=text_map([(-10, 0, "DOWN", "red"), (1, 1, "ALERTING", "orange"), (2, 2, "OK", "green")]),
                links=[{"title": "Node ${__field.labels.node}", "url": NODE_LINK}])
    overview = [
        stat("Nodes up", f"Edge nodes whose last scrape succeeded (of {fleet.size()}).",
             [prom(f"sum(up{{{EDGE}}})", "up", instant=True)], "none", graph=False,
             thresholds=steps(("red", None), ("orange", fleet.size() - 1), ("green", fleet.size()))),
        stat("Reliability", "The ancestor's reliability score from real requests: the share of the last minute's "
             f"requests that were both successful and within {SLO_LATENCY_TEXT}, the worst node.",
             [prom("min(node:edge_reliability_score:ratio1m)", "worst node")], "percentunit", thresholds=PCT,
             decimals=2),
        stat("Error budget left", "Availability error budget left over the compressed 12 h SLO period, the "
             "node with the least left (1 = untouched).",
             [prom("min(node:edge_error_budget_remaining:ratio12h)", "least left")], "percentunit",
             thresholds=BUDGET, decimals=1),
        stat("Alerts firing", "Alerts firing now in Prometheus, the Watchdog excluded.",
             [prom('count(ALERTS{alertstate="firing", alertname!="Watchdog"}) or vector(0)', "firing",
                   instant=True)], "none", graph=False, thresholds=steps(("green", None), ("red", 1))),
        stat("Requests", "Shop API requests served per second, whole fleet.",
             [prom(f"sum(rate(edge_http_requests_total{{{EDGE}}}[{RATE}]))", "req/s")], "reqps"),
        stat("Error ratio", "Share of the fleet's requests answered with a 5xx.",
             [prom(f'sum(rate(edge_http_requests_total{{{EDGE}, status=~"5.."}}[{RATE}]))\n'
                   f"/ sum(rate(edge_http_requests_total{{{EDGE}}}[{RATE}]))", "5xx")], "percentunit",
             thresholds=ERRORS, decimals=2),
        grid,
    ]
    resources = [
        timeseries("CPU per node", f"CPU utilisation; HighCPUUsage fires above {CPU_LINE:.0%} (dashed line).",
                   [prom("node:edge_cpu_utilization:ratio", "node {{node}}")], "percentunit", lo=0, hi=1,
                   thresholds=steps(("green", None), ("red", CPU_LINE)), line=True, fill=0),
        timeseries("Memory per node", f"Memory utilisation; HighMemoryUsage warns above {MEMORY_WARN:.0%} "
                   f"and pages above {MEMORY_CRIT:.0%}; MemoryLeakPredicted fires earlier, on the trend.",
                   [prom("node:edge_memory_utilization:ratio", "node {{node}}")], "percentunit", lo=0, hi=1,
                   thresholds=steps(("green", None), ("orange", MEMORY_WARN), ("red", MEMORY_CRIT)), line=True,
                   fill=0),
    ]
    requests = [
        timeseries("Request rate per node", "Shop API requests served per second.",
                   [prom(f"sum by (node) (rate(edge_http_requests_total{{{EDGE}}}[{RATE}]))", "node {{node}}")],
                   "reqps", w=8, fill=0),
        timeseries("Latency p50 / p95 / p99 (fleet)", f"Quantiles of the fleet's request latency; HighLatency "
                   f"fires when a node's 3 s p95 passes {P95_LINE} s.",
                   [prom(quantile(q, ""), f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)], "s", w=8, lo=0,
                   thresholds=steps(("green", None), ("red", P95_LINE)), line=True, fill=0),
        timeseries("Error ratio per node", f"Share of each node's requests answered with a 5xx; HighErrorRate "
                   f"fires above {ERROR_LINE:.0%}.", [prom(error_ratio("node"), "node {{node}}")], "percentunit",
                   w=8, lo=0, thresholds=steps(("green", None), ("red", ERROR_LINE)), line=True, fill=0),
        timeseries("p95 latency per node", "Each node's 95th percentile request latency.",
                   [prom(quantile(0.95, "node"), "node {{node}}")], "s", w=24, h=7, lo=0,
                   thresholds=steps(("green", None), ("red", P95_LINE)), line=True, fill=0),
    ]
    sre = [
        timeseries("Reliability score per node", "Share of the last minute's requests both successful and "
                   f"within {SLO_LATENCY_TEXT}. LowReliabilityScore fires under {RELIABILITY_LINE:.0%}.",
                   [prom("node:edge_reliability_score:ratio1m", "node {{node}}")], "percentunit", w=12, hi=1,
                   thresholds=steps(("red", None), ("green", RELIABILITY_LINE)), line=True, fill=0),
        bargauge("Error budget left per node", "Availability error budget left over the 12 h SLO period.",
                 [prom("node:edge_error_budget_remaining:ratio12h", "node {{node}}", instant=True)],
                 "percentunit", BUDGET, w=12),
        table("Alerts firing", "Every alert firing now in Prometheus (the Watchdog excluded), with its node.",
              [prom('ALERTS{alertstate="firing", alertname!="Watchdog"}', instant=True, fmt="table")], w=24, h=7,
              hide=("Value",), links=[{"title": "Node ${__value.raw}", "url": "/d/edge-node-detail/edge-node?"
                                       "var-node=${__value.raw}&${__url_time_range}"}]),
    ]
    return dashboard("edge-fleet-overview", "Edge fleet overview",
                     "Twelve edge nodes at a glance: health, resources (USE), requests (RED) and SRE figures.",
                     [("Overview", overview), ("Resources", resources), ("Requests", requests), ("SRE", sre)],
                     tags=("overview",))


def node_detail():
    n = 'node="$node"'
    sel = f"{EDGE}, {n}"
    status = [
        stat("Status", "Whether Prometheus can scrape the node.", [prom(f"up{{{sel}}}", "up")], "none",
             mappings=UP_MAP, thresholds=steps(("red", None), ("green", 1)), graph=False),
        stat("CPU", "CPU utilisation.", [prom(f"node:edge_cpu_utilization:ratio{{{n}}}", "cpu")], "percentunit",
             thresholds=steps(("green", None), ("red", CPU_LINE)), decimals=0),
        stat("Memory", "Memory utilisation.", [prom(f"node:edge_memory_utilization:ratio{{{n}}}", "memory")],
             "percentunit", thresholds=steps(("green", None), ("orange", MEMORY_WARN), ("red", MEMORY_CRIT)),
             decimals=0),
        stat("Requests", "Requests served per second.",
             [prom(f"sum(rate(edge_http_requests_total{{{sel}}}[{RATE}]))", "req/s")], "reqps"),
        stat("Error ratio", "Share of requests answered with a 5xx.", [prom(error_ratio("node", n), "5xx")],
             "percentunit", thresholds=ERRORS, decimals=1),
        stat("p95 latency", "95th percentile request latency.", [prom(quantile(0.95, "node", n), "p95")], "s",
             thresholds=steps(("green", None), ("orange", 0.25), ("red", P95_LINE))),
        state_timeline("Active faults", "Injected faults over time, one row per failure mode (red while active).",
                       [prom(f"edge_fault_active{{{sel}}}", "{{failure}}")],
                       mappings=text_map([(0, 0, "off", "transparent"), (1, 1, "ACTIVE", "red")]), h=7),
        table("Alerts firing on this node", "Alerts firing now for this node.",
              [prom(f'ALERTS{{alertstate="firing", {n}}}', instant=True, fmt="table")], w=24, h=5,
              hide=("Value", "node")),
    ]
    use = [
        timeseries("CPU utilisation", f"HighCPUUsage fires above {CPU_LINE:.0%}.",
                   [prom(f"node:edge_cpu_utilization:ratio{{{n}}}", "cpu")], "percentunit", w=8, lo=0, hi=1,
                   thresholds=steps(("green", None), ("red", CPU_LINE)), line=True),
        timeseries("Memory utilisation and trend", "Memory utilisation, and where its last 10 s trend points "
                   "2 minutes ahead: MemoryLeakPredicted fires when that passes 100 %.",
                   [prom(f"node:edge_memory_utilization:ratio{{{n}}}", "memory"),
                    prom(f"predict_linear(node:edge_memory_utilization:ratio{{{n}}}[10s], 120)", "in 2 min (trend)")],
                   "percentunit", w=8, lo=0, hi=1.5,
                   thresholds=steps(("green", None), ("orange", MEMORY_WARN), ("red", 1)), line=True, fill=0),
        timeseries("Saturation: requests in flight", "Requests being served, against the limit beyond which "
                   "the node sheds load with 503.",
                   [prom(f"edge_http_requests_in_flight{{{sel}}}", "in flight"),
                    prom(f"edge_http_concurrency_limit{{{sel}}}", "limit")], "none", w=8, lo=0, fill=0),
        timeseries("Dependency errors", "Failed share of calls to the node's dependencies (orders -> payments, "
                   f"payments -> the payment gateway); UpstreamFailing fires when more than {UPSTREAM_LINE:.0%} "
                   "of gateway calls fail.",
                   [prom(f'sum by (upstream) (rate(edge_upstream_requests_total{{{sel}, outcome="error"}}[{RATE}]))\n'
                         f"/ sum by (upstream) (rate(edge_upstream_requests_total{{{sel}}}[{RATE}]))",
                         "{{upstream}}")], "percentunit", w=12, lo=0, hi=1,
                   thresholds=steps(("green", None), ("red", UPSTREAM_LINE)), line=True, fill=0),
        timeseries("Memory in use", "Bytes in use against the node's simulated memory.",
                   [prom(f"edge_memory_used_bytes{{{sel}}}", "used"), prom(f"edge_memory_limit_bytes{{{sel}}}",
                                                                          "limit")], "bytes", w=12, lo=0, fill=0),
        timeseries("Data disk usage and trend", f"Usage of the data filesystem (orders are written there), and "
                   f"where its last {DEMO.leak} trend points {DISK_HORIZON:g} s ahead: DiskFillingUp fires when that "
                   f"passes 100 %, DiskFull pages above {DISK_CRIT:.0%}; at 100 % order creation fails.",
                   [prom(f"node:edge_disk_used:ratio{{{n}}}", "used"),
                    prom(f"predict_linear(node:edge_disk_used:ratio{{{n}}}[{DEMO.leak}], {DISK_HORIZON:g})",
                         f"in {DISK_HORIZON:g} s (trend)")],
                   "percentunit", w=12, lo=0, hi=1.5,
                   thresholds=steps(("green", None), ("red", DISK_CRIT), ("dark-red", 1)), line=True, fill=0),
        timeseries("OOM kills", "Kills of the node's process by the kernel's OOM killer, as the host counts them "
                   "since it booted (the count survives the restarts). Each kill is a step up, after a gap of "
                   f"about 5 s with no scrape; NodeOOMKilled pages while one falls in the last {DEMO.oom}.",
                   [prom(f"edge_oom_kills_total{{{sel}}}", "OOM kills")], "none", w=12, lo=0, decimals=0, fill=0),
    ]
    # node_exporter's view of the host under the node: its own job (`node` unless
    # NODE_EXPORTER_JOB renames it), whose targets carry the node's `node` and `region` labels.
    # Selected by metric name and node, not by job, so a renamed job keeps the row.
    host_sel = n
    host = [
        timeseries("Host CPU by mode", "Share of the host's CPU time in each mode but idle, averaged over its "
                   "cores (node_exporter): user is the node's own work, iowait and steal the host's.",
                   [prom(f'avg by (mode) (rate(node_cpu_seconds_total{{{host_sel}, mode!="idle"}}[{RATE}]))',
                         "{{mode}}")], "percentunit", w=6, lo=0, hi=1, stack=True, fill=30),
        timeseries("Host memory in use", "The host's memory not available to new work (1 - MemAvailable / "
                   "MemTotal, node_exporter).",
                   [prom(f"1 - node_memory_MemAvailable_bytes{{{host_sel}}} / node_memory_MemTotal_bytes{{{host_sel}}}",
                         "in use")], "percentunit", w=6, lo=0, hi=1, fill=0),
        timeseries("Host filesystems", "Share of each filesystem no longer available to the node's process "
                   "(1 - avail / size, node_exporter), by mountpoint; the data filesystem is the one that fills.",
                   [prom(f"1 - node_filesystem_avail_bytes{{{host_sel}}} / node_filesystem_size_bytes{{{host_sel}}}",
                         "{{mountpoint}}")], "percentunit", w=6, lo=0, hi=1, fill=0),
        timeseries("Host network", "Bytes received and sent per second, per interface (node_exporter).",
                   [prom(f'rate(node_network_receive_bytes_total{{{host_sel}, device!="lo"}}[{RATE}])',
                         "{{device}} receive"),
                    prom(f'rate(node_network_transmit_bytes_total{{{host_sel}, device!="lo"}}[{RATE}])',
                         "{{device}} transmit")], "Bps", w=6, lo=0, fill=0),
    ]
    red = [
        timeseries("Rate by service", "Requests served per second, per shop service.",
                   [prom(f'sum by (service) (rate(edge_http_requests_total{{{sel}, service!="none"}}[{RATE}]))',
                         "{{service}}")], "reqps", w=8, stack=True, fill=30),
        timeseries("Errors by status", "5xx answers per second, by status code.",
                   [prom(f'sum by (status) (rate(edge_http_requests_total{{{sel}, status=~"5.."}}[{RATE}]))',
                         "{{status}}")], "reqps", w=8, stack=True, fill=30),
        timeseries("Latency p50 / p95 / p99", "Request latency quantiles, with exemplars: click a dot to "
                   "open the request's trace or its log lines.",
                   [prom(quantile(q, "", n), f"p{int(q * 100)}", exemplar=(q == 0.99)) for q in (0.5, 0.95, 0.99)],
                   "s", w=8, lo=0, thresholds=steps(("green", None), ("red", P95_LINE)), line=True, fill=0),
    ]
    traces = [
        slowest_traces("Slowest recent traces", "The node's 50 most recent request traces (server spans; "
                       "Tempo's most_recent hint; Tempo leaves out the last 30 s), slowest first. Click a trace id "
                       "to see where the time went and which fault was active (span attribute edge.faults). Empty "
                       "when the nodes do not "
                       "export traces.", '{ resource.edge.node = "$node" && kind = server }'),
    ]
    node_logs = '{service="edge-node", node="$node"}'
    log_panels = [
        logs("Error lines", "The node's requests answered with a 5xx (click a line for its request id).",
             f'{node_logs} | json status="status" | status >= 500', w=12),
        logs("Slow requests", f"Requests slower than the latency SLO's {SLO_LATENCY_MS} ms.",
             f'{node_logs} | json latency_ms="latency_ms" | latency_ms > {SLO_LATENCY_MS}', w=12),
        logs("Fault events", "Faults started and ended on this node.",
             f'{node_logs} | json event="event" | event=~"fault_.*"', h=6),
        logs("All lines", "Everything the node logged.", node_logs, h=12),
    ]
    return dashboard("edge-node-detail", "Edge node",
                     "One node: its status and faults, USE (utilisation, saturation, errors; the data disk and OOM "
                     "kills too), the host under it as node_exporter sees it, RED (rate, errors, duration) and its "
                     "logs.",
                     [("Status", status), ("USE", use), ("Host (node_exporter)", host), ("RED", red),
                      ("Traces", traces), ("Logs", log_panels)],
                     variables=[node_variable()], node_filter=n, tags=("node",))


def services():
    svc = 'service="$service"'
    per_service = [
        timeseries("Rate by service", "Requests per second across the fleet, per shop service.",
                   [prom(f'sum by (service) (rate(edge_http_requests_total{{{EDGE}, service!="none"}}[{RATE}]))',
                         "{{service}}")], "reqps", w=8, fill=0),
        timeseries("Error ratio by service", f"Share answered with a 5xx, per service (alert line "
                   f"{ERROR_LINE:.0%} per node).", [prom(error_ratio("service", 'service!="none"'), "{{service}}")],
                   "percentunit", w=8, lo=0, thresholds=steps(("green", None), ("red", ERROR_LINE)), line=True, fill=0),
        timeseries("p95 latency by service", "95th percentile latency per service across the fleet.",
                   [prom(quantile(0.95, "service", 'service!="none"'), "{{service}}")], "s", w=8, lo=0,
                   thresholds=steps(("green", None), ("red", P95_LINE)), line=True, fill=0),
    ]
    one = [
        timeseries("$service: rate per node", "Requests per second for the chosen service, per node.",
                   [prom(f"sum by (node) (rate(edge_http_requests_total{{{EDGE}, {svc}}}[{RATE}]))", "node {{node}}")],
                   "reqps", w=8, fill=0),
        timeseries("$service: error ratio per node", "Share of the service's requests answered with a 5xx.",
                   [prom(error_ratio("node", svc), "node {{node}}")], "percentunit", w=8, lo=0,
                   thresholds=steps(("green", None), ("red", ERROR_LINE)), line=True, fill=0),
        timeseries("$service: p95 latency per node", "95th percentile latency of the service, per node.",
                   [prom(quantile(0.95, "node", svc), "node {{node}}")], "s", w=8, lo=0,
                   thresholds=steps(("green", None), ("red", P95_LINE)), line=True, fill=0),
        timeseries("$service: requests by route and status", "Per route template and status code, fleet-wide.",
                   [prom(f"sum by (route, status) (rate(edge_http_requests_total{{{EDGE}, {svc}}}[{RATE}]))",
                         "{{route}} {{status}}")], "reqps", w=12, fill=0),
        timeseries("Dependencies", "Calls from orders to payments and from payments to the payment gateway, "
                   "by outcome, fleet-wide.",
                   [prom(f"sum by (upstream, outcome) (rate(edge_upstream_requests_total{{{EDGE}}}[{RATE}]))",
                         "{{upstream}} {{outcome}}")], "reqps", w=12, fill=0),
    ]
    traces = [
        slowest_traces("$service: slowest recent traces", "The 50 most recent traces of the chosen service's "
                       "requests on any node (Tempo's most_recent hint; Tempo leaves out the last 30 s), slowest "
                       "first. Click a trace id to see where the time went: an order's stock check, its call to "
                       "payments and the payment "
                       "gateway. Empty when the nodes do not export traces.",
                       '{ kind = server && span.http.route =~ "/api/$service.*" }'),
    ]
    fleet_logs = '{service="edge-node"}'
    log_panels = [
        logs("$service: error lines", "Requests of the chosen service answered with a 5xx, on any node.",
             f'{fleet_logs} | json api="service", status="status" | api="$service" | status >= 500', w=12),
        logs("$service: slow requests", f"Requests of the chosen service slower than {SLO_LATENCY_MS} ms, on any "
             "node.", f'{fleet_logs} | json api="service", latency_ms="latency_ms" | api="$service" '
                      f'| latency_ms > {SLO_LATENCY_MS}', w=12),
        logs("Fault events", "Faults started and ended anywhere in the fleet.",
             f'{fleet_logs} | json event="event" | event=~"fault_.*"', h=6),
    ]
    return dashboard("edge-services", "Edge services",
                     "RED per shop service (orders, products, payments) across the fleet.",
                     [("All services", per_service), ("One service", one), ("Traces", traces), ("Logs", log_panels)],
                     variables=[service_variable()], tags=("services",))


def slos():
    svc = 'service="$service"'
    budget = BUDGET
    top = [
        bargauge("Error budget left, worst node", "Availability error budget left over the compressed 12 h SLO "
                 "period, per service, on the node that spent the most.",
                 [prom("min by (service) (node_service:edge_slo_error_budget_remaining:ratio12h)", "{{service}}",
                       instant=True)], "percentunit", budget, w=12, h=7),
        table("Time to exhaustion ($service)", "At the last minute's burn rate, how long the node's remaining "
              "budget lasts (12 h x budget left / burn rate); empty while nothing burns.",
              [prom(f"node_service:edge_slo_error_budget_remaining:ratio12h{{{svc}}} * 43200\n"
                    f"/ (node_service:edge_slo_errors:ratio_rate1m{{{svc}}} / {SLO_BUDGET} > 0)", instant=True,
                    fmt="table")], w=12, h=7, hide=("region", "service"), rename={"Value": "budget lasts"}, unit="s"),
        timeseries("Error budget left per node ($service)", "The chosen service's budget on each node.",
                   [prom(f"node_service:edge_slo_error_budget_remaining:ratio12h{{{svc}}}", "node {{node}}")],
                   "percentunit", w=24, h=7, hi=1, thresholds=budget, line=True, fill=0),
    ]
    burn = []
    for long, short, factor, kind in burn_windows():
        burn.append(timeseries(
            f"Availability burn, {long} / {short} ({kind} at {factor:g}x)",
            f"Burn rate (error ratio / the {SLO_BUDGET_TEXT} budget) of $service over {long} and {short}, worst node; "
            f"ServiceAvailabilityBurn ({kind}) fires when both pass {factor:g}.",
            [prom(f"max(node_service:edge_slo_errors:ratio_rate{w}{{{svc}}}) / {SLO_BUDGET}", w)
             for w in (long, short)],
            "x", w=12, h=7, lo=0, thresholds=steps(("green", None), ("red", factor)), line=True, fill=0,
            calcs=["lastNotNull", "max"]))
    latency = [
        timeseries(f"Latency burn, {long} / {short} ({kind} at {factor:g}x)",
                   f"Share of $service requests slower than {SLO_LATENCY_TEXT} over the budget of {SLO_BUDGET_TEXT}, "
                   "worst node; "
                   f"ServiceLatencyBurn ({kind}) fires when both pass {factor:g}.",
                   [prom(f"max(node_service:edge_slo_slow:ratio_rate{w}{{{svc}}}) / {SLO_BUDGET}", w)
                    for w in (long, short)],
                   "x", w=12, h=7, lo=0, thresholds=steps(("green", None), ("red", factor)), line=True, fill=0)
        for long, short, factor, kind in burn_windows()]
    return dashboard("edge-slos", "Edge SLOs",
                     f"Per-service SLOs ({SLO_TARGET_TEXT} of requests without a 5xx; {SLO_TARGET_TEXT} within "
                     f"{SLO_LATENCY_TEXT}) with time compressed 60x: error budget left over 12 h, burn rates per "
                     "window pair, time to exhaustion.",
                     [("Error budget", top), ("Availability burn rates", burn), ("Latency burn rates", latency)],
                     variables=[service_variable()], tags=("slo",))


# --- the fleet at scale ------------------------------------------------------------------------

# How many nodes each "worst nodes" table lists.
WORST_K = 10
REGION_VAR = "region:edge_nodes:count"


def region_variable():
    return {"name": "region", "label": "Region", "type": "query", "datasource": PROM,
            "query": f"label_values({REGION_VAR}, region)", "refresh": 2, "sort": 1, "includeAll": True,
            "multi": True, "current": {"text": "All", "value": "$__all"}, "allValue": ".*", "hide": 0, "options": []}


def worst(title, desc, expr, unit, k_fn="topk"):
    """A table of the k worst nodes by one signal, each row linking to the node's dashboard."""
    return table(title, desc, [prom(f"{k_fn}({WORST_K}, {expr})", instant=True, fmt="table")], w=8, h=8,
                 unit=unit, rename={"Value": title.split(" ", 1)[1] if " " in title else "value"},
                 links=[{"title": "Node ${__value.raw}", "url": "/d/edge-node-detail/edge-node?"
                         "var-node=${__value.raw}&${__url_time_range}"}])


def fleet_at_scale():
    """Hundreds to a thousand nodes: by region, the worst k nodes, and only the nodes in trouble.
    Every query reads recording rules (or ALERTS), never the raw series of every node."""
    r = 'region=~"$region"'
    regions = [
        stat("Nodes up", "Nodes whose last scrape succeeded, per region (of the region's targets).",
             [prom(f"region:edge_nodes:count{{{r}}} - region:edge_nodes_down:count{{{r}}}", "{{region}}",
                   instant=True)], "none", w=6, graph=False, text="value_and_name"),
        stat("Share of nodes down", f"Per region; RegionDown pages at {REGION_LINE:.0%} (and at least "
             f"{REGION_MIN_NODES} nodes): one page for the region, its per-node alerts inhibited.",
             [prom(f"region:edge_nodes_down:ratio{{{r}}}", "{{region}}", instant=True)], "percentunit", w=6,
             graph=False, text="value_and_name",
             thresholds=steps(("green", None), ("orange", 0.01), ("red", REGION_LINE))),
        stat("Alerts firing", "Alerts firing now per region (RegionDown and per-node alerts; the Watchdog "
             "excluded).",
             [prom(f'count by (region) (ALERTS{{alertstate="firing", alertname!="Watchdog", {r}}})\n'
                   f"or 0 * region:edge_nodes:count{{{r}}}", "{{region}}", instant=True)], "none", w=6,
             graph=False, text="value_and_name", thresholds=steps(("green", None), ("red", 1))),
        stat("Requests", "Shop API requests served per second, per region (last minute).",
             [prom(f"region:edge_http_requests:rate1m{{{r}}}", "{{region}}")], "reqps", w=6,
             text="value_and_name"),
        timeseries("Error ratio by region", f"Share of each region's requests answered 5xx (last minute); a "
                   f"node's HighErrorRate line is {ERROR_LINE:.0%}.",
                   [prom(f"region:edge_http_error_ratio:rate1m{{{r}}}", "{{region}}")], "percentunit", w=8, lo=0,
                   thresholds=steps(("green", None), ("red", ERROR_LINE)), line=True, fill=0),
        timeseries("p95 latency by region", f"Each region's 95th percentile request latency (last minute); a "
                   f"node's HighLatency line is {P95_LINE} s.",
                   [prom(f"region:edge_http_request_duration_seconds:p95_rate1m{{{r}}}", "{{region}}")], "s", w=8,
                   lo=0, thresholds=steps(("green", None), ("red", P95_LINE)), line=True, fill=0),
        timeseries("Nodes down by region", "Nodes whose scrape fails, per region, over time.",
                   [prom(f"region:edge_nodes_down:count{{{r}}}", "{{region}}")], "none", w=8, lo=0, fill=20),
        state_timeline("Region status", f"Share of each region's nodes down: orange from one node, red from "
                       f"the RegionDown line ({REGION_LINE:.0%}).",
                       [prom(f"region:edge_nodes_down:ratio{{{r}}}", "{{region}}")], h=5,
                       thresholds=steps(("green", None), ("orange", 0.001), ("red", REGION_LINE))),
    ]
    worst_nodes = [
        worst("Worst error ratio", "The nodes answering the largest share of 5xx (last minute).",
              f"node:edge_http_error_ratio:rate1m{{{r}}}", "percentunit"),
        worst("Worst p95", "The nodes with the slowest 95th percentile latency (last minute).",
              f"node:edge_http_request_duration_seconds:p95_rate1m{{{r}}}", "s"),
        worst("Worst reliability", "The nodes with the lowest reliability score (successful and fast share).",
              f"node:edge_reliability_score:ratio1m{{{r}}}", "percentunit", k_fn="bottomk"),
        worst("Worst CPU", "The nodes with the highest CPU utilisation.",
              f"node:edge_cpu_utilization:ratio{{{r}}}", "percentunit"),
        worst("Worst memory", "The nodes with the highest memory utilisation.",
              f"node:edge_memory_utilization:ratio{{{r}}}", "percentunit"),
        table("Alerts firing", "Every alert firing now (the Watchdog excluded); a region's RegionDown stands "
              "for its nodes, whose own alerts Alertmanager inhibits.",
              [prom(f'ALERTS{{alertstate="firing", alertname!="Watchdog", {r}}}', instant=True, fmt="table")],
              w=8, h=8, hide=("Value",), links=[{"title": "Node ${__value.raw}", "url": "/d/edge-node-detail/"
                                                "edge-node?var-node=${__value.raw}&${__url_time_range}"}]),
    ]
    trouble = [
        state_timeline("Nodes in trouble", "Status history of only the nodes that had an alert firing (down, "
                       "saturated, failing...), one row each, 20 rows a page: readable at a thousand nodes, "
                       "where one row per node is not. Empty when the fleet is healthy.",
                       [prom(f'count by (node) (ALERTS{{alertstate="firing", alertname!="Watchdog", node!="", {r}}})',
                             "node {{node}}")], h=10, thresholds=steps(("green", None), ("red", 1))),
    ]
    return dashboard("edge-fleet-scale", "Edge fleet at scale",
                     "Hundreds to a thousand edge nodes: each region at a glance, the worst nodes by each signal, "
                     "and a history of only the nodes in trouble. Every query reads recording rules (or ALERTS), "
                     "so the board stays cheap at a thousand nodes; a node's name links to its dashboard.",
                     [("Regions", regions), ("Worst nodes", worst_nodes), ("Nodes in trouble", trouble)],
                     variables=[region_variable()], tags=("overview", "scale"))


DASHBOARDS = {"fleet-overview.json": fleet_overview, "fleet-scale.json": fleet_at_scale,
              "node-detail.json": node_detail, "services.json": services, "slos.json": slos}


def outputs():
    """{path: text} this generator writes."""
    return {OUT / name: json.dumps(build(), indent=2) + "\n" for name, build in DASHBOARDS.items()}
