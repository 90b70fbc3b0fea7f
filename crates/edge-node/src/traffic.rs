//! The built-in traffic generator: a realistic, weighted mix of shop requests sent to
//! the node's own router (the same middleware and handlers outside load goes through),
//! Poisson arrivals whose rate follows the node's daily cycle.
//!
//! Requests go through the router in-process rather than over a socket: they are
//! really served and measured, and a fleet of a thousand nodes needs no extra sockets.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use edge_sim::rng::{self, Stream};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use tokio::time::Instant;
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
/// Turns of a traffic shard's loop (an arrival batch or a finished request each) between
/// two explicit yields to the runtime.
const YIELD_EVERY: u32 = 64;
/// Largest response body the generator reads back.
const MAX_BODY: usize = 64 * 1024;

/// One node's arrivals and request mix, drawn from its own stream: the pure part of the
/// generator, shared by the live scheduler (which sends each request through the router at
/// its time) and the virtual fleet ([`crate::virtual_fleet`], which serves it in virtual
/// time), so one seed draws the same requests at the same instants in both.
#[derive(Debug, Clone)]
pub struct Arrivals {
    rps: f64,
    rng: ChaCha8Rng,
}

impl Arrivals {
    /// The arrivals of the node with seed `node_seed` at `rps` requests per second (before
    /// the daily swing).
    pub fn new(node_seed: u64, rps: f64) -> Self {
        Self { rps, rng: rng::stream(node_seed, Stream::Traffic) }
    }

    /// Draws the gap to the next arrival at daily cycle `daily` (0-1, the model's now).
    pub fn gap(&mut self, daily: f64) -> Duration {
        let rate = self.rps * (DAILY_SWING.0 + DAILY_SWING.1 * daily);
        let gap = Exp::new(rate).map_or(1.0 / self.rps, |d| d.sample(&mut self.rng));
        Duration::try_from_secs_f64(gap).map_or(MAX_GAP, |gap| gap.min(MAX_GAP))
    }

    /// Draws the next request of the mix; `last_order_id` is the newest order's id now.
    pub fn pick(&mut self, last_order_id: u64) -> ShopRequest {
        ShopRequest::draw(last_order_id, &mut self.rng)
    }
}

/// One node's generator: its router, its arrivals and its next arrival.
struct Generator {
    state: NodeState,
    app: Router,
    arrivals: Arrivals,
    next: Instant,
}

impl Generator {
    /// Draws the gap to the next arrival from this node's stream.
    fn advance(&mut self) {
        self.next += self.arrivals.gap(self.state.daily_cycle());
        // After a stall (a paused laptop, a starved process), resume at the normal rate
        // instead of bursting.
        let now = Instant::now();
        if self.next + Duration::from_secs(1) < now {
            self.next = now;
        }
    }
}

/// Sends each node's requests at its `config().rps` until `shutdown`. The fleet is split
/// into one shard per worker thread; each shard is one task with one timer (a heap of its
/// nodes' next arrivals) that also drives its requests, so a thousand nodes cost no task,
/// timer or thread each, and no task per request. Each node draws from its own stream, so
/// the split never changes what a seed replays.
pub async fn run_fleet(nodes: Vec<(NodeState, Router)>, shutdown: CancellationToken) {
    let nodes: Vec<(NodeState, Router)> = nodes
        .into_iter()
        .filter(|(state, _)| state.config().rps > 0.0 && state.config().rps.is_finite())
        .collect();
    let shards = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, nodes.len().max(1));
    let mut split: Vec<Vec<(NodeState, Router)>> = (0..shards).map(|_| Vec::new()).collect();
    for (i, node) in nodes.into_iter().enumerate() {
        split[i % shards].push(node);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for shard in split {
        // Outside tokio's cooperative budget: the shard drives thousands of requests per
        // poll, and a budget sized for one request's task would starve them (they pile up
        // unserved while arrivals keep coming).
        tasks.spawn(tokio::task::unconstrained(run_shard(shard, shutdown.clone())));
    }
    while tasks.join_next().await.is_some() {}
}

