//! CPU and memory utilisation of a node: a slow daily cycle, the load the node really
//! serves, mean-reverting noise, and the resource faults on top.
//!
//! The leaks (`memory_leak`, `oom_kill`) are the node process's own memory: they count from
//! the later of the fault's start and the process's start, and vanish while the process is
//! down (see [`Resources::signals_for`]).
//!
//! Steady state stays inside a documented envelope ([`STEADY_CPU_MAX`],
//! [`STEADY_MEMORY_MAX`]) far from any alert threshold, so a fleet at rest never alarms.

use std::f64::consts::TAU;
use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::Serialize;

use crate::catalog::FaultKind;
use crate::fault::FaultSet;
use crate::rng::{self, Stream};

/// One simulated "day": long enough to look like a diurnal curve on a dashboard,
/// short enough to see a whole cycle in a demo session.
pub const DAY_LENGTH: Duration = Duration::from_secs(3600);
/// Highest CPU utilisation without a fault, at any served load (at the default
/// 20 req/s it stays below 0.55). `HighCPUUsage` must sit well above it.
pub const STEADY_CPU_MAX: f64 = 0.70;
/// Highest memory utilisation without a fault. `HighMemoryUsage` must sit well above it.
pub const STEADY_MEMORY_MAX: f64 = 0.65;
/// A leak stops here: the node is thrashing but still answers.
pub const MEMORY_CEILING: f64 = 0.99;
/// CPU cost of one request per second: 20 req/s add 8 points.
const CPU_PER_RPS: f64 = 0.004;
/// Load beyond this adds no more CPU (the node sheds instead of melting).
const CPU_LOAD_CAP: f64 = 0.20;
/// Noise is a discrete Ornstein-Uhlenbeck process, stepped once per simulated second.
const REVERSION: f64 = 0.1;

/// Utilisation of one node at one instant, both 0-1 ratios.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Signals {
    /// CPU utilisation.
    pub cpu: f64,
    /// Memory utilisation.
    pub memory: f64,
}

/// A mean-reverting noise term, clamped to three standard deviations.
#[derive(Debug, Clone, Copy)]
struct Noise {
    value: f64,
    sigma: f64,
    limit: f64,
}

impl Noise {
    /// `sd` is the stationary standard deviation.
    fn new(sd: f64) -> Self {
        let sigma = sd * (1.0 - (1.0 - REVERSION) * (1.0 - REVERSION)).sqrt();
        Self { value: 0.0, sigma, limit: 3.0 * sd }
    }

    fn step(&mut self, rng: &mut ChaCha8Rng) {
        let shock: f64 = rng.sample(StandardNormal);
        self.value = (self.value * (1.0 - REVERSION) + self.sigma * shock).clamp(-self.limit, self.limit);
    }
}

/// The resource state of one node. Its randomness is its own stream of the node seed,
/// so the signal path depends only on (seed, time, load), never on request traffic.
#[derive(Debug, Clone)]
pub struct Resources {
    rng: ChaCha8Rng,
    ticks: u64,
    phase: f64,
    cpu_base: f64,
    memory_base: f64,
    cpu_noise: Noise,
    memory_noise: Noise,
    spike_noise: Noise,
    load_rps: f64,
}

impl Resources {
    /// A node's resources; `phase` (0-1) shifts its daily cycle (nodes in one region
    /// peak together).
    pub fn new(node_seed: u64, phase: f64) -> Self {
        let mut rng = rng::stream(node_seed, Stream::Drift);
        let cpu_base = rng.random_range(0.15..0.25);
        let memory_base = rng.random_range(0.35..0.55);
        Self {
            rng,
            ticks: 0,
            phase,
            cpu_base,
            memory_base,
            cpu_noise: Noise::new(0.02),
            memory_noise: Noise::new(0.003),
            spike_noise: Noise::new(0.007),
            load_rps: 0.0,
        }
    }

    /// Records the request rate the node is really serving; it costs CPU.
    pub fn set_load(&mut self, rps: f64) {
        self.load_rps = if rps.is_finite() { rps.max(0.0) } else { 0.0 };
    }

    /// The request rate last recorded by [`Self::set_load`].
    pub fn load_rps(&self) -> f64 {
        self.load_rps
    }

    /// The daily cycle at `now`: 0 at night, 1 at the peak.
    pub fn daily(&self, now: Duration) -> f64 {
        0.5 - 0.5 * (TAU * (now.as_secs_f64() / DAY_LENGTH.as_secs_f64() + self.phase)).cos()
    }

    /// Utilisation at `now` given the faults in force, for the node's first process (running
    /// since the node started); see [`Self::signals_for`].
    pub fn signals(&mut self, now: Duration, faults: &FaultSet) -> Signals {
        self.signals_for(now, faults, Some(Duration::ZERO))
    }

    /// Utilisation at `now` given the faults in force and the node's process: `Some(start)`
    /// while it runs (a leak counts from the later of its fault's start and `start`), `None`
    /// while it is down (its memory is free again, so memory is at the rest level). Memory
    /// that an `oom_kill` leak would take past physical memory comes out as 1.0: the caller
    /// (the host's OOM killer) ends the process then. Steps the noise up to `now` (time only
    /// moves forward; an earlier `now` reuses the current noise).
    pub fn signals_for(
        &mut self,
        now: Duration,
        faults: &FaultSet,
        process_since: Option<Duration>,
    ) -> Signals {
        while self.ticks < now.as_secs() {
            self.cpu_noise.step(&mut self.rng);
            self.memory_noise.step(&mut self.rng);
            self.spike_noise.step(&mut self.rng);
            self.ticks += 1;
        }
        let daily = self.daily(now);
        let load = (self.load_rps * CPU_PER_RPS).min(CPU_LOAD_CAP);
        let mut cpu = self.cpu_base + 0.15 * daily + load + self.cpu_noise.value;
        let mut memory = self.memory_base + 0.05 * daily + self.memory_noise.value;
        // How long a leak of a fault started at `start` has been filling this process.
        let leaking = |start: Duration| match process_since {
            Some(since) => now.saturating_sub(start.max(since)).as_secs_f64(),
            None => 0.0,
        };
        // The OOM leak is added after the capped `memory_leak` one: only it may run memory
        // out, and then the kernel, not a ceiling, stops it.
        let mut oom_leak = 0.0;

        for fault in faults.active(now) {
            match fault.kind {
                FaultKind::CpuSpike => {
                    let target = fault.intensity_or_default();
                    cpu = cpu.max((target + self.spike_noise.value).clamp(target - 0.02, 1.0));
                }
                FaultKind::MemoryLeak => {
                    let leaked = fault.intensity_or_default() * leaking(fault.started_at);
                    memory = (memory + leaked).min(MEMORY_CEILING);
                }
                FaultKind::OomKill => {
                    oom_leak = f64::max(oom_leak, fault.intensity_or_default() * leaking(fault.started_at));
                }
                FaultKind::LatencySpike
                | FaultKind::ErrorBurst
                | FaultKind::NodeCrash
                | FaultKind::DependencyFailure
                | FaultKind::FlakyNetwork
                | FaultKind::DiskFill => {}
            }
        }
        memory += oom_leak;
        Signals { cpu: cpu.clamp(0.0, 1.0), memory: memory.clamp(0.0, 1.0) }
    }
}
