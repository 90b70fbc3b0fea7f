"""<profile>/rules/slo.yml: SLO recording rules and multi-window, multi-burn-rate alerts, for
every profile (gen/profiles.py). The workbook's windows are data here, compressed in time by the
profile's factor; the SLOs, the error budget and each window pair's burn rate are in
prometheus/src/thresholds.yml (gen/thresholds.py), which the dashboards generator reads too.
The rules are never hand-edited. Written by `scripts/py -m gen rules`.
"""
from gen import generated_by, thresholds
from gen.profiles import DEMO, duration

# The workbook's windows in minutes, and (long, short, severity): 1h/5m, 6h/30m, 1d/2h, 3d/6h;
# each pair's burn rate is thresholds.yml's slo_burn_rates[<long window>]. The last two pairs'
# long windows are evaluated less often.
WINDOWS_MIN = [5, 30, 60, 120, 360, 1440, 4320]
LONG_WINDOWS_MIN = {1440, 4320}
PAIRS_MIN = [(60, 5, "critical"), (360, 30, "critical"), (1440, 120, "warning"), (4320, 360, "warning")]
PERIOD_MIN = 30 * 24 * 60


def workbook(minutes):
    """A workbook window as the workbook writes it: 5m, 2h, 1d."""
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def compressed(minutes, p):
    """A workbook window at the profile's compression, as Prometheus duration text."""
    return duration(minutes * 60 / p.slo_compression)


def window_pairs(p, t):
    """(long, short, burn rate, severity) of each window pair at profile p's compression, the
    burn rates from thresholds `t`."""
    names = [workbook(long) for long, _, _ in PAIRS_MIN]
    if sorted(t.slo_burn_rates) != sorted(names):
        raise SystemExit(f"prometheus/src/thresholds.yml: slo_burn_rates has windows {sorted(t.slo_burn_rates)}, "
                         f"the window pairs' long windows are {names}")
    return [(compressed(long, p), compressed(short, p), t.slo_burn_rates[workbook(long)], severity)
            for long, short, severity in PAIRS_MIN]


def slos(t):
    """(alert, SLI, SLO, what its bad requests were) of each SLO."""
    return [("ServiceAvailabilityBurn", "errors", "availability", "answering 5xx"),
            ("ServiceLatencyBurn", "slow", "latency", f"slower than {t.slo_latency_seconds:g} s")]


HEADER = """# {generated}
# SLO recording rules and multi-window, multi-burn-rate alerts (the Google SRE Workbook /
# Sloth recipe), per node and per service.
#
# Profile: {profile} ({scrape:g} s scrapes). Time is compressed by a factor of {compression} so
# the recipe works in minutes: one real minute stands for {compression} minutes, and the
# shortest window still holds three scrapes. The 30-day SLO period becomes {period_hours:g} h,
# and the workbook's window pairs become
#   page:   1h/5m  -> {p0} at {b0:g}x burn,   6h/30m -> {p1} at {b1:g}x burn
#   ticket: 1d/2h  -> {p2} at {b2:g}x burn,      3d/6h  -> {p3} at {b3:g}x burn
#
# SLOs (from the shop's reference design):
#   availability: {target} of requests answer without a 5xx     (error budget {budget})
#   latency:      {target} of requests are served within {latency} (budget {budget})

groups:"""


SLO_SELECTOR = 'job="edge-node", service!="none"'


def base_rules(w, t):
    """The four per-node, per-service rates every SLO window is built from, over the shortest
    window `w`: the only SLO rules that read the raw counters and buckets (a node's ~30 request
    series and its bucket at the latency SLO). Every longer window sums these, so its cost grows
    with nodes and services, not with routes, statuses or window length in raw samples."""
    rates = [("requests", "edge_http_requests_total", ""),
             ("errors", "edge_http_requests_total", ', status=~"5.."'),
             ("fast", "edge_http_request_duration_seconds_bucket", f', le="{t.slo_latency_seconds:g}"'),
             ("timed", "edge_http_request_duration_seconds_count", "")]
    return [f"""      - record: node_service:edge_slo_{name}:rate{w}
        expr: sum by (node, region, service) (rate({metric}{{{SLO_SELECTOR}{extra}}}[{w}]))"""
            for name, metric, extra in rates]


def sli_rules(windows, base):
    """The error and slow ratios over each window. The base window's are the ratios of its
    rates; a longer window W sums the base rates recorded over W (one sample per evaluation,
    each the rate over the base window), a ratio of sums that weighs every moment by its
    traffic, like the rate over W it stands for."""
    lines = []
    for w in windows:
        def over(name, w=w):  # this window
            series = f"node_service:edge_slo_{name}:rate{base}"
            return series if w == base else f"sum_over_time({series}[{w}])"
        lines.append(f"""      - record: node_service:edge_slo_errors:ratio_rate{w}
        expr: {over("errors")} / {over("requests")}
      - record: node_service:edge_slo_slow:ratio_rate{w}
        expr: 1 - {over("fast")} / {over("timed")}""")
    return lines


def alert_rules(pairs, period_hours, t):
    lines = []
    for alert, sli, slo, what in slos(t):
        for long, short, burn, severity in pairs:
            threshold = round(burn * t.slo_error_budget_ratio, 4)
            lines.append(f"""      - alert: {alert}
        expr: >-
          node_service:edge_slo_{sli}:ratio_rate{long} > {threshold}
          and node_service:edge_slo_{sli}:ratio_rate{short} > {threshold}
        labels:
          severity: {severity}
          slo: {slo}
          long: {long}
          short: {short}
        annotations:
          summary: "{{{{ $labels.service }}}} on node {{{{ $labels.node }}}} burns its {slo} error budget {burn:g}x too fast"
          description: >-
            {{{{ $value | humanizePercentage }}}} of {{{{ $labels.service }}}} requests on node {{{{ $labels.node }}}}
            were {what} over the last {long} (and still over the last {short}), against a
            budget of {t.slo_error_budget_ratio * 100:g} %: at this rate the {period_hours:g} h budget lasts {period_hours / burn:.3g} h.
          runbook_url: http://localhost:9095/runbooks/{alert}""")  # noqa: E501 (a YAML template: one line per output line)
    return lines


