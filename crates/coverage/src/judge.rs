//! Judging: from the engine's episodes and the plan to the report's faults, rules and
//! timelines.
//!
//! - An alert's label set belongs to a node by its `node` label, or its `instance` mapped
//!   through the fleet's instance template; one with neither (an aggregate such as
//!   `vector(1)` or `count(up == 0) > 0`) is fleet-wide and counts on every node.
//! - A fault is caught by an alert whose episode on the faulted node went pending at or
//!   after the fault's start and fired before `end + recovery` (an episode already running
//!   when the fault started was not caused by it). Alerts firing in that window on a node
//!   that no fault touched at the time are collateral.
//! - At rest (`[0, rest)`): firing episodes are false alerts; firing for at least
//!   [`ALWAYS_FIRING_SHARE`] of the rest on every node is `always_firing`.

use std::collections::{BTreeMap, BTreeSet};

use rule_coverage::facts::RuleFacts;
use rule_coverage::{Episode, LabelSet, Millis, Outcome, RuleGroup, RuleKind};

use crate::plan::{Plan, Slot};
use crate::report::model::{
    Collateral, Detection, Episode as ReportEpisode, FalseAlerts, Fault, FaultStatus, Missing, RuleReport,
    RuleStatus, Timeline, TooShort,
};

/// The share of the rest period an alert must fire on every node to be "always firing".
pub const ALWAYS_FIRING_SHARE: f64 = 0.95;

/// The node name of a fleet-wide alert (no `node` or `instance` label).
pub const FLEET: &str = "fleet";

/// What the judge needs besides the engine's outcome.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The plan that was run.
    pub plan: &'a Plan,
    /// The rules, as loaded.
    pub groups: &'a [RuleGroup],
    /// Their facts, in the same order.
    pub facts: &'a [RuleFacts],
    /// Every sample name the fleet wrote (before filtering).
    pub seen: &'a BTreeSet<String>,
    /// Nodes in the fleet.
    pub nodes: u32,
    /// The `instance` of each node, index 0 for node 1.
    pub instances: Vec<String>,
    /// Unix milliseconds of virtual time 0.
    pub start_ms: Millis,
}

/// The judged faults, rules and timelines.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Per planned fault.
    pub faults: Vec<Fault>,
    /// Per alerting rule.
    pub rules: Vec<RuleReport>,
    /// Per (alert, node) ever pending.
    pub timelines: Vec<Timeline>,
}

/// An alert's episodes per node (`None`: fleet-wide).
type ByNode = BTreeMap<Option<u32>, Vec<Episode>>;

fn node_of(labels: &LabelSet, cx: &Context<'_>) -> Option<u32> {
    if let Some(n) = labels.get("node").and_then(|v| v.parse().ok()) {
        return Some(n);
    }
    let instance = labels.get("instance")?;
    cx.instances.iter().position(|i| i == instance).and_then(|i| u32::try_from(i + 1).ok())
}

fn by_node(episodes: &rule_coverage::Episodes, cx: &Context<'_>) -> ByNode {
    let mut out = ByNode::new();
    for (labels, eps) in episodes {
        out.entry(node_of(labels, cx)).or_default().extend(eps.iter().copied());
    }
    for eps in out.values_mut() {
        eps.sort_by_key(|e| e.pending_at);
    }
    out
}

fn node_name(node: Option<u32>) -> String {
    node.map_or_else(|| FLEET.to_owned(), |n| n.to_string())
}

/// Seconds of virtual time.
fn secs(ms: Millis) -> f64 {
    ms as f64 / 1000.0
}

/// Virtual `d` as Unix milliseconds.
fn at(cx: &Context<'_>, d: std::time::Duration) -> Millis {
    cx.start_ms + Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX / 4)
}

