//! The node's log targets. The format and the non-blocking writer (lines dropped and
//! counted, `edge_log_lines_dropped_total`, rather than a blocked runtime) are the
//! workspace's shared ones, re-exported from `service_kit::logging`.

pub use service_kit::logging::*;

/// Log targets: one line per request, one per fault start and end.
pub mod targets {
    /// Access log: one line per shop request.
    pub const ACCESS: &str = "edge_node::access";
    /// Fault lifecycle: started, ended (expired, cleared, replaced).
    pub const FAULT: &str = "edge_node::fault";
}
