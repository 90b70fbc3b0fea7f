//! The host under a node, as node_exporter would see it: per-core CPU time by mode, memory,
//! filesystems, network, disks, load and kernel counters, stepped once per simulated second
//! from the node's own signals, served load and faults.
//!
//! `edge-node` renders [`HostSnapshot`] in node_exporter's names and reacts to [`Process`].
//! Everything is plain data and a function of (seed, time, load), so the live node and a
//! virtual fleet produce the same series. At rest the host trips no common host alert
//! (CPU, memory, disk space and its prediction, load, swap, network errors, OOM kills, major
//! page faults, clock, file descriptors, conntrack); `disk_fill` and `oom_kill` act here.
//!
//! The data types live in `snapshot` (re-exported here); the model is one private
//! submodule per subsystem: `cpu` (CPU time, run queue, load), `memory` (meminfo, swap,
//! paging), `storage` (filesystems) over `disk` (block devices), `network`, `kernel`
//! (context switches, interrupts, forks, descriptors, conntrack, clock) and `process` (the
//! OOM killer and restarts). This module steps them in order each second.

mod cpu;
mod disk;
mod kernel;
mod memory;
mod network;
mod process;
mod snapshot;
mod storage;

use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::catalog::FaultKind;
use crate::fault::FaultSet;
use crate::resources::Signals;
use crate::rng::{self, Stream};

use self::cpu::Cpu;
use self::kernel::Kernel;
use self::memory::MemoryModel;
use self::network::Network;
use self::process::Lifecycle;
pub use self::snapshot::{CpuMode, Disk, Filesystem, HostSnapshot, Interface, Memory, Process};
use self::storage::Storage;

/// The host's CPU cores.
pub const CORES: usize = 2;
/// The host's memory; the node's memory utilisation is a share of it.
pub const MEMORY_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// How long the node's process takes to come back after the OOM killer ends it: scrapes fail
/// for this long.
pub const RESTART_GAP: Duration = Duration::from_secs(5);
/// The host booted between one and thirty days before the node started, so its counters
/// start where a real host's would, not at zero.
const UPTIME_AT_START: std::ops::Range<u64> = 86_400..30 * 86_400;

/// The host model of one node.
#[derive(Debug, Clone)]
pub struct Host {
    rng: ChaCha8Rng,
    /// The last whole second stepped.
    ticks: u64,
    process: Lifecycle,
    cpu: Cpu,
    memory: MemoryModel,
    storage: Storage,
    network: Network,
    kernel: Kernel,
    snapshot: HostSnapshot,
}

impl Host {
    /// The host of the node with this seed as the node starts: up for a seeded while already,
    /// its counters where that uptime at a quiet rest load left them.
    pub fn new(node_seed: u64) -> Self {
        let mut rng = rng::stream(node_seed, Stream::Host);
        let uptime = Duration::from_secs(rng.random_range(UPTIME_AT_START));
        let secs = uptime.as_secs_f64();
        // What the host did, on average, before the node started.
        let (cpu_before, memory_before, load_before) =
            (rng.random_range(0.15..0.30), rng.random_range(0.35..0.55), rng.random_range(5.0..25.0));
        let cpu = Cpu::boot(secs, cpu_before);
        let memory = MemoryModel::boot(secs, load_before, &mut rng);
        let storage = Storage::boot(secs, load_before, &mut rng);
        let network = Network::boot(secs, load_before);
        let kernel = Kernel::boot(secs, cpu_before, load_before);
        let mut host = Self {
            rng,
            ticks: 0,
            process: Lifecycle::new(),
            cpu,
            memory,
            storage,
            network,
            kernel,
            snapshot: HostSnapshot::empty(uptime),
        };
        host.render(memory_before);
        host
    }

    /// Steps the host one simulated second ending at `now` (whole seconds, called for each
    /// second in order by [`crate::NodeSim`]): `signals` and `load_rps` are the node's at
    /// that second, `faults` the faults in force. `signals` are those of the process as
    /// [`Self::process`] reports it (memory at rest while it is down); a process due back
    /// restarts first.
    pub fn step(&mut self, now: Duration, signals: Signals, load_rps: f64, faults: &FaultSet) {
        self.ticks = now.as_secs();
        let restarted = self.process.restart_if_due(now);
        // A process that is down serves nothing, whatever was last measured.
        let requests =
            if self.process.current().down || !load_rps.is_finite() { 0.0 } else { load_rps.max(0.0) };
        let jitter = jitter(&mut self.rng);
        let majfaults = self.memory.step(signals.memory, requests, jitter);
        self.storage.step(now, requests, fill_rate(faults, now), majfaults, jitter);
        let (iowait, blocked) = (self.storage.iowait_share(), self.storage.blocked());
        self.cpu.step(signals.cpu, iowait, blocked, &mut self.rng);
        self.network.step(requests, jitter);
        let disk_ops = self.storage.ops_per_second();
        self.kernel.step(signals.cpu, requests, disk_ops, restarted, jitter, &mut self.rng);
        self.render(signals.memory);
    }

