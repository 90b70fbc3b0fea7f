//! The model, stepped through simulated time with fixed seeds: each mode's effect and
//! expiry, overlap, reproducibility and the steady-state envelope.

use std::time::Duration;

use edge_sim::request::{Step, median_latency};
use edge_sim::resources::{MEMORY_CEILING, STEADY_CPU_MAX, STEADY_MEMORY_MAX};
use edge_sim::rng::{self, Stream};
use edge_sim::{FaultKind, FaultSpec, NodeParams, NodeSim, Service, StepFailure};
use rand_chacha::ChaCha8Rng;

/// The generator's default rate: the steady-state figures below assume it.
const DEFAULT_RPS: f64 = 20.0;

fn node(seed: u64) -> (NodeSim, ChaCha8Rng) {
    let seed = rng::node_seed(seed, 3);
    let mut sim = NodeSim::new(NodeParams { seed, phase: 0.25 });
    sim.set_load(DEFAULT_RPS);
    (sim, rng::stream(seed, Stream::Requests))
}

fn spec(kind: FaultKind, duration_s: f64) -> FaultSpec {
    FaultSpec { kind, duration_s, intensity: None, service: None }
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn quantile(mut xs: Vec<f64>, q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[((xs.len() - 1) as f64 * q).round() as usize]
}

#[test]
fn twenty_four_simulated_hours_at_rest_stay_inside_the_steady_envelope() {
    for seed in [1, 2, 3] {
        let (mut sim, mut rng) = node(seed);
        let (mut max_cpu, mut max_mem, mut min_cpu) = (0.0_f64, 0.0_f64, 1.0_f64);
        let mut worst_error_ratio = 0.0_f64;
        let mut worst_p95 = 0.0_f64;
        for minute in 0..24 * 60 {
            let mut latencies = Vec::with_capacity(1200);
            let mut errors_per_10s = [0u32; 6];
            for s in 0..60u64 {
                let now = secs(minute * 60 + s);
                let signals = sim.signals(now);
                max_cpu = max_cpu.max(signals.cpu);
                min_cpu = min_cpu.min(signals.cpu);
                max_mem = max_mem.max(signals.memory);
                for _ in 0..DEFAULT_RPS as usize {
                    let plan = sim.plan_entry(Service::Products, now, &mut rng);
                    latencies.push(plan.delay.as_secs_f64());
                    errors_per_10s[(s / 10) as usize] += u32::from(plan.failure.is_some());
                }
            }
            worst_p95 = worst_p95.max(quantile(latencies, 0.95));
            let worst = errors_per_10s.iter().max().copied().unwrap_or(0);
            worst_error_ratio = worst_error_ratio.max(f64::from(worst) / (10.0 * DEFAULT_RPS));
        }
        assert!(max_cpu <= 0.55, "seed {seed}: CPU at the default rate peaked at {max_cpu:.3}");
        assert!(min_cpu >= 0.05, "seed {seed}: CPU fell to {min_cpu:.3}, a dead-looking node");
        assert!(max_cpu < STEADY_CPU_MAX && max_mem < STEADY_MEMORY_MAX, "seed {seed}: {max_cpu} {max_mem}");
        assert!(worst_p95 < 0.1, "seed {seed}: products p95 reached {worst_p95:.3}s in a minute");
        assert_eq!(worst_error_ratio, 0.0, "seed {seed}: a healthy node serves no 5xx");
    }
}

#[test]
fn the_daily_cycle_really_moves_cpu() {
    let (mut sim, _) = node(5);
    let samples: Vec<f64> = (0..3600).step_by(60).map(|s| sim.signals(secs(s)).cpu).collect();
    let spread = quantile(samples.clone(), 0.95) - quantile(samples, 0.05);
    assert!(spread > 0.08, "CPU barely moves over a day: {spread:.3}");
}

#[test]
fn the_busier_the_node_the_higher_its_cpu_but_load_alone_stays_under_the_envelope() {
    let (mut idle, _) = node(8);
    let (mut busy, _) = node(8);
    idle.set_load(0.0);
    busy.set_load(10_000.0);
    let (a, b) = (idle.signals(secs(100)).cpu, busy.signals(secs(100)).cpu);
    assert!((b - a - 0.20).abs() < 1e-9, "load adds a capped 0.20: {a} -> {b}");
    assert!(b < STEADY_CPU_MAX);
}

#[test]
fn the_same_seed_gives_the_same_signals_and_plans() {
    let run = |seed| {
        let (mut sim, mut rng) = node(seed);
        sim.inject(&spec(FaultKind::ErrorBurst, 60.0), secs(30), &mut rng).result.expect("valid");
        (0..120)
            .map(|s| (sim.signals(secs(s)), sim.plan_entry(Service::Orders, secs(s), &mut rng)))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
}

#[test]
fn cpu_spike_pins_cpu_at_95_to_100_percent_slows_requests_and_ends_on_time() {
    let (mut sim, mut rng) = node(1);
    sim.inject(&spec(FaultKind::CpuSpike, 30.0), secs(100), &mut rng).result.expect("valid");
    for s in 100..130 {
        let cpu = sim.signals(secs(s)).cpu;
        assert!((0.93..=1.0).contains(&cpu), "t={s} cpu={cpu}");
    }
    let median = |sim: &mut NodeSim, rng: &mut ChaCha8Rng, t| {
        quantile(
            (0..2000).map(|_| sim.plan_entry(Service::Products, secs(t), rng).delay.as_secs_f64()).collect(),
            0.5,
        )
    };
    let slow = median(&mut sim, &mut rng, 110);
    let normal = median(&mut sim, &mut rng, 130);
    assert!(slow / normal > 1.6 && slow / normal < 2.2, "slowdown {:.2}", slow / normal);
    assert!(sim.signals(secs(130)).cpu < STEADY_CPU_MAX);
    assert_eq!(sim.expire(secs(130)).len(), 1);
}

#[test]
fn memory_leak_climbs_at_its_rate_to_the_ceiling_and_is_released_when_it_ends() {
    let (mut sim, mut rng) = node(2);
    let before = sim.signals(secs(59)).memory;
    sim.inject(&spec(FaultKind::MemoryLeak, 120.0), secs(60), &mut rng).result.expect("valid");
    let after_20s = sim.signals(secs(80)).memory;
    assert!((after_20s - before - 0.20).abs() < 0.03, "1 %/s for 20 s: {before} -> {after_20s}");
    let mut last = 0.0;
    for s in 60..180 {
        let m = sim.signals(secs(s)).memory;
        assert!(m + 0.02 >= last, "leak never falls back while active: {last} -> {m} at {s}");
        last = m;
    }
    assert_eq!(last, MEMORY_CEILING);
    assert!(sim.signals(secs(180)).memory < STEADY_MEMORY_MAX, "released at expiry");
}

#[test]
fn latency_spike_multiplies_latency_by_ten_or_its_intensity_and_can_target_one_service() {
    let (mut sim, mut rng) = node(3);
    let targeted = FaultSpec {
        service: Some(Service::Payments),
        intensity: Some(4.0),
        ..spec(FaultKind::LatencySpike, 60.0)
    };
    sim.inject(&spec(FaultKind::LatencySpike, 60.0), secs(0), &mut rng).result.expect("valid");
    let med = |sim: &mut NodeSim, rng: &mut ChaCha8Rng, step| {
        quantile((0..4000).map(|_| sim.plan(step, true, secs(10), rng).delay.as_secs_f64()).collect(), 0.5)
    };
    for step in [Step::Service(Service::Products), Step::Service(Service::Orders), Step::Gateway] {
        let ratio = med(&mut sim, &mut rng, step) / median_latency(step).as_secs_f64();
        assert!((9.0..11.0).contains(&ratio), "{step:?}: x{ratio:.2}, every step of a request is slowed");
    }
    let base = median_latency(Step::Service(Service::Products)).as_secs_f64();

    let (mut sim, mut rng) = node(3);
    sim.inject(&targeted, secs(0), &mut rng).result.expect("valid");
    let products = med(&mut sim, &mut rng, Step::Service(Service::Products)) / base;
    let payments = med(&mut sim, &mut rng, Step::Service(Service::Payments))
        / median_latency(Step::Service(Service::Payments)).as_secs_f64();
    let gateway = med(&mut sim, &mut rng, Step::Gateway) / median_latency(Step::Gateway).as_secs_f64();
    assert!((0.9..1.1).contains(&products) && (3.6..4.4).contains(&payments), "{products} {payments}");
    assert!((3.6..4.4).contains(&gateway), "the gateway call belongs to payments: x{gateway:.2}");
}

#[test]
fn error_burst_fails_its_fraction_of_requests_once_per_request() {
    let (mut sim, mut rng) = node(4);
    let s = FaultSpec { intensity: Some(0.3), ..spec(FaultKind::ErrorBurst, 60.0) };
    sim.inject(&s, secs(0), &mut rng).result.expect("valid");
    let n = 20_000;
    let entry =
        (0..n).filter(|_| sim.plan_entry(Service::Orders, secs(5), &mut rng).failure.is_some()).count();
    let inner = (0..n)
        .filter(|_| sim.plan(Step::Service(Service::Payments), false, secs(5), &mut rng).failure.is_some())
        .count();
    let ratio = entry as f64 / n as f64;
    assert!((0.28..0.32).contains(&ratio), "{ratio}");
    assert_eq!(inner, 0, "a node-wide burst fails a request once, at its entry step");
    let plan = sim.plan_entry(Service::Orders, secs(60), &mut rng);
    assert_ne!(plan.failure, Some(StepFailure::Injected(FaultKind::ErrorBurst)));
}

#[test]
fn node_crash_is_on_for_its_duration_only() {
    let (mut sim, mut rng) = node(5);
    sim.inject(&spec(FaultKind::NodeCrash, 10.0), secs(20), &mut rng).result.expect("valid");
    assert!(!sim.is_crashed(secs(19)) && sim.is_crashed(secs(20)) && sim.is_crashed(secs(29)));
    assert!(!sim.is_crashed(secs(30)));
}

#[test]
fn dependency_failure_fails_gateway_calls_only() {
    let (mut sim, mut rng) = node(6);
    sim.inject(&spec(FaultKind::DependencyFailure, 60.0), secs(0), &mut rng).result.expect("valid");
    for _ in 0..500 {
        assert_eq!(sim.plan(Step::Gateway, false, secs(1), &mut rng).failure, Some(StepFailure::Upstream));
        assert_ne!(sim.plan_entry(Service::Products, secs(1), &mut rng).failure, Some(StepFailure::Upstream));
    }
    let healthy =
        (0..10_000).filter(|_| sim.plan(Step::Gateway, false, secs(61), &mut rng).failure.is_some()).count();
    assert!(healthy < 20, "{healthy}");
}

#[test]
fn flaky_network_stalls_its_fraction_for_one_to_three_seconds() {
    let (mut sim, mut rng) = node(7);
    assert_eq!(sim.network_stall(secs(0), &mut rng), None);
    sim.inject(&spec(FaultKind::FlakyNetwork, 60.0), secs(0), &mut rng).result.expect("valid");
    let stalls: Vec<Duration> = (0..10_000).filter_map(|_| sim.network_stall(secs(1), &mut rng)).collect();
    let ratio = stalls.len() as f64 / 10_000.0;
    assert!((0.27..0.33).contains(&ratio), "{ratio}");
    assert!(stalls.iter().all(|d| *d >= secs(1) && *d < secs(3)));
}

#[test]
fn overlapping_faults_combine_and_each_expires_on_its_own() {
    let (mut sim, mut rng) = node(8);
    sim.inject(&spec(FaultKind::CpuSpike, 20.0), secs(0), &mut rng).result.expect("valid");
    sim.inject(&spec(FaultKind::MemoryLeak, 40.0), secs(10), &mut rng).result.expect("valid");
    let both = sim.signals(secs(19));
    assert!(both.cpu > 0.9 && both.memory > 0.5);
    let leak_only = sim.signals(secs(25));
    assert!(leak_only.cpu < STEADY_CPU_MAX && leak_only.memory > both.memory);
    assert_eq!(
        sim.expire(secs(25)).iter().map(|e| e.fault.kind).collect::<Vec<_>>(),
        vec![FaultKind::CpuSpike]
    );
    assert_eq!(sim.faults().active(secs(25)).count(), 1);
}

/// `MemoryLeakPredicted` extrapolates the last 10 s of memory 120 s ahead
/// (prometheus/rules/alerts.yml). At rest that extrapolation must stay far from 1.
#[test]
fn resting_memory_is_flat_enough_that_no_leak_is_ever_predicted() {
    for seed in [1, 2, 3] {
        let (mut sim, _) = node(seed);
        let mut window = std::collections::VecDeque::with_capacity(10);
        let mut worst = 0.0_f64;
        for s in 0..24 * 3600 {
            window.push_back(sim.signals(secs(s)).memory);
            if window.len() > 10 {
                window.pop_front();
            }
            if window.len() == 10 {
                // Least-squares slope over t = 0..9, as predict_linear does.
                let mean_y = window.iter().sum::<f64>() / 10.0;
                let (num, den) = window.iter().enumerate().fold((0.0, 0.0), |(n, d), (t, y)| {
                    let dt = t as f64 - 4.5;
                    (n + dt * (y - mean_y), d + dt * dt)
                });
                let predicted = mean_y + num / den * (4.5 + 120.0);
                worst = worst.max(predicted);
            }
        }
        assert!(worst < 0.85, "seed {seed}: resting memory extrapolated to {worst:.3} in 120 s");
    }
}
