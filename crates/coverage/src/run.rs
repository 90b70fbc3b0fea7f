//! One coverage run, end to end: rules, plan, series, the real Prometheus, the judgement.
//! Progress goes to stderr; the report is returned.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edge_node::virtual_fleet::{self, FleetSpec, PlannedFault, ScrapeConfig, VirtualError};
use edge_sim::{FaultKind, FaultSpec};
use rule_coverage::facts::{self, ExprError};
use rule_coverage::{EngineConfig, EngineError, LoadError, Millis, RuleGroup, TimeRange, ToolError, Tools};

use crate::cli::Cli;
use crate::filter::{FilterWriter, Keep};
use crate::judge::{self, Context};
use crate::plan::{self, Plan, PlanInput};
use crate::report::model::{Jobs, Report, Run};

/// The default scrape and evaluation interval (Prometheus' own default is 1 min; 15 s is
/// what nearly every example and our stack's prometheus.yml sets).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

/// Where `scripts/lib/tools.sh ensure_v3_tools` installs the tools, from the workspace root.
pub const TOOLS_DIR: &str = "target/tools/root/usr/bin";

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Refused before anything ran: a flag, a missing path, a prometheus.yml.
    #[error("{0}")]
    Usage(String),
    /// The rules could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A rule's expression does not parse.
    #[error(transparent)]
    Expr(#[from] ExprError),
    /// promtool or prometheus missing or failing.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// The virtual fleet refused the plan or could not write.
    #[error(transparent)]
    Fleet(#[from] VirtualError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A file of the run.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
}

impl RunError {
    /// The exit code: 2 for what is refused before anything runs, 1 after.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) | Self::Load(_) | Self::Expr(_) => 2,
            Self::Tool(_) | Self::Fleet(_) | Self::Engine(_) | Self::Io { .. } => 1,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |cause| RunError::Io { path: path.to_owned(), cause }
}

/// The `global` scrape and evaluation intervals of a prometheus.yml, where set.
pub fn global_intervals(path: &Path) -> Result<(Option<Duration>, Option<Duration>), RunError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| RunError::Usage(format!("{}: {e}", path.display())))?;
    let doc: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| RunError::Usage(format!("{}: {e}", path.display())))?;
    let field = |name: &str| -> Result<Option<Duration>, RunError> {
        match doc.get("global").and_then(|g| g.get(name)).and_then(|v| v.as_str()) {
            None => Ok(None),
            Some(t) => rule_coverage::duration::parse(t)
                .map(Some)
                .map_err(|e| RunError::Usage(format!("{}: global.{name}: {e}", path.display()))),
        }
    };
    Ok((field("scrape_interval")?, field("evaluation_interval")?))
}

/// The settings a run derives from the command line before anything runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The rules.
    pub groups: Vec<RuleGroup>,
    /// Their facts.
    pub facts: Vec<facts::RuleFacts>,
    /// Between two scrapes.
    pub scrape_interval: Duration,
    /// The groups' default interval.
    pub evaluation_interval: Duration,
    /// Twice the scrape interval, at least the longest group interval.
    pub lookback_delta: Duration,
    /// The plan.
    pub plan: Plan,
    /// What the user should know before trusting the result (printed on stderr).
    pub warnings: Vec<String>,
}

/// Rules whose shortest range selector holds fewer than two scrapes: `rate` and friends
/// return nothing there, so the rule can never fire at this scrape interval.
fn short_windows(facts: &[facts::RuleFacts], scrape_interval: Duration) -> Vec<String> {
    facts
        .iter()
        .filter(|f| !f.own.longest_range.is_zero() && f.own.longest_range < scrape_interval * 2)
        .map(|f| {
            let name = match &f.kind {
                rule_coverage::RuleKind::Alert(n) | rule_coverage::RuleKind::Record(n) => n,
            };
            format!(
                "{name}: its longest window ({}s) holds fewer than two scrapes at {}s: it can return nothing \
                 (pass the prometheus.yml the rules were written for with --prometheus-config)",
                f.own.longest_range.as_secs_f64(),
                scrape_interval.as_secs_f64()
            )
        })
        .collect()
}

