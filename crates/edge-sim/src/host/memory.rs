//! Memory as /proc/meminfo and /proc/vmstat show it: available memory from the node's
//! memory signal, the page cache that makes up the rest, swap, page faults and memory
//! pressure.
//!
//! Above [`THRASH_ONSET`] the page cache is squeezed out and the host starts to thrash:
//! major page faults, swap use and memory pressure climb (what `memory_leak` at its 0.99
//! ceiling shows). Below it they stay at a trickle.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::{Counter, MEMORY_BYTES, Memory};

/// Swap: a 1 GiB swap file, as cloud images often add to a small VM.
pub(super) const SWAP_BYTES: u64 = 1024 * 1024 * 1024;
/// Memory utilisation where thrashing starts (`NodeMemoryHighUtilization`'s 90 %).
const THRASH_ONSET: f64 = 0.9;
/// Where thrashing is at its worst: `memory_leak`'s ceiling.
const THRASH_FULL: f64 = 0.99;
/// Major faults per second at rest: a trickle of pages read back in.
const MAJFAULT_REST: f64 = 0.4;
/// Major faults per second when thrashing at its worst: six times the 500/s of
/// `NodeMemoryMajorPagesFaults`, three of `HostMemoryUnderMemoryPressure`'s 1000/s.
const MAJFAULT_THRASH: f64 = 3000.0;
/// Minor faults per second at rest, and per request served (allocations touch new pages).
const MINFAULT_REST: f64 = 2500.0;
const MINFAULT_PER_REQUEST: f64 = 40.0;
/// Of swap, how much thrashing at its worst fills (70 %: `HostSwapIsFillingUp` wants 80 %,
/// reached only when a leak holds memory there for minutes).
const SWAP_THRASH_SHARE: f64 = 0.7;
/// Memory that is cached but cannot be dropped (shmem, tmpfs).
const SHMEM_BYTES: f64 = 24.0 * 1024.0 * 1024.0;

/// The memory state of the host.
#[derive(Debug, Clone)]
pub(super) struct MemoryModel {
    /// Of available memory, the part that is free outright (the rest is reclaimable cache).
    free_share: f64,
    swap_rest: f64,
    swap_used: f64,
    pgfault: Counter,
    pgmajfault: Counter,
    waiting: f64,
    stalled: f64,
}

impl MemoryModel {
    /// The memory after `uptime` seconds at `rps` requests per second.
    pub(super) fn boot(uptime: f64, rps: f64, rng: &mut ChaCha8Rng) -> Self {
        // Whatever was paged out at boot-time peaks stays in swap: tens of MiB.
        let swap_rest = rng.random_range(0.02..0.06) * SWAP_BYTES as f64;
        let mut model = Self {
            free_share: rng.random_range(0.30..0.40),
            swap_rest,
            swap_used: swap_rest,
            pgfault: Counter::default(),
            pgmajfault: Counter::default(),
            waiting: 0.0,
            stalled: 0.0,
        };
        model.pgfault.add((MINFAULT_REST + MINFAULT_PER_REQUEST * rps) * uptime);
        model.pgmajfault.add(MAJFAULT_REST * uptime);
        model.waiting = 0.0005 * uptime;
        model.stalled = 0.0002 * uptime;
        model
    }

    /// One second at memory utilisation `memory`; returns the major faults of the second
    /// (pages read back from disk).
    pub(super) fn step(&mut self, memory: f64, rps: f64, jitter: f64) -> f64 {
        let thrash = thrash(memory);
        let majfaults = (MAJFAULT_REST + MAJFAULT_THRASH * thrash * thrash) * jitter;
        self.pgmajfault.add(majfaults);
        // Reclaim makes evicted pages fault back in as minor faults too.
        self.pgfault
            .add((MINFAULT_REST + MINFAULT_PER_REQUEST * rps + 20_000.0 * thrash) * jitter + majfaults);
        // Swap fills within a minute or two of thrashing and drains over an hour: the
        // kernel only swaps pages back in when they are touched.
        let target = self.swap_rest + SWAP_THRASH_SHARE * SWAP_BYTES as f64 * thrash;
        let rate = if target > self.swap_used { 1.0 / 60.0 } else { 1.0 / 3600.0 };
        self.swap_used += (target - self.swap_used) * rate;
        let waiting = 0.0005 + 0.8 * thrash * thrash;
        self.waiting += waiting;
        self.stalled += 0.4 * waiting;
        majfaults
    }

    /// /proc/meminfo at memory utilisation `memory`.
    pub(super) fn meminfo(&self, memory: f64) -> Memory {
        let memory = if memory.is_finite() { memory.clamp(0.0, 1.0) } else { 0.0 };
        let total = MEMORY_BYTES as f64;
        let available = total * (1.0 - memory);
        Memory {
            total: MEMORY_BYTES,
            available: available as u64,
            free: (available * self.free_share) as u64,
            buffers: (available * 0.05) as u64,
            cached: (available * 0.55 + SHMEM_BYTES) as u64,
            swap_total: SWAP_BYTES,
            swap_free: SWAP_BYTES - (self.swap_used as u64).min(SWAP_BYTES),
        }
    }

    /// Page faults and major page faults since boot.
    pub(super) fn faults(&self) -> (u64, u64) {
        (self.pgfault.get(), self.pgmajfault.get())
    }

    /// Memory pressure since boot: some task waiting, all tasks stalled.
    pub(super) fn pressure(&self) -> (f64, f64) {
        (self.waiting, self.stalled)
    }
}

/// How hard the host thrashes at memory utilisation `memory`, 0-1.
fn thrash(memory: f64) -> f64 {
    let t = ((memory - THRASH_ONSET) / (THRASH_FULL - THRASH_ONSET)).clamp(0.0, 1.0);
    if t.is_nan() { 0.0 } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Stream};

    #[test]
    fn free_is_part_of_available_and_available_follows_the_signal() {
        let model = MemoryModel::boot(100.0, 20.0, &mut rng::stream(3, Stream::Host));
        for m in [0.0, 0.4, 0.65, 0.99, 1.0] {
            let info = model.meminfo(m);
            assert_eq!(info.total, MEMORY_BYTES);
            assert!(info.free <= info.available && info.available <= info.total, "{info:?}");
            assert!((info.available as f64 / MEMORY_BYTES as f64 - (1.0 - m)).abs() < 1e-6);
        }
    }

    #[test]
    fn major_faults_trickle_at_rest_and_flood_when_thrashing() {
        let mut model = MemoryModel::boot(100.0, 20.0, &mut rng::stream(3, Stream::Host));
        assert!(model.step(0.65, 20.0, 1.0) < 1.0);
        assert!(model.step(0.99, 20.0, 1.0) > 2500.0);
        let swap_free_before = model.meminfo(0.5).swap_free;
        (0..120).for_each(|_| _ = model.step(0.99, 20.0, 1.0));
        assert!(model.meminfo(0.5).swap_free < swap_free_before / 2);
    }
}