/// Judges `outcome` against the plan.
pub fn judge(outcome: &Outcome, cx: &Context<'_>) -> Judgement {
    let alerts: Vec<(&str, ByNode)> =
        outcome.alerts.iter().map(|a| (a.alert.as_str(), by_node(&a.episodes, cx))).collect();
    let (faults, fired): (Vec<Fault>, Vec<BTreeSet<usize>>) =
        cx.plan.slots.iter().map(|s| fault(s, &alerts, cx)).unzip();
    // The engine returns alerting rules in file order, as the facts and groups list them.
    let facts: Vec<&RuleFacts> = alert_facts(cx).map(|(_, f)| f).collect();
    let files: Vec<String> =
        cx.groups.iter().flat_map(|g| g.alerts().map(|_| g.source.display().to_string())).collect();
    let rules = outcome
        .alerts
        .iter()
        .zip(&alerts)
        .enumerate()
        .map(|(i, (a, (_, nodes)))| {
            let caught = faults
                .iter()
                .zip(&fired)
                .filter(|(_, by)| by.contains(&i))
                .map(|(f, _)| f.failure.clone())
                .collect();
            let file = files.get(i).cloned().unwrap_or_default();
            rule(&a.group, &a.alert, &file, facts.get(i).copied(), nodes, caught, cx)
        })
        .collect();
    // One timeline per (alert, node): rules sharing a name (warning and critical) merge.
    let mut merged: BTreeMap<(&str, Option<u32>), Vec<Episode>> = BTreeMap::new();
    for (alert, nodes) in &alerts {
        for (node, eps) in nodes {
            merged.entry((alert, *node)).or_default().extend(eps);
        }
    }
    let mut timelines: Vec<Timeline> = Vec::new();
    for ((alert, node), mut eps) in merged {
        eps.sort_by_key(|e| e.pending_at);
        timelines.push(Timeline {
            alert: alert.to_owned(),
            node: node_name(node),
            episodes: eps
                .iter()
                .map(|e| ReportEpisode {
                    pending_s: secs(e.pending_at - cx.start_ms),
                    firing_s: e.firing_at.map(|t| secs(t - cx.start_ms)),
                    resolved_s: e.resolved_at.map(|t| secs(t - cx.start_ms)),
                })
                .collect(),
        });
    }
    Judgement { faults, rules, timelines }
}

fn alert_facts<'a>(cx: &'a Context<'_>) -> impl Iterator<Item = (&'a str, &'a RuleFacts)> {
    cx.facts.iter().filter_map(|f| match &f.kind {
        RuleKind::Alert(name) => Some((name.as_str(), f)),
        RuleKind::Record(_) => None,
    })
}

/// The fault's verdict, and the indices of the alerting rules that caught it.
fn fault(slot: &Slot, alerts: &[(&str, ByNode)], cx: &Context<'_>) -> (Fault, BTreeSet<usize>) {
    let (start, end, until) = (at(cx, slot.start), at(cx, slot.end), at(cx, slot.window_end()));
    // Nodes faulted at some point of this window: their alerts are theirs, not collateral.
    let busy: BTreeSet<u32> = cx
        .plan
        .slots
        .iter()
        .filter(|o| at(cx, o.start) < until && at(cx, o.window_end()) > start)
        .map(|o| o.node)
        .collect();
    let mut detections = Vec::new();
    let mut fired = Vec::new();
    let mut collateral = BTreeSet::new();
    let mut by = BTreeSet::new();
    for (i, (alert, nodes)) in alerts.iter().enumerate() {
        let mut mine: Vec<Episode> = Vec::new();
        for (node, eps) in nodes {
            let caused = eps.iter().filter(|e| e.pending_at >= start && e.pending_at < until);
            match node {
                Some(n) if *n != slot.node => {
                    if !busy.contains(n) && caused.clone().any(|e| e.firing_at.is_some_and(|f| f < until)) {
                        collateral.insert(((*alert).to_owned(), n.to_string()));
                    }
                }
                _ => mine.extend(caused),
            }
        }
        mine.sort_by_key(|e| e.pending_at);
        let Some(first) = mine.first() else { continue };
        let firing: Vec<&Episode> = mine.iter().filter(|e| e.firing_at.is_some_and(|f| f < until)).collect();
        let first_firing = firing.first().and_then(|e| e.firing_at);
        if let Some(f) = first_firing {
            fired.push((f, (*alert).to_owned()));
            by.insert(i);
        }
        let resolved = mine.last().and_then(|e| e.resolved_at);
        detections.push(Detection {
            alert: (*alert).to_owned(),
            pending_after_s: secs(first.pending_at - start),
            firing_after_s: first_firing.map(|f| secs(f - start)),
            resolved_after_end_s: resolved.map(|r| secs(r - end)),
            flaps: u32::try_from(firing.len().saturating_sub(1)).unwrap_or(u32::MAX),
        });
    }
    fired.sort();
    let mut caught_by: Vec<String> = Vec::new();
    for (_, alert) in fired {
        if !caught_by.contains(&alert) {
            caught_by.push(alert);
        }
    }
    // A rule that fired anyway was not too short for it (needs() is a bound from windows).
    let too_short_for = alert_facts(cx)
        .filter(|(alert, f)| f.needs() > slot.length() && !caught_by.iter().any(|c| c == alert))
        .map(|(alert, f)| TooShort { alert: alert.to_owned(), needs_s: f.needs().as_secs_f64() })
        .collect();
    let fault = Fault {
        failure: slot.kind.as_str().to_owned(),
        node: slot.node.to_string(),
        start_s: slot.start.as_secs_f64(),
        end_s: slot.end.as_secs_f64(),
        status: if caught_by.is_empty() { FaultStatus::Uncaught } else { FaultStatus::Caught },
        caught_by,
        detections,
        collateral: collateral.into_iter().map(|(alert, node)| Collateral { alert, node }).collect(),
        too_short_for,
    };
    (fault, by)
}

