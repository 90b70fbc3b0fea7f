//! What the host tests share: a node at the traffic generator's default rate, fault specs,
//! and every counter of a host snapshot in one list.

// Each test binary compiles its own copy and uses only part of it.
#![allow(dead_code)]

use std::time::Duration;

use edge_sim::host::HostSnapshot;
use edge_sim::rng::{self, Stream};
use edge_sim::{FaultKind, FaultSpec, NodeParams, NodeSim};
use rand_chacha::ChaCha8Rng;

/// The generator's default rate.
pub const DEFAULT_RPS: f64 = 20.0;
/// Where the test nodes start in their daily cycle.
pub const PHASE: f64 = 0.25;

/// The node seed of test node `n`.
pub fn seed(n: u64) -> u64 {
    rng::node_seed(n, 3)
}

/// A node at the default rate, and the request stream its faults draw defaults from.
pub fn node(n: u64) -> (NodeSim, ChaCha8Rng) {
    let seed = seed(n);
    let mut sim = NodeSim::new(NodeParams { seed, phase: PHASE });
    sim.set_load(DEFAULT_RPS);
    (sim, rng::stream(seed, Stream::Requests))
}

pub fn spec(kind: FaultKind, duration_s: f64) -> FaultSpec {
    FaultSpec { kind, duration_s, intensity: None, service: None }
}

pub const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Every counter of the snapshot (node_exporter's `_total`s and the PSI seconds).
pub fn counters(s: &HostSnapshot) -> Vec<f64> {
    let mut all: Vec<f64> = s.cpu_seconds.iter().flatten().copied().collect();
    for i in &s.network {
        all.extend(
            [i.receive_bytes, i.transmit_bytes, i.receive_packets, i.transmit_packets].map(|v| v as f64),
        );
        all.extend([i.receive_errs, i.transmit_errs, i.receive_drop, i.transmit_drop].map(|v| v as f64));
    }
    for d in &s.disks {
        all.extend([d.reads_completed, d.writes_completed, d.read_bytes, d.written_bytes].map(|v| v as f64));
        all.extend([
            d.read_time_seconds,
            d.write_time_seconds,
            d.io_time_seconds,
            d.io_time_weighted_seconds,
        ]);
    }
    all.extend(
        [s.context_switches, s.interrupts, s.forks, s.oom_kills, s.pgfault, s.pgmajfault].map(|v| v as f64),
    );
    all.extend([
        s.pressure_cpu_waiting_seconds,
        s.pressure_memory_waiting_seconds,
        s.pressure_memory_stalled_seconds,
        s.pressure_io_waiting_seconds,
        s.pressure_io_stalled_seconds,
    ]);
    all
}
