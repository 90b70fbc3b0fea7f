//! The log format and the log writer of the workspace's services.
//!
//! Format: flat JSON lines (one object per event, fields at the top level) so LogQL's
//! `| json` sees every field (`request_id`, `route`, `status`, ...) directly. Only
//! binaries install a subscriber; libraries just emit events.
//!
//! Writer: lines go to stdout through a bounded, lossy, non-blocking queue drained by a
//! thread of its own. A writer that blocks on a full pipe (a log shipper that stalled,
//! a terminal paused with ctrl-s) would otherwise block the runtime's worker threads,
//! and with them everything the process serves (every node of a fleet, scrapes included). When the queue is full a
//! line is dropped and counted ([`LogDrops`]).
//!
//! The filter is an argument, never read from the environment here: `main` passes
//! [`env_filter`] (`RUST_LOG`), tests pass what they need.

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use tracing::Subscriber;
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Lines held while stdout is slow. At about 300 bytes a line that is 2.5 MB at most, and
/// at the default 20 req/s it rides out a 30 s stall of a 12-node fleet without a loss.
pub const DEFAULT_LOG_BUFFER_LINES: usize = 8192;
/// At exit, the longest wait for buffered lines to reach stdout: a stdout that is
/// blocked must not hold the process.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The process's count of log lines dropped because stdout did not keep up. Cheap to
/// clone; the default counts nothing (for a process that logs elsewhere, e.g. in tests).
#[derive(Debug, Clone, Default)]
pub struct LogDrops(Option<ErrorCounter>);

impl LogDrops {
    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.0.as_ref().map_or(0, |c| c.dropped_lines() as u64)
    }
}

/// A non-blocking, lossy writer over `out` holding at most `buffer_lines` lines.
pub struct LogWriter {
    /// Give this to the subscriber.
    pub writer: NonBlocking,
    /// Keep this until exit, then pass it to [`flush`].
    pub guard: WorkerGuard,
    /// Give this to whatever reports the count (the nodes' `edge_log_lines_dropped_total`).
    pub drops: LogDrops,
}

/// Starts the writer thread for `out`.
pub fn non_blocking<W: Write + Send + 'static>(out: W, buffer_lines: usize) -> LogWriter {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(buffer_lines.max(1))
        .thread_name("log-writer")
        .finish(out);
    let drops = LogDrops(Some(writer.error_counter()));
    LogWriter { writer, guard, drops }
}

/// Flushes the buffered lines, waiting at most `within`. The writer's own flush can
/// block on a stdout nobody reads, so it runs on a thread this does not wait for.
pub fn flush(guard: WorkerGuard, within: Duration) {
    let (done, flushed) = mpsc::channel();
    let spawned = std::thread::Builder::new().name("log-flush".to_owned()).spawn(move || {
        drop(guard);
        let _ = done.send(());
    });
    if spawned.is_ok() {
        let _ = flushed.recv_timeout(within);
    }
}

/// The filter `main` uses: `RUST_LOG`, or `info` when it is unset or invalid.
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The JSON subscriber, writing to `writer`, filtered by `filter`.
pub fn json_subscriber<W>(writer: W, filter: EnvFilter) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .finish()
}

/// A compact human-readable subscriber for terminals.
pub fn text_subscriber<W>(writer: W, filter: EnvFilter) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).compact().finish()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use super::*;

    /// A writer stuck until the test drops the sender, like a pipe nobody reads.
    struct Stuck(Arc<Mutex<mpsc::Receiver<()>>>);

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.lock().map(|rx| rx.recv());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_writer_drops_and_counts_lines_and_never_blocks_the_caller() {
        let (release, stuck) = mpsc::channel::<()>();
        let log = non_blocking(Stuck(Arc::new(Mutex::new(stuck))), 4);
        let subscriber = json_subscriber(log.writer.clone(), EnvFilter::new("info"));
        let started = Instant::now();
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..100 {
                tracing::info!(i, "line");
            }
        });
        assert!(started.elapsed() < Duration::from_secs(1), "logging blocked");
        // One line is stuck in the writer, a few are queued, the rest are counted.
        assert!(log.drops.dropped() >= 90, "{}", log.drops.dropped());
        let started = Instant::now();
        flush(log.guard, Duration::from_millis(300));
        assert!(started.elapsed() < Duration::from_secs(1), "flush waited on a stuck writer");
        drop(release);
        assert_eq!(LogDrops::default().dropped(), 0);
    }
}
