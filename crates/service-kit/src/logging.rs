//! The log format and the log writer of the workspace's services.
//!
//! Format: flat JSON lines (one object per event, fields at the top level) so LogQL's
//! `| json` sees every field (`request_id`, `route`, `status`, ...) directly. Only
//! binaries install a subscriber; libraries just emit events.
//!
//! Writer: lines go to stdout through a bounded, lossy, non-blocking buffer drained in
//! batches by a thread of its own (see [`WRITE_PERIOD`]). A writer that blocks on a full pipe (a log shipper that stalled,
//! a terminal paused with ctrl-s) would otherwise block the runtime's worker threads,
//! and with them everything the process serves (every node of a fleet, scrapes included). When the queue is full a
//! line is dropped and counted ([`LogDrops`]).
//!
//! The filter is an argument, never read from the environment here: `main` passes
//! [`env_filter`] (`RUST_LOG`), tests pass what they need.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Lines held while stdout is slow. At about 300 bytes a line that is 2.5 MB at most, and
/// at the default 20 req/s it rides out a 30 s stall of a 12-node fleet without a loss.
pub const DEFAULT_LOG_BUFFER_LINES: usize = 8192;
/// At exit, the longest wait for buffered lines to reach stdout: a stdout that is
/// blocked must not hold the process.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a line may wait in the buffer before the writer thread takes it. The thread
/// wakes on this period (or when the buffer is half full), not once per line: a busy fleet
/// logs tens of thousands of lines a second, and a wake-up per line cost more CPU (context
/// switches) than formatting them. 50 ms is still "at once" for someone tailing logs.
pub const WRITE_PERIOD: Duration = Duration::from_millis(50);

/// The process's count of log lines dropped because stdout did not keep up. Cheap to
/// clone; the default counts nothing (for a process that logs elsewhere, e.g. in tests).
#[derive(Debug, Clone, Default)]
pub struct LogDrops(Option<Arc<AtomicU64>>);

impl LogDrops {
    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.0.as_ref().map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// Lines waiting for the writer thread.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    lines: usize,
    closed: bool,
}

/// What the loggers and the writer thread share.
#[derive(Debug)]
struct Shared {
    batch: Mutex<Batch>,
    ready: Condvar,
    limit: usize,
    dropped: Arc<AtomicU64>,
}

impl Shared {
    /// The batch, recovered if a panic poisoned it (it is plain bytes: at worst a line is cut).
    fn batch(&self) -> MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The loggers' side: a [`MakeWriter`] whose writes (one formatted event each) are queued,
/// or dropped and counted when `buffer_lines` lines are already waiting. Never blocks on
/// the output.
#[derive(Debug, Clone)]
pub struct BatchWriter(Arc<Shared>);

impl Write for &BatchWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let shared = &self.0;
        let mut batch = shared.batch();
        if batch.lines >= shared.limit {
            drop(batch);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(buf.len());
        }
        batch.bytes.extend_from_slice(buf);
        batch.lines += 1;
        let wake = batch.lines == shared.limit / 2;
        drop(batch);
        if wake {
            shared.ready.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = &'a BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

/// Keep until exit, then pass to [`flush`]: dropping it writes what is queued and stops
/// the writer thread.
#[derive(Debug)]
pub struct WorkerGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.shared.batch().closed = true;
        self.shared.ready.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A non-blocking, lossy writer over `out` holding at most `buffer_lines` lines.
pub struct LogWriter {
    /// Give this to the subscriber.
    pub writer: BatchWriter,
    /// Keep this until exit, then pass it to [`flush`].
    pub guard: WorkerGuard,
    /// Give this to whatever reports the count (the nodes' `edge_log_lines_dropped_total`).
    pub drops: LogDrops,
}

/// Starts the writer thread for `out`: every [`WRITE_PERIOD`] (or sooner when the buffer
/// is half full) it takes all queued lines and writes them in one go, then flushes.
pub fn non_blocking<W: Write + Send + 'static>(mut out: W, buffer_lines: usize) -> LogWriter {
    let dropped = Arc::new(AtomicU64::new(0));
    let shared = Arc::new(Shared {
        batch: Mutex::new(Batch::default()),
        ready: Condvar::new(),
        limit: buffer_lines.max(1),
        dropped: dropped.clone(),
    });
    let worker = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || {
            let mut spare = Vec::new();
            loop {
                let (closed, mut bytes) = {
                    let mut batch = worker.batch();
                    if batch.bytes.is_empty() && !batch.closed {
                        batch = worker
                            .ready
                            .wait_timeout(batch, WRITE_PERIOD)
                            .map_or_else(|e| e.into_inner().0, |(b, _)| b);
                    }
                    batch.lines = 0;
                    (batch.closed, std::mem::replace(&mut batch.bytes, std::mem::take(&mut spare)))
                };
                if !bytes.is_empty() {
                    // A write error (stdout closed) loses these lines; nothing else can be done.
                    let _ = out.write_all(&bytes).and_then(|()| out.flush());
                }
                if closed {
                    return;
                }
                bytes.clear();
                spare = bytes;
            }
        })
        .ok();
    LogWriter {
        writer: BatchWriter(shared.clone()),
        guard: WorkerGuard { shared, thread },
        drops: LogDrops(Some(dropped)),
    }
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
