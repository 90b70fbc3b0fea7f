//! The shared state of one node: its model, metrics, shop data and clock.
//!
//! `NodeState` is a cheap `Clone` over an `Arc`. The model sits behind a std `Mutex`
//! that is only ever held to compute a decision, never across an `.await`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edge_sim::rng::{self, Stream};
use edge_sim::{Fault, FaultError, FaultKind, FaultSpec, Injected, NodeParams, NodeSim, Signals};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::config::NodeConfig;
use crate::metrics::{BuildInfo, NodeMetrics, SIMULATED_MEMORY_BYTES, fault_labels};
use crate::shop::OrderStore;

/// The node's clock: time since start (tokio's, so tests can pause and advance it)
/// anchored to wall time for the API and the start-time metric.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    started: Instant,
    started_unix: f64,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Self {
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        Self { started: Instant::now(), started_unix }
    }

    /// Time since the node started: the model's "now".
    pub fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Unix time of a model instant.
    pub fn unix(&self, at: Duration) -> f64 {
        self.started_unix + at.as_secs_f64()
    }
}

/// The model and the RNG its request plans draw from, locked together.
#[derive(Debug)]
pub struct Sim {
    /// The node model.
    pub model: NodeSim,
    /// The request-plan stream.
    pub rng: ChaCha8Rng,
}

/// How a fault ended, for the log.
#[derive(Debug, Clone, Copy)]
pub enum EndReason {
    /// Its time was up.
    Expired,
    /// Cleared through `DELETE /inject`.
    Cleared,
    /// A new injection of the same mode and target took its place.
    Replaced,
}

impl EndReason {
    /// The log value.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Expired => "expired",
            EndReason::Cleared => "cleared",
            EndReason::Replaced => "replaced",
        }
    }
}

/// Everything one node owns.
#[derive(Debug)]
pub struct Inner {
    /// Start-up configuration.
    pub config: NodeConfig,
    /// Time since start.
    pub clock: Clock,
    /// Metrics and registry.
    pub metrics: NodeMetrics,
    /// Orders, bounded.
    pub store: Mutex<OrderStore>,
    /// Permits for requests in flight.
    pub in_flight: Semaphore,
    /// False once shutdown began: `/readyz` answers 503.
    pub ready: AtomicBool,
    sim: Mutex<Sim>,
    served: AtomicU64,
    node_seed: u64,
}

/// A handle on one node's state.
#[derive(Debug, Clone)]
pub struct NodeState(Arc<Inner>);

impl std::ops::Deref for NodeState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl NodeState {
    /// A fresh, healthy node.
    pub fn new(config: NodeConfig) -> Self {
        let node_seed = rng::node_seed(config.run_seed, config.node_id);
        let model = NodeSim::new(NodeParams { seed: node_seed, phase: config.phase() });
        let metrics = NodeMetrics::new(&BuildInfo {
            version: env!("CARGO_PKG_VERSION"),
            region: config.region.clone(),
            seed: config.run_seed,
        });
        let clock = Clock::start();
        metrics.start_time.set(clock.unix(Duration::ZERO));
        metrics.concurrency_limit.set(i64::try_from(config.concurrency_limit).unwrap_or(i64::MAX));
        crate::shop::precreate_metrics(&metrics);
        Self(Arc::new(Inner {
            store: Mutex::new(OrderStore::new(config.order_capacity)),
            in_flight: Semaphore::new(config.concurrency_limit),
            ready: AtomicBool::new(true),
            sim: Mutex::new(Sim { model, rng: rng::stream(node_seed, Stream::Requests) }),
            served: AtomicU64::new(0),
            node_seed,
            config,
            clock,
            metrics,
        }))
    }

    /// The node number.
    pub fn id(&self) -> u32 {
        self.config.node_id
    }

    /// The node's own seed, for streams such as the traffic generator's.
    pub fn node_seed(&self) -> u64 {
        self.node_seed
    }

    /// Locks the model. A poisoned lock is recovered: the model holds no invariant a
    /// panic half-way could break that is worth taking the node down for.
    pub fn sim(&self) -> MutexGuard<'_, Sim> {
        self.sim.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one request towards the load the model turns into CPU.
    pub fn count_served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests counted since the last call (for the per-second load).
    pub fn take_served(&self) -> u64 {
        self.served.swap(0, Ordering::Relaxed)
    }