/// One shard of the fleet's traffic (see [`run_fleet`]).
async fn run_shard(nodes: Vec<(NodeState, Router)>, shutdown: CancellationToken) {
    let start = Instant::now();
    let mut generators: Vec<Generator> = nodes
        .into_iter()
        .map(|(state, app)| {
            let arrivals = Arrivals::new(state.node_seed(), state.config().rps);
            Generator { state, app, arrivals, next: start }
        })
        .collect();
    let mut due: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::with_capacity(generators.len());
    for (i, g) in generators.iter_mut().enumerate() {
        g.advance();
        due.push(Reverse((g.next, i)));
    }
    // Requests being served, driven here rather than on a task each: no spawn, and no
    // worker thread woken per request (the wake-ups cost more than the requests).
    let mut in_flight = FuturesUnordered::new();
    // One timer and one cancellation wait for the shard's life, moved rather than rebuilt.
    let timer = tokio::time::sleep_until(start);
    let cancelled = shutdown.cancelled();
    tokio::pin!(timer, cancelled);
    let mut turns: u32 = 0;
    while let Some(&Reverse((at, _))) = due.peek() {
        // Unconstrained (see `run_fleet`) but never hogging a worker: scrapes and /inject
        // of every node share these threads, so give way every so often when busy.
        turns += 1;
        if turns == YIELD_EVERY {
            turns = 0;
            tokio::task::yield_now().await;
        }
        if timer.deadline() != at {
            timer.as_mut().reset(at);
        }
        // Not biased: when the shard runs behind, arrivals must not starve the requests
        // already sent (they would pile up unserved).
        tokio::select! {
            () = &mut cancelled => break,
            () = &mut timer => {}
            Some(()) = in_flight.next(), if !in_flight.is_empty() => continue,
        }
        // Everything due by now, in time order: arrivals that fell due together are sent
        // in one wake-up.
        let now = Instant::now();
        while let Some(&Reverse((at, i))) = due.peek() {
            if at > now {
                break;
            }
            due.pop();
            let g = &mut generators[i];
            let request = g.arrivals.pick(g.state.last_order_id());
            in_flight.push(serve(g.app.clone(), request.to_http()));
            g.advance();
            due.push(Reverse((g.next, i)));
        }
    }
    // Requests already sent finish (each within the request timeout), as outside ones do.
    while in_flight.next().await.is_some() {}
}

/// Sends requests for one node at `state.config().rps` until `shutdown` (a fleet of one).
pub async fn run(state: NodeState, app: Router, shutdown: CancellationToken) {
    run_fleet(vec![(state, app)], shutdown).await;
}

/// Serves `request` through the node's router and reads the whole response.
async fn serve(app: Router, request: Request<Body>) {
    let Ok(response) = app.oneshot(request).await;
    // Read the body so the whole response is really produced.
    let _ = axum::body::to_bytes(response.into_body(), MAX_BODY).await;
}

/// One request of the mix, as data: what the generator sends (live, as HTTP; virtual, to
/// the virtual node's shop walk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopRequest {
    /// `GET /api/products`.
    ListProducts,
    /// `GET /api/products/{id}` (an id past the catalog: a miss).
    GetProduct(u32),
    /// `POST /api/orders`.
    CreateOrder {
        /// The product ordered (always in the catalog).
        product_id: u32,
        /// How many.
        quantity: u32,
    },
    /// `GET /api/orders/{id}` (an old id may have been evicted).
    GetOrder(u64),
    /// `POST /api/payments`.
    CreatePayment {
        /// The amount charged.
        amount_cents: u64,
    },
}

