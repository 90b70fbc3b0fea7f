//! Against the real tools (promtool and prometheus v3 in target/tools/root/usr/bin; they are
//! required, never skipped: `source scripts/lib/tools.sh && ensure_v3_tools`):
//!
//! 1. the engine evaluates a small rule set over backfilled series, and
//! 2. a `promtool test rules` file generated from the same series, expecting at every
//!    evaluation exactly the alerts the engine's state machine says are firing and the
//!    `ALERTS` series it says are pending or firing, passes; the same file with one wrong
//!    expectation fails (the harness can fail).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rule_coverage::openmetrics::{self, SeriesSet};
use rule_coverage::promtool_test::{self, Expected};
use rule_coverage::{EngineConfig, LabelSet, Millis, Outcome, TimeRange, Tools, load, rules};
use serde_json::Value;

/// The input's sample interval (a scrape every 15 s).
const SCRAPE_MS: Millis = 15_000;
/// The rules' evaluation interval.
const EVAL: Duration = Duration::from_secs(60);
/// Simulated minutes.
const MINUTES: i64 = 60;

const RULES: &str = r#"
groups:
  - name: coverage
    interval: 1m
    rules:
      - record: node:cpu_usage:avg2m
        expr: avg_over_time(cpu_usage[2m])
      - record: node:cpu_usage:max5m
        expr: max_over_time(node:cpu_usage:avg2m[5m])
      - alert: CpuHigh
        expr: node:cpu_usage:avg2m > 0.9
        for: 3m
        keep_firing_for: 2m
        labels:
          severity: warning
        annotations:
          summary: CPU busy for three minutes
      - alert: CpuSpike
        expr: cpu_usage > 0.9
      - alert: CpuSustained
        expr: node:cpu_usage:max5m > 0.9
        for: 4m
      - alert: ErrorsHigh
        expr: rate(errors_total[2m]) > 5
        for: 2m
        keep_firing_for: 1m
        labels:
          severity: page
"#;

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

/// A start three hours ago, on a whole hour (a multiple of the evaluation interval, so
/// promtool's grid from 0 and the engine's from the epoch match).
fn start() -> Millis {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as Millis;
    (now - 3 * 3_600_000).div_euclid(3_600_000) * 3_600_000
}

/// A small deterministic noise in [-0.03, 0.03).
fn noise(i: i64, seed: u64) -> f64 {
    let x = (i as u64).wrapping_mul(6364136223846793005).wrapping_add(seed.wrapping_mul(1442695040888963407));
    ((x >> 33) % 600) as f64 / 10_000.0 - 0.03
}

/// Two nodes' CPU with noisy rests, a long busy spell with a dip (node a), a short spike
/// that stays pending, a late spell (node b); an error counter with a burst.
fn series(t0: Millis) -> SeriesSet {
    let mut set = SeriesSet::new();
    let labels = |name: &str, node: &str| {
        LabelSet::from([("__name__".into(), name.into()), ("node".into(), node.into())])
    };
    let busy_a =
        |m: f64| (10.0..26.0).contains(&m) && !(15.0..16.5).contains(&m) || (35.0..37.0).contains(&m);
    let busy_b = |m: f64| (40.0..52.0).contains(&m);
    let mut errors = 0.0;
    let (mut cpu_a, mut cpu_b, mut err_a) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..=(MINUTES * 60_000 / SCRAPE_MS) {
        let t = t0 + i * SCRAPE_MS;
        let m = (i * SCRAPE_MS) as f64 / 60_000.0;
        let level = |busy: bool| if busy { 0.96 } else { 0.3 };
        cpu_a.push((t, ((level(busy_a(m)) + noise(i, 1)) * 1000.0).round() / 1000.0));
        cpu_b.push((t, ((level(busy_b(m)) + noise(i, 2)) * 1000.0).round() / 1000.0));
        let per_s = if (20.0..30.0).contains(&m) { 9.0 } else { 1.0 };
        errors += per_s * 15.0;
        err_a.push((t, errors));
    }
    set.insert(labels("cpu_usage", "a"), cpu_a);
    set.insert(labels("cpu_usage", "b"), cpu_b);
    set.insert(labels("errors_total", "a"), err_a);
    set
}

/// Runs the engine over the series and rules; returns the outcome, the loaded groups and
/// the series.
async fn run_engine(dir: &Path) -> (Outcome, Vec<rules::RuleGroup>, SeriesSet, Millis) {
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
        default_interval: EVAL,
        scrape_interval: Duration::from_millis(SCRAPE_MS as u64),
    };
    let range = TimeRange { start: t0, end: t0 + MINUTES * 60_000 };
    let outcome = rule_coverage::evaluate(&om, &groups, range, &config).await.expect("engine runs");
    let t = outcome.timings;
    println!(
        "engine, {} series x {} min at 15 s, {} rules: backfill {:?}, start {:?}, recording (2 layers) {:?}, \
         alerts {:?}, total {:?}",
        set.len(),
        MINUTES,
        groups[0].rules.len(),
        t.backfill,
        t.start,
        t.recording,
        t.alerts,
        t.total
    );
    (outcome, groups, set, t0)
}

fn episodes_of<'a>(outcome: &'a Outcome, alert: &str) -> &'a rule_coverage::Episodes {
    &outcome.alerts.iter().find(|a| a.alert == alert).unwrap_or_else(|| panic!("{alert} evaluated")).episodes
}

