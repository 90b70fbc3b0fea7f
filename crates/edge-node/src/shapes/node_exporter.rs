//! The node_exporter shape: the model's host (`edge_sim::host::HostSnapshot`) rendered at
//! scrape time exactly as node_exporter 1.11's collectors name, type, label and describe it
//! (checked against the real binary: `tests/node_exporter_real.rs`).
//!
//! Served on its own path, [`PATH`], so Prometheus scrapes it as its own job, as it does a
//! real node_exporter (the job name comes from the scrape config, never from us). A real
//! node_exporter is a separate process from the app it sits beside: it keeps answering
//! while the app is dead, so `/host/metrics` answers through `node_crash` and through the
//! gap after an OOM kill (the gate lets it through), while `/metrics` fails and `up` of the
//! app's job drops to 0. Only the network in front of the box (`flaky_network`) holds it.
//!
//! Format: the Prometheus text format 0.0.4, as node_exporter serves it (see
//! [`super::text`] for why not OpenMetrics). Where node_exporter itself is untyped (the
//! vmstat fields), so are we: a rule reads the same series either way, and the metadata
//! matches the real thing.

use edge_sim::host::{CpuMode, Disk, Filesystem, HostSnapshot, Interface};

use super::text::{Family, Kind, TextWriter};

/// Where the host's metrics are served.
pub const PATH: &str = "/host/metrics";
/// The content type node_exporter answers with.
pub use super::text::CONTENT_TYPE;

/// The node_exporter release whose names, types and help texts these are (the version
/// `node_exporter_build_info` reports).
pub const VERSION: &str = "1.11.1";

/// The host at one instant, with what the snapshot leaves to the node's clock.
#[derive(Debug, Clone)]
pub struct HostView {
    /// The host, stepped to the scrape's second.
    pub host: HostSnapshot,
    /// Unix time of the scrape (`node_time_seconds`), from the node's clock.
    pub now_unix: f64,
    /// Unix time the host booted (`node_boot_time_seconds`), from the node's clock.
    pub boot_unix: f64,
    /// The host name (`nodename` of `node_uname_info`).
    pub nodename: String,
}

// ---- the families, as node_exporter 1.11.1 declares them ------------------------------

const fn family(name: &'static str, help: &'static str, kind: Kind) -> Family {
    Family { name, help, kind }
}
use Kind::{Counter, Gauge, Untyped};

const CPU_SECONDS: Family = family("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", Counter);
const LOAD: [Family; 3] = [
    family("node_load1", "1m load average.", Gauge),
    family("node_load5", "5m load average.", Gauge),
    family("node_load15", "15m load average.", Gauge),
];
/// meminfo fields: node_exporter names them `node_memory_<Field>_bytes`.
const MEMORY: [Family; 7] = [
    family("node_memory_MemTotal_bytes", "Memory information field MemTotal_bytes.", Gauge),
    family("node_memory_MemAvailable_bytes", "Memory information field MemAvailable_bytes.", Gauge),
    family("node_memory_MemFree_bytes", "Memory information field MemFree_bytes.", Gauge),
    family("node_memory_Buffers_bytes", "Memory information field Buffers_bytes.", Gauge),
    family("node_memory_Cached_bytes", "Memory information field Cached_bytes.", Gauge),
    family("node_memory_SwapTotal_bytes", "Memory information field SwapTotal_bytes.", Gauge),
    family("node_memory_SwapFree_bytes", "Memory information field SwapFree_bytes.", Gauge),
];
const FS_SIZE: Family = family("node_filesystem_size_bytes", "Filesystem size in bytes.", Gauge);
const FS_FREE: Family = family("node_filesystem_free_bytes", "Filesystem free space in bytes.", Gauge);
const FS_AVAIL: Family =
    family("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", Gauge);
const FS_FILES: Family = family("node_filesystem_files", "Filesystem total file nodes.", Gauge);
const FS_FILES_FREE: Family =
    family("node_filesystem_files_free", "Filesystem total free file nodes.", Gauge);
