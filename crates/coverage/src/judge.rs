//! Judging: from the engine's episodes and the plan to the report's faults, rules and
//! timelines.
//!
//! - An alert's label set belongs to a node by its `node` label, or its `instance` mapped
//!   through the fleet's instance template. One with neither but a `region` label naming a
//!   region of the fleet (an aggregate `by (region)`, such as `RegionDown`) belongs to that
//!   region: to the nodes [`Context::regions`] puts in it, and is named `region <name>` in
//!   the report. One with none of these (an aggregate such as `vector(1)` or
//!   `count(up == 0) > 0`, or an unknown region) is fleet-wide and counts on every node.
//! - A fault is caught by an alert whose episode on the faulted node (or on its region, or
//!   fleet-wide) went pending at or after the fault's start and fired before
//!   `end + recovery` (an episode already running when the fault started was not caused by
//!   it). Alerts firing in that window on a node that no fault touched at the time are
//!   collateral; a region's alert is collateral when it fires for a region other than the
//!   faulted node's and no fault touched any node of that region at the time.
//! - Faults may overlap (a scenario's): "touched at the time" is per episode, at the instant
//!   it went pending (within some fault's `[start, end + recovery)` on that node), so an
//!   alert on a node whose own fault had recovered long before is collateral again. Faults
//!   overlapping on one node cannot be told apart: an episode of that node is credited to
//!   each of them whose window it went pending in.
//! - At rest (`[0, rest)`): firing episodes are false alerts (a region's on the region,
//!   once); firing for at least [`ALWAYS_FIRING_SHARE`] of the rest on every node (its own,
//!   its region's and fleet-wide episodes together) is `always_firing`.

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

/// The node name of a fleet-wide alert (no `node` or `instance` label, nor a known `region`).
pub const FLEET: &str = "fleet";

/// How the node name of a region's alert starts: [`region_name`].
pub const REGION: &str = "region ";

/// The node name of a region's alert (a `region` label, no `node` or `instance`):
/// `region eu-west`.
pub fn region_name(region: &str) -> String {
    format!("{REGION}{region}")
}

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
    /// The `region` label of each node's series, index 0 for node 1 (the virtual fleet's
    /// [`edge_node::NodeConfig::new`]). Empty: no alert is attributed to a region.
    pub regions: Vec<String>,
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

/// Where an alert's label set belongs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    /// One node.
    Node(u32),
    /// The nodes of one region of the fleet.
    Region(String),
    /// Every node.
    Fleet,
}

/// An alert's episodes per scope.
type ByNode = BTreeMap<Scope, Vec<Episode>>;

fn node_of(labels: &LabelSet, cx: &Context<'_>) -> Scope {
    if let Some(n) = labels.get("node").and_then(|v| v.parse().ok()) {
        return Scope::Node(n);
    }
    let by_instance = labels.get("instance").and_then(|instance| {
        cx.instances.iter().position(|i| i == instance).and_then(|i| u32::try_from(i + 1).ok())
    });
    if let Some(n) = by_instance {
        return Scope::Node(n);
    }
    match labels.get("region") {
        Some(region) if cx.regions.contains(region) => Scope::Region(region.clone()),
        _ => Scope::Fleet,
    }
}

/// The region of node `node` (1-based), if known.
fn region_of<'a>(cx: &'a Context<'_>, node: u32) -> Option<&'a str> {
    let i = usize::try_from(node).ok()?.checked_sub(1)?;
    cx.regions.get(i).map(String::as_str)
}

/// The nodes (1-based) of `region`.
fn nodes_in<'a>(cx: &'a Context<'_>, region: &'a str) -> impl Iterator<Item = u32> + 'a {
    (1..=cx.nodes).filter(move |n| region_of(cx, *n) == Some(region))
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

