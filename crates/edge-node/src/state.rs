//! The shared state of one node, and what each part of the service may do with it.
//!
//! `NodeState` is a cheap `Clone` over an `Arc`; its fields are private, and its methods
//! are grouped by who calls them: the request path (gate, RED middleware, shop), the
//! control endpoints, the traffic generator, the metrics endpoint and ticker, and the
//! server's lifecycle. Read-only parts (configuration, clock, metrics, which are atomics
//! registered once) are handed out by reference.
//!
//! # Locks
//!
//! Two std `Mutex`es: the model (with its request-plan RNG) and the order store. Each is
//! held only to compute a decision, never across an `.await`, never together, and never
//! while logging: a critical section computes, the lock is released, then the caller
//! logs. A stalled log writer therefore can never hold up another request's lock. A std
//! `RwLock` holds the current process's metrics ([`AppMetrics`]): read (an `Arc` clone)
//! per request and scrape, written only when the process restarts, never while the model
//! is locked.
//!
//! One policy for a poisoned lock: recover the guard ([`PoisonError::into_inner`]) and
//! carry on. That is sound because every critical section is one call into the model or
//! the store made of safe std-collection updates: a panic half-way leaves the data
//! memory-safe and at worst one operation short (a fault not started, an order not
//! stored, an evicted id already gone), and every later operation tolerates that. The
//! alternatives are worse: answering 500 forever, or reading a poisoned value as 0,
//! would turn one bug into a dead or lying node.
//!
//! The host under the node and the node's process are read in [`host`].

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edge_sim::api::Member;
use edge_sim::request::Step;
use edge_sim::rng::{self, Stream};
use edge_sim::{
    EndReason, Ended, Fault, FaultError, FaultKind, FaultSpec, NodeParams, NodeSim, Signals, StepPlan,
};
use rand_chacha::ChaCha8Rng;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::app_metrics::{AppMetrics, AppSetup, ProcessStart};
use crate::config::NodeConfig;
use crate::metrics::{BuildInfo, SIMULATED_MEMORY_BYTES, SampledCounter, fault_labels};
use crate::orders::{Order, OrderStore};
use crate::traces::NodeTracer;

mod host;

use host::step_host;

/// The node's clock: time since start anchored to wall time for the API and the start-time
/// metric. Live it is tokio's (so tests can pause and advance it); in virtual time
/// ([`crate::virtual_fleet`]) it is a manual one the driver sets, so the same state code runs
/// a simulated day without a runtime.
#[derive(Debug, Clone)]
pub struct Clock {
    source: ClockSource,
    started_unix: f64,
}

/// Where a [`Clock`] reads "now" from.
#[derive(Debug, Clone)]
enum ClockSource {
    /// Tokio's clock, from this instant.
    Tokio(Instant),
    /// Nanoseconds since start, set by [`Clock::set`] (shared by the clock's clones).
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Self {
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        Self { source: ClockSource::Tokio(Instant::now()), started_unix }
    }

    /// A clock at 0 that moves only when [`Self::set`] moves it, started at Unix time
    /// `started_unix`.
    pub fn manual(started_unix: f64) -> Self {
        Self { source: ClockSource::Manual(Arc::new(AtomicU64::new(0))), started_unix }
    }

