//! The seeded draw: which drill of a level (or the one named), then for each of its faults a
//! node of the pool that keeps its [`NodeRule`], its start and its duration, all from one
//! seed, so the same seed, catalogue and pool give the same drill.

use edge_sim::{FaultKind, Service};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::definition::{Drill, Level, NodeRule, Role};
use super::error::CatalogError;
use super::load::Catalog;

/// A fault as drawn: on which node, when and for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Planned {
    /// The node.
    pub node: u32,
    /// The failure mode.
    pub failure: FaultKind,
    /// Its strength, if the drill sets one.
    pub intensity: Option<f64>,
    /// Its target service, if any.
    pub service: Option<Service>,
    /// Seconds from `drill start` to its start.
    pub start_in_s: u32,
    /// Seconds it lasts.
    pub duration_s: u32,
    /// Cause or red herring.
    pub role: Role,
    /// Modes that earn partial credit.
    pub near: Vec<FaultKind>,
}

/// The outcome of a draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Draw<'a> {
    /// The drill.
    pub drill: &'a Drill,
    /// Its faults, placed.
    pub faults: Vec<Planned>,
}

/// Draws a drill of `level` (or the one named) and places its faults on `pool`, all from
/// `seed`: the same seed, catalogue and pool give the same drill.
pub fn draw<'a>(
    catalog: &'a Catalog,
    level: Level,
    only: Option<&str>,
    pool: &[u32],
    seed: u64,
) -> Result<Draw<'a>, CatalogError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let drill = match only {
        Some(name) => catalog.named(name)?,
        None => {
            let drills = catalog.at(level);
            if drills.is_empty() {
                return Err(CatalogError::NoneAtLevel { level });
            }
            drills[rng.random_range(0..drills.len())]
        }
    };
    let delay = rng.random_range(drill.start_delay_s.0..=drill.start_delay_s.1);
    let mut faults: Vec<Planned> = Vec::new();
    for (i, f) in drill.faults.iter().enumerate() {
        let region = edge_sim::fleet::default_region;
        let first = faults.first().map(|p| region(p.node));
        let candidates: Vec<u32> = pool
            .iter()
            .copied()
            .filter(|n| !faults.iter().any(|p| p.node == *n))
            .filter(|&n| match &f.node {
                NodeRule::Any => true,
                NodeRule::Region(r) => region(n) == r,
                NodeRule::SameRegion => Some(region(n)) == first,
                NodeRule::OtherRegion => Some(region(n)) != first,
            })
            .collect();
        if candidates.is_empty() {
            return Err(CatalogError::PoolTooSmall {
                drill: drill.name.clone(),
                fault: i + 1,
                rule: f.node.clone(),
            });
        }
        let node = candidates[rng.random_range(0..candidates.len())];
        faults.push(Planned {
            node,
            failure: f.failure,
            intensity: f.intensity,
            service: f.service,
            start_in_s: delay + f.offset_s,
            duration_s: rng.random_range(f.duration_s.0..=f.duration_s.1),
            role: f.role,
            near: f.near.clone(),
        });
    }
    Ok(Draw { drill, faults })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::load::repository as catalog;
    use super::*;

    #[test]
    fn a_seed_draws_the_same_drill_every_time_and_seeds_differ() {
        let c = catalog();
        let pool: Vec<u32> = (1..=12).collect();
        for level in [Level::Easy, Level::Medium, Level::Hard] {
            let a = draw(&c, level, None, &pool, 7).expect("draw");
            let b = draw(&c, level, None, &pool, 7).expect("draw");
            assert_eq!(a, b);
            assert!(a.faults.iter().all(|f| pool.contains(&f.node)));
            let nodes: BTreeSet<u32> = a.faults.iter().map(|f| f.node).collect();
            assert_eq!(nodes.len(), a.faults.len(), "one fault per node");
        }
        let draws: BTreeSet<(String, Vec<u32>)> = (0..20)
            .map(|s| {
                let d = draw(&c, Level::Easy, None, &pool, s).expect("draw");
                (d.drill.name.clone(), d.faults.iter().map(|f| f.node).collect())
            })
            .collect();
        assert!(draws.len() > 5, "seeds should vary the drill: {draws:?}");
    }

    #[test]
    fn node_rules_are_kept() {
        let c = catalog();
        let pool: Vec<u32> = (1..=12).collect();
        for d in &c.drills {
            for seed in 0..10 {
                let drawn = draw(&c, d.level, Some(&d.name), &pool, seed).expect("draw");
                let first = edge_sim::fleet::default_region(drawn.faults[0].node);
                for (def, p) in d.faults.iter().zip(&drawn.faults) {
                    let r = edge_sim::fleet::default_region(p.node);
                    match &def.node {
                        NodeRule::Region(want) => assert_eq!(r, want),
                        NodeRule::SameRegion => assert_eq!(r, first),
                        NodeRule::OtherRegion => assert_ne!(r, first),
                        NodeRule::Any => {}
                    }
                    assert!((d.start_delay_s.0..=d.start_delay_s.1 + def.offset_s).contains(&p.start_in_s));
                }
            }
        }
        let err = draw(&c, Level::Hard, Some("hard-two-regions"), &[1, 2], 1).expect_err("one region only");
        assert!(matches!(err, CatalogError::PoolTooSmall { fault: 2, .. }), "{err:?}");
        assert!(err.to_string().contains("larger --node pool"), "{err}");
    }
}
