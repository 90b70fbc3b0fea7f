//! `coverage --scenario`: a scenario file as the fault plan, end to end against the real
//! promtool and prometheus v3 (in target/tools/root/usr/bin; required, never skipped:
//! `source scripts/lib/tools.sh && ensure_v3_tools`), and its usage errors.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;

mod common;
use common::{coverage, manifest, require_tools, work_dir};

fn rules() -> PathBuf {
    manifest().join("tests/data/small-rules.yml")
}

#[test]
fn each_step_is_a_fault_on_each_of_its_nodes_with_its_intensity() {
    require_tools();
    let work = work_dir("coverage-scenario");
    let began = Instant::now();
    let run = coverage()
        .arg("--rules")
        .arg(rules())
        .arg("--scenario")
        .arg(manifest().join("tests/data/scenario.toml"))
        .args(["--nodes", "3", "--rest", "10m", "--seed", "3", "--format", "json", "--work-dir"])
        .arg(&work)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stderr}");
    eprintln!("the whole run took {:.1}s", began.elapsed().as_secs_f64());
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&run.stdout).expect("JSON");
    let faults = report["faults"].as_array().expect("faults");
    let planned: Vec<(&str, &str, f64)> = faults
        .iter()
        .map(|f| {
            (
                f["failure"].as_str().unwrap_or(""),
                f["node"].as_str().unwrap_or(""),
                f["start_s"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    assert_eq!(
        planned,
        [
            ("cpu_spike", "1", 600.0),
            ("cpu_spike", "2", 600.0),
            ("cpu_spike", "3", 600.0),
            ("node_crash", "2", 720.0)
        ],
        "one fault per node of each step, at rest + at"
    );
    let ends: Vec<f64> = faults.iter().map(|f| f["end_s"].as_f64().unwrap_or(-1.0)).collect();
    assert_eq!(ends, [900.0, 900.0, 900.0, 840.0], "each step's own duration");
    let caught_by = |i: usize| -> Vec<&str> {
        faults[i]["caught_by"].as_array().expect("caught_by").iter().filter_map(Value::as_str).collect()
    };
    assert_eq!(caught_by(0), ["HostCpuBusy"], "{}", faults[0]);
    assert!(caught_by(1).contains(&"HostCpuBusy"), "{}", faults[1]);
    // 60 % is under the rule's 85 %: the step's intensity reached the model.
    assert_eq!(faults[2]["status"], "uncaught", "{}", faults[2]);
    assert!(faults[2]["detections"].as_array().is_some_and(Vec::is_empty), "{}", faults[2]);
    // Node 2 crashed while its CPU was pinned: the crash is caught on its own node.
    assert!(caught_by(3).contains(&"TargetDown"), "{}", faults[3]);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn a_bad_scenario_or_one_beyond_the_fleet_is_a_usage_error_in_one_line() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("coverage-bad-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\n[[step]]\nat = 0\nnode = \"2\"\nfailure = \"meteor\"\nduration = 60\n",
    )
    .expect("write");
    let long = dir.join("long.toml");
    std::fs::write(
        &long,
        "name = \"x\"\n[[step]]\nat = 0\nnode = \"all\"\nfailure = \"cpu_spike\"\nduration = 7200\n",
    )
    .expect("write");
    let good = manifest().join("tests/data/scenario.toml");
    let missing = dir.join("missing.toml");
    let cases: [(Vec<std::ffi::OsString>, String); 4] = [
        (vec!["--scenario".into(), bad.clone().into()], format!("--scenario {}: ", bad.display())),
        (vec!["--scenario".into(), long.clone().into()], "between 1 and 3600".into()),
        (
            vec!["--scenario".into(), missing.clone().into()],
            format!("--scenario {}: cannot read it: ", missing.display()),
        ),
        (
            vec!["--scenario".into(), good.clone().into(), "--nodes".into(), "2".into()],
            "node 3 is beyond the fleet (--nodes 2)".into(),
        ),
    ];
    for (args, needle) in cases {
        let out = coverage().arg("--rules").arg(rules()).args(&args).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("coverage: ") && stderr.contains(&needle),
            "{args:?}: `{stderr}` lacks `{needle}`"
        );
        assert!(out.stdout.is_empty());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_intensity_is_refused_outside_its_range_or_for_a_mode_not_injected() {
    for (args, needle) in [
        (&["--intensity", "cpu_spike=0.2"][..], "between 0.5 and 1"),
        (&["--intensity", "cpu_spike=0.6", "--failures", "node_crash"], "cpu_spike is not among --failures"),
        (&["--intensity", "cpu_spike=0.6", "--scenario", "s.toml"], "cannot be used with"),
    ] {
        let out = coverage().arg("--rules").arg(rules()).args(args).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: `{stderr}` lacks `{needle}`");
    }
}
