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
//!
//! A scenario plan (`--scenario`, [`scenario_faults`]) replaces the modes: the rest period,
//! then the scenario's steps, each at `rest + at` for its own duration, intensity and
//! service, one fault per node of its node spec; each gets the same recovery. Faults may
//! overlap, on different nodes or the same one; a fault of the same mode and service on a
//! node that already has one replaces it (as `POST /inject` does), so the earlier one's
//! slot ends where the later one starts.

use std::time::Duration;

use edge_sim::{FaultKind, Service};
use inject::scenario::Scenario;
use inject::targets::NodeSpec;
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
    /// The intensity of a mode's fault (`--intensity MODE=X`; the last one of a mode wins);
    /// a mode not listed gets the model's default.
    pub intensities: Vec<(FaultKind, f64)>,
    /// A scenario's faults instead of `failures` (then `serial` and `intensities` are unused).
    pub scenario: Option<Vec<ScenarioFault>>,
}

/// One fault of a scenario plan: a step of the scenario on one of its nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScenarioFault {
    /// The mode.
    pub kind: FaultKind,
    /// The node (1-based).
    pub node: u32,
    /// When it starts, since the rest period ended (the step's `at`).
    pub at: Duration,
    /// How long it lasts (the step's `duration`).
    pub length: Duration,
    /// The step's intensity (None: the model's default).
    pub intensity: Option<f64>,
    /// The step's service (None: every service).
    pub service: Option<Service>,
}

/// The faults of `scenario` in a fleet of `nodes` nodes: one per node of each step's node
/// spec (`all` is nodes 1..=`nodes`), in the scenario's order (by `at`, then node). Refused
/// (the message names the step) when a step names a node beyond the fleet or lasts longer
/// than the model's longest fault.
pub fn scenario_faults(scenario: &Scenario, nodes: u32) -> Result<Vec<ScenarioFault>, String> {
    let mut out = Vec::new();
    for step in &scenario.steps {
        let which = format!("the step at {} s (node \"{}\", {})", step.at, step.node, step.failure.as_str());
        let targets = match step.nodes() {
            Ok(NodeSpec::All) => (1..=nodes).collect(),
            Ok(NodeSpec::List(list)) => list,
            Err(e) => return Err(format!("{which}: {e}")),
        };
        if let Some(beyond) = targets.iter().find(|&&n| n > nodes) {
            return Err(format!("{which}: node {beyond} is beyond the fleet (--nodes {nodes})"));
        }
        let max = MODEL_MAX_FAULT.as_secs_f64();
        if !step.duration.is_finite() || step.duration < 1.0 || step.duration > max {
            return Err(format!(
                "{which}: duration {} s is not 1-{max} s (the model's limit)",
                step.duration
            ));
        }
        if !step.at.is_finite() || step.at < 0.0 {
            return Err(format!("{which}: `at` must be 0 s or later"));
        }
        for node in targets {
            out.push(ScenarioFault {
                kind: step.failure,
                node,
                at: Duration::from_secs_f64(step.at),
                length: Duration::from_secs_f64(step.duration),
                intensity: step.intensity,
                service: step.service,
            });
        }
    }
    Ok(out)
}

/// One fault of the plan.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// Its strength (None: the model's default, as `POST /inject` without one).
    pub intensity: Option<f64>,
    /// The service it targets (None: every service).
    pub service: Option<Service>,
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
    /// Every fault's length (a scenario's: the longest).
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
    if let Some(faults) = &input.scenario {
        return scenario_plan(input.rest, faults, recovery);
    }
    let intensity =
        |kind: FaultKind| input.intensities.iter().rev().find(|(k, _)| *k == kind).map(|(_, x)| *x);
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
            Slot {
                kind,
                node: 1 + i % nodes,
                start,
                end: start + fault_length,
                recovery,
                intensity: intensity(kind),
                service: None,
            }
        })
        .collect();
    let end = slots.iter().map(Slot::window_end).max().unwrap_or(input.rest);
    Plan { rest: input.rest, fault_length, recovery, slots, end }
}

