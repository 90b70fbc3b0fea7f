//! One node in virtual time: the live node's own state ([`NodeState`] on a manual clock),
//! driven by an event queue instead of tokio's timers.
//!
//! Each instant does what the live process does at it, through the same code: the ticker's
//! second ([`NodeState::tick`]), an arrival of the traffic scheduler ([`Arrivals`], the
//! live generator's draws) passing the gate ([`NodeState::admission`]: crash, OOM gap,
//! network stall), the RED middleware's admission and timeout, the shop's steps
//! ([`super::walk`]) and the measurement ([`crate::app_metrics::AppMetrics`]), and a scrape
//! of `/metrics` ([`ops::app_exposition`]) or `/host/metrics`
//! ([`node_exporter::render`]). At equal instants a planned fault goes first, then the
//! tick, then requests already in flight, then a new arrival.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use edge_sim::{FaultError, FaultSpec, StepPlan};

use super::walk::{self, InFlight, Next};
use crate::config::NodeConfig;
use crate::error::ApiError;
use crate::ops;
use crate::server::TICK;
use crate::shapes::node_exporter;
use crate::state::{Clock, NodeState};
use crate::traffic::{Arrivals, ShopRequest};

/// How long a scrape the network does not hold takes to answer (`scrape_duration_seconds`):
/// the order of a real `/metrics` encode on a loopback, so it is never mistaken for a stall.
pub const SERVE_TIME: Duration = Duration::from_millis(2);

/// One scrape's outcome, as Prometheus sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scrape {
    /// The target answered this exposition after `duration`.
    Up {
        /// The exposition text as the endpoint served it.
        text: String,
        /// How long the scrape took (a network stall included).
        duration: Duration,
    },
    /// The scrape failed (refused: the app is down; or timed out): `up` is 0, no samples.
    Down {
        /// How long the scrape took before failing.
        duration: Duration,
        /// Why.
        reason: DownReason,
    },
}

/// Why a scrape failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownReason {
    /// The app answered 503 (node_crash, or its process is gone after an OOM kill).
    Unavailable,
    /// The network held the request past the scrape timeout (flaky_network).
    Timeout,
}

/// A scrape of both of the node's endpoints at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeScrape {
    /// `/metrics` (the app's job).
    pub app: Scrape,
    /// `/host/metrics` (node_exporter's job), if the shape is on.
    pub host: Option<Scrape>,
}

/// Something due at an instant.
#[derive(Debug)]
enum Work {
    /// A request the network held reaches the node.
    Begin(ShopRequest),
    /// A request's running step ends.
    Wake(InFlight),
    /// A request reaches the request timeout.
    TimedOut(InFlight),
}

