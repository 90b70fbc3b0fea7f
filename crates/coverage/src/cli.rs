//! The command line (clap types only).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use edge_sim::FaultKind;

/// Which alert rules catch which faults, how fast, and which fire at rest: the rules are
/// evaluated by the real Prometheus over series a virtual fleet produces in seconds.
#[derive(Debug, Clone, Parser)]
#[command(name = "coverage", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Prometheus rule files, folders of them, or PrometheusRule manifests.
    #[arg(long, required = true, num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// Nodes in the virtual fleet.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub nodes: u32,
    /// The fault-free period at the start (false alerts at rest are judged in it).
    #[arg(long, default_value = "24h", value_parser = duration)]
    pub rest: Duration,
    /// The run seed (the same seed, rules and plan give the same report).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Between two scrapes [default: the prometheus.yml's, else 15s].
    #[arg(long, value_parser = duration)]
    pub scrape_interval: Option<Duration>,
    /// Of groups that set none [default: the prometheus.yml's, else 15s].
    #[arg(long, value_parser = duration)]
    pub evaluation_interval: Option<Duration>,
    /// A scrape taking longer fails, `up` 0 [default: the prometheus.yml's, else 10s, at most
    /// the scrape interval].
    #[arg(long, value_parser = duration)]
    pub scrape_timeout: Option<Duration>,
    /// A prometheus.yml whose `global` scrape and evaluation intervals and scrape timeout are
    /// the defaults.
    #[arg(long)]
    pub prometheus_config: Option<PathBuf>,
    /// The longest a fault (and its recovery) may last; the model's limit is 1h.
    #[arg(long, default_value = "1h", value_parser = duration)]
    pub fault_cap: Duration,
    /// One fault at a time instead of one per node at once (for rules aggregating over nodes).
    #[arg(long)]
    pub serial: bool,
    /// The failure modes to inject, comma separated [default: all].
    #[arg(long, value_delimiter = ',', value_parser = fault_kind)]
    pub failures: Vec<FaultKind>,
    /// The intensity of a mode's faults, e.g. `cpu_spike=0.6`, within the mode's range (see
    /// `inject list`); repeatable [default: the model's].
    #[arg(long, value_name = "MODE=X", value_parser = intensity_spec)]
    pub intensity: Vec<IntensitySpec>,
    /// Inject an inject-CLI scenario file's steps after the rest period (each at rest + `at`,
    /// on every node of its `node`, for its duration, intensity and service) instead of
    /// every mode on its own node.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["failures", "serial", "intensity"])]
    pub scenario: Option<PathBuf>,
    /// The form of the report on stdout (or in --out).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the --format report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the report in FORMAT to FILE, e.g. `html=report.html`; repeatable.
    #[arg(long, value_name = "FORMAT=FILE", value_parser = output_spec)]
    pub output: Vec<OutputSpec>,
    /// Exit 1 when any of these holds, comma separated [default: none].
    #[arg(long, value_enum, value_delimiter = ',', value_name = "CONDITION")]
    pub fail_on: Vec<FailOn>,
    /// Where promtool and prometheus (v3) are [default: target/tools/root/usr/bin].
    #[arg(long, conflicts_with = "enabled")]
    pub tools: Option<PathBuf>,
    /// A folder for the series, blocks and Prometheus' log [default: a temporary folder].
    #[arg(long, conflicts_with = "enabled")]
    pub work_dir: Option<PathBuf>,
    /// After the run, write a `promtool test rules` file proving its alert states equal to
    /// Prometheus' rule manager (the series with stale markers, the rules beside it as
    /// FILE's stem + `.rules.yml`); check it with `promtool test rules FILE`.
    #[arg(long, value_name = "FILE", conflicts_with = "enabled")]
    pub emit_promtool_test: Option<PathBuf>,
    /// Run the plan against a running stack in real time instead of the virtual fleet: its
    /// Prometheus must have loaded --rules; faults go to nodes 1..=--nodes over /inject.
    #[command(flatten)]
    pub live: Live,
}

/// Live mode's flags (`--live` and where the stack is).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Live {
    /// Run the plan against the running stack in real time (for rules with short windows).
    #[arg(long = "live")]
    pub enabled: bool,
    /// Live: Prometheus' base URL [default: http://127.0.0.1:$PROMETHEUS_PORT, else :9090].
    #[arg(long, requires = "enabled", value_name = "URL")]
    pub prometheus: Option<String>,
    /// Live: the host of the nodes (these three read the inject CLI's variables) (node N at http://HOST:BASE_PORT+N).
    #[arg(long, env = "INJECT_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Live: node N listens on BASE_PORT + N.
    #[arg(long, env = "INJECT_BASE_PORT", default_value_t = 8000,
          value_parser = clap::value_parser!(u16).range(0..=64535))]
    pub base_port: u16,
    /// Live: per-node URL overrides, `N=URL` separated by commas (as the inject CLI's).
    #[arg(long, env = "INJECT_TARGETS", value_name = "N=URL,...")]
    pub targets: Option<String>,
}

