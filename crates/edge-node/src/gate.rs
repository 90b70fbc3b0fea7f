//! What happens to a request before the node itself sees it: a crashed node answers
//! 503 (and counts nothing, as a dead process would), and so does a node whose process the
//! OOM killer ended, until the process is back; a flaky network holds some requests and
//! scrapes for a retransmission timeout. The `/inject` control endpoints are exempt so a
//! fault can always be ended, and `/fleet` so the CLI can always learn the fleet (a region
//! that lost power still has members).
//!
//! `/host/metrics` is node_exporter's: a separate process on the same box, alive while the
//! app is dead. It answers through `node_crash` and through an OOM kill's gap; only the
//! network in front of the box (`flaky_network`) holds it, as it holds everything else.

use crate::error::ApiError;
use crate::shapes::node_exporter;
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
    let app_is_gone = admission.crashed || admission.process_down;
    if app_is_gone && path != node_exporter::PATH {
        // A sealed drill's crash answers like any unreachable service, naming no fault.
        if state.sealed_active() {
            return Err(ApiError::Opaque(axum::http::StatusCode::SERVICE_UNAVAILABLE));
        }
        return Err(if admission.crashed { ApiError::Crashed } else { ApiError::ProcessDown });
    }
    if let Some(stall) = admission.stall {
        tokio::time::sleep(stall).await;
    }
    Ok(())
}