const FS_READONLY: Family = family("node_filesystem_readonly", "Filesystem read-only status.", Gauge);
const FS_DEVICE_ERROR: Family = family(
    "node_filesystem_device_error",
    "Whether an error occurred while getting statistics for the given device.",
    Gauge,
);
/// What node_exporter puts in the `device_error` label when statfs fails (the label is
/// empty otherwise; since 1.9 every filesystem family carries it).
const DEVICE_ERROR_TEXT: &str = "input/output error";
/// Per-interface counters, in node_exporter's `node_network_<stat>_total` names.
const NET_COUNTERS: [Family; 8] = [
    family("node_network_receive_bytes_total", "Network device statistic receive_bytes.", Counter),
    family("node_network_transmit_bytes_total", "Network device statistic transmit_bytes.", Counter),
    family("node_network_receive_packets_total", "Network device statistic receive_packets.", Counter),
    family("node_network_transmit_packets_total", "Network device statistic transmit_packets.", Counter),
    family("node_network_receive_errs_total", "Network device statistic receive_errs.", Counter),
    family("node_network_transmit_errs_total", "Network device statistic transmit_errs.", Counter),
    family("node_network_receive_drop_total", "Network device statistic receive_drop.", Counter),
    family("node_network_transmit_drop_total", "Network device statistic transmit_drop.", Counter),
];
const NET_UP: Family = family("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", Gauge);
const NET_SPEED: Family = family("node_network_speed_bytes", "Network device property: speed_bytes", Gauge);
const NET_MTU: Family = family("node_network_mtu_bytes", "Network device property: mtu_bytes", Gauge);
const DISK_COUNTERS: [Family; 8] = [
    family("node_disk_reads_completed_total", "The total number of reads completed successfully.", Counter),
    family("node_disk_writes_completed_total", "The total number of writes completed successfully.", Counter),
    family("node_disk_read_bytes_total", "The total number of bytes read successfully.", Counter),
    family("node_disk_written_bytes_total", "The total number of bytes written successfully.", Counter),
    family("node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", Counter),
    family(
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        Counter,
    ),
    family("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", Counter),
    family(
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        Counter,
    ),
];
const DISK_IO_NOW: Family = family("node_disk_io_now", "The number of I/Os currently in progress.", Gauge);
/// vmstat fields: untyped in node_exporter (it does not know which are counters).
const VMSTAT: [Family; 3] = [
    family("node_vmstat_oom_kill", "/proc/vmstat information field oom_kill.", Untyped),
    family("node_vmstat_pgfault", "/proc/vmstat information field pgfault.", Untyped),
    family("node_vmstat_pgmajfault", "/proc/vmstat information field pgmajfault.", Untyped),
];
const BOOT_TIME: Family = family("node_boot_time_seconds", "Node boot time, in unixtime.", Gauge);
const TIME: Family = family("node_time_seconds", "System time in seconds since epoch (1970).", Gauge);
const CONTEXT_SWITCHES: Family =
    family("node_context_switches_total", "Total number of context switches.", Counter);
const INTERRUPTS: Family = family("node_intr_total", "Total number of interrupts serviced.", Counter);
const FORKS: Family = family("node_forks_total", "Total number of forks.", Counter);
const PROCS_RUNNING: Family = family("node_procs_running", "Number of processes in runnable state.", Gauge);
const PROCS_BLOCKED: Family =
    family("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.", Gauge);
const UNAME: Family =
    family("node_uname_info", "Labeled system information as provided by the uname system call.", Gauge);
const FILEFD_ALLOCATED: Family =
    family("node_filefd_allocated", "File descriptor statistics: allocated.", Gauge);
const FILEFD_MAXIMUM: Family = family("node_filefd_maximum", "File descriptor statistics: maximum.", Gauge);
const CONNTRACK_ENTRIES: Family = family(
    "node_nf_conntrack_entries",
    "Number of currently allocated flow entries for connection tracking.",
    Gauge,
);
const CONNTRACK_LIMIT: Family =
    family("node_nf_conntrack_entries_limit", "Maximum size of connection tracking table.", Gauge);
const TIMEX_OFFSET: Family =
    family("node_timex_offset_seconds", "Time offset in between local system and reference clock.", Gauge);
const TIMEX_SYNC: Family =
    family("node_timex_sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).", Gauge);
