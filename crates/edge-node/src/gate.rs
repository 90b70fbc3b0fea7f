//! What happens to a request before the node itself sees it: a crashed node answers
//! 503 (and counts nothing, as a dead process would), a flaky network holds some
//! requests and scrapes for a retransmission timeout. The `/inject` control endpoints
//! are exempt so a fault can always be ended, and `/fleet` so the CLI can always learn
//! the fleet (a region that lost power still has members).

use crate::error::ApiError;
use crate::state::NodeState;

/// Path prefix of the control endpoints that always answer.
pub const CONTROL_PREFIX: &str = "/inject";
/// The fleet membership endpoint, also always answering.
pub const FLEET_PATH: &str = "/fleet";

/// The gate on one request (run by the server's front middleware, after the cross-site
/// guard): `Err` holds the answer of a crashed node; a flaky network holds the request
/// first. Takes the path, not the request: a request body is not `Sync`, so a borrowed
/// request could not be held across the stall.
pub async fn admit(state: &NodeState, path: &str) -> Result<(), ApiError> {
    if path.starts_with(CONTROL_PREFIX) || path == FLEET_PATH {
        return Ok(());
    }
    let admission = state.admission();
    if admission.crashed {
        // A sealed drill's crash answers like any unreachable service, naming no fault.
        if state.sealed_active() {
            return Err(ApiError::Opaque(axum::http::StatusCode::SERVICE_UNAVAILABLE));
        }
        return Err(ApiError::Crashed);
    }
    if let Some(stall) = admission.stall {
        tokio::time::sleep(stall).await;
    }
    Ok(())
}
