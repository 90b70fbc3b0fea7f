//! The built-in traffic generator: a realistic, weighted mix of shop requests sent to
//! the node's own router (the same middleware and handlers outside load goes through),
//! Poisson arrivals whose rate follows the node's daily cycle.
//!
//! Requests go through the router in-process rather than over a socket: they are
//! really served and measured, and a fleet of a thousand nodes needs no extra sockets.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use edge_sim::rng::{self, Stream};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::shop::CATALOG;
use crate::state::NodeState;

/// The generator's user agent, so its requests can be told apart in captures.
const USER_AGENT: &str = concat!("edge-node-traffic/", env!("CARGO_PKG_VERSION"));
/// The rate swings from 80 % (night) to 120 % (peak) of `--rps` over a day: visible on a
/// dashboard, never so low at night that the fast alert windows run short of requests.
const DAILY_SWING: (f64, f64) = (0.8, 0.4);
/// The longest gap between two requests: no rate, however small, can push the next
/// arrival past what the clock can represent.
const MAX_GAP: Duration = Duration::from_secs(3600);
/// Largest response body the generator reads back.
const MAX_BODY: usize = 64 * 1024;

/// Sends requests at `state.config().rps` until `shutdown`.
pub async fn run(state: NodeState, app: Router, shutdown: CancellationToken) {
    let rps = state.config().rps;
    if rps <= 0.0 || !rps.is_finite() {
        return;
    }
    let mut rng = rng::stream(state.node_seed(), Stream::Traffic);
    let mut next = tokio::time::Instant::now();
    loop {
        let rate = rps * (DAILY_SWING.0 + DAILY_SWING.1 * state.daily_cycle());
        let gap = Exp::new(rate).map_or(1.0 / rps, |d| d.sample(&mut rng));
        next += Duration::try_from_secs_f64(gap).map_or(MAX_GAP, |gap| gap.min(MAX_GAP));
        // After a stall (a paused laptop), resume at the normal rate instead of bursting.
        let now = tokio::time::Instant::now();
        if next + Duration::from_secs(1) < now {
            next = now;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep_until(next) => {}
        }
        let request = pick_request(&state, &mut rng);
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(response) = app.oneshot(request).await;
            // Read the body so the whole response is really produced.
            let _ = axum::body::to_bytes(response.into_body(), MAX_BODY).await;
        });
    }
}

/// One request of the mix: mostly catalog reads, some orders and payments, and a few
/// misses (unknown products, evicted orders) as real clients make.
pub fn pick_request(state: &NodeState, rng: &mut ChaCha8Rng) -> Request<Body> {
    let roll: f64 = rng.random();
    let catalog = CATALOG.len() as u32;
    let (method, uri, body) = if roll < 0.35 {
        (Method::GET, "/api/products".to_owned(), None)
    } else if roll < 0.65 {
        // 2 % of lookups ask for a product that does not exist.
        let id = if rng.random_bool(0.02) {
            catalog + rng.random_range(1..=8)
        } else {
            rng.random_range(1..=catalog)
        };
        (Method::GET, format!("/api/products/{id}"), None)
    } else if roll < 0.80 {
        let body = format!(
            r#"{{"product_id":{},"quantity":{}}}"#,
            rng.random_range(1..=catalog),
            rng.random_range(1..=3)
        );
        (Method::POST, "/api/orders".to_owned(), Some(body))
    } else if roll < 0.92 {
        let last = state.last_order_id();
        // Mostly recent orders; sometimes an old one that may have been evicted.
        let id = if last == 0 {
            1
        } else if rng.random_bool(0.05) {
            rng.random_range(1..=last)
        } else {
            rng.random_range(last.saturating_sub(50).max(1)..=last)
        };
        (Method::GET, format!("/api/orders/{id}"), None)
    } else {
        let body = format!(r#"{{"amount_cents":{}}}"#, rng.random_range(100..=50_000));
        (Method::POST, "/api/payments".to_owned(), Some(body))
    };
    let builder = Request::builder().method(method).uri(uri).header(header::USER_AGENT, USER_AGENT);
    let request = match body {
        Some(json) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(json)),
        None => builder.body(Body::empty()),
    };
    // The parts above are all valid, so building cannot fail; an empty request would get a 404.
    request.unwrap_or_else(|_| Request::new(Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeConfig;

    #[tokio::test(start_paused = true)]
    async fn no_rate_however_small_panics_the_generator() {
        for rps in [1e-30, f64::MIN_POSITIVE, crate::config::MIN_RPS] {
            let state = NodeState::new(NodeConfig { rps, ..NodeConfig::new(1, 1) });
            let stop = CancellationToken::new();
            let generator = tokio::spawn(run(state.clone(), crate::app(state), stop.clone()));
            tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
            stop.cancel();
            assert!(generator.await.is_ok(), "the generator panicked at {rps} req/s");
        }
    }
}
