//! One coverage run, end to end: rules, plan, series, the real Prometheus, the judgement.
//! Progress goes to stderr; the report is returned.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edge_node::virtual_fleet::{self, FleetSpec, PlannedFault, ScrapeConfig, VirtualError};
use edge_sim::{FaultKind, FaultSpec};
use inject::scenario::ScenarioError;
use rule_coverage::facts::{self, ExprError};
use rule_coverage::{EngineConfig, EngineError, LoadError, Millis, RuleGroup, TimeRange, ToolError, Tools};

use crate::cli::Cli;
use crate::filter::{FilterWriter, Keep};
use crate::judge::{self, Context};
use crate::plan::{self, Plan, PlanInput};
use crate::report::model::{Jobs, Mode, Report, Run};

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
    /// Live mode: the stack could not be read or driven.
    #[error(transparent)]
    Live(#[from] crate::live::error::LiveError),
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
            Self::Live(e) => e.exit_code(),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |cause| RunError::Io { path: path.to_owned(), cause }
}

/// A Prometheus configuration's `global` section, as far as a run reads it: each `None`
/// where the configuration leaves it to Prometheus' default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Global {
    /// `scrape_interval`.
    pub scrape_interval: Option<Duration>,
    /// `evaluation_interval`.
    pub evaluation_interval: Option<Duration>,
    /// `scrape_timeout` (a scrape taking longer fails: `up` is 0).
    pub scrape_timeout: Option<Duration>,
}

/// The `global` section of a prometheus.yml.
pub fn global_intervals(path: &Path) -> Result<Global, RunError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| RunError::Usage(format!("{}: {e}", path.display())))?;
    global_intervals_in(&text, &path.display().to_string())
}

/// [`global_intervals`] of a configuration's text; `origin` names it in errors.
pub fn global_intervals_in(text: &str, origin: &str) -> Result<Global, RunError> {
    let doc: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| RunError::Usage(format!("{origin}: {e}")))?;
    let field = |name: &str| -> Result<Option<Duration>, RunError> {
        match doc.get("global").and_then(|g| g.get(name)).and_then(|v| v.as_str()) {
            None => Ok(None),
            Some(t) => rule_coverage::duration::parse(t)
                .map(Some)
                .map_err(|e| RunError::Usage(format!("{origin}: global.{name}: {e}"))),
        }
    };
    Ok(Global {
        scrape_interval: field("scrape_interval")?,
        evaluation_interval: field("evaluation_interval")?,
        scrape_timeout: field("scrape_timeout")?,
    })
}

/// Prometheus' default `scrape_timeout`, which may not exceed the scrape interval.
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// A scrape taking longer fails (flaky_network's stalls): the flag, else the
    /// configuration's, else Prometheus' default (10 s, at most the scrape interval).
    pub scrape_timeout: Duration,
    /// The longest lookback any rule's query uses (the scrape interval, or the longest
    /// recording group's interval): for the plan's recovery.
    pub lookback_delta: Duration,
    /// The plan.
    pub plan: Plan,
    /// What the user should know before trusting the result (printed on stderr).
    pub warnings: Vec<String>,
}

impl Settings {
    /// The rule files read, each once, in the order their groups came.
    pub fn rules_files(&self) -> Vec<String> {
        let mut files: BTreeSet<String> = BTreeSet::new();
        self.groups
            .iter()
            .map(|g| g.source.display().to_string())
            .filter(|f| files.insert(f.clone()))
            .collect()
    }
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
    let global = match &cli.prometheus_config {
        Some(p) => global_intervals(p)?,
        None => Global::default(),
    };
    settings_from(cli, global)
}

