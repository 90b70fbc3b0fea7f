//! Staleness without stale markers, against the real tools (promtool and prometheus v3 in
//! target/tools/root/usr/bin; required, never skipped: `source scripts/lib/tools.sh &&
//! ensure_v3_tools`).
//!
//! Backfilled blocks carry no stale markers, so the engine relies on the lookback delta.
//! The claim: in Prometheus 3 an instant selector at `t` sees the latest sample in
//! `(t - lookback, t]` (left-open), so with the lookback equal to the scrape interval and
//! the evaluation interval, a series vanishes at the first scrape without a sample exactly
//! as a live Prometheus' stale marker makes it vanish, and a recorded series absent at an
//! evaluation vanishes at that evaluation, as Prometheus' rule manager marks it stale.
//!
//! 1. The windows are left-open in the real binary (instant and range selectors).
//! 2. The engine with that lookback agrees, at every evaluation, with `promtool test rules`
//!    (Prometheus' own rule manager) over the same series with `stale` at each series'
//!    first failed scrape (what live Prometheus writes); with twice the scrape interval
//!    (the setting before) it does not: absent-style alerts fire a scrape late.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rule_coverage::openmetrics::{self, SeriesSet};
use rule_coverage::promtool_test::{self, RunInput};
use rule_coverage::server::{Server, ServerOptions};
use rule_coverage::{EngineConfig, LabelSet, Millis, Outcome, TimeRange, Tools, load, rules};

/// Scrapes and evaluations every 15 s.
const STEP_MS: Millis = 15_000;
const STEP: Duration = Duration::from_secs(15);
/// Simulated minutes.
const MINUTES: i64 = 20;

fn tools() -> Tools {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/root/usr/bin");
    Tools::in_dir(&bin).unwrap_or_else(|e| panic!("these tests need the real Prometheus v3 tools: {e}"))
}

fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

/// Two hours ago on a whole hour (on every grid used here).
fn start() -> Millis {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as Millis;
    (now - 2 * 3_600_000).div_euclid(3_600_000) * 3_600_000
}

