//! Game days: a timeline of injections across nodes, from a TOML file or a seeded random
//! schedule. Everything a run started is ended again if it is interrupted.
//!
//! Modules: `timeline` (what a scenario is, and its plan), `parse` (reading and checking a
//! scenario file), [`error`] (why one is refused), `random` (the seeded schedule of `inject
//! random`), `run` (playing the timeline against the nodes). This one only re-exports them:
//! none of them imports it. The command line is not known here: `crate::cmd::scenario` turns
//! it into calls.

pub mod error;
mod parse;
mod random;
mod run;
mod timeline;

pub use error::{ParseError, ScenarioError, StepError};
pub use random::RandomPlan;
pub use run::{Ran, run};
pub use timeline::{MAX_LENGTH_S, Scenario, Step};
