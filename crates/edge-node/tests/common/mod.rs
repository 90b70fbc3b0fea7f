//! Helpers for driving a node's router in-process.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use edge_node::{NodeConfig, NodeState, app};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A node with the traffic generator off, so every count is ours.
pub fn quiet_node(id: u32) -> (NodeState, Router) {
    node(NodeConfig { rps: 0.0, ..NodeConfig::new(id, 42) })
}

pub fn node(config: NodeConfig) -> (NodeState, Router) {
    let state = NodeState::new(config);
    let router = app(state.clone());
    (state, router)
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub request_id: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response: Response<Body> = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let header_str = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let content_type = header_str(header::CONTENT_TYPE.as_str()).unwrap_or_default();
    let request_id = header_str("x-request-id");
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    Reply { status, content_type, request_id, body: String::from_utf8_lossy(&bytes).into_owned() }
}

pub async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Request::get(uri).body(Body::empty()).expect("request")).await
}

pub async fn delete(router: &Router, uri: &str) -> Reply {
    send(router, Request::delete(uri).body(Body::empty()).expect("request")).await
}

pub async fn post_json(router: &Router, uri: &str, json: &str) -> Reply {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json.to_owned()))
        .expect("request");
    send(router, request).await
}

pub async fn inject(router: &Router, json: &str) -> serde_json::Value {
    let reply = post_json(router, "/inject", json).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.json()
}

/// The exposition, read by the workspace's one parser (a malformed page fails the test).
pub fn parse(text: &str) -> exposition::Metrics {
    exposition::Metrics::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The value of one sample: `name{labels}` must match exactly (labels in exposition
/// order), or `name` alone for unlabelled metrics.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    parse(text).samples().iter().find(|s| s.series() == series).map(|s| s.value)
}

/// Sum of every sample of `name` that has all of `labels` (each `key="value"`).
pub fn sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    let wanted: Vec<(&str, &str)> = labels
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("{l} is not key=\"value\""));
            (k, v.trim_matches('"'))
        })
        .collect();
    parse(text).sum(name, |s| wanted.iter().all(|(k, v)| s.label(k) == Some(v)))
}

pub async fn metrics(router: &Router) -> String {
    let reply = get(router, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body
}
pub mod otlp;
pub mod process;
