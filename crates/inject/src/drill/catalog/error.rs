//! Why the catalogue could not be read or drawn from ([`CatalogError`]), and what is wrong in
//! one drill file ([`DefinitionError`]): one line each, the cause as its source. It builds on
//! `definition` only, so every other catalogue module can name these errors.

use std::path::PathBuf;

use super::definition::{Level, NodeRule};

/// Why the catalogue could not be read, or a drill not found or drawn from it: one line, the
/// cause as its source.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The folder could not be listed.
    #[error("cannot read the drill catalogue {}", dir.display())]
    ReadDir {
        /// The catalogue folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A drill file could not be read.
    #[error("cannot read {}", path.display())]
    ReadFile {
        /// The drill file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A drill file says something a drill cannot be.
    #[error("{}", path.display())]
    Invalid {
        /// The drill file.
        path: PathBuf,
        /// What is wrong in it.
        #[source]
        source: DefinitionError,
    },
    /// The folder holds no drill.
    #[error("no drills (*.toml) in {}", dir.display())]
    Empty {
        /// The catalogue folder.
        dir: PathBuf,
    },
    /// No drill has that name.
    #[error("no drill `{name}`; drills: {}", known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The catalogue's drills.
        known: Vec<String>,
    },
    /// No drill of that level.
    #[error("no {} drills in the catalogue", level.as_str())]
    NoneAtLevel {
        /// The level asked for.
        level: Level,
    },
    /// The drill's node rules need more nodes (or regions) than the pool has.
    #[error(
        "drill {drill}: no node of the pool fits fault {fault}'s rule {rule:?}; give a larger --node pool"
    )]
    PoolTooSmall {
        /// The drill drawn.
        drill: String,
        /// The fault (1 = the first) that found no node.
        fault: usize,
        /// Its rule.
        rule: NodeRule,
    },
}

/// What is wrong in one drill file (each fault numbered from 1).
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// Not TOML, or not a drill's fields and values: the parser's message, its snippet folded
    /// onto one line.
    #[error("{0}")]
    Syntax(String),
    /// Too few or too many faults.
    #[error("a drill has 1-4 [[fault]]s")]
    FaultCount,
    /// Only red herrings.
    #[error("a drill needs at least one fault with role = \"cause\"")]
    NoCause,
    /// No hint.
    #[error("a drill needs at least one hint")]
    NoHint,
    /// No symptom alert.
    #[error("a drill names the alerts that are its symptoms (symptoms = [...])")]
    NoSymptoms,
    /// A runbook name that cannot be an alert's.
    #[error("runbook `{0}` is not an alert name")]
    Runbook(String),
    /// A start delay range backwards or beyond what a node schedules.
    #[error("start_delay_s is [min, max] with min <= max <= 600")]
    StartDelay,
    /// A duration range backwards or out of bounds.
    #[error("fault {0}: duration_s is [min, max] with 1 <= min <= max <= 3600")]
    Duration(usize),
    /// A fault the nodes would refuse (intensity, service).
    #[error("fault {fault}")]
    Fault {
        /// Which.
        fault: usize,
        /// What the catalog says about it.
        #[source]
        source: edge_sim::FaultError,
    },
    /// The first fault placed relative to itself.
    #[error("fault 1: same_region and other_region are relative to fault 1")]
    RelativeFirst,
    /// A near answer that is the right one.
    #[error("fault {0}: `near` lists its own mode")]
    NearOwnMode(usize),
    /// A fault that would start later than a node schedules.
    #[error("fault {0}: start delay plus offset_s exceeds 600 s")]
    StartsTooLate(usize),
}
