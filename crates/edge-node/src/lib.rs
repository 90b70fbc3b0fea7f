//! The edge-node service: a simulated edge node over HTTP.
//!
//! The model ([`edge_sim`]) decides what the node is doing; this crate turns that into
//! real HTTP behaviour (latency, status codes), measures it (RED metrics, USE gauges,
//! JSON logs), lets operators inject faults, and runs one node or a whole fleet in one
//! process. Besides its own `edge_*` metrics it serves the shapes production rules read
//! ([`shapes`]: node_exporter's host metrics on `/host/metrics`, OpenTelemetry's and
//! client_golang's HTTP metrics on `/metrics`), and it follows the model's host and process:
//! a full disk fails writes, an OOM kill is a gap, then a fresh process with fresh metrics
//! ([`app_metrics`]). It holds no simulation logic of its own.

// The binary's parts and what the integration tests and benches reach for are public;
// everything else is internal to the crate.
pub mod app_metrics;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod red;
pub mod routes;
pub mod server;
pub mod shapes;
pub mod targets;
pub mod traces;
pub mod traffic;
pub mod virtual_fleet;

mod control;
mod error;
mod gate;
mod guard;
mod orders;
mod shop;
mod state;

pub use config::NodeConfig;
pub use server::{RunError, ShutdownTimes, app, run, run_with};
pub use state::NodeState;
