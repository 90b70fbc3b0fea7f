//! The one error type of the HTTP layer: every refusal and failure becomes a status
//! code and a JSON body [`ErrorBody`] (`{"error": "...", "status": N}`) through a single match.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use edge_sim::FaultError;
use edge_sim::api::ErrorBody;

/// How a request ended, attached to the response so the access log can tell a designed
/// (injected) failure from a real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served as asked.
    Ok,
    /// The client sent something invalid (4xx).
    Rejected,
    /// Failed by an injected fault.
    Injected,
    /// A bug on our side.
    Internal,
    /// A dependency failed.
    Upstream,
    /// Load shed or timed out.
    Overloaded,
}

impl Outcome {
    /// The log value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Rejected => "rejected",
            Outcome::Injected => "injected_error",
            Outcome::Internal => "internal_error",
            Outcome::Upstream => "upstream_error",
            Outcome::Overloaded => "overloaded",
        }
    }
}

/// Everything a handler can answer other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed or invalid input.
    #[error("{0}")]
    BadRequest(String),
    /// Refused because a browser may be sending it on behalf of another site.
    #[error("{0}")]
    Forbidden(String),
    /// Body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Body over the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A referenced thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// Well-formed but refers to something invalid (an unknown product in an order).
    #[error("{0}")]
    Unprocessable(String),
    /// Failed by an injected fault (a designed response).
    #[error("injected failure: {0}")]
    Injected(&'static str),
    /// A dependency failed.
    #[error("{0} unavailable")]
    Upstream(&'static str),
    /// Too many requests in flight.
    #[error("node overloaded: {0} requests in flight")]
    Overloaded(usize),
    /// The request took longer than the request timeout.
    #[error("request timed out after {0} s")]
    Timeout(u64),
    /// The node is down (`node_crash`).
    #[error("node is down (injected node_crash); end it with DELETE /inject")]
    Crashed,
    /// The node's process is gone: the OOM killer ended it and it has not restarted yet.
    #[error("node process is not running (killed by the out-of-memory killer; it restarts by itself)")]
    ProcessDown,
    /// A write failed because the data filesystem is full (`disk_fill`), as a real service
    /// reports ENOSPC.
    #[error("no space left on device")]
    DiskFull,
    /// A failure while a drill's fault is sealed: answered as a real service would, with
    /// the status alone (`internal server error`), so the body does not name the fault.
    #[error("{}", .0.canonical_reason().unwrap_or("error").to_lowercase())]
    Opaque(StatusCode),
    /// A bug on our side; details go to the log, not the client.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// How the request ended, for logs and spans.
    pub fn outcome(&self) -> Outcome {
        self.status_and_outcome().1
    }

    /// The status it is answered with (the virtual fleet counts it without answering).
    pub fn status(&self) -> StatusCode {
        self.status_and_outcome().0
    }

    fn status_and_outcome(&self) -> (StatusCode, Outcome) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, Outcome::Rejected),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, Outcome::Rejected),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, Outcome::Rejected),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, Outcome::Rejected),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, Outcome::Rejected),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, Outcome::Rejected),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, Outcome::Rejected),
            ApiError::Injected(_) => (StatusCode::INTERNAL_SERVER_ERROR, Outcome::Injected),
            ApiError::Upstream(_) => (StatusCode::BAD_GATEWAY, Outcome::Upstream),
            ApiError::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, Outcome::Overloaded),
            ApiError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, Outcome::Overloaded),
            ApiError::Crashed | ApiError::ProcessDown => (StatusCode::SERVICE_UNAVAILABLE, Outcome::Injected),
            // What the service really meets (an I/O error), named as such in the access log:
            // the learner finds the full disk from the host, not from a fault name.
            ApiError::DiskFull => (StatusCode::INTERNAL_SERVER_ERROR, Outcome::Internal),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, Outcome::Internal),
            ApiError::Opaque(status) => (*status, Outcome::Internal),
        }
    }
}

impl From<FaultError> for ApiError {
    fn from(err: FaultError) -> Self {
        match err {
            FaultError::UnknownFault(_) => ApiError::NotFound(err.to_string()),
            _ => ApiError::BadRequest(err.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, outcome) = self.status_and_outcome();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(detail = %detail, "internal error");
        }
        let body = ErrorBody { error: self.to_string(), status: status.as_u16() };
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(outcome);
        response
    }
}
