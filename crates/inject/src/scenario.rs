//! Game days: a timeline of injections across nodes, from a TOML file or a seeded random
//! schedule. Everything a run started is ended again if it is interrupted.

use std::io::Write;
use std::time::Duration;

use edge_sim::{FaultKind, FaultSpec, Service};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use edge_sim::api::InjectRequest;

use crate::fanout::each_node;
use crate::targets::NodeSpec;
use stack_client::NodeClient;

/// A scenario file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its title.
    pub name: String,
    /// What it rehearses.
    #[serde(default)]
    pub description: String,
    /// The injections.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// One injection of the timeline.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Seconds after the start.
    pub at: f64,
    /// Nodes, as on the command line (`3`, `all`, `1,3`, `2-6`).
    pub node: String,
    /// The failure mode.
    pub failure: FaultKind,
    /// Seconds.
    pub duration: f64,
    /// Optional strength.
    pub intensity: Option<f64>,
    /// Optional target service.
    pub service: Option<Service>,
}

impl Step {
    fn nodes(&self) -> Result<NodeSpec, String> {
        self.node.parse().map_err(|e: crate::targets::BadNodeSpec| e.to_string())
    }

    fn body(&self) -> InjectRequest {
        InjectRequest {
            failure: self.failure,
            duration_s: self.duration,
            intensity: self.intensity,
            service: self.service,
            seal: None,
            start_in_s: None,
        }
    }
}

/// Longest scenario accepted: a working day.
const MAX_LENGTH_S: f64 = 8.0 * 3600.0;

/// What a random schedule draws from (`inject random`'s options, as plain data).
#[derive(Debug, Clone, PartialEq)]
pub struct RandomPlan {
    /// How long the schedule runs, seconds.
    pub length: f64,
    /// Faults active at once, at most.
    pub concurrent: u32,
    /// Shortest fault, seconds.
    pub min_hold: f64,
    /// Longest fault, seconds.
    pub max_hold: f64,
    /// Modes to draw from (empty: all).
    pub modes: Vec<FaultKind>,
}

impl Scenario {
    /// Parses and checks a scenario; errors name the step and say what is valid.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut s: Scenario = toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))?;
        if s.steps.is_empty() {
            return Err("a scenario needs at least one [[step]]".to_owned());
        }
        for (i, step) in s.steps.iter().enumerate() {
            let at = |msg: String| format!("step {} (at {} s): {msg}", i + 1, step.at);
            if !step.at.is_finite() || step.at < 0.0 || step.at > MAX_LENGTH_S {
                return Err(at(format!("`at` must be 0-{MAX_LENGTH_S} seconds")));
            }
            step.nodes().map_err(at)?;
            FaultSpec {
                kind: step.failure,
                duration_s: step.duration,
                intensity: step.intensity,
                service: step.service,
            }
            .validate()
            .map_err(|e| at(e.to_string()))?;
        }
        s.steps.sort_by(|a, b| a.at.total_cmp(&b.at));
        Ok(s)
    }

    /// Whether a step targets `all` (the running fleet must then be learned first).
    pub fn uses_all(&self) -> bool {
        self.steps.iter().any(|s| matches!(s.nodes(), Ok(NodeSpec::All)))
    }

    /// When the last fault ends, in seconds from the start.
    pub fn length(&self) -> f64 {
        self.steps.iter().map(|s| s.at + s.duration).fold(0.0, f64::max)
    }

    /// The plan, one line per step.
    pub fn plan(&self) -> String {
        let mut out = format!("{}: {} steps over {:.0} s\n", self.name, self.steps.len(), self.length());
        for s in &self.steps {
            let extra = match (s.intensity, s.service) {
                (Some(i), Some(svc)) => format!(" intensity {i} on {svc}"),
                (Some(i), None) => format!(" intensity {i}"),
                (None, Some(svc)) => format!(" on {svc}"),
                (None, None) => String::new(),
            };
            out.push_str(&format!(
                "  t+{:>5.0}s  node {:<8} {:<18} for {:>4.0} s{extra}  (expect {})\n",
                s.at,
                s.node,
                s.failure.as_str(),
                s.duration,
                s.failure.expected_alert()
            ));
        }
        out
    }

    /// A seeded random schedule: at most `concurrent` faults at once, holds between
    /// `min_hold` and `max_hold`, for `length` seconds.
    pub fn random(args: &RandomPlan, nodes: &[u32], seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let modes = if args.modes.is_empty() { FaultKind::ALL.to_vec() } else { args.modes.clone() };
        let (lo, hi) = (args.min_hold.min(args.max_hold), args.min_hold.max(args.max_hold));
        let mut ends: Vec<f64> = Vec::new();
        let mut steps = Vec::new();
        let mut t = 0.0_f64;
        while t < args.length {
            ends.retain(|&e| e > t);
            if ends.len() >= args.concurrent as usize {
                t = ends.iter().copied().fold(f64::INFINITY, f64::min);
                continue;
            }
            let hold = rng.random_range(lo..=hi).round().min(args.length - t).max(1.0);
            let node = nodes[rng.random_range(0..nodes.len())];
            let failure = modes[rng.random_range(0..modes.len())];
            steps.push(Step {
                at: t.round(),
                node: node.to_string(),
                failure,
                duration: hold,
                intensity: None,
                service: None,
            });
            ends.push(t + hold);
            t += rng.random_range(0.0..=hi / 2.0).round().max(1.0);
        }
        Scenario { name: format!("random schedule, seed {seed}"), description: String::new(), steps }
    }
}