/// [`settings`] with the `global` scrape and evaluation intervals of the configuration the
/// rules run under (a prometheus.yml's, or a running Prometheus' own); the flags win.
pub fn settings_from(cli: &Cli, global: Global) -> Result<Settings, RunError> {
    for p in &cli.rules {
        if !p.exists() {
            return Err(RunError::Usage(format!("--rules {}: no such file or folder", p.display())));
        }
    }
    let scrape_interval = cli.scrape_interval.or(global.scrape_interval).unwrap_or(DEFAULT_INTERVAL);
    let evaluation_interval =
        cli.evaluation_interval.or(global.evaluation_interval).unwrap_or(DEFAULT_INTERVAL);
    let scrape_timeout =
        cli.scrape_timeout.or(global.scrape_timeout).unwrap_or(DEFAULT_SCRAPE_TIMEOUT.min(scrape_interval));
    if scrape_timeout > scrape_interval {
        return Err(RunError::Usage(format!(
            "the scrape timeout ({}s) is longer than the scrape interval ({}s); Prometheus refuses that too",
            scrape_timeout.as_secs_f64(),
            scrape_interval.as_secs_f64()
        )));
    }
    let groups = rule_coverage::load_paths(&cli.rules)?;
    let facts = facts::rule_facts(&groups)?;
    facts::recording_layers(&groups)?;
    let longest_group =
        groups.iter().map(|g| g.interval_or(evaluation_interval)).max().unwrap_or(evaluation_interval);
    // Each rule's query looks back the period of the series it reads (see
    // `rule_coverage::engine::lookback_for`); the longest of them bounds how long a series
    // stays visible after its last sample, which the plan's recovery waits out.
    let lookback_delta = scrape_interval.max(longest_group);
    let failures = if cli.failures.is_empty() { FaultKind::ALL.to_vec() } else { cli.failures.clone() };
    if let Some(unused) = cli.intensity.iter().find(|i| !failures.contains(&i.kind)) {
        return Err(RunError::Usage(format!(
            "--intensity {}: {} is not among --failures",
            unused.kind.as_str(),
            unused.kind.as_str()
        )));
    }
    let scenario = match &cli.scenario {
        None => None,
        Some(path) => {
            let refused = |cause: String| RunError::Usage(format!("--scenario {}: {cause}", path.display()));
            // The inject CLI's own reading and checks (its steps' numbers are the file's).
            let scenario = inject::scenario::Scenario::load(path).map_err(|e| match e {
                ScenarioError::Read { source, .. } => refused(format!("cannot read it: {source}")),
                ScenarioError::Invalid { source, .. } => refused(stack_client::error_chain(&source)),
            })?;
            Some(plan::scenario_faults(&scenario, cli.nodes).map_err(refused)?)
        }
    };
    let input = PlanInput {
        nodes: cli.nodes,
        rest: cli.rest,
        fault_cap: cli.fault_cap,
        failures,
        scrape_interval,
        evaluation_interval: longest_group,
        lookback_delta,
        serial: cli.serial,
        intensities: cli.intensity.iter().map(|i| (i.kind, i.value)).collect(),
        scenario,
    };
    let plan = plan::plan(&input, &facts);
    let mut warnings = short_windows(&facts, scrape_interval);
    if facts.iter().any(|f| f.own.unnamed_selector) {
        warnings
            .push("a rule selects without a fixed metric name: keeping every series (larger, slower)".into());
    }
    Ok(Settings {
        groups,
        facts,
        scrape_interval,
        evaluation_interval,
        scrape_timeout,
        lookback_delta,
        plan,
        warnings,
    })
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

/// What this run's virtual time differs in from a live Prometheus, as its rules could
/// notice: only the items that apply to its rules, intervals and plan.
///
/// Staleness is live where a query's lookback equals the period of the series it reads
/// ([`rule_coverage::engine::lookback_for`]): each rule's query looks back the longest
/// period among them. What differs is a rule reading series of several periods (scraped
/// and recorded by a slower group, or recorded by groups of different intervals): the
/// faster ones linger past their last sample.
fn differences(s: &Settings) -> Vec<String> {
    let secs = |d: Duration| format!("{}s", d.as_secs_f64());
    let mut out = Vec::new();
    let periods = rule_coverage::engine::record_periods(&s.groups, s.evaluation_interval);
    let mut mixed = Vec::new();
    for (rule, f) in s.groups.iter().flat_map(|g| g.rules.iter()).zip(&s.facts) {
        let read: BTreeSet<Duration> = f
            .own
            .metrics
            .iter()
            .map(|m| periods.get(m).copied().unwrap_or(s.scrape_interval))
            .chain(f.own.unnamed_selector.then_some(s.scrape_interval))
            .collect();
        if read.len() > 1 {
            let lookback = rule_coverage::engine::lookback_for(&f.own, &periods, s.scrape_interval);
            mixed.push(format!("{} ({})", rule.name(), secs(lookback)));
        }
    }
    if !mixed.is_empty() {
        out.push(format!(
            "{} read series of different periods (scraped every {}, recorded at their group's interval), \
             evaluated with the longest as their lookback delta (given): the faster series stay visible to \
             instant selectors until that long after their last sample, where live Prometheus' stale marker \
             hides them one period after it (noticeable when scrapes fail or a recording stops).",
            mixed.join(", "),
            secs(s.scrape_interval)
        ));
    }
    if !s.groups.is_empty() {
        out.push(
            "Each group is evaluated at multiples of its interval from the epoch and sees every sample up \
             to that instant (a scrape at that instant included) and other groups' recordings of that \
             instant; live Prometheus evaluates each group at an offset within its interval (a hash of its \
             name and file), so the scrapes and other groups' recordings it reads can be up to one of \
             their intervals older."
                .to_owned(),
        );
    }
    out.push(format!(
        "Every target is scraped at the same instants, multiples of the scrape interval ({}) from the run's \
         start; live Prometheus spreads targets over the interval by a hash of each target, so series of \
         different targets are sampled at different offsets.",
        secs(s.scrape_interval)
    ));
    let probes: BTreeSet<&str> = s
        .facts
        .iter()
        .flat_map(|f| f.source_metrics.iter())
        .filter(|m| m.starts_with("probe_"))
        .map(String::as_str)
        .collect();
    if !probes.is_empty() {
        out.push(format!(
            "There is no blackbox job: {} (probe_*) is never present.",
            probes.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    // A rule reading a recording defined later in its own group: live reads the previous
    // evaluation's; the engine records every layer first.
    let mut facts = s.facts.iter();
    let mut early = Vec::new();
    for g in &s.groups {
        for (i, r) in g.rules.iter().enumerate() {
            let Some(f) = facts.next() else { break };
            let later = g.rules[i + 1..]
                .iter()
                .any(|w| matches!(&w.kind, rule_coverage::RuleKind::Record(n) if f.own.metrics.contains(n)));
            if later {
                early.push(r.name());
            }
        }
    }
    if !early.is_empty() {
        out.push(format!(
            "{} read a recording defined later in the same group: here they see the same evaluation's \
             value, live Prometheus (rules in file order) the previous evaluation's.",
            early.join(", ")
        ));
    }
    let templated: Vec<&str> = s
        .groups
        .iter()
        .flat_map(|g| g.alerts())
        .filter(|(_, r)| !r.templated_labels().is_empty())
        .map(|(name, _)| name)
        .collect();
    if !templated.is_empty() {
        out.push(format!(
            "Templated alert labels are kept as written, not expanded per alert: {}.",
            templated.join(", ")
        ));
    }
    out
}

/// Runs the whole of a virtual run; progress on stderr.
pub fn run(cli: &Cli) -> Result<Report, RunError> {
    let began = Instant::now();
    let s = settings(cli)?;
    let tools = find_tools(cli)?;
    let plan = &s.plan;
    let alerts = s.facts.iter().filter(|f| matches!(f.kind, rule_coverage::RuleKind::Alert(_))).count();
    eprintln!(
        "coverage: {} alerting and {} recording rules; seed {}; {} nodes; rest {}s, {} faults of up to {}s, recovery {}s; {}s simulated",
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
    spec.scrape =
        ScrapeConfig { interval: s.scrape_interval, timeout: s.scrape_timeout, ..ScrapeConfig::default() };
    spec.faults = plan
        .slots
        .iter()
        .map(|slot| PlannedFault {
            node: slot.node,
            spec: FaultSpec {
                kind: slot.kind,
                duration_s: slot.length().as_secs_f64(),
                intensity: slot.intensity,
                service: slot.service,
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
        scrape_interval: s.scrape_interval,
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
    if let Some(path) = &cli.emit_promtool_test {
        let default = s.evaluation_interval;
        let written = rule_coverage::promtool_test::write_run_test(
            path,
            &series,
            &s.groups,
            default,
            s.scrape_interval,
            range,
            &outcome,
        )
        .map_err(|e| RunError::Io { path: path.clone(), cause: std::io::Error::other(e) })?;
        let w = &written.run;
        eprintln!(
            "coverage: wrote {} ({} series, {} of {} evaluations checked; rules in {}): check it with `promtool test rules {}`",
            path.display(),
            w.series,
            w.checked,
            w.evaluations,
            written.rules.display(),
            path.display()
        );
        w.notes.iter().for_each(|n| eprintln!("coverage: promtool test: {n}"));
    }

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
        // The `region` target label of each node's series: the virtual fleet's NodeConfig.
        regions: (1..=spec.nodes).map(|id| edge_node::NodeConfig::new(id, spec.run_seed).region).collect(),
        start_ms,
    };
    let judged = judge::judge(&outcome, &cx);
    let run = Run {
        mode: Mode::Virtual,
        nodes: cli.nodes,
        seed: cli.seed,
        rest_s: plan.rest.as_secs_f64(),
        scrape_interval_s: s.scrape_interval.as_secs_f64(),
        evaluation_interval_s: s.evaluation_interval.as_secs_f64(),
        shapes: spec.shapes.to_string().split(',').map(str::to_owned).collect(),
        jobs: Jobs { app: spec.scrape.app_job.clone(), host: spec.scrape.host_job.clone() },
        prometheus_version: prometheus_version(&tools),
        rules_files: s.rules_files(),
        differences: differences(&s),
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
        assert_eq!(s.lookback_delta, Duration::from_secs(15), "the scrape interval: live staleness");
        let yml = std::env::temp_dir().join(format!("coverage-prom-{}.yml", std::process::id()));
        std::fs::write(&yml, "global:\n  scrape_interval: 30s\n  evaluation_interval: 1m\n").expect("write");
        let path = yml.to_str().expect("utf-8");
        let s = settings(&cli(&["--prometheus-config", path])).expect("valid");
        assert_eq!(
            (s.scrape_interval, s.evaluation_interval),
            (Duration::from_secs(30), Duration::from_secs(60))
        );
        assert_eq!(s.lookback_delta, Duration::from_secs(60), "the longest group interval");
        let s = settings(&cli(&["--prometheus-config", path, "--scrape-interval", "10s"])).expect("valid");
        assert_eq!(s.scrape_interval, Duration::from_secs(10), "the flag wins");
        std::fs::write(&yml, "global:\n  scrape_interval: soon\n").expect("write");
        let err = settings(&cli(&["--prometheus-config", path])).expect_err("bad duration");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("global.scrape_interval"), "{err}");
        std::fs::remove_file(&yml).expect("clean up");
    }

    #[test]
    fn the_scrape_timeout_comes_from_the_flag_then_the_prometheus_yml_then_10s_within_the_interval() {
        assert_eq!(settings(&cli(&[])).expect("valid").scrape_timeout, DEFAULT_SCRAPE_TIMEOUT);
        let s = settings(&cli(&["--scrape-interval", "5s"])).expect("valid");
        assert_eq!(s.scrape_timeout, Duration::from_secs(5), "never beyond the interval");
        let fleet = concat!(env!("CARGO_MANIFEST_DIR"), "/../../prometheus/fleet/prometheus.yml");
        let s = settings(&cli(&["--prometheus-config", fleet])).expect("valid");
        assert_eq!((s.scrape_interval, s.scrape_timeout), (Duration::from_secs(10), Duration::from_secs(2)));
        let s = settings(&cli(&["--prometheus-config", fleet, "--scrape-timeout", "3s"])).expect("valid");
        assert_eq!(s.scrape_timeout, Duration::from_secs(3), "the flag wins");
        let err = settings(&cli(&["--scrape-timeout", "20s"])).expect_err("longer than the interval");
        assert_eq!(err.exit_code(), 2);
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
    fn differences_list_only_what_applies_to_the_run() {
        let has = |d: &[String], start: &str| d.iter().any(|x| x.starts_with(start));
        // 15 s everywhere: staleness is live; small-rules.yml reads probe_success.
        let d = differences(&settings(&cli(&[])).expect("valid"));
        assert_eq!(d.len(), 3, "{d:#?}");
        assert!(has(&d, "Each group is evaluated") && has(&d, "Every target is scraped"), "{d:#?}");
        assert!(
            d.contains(&"There is no blackbox job: probe_success (probe_*) is never present.".to_owned())
        );
        // Groups at 1 min over 15 s scrapes: each query looks back its series' period, so
        // nothing lingers.
        let d = differences(&settings(&cli(&["--evaluation-interval", "1m"])).expect("valid"));
        assert!(!has(&d, "node:"), "{d:#?}");

        // A recording group faster than another group; a templated label; no probe_*.
        let rules = std::env::temp_dir().join(format!("coverage-differences-{}.yml", std::process::id()));
        std::fs::write(
            &rules,
            "groups:\n  - name: fast\n    interval: 15s\n    rules:\n      - record: a:up\n        expr: up\n\
             \x20 - name: slow\n    interval: 1m\n    rules:\n      - alert: Down\n        expr: a:up == 0\n\
             \x20       labels:\n          who: '{{ $labels.node }}'\n",
        )
        .expect("write");
        let path = rules.to_str().expect("utf-8");
        let cli =
            Cli::try_parse_from(["coverage", "--rules", path, "--rest", "20m", "--failures", "cpu_spike"])
                .expect("parses");
        let d = differences(&settings(&cli).expect("valid"));
        assert!(!has(&d, "Down"), "it reads one period only: {d:#?}");
        assert!(!has(&d, "There is no blackbox job"), "{d:#?}");
        assert!(d.contains(
            &"Templated alert labels are kept as written, not expanded per alert: Down.".to_owned()
        ));
        assert!(!d.iter().any(|x| x.contains("defined later")), "{d:#?}");

        // Scraped series beside a recording of a slower group.
        std::fs::write(
            &rules,
            "groups:\n  - name: slow\n    interval: 1m\n    rules:\n      - record: a:up\n        expr: up\n\
             \x20 - name: g\n    rules:\n      - alert: Mixed\n        expr: a:up == 0 and up == 0\n",
        )
        .expect("write");
        let cli = Cli::try_parse_from(["coverage", "--rules", path, "--rest", "20m"]).expect("parses");
        let d = differences(&settings(&cli).expect("valid"));
        assert!(has(&d, "Mixed (60s) read series of different periods (scraped every 15s"), "{d:#?}");
        assert!(d.iter().all(|x| !x.contains("  ")), "one space between words: {d:#?}");

        // An alert before the recording it reads.
        std::fs::write(
            &rules,
            "groups:\n  - name: g\n    rules:\n      - alert: Early\n        expr: a:up == 0\n\
             \x20     - record: a:up\n        expr: up\n",
        )
        .expect("write");
        let cli = Cli::try_parse_from(["coverage", "--rules", path, "--rest", "20m"]).expect("parses");
        let d = differences(&settings(&cli).expect("valid"));
        std::fs::remove_file(&rules).expect("clean up");
        assert!(d.iter().any(|x| x.starts_with("Early read a recording defined later")), "{d:#?}");
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