/// A scenario's faults after `rest`, each followed by `recovery`. A fault replaced by a
/// later one of the same mode and service on its node ends where that one starts (dropped
/// when both start together).
fn scenario_plan(rest: Duration, faults: &[ScenarioFault], recovery: Duration) -> Plan {
    let mut slots: Vec<Slot> = faults
        .iter()
        .map(|f| Slot {
            kind: f.kind,
            node: f.node,
            start: rest + f.at,
            end: rest + f.at + f.length,
            recovery,
            intensity: f.intensity,
            service: f.service,
        })
        .collect();
    for i in 0..slots.len() {
        let replaced_at = slots[i + 1..]
            .iter()
            .filter(|o| (o.node, o.kind, o.service) == (slots[i].node, slots[i].kind, slots[i].service))
            .map(|o| o.start)
            .filter(|&start| start >= slots[i].start && start < slots[i].end)
            .min();
        if let Some(at) = replaced_at {
            slots[i].end = at;
        }
    }
    // Under a second is below what the model accepts (and what any scrape could see).
    slots.retain(|s| s.length() >= Duration::from_secs(1));
    let fault_length = slots.iter().map(Slot::length).max().unwrap_or_default();
    let end = slots.iter().map(Slot::window_end).max().unwrap_or(rest);
    Plan { rest, fault_length, recovery, slots, end }
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
            intensities: Vec::new(),
            scenario: None,
        }
    }

    /// [`input`] with the faults of the scenario `text` in a fleet of `nodes`.
    fn scenario_input(nodes: u32, text: &str) -> PlanInput {
        let scenario = Scenario::parse(text).expect("a valid scenario");
        let mut i = input(nodes, vec![FaultKind::DiskFill]);
        i.scenario = Some(scenario_faults(&scenario, nodes).expect("fits the fleet"));
        i
    }

    fn step(at: u32, node: &str, failure: &str, duration: u32, extra: &str) -> String {
        format!(
            "[[step]]\nat = {at}\nnode = \"{node}\"\nfailure = \"{failure}\"\nduration = {duration}\n{extra}\n"
        )
    }

    /// The cascading failure of scenarios/, with an error burst on one service.
    fn cascade() -> String {
        [
            "name = \"cascade\"\n".to_owned(),
            step(0, "1-4", "dependency_failure", 120, ""),
            step(20, "2", "cpu_spike", 40, "intensity = 0.6"),
            step(60, "2", "node_crash", 45, ""),
            step(70, "5,9", "error_burst", 40, "intensity = 0.1\nservice = \"payments\""),
        ]
        .concat()
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
    fn a_mode_gets_its_intensity_others_the_models_default_and_no_service() {
        let mut i = input(3, vec![FaultKind::CpuSpike, FaultKind::NodeCrash, FaultKind::ErrorBurst]);
        i.intensities =
            vec![(FaultKind::CpuSpike, 0.7), (FaultKind::ErrorBurst, 0.3), (FaultKind::CpuSpike, 0.6)];
        let p = plan(&i, &facts(RULES));
        let got: Vec<_> = p.slots.iter().map(|s| (s.kind, s.intensity, s.service)).collect();
        assert_eq!(
            got,
            [
                (FaultKind::CpuSpike, Some(0.6), None),
                (FaultKind::NodeCrash, None, None),
                (FaultKind::ErrorBurst, Some(0.3), None),
            ],
            "the last --intensity of a mode wins"
        );
    }

    #[test]
    fn a_scenario_expands_to_one_fault_per_node_of_each_step_after_the_rest() {
        let p = plan(&scenario_input(10, &cascade()), &facts(RULES));
        let secs = Duration::from_secs;
        let rest = mins(20);
        let got: Vec<_> = p.slots.iter().map(|s| (s.kind, s.node, s.start - rest, s.length())).collect();
        let dep = FaultKind::DependencyFailure;
        assert_eq!(
            got,
            [
                (dep, 1, secs(0), secs(120)),
                (dep, 2, secs(0), secs(120)),
                (dep, 3, secs(0), secs(120)),
                (dep, 4, secs(0), secs(120)),
                (FaultKind::CpuSpike, 2, secs(20), secs(40)),
                (FaultKind::NodeCrash, 2, secs(60), secs(45)),
                (FaultKind::ErrorBurst, 5, secs(70), secs(40)),
                (FaultKind::ErrorBurst, 9, secs(70), secs(40)),
            ]
        );
        // The same recovery as a default plan's, after every fault; the run ends after the
        // last one's (dependency_failure's at 120 s, after node_crash's at 105 s and error_burst's at 110 s).
        assert_eq!(p.recovery, mins(18));
        assert!(p.slots.iter().all(|s| s.recovery == p.recovery));
        assert_eq!(p.end, rest + secs(120) + mins(18));
        assert_eq!((p.rest, p.fault_length), (rest, secs(120)), "the longest fault");
        let cpu = &p.slots[4];
        assert_eq!((cpu.intensity, cpu.service), (Some(0.6), None));
        let burst = &p.slots[6];
        assert_eq!((burst.intensity, burst.service), (Some(0.1), Some(Service::Payments)));
        assert!(p.slots[..4].iter().all(|s| s.intensity.is_none() && s.service.is_none()));
    }

    #[test]
    fn all_is_every_node_of_the_fleet_and_lengths_ignore_the_rules() {
        let text = ["name = \"x\"\n".to_owned(), step(30, "all", "cpu_spike", 90, "")].concat();
        let p = plan(&scenario_input(3, &text), &facts(RULES));
        let got: Vec<_> = p.slots.iter().map(|s| (s.node, s.start, s.end)).collect();
        let (start, end) = (mins(20) + Duration::from_secs(30), mins(22));
        assert_eq!(got, [(1, start, end), (2, start, end), (3, start, end)]);
    }

    #[test]
    fn a_node_beyond_the_fleet_or_too_long_a_fault_is_refused_naming_the_step() {
        let text = cascade();
        let scenario = Scenario::parse(&text).expect("valid");
        let err = scenario_faults(&scenario, 8).expect_err("node 9 of 8");
        assert_eq!(
            err,
            "the step at 70 s (node \"5,9\", error_burst): node 9 is beyond the fleet (--nodes 8)"
        );
        assert!(scenario_faults(&scenario, 9).is_ok());
        let mut long = scenario.clone();
        long.steps[0].duration = 3601.0;
        let err = scenario_faults(&long, 9).expect_err("longer than the model's limit");
        assert!(err.contains("duration 3601 s is not 1-3600 s"), "{err}");
    }

    #[test]
    fn a_later_fault_of_the_same_mode_on_a_node_replaces_the_earlier_one() {
        let text = [
            "name = \"x\"\n".to_owned(),
            step(0, "1-2", "cpu_spike", 120, ""),
            step(60, "2", "cpu_spike", 30, "intensity = 0.6"),
            step(60, "3", "memory_leak", 30, ""),
            step(60, "3", "memory_leak", 50, ""),
            step(90, "1", "latency_spike", 30, "service = \"payments\""),
            step(100, "1", "latency_spike", 30, "service = \"orders\""),
        ]
        .concat();
        let p = plan(&scenario_input(3, &text), &facts(RULES));
        let secs = |x| mins(20) + Duration::from_secs(x);
        let got: Vec<_> = p.slots.iter().map(|s| (s.kind, s.node, s.start, s.end)).collect();
        assert_eq!(
            got,
            [
                (FaultKind::CpuSpike, 1, secs(0), secs(120)),
                (FaultKind::CpuSpike, 2, secs(0), secs(60)),
                (FaultKind::CpuSpike, 2, secs(60), secs(90)),
                (FaultKind::MemoryLeak, 3, secs(60), secs(110)),
                (FaultKind::LatencySpike, 1, secs(90), secs(120)),
                (FaultKind::LatencySpike, 1, secs(100), secs(130)),
            ],
            "another node's, another service's fault overlaps; the same one replaces"
        );
    }

    #[test]
    fn the_shipped_scenarios_plan_in_the_default_fleet() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("scenarios/") {
            let path = entry.expect("entry").path();
            let scenario = Scenario::load(&path).expect("parses");
            let faults = scenario_faults(&scenario, 12).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(faults.len() >= scenario.steps.len(), "{}", path.display());
            n += 1;
        }
        assert!(n >= 3);
    }

    #[test]
    fn no_alerts_or_no_faults_still_plan() {
        let p = plan(&input(1, vec![FaultKind::CpuSpike]), &[]);
        assert_eq!(p.fault_length, margin(Duration::from_secs(15), Duration::from_secs(15)));
        let p = plan(&input(1, vec![]), &facts(RULES));
        assert_eq!((p.slots.len(), p.end), (0, mins(20)));
    }
}
