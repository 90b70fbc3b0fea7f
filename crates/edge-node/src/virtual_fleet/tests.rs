//! The virtual fleet against the live one, and what its stream must hold.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use edge_sim::{FaultKind, FaultSpec};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::*;
use crate::state::NodeState;

const START_UNIX: f64 = 1_767_225_600.0; // 2026-01-01T00:00:00Z
const SEED: u64 = 7;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn fault(node: u32, kind: FaultKind, start: u64, duration_s: f64, intensity: Option<f64>) -> PlannedFault {
    PlannedFault { node, spec: FaultSpec { kind, duration_s, intensity, service: None }, start: secs(start) }
}

/// One parsed sample of the stream: name, labels (sorted), value, timestamp in ms.
#[derive(Debug, Clone)]
struct Point {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
    ts_ms: i64,
}

fn run(spec: &FleetSpec) -> (String, RunStats) {
    let mut out = Vec::new();
    let stats = write_openmetrics(spec, &mut out).expect("the run");
    (String::from_utf8(out).expect("utf-8"), stats)
}

fn points(text: &str) -> Vec<Point> {
    assert!(text.ends_with("# EOF\n"), "the stream ends with # EOF");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|line| {
            let (sample, ts) = line.rsplit_once(' ').expect("a timestamp");
            let parsed = exposition::Metrics::parse(sample).expect("a sample");
            let s = &parsed.samples()[0];
            let ts: f64 = ts.parse().expect("seconds");
            Point {
                name: s.name.clone(),
                labels: s.labels.iter().cloned().collect(),
                value: s.value,
                ts_ms: (ts * 1000.0).round() as i64,
            }
        })
        .collect()
}

fn ms(at: u64) -> i64 {
    (START_UNIX as i64) * 1000 + (at as i64) * 1000
}

/// `/metrics` of the live node after `traffic_s` of its own traffic and the ticker, read
/// at `read_s`, on a paused clock; the node's requests are the live scheduler's.
fn live_metrics(config: NodeConfig, traffic_s: u64, read_s: u64) -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build();
    rt.expect("runtime").block_on(async {
        let state = NodeState::new(config);
        let app = crate::app(state.clone());
        let (traffic, ticker) = (CancellationToken::new(), CancellationToken::new());
        let scheduler =
            tokio::spawn(crate::traffic::run_fleet(vec![(state.clone(), app.clone())], traffic.clone()));
        let ticks = tokio::spawn(crate::server::tick(vec![state.clone()], ticker.clone()));
        tokio::time::sleep(secs(traffic_s)).await;
        traffic.cancel();
        scheduler.await.expect("the scheduler ran");
        tokio::time::sleep(secs(read_s - traffic_s)).await;
        let request = Request::get("/metrics").body(Body::empty()).expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        let body = axum::body::to_bytes(response.into_body(), 1 << 22).await.expect("body");
        ticker.cancel();
        ticks.await.expect("the ticker ran");
        String::from_utf8(body.to_vec()).expect("utf-8")
    })
}

/// Family name and type of each `# TYPE` line, and every sample's name and label set.
fn shape(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let families = text.lines().filter(|l| l.starts_with("# TYPE ")).map(str::to_owned).collect();
    let metrics = exposition::Metrics::parse(text).expect("OpenMetrics");
    let series = metrics
        .samples()
        .iter()
        .map(|s| {
            let mut labels = s.labels.clone();
            labels.sort();
            format!("{}{labels:?}", s.name)
        })
        .collect();
    (families, series)
}

/// Request counts by (name, labels) of the counter families every shape records.
fn counts(text: &str) -> BTreeMap<String, f64> {
    let metrics = exposition::Metrics::parse(text).expect("OpenMetrics");
    metrics
        .samples()
        .iter()
        .filter(|s| {
            ["edge_http_requests_total", "http_requests_total", "edge_upstream_requests_total"]
                .contains(&s.name.as_str())
                || s.name.ends_with("_count")
        })
        .map(|s| (format!("{}{:?}", s.name, s.labels), s.value))
        .collect()
}

