//! Why a scenario is refused: one line naming the file and, for a step, its number and time,
//! the cause as its source. Every one is caught before anything is sent.

use std::path::PathBuf;

use edge_sim::FaultError;

use super::timeline::MAX_LENGTH_S;
use crate::targets::BadNodeSpec;

/// A scenario file that could not be read or is not a valid scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        #[source]
        source: ParseError,
    },
}

/// What is wrong in a scenario's text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// Not TOML, or not a scenario's fields and values: the parser's message, its snippet
    /// folded onto one line (it names the valid values, e.g. every failure mode).
    #[error("{0}")]
    Syntax(String),
    /// No step.
    #[error("a scenario needs at least one [[step]]")]
    NoSteps,
    /// A step the nodes would refuse.
    #[error("step {number} (at {at} s)")]
    Step {
        /// Its number in the file (1 = the first).
        number: usize,
        /// Its `at`.
        at: f64,
        /// What is wrong with it.
        #[source]
        problem: StepError,
    },
}

/// What is wrong with one step.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// `at` is negative, not a number, or past a working day.
    #[error("`at` must be 0-{max} seconds", max = MAX_LENGTH_S)]
    At,
    /// `node` is not a node spec.
    #[error(transparent)]
    Nodes(#[from] BadNodeSpec),
    /// The fault itself (duration, intensity, service) is out of the catalog's bounds.
    #[error(transparent)]
    Fault(#[from] FaultError),
}