impl ShopRequest {
    /// One request of the mix: mostly catalog reads, some orders and payments, and a few
    /// misses (unknown products, evicted orders) as real clients make.
    pub fn draw(last_order_id: u64, rng: &mut ChaCha8Rng) -> Self {
        let roll: f64 = rng.random();
        let catalog = CATALOG.len() as u32;
        if roll < 0.35 {
            Self::ListProducts
        } else if roll < 0.65 {
            // 2 % of lookups ask for a product that does not exist.
            let id = if rng.random_bool(0.02) {
                catalog + rng.random_range(1..=8)
            } else {
                rng.random_range(1..=catalog)
            };
            Self::GetProduct(id)
        } else if roll < 0.80 {
            Self::CreateOrder { product_id: rng.random_range(1..=catalog), quantity: rng.random_range(1..=3) }
        } else if roll < 0.92 {
            let last = last_order_id;
            // Mostly recent orders; sometimes an old one that may have been evicted.
            let id = if last == 0 {
                1
            } else if rng.random_bool(0.05) {
                rng.random_range(1..=last)
            } else {
                rng.random_range(last.saturating_sub(50).max(1)..=last)
            };
            Self::GetOrder(id)
        } else {
            Self::CreatePayment { amount_cents: rng.random_range(100..=50_000) }
        }
    }

