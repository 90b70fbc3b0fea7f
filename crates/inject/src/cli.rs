//! The command line. The seed's form `inject --node 3 --failure cpu_spike` injects; the
//! subcommands read status, clear faults and run game days.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use edge_sim::{FaultKind, Service};

use crate::targets::NodeSpec;

/// Break the edge fleet on purpose and watch what your monitoring does.
#[derive(Debug, Parser)]
#[command(version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// A subcommand; without one, inject with --node and --failure.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The seed-style injection flags.
    #[command(flatten)]
    pub inject: InjectArgs,
    /// Flags every command takes.
    #[command(flatten)]
    pub global: Global,
}

const EXAMPLES: &str = "Examples:
  inject --node 3 --failure cpu_spike                 # 30 s on node 3
  inject --node 2-6 --failure latency_spike --duration 45 --intensity 5
  inject --node all --failure error_burst --service payments
  inject --node 3 --failure cpu_spike --watch         # time HighCPUUsage end to end
  inject status
  inject clear --node all
  inject scenario scenarios/cascading-failure.toml --dry-run
  inject random --seed 7 --length 300";

/// Where the fleet is and how to print.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Host of the nodes.
    #[arg(long, global = true, env = "INJECT_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Node N listens on base-port + N.
    #[arg(long, global = true, env = "INJECT_BASE_PORT", default_value_t = 8000)]
    pub base_port: u16,
    /// Per-node URL overrides, `N=URL` separated by commas (or a file of them, one per line,
    /// with --targets-file), for Compose on another host or a Kubernetes port-forward.
    #[arg(long, global = true, env = "INJECT_TARGETS")]
    pub targets: Option<String>,
    /// A file of `N=URL` lines.
    #[arg(long, global = true, env = "INJECT_TARGETS_FILE")]
    pub targets_file: Option<PathBuf>,
    /// Seconds to wait for a node.
    #[arg(long, global = true, default_value_t = 5)]
    pub timeout: u64,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The seed-style injection.
#[derive(Debug, Args, Clone)]
pub struct InjectArgs {
    /// Nodes: a number, `all`, a list `1,3,5` or a range `2-6`.
    #[arg(long, short = 'n')]
    pub node: Option<NodeSpec>,
    /// The failure mode.
    #[arg(long, short = 'f', value_enum)]
    pub failure: Option<FaultKind>,
    /// Seconds, 1-3600.
    #[arg(long, short = 'd', default_value_t = 30.0, value_parser = parse_duration)]
    pub duration: f64,
    /// Strength; its meaning and range depend on the mode (see README).
    #[arg(long)]
    pub intensity: Option<f64>,
    /// Aim latency_spike or error_burst at one service.
    #[arg(long, value_enum)]
    pub service: Option<Service>,
    /// Measure detection of the mode's documented alert (see `--expect`).
    #[arg(long)]
    pub watch: bool,
    /// Measure detection of this alert instead (repeatable); implies --watch.
    #[arg(long)]
    pub expect: Vec<String>,
    /// Prometheus, for --watch.
    #[arg(long, env = "INJECT_PROMETHEUS", default_value = "http://127.0.0.1:9090")]
    pub prometheus: String,
    /// Alertmanager, for --watch.
    #[arg(long, env = "INJECT_ALERTMANAGER", default_value = "http://127.0.0.1:9093")]
    pub alertmanager: String,
    /// Seconds to wait for an alert to fire, and to resolve after the fault ends.
    #[arg(long, default_value_t = 30.0, value_parser = parse_duration)]
    pub watch_timeout: f64,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// A table of the fleet: up/down, active faults, CPU, memory, 5xx ratio.
    Status {
        /// Nodes to show.
        #[arg(long, short = 'n', default_value = "all")]
        node: NodeSpec,
    },
    /// End faults early.
    Clear {
        /// Nodes to clear.
        #[arg(long, short = 'n')]
        node: NodeSpec,
        /// Only this fault id (on a single node).
        #[arg(long)]
        id: Option<u64>,
    },
    /// Run a game day from a TOML file: a timeline of injections across nodes.
    Scenario {
        /// The scenario file.
        file: PathBuf,
        /// Print the plan and stop.
        #[arg(long)]
        dry_run: bool,
        /// Time each step's documented alert (Prometheus and Alertmanager URLs as for
        /// injections: --prometheus, --alertmanager, --watch-timeout before the subcommand).
        #[arg(long)]
        watch: bool,
    },
    /// A seeded chaos schedule; the printed seed replays it.
    Random(RandomArgs),
}

