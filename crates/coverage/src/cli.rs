//! The command line (clap types only).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use edge_sim::FaultKind;

/// Which alert rules catch which faults, how fast, and which fire at rest: the rules are
/// evaluated by the real Prometheus over series a virtual fleet produces in seconds.
#[derive(Debug, Clone, Parser)]
#[command(name = "coverage", version)]
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
    /// A prometheus.yml whose `global` scrape and evaluation intervals are the defaults.
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
    /// The output's form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where promtool and prometheus (v3) are [default: target/tools/root/usr/bin].
    #[arg(long)]
    pub tools: Option<PathBuf>,
    /// A folder for the series, blocks and Prometheus' log [default: a temporary folder].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

/// The output's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The report's JSON contract (version 1).
    Json,
    /// Tables for people.
    Text,
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
    fn bad_values_are_refused() {
        for args in [
            &["coverage", "--rules", "a", "--rest", "5x"][..],
            &["coverage", "--rules", "a", "--failures", "meteor"],
            &["coverage", "--nodes", "3"],
            &["coverage", "--rules", "a", "--nodes", "0"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }
}
