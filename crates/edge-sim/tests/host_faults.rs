//! The host under faults, stepped second by second: `disk_fill` fills and releases the data
//! filesystem, `oom_kill` kills and restarts the process, `cpu_spike` builds a run queue,
//! `memory_leak` makes the host thrash; and, for any load and fault, the books balance.

mod common;

use common::{counters, node, secs, spec};
use edge_sim::host::{CORES, CpuMode, Filesystem, HostSnapshot, MEMORY_BYTES, Process, RESTART_GAP};
use edge_sim::{FaultKind, FaultSpec, NodeSim};
use proptest::prelude::*;

fn data(s: &HostSnapshot) -> &Filesystem {
    &s.filesystems[1]
}

/// iowait's share of busy CPU time between two snapshots.
fn iowait_share(a: &HostSnapshot, b: &HostSnapshot) -> f64 {
    let spent = |m: CpuMode| {
        (0..CORES).map(|c| b.cpu_seconds[c][m as usize] - a.cpu_seconds[c][m as usize]).sum::<f64>()
    };
    let busy: f64 = [CpuMode::User, CpuMode::System, CpuMode::Iowait, CpuMode::Irq, CpuMode::Softirq]
        .into_iter()
        .chain([CpuMode::Steal, CpuMode::Nice])
        .map(spent)
        .sum();
    spent(CpuMode::Iowait) / busy
}

#[test]
fn disk_fill_fills_at_its_rate_stays_full_and_is_released_when_it_ends() {
    for (seed, rate) in [(1, 0.01), (2, 0.05), (3, 0.002)] {
        let (mut sim, mut rng) = node(seed);
        // No traffic: nothing but the fault writes to the data filesystem, so the time is exact.
        sim.set_load(0.0);
        sim.advance(secs(90));
        let quiet = sim.host().clone();
        sim.advance(secs(100));
        let before = sim.host().clone();
        let ratio_before = sim.disk_used_ratio();
        assert!((0.3..0.4).contains(&ratio_before), "seed {seed}: {ratio_before}");
        let fill = FaultSpec { intensity: Some(rate), ..spec(FaultKind::DiskFill, 600.0) };
        sim.inject(&fill, secs(100), &mut rng).result.expect("valid");
        let per_second = rate * data(&before).size_bytes as f64;
        let full_at = 100 + (data(&before).avail_bytes as f64 / per_second).ceil() as u64;

        sim.advance(secs(full_at - 1));
        assert!(!sim.disk_full() && data(sim.host()).avail_bytes > 0, "seed {seed}: full early");
        let filling = sim.host().clone();
        let written = filling.disks[1].written_bytes - before.disks[1].written_bytes;
        assert!(written as f64 >= per_second * (full_at - 101) as f64, "seed {seed}: wrote {written}");
        assert!(iowait_share(&before, &filling) > 2.0 * iowait_share(&quiet, &before), "seed {seed}");
        let busy = |s: &HostSnapshot| s.disks[1].io_time_seconds;
        assert!(busy(&filling) - busy(&before) > 20.0 * (busy(&before) - busy(&quiet)), "seed {seed}");
        for t in full_at..700 {
            sim.advance(secs(t));
            assert!(sim.disk_full() && data(sim.host()).avail_bytes == 0, "seed {seed}: t={t} not full");
            assert_eq!(sim.disk_used_ratio(), 1.0);
        }
        // The fault expires at 700: the runaway file is gone.
        sim.advance(secs(700));
        assert!(!sim.disk_full());
        assert_eq!(data(sim.host()).avail_bytes, data(&before).avail_bytes, "seed {seed}: released");
        assert_eq!(sim.disk_used_ratio(), ratio_before);
    }
}

