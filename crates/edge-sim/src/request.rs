//! How long each step of a request takes and whether it fails.
//!
//! A request is one or more steps: the entry service's own work, plus, for an order,
//! a charge through `payments`, which in turn calls the remote payment gateway. Each
//! step is planned here from the faults in force and the node's CPU; the service then
//! really sleeps for `delay` and really answers with the failure's status code.

use std::time::Duration;

use rand::{Rng, RngExt};
use rand_distr::LogNormal;

use crate::catalog::{FaultKind, Service};
use crate::fault::FaultSet;

// A healthy node serves no 5xx at all. A background trickle of errors looks realistic
// but would force every error alert to wait for several errors before it may fire;
// clean rest is what lets `HighErrorRate` fire on the first scrape of a burst.
/// Spread of every latency distribution (log-normal sigma): p95 is 1.93x the median.
const LATENCY_SIGMA: f64 = 0.4;
/// No single step takes longer than this, whatever the multipliers: the request
/// timeout is the backstop, this keeps the tail finite.
const MAX_STEP: Duration = Duration::from_secs(30);

/// The median time of each step when the node is healthy.
pub fn median_latency(step: Step) -> Duration {
    match step {
        Step::Service(Service::Products) => Duration::from_millis(20),
        Step::Service(Service::Orders) => Duration::from_millis(25),
        Step::Service(Service::Payments) => Duration::from_millis(10),
        Step::Gateway => Duration::from_millis(35),
    }
}

/// One unit of work inside a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A service's own processing, on this node's CPU.
    Service(Service),
    /// The remote payment gateway, called by `payments`.
    Gateway,
}

/// Why a step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepFailure {
    /// An injected `error_burst` (answered 500).
    Injected(FaultKind),
    /// The payment gateway failed (answered 502 by payments and by orders).
    Upstream,
}

/// The plan for one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepPlan {
    /// How long the step takes.
    pub delay: Duration,
    /// Whether and why it fails.
    pub failure: Option<StepFailure>,
}

/// How much slower local work gets as the CPU saturates: none below 80 %, 2x at 100 %.
pub fn cpu_slowdown(cpu: f64) -> f64 {
    1.0 + 5.0 * (cpu - 0.8).max(0.0)
}

/// Plans one step at `now`. `entry` is true for the step that received the request
/// (a node-wide error burst applies once per request, there).
pub fn plan_step(
    faults: &FaultSet,
    cpu: f64,
    step: Step,
    entry: bool,
    now: Duration,
    rng: &mut impl Rng,
) -> StepPlan {
    let median = median_latency(step).as_secs_f64();
    // A unit-median log-normal; `new` only fails on a negative or non-finite sigma.
    let spread = LogNormal::new(0.0, LATENCY_SIGMA).map_or(1.0, |d| rng.sample(d));
    let mut factor = spread;
    let mut failure = None;

    // A latency fault slows every step of the requests it covers, the gateway call
    // included (it belongs to payments), so served latency really is `intensity` times
    // longer; CPU saturation only slows the work done on this node.
    let owner = match step {
        Step::Service(service) => service,
        Step::Gateway => Service::Payments,
    };
    factor *= faults
        .active_of(FaultKind::LatencySpike, now)
        .filter(|f| f.targets(owner))
        .map(|f| f.intensity_or_default())
        .fold(1.0, f64::max);

    match step {
        Step::Service(service) => {
            factor *= cpu_slowdown(cpu);
            let burst = faults
                .active_of(FaultKind::ErrorBurst, now)
                .filter(|f| if f.service.is_some() { f.targets(service) } else { entry })
                .map(|f| f.intensity_or_default())
                .fold(0.0, f64::max);
            if burst > 0.0 && rng.random_bool(burst.min(1.0)) {
                failure = Some(StepFailure::Injected(FaultKind::ErrorBurst));
            }
        }
        Step::Gateway => {
            let down = faults
                .active_of(FaultKind::DependencyFailure, now)
                .map(|f| f.intensity_or_default())
                .fold(0.0, f64::max);
            if down > 0.0 && rng.random_bool(down.min(1.0)) {
                failure = Some(StepFailure::Upstream);
            }
        }
    }
    let delay = Duration::from_secs_f64((median * factor).min(MAX_STEP.as_secs_f64()));
    StepPlan { delay, failure }
}

/// For `flaky_network`: how long packet loss holds this request or scrape before the
/// node sees it (a retransmission timeout of 1-3 s), or `None` if it gets through.
pub fn network_stall(faults: &FaultSet, now: Duration, rng: &mut impl Rng) -> Option<Duration> {
    let loss =
        faults.active_of(FaultKind::FlakyNetwork, now).map(|f| f.intensity_or_default()).fold(0.0, f64::max);
    (loss > 0.0 && rng.random_bool(loss.min(1.0)))
        .then(|| Duration::from_secs_f64(rng.random_range(1.0..3.0)))
}
