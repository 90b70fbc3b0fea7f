//! One simulated node: its resources, its faults and the host under it, behind one small API.
//!
//! The node owns the order of each simulated second: the signals of the process as it
//! stands, the kernel's OOM killer if they run memory out, then the host's step. A call
//! that changes the faults at `now` first steps the host through the seconds before `now`
//! (they saw the faults as they were), and a read steps it through `now`: the host's second
//! `t` sees what `signals(t)` sees.

use std::time::Duration;

use rand::Rng;

use crate::catalog::{FaultKind, Service};
use crate::fault::{Changed, Ended, Fault, FaultSet, FaultSpec};
use crate::host::{Host, HostSnapshot, Process};
use crate::request::{self, Step, StepPlan};
use crate::resources::{Resources, Signals};

/// What makes one node different from another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeParams {
    /// The node's own seed (see [`crate::rng::node_seed`]).
    pub seed: u64,
    /// Where in its daily cycle the node starts, 0-1.
    pub phase: f64,
}

/// The model of one node. All methods take the time since the node started.
#[derive(Debug, Clone)]
pub struct NodeSim {
    resources: Resources,
    faults: FaultSet,
    host: Host,
}

impl NodeSim {
    /// A healthy node.
    pub fn new(params: NodeParams) -> Self {
        let mut resources = Resources::new(params.seed, params.phase);
        let faults = FaultSet::new();
        let mut host = Host::new(params.seed);
        // The signals at the start draw nothing (no second has passed), so this shifts no
        // stream; it only makes the host's first snapshot show the node's own memory.
        host.show_start(resources.signals(Duration::ZERO, &faults));
        Self { resources, faults, host }
    }

    /// The faults (read-only).
    pub fn faults(&self) -> &FaultSet {
        &self.faults
    }

    /// Starts a fault; see [`FaultSet::inject`].
    pub fn inject(&mut self, spec: &FaultSpec, now: Duration, rng: &mut impl Rng) -> Changed<Fault> {
        self.advance_before(now);
        self.faults.inject(spec, now, rng)
    }

    /// Starts a fault at `start`; see [`FaultSet::inject_from`].
    pub fn inject_from(
        &mut self,
        spec: &FaultSpec,
        start: Duration,
        now: Duration,
        rng: &mut impl Rng,
    ) -> Changed<Fault> {
        self.advance_before(now);
        self.faults.inject_from(spec, start, now, rng)
    }

    /// Ends one fault early; see [`FaultSet::clear`].
    pub fn clear(&mut self, id: u64, now: Duration) -> Changed<()> {
        self.advance_before(now);
        self.faults.clear(id, now)
    }

    /// Ends every fault; see [`FaultSet::clear_all`].
    pub fn clear_all(&mut self, now: Duration) -> Vec<Ended> {
        self.advance_before(now);
        self.faults.clear_all(now)
    }

    /// Ends the faults whose time is up; see [`FaultSet::expire`].
    pub fn expire(&mut self, now: Duration) -> Vec<Ended> {
        self.advance_before(now);
        self.faults.expire(now)
    }

    /// Records the request rate the node really serves.
    pub fn set_load(&mut self, rps: f64) {
        self.resources.set_load(rps);
    }

    /// CPU and memory utilisation at `now`, of the process as it stands (see
    /// [`Self::process`]): memory at the rest level while it is down, leaks counted from its
    /// start. Steps the host up to `now` first.
    pub fn signals(&mut self, now: Duration) -> Signals {
        self.advance(now);
        self.resources.signals_for(now, &self.faults, self.host.process().running_since())
    }

    /// Steps the host through every whole second up to `now`, each with the signals of that
    /// second and the load last set; a no-op unless `now` is past the last second stepped.
    /// A second whose signals run memory out (an `oom_kill` leak reaching 1.0) is the
    /// kernel's OOM kill: the process is down from that second, its memory free again.
    pub fn advance(&mut self, now: Duration) {
        self.step_through(now.as_secs());
    }

    /// Steps the host through the whole seconds before `now`, not `now` itself: a change of
    /// the faults at `now` is one the second `now` sees.
    fn advance_before(&mut self, now: Duration) {
        let last = if now.subsec_nanos() == 0 { now.as_secs().saturating_sub(1) } else { now.as_secs() };
        self.step_through(last);
    }

    fn step_through(&mut self, last: u64) {
        while self.host.now().as_secs() < last {
            let second = self.host.now() + Duration::from_secs(1);
            let process = self.host.process().running_since();
            let mut signals = self.resources.signals_for(second, &self.faults, process);
            if signals.memory >= 1.0 && process.is_some() {
                self.host.oom_kill(second);
                signals = self.resources.signals_for(second, &self.faults, None);
            }
            self.host.step(second, signals, self.resources.load_rps(), &self.faults);
        }
    }

    /// The host as of the last second stepped (see [`Self::advance`]).
    pub fn host(&self) -> &HostSnapshot {
        self.host.snapshot()
    }

    /// The node's process as of the last second stepped: restarts, start, whether it is down.
    pub fn process(&self) -> Process {
        self.host.process()
    }

    /// Whether the data filesystem is full (order writes fail with "no space left on
    /// device"), as of the last second stepped.
    pub fn disk_full(&self) -> bool {
        self.host.disk_full()
    }

    /// The data filesystem's usage, 0-1, as of the last second stepped.
    pub fn disk_used_ratio(&self) -> f64 {
        self.host.disk_used_ratio()
    }

    /// The daily cycle at `now` (0-1); the traffic generator follows it too.
    pub fn daily(&self, now: Duration) -> f64 {
        self.resources.daily(now)
    }

    /// Whether the node is down (`node_crash`).
    pub fn is_crashed(&self, now: Duration) -> bool {
        self.faults.is_active(FaultKind::NodeCrash, now)
    }

    /// Whether nothing answers at `now`: crashed (`node_crash`), or the OOM killer ended
    /// the process and the new one has not started yet (kills seen up to the last second
    /// stepped).
    pub fn is_down(&self, now: Duration) -> bool {
        self.is_crashed(now) || self.host.is_down(now)
    }

    /// Plans a step of a request; see [`request::plan_step`].
    pub fn plan(&mut self, step: Step, entry: bool, now: Duration, rng: &mut impl Rng) -> StepPlan {
        let cpu = self.signals(now).cpu;
        request::plan_step(&self.faults, cpu, step, entry, now, rng)
    }

    /// Plans the entry step of a request to `service`.
    pub fn plan_entry(&mut self, service: Service, now: Duration, rng: &mut impl Rng) -> StepPlan {
        self.plan(Step::Service(service), true, now, rng)
    }

    /// For `flaky_network`: how long the network holds this request, if at all.
    pub fn network_stall(&self, now: Duration, rng: &mut impl Rng) -> Option<Duration> {
        request::network_stall(&self.faults, now, rng)
    }
}