const PRESSURE: [Family; 5] = [
    family(
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time",
        Counter,
    ),
    family(
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory",
        Counter,
    ),
    family(
        "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
        Counter,
    ),
    family(
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion",
        Counter,
    ),
    family(
        "node_pressure_io_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IO congestion",
        Counter,
    ),
];
const TEXTFILE_ERROR: Family = family(
    "node_textfile_scrape_error",
    "1 if there was an error opening or reading a file, 0 otherwise",
    Gauge,
);
const BUILD_INFO: Family = family(
    "node_exporter_build_info",
    "A metric with a constant '1' value labeled by version, revision, branch, goversion from which node_exporter was built, and the goos and goarch for the build.",
    Gauge,
);

/// Every CPU mode (the snapshot's second index is `CpuMode as usize`).
const CPU_MODES: [CpuMode; 8] = [
    CpuMode::Idle,
    CpuMode::User,
    CpuMode::System,
    CpuMode::Iowait,
    CpuMode::Irq,
    CpuMode::Softirq,
    CpuMode::Steal,
    CpuMode::Nice,
];

/// `node_uname_info`'s labels other than `nodename`: a Debian kernel on x86-64, as the
/// dashboards that show them expect something plausible.
const UNAME_FIXED: [(&str, &str); 5] = [
    ("domainname", "(none)"),
    ("machine", "x86_64"),
    ("release", "6.12.0-edge-sim"),
    ("sysname", "Linux"),
    ("version", "#1 SMP PREEMPT_DYNAMIC Debian 6.12.0"),
];

// ---- rendering ------------------------------------------------------------------------

/// The exposition of the host at one instant. Labels are written in node_exporter's
/// (alphabetical) order.
pub fn render(view: &HostView) -> String {
    let h = &view.host;
    let mut w = TextWriter::with_capacity(12 * 1024);

    w.family(&CPU_SECONDS);
    for (core, seconds) in h.cpu_seconds.iter().enumerate() {
        let cpu = core.to_string();
        for mode in CPU_MODES {
            w.sample(CPU_SECONDS.name, &[("cpu", &cpu), ("mode", mode.into())], seconds[mode as usize]);
        }
    }
    for (family, value) in LOAD.iter().zip(h.load) {
        w.single(family, value);
    }
    let m = &h.memory;
    let memory = [m.total, m.available, m.free, m.buffers, m.cached, m.swap_total, m.swap_free];
    for (family, bytes) in MEMORY.iter().zip(memory) {
        w.single(family, bytes as f64);
    }
    filesystems(&mut w, h);
    network(&mut w, h);
    disks(&mut w, h);
    let vmstat = [h.oom_kills, h.pgfault, h.pgmajfault];
    for (family, value) in VMSTAT.iter().zip(vmstat) {
        w.single(family, value as f64);
    }
    w.single(&BOOT_TIME, view.boot_unix.floor());
    w.single(&TIME, view.now_unix);
    w.single(&CONTEXT_SWITCHES, h.context_switches as f64);
    w.single(&INTERRUPTS, h.interrupts as f64);
    w.single(&FORKS, h.forks as f64);
    w.single(&PROCS_RUNNING, h.procs_running as f64);
    w.single(&PROCS_BLOCKED, h.procs_blocked as f64);
    w.single(&FILEFD_ALLOCATED, h.filefd_allocated as f64);
    w.single(&FILEFD_MAXIMUM, h.filefd_maximum as f64);
    w.single(&CONNTRACK_ENTRIES, h.conntrack_entries as f64);
    w.single(&CONNTRACK_LIMIT, h.conntrack_limit as f64);
    w.single(&TIMEX_OFFSET, h.timex_offset_seconds);
    w.single(&TIMEX_SYNC, f64::from(u8::from(h.timex_sync_status)));
    let pressure = [
        h.pressure_cpu_waiting_seconds,
        h.pressure_memory_waiting_seconds,
        h.pressure_memory_stalled_seconds,
        h.pressure_io_waiting_seconds,
        h.pressure_io_stalled_seconds,
    ];
    for (family, seconds) in PRESSURE.iter().zip(pressure) {
        w.single(family, seconds);
    }
    // No textfile directory is read, so none can fail.
    w.single(&TEXTFILE_ERROR, 0.0);
    w.family(&UNAME);
    let mut uname: Vec<(&str, &str)> = UNAME_FIXED.to_vec();
    uname.push(("nodename", &view.nodename));
    uname.sort_unstable_by_key(|(k, _)| *k);
    w.sample(UNAME.name, &uname, 1.0);
    w.family(&BUILD_INFO);
    let build = [
        ("branch", "HEAD"),
        ("goarch", "amd64"),
        ("goos", "linux"),
        // Not Go, and not node_exporter's code: say so where a person would look.
        ("goversion", "none"),
        ("revision", "edge-sim"),
        ("tags", "edge_sim"),
        ("version", VERSION),
    ];
    w.sample(BUILD_INFO.name, &build, 1.0);
    w.finish()
}

