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
use axum::response::{IntoResponse, Response};
use edge_sim::api::{
    FaultList, FaultView, InjectRequest, MAX_START_IN_S, SealedList, SealedView, Started, round_ms,
    valid_seal,
};
use edge_sim::{Fault, FaultKind, FaultSpec, Service};
use std::time::Duration;

use serde::Deserialize;

use crate::error::ApiError;
use crate::state::NodeState;

/// Largest `/inject` body accepted: a fault spec is a few dozen bytes.
pub const MAX_INJECT_BODY: usize = 4096;

/// The seed's query form of `POST /inject` (fields are private: parse it through the handler).
/// The JSON body is [`InjectRequest`], shared with the CLI.
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

fn view(state: &NodeState, fault: &Fault) -> FaultView {
    let clock = state.clock();
    FaultView::new(fault, clock.now(), clock.unix(std::time::Duration::ZERO))
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
    let (spec, seal, delay) = match (query.is_empty(), body.is_empty()) {
        (false, true) => (spec_from_query(query)?, None, Duration::ZERO),
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
    let injected = state.inject_sealed_in(&spec, seal.as_deref(), delay)?;
    let started = Started {
        node: state.id(),
        replaced: injected.replaced.map(|f| f.id),
        fault: view(&state, &injected.fault),
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

fn spec_from_body(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(FaultSpec, Option<String>, Duration), ApiError> {
    if !headers.get(header::CONTENT_TYPE).is_some_and(crate::guard::is_json) {
        return Err(ApiError::UnsupportedMediaType(
            "the body of /inject must be application/json".to_owned(),
        ));
    }
    let request: InjectRequest =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid fault JSON: {e}")))?;
    let spec = FaultSpec::from(&request);
    spec.validate()?;
    let seal = request.seal.map(checked_seal).transpose()?;
    let delay = match (request.start_in_s, &seal) {
        (None, _) => Duration::ZERO,
        (Some(_), None) => {
            return Err(ApiError::BadRequest("start_in_s is for sealed faults (with seal) only".to_owned()));
        }
        (Some(s), Some(_)) if s.is_finite() && (0.0..=MAX_START_IN_S).contains(&s) => {
            Duration::from_secs_f64(s)
        }
        (Some(s), Some(_)) => {
            return Err(ApiError::BadRequest(format!(
                "start_in_s must be a number of seconds between 0 and {MAX_START_IN_S}, got {s}"
            )));
        }
    };
    Ok((spec, seal, delay))
}

fn checked_seal(key: String) -> Result<String, ApiError> {
    if valid_seal(&key) {
        Ok(key)
    } else {
        Err(ApiError::BadRequest("seal must be 16-64 characters of A-Z, a-z, 0-9, - and _".to_owned()))
    }
}

/// The query of `GET /inject` and `DELETE /inject/{id}`: a drill's key, to see (or end)
/// the faults sealed under it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealQuery {
    seal: Option<String>,
}

impl SealQuery {
    fn key(query: Result<Query<SealQuery>, QueryRejection>) -> Result<Option<String>, ApiError> {
        let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
        q.seal.map(checked_seal).transpose()
    }
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

/// `GET /inject`: the faults that are not sealed; with `?seal=KEY`, the sealed faults
/// of that key instead.
pub async fn list(
    State(state): State<NodeState>,
    query: Result<Query<SealQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    if let Some(key) = SealQuery::key(query)? {
        let clock = state.clock();
        let faults = state
            .sealed(&key)
            .iter()
            .map(|r| SealedView {
                // An ended fault has no time left, whatever its planned expiry.
                fault: match r.ended {
                    Some((at, _)) => {
                        FaultView::new(&r.fault, at.max(r.fault.expires_at), clock.unix(Duration::ZERO))
                    }
                    None => view(&state, &r.fault),
                },
                ended_at: r.ended.map(|(at, _)| round_ms(clock.unix(at))),
                end_reason: r.ended.map(|(_, why)| why.as_str().to_owned()),
            })
            .collect();
        return Ok(Json(SealedList { node: state.id(), faults }).into_response());
    }
    let faults = state.active_faults().iter().map(|f| view(&state, f)).collect();
    Ok(Json(FaultList { node: state.id(), faults }).into_response())
}

/// `DELETE /inject`.
pub async fn clear_all(State(state): State<NodeState>) -> Json<FaultList> {
    let faults = state.clear_all().iter().map(|f| view(&state, f)).collect();
    Json(FaultList { node: state.id(), faults })
}

/// `DELETE /inject/{id}`.
pub async fn clear_one(
    State(state): State<NodeState>,
    id: Result<Path<u64>, PathRejection>,
    query: Result<Query<SealQuery>, QueryRejection>,
) -> Result<Json<FaultList>, ApiError> {
    let Path(id) =
        id.map_err(|e| ApiError::BadRequest(format!("fault ids are numbers: {}", e.body_text())))?;
    let seal = SealQuery::key(query)?;
    let fault = state.clear(id, seal.as_deref())?;
    let faults = fault.iter().map(|f| view(&state, f)).collect();
    Ok(Json(FaultList { node: state.id(), faults }))
}