#[test]
fn one_seed_serves_the_same_families_series_and_requests_live_and_virtual() {
    let config = NodeConfig::new(1, SEED);
    let live = live_metrics(config.clone(), 60, 70);
    let mut node = VirtualNode::new(config, START_UNIX);
    node.stop_traffic_at(secs(60));
    node.run_until(secs(70));
    let virt = crate::ops::app_exposition(node.state()).expect("encoded");

    let (live_families, live_series) = shape(&live);
    let (virt_families, virt_series) = shape(&virt);
    assert_eq!(live_families, virt_families, "families and types");
    let only_live: Vec<_> = live_series.difference(&virt_series).collect();
    let only_virt: Vec<_> = virt_series.difference(&live_series).collect();
    assert!(
        only_live.is_empty() && only_virt.is_empty(),
        "series only live: {only_live:#?}\nonly virtual: {only_virt:#?}"
    );
    let (live_counts, virt_counts) = (counts(&live), counts(&virt));
    assert!(live_counts.values().sum::<f64>() > 2000.0, "a minute of traffic was served: {live_counts:#?}");
    assert_eq!(live_counts, virt_counts, "request counts by route, method and status, in every shape");
}

#[test]
fn counters_never_decrease_within_a_process_and_reset_after_an_oom_restart() {
    let mut spec = FleetSpec::new(1, SEED, START_UNIX, secs(120));
    spec.scrape.interval = secs(1);
    spec.scrape.timeout = secs(1);
    spec.faults = vec![fault(1, FaultKind::OomKill, 10, 100.0, Some(0.1))];
    let (text, stats) = run(&spec);
    let points = points(&text);
    let app = |p: &&Point| p.labels.get("job").map(String::as_str) == Some("edge-node");
    let downs: Vec<i64> =
        points.iter().filter(app).filter(|p| p.name == "up" && p.value == 0.0).map(|p| p.ts_ms).collect();
    assert!(!downs.is_empty() && stats.failed_scrapes > 0, "the OOM kills' gaps are failed scrapes");
    // Each process's start time, by scrape.
    let starts: BTreeMap<i64, f64> = points
        .iter()
        .filter(|p| p.name == "process_start_time_seconds")
        .map(|p| (p.ts_ms, p.value))
        .collect();
    assert!(
        starts.values().map(|v| v.to_bits()).collect::<BTreeSet<_>>().len() >= 2,
        "a restart gives a new start time"
    );
    let mut last: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut resets = 0;
    for p in points.iter().filter(app).filter(|p| p.name.ends_with("_total") || p.name.ends_with("_count")) {
        let start = starts[&p.ts_ms];
        let key = format!("{}{:?}", p.name, p.labels);
        if let Some(&(value, previous_start)) = last.get(&key) {
            if start == previous_start {
                assert!(p.value >= value, "{key} went from {value} to {} within a process", p.value);
            } else if p.value < value {
                resets += 1;
            }
        }
        last.insert(key, (p.value, start));
    }
    assert!(resets > 0, "request counters start again from zero after a restart");
    let oom = points.iter().filter(|p| p.name == "edge_oom_kills_total").map(|p| p.value);
    assert!(oom.clone().zip(oom.skip(1)).all(|(a, b)| b >= a), "the kernel's count never resets");
}

#[test]
fn a_crashed_node_is_down_with_no_app_samples_while_node_exporter_answers() {
    let mut spec = FleetSpec::new(2, SEED, START_UNIX, secs(300));
    spec.faults = vec![fault(2, FaultKind::NodeCrash, 60, 120.0, None)];
    let (text, _) = run(&spec);
    let points = points(&text);
    let of = |job: &str, node: &str, name: &str, at: u64| {
        points
            .iter()
            .filter(|p| p.ts_ms == ms(at) && p.labels["job"] == job && p.labels["node"] == node)
            .filter(|p| name.is_empty() || p.name == name)
            .map(|p| p.value)
            .collect::<Vec<f64>>()
    };
    for at in (0..=300).step_by(15) {
        let crashed = (60..180).contains(&at);
        assert_eq!(of("edge-node", "2", "up", at), vec![if crashed { 0.0 } else { 1.0 }], "up at {at} s");
        assert_eq!(of("edge-node", "1", "up", at), vec![1.0], "the other node at {at} s");
        let app_samples = of("edge-node", "2", "", at).len();
        if crashed {
            assert_eq!(app_samples, 4, "only up and the scrape's own series at {at} s");
        } else {
            assert!(app_samples > 50, "{app_samples} samples at {at} s");
        }
        assert_eq!(of("node", "2", "up", at), vec![1.0], "node_exporter answers through the crash");
        assert_eq!(of("node", "2", "node_load1", at).len(), 1);
    }
}