/// Checks and derives everything from `cli` (no tool runs): usage errors come out here.
pub fn settings(cli: &Cli) -> Result<Settings, RunError> {
    for p in &cli.rules {
        if !p.exists() {
            return Err(RunError::Usage(format!("--rules {}: no such file or folder", p.display())));
        }
    }
    let (yml_scrape, yml_eval) = match &cli.prometheus_config {
        Some(p) => global_intervals(p)?,
        None => (None, None),
    };
    let scrape_interval = cli.scrape_interval.or(yml_scrape).unwrap_or(DEFAULT_INTERVAL);
    let evaluation_interval = cli.evaluation_interval.or(yml_eval).unwrap_or(DEFAULT_INTERVAL);
    let groups = rule_coverage::load_paths(&cli.rules)?;
    let facts = facts::rule_facts(&groups)?;
    facts::recording_layers(&groups)?;
    let longest_group =
        groups.iter().map(|g| g.interval_or(evaluation_interval)).max().unwrap_or(evaluation_interval);
    // Backfilled series carry no stale markers: a series that stops stays visible for the
    // lookback delta. Two scrapes is the closest to live staleness that still bridges one
    // late or missed scrape; recorded series need at least their group's interval.
    let lookback_delta = (scrape_interval * 2).max(longest_group);
    let failures = if cli.failures.is_empty() { FaultKind::ALL.to_vec() } else { cli.failures.clone() };
    let input = PlanInput {
        nodes: cli.nodes,
        rest: cli.rest,
        fault_cap: cli.fault_cap,
        failures,
        scrape_interval,
        evaluation_interval: longest_group,
        lookback_delta,
        serial: cli.serial,
    };
    let plan = plan::plan(&input, &facts);
    let mut warnings = short_windows(&facts, scrape_interval);
    if facts.iter().any(|f| f.own.unnamed_selector) {
        warnings
            .push("a rule selects without a fixed metric name: keeping every series (larger, slower)".into());
    }
    Ok(Settings { groups, facts, scrape_interval, evaluation_interval, lookback_delta, plan, warnings })
}

/// The tools: `--tools`, else [`TOOLS_DIR`] under the current folder, else under this
/// workspace.
fn find_tools(cli: &Cli) -> Result<Tools, RunError> {
    if let Some(dir) = &cli.tools {
        return Ok(Tools::in_dir(dir)?);
    }
    let here = Path::new(TOOLS_DIR);
    if here.join("promtool").is_file() {
        return Ok(Tools::in_dir(here)?);
    }
    Ok(Tools::in_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(TOOLS_DIR))?)
}

fn prometheus_version(tools: &Tools) -> String {
    let out = std::process::Command::new(&tools.prometheus).arg("--version").output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    let first = text.lines().next().unwrap_or_default();
    first.split("version ").nth(1).and_then(|v| v.split_whitespace().next()).unwrap_or("unknown").to_owned()
}

/// What the virtual fleet's run differs in from a live one, as a rule could notice.
fn differences(lookback: Duration) -> Vec<String> {
    vec![
        format!(
            "No stale markers: a series whose target stops being scraped stays visible to instant \
             selectors for the lookback delta ({}s: twice the scrape interval, or the longest group interval if longer) \
             instead of vanishing at the next scrape.",
            lookback.as_secs()
        ),
        "Every target is scraped at multiples of the scrape interval from the run's start; Prometheus \
         spreads targets over the interval."
            .to_owned(),
        "There is no blackbox job: probe_* series are never present.".to_owned(),
    ]
}

