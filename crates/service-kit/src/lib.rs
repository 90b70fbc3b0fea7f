//! What every service binary of the workspace (`edge-node`, `alert-sink`) shares, so both
//! have the same thin `main`: parse, set up logging, bind, `run(listener, state, shutdown)`.
//!
//! - [`logging`]: flat JSON lines through a bounded, lossy, non-blocking writer.
//! - [`shutdown`]: ctrl-c or SIGTERM.
//! - [`cross_site`]: which requests a browser sent on behalf of another site.
//! - [`OPENMETRICS_CONTENT_TYPE`]: what `/metrics` answers with.
//!
//! Nothing here knows about nodes or alerts.

pub mod cross_site;
pub mod logging;
pub mod shutdown;

/// The content type of every `/metrics` answer of the workspace's services (OpenMetrics
/// 1.0 text, what `prometheus-client` encodes).
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
