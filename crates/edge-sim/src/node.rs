//! One simulated node: its resources and its faults, behind one small API.

use std::time::Duration;

use rand::Rng;

use crate::catalog::{FaultKind, Service};
use crate::fault::{Changed, Ended, Fault, FaultSet, FaultSpec};
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
}

impl NodeSim {
    /// A healthy node.
    pub fn new(params: NodeParams) -> Self {
        Self { resources: Resources::new(params.seed, params.phase), faults: FaultSet::new() }
    }

    /// The faults (read-only).
    pub fn faults(&self) -> &FaultSet {
        &self.faults
    }

    /// Starts a fault; see [`FaultSet::inject`].
    pub fn inject(&mut self, spec: &FaultSpec, now: Duration, rng: &mut impl Rng) -> Changed<Fault> {
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
        self.faults.inject_from(spec, start, now, rng)
    }

    /// Ends one fault early; see [`FaultSet::clear`].
    pub fn clear(&mut self, id: u64, now: Duration) -> Changed<()> {
        self.faults.clear(id, now)
    }

    /// Ends every fault; see [`FaultSet::clear_all`].
    pub fn clear_all(&mut self, now: Duration) -> Vec<Ended> {
        self.faults.clear_all(now)
    }

    /// Ends the faults whose time is up; see [`FaultSet::expire`].
    pub fn expire(&mut self, now: Duration) -> Vec<Ended> {
        self.faults.expire(now)
    }

    /// Records the request rate the node really serves.
    pub fn set_load(&mut self, rps: f64) {
        self.resources.set_load(rps);
    }

    /// CPU and memory utilisation at `now`.
    pub fn signals(&mut self, now: Duration) -> Signals {
        self.resources.signals(now, &self.faults)
    }

    /// The daily cycle at `now` (0-1); the traffic generator follows it too.
    pub fn daily(&self, now: Duration) -> f64 {
        self.resources.daily(now)
    }

    /// Whether the node is down (`node_crash`).
    pub fn is_crashed(&self, now: Duration) -> bool {
        self.faults.is_active(FaultKind::NodeCrash, now)
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
