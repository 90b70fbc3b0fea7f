//! The pure simulation model of one edge node.
//!
//! This crate decides *what a node is doing*: its resource signals (CPU, memory), the
//! host under it as node_exporter would report it ([`host`]), the
//! catalog of failure modes and their lifecycle, and, for every request the service
//! serves, how long each step takes and whether it fails. It has no HTTP, no sockets,
//! no clock and no global RNG: time comes in as a [`Duration`](std::time::Duration)
//! since the node started and randomness as a `&mut impl Rng`, so tests step time and
//! assert exact outcomes. It also holds the wire types of the `/inject` API ([`api`]) as
//! plain serde data and the default fleet's size and regions ([`fleet`]), so the node and
//! the CLI share one definition.
//!
//! It must never depend on tokio, axum or prometheus-client: the service crate turns
//! these decisions into real HTTP behaviour and measures it.

pub mod api;
pub mod catalog;
pub mod fault;
pub mod fleet;
pub mod host;
pub mod node;
pub mod request;
pub mod resources;
pub mod rng;

pub use catalog::{FaultKind, Intensity, Service};
pub use fault::{Changed, EndReason, Ended, Fault, FaultError, FaultSet, FaultSpec};
pub use host::{CpuMode, Host, HostSnapshot, Process};
pub use node::{NodeParams, NodeSim};
pub use request::{StepFailure, StepPlan};
pub use resources::Signals;