/// What would provide a metric of this name, if a known shape or job would.
pub fn provided_by(metric: &str) -> Option<String> {
    let by = if metric.starts_with("probe_") {
        "blackbox exporter (a `blackbox` job probing the nodes); the virtual fleet has no blackbox job"
    } else if metric.starts_with("node_") {
        "node_exporter (shape `node_exporter`, job `node`): a collector or label the virtual fleet does not render"
    } else if metric.starts_with("http_server_") || metric == "target_info" {
        "OpenTelemetry HTTP server metrics (shape `otel`, job `edge-node`)"
    } else if metric.starts_with("http_requests_")
        || metric.starts_with("http_request_duration_")
        || metric.starts_with("process_")
    {
        "client_golang promhttp (shape `promhttp`, job `edge-node`)"
    } else {
        return None;
    };
    Some(by.to_owned())
}

/// The part of `e`'s firing inside `[from, to)` (empty if none); `last` ends an open one.
fn firing_within(e: &Episode, from: Millis, to: Millis, last: Millis) -> (Millis, Millis) {
    let Some(f) = e.firing_at else { return (from, from) };
    let (start, stop) = (f.max(from), e.resolved_at.unwrap_or(last).min(to));
    (start, stop.max(start))
}

/// The time covered by the union of `intervals` (label sets of one node may overlap).
fn covered(mut intervals: Vec<(Millis, Millis)>) -> Millis {
    intervals.sort_unstable();
    let (mut total, mut reach) = (0, Millis::MIN);
    for (from, to) in intervals {
        let from = from.max(reach);
        if to > from {
            total += to - from;
            reach = to;
        }
    }
    total
}

