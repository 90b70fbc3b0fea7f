//! The metric shapes besides `edge_*`: each one's families with their types, labels and
//! buckets, each switched off by `--metric-shapes`, and all of them counting exactly the
//! requests `edge_http_requests_total` counts.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::*;
use edge_node::NodeConfig;
use edge_node::shapes::MetricShapes;
use edge_node::shapes::otel::BUCKETS as OTEL_BUCKETS;
use edge_node::shapes::promhttp::DEF_BUCKETS;

fn node_with(shapes: MetricShapes) -> (edge_node::NodeState, axum::Router) {
    node(NodeConfig { rps: 0.0, shapes, ..NodeConfig::new(3, 42) })
}

/// The label names of a sample.
fn keys(sample: &exposition::Sample) -> BTreeSet<&str> {
    sample.labels.iter().map(|(k, _)| k.as_str()).collect()
}

/// The `le` bounds of every `_bucket` sample of `name` whose labels include `with`.
fn bounds(text: &str, name: &str, with: (&str, &str)) -> Vec<String> {
    parse(text)
        .samples()
        .iter()
        .filter(|s| s.name == format!("{name}_bucket") && s.label(with.0) == Some(with.1))
        .filter_map(|s| s.label("le").map(str::to_owned))
        .collect()
}

fn expected_bounds(buckets: &[f64]) -> Vec<String> {
    buckets.iter().map(|b| format!("{b:?}")).chain(["+Inf".to_owned()]).collect()
}

/// `# TYPE` lines of each shape on `/metrics` (OpenMetrics: counters without `_total`).
const OTEL_TYPES: [&str; 2] = ["http_server_request_duration_seconds histogram", "target info"];
const PROMHTTP_TYPES: [&str; 5] = [
    "http_requests counter",
    "http_request_duration_seconds histogram",
    "process_cpu_seconds counter",
    "process_resident_memory_bytes gauge",
    "process_start_time_seconds gauge",
];
const EDGE_NEW_TYPES: [&str; 2] = ["edge_disk_used_ratio gauge", "edge_oom_kills counter"];

