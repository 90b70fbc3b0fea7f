//! How a drill command ends when it does not simply succeed: [`DrillError`] when it refused
//! or failed (one line naming what went wrong, the cause as its source), [`Outcome`] when it
//! did its work but with gaps it has already said on `err`. The state file's and the
//! catalogue's own errors live in their modules (`state::StateError`,
//! `catalog::CatalogError`), which this one wraps. The CLI turns errors and outcomes into
//! exit codes in one place (`crate::exit`); the drill library knows nothing of those.

use std::fmt;
use std::path::PathBuf;

use stack_client::{ApiError, NodeError};

use super::catalog::{CatalogError, Level};
use super::state::StateError;

/// Why a drill command refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// The state file is missing, unreadable, foreign, or could not be written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The catalogue could not be read, or has no drill to draw.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// `drill start` while another drill runs.
    #[error(
        "a drill is already running (level {}, seed {seed}, started {} UTC); end it with `inject drill stop`",
        level.as_str(),
        super::utc::clock(*started_at)
    )]
    AlreadyRunning {
        /// Its level.
        level: Level,
        /// Its seed.
        seed: u64,
        /// Unix time it started.
        started_at: f64,
    },
    /// `drill start` with no node to break.
    #[error("--node selects no node")]
    EmptyPool,
    /// A fault could not be injected, the start was interrupted, or its state not saved:
    /// what was started has been ended again (as far as the nodes answered).
    #[error("drill not started, {undone}")]
    NotStarted {
        /// Why it stopped.
        #[source]
        cause: StartFailure,
        /// What ending the started faults achieved.
        undone: Undone,
    },
    /// A hint or an answer after `drill stop`.
    #[error("the drill is over; start another with `inject drill start`")]
    Over,
    /// Every hint has been taken.
    #[error("no more hints: all {0} taken")]
    NoMoreHints(usize),
    /// An answer naming a node the drill could not have broken.
    #[error("node {node} is not in this drill's fleet (nodes {})", crate::targets::compact(pool))]
    NotInPool {
        /// The node named.
        node: u32,
        /// The drill's nodes.
        pool: Vec<u32>,
    },
    /// The report could not be written.
    #[error("cannot write {}", path.display())]
    WriteReport {
        /// Where it was to go.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No client for Prometheus and the alert sink (the evidence of a report).
    #[error("cannot read the evidence")]
    Sources(#[source] ApiError),
}

/// Why a `drill start` stopped before the drill was saved.
#[derive(Debug, thiserror::Error)]
pub enum StartFailure {
    /// A node did not take its fault.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// ctrl-c.
    #[error("interrupted (ctrl-c)")]
    Interrupted,
    /// The state file could not be written.
    #[error(transparent)]
    State(#[from] StateError),
}

/// What ending a failed start's faults achieved.
#[derive(Debug)]
pub struct Undone {
    /// Faults ended, or already over.
    pub ended: usize,
    /// The nodes that could not be reached to end theirs.
    pub failed: Vec<NodeError>,
}

impl fmt::Display for Undone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.failed.is_empty() {
            return write!(f, "nothing was left running ({} fault(s) ended)", self.ended);
        }
        let failed: Vec<String> = self.failed.iter().map(ToString::to_string).collect();
        write!(
            f,
            "{} fault(s) may still run until their end (could not end them: {})",
            failed.len(),
            failed.join("; ")
        )
    }
}

/// How a drill command that did its work went.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything done, from every source.
    Complete,
    /// Done, with gaps: sources that did not answer, faults that could not be ended. Each has
    /// been said on `err`.
    Gaps(Vec<String>),
}

impl Outcome {
    /// `Complete` if there is no gap.
    pub fn with_gaps(gaps: Vec<String>) -> Self {
        if gaps.is_empty() { Outcome::Complete } else { Outcome::Gaps(gaps) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(e: &DrillError) -> String {
        stack_client::error_chain(e)
    }

    #[test]
    fn a_start_that_failed_says_what_was_undone_then_why() {
        let refused = NodeError::Refused { node: 5, status: 503, message: "down".into() };
        let e = DrillError::NotStarted { cause: refused.into(), undone: Undone { ended: 1, failed: vec![] } };
        assert_eq!(
            line(&e),
            "drill not started, nothing was left running (1 fault(s) ended): node 5: 503: down"
        );
        let stuck = NodeError::Refused { node: 3, status: 500, message: "busy".into() };
        let e = DrillError::NotStarted {
            cause: StartFailure::Interrupted,
            undone: Undone { ended: 0, failed: vec![stuck] },
        };
        assert_eq!(
            line(&e),
            "drill not started, 1 fault(s) may still run until their end (could not end them: node 3: 500: busy): \
             interrupted (ctrl-c)"
        );
    }

    #[test]
    fn wrapped_errors_keep_their_cause_on_the_same_line() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let e = DrillError::from(StateError::Write { path: "/x/drill.json".into(), source: io });
        assert_eq!(line(&e), "cannot write /x/drill.json: permission denied");
        assert!(std::error::Error::source(&e).is_some(), "the cause is kept, not only printed");
    }
}