fn labels(name: &str, node: &str) -> LabelSet {
    LabelSet::from([("__name__".into(), name.into()), ("node".into(), node.into())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_and_range_selectors_are_left_open_in_prometheus_3() {
    let dir = work_dir("left-open");
    let t0 = start();
    // x every 15 s for 5 min, then nothing.
    let last = t0 + 5 * 60_000;
    let set = SeriesSet::from([(
        labels("x", "a"),
        (t0..=last).step_by(STEP_MS as usize).map(|t| (t, 1.0)).collect(),
    )]);
    let om = dir.join("x.om");
    std::fs::write(&om, openmetrics::write(&set)).expect("write");
    let data = dir.join("data");
    tools().backfill_openmetrics(&om, &data).expect("backfill");
    let options = ServerOptions {
        data_dir: data,
        work_dir: dir.clone(),
        retention: Duration::from_secs(86_400 * 3),
        lookback_delta: STEP,
    };
    let http = stack_client::http_client(Duration::from_secs(30)).expect("client");
    let mut server = Server::start(&tools(), options, http).await.expect("prometheus starts");
    let prom = server.client();
    let seen = async |expr: &str, at: Millis| -> Vec<String> {
        let result = prom.query(expr, Some(at as f64 / 1e3)).await.expect("query");
        result.iter().map(|s| s.value.1.clone()).collect()
    };
    assert_eq!(seen("x", last).await, ["1"], "at its last sample");
    assert_eq!(seen("x", last + STEP_MS - 1).await, ["1"], "until one lookback later, less 1 ms");
    assert!(seen("x", last + STEP_MS).await.is_empty(), "a sample exactly one lookback old is out");
    assert_eq!(
        seen("x", t0 + 60_000 + 7_500).await,
        ["1"],
        "between scrapes: the one grid time in the window"
    );
    // Range selectors: 1 min at 15 s holds 4 samples, not 5, on the grid.
    assert_eq!(seen("count_over_time(x[1m])", t0 + 2 * 60_000).await, ["4"]);
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

const RULES: &str = r#"
groups:
  - name: staleness
    interval: 15s
    rules:
      - record: node:mem:max
        expr: max by (node) (mem)
      - record: node:cpu:busy
        expr: cpu > 0.9
      # Raw series vanishing at a failed scrape.
      - alert: MemMissing
        expr: up unless on (node) mem
      - alert: MemAbsent
        expr: absent(mem{node="b"})
        for: 15s
      # Recorded series vanishing at an evaluation.
      - alert: FleetShrunk
        expr: count(node:mem:max) < 2
      - alert: CpuBusy
        expr: node:cpu:busy
        for: 30s
        keep_firing_for: 30s
        annotations:
          summary: busy
      - alert: NodeDown
        expr: up == 0
        for: 30s
"#;

/// Node b's scrapes fail in [5m, 8m), at 12m alone, and from 16m to the end; node a's CPU
/// is busy in [3m, 10m) but for one scrape at 6m.
fn series(t0: Millis) -> SeriesSet {
    let mut set = SeriesSet::new();
    for node in ["a", "b"] {
        let (mut up, mut mem, mut cpu) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..=(MINUTES * 60_000 / STEP_MS) {
            let t = t0 + i * STEP_MS;
            let m = (i * STEP_MS) as f64 / 60_000.0;
            let failed = node == "b" && ((5.0..8.0).contains(&m) || m == 12.0 || m >= 16.0);
            up.push((t, if failed { 0.0 } else { 1.0 }));
            if failed {
                continue;
            }
            mem.push((t, 0.5));
            let busy = node == "a" && (3.0..10.0).contains(&m) && m != 6.0;
            cpu.push((t, if busy { 0.95 } else { 0.2 }));
        }
        set.insert(labels("up", node), up);
        set.insert(labels("mem", node), mem);
        set.insert(labels("cpu", node), cpu);
    }
    set
}

async fn engine(dir: &Path, lookback: Duration) -> (Outcome, Vec<rules::RuleGroup>, SeriesSet, TimeRange) {
    let t0 = start();
    let set = series(t0);
    let om = dir.join("input.om");
    std::fs::write(&om, openmetrics::write(&set)).expect("write input");
    let rules_path = dir.join("rules.yml");
    std::fs::write(&rules_path, RULES).expect("write rules");
    let groups = load::load_path(&rules_path).expect("rules load");
    let config = EngineConfig {
        tools: tools(),
        work_dir: dir.join("engine"),
        default_interval: STEP,
        // The lookback of queries over raw series: the scrape interval, or longer to show
        // what a longer one does.
        scrape_interval: lookback,
    };
    let range = TimeRange { start: t0, end: t0 + MINUTES * 60_000 };
    let outcome = rule_coverage::evaluate(&om, &groups, range, &config).await.expect("engine runs");
    (outcome, groups, set, range)
}

/// `promtool test rules` over the engine's outcome, its input with or without the stale
/// markers live Prometheus writes: `Ok` if it passes.
fn promtool(
    dir: &Path,
    name: &str,
    stale_markers: bool,
    run: (&Outcome, &[rules::RuleGroup], &SeriesSet, TimeRange),
) -> Result<(), String> {
    let (outcome, groups, set, range) = run;
    std::fs::write(dir.join("rules.json.yml"), rules::to_rule_file(groups, STEP)).expect("write rules");
    let input = RunInput {
        groups,
        default_interval: STEP,
        scrape_interval: STEP,
        range,
        series: set,
        outcome,
        rule_file: "rules.json.yml",
    };
    let test = promtool_test::run_test(&input).expect("one grid");
    assert!(test.notes.is_empty(), "{:?}", test.notes);
    assert_eq!(test.checked, test.evaluations, "every evaluation is checked");
    let mut file = test.file;
    if !stale_markers {
        // What a backfill holds: the same samples, no markers.
        for s in file["tests"][0]["input_series"].as_array_mut().into_iter().flatten() {
            let values = s["values"].as_str().unwrap_or_default().replace("stale", "_");
            s["values"] = serde_json::Value::String(values);
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&file).expect("json")).expect("write test");
    tools().test_rules(&path).map(drop).map_err(|e| e.to_string())
}

fn firing_times(outcome: &Outcome, alert: &str) -> Vec<Millis> {
    let a = outcome.alerts.iter().find(|a| a.alert == alert).unwrap_or_else(|| panic!("{alert}"));
    a.episodes.values().flatten().filter_map(|e| e.firing_at).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_lookback_at_the_scrape_interval_the_engine_sees_series_vanish_as_live_prometheus() {
    let dir = work_dir("staleness");
    let (outcome, groups, set, range) = engine(&dir, STEP).await;
    let t0 = range.start;
    let m = |min: f64| t0 + (min * 60_000.0) as Millis;
    // The failed scrapes themselves: b's mem vanishes at the first one.
    assert_eq!(firing_times(&outcome, "MemMissing"), [m(5.0), m(12.0), m(16.0)]);
    assert_eq!(
        firing_times(&outcome, "MemAbsent"),
        [m(5.25), m(16.25)],
        "for 15s: the lone miss stays pending"
    );
    assert_eq!(firing_times(&outcome, "FleetShrunk"), [m(5.0), m(12.0), m(16.0)], "recorded series vanish");
    assert_eq!(firing_times(&outcome, "CpuBusy"), [m(3.5)], "the dip at 6m is bridged by keep_firing_for");
    if let Err(report) = promtool(&dir, "equal.yml", true, (&outcome, &groups, &set, range)) {
        panic!(
            "promtool (stale markers, live) disagrees with the engine (lookback = scrape interval):\n{report}"
        );
    }

    // The setting before: twice the scrape interval. A series lingers one scrape past its
    // last sample, so the absent-style alerts fire a scrape late and promtool disagrees.
    let dir2 = work_dir("staleness-2x");
    let (late, groups, set, range) = engine(&dir2, STEP * 2).await;
    assert_eq!(firing_times(&late, "MemMissing"), [m(5.25), m(16.25)], "late, and the lone miss unseen");
    let report = promtool(&dir2, "late.yml", true, (&late, &groups, &set, range))
        .expect_err("a lookback of two scrapes is not live staleness");
    assert!(report.contains("MemMissing"), "{report}");
    // promtool honours `stale`: without the markers its 5 min lookback keeps b's series
    // and it disagrees with the engine (and with live Prometheus) the other way.
    let report = promtool(&dir, "no-markers.yml", false, (&outcome, &groups, &set, range))
        .expect_err("without stale markers promtool sees the series linger");
    assert!(report.contains("MemMissing"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir2);
}
