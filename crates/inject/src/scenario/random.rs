//! The seeded random schedule of `inject random`: the same seed, plan and nodes give the same
//! game day.

use edge_sim::FaultKind;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::timeline::{Scenario, Step};

/// What a random schedule draws from (`inject random`'s options, as plain data).
#[derive(Debug, Clone, PartialEq)]
pub struct RandomPlan {
    /// How long the schedule runs, seconds.
    pub length: f64,
    /// Faults active at once, at most.
    pub concurrent: u32,
    /// Shortest fault, seconds.
    pub min_hold: f64,
    /// Longest fault, seconds.
    pub max_hold: f64,
    /// Modes to draw from (empty: all).
    pub modes: Vec<FaultKind>,
}

impl Scenario {
    /// A seeded random schedule: at most `concurrent` faults at once, holds between
    /// `min_hold` and `max_hold`, for `length` seconds.
    pub fn random(args: &RandomPlan, nodes: &[u32], seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let modes = if args.modes.is_empty() { FaultKind::ALL.to_vec() } else { args.modes.clone() };
        let (lo, hi) = (args.min_hold.min(args.max_hold), args.min_hold.max(args.max_hold));
        let mut ends: Vec<f64> = Vec::new();
        let mut steps = Vec::new();
        let mut t = 0.0_f64;
        while t < args.length {
            ends.retain(|&e| e > t);
            if ends.len() >= args.concurrent as usize {
                t = ends.iter().copied().fold(f64::INFINITY, f64::min);
                continue;
            }
            let hold = rng.random_range(lo..=hi).round().min(args.length - t).max(1.0);
            let node = nodes[rng.random_range(0..nodes.len())];
            let failure = modes[rng.random_range(0..modes.len())];
            steps.push(Step {
                at: t.round(),
                node: node.to_string(),
                failure,
                duration: hold,
                intensity: None,
                service: None,
            });
            ends.push(t + hold);
            t += rng.random_range(0.0..=hi / 2.0).round().max(1.0);
        }
        Scenario { name: format!("random schedule, seed {seed}"), description: String::new(), steps }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_args() -> RandomPlan {
        RandomPlan { length: 300.0, concurrent: 2, min_hold: 10.0, max_hold: 40.0, modes: vec![] }
    }

    #[test]
    fn a_random_schedule_replays_from_its_seed_and_respects_its_bounds() {
        let args = random_args();
        let nodes: Vec<u32> = (1..=12).collect();
        let a = Scenario::random(&args, &nodes, 7);
        assert_eq!(a, Scenario::random(&args, &nodes, 7));
        assert_ne!(a.steps, Scenario::random(&args, &nodes, 8).steps);
        assert!(a.steps.len() >= 5);
        for (i, s) in a.steps.iter().enumerate() {
            assert!(s.at < args.length && s.duration <= args.max_hold, "{s:?}");
            // Only a step cut off at the end of the run may be shorter than --min-hold.
            assert!(
                s.duration >= args.min_hold || s.at + s.duration == args.length,
                "under --min-hold: {s:?}"
            );
            assert!(nodes.contains(&s.node.parse::<u32>().expect("one node")), "outside the pool: {s:?}");
            let overlapping = a.steps.iter().filter(|o| o.at <= s.at && s.at < o.at + o.duration).count();
            assert!(overlapping <= 2, "step {i} starts with {overlapping} faults active");
        }
    }
}
