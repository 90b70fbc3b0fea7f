//! Kernel-wide counters and gauges: context switches, interrupts, forks, open file
//! descriptors, conntrack entries and the clock's offset.
//!
//! Descriptors and conntrack stay around 1 % of their limits at rest and under a third at
//! any load (the rules look for 70-80 %), and the clock stays synchronised within tens of microseconds
//! (`NodeClockSkewDetected` looks for 50 ms).

use rand_chacha::ChaCha8Rng;

use super::network::Network;
use super::{CORES, Counter, HostSnapshot, normal};

/// `fs.file-max` for 2 GiB of memory (a tenth of it in KiB).
const FILEFD_MAXIMUM: u64 = 209_715;
/// `nf_conntrack_max` for 2 GiB of memory.
const CONNTRACK_LIMIT: u64 = 65_536;
/// Processes a restart of the node's process forks (its workers and helpers).
const RESTART_FORKS: f64 = 40.0;
/// The clock offset's noise: chrony keeps a VM within tens of microseconds.
const OFFSET_SD: f64 = 30e-6;
const OFFSET_REVERSION: f64 = 0.05;

/// The kernel's state.
#[derive(Debug, Clone)]
pub(super) struct Kernel {
    context_switches: Counter,
    interrupts: Counter,
    forks: Counter,
    filefd: u64,
    conntrack: u64,
    offset: f64,
}

impl Kernel {
    /// The kernel after `uptime` seconds at CPU `cpu` and `rps` requests per second.
    pub(super) fn boot(uptime: f64, cpu: f64, rps: f64) -> Self {
        let mut kernel = Self {
            context_switches: Counter::default(),
            interrupts: Counter::default(),
            forks: Counter::default(),
            filefd: 0,
            conntrack: 0,
            offset: 0.0,
        };
        let disk_ops = 3.0 + 0.25 * rps;
        kernel.add(cpu, rps, disk_ops, 1.0, uptime);
        kernel
    }

    /// One second at CPU `cpu`, `rps` requests, `disk_ops` disk operations; `restarted`
    /// when the node's process started anew this second.
    pub(super) fn step(
        &mut self,
        cpu: f64,
        rps: f64,
        disk_ops: f64,
        restarted: bool,
        jitter: f64,
        rng: &mut ChaCha8Rng,
    ) {
        self.add(cpu, rps, disk_ops, jitter, 1.0);
        if restarted {
            self.forks.add(RESTART_FORKS);
        }
        let sigma = OFFSET_SD * (1.0 - (1.0 - OFFSET_REVERSION) * (1.0 - OFFSET_REVERSION)).sqrt();
        self.offset = self.offset * (1.0 - OFFSET_REVERSION) + sigma * normal(rng);
    }

    fn add(&mut self, cpu: f64, rps: f64, disk_ops: f64, jitter: f64, secs: f64) {
        let cpu = if cpu.is_finite() { cpu.clamp(0.0, 1.0) } else { 0.0 };
        let busy_cores = cpu * CORES as f64;
        self.context_switches.add((1200.0 + 25.0 * rps + 2500.0 * busy_cores) * jitter * secs);
        let packets = Network::packets_per_second(rps);
        self.interrupts.add(((700.0 + 1200.0 * busy_cores) * jitter + packets / 4.0 + disk_ops) * secs);
        self.forks.add((1.5 + 0.002 * rps) * jitter * secs);
        // Gauges: descriptors and tracked connections for the sockets the requests keep
        // open; capped where the process's own limits would stop it.
        let connections = (0.6 * rps).min(10_000.0);
        self.filefd = 1100 + connections as u64;
        self.conntrack = 80 + (2.0 * connections) as u64;
    }

    /// Writes the kernel's share of the snapshot.
    pub(super) fn render(&self, s: &mut HostSnapshot) {
        s.context_switches = self.context_switches.get();
        s.interrupts = self.interrupts.get();
        s.forks = self.forks.get();
        s.filefd_allocated = self.filefd;
        s.filefd_maximum = FILEFD_MAXIMUM;
        s.conntrack_entries = self.conntrack;
        s.conntrack_limit = CONNTRACK_LIMIT;
        s.timex_offset_seconds = self.offset;
        s.timex_sync_status = true;
    }
}
