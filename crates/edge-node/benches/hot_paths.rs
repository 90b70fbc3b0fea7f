//! Criterion benchmarks of the hot paths: encoding `/metrics` with full RED histograms
//! (with every metric shape and with `edge_*` only), rendering `/host/metrics`, the RED
//! middleware's cost per request (a trivial handler with and without it, with and without
//! the HTTP shapes), and what traces add to it (off, and on with export to a local OTLP
//! endpoint).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use edge_node::metrics::RequestLabels;
use edge_node::routes::ROUTES;
use edge_node::shapes::MetricShapes;
use edge_node::traces::{ExportSettings, Exporter, NodeTracer};
use edge_node::{NodeConfig, NodeState, red};
use opentelemetry::trace::SpanKind;
use tower::ServiceExt;

/// A node whose registry holds what a busy node exposes: every route with a few statuses.
fn busy_node(shapes: MetricShapes) -> NodeState {
    let state = NodeState::new(NodeConfig { rps: 0.0, shapes, ..NodeConfig::new(1, 1) });
    for route in &ROUTES {
        for status in [200, 201, 404, 500, 502] {
            let labels = RequestLabels {
                service: route.service.as_str(),
                route: route.path,
                method: route.method,
                status,
            };
            for i in 0..100 {
                state.metrics().observe_request(&labels, 0.001 * f64::from(i), "0123456789abcdef", None);
            }
        }
    }
    state
}

fn metrics_encoding(c: &mut Criterion) {
    for (shapes, name) in [(MetricShapes::ALL, "all_shapes"), (MetricShapes::NONE, "edge_only")] {
        let state = busy_node(shapes);
        let series =
            state.metrics().encode().map(|t| t.lines().filter(|l| !l.starts_with('#')).count()).unwrap_or(0);
        c.bench_function(&format!("metrics_encode_{name}_{series}_samples"), |b| {
            b.iter(|| {
                state.refresh_gauges();
                black_box(state.metrics().encode().map(|t| t.len()))
            });
        });
    }
    let state = busy_node(MetricShapes::ALL);
    c.bench_function("host_metrics_render", |b| {
        b.iter(|| black_box(edge_node::shapes::node_exporter::render(&state.host_view()).len()));
    });
}

fn red_middleware(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let state = NodeState::new(NodeConfig { rps: 0.0, ..NodeConfig::new(1, 1) });
    let edge_only =
        NodeState::new(NodeConfig { rps: 0.0, shapes: MetricShapes::NONE, ..NodeConfig::new(1, 1) });
    let bare: Router = Router::new().route("/api/products", get(|| async { "ok" }));
    let measured = bare.clone().layer(axum::middleware::from_fn_with_state(state, red::track));
    let measured_edge_only = bare.clone().layer(axum::middleware::from_fn_with_state(edge_only, red::track));
    let measured_logged = measured.clone();
    let mut group = c.benchmark_group("request");
    for (name, router) in [
        ("bare_handler", bare),
        ("with_red_middleware", measured),
        ("with_red_middleware_edge_only", measured_edge_only),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                let router = router.clone();
                async move {
                    let req = Request::get("/api/products").body(Body::empty()).expect("request");
                    black_box(router.oneshot(req).await.map(|r| r.status()))
                }
            });
        });
    }
    // The same, with the access log line formatted as JSON (written to a sink).
    let _guard = tracing::subscriber::set_default(edge_node::logging::json_subscriber(
        std::io::sink,
        tracing_subscriber::EnvFilter::new("info"),
    ));
    group.bench_function("with_red_middleware_and_json_log", |b| {
        b.to_async(&rt).iter(|| {
            let router = measured_logged.clone();
            async move {
                let req = Request::get("/api/products").body(Body::empty()).expect("request");
                black_box(router.oneshot(req).await.map(|r| r.status()))
            }
        });
    });
    group.finish();
}

/// An OTLP/HTTP endpoint that accepts every export (on a thread of its own), so the
/// exporter's worker keeps up and the request path measures enqueueing, not dropping.
fn accepting_collector() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let router = Router::new().route("/v1/traces", axum::routing::post(|| async { "" }));
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, router).await
        })
    });
    format!("http://{addr}/v1/traces")
}

fn traced_request(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let exporter =
        Exporter::start(&ExportSettings::to_url(accepting_collector()), &[(1, "eu-west".to_owned())])
            .expect("exporter");
    let off = NodeState::new(NodeConfig { rps: 0.0, ..NodeConfig::new(1, 1) });
    let on =
        NodeState::with_tracer(NodeConfig { rps: 0.0, ..NodeConfig::new(1, 1) }, Some(exporter.tracer(1)));
    let bare: Router = Router::new().route("/api/products", get(|| async { "ok" }));
    let mut group = c.benchmark_group("request");
    for (name, state) in [("traces_off", off), ("traces_on_server_span", on.clone())] {
        let router = bare.clone().layer(axum::middleware::from_fn_with_state(state, red::track));
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                let router = router.clone();
                async move {
                    let req = Request::get("/api/products")
                        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                        .body(Body::empty())
                        .expect("request");
                    black_box(router.oneshot(req).await.map(|r| r.status()))
                }
            });
        });
    }
    // One step of a request (the shop's child spans): start, attributes, end, enqueue.
    let tracer = on.tracer().cloned().expect("tracer");
    group.bench_function("traces_on_step_span", |b| {
        b.iter(|| {
            let cx = tracer.step_span("orders stock check", SpanKind::Internal, None);
            NodeTracer::end_step_span(&cx, Duration::from_millis(20), None);
            black_box(cx);
        });
    });
    group.finish();
    black_box(exporter.drops().queue_full.load(std::sync::atomic::Ordering::Relaxed));
}

criterion_group!(benches, metrics_encoding, red_middleware, traced_request);
criterion_main!(benches);
