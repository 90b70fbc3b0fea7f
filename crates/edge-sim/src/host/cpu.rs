//! CPU time per core and mode, the run queue and the load averages: what
//! `node_cpu_seconds_total`, `node_load1/5/15`, `node_procs_running` and CPU pressure show.
//!
//! Each second every core's modes add up to exactly one second, and the cores' busy time
//! averages to the node's CPU signal, so `1 - avg(rate(idle))` is the signal itself.

use rand_chacha::ChaCha8Rng;

use super::{CORES, CpuMode, normal};

/// How busy time splits over the modes at rest, as on a VM serving HTTP: mostly user time,
/// a fifth in the kernel, some softirq for the network, a trace of steal from neighbours.
/// Sums to 1; iowait's share moves with disk pressure (see [`Cpu::step`]).
const BUSY_SHARES: [(CpuMode, f64); 7] = [
    (CpuMode::User, 0.62),
    (CpuMode::System, 0.20),
    (CpuMode::Iowait, REST_IOWAIT),
    (CpuMode::Softirq, 0.06),
    (CpuMode::Irq, 0.02),
    (CpuMode::Steal, 0.03),
    (CpuMode::Nice, 0.02),
];
/// iowait's share of busy time at rest: about 1 % of all time at the usual 25 % busy,
/// a tenth of what `HostCpuHighIowait` wants.
pub(super) const REST_IOWAIT: f64 = 0.05;
/// Cores differ by this much (standard deviation) around the node's utilisation.
const CORE_SPREAD: f64 = 0.04;
/// The user/system split wobbles by this much (standard deviation) from second to second.
const SPLIT_WOBBLE: f64 = 0.03;
/// Above this utilisation tasks start to wait for a core.
const QUEUE_ONSET: f64 = 0.8;
/// Tasks waiting per core at 100 % busy: under a saturating `cpu_spike` load per core passes
/// 2 (what `NodeSystemSaturation` looks for), while at rest (at most 70 %) nothing queues.
const QUEUE_AT_FULL: f64 = 3.0;
/// The windows of the three load averages, in seconds.
const LOAD_WINDOWS: [f64; 3] = [60.0, 300.0, 900.0];

/// The CPU state of the host.
#[derive(Debug, Clone)]
pub(super) struct Cpu {
    seconds: [[f64; 8]; CORES],
    load: [f64; 3],
    running: u64,
    waiting: f64,
}

impl Cpu {
    /// The CPU after `uptime` seconds at an average utilisation of `rest`.
    pub(super) fn boot(uptime: f64, rest: f64) -> Self {
        let runnable = rest * CORES as f64;
        let mut cpu = Self {
            seconds: [[0.0; 8]; CORES],
            load: [runnable; 3],
            running: 1,
            waiting: pressure(rest) * uptime,
        };
        cpu.add_time(&[rest; CORES], REST_IOWAIT, 0.0, uptime);
        cpu
    }

    /// One second at utilisation `cpu`: `iowait` is iowait's share of busy time and
    /// `blocked` the tasks waiting on I/O (the kernel counts both in the load).
    pub(super) fn step(&mut self, cpu: f64, iowait: f64, blocked: f64, rng: &mut ChaCha8Rng) {
        let cpu = if cpu.is_finite() { cpu.clamp(0.0, 1.0) } else { 0.0 };
        // Cores pair off, one above and one below the signal by the same amount, so their
        // average is the signal exactly; the spread never pushes a core past 0 or 1.
        let limit = cpu.min(1.0 - cpu);
        let spread = (CORE_SPREAD * normal(rng)).clamp(-limit, limit);
        let busy: [f64; CORES] = std::array::from_fn(|core| match core % 2 {
            _ if CORES % 2 == 1 && core == CORES - 1 => cpu,
            0 => cpu + spread,
            _ => cpu - spread,
        });
        let tilt = (SPLIT_WOBBLE * normal(rng)).clamp(-0.1, 0.1);
        self.add_time(&busy, iowait, tilt, 1.0);

        let mean = cpu * CORES as f64 + queue(cpu);
        // About Poisson: the count of runnable tasks at the sampling instant.
        let runnable = (mean + 0.5 * mean.sqrt() * normal(rng)).round().max(0.0);
        self.running = (runnable as u64).max(1);
        for (load, window) in self.load.iter_mut().zip(LOAD_WINDOWS) {
            // The kernel's exp(-5 s / window) every 5 s, taken per second.
            let decay = (-1.0 / window).exp();
            *load = *load * decay + (runnable + blocked) * (1.0 - decay);
        }
        self.waiting += pressure(cpu);
    }