/// Formats, outputs and exit codes, after the flags in `--help`.
const AFTER_HELP: &str = "\
Formats (--format for stdout or --out; --output FORMAT=FILE for more files from the same run):
  text       tables for the terminal
  json       the report's JSON contract (version 1), for scripts
  markdown   the tables and notes, e.g. for a pull request comment
  junit      JUnit XML: one test case per fault and per rule, for CI
  html       one self-contained page with the fault x rule heat map
Files are written whole (temporary file, then rename); an unwritable one is refused before the run.

--fail-on conditions: uncaught (a fault no rule caught), false-alerts (any false alert episode
at rest), cannot-evaluate, always-firing, never-exercised.

Exit codes:
  0  the run finished and no --fail-on condition holds
  1  a --fail-on condition holds (one line each on stderr, after every output is written),
     or the run or a write failed
  2  usage error (flags, rule files, outputs), before anything runs";

/// A form of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum Format {
    /// Tables for the terminal.
    Text,
    /// The report's JSON contract (version 1).
    Json,
    /// The tables and notes in Markdown.
    #[value(alias = "md")]
    Markdown,
    /// JUnit XML, one test case per fault and per rule.
    #[value(alias = "xml")]
    Junit,
    /// One self-contained HTML page with the heat map.
    Html,
}

/// One `--output FORMAT=FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    /// The form.
    pub format: Format,
    /// Where it goes.
    pub path: PathBuf,
}

/// A `--fail-on` condition: when it holds after the run, the command exits 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum)]
pub enum FailOn {
    /// A fault that no rule caught on its node.
    Uncaught,
    /// Any false alert episode at rest, of any rule.
    #[value(alias = "false_alerts")]
    FalseAlerts,
    /// A rule that reads a series or label value nothing provides.
    #[value(alias = "cannot_evaluate")]
    CannotEvaluate,
    /// A rule that fires regardless of faults.
    #[value(alias = "always_firing")]
    AlwaysFiring,
    /// A rule no fault moved.
    #[value(alias = "never_exercised")]
    NeverExercised,
}

impl FailOn {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Uncaught => "uncaught",
            FailOn::FalseAlerts => "false-alerts",
            FailOn::CannotEvaluate => "cannot-evaluate",
            FailOn::AlwaysFiring => "always-firing",
            FailOn::NeverExercised => "never-exercised",
        }
    }
}

fn output_spec(text: &str) -> Result<OutputSpec, String> {
    let Some((format, path)) = text.split_once('=') else {
        return Err("expected FORMAT=FILE, e.g. html=report.html".into());
    };
    let format = Format::from_str(format.trim(), true)
        .map_err(|_| format!("unknown format {format:?} (text, json, markdown, junit, html)"))?;
    if path.is_empty() {
        return Err("expected FORMAT=FILE: the file is empty".into());
    }
    Ok(OutputSpec { format, path: PathBuf::from(path) })
}

/// One `--intensity MODE=X`, within the mode's range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntensitySpec {
    /// The mode.
    pub kind: FaultKind,
    /// Its intensity.
    pub value: f64,
}

fn intensity_spec(text: &str) -> Result<IntensitySpec, String> {
    let Some((mode, value)) = text.split_once('=') else {
        return Err("expected MODE=X, e.g. cpu_spike=0.6".into());
    };
    let kind = fault_kind(mode.trim())?;
    let value: f64 = value.trim().parse().map_err(|_| format!("`{}` is not a number", value.trim()))?;
    // The catalogue's own check (the duration is any valid one): its message gives the range.
    edge_sim::FaultSpec { kind, duration_s: 60.0, intensity: Some(value), service: None }
        .validate()
        .map_err(|e| e.to_string())?;
    Ok(IntensitySpec { kind, value })
}

fn duration(text: &str) -> Result<Duration, String> {
    let d = rule_coverage::duration::parse(text).map_err(|e| e.to_string())?;
    if d.is_zero() { Err("must be longer than 0".into()) } else { Ok(d) }
}

