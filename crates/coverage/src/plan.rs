//! The fault plan: a rest period with no fault, then every failure mode on its own node.
//!
//! Faults run **in parallel on different nodes** (mode `i` on node `1 + i mod nodes`), in
//! waves when there are more modes than nodes: a wave of `nodes` faults starts together and
//! the next one starts once the previous has ended and recovered. Parallel is faster (one
//! fault length plus one recovery per wave instead of per mode, which is what makes a day of
//! rest plus every mode fit in one run) and keeps attribution per node: an alert on the
//! faulted node is a detection, one on another node is collateral.
//!
//! Parallel has one cost: a rule aggregating over nodes (a region's share of nodes down)
//! sees several faulted nodes at once and may fire where one fault would not; `--serial`
//! runs one fault at a time for such rule sets.
//!
//! Lengths come from the rules: a fault lasts the longest [`RuleFacts::needs`] (window +
//! `for`) over the alerting rules, plus [`margin`] (scrape and evaluation delays), capped by
//! the user's cap (and the model's longest fault, 1 h). The recovery after it lets every
//! alert resolve: the longest window must stop seeing the fault, plus `keep_firing_for`, the
//! lookback delta and two evaluations; it is capped by the same cap so a 6 h window does not
//! cost 6 h per wave (an alert still firing then shows as not resolved).

use std::time::Duration;

use edge_sim::FaultKind;
use rule_coverage::RuleKind;
use rule_coverage::facts::RuleFacts;

/// The model refuses faults longer than this (`edge_sim::fault::MAX_DURATION`).
pub const MODEL_MAX_FAULT: Duration = Duration::from_secs(3600);

/// What the plan is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInput {
    /// Nodes in the fleet.
    pub nodes: u32,
    /// The rest period before any fault.
    pub rest: Duration,
    /// The longest a fault (and a recovery) may last.
    pub fault_cap: Duration,
    /// The modes to inject, in order.
    pub failures: Vec<FaultKind>,
    /// Between two scrapes.
    pub scrape_interval: Duration,
    /// The longest evaluation interval of the rule groups.
    pub evaluation_interval: Duration,
    /// Prometheus' lookback delta in the evaluation.
    pub lookback_delta: Duration,
    /// One fault at a time (each after the previous one's recovery) instead of one per node
    /// at once: slower, but an aggregate over nodes (a region's share of nodes down) sees
    /// one faulted node, not many.
    pub serial: bool,
}

/// One fault of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The mode.
    pub kind: FaultKind,
    /// The node (1-based).
    pub node: u32,
    /// When it starts, since the run started.
    pub start: Duration,
    /// When it ends.
    pub end: Duration,
    /// Until when (from `end`) its alerts are attributed to it.
    pub recovery: Duration,
}

impl Slot {
    /// The fault's length.
    pub fn length(&self) -> Duration {
        self.end - self.start
    }

