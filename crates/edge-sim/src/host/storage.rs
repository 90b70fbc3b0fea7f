//! Filesystems (`node_filesystem_*`) and the block devices under them: `/` on `vda1` holds
//! the system and its logs, `/var/lib/edge` on `vdb` the shop's data. `disk_fill` acts here.
//!
//! At rest both are flat over hours: logs grow and are rotated every hour, the data
//! filesystem's write-ahead log grows with orders and is checkpointed at a few tens of MiB,
//! so `predict_linear(avail[6h], 24h)` stays far above zero. Sizes are in 4 KiB blocks and
//! ext4 reserves 5 % of them for root: `avail <= free <= size` always.

use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::Filesystem;
use super::cpu::REST_IOWAIT;
use super::disk::{BlockDevice, Io};

const BLOCK: f64 = 4096.0;
const KIB: f64 = 1024.0;
const MIB: f64 = 1024.0 * KIB;
/// What statfs reports for an 8 GiB and a 20 GiB virtio disk once ext4 has its metadata.
const ROOT_BLOCKS: u64 = 2_062_968;
const DATA_BLOCKS: u64 = 5_157_421;
/// ext4's default: one inode per 16 KiB.
const ROOT_INODES: u64 = 524_288;
const DATA_INODES: u64 = 1_310_720;
/// Journal and system logs, bytes per second, and an access log line per request.
const LOG_REST: f64 = 1024.0;
const LOG_PER_REQUEST: f64 = 250.0;
/// Logs are rotated (compressed away) every hour and capped in between (journald's
/// SystemMaxUse), so even a flood of requests cannot fill `/`.
const LOG_ROTATE_EVERY: u64 = 3600;
const LOG_CAP: f64 = 256.0 * MIB;
/// Write-ahead log bytes per request (orders write, products read) and the size at which
/// it is checkpointed back to nothing.
const WAL_PER_REQUEST: f64 = 800.0;
const WAL_CHECKPOINT: f64 = 64.0 * MIB;
/// Group commit: at high rates one write carries many requests.
const WAL_WRITES_MAX: f64 = 200.0;
/// A runaway writer's requests: large sequential writes.
const FILL_WRITE_BYTES: f64 = 512.0 * KIB;
/// Service times: a virtio disk on networked storage, about a millisecond.
const READ_SECONDS: f64 = 0.0008;
const WRITE_SECONDS: f64 = 0.0015;
const FILL_WRITE_SECONDS: f64 = 0.0025;

/// One ext4 filesystem.
#[derive(Debug, Clone)]
struct Volume {
    device: &'static str,
    mountpoint: &'static str,
    blocks: u64,
    /// Bytes used by what does not change at rest (the system, the shop's data).
    base: f64,
    /// Bytes that come and go: logs on `/`, the write-ahead log on the data filesystem.
    churn: f64,
    /// Bytes written by `disk_fill`.
    filled: f64,
    inodes: u64,
    inodes_used: u64,
}

impl Volume {
    fn reserved_blocks(&self) -> u64 {
        self.blocks / 20
    }

    fn used_blocks(&self) -> u64 {
        (((self.base + self.churn + self.filled) / BLOCK).ceil() as u64).min(self.blocks)
    }

    /// Bytes an unprivileged writer can still add.
    fn room(&self) -> f64 {
        let writable = (self.blocks - self.reserved_blocks()) as f64 * BLOCK;
        (writable - self.base - self.churn - self.filled).max(0.0)
    }

    fn filesystem(&self) -> Filesystem {
        let free = self.blocks - self.used_blocks();
        let avail = free.saturating_sub(self.reserved_blocks());
        // The runaway writer's file takes one inode.
        let inodes_used = self.inodes_used + u64::from(self.filled > 0.0);
        Filesystem {
            device: self.device,
            mountpoint: self.mountpoint,
            fstype: "ext4",
            size_bytes: self.blocks * BLOCK as u64,
            free_bytes: free * BLOCK as u64,
            avail_bytes: avail * BLOCK as u64,
            files: self.inodes,
            files_free: self.inodes - inodes_used.min(self.inodes),
            readonly: false,
            device_error: false,
        }
    }
}

/// The filesystems and disks of the host.
#[derive(Debug, Clone)]
pub(super) struct Storage {
    root: Volume,
    data: Volume,
    vda: BlockDevice,
    vdb: BlockDevice,
    ops: f64,
    io_waiting: f64,
    io_stalled: f64,
}

impl Storage {
    /// The storage after `uptime` seconds at `rps` requests per second.
    pub(super) fn boot(uptime: f64, rps: f64, rng: &mut ChaCha8Rng) -> Self {
        let size = |blocks: u64| blocks as f64 * BLOCK;
        let root = Volume {
            device: "/dev/vda1",
            mountpoint: "/",
            blocks: ROOT_BLOCKS,
            base: rng.random_range(0.42..0.46) * size(ROOT_BLOCKS),
            churn: rng.random_range(0.0..64.0 * MIB),
            filled: 0.0,
            inodes: ROOT_INODES,
            inodes_used: rng.random_range(80_000..110_000),
        };
        let data = Volume {
            device: "/dev/vdb",
            mountpoint: "/var/lib/edge",
            blocks: DATA_BLOCKS,
            base: rng.random_range(0.30..0.36) * size(DATA_BLOCKS),
            churn: rng.random_range(0.0..WAL_CHECKPOINT),
            filled: 0.0,
            inodes: DATA_INODES,
            inodes_used: rng.random_range(900..1500),
        };
        let mut storage = Self {
            root,
            data,
            vda: BlockDevice::new("vda"),
            vdb: BlockDevice::new("vdb"),
            ops: 0.0,
            io_waiting: 0.0,
            io_stalled: 0.0,
        };
        let log = LOG_REST + LOG_PER_REQUEST * rps;
        storage.add_io(root_io(0.4, log, 1.0), data_io(rps, rps * WAL_PER_REQUEST, 0.0, 1.0), uptime);
        storage
    }