    /// Adds `secs` seconds at `busy` per core.
    fn add_time(&mut self, busy: &[f64; CORES], iowait: f64, tilt: f64, secs: f64) {
        let iowait = iowait.clamp(0.0, 1.0);
        // The other modes share what iowait leaves, in their rest proportions.
        let scale = (1.0 - iowait) / (1.0 - REST_IOWAIT);
        for (row, &busy) in self.seconds.iter_mut().zip(busy) {
            for &(mode, share) in &BUSY_SHARES {
                let share = match mode {
                    CpuMode::Iowait => iowait,
                    CpuMode::User => (share + tilt) * scale,
                    CpuMode::System => (share - tilt) * scale,
                    _ => share * scale,
                };
                row[mode as usize] += busy * share * secs;
            }
            row[CpuMode::Idle as usize] += (1.0 - busy) * secs;
        }
    }

    pub(super) fn seconds(&self) -> [[f64; 8]; CORES] {
        self.seconds
    }

    pub(super) fn load(&self) -> [f64; 3] {
        self.load
    }

    pub(super) fn running(&self) -> u64 {
        self.running
    }

    pub(super) fn pressure_waiting(&self) -> f64 {
        self.waiting
    }
}

/// Tasks waiting for a core at utilisation `cpu`, on the whole host.
fn queue(cpu: f64) -> f64 {
    let over = ((cpu - QUEUE_ONSET) / (1.0 - QUEUE_ONSET)).max(0.0);
    CORES as f64 * QUEUE_AT_FULL * over * over
}

/// The share of a second some task waited for a CPU: a trace from wake-up latency, most of
/// the second once tasks queue.
fn pressure(cpu: f64) -> f64 {
    let q = queue(cpu);
    (0.02 * cpu + q / (q + CORES as f64)).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Stream};

    #[test]
    fn each_core_spends_exactly_each_second_and_averages_to_the_signal() {
        let mut rng = rng::stream(1, Stream::Host);
        let mut cpu = Cpu::boot(1000.0, 0.2);
        for (i, u) in [0.0, 0.03, 0.3, 0.55, 0.97, 1.0].into_iter().enumerate() {
            let before = cpu.seconds();
            cpu.step(u, 0.05 + 0.1 * i as f64, 0.0, &mut rng);
            let after = cpu.seconds();
            let mut idle = 0.0;
            for core in 0..CORES {
                let spent: f64 = (0..8).map(|m| after[core][m] - before[core][m]).sum();
                assert!((spent - 1.0).abs() < 1e-9, "core {core} at {u}: {spent}");
                assert!((0..8).all(|m| after[core][m] >= before[core][m]));
                idle += after[core][CpuMode::Idle as usize] - before[core][CpuMode::Idle as usize];
            }
            assert!((1.0 - idle / CORES as f64 - u).abs() < 1e-9, "busy {} vs {u}", 1.0 - idle / 2.0);
        }
    }

    #[test]
    fn tasks_queue_only_near_saturation() {
        assert_eq!(queue(0.7), 0.0);
        assert!((queue(1.0) - CORES as f64 * QUEUE_AT_FULL).abs() < 1e-12);
        assert!(pressure(0.5) < 0.02 && pressure(1.0) > 0.7);
    }
}