#[tokio::test(start_paused = true)]
async fn every_shape_is_served_with_its_types_labels_and_buckets() {
    let (_, app) = node_with(MetricShapes::ALL);
    assert_eq!(get(&app, "/api/products").await.status, StatusCode::OK);
    assert_eq!(get(&app, "/no/such/path").await.status, StatusCode::NOT_FOUND);
    let text = metrics(&app).await;
    for family in OTEL_TYPES.iter().chain(&PROMHTTP_TYPES).chain(&EDGE_NEW_TYPES) {
        assert!(text.contains(&format!("# TYPE {family}\n")), "missing {family}");
    }
    for help in [
        "http_server_request_duration_seconds Duration of HTTP server requests.",
        "target Target metadata.",
        "http_requests Tracks the number of HTTP requests.",
        "http_request_duration_seconds Tracks the latencies for HTTP requests.",
        "process_start_time_seconds Start time of the process since unix epoch in seconds.",
        "process_resident_memory_bytes Resident memory size in bytes.",
        "process_cpu_seconds Total user and system CPU time spent in seconds.",
    ] {
        assert!(text.contains(&format!("# HELP {help}\n")), "help of {help}");
    }
    let m = parse(&text);

    // otel: semconv attributes (route only when one matched), scope labels, advisory buckets.
    let otel = |route: Option<&str>| {
        m.samples()
            .iter()
            .find(|s| {
                s.name == "http_server_request_duration_seconds_count" && s.label("http_route") == route
            })
            .unwrap_or_else(|| panic!("no otel series for {route:?}"))
    };
    let matched = otel(Some("/api/products"));
    let scope = ["otel_scope_name", "otel_scope_version"];
    let semconv = ["http_request_method", "http_response_status_code", "http_route", "url_scheme"];
    assert_eq!(keys(matched), semconv.iter().chain(&scope).copied().collect());
    assert_eq!(
        (matched.label("http_request_method"), matched.label("http_response_status_code"), matched.value),
        (Some("GET"), Some("200"), 1.0)
    );
    assert_eq!(
        (matched.label("url_scheme"), matched.label("otel_scope_name")),
        (Some("http"), Some("edge-node"))
    );
    let unmatched = otel(None);
    assert_eq!(unmatched.label("http_response_status_code"), Some("404"));
    assert!(unmatched.label("error_type").is_none(), "a 4xx is not a server error");
    assert_eq!(
        bounds(&text, "http_server_request_duration_seconds", ("http_route", "/api/products")),
        expected_bounds(&OTEL_BUCKETS)
    );
    let target = m.samples().iter().find(|s| s.name == "target_info").expect("target_info");
    assert_eq!((target.label("service_name"), target.value), (Some("edge-node"), 1.0));
    assert_eq!(target.label("telemetry_sdk_language"), Some("rust"));

    // promhttp: code, handler, lower-case method; DefBuckets.
    assert_eq!(
        sample(&text, r#"http_requests_total{code="200",handler="/api/products",method="get"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"http_requests_total{code="404",handler="unmatched",method="get"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"http_requests_total{code="503",handler="/api/orders",method="post"}"#),
        Some(0.0),
        "server-error counters exist from the start, as edge_'s do"
    );
    assert_eq!(
        bounds(&text, "http_request_duration_seconds", ("handler", "/api/products")),
        expected_bounds(&DEF_BUCKETS)
    );
    let start = sample(&text, "process_start_time_seconds").expect("start time");
    assert!(start > 1.7e9, "unix seconds: {start}");
    assert!(sample(&text, "process_resident_memory_bytes").is_some_and(|b| b > 1e6));
    assert!(sample(&text, "process_cpu_seconds_total").is_some_and(|s| s >= 0.0));
    assert!(sample(&text, "edge_disk_used_ratio").is_some_and(|r| (0.0..1.0).contains(&r)));
    assert_eq!(sample(&text, "edge_oom_kills_total"), Some(0.0));

    // node_exporter: its own path and content type (its families: tests/node_exporter_real.rs).
    let host = get(&app, "/host/metrics").await;
    assert_eq!(host.status, StatusCode::OK);
    assert_eq!(host.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(host.body.contains("# TYPE node_cpu_seconds_total counter\n"));
    assert!(!host.body.lines().any(|l| l.starts_with("edge_")), "no edge_ family on the host's path");
    assert!(!text.lines().any(|l| l.starts_with("node_")), "no node_ family on the app's path");
}

#[tokio::test(start_paused = true)]
async fn a_server_error_carries_error_type_in_otel() {
    let (_, app) = node_with(MetricShapes::ALL);
    inject(&app, r#"{"failure":"error_burst","duration_s":30,"intensity":1.0}"#).await;
    assert_eq!(get(&app, "/api/products").await.status, StatusCode::INTERNAL_SERVER_ERROR);
    let m = parse(&metrics(&app).await);
    let failed = m
        .samples()
        .iter()
        .find(|s| {
            s.name == "http_server_request_duration_seconds_count"
                && s.label("http_response_status_code") == Some("500")
        })
        .expect("the failed request");
    assert_eq!((failed.label("error_type"), failed.value), (Some("500"), 1.0));
}

#[tokio::test(start_paused = true)]
async fn a_shape_switched_off_is_absent() {
    let otel_only = MetricShapes { otel: true, ..MetricShapes::NONE };
    let promhttp_only = MetricShapes { promhttp: true, ..MetricShapes::NONE };
    let host_only = MetricShapes { node_exporter: true, ..MetricShapes::NONE };
    for shapes in [MetricShapes::NONE, otel_only, promhttp_only, host_only, MetricShapes::ALL] {
        let (_, app) = node_with(shapes);
        get(&app, "/api/products").await;
        let text = metrics(&app).await;
        let has = |family: &&str| text.contains(&format!("# TYPE {family}\n"));
        assert!(EDGE_NEW_TYPES.iter().all(has), "{shapes}: edge_* are always on");
        assert!(text.contains("# TYPE edge_http_requests counter\n"));
        assert_eq!(OTEL_TYPES.iter().all(has), shapes.otel, "{shapes}");
        assert_eq!(OTEL_TYPES.iter().any(has), shapes.otel, "{shapes}");
        assert_eq!(PROMHTTP_TYPES.iter().all(has), shapes.promhttp, "{shapes}");
        assert_eq!(PROMHTTP_TYPES.iter().any(has), shapes.promhttp, "{shapes}");
        let host = get(&app, "/host/metrics").await;
        if shapes.node_exporter {
            assert_eq!(host.status, StatusCode::OK, "{shapes}");
        } else {
            assert_eq!(host.status, StatusCode::NOT_FOUND, "{shapes}");
            assert_eq!(host.json()["status"], 404, "the JSON error body");
            assert!(
                host.json()["error"].as_str().is_some_and(|e| e.contains("node_exporter")),
                "{}",
                host.body
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_three_shapes_count_exactly_the_requests_edge_counts() {
    let (_, app) = node_with(MetricShapes::ALL);
    let mut sent = 0.0;
    // A mix of routes, methods and outcomes: 200, 201, 404 (known and unmatched routes),
    // 405, 422, and injected 500s on every route.
    for round in 0..3 {
        for uri in
            ["/api/products", "/api/products/4", "/api/products/99", "/api/orders/1", "/junk", "/api/orders"]
        {
            get(&app, uri).await;
            sent += 1.0;
        }
        post_json(&app, "/api/orders", r#"{"product_id": 2, "quantity": 1}"#).await;
        post_json(&app, "/api/orders", r#"{"product_id": 2, "quantity": 0}"#).await;
        post_json(&app, "/api/payments", r#"{"amount_cents": 500}"#).await;
        sent += 3.0;
        if round == 1 {
            inject(&app, r#"{"failure":"error_burst","duration_s":3600,"intensity":0.5}"#).await;
        }
    }
    let text = metrics(&app).await;
    let m = parse(&text);
    let total = |name: &str| m.sum(name, |_| true);
    assert_eq!(total("edge_http_requests_total"), sent);
    for name in [
        "edge_http_request_duration_seconds_count",
        "http_requests_total",
        "http_request_duration_seconds_count",
        "http_server_request_duration_seconds_count",
    ] {
        assert_eq!(total(name), sent, "{name}");
    }
    assert!(m.sum("edge_http_requests_total", |s| s.label("status") == Some("500")) > 0.0, "some failed");
    // Series by series: each edge_ count appears in both dialects.
    for s in m.samples().iter().filter(|s| s.name == "edge_http_requests_total" && s.value > 0.0) {
        let (route, status) = (s.label("route").unwrap_or_default(), s.label("status").unwrap_or_default());
        let method = s.label("method").unwrap_or_default();
        let promhttp = m.sum("http_requests_total", |p| {
            p.label("handler") == Some(route)
                && p.label("code") == Some(status)
                && p.label("method") == Some(&method.to_lowercase())
        });
        let otel_route = (route != "unmatched").then_some(route);
        let otel = m.sum("http_server_request_duration_seconds_count", |o| {
            o.label("http_route") == otel_route
                && o.label("http_response_status_code") == Some(status)
                && o.label("http_request_method") == Some(method)
        });
        assert_eq!((promhttp, otel), (s.value, s.value), "{s}");
    }
}
