//! The `coverage` command end to end against the real promtool and prometheus v3 (in
//! target/tools/root/usr/bin; required, never skipped: `source scripts/lib/tools.sh &&
//! ensure_v3_tools`), on a small run whose answer is known (tests/data/small-rules.yml),
//! and its usage errors.

use std::time::Instant;

use serde_json::Value;

mod common;
use common::{coverage, find, manifest, require_tools, work_dir};

#[test]
fn a_small_run_gives_the_known_verdict_for_every_rule_and_fault() {
    require_tools();
    // The outputs' folder must exist before the run (a missing one is refused up front):
    // work_dir creates it.
    let work = work_dir("coverage");
    let out = work.join("report.json");
    let (html, junit) = (work.join("report.html"), work.join("junit.xml"));
    let began = Instant::now();
    let run = coverage()
        .args(["--rules"])
        .arg(manifest().join("tests/data/small-rules.yml"))
        .args(["--nodes", "3", "--rest", "20m", "--seed", "7", "--failures", "cpu_spike,node_crash"])
        .args(["--scrape-interval", "15s", "--evaluation-interval", "15s", "--format", "json", "--out"])
        .arg(&out)
        .arg("--work-dir")
        .arg(&work)
        .arg("--output")
        .arg(format!("html={}", html.display()))
        .arg("--output")
        .arg(format!("junit={}", junit.display()))
        // Every fault is caught and ProbeFailing cannot evaluate: only the second holds.
        .args(["--fail-on", "uncaught,cannot-evaluate"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stderr}");
    eprintln!("the whole run took {:.1}s", began.elapsed().as_secs_f64());
    assert_eq!(run.status.code(), Some(1), "--fail-on cannot-evaluate holds: {stderr}");
    let fail_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("coverage: --fail-on")).collect();
    assert_eq!(
        fail_lines,
        ["coverage: --fail-on cannot-evaluate: 1 rule cannot evaluate: ProbeFailing (reads probe_success)"],
        "one line, for the condition that holds: {stderr}"
    );
    assert!(stderr.contains("simulated hours") && stderr.contains("evaluated"), "progress: {stderr}");
    let text = std::fs::read_to_string(&out).expect("report written");
    let report: Value = serde_json::from_str(&text).expect("JSON");
    let html = std::fs::read_to_string(&html).expect("the HTML written before exiting 1");
    assert!(html.starts_with("<!doctype html>") && html.contains("ProbeFailing"), "{html}");
    let junit = std::fs::read_to_string(&junit).expect("the JUnit written before exiting 1");
    assert!(junit.starts_with("<?xml") && junit.contains("HostCpuBusy"), "{junit}");
    // The same decision alone for each condition on this report: the exit code it gives.
    let parsed = coverage::report::Report::from_json(&text).expect("the contract");
    let exit = |condition| coverage::ci::exit_code(&coverage::ci::decide(&parsed, &[condition]));
    assert_eq!(exit(coverage::cli::FailOn::CannotEvaluate), 1, "--fail-on cannot-evaluate exits 1");
    assert_eq!(exit(coverage::cli::FailOn::Uncaught), 0, "--fail-on uncaught exits 0");
    assert_eq!(report["version"], 1);
    assert_eq!(report["run"]["nodes"], 3);

    let faults = &report["faults"];
    let cpu = find(faults, "failure", "cpu_spike");
    assert_eq!((cpu["node"].as_str(), cpu["status"].as_str()), (Some("1"), Some("caught")), "{cpu}");
    assert_eq!(cpu["caught_by"], serde_json::json!(["HostCpuBusy"]), "{cpu}");
    let detection = find(&cpu["detections"], "alert", "HostCpuBusy");
    let firing = detection["firing_after_s"].as_f64().expect("fired");
    assert!((60.0..=240.0).contains(&firing), "fires after its 2m window and 1m for: {detection}");
    assert!(detection["resolved_after_end_s"].as_f64().is_some(), "resolves: {detection}");
    let crash = find(faults, "failure", "node_crash");
    assert_eq!((crash["node"].as_str(), crash["status"].as_str()), (Some("2"), Some("caught")), "{crash}");
    assert_eq!(crash["caught_by"], serde_json::json!(["TargetDown"]), "{crash}");

    let rules = &report["rules"];
    let status = |alert: &str| find(rules, "alert", alert)["status"].as_str().unwrap_or_default().to_owned();
    assert_eq!(status("HostCpuBusy"), "caught");
    assert_eq!(find(rules, "alert", "HostCpuBusy")["caught"], serde_json::json!(["cpu_spike"]));
    assert_eq!(status("TargetDown"), "caught");
    assert_eq!(status("ProbeFailing"), "cannot_evaluate");
    let missing = &find(rules, "alert", "ProbeFailing")["missing"][0];
    assert_eq!(missing["metric"], "probe_success");
    assert!(missing["provided_by"].as_str().is_some_and(|p| p.contains("blackbox")), "{missing}");
    assert_eq!(status("ImpossibleUp"), "never_exercised");
    assert_eq!(status("AlwaysOn"), "always_firing");
    let rest = &find(rules, "alert", "AlwaysOn")["false_alerts_at_rest"];
    assert!(rest["episodes"].as_u64().is_some_and(|n| n >= 3), "one per target at least: {rest}");
    for quiet in ["HostCpuBusy", "TargetDown"] {
        assert_eq!(find(rules, "alert", quiet)["false_alerts_at_rest"]["episodes"], 0, "{quiet} at rest");
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn usage_errors_exit_2_in_one_line_before_anything_runs() {
    let rules = manifest().join("tests/data/small-rules.yml");
    let cases: [Vec<std::ffi::OsString>; 4] = [
        vec![],
        vec!["--rules".into(), rules.clone().into(), "--rest".into(), "5x".into()],
        vec!["--rules".into(), "/no/such/rules.yml".into()],
        vec!["--rules".into(), rules.into(), "--failures".into(), "meteor".into()],
    ];
    for args in cases {
        let out = coverage().args(&args).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("coverage: "), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}
