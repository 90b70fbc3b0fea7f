//! `/inject` and what each failure mode does to real requests, in paused time.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;

async fn advance(secs: f64) {
    tokio::time::advance(Duration::from_secs_f64(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn a_fault_starts_is_listed_with_time_left_and_expires_on_its_own() {
    let (_, app) = quiet_node(3);
    let started = inject(&app, r#"{"failure":"cpu_spike","duration_s":30}"#).await;
    assert_eq!((started["node"].as_u64(), started["id"].as_u64()), (Some(3), Some(1)));
    assert_eq!(started["failure"], "cpu_spike");
    assert_eq!(started["expected_alert"], "HighCPUUsage");
    let span = started["expires_at"].as_f64().unwrap_or(0.0) - started["started_at"].as_f64().unwrap_or(0.0);
    assert!((span - 30.0).abs() < 0.01, "{span}");
    assert!((0.95..=1.0).contains(&started["intensity"].as_f64().unwrap_or(0.0)));

    advance(10.0).await;
    let listed = get(&app, "/inject").await.json();
    assert_eq!(listed["faults"][0]["remaining_s"].as_f64(), Some(20.0));
    let text = metrics(&app).await;
    assert_eq!(sample(&text, r#"edge_fault_active{failure="cpu_spike"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"edge_fault_injections_total{failure="cpu_spike"}"#), Some(1.0));
    assert!(sample(&text, "edge_cpu_utilization_ratio").unwrap_or(0.0) >= 0.93);

    advance(20.0).await;
    assert_eq!(get(&app, "/inject").await.json()["faults"], serde_json::json!([]));
    let text = metrics(&app).await;
    assert_eq!(sample(&text, r#"edge_fault_active{failure="cpu_spike"}"#), Some(0.0));
    assert!(sample(&text, "edge_cpu_utilization_ratio").unwrap_or(1.0) < 0.7);
}

#[tokio::test(start_paused = true)]
async fn the_seed_query_form_works_and_a_repeat_replaces_the_fault() {
    let (_, app) = quiet_node(1);
    let first =
        send(&app, Request::post("/inject?mode=memory_leak&duration=30").body(Body::empty()).expect("req"))
            .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    advance(5.0).await;
    let second = inject(&app, r#"{"failure":"memory_leak","duration_s":60,"intensity":0.02}"#).await;
    assert_eq!((second["id"].as_u64(), second["replaced"].as_u64()), (Some(2), Some(1)));
    let listed = get(&app, "/inject").await.json();
    assert_eq!(listed["faults"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["faults"][0]["remaining_s"].as_f64(), Some(60.0));
}

#[tokio::test(start_paused = true)]
async fn faults_overlap_and_are_cleared_one_by_one_or_all_at_once() {
    let (_, app) = quiet_node(1);
    inject(&app, r#"{"failure":"cpu_spike","duration_s":60}"#).await;
    inject(&app, r#"{"failure":"latency_spike","duration_s":60,"service":"orders"}"#).await;
    inject(&app, r#"{"failure":"latency_spike","duration_s":60,"service":"payments"}"#).await;
    assert_eq!(get(&app, "/inject").await.json()["faults"].as_array().map(Vec::len), Some(3));

    let cleared = delete(&app, "/inject/2").await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert_eq!(cleared.json()["faults"][0]["id"], 2);
    let again = delete(&app, "/inject/2").await;
    assert_eq!(
        (again.status, again.json()["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("no active fault with id 2"))
    );
    assert_eq!(delete(&app, "/inject/x").await.status, StatusCode::BAD_REQUEST);

    let all = delete(&app, "/inject").await.json();
    assert_eq!(all["faults"].as_array().map(Vec::len), Some(2));
    assert_eq!(get(&app, "/inject").await.json()["faults"], serde_json::json!([]));
}

#[tokio::test(start_paused = true)]
async fn node_crash_answers_503_everywhere_but_inject_and_counts_nothing() {
    let (_, app) = quiet_node(10);
    get(&app, "/api/products").await;
    let before = metrics(&app).await;
    inject(&app, r#"{"failure":"node_crash","duration_s":45}"#).await;
    for uri in ["/metrics", "/healthz", "/readyz", "/api/products", "/api/orders/1", "/nope"] {
        let reply = get(&app, uri).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert!(reply.json()["error"].as_str().is_some_and(|e| e.contains("node_crash")));
    }
    assert_eq!(get(&app, "/inject").await.status, StatusCode::OK);
    assert_eq!(delete(&app, "/inject").await.status, StatusCode::OK);
    let after = metrics(&app).await;
    assert_eq!(
        sum(&after, "edge_http_requests_total", &[]),
        sum(&before, "edge_http_requests_total", &[]),
        "a crashed node counts nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn error_burst_really_fails_its_fraction_with_500() {
    let (_, app) = quiet_node(5);
    inject(&app, r#"{"failure":"error_burst","duration_s":600}"#).await;
    let n = 400;
    let mut failed = 0;
    for _ in 0..n {
        let reply = get(&app, "/api/products").await;
        if reply.status == StatusCode::INTERNAL_SERVER_ERROR {
            failed += 1;
            assert_eq!(reply.json()["error"], "injected failure: error_burst");
        }
    }
    let ratio = f64::from(failed) / f64::from(n);
    assert!((0.15..=0.55).contains(&ratio), "{ratio}");
    let text = metrics(&app).await;
    assert_eq!(sum(&text, "edge_http_requests_total", &["status=\"500\""]), f64::from(failed));
}

#[tokio::test(start_paused = true)]
async fn an_error_burst_aimed_at_payments_degrades_orders_too_but_not_products() {
    let (_, app) = quiet_node(5);
    inject(&app, r#"{"failure":"error_burst","duration_s":600,"intensity":1.0,"service":"payments"}"#).await;
    assert_eq!(
        post_json(&app, "/api/payments", r#"{"amount_cents":100}"#).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        post_json(&app, "/api/orders", r#"{"product_id":1,"quantity":1}"#).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(get(&app, "/api/products").await.status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn latency_spike_makes_served_requests_ten_times_slower() {
    let (_, app) = quiet_node(2);
    let mean_latency = |text: &str| {
        sum(text, "edge_http_request_duration_seconds_sum", &[r#"route="/api/products""#])
            / sum(text, "edge_http_request_duration_seconds_count", &[r#"route="/api/products""#])
    };
    for _ in 0..300 {
        get(&app, "/api/products").await;
    }
    let normal = mean_latency(&metrics(&app).await);
    let (_, app) = quiet_node(2);
    inject(&app, r#"{"failure":"latency_spike","duration_s":3600}"#).await;
    for _ in 0..300 {
        get(&app, "/api/products").await;
    }
    let slow = mean_latency(&metrics(&app).await);
    assert!((8.0..12.0).contains(&(slow / normal)), "x{:.2}", slow / normal);
}

#[tokio::test(start_paused = true)]
async fn dependency_failure_fails_payments_and_order_creation_only() {
    let (_, app) = quiet_node(6);
    inject(&app, r#"{"failure":"dependency_failure","duration_s":60}"#).await;
    let payment = post_json(&app, "/api/payments", r#"{"amount_cents":100}"#).await;
    assert_eq!(
        (payment.status, payment.json()["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("payment gateway unavailable"))
    );
    assert_eq!(
        post_json(&app, "/api/orders", r#"{"product_id":1,"quantity":1}"#).await.status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(get(&app, "/api/products/1").await.status, StatusCode::OK);
    let text = metrics(&app).await;
    assert_eq!(
        sample(&text, r#"edge_upstream_requests_total{upstream="payment_gateway",outcome="error"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, r#"edge_upstream_requests_total{upstream="payments",outcome="error"}"#),
        Some(1.0)
    );
}

#[tokio::test(start_paused = true)]
async fn flaky_network_stalls_scrapes_past_a_one_second_timeout_and_counts_each_stall() {
    let (_, app) = quiet_node(8);
    let timeouts = |text: &str| sample(text, "edge_network_retransmit_timeouts_total");
    assert_eq!(timeouts(&metrics(&app).await), Some(0.0), "a healthy network holds nothing");
    inject(&app, r#"{"failure":"flaky_network","duration_s":600,"intensity":0.5}"#).await;
    let mut stalled = 0;
    for _ in 0..100 {
        let started = tokio::time::Instant::now();
        assert_eq!(get(&app, "/metrics").await.status, StatusCode::OK);
        if started.elapsed() >= Duration::from_secs(1) {
            stalled += 1;
        }
    }
    assert!((35..=65).contains(&stalled), "{stalled} of 100 scrapes stalled");
    // This scrape may be held too, and counts itself before it is served.
    let counted = timeouts(&metrics(&app).await).unwrap_or(0.0);
    assert!(
        counted == f64::from(stalled) || counted == f64::from(stalled + 1),
        "{counted} for {stalled} stalls"
    );
    let started = tokio::time::Instant::now();
    get(&app, "/inject").await;
    assert!(started.elapsed() < Duration::from_millis(1), "control endpoints are never stalled");
}

#[tokio::test(start_paused = true)]
async fn memory_leak_climbs_and_is_released_when_cleared() {
    let (_, app) = quiet_node(9);
    let before = sample(&metrics(&app).await, "edge_memory_utilization_ratio").unwrap_or(1.0);
    inject(&app, r#"{"failure":"memory_leak","duration_s":600}"#).await;
    advance(30.0).await;
    let leaking = sample(&metrics(&app).await, "edge_memory_utilization_ratio").unwrap_or(0.0);
    assert!(leaking - before > 0.25, "{before} -> {leaking}");
    delete(&app, "/inject").await;
    let after = sample(&metrics(&app).await, "edge_memory_utilization_ratio").unwrap_or(1.0);
    assert!(after < 0.65, "released: {after}");
}

#[tokio::test(start_paused = true)]
async fn bad_injections_get_a_4xx_json_error_and_change_nothing() {
    let (_, app) = quiet_node(1);
    let cases: &[(&str, &str, StatusCode, &str)] = &[
        (
            "application/json",
            r#"{"failure":"cpu_spikes","duration_s":30}"#,
            StatusCode::BAD_REQUEST,
            "valid modes: cpu_spike",
        ),
        (
            "application/json",
            r#"{"failure":"cpu_spike"}"#,
            StatusCode::BAD_REQUEST,
            "missing field `duration_s`",
        ),
        (
            "application/json",
            r#"{"failure":"cpu_spike","duration_s":0}"#,
            StatusCode::BAD_REQUEST,
            "between 1 and 3600",
        ),
        (
            "application/json",
            r#"{"failure":"cpu_spike","duration_s":-5}"#,
            StatusCode::BAD_REQUEST,
            "between 1 and 3600",
        ),
        (
            "application/json",
            r#"{"failure":"cpu_spike","duration_s":1e12}"#,
            StatusCode::BAD_REQUEST,
            "between 1 and 3600",
        ),
        (
            "application/json",
            r#"{"failure":"cpu_spike","duration_s":"30"}"#,
            StatusCode::BAD_REQUEST,
            "invalid type",
        ),
        (
            "application/json",
            r#"{"failure":"cpu_spike","duration_s":30"#,
            StatusCode::BAD_REQUEST,
            "invalid fault JSON",
        ),
        (
            "application/json",
            r#"{"failure":"cpu_spike","duration_s":30,"force":true}"#,
            StatusCode::BAD_REQUEST,
            "unknown field `force`",
        ),
        (
            "application/json",
            r#"{"failure":"cpu_spike","duration_s":30,"intensity":3}"#,
            StatusCode::BAD_REQUEST,
            "between 0.5 and 1",
        ),
        (
            "application/json",
            r#"{"failure":"node_crash","duration_s":30,"intensity":0.5}"#,
            StatusCode::BAD_REQUEST,
            "takes no intensity",
        ),
        (
            "application/json",
            r#"{"failure":"cpu_spike","duration_s":30,"service":"orders"}"#,
            StatusCode::BAD_REQUEST,
            "cannot target a service",
        ),
        (
            "application/json",
            r#"{"failure":"error_burst","duration_s":30,"service":"cart"}"#,
            StatusCode::BAD_REQUEST,
            "valid services: products",
        ),
        ("application/json", "[]", StatusCode::BAD_REQUEST, "invalid fault JSON"),
        (
            "text/plain",
            r#"{"failure":"cpu_spike","duration_s":30}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json",
        ),
        (
            "",
            r#"{"failure":"cpu_spike","duration_s":30}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json",
        ),
        ("application/json", "", StatusCode::BAD_REQUEST, "send a JSON body"),
    ];
    for (content_type, body, status, needle) in cases {
        let mut req = Request::post("/inject");
        if !content_type.is_empty() {
            req = req.header(header::CONTENT_TYPE, *content_type);
        }
        let reply = send(&app, req.body(Body::from(body.to_string())).expect("req")).await;
        assert_eq!(reply.status, *status, "{body}: {}", reply.body);
        let error = reply.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(needle), "{body}: `{error}` should mention `{needle}`");
    }
    for uri in [
        "/inject?mode=nope&duration=30",
        "/inject?mode=cpu_spike",
        "/inject?mode=cpu_spike&duration=abc",
        "/inject?mode=cpu_spike&duration=30&x=1",
    ] {
        let reply = send(&app, Request::post(uri).body(Body::empty()).expect("req")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}: {}", reply.body);
        assert!(reply.json()["error"].is_string());
    }
    let both = Request::post("/inject?mode=cpu_spike&duration=30")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"failure":"cpu_spike","duration_s":30}"#))
        .expect("req");
    assert_eq!(send(&app, both).await.status, StatusCode::BAD_REQUEST);
    let huge = format!(r#"{{"failure":"cpu_spike","duration_s":30,"pad":"{}"}}"#, "x".repeat(10_000));
    let reply = post_json(&app, "/inject", &huge).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.json()["error"].as_str().is_some_and(|e| e.contains("4096 bytes")));

    assert_eq!(get(&app, "/inject").await.json()["faults"], serde_json::json!([]));
    let text = metrics(&app).await;
    assert_eq!(sum(&text, "edge_fault_injections_total", &[]), 0.0, "nothing was injected");
}

#[tokio::test(start_paused = true)]
async fn every_answer_reads_as_the_shared_api_types() {
    use edge_sim::api::{ErrorBody, FaultList, Started};
    use edge_sim::{FaultKind, Service};
    let (_, app) = quiet_node(2);
    let reply =
        post_json(&app, "/inject", r#"{"failure":"error_burst","duration_s":30,"service":"orders"}"#).await;
    let started: Started = serde_json::from_str(&reply.body).expect("Started");
    assert_eq!((started.node, started.fault.id, started.replaced), (2, 1, None));
    assert_eq!(
        (started.fault.failure, started.fault.service),
        (FaultKind::ErrorBurst, Some(Service::Orders))
    );
    let listed: FaultList = serde_json::from_str(&get(&app, "/inject").await.body).expect("FaultList");
    assert_eq!(listed.faults, vec![started.fault.clone()]);
    let error: ErrorBody = serde_json::from_str(&delete(&app, "/inject/9").await.body).expect("ErrorBody");
    assert_eq!(error, ErrorBody { error: "no active fault with id 9".to_owned(), status: 404 });
    let cleared: FaultList = serde_json::from_str(&delete(&app, "/inject").await.body).expect("FaultList");
    assert_eq!(cleared.faults.iter().map(|f| f.id).collect::<Vec<_>>(), vec![1]);
}
