//! The fleet in virtual time: the series Prometheus would have scraped from a live fleet,
//! produced without sockets, a runtime or a wall clock, as one OpenMetrics stream with
//! timestamps for `promtool tsdb create-blocks-from openmetrics`.
//!
//! # What is shared with the live fleet
//!
//! Each virtual node *is* a live node's state ([`NodeState`]) on a manual clock: the model,
//! its RNG streams, the order store, the process's registry (swapped on an OOM restart),
//! the gauges refreshed at scrape time, the gate's decisions and the host are the live
//! code. Node ids, regions and seeds come from [`NodeConfig::new`] as the fleet runner's;
//! arrivals and the request mix are the live scheduler's ([`crate::traffic::Arrivals`]);
//! each request walks the shop's steps ([`walk`]), planned by the same model calls and
//! measured by the same [`crate::app_metrics::AppMetrics`] observe the RED middleware
//! calls; `/metrics` is [`crate::ops::app_exposition`] and `/host/metrics` is
//! [`crate::shapes::node_exporter::render`]. What a scrape adds is in [`openmetrics`].
//!
//! # Where it differs from a live Prometheus (a rule can notice these)
//!
//! - **Staleness.** Prometheus writes a stale marker for every series of a target whose
//!   scrape fails, so they vanish at once. The OpenMetrics text cannot carry a stale marker
//!   (its `NaN` is an ordinary NaN, which a query would return), so a failed scrape writes
//!   `up 0` and no samples: in backfilled data a series of a dead target stays visible to
//!   instant selectors for the lookback delta after its last sample (Prometheus' default
//!   5 min; `coverage` gives each rule's query the period of the series it reads, which
//!   hides them at the first failed scrape, as live). Range functions (`rate(x[1m])`) see
//!   the gap as it is.
//! - **Scrape phase.** Every target is scraped at `t = k * interval` from the start;
//!   Prometheus spreads targets over the interval by a hash of the target.
//! - **Scrape duration.** A scrape takes [`SERVE_TIME`] plus any network stall, not a
//!   measured time; a failed one takes the timeout (or [`SERVE_TIME`] when refused).
//! - **No `scrape_series_added`**, no blackbox job, no exemplars, no metadata other than
//!   each exposition's own `# TYPE`/`# UNIT` lines (`# HELP` is left out: blocks keep none).
//! - **No timer granularity.** Live requests sleep on tokio's millisecond timer; here a
//!   step takes exactly its planned delay, so a latency can differ by up to a millisecond
//!   per step (a bucket boundary may fall on the other side), and equal-time events may run
//!   in another order (requests' RNG draws then swap between them).

mod node;
pub mod openmetrics;
mod walk;

use std::io::{self, Write};
use std::time::Duration;

use edge_sim::{FaultError, FaultSpec};

pub use node::{DownReason, NodeScrape, SERVE_TIME, Scrape, VirtualNode};
use openmetrics::Target;

use crate::config::NodeConfig;
use crate::shapes::MetricShapes;

/// A fault to inject into one node at a virtual instant.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFault {
    /// The node (1-based).
    pub node: u32,
    /// What `POST /inject` would be sent.
    pub spec: FaultSpec,
    /// When, since the fleet started.
    pub start: Duration,
}

/// How Prometheus scrapes the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeConfig {
    /// Between two scrapes of a target.
    pub interval: Duration,
    /// A scrape held longer fails (`up` 0).
    pub timeout: Duration,
    /// The app's job (`/metrics`).
    pub app_job: String,
    /// node_exporter's job (`/host/metrics`).
    pub host_job: String,
    /// The `instance` of node `{id}` (`{port}`: `base_port + id`), as `edge-node targets`.
    pub instance_template: String,
    /// See `instance_template`.
    pub base_port: u16,
}

impl Default for ScrapeConfig {
    /// Prometheus' defaults (15 s, 10 s) and Compose's job names and addresses.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            app_job: "edge-node".to_owned(),
            host_job: "node".to_owned(),
            instance_template: "edge-node-{id}:8080".to_owned(),
            base_port: 8000,
        }
    }
}

/// A virtual fleet run: nodes `1..=nodes` from `run_seed`, from t = 0 to `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    /// How many nodes.
    pub nodes: u32,
    /// The run seed (each node derives its own, as live).
    pub run_seed: u64,
    /// Built-in traffic per node (requests per second before the daily swing).
    pub rps: f64,
    /// The shapes served.
    pub shapes: MetricShapes,
    /// Unix time of t = 0 (sample timestamps, start and boot times).
    pub start_unix: f64,
    /// The last scrape is at or before this.
    pub end: Duration,
    /// How the fleet is scraped.
    pub scrape: ScrapeConfig,
    /// The faults, in any order.
    pub faults: Vec<PlannedFault>,
}

impl FleetSpec {
    /// `nodes` nodes with the live defaults, no faults, for `end`, starting at `start_unix`.
    pub fn new(nodes: u32, run_seed: u64, start_unix: f64, end: Duration) -> Self {
        Self {
            nodes,
            run_seed,
            rps: crate::config::DEFAULT_RPS,
            shapes: MetricShapes::default(),
            start_unix,
            end,
            scrape: ScrapeConfig::default(),
            faults: Vec::new(),
        }
    }
}

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VirtualError {
    /// The scrape interval is zero or the timeout longer than it.
    #[error(
        "scrape interval {interval:?} with timeout {timeout:?}: the interval must be positive and the timeout no longer"
    )]
    Scrape {
        /// The interval.
        interval: Duration,
        /// The timeout.
        timeout: Duration,
    },
    /// A fault names a node outside the fleet.
    #[error("a fault for node {node} in a fleet of {nodes}")]
    NoSuchNode {
        /// The node named.
        node: u32,
        /// The fleet's size.
        nodes: u32,
    },
    /// A fault the node would refuse.
    #[error("fault for node {node}: {source}")]
    Fault {
        /// The node.
        node: u32,
        /// Why.
        source: FaultError,
    },
    /// Writing failed.
    #[error("writing the series: {0}")]
    Io(#[from] io::Error),
}

