//! The `/inject` control endpoints: start, list and end faults.
//!
//! `POST /inject` takes a JSON body `{"failure": "cpu_spike", "duration_s": 30,
//! "intensity": 0.97, "service": "payments"}` or the seed's query form
//! `?mode=cpu_spike&duration=30`. Invalid input is refused with a 4xx that says what
//! is valid, and nothing changes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use edge_sim::{Fault, FaultKind, FaultSpec, Service};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::NodeState;

/// Largest `/inject` body accepted: a fault spec is a few dozen bytes.
pub const MAX_INJECT_BODY: usize = 4096;

/// The JSON body of `POST /inject`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectBody {
    #[serde(alias = "mode")]
    failure: String,
    #[serde(alias = "duration")]
    duration_s: f64,
    intensity: Option<f64>,
    service: Option<String>,
}

/// The seed's query form of `POST /inject` (fields are private: parse it through the handler).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectQuery {
    #[serde(alias = "failure")]
    mode: Option<String>,
    #[serde(alias = "duration_s")]
    duration: Option<f64>,
    intensity: Option<f64>,
    service: Option<String>,
}

impl InjectQuery {
    fn is_empty(&self) -> bool {
        self.mode.is_none() && self.duration.is_none() && self.intensity.is_none() && self.service.is_none()
    }
}

/// A fault as the API shows it.
#[derive(Debug, Serialize)]
pub struct FaultView {
    #[serde(flatten)]
    fault: Fault,
    /// Unix time it started.
    started_at: f64,
    /// Unix time it ends on its own.
    expires_at: f64,
    /// Seconds left.
    remaining_s: f64,
    /// The alert that should catch it.
    expected_alert: &'static str,
}

impl FaultView {
    fn new(state: &NodeState, fault: Fault) -> Self {
        let now = state.clock.now();
        Self {
            started_at: round_ms(state.clock.unix(fault.started_at)),
            expires_at: round_ms(state.clock.unix(fault.expires_at)),
            remaining_s: round_ms(fault.remaining(now).as_secs_f64()),
            expected_alert: fault.kind.expected_alert(),
            fault,
        }
    }
}

fn round_ms(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// The answer to `POST /inject`.
#[derive(Debug, Serialize)]
pub struct Started {
    node: u32,
    #[serde(flatten)]
    fault: FaultView,
    /// The id of the fault of the same mode this one replaced.
    replaced: Option<u64>,
}

/// The answer to `GET /inject` and the `DELETE`s.
#[derive(Debug, Serialize)]
pub struct FaultList {
    node: u32,
    faults: Vec<FaultView>,
}

/// `POST /inject`.
pub async fn start(
    State(state): State<NodeState>,
    headers: HeaderMap,
    query: Result<Query<InjectQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(format!("the body of /inject is limited to {MAX_INJECT_BODY} bytes"))
        }
        _ => ApiError::BadRequest(e.body_text()),
    })?;
    let spec = match (query.is_empty(), body.is_empty()) {
        (false, true) => spec_from_query(query)?,
        (true, false) => spec_from_body(&headers, &body)?,
        (true, true) => {
            return Err(ApiError::BadRequest(format!(
                "send a JSON body {{\"failure\": \"cpu_spike\", \"duration_s\": 30}} or \
                 ?mode=cpu_spike&duration=30; failures: {}",
                FaultKind::valid_names()
            )));
        }
        (false, false) => {
            return Err(ApiError::BadRequest(
                "give the fault in the query or in the body, not both".to_owned(),
            ));
        }
    };
    let injected = state.inject(&spec)?;
    let started = Started {
        node: state.id(),
        replaced: injected.replaced.map(|f| f.id),
        fault: FaultView::new(&state, injected.fault),
    };
    Ok((StatusCode::CREATED, Json(started)))
}

fn spec_from_query(q: InjectQuery) -> Result<FaultSpec, ApiError> {
    let mode = q.mode.ok_or_else(|| {
        ApiError::BadRequest(format!("missing `mode`; failures: {}", FaultKind::valid_names()))
    })?;
    let duration =
        q.duration.ok_or_else(|| ApiError::BadRequest("missing `duration` (seconds)".to_owned()))?;
    to_spec(&mode, duration, q.intensity, q.service.as_deref())
}

fn spec_from_body(headers: &HeaderMap, body: &[u8]) -> Result<FaultSpec, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "the body of /inject must be application/json".to_owned(),
        ));
    }
    let b: InjectBody =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid fault JSON: {e}")))?;
    to_spec(&b.failure, b.duration_s, b.intensity, b.service.as_deref())
}

fn to_spec(
    mode: &str,
    duration_s: f64,
    intensity: Option<f64>,
    service: Option<&str>,
) -> Result<FaultSpec, ApiError> {
    let kind: FaultKind =
        mode.parse().map_err(|e: edge_sim::catalog::UnknownFaultKind| ApiError::BadRequest(e.to_string()))?;
    let service =
        service.map(|s| s.parse::<Service>()).transpose().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let spec = FaultSpec { kind, duration_s, intensity, service };
    spec.validate()?;
    Ok(spec)
}

/// `GET /inject`.
pub async fn list(State(state): State<NodeState>) -> Json<FaultList> {
    let faults = state.active_faults().into_iter().map(|f| FaultView::new(&state, f)).collect();
    Json(FaultList { node: state.id(), faults })
}

/// `DELETE /inject`.
pub async fn clear_all(State(state): State<NodeState>) -> Json<FaultList> {
    let faults = state.clear_all().into_iter().map(|f| FaultView::new(&state, f)).collect();
    Json(FaultList { node: state.id(), faults })
}

/// `DELETE /inject/{id}`.
pub async fn clear_one(
    State(state): State<NodeState>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<FaultList>, ApiError> {
    let Path(id) =
        id.map_err(|e| ApiError::BadRequest(format!("fault ids are numbers: {}", e.body_text())))?;
    let fault = state.clear(id)?;
    Ok(Json(FaultList { node: state.id(), faults: vec![FaultView::new(&state, fault)] }))
}
