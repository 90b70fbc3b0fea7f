//! How a command ends, in one place: the process's exit code ([`Exit`]), the outcome of a
//! command that ran ([`Outcome`]), the errors a command can end with ([`CommandError`], the
//! libraries' own typed errors among them), and which code each one is. `crate::run` says an
//! error (`inject: ` and its [`CommandError::line`]) and returns its code.
//!
//! 0: everything succeeded. 1: the command ran, but a node, an expected alert, a source or
//! the file system failed it, or it was interrupted. 2: a usage error, refused before
//! anything was sent.

use edge_sim::FaultError;
use stack_client::ApiError;

use crate::drill::{self, DrillError, state::StateError};
use crate::scenario::{self, ScenarioError};

/// The exit code of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything succeeded.
    Ok = 0,
    /// Some node or expectation failed, a source did not answer, or the run was interrupted.
    Failed = 1,
    /// A usage error: refused before anything was sent.
    Usage = 2,
}

impl Exit {
    /// The process exit code.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

/// How a command that ran to its end went (one that could not is a [`CommandError`]).
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything it did succeeded.
    Done,
    /// Some part failed along the way (a node, an expected alert, a source, an interruption);
    /// each was said on stderr as it happened.
    Incomplete,
}

impl Outcome {
    /// `Done` if every part succeeded (a fan-out's or a watch's verdict), else `Incomplete`.
    pub fn every(succeeded: bool) -> Self {
        if succeeded { Outcome::Done } else { Outcome::Incomplete }
    }

    /// `Done` if both are.
    pub fn and(self, other: Outcome) -> Self {
        Outcome::every(self == Outcome::Done && other == Outcome::Done)
    }
}

impl From<drill::Outcome> for Outcome {
    fn from(outcome: drill::Outcome) -> Self {
        Outcome::every(outcome == drill::Outcome::Complete)
    }
}

impl From<&scenario::Ran> for Outcome {
    fn from(ran: &scenario::Ran) -> Self {
        Outcome::every(ran.complete())
    }
}

impl From<Outcome> for Exit {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Done => Exit::Ok,
            Outcome::Incomplete => Exit::Failed,
        }
    }
}

/// A command refused before anything was sent (bad input, nothing to act on): one line,
/// exit [`Exit::Usage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

impl From<String> for Refusal {
    fn from(why: String) -> Self {
        Refusal(why)
    }
}

impl From<&str> for Refusal {
    fn from(why: &str) -> Self {
        Refusal(why.to_owned())
    }
}

/// Why a command did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad input or nothing to act on (flags, targets, the fleet a selection needs).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A fault the nodes would refuse (duration, intensity, service), caught before sending.
    #[error(transparent)]
    Fault(#[from] FaultError),
    /// No HTTP client.
    #[error("cannot build the HTTP client")]
    Client(#[source] ApiError),
    /// A drill command refused or failed.
    #[error(transparent)]
    Drill(#[from] DrillError),
    /// A scenario file refused.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

impl From<String> for CommandError {
    fn from(why: String) -> Self {
        CommandError::Refused(why.into())
    }
}

impl From<&str> for CommandError {
    fn from(why: &str) -> Self {
        CommandError::Refused(why.into())
    }
}

impl CommandError {
    /// Its exit code: a usage error if it was refused before anything was sent or written,
    /// else a failure. Every variant is named, so a new one must be placed.
    pub fn exit(&self) -> Exit {
        match self {
            CommandError::Refused(_) | CommandError::Fault(_) | CommandError::Scenario(_) => Exit::Usage,
            CommandError::Client(_) => Exit::Failed,
            CommandError::Drill(e) => match e {
                DrillError::State(StateError::Write { .. })
                | DrillError::NotStarted { .. }
                | DrillError::WriteReport { .. }
                | DrillError::Sources(_) => Exit::Failed,
                DrillError::State(
                    StateError::Read { .. }
                    | StateError::Corrupt { .. }
                    | StateError::Version { .. }
                    | StateError::Missing { .. },
                )
                | DrillError::Catalog(_)
                | DrillError::AlreadyRunning { .. }
                | DrillError::EmptyPool
                | DrillError::Over
                | DrillError::NoMoreHints(_)
                | DrillError::NotInPool { .. } => Exit::Usage,
            },
        }
    }

    /// One line: what went wrong, then each cause.
    pub fn line(&self) -> String {
        stack_client::error_chain(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_and_errors_map_to_their_codes() {
        assert_eq!(Exit::from(Outcome::Done), Exit::Ok);
        assert_eq!(Exit::from(Outcome::Done.and(Outcome::Incomplete)), Exit::Failed);
        assert_eq!(Outcome::from(drill::Outcome::Gaps(vec!["alert sink: down".into()])), Outcome::Incomplete);
        assert_eq!(CommandError::from("give --node").exit(), Exit::Usage);
        assert_eq!(CommandError::from(DrillError::Over).exit(), Exit::Usage);
        let io = || std::io::Error::other("disk full");
        let write = StateError::Write { path: "drill.json".into(), source: io() };
        assert_eq!(CommandError::from(DrillError::from(write)).exit(), Exit::Failed);
        let started = DrillError::NotStarted {
            cause: drill::StartFailure::Interrupted,
            undone: drill::Undone { ended: 0, failed: vec![] },
        };
        assert_eq!(CommandError::from(started).exit(), Exit::Failed);
    }

    #[test]
    fn every_error_is_one_line_with_its_cause() {
        let io = std::io::Error::other("disk full");
        let failed = CommandError::from(DrillError::WriteReport { path: "r.md".into(), source: io });
        assert_eq!((failed.exit(), failed.line().as_str()), (Exit::Failed, "cannot write r.md: disk full"));
        let refused = CommandError::from(DrillError::Over);
        assert_eq!(refused.exit(), Exit::Usage);
        assert!(refused.line().starts_with("the drill is over"), "{}", refused.line());
    }
}