/// What a run produced.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RunStats {
    /// Scrapes made (every target, failed ones included).
    pub scrapes: u64,
    /// Scrapes that failed (`up` 0).
    pub failed_scrapes: u64,
    /// Samples written, the synthetic ones included.
    pub samples: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// The fleet's nodes as the live runner makes them.
pub fn nodes(spec: &FleetSpec) -> Result<Vec<VirtualNode>, VirtualError> {
    let mut nodes: Vec<VirtualNode> = (1..=spec.nodes)
        .map(|id| {
            let config =
                NodeConfig { rps: spec.rps, shapes: spec.shapes, ..NodeConfig::new(id, spec.run_seed) };
            VirtualNode::new(config, spec.start_unix)
        })
        .collect();
    for f in &spec.faults {
        let node = usize::try_from(f.node).ok().and_then(|n| n.checked_sub(1)).and_then(|i| nodes.get_mut(i));
        let node = node.ok_or(VirtualError::NoSuchNode { node: f.node, nodes: spec.nodes })?;
        node.plan_fault(f.start, f.spec.clone())
            .map_err(|source| VirtualError::Fault { node: f.node, source })?;
    }
    Ok(nodes)
}

/// Runs the fleet and streams every scrape to `out` as OpenMetrics with timestamps (ended
/// by `# EOF`); memory stays that of the nodes, whatever the length.
///
/// The nodes share nothing, so they run in contiguous groups on one thread per core, each
/// group writing its part of every scrape instant; this thread writes the parts in node
/// order, instant after instant: the same scrapes in the same order as one thread writes
/// them (inside a family, series come in the order of the registry's hash maps, which
/// differs from run to run with one thread or several).
pub fn write_openmetrics(spec: &FleetSpec, out: impl Write) -> Result<RunStats, VirtualError> {
    let s = &spec.scrape;
    if s.interval.is_zero() || s.timeout > s.interval {
        return Err(VirtualError::Scrape { interval: s.interval, timeout: s.timeout });
    }
    let mut nodes = nodes(spec)?;
    let targets: Vec<(Target, Target)> = nodes
        .iter()
        .map(|n| {
            let config = n.state().config();
            let instance = crate::targets::address(&s.instance_template, s.base_port, config.node_id);
            (
                Target::new(&s.app_job, &instance, config.node_id, &config.region),
                Target::new(&s.host_job, &instance, config.node_id, &config.region),
            )
        })
        .collect();
    let mut out = Counting { inner: io::BufWriter::with_capacity(1 << 16, out), bytes: 0 };
    let start_ms = (spec.start_unix * 1000.0).round() as i64;
    let workers = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, nodes.len().max(1));
    let per_group = nodes.len().div_ceil(workers).max(1);
    let mut stats = RunStats::default();
    std::thread::scope(|scope| -> Result<(), VirtualError> {
        let mut groups = Vec::new();
        for (group, targets) in nodes.chunks_mut(per_group).zip(targets.chunks(per_group)) {
            // A few instants ahead at most: memory stays bounded.
            let (parts, received) = std::sync::mpsc::sync_channel::<(Vec<u8>, RunStats)>(4);
            groups.push(received);
            scope.spawn(move || {
                let mut at = Duration::ZERO;
                while at <= spec.end {
                    let ts = openmetrics::timestamp(start_ms, at);
                    let mut text = Vec::new();
                    let mut stats = RunStats::default();
                    for (node, (app, host)) in group.iter_mut().zip(targets) {
                        let scrape = node.scrape(at, s.timeout);
                        let jobs = [(app, Some(&scrape.app)), (host, scrape.host.as_ref())];
                        for (target, scrape) in jobs {
                            let Some(scrape) = scrape else { continue };
                            // Into memory: cannot fail.
                            let samples =
                                openmetrics::write_scrape(&mut text, target, &ts, scrape).unwrap_or(0);
                            stats.scrapes += 1;
                            stats.failed_scrapes += u64::from(matches!(scrape, Scrape::Down { .. }));
                            // Four synthetic series per scrape.
                            stats.samples += samples as u64 + 4;
                        }
                    }
                    // The receiver is gone only if writing failed.
                    if parts.send((text, stats)).is_err() {
                        return;
                    }
                    at += s.interval;
                }
            });
        }
        // Instant after instant, each group's part in node order; every group sends as many
        // instants, and its channel closes after its last.
        'instants: loop {
            for group in &groups {
                let Ok((text, part)) = group.recv() else { break 'instants };
                out.write_all(&text)?;
                stats.scrapes += part.scrapes;
                stats.failed_scrapes += part.failed_scrapes;
                stats.samples += part.samples;
            }
            if groups.is_empty() {
                break;
            }
        }
        Ok(())
    })?;
    out.write_all(b"# EOF\n")?;
    out.flush()?;
    stats.bytes = out.bytes;
    Ok(stats)
}

/// A writer that counts the bytes it passes on.
struct Counting<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;