fn fault_kind(text: &str) -> Result<FaultKind, String> {
    text.parse::<FaultKind>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_is_well_formed_and_parses_its_flags() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "coverage",
            "--rules",
            "a.yml",
            "b/",
            "--nodes",
            "3",
            "--rest",
            "20m",
            "--failures",
            "cpu_spike,node_crash",
            "--format",
            "json",
            "--scrape-interval",
            "30s",
        ])
        .expect("parses");
        assert_eq!(cli.rules, [PathBuf::from("a.yml"), PathBuf::from("b/")]);
        assert_eq!((cli.nodes, cli.rest), (3, Duration::from_secs(1200)));
        assert_eq!(cli.failures, [FaultKind::CpuSpike, FaultKind::NodeCrash]);
        assert_eq!((cli.format, cli.scrape_interval), (Format::Json, Some(Duration::from_secs(30))));
        assert_eq!(cli.fault_cap, Duration::from_secs(3600));
    }

    #[test]
    fn formats_outputs_and_fail_on_parse() {
        let cli = Cli::try_parse_from([
            "coverage",
            "--rules",
            "a.yml",
            "--format",
            "markdown",
            "--output",
            "html=report.html",
            "--output",
            "JUnit=out/junit.xml",
            "--output",
            "md=a=b.md",
            "--fail-on",
            "uncaught,false-alerts",
            "--fail-on",
            "cannot_evaluate",
        ])
        .expect("parses");
        assert_eq!(cli.format, Format::Markdown);
        let spec = |format, path: &str| OutputSpec { format, path: PathBuf::from(path) };
        assert_eq!(
            cli.output,
            [
                spec(Format::Html, "report.html"),
                spec(Format::Junit, "out/junit.xml"),
                spec(Format::Markdown, "a=b.md")
            ]
        );
        assert_eq!(cli.fail_on, [FailOn::Uncaught, FailOn::FalseAlerts, FailOn::CannotEvaluate]);
        for (name, format) in
            [("text", Format::Text), ("json", Format::Json), ("junit", Format::Junit), ("html", Format::Html)]
        {
            let cli = Cli::try_parse_from(["coverage", "--rules", "a", "--format", name]).expect(name);
            assert_eq!(cli.format, format);
        }
        for condition in [
            FailOn::Uncaught,
            FailOn::FalseAlerts,
            FailOn::CannotEvaluate,
            FailOn::AlwaysFiring,
            FailOn::NeverExercised,
        ] {
            let cli = Cli::try_parse_from(["coverage", "--rules", "a", "--fail-on", condition.as_str()])
                .unwrap_or_else(|e| panic!("{}: {e}", condition.as_str()));
            assert_eq!(cli.fail_on, [condition]);
        }
        let none = Cli::try_parse_from(["coverage", "--rules", "a"]).expect("parses");
        assert!(none.fail_on.is_empty() && none.output.is_empty() && none.out.is_none());
    }

    #[test]
    fn the_help_names_the_formats_the_conditions_and_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        for word in ["markdown", "junit", "html", "--output", "FORMAT=FILE", "--fail-on", "false-alerts"] {
            assert!(help.contains(word), "{word}: {help}");
        }
        assert!(help.contains("Exit codes:") && help.contains("2  usage error"), "{help}");
    }

    #[test]
    fn intensities_and_a_scenario_parse() {
        let cli = Cli::try_parse_from([
            "coverage",
            "--rules",
            "a",
            "--intensity",
            "cpu_spike=0.6",
            "--intensity",
            " error_burst = 1 ",
        ])
        .expect("parses");
        assert_eq!(
            cli.intensity,
            [
                IntensitySpec { kind: FaultKind::CpuSpike, value: 0.6 },
                IntensitySpec { kind: FaultKind::ErrorBurst, value: 1.0 }
            ]
        );
        assert_eq!(cli.scenario, None);
        let cli =
            Cli::try_parse_from(["coverage", "--rules", "a", "--scenario", "game.toml", "--nodes", "4"])
                .expect("parses");
        assert_eq!((cli.scenario, cli.nodes), (Some(PathBuf::from("game.toml")), 4));
    }

    #[test]
    fn an_intensity_outside_the_modes_range_is_refused_with_the_range() {
        for (arg, needle) in [
            ("cpu_spike=0.2", "between 0.5 and 1"),
            ("cpu_spike=1.5", "between 0.5 and 1"),
            ("node_crash=1", "node_crash takes no intensity"),
            ("cpu_spike=much", "not a number"),
            ("cpu_spike", "expected MODE=X"),
            ("meteor=1", "meteor"),
            ("cpu_spike=NaN", "between 0.5 and 1"),
        ] {
            let err = Cli::try_parse_from(["coverage", "--rules", "a", "--intensity", arg]).expect_err(arg);
            assert!(err.to_string().contains(needle), "{arg}: {err}");
        }
    }

    #[test]
    fn a_scenario_conflicts_with_the_modes_serial_and_intensities() {
        for flag in [&["--failures", "cpu_spike"][..], &["--serial"], &["--intensity", "cpu_spike=0.6"]] {
            let mut args = vec!["coverage", "--rules", "a", "--scenario", "s.toml"];
            args.extend(flag);
            let err = Cli::try_parse_from(&args).expect_err("conflicts");
            assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict, "{args:?}");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            &["coverage", "--rules", "a", "--rest", "5x"][..],
            &["coverage", "--rules", "a", "--failures", "meteor"],
            &["coverage", "--nodes", "3"],
            &["coverage", "--rules", "a", "--nodes", "0"],
            &["coverage", "--rules", "a", "--format", "pdf"],
            &["coverage", "--rules", "a", "--output", "report.html"],
            &["coverage", "--rules", "a", "--output", "pdf=report.pdf"],
            &["coverage", "--rules", "a", "--output", "html="],
            &["coverage", "--rules", "a", "--fail-on", "uncaught,meteor"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }
}
