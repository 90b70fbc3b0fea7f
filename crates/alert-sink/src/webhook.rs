//! `POST /webhook` (Alertmanager's webhook, version 4), `GET /notifications`, `/metrics`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::SinkState;
use crate::store::{Filter, Notification};

/// The parts of Alertmanager's webhook payload the sink uses.
#[derive(Debug, Deserialize)]
pub struct Payload {
    /// The receiver the notification was routed to.
    pub receiver: String,
    /// The alerts of the group.
    pub alerts: Vec<Alert>,
}

/// One alert of a webhook payload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Its annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Start time (RFC 3339).
    #[serde(default)]
    pub starts_at: String,
    /// End time (RFC 3339; Alertmanager sends a zero time for firing alerts).
    #[serde(default)]
    pub ends_at: String,
    /// The rule's page in Prometheus.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
}

/// A refusal, as JSON.
pub(crate) fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message, "status": status.as_u16() }))).into_response()
}

fn now_unix() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// `POST /webhook`: store, count and log every alert of the notification.
pub async fn receive(State(state): State<SinkState>, body: Result<Json<Payload>, JsonRejection>) -> Response {
    let Json(payload) = match body {
        Ok(body) => body,
        Err(rejection) => {
            state.rejected.inc();
            return error(rejection.status(), rejection.body_text());
        }
    };
    let received_at = now_unix();
    let count = payload.alerts.len();
    for alert in payload.alerts {
        let label = |k: &str| alert.labels.get(k).cloned();
        let annotation = |k: &str| alert.annotations.get(k).cloned();
        let n = Notification {
            seq: 0,
            received_at,
            receiver: payload.receiver.clone(),
            status: alert.status.clone(),
            alertname: label("alertname").unwrap_or_else(|| "unknown".to_owned()),
            node: label("node"),
            severity: label("severity"),
            summary: annotation("summary"),
            description: annotation("description"),
            runbook_url: annotation("runbook_url"),
            generator_url: alert.generator_url.clone().filter(|u| !u.is_empty()),
            starts_at: alert.starts_at.clone(),
            ends_at: (alert.status == "resolved").then(|| alert.ends_at.clone()),
            labels: alert.labels.clone(),
        };
        // Counted under bounded labels; the store and the log keep the values as sent.
        let labels = state.bounds().labels(&n.receiver, &n.status, &n.alertname, n.severity.as_deref());
        state.notifications.get_or_create(&labels).inc();
        tracing::info!(
            target: "alert_sink::notification",
            receiver = %n.receiver,
            status = %n.status,
            alertname = %n.alertname,
            node = n.node.as_deref(),
            severity = n.severity.as_deref(),
            starts_at = %n.starts_at,
            ends_at = n.ends_at.as_deref(),
            summary = n.summary.as_deref(),
            "notification"
        );
        state.store().push(n);
    }
    (StatusCode::OK, Json(json!({ "received": count }))).into_response()
}

/// `GET /notifications`: newest first, filtered by `receiver`, `alertname`, `node`,
/// `status`, `limit`.
pub async fn list(State(state): State<SinkState>, filter: Result<Query<Filter>, QueryRejection>) -> Response {
    match filter {
        Ok(Query(filter)) => Json(state.store().query(&filter)).into_response(),
        Err(rejection) => error(StatusCode::BAD_REQUEST, rejection.body_text()),
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<SinkState>) -> Response {
    match state.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, service_kit::OPENMETRICS_CONTENT_TYPE)], text).into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "encoding metrics failed".to_owned()),
    }
}