/// Runs the whole of it; progress on stderr.
pub fn run(cli: &Cli) -> Result<Report, RunError> {
    let began = Instant::now();
    let s = settings(cli)?;
    let tools = find_tools(cli)?;
    let plan = &s.plan;
    let alerts = s.facts.iter().filter(|f| matches!(f.kind, rule_coverage::RuleKind::Alert(_))).count();
    eprintln!(
        "coverage: {} alerting and {} recording rules; seed {}; {} nodes; rest {}s, {} faults of {}s each, recovery {}s; {}s simulated",
        alerts,
        s.facts.len() - alerts,
        cli.seed,
        cli.nodes,
        plan.rest.as_secs(),
        plan.slots.len(),
        plan.fault_length.as_secs(),
        plan.recovery.as_secs(),
        plan.end.as_secs()
    );

    let temp;
    let work = match &cli.work_dir {
        Some(d) => d.clone(),
        None => {
            temp = std::env::temp_dir().join(format!("coverage-{}", std::process::id()));
            temp.clone()
        }
    };
    std::fs::create_dir_all(&work).map_err(io(&work))?;

    // Whole hours in the past: Prometheus serves what it has stored, and groups evaluate at
    // multiples of their interval from the epoch, so virtual time 0 is on that grid.
    let now_s = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let start_s = (now_s - plan.end.as_secs() - 3600) / 3600 * 3600;
    let start_ms = Millis::try_from(start_s).unwrap_or(0) * 1000;
    let mut spec = FleetSpec::new(cli.nodes, cli.seed, start_s as f64, plan.end);
    spec.scrape = ScrapeConfig {
        interval: s.scrape_interval,
        timeout: s.scrape_interval.min(Duration::from_secs(10)),
        ..ScrapeConfig::default()
    };
    spec.faults = plan
        .slots
        .iter()
        .map(|slot| PlannedFault {
            node: slot.node,
            spec: FaultSpec {
                kind: slot.kind,
                duration_s: slot.length().as_secs_f64(),
                intensity: None,
                service: None,
            },
            start: slot.start,
        })
        .collect();

    let keep = if s.facts.iter().any(|f| f.own.unnamed_selector) {
        eprintln!(
            "coverage: a rule selects without a fixed metric name: keeping every series (larger, slower)"
        );
        Keep::All
    } else {
        Keep::names(s.facts.iter().flat_map(|f| f.source_metrics.iter()))
    };
    let series = work.join("series.om");
    let file = File::create(&series).map_err(io(&series))?;
    let total_h = plan.end.as_secs_f64() / 3600.0;
    // A line per simulated hour, or per tenth of a shorter run.
    let step_h = total_h.min(10.0) / 10.0;
    let mut next_h = step_h;
    let t = Instant::now();
    let writer = FilterWriter::new(BufWriter::with_capacity(1 << 16, file), keep).on_up(move |ts| {
        let h = (ts - start_s as f64) / 3600.0;
        if step_h > 0.0 && h >= next_h && h < total_h {
            eprintln!("coverage: generated {h:.2} of {total_h:.2} simulated hours");
            next_h = (h / step_h).floor() * step_h + step_h;
        }
    });
    let mut writer = writer;
    let stats = virtual_fleet::write_openmetrics(&spec, &mut writer)?;
    let (mut file, seen, bytes_in, bytes_out) = writer.finish().map_err(io(&series))?;
    file.flush().map_err(io(&series))?;
    drop(file);
    eprintln!(
        "coverage: generated {total_h:.2} simulated hours in {:.1}s: {} scrapes, {} MB, kept {} MB",
        t.elapsed().as_secs_f64(),
        stats.scrapes,
        bytes_in / 1_000_000,
        bytes_out / 1_000_000
    );

    eprintln!("coverage: evaluating {} rules with Prometheus {}", s.facts.len(), prometheus_version(&tools));
    let config = EngineConfig {
        tools: tools.clone(),
        work_dir: work.join("engine"),
        default_interval: s.evaluation_interval,
        lookback_delta: s.lookback_delta,
    };
    let range = TimeRange {
        start: start_ms,
        end: start_ms + Millis::try_from(plan.end.as_millis()).unwrap_or(Millis::MAX / 4),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|cause| RunError::Io { path: work.clone(), cause })?;
    let outcome = runtime.block_on(rule_coverage::evaluate(&series, &s.groups, range, &config))?;
    let tm = outcome.timings;
    eprintln!(
        "coverage: evaluated {alerts} alerting rules: backfill {:.1}s, start {:.1}s, recording {:.1}s, alerts {:.1}s",
        tm.backfill.as_secs_f64(),
        tm.start.as_secs_f64(),
        tm.recording.as_secs_f64(),
        tm.alerts.as_secs_f64()
    );

    let instances = (1..=cli.nodes)
        .map(|id| edge_node::targets::address(&spec.scrape.instance_template, spec.scrape.base_port, id))
        .collect();
    let cx = Context {
        plan,
        groups: &s.groups,
        facts: &s.facts,
        seen: &seen,
        nodes: cli.nodes,
        instances,
        start_ms,
    };
    let judged = judge::judge(&outcome, &cx);
    let mut files: BTreeSet<String> = BTreeSet::new();
    let rules_files =
        s.groups.iter().map(|g| g.source.display().to_string()).filter(|f| files.insert(f.clone())).collect();
    let run = Run {
        nodes: cli.nodes,
        seed: cli.seed,
        rest_s: plan.rest.as_secs_f64(),
        scrape_interval_s: s.scrape_interval.as_secs_f64(),
        evaluation_interval_s: s.evaluation_interval.as_secs_f64(),
        shapes: spec.shapes.to_string().split(',').map(str::to_owned).collect(),
        jobs: Jobs { app: spec.scrape.app_job.clone(), host: spec.scrape.host_job.clone() },
        prometheus_version: prometheus_version(&tools),
        rules_files,
        differences: differences(s.lookback_delta),
    };
    if cli.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    eprintln!("coverage: done in {:.1}s", began.elapsed().as_secs_f64());
    Ok(Report::new(run, judged.faults, judged.rules, judged.timelines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(extra: &[&str]) -> Cli {
        let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/small-rules.yml");
        let mut args = vec!["coverage", "--rules", rules, "--rest", "20m"];
        args.extend(extra);
        Cli::try_parse_from(args).expect("parses")
    }

    #[test]
    fn intervals_come_from_the_flags_then_the_prometheus_yml_then_15s() {
        let s = settings(&cli(&[])).expect("valid");
        assert_eq!((s.scrape_interval, s.evaluation_interval), (DEFAULT_INTERVAL, DEFAULT_INTERVAL));
        assert_eq!(s.lookback_delta, Duration::from_secs(30), "two scrapes");
        let yml = std::env::temp_dir().join(format!("coverage-prom-{}.yml", std::process::id()));
        std::fs::write(&yml, "global:\n  scrape_interval: 30s\n  evaluation_interval: 1m\n").expect("write");
        let path = yml.to_str().expect("utf-8");
        let s = settings(&cli(&["--prometheus-config", path])).expect("valid");
        assert_eq!(
            (s.scrape_interval, s.evaluation_interval),
            (Duration::from_secs(30), Duration::from_secs(60))
        );
        assert_eq!(s.lookback_delta, Duration::from_secs(60));
        let s = settings(&cli(&["--prometheus-config", path, "--scrape-interval", "10s"])).expect("valid");
        assert_eq!(s.scrape_interval, Duration::from_secs(10), "the flag wins");
        std::fs::write(&yml, "global:\n  scrape_interval: soon\n").expect("write");
        let err = settings(&cli(&["--prometheus-config", path])).expect_err("bad duration");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("global.scrape_interval"), "{err}");
        std::fs::remove_file(&yml).expect("clean up");
    }

    #[test]
    fn windows_shorter_than_two_scrapes_are_warned_about() {
        assert!(settings(&cli(&[])).expect("valid").warnings.is_empty());
        let s = settings(&cli(&["--scrape-interval", "90s"])).expect("valid");
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(
            s.warnings[0].starts_with("node:cpu_busy:ratio2m: its longest window (120s)"),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn missing_rules_are_a_usage_error() {
        let err = settings(&Cli::try_parse_from(["coverage", "--rules", "/no/such.yml"]).expect("parses"))
            .expect_err("missing");
        assert_eq!(
            (err.exit_code(), err.to_string()),
            (2, "--rules /no/such.yml: no such file or folder".into())
        );
    }
}
