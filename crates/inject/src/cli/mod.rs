//! The command line. The seed's form `inject --node 3 --failure cpu_spike` injects; the
//! subcommands read status, clear faults and run game days.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use edge_sim::{FaultKind, Service};

use crate::numbers;
use crate::targets::NodeSpec;

pub mod drill;

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
  inject --node 1,5,7-300 --failure cpu_spike         # a list of any size
  inject --node all --failure error_burst --service payments   # every node running
  inject --region eu-west --failure node_crash --duration 120  # a region loses power
  inject --region us-east --failure error_burst --rollout 60   # a bad push, node by node
  inject status --region ap-south
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
    /// Node N listens on base-port + N (0-64535, so node 1000 still has a port).
    #[arg(long, global = true, env = "INJECT_BASE_PORT", default_value_t = 8000,
          value_parser = numbers::integer(0u16, 65535 - MAX_NODE_PORT_OFFSET))]
    pub base_port: u16,
    /// Per-node URL overrides, `N=URL` separated by commas (or a file of them, one per line,
    /// with --targets-file), for Compose on another host or a Kubernetes port-forward.
    #[arg(long, global = true, env = "INJECT_TARGETS")]
    pub targets: Option<String>,
    /// A file of `N=URL` lines.
    #[arg(long, global = true, env = "INJECT_TARGETS_FILE")]
    pub targets_file: Option<PathBuf>,
    /// Seconds to wait for a node, 0.1-300.
    #[arg(long, global = true, default_value_t = 5.0, value_name = "SECONDS",
          value_parser = numbers::seconds(0.1, 300.0))]
    pub timeout: f64,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The seed-style injection.
#[derive(Debug, Args, Clone)]
pub struct InjectArgs {
    /// Nodes: a number, `all` (the running fleet), a list `1,3,5`, a range `2-6`, or both
    /// `1,5,7-300`.
    #[arg(long, short = 'n')]
    pub node: Option<NodeSpec>,
    /// Every node of this region of the running fleet (with --node: those of its nodes in
    /// the region). With node_crash: the region loses power or network at once.
    #[arg(long, short = 'r', value_parser = region())]
    pub region: Option<String>,
    /// Roll the fault across the chosen nodes one by one over this many seconds (node
    /// order; a bad config push), instead of all at once. 0-3600.
    #[arg(long, value_name = "SECONDS", value_parser = numbers::seconds(0.0, 3600.0))]
    pub rollout: Option<f64>,
    /// The failure mode.
    #[arg(long, short = 'f', value_enum)]
    pub failure: Option<FaultKind>,
    /// Seconds each node's fault lasts, 1-3600.
    #[arg(long, short = 'd', default_value_t = 30.0, value_name = "SECONDS",
          value_parser = numbers::seconds(1.0, 3600.0))]
    pub duration: f64,
    /// Strength; its meaning and range depend on the mode (see README).
    #[arg(long, value_parser = intensity())]
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
    /// Prometheus, for --watch and to learn a fleet of separate processes (Compose)
    /// [default: http://127.0.0.1:9090, or Compose's PROMETHEUS_PORT].
    #[arg(long, global = true, env = "INJECT_PROMETHEUS")]
    pub prometheus: Option<String>,
    /// Alertmanager, for --watch [default: http://127.0.0.1:9093, or ALERTMANAGER_PORT].
    #[arg(long, env = "INJECT_ALERTMANAGER")]
    pub alertmanager: Option<String>,
    /// Seconds to wait for an alert to fire, and to resolve after the fault ends; also how
    /// long Prometheus and Alertmanager may fail to answer before --watch gives up. 1-3600.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS", value_parser = numbers::seconds(1.0, 3600.0))]
    pub watch_timeout: f64,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The fleet: up/down, active faults, CPU, memory, 5xx ratio; one row per node for up
    /// to 24 nodes, else a summary by region with the worst nodes.
    Status {
        /// Nodes to show.
        #[arg(long, short = 'n', default_value = "all")]
        node: NodeSpec,
        /// Only this region's nodes.
        #[arg(long, short = 'r', value_parser = region())]
        region: Option<String>,
        /// One row per node however many there are.
        #[arg(long)]
        full: bool,
    },
    /// End faults early.
    Clear {
        /// Nodes to clear.
        #[arg(long, short = 'n', required_unless_present = "region")]
        node: Option<NodeSpec>,
        /// Every node of this region.
        #[arg(long, short = 'r', value_parser = region())]
        region: Option<String>,
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
        /// Write an incident report (Markdown) of the run to FILE (see README).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// A seeded chaos schedule; the printed seed replays it.
    Random(RandomArgs),
    /// Blind on-call drills: a sealed fault you did not choose, hints, answers, a score
    /// and an incident report (see README, "Practise on-call").
    Drill(drill::DrillArgs),
}

/// Options of `inject random`.
#[derive(Debug, Args, Clone)]
pub struct RandomArgs {
    /// Seed (default: random, printed so the run can be replayed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How long the schedule runs, seconds (1-3600).
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS", value_parser = numbers::seconds(1.0, 3600.0))]
    pub length: f64,
    /// Faults active at once, at most (1-50).
    #[arg(long, default_value_t = 2, value_parser = numbers::integer(1u32, 50))]
    pub concurrent: u32,
    /// Shortest fault, seconds (1-3600).
    #[arg(long, default_value_t = 15.0, value_name = "SECONDS", value_parser = numbers::seconds(1.0, 3600.0))]
    pub min_hold: f64,
    /// Longest fault, seconds (1-3600).
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = numbers::seconds(1.0, 3600.0))]
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
    /// Write an incident report (Markdown) of the run to FILE (see README).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