/// How one family reads its value from a filesystem, an interface or a disk.
type Read<T> = fn(&T) -> f64;

fn filesystems(w: &mut TextWriter, h: &HostSnapshot) {
    let labels = |fs: &Filesystem| {
        let error = if fs.device_error { DEVICE_ERROR_TEXT } else { "" };
        [("device", fs.device), ("device_error", error), ("fstype", fs.fstype), ("mountpoint", fs.mountpoint)]
    };
    // As node_exporter: a filesystem it cannot stat has only its error and read-only series.
    let readable = || h.filesystems.iter().filter(|fs| !fs.device_error);
    let stats: [(&Family, Read<Filesystem>); 5] = [
        (&FS_AVAIL, |fs| fs.avail_bytes as f64),
        (&FS_FILES, |fs| fs.files as f64),
        (&FS_FILES_FREE, |fs| fs.files_free as f64),
        (&FS_FREE, |fs| fs.free_bytes as f64),
        (&FS_SIZE, |fs| fs.size_bytes as f64),
    ];
    for (family, value) in stats {
        w.family(family);
        for fs in readable() {
            w.sample(family.name, &labels(fs), value(fs));
        }
    }
    w.family(&FS_DEVICE_ERROR);
    for fs in &h.filesystems {
        w.sample(FS_DEVICE_ERROR.name, &labels(fs), f64::from(u8::from(fs.device_error)));
    }
    w.family(&FS_READONLY);
    for fs in &h.filesystems {
        w.sample(FS_READONLY.name, &labels(fs), f64::from(u8::from(fs.readonly)));
    }
}

fn network(w: &mut TextWriter, h: &HostSnapshot) {
    let counters: [Read<Interface>; 8] = [
        |i| i.receive_bytes as f64,
        |i| i.transmit_bytes as f64,
        |i| i.receive_packets as f64,
        |i| i.transmit_packets as f64,
        |i| i.receive_errs as f64,
        |i| i.transmit_errs as f64,
        |i| i.receive_drop as f64,
        |i| i.transmit_drop as f64,
    ];
    for (family, value) in NET_COUNTERS.iter().zip(counters) {
        w.family(family);
        for i in &h.network {
            w.sample(family.name, &[("device", i.device)], value(i));
        }
    }
    let properties: [(&Family, Read<Interface>); 3] = [
        (&NET_UP, |i| f64::from(u8::from(i.up))),
        (&NET_SPEED, |i| i.speed_bytes as f64),
        (&NET_MTU, |i| i.mtu_bytes as f64),
    ];
    for (family, value) in properties {
        w.family(family);
        for i in &h.network {
            w.sample(family.name, &[("device", i.device)], value(i));
        }
    }
}

fn disks(w: &mut TextWriter, h: &HostSnapshot) {
    let counters: [Read<Disk>; 8] = [
        |d| d.reads_completed as f64,
        |d| d.writes_completed as f64,
        |d| d.read_bytes as f64,
        |d| d.written_bytes as f64,
        |d| d.read_time_seconds,
        |d| d.write_time_seconds,
        |d| d.io_time_seconds,
        |d| d.io_time_weighted_seconds,
    ];
    for (family, value) in DISK_COUNTERS.iter().zip(counters) {
        w.family(family);
        for d in &h.disks {
            w.sample(family.name, &[("device", d.device)], value(d));
        }
    }
    w.family(&DISK_IO_NOW);
    for d in &h.disks {
        w.sample(DISK_IO_NOW.name, &[("device", d.device)], d.io_now as f64);
    }
}
