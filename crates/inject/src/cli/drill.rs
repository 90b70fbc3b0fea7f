//! `inject drill ...`'s command line. The drill library (`crate::drill`) knows nothing of it:
//! `crate::cmd::drill` turns these into its calls.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};
use edge_sim::{FaultKind, Service};

use crate::drill::catalog::Level;
use crate::numbers;
use crate::targets::NodeSpec;

/// `inject drill ...`.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
    /// The drill's state file [default: $XDG_STATE_HOME/edge-fleet/drill.json or
    /// ~/.local/state/edge-fleet/drill.json].
    #[arg(long, global = true, env = "INJECT_DRILL_STATE", value_name = "FILE")]
    pub state: Option<PathBuf>,
}

/// The drill's commands.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Start a blind drill: something will break, and you are on call.
    Start(StartArgs),
    /// How the drill is going: time, hints, answers, steady state, score so far.
    Status,
    /// The next hint (each costs points).
    Hint,
    /// Record a diagnosis: the node and the failure (and the service, if one).
    Answer {
        /// The node you believe is at fault.
        #[arg(long, short = 'n')]
        node: u32,
        /// The failure mode you believe it suffers.
        #[arg(long, short = 'f', value_enum)]
        failure: FaultKind,
        /// The service, if the failure is aimed at one.
        #[arg(long, value_enum)]
        service: Option<Service>,
    },
    /// For the instructor: what the drill really is, and where it stands.
    Reveal,
    /// End the drill: end its faults (the fleet is left healthy) and print the score.
    Stop,
    /// Write the incident report (Markdown, a blameless post-mortem).
    Report {
        /// Write it here instead of to stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Options of `inject drill start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The level: easy (one obvious fault), medium (an indirect first alert), hard (two
    /// faults, or one and a red herring).
    #[arg(long, default_value = "easy", value_parser = level())]
    pub level: Level,
    /// Seed (default: random, printed so an instructor can replay the drill).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The nodes a drill may break.
    #[arg(long, short = 'n', default_value = "all")]
    pub node: NodeSpec,
    /// For instructors: this drill (a file name in the catalogue, without .toml) instead of
    /// one drawn at the level.
    #[arg(long, value_name = "NAME")]
    pub drill: Option<String>,
    /// The drill catalogue [default: ./drills, else the repository's].
    #[arg(long, env = "INJECT_DRILLS", value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// For instructors and tests: seconds before the first fault, instead of the drawn delay.
    #[arg(long, value_name = "SECONDS", value_parser = numbers::seconds(0.0, 300.0))]
    pub delay: Option<f64>,
    /// The alert sink, for the report [default: http://127.0.0.1:9095, or Compose's ALERT_SINK_PORT].
    #[arg(long, env = "INJECT_SINK")]
    pub sink: Option<String>,
}

/// `--level`: the catalogue's levels, listed in `--help`.
fn level() -> impl TypedValueParser<Value = Level> {
    PossibleValuesParser::new(Level::ALL.map(Level::as_str))
        .map(|name| Level::ALL.into_iter().find(|l| l.as_str() == name).unwrap_or_default())
}
