//! A region's alert (a `region` label, no `node` or `instance`) through the whole command
//! with the real promtool and prometheus v3 (in target/tools/root/usr/bin; required, never
//! skipped: `source scripts/lib/tools.sh && ensure_v3_tools`): the virtual fleet's series
//! carry each node's `region`, and the judge credits the alert to the faults of that region
//! only, not to every fault of the parallel wave.

use serde_json::Value;

mod common;
use common::{coverage, manifest, require_tools, work_dir};

#[test]
fn a_regions_alert_catches_only_the_faults_of_its_region() {
    require_tools();
    let work = work_dir("coverage-region");
    let out = work.join("report.json");
    // Five nodes: 1-4 in eu-west, 5 in us-east; node_crash lands on node 5, the others on
    // eu-west's nodes, all in one parallel wave.
    let run = coverage()
        .arg("--rules")
        .arg(manifest().join("tests/data/region-rules.yml"))
        .args(["--nodes", "5", "--rest", "10m", "--seed", "3"])
        .args(["--failures", "cpu_spike,memory_leak,latency_spike,error_burst,node_crash"])
        .args(["--scrape-interval", "15s", "--evaluation-interval", "15s", "--format", "json", "--out"])
        .arg(&out)
        .arg("--work-dir")
        .arg(&work)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("report written")).expect("JSON");
    let faults = report["faults"].as_array().expect("faults");
    let by_alert =
        |f: &Value| f["caught_by"].as_array().is_some_and(|c| c.iter().any(|a| a == "RegionTargetDown"));
    let crash = faults.iter().find(|f| f["failure"] == "node_crash").expect("node_crash");
    assert_eq!(crash["node"], "5", "{crash}");
    assert!(by_alert(crash), "us-east lost its only node: {crash}");
    for fault in faults.iter().filter(|f| f["failure"] != "node_crash") {
        assert!(!by_alert(fault), "eu-west lost no target; us-east's alert is not this fault's: {fault}");
    }
    let timelines: Vec<&str> = report["timelines"]
        .as_array()
        .expect("timelines")
        .iter()
        .filter(|t| t["alert"] == "RegionTargetDown")
        .filter_map(|t| t["node"].as_str())
        .collect();
    assert_eq!(timelines, ["region us-east"], "named by its region, not fleet: {timelines:?}");
    let rule = &report["rules"][0];
    assert_eq!(
        (rule["status"].as_str(), &rule["caught"]),
        (Some("caught"), &serde_json::json!(["node_crash"]))
    );
    let _ = std::fs::remove_dir_all(&work);
}
