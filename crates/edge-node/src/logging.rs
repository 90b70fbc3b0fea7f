//! The log format: flat JSON lines (one object per event, fields at the top level) so
//! LogQL's `| json` sees `request_id`, `route`, `status`, `latency_ms`, `fault` directly.
//! Only binaries install a subscriber; the library just emits events.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Log targets: one line per request, one per fault start and end.
pub mod targets {
    /// Access log: one line per shop request.
    pub const ACCESS: &str = "edge_node::access";
    /// Fault lifecycle: started, ended (expired, cleared, replaced).
    pub const FAULT: &str = "edge_node::fault";
}

/// The JSON subscriber, writing to `writer`, filtered by `RUST_LOG` (default `info`).
pub fn json_subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .finish()
}

/// A compact human-readable subscriber for terminals.
pub fn text_subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt().with_env_filter(filter()).with_writer(writer).compact().finish()
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}
