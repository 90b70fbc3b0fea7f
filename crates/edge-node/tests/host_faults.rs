//! The faults the host rules exist for, as the service answers them: a full data
//! filesystem fails the shop's one write, and an OOM kill takes the node's process away for
//! a few seconds and brings it back with fresh metrics, while the host (node_exporter's
//! `/host/metrics`) answers throughout and counts the kill.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use edge_sim::host::RESTART_GAP;

const SECOND: Duration = Duration::from_secs(1);
const ORDER: &str = r#"{"product_id": 1, "quantity": 1}"#;

/// One sample of `/host/metrics`.
async fn host_sample(app: &axum::Router, series: &str) -> Option<f64> {
    let reply = get(app, "/host/metrics").await;
    assert_eq!(reply.status, StatusCode::OK, "the host answers: {}", reply.body);
    sample(&reply.body, series)
}

#[tokio::test(start_paused = true)]
async fn a_full_disk_fails_order_writes_keeps_reads_and_is_released_by_a_clear() {
    let (_, app) = quiet_node(2);
    let first = post_json(&app, "/api/orders", ORDER).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let id = first.json()["id"].as_u64().expect("id");
    inject(&app, r#"{"failure":"disk_fill","duration_s":3600,"intensity":0.05}"#).await;
    assert_eq!(post_json(&app, "/api/orders", ORDER).await.status, StatusCode::CREATED, "not full yet");

    let mut ratio = 0.0;
    for _ in 0..120 {
        tokio::time::advance(SECOND).await;
        ratio = sample(&metrics(&app).await, "edge_disk_used_ratio").expect("edge_disk_used_ratio");
        if ratio >= 1.0 {
            break;
        }
    }
    assert_eq!(ratio, 1.0, "the data filesystem filled up");
    let data = r#"device="/dev/vdb",device_error="",fstype="ext4",mountpoint="/var/lib/edge""#;
    assert_eq!(host_sample(&app, &format!("node_filesystem_avail_bytes{{{data}}}")).await, Some(0.0));

    let refused = post_json(&app, "/api/orders", ORDER).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(refused.json(), serde_json::json!({"error": "no space left on device", "status": 500}));
    assert_eq!(get(&app, "/api/products").await.status, StatusCode::OK, "reads work");
    assert_eq!(get(&app, &format!("/api/orders/{id}")).await.status, StatusCode::OK, "stored orders too");
    let text = metrics(&app).await;
    assert_eq!(
        sample(
            &text,
            r#"edge_http_requests_total{service="orders",route="/api/orders",method="POST",status="500"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"http_requests_total{code="500",handler="/api/orders",method="post"}"#),
        Some(1.0)
    );

    // Someone deletes the files: the space is back from the next second.
    assert_eq!(delete(&app, "/inject").await.status, StatusCode::OK);
    tokio::time::advance(SECOND).await;
    assert_eq!(post_json(&app, "/api/orders", ORDER).await.status, StatusCode::CREATED);
    assert!(sample(&metrics(&app).await, "edge_disk_used_ratio").is_some_and(|r| r < 0.9));
}

#[tokio::test(start_paused = true)]
async fn an_oom_kill_is_a_gap_then_a_fresh_process_while_the_host_answers_throughout() {
    let (_, app) = quiet_node(4);
    for _ in 0..5 {
        assert_eq!(get(&app, "/api/products").await.status, StatusCode::OK);
    }
    let before = metrics(&app).await;
    assert_eq!(sum(&before, "edge_http_requests_total", &[]), 5.0);
    let started = sample(&before, "process_start_time_seconds").expect("process start");
    assert_eq!(host_sample(&app, "node_vmstat_oom_kill").await, Some(0.0));
    inject(&app, r#"{"failure":"oom_kill","duration_s":3600,"intensity":0.2}"#).await;

    // The leak reaches the limit: the process is gone; the host and /inject still answer.
    let mut waited = 0;
    while get(&app, "/metrics").await.status == StatusCode::OK {
        assert!(waited < 60, "no OOM kill within a minute");
        tokio::time::advance(SECOND).await;
        waited += 1;
    }
    for path in ["/metrics", "/healthz", "/api/products"] {
        let reply = get(&app, path).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(
            reply.json()["error"].as_str().is_some_and(|e| e.contains("out-of-memory")),
            "{}",
            reply.body
        );
    }
    assert_eq!(host_sample(&app, "node_vmstat_oom_kill").await, Some(1.0), "the kernel counted it");
    let faults = get(&app, "/inject").await;
    assert_eq!(faults.status, StatusCode::OK);
    assert_eq!(faults.json()["faults"][0]["failure"], "oom_kill", "the fault outlives the process");

    // Back after the gap, the host answering every second of it.
    let mut gap = 0;
    while get(&app, "/metrics").await.status != StatusCode::OK {
        assert!(gap <= RESTART_GAP.as_secs() + 1, "still down after {gap} s");
        assert_eq!(host_sample(&app, "node_vmstat_oom_kill").await, Some(1.0));
        tokio::time::advance(SECOND).await;
        gap += 1;
    }
    assert!(gap >= RESTART_GAP.as_secs() - 1, "down only {gap} s");
    let after = metrics(&app).await;
    for family in [
        "edge_http_requests_total",
        "edge_http_request_duration_seconds_count",
        "http_requests_total",
        "http_request_duration_seconds_count",
        "http_server_request_duration_seconds_count",
    ] {
        assert_eq!(sum(&after, family, &[]), 0.0, "{family} starts again from zero");
    }
    let restarted = sample(&after, "process_start_time_seconds").expect("process start");
    assert!(restarted >= started + f64::from(waited), "{started} then {restarted}");
    assert_eq!(sample(&after, "edge_start_time_seconds"), Some(restarted));
    assert!(sample(&after, "edge_uptime_seconds").is_some_and(|u| u < 2.0), "uptime restarted");
    assert_eq!(sample(&after, "edge_oom_kills_total"), Some(1.0), "the host's count");
    assert_eq!(sample(&after, r#"edge_fault_active{failure="oom_kill"}"#), Some(1.0));

    // The new process serves and counts; the kill count does not reset with it.
    assert_eq!(get(&app, "/api/products").await.status, StatusCode::OK);
    let serving = metrics(&app).await;
    assert_eq!(sum(&serving, "edge_http_requests_total", &[]), 1.0);
    assert_eq!(sum(&serving, "http_server_request_duration_seconds_count", &[]), 1.0);
    assert_eq!(sample(&serving, "edge_oom_kills_total"), Some(1.0));
    assert_eq!(sample(&serving, "process_start_time_seconds"), Some(restarted));
}

#[tokio::test(start_paused = true)]
async fn a_sealed_oom_kill_names_nothing_and_its_seal_survives_the_restart() {
    const KEY: &str = "drill-key-0123456789";
    let (_, app) = quiet_node(6);
    inject(&app, &format!(r#"{{"failure":"oom_kill","duration_s":3600,"intensity":0.2,"seal":"{KEY}"}}"#))
        .await;
    let mut waited = 0;
    while get(&app, "/healthz").await.status == StatusCode::OK {
        assert!(waited < 60, "no OOM kill within a minute");
        tokio::time::advance(SECOND).await;
        waited += 1;
    }
    let down = get(&app, "/api/products").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.json()["error"], "service unavailable", "no fault named: {}", down.body);
    tokio::time::advance(RESTART_GAP + SECOND).await;
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK, "restarted");
    let text = metrics(&app).await;
    assert_eq!(sum(&text, "edge_fault_active", &[]), 0.0, "still sealed after the restart");
    let sealed = get(&app, &format!("/inject?seal={KEY}")).await.json();
    assert_eq!(sealed["faults"][0]["failure"], "oom_kill");
    assert_eq!(sealed["faults"][0]["ended_at"], serde_json::Value::Null, "still in force");
    assert_eq!(delete(&app, "/inject").await.status, StatusCode::OK);
    let ended = get(&app, &format!("/inject?seal={KEY}")).await.json();
    assert!(ended["faults"][0]["ended_at"].is_number(), "the seal records the clear: {ended}");
}

#[tokio::test(start_paused = true)]
async fn a_crashed_node_still_has_its_host_answering() {
    let (_, app) = quiet_node(7);
    inject(&app, r#"{"failure":"node_crash","duration_s":30}"#).await;
    assert_eq!(get(&app, "/metrics").await.status, StatusCode::SERVICE_UNAVAILABLE, "the app is down");
    let before = host_sample(&app, "node_time_seconds").await.expect("node_time_seconds");
    tokio::time::advance(SECOND).await;
    let after = host_sample(&app, "node_time_seconds").await.expect("node_time_seconds");
    assert!(after > before, "node_exporter keeps reporting: {before} then {after}");
    assert_eq!(host_sample(&app, "node_vmstat_oom_kill").await, Some(0.0), "a crash is no OOM kill");
}
