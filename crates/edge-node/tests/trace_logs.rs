//! The trace id in an exemplar and in the access log line is a trace the receiver got.
//! A binary of its own: the log capture is a thread-local subscriber, which other tests
//! running in parallel in the same binary could race.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::otlp::*;
use common::*;
use edge_node::traces::ExportSettings;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use test_support::logs::Capture;

/// The `trace_id` of every latency exemplar on the page.
fn exemplar_trace_ids(metrics: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with("edge_http_request_duration_seconds_bucket"))
        .filter_map(|l| l.split_once(" # {").map(|(_, exemplar)| exemplar.to_owned()))
        .filter_map(|e| e.split_once("trace_id=\"").map(|(_, rest)| rest.chars().take(32).collect()))
        .collect()
}

#[test]
fn the_trace_id_in_an_exemplar_and_in_the_log_line_is_a_trace_the_receiver_got() {
    let capture = Capture::default();
    let subscriber = edge_node::logging::json_subscriber(
        capture.make_writer(),
        tracing_subscriber::EnvFilter::new("info"),
    );
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        let receiver = Receiver::start();
        let (exporter, _, app) = traced_node(3, &ExportSettings::to_url(&receiver.url));
        for uri in ["/api/products", "/api/products/2", "/api/orders/1"] {
            traced(&app, Request::get(uri).body(Body::empty()).expect("r")).await;
        }
        let metrics = get(&app, "/metrics").await.body;
        flush(&exporter);

        let exemplars = exemplar_trace_ids(&metrics);
        assert!(!exemplars.is_empty(), "no trace_id exemplar:\n{metrics}");
        for trace_id in &exemplars {
            assert!(!receiver.trace(trace_id).is_empty(), "exemplar {trace_id} is no received trace");
        }
        let logged: Vec<String> = capture
            .lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["message"] == "request")
            .filter_map(|l| l["trace_id"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(logged.len(), 3, "every access line has a trace id");
        for trace_id in &logged {
            let spans = receiver.trace(trace_id);
            assert!(
                spans.iter().any(|s| s.span.kind == SpanKind::Server as i32),
                "log trace {trace_id} not received"
            );
        }
        assert!(exemplars.iter().all(|e| logged.contains(e)), "exemplars {exemplars:?} vs log {logged:?}");
    });
}
