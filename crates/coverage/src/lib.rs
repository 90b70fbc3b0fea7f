//! The `coverage` command: which alert rules catch which faults of the fleet, how fast, and
//! which fire when nothing is wrong, in virtual time or against a running stack (issue 24).
//!
//! One run: load the rules ([`rule_coverage::load`]), [`plan`] a rest period and every failure
//! mode on its own node (or a scenario file's steps), generate what Prometheus would have
//! scraped with the virtual fleet ([`edge_node::virtual_fleet`]) through a [`filter`] that
//! keeps what the rules read, evaluate with the real Prometheus ([`rule_coverage::evaluate`]),
//! [`judge`] the episodes, and write the [`report`] in each form asked for ([`output`]: text,
//! JSON, Markdown, JUnit, HTML). [`live`] runs the same plan against a running stack and reads
//! the episodes back from its Prometheus. [`cli`] is the command line, [`run`] a virtual run
//! and [`ci`] the `--fail-on` decision; `main` only parses, checks the outputs, runs, writes
//! and maps to exit codes.
//!
//! It must not depend on axum or the service's runtime parts, only on edge-node's library
//! (the virtual fleet), edge-sim (the catalog), rule-coverage (the engine), stack-client
//! (live mode's calls) and inject's library (its scenario files).

pub mod ci;
pub mod cli;
pub mod filter;
pub mod judge;
pub mod live;
pub mod output;
pub mod plan;
pub mod report;
pub mod run;

pub use run::RunError;

/// Runs `cli`: against the running stack with `--live` ([`live::run`]), else in virtual time
/// ([`run::run`]).
pub fn run(cli: &cli::Cli) -> Result<report::model::Report, RunError> {
    if cli.live.enabled { live::run(cli) } else { run::run(cli) }
}
