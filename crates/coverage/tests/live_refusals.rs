//! Live mode refuses before it sends anything, and says why in one line (exit 2): rules the
//! stack's Prometheus has not loaded, a planned node already carrying a fault. Real nodes run
//! in-process; Prometheus is a stand-in answering the two API calls made before a run
//! (`/api/v1/status/config`, `/api/v1/rules`) in the shape Prometheus does.

use std::process::Command;

use axum::routing::get;
use edge_sim::{FaultKind, FaultSpec};
use serde_json::json;
use tokio::net::TcpListener;

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/small-rules.yml");

/// A stand-in Prometheus at 1 s intervals that has loaded the group `coverage-test` with
/// these alerts.
async fn prometheus(alerts: &[&str]) -> String {
    let rules: Vec<_> = alerts.iter().map(|a| json!({"name": a, "type": "alerting"})).collect();
    let groups = json!({"status": "success", "data": {"groups": [
        {"name": "coverage-test", "file": "/etc/prometheus/rules/small.yml", "rules": rules}]}});
    let config = json!({"status": "success", "data": {
        "yaml": "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"}});
    let app = axum::Router::new()
        .route("/api/v1/rules", get(move || async move { axum::Json(groups) }))
        .route("/api/v1/status/config", get(move || async move { axum::Json(config) }));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// `coverage --live` against `prometheus` and the nodes at `base`: exit code and stderr.
async fn live(prometheus: &str, base: u16) -> (i32, String) {
    let (prometheus, base) = (prometheus.to_owned(), base.to_string());
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_coverage"))
            .args(["--live", "--prometheus", &prometheus, "--base-port", &base, "--nodes", "2"])
            .args(["--rules", RULES, "--rest", "10s", "--fault-cap", "10s"])
            .env_remove("INJECT_TARGETS")
            .env_remove("INJECT_HOST")
            .output()
            .expect("runs");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    })
    .await
    .expect("joins")
}

const ALL: [&str; 5] = ["HostCpuBusy", "TargetDown", "ProbeFailing", "ImpossibleUp", "AlwaysOn"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_the_stack_has_not_loaded_are_refused_before_any_fault() {
    let (base, states) = test_support::fleet::separate_nodes(2).await;
    let url = prometheus(&ALL[..3]).await;
    let (code, err) = live(&url, base).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("the Prometheus at {url} has not loaded ImpossibleUp (group coverage-test), AlwaysOn (group coverage-test)")),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("coverage: ") && !l.contains("warning")).count(),
        1,
        "{err}"
    );
    assert!(states.iter().all(|s| s.active_faults().is_empty()), "nothing was injected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_already_carrying_a_fault_is_refused_and_left_as_it_was() {
    let (base, states) = test_support::fleet::separate_nodes(2).await;
    let spec = FaultSpec { kind: FaultKind::LatencySpike, duration_s: 120.0, intensity: None, service: None };
    states[1].inject(&spec).expect("injects");
    let url = prometheus(&ALL).await;
    let (code, err) = live(&url, base).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("node 2 has a fault running (latency_spike, 120s left)"), "{err}");
    assert!(states[0].active_faults().is_empty(), "nothing was injected on node 1");
    let kept: Vec<_> = states[1].active_faults().iter().map(|f| f.kind).collect();
    assert_eq!(kept, [FaultKind::LatencySpike], "node 2's own fault is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_prometheus_is_one_line_and_exit_1() {
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let (code, err) = live(&url, 1).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("coverage: prometheus: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