    /// The end of the window its alerts are judged in: `end + recovery`.
    pub fn window_end(&self) -> Duration {
        self.end + self.recovery
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The rest period `[0, rest)`.
    pub rest: Duration,
    /// Every fault's length.
    pub fault_length: Duration,
    /// The recovery after each.
    pub recovery: Duration,
    /// The faults.
    pub slots: Vec<Slot>,
    /// The run's length (the last scrape and evaluation).
    pub end: Duration,
}

/// Scrape and evaluation delays on top of a rule's needs: a sample needs up to one scrape to
/// land, `rate` needs two, and the alert is seen at the next evaluation (twice each, so a
/// rule needing exactly its window plus `for` still fires inside the fault).
pub fn margin(scrape_interval: Duration, evaluation_interval: Duration) -> Duration {
    (scrape_interval + evaluation_interval) * 2
}

/// The alerting rules' facts only.
fn alerts(facts: &[RuleFacts]) -> impl Iterator<Item = &RuleFacts> {
    facts.iter().filter(|f| matches!(f.kind, RuleKind::Alert(_)))
}

/// Plans the run for the alerting rules of `facts`.
pub fn plan(input: &PlanInput, facts: &[RuleFacts]) -> Plan {
    let cap = input.fault_cap.min(MODEL_MAX_FAULT);
    let needs = alerts(facts).map(RuleFacts::needs).max().unwrap_or_default();
    let margin = margin(input.scrape_interval, input.evaluation_interval);
    let fault_length = (needs + margin).min(cap).max(Duration::from_secs(1));
    let reach = alerts(facts).map(|f| f.effective_reach).max().unwrap_or_default();
    let keep = alerts(facts).map(|f| f.keep_firing_for).max().unwrap_or_default();
    let recovery = (reach + keep + input.lookback_delta + input.evaluation_interval * 2).min(cap);
    let nodes = input.nodes.max(1);
    let per_wave = if input.serial { 1 } else { nodes };
    let wave = fault_length + recovery;
    let slots: Vec<Slot> = input
        .failures
        .iter()
        .enumerate()
        .map(|(i, &kind)| {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let start = input.rest + wave * (i / per_wave);
            Slot { kind, node: 1 + i % nodes, start, end: start + fault_length, recovery }
        })
        .collect();
    let end = slots.iter().map(Slot::window_end).max().unwrap_or(input.rest);
    Plan { rest: input.rest, fault_length, recovery, slots, end }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rule_coverage::facts::rule_facts;
    use rule_coverage::load::parse_text;
    use std::path::Path;

    fn mins(m: u64) -> Duration {
        Duration::from_secs(60 * m)
    }

    fn facts(text: &str) -> Vec<RuleFacts> {
        rule_facts(&parse_text(text, Path::new("t.yml")).expect("valid")).expect("parses")
    }

    fn input(nodes: u32, failures: Vec<FaultKind>) -> PlanInput {
        PlanInput {
            nodes,
            rest: mins(20),
            fault_cap: mins(60),
            failures,
            scrape_interval: Duration::from_secs(15),
            evaluation_interval: Duration::from_secs(15),
            lookback_delta: Duration::from_secs(30),
            serial: false,
        }
    }

    const RULES: &str = "groups:\n  - name: g\n    rules:\n\
        \x20     - record: r:x:rate10m\n        expr: rate(x_total[10m])\n\
        \x20     - alert: Slow\n        expr: avg_over_time(r:x:rate10m[5m]) > 1\n        for: 5m\n        keep_firing_for: 2m\n\
        \x20     - alert: Quick\n        expr: up == 0\n        for: 1m\n";

    #[test]
    fn a_fault_lasts_the_slowest_alerts_needs_plus_the_margin() {
        let p = plan(&input(3, vec![FaultKind::CpuSpike]), &facts(RULES));
        // Slow reads 10m + 5m back and waits 5m: 20 min, plus 2 x (15 s + 15 s).
        assert_eq!(p.fault_length, mins(21));
        // Its windows (15 min), keep_firing_for (2), the lookback (30 s), two evaluations.
        assert_eq!(p.recovery, mins(18));
        assert_eq!(p.slots[0].start, mins(20));
        assert_eq!(p.end, mins(20 + 21 + 18));
    }

    #[test]
    fn the_cap_and_the_models_longest_fault_bound_lengths() {
        let long = "groups:\n  - name: g\n    rules:\n      - alert: Fill\n        expr: predict_linear(d[6h], 3600) < 0\n        for: 1h\n";
        let mut i = input(2, vec![FaultKind::DiskFill]);
        let p = plan(&i, &facts(long));
        assert_eq!((p.fault_length, p.recovery), (mins(60), mins(60)));
        i.fault_cap = mins(10);
        let p = plan(&i, &facts(long));
        assert_eq!((p.fault_length, p.recovery), (mins(10), mins(10)));
        i.fault_cap = mins(120);
        assert_eq!(plan(&i, &facts(long)).fault_length, MODEL_MAX_FAULT);
    }

    #[test]
    fn modes_run_in_parallel_one_per_node_and_in_waves_beyond_the_fleet() {
        let kinds = vec![FaultKind::CpuSpike, FaultKind::NodeCrash, FaultKind::DiskFill];
        let p = plan(&input(2, kinds), &facts(RULES));
        let wave = p.fault_length + p.recovery;
        let at: Vec<_> = p.slots.iter().map(|s| (s.kind, s.node, s.start)).collect();
        assert_eq!(
            at,
            [
                (FaultKind::CpuSpike, 1, mins(20)),
                (FaultKind::NodeCrash, 2, mins(20)),
                (FaultKind::DiskFill, 1, mins(20) + wave),
            ]
        );
        assert_eq!(p.end, mins(20) + wave * 2);
        assert!(p.slots.iter().all(|s| s.length() == p.fault_length && s.recovery == p.recovery));
    }

    #[test]
    fn serial_runs_one_fault_at_a_time_still_one_per_node() {
        let mut i = input(2, vec![FaultKind::CpuSpike, FaultKind::NodeCrash, FaultKind::DiskFill]);
        i.serial = true;
        let p = plan(&i, &facts(RULES));
        let wave = p.fault_length + p.recovery;
        let at: Vec<_> = p.slots.iter().map(|s| (s.node, s.start)).collect();
        assert_eq!(at, [(1, mins(20)), (2, mins(20) + wave), (1, mins(20) + wave * 2)]);
        assert_eq!(p.end, mins(20) + wave * 3);
    }

    #[test]
    fn no_alerts_or_no_faults_still_plan() {
        let p = plan(&input(1, vec![FaultKind::CpuSpike]), &[]);
        assert_eq!(p.fault_length, margin(Duration::from_secs(15), Duration::from_secs(15)));
        let p = plan(&input(1, vec![]), &facts(RULES));
        assert_eq!((p.slots.len(), p.end), (0, mins(20)));
    }
}
