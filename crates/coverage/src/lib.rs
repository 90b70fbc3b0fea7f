//! The `coverage` command: which alert rules catch which faults of the fleet, how fast, and
//! which fire when nothing is wrong, in virtual time (issue 24).
//!
//! One run: load the rules ([`rule_coverage::load`]), [`plan`] a rest period and every failure
//! mode on its own node, generate what Prometheus would have scraped with the virtual fleet
//! ([`edge_node::virtual_fleet`]) through a [`filter`] that keeps the families the rules read,
//! evaluate with the real Prometheus ([`rule_coverage::evaluate`]), [`judge`] the episodes,
//! and print the [`report`] as JSON or its text tables. [`cli`] is the command line and
//! [`run`] the whole of it; `main` only parses and maps errors to exit codes.
//!
//! It must not depend on axum or the service's runtime parts, only on edge-node's library
//! (the virtual fleet), edge-sim (the catalog) and rule-coverage (the engine).

pub mod cli;
pub mod filter;
pub mod judge;
pub mod plan;
pub mod report;
pub mod run;

pub use run::{RunError, run};
