//! What the host looks like at one instant, in node_exporter's terms: the data `edge-node`
//! renders as node_exporter metric families, and the node's process as the host sees it.
//! Plain data; [`Host`](super::Host) fills it.

use std::time::Duration;

use serde::Serialize;

use super::CORES;

/// CPU modes, in node_exporter's `mode` label order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum CpuMode {
    /// Nothing to run: `1 - rate(idle)` is the CPU utilisation.
    Idle,
    /// User-space code, the node's own work.
    User,
    /// Kernel code on behalf of processes.
    System,
    /// Idle with I/O outstanding (counted as busy by the usual `1 - idle` rules).
    Iowait,
    /// Hardware interrupts.
    Irq,
    /// Deferred interrupt work, mostly the network stack.
    Softirq,
    /// Time the hypervisor gave to another guest.
    Steal,
    /// User-space code at lowered priority.
    Nice,
}

/// Memory, in bytes, as /proc/meminfo names it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Memory {
    /// `MemTotal`: always [`MEMORY_BYTES`](super::MEMORY_BYTES).
    pub total: u64,
    /// `MemAvailable`: what could be allocated without swapping, `total * (1 - memory)`.
    pub available: u64,
    /// `MemFree`: unused outright; never more than `available` (the rest is reclaimable cache).
    pub free: u64,
    /// `Buffers`: block-device metadata cache.
    pub buffers: u64,
    /// `Cached`: the page cache.
    pub cached: u64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapFree`: steady at rest; falls while memory thrashes.
    pub swap_free: u64,
}

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filesystem {
    /// The block device (`/dev/vdb`).
    pub device: &'static str,
    /// Where it is mounted (`/var/lib/edge`).
    pub mountpoint: &'static str,
    /// `ext4`.
    pub fstype: &'static str,
    /// Usable size (what statfs reports, after ext4's metadata).
    pub size_bytes: u64,
    /// Free blocks, including those reserved for root.
    pub free_bytes: u64,
    /// What an unprivileged process can still write (free minus the root reserve).
    pub avail_bytes: u64,
    /// Inodes.
    pub files: u64,
    /// Free inodes.
    pub files_free: u64,
    /// Mounted read-only (never, in this model).
    pub readonly: bool,
    /// statfs failed (never, in this model).
    pub device_error: bool,
}

/// One network interface; counters since boot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interface {
    /// `eth0`.
    pub device: &'static str,
    /// Operationally up.
    pub up: bool,
    /// Link speed in bytes per second (1 Gbit/s).
    pub speed_bytes: u64,
    /// MTU.
    pub mtu_bytes: u64,
    /// Bytes received.
    pub receive_bytes: u64,
    /// Bytes sent.
    pub transmit_bytes: u64,
    /// Packets received.
    pub receive_packets: u64,
    /// Packets sent.
    pub transmit_packets: u64,
    /// Receive errors.
    pub receive_errs: u64,
    /// Transmit errors.
    pub transmit_errs: u64,
    /// Received packets dropped.
    pub receive_drop: u64,
    /// Packets dropped before sending.
    pub transmit_drop: u64,
}

/// One block device; counters since boot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disk {
    /// `vda` (root) or `vdb` (data).
    pub device: &'static str,
    /// Reads completed.
    pub reads_completed: u64,
    /// Writes completed.
    pub writes_completed: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub written_bytes: u64,
    /// Time spent on reads, summed over requests.
    pub read_time_seconds: f64,
    /// Time spent on writes, summed over requests.
    pub write_time_seconds: f64,
    /// Time the device was busy (at most the time since boot).
    pub io_time_seconds: f64,
    /// Time requests spent in flight, summed (at least `io_time_seconds`).
    pub io_time_weighted_seconds: f64,
    /// Requests in flight now.
    pub io_now: u64,
}

/// Everything node_exporter would report about the host at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostSnapshot {
    /// When the host booted, relative to the node's start (the host booted first).
    pub booted_before_start: Duration,
    /// Seconds each core spent in each mode since boot, `[core][CpuMode as usize]`.
    pub cpu_seconds: [[f64; 8]; CORES],
    /// Load averages over 1, 5 and 15 minutes.
    pub load: [f64; 3],
    /// /proc/meminfo.
    pub memory: Memory,
    /// `/` then `/var/lib/edge`.
    pub filesystems: Vec<Filesystem>,
    /// `eth0`.
    pub network: Vec<Interface>,
    /// `vda` then `vdb`.
    pub disks: Vec<Disk>,
    /// Context switches since boot.
    pub context_switches: u64,
    /// Interrupts since boot.
    pub interrupts: u64,
    /// Processes and threads created since boot.
    pub forks: u64,
    /// Tasks runnable now (at least 1: the reader).
    pub procs_running: u64,
    /// Tasks blocked on I/O now.
    pub procs_blocked: u64,
    /// Kills by the kernel's OOM killer since boot (`node_vmstat_oom_kill`).
    pub oom_kills: u64,
    /// Page faults since boot.
    pub pgfault: u64,
    /// Major page faults (served from disk) since boot.
    pub pgmajfault: u64,
    /// Open file descriptors.
    pub filefd_allocated: u64,
    /// The system-wide descriptor limit (`fs.file-max`).
    pub filefd_maximum: u64,
    /// Tracked connections.
    pub conntrack_entries: u64,
    /// The conntrack table's size (`nf_conntrack_max`).
    pub conntrack_limit: u64,
    /// Clock offset from the reference (`node_timex_offset_seconds`).
    pub timex_offset_seconds: f64,
    /// Whether the clock is synchronised (`node_timex_sync_status`).
    pub timex_sync_status: bool,
    /// Pressure stall information, seconds since boot (`node_pressure_*`): some task waited
    /// for a CPU.
    pub pressure_cpu_waiting_seconds: f64,
    /// Some task waited for memory.
    pub pressure_memory_waiting_seconds: f64,
    /// Every task waited for memory.
    pub pressure_memory_stalled_seconds: f64,
    /// Some task waited for I/O.
    pub pressure_io_waiting_seconds: f64,
    /// Every task waited for I/O.
    pub pressure_io_stalled_seconds: f64,
}

/// The node's process as the host sees it: an OOM kill ends it, it comes back after
/// [`RESTART_GAP`](super::RESTART_GAP) with fresh counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Process {
    /// Restarts so far (0: the first process). Changes exactly when a new process starts.
    pub restarts: u32,
    /// When the current (or coming) process started, since the node's start. While `down`,
    /// the coming one's start: the kill plus [`RESTART_GAP`](super::RESTART_GAP).
    pub started_at: Duration,
    /// Between a kill and the restart: nothing answers.
    pub down: bool,
}

impl Process {
    /// When the running process started, or `None` while it is down: what
    /// [`Resources::signals_for`](crate::resources::Resources::signals_for) takes.
    pub fn running_since(&self) -> Option<Duration> {
        (!self.down).then_some(self.started_at)
    }
}

impl HostSnapshot {
    /// A snapshot with nothing counted yet; the host fills it.
    pub(super) fn empty(booted_before_start: Duration) -> Self {
        Self {
            booted_before_start,
            cpu_seconds: [[0.0; 8]; CORES],
            load: [0.0; 3],
            memory: Memory::default(),
            filesystems: Vec::new(),
            network: Vec::new(),
            disks: Vec::new(),
            context_switches: 0,
            interrupts: 0,
            forks: 0,
            procs_running: 0,
            procs_blocked: 0,
            oom_kills: 0,
            pgfault: 0,
            pgmajfault: 0,
            filefd_allocated: 0,
            filefd_maximum: 0,
            conntrack_entries: 0,
            conntrack_limit: 0,
            timex_offset_seconds: 0.0,
            timex_sync_status: false,
            pressure_cpu_waiting_seconds: 0.0,
            pressure_memory_waiting_seconds: 0.0,
            pressure_memory_stalled_seconds: 0.0,
            pressure_io_waiting_seconds: 0.0,
            pressure_io_stalled_seconds: 0.0,
        }
    }
}
