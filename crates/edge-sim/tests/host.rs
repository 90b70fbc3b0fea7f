//! The host under a node over simulated days: counters only grow, the books balance (CPU
//! modes, filesystem space, memory), and a node at rest trips none of the common host
//! alert rules, each computed here as its PromQL computes it.

mod common;

use std::collections::VecDeque;
use std::time::Duration;

use common::{DEFAULT_RPS, counters, node, secs, spec};
use edge_sim::host::{CORES, CpuMode, HostSnapshot};
use edge_sim::resources::Resources;
use edge_sim::{FaultKind, FaultSpec};

const DAY: u64 = 24 * 3600;

/// The worst value of each rule's expression over a day at rest.
#[derive(Debug, Default)]
struct Worst {
    cpu_busy_5m: f64,
    memory_available_min: f64,
    swap_used: f64,
    fs_avail_min: f64,
    fs_predicted_24h_min: f64,
    inodes_free_min: f64,
    load1_per_core: f64,
    majfaults_5m: f64,
    oom_kills: u64,
    network_errs_ratio: f64,
    disk_io_util_5m: f64,
    disk_weighted_5m: f64,
    disk_latency_5m: f64,
    iowait_5m: f64,
    steal_5m: f64,
    clock_offset: f64,
    filefd_ratio: f64,
    conntrack_ratio: f64,
}

/// `rate(x[5m])` from the sample five minutes back.
fn rate_5m(window: &VecDeque<HostSnapshot>, f: impl Fn(&HostSnapshot) -> f64) -> f64 {
    let (Some(old), Some(new)) = (window.front(), window.back()) else { return 0.0 };
    (f(new) - f(old)) / (window.len() - 1) as f64
}

fn cpu_mode(s: &HostSnapshot, mode: CpuMode) -> f64 {
    s.cpu_seconds.iter().map(|core| core[mode as usize]).sum::<f64>() / CORES as f64
}

/// `predict_linear(y[window], ahead)` over one sample per second: the least-squares line
/// through the window, read `ahead` seconds after its last sample.
fn predict_linear(ys: &[f64], ahead: f64) -> f64 {
    let n = ys.len() as f64;
    let mean_t = (n - 1.0) / 2.0;
    let mean_y = ys.iter().sum::<f64>() / n;
    let (num, den) = ys.iter().enumerate().fold((0.0, 0.0), |(num, den), (t, y)| {
        let dt = t as f64 - mean_t;
        (num + dt * (y - mean_y), den + dt * dt)
    });
    mean_y + num / den * (mean_t + ahead)
}