/// Runs the timeline; on ctrl-c ends every fault it started. Returns true if every
/// injection succeeded and the run was not interrupted.
pub async fn run(
    client: &NodeClient,
    scenario: &Scenario,
    all: &[u32],
    watch: Option<tokio::sync::mpsc::UnboundedSender<crate::watch::Expectation>>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> bool {
    run_recorded(client, scenario, all, watch, out, err, &mut Vec::new()).await
}

/// As [`run`], keeping each node's answer to each injection in `record` (for the
/// incident report of `--report`).
pub async fn run_recorded(
    client: &NodeClient,
    scenario: &Scenario,
    all: &[u32],
    watch: Option<tokio::sync::mpsc::UnboundedSender<crate::watch::Expectation>>,
    out: &mut impl Write,
    err: &mut impl Write,
    record: &mut Vec<edge_sim::api::Started>,
) -> bool {
    let start = tokio::time::Instant::now();
    let mut started: Vec<(u32, u64)> = Vec::new();
    let mut ok = true;
    let _ = write!(out, "{}", scenario.plan());
    let interrupted = async {
        for step in &scenario.steps {
            tokio::time::sleep_until(start + Duration::from_secs_f64(step.at)).await;
            let nodes = match step.nodes() {
                Ok(NodeSpec::List(nodes)) => nodes,
                Ok(NodeSpec::All) => all.to_vec(),
                Err(_) => Vec::new(),
            };
            let body = step.body();
            let injected_at = tokio::time::Instant::now();
            let results = each_node(client, &nodes, |c, n| {
                let body = body.clone();
                async move { c.inject(n, &body).await }
            })
            .await;
            for (n, r) in results {
                let _ = match r {
                    Ok(v) => {
                        started.push((n, v.fault.id));
                        record.push(v.clone());
                        if let Some(tx) = &watch {
                            let _ = tx.send(crate::watch::Expectation {
                                alert: step.failure.expected_alert().to_owned(),
                                node: n,
                                start: injected_at,
                                end: injected_at + Duration::from_secs_f64(step.duration),
                            });
                        }
                        writeln!(
                            out,
                            "[t+{:>5.0}s] node {n}: {} started as #{} for {} s",
                            start.elapsed().as_secs_f64(),
                            step.failure,
                            v.fault.id,
                            step.duration
                        )
                    }
                    Err(e) => {
                        ok = false;
                        writeln!(err, "[t+{:>5.0}s] error: {e}", start.elapsed().as_secs_f64())
                    }
                };
            }
        }
        // Wait for the last fault to end, with a line every 10 s.
        let end = start + Duration::from_secs_f64(scenario.length());
        while tokio::time::Instant::now() < end {
            let left = end - tokio::time::Instant::now();
            let _ = writeln!(
                out,
                "[t+{:>5.0}s] waiting for the last faults to end ({:.0} s left)",
                start.elapsed().as_secs_f64(),
                left.as_secs_f64()
            );
            tokio::time::sleep(left.min(Duration::from_secs(10))).await;
        }
    };
    // Every step is injected: the watcher may finish once what it has settles.
    let finished = tokio::select! {
        () = interrupted => true,
        _ = tokio::signal::ctrl_c() => false,
    };
    if !finished {
        let _ = writeln!(out, "interrupted: ending the {} faults this run started", started.len());
        for (n, id) in &started {
            match client.clear(*n, Some(*id)).await {
                Ok(_) => {
                    let _ = writeln!(out, "node {n}: ended #{id}");
                }
                // Already over on its own: nothing left to clean up.
                Err(stack_client::NodeError::Refused { status: 404, .. }) => {}
                Err(e) => {
                    let _ = writeln!(err, "error: {e}");
                }
            }
        }
        return false;
    }
    let _ = writeln!(out, "scenario finished: {} faults injected", started.len());
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        name = "Single-node incident"
        [[step]]
        at = 30
        node = "7"
        failure = "latency_spike"
        duration = 60
        [[step]]
        at = 0
        node = "3"
        failure = "memory_leak"
        duration = 120
        intensity = 0.02
    "#;

    #[test]
    fn a_scenario_parses_and_is_sorted_by_time() {
        let s = Scenario::parse(GOOD).expect("valid");
        assert_eq!(s.steps.iter().map(|s| s.at).collect::<Vec<_>>(), vec![0.0, 30.0]);
        assert_eq!(s.length(), 120.0);
        assert!(
            s.plan().contains("node 7        latency_spike      for   60 s  (expect HighLatency)"),
            "{}",
            s.plan()
        );
    }

    #[test]
    fn malformed_scenarios_are_refused_with_the_step_and_the_valid_values() {
        let cases = [
            ("name = \"x\"", "missing field"),
            ("name = \"x\"\nstep = []", "at least one"),
            (
                "name = \"x\"\n[[step]]\nat = 0\nnode = \"3\"\nfailure = \"cpu_spikes\"\nduration = 5",
                "cpu_spike",
            ),
            ("name = \"x\"\n[[step]]\nat = 0\nnode = \"0\"\nfailure = \"cpu_spike\"\nduration = 5", "step 1"),
            (
                "name = \"x\"\n[[step]]\nat = -1\nnode = \"3\"\nfailure = \"cpu_spike\"\nduration = 5",
                "`at` must be",
            ),
            (
                "name = \"x\"\n[[step]]\nat = 0\nnode = \"3\"\nfailure = \"cpu_spike\"\nduration = 0",
                "between 1 and 3600",
            ),
            (
                "name = \"x\"\n[[step]]\nat = 0\nnode = \"3\"\nfailure = \"cpu_spike\"\nduration = 5\nservice = \"orders\"",
                "cannot target",
            ),
            (
                "name = \"x\"\n[[step]]\nat = 0\nnode = \"3\"\nfailure = \"cpu_spike\"\nduration = 5\ncolour = 1",
                "unknown field",
            ),
            ("not toml at all [", "expected"),
        ];
        for (text, needle) in cases {
            let err = Scenario::parse(text).expect_err(text);
            assert!(err.contains(needle), "{text:?}: `{err}` lacks `{needle}`");
        }
    }

    #[test]
    fn the_shipped_scenarios_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("scenarios/") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
        assert!(n >= 3, "at least three worked examples");
    }

    fn random_args() -> RandomPlan {
        RandomPlan { length: 300.0, concurrent: 2, min_hold: 10.0, max_hold: 40.0, modes: vec![] }
    }

    #[test]
    fn a_random_schedule_replays_from_its_seed_and_respects_its_bounds() {
        let args = random_args();
        let nodes: Vec<u32> = (1..=12).collect();
        let a = Scenario::random(&args, &nodes, 7);
        assert_eq!(a, Scenario::random(&args, &nodes, 7));
        assert_ne!(a.steps, Scenario::random(&args, &nodes, 8).steps);
        assert!(a.steps.len() >= 5);
        for (i, s) in a.steps.iter().enumerate() {
            assert!(s.at < args.length && s.duration <= args.max_hold, "{s:?}");
            // Only a step cut off at the end of the run may be shorter than --min-hold.
            assert!(
                s.duration >= args.min_hold || s.at + s.duration == args.length,
                "under --min-hold: {s:?}"
            );
            assert!(nodes.contains(&s.node.parse::<u32>().expect("one node")), "outside the pool: {s:?}");
            let overlapping = a.steps.iter().filter(|o| o.at <= s.at && s.at < o.at + o.duration).count();
            assert!(overlapping <= 2, "step {i} starts with {overlapping} faults active");
        }
    }
}