fn node_name(scope: &Scope) -> String {
    match scope {
        Scope::Node(n) => n.to_string(),
        Scope::Region(r) => region_name(r),
        Scope::Fleet => FLEET.to_owned(),
    }
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
            // Each mode once, in plan order, however many of its faults (nodes) it caught.
            let mut caught: Vec<String> = Vec::new();
            for (f, _) in faults.iter().zip(&fired).filter(|(_, by)| by.contains(&i)) {
                if !caught.contains(&f.failure) {
                    caught.push(f.failure.clone());
                }
            }
            let file = files.get(i).cloned().unwrap_or_default();
            rule(&a.group, &a.alert, &file, facts.get(i).copied(), nodes, caught, cx)
        })
        .collect();
    // One timeline per (alert, node): rules sharing a name (warning and critical) merge.
    let mut merged: BTreeMap<(&str, &Scope), Vec<Episode>> = BTreeMap::new();
    for (alert, nodes) in &alerts {
        for (node, eps) in nodes {
            merged.entry((alert, node)).or_default().extend(eps);
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
    // Whether a fault touched node `n` when an episode went pending at `t` (within its
    // window): its alerts then are that fault's, not collateral.
    let windows: Vec<(u32, Millis, Millis)> =
        cx.plan.slots.iter().map(|o| (o.node, at(cx, o.start), at(cx, o.window_end()))).collect();
    let busy = |n: u32, t: Millis| windows.iter().any(|&(node, from, to)| node == n && from <= t && t < to);
    let mut detections = Vec::new();
    let mut fired = Vec::new();
    let mut collateral = BTreeSet::new();
    let mut by = BTreeSet::new();
    let home = region_of(cx, slot.node);
    for (i, (alert, nodes)) in alerts.iter().enumerate() {
        let mut mine: Vec<Episode> = Vec::new();
        for (scope, eps) in nodes {
            let caused = eps.iter().filter(|e| e.pending_at >= start && e.pending_at < until);
            let elsewhere = match scope {
                Scope::Node(n) => *n != slot.node,
                // A region's alert is another fault's when that fault's node is in the region.
                Scope::Region(r) => home != Some(r.as_str()),
                Scope::Fleet => false,
            };
            if !elsewhere {
                mine.extend(caused);
                continue;
            }
            // Another node's (or region's) episode: collateral when no fault touched it then.
            let idle = |t: Millis| match scope {
                Scope::Node(n) => !busy(*n, t),
                Scope::Region(r) => nodes_in(cx, r).all(|n| !busy(n, t)),
                Scope::Fleet => false,
            };
            let mut fired_idle =
                caused.filter(|e| e.firing_at.is_some_and(|f| f < until) && idle(e.pending_at));
            if fired_idle.next().is_some() {
                collateral.insert(((*alert).to_owned(), node_name(scope)));
            }
        }
        mine.sort_by_key(|e| e.pending_at);
        let Some(first) = mine.first() else { continue };
        let firing: Vec<&Episode> = mine.iter().filter(|e| e.firing_at.is_some_and(|f| f < until)).collect();
        let first_firing = firing.iter().filter_map(|e| e.firing_at).min();
        if let Some(f) = first_firing {
            fired.push((f, (*alert).to_owned()));
            by.insert(i);
        }
        // Resolved when the last of its label sets that fired did (a later pending-only one
        // does not count); never while one still fires. Unfired: when it stopped pending.
        let ended: Vec<&Episode> = if firing.is_empty() { mine.iter().collect() } else { firing.clone() };
        let resolved = ended.iter().try_fold(Millis::MIN, |last, e| e.resolved_at.map(|r| last.max(r)));
        detections.push(Detection {
            alert: (*alert).to_owned(),
            rule: Some(i),
            pending_after_s: secs(first.pending_at - start),
            firing_after_s: first_firing.map(|f| secs(f - start)),
            resolved_after_end_s: resolved.map(|r| secs(r - end)),
            flaps: u32::try_from(stretches(&firing).saturating_sub(1)).unwrap_or(u32::MAX),
        });
    }
    fired.sort();
    let mut caught_by: Vec<String> = Vec::new();
    for (_, alert) in fired {
        if !caught_by.contains(&alert) {
            caught_by.push(alert);
        }
    }
    // A rule that fired anyway was not too short for it (needs() is a bound from windows),
    // nor is one that reads a series the fleet lacks: that, not the length, kept it quiet.
    let too_short_for = alert_facts(cx)
        .enumerate()
        .filter(|(_, (alert, f))| f.needs() > slot.length() && !caught_by.iter().any(|c| c == alert))
        .filter(|(_, (_, f))| f.source_metrics.iter().all(|m| cx.seen.contains(m)))
        .map(|(i, (alert, f))| TooShort {
            alert: alert.to_owned(),
            rule: Some(i),
            needs_s: f.needs().as_secs_f64(),
        })
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

/// The separate firing stretches of `episodes`: label sets firing at once (one per disk, or
/// per severity) are one stretch, so only a resolve followed by a new firing is a flap.
fn stretches(episodes: &[&Episode]) -> usize {
    let mut spans: Vec<(Millis, Millis)> = episodes
        .iter()
        .filter_map(|e| e.firing_at.map(|f| (f, e.resolved_at.unwrap_or(Millis::MAX))))
        .collect();
    spans.sort_unstable();
    let (mut count, mut reach) = (0, Millis::MIN);
    for (from, to) in spans {
        if count == 0 || from > reach {
            count += 1;
        }
        reach = reach.max(to);
    }
    count
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
    let mut intervals: BTreeMap<&Scope, Vec<(Millis, Millis)>> = BTreeMap::new();
    for (node, eps) in nodes {
        for e in eps.iter().filter(|e| e.firing_at.is_some_and(|f| f < rest_end)) {
            let (from, to) = firing_within(e, rest_start, rest_end, last);
            at_rest.episodes += 1;
            nodes_at_rest.insert(node_name(node));
            intervals.entry(node).or_default().push((from, to));
        }
    }
    at_rest.nodes = nodes_at_rest.into_iter().collect();
    // Per node the union: label sets firing at once (one per disk) are not time twice.
    at_rest.total_s = secs(intervals.values().cloned().map(covered).sum());
    let rest_ms = (rest_end - rest_start) as f64;
    let of = |scope: &Scope| intervals.get(scope).cloned().unwrap_or_default();
    let always_firing = rest_ms > 0.0
        && (1..=cx.nodes).all(|n| {
            let mut on_node = of(&Scope::Node(n));
            on_node.extend(of(&Scope::Fleet));
            if let Some(region) = region_of(cx, n) {
                on_node.extend(of(&Scope::Region(region.to_owned())));
            }
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
        \x20     - alert: Slow\n        expr: avg_over_time(up[1h]) < 0\n\
        \x20     - alert: MissingSlow\n        expr: avg_over_time(probe_success[1h]) < 1\n";

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
        let slot = |kind, node| Slot {
            kind,
            node,
            start: s(600),
            end: s(840),
            recovery: s(120),
            intensity: None,
            service: None,
        };
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
            outcome("MissingSlow", vec![]),
        ];
        let cx = Context {
            plan: &plan,
            groups: &groups,
            facts: &facts,
            seen: &seen,
            nodes: 3,
            instances: (1..=3).map(|i| format!("edge-node-{i}:8080")).collect(),
            regions: Vec::new(),
            start_ms: 0,
        };
        judge(&Outcome { alerts, timings: Timings::default() }, &cx)
    }

    /// node_crash on node 1 in `[600, 840)`, recovered by 960, and one alert `A` with these
    /// label sets and episodes.
    fn one_fault(episodes: Vec<(LabelSet, Vec<Episode>)>) -> Fault {
        one_alert(episodes).faults.remove(0)
    }

    /// [`one_fault`]'s whole judgement.
    fn one_alert(episodes: Vec<(LabelSet, Vec<Episode>)>) -> Judgement {
        let rules = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n";
        let groups = parse_text(rules, Path::new("r.yml")).expect("valid");
        let facts = rule_facts(&groups).expect("parses");
        let plan = Plan {
            rest: s(600),
            fault_length: s(240),
            recovery: s(120),
            slots: vec![Slot {
                kind: FaultKind::NodeCrash,
                node: 1,
                start: s(600),
                end: s(840),
                recovery: s(120),
                intensity: None,
                service: None,
            }],
            end: s(960),
        };
        let seen: BTreeSet<String> = ["up"].map(String::from).into();
        let cx = Context {
            plan: &plan,
            groups: &groups,
            facts: &facts,
            seen: &seen,
            nodes: 2,
            instances: Vec::new(),
            regions: Vec::new(),
            start_ms: 0,
        };
        let alerts = vec![outcome("A", episodes)];
        judge(&Outcome { alerts, timings: Timings::default() }, &cx)
    }

    fn device(d: &str) -> LabelSet {
        labels(&[("alertname", "A"), ("node", "1"), ("device", d)])
    }

    #[test]
    fn label_sets_firing_at_once_are_no_flap_and_resolve_with_the_last_of_them() {
        let both = one_fault(vec![
            (device("a"), vec![ep(610, Some(620), Some(700))]),
            (device("b"), vec![ep(612, Some(625), Some(690))]),
        ]);
        let d = &both.detections[0];
        assert_eq!((d.flaps, d.resolved_after_end_s), (0, Some(-140.0)), "{d:?}");
        let open = one_fault(vec![
            (device("a"), vec![ep(610, Some(620), None)]),
            (device("b"), vec![ep(612, Some(625), Some(690))]),
        ]);
        assert_eq!(open.detections[0].resolved_after_end_s, None, "a still fires: never resolved");
        let flapped = one_fault(vec![(
            device("a"),
            vec![ep(610, Some(620), Some(650)), ep(660, Some(670), Some(700))],
        )]);
        assert_eq!(flapped.detections[0].flaps, 1);
    }

    #[test]
    fn label_sets_firing_at_once_at_rest_count_their_time_once_per_node() {
        let j = one_alert(vec![
            (device("a"), vec![ep(100, Some(100), Some(200))]),
            (device("b"), vec![ep(150, Some(150), Some(250))]),
        ]);
        let rest = &j.rules[0].false_alerts_at_rest;
        assert_eq!((rest.episodes, rest.total_s), (2, 150.0), "100-250 on node 1, not 100 + 100");
    }

    #[test]
    fn a_later_pending_only_episode_is_not_the_resolution() {
        let f = one_fault(vec![
            (device("a"), vec![ep(610, Some(620), Some(700))]),
            (device("b"), vec![ep(800, None, Some(810))]),
        ]);
        let d = &f.detections[0];
        assert_eq!((d.firing_after_s, d.resolved_after_end_s), (Some(20.0), Some(-140.0)), "{d:?}");
        let pending = one_fault(vec![(device("b"), vec![ep(800, None, Some(810))])]);
        assert_eq!(pending.detections[0].resolved_after_end_s, Some(-30.0), "unfired: stopped pending");
    }

    const REGION_RULES: &str = "groups:\n  - name: g\n    rules:\n\
        \x20     - alert: RegionDown\n        expr: up == 0\n\
        \x20     - alert: Templated\n        expr: up == 0\n\
        \x20     - alert: EveryRegion\n        expr: up >= 0\n\
        \x20     - alert: OneRegion\n        expr: up >= 0\n";

    /// Six nodes in three regions (eu: 1-2, us: 3-4, ap: 5-6); node_crash on 1 and cpu_spike
    /// on 3 at once, in `[600, 840)` and recovered by 960.
    fn judged_by_region() -> Judgement {
        let groups = parse_text(REGION_RULES, Path::new("r.yml")).expect("valid");
        let facts = rule_facts(&groups).expect("parses");
        let slot = |kind, node| Slot {
            kind,
            node,
            start: s(600),
            end: s(840),
            recovery: s(120),
            intensity: None,
            service: None,
        };
        let plan = Plan {
            rest: s(600),
            fault_length: s(240),
            recovery: s(120),
            slots: vec![slot(FaultKind::NodeCrash, 1), slot(FaultKind::CpuSpike, 3)],
            end: s(960),
        };
        let seen: BTreeSet<String> = ["up"].map(String::from).into();
        let region = |r: &str| labels(&[("alertname", "x"), ("region", r), ("severity", "critical")]);
        let alerts = vec![
            outcome(
                "RegionDown",
                vec![
                    (region("eu"), vec![ep(100, Some(100), Some(200)), ep(610, Some(615), Some(700))]),
                    (region("ap"), vec![ep(620, Some(620), Some(650))]),
                ],
            ),
            outcome("Templated", vec![(region("{{ $labels.region }}"), vec![ep(610, Some(615), Some(700))])]),
            outcome(
                "EveryRegion",
                ["eu", "us", "ap"].map(|r| (region(r), vec![ep(0, Some(0), None)])).into_iter().collect(),
            ),
            outcome("OneRegion", vec![(region("eu"), vec![ep(0, Some(0), None)])]),
        ];
        let cx = Context {
            plan: &plan,
            groups: &groups,
            facts: &facts,
            seen: &seen,
            nodes: 6,
            instances: (1..=6).map(|i| format!("edge-node-{i}:8080")).collect(),
            regions: ["eu", "eu", "us", "us", "ap", "ap"].map(String::from).to_vec(),
            start_ms: 0,
        };
        judge(&Outcome { alerts, timings: Timings::default() }, &cx)
    }

    #[test]
    fn a_regions_alert_catches_faults_in_that_region_only() {
        let j = judged_by_region();
        let (crash, cpu) = (&j.faults[0], &j.faults[1]);
        assert_eq!(crash.caught_by, ["RegionDown", "Templated"], "node 1 is in eu");
        assert_eq!(cpu.caught_by, ["Templated"], "node 3 is in us: eu's RegionDown is not its");
        assert!(cpu.detections.iter().all(|d| d.alert != "RegionDown"), "{:?}", cpu.detections);
        assert_eq!(j.rules[0].caught, ["node_crash"]);
        // An unknown region (a template kept as written) is fleet-wide, as before.
        assert_eq!(j.rules[1].caught, ["node_crash", "cpu_spike"]);
    }

    #[test]
    fn a_regions_alert_is_collateral_only_where_no_fault_touched_the_region() {
        let j = judged_by_region();
        let ap = Collateral { alert: "RegionDown".into(), node: region_name("ap") };
        // ap has no faulted node; eu has node 1 (its alert is node_crash's, not collateral).
        for fault in &j.faults {
            assert_eq!(fault.collateral, std::slice::from_ref(&ap), "{}", fault.failure);
        }
    }

    #[test]
    fn a_regions_alert_at_rest_is_a_false_alert_of_that_region_and_always_firing_needs_every_region() {
        let j = judged_by_region();
        let rest = &j.rules[0].false_alerts_at_rest;
        assert_eq!(
            (rest.episodes, rest.nodes.as_slice(), rest.total_s),
            (1, &["region eu".to_owned()][..], 100.0)
        );
        let status: Vec<_> = j.rules.iter().map(|r| (r.alert.as_str(), r.status)).collect();
        assert_eq!(
            status,
            [
                ("RegionDown", RuleStatus::Caught),
                ("Templated", RuleStatus::Caught),
                ("EveryRegion", RuleStatus::AlwaysFiring),
                ("OneRegion", RuleStatus::FalseAlertsOnly),
            ]
        );
        let names: Vec<&str> =
            j.timelines.iter().filter(|t| t.alert == "RegionDown").map(|t| t.node.as_str()).collect();
        assert_eq!(names, ["region ap", "region eu"]);
        assert!(j.timelines.iter().any(|t| t.alert == "Templated" && t.node == FLEET));
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
        assert_eq!(d.rule, Some(0), "the rule's index tells same-name rules apart");
        assert_eq!(j.faults[1].detections.iter().map(|d| d.rule).collect::<Vec<_>>(), [Some(0), Some(1)]);
        // Node 2 is faulted at the same time (its alerts are its own); node 3 is not.
        assert_eq!(cpu.collateral, [Collateral { alert: "Cpu".into(), node: "3".into() }]);
        // Cpu needs 15 min but fired anyway: only Slow (1 h) was too short; MissingSlow needs
        // as long but reads a series nothing provides: the length is not why it was quiet.
        assert_eq!(cpu.too_short_for, [TooShort { alert: "Slow".into(), rule: Some(6), needs_s: 3600.0 }]);
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
                ("MissingSlow", RuleStatus::CannotEvaluate),
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

    /// An alert's name and its episodes per node.
    type NodeEpisodes<'a> = (&'a str, Vec<(&'a str, Vec<Episode>)>);

    /// `slots` (kind, node, start, end; recovery 120 s) after a 600 s rest in a fleet of six
    /// nodes, and the alerts, each with its episodes per node.
    fn judged_plan(slots: &[(FaultKind, u32, u64, u64)], alerts: Vec<NodeEpisodes<'_>>) -> Judgement {
        let rules: String = alerts
            .iter()
            .map(|(name, _)| format!("      - alert: {name}\n        expr: up == 0\n"))
            .collect();
        let groups = parse_text(&format!("groups:\n  - name: g\n    rules:\n{rules}"), Path::new("r.yml"))
            .expect("valid");
        let facts = rule_facts(&groups).expect("parses");
        let slots: Vec<Slot> = slots
            .iter()
            .map(|&(kind, node, start, end)| Slot {
                kind,
                node,
                start: s(start),
                end: s(end),
                recovery: s(120),
                intensity: None,
                service: None,
            })
            .collect();
        let end = slots.iter().map(Slot::window_end).max().unwrap_or(s(600));
        let plan = Plan { rest: s(600), fault_length: s(240), recovery: s(120), slots, end };
        let seen: BTreeSet<String> = ["up"].map(String::from).into();
        let cx = Context {
            plan: &plan,
            groups: &groups,
            facts: &facts,
            seen: &seen,
            nodes: 6,
            instances: Vec::new(),
            regions: Vec::new(),
            start_ms: 0,
        };
        let alerts = alerts
            .into_iter()
            .map(|(name, by_node)| {
                let sets = by_node
                    .into_iter()
                    .map(|(n, eps)| (labels(&[("alertname", name), ("node", n)]), eps))
                    .collect();
                outcome(name, sets)
            })
            .collect();
        judge(&Outcome { alerts, timings: Timings::default() }, &cx)
    }

    #[test]
    fn overlapping_faults_on_several_nodes_and_on_one_node_are_each_judged() {
        // A scenario: dependency_failure on nodes 1-4, cpu_spike on node 2 during it, then
        // node_crash on node 2.
        let dep = FaultKind::DependencyFailure;
        let slots = [
            (dep, 1, 600, 720),
            (dep, 2, 600, 720),
            (dep, 3, 600, 720),
            (dep, 4, 600, 720),
            (FaultKind::CpuSpike, 2, 620, 660),
            (FaultKind::NodeCrash, 2, 660, 705),
        ];
        let early = || vec![ep(605, Some(610), Some(760))];
        let j = judged_plan(
            &slots,
            vec![
                (
                    "Upstream",
                    vec![("1", early()), ("2", early()), ("3", early()), ("4", early()), ("5", early())],
                ),
                ("Cpu", vec![("2", vec![ep(630, Some(640), Some(700))])]),
                ("Down", vec![("2", vec![ep(665, Some(670), Some(720))])]),
            ],
        );
        let verdict: Vec<(&str, &str, Vec<&str>)> = j
            .faults
            .iter()
            .map(|f| (f.failure.as_str(), f.node.as_str(), f.caught_by.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            verdict,
            [
                ("dependency_failure", "1", vec!["Upstream"]),
                // Node 2's faults overlap: each is credited with what went pending in its window.
                ("dependency_failure", "2", vec!["Upstream", "Cpu", "Down"]),
                ("dependency_failure", "3", vec!["Upstream"]),
                ("dependency_failure", "4", vec!["Upstream"]),
                // Upstream went pending before cpu_spike started: not caused by it.
                ("cpu_spike", "2", vec!["Cpu", "Down"]),
                ("node_crash", "2", vec!["Down"]),
            ]
        );
        // Nodes 1-4 are all faulted: only node 5's Upstream is collateral, for the faults it
        // went pending during (not node 2's later ones).
        let five = Collateral { alert: "Upstream".into(), node: "5".into() };
        for f in &j.faults {
            let expected = if f.start_s == 600.0 { std::slice::from_ref(&five) } else { &[] };
            assert_eq!(f.collateral, expected, "{} on {}", f.failure, f.node);
        }
        // A rule names each mode it caught once, however many nodes' faults it caught.
        assert_eq!(j.rules[0].caught, ["dependency_failure"]);
        assert_eq!(j.rules[1].caught, ["dependency_failure", "cpu_spike"]);
        assert_eq!(j.rules[2].caught, ["dependency_failure", "cpu_spike", "node_crash"]);
    }

    #[test]
    fn another_node_is_busy_only_while_its_own_fault_and_recovery_last() {
        // A long fault on node 1; a short one on node 2 whose window ends at 780.
        let slots = [(FaultKind::DiskFill, 1, 600, 2400), (FaultKind::CpuSpike, 2, 600, 660)];
        let j = judged_plan(
            &slots,
            vec![
                ("During", vec![("2", vec![ep(650, Some(655), Some(700))])]),
                ("After", vec![("2", vec![ep(1000, Some(1010), Some(1100))])]),
            ],
        );
        let (long, short) = (&j.faults[0], &j.faults[1]);
        assert_eq!(
            long.collateral,
            [Collateral { alert: "After".into(), node: "2".into() }],
            "node 2 had recovered at 780: its alert at 1000 is collateral; at 650 it was its own fault's"
        );
        assert_eq!(short.caught_by, ["During"]);
        assert!(short.collateral.is_empty() && long.caught_by.is_empty(), "{long:?} {short:?}");
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