#[derive(Debug)]
struct Pending {
    at: Duration,
    seq: u64,
    work: Work,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// One node of the virtual fleet.
#[derive(Debug)]
pub struct VirtualNode {
    state: NodeState,
    clock: Clock,
    arrivals: Option<Arrivals>,
    next_arrival: Duration,
    traffic_until: Duration,
    next_tick: Duration,
    faults: VecDeque<(Duration, FaultSpec)>,
    pending: BinaryHeap<Reverse<Pending>>,
    seq: u64,
}

impl VirtualNode {
    /// A fresh node at virtual time 0, which is Unix time `start_unix`, with its built-in
    /// traffic on at `config.rps` (as the live fleet starts it).
    pub fn new(config: NodeConfig, start_unix: f64) -> Self {
        let clock = Clock::manual(start_unix);
        let rps = config.rps;
        let state = NodeState::with_clock(config, None, clock.clone());
        // As the live scheduler: no generator for a rate of 0 (or nonsense).
        let mut arrivals = (rps > 0.0 && rps.is_finite()).then(|| Arrivals::new(state.node_seed(), rps));
        let next_arrival = arrivals.as_mut().map_or(Duration::MAX, |a| a.gap(state.daily_cycle()));
        Self {
            state,
            clock,
            arrivals,
            next_arrival,
            traffic_until: Duration::MAX,
            next_tick: TICK,
            faults: VecDeque::new(),
            pending: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// The node's state: the live node's own, on the virtual clock.
    pub fn state(&self) -> &NodeState {
        &self.state
    }

    /// Virtual time since the node started.
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Plans `spec` to be injected at `start` (as `POST /inject` would at that instant).
    /// Invalid specs are refused here, not when their time comes.
    pub fn plan_fault(&mut self, start: Duration, spec: FaultSpec) -> Result<(), FaultError> {
        spec.validate()?;
        let i = self.faults.partition_point(|(at, _)| *at <= start);
        self.faults.insert(i, (start, spec));
        Ok(())
    }

    /// No arrival after `at` (requests already in flight still finish).
    pub fn stop_traffic_at(&mut self, at: Duration) {
        self.traffic_until = at;
    }

    /// Runs everything due up to and including `end`; the clock then reads `end`.
    pub fn run_until(&mut self, end: Duration) {
        loop {
            let fault_at = self.faults.front().map(|(at, _)| *at);
            let pending_at = self.pending.peek().map(|Reverse(p)| p.at);
            let arrival_at = (self.arrivals.is_some() && self.next_arrival <= self.traffic_until)
                .then_some(self.next_arrival);
            let Some(at) =
                [fault_at, Some(self.next_tick), pending_at, arrival_at].into_iter().flatten().min()
            else {
                break;
            };
            if at > end {
                break;
            }
            self.clock.set(at);
            if fault_at == Some(at) {
                if let Some((_, spec)) = self.faults.pop_front() {
                    // Validated when planned; a refusal now (none is known) changes nothing.
                    let _ = self.state.inject(&spec);
                }
            } else if self.next_tick == at {
                self.state.tick(TICK);
                self.next_tick += TICK;
            } else if pending_at == Some(at) {
                if let Some(Reverse(p)) = self.pending.pop() {
                    self.handle(p.work, at);
                }
            } else {
                self.arrive(at);
            }
        }
        self.clock.set(end);
    }

    /// Scrapes both endpoints at `at` with `timeout`, as Prometheus would: the gate decides
    /// each (refused, held, through) at `at`; an answer held by the network reflects the
    /// node when it is served, `at` plus the stall.
    pub fn scrape(&mut self, at: Duration, timeout: Duration) -> NodeScrape {
        self.run_until(at);
        let app = self.state.admission();
        let host = self.state.config().shapes.node_exporter.then(|| self.state.admission());
        let app_gone = app.crashed || app.process_down;
        // When each answer is served (`Err`: the scrape failed without an answer).
        let decide = |gone: bool, stall: Option<Duration>| -> Result<Duration, Scrape> {
            if gone {
                return Err(Scrape::Down { duration: SERVE_TIME, reason: DownReason::Unavailable });
            }
            match stall {
                Some(stall) if stall + SERVE_TIME >= timeout => {
                    Err(Scrape::Down { duration: timeout, reason: DownReason::Timeout })
                }
                Some(stall) => Ok(stall),
                None => Ok(Duration::ZERO),
            }
        };
        let app_at = decide(app_gone, app.stall);
        // node_exporter is its own process: it answers through the app's crash.
        let host_at = host.map(|h| decide(false, h.stall));
        let mut order: Vec<(Duration, bool)> = Vec::with_capacity(2);
        if let Ok(stall) = app_at {
            order.push((stall, true));
        }
        if let Some(Ok(stall)) = host_at {
            order.push((stall, false));
        }
        order.sort_by_key(|(stall, _)| *stall);
        let (mut app_text, mut host_text) = (None, None);
        for (stall, is_app) in order {
            self.run_until(at + stall);
            if is_app {
                // Encoding a registry into a String cannot fail; an empty page if it ever did.
                app_text = Some(ops::app_exposition(&self.state).unwrap_or_default());
            } else {
                host_text = Some(node_exporter::render(&self.state.host_view()));
            }
        }
        let answer = |decided: Result<Duration, Scrape>, text: Option<String>| match decided {
            Ok(stall) => Scrape::Up { text: text.unwrap_or_default(), duration: stall + SERVE_TIME },
            Err(down) => down,
        };
        NodeScrape { app: answer(app_at, app_text), host: host_at.map(|h| answer(h, host_text)) }
    }

    // ---- the request path -------------------------------------------------------------

    /// An arrival of the traffic scheduler at `at`: pick, draw the next gap, pass the gate.
    fn arrive(&mut self, at: Duration) {
        let Some(arrivals) = self.arrivals.as_mut() else { return };
        let request = arrivals.pick(self.state.last_order_id());
        self.next_arrival = at + arrivals.gap(self.state.daily_cycle());
        let admission = self.state.admission();
        if admission.crashed || admission.process_down {
            // Answered 503 by the gate: nothing counted, as a dead process counts nothing.
            return;
        }
        match admission.stall {
            Some(stall) => self.push(at + stall, Work::Begin(request)),
            None => self.begin(request, at),
        }
    }

    /// The RED middleware takes the request at `at`: the process's registry, the
    /// concurrency limit, then the entry step.
    fn begin(&mut self, request: ShopRequest, at: Duration) {
        let metrics = self.state.metrics();
        if !self.state.admit_in_flight() {
            let limit = self.state.config().concurrency_limit;
            let flight = InFlight { request, metrics, began: at, stage: walk::Stage::Entry, failure: None };
            self.record(&flight, at, walk::status(&ApiError::Overloaded(limit)));
            return;
        }
        let (flight, plan) = walk::start(&self.state, request, metrics, at);
        self.sleep(flight, at, plan);
    }

    fn handle(&mut self, work: Work, at: Duration) {
        match work {
            Work::Begin(request) => self.begin(request, at),
            Work::Wake(mut flight) => match walk::resume(&self.state, &mut flight) {
                Next::Step(plan) => self.sleep(flight, at, plan),
                Next::Done(status) => self.finish(&flight, at, status),
            },
            Work::TimedOut(flight) => {
                let timeout = self.state.config().request_timeout;
                self.finish(&flight, at, walk::status(&ApiError::Timeout(timeout.as_secs())));
            }
        }
    }

    /// The handler sleeps the planned step, unless the request timeout ends it first.
    fn sleep(&mut self, flight: InFlight, at: Duration, plan: StepPlan) {
        let due = at + plan.delay;
        let deadline = flight.began + self.state.config().request_timeout;
        if due > deadline {
            self.push(deadline, Work::TimedOut(flight));
        } else {
            self.push(due, Work::Wake(flight));
        }
    }

    fn finish(&mut self, flight: &InFlight, at: Duration, status: u16) {
        self.state.release_in_flight();
        self.record(flight, at, status);
    }

    /// What the RED middleware records of an answered request.
    fn record(&self, flight: &InFlight, at: Duration, status: u16) {
        let route = flight.request.route();
        let labels = crate::metrics::RequestLabels {
            service: route.service.as_str(),
            route: route.path,
            method: route.method,
            status,
        };
        self.state.count_served();
        flight.metrics.observe_request_without_exemplar(&labels, (at - flight.began).as_secs_f64());
    }

    fn push(&mut self, at: Duration, work: Work) {
        self.seq += 1;
        self.pending.push(Reverse(Pending { at, seq: self.seq, work }));
    }
}