fn rule(
    group: &str,
    alert: &str,
    file: &str,
    facts: Option<&RuleFacts>,
    nodes: &ByNode,
    caught: Vec<String>,
    cx: &Context<'_>,
) -> RuleReport {
    let missing: Vec<Missing> = facts
        .map(|f| {
            f.source_metrics
                .iter()
                .filter(|m| !cx.seen.contains(*m))
                .map(|m| Missing { metric: m.clone(), provided_by: provided_by(m) })
                .collect()
        })
        .unwrap_or_default();
    let (rest_start, rest_end, last) = (cx.start_ms, at(cx, cx.plan.rest), at(cx, cx.plan.end));
    let mut at_rest = FalseAlerts::default();
    let mut nodes_at_rest = BTreeSet::new();
    let mut total_ms = 0;
    let mut intervals: BTreeMap<Option<u32>, Vec<(Millis, Millis)>> = BTreeMap::new();
    for (node, eps) in nodes {
        for e in eps.iter().filter(|e| e.firing_at.is_some_and(|f| f < rest_end)) {
            let (from, to) = firing_within(e, rest_start, rest_end, last);
            at_rest.episodes += 1;
            nodes_at_rest.insert(node_name(*node));
            total_ms += to - from;
            intervals.entry(*node).or_default().push((from, to));
        }
    }
    at_rest.nodes = nodes_at_rest.into_iter().collect();
    at_rest.total_s = secs(total_ms);
    let rest_ms = (rest_end - rest_start) as f64;
    let fleet_wide = intervals.get(&None).cloned().unwrap_or_default();
    let always_firing = rest_ms > 0.0
        && (1..=cx.nodes).all(|n| {
            let mut on_node = intervals.get(&Some(n)).cloned().unwrap_or_default();
            on_node.extend(&fleet_wide);
            covered(on_node) as f64 >= ALWAYS_FIRING_SHARE * rest_ms
        });
    let status = if !missing.is_empty() {
        RuleStatus::CannotEvaluate
    } else if always_firing {
        RuleStatus::AlwaysFiring
    } else if !caught.is_empty() {
        RuleStatus::Caught
    } else if nodes.values().all(Vec::is_empty) {
        RuleStatus::NeverExercised
    } else {
        RuleStatus::FalseAlertsOnly
    };
    RuleReport {
        alert: alert.to_owned(),
        group: group.to_owned(),
        file: file.to_owned(),
        status,
        caught,
        false_alerts_at_rest: at_rest,
        missing,
        shortest_fault_s: facts.map(|f| f.needs().as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_sim::FaultKind;
    use rule_coverage::{AlertOutcome, Timings, facts::rule_facts, load::parse_text};
    use std::path::Path;
    use std::time::Duration;

    const RULES: &str = "groups:\n  - name: g\n    rules:\n\
        \x20     - alert: Cpu\n        expr: rate(node_cpu_seconds_total[5m]) > 1\n        for: 10m\n\
        \x20     - alert: Down\n        expr: up == 0\n\
        \x20     - alert: Always\n        expr: vector(1)\n\
        \x20     - alert: Noisy\n        expr: up > 0\n\
        \x20     - alert: Never\n        expr: up > 1\n\
        \x20     - alert: Missing\n        expr: probe_success == 0\n\
        \x20     - alert: Slow\n        expr: avg_over_time(up[1h]) < 0\n";

    fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    fn ep(pending: i64, firing: Option<i64>, resolved: Option<i64>) -> Episode {
        Episode {
            pending_at: pending * 1000,
            firing_at: firing.map(|f| f * 1000),
            resolved_at: resolved.map(|r| r * 1000),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn outcome(alert: &str, episodes: Vec<(LabelSet, Vec<Episode>)>) -> AlertOutcome {
        AlertOutcome {
            group: "g".into(),
            alert: alert.into(),
            interval: s(15),
            timeline: Default::default(),
            episodes: episodes.into_iter().collect(),
        }
    }

    fn judged() -> Judgement {
        let groups = parse_text(RULES, Path::new("r.yml")).expect("valid");
        let facts = rule_facts(&groups).expect("parses");
        let slot = |kind, node| Slot { kind, node, start: s(600), end: s(840), recovery: s(120) };
        let plan = Plan {
            rest: s(600),
            fault_length: s(240),
            recovery: s(120),
            slots: vec![slot(FaultKind::CpuSpike, 1), slot(FaultKind::NodeCrash, 2)],
            end: s(960),
        };
        let seen: BTreeSet<String> = ["up", "node_cpu_seconds_total"].map(String::from).into();
        let node = |n: &str| labels(&[("alertname", "x"), ("node", n)]);
        let alerts = vec![
            outcome(
                "Cpu",
                vec![
                    (node("1"), vec![ep(660, Some(720), Some(870)), ep(880, Some(890), Some(900))]),
                    (node("2"), vec![ep(700, Some(700), Some(800))]),
                    (node("3"), vec![ep(700, Some(710), Some(800))]),
                ],
            ),
            outcome(
                "Down",
                vec![(labels(&[("instance", "edge-node-2:8080")]), vec![ep(600, Some(630), Some(840))])],
            ),
            outcome("Always", vec![(labels(&[("alertname", "Always")]), vec![ep(0, Some(0), None)])]),
            outcome("Noisy", vec![(node("3"), vec![ep(100, Some(100), Some(200))])]),
            outcome("Never", vec![]),
            outcome("Missing", vec![]),
            outcome("Slow", vec![]),
        ];
        let cx = Context {
            plan: &plan,
            groups: &groups,
            facts: &facts,
            seen: &seen,
            nodes: 3,
            instances: (1..=3).map(|i| format!("edge-node-{i}:8080")).collect(),
            start_ms: 0,
        };
        judge(&Outcome { alerts, timings: Timings::default() }, &cx)
    }

    #[test]
    fn faults_are_caught_on_their_node_with_times_and_collateral_elsewhere() {
        let j = judged();
        let cpu = &j.faults[0];
        assert_eq!(
            (cpu.failure.as_str(), cpu.node.as_str(), cpu.status),
            ("cpu_spike", "1", FaultStatus::Caught)
        );
        assert_eq!(cpu.caught_by, ["Cpu"], "Always was firing before the fault: not caused by it");
        let d = &cpu.detections[0];
        assert_eq!(
            (d.pending_after_s, d.firing_after_s, d.resolved_after_end_s),
            (60.0, Some(120.0), Some(60.0))
        );
        assert_eq!(d.flaps, 1, "fired twice in the window");
        // Node 2 is faulted at the same time (its alerts are its own); node 3 is not.
        assert_eq!(cpu.collateral, [Collateral { alert: "Cpu".into(), node: "3".into() }]);
        // Cpu needs 15 min but fired anyway: only Slow (1 h) was too short.
        assert_eq!(cpu.too_short_for, [TooShort { alert: "Slow".into(), needs_s: 3600.0 }]);
        let crash = &j.faults[1];
        assert_eq!(crash.caught_by, ["Down", "Cpu"], "by instance, then node; in order of firing");
    }

    #[test]
    fn rules_get_one_status_each_and_false_alerts_at_rest() {
        let j = judged();
        let status: Vec<_> = j.rules.iter().map(|r| (r.alert.as_str(), r.status)).collect();
        assert_eq!(
            status,
            [
                ("Cpu", RuleStatus::Caught),
                ("Down", RuleStatus::Caught),
                ("Always", RuleStatus::AlwaysFiring),
                ("Noisy", RuleStatus::FalseAlertsOnly),
                ("Never", RuleStatus::NeverExercised),
                ("Missing", RuleStatus::CannotEvaluate),
                ("Slow", RuleStatus::NeverExercised),
            ]
        );
        assert_eq!(j.rules[0].caught, ["cpu_spike", "node_crash"]);
        let noisy = &j.rules[3].false_alerts_at_rest;
        assert_eq!(
            (noisy.episodes, noisy.nodes.as_slice(), noisy.total_s),
            (1, &["3".to_owned()][..], 100.0)
        );
        assert_eq!(j.rules[2].false_alerts_at_rest.nodes, [FLEET]);
        assert!(j.rules[5].missing[0].provided_by.as_deref().is_some_and(|p| p.contains("blackbox")));
        assert_eq!(j.rules[0].shortest_fault_s, Some(900.0));
        let cpu_on_1 = j.timelines.iter().find(|t| t.alert == "Cpu" && t.node == "1").expect("timeline");
        assert_eq!(cpu_on_1.episodes.len(), 2);
        assert_eq!(cpu_on_1.episodes[0].firing_s, Some(720.0));
    }

    #[test]
    fn overlapping_label_sets_of_a_node_count_once() {
        assert_eq!(covered(vec![(0, 10), (5, 15), (20, 30), (22, 25)]), 25);
        assert_eq!(covered(vec![]), 0);
    }

    #[test]
    fn known_families_name_their_provider() {
        for (metric, needle) in [
            ("probe_success", "blackbox"),
            ("node_hwmon_temp_celsius", "node_exporter"),
            ("http_server_request_duration_seconds_bucket", "otel"),
            ("http_requests_total", "promhttp"),
            ("process_cpu_seconds_total", "promhttp"),
        ] {
            assert!(provided_by(metric).is_some_and(|p| p.contains(needle)), "{metric}");
        }
        assert_eq!(provided_by("my_app_queue_depth"), None);
    }
}
