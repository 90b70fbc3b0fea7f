//! `coverage --emit-promtool-test` on a small real run (the real promtool and prometheus
//! v3 in target/tools/root/usr/bin; required, never skipped: `source scripts/lib/tools.sh
//! && ensure_v3_tools`): the file it writes, the run's own series with the stale markers a
//! live Prometheus would have written and the engine's alert states at every evaluation,
//! passes `promtool test rules` (Prometheus' own rule manager), and a copy with one
//! expectation changed fails.
//!
//! The rules (tests/data/proof-rules.yml) cover a recording rule feeding an alert with
//! `for:` and `keep_firing_for:`, `up == 0`, and absent-style alerts over raw and recorded
//! series that vanish when node_crash makes the app's scrapes fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

mod common;
use common::{coverage, manifest, require_tools, work_dir};

fn promtool() -> PathBuf {
    require_tools().join("promtool")
}

/// `promtool test rules FILE`: whether it passed, and what it said.
fn test_rules(file: &Path) -> (bool, String) {
    let out = Command::new(promtool()).args(["test", "rules"]).arg(file).output().expect("promtool runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A run of tests/data/proof-rules.yml (3 nodes, 10 min rest, cpu_spike and node_crash, 15 s
/// scrapes, groups every `evaluation`) with `--emit-promtool-test`: its work folder (holding
/// `report.json` and the emitted `proof.yml`) and its stderr.
fn proof_run(name: &str, evaluation: &str) -> (PathBuf, String) {
    let work = work_dir(name);
    let run = coverage()
        .arg("--rules")
        .arg(manifest().join("tests/data/proof-rules.yml"))
        .args(["--nodes", "3", "--rest", "10m", "--seed", "7", "--failures", "cpu_spike,node_crash"])
        .args(["--scrape-interval", "15s", "--evaluation-interval", evaluation, "--format", "json"])
        .arg("--out")
        .arg(work.join("report.json"))
        .arg("--work-dir")
        .arg(&work)
        .arg("--emit-promtool-test")
        .arg(work.join("proof.yml"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    (work, stderr)
}

#[test]
fn an_emitted_promtool_test_of_a_real_run_passes_and_a_changed_copy_fails() {
    promtool();
    let began = Instant::now();
    let (work, stderr) = proof_run("proof", "15s");
    let file = work.join("proof.yml");
    assert!(stderr.contains("promtool test rules"), "{stderr}");
    assert!(
        stderr.contains("FleetShrunk: checked through ALERTS only"),
        "its templated annotation is noted: {stderr}"
    );

    let test: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("JSON");
    assert_eq!(test["rule_files"], serde_json::json!(["proof.rules.yml"]));
    assert!(work.join("proof.rules.yml").is_file(), "the rules beside it");
    assert_eq!(
        (test["evaluation_interval"].as_str(), test["tests"][0]["interval"].as_str()),
        (Some("15s"), Some("15s"))
    );
    let group = &test["tests"][0];
    // The proof is worth something only if it holds every kind of transition.
    let input = group["input_series"].as_array().expect("series");
    let stale: Vec<&str> = input
        .iter()
        .filter(|s| s["values"].as_str().is_some_and(|v| v.split(' ').any(|x| x == "stale")))
        .filter_map(|s| s["series"].as_str())
        .collect();
    assert!(
        stale.iter().any(|s| s.starts_with("edge_memory_utilization_ratio{") && s.contains(r#"node="2""#)),
        "node 2's app series are marked stale at the crash: {stale:?}"
    );
    // "N of M evaluations checked": a short run checks every one.
    let counts: Vec<usize> = stderr
        .split(" evaluations checked")
        .next()
        .and_then(|head| head.rsplit(", ").next())
        .map(|t| t.split(" of ").filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    let alerts_cases = group["promql_expr_test"].as_array().expect("ALERTS cases");
    assert_eq!(counts, [alerts_cases.len(), alerts_cases.len()], "{stderr}");
    assert!(alerts_cases.len() > 50, "the rest (10 min) and the faults at 15 s: {}", alerts_cases.len());
    let samples: Vec<&str> = alerts_cases
        .iter()
        .flat_map(|c| c["exp_samples"].as_array().into_iter().flatten())
        .filter_map(|s| s["labels"].as_str())
        .collect();
    for alert in ["HostCpuBusy", "TargetDown", "AppSeriesMissing", "FleetShrunk"] {
        assert!(
            samples
                .iter()
                .any(|l| l.contains(&format!(r#"alertname="{alert}""#)) && l.contains(r#""firing""#)),
            "{alert} fires in the run"
        );
    }
    for alert in ["HostCpuBusy", "TargetDown"] {
        assert!(
            samples
                .iter()
                .any(|l| l.contains(&format!(r#"alertname="{alert}""#)) && l.contains(r#""pending""#)),
            "{alert} is pending first (for:)"
        );
    }

    let (ok, said) = test_rules(&file);
    assert!(ok, "promtool disagrees with the engine on a real run:\n{said}");

    // One pending state expected as firing: promtool must fail, naming the alert.
    let mut wrong = test.clone();
    let sample = wrong["tests"][0]["promql_expr_test"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .flat_map(|c| c["exp_samples"].as_array_mut().into_iter().flatten())
        .find(|s| s["labels"].as_str().is_some_and(|l| l.contains(r#"alertstate="pending""#)))
        .expect("a pending alert");
    let flipped = sample["labels"].as_str().unwrap_or_default().replace(r#""pending""#, r#""firing""#);
    let alert = flipped
        .split(r#"alertname=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_owned();
    sample["labels"] = Value::String(flipped);
    let changed = work.join("changed.yml");
    std::fs::write(&changed, serde_json::to_string_pretty(&wrong).expect("JSON")).expect("write");
    let (ok, said) = test_rules(&changed);
    assert!(!ok, "a flipped state must fail:\n{said}");
    assert!(said.contains(&alert), "promtool names {alert}:\n{said}");

    // One firing alert left out: fails too.
    let mut wrong = test;
    let case = wrong["tests"][0]["alert_rule_test"]
        .as_array_mut()
        .and_then(|cases| {
            cases.iter_mut().find(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        })
        .expect("a firing alert");
    case["exp_alerts"] = Value::Array(Vec::new());
    std::fs::write(&changed, serde_json::to_string_pretty(&wrong).expect("JSON")).expect("write");
    assert!(!test_rules(&changed).0, "a missing firing alert must fail");
    eprintln!("run, emit and three promtool checks: {:.1}s", began.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&work);
}

/// With groups at 30 s over 15 s scrapes, each rule's query looks back the period of the
/// series it reads (15 s for scraped ones, 30 s for recorded ones), so a crashed node's app
/// series vanish at the first failed scrape, as live: promtool (live stale markers) agrees at
/// every evaluation, and the report lists no staleness difference. With one lookback delta
/// for every query (the longest group interval, 30 s) the absent-style alert fired a scrape
/// late and promtool failed on it.
#[test]
fn a_group_interval_longer_than_the_scrape_interval_is_still_live_staleness() {
    promtool();
    let (work, _) = proof_run("proof-30s", "30s");
    let file = work.join("proof.yml");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("report.json")).expect("report"))
            .expect("JSON");
    let differences = report["run"]["differences"].as_array().expect("differences");
    assert!(
        !differences.iter().filter_map(Value::as_str).any(|d| d.contains("different periods")),
        "{differences:#?}"
    );
    let (ok, said) = test_rules(&file);
    assert!(ok, "promtool disagrees:\n{said}");
    let _ = std::fs::remove_dir_all(&work);
}
