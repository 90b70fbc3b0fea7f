//! What a node is told at start-up.

use std::time::Duration;

use crate::logging::LogDrops;
use crate::shapes::MetricShapes;

pub use edge_sim::fleet::{REGIONS, default_region};
/// The built-in traffic generator's default rate per node: at 20 req/s even a mild error
/// burst (20 %) fails about 4 requests every second, so error and latency alerts on 2-3 s
/// windows neither miss nor flap. At scale use less (docs/BENCHMARKS.md: about 25 µs of
/// CPU per request in a fleet of 1000).
pub const DEFAULT_RPS: f64 = 20.0;
/// The slowest built-in traffic (requests per second) other than none: below one request
/// per 100 s there is nothing left to measure, and the gaps between requests stay far
/// from the clock's limits.
pub const MIN_RPS: f64 = 0.01;
/// The fastest built-in traffic per node: beyond this the generator alone would saturate
/// the machine's cores.
pub const MAX_RPS: f64 = 10_000.0;
/// Requests in flight before the node sheds load with 503.
pub const DEFAULT_CONCURRENCY_LIMIT: usize = 256;
/// A request that takes longer is answered 504, so injected latency can never hold a
/// connection (or shutdown) for long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Orders kept in memory; the oldest are evicted beyond this.
pub const ORDER_CAPACITY: usize = 1000;

/// The configuration of one node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// 1-based node number (the `node` target label in Prometheus).
    pub node_id: u32,
    /// Region name (daily-cycle phase). Prometheus attaches it as the `region` target
    /// label; the app never exports it as a label of its own.
    pub region: String,
    /// The run seed; the node derives its own from it.
    pub run_seed: u64,
    /// Built-in traffic rate, requests per second (0 turns the generator off).
    pub rps: f64,
    /// See [`DEFAULT_CONCURRENCY_LIMIT`].
    pub concurrency_limit: usize,
    /// See [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// See [`ORDER_CAPACITY`].
    pub order_capacity: usize,
    /// Where `/metrics` reads the process's count of dropped log lines (none: 0).
    pub log_drops: LogDrops,
    /// The metric shapes served besides `edge_*` (default: all).
    pub shapes: MetricShapes,
}

impl NodeConfig {
    /// A node with the defaults, in the region its id maps to.
    pub fn new(node_id: u32, run_seed: u64) -> Self {
        Self {
            node_id,
            region: default_region(node_id).to_owned(),
            run_seed,
            rps: DEFAULT_RPS,
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
            request_timeout: REQUEST_TIMEOUT,
            order_capacity: ORDER_CAPACITY,
            log_drops: LogDrops::default(),
            shapes: MetricShapes::default(),
        }
    }

    /// Where in the daily cycle this node's region is: regions are a third of a day apart.
    pub fn phase(&self) -> f64 {
        let index = REGIONS.iter().position(|r| *r == self.region).unwrap_or_else(|| {
            // An unknown region still gets a stable phase.
            self.region.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)))
        });
        (index % REGIONS.len()) as f64 / REGIONS.len() as f64
    }
}