impl RandomArgs {
    /// What the schedule draws from.
    pub fn plan(&self) -> crate::scenario::RandomPlan {
        crate::scenario::RandomPlan {
            length: self.length,
            concurrent: self.concurrent,
            min_hold: self.min_hold,
            max_hold: self.max_hold,
            modes: self.modes.clone(),
        }
    }
}

/// `--region`'s values: the fleet's regions (one source, `edge_sim::fleet`).
fn region() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(edge_sim::fleet::REGIONS)
}

/// The largest node number as a port offset.
const MAX_NODE_PORT_OFFSET: u16 = 1000;
const _: () = assert!(MAX_NODE_PORT_OFFSET as u32 == crate::targets::MAX_NODE);

/// `--intensity`: within the widest range any mode accepts; the mode's own range is
/// checked once `--failure` is known.
fn intensity() -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    let (min, max) = numbers::intensity_bounds();
    numbers::float(min, max, " (each mode has its own range; see README)")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use proptest::prelude::*;

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
        assert_eq!(cli.inject.node, Some(NodeSpec::List(vec![3])));
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

    #[test]
    fn every_modes_own_intensity_range_is_accepted_with_that_mode() {
        for kind in edge_sim::FaultKind::ALL {
            let Some(i) = kind.intensity() else { continue };
            for x in [i.min, i.max, i.default.0, i.default.1] {
                let (mode, value) = (kind.to_string(), x.to_string());
                let cli = parse(&["-n", "3", "-f", &mode, "--intensity", &value])
                    .unwrap_or_else(|e| panic!("{mode} --intensity {value}: {e}"));
                assert_eq!(cli.inject.intensity, Some(x), "{mode}");
            }
        }
    }

    /// A numeric flag: the arguments before it, its name, the range its errors state, and
    /// how to read its value back.
    type NumericFlag = (&'static [&'static str], &'static str, &'static str, fn(&Cli) -> f64);

    fn random(cli: &Cli) -> &RandomArgs {
        match &cli.command {
            Some(Command::Random(r)) => r,
            _ => panic!("random"),
        }
    }

    #[test]
    fn regions_come_from_the_fleet_and_rollouts_are_bounded() {
        let cli = parse(&["--region", "eu-west", "-f", "node_crash", "--rollout", "30"]).expect("region");
        assert_eq!((cli.inject.region.as_deref(), cli.inject.rollout), (Some("eu-west"), Some(30.0)));
        let err = parse(&["--region", "mars", "-f", "node_crash"]).expect_err("no such region");
        assert!(err.to_string().contains("eu-west, us-east, ap-south"), "{err}");
        assert!(parse(&["clear"]).is_err(), "clear needs --node or --region");
        assert!(parse(&["clear", "--region", "us-east"]).is_ok());
        assert!(matches!(
            parse(&["status", "--region", "ap-south", "--full"]).expect("status").command,
            Some(Command::Status { full: true, .. })
        ));
    }

    const NUMERIC: [NumericFlag; 10] = [
        (&["-n", "3", "-f", "cpu_spike"], "--rollout", "0-3600 seconds", |c| {
            c.inject.rollout.unwrap_or(-1.0)
        }),
        (&["-n", "3", "-f", "cpu_spike"], "--duration", "1-3600 seconds", |c| c.inject.duration),
        (&["-n", "3", "-f", "latency_spike"], "--intensity", "0.0005-100", |c| {
            c.inject.intensity.unwrap_or(-1.0)
        }),
        (&["-n", "3", "-f", "cpu_spike"], "--watch-timeout", "1-3600 seconds", |c| c.inject.watch_timeout),
        (&["status"], "--timeout", "0.1-300 seconds", |c| c.global.timeout),
        (&["status"], "--base-port", "0-64535", |c| f64::from(c.global.base_port)),
        (&["random"], "--length", "1-3600 seconds", |c| random(c).length),
        (&["random"], "--min-hold", "1-3600 seconds", |c| random(c).min_hold),
        (&["random"], "--max-hold", "1-3600 seconds", |c| random(c).max_hold),
        (&["random"], "--concurrent", "1-50", |c| f64::from(random(c).concurrent)),
    ];

    fn number_like() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<f64>().prop_map(|x| x.to_string()),
            (-1e5f64..1e5).prop_map(|x| x.to_string()),
            any::<i64>().prop_map(|x| x.to_string()),
            prop::sample::select(vec![
                "NaN", "nan", "inf", "-inf", "+Inf", "infinity", "1e400", "-0", "0x10", " 5"
            ])
            .prop_map(str::to_owned),
            "[0-9eE.+-]{1,8}",
            "\\PC{1,6}",
        ]
    }

    proptest! {
        #[test]
        fn numeric_flags_take_only_finite_values_in_range(value in number_like(), which in 0..NUMERIC.len()) {
            let (before, flag, range, read) = NUMERIC[which];
            let arg = format!("{flag}={value}");
            match parse(&[before, &[arg.as_str()]].concat()) {
                Ok(cli) => {
                    let (lo, hi) = range.split(' ').next().and_then(|r| r.split_once('-')).expect("range");
                    let (lo, hi): (f64, f64) = (lo.parse().expect("lo"), hi.parse().expect("hi"));
                    let got = read(&cli);
                    prop_assert!(got.is_finite() && lo <= got && got <= hi, "{arg} gave {got}");
                }
                Err(err) => {
                    prop_assert_eq!(err.exit_code(), 2);
                    let text = err.to_string();
                    let first = text.lines().next().unwrap_or_default();
                    prop_assert!(first.contains(flag) && first.contains(range), "{arg}: {text}");
                }
            }
        }
    }
}
