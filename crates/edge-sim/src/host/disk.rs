//! Block devices as /proc/diskstats counts them (`node_disk_*`): operations, bytes and the
//! time counters, kept consistent with each other.
//!
//! The device's busy time is `1 - exp(-in-flight time)` of each second: never more than
//! the second (`io_time <= elapsed`) nor than the time summed over requests
//! (`io_time <= io_time_weighted`), and close to it when requests rarely overlap.

use super::{Counter, Disk};

/// One second of demand on a device.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Io {
    pub(super) reads: f64,
    pub(super) read_bytes: f64,
    /// Seconds the reads take, summed.
    pub(super) read_seconds: f64,
    pub(super) writes: f64,
    pub(super) written_bytes: f64,
    /// Seconds the writes take, summed.
    pub(super) write_seconds: f64,
}

/// The counters of one device.
#[derive(Debug, Clone)]
pub(super) struct BlockDevice {
    device: &'static str,
    reads: Counter,
    writes: Counter,
    read_bytes: Counter,
    written_bytes: Counter,
    read_time: f64,
    write_time: f64,
    io_time: f64,
    weighted: f64,
    /// Time in flight per second in the last second: Little's law makes it the queue depth.
    in_flight: f64,
}

impl BlockDevice {
    pub(super) fn new(device: &'static str) -> Self {
        Self {
            device,
            reads: Counter::default(),
            writes: Counter::default(),
            read_bytes: Counter::default(),
            written_bytes: Counter::default(),
            read_time: 0.0,
            write_time: 0.0,
            io_time: 0.0,
            weighted: 0.0,
            in_flight: 0.0,
        }
    }

    /// Adds `secs` seconds of `io` (per second).
    pub(super) fn add(&mut self, io: &Io, secs: f64) {
        self.reads.add(io.reads * secs);
        self.writes.add(io.writes * secs);
        self.read_bytes.add(io.read_bytes * secs);
        self.written_bytes.add(io.written_bytes * secs);
        let (read, write) = (io.read_seconds.max(0.0), io.write_seconds.max(0.0));
        self.read_time += read * secs;
        self.write_time += write * secs;
        self.weighted += (read + write) * secs;
        self.io_time += (1.0 - (-(read + write)).exp()) * secs;
        self.in_flight = read + write;
    }

    /// Requests in flight on average in the last second.
    pub(super) fn in_flight(&self) -> f64 {
        self.in_flight
    }

    pub(super) fn disk(&self) -> Disk {
        Disk {
            device: self.device,
            reads_completed: self.reads.get(),
            writes_completed: self.writes.get(),
            read_bytes: self.read_bytes.get(),
            written_bytes: self.written_bytes.get(),
            read_time_seconds: self.read_time,
            write_time_seconds: self.write_time,
            io_time_seconds: self.io_time,
            io_time_weighted_seconds: self.weighted,
            io_now: self.in_flight.round() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_never_exceeds_the_second_nor_the_summed_request_time() {
        let mut dev = BlockDevice::new("vdb");
        for load in [0.0, 0.001, 0.5, 3.0, 40.0] {
            let before = dev.disk();
            dev.add(&Io { read_seconds: load / 2.0, write_seconds: load / 2.0, ..Io::default() }, 1.0);
            let after = dev.disk();
            let busy = after.io_time_seconds - before.io_time_seconds;
            let weighted = after.io_time_weighted_seconds - before.io_time_weighted_seconds;
            assert!(
                (0.0..=1.0 + 1e-12).contains(&busy) && busy <= weighted + 1e-12,
                "{load}: {busy} {weighted}"
            );
        }
    }
}