#[test]
fn disk_fill_replaced_keeps_what_it_wrote_and_cleared_releases_it_from_the_next_second() {
    let (mut sim, mut rng) = node(4);
    sim.set_load(0.0);
    sim.advance(secs(10));
    let before = data(sim.host()).clone();
    let size = before.size_bytes as f64;
    sim.inject(&spec(FaultKind::DiskFill, 600.0), secs(10), &mut rng).result.expect("valid");
    sim.advance(secs(39));
    let filled = data(sim.host()).avail_bytes;
    assert!((before.avail_bytes - filled) as f64 > 0.25 * size, "29 s at 1 %/s");
    // Injecting it again replaces it; its first second writes nothing, but what the first
    // one wrote stays.
    let again = sim.inject(&spec(FaultKind::DiskFill, 600.0), secs(40), &mut rng);
    let fault = again.result.expect("valid");
    assert_eq!(again.ended.len(), 1);
    sim.advance(secs(40));
    assert_eq!(data(sim.host()).avail_bytes, filled, "the replacement's first second");
    sim.advance(secs(45));
    assert!(data(sim.host()).avail_bytes < filled);
    sim.clear(fault.id, secs(45)).result.expect("active");
    sim.advance(secs(46));
    assert_eq!(data(sim.host()), &before);
    assert!(!sim.disk_full());
}

#[test]
fn oom_kill_kills_when_memory_runs_out_restarts_after_the_gap_and_kills_again_while_in_force() {
    let (mut sim, mut rng) = node(1);
    // The same node without the fault: its memory second by second is the rest level.
    let (mut twin, _) = node(1);
    let rest: Vec<f64> = (0..=400).map(|t| twin.signals(secs(t)).memory).collect();
    let leak = 0.05;

    // What the model promises, second by second: the leak climbs from the later of the
    // fault's start and the process's; memory reaching 1.0 is a kill, RESTART_GAP later a
    // new process, and memory is at rest while none runs.
    let gap = RESTART_GAP.as_secs();
    let mut expected = Process { restarts: 0, started_at: secs(0), down: false };
    let mut kills = Vec::new();
    for t in 1..=400u64 {
        if t == 60 {
            sim.inject(&spec(FaultKind::OomKill, 120.0), secs(60), &mut rng).result.expect("valid");
        }
        if expected.down && secs(t) >= expected.started_at {
            expected = Process { restarts: expected.restarts + 1, down: false, ..expected };
        }
        let since = expected.started_at.as_secs().max(60);
        let in_force = (60..180).contains(&t) && !expected.down;
        let mut memory =
            if in_force { rest[t as usize] + leak * (t - since) as f64 } else { rest[t as usize] };
        if memory >= 1.0 {
            kills.push(t);
            expected = Process { started_at: secs(t + gap), down: true, ..expected };
            memory = rest[t as usize];
        }
        let signals = sim.signals(secs(t));
        assert_eq!(sim.process(), expected, "t={t}");
        assert_eq!((sim.is_down(secs(t)), sim.is_crashed(secs(t))), (expected.down, false), "t={t}");
        assert_eq!(signals.memory, memory.min(1.0), "t={t}");
        let host = sim.host();
        assert_eq!(host.memory.available, (MEMORY_BYTES as f64 * (1.0 - memory)) as u64, "t={t}");
        assert_eq!(host.oom_kills, kills.len() as u64, "t={t}: kills are counted, never reset");
    }
    // From about 45 % at rest, 5 %/s runs memory out in about 11 s; each kill frees it and
    // the next process leaks again from its own start.
    assert!((70..=73).contains(&kills[0]), "{kills:?}");
    assert!(kills.windows(2).all(|w| (w[1] - w[0]).abs_diff(gap + 11) <= 2), "{kills:?}");
    assert!(kills.len() >= 6 && kills.iter().all(|&k| k < 180), "{kills:?}");
    assert_eq!(sim.process().restarts as usize, kills.len());
}

#[test]
fn memory_leak_alone_never_kills() {
    let (mut sim, mut rng) = node(2);
    sim.inject(&spec(FaultKind::MemoryLeak, 900.0), secs(10), &mut rng).result.expect("valid");
    sim.advance(secs(1_000));
    assert_eq!((sim.host().oom_kills, sim.process().restarts), (0, 0));
}