    /// The route it matches in the shop's table ([`crate::routes::ROUTES`]).
    pub fn route(&self) -> &'static crate::routes::ApiRoute {
        let i = match self {
            Self::ListProducts => 0,
            Self::GetProduct(_) => 1,
            Self::CreateOrder { .. } => 2,
            Self::GetOrder(_) => 3,
            Self::CreatePayment { .. } => 4,
        };
        &crate::routes::ROUTES[i]
    }

    /// The HTTP request the live generator sends.
    pub fn to_http(self) -> Request<Body> {
        let (method, uri, body) = match self {
            Self::ListProducts => (Method::GET, "/api/products".to_owned(), None),
            Self::GetProduct(id) => (Method::GET, format!("/api/products/{id}"), None),
            Self::CreateOrder { product_id, quantity } => (
                Method::POST,
                "/api/orders".to_owned(),
                Some(format!(r#"{{"product_id":{product_id},"quantity":{quantity}}}"#)),
            ),
            Self::GetOrder(id) => (Method::GET, format!("/api/orders/{id}"), None),
            Self::CreatePayment { amount_cents } => (
                Method::POST,
                "/api/payments".to_owned(),
                Some(format!(r#"{{"amount_cents":{amount_cents}}}"#)),
            ),
        };
        let builder = Request::builder().method(method).uri(uri).header(header::USER_AGENT, USER_AGENT);
        let request = match body {
            Some(json) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(json)),
            None => builder.body(Body::empty()),
        };
        // The parts above are all valid, so building cannot fail; an empty request would get a 404.
        request.unwrap_or_else(|_| Request::new(Body::empty()))
    }
}

/// One request of the mix for node `state`, as HTTP (see [`ShopRequest::draw`]).
pub fn pick_request(state: &NodeState, rng: &mut ChaCha8Rng) -> Request<Body> {
    ShopRequest::draw(state.last_order_id(), rng).to_http()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeConfig;

    /// Requests node `state` served so far, by route and status, from its own /metrics.
    fn served(state: &NodeState) -> Vec<(String, f64)> {
        let text = state.metrics().encode().expect("encode");
        let metrics = exposition::Metrics::parse(&text).expect("OpenMetrics");
        let mut served: Vec<(String, f64)> = metrics
            .samples()
            .iter()
            .filter(|s| s.name == "edge_http_requests_total" && s.value > 0.0)
            .map(|s| {
                let label = |k| s.label(k).unwrap_or_default().to_owned();
                (format!("{} {} {}", label("method"), label("route"), label("status")), s.value)
            })
            .collect();
        served.sort_by(|a, b| a.0.cmp(&b.0));
        served
    }

    /// Runs a fleet of `ids` (seed `seed`, `rps` each) for `secs` of paused time through
    /// the shared scheduler; returns what each node served.
    fn run_for(ids: &[u32], seed: u64, rps: f64, secs: u64) -> Vec<Vec<(String, f64)>> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build();
        rt.expect("runtime").block_on(async {
            let nodes: Vec<(NodeState, Router)> = ids
                .iter()
                .map(|&id| {
                    let state = NodeState::new(NodeConfig { rps, ..NodeConfig::new(id, seed) });
                    (state.clone(), crate::app(state))
                })
                .collect();
            let states: Vec<NodeState> = nodes.iter().map(|(s, _)| s.clone()).collect();
            let stop = CancellationToken::new();
            let scheduler = tokio::spawn(run_fleet(nodes, stop.clone()));
            tokio::time::sleep(Duration::from_secs(secs)).await;
            stop.cancel();
            scheduler.await.expect("the scheduler ran");
            // Let requests in flight finish (each at most the request timeout).
            tokio::time::sleep(Duration::from_secs(10)).await;
            states.iter().map(served).collect()
        })
    }

    fn total(served: &[(String, f64)]) -> f64 {
        served.iter().map(|(_, v)| v).sum()
    }

    #[test]
    fn the_shared_scheduler_gives_every_node_its_rate() {
        let ids: Vec<u32> = (1..=20).collect();
        let (rps, secs) = (20.0, 60);
        let fleet = run_for(&ids, 11, rps, secs);
        let expected = rps * secs as f64;
        for (id, node) in ids.iter().zip(&fleet) {
            // The daily swing keeps the rate within 80-120 % of --rps; Poisson noise over
            // 1200 arrivals is about 3 %.
            let got = total(node);
            assert!(
                (0.7 * expected..=1.3 * expected).contains(&got),
                "node {id}: {got} requests in {secs} s"
            );
        }
        let mean = fleet.iter().map(|n| total(n)).sum::<f64>() / fleet.len() as f64;
        assert!((0.8 * expected..=1.2 * expected).contains(&mean), "mean {mean}");
    }

    #[test]
    fn a_seed_replays_each_node_whatever_the_fleet_around_it() {
        let alone = run_for(&[3], 42, 20.0, 30);
        let again = run_for(&[3], 42, 20.0, 30);
        let in_fleet = run_for(&[1, 2, 3, 4, 5], 42, 20.0, 30);
        assert!(total(&alone[0]) > 400.0, "{:?}", alone[0]);
        assert_eq!(alone[0], again[0], "same seed, same requests, routes and statuses");
        assert_eq!(alone[0], in_fleet[2], "other nodes do not shift node 3's stream");
        let other_seed = run_for(&[3], 43, 20.0, 30);
        assert_ne!(alone[0], other_seed[0], "another seed, another run");
    }

    #[tokio::test(start_paused = true)]
    async fn no_rate_however_small_panics_or_stops_the_generator() {
        let hours = 2;
        // (rate, fewest and most requests in `hours`): a vanishing rate waits at most
        // MAX_GAP between arrivals, so it still sends one an hour; the lowest rate the
        // config accepts sends its Poisson share (72 expected, 58-86 across the daily
        // swing; the bounds are over 3 standard deviations wider).
        let cases = [(1e-30, 1.0, 2.0), (f64::MIN_POSITIVE, 1.0, 2.0), (crate::config::MIN_RPS, 30.0, 115.0)];
        for (rps, fewest, most) in cases {
            let state = NodeState::new(NodeConfig { rps, ..NodeConfig::new(1, 1) });
            let stop = CancellationToken::new();
            let generator = tokio::spawn(run(state.clone(), crate::app(state.clone()), stop.clone()));
            tokio::time::sleep(Duration::from_secs(hours * 3600)).await;
            assert!(!generator.is_finished(), "the generator stopped by itself at {rps} req/s");
            stop.cancel();
            assert!(generator.await.is_ok(), "the generator panicked at {rps} req/s");
            let sent = total(&served(&state));
            assert!((fewest..=most).contains(&sent), "{sent} requests in {hours} h at {rps} req/s");
        }
    }
}
