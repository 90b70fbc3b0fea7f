//! The host's one interface, `eth0` (`node_network_*`): bytes and packets grow with the
//! requests served and a steady background (scrapes, health checks, log shipping).
//!
//! Errors never happen and drops are rare, far below the 1 % of packets the network error
//! rules look for: `flaky_network` acts in front of the node, not on its NIC.

use super::{Counter, Interface};

/// A request's bytes in and out (headers and a small JSON body; a product page out).
const REQUEST_IN_BYTES: f64 = 600.0;
const REQUEST_OUT_BYTES: f64 = 1500.0;
/// Packets each way per request: the request or response and its acknowledgements.
const REQUEST_PACKETS: f64 = 3.0;
/// Background per second: scrapes in, metrics and logs out.
const BACKGROUND_IN_BYTES: f64 = 2500.0;
const BACKGROUND_OUT_BYTES: f64 = 18_000.0;
const BACKGROUND_IN_PACKETS: f64 = 30.0;
const BACKGROUND_OUT_PACKETS: f64 = 25.0;
/// One received packet dropped every quarter of an hour (an unknown protocol on the wire).
const DROPS_PER_SECOND: f64 = 1.0 / 900.0;
/// 1 Gbit/s.
const SPEED_BYTES: u64 = 125_000_000;

/// The counters of `eth0`.
#[derive(Debug, Clone, Default)]
pub(super) struct Network {
    receive_bytes: Counter,
    transmit_bytes: Counter,
    receive_packets: Counter,
    transmit_packets: Counter,
    receive_drop: Counter,
}

impl Network {
    /// The interface after `uptime` seconds at `rps` requests per second.
    pub(super) fn boot(uptime: f64, rps: f64) -> Self {
        let mut network = Self::default();
        network.add(rps, 1.0, uptime);
        network
    }

    /// One second serving `rps` requests.
    pub(super) fn step(&mut self, rps: f64, jitter: f64) {
        self.add(rps, jitter, 1.0);
    }

    fn add(&mut self, rps: f64, jitter: f64, secs: f64) {
        self.receive_bytes.add((rps * REQUEST_IN_BYTES + BACKGROUND_IN_BYTES * jitter) * secs);
        self.transmit_bytes.add((rps * REQUEST_OUT_BYTES + BACKGROUND_OUT_BYTES * jitter) * secs);
        self.receive_packets.add((rps * REQUEST_PACKETS + BACKGROUND_IN_PACKETS * jitter) * secs);
        self.transmit_packets.add((rps * REQUEST_PACKETS + BACKGROUND_OUT_PACKETS * jitter) * secs);
        self.receive_drop.add(DROPS_PER_SECOND * secs);
    }

    /// Packets both ways in a second at `rps` (each raises an interrupt, give or take
    /// coalescing).
    pub(super) fn packets_per_second(rps: f64) -> f64 {
        2.0 * rps * REQUEST_PACKETS + BACKGROUND_IN_PACKETS + BACKGROUND_OUT_PACKETS
    }

    pub(super) fn interface(&self) -> Interface {
        Interface {
            device: "eth0",
            up: true,
            speed_bytes: SPEED_BYTES,
            mtu_bytes: 1500,
            receive_bytes: self.receive_bytes.get(),
            transmit_bytes: self.transmit_bytes.get(),
            receive_packets: self.receive_packets.get(),
            transmit_packets: self.transmit_packets.get(),
            receive_errs: 0,
            transmit_errs: 0,
            receive_drop: self.receive_drop.get(),
            transmit_drop: 0,
        }
    }
}