#[test]
fn cpu_spike_builds_a_run_queue_beyond_the_cores() {
    let (mut sim, mut rng) = node(3);
    sim.advance(secs(100));
    assert!(sim.host().load[0] < CORES as f64 * 0.75, "{:?}", sim.host().load);
    sim.inject(&spec(FaultKind::CpuSpike, 600.0), secs(100), &mut rng).result.expect("valid");
    sim.advance(secs(400));
    let load = sim.host().load;
    assert!(load[0] / CORES as f64 > 2.0, "load1 per core passes NodeSystemSaturation's 2: {load:?}");
    assert!(load[0] > load[1] && load[1] > load[2] && load[2] > CORES as f64 * 0.75, "{load:?}");
    assert!(sim.host().procs_running > CORES as u64);
    sim.advance(secs(1_300));
    assert!(sim.host().load[0] < CORES as f64 * 0.75, "the queue drains: {:?}", sim.host().load);
}

#[test]
fn memory_leak_at_its_ceiling_thrashes() {
    let (mut sim, mut rng) = node(4);
    sim.advance(secs(100));
    let rest = sim.host().clone();
    sim.inject(&spec(FaultKind::MemoryLeak, 900.0), secs(100), &mut rng).result.expect("valid");
    sim.advance(secs(400));
    let mid = sim.host().clone();
    sim.advance(secs(700));
    let end = sim.host();
    let majfaults = (end.pgmajfault - mid.pgmajfault) as f64 / 300.0;
    assert!(majfaults > 500.0, "NodeMemoryMajorPagesFaults: {majfaults}/s");
    assert!(((mid.pgmajfault - rest.pgmajfault) as f64 / 300.0) > 100.0);
    assert!(end.memory.swap_free < rest.memory.swap_free / 2);
    let stalled = end.pressure_memory_waiting_seconds - mid.pressure_memory_waiting_seconds;
    assert!(stalled > 0.5 * 300.0, "memory pressure: {stalled}");
    assert!(end.memory.available < end.memory.total / 50);
}

// ---- any load, any fault: the books balance ------------------------------------------------

fn any_fault() -> impl Strategy<Value = Option<(FaultKind, u64, f64, f64)>> {
    let kinds = [FaultKind::DiskFill, FaultKind::OomKill, FaultKind::CpuSpike, FaultKind::MemoryLeak];
    proptest::option::of((0..kinds.len(), 1..600u64, 1.0..600.0, 0.0..1.0)).prop_map(move |f| {
        f.map(|(k, start, duration, x)| {
            let range = kinds[k].intensity().expect("takes an intensity");
            (kinds[k], start, duration, range.min + x * (range.max - range.min))
        })
    })
}

fn check_invariants(sim: &NodeSim, prev: &HostSnapshot, t: u64) -> Result<(), TestCaseError> {
    let s = sim.host();
    let elapsed = s.booted_before_start.as_secs_f64() + t as f64;
    for (a, b) in counters(prev).into_iter().zip(counters(s)) {
        prop_assert!(b >= a, "t={}: a counter fell from {} to {}", t, a, b);
    }
    for core in &s.cpu_seconds {
        prop_assert!((core.iter().sum::<f64>() - elapsed).abs() < 1e-5);
    }
    for fs in &s.filesystems {
        prop_assert!(fs.avail_bytes <= fs.free_bytes && fs.free_bytes <= fs.size_bytes);
    }
    prop_assert!(s.memory.free <= s.memory.available && s.memory.available <= s.memory.total);
    for d in &s.disks {
        prop_assert!(d.io_time_seconds <= elapsed && d.io_time_seconds <= d.io_time_weighted_seconds);
    }
    prop_assert!((0.0..=1.0).contains(&sim.disk_used_ratio()));
    prop_assert_eq!(sim.process().down, sim.is_down(secs(t)));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_load_and_fault_keeps_the_books(
        seed in any::<u64>(),
        loads in proptest::collection::vec(0.0..2_000.0f64, 1..12),
        fault in any_fault(),
    ) {
        let (mut sim, mut rng) = node(seed);
        let mut prev = sim.host().clone();
        for t in 1..=900u64 {
            if let Some((kind, start, duration, intensity)) = fault.filter(|f| f.1 == t) {
                let spec = FaultSpec { intensity: Some(intensity), ..spec(kind, duration) };
                sim.inject(&spec, secs(start), &mut rng).result.expect("valid");
            }
            sim.set_load(loads[(t / 75) as usize % loads.len()]);
            sim.advance(secs(t));
            check_invariants(&sim, &prev, t)?;
            prev = sim.host().clone();
        }
    }
}
