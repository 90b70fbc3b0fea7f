//! The router, and running one node or a fleet of them until shutdown.
//!
//! A fleet shares one runtime and one housekeeping ticker; each node has its own
//! listener, router, model and registry. Shutdown stops accepting, cancels the traffic
//! generators and the ticker, and waits at most [`GRACE_PERIOD`] for requests in flight.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::control::{self, MAX_INJECT_BODY};
use crate::error::ApiError;
use crate::state::NodeState;
use crate::{gate, guard, ops, red, shop, traffic};

/// Longest wait for requests in flight after shutdown begins. Requests time out after
/// 5 s and injected stalls last at most 3 s, so nothing legitimate needs longer.
pub const GRACE_PERIOD: Duration = Duration::from_secs(8);
/// How often the ticker feeds load to the models and expires faults.
pub const TICK: Duration = Duration::from_secs(1);

/// The whole HTTP surface of one node.
pub fn app(state: NodeState) -> Router {
    let mut router = Router::new();
    for (path, handler) in shop::routes() {
        router = router.route(path, handler);
    }
    router
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/inject", get(control::list).post(control::start).delete(control::clear_all))
        .route("/inject/{id}", delete(control::clear_one))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_INJECT_BODY))
        .layer(axum::middleware::from_fn_with_state(state.clone(), red::track))
        .layer(axum::middleware::from_fn_with_state(state.clone(), gate::gate))
        // Outermost: a cross-site request is refused before anything, even a crash, sees it.
        .layer(axum::middleware::from_fn(guard::same_origin_only))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound(
        "no such endpoint; try /api/products, /api/orders, /api/payments, /inject, /metrics, /healthz"
            .to_owned(),
    )
}

async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string().chars().take(16).collect())
}

/// Runs nodes on their listeners until `shutdown` is cancelled.
pub async fn run(nodes: Vec<(TcpListener, NodeState)>, shutdown: CancellationToken) -> std::io::Result<()> {
    let tracker = TaskTracker::new();
    let mut servers = Vec::with_capacity(nodes.len());
    let states: Vec<NodeState> = nodes.iter().map(|(_, s)| s.clone()).collect();
    for (listener, state) in nodes {
        let router = app(state.clone());
        tracker.spawn(traffic::run(state.clone(), router.clone(), shutdown.clone()));
        let signal = shutdown.clone().cancelled_owned();
        servers.push(
            tracker.spawn(async move { axum::serve(listener, router).with_graceful_shutdown(signal).await }),
        );
    }
    tracker.spawn(tick(states.clone(), shutdown.clone()));
    tracker.close();

    shutdown.cancelled().await;
    for state in &states {
        state.begin_drain();
    }
    if tokio::time::timeout(GRACE_PERIOD, tracker.wait()).await.is_err() {
        tracing::warn!(
            grace_s = GRACE_PERIOD.as_secs(),
            "requests still in flight after the grace period; exiting"
        );
        return Ok(());
    }
    for server in servers {
        if let Ok(Err(e)) = server.await {
            return Err(e);
        }
    }
    Ok(())
}

/// One shared timer for the whole fleet: a thousand nodes cost one task, not a thousand.
async fn tick(states: Vec<NodeState>, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            at = interval.tick() => {
                let elapsed = at.saturating_duration_since(last);
                last = at;
                if elapsed.is_zero() { continue; }
                for state in &states {
                    state.tick(elapsed);
                }
            }
        }
    }
}
