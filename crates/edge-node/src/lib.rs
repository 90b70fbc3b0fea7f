//! The edge-node service: a simulated edge node over HTTP.
//!
//! The model ([`edge_sim`]) decides what the node is doing; this crate turns that into
//! real HTTP behaviour (latency, status codes), measures it (RED metrics, USE gauges,
//! JSON logs), lets operators inject faults, and runs one node or a whole fleet in one
//! process. It holds no simulation logic of its own.

pub mod cli;
pub mod config;
pub mod control;
pub mod error;
pub mod gate;
pub mod guard;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod red;
pub mod server;
pub mod shop;
pub mod state;
pub mod targets;
pub mod traces;
pub mod traffic;

pub use config::NodeConfig;
pub use server::{RunError, ShutdownTimes, app, run, run_with};
pub use state::NodeState;