#[test]
fn a_flaky_network_fails_the_scrapes_it_holds_past_the_timeout() {
    let scrapes = |timeout: u64| {
        let mut spec = FleetSpec::new(1, SEED, START_UNIX, secs(600));
        spec.scrape.timeout = secs(timeout);
        spec.faults = vec![fault(1, FaultKind::FlakyNetwork, 0, 600.0, Some(0.9))];
        let (text, stats) = run(&spec);
        let held = points(&text)
            .into_iter()
            .filter(|p| p.name == "scrape_duration_seconds" && p.value >= 1.0)
            .map(|p| p.value)
            .collect::<Vec<_>>();
        (stats, held)
    };
    // Every stall is 1-3 s: a 1 s timeout fails each held scrape, a 10 s one waits them out.
    let (short, held_short) = scrapes(1);
    assert!(short.failed_scrapes >= short.scrapes / 2, "{short:?}");
    assert!(held_short.iter().all(|&d| d == 1.0), "a failed scrape lasts the timeout: {held_short:?}");
    let (long, held_long) = scrapes(10);
    assert_eq!(long.failed_scrapes, 0, "{long:?}");
    assert!(held_long.len() as u64 >= long.scrapes / 2 && held_long.iter().all(|&d| (1.0..3.1).contains(&d)));
}

#[test]
fn a_seed_replays_every_sample() {
    let mut spec = FleetSpec::new(2, SEED, START_UNIX, secs(120));
    spec.faults = vec![fault(1, FaultKind::ErrorBurst, 30, 60.0, None)];
    // The same lines; a registry's series order is a hash map's, live and virtual alike.
    let sorted = |text: String| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort_unstable();
        lines
    };
    assert!(sorted(run(&spec).0) == sorted(run(&spec).0), "a seed replays the same samples");
    let errors = points(&run(&spec).0)
        .into_iter()
        .filter(|p| {
            p.name == "edge_http_requests_total" && p.labels["status"] == "500" && p.labels["node"] == "1"
        })
        .map(|p| p.value)
        .fold(0.0, f64::max);
    assert!(errors > 10.0, "the burst's 500s are counted: {errors}");
}

#[test]
fn promtool_backfills_the_stream() {
    let promtool =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/root/usr/bin/promtool");
    assert!(
        promtool.exists(),
        "{} is missing: run `. scripts/lib/tools.sh && ensure_v3_tools` from the workspace root",
        promtool.display()
    );
    let dir = std::env::temp_dir().join(format!("virtual-fleet-promtool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut spec = FleetSpec::new(2, SEED, START_UNIX, secs(600));
    spec.faults = vec![
        fault(1, FaultKind::NodeCrash, 60, 60.0, None),
        fault(2, FaultKind::FlakyNetwork, 0, 300.0, Some(0.5)),
        fault(2, FaultKind::OomKill, 300, 200.0, None),
    ];
    spec.scrape.timeout = secs(2);
    let file = dir.join("fleet.om");
    let stats = write_openmetrics(&spec, std::fs::File::create(&file).expect("file")).expect("the run");
    let output = std::process::Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(dir.join("data"))
        .output()
        .expect("promtool runs");
    let said =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool refused the stream: {said}");
    // Its block table: the samples it ingested.
    let ingested: u64 =
        said.lines().filter_map(|l| l.split_whitespace().nth(4).and_then(|n| n.parse::<u64>().ok())).sum();
    assert_eq!(ingested, stats.samples, "every sample written is in a block: {said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn speed_is_measured() {
    let mut spec = FleetSpec::new(2, SEED, START_UNIX, secs(1800));
    spec.faults = vec![fault(1, FaultKind::CpuSpike, 300, 300.0, None)];
    let started = std::time::Instant::now();
    let stats = write_openmetrics(&spec, io::sink()).expect("the run");
    let wall = started.elapsed().as_secs_f64();
    let node_hours = f64::from(spec.nodes) * spec.end.as_secs_f64() / 3600.0;
    println!(
        "virtual fleet: {node_hours} node-hours in {wall:.2} s: {:.1} node-hours per second, {:.1} MB per node-hour, \
         {} samples",
        node_hours / wall,
        stats.bytes as f64 / node_hours / 1e6,
        stats.samples
    );
}