def budget_base_rules():
    """Each node's request and error counters summed per service, for the budget's long
    period: its increase over 12 h or 72 h then reads one series per node and service
    instead of every route's and status's counters. Summing counters before increase() is
    safe here, and only here: a node never drops a request series (it only adds them, each
    counted from its first request), and a restart resets all of them at once."""
    return [f"""      - record: node_service:edge_http_{name}_total:sum
        expr: sum by (node, region, service) (edge_http_requests_total{{job="edge-node"{extra}}})"""
            for name, extra in (("requests", ""), ("errors", ', status=~"5.."'))]


def budget_rule(record, by, selector, p, t):
    """The error budget left of one SLO period, by `by` (see the comment in the output)."""
    hours = period_hours(p)
    match = f"{{{selector}}}" if selector else ""
    raw = f'job="edge-node"{", " + selector if selector else ""}'
    # The sums are recorded once per evaluation of this group, so for its first two
    # evaluations (up to two budget intervals of a new stack) they hold a single sample and
    # increase() has nothing to say. Then, and only then (`or` fills in only what is missing),
    # the raw counters' increase over those two intervals, the whole of the data there is.
    young = duration(2 * p.slo_budget_eval_s)
    status = {"errors": ', status=~"5.."', "requests": ""}

    def over(name):
        return (f"sum by ({by}) (increase(node_service:edge_http_{name}_total:sum{match}[{hours:g}h])"
                " or sum by (node, region, service) "
                f"(increase(edge_http_requests_total{{{raw}{status[name]}}}[{young}])))")
    # The last minute's rate from the raw counters (a minute of samples, once per evaluation):
    # a recorded rate from another group would be this evaluation's or the last one's,
    # depending on the order the groups happen to run in.
    at_current_rate = f"sum by ({by}) (rate(edge_http_requests_total{{{raw}}}[1m])) * {hours * 3600:g}"
    return f"""      - record: {record}
        expr: >-
          1 - {over("errors")}
          / (
            {over("requests")} > {at_current_rate}
            or {at_current_rate}
          )
          / {t.slo_error_budget_ratio:g}"""


def period_hours(p):
    """The SLO period of profile p, in hours (30 days compressed)."""
    return PERIOD_MIN / p.slo_compression / 60


def render(p=DEMO):
    """slo.yml of profile p."""
    t = thresholds.load()
    period_hours = globals()["period_hours"](p)
    pairs = window_pairs(p, t)
    windows = [compressed(w, p) for w in WINDOWS_MIN]
    long_windows = {compressed(w, p) for w in LONG_WINDOWS_MIN}
    pages = [x for x in pairs if x[3] == "critical"]
    tickets = [x for x in pairs if x[3] == "warning"]
    generated = generated_by("rules", "scripts/gen/slo_rules.py", "prometheus/src/thresholds.yml")
    out = [HEADER.format(generated=generated, profile=p.name, scrape=p.scrape_s, compression=p.slo_compression,
                         period_hours=period_hours, target=f"{(1 - t.slo_error_budget_ratio) * 100:g} %",
                         budget=f"{t.slo_error_budget_ratio * 100:g} %", latency=f"{t.slo_latency_seconds:g} s",
                         **{f"p{i}": f"{x[0]}/{x[1]}".ljust(7) for i, x in enumerate(pairs)},
                         **{f"b{i}": x[2] for i, x in enumerate(pairs)})]
    out += ["  # Rules in a group run in order, so each alert sees the SLIs of the same evaluation.",
            "  # One alert per window pair, labelled long/short; the short window makes it resolve",
            "  # quickly once the burn stops, so no `for:` is needed (the recipe's own guard).",
            "  - name: edge-slo-page", "    rules:"]
    base = windows[0]
    out += base_rules(base, t)
    out += sli_rules([w for w in windows if w not in long_windows], base)
    out += alert_rules(pages, period_hours, t)
    out += [f"  # Long windows change slowly; evaluating them every {p.slo_ticket_eval_s:g} s keeps Prometheus light.",
            "  - name: edge-slo-ticket", f"    interval: {duration(p.slo_ticket_eval_s)}", "    rules:"]
    out += sli_rules([w for w in windows if w in long_windows], base)
    out += alert_rules(tickets, period_hours, t)
    out.append(f"""  - name: edge-slo-budget
    interval: {duration(p.slo_budget_eval_s)}
    rules:
      # Error budget left over the (compressed) {period_hours:g} h SLO period: 1 = untouched, 0 = spent.
      # The budget is {t.slo_error_budget_ratio:g} of the whole period's requests. While Prometheus holds less than a
      # period (a young stack), the period's requests are estimated from the last minute's
      # rate, so a short burst spends its share of a whole period, not of the little seen so far.
{chr(10).join(budget_base_rules())}
{budget_rule(f"node_service:edge_slo_error_budget_remaining:ratio{period_hours:g}h", "node, region, service", 'service!="none"', p, t)}
{budget_rule(f"node:edge_error_budget_remaining:ratio{period_hours:g}h", "node, region", "", p, t)}""")  # noqa: E501 (a YAML template: one line per output line)
    return "\n".join(out) + "\n"