    /// Moves a manual clock to `at` since start (never backwards; a live clock ignores it).
    pub fn set(&self, at: Duration) {
        if let ClockSource::Manual(nanos) = &self.source {
            nanos.fetch_max(u64::try_from(at.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }

    /// Time since the node started: the model's "now".
    pub fn now(&self) -> Duration {
        match &self.source {
            ClockSource::Tokio(started) => started.elapsed(),
            ClockSource::Manual(nanos) => Duration::from_nanos(nanos.load(Ordering::Relaxed)),
        }
    }

    /// Unix time of a model instant.
    pub fn unix(&self, at: Duration) -> f64 {
        self.started_unix + at.as_secs_f64()
    }
}

/// The model and the RNG its request plans draw from, locked together, with the drill
/// seals of the faults that are hidden.
#[derive(Debug)]
struct Sim {
    model: NodeSim,
    rng: ChaCha8Rng,
    seals: Seals,
}

impl Sim {
    /// The faults in force at `now` that are not sealed: everything a reader may see.
    fn visible(&self, now: Duration) -> impl Iterator<Item = &Fault> {
        self.model.faults().active(now).filter(|f| !self.seals.is_sealed(f.id))
    }
}

/// How many sealed faults a node remembers (active and ended): a drill uses a handful;
/// the bound keeps a loop of sealed injections from growing the node.
const MAX_SEALS: usize = 64;

/// One sealed fault: the key that may see it, the fault as started, and its end.
#[derive(Debug, Clone)]
pub struct SealRecord {
    /// The drill's key.
    pub key: String,
    /// The fault as it was started.
    pub fault: Fault,
    /// When and why it ended (model time), once it has.
    pub ended: Option<(Duration, EndReason)>,
}

/// The sealed faults of a node, newest last, bounded by [`MAX_SEALS`].
#[derive(Debug, Default)]
struct Seals(Vec<SealRecord>);

impl Seals {
    fn is_sealed(&self, id: u64) -> bool {
        self.0.iter().any(|r| r.fault.id == id)
    }

    fn key_of(&self, id: u64) -> Option<&str> {
        self.0.iter().find(|r| r.fault.id == id).map(|r| r.key.as_str())
    }

    fn add(&mut self, key: &str, fault: &Fault) {
        if self.0.len() >= MAX_SEALS {
            // Forget the oldest ended record first; an active one only if all are active.
            let i = self.0.iter().position(|r| r.ended.is_some()).unwrap_or(0);
            self.0.remove(i);
        }
        self.0.push(SealRecord { key: key.to_owned(), fault: fault.clone(), ended: None });
    }

    /// Records, at model time `now`, the end of the sealed faults among `ended` (what a
    /// change to the model ended); returns the others, to log once the lock is released.
    fn record_ends(&mut self, ended: Vec<Ended>, now: Duration) -> Vec<Ended> {
        ended
            .into_iter()
            .filter(|e| match self.0.iter_mut().find(|r| r.fault.id == e.fault.id) {
                Some(record) => {
                    record.ended.get_or_insert((now, e.reason));
                    false
                }
                None => true,
            })
            .collect()
    }

    fn any_active(&self, model: &NodeSim, now: Duration) -> bool {
        model.faults().active(now).any(|f| self.is_sealed(f.id))
    }
}

/// An accepted injection, as the control endpoint answers it.
#[derive(Debug, Clone)]
pub struct Injected {
    /// The new fault.
    pub fault: Fault,
    /// The fault of the same mode and target it replaced, if one was in force and is not
    /// sealed (a sealed fault is never named).
    pub replaced: Option<Fault>,
}

/// What the gate lets through: see [`NodeState::admission`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The node is down (`node_crash`): answer 503.
    pub crashed: bool,
    /// The node's process is gone (OOM-killed, not yet restarted): answer 503.
    pub process_down: bool,
    /// The network holds the request this long first (`flaky_network`).
    pub stall: Option<Duration>,
}

/// Everything one node owns.
#[derive(Debug)]
struct Inner {
    config: NodeConfig,
    tracer: Option<NodeTracer>,
    clock: Clock,
    /// The current process's metrics (replaced when the process restarts).
    metrics: RwLock<Arc<AppMetrics>>,
    /// What every registry is built from.
    app: AppSetup,
    /// Whether the current process's death was logged (once per kill).
    kill_logged: AtomicBool,
    /// The restart count of the process `metrics` belongs to (a lock-free check).
    restarts_seen: AtomicU32,
    store: Mutex<OrderStore>,
    in_flight: Semaphore,
    /// False once shutdown began: `/readyz` answers 503.
    ready: AtomicBool,
    sim: Mutex<Sim>,
    served: AtomicU64,
    node_seed: u64,
    /// The nodes of this process (set once by the server; unset: this node alone).
    fleet: OnceLock<Arc<[Member]>>,
}

/// A handle on one node's state.
#[derive(Debug, Clone)]
pub struct NodeState(Arc<Inner>);

/// Locks `mutex`, recovering it if poisoned (the module doc says why that is sound).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---- construction and read-only parts ---------------------------------------------

impl NodeState {
    /// A fresh, healthy node, with traces off.
    pub fn new(config: NodeConfig) -> Self {
        Self::with_tracer(config, None)
    }

    /// A fresh, healthy node whose shop requests are traced by `tracer` (`None`: traces
    /// off at no cost, as [`Self::new`]).
    pub fn with_tracer(config: NodeConfig, tracer: Option<NodeTracer>) -> Self {
        Self::with_clock(config, tracer, Clock::start())
    }

    /// A fresh, healthy node on `clock` (a manual one runs it in virtual time).
    pub(crate) fn with_clock(config: NodeConfig, tracer: Option<NodeTracer>, clock: Clock) -> Self {
        let node_seed = rng::node_seed(config.run_seed, config.node_id);
        let mut model = NodeSim::new(NodeParams { seed: node_seed, phase: config.phase() });
        let app = AppSetup {
            build: BuildInfo {
                version: env!("CARGO_PKG_VERSION"),
                seed: config.run_seed,
                log_drops: config.log_drops.clone(),
                traces: tracer.as_ref().map(|t| t.exporter().clone()),
                oom_kills: SampledCounter::default(),
            },
            shapes: config.shapes,
            // The resource the node's spans carry (built only when the shape is on: it
            // reads the OTEL_* variables).
            target: if config.shapes.otel {
                crate::shapes::otel::target_labels(&crate::traces::node_resource(
                    config.node_id,
                    &config.region,
                ))
            } else {
                Vec::new()
            },
            concurrency_limit: config.concurrency_limit,
        };
        let host = step_host(&mut model, Duration::ZERO);
        let metrics = AppMetrics::new(
            &app,
            ProcessStart {
                restarts: host.process.restarts,
                started_unix: clock.unix(host.process.started_at),
                cpu_baseline: host.busy_cpu_seconds,
            },
        );
        Self(Arc::new(Inner {
            store: Mutex::new(OrderStore::new(config.order_capacity)),
            in_flight: Semaphore::new(config.concurrency_limit),
            ready: AtomicBool::new(true),
            sim: Mutex::new(Sim {
                model,
                rng: rng::stream(node_seed, Stream::Requests),
                seals: Seals::default(),
            }),
            served: AtomicU64::new(0),
            node_seed,
            fleet: OnceLock::new(),
            config,
            tracer,
            clock,
            metrics: RwLock::new(Arc::new(metrics)),
            app,
            kill_logged: AtomicBool::new(false),
            restarts_seen: AtomicU32::new(host.process.restarts),
        }))
    }

    /// The node number.
    pub fn id(&self) -> u32 {
        self.0.config.node_id
    }

    /// The start-up configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.0.config
    }

    /// The node's tracer, if traces are on.
    pub fn tracer(&self) -> Option<&NodeTracer> {
        self.0.tracer.as_ref()
    }

    /// The node's clock.
    pub fn clock(&self) -> Clock {
        self.0.clock.clone()
    }

    /// The current process's metrics (atomics: recording needs no lock). A request keeps
    /// the `Arc` it took on arrival, so it records into its own process's registry.
    pub fn metrics(&self) -> Arc<AppMetrics> {
        self.0.metrics.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The node's own seed, for streams such as the traffic generator's.
    pub fn node_seed(&self) -> u64 {
        self.0.node_seed
    }

    /// This node as a fleet member.
    pub fn member(&self) -> Member {
        Member { node: self.id(), region: self.0.config.region.clone() }
    }

    /// Records the nodes this process runs (once; later calls change nothing).
    pub fn join_fleet(&self, members: Arc<[Member]>) {
        let _ = self.0.fleet.set(members);
    }

    /// The nodes this process runs, for `GET /fleet` (this node alone unless told).
    pub fn fleet(&self) -> Vec<Member> {
        self.0.fleet.get().map_or_else(|| vec![self.member()], |m| m.to_vec())
    }

    fn sim(&self) -> MutexGuard<'_, Sim> {
        lock(&self.0.sim)
    }

    fn store(&self) -> MutexGuard<'_, OrderStore> {
        lock(&self.0.store)
    }
}

