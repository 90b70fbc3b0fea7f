//! What every service binary of the workspace (`edge-node`, `alert-sink`) shares, so both
//! have the same thin `main`: parse, set up logging, bind, `run(listener, state, shutdown)`.
//!
//! - [`logging`]: flat JSON lines through a bounded, lossy, non-blocking writer.
//! - [`shutdown`]: ctrl-c or SIGTERM.
//!
//! Nothing here knows about nodes, alerts or HTTP.

pub mod logging;
pub mod shutdown;
