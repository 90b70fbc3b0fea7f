//! Operational endpoints: `/metrics` (the app's: `edge_*` and the HTTP shapes),
//! `/host/metrics` (the host's, in node_exporter's shape), `/healthz`, `/readyz`, and the
//! `healthcheck` client used by container health checks (the runtime image has no curl).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use edge_sim::api::FleetMembers;
use serde_json::json;

use crate::error::ApiError;
use crate::metrics::OPENMETRICS_CONTENT_TYPE;
use crate::shapes::node_exporter;
use crate::state::NodeState;

/// `GET /metrics`: gauges refreshed from the model at this instant (which also swaps in a
/// fresh registry if the process restarted), then encoded.
pub async fn metrics(State(state): State<NodeState>) -> Result<Response, ApiError> {
    let text = app_exposition(&state).map_err(|e| ApiError::Internal(format!("encoding metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response())
}

/// What `GET /metrics` answers at the node's "now": the gauges refreshed from the model,
/// then the current process's registry encoded (the live endpoint and the virtual fleet's
/// scrapes share it).
pub fn app_exposition(state: &NodeState) -> Result<String, std::fmt::Error> {
    state.refresh_gauges();
    state.metrics().encode()
}

/// `GET /host/metrics`: the host stepped to this instant, in node_exporter's names and
/// format; 404 when the node_exporter shape is off, as a box without one would answer.
pub async fn host_metrics(State(state): State<NodeState>) -> Result<Response, ApiError> {
    if !state.config().shapes.node_exporter {
        return Err(ApiError::NotFound(
            "no node_exporter on this node (the node_exporter shape is off: --metric-shapes)".to_owned(),
        ));
    }
    let text = node_exporter::render(&state.host_view());
    Ok(([(header::CONTENT_TYPE, node_exporter::CONTENT_TYPE)], text).into_response())
}

/// `GET /healthz`: the process is alive (a crashed node never gets here: the gate answers 503).
pub async fn healthz(State(state): State<NodeState>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "node": state.id() }))
}

/// `GET /fleet`: the nodes of this process, so the CLI can learn the running fleet
/// (exempt from the crash gate, like `/inject`: a crashed node still says who it is).
pub async fn fleet(State(state): State<NodeState>) -> Json<FleetMembers> {
    Json(FleetMembers { node: state.id(), nodes: state.fleet() })
}

/// `GET /readyz`: ready for traffic until shutdown begins.
pub async fn readyz(State(state): State<NodeState>) -> (StatusCode, Json<serde_json::Value>) {
    if state.is_ready() {
        (StatusCode::OK, Json(json!({ "status": "ready", "node": state.id() })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "shutting down", "node": state.id() })))
    }
}

/// Why a health check failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    /// No connection or no answer in time.
    #[error("cannot reach {addr}: {source}")]
    Unreachable {
        /// The address tried.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The node answered something other than 200.
    #[error("{addr} answered `{status_line}`")]
    Unhealthy {
        /// The address tried.
        addr: SocketAddr,
        /// The HTTP status line.
        status_line: String,
    },
}

/// Asks `GET /healthz` on `addr` with plain HTTP/1.0 and succeeds only on a 200.
pub fn healthcheck(addr: SocketAddr, timeout: Duration) -> Result<(), HealthcheckError> {
    let unreachable = |source| HealthcheckError::Unreachable { addr, source };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(unreachable)?;
    stream.set_read_timeout(Some(timeout)).map_err(unreachable)?;
    stream.set_write_timeout(Some(timeout)).map_err(unreachable)?;
    stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n").map_err(unreachable)?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(unreachable)?;
    let status_line = String::from_utf8_lossy(&head[..n]).lines().next().unwrap_or_default().to_owned();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(HealthcheckError::Unhealthy { addr, status_line })
    }
}