    /// The kernel's OOM killer ends the node's process at `now` (memory ran out): it counts
    /// the kill and holds the process down for [`RESTART_GAP`]. Called by [`crate::NodeSim`]
    /// before [`Self::step`] of the same second, which then gets the signals without it.
    pub(crate) fn oom_kill(&mut self, now: Duration) {
        self.process.kill(now);
    }

    /// Shows the node's signals at its start (memory) before the first step, so the
    /// snapshot at `t = 0` agrees with the node; counts nothing.
    pub(crate) fn show_start(&mut self, signals: Signals) {
        self.render(signals.memory);
    }

    /// The host now.
    pub fn snapshot(&self) -> &HostSnapshot {
        &self.snapshot
    }

    /// The node's process now.
    pub fn process(&self) -> Process {
        self.process.current()
    }

    /// The last second stepped (zero before the first step).
    pub fn now(&self) -> Duration {
        Duration::from_secs(self.ticks)
    }

    /// Whether the node's process is down at `now` (killed, not yet back): exact for any
    /// `now` up to the next kill, whichever second was stepped last.
    pub fn is_down(&self, now: Duration) -> bool {
        self.process.is_down(now)
    }

    /// Whether the data filesystem is full (writes fail with "no space left on device").
    pub fn disk_full(&self) -> bool {
        self.storage.data_full()
    }

    /// Data filesystem usage, 0-1 (`edge_disk_used_ratio`), as `df` computes Use%:
    /// used / (used + avail), so a full filesystem is 1.0 though root's reserve is left.
    pub fn disk_used_ratio(&self) -> f64 {
        self.storage.data_used_ratio()
    }

    /// Writes the state into the snapshot.
    fn render(&mut self, memory: f64) {
        let s = &mut self.snapshot;
        s.cpu_seconds = self.cpu.seconds();
        s.load = self.cpu.load();
        s.procs_running = self.cpu.running();
        s.pressure_cpu_waiting_seconds = self.cpu.pressure_waiting();
        s.memory = self.memory.meminfo(memory);
        (s.pgfault, s.pgmajfault) = self.memory.faults();
        (s.pressure_memory_waiting_seconds, s.pressure_memory_stalled_seconds) = self.memory.pressure();
        s.filesystems = self.storage.filesystems();
        s.disks = self.storage.disks();
        s.procs_blocked = self.storage.blocked().round() as u64;
        (s.pressure_io_waiting_seconds, s.pressure_io_stalled_seconds) = self.storage.pressure();
        s.network = vec![self.network.interface()];
        self.kernel.render(s);
        s.oom_kills = self.process.oom_kills();
    }
}

/// The `disk_fill` rate at `now`, as a fraction of the data filesystem per second, or `None`
/// without the fault; a fault that started within the last second fills for the part of it
/// that it covered (a replacement starting at `now` fills nothing this second but keeps
/// what was filled).
fn fill_rate(faults: &FaultSet, now: Duration) -> Option<f64> {
    faults
        .active_of(FaultKind::DiskFill, now)
        .map(|f| f.intensity_or_default() * (now - f.started_at).as_secs_f64().min(1.0))
        .reduce(f64::max)
}

// ---- shared helpers ---------------------------------------------------------------------

/// A counter kept as a float so fractional per-second rates add up; shown in whole units.
#[derive(Debug, Clone, Copy, Default)]
struct Counter(f64);

impl Counter {
    /// Adds `amount`; a negative or NaN amount adds nothing, so a counter never goes down.
    fn add(&mut self, amount: f64) {
        self.0 += amount.max(0.0);
    }

    fn get(self) -> u64 {
        self.0 as u64
    }
}

/// A standard normal draw, clamped to three standard deviations so no single second is
/// absurd.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    z.clamp(-3.0, 3.0)
}

/// This second's multiplicative wobble of background activity (about ±5 %), shared by the
/// subsystems: a busy second is busy everywhere.
fn jitter(rng: &mut ChaCha8Rng) -> f64 {
    (0.05 * normal(rng)).exp()
}
