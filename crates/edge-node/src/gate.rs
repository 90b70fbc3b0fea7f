//! What happens to a request before the node itself sees it: a crashed node answers
//! 503 (and counts nothing, as a dead process would), a flaky network holds some
//! requests and scrapes for a retransmission timeout. The `/inject` control endpoints
//! are exempt so a fault can always be ended, and `/fleet` so the CLI can always learn
//! the fleet (a region that lost power still has members).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::NodeState;

/// Path prefix of the control endpoints that always answer.
pub const CONTROL_PREFIX: &str = "/inject";
/// The fleet membership endpoint, also always answering.
pub const FLEET_PATH: &str = "/fleet";

/// The middleware.
pub async fn gate(State(state): State<NodeState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with(CONTROL_PREFIX) || path == FLEET_PATH {
        return next.run(request).await;
    }
    let admission = state.admission();
    if admission.crashed {
        return ApiError::Crashed.into_response();
    }
    if let Some(stall) = admission.stall {
        tokio::time::sleep(stall).await;
    }
    next.run(request).await
}