/// The generated test file for `outcome`, written next to a copy of the rules.
fn promtool_file(
    outcome: &Outcome,
    groups: &[rules::RuleGroup],
    set: &SeriesSet,
    t0: Millis,
    dir: &Path,
) -> Value {
    std::fs::write(dir.join("rules.json.yml"), rules::to_rule_file(groups, EVAL)).expect("write rules");
    let input =
        promtool_test::input_series(set, t0, Duration::from_millis(SCRAPE_MS as u64)).expect("on the grid");
    let empty = BTreeMap::new();
    let annotations: BTreeMap<&str, &BTreeMap<String, String>> =
        groups.iter().flat_map(|g| g.alerts()).map(|(n, r)| (n, &r.annotations)).collect();
    let expected: Vec<Expected<'_>> = outcome
        .alerts
        .iter()
        .map(|a| Expected {
            alert: &a.alert,
            annotations: Some(annotations.get(a.alert.as_str()).copied().unwrap_or(&empty)),
            episodes: &a.episodes,
        })
        .collect();
    let at = &outcome.alerts[0].timeline.eval_times;
    promtool_test::test_file(
        &["rules.json.yml".into()],
        EVAL,
        t0,
        Duration::from_millis(SCRAPE_MS as u64),
        &input,
        &expected,
        at,
        &[],
    )
}

fn promtool_test_rules(dir: &Path, name: &str, file: &Value) -> Result<String, String> {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(file).expect("json")).expect("write test file");
    tools().test_rules(&path).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_machine_over_the_real_engine_agrees_with_promtool_test_rules() {
    let dir = work_dir("equality");
    let (outcome, groups, set, t0) = run_engine(&dir).await;

    // The case is worth proving only if it goes through every transition.
    let high = episodes_of(&outcome, "CpuHigh");
    let node_a = high.iter().find(|(l, _)| l["node"] == "a").map(|(_, e)| e).expect("CpuHigh on node a");
    assert!(
        node_a.iter().any(|e| e.firing_at.is_some() && e.resolved_at.is_some()),
        "fired and resolved: {node_a:?}"
    );
    let spike = episodes_of(&outcome, "CpuSpike");
    assert!(spike.values().flatten().count() >= 3, "the dip and the short spike flap CpuSpike: {spike:?}");
    let high_dropped = node_a.iter().filter(|e| e.firing_at.is_none()).count();
    assert_eq!(high_dropped, 1, "the dip drops a pending CpuHigh: {node_a:?}");
    let timeline = &outcome.alerts.iter().find(|a| a.alert == "CpuHigh").expect("CpuHigh").timeline;
    let present = timeline.present.iter().find(|(l, _)| l["node"] == "a").map(|(_, t)| t).expect("node a");
    let kept =
        node_a.iter().filter_map(|e| e.resolved_at.filter(|_| e.firing_at.is_some())).any(|resolved| {
            present
                .range(..resolved)
                .next_back()
                .is_some_and(|last| resolved - last > EVAL.as_millis() as Millis)
        });
    assert!(kept, "keep_firing_for holds CpuHigh after its expression stops: {node_a:?}");
    let sustained = episodes_of(&outcome, "CpuSustained");
    assert!(sustained.len() == 2, "CpuSustained on both nodes: {sustained:?}");
    let errors = episodes_of(&outcome, "ErrorsHigh");
    assert_eq!(errors.values().flatten().filter(|e| e.firing_at.is_some()).count(), 1, "{errors:?}");
    for a in &outcome.alerts {
        println!("{}: {:?}", a.alert, a.episodes.values().collect::<Vec<_>>());
    }

    let file = promtool_file(&outcome, &groups, &set, t0, &dir);
    let cases = file["tests"][0]["alert_rule_test"].as_array().map_or(0, Vec::len);
    assert_eq!(cases, outcome.alerts.len() * (MINUTES as usize + 1), "every alert at every evaluation");
    if let Err(report) = promtool_test_rules(&dir, "equal.yml", &file) {
        panic!("promtool disagrees with the state machine:\n{report}");
    }

    // One firing alert left out: promtool must fail and name it.
    let mut wrong = file.clone();
    let case = wrong["tests"][0]["alert_rule_test"]
        .as_array_mut()
        .and_then(|cases| {
            cases.iter_mut().find(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        })
        .expect("some alert fires");
    let alert = case["alertname"].as_str().unwrap_or_default().to_owned();
    case["exp_alerts"] = Value::Array(Vec::new());
    let report =
        promtool_test_rules(&dir, "wrong-firing.yml", &wrong).expect_err("a missing firing alert fails");
    assert!(report.contains(&alert), "promtool names {alert}: {report}");

    // A pending alert expected as firing in ALERTS: promtool must fail.
    let mut wrong = file;
    let sample = wrong["tests"][0]["promql_expr_test"]
        .as_array_mut()
        .and_then(|cases| {
            cases
                .iter_mut()
                .flat_map(|c| c["exp_samples"].as_array_mut().into_iter().flatten())
                .find(|s| s["labels"].as_str().is_some_and(|l| l.contains(r#"alertstate="pending""#)))
        })
        .expect("some alert is pending");
    let labels = sample["labels"].as_str().unwrap_or_default().replace(r#""pending""#, r#""firing""#);
    sample["labels"] = Value::String(labels);
    promtool_test_rules(&dir, "wrong-pending.yml", &wrong)
        .expect_err("a pending alert expected firing fails");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_tools_name_the_install_command() {
    let err = Tools::in_dir(Path::new("/nonexistent/bin")).expect_err("no tools there").to_string();
    assert!(err.contains("/nonexistent/bin/promtool") && err.contains("ensure_v3_tools"), "{err}");
}
