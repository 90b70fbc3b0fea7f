//! Live mode (`--live`): the same plan, judge and report as a virtual run, against a running
//! stack (Compose, the no-Docker stack, Kubernetes through port-forwards) in real time, for
//! rule sets with short windows, and to hold the virtual run against the real thing.
//!
//! Before anything is sent: the intervals come from the flags, else `--prometheus-config`,
//! else the running Prometheus' own configuration; every alerting rule of `--rules` must be
//! loaded in that Prometheus (the same group and name: the stack evaluates them, not us); the
//! planned nodes must answer and carry no fault. Then [`execute`] sends each fault at its
//! planned time, waits out the plan, and [`alerts`] reads the alerts back from `ALERTS`.

pub mod alerts;
pub mod error;
pub mod execute;

use std::collections::BTreeSet;
use std::time::Duration;

use rule_coverage::{Millis, RuleGroup};
use stack_client::locate::{compose_port_overrides, compose_service_url, parse_overrides};
use stack_client::{NodeClient, Prometheus, Targets};

use crate::cli::Cli;
use crate::judge::{self, Context};
use crate::plan::Plan;
use crate::report::model::{Jobs, Mode, Report, Run};
use crate::run::{RunError, Settings, global_intervals, global_intervals_in, settings_from};

pub use error::LiveError;
pub use execute::ExecuteError;

/// How long a node or Prometheus may take to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The stack, as the flags and the environment (the inject CLI's variables) locate it.
fn connect(cli: &Cli) -> Result<(NodeClient, Prometheus), RunError> {
    let live = &cli.live;
    let prometheus = match &live.prometheus {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => compose_service_url("PROMETHEUS_PORT", std::env::var("PROMETHEUS_PORT").ok(), 9090)
            .map_err(RunError::Usage)?,
    };
    let mut overrides = compose_port_overrides(&live.host, std::env::vars()).map_err(RunError::Usage)?;
    if let Some(list) = &live.targets {
        overrides.extend(parse_overrides(list).map_err(|e| RunError::Usage(format!("--targets: {e}")))?);
    }
    let client = NodeClient::new(Targets::new(&live.host, live.base_port, overrides), REQUEST_TIMEOUT)
        .map_err(LiveError::Prometheus)?;
    let prometheus = Prometheus::new(client.http().clone(), &prometheus);
    Ok((client, prometheus))
}

/// Every alerting rule of `groups` loaded in the running Prometheus (same group, same name);
/// warnings for names other loaded groups use too (their alerts cannot be told apart live).
async fn check_loaded(prometheus: &Prometheus, groups: &[RuleGroup]) -> Result<Vec<String>, LiveError> {
    let loaded = prometheus.rules().await?;
    let mut missing = Vec::new();
    for g in groups {
        for (name, _) in g.alerts() {
            let there = loaded.iter().any(|l| l.name == g.name && l.rules.iter().any(|r| r.name == name));
            if !there {
                missing.push(format!("{name} (group {})", g.name));
            }
        }
    }
    if !missing.is_empty() {
        return Err(LiveError::Refused(format!(
            "the Prometheus at {} has not loaded {}: load the same files there (user-rules/ or \
             USER_RULES_DIR, docs/USER_RULES.md), or pass the files it loaded",
            prometheus.url(),
            missing.join(", ")
        )));
    }
    let ours: BTreeSet<(&str, &str)> =
        groups.iter().flat_map(|g| g.alerts().map(move |(n, _)| (g.name.as_str(), n))).collect();
    let mut warnings = BTreeSet::new();
    for l in &loaded {
        for r in l.rules.iter().filter(|r| r.kind == "alerting") {
            let same_name = ours.iter().any(|(_, n)| *n == r.name);
            if same_name && !ours.contains(&(l.name.as_str(), r.name.as_str())) {
                warnings.insert(format!(
                    "{}: another loaded group ({}, {}) has an alert of that name; live, their alerts \
                     count as one",
                    r.name, l.name, l.file
                ));
            }
        }
    }
    Ok(warnings.into_iter().collect())
}

/// Every planned node answers and carries no fault (a fault already there would be judged
/// as ours, and ours would replace it).
async fn check_nodes(client: &NodeClient, nodes: u32) -> Result<(), LiveError> {
    for node in 1..=nodes {
        let list = client.faults(node).await?;
        if let Some(f) = list.faults.first() {
            return Err(LiveError::Refused(format!(
                "node {node} has a fault running ({}, {:.0}s left): wait, or end it with `inject clear --node {node}`",
                f.failure.as_str(),
                f.remaining_s
            )));
        }
    }
    Ok(())
}

