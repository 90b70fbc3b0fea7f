//! Talking to nodes: one HTTP call per operation, each error one line naming the node
//! and the cause. Requests and answers are the node's own wire types (`edge_sim::api`):
//! an answer missing a field is an error, never a default.

use std::collections::BTreeMap;
use std::time::Duration;

use edge_sim::api::{ErrorBody, FaultList, FleetMembers, InjectRequest, SealedList, Started};
use exposition::Metrics;
use serde::de::DeserializeOwned;

use crate::{ApiError, error_chain};

/// Where the nodes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    host: String,
    base_port: u16,
    overrides: BTreeMap<u32, String>,
}

impl Targets {
    /// Node N at `http://{host}:{base_port + N}`, unless `overrides` names its URL.
    pub fn new(host: &str, base_port: u16, overrides: BTreeMap<u32, String>) -> Self {
        Self { host: host.to_owned(), base_port, overrides }
    }

    /// The base URL of node `n`.
    pub fn url(&self, n: u32) -> String {
        self.overrides
            .get(&n)
            .cloned()
            .unwrap_or_else(|| format!("http://{}:{}", self.host, u32::from(self.base_port) + n))
    }
}

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
    /// The request was never sent: the run was interrupted (ctrl-c) before this node's turn.
    #[error("node {node}: not sent: {reason}")]
    NotSent {
        /// Node number.
        node: u32,
        /// Why.
        reason: String,
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

/// A client for the fleet's nodes.
#[derive(Debug, Clone)]
pub struct NodeClient {
    http: reqwest::Client,
    targets: Targets,
    timeout: Duration,
}

impl NodeClient {
    /// A client with a per-request timeout.
    pub fn new(targets: Targets, timeout: Duration) -> Result<Self, ApiError> {
        Ok(Self { http: crate::http_client(timeout)?, targets, timeout })
    }

    /// The HTTP client it uses, for the stack's other services (one client per tool).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
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
        // The node's own one-line message if it sent its error body, else the start of
        // whatever answered (a proxy's page); control characters never reach the terminal.
        let message = serde_json::from_str::<ErrorBody>(&text).map_or(text, |b| b.error);
        let message = message.chars().filter(|c| !c.is_control()).take(200).collect();
        Err(NodeError::Refused { node, status: status.as_u16(), message })
    }

    /// Reads an answer as `T`; a missing or mistyped field is an error naming the node.
    async fn read<T: DeserializeOwned + Answer>(
        &self,
        node: u32,
        req: reqwest::RequestBuilder,
    ) -> Result<T, NodeError> {
        let url = self.url(node);
        let res = self.call(node, req).await?;
        let bytes = res.bytes().await.map_err(|e| NodeError::Other {
            node,
            url: url.clone(),
            cause: error_chain(&e),
        })?;
        let answer: T = serde_json::from_slice(&bytes).map_err(|e| NodeError::BadAnswer {
            node,
            url: url.clone(),
            cause: e.to_string(),
        })?;
        // A targets file that points node 3 at node 5 would otherwise act on the wrong node
        // and report success.
        if answer.node() != node {
            return Err(NodeError::BadAnswer {
                node,
                url,
                cause: format!("it answered as node {}; check --targets", answer.node()),
            });
        }
        Ok(answer)
    }

    /// `POST /inject`.
    pub async fn inject(&self, node: u32, body: &InjectRequest) -> Result<Started, NodeError> {
        self.read(node, self.http.post(format!("{}/inject", self.url(node))).json(body)).await
    }

    /// `GET /inject`: the faults active now.
    pub async fn faults(&self, node: u32) -> Result<FaultList, NodeError> {
        self.read(node, self.http.get(format!("{}/inject", self.url(node)))).await
    }

    /// `DELETE /inject` or `DELETE /inject/{id}`: the faults it ended.
    pub async fn clear(&self, node: u32, id: Option<u64>) -> Result<FaultList, NodeError> {
        let url = match id {
            Some(id) => format!("{}/inject/{id}", self.url(node)),
            None => format!("{}/inject", self.url(node)),
        };
        self.read(node, self.http.delete(url)).await
    }

    /// `GET /inject?seal=KEY`: a drill's sealed faults on the node (the key is URL-safe).
    pub async fn sealed(&self, node: u32, key: &str) -> Result<SealedList, NodeError> {
        self.read(node, self.http.get(format!("{}/inject?seal={key}", self.url(node)))).await
    }

    /// `DELETE /inject/{id}?seal=KEY`: ends a drill's sealed fault.
    pub async fn clear_sealed(&self, node: u32, id: u64, key: &str) -> Result<FaultList, NodeError> {
        self.read(node, self.http.delete(format!("{}/inject/{id}?seal={key}", self.url(node)))).await
    }

    /// `GET /fleet`: the nodes of node `node`'s process.
    pub async fn fleet(&self, node: u32) -> Result<FleetMembers, NodeError> {
        self.read(node, self.http.get(format!("{}/fleet", self.url(node)))).await
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

/// An answer that says which node sent it.
trait Answer {
    fn node(&self) -> u32;
}

impl Answer for Started {
    fn node(&self) -> u32 {
        self.node
    }
}

impl Answer for SealedList {
    fn node(&self) -> u32 {
        self.node
    }
}

impl Answer for FleetMembers {
    fn node(&self) -> u32 {
        self.node
    }
}

impl Answer for FaultList {
    fn node(&self) -> u32 {
        self.node
    }
}