    /// Starts a fault now; logs and counts it.
    pub fn inject(&self, spec: &FaultSpec) -> Result<Injected, FaultError> {
        let now = self.clock.now();
        let injected = {
            let mut sim = self.sim();
            let expired = sim.model.expire(now);
            let Sim { model, rng } = &mut *sim;
            let injected = model.inject(spec, now, rng);
            self.log_ended(&expired, EndReason::Expired);
            injected?
        };
        if let Some(old) = &injected.replaced {
            self.log_ended(std::slice::from_ref(old), EndReason::Replaced);
        }
        let f = &injected.fault;
        self.metrics.fault_injections.get_or_create(&fault_labels(f.kind)).inc();
        tracing::info!(
            target: crate::logging::targets::FAULT,
            node = self.id(),
            event = "fault_started",
            fault_id = f.id,
            failure = f.kind.as_str(),
            intensity = f.intensity,
            service = f.service.map(|s| s.as_str()),
            duration_s = (f.expires_at - f.started_at).as_secs_f64(),
            expected_alert = f.kind.expected_alert(),
            "fault started"
        );
        self.refresh_gauges();
        Ok(injected)
    }

    /// Ends one fault early.
    pub fn clear(&self, id: u64) -> Result<Fault, FaultError> {
        let now = self.clock.now();
        let (expired, cleared) = {
            let mut sim = self.sim();
            (sim.model.expire(now), sim.model.clear(id, now))
        };
        self.log_ended(&expired, EndReason::Expired);
        let cleared = cleared?;
        self.log_ended(std::slice::from_ref(&cleared), EndReason::Cleared);
        self.refresh_gauges();
        Ok(cleared)
    }

    /// Ends every fault early.
    pub fn clear_all(&self) -> Vec<Fault> {
        let now = self.clock.now();
        let (expired, cleared) = {
            let mut sim = self.sim();
            (sim.model.expire(now), sim.model.clear_all(now))
        };
        self.log_ended(&expired, EndReason::Expired);
        self.log_ended(&cleared, EndReason::Cleared);
        self.refresh_gauges();
        cleared
    }

    /// The active faults now.
    pub fn active_faults(&self) -> Vec<Fault> {
        let now = self.clock.now();
        self.sim().model.faults().active(now).cloned().collect()
    }

    /// The names of the active faults, for log lines (`none` when healthy).
    pub fn active_fault_names(&self) -> String {
        let faults = self.active_faults();
        if faults.is_empty() {
            return "none".to_owned();
        }
        faults.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>().join(",")
    }

    /// One second of housekeeping: feed the served load to the model, log faults that
    /// expired, refresh the gauges.
    pub fn tick(&self, elapsed: Duration) {
        let rps = self.take_served() as f64 / elapsed.as_secs_f64().max(1e-3);
        let now = self.clock.now();
        let expired = {
            let mut sim = self.sim();
            sim.model.set_load(rps);
            sim.model.expire(now)
        };
        self.log_ended(&expired, EndReason::Expired);
        self.refresh_gauges();
    }

    /// Sets every gauge from the model at this instant (called per scrape and per tick,
    /// so a scrape never shows a fault that already expired).
    pub fn refresh_gauges(&self) -> Signals {
        let now = self.clock.now();
        let (signals, active) = {
            let mut sim = self.sim();
            let signals = sim.model.signals(now);
            let active: Vec<FaultKind> = sim.model.faults().active(now).map(|f| f.kind).collect();
            (signals, active)
        };
        let m = &self.metrics;
        m.cpu.set(signals.cpu);
        m.memory.set(signals.memory);
        m.memory_used.set((signals.memory * SIMULATED_MEMORY_BYTES as f64) as i64);
        m.uptime.set(now.as_secs_f64());
        for &kind in FaultKind::ALL {
            m.fault_active.get_or_create(&fault_labels(kind)).set(i64::from(active.contains(&kind)));
        }
        m.in_flight.set((self.config.concurrency_limit - self.in_flight.available_permits()) as i64);
        m.orders_stored.set(self.store_len() as i64);
        signals
    }

    fn store_len(&self) -> usize {
        self.store.lock().map_or(0, |s| s.len())
    }

    fn log_ended(&self, faults: &[Fault], reason: EndReason) {
        for f in faults {
            tracing::info!(
                target: crate::logging::targets::FAULT,
                node = self.id(),
                event = "fault_ended",
                fault_id = f.id,
                failure = f.kind.as_str(),
                reason = reason.as_str(),
                "fault ended"
            );
        }
    }
}
