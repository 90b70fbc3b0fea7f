//! Talking to nodes: one HTTP call per operation, each error one line naming the node
//! and the cause.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::exposition::Metrics;
use crate::targets::Targets;

/// How to start a fleet, for "connection refused" errors.
pub const START_HINT: &str = "is the fleet running? start it with `scripts/run-native.sh` or `cargo run --release -p edge-node -- --nodes 12`";

/// Why a call to a node failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Nothing answered.
    #[error("node {node} ({url}): cannot connect: {START_HINT}")]
    Unreachable {
        /// Node number.
        node: u32,
        /// Its URL.
        url: String,
    },
    /// No answer in time.
    #[error("node {node} ({url}): no answer within {secs} s")]
    Timeout {
        /// Node number.
        node: u32,
        /// Its URL.
        url: String,
        /// The timeout.
        secs: f64,
    },
    /// The node answered with an error.
    #[error("node {node}: {status}: {message}")]
    Refused {
        /// Node number.
        node: u32,
        /// HTTP status.
        status: u16,
        /// The node's error message.
        message: String,
    },
    /// The node answered, but not with what the API promises (a missing field, a page
    /// that is not metrics).
    #[error("node {node} ({url}): unexpected answer: {cause}")]
    BadAnswer {
        /// Node number.
        node: u32,
        /// Its URL.
        url: String,
        /// What was wrong.
        cause: String,
    },
    /// The request's task ended without an outcome (it panicked or was cancelled): whether
    /// the node acted is unknown.
    #[error("node {node}: outcome unknown: {cause}")]
    Lost {
        /// Node number.
        node: u32,
        /// Why.
        cause: String,
    },
    /// Anything else on the way.
    #[error("node {node} ({url}): {cause}")]
    Other {
        /// Node number.
        node: u32,
        /// Its URL.
        url: String,
        /// The cause chain.
        cause: String,
    },
}

/// What `POST /inject` takes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InjectBody {
    /// The failure mode.
    pub failure: edge_sim::FaultKind,
    /// Seconds.
    pub duration_s: f64,
    /// Optional strength.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intensity: Option<f64>,
    /// Optional target service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<edge_sim::Service>,
}

/// A client for the fleet.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    targets: Targets,
    timeout: Duration,
}

impl Client {
    /// A client with a per-request timeout.
    pub fn new(targets: Targets, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self { http, targets, timeout })
    }

    /// The URL of node `n`.
    pub fn url(&self, n: u32) -> String {
        self.targets.url(n)
    }

    async fn call(&self, node: u32, req: reqwest::RequestBuilder) -> Result<reqwest::Response, NodeError> {
        let url = self.url(node);
        let res = req.send().await.map_err(|e| {
            if e.is_connect() {
                NodeError::Unreachable { node, url: url.clone() }
            } else if e.is_timeout() {
                NodeError::Timeout { node, url: url.clone(), secs: self.timeout.as_secs_f64() }
            } else {
                NodeError::Other { node, url: url.clone(), cause: error_chain(&e) }
            }
        })?;
        let status = res.status();
        if status.is_success() {
            return Ok(res);
        }
        let text = res.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(200).collect());
        Err(NodeError::Refused { node, status: status.as_u16(), message })
    }

    async fn json(&self, node: u32, req: reqwest::RequestBuilder) -> Result<Value, NodeError> {
        let res = self.call(node, req).await?;
        res.json().await.map_err(|e| NodeError::Other { node, url: self.url(node), cause: error_chain(&e) })
    }

    /// `POST /inject`.
    pub async fn inject(&self, node: u32, body: &InjectBody) -> Result<Value, NodeError> {
        self.json(node, self.http.post(format!("{}/inject", self.url(node))).json(body)).await
    }

    /// `GET /inject`.
    pub async fn faults(&self, node: u32) -> Result<Value, NodeError> {
        self.json(node, self.http.get(format!("{}/inject", self.url(node)))).await
    }

    /// `DELETE /inject` or `DELETE /inject/{id}`.
    pub async fn clear(&self, node: u32, id: Option<u64>) -> Result<Value, NodeError> {
        let url = match id {
            Some(id) => format!("{}/inject/{id}", self.url(node)),
            None => format!("{}/inject", self.url(node)),
        };
        self.json(node, self.http.delete(url)).await
    }

    /// `GET /metrics`, read.
    pub async fn metrics(&self, node: u32) -> Result<Metrics, NodeError> {
        let res = self.call(node, self.http.get(format!("{}/metrics", self.url(node)))).await?;
        let text = res.text().await.map_err(|e| NodeError::Other {
            node,
            url: self.url(node),
            cause: error_chain(&e),
        })?;
        Metrics::parse(&text).map_err(|e| NodeError::BadAnswer {
            node,
            url: self.url(node),
            cause: e.to_string(),
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
