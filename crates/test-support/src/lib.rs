//! Helpers shared by the workspace's tests: ports ([`ports`]), child processes
//! ([`child`]), log capture ([`logs`]) and, with the `fleet` feature, in-process edge-node
//! fleets (`fleet`).
//!
//! For tests only. Take it as a `[dev-dependencies]` entry and never as a normal
//! dependency: its helpers panic instead of returning errors, and it is not published.
//! Without features it depends on no crate of the workspace, so every crate's tests can
//! use it; the `fleet` feature depends on edge-node, so edge-node's own tests leave it off.
//!
//! No helper here hands out or reaches the real fleet's and stack's ports (8001-8012,
//! 9090, 9093, 9095): a test must never touch a fleet someone is running.

pub mod child;
#[cfg(feature = "fleet")]
pub mod fleet;
pub mod logs;
pub mod ports;