/// Options of `inject random`.
#[derive(Debug, Args, Clone)]
pub struct RandomArgs {
    /// Seed (default: random, printed so the run can be replayed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How long the schedule runs, seconds.
    #[arg(long, default_value_t = 300.0, value_parser = parse_duration)]
    pub length: f64,
    /// Faults active at once, at most.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub concurrent: u32,
    /// Shortest fault, seconds.
    #[arg(long, default_value_t = 15.0, value_parser = parse_duration)]
    pub min_hold: f64,
    /// Longest fault, seconds.
    #[arg(long, default_value_t = 60.0, value_parser = parse_duration)]
    pub max_hold: f64,
    /// Modes to draw from (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub modes: Vec<FaultKind>,
    /// Nodes to draw from.
    #[arg(long, short = 'n', default_value = "all")]
    pub node: NodeSpec,
    /// Print the schedule and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Time each fault's documented alert.
    #[arg(long)]
    pub watch: bool,
}

fn parse_duration(s: &str) -> Result<f64, String> {
    let d: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if d.is_finite() && (1.0..=3600.0).contains(&d) {
        Ok(d)
    } else {
        Err(format!("must be 1-3600 seconds, got {s}"))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("inject").chain(args.iter().copied()))
    }

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_seed_form_parses_with_a_30_second_default() {
        let cli = parse(&["--node", "3", "--failure", "cpu_spike"]).expect("seed form");
        assert_eq!(cli.inject.node.map(|n| n.0), Some(vec![3]));
        assert_eq!((cli.inject.failure, cli.inject.duration), (Some(FaultKind::CpuSpike), 30.0));
        let cli =
            parse(&["-n", "2-4", "-f", "error_burst", "-d", "45", "--service", "payments"]).expect("short");
        assert_eq!(cli.inject.service, Some(Service::Payments));
    }

    #[test]
    fn usage_errors_list_the_valid_values_and_exit_2() {
        let err = parse(&["--node", "3", "--failure", "cpu_spikes"]).expect_err("unknown mode");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("cpu_spike") && err.to_string().contains("flaky_network"), "{err}");
        for bad in [
            &["--node", "0", "--failure", "cpu_spike"][..],
            &["--node", "3", "--failure", "cpu_spike", "--duration", "0"],
            &["--node", "3", "--failure", "cpu_spike", "--duration", "1e9"],
            &["status", "--node", "x"],
        ] {
            assert_eq!(parse(bad).expect_err("bad").exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn subcommands_parse() {
        assert!(matches!(
            parse(&["status", "--json"]).expect("status").command,
            Some(Command::Status { .. })
        ));
        assert!(matches!(
            parse(&["clear", "-n", "all"]).expect("clear").command,
            Some(Command::Clear { id: None, .. })
        ));
        assert!(matches!(
            parse(&["scenario", "x.toml", "--dry-run"]).expect("s").command,
            Some(Command::Scenario { dry_run: true, .. })
        ));
        let Some(Command::Random(r)) =
            parse(&["random", "--seed", "7", "--modes", "cpu_spike,node_crash"]).expect("r").command
        else {
            panic!("random");
        };
        assert_eq!((r.seed, r.modes.len()), (Some(7), 2));
        assert!(
            parse(&["status", "--failure", "cpu_spike"]).is_err(),
            "injection flags do not mix with subcommands"
        );
    }
}
