//! The shop API and its RED measurement, driven in-process with `oneshot`.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use edge_node::NodeConfig;

#[tokio::test(start_paused = true)]
async fn products_are_listed_and_fetched_and_unknown_ones_are_404() {
    let (_, app) = quiet_node(1);
    let list = get(&app, "/api/products").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json().as_array().map(Vec::len), Some(12));
    let one = get(&app, "/api/products/3").await.json();
    assert_eq!(one["id"], 3);
    let missing = get(&app, "/api/products/99").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"], "no product 99; products are 1-12");
    let junk = get(&app, "/api/products/abc").await;
    assert_eq!((junk.status, junk.content_type.as_str()), (StatusCode::BAD_REQUEST, "application/json"));
}

#[tokio::test(start_paused = true)]
async fn an_order_is_charged_through_payments_stored_and_fetched() {
    let (state, app) = quiet_node(1);
    let created = post_json(&app, "/api/orders", r#"{"product_id": 2, "quantity": 3}"#).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let order = created.json();
    assert_eq!((order["total_cents"].as_u64(), order["status"].as_str()), (Some(3 * 12_900), Some("paid")));
    let fetched = get(&app, &format!("/api/orders/{}", order["id"])).await;
    assert_eq!(fetched.json(), order);
    let text = metrics(&app).await;
    assert_eq!(
        sample(&text, r#"edge_upstream_requests_total{upstream="payments",outcome="success"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"edge_upstream_requests_total{upstream="payment_gateway",outcome="success"}"#),
        Some(1.0)
    );
    assert_eq!(state.orders_stored(), 1);
}

#[tokio::test(start_paused = true)]
async fn invalid_orders_and_payments_are_refused_with_json_errors() {
    let (state, app) = quiet_node(1);
    let cases = [
        ("/api/orders", r#"{"product_id": 99, "quantity": 1}"#, StatusCode::UNPROCESSABLE_ENTITY),
        ("/api/orders", r#"{"product_id": 1, "quantity": 0}"#, StatusCode::UNPROCESSABLE_ENTITY),
        ("/api/orders", r#"{"product_id": 1}"#, StatusCode::UNPROCESSABLE_ENTITY),
        ("/api/orders", r#"{"product_id": 1, "quantity": 1, "x": 1}"#, StatusCode::UNPROCESSABLE_ENTITY),
        ("/api/orders", r#"{"product_id": "#, StatusCode::BAD_REQUEST),
        ("/api/payments", r#"{"amount_cents": 0}"#, StatusCode::UNPROCESSABLE_ENTITY),
        ("/api/payments", r#"{"amount_cents": -5}"#, StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (uri, body, expected) in cases {
        let reply = post_json(&app, uri, body).await;
        assert_eq!(reply.status, expected, "{uri} {body}: {}", reply.body);
        assert!(reply.json()["error"].is_string(), "{}", reply.body);
    }
    let plain = Request::post("/api/payments").body(Body::from("amount=5")).expect("request");
    assert_eq!(send(&app, plain).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(state.orders_stored(), 0, "nothing was stored");
}

#[tokio::test(start_paused = true)]
async fn old_orders_are_evicted_so_the_store_stays_bounded() {
    let (_, app) = node(NodeConfig { rps: 0.0, order_capacity: 3, ..NodeConfig::new(1, 42) });
    for _ in 0..5 {
        assert_eq!(
            post_json(&app, "/api/orders", r#"{"product_id":1,"quantity":1}"#).await.status,
            StatusCode::CREATED
        );
    }
    assert_eq!(get(&app, "/api/orders/1").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/api/orders/5").await.status, StatusCode::OK);
    assert_eq!(sample(&metrics(&app).await, "edge_orders_stored"), Some(3.0));
}

#[tokio::test(start_paused = true)]
async fn metrics_are_openmetrics_with_every_required_family() {
    let (_, app) = quiet_node(4);
    get(&app, "/api/products").await;
    let reply = get(&app, "/metrics").await;
    assert_eq!(reply.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert_eq!(reply.content_type, edge_node::metrics::OPENMETRICS_CONTENT_TYPE);
    assert!(reply.body.ends_with("# EOF\n"));
    for family in [
        "edge_http_requests counter",
        "edge_http_request_duration_seconds histogram",
        "edge_http_requests_in_flight gauge",
        "edge_http_concurrency_limit gauge",
        "edge_cpu_utilization_ratio gauge",
        "edge_memory_utilization_ratio gauge",
        "edge_memory_used_bytes gauge",
        "edge_memory_limit_bytes gauge",
        "edge_start_time_seconds gauge",
        "edge_uptime_seconds gauge",
        "edge_disk_used_ratio gauge",
        "edge_oom_kills counter",
        "edge_fault_active gauge",
        "edge_fault_injections counter",
        "edge_upstream_requests counter",
        "edge_network_retransmit_timeouts counter",
        "edge_build info",
        "edge_log_lines_dropped counter",
        "edge_trace_spans_dropped counter",
    ] {
        assert!(reply.body.contains(&format!("# TYPE {family}\n")), "missing {family}");
    }
    assert_eq!(sample(&reply.body, "edge_log_lines_dropped_total"), Some(0.0));
    for kind in edge_sim::FaultKind::ALL {
        let series = format!("edge_fault_active{{failure=\"{kind}\"}}");
        assert_eq!(sample(&reply.body, &series), Some(0.0), "{series} pre-created at 0");
    }
    assert!(reply.body.contains(r#"edge_build_info{version="0.1.0",seed="42"} 1"#));
    for sample in parse(&reply.body).samples() {
        for (key, _) in &sample.labels {
            assert!(
                !["node", "region", "job", "instance"].contains(&key.as_str()),
                "{key} is a target label, never the app's: {sample}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn each_request_moves_the_red_counters_by_exactly_one() {
    let (_, app) = quiet_node(1);
    let series = r#"edge_http_requests_total{service="products",route="/api/products/{id}",method="GET",status="200"}"#;
    let count = r#"edge_http_request_duration_seconds_count{service="products",route="/api/products/{id}",method="GET",status="200"}"#;
    assert_eq!(sample(&metrics(&app).await, series), None);
    for n in 1..=3 {
        get(&app, "/api/products/1").await;
        let text = metrics(&app).await;
        assert_eq!(sample(&text, series), Some(f64::from(n)));
        assert_eq!(sample(&text, count), Some(f64::from(n)));
    }
    // Control traffic is not shop traffic.
    get(&app, "/healthz").await;
    get(&app, "/inject").await;
    let text = metrics(&app).await;
    assert_eq!(sum(&text, "edge_http_requests_total", &[]), 3.0);
}

#[tokio::test(start_paused = true)]
async fn measured_latency_is_the_time_really_served() {
    let (_, app) = quiet_node(1);
    let started = tokio::time::Instant::now();
    for _ in 0..20 {
        get(&app, "/api/products").await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let text = metrics(&app).await;
    let measured = sum(&text, "edge_http_request_duration_seconds_sum", &[r#"route="/api/products""#]);
    assert!((measured - elapsed).abs() < 1e-3, "measured {measured} vs elapsed {elapsed}");
}

#[tokio::test(start_paused = true)]
async fn the_request_id_is_honoured_returned_and_kept_as_an_exemplar() {
    let (_, app) = quiet_node(1);
    let req = Request::get("/api/products")
        .header("x-request-id", "demo-123")
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&app, req).await.request_id.as_deref(), Some("demo-123"));
    assert!(metrics(&app).await.contains(r#"# {request_id="demo-123"}"#));
    let bad =
        Request::get("/api/products").header("x-request-id", "a b\"c").body(Body::empty()).expect("request");
    let generated = send(&app, bad).await.request_id.expect("generated");
    assert_eq!(generated.len(), 16, "{generated}");
    assert!(get(&app, "/api/products").await.request_id.is_some_and(|id| id != generated));
}

#[tokio::test(start_paused = true)]
async fn unknown_paths_and_methods_collapse_to_bounded_labels() {
    let (_, app) = quiet_node(1);
    for i in 0..50 {
        let reply = get(&app, &format!("/junk/{i}?x={i}")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert!(reply.json()["error"].is_string());
    }
    let weird = Request::builder().method("BREW").uri("/api/products").body(Body::empty()).expect("request");
    let reply = send(&app, weird).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.json()["error"], "method BREW is not allowed here");
    let text = metrics(&app).await;
    let junk: Vec<&str> =
        text.lines().filter(|l| l.starts_with("edge_http_requests_total") && l.contains("404")).collect();
    assert_eq!(
        junk,
        vec![r#"edge_http_requests_total{service="none",route="unmatched",method="GET",status="404"} 50"#]
    );
    assert!(text.contains(r#"method="other",status="405"} 1"#), "odd methods collapse to `other`");
}

#[tokio::test(start_paused = true)]
async fn health_and_readiness_answer() {
    let (state, app) = quiet_node(7);
    assert_eq!(get(&app, "/healthz").await.json()["node"], 7);
    assert_eq!(get(&app, "/readyz").await.status, StatusCode::OK);
    state.begin_drain();
    assert_eq!(get(&app, "/readyz").await.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(start_paused = true)]
async fn the_node_sheds_load_past_its_concurrency_limit_and_times_out_slow_requests() {
    let config = NodeConfig {
        rps: 0.0,
        concurrency_limit: 1,
        request_timeout: std::time::Duration::from_millis(100),
        ..NodeConfig::new(1, 42)
    };
    let (_, app) = node(config);
    inject(&app, r#"{"failure":"latency_spike","duration_s":60,"intensity":20}"#).await;
    let (a, b) = tokio::join!(get(&app, "/api/products"), get(&app, "/api/products"));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SERVICE_UNAVAILABLE, StatusCode::GATEWAY_TIMEOUT]);
    assert!(b.json()["error"].is_string() && a.json()["error"].is_string());
    let text = metrics(&app).await;
    assert_eq!(sum(&text, "edge_http_requests_total", &["status=\"504\""]), 1.0);
    assert_eq!(sum(&text, "edge_http_requests_total", &["status=\"503\""]), 1.0);
}

#[tokio::test(start_paused = true)]
async fn error_counters_exist_at_zero_before_the_first_error_and_their_histograms_do_not() {
    let (_, app) = quiet_node(1);
    let text = metrics(&app).await;
    for route in &edge_node::routes::ROUTES {
        for status in edge_node::metrics::PRECREATED_ERROR_STATUSES {
            let labels = format!(
                r#"{{service="{}",route="{}",method="{}",status="{status}"}}"#,
                route.service, route.path, route.method
            );
            let counter = format!("edge_http_requests_total{labels}");
            assert_eq!(sample(&text, &counter), Some(0.0), "{counter}");
            // 18 series per status and route that no alert waits on (see the constant's doc).
            let count = format!("edge_http_request_duration_seconds_count{labels}");
            assert_eq!(sample(&text, &count), None, "{count} before any error");
        }
    }
}