    /// One second ending at `now`: `rps` requests served, `fill` the `disk_fill` rate (a
    /// fraction of the data filesystem per second; `None` without the fault), `majfaults`
    /// pages read back in from `/`.
    pub(super) fn step(&mut self, now: Duration, rps: f64, fill: Option<f64>, majfaults: f64, jitter: f64) {
        // `/`: logs grow, and an hourly rotation compresses them away.
        if now.as_secs().is_multiple_of(LOG_ROTATE_EVERY) {
            self.root.churn = 0.0;
        }
        let log = (LOG_REST + LOG_PER_REQUEST * rps) * jitter;
        let root = &mut self.root;
        root.churn = (root.churn + log.min(root.room())).min(LOG_CAP);

        // The data filesystem: the runaway writer first, then the shop's own writes, which
        // fail with "no space left on device" once it is full. The end of the fault
        // deletes the runaway file.
        let data = &mut self.data;
        let filled = match fill {
            Some(rate) => (rate.max(0.0) * data.blocks as f64 * BLOCK).min(data.room()),
            None => 0.0,
        };
        data.filled = if fill.is_some() { data.filled + filled } else { 0.0 };
        let wal = (rps * WAL_PER_REQUEST * jitter).min(data.room());
        data.churn += wal;
        if data.churn > WAL_CHECKPOINT {
            data.churn = 0.0;
        }
        self.add_io(root_io(majfaults, log, jitter), data_io(rps, wal, filled, jitter), 1.0);
    }

    /// Adds `secs` seconds of `root` and `data` I/O.
    fn add_io(&mut self, root: Io, data: Io, secs: f64) {
        self.vda.add(&root, secs);
        self.vdb.add(&data, secs);
        self.ops = root.reads + root.writes + data.reads + data.writes;
        let waiting = (0.001 + 0.3 * self.blocked()).min(1.0);
        self.io_waiting += waiting * secs;
        self.io_stalled += 0.4 * waiting * secs;
    }

    /// Tasks waiting on I/O: the requests in flight on both disks.
    pub(super) fn blocked(&self) -> f64 {
        self.vda.in_flight() + self.vdb.in_flight()
    }

    /// iowait's share of busy CPU time: it grows as the disks get busy.
    pub(super) fn iowait_share(&self) -> f64 {
        (REST_IOWAIT + 0.5 * self.blocked().min(1.0)).min(0.6)
    }

    /// Disk operations completed in the last second (each raises an interrupt).
    pub(super) fn ops_per_second(&self) -> f64 {
        self.ops
    }

    /// I/O pressure since boot: some task waiting, all tasks stalled.
    pub(super) fn pressure(&self) -> (f64, f64) {
        (self.io_waiting, self.io_stalled)
    }

    pub(super) fn data_full(&self) -> bool {
        self.data.filesystem().avail_bytes == 0
    }

    pub(super) fn data_used_ratio(&self) -> f64 {
        let fs = self.data.filesystem();
        let used = (fs.size_bytes - fs.free_bytes) as f64;
        used / (used + fs.avail_bytes as f64)
    }

    pub(super) fn filesystems(&self) -> Vec<Filesystem> {
        vec![self.root.filesystem(), self.data.filesystem()]
    }

    pub(super) fn disks(&self) -> Vec<super::Disk> {
        vec![self.vda.disk(), self.vdb.disk()]
    }
}

/// One second on `vda`: a little reading (and the pages thrashing reads back), the journal
/// and logs written.
fn root_io(majfaults: f64, log_bytes: f64, jitter: f64) -> Io {
    let reads = 0.3 * jitter + majfaults;
    let writes = 2.0 * jitter + log_bytes / (64.0 * KIB);
    Io {
        reads,
        read_bytes: reads * 16.0 * KIB,
        read_seconds: reads * READ_SECONDS,
        writes,
        written_bytes: 2.0 * jitter * 12.0 * KIB + log_bytes,
        write_seconds: writes * WRITE_SECONDS,
    }
}

/// One second on `vdb`: the shop's reads that miss the cache, its group-committed writes
/// and `fill_bytes` of a runaway writer.
fn data_io(rps: f64, wal_bytes: f64, fill_bytes: f64, jitter: f64) -> Io {
    let reads = (0.2 + 0.01 * rps) * jitter;
    let small_writes = (0.5 + (0.25 * rps).min(WAL_WRITES_MAX)) * jitter;
    let fill_writes = fill_bytes / FILL_WRITE_BYTES;
    Io {
        reads,
        read_bytes: reads * 8.0 * KIB,
        read_seconds: reads * READ_SECONDS,
        writes: small_writes + fill_writes,
        written_bytes: 0.5 * jitter * 8.0 * KIB + wal_bytes + fill_bytes,
        write_seconds: small_writes * WRITE_SECONDS + fill_writes * FILL_WRITE_SECONDS,
    }
}