/// The plan with each slot's start moved to when its node started the fault.
fn as_run(plan: &Plan, t0: Millis, starts: &[Millis]) -> Plan {
    let mut out = plan.clone();
    for (slot, &start) in out.slots.iter_mut().zip(starts) {
        let length = slot.length();
        slot.start = Duration::from_millis(u64::try_from(start - t0).unwrap_or(0));
        slot.end = slot.start + length;
    }
    out
}

/// What the targets and the stored names tell of the fleet.
#[derive(Debug, Clone, PartialEq)]
struct FleetFacts {
    jobs: Jobs,
    shapes: Vec<String>,
    /// Node N's `instance` and `region` at index N - 1 (empty where no target says).
    instances: Vec<String>,
    regions: Vec<String>,
}

fn fleet_facts(targets: &[stack_client::ActiveTarget], seen: &BTreeSet<String>, nodes: u32) -> FleetFacts {
    let mut jobs = Jobs { app: String::new(), host: String::new() };
    let mut instances = vec![String::new(); usize::try_from(nodes).unwrap_or(0)];
    let mut regions = instances.clone();
    for t in targets {
        let Some(node) = t.labels.get("node").and_then(|n| n.parse::<usize>().ok()) else { continue };
        if let (Some(slot), Some(region)) = (regions.get_mut(node.wrapping_sub(1)), t.labels.get("region")) {
            slot.clone_from(region);
        }
        let job = t.labels.get("job").cloned().unwrap_or_default();
        if t.scrape_url.contains("/host/metrics") {
            jobs.host = job;
        } else if t.scrape_url.contains("/metrics") {
            jobs.app = job;
            if let (Some(slot), Some(instance)) =
                (instances.get_mut(node.wrapping_sub(1)), t.labels.get("instance"))
            {
                slot.clone_from(instance);
            }
        }
    }
    let shapes: Vec<String> = [
        ("node_exporter", "node_cpu_seconds_total"),
        ("otel", "http_server_request_duration_seconds_bucket"),
        ("promhttp", "http_requests_total"),
    ]
    .iter()
    .filter(|(_, name)| seen.contains(*name))
    .map(|(shape, _)| (*shape).to_owned())
    .collect();
    let shapes = if shapes.is_empty() { vec!["none".into()] } else { shapes };
    FleetFacts { jobs, shapes, instances, regions }
}

/// Runs `cli`'s plan against the running stack.
pub fn run(cli: &Cli) -> Result<Report, RunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|cause| RunError::Io { path: ".".into(), cause })?;
    runtime.block_on(run_live(cli))
}