fn rest_day(seed: u64) -> Worst {
    let (mut sim, _) = node(seed);
    let mut w =
        Worst { memory_available_min: 1.0, fs_avail_min: 1.0, inodes_free_min: 1.0, ..Worst::default() };
    w.fs_predicted_24h_min = f64::INFINITY;
    let mut window = VecDeque::with_capacity(301);
    let mut avail: [Vec<f64>; 2] = [Vec::with_capacity(DAY as usize), Vec::with_capacity(DAY as usize)];
    let oom_at_start = sim.host().oom_kills;
    for t in 1..=DAY {
        sim.advance(secs(t));
        let s = sim.host().clone();
        let m = s.memory;
        w.memory_available_min = w.memory_available_min.min(m.available as f64 / m.total as f64);
        w.swap_used = w.swap_used.max(1.0 - m.swap_free as f64 / m.swap_total as f64);
        for (i, fs) in s.filesystems.iter().enumerate() {
            w.fs_avail_min = w.fs_avail_min.min(fs.avail_bytes as f64 / fs.size_bytes as f64);
            w.inodes_free_min = w.inodes_free_min.min(fs.files_free as f64 / fs.files as f64);
            avail[i].push(fs.avail_bytes as f64);
            if t % 600 == 0 && t >= 6 * 3600 {
                let last_6h = &avail[i][avail[i].len() - 6 * 3600..];
                w.fs_predicted_24h_min = w.fs_predicted_24h_min.min(predict_linear(last_6h, 86_400.0));
            }
        }
        w.load1_per_core = w.load1_per_core.max(s.load[0] / CORES as f64);
        w.clock_offset = w.clock_offset.max(s.timex_offset_seconds.abs());
        assert!(s.timex_sync_status);
        w.filefd_ratio = w.filefd_ratio.max(s.filefd_allocated as f64 / s.filefd_maximum as f64);
        w.conntrack_ratio = w.conntrack_ratio.max(s.conntrack_entries as f64 / s.conntrack_limit as f64);
        w.oom_kills = s.oom_kills - oom_at_start;
        window.push_back(s);
        if window.len() > 301 {
            window.pop_front();
        }
        if window.len() == 301 {
            let idle = rate_5m(&window, |s| cpu_mode(s, CpuMode::Idle));
            w.cpu_busy_5m = w.cpu_busy_5m.max(1.0 - idle);
            w.iowait_5m = w.iowait_5m.max(rate_5m(&window, |s| cpu_mode(s, CpuMode::Iowait)));
            w.steal_5m = w.steal_5m.max(rate_5m(&window, |s| cpu_mode(s, CpuMode::Steal)));
            w.majfaults_5m = w.majfaults_5m.max(rate_5m(&window, |s| s.pgmajfault as f64));
            let errs = rate_5m(&window, |s| (s.network[0].receive_errs + s.network[0].transmit_errs) as f64);
            let drops = rate_5m(&window, |s| s.network[0].receive_drop as f64);
            let packets = rate_5m(&window, |s| s.network[0].receive_packets as f64);
            w.network_errs_ratio = w.network_errs_ratio.max((errs + drops) / packets);
            for d in 0..2 {
                let util = rate_5m(&window, |s| s.disks[d].io_time_seconds);
                let weighted = rate_5m(&window, |s| s.disks[d].io_time_weighted_seconds);
                let ops =
                    rate_5m(&window, |s| (s.disks[d].reads_completed + s.disks[d].writes_completed) as f64);
                let time = rate_5m(&window, |s| s.disks[d].read_time_seconds + s.disks[d].write_time_seconds);
                w.disk_io_util_5m = w.disk_io_util_5m.max(util);
                w.disk_weighted_5m = w.disk_weighted_5m.max(weighted);
                w.disk_latency_5m = w.disk_latency_5m.max(time / ops);
            }
        }
    }
    w
}

#[test]
fn a_day_at_rest_trips_no_host_alert_rule() {
    for seed in [1, 2, 3] {
        let w = rest_day(seed);
        let ok = w.cpu_busy_5m < 0.6 // HostHighCpuLoad / NodeCPUHighUsage: 80 %, 90 %
            && w.memory_available_min > 0.3 // HostOutOfMemory: < 10 %
            && w.swap_used < 0.1 // HostSwapIsFillingUp: > 80 %
            && w.fs_avail_min > 0.4 // NodeFilesystemSpaceFillingUp needs < 40 %
            && w.fs_predicted_24h_min > 1e9 // predict_linear(avail[6h], 24h) < 0
            && w.inodes_free_min > 0.7
            && w.load1_per_core < 0.75 // well below the cores (NodeSystemSaturation: > 2)
            && w.majfaults_5m < 5.0 // NodeMemoryMajorPagesFaults: > 500/s
            && w.oom_kills == 0 // HostOomKillDetected
            && w.network_errs_ratio < 0.001 // Host/NodeNetwork*Errs: > 1 %
            && w.disk_io_util_5m < 0.05 // HostUnusualDiskIo: > 80 %
            && w.disk_weighted_5m < 0.1 // NodeDiskIOSaturation: > 10
            && w.disk_latency_5m < 0.005 // HostUnusualDisk*Latency: > 100 ms
            && w.iowait_5m < 0.05 // HostCpuHighIowait: > 10 %
            && w.steal_5m < 0.05 // HostCpuStealNoisyNeighbor: > 10 %
            && w.clock_offset < 0.001 // NodeClockSkewDetected: > 50 ms
            && w.filefd_ratio < 0.05 // NodeFileDescriptorLimit: > 70 %
            && w.conntrack_ratio < 0.05; // NodeHighNumberConntrackEntriesUsed: > 75 %
        assert!(ok, "seed {seed}: {w:#?}");
    }
}