// ---- the request path: gate, RED middleware, shop ----------------------------------

impl NodeState {
    /// Whether the node serves a request arriving now, and after what network stall.
    pub fn admission(&self) -> Admission {
        let now = self.0.clock.now();
        let (admission, host) = {
            let mut sim = self.sim();
            let Sim { model, rng, .. } = &mut *sim;
            let host = step_host(model, now);
            let admission = Admission {
                crashed: model.is_crashed(now),
                // The model's `is_down` covers a crash too; this is the OOM kill's gap alone.
                process_down: !model.is_crashed(now) && model.is_down(now),
                stall: model.network_stall(now, rng),
            };
            (admission, host)
        };
        self.follow_process(&host);
        if admission.stall.is_some() {
            self.metrics().edge().network_timeouts.inc();
        }
        admission
    }

    /// A permit for one request in flight, or `None` when the node is at its
    /// concurrency limit and must shed the request.
    pub fn try_admit(&self) -> Option<SemaphorePermit<'_>> {
        self.0.in_flight.try_acquire().ok()
    }

    /// [`Self::try_admit`] for a request that stays in flight across virtual time (no guard
    /// can be held there): true if admitted; [`Self::release_in_flight`] ends it.
    pub(crate) fn admit_in_flight(&self) -> bool {
        self.0.in_flight.try_acquire().map(SemaphorePermit::forget).is_ok()
    }

    /// Ends a request admitted by [`Self::admit_in_flight`].
    pub(crate) fn release_in_flight(&self) {
        self.0.in_flight.add_permits(1);
    }

    /// Counts one request towards the load the model turns into CPU.
    pub fn count_served(&self) {
        self.0.served.fetch_add(1, Ordering::Relaxed);
    }

    /// Plans one step of a request now; see [`NodeSim::plan`].
    pub fn plan(&self, step: Step, entry: bool) -> StepPlan {
        let now = self.0.clock.now();
        let mut sim = self.sim();
        let Sim { model, rng, .. } = &mut *sim;
        model.plan(step, entry, now, rng)
    }

    /// A fresh payment id.
    pub fn next_payment_id(&self) -> u64 {
        self.store().payment_id()
    }

    /// Stores a paid order (evicting the oldest beyond capacity) and returns it.
    pub fn store_order(&self, product_id: u32, quantity: u32, total_cents: u64, payment_id: u64) -> Order {
        self.store().insert(product_id, quantity, total_cents, payment_id)
    }

    /// An order, if still held.
    pub fn order(&self, id: u64) -> Option<Order> {
        self.store().get(id).cloned()
    }

    /// Orders held now.
    pub fn orders_stored(&self) -> usize {
        self.store().len()
    }

    /// The names of the active faults, for log lines (`none` when healthy). Read under
    /// the lock without copying the faults: every request logs it.
    pub fn active_fault_names(&self) -> Cow<'static, str> {
        let now = self.0.clock.now();
        let sim = self.sim();
        // Sealed drill faults are left out: the access log must not name them.
        let mut active = sim.visible(now).map(|f| f.kind.as_str());
        match (active.next(), active.next()) {
            (None, _) => Cow::Borrowed("none"),
            (Some(one), None) => Cow::Borrowed(one),
            (Some(first), Some(second)) => {
                let mut names = format!("{first},{second}");
                for name in active {
                    names.push(',');
                    names.push_str(name);
                }
                Cow::Owned(names)
            }
        }
    }
}

