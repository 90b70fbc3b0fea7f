//! RED instrumentation of the shop API: rate, errors and duration of every request
//! really served, plus the request id, the request's server span (when traces are on),
//! load shedding, the request timeout and the access log line.
//!
//! Only shop routes (and unmatched paths, collapsed to one `route` label) are
//! measured; `/metrics`, `/host/metrics`, `/inject` and the health endpoints are control
//! traffic.
//!
//! One measurement feeds every shape: `edge_*`, and the otel and promhttp dialects when on
//! ([`crate::app_metrics::AppMetrics::observe_request`]), so their counts agree exactly.
//! The request records into the registry of the process it arrived in (taken on arrival,
//! and handed to the handlers as a request extension for their upstream counters).

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opentelemetry::trace::FutureExt as _;
use tokio::time::Instant;

use crate::error::{ApiError, Outcome};
use crate::metrics::RequestLabels;
use crate::routes;
use crate::state::NodeState;
use crate::traces::{self, NodeTracer, ServerRequest};

/// The header carrying the request id in and out.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest request id accepted from a client; longer ones are replaced.
const MAX_REQUEST_ID: usize = 64;

/// The middleware: measure shop requests, pass control requests through untouched.
pub async fn track(State(state): State<NodeState>, mut request: Request, next: Next) -> Response {
    // The route's static template (no copy of the matched path: this runs per request).
    let matched = request.extensions().get::<MatchedPath>().map(|m| routes::route(m.as_str()));
    let (service, route) = match matched {
        Some(Some(r)) => (r.service.as_str(), r.path),
        Some(None) => return next.run(request).await,
        None => ("none", routes::UNMATCHED),
    };
    let method = method_label(request.method());
    let request_id = request_id(&request);
    let metrics = state.metrics();
    request.extensions_mut().insert(metrics.clone());
    let started = Instant::now();
    // Traces off: no span, no context, nothing but this check.
    let span = state.tracer().map(|tracer| {
        tracer.server_span(&ServerRequest {
            method: if method == "other" { "_OTHER" } else { method },
            route: matched.as_ref().map(|_| route),
            path: request.uri().path(),
            headers: request.headers(),
        })
    });

    let mut response = match state.try_admit() {
        None => ApiError::Overloaded(state.config().concurrency_limit).into_response(),
        Some(_permit) => {
            let timeout = state.config().request_timeout;
            let served = next.run(request);
            let served = match &span {
                // The handlers' step spans are children of the server span.
                Some(cx) => tokio::time::timeout(timeout, served.with_context(cx.clone())).await,
                None => tokio::time::timeout(timeout, served).await,
            };
            match served {
                Ok(response) => response,
                Err(_) => ApiError::Timeout(timeout.as_secs()).into_response(),
            }
        }
    };

    let latency = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    let trace = span.map(|cx| {
        let faults = traces::fault_attribute(&state.visible_fault_kinds());
        NodeTracer::end_server_span(&cx, status, faults)
    });
    state.count_served();
    let exemplar_trace = trace.as_ref().filter(|t| t.sampled).map(|t| t.trace_id.as_str());
    metrics.observe_request(
        &RequestLabels { service, route, method, status },
        latency,
        &request_id,
        exemplar_trace,
    );
    let outcome = response.extensions().get::<Outcome>().copied().unwrap_or(Outcome::Ok);
    // Computed before the log call: nothing is locked while a line is written.
    let fault = state.active_fault_names();
    tracing::info!(
        target: crate::logging::targets::ACCESS,
        node = state.id(),
        request_id = %request_id,
        trace_id = trace.as_ref().map(|t| t.trace_id.as_str()),
        service,
        route,
        method,
        status,
        latency_ms = (latency * 1e6).round() / 1e3,
        outcome = outcome.as_str(),
        fault = %fault,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    if let Some(trace) = &trace {
        traces::tag_response(response.headers_mut(), trace);
    }
    response
}

/// A bounded set of method labels.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The client's `x-request-id` if it is a sane token, else a fresh random one.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(|| format!("{:016x}", rand::random::<u64>()), str::to_owned)
}
