//! Traces, end to end: spans exported over OTLP/HTTP to a real receiver that decodes the
//! export requests with the official OpenTelemetry protobuf definitions
//! (`opentelemetry-proto`), and a collector that is down or never answers.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::otlp::*;
use common::*;
use edge_node::traces::ExportSettings;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio::net::TcpListener;
use tower::ServiceExt;

// ---- the trace of a request ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_one_trace_across_order_payment_and_gateway() {
    let receiver = Receiver::start();
    let (exporter, _, app) = traced_node(5, &ExportSettings::to_url(&receiver.url));
    let (status, trace_id) = traced(&app, order()).await;
    assert_eq!(status, StatusCode::CREATED);
    let trace_id = trace_id.expect("x-trace-id");
    assert_eq!(trace_id.len(), 32);
    tokio::task::block_in_place(|| flush(&exporter));

    let spans = receiver.trace(&trace_id);
    assert_eq!(spans.len(), 5, "{spans:#?}");
    let server = by_name(&spans, "POST /api/orders");
    let stock = by_name(&spans, "orders stock check");
    let charge = by_name(&spans, "payments charge");
    let authorize = by_name(&spans, "payments authorize");
    let gateway = by_name(&spans, "payment gateway charge");

    // One tree: the server span is the root; payments hangs under the order; the
    // gateway under payments.
    assert!(server.span.parent_span_id.is_empty());
    assert_eq!(server.span.kind, SpanKind::Server as i32);
    assert_eq!(stock.span.parent_span_id, server.span.span_id);
    assert_eq!(stock.span.kind, SpanKind::Internal as i32);
    assert_eq!(charge.span.parent_span_id, server.span.span_id);
    assert_eq!(charge.span.kind, SpanKind::Client as i32);
    assert_eq!(charge.attr("peer.service").as_deref(), Some("payments"));
    assert_eq!(authorize.span.parent_span_id, charge.span.span_id);
    assert_eq!(gateway.span.parent_span_id, charge.span.span_id);
    assert_eq!(gateway.span.kind, SpanKind::Client as i32);
    assert_eq!(gateway.attr("peer.service").as_deref(), Some("payment_gateway"));
    // Children run inside their parents.
    for child in [stock, charge] {
        assert!(child.span.start_time_unix_nano >= server.span.start_time_unix_nano);
        assert!(child.span.end_time_unix_nano <= server.span.end_time_unix_nano);
    }
    assert!(gateway.span.start_time_unix_nano >= authorize.span.end_time_unix_nano);

    // HTTP semantic conventions on the server span; no error on a 201.
    assert_eq!(server.attr("http.request.method").as_deref(), Some("POST"));
    assert_eq!(server.attr("http.route").as_deref(), Some("/api/orders"));
    assert_eq!(server.attr("url.path").as_deref(), Some("/api/orders"));
    assert_eq!(server.attr("http.response.status_code").as_deref(), Some("201"));
    assert_eq!(server.span.status.as_ref().map_or(0, |s| s.code), 0, "unset status");
    assert_eq!(server.attr("edge.faults"), None, "a healthy node has no fault attribute");
    // The resource says which node and region.
    assert_eq!(server.resource.get("edge.node").map(String::as_str), Some("5"));
    assert_eq!(server.resource.get("cloud.region").map(String::as_str), Some("us-east"));
    assert_eq!(server.resource.get("service.name").map(String::as_str), Some("edge-node"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_traceparent_is_joined_and_5xx_is_an_error() {
    let receiver = Receiver::start();
    let (exporter, _, app) = traced_node(2, &ExportSettings::to_url(&receiver.url));
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let request = Request::get("/api/products/4")
        .header("traceparent", format!("00-{caller_trace}-00f067aa0ba902b7-01"))
        .header("tracestate", "congo=t61rcWkgMzE")
        .header(header::HOST, "127.0.0.1:18002")
        .body(Body::empty())
        .expect("request");
    let (status, trace_id) = traced(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trace_id.as_deref(), Some(caller_trace));

    // A failing request: every request fails during a full error burst.
    inject(&app, r#"{"failure":"error_burst","duration_s":60,"intensity":1.0}"#).await;
    let (status, failed_trace) =
        traced(&app, Request::get("/api/products").body(Body::empty()).expect("r")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    tokio::task::block_in_place(|| flush(&exporter));

    let joined = receiver.trace(caller_trace);
    let server = by_name(&joined, "GET /api/products/{id}");
    assert_eq!(hex(&server.span.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(server.span.trace_state, "congo=t61rcWkgMzE");
    assert_eq!(server.attr("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(server.attr("server.port").as_deref(), Some("18002"));
    assert_eq!(server.attr("url.path").as_deref(), Some("/api/products/4"));

    let failed = receiver.trace(&failed_trace.expect("x-trace-id"));
    let server = by_name(&failed, "GET /api/products");
    // STATUS_CODE_ERROR is 2 in the OTLP protobuf.
    assert_eq!(server.span.status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(server.attr("http.response.status_code").as_deref(), Some("500"));
    assert_eq!(server.attr("error.type").as_deref(), Some("500"));
    assert_eq!(server.attr("edge.faults").as_deref(), Some("error_burst"));
    assert_eq!(by_name(&failed, "products list").span.status.as_ref().map(|s| s.code), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_drill_fault_fails_the_trace_but_names_itself_nowhere_in_it() {
    let receiver = Receiver::start();
    let (exporter, _, app) = traced_node(3, &ExportSettings::to_url(&receiver.url));
    let seal = "drill-key-0123456789abcdef";
    inject(&app, &format!(r#"{{"failure":"error_burst","duration_s":60,"intensity":1.0,"seal":"{seal}"}}"#))
        .await;
    let (status, trace_id) =
        traced(&app, Request::get("/api/products").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    tokio::task::block_in_place(|| flush(&exporter));

    let trace = receiver.trace(&trace_id.expect("x-trace-id"));
    let server = by_name(&trace, "GET /api/products");
    assert_eq!(server.span.status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(server.attr("edge.faults"), None);
    let step = by_name(&trace, "products list");
    assert_eq!(step.attr("error.type").as_deref(), Some("internal"));
    let dump = format!("{trace:?}");
    assert!(!dump.contains("error_burst"), "a sealed fault is named in its trace: {dump}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latency_spike_shows_in_span_durations_and_attributes() {
    let receiver = Receiver::start();
    let (exporter, _, app) = traced_node(1, &ExportSettings::to_url(&receiver.url));
    let get = || Request::get("/api/products/1").body(Body::empty()).expect("request");
    let mut calm = Vec::new();
    for _ in 0..7 {
        calm.push(traced(&app, get()).await.1.expect("trace id"));
    }
    inject(&app, r#"{"failure":"latency_spike","duration_s":60}"#).await;
    let mut spiked = Vec::new();
    for _ in 0..7 {
        spiked.push(traced(&app, get()).await.1.expect("trace id"));
    }
    tokio::task::block_in_place(|| flush(&exporter));

    let server = |id: &String| by_name(&receiver.trace(id), "GET /api/products/{id}").clone();
    let median = |ids: &[String]| {
        let mut d: Vec<Duration> = ids.iter().map(|id| server(id).duration()).collect();
        d.sort();
        d[d.len() / 2]
    };
    let (calm_median, spiked_median) = (median(&calm), median(&spiked));
    // latency_spike multiplies latency by 10; 4x leaves room for scheduling noise.
    assert!(spiked_median > calm_median * 4, "calm {calm_median:?}, spiked {spiked_median:?}");
    for id in &spiked {
        assert_eq!(server(id).attr("edge.faults").as_deref(), Some("latency_spike"));
        // The step span is at least as long as the delay the model planned for it.
        let step = by_name(&receiver.trace(id), "products lookup").clone();
        let planned: f64 = step.attr("edge.planned_delay_ms").expect("planned").parse().expect("number");
        assert!(step.duration().as_secs_f64() * 1e3 >= planned - 1.0, "{step:?}");
    }
    for id in &calm {
        assert_eq!(server(id).attr("edge.faults"), None);
    }
}

#[tokio::test]
async fn with_traces_off_nothing_is_exported_and_the_exemplar_is_the_request_id() {
    let (_, app) = quiet_node(1);
    let response =
        app.clone().oneshot(Request::get("/api/products").body(Body::empty()).expect("r")).await.expect("ok");
    assert!(response.headers().get("x-trace-id").is_none());
    assert!(response.headers().get("traceresponse").is_none());
    let metrics = get(&app, "/metrics").await.body;
    assert!(metrics.contains("# {request_id=\""), "{metrics}");
    assert!(!metrics.contains("trace_id"), "{metrics}");
    assert_eq!(sample(&metrics, r#"edge_trace_spans_dropped_total{reason="queue_full"}"#), Some(0.0));
    assert_eq!(sample(&metrics, r#"edge_trace_spans_dropped_total{reason="export_failed"}"#), Some(0.0));
}

// ---- a collector that is down or never answers -----------------------------------------

/// Median client-side latency of `n` concurrent orders.
async fn median_order_latency(app: &Router, n: usize) -> Duration {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let (status, _) = traced(&app, order()).await;
            assert_eq!(status, StatusCode::CREATED);
            started.elapsed()
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.push(task.await.expect("task"));
    }
    latencies.sort();
    latencies[latencies.len() / 2]
}

/// A collector that accepts connections and never answers.
async fn black_hole() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

async fn timed_scrape(app: &Router) -> (Duration, String) {
    let started = Instant::now();
    let body = get(app, "/metrics").await.body;
    (started.elapsed(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_answers_costs_requests_and_scrapes_nothing_and_drops_are_counted() {
    let hole = black_hole().await;
    let settings = ExportSettings {
        endpoint: Some(format!("http://{hole}/v1/traces")),
        timeout: Duration::from_secs(20),
    };
    let (_exporter, _, traced_app) = traced_node(1, &settings);
    // The same node (same seed, same planned delays) with traces off, as the yardstick.
    let (_, plain_app) = quiet_node(1);

    let plain = median_order_latency(&plain_app, 100).await;
    let (plain_scrape, _) = timed_scrape(&plain_app).await;
    // Enough spans (5 per order) to fill the queue while the worker waits on the hole.
    let mut stuck = Duration::ZERO;
    for _ in 0..6 {
        stuck = stuck.max(median_order_latency(&traced_app, 100).await);
    }
    let (stuck_scrape, metrics) = timed_scrape(&traced_app).await;

    // Bounded, tolerant comparisons: the machine is shared, so allow 50 % and 20 ms.
    assert!(stuck <= plain * 3 / 2 + Duration::from_millis(20), "plain {plain:?}, collector stuck {stuck:?}");
    assert!(
        stuck_scrape <= plain_scrape * 3 + Duration::from_millis(50),
        "plain scrape {plain_scrape:?}, collector stuck {stuck_scrape:?}"
    );
    let dropped = sample(&metrics, r#"edge_trace_spans_dropped_total{reason="queue_full"}"#).expect("metric");
    // 3000 spans against a queue of 2048 and one batch stuck in flight.
    assert!(dropped >= 400.0, "{dropped}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_collector_costs_requests_nothing_and_lost_spans_are_counted() {
    // A port held closed: connections are refused.
    let dead_port = test_support::ports::ClosedPort::new();
    let dead = dead_port.addr();
    let (exporter, _, traced_app) =
        traced_node(1, &ExportSettings::to_url(format!("http://{dead}/v1/traces")));
    let (_, plain_app) = quiet_node(1);
    let plain = median_order_latency(&plain_app, 100).await;
    let dead_median = median_order_latency(&traced_app, 100).await;
    assert!(
        dead_median <= plain * 3 / 2 + Duration::from_millis(20),
        "plain {plain:?}, dead {dead_median:?}"
    );
    tokio::task::block_in_place(|| flush(&exporter));
    let metrics = get(&traced_app, "/metrics").await.body;
    let failed =
        sample(&metrics, r#"edge_trace_spans_dropped_total{reason="export_failed"}"#).expect("metric");
    assert_eq!(failed, 500.0, "100 orders of 5 spans, all lost");
}
