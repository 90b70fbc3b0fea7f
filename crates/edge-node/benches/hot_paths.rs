//! Criterion benchmarks of the hot paths: encoding `/metrics` with full RED histograms,
//! and the RED middleware's cost per request (a trivial handler with and without it).
#![allow(missing_docs)]

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use edge_node::metrics::RequestLabels;
use edge_node::shop::ROUTES;
use edge_node::{NodeConfig, NodeState, red};
use tower::ServiceExt;

/// A node whose registry holds what a busy node exposes: every route with a few statuses.
fn busy_node() -> NodeState {
    let state = NodeState::new(NodeConfig { rps: 0.0, ..NodeConfig::new(1, 1) });
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
    let state = busy_node();
    let series =
        state.metrics().encode().map(|t| t.lines().filter(|l| !l.starts_with('#')).count()).unwrap_or(0);
    c.bench_function(&format!("metrics_encode_{series}_samples"), |b| {
        b.iter(|| {
            state.refresh_gauges();
            black_box(state.metrics().encode().map(|t| t.len()))
        });
    });
}

fn red_middleware(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let state = NodeState::new(NodeConfig { rps: 0.0, ..NodeConfig::new(1, 1) });
    let bare: Router = Router::new().route("/api/products", get(|| async { "ok" }));
    let measured = bare.clone().layer(axum::middleware::from_fn_with_state(state, red::track));
    let measured_logged = measured.clone();
    let mut group = c.benchmark_group("request");
    for (name, router) in [("bare_handler", bare), ("with_red_middleware", measured)] {
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

criterion_group!(benches, metrics_encoding, red_middleware);
criterion_main!(benches);
