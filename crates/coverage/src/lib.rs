//! The `coverage` command: which alert rules catch which faults of the fleet, how fast, and
//! which fire when nothing is wrong, in virtual time (issue 24).
//!
//! One run: load the rules ([`rule_coverage::load`]), [`plan`] a rest period and every failure
//! mode on its own node, generate what Prometheus would have scraped with the virtual fleet
//! ([`edge_node::virtual_fleet`]) through a [`filter`] that keeps the families the rules read,
//! evaluate with the real Prometheus ([`rule_coverage::evaluate`]), [`judge`] the episodes,
//! and write the [`report`] in each form asked for ([`output`]: text, JSON, Markdown, JUnit,
//! HTML). [`cli`] is the command line, [`run`] the whole of it, and [`ci`] the `--fail-on`
//! decision; `main` only parses, checks the outputs, runs, writes and maps to exit codes.
//!
//! It must not depend on axum or the service's runtime parts, only on edge-node's library
//! (the virtual fleet), edge-sim (the catalog) and rule-coverage (the engine).

pub mod ci;
pub mod cli;
pub mod filter;
pub mod judge;
pub mod live;
pub mod output;
pub mod plan;
pub mod report;
pub mod run;

pub use run::{RunError, run};