#[test]
fn counters_only_grow_and_the_books_balance_through_a_day_with_faults() {
    for seed in [4, 5, 6] {
        let (mut sim, mut rng) = node(seed);
        let schedule = [
            (600, FaultKind::CpuSpike, 600.0),
            (3_000, FaultKind::DiskFill, 300.0),
            (9_000, FaultKind::OomKill, 900.0),
            (20_000, FaultKind::MemoryLeak, 1_200.0),
            (40_000, FaultKind::FlakyNetwork, 600.0),
        ];
        let mut prev = sim.host().clone();
        let boot = prev.booted_before_start.as_secs_f64();
        for t in 1..=DAY {
            if let Some(&(_, kind, d)) = schedule.iter().find(|(at, ..)| *at == t) {
                sim.inject(&spec(kind, d), secs(t), &mut rng).result.expect("valid");
            }
            sim.set_load(DEFAULT_RPS * (1.0 + (t % 7) as f64 / 7.0));
            let cpu = sim.signals(secs(t)).cpu;
            let s = sim.host();
            for (i, (a, b)) in counters(&prev).into_iter().zip(counters(s)).enumerate() {
                assert!(b >= a, "seed {seed} t={t}: counter {i} fell from {a} to {b}");
            }
            for core in &s.cpu_seconds {
                let total: f64 = core.iter().sum();
                assert!(
                    (total - boot - t as f64).abs() < 1e-4,
                    "seed {seed} t={t}: {total} vs {}",
                    boot + t as f64
                );
            }
            let busy = 1.0 - (cpu_mode(s, CpuMode::Idle) - cpu_mode(&prev, CpuMode::Idle));
            assert!((busy - cpu).abs() < 1e-6, "seed {seed} t={t}: busy {busy} vs signal {cpu}");
            for fs in &s.filesystems {
                assert!(fs.avail_bytes <= fs.free_bytes && fs.free_bytes <= fs.size_bytes, "{fs:?}");
                assert!(fs.files_free <= fs.files);
            }
            let m = s.memory;
            assert!(m.free <= m.available && m.available <= m.total && m.swap_free <= m.swap_total, "{m:?}");
            for d in &s.disks {
                assert!(
                    d.io_time_seconds <= boot + t as f64 && d.io_time_seconds <= d.io_time_weighted_seconds
                );
            }
            prev = s.clone();
        }
    }
}

#[test]
fn the_host_has_been_up_a_while_when_the_node_starts() {
    let (sim, _) = node(1);
    let s = sim.host();
    let up = s.booted_before_start.as_secs();
    assert!((86_400..30 * 86_400).contains(&up), "{up}");
    assert!(s.cpu_seconds.iter().all(|core| core[CpuMode::Idle as usize] > 0.5 * up as f64));
    assert!(s.context_switches > up * 1000 && s.network[0].receive_bytes > up * 2000);
    assert!(s.disks.iter().all(|d| d.writes_completed > up && d.io_time_seconds > 0.0));
    assert_eq!((s.oom_kills, s.filesystems.len(), s.disks.len(), s.network.len()), (0, 2, 2, 1));
    assert_eq!((s.filesystems[0].mountpoint, s.filesystems[1].mountpoint), ("/", "/var/lib/edge"));
}

#[test]
fn the_same_seed_gives_the_same_host_and_the_host_leaves_the_signals_alone() {
    let run = |seed| {
        let (mut sim, mut rng) = node(seed);
        let leak = FaultSpec { intensity: Some(0.1), ..spec(FaultKind::OomKill, 60.0) };
        sim.inject(&leak, secs(100), &mut rng).result.expect("valid");
        sim.set_load(55.0);
        sim.advance(secs(2_000));
        sim.host().clone()
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));

    // The host draws from a stream of its own: the signals are those of the resources alone.
    let (mut sim, _) = node(13);
    let mut resources = Resources::new(common::seed(13), common::PHASE);
    resources.set_load(DEFAULT_RPS);
    for t in 0..3_000 {
        assert_eq!(sim.signals(secs(t)), resources.signals(secs(t), &edge_sim::FaultSet::new()));
    }
}

#[test]
fn advance_steps_whole_seconds_once_and_never_back() {
    let (mut sim, _) = node(14);
    let start = sim.host().clone();
    let m = sim.signals(secs(0)).memory;
    assert_eq!(start.memory.available, (edge_sim::host::MEMORY_BYTES as f64 * (1.0 - m)) as u64);
    sim.advance(Duration::from_millis(999));
    assert_eq!(sim.host(), &start, "no whole second has passed");
    sim.advance(secs(50));
    let at_50 = sim.host().clone();
    assert_ne!(at_50, start);
    for earlier in [secs(50), secs(10), Duration::from_millis(50_700)] {
        sim.advance(earlier);
        assert_eq!(sim.host(), &at_50, "{earlier:?}");
    }
    let core0 = |s: &HostSnapshot| s.cpu_seconds[0].iter().sum::<f64>();
    assert!((core0(&at_50) - core0(&start) - 50.0).abs() < 1e-6, "fifty seconds, once");
}