// ---- the control endpoints ---------------------------------------------------------

impl NodeState {
    /// Starts a fault now; logs and counts it.
    pub fn inject(&self, spec: &FaultSpec) -> Result<Injected, FaultError> {
        self.inject_sealed(spec, None)
    }

    /// Starts a fault now, sealed under `seal` if given: a sealed fault is applied like
    /// any other but not logged, counted, listed or shown in the gauges, and a fault it
    /// replaces is not named. Otherwise as [`Self::inject`].
    pub fn inject_sealed(&self, spec: &FaultSpec, seal: Option<&str>) -> Result<Injected, FaultError> {
        self.inject_sealed_in(spec, seal, Duration::ZERO)
    }

    /// As [`Self::inject_sealed`], the fault starting `delay` from now (held inactive
    /// until then).
    pub fn inject_sealed_in(
        &self,
        spec: &FaultSpec,
        seal: Option<&str>,
        delay: Duration,
    ) -> Result<Injected, FaultError> {
        let now = self.0.clock.now();
        let (started, ended) = {
            let mut sim = self.sim();
            let Sim { model, rng, seals } = &mut *sim;
            let change = model.inject_from(spec, now + delay, now, rng);
            let ended = seals.record_ends(change.ended, now);
            if let (Ok(fault), Some(key)) = (&change.result, seal) {
                seals.add(key, fault);
            }
            (change.result, ended)
        };
        self.log_ended(&ended);
        let fault = started?;
        let replaced = ended.into_iter().find(|e| e.reason == EndReason::Replaced).map(|e| e.fault);
        let injected = Injected { fault, replaced };
        if seal.is_some() {
            self.refresh_gauges();
            return Ok(injected);
        }
        let f = &injected.fault;
        self.metrics().edge().fault_injections.get_or_create(&fault_labels(f.kind)).inc();
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

    /// Ends one fault early. A sealed fault is ended only when `seal` is its key;
    /// otherwise it is as unknown as any id that does not exist. Returns the fault if it
    /// is not sealed (a sealed one is ended but not shown).
    pub fn clear(&self, id: u64, seal: Option<&str>) -> Result<Option<Fault>, FaultError> {
        let now = self.0.clock.now();
        let (cleared, ended) = {
            let mut sim = self.sim();
            let (cleared, ended) = match sim.seals.key_of(id) {
                Some(key) if Some(key) != seal => (Err(FaultError::UnknownFault(id)), sim.model.expire(now)),
                _ => {
                    let change = sim.model.clear(id, now);
                    (change.result, change.ended)
                }
            };
            (cleared, sim.seals.record_ends(ended, now))
        };
        self.log_ended(&ended);
        cleared?;
        self.refresh_gauges();
        Ok(ended.into_iter().find(|e| e.reason == EndReason::Cleared).map(|e| e.fault))
    }

    /// Ends every fault early, sealed ones too (clearing a node is a learner's
    /// mitigation); returns the ones that are not sealed.
    pub fn clear_all(&self) -> Vec<Fault> {
        let now = self.0.clock.now();
        let ended = {
            let mut sim = self.sim();
            let ended = sim.model.clear_all(now);
            sim.seals.record_ends(ended, now)
        };
        self.log_ended(&ended);
        self.refresh_gauges();
        ended.into_iter().filter(|e| e.reason == EndReason::Cleared).map(|e| e.fault).collect()
    }

    /// The active faults now that are not sealed: everything a reader may see.
    pub fn active_faults(&self) -> Vec<Fault> {
        let now = self.0.clock.now();
        self.sim().visible(now).cloned().collect()
    }

    /// The modes of [`Self::active_faults`], oldest first: what a span may name.
    pub fn visible_fault_kinds(&self) -> Vec<FaultKind> {
        let now = self.0.clock.now();
        self.sim().visible(now).map(|f| f.kind).collect()
    }

    /// Every active fault, sealed or not: what the node really applies.
    pub fn applied_faults(&self) -> Vec<Fault> {
        let now = self.0.clock.now();
        self.sim().model.faults().active(now).cloned().collect()
    }

    /// Whether a sealed fault is active now: failures are then answered as plain
    /// internal errors, not as injected ones.
    pub fn sealed_active(&self) -> bool {
        let now = self.0.clock.now();
        let sim = self.sim();
        sim.seals.any_active(&sim.model, now)
    }

    /// The sealed faults with this key that the node remembers (active and ended), oldest
    /// first.
    pub fn sealed(&self, key: &str) -> Vec<SealRecord> {
        let now = self.0.clock.now();
        let (records, ended) = {
            let mut sim = self.sim();
            // Expiry is noticed lazily (per tick or call); catch up so `ended` is current.
            let ended = sim.model.expire(now);
            let ended = sim.seals.record_ends(ended, now);
            (sim.seals.0.iter().filter(|r| r.key == key).cloned().collect(), ended)
        };
        self.log_ended(&ended);
        records
    }

    /// Logs the end of each fault in `ended` (none of them sealed).
    fn log_ended(&self, ended: &[Ended]) {
        for Ended { fault: f, reason } in ended {
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

// ---- the traffic generator ---------------------------------------------------------

impl NodeState {
    /// The daily cycle now (0 at night, 1 at the peak); traffic follows it.
    pub fn daily_cycle(&self) -> f64 {
        let now = self.0.clock.now();
        self.sim().model.daily(now)
    }

    /// The id of the newest order (0 before the first), so traffic can look orders up.
    pub fn last_order_id(&self) -> u64 {
        self.store().last_id()
    }
}

// ---- metrics and the ticker -----------------------------------------------------

impl NodeState {
    /// One second of housekeeping: feed the served load to the model, step the host (so
    /// it moves even when nobody scrapes), log faults that expired, refresh the gauges.
    pub fn tick(&self, elapsed: Duration) {
        let served = self.0.served.swap(0, Ordering::Relaxed);
        let rps = served as f64 / elapsed.as_secs_f64().max(1e-3);
        let now = self.0.clock.now();
        let ended = {
            let mut sim = self.sim();
            sim.model.set_load(rps);
            sim.model.advance(now);
            let ended = sim.model.expire(now);
            sim.seals.record_ends(ended, now)
        };
        self.log_ended(&ended);
        self.refresh_gauges();
    }

    /// Sets every gauge from the model at this instant (called per scrape and per tick,
    /// so a scrape never shows a fault that already expired).
    pub fn refresh_gauges(&self) -> Signals {
        let now = self.0.clock.now();
        let (signals, active, host) = {
            let mut sim = self.sim();
            let host = step_host(&mut sim.model, now);
            let signals = sim.model.signals(now);
            let active: Vec<FaultKind> = sim.visible(now).map(|f| f.kind).collect();
            (signals, active, host)
        };
        let orders = self.orders_stored();
        self.follow_process(&host);
        let app = self.metrics();
        let m = app.edge();
        let start = app.start();
        let used_bytes = signals.memory * SIMULATED_MEMORY_BYTES as f64;
        self.0.app.build.oom_kills.set(host.oom_kills as f64);
        if let Some(process) = app.process() {
            process.set(used_bytes as u64, host.busy_cpu_seconds - start.cpu_baseline);
        }
        m.cpu.set(signals.cpu);
        m.memory.set(signals.memory);
        m.memory_used.set(used_bytes as i64);
        m.disk_used.set(host.disk_used_ratio);
        m.uptime.set((now.saturating_sub(host.process.started_at)).as_secs_f64());
        for &kind in FaultKind::ALL {
            m.fault_active.get_or_create(&fault_labels(kind)).set(i64::from(active.contains(&kind)));
        }
        let in_flight = self.0.config.concurrency_limit - self.0.in_flight.available_permits();
        m.in_flight.set(i64::try_from(in_flight).unwrap_or(i64::MAX));
        m.orders_stored.set(i64::try_from(orders).unwrap_or(i64::MAX));
        signals
    }
}

// ---- lifecycle ---------------------------------------------------------------------

impl NodeState {
    /// Whether `/readyz` says ready (true until shutdown begins).
    pub fn is_ready(&self) -> bool {
        self.0.ready.load(Ordering::Relaxed)
    }

    /// Shutdown began: `/readyz` answers 503 from now on, while the node still serves.
    pub fn begin_drain(&self) {
        self.0.ready.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_recovered_and_the_node_keeps_working() {
        let state = NodeState::new(NodeConfig { rps: 0.0, ..NodeConfig::new(1, 1) });
        for poison in [
            (|s: &NodeState| {
                let _guard = s.sim();
                panic!("poison the model");
            }) as fn(&NodeState),
            |s: &NodeState| {
                let _guard = s.store();
                panic!("poison the store");
            },
        ] {
            let s = state.clone();
            assert!(std::thread::spawn(move || poison(&s)).join().is_err());
        }
        assert!(state.0.sim.is_poisoned() && state.0.store.is_poisoned());

        // Every part still works on the recovered data, and reads tell the truth.
        let spec = FaultSpec { kind: FaultKind::CpuSpike, duration_s: 30.0, intensity: None, service: None };
        assert!(state.inject(&spec).is_ok());
        assert_eq!(state.active_faults().len(), 1);
        let order = state.store_order(1, 1, 100, state.next_payment_id());
        assert_eq!(state.order(order.id).map(|o| o.id), Some(order.id));
        assert_eq!(state.orders_stored(), 1);
        state.refresh_gauges();
        assert_eq!(state.metrics().edge().orders_stored.get(), 1, "not read as 0");
        assert!(!state.admission().crashed);
    }

    /// A log writer that notes whether either lock of `state` is held while it writes.
    #[derive(Clone)]
    struct LockProbe {
        state: NodeState,
        lines: Arc<AtomicU64>,
        under_lock: Arc<AtomicU64>,
    }

    impl std::io::Write for LockProbe {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            // `try_lock` on this thread also fails if this thread holds the lock.
            if self.state.0.sim.try_lock().is_err() || self.state.0.store.try_lock().is_err() {
                self.under_lock.fetch_add(1, Ordering::Relaxed);
            }
            self.lines.fetch_add(1, Ordering::Relaxed);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn no_line_is_logged_while_a_lock_is_held() {
        let state = NodeState::new(NodeConfig { rps: 0.0, ..NodeConfig::new(1, 1) });
        let probe = LockProbe { state: state.clone(), lines: Arc::default(), under_lock: Arc::default() };
        let writer = probe.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::INFO)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let spec = |kind, duration_s| FaultSpec { kind, duration_s, intensity: None, service: None };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build();
        rt.expect("runtime").block_on(async {
            let second = Duration::from_secs(1);
            state.inject(&spec(FaultKind::ErrorBurst, 1.0)).expect("started");
            tokio::time::advance(2 * second).await;
            // Logs the expiry found on the way in, the start, then the replacement.
            state.inject(&spec(FaultKind::CpuSpike, 30.0)).expect("started");
            let again = state.inject(&spec(FaultKind::CpuSpike, 30.0)).expect("replaced");
            state.clear(again.fault.id, None).expect("cleared");
            state.inject(&spec(FaultKind::NodeCrash, 1.0)).expect("started");
            tokio::time::advance(2 * second).await;
            state.tick(second);
            state.inject(&spec(FaultKind::MemoryLeak, 30.0)).expect("started");
            state.clear_all();
        });
        assert!(probe.lines.load(Ordering::Relaxed) >= 10, "every start and end is logged");
        assert_eq!(probe.under_lock.load(Ordering::Relaxed), 0, "lines written under a lock");
    }
}