async fn run_live(cli: &Cli) -> Result<Report, RunError> {
    let (client, prometheus) = connect(cli)?;
    let global = match &cli.prometheus_config {
        Some(p) => global_intervals(p)?,
        None => {
            let yaml = prometheus.config().await.map_err(LiveError::from)?;
            global_intervals_in(&yaml, &format!("the configuration of {}", prometheus.url()))?
        }
    };
    let s: Settings = settings_from(cli, global)?;
    for w in &s.warnings {
        eprintln!("coverage: warning: {w}");
    }
    for w in check_loaded(&prometheus, &s.groups).await? {
        eprintln!("coverage: warning: {w}");
    }
    check_nodes(&client, cli.nodes).await?;
    let plan = &s.plan;
    eprintln!(
        "coverage: live against {}: {} nodes; rest {}s, {} faults of up to {}s, recovery {}s: {}s in all",
        prometheus.url(),
        cli.nodes,
        plan.rest.as_secs(),
        plan.slots.len(),
        plan.fault_length.as_secs(),
        plan.recovery.as_secs(),
        plan.end.as_secs()
    );
    let (t0, starts) = execute::execute(&client, plan).await.map_err(LiveError::from)?;
    // The evaluation at the plan's end lands within one group interval.
    let longest =
        s.groups.iter().map(|g| g.interval_or(s.evaluation_interval)).max().unwrap_or(s.evaluation_interval);
    tokio::time::sleep(longest + Duration::from_secs(1)).await;
    let end = execute::now_ms();
    let (from, to) = (t0 as f64 / 1000.0, end as f64 / 1000.0);
    let series = prometheus.raw("ALERTS", from, to).await.map_err(LiveError::from)?;
    let outcome = rule_coverage::Outcome {
        alerts: alerts::outcomes(&series, &s.groups, s.evaluation_interval, end),
        timings: rule_coverage::Timings::default(),
    };
    let seen: BTreeSet<String> =
        prometheus.label_values("__name__", from, to).await.map_err(LiveError::from)?.into_iter().collect();
    let targets = prometheus.targets().await.map_err(LiveError::from)?;
    let fleet = fleet_facts(&targets, &seen, cli.nodes);
    let ran = as_run(plan, t0, &starts);
    let cx = Context {
        plan: &ran,
        groups: &s.groups,
        facts: &s.facts,
        seen: &seen,
        nodes: cli.nodes,
        instances: fleet.instances,
        regions: fleet.regions,
        start_ms: t0,
    };
    let judged = judge::judge(&outcome, &cx);
    let run = Run {
        mode: Mode::Live,
        nodes: cli.nodes,
        seed: cli.seed,
        rest_s: plan.rest.as_secs_f64(),
        scrape_interval_s: s.scrape_interval.as_secs_f64(),
        evaluation_interval_s: s.evaluation_interval.as_secs_f64(),
        shapes: fleet.shapes,
        jobs: fleet.jobs,
        prometheus_version: prometheus.version().await.map_err(LiveError::from)?,
        rules_files: s.rules_files(),
        differences: Vec::new(),
    };
    eprintln!("coverage: live run done");
    Ok(Report::new(run, judged.faults, judged.rules, judged.timelines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Slot;
    use edge_sim::FaultKind;

    #[test]
    fn live_flags_need_live_and_virtual_only_flags_refuse_it() {
        use clap::Parser;
        let parse =
            |extra: &[&str]| Cli::try_parse_from([&["coverage", "--rules", "r.yml"][..], extra].concat());
        let cli = parse(&["--live", "--prometheus", "http://127.0.0.1:19090/", "--base-port", "18000"])
            .expect("valid");
        assert!(cli.live.enabled);
        assert_eq!(
            (cli.live.prometheus.as_deref(), cli.live.base_port),
            (Some("http://127.0.0.1:19090/"), 18000)
        );
        assert!(parse(&["--prometheus", "http://x"]).is_err(), "--prometheus without --live");
        for virtual_only in [["--tools", "bin"], ["--work-dir", "w"], ["--emit-promtool-test", "t.yml"]] {
            assert!(parse(&[&["--live"][..], &virtual_only[..]].concat()).is_err(), "{virtual_only:?}");
        }
    }

    #[test]
    fn slots_start_when_their_node_started_the_fault() {
        let secs = Duration::from_secs;
        let plan = Plan {
            rest: secs(60),
            fault_length: secs(30),
            recovery: secs(20),
            slots: vec![Slot {
                kind: FaultKind::CpuSpike,
                node: 2,
                start: secs(60),
                end: secs(90),
                recovery: secs(20),
                intensity: None,
                service: None,
            }],
            end: secs(110),
        };
        let ran = as_run(&plan, 1_000_000, &[1_060_250]);
        assert_eq!((ran.slots[0].start, ran.slots[0].length()), (Duration::from_millis(60_250), secs(30)));
        assert_eq!(ran.end, plan.end);
    }

    #[test]
    fn jobs_shapes_and_instances_come_from_the_targets_and_the_stored_names() {
        let target = |job: &str, node: &str, url: &str| stack_client::ActiveTarget {
            labels: [("job", job), ("node", node), ("region", "us"), ("instance", &url[7..21])]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            health: "up".into(),
            scrape_url: url.to_owned(),
        };
        let targets = [
            target("edge", "2", "http://127.0.0.1:8002/metrics"),
            target("host", "2", "http://127.0.0.1:8002/host/metrics"),
        ];
        let seen: BTreeSet<String> = ["up", "node_cpu_seconds_total"].map(String::from).into();
        let f = fleet_facts(&targets, &seen, 3);
        assert_eq!((f.jobs.app.as_str(), f.jobs.host.as_str()), ("edge", "host"));
        assert_eq!(f.shapes, ["node_exporter"]);
        assert_eq!(f.instances, ["", "127.0.0.1:8002", ""]);
        assert_eq!(f.regions, ["", "us", ""]);
    }
}
