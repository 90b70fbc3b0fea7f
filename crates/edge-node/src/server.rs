//! The router, and running one node or a fleet of them until shutdown.
//!
//! A fleet shares one runtime, one traffic scheduler and one housekeeping ticker; each
//! node has its own listener, router, model, RNG streams and registry. The ticker steps
//! every node's model each second (load, host, fault expiry), so the host moves and an OOM
//! kill happens on time even when nobody scrapes.
//!
//! Shutdown has two phases. Drain: `/readyz` answers 503 for [`DRAIN_PERIOD`] while the
//! node still accepts and serves, so probes and load balancers see it leave. Then stop:
//! the listeners close, the traffic generators and the ticker stop, and requests in
//! flight get at most [`GRACE_PERIOD`]; a shutdown that runs past it is an error
//! ([`RunError::GracePeriodExceeded`]), so the process exits non-zero.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::control::{self, MAX_INJECT_BODY};
use crate::error::ApiError;
use crate::state::NodeState;
use crate::{gate, guard, ops, red, shop, traffic};

/// How long `/readyz` answers 503 before the listeners stop accepting. If both happened
/// at the same instant no one would ever see the 503: a readiness probe or a load
/// balancer polling every second needs to catch it at least once (twice here) to route
/// traffic away before connections are refused. Short, because every stop waits for it.
pub const DRAIN_PERIOD: Duration = Duration::from_secs(2);
/// Longest wait for requests in flight once the listeners close. Requests time out after
/// 5 s and injected stalls last at most 3 s, so nothing legitimate needs longer.
pub const GRACE_PERIOD: Duration = Duration::from_secs(8);
/// How often the ticker feeds load to the models, steps their hosts and expires faults.
pub const TICK: Duration = Duration::from_secs(1);

/// The whole HTTP surface of one node.
pub fn app(state: NodeState) -> Router {
    let mut router = Router::new();
    for (path, handler) in shop::routes() {
        router = router.route(path, handler);
    }
    router
        .route("/metrics", get(ops::metrics))
        .route(crate::shapes::node_exporter::PATH, get(ops::host_metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route(gate::FLEET_PATH, get(ops::fleet))
        .route("/inject", get(control::list).post(control::start).delete(control::clear_all))
        .route("/inject/{id}", delete(control::clear_one))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_INJECT_BODY))
        .layer(axum::middleware::from_fn_with_state(state.clone(), front))
        .with_state(state)
}

/// The three steps every request passes, in order, as one middleware (one layer instead
/// of three: each layer costs a boxed future and a clone of the router per request, a
/// real share of a thousand-node fleet's CPU). First the cross-site guard (a cross-site
/// request is refused before anything, even a crash, sees it), then the gate (a crashed
/// node answers 503 and counts nothing), then RED measurement around the handler.
async fn front(State(state): State<NodeState>, request: Request, next: Next) -> Response {
    if let Err(refused) = guard::check(&request) {
        return refused.into_response();
    }
    if let Err(refused) = gate::admit(&state, request.uri().path()).await {
        return refused.into_response();
    }
    red::track(State(state), request, next).await
}

async fn not_found() -> ApiError {
    ApiError::NotFound(
        "no such endpoint; try /api/products, /api/orders, /api/payments, /inject, /metrics, /host/metrics, \
         /healthz"
            .to_owned(),
    )
}

async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string().chars().take(16).collect())
}

/// The two phases of a shutdown (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownTimes {
    /// `/readyz` answers 503 this long while the node still serves.
    pub drain: Duration,
    /// Then requests in flight get at most this long.
    pub grace: Duration,
}

impl Default for ShutdownTimes {
    fn default() -> Self {
        Self { drain: DRAIN_PERIOD, grace: GRACE_PERIOD }
    }
}

/// Why serving ended badly.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A listener failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
    /// Requests were still in flight when the grace period ran out.
    #[error("requests still in flight {}s after the listeners closed (the grace period)", grace.as_secs_f64())]
    GracePeriodExceeded {
        /// The grace period.
        grace: Duration,
    },
}

/// Runs nodes on their listeners until `shutdown` is cancelled, with the default
/// [`ShutdownTimes`].
pub async fn run(nodes: Vec<(TcpListener, NodeState)>, shutdown: CancellationToken) -> Result<(), RunError> {
    run_with(nodes, shutdown, ShutdownTimes::default()).await
}

/// Runs nodes on their listeners until `shutdown` is cancelled, then drains and stops.
pub async fn run_with(
    nodes: Vec<(TcpListener, NodeState)>,
    shutdown: CancellationToken,
    times: ShutdownTimes,
) -> Result<(), RunError> {
    // Listeners, generators and the ticker stop at the end of the drain, not at its start.
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut servers = Vec::with_capacity(nodes.len());
    let states: Vec<NodeState> = nodes.iter().map(|(_, s)| s.clone()).collect();
    let members: std::sync::Arc<[_]> = states.iter().map(NodeState::member).collect();
    for state in &states {
        state.join_fleet(members.clone());
    }
    let mut generated = Vec::with_capacity(nodes.len());
    for (listener, state) in nodes {
        let router = app(state.clone());
        generated.push((state.clone(), router.clone()));
        let signal = stop.clone().cancelled_owned();
        servers.push(
            tracker.spawn(async move { axum::serve(listener, router).with_graceful_shutdown(signal).await }),
        );
    }
    tracker.spawn(traffic::run_fleet(generated, stop.clone()));
    tracker.spawn(tick(states.clone(), stop.clone()));
    tracker.close();

    shutdown.cancelled().await;
    for state in &states {
        state.begin_drain();
    }
    tracing::info!(
        event = "draining",
        drain_s = times.drain.as_secs_f64(),
        "readyz answers 503; still serving"
    );
    tokio::time::sleep(times.drain).await;
    stop.cancel();
    tracing::info!(event = "stopping", grace_s = times.grace.as_secs_f64(), "listeners closed");
    if tokio::time::timeout(times.grace, tracker.wait()).await.is_err() {
        return Err(RunError::GracePeriodExceeded { grace: times.grace });
    }
    for server in servers {
        if let Ok(Err(e)) = server.await {
            return Err(e.into());
        }
    }
    Ok(())
}

/// One shared timer for the whole fleet: a thousand nodes cost one task, not a thousand.
pub(crate) async fn tick(states: Vec<NodeState>, shutdown: CancellationToken) {
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
