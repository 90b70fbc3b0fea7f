//! The drill catalogue (`drills/*.toml`, one drill per file) and the seeded draw of one
//! drill: which drill, which nodes, when each fault starts and how long it lasts.
//!
//! A drill file is data, like a scenario: its level, the fault(s) with their node rules,
//! the alerts that are its symptoms, the accepted and near answers, the hints in order and
//! the runbook it exercises. [`Catalog::load`] checks every file and says what is wrong.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use edge_sim::{FaultKind, Service};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How hard a drill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// One obvious fault: its own alert fires.
    #[default]
    Easy,
    /// One fault whose first alert is indirect (a symptom downstream of the cause).
    Medium,
    /// Two overlapping faults, or one with a red herring on another node.
    Hard,
}

impl Level {
    /// Every level, easiest first.
    pub const ALL: [Level; 3] = [Level::Easy, Level::Medium, Level::Hard];

    /// The name (`easy`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Easy => "easy",
            Level::Medium => "medium",
            Level::Hard => "hard",
        }
    }

    /// Seconds from the fault's start within which a diagnosis earns the whole time bonus.
    pub fn target_diagnosis_s(self) -> f64 {
        match self {
            Level::Easy => 120.0,
            Level::Medium => 240.0,
            Level::Hard => 360.0,
        }
    }
}

/// What a fault is for in the drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Part of the answer: the learner must find and mitigate it.
    #[default]
    Cause,
    /// A short, real fault elsewhere that ends on its own: answering it is wrong.
    RedHerring,
}

/// Where a fault lands, relative to the pool of nodes and to the drill's other faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRule {
    /// Any node of the pool.
    Any,
    /// A node of this region.
    Region(String),
    /// A node in the same region as the drill's first fault.
    SameRegion,
    /// A node in another region than the drill's first fault.
    OtherRegion,
}

impl<'de> Deserialize<'de> for NodeRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "any" => Ok(NodeRule::Any),
            "same_region" => Ok(NodeRule::SameRegion),
            "other_region" => Ok(NodeRule::OtherRegion),
            _ => match text.strip_prefix("region:") {
                Some(r) if edge_sim::fleet::REGIONS.contains(&r) => Ok(NodeRule::Region(r.to_owned())),
                _ => Err(serde::de::Error::custom(format!(
                    "node rule `{text}`: use any, same_region, other_region or region:NAME with NAME one of {}",
                    edge_sim::fleet::REGIONS.join(", ")
                ))),
            },
        }
    }
}

/// A `[min, max]` range of whole seconds, drawn uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Span(pub u32, pub u32);

/// One fault of a drill.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultDef {
    /// The failure mode.
    pub failure: FaultKind,
    /// Which node (see [`NodeRule`]); every fault of a drill lands on a different node.
    #[serde(default = "any")]
    pub node: NodeRule,
    /// Optional strength (the mode's default otherwise).
    pub intensity: Option<f64>,
    /// Optional target service.
    pub service: Option<Service>,
    /// Seconds after the drill's start delay at which this fault starts.
    #[serde(default)]
    pub offset_s: u32,
    /// How long it lasts, drawn from this range.
    pub duration_s: Span,
    /// Cause (default) or red herring.
    #[serde(default)]
    pub role: Role,
    /// Modes that earn partial credit for this cause (the same family: right node, a
    /// neighbouring diagnosis).
    #[serde(default)]
    pub near: Vec<FaultKind>,
}

fn any() -> NodeRule {
    NodeRule::Any
}

/// One drill, as written in `drills/NAME.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    /// The file's stem, filled in on loading.
    #[serde(skip)]
    pub name: String,
    /// Its title, for the instructor and the report (never shown while it runs).
    pub title: String,
    /// The level it is drawn at.
    pub level: Level,
    /// What the learner practises.
    pub description: String,
    /// The runbook it exercises: `docs/runbooks/<runbook>.md`.
    pub runbook: String,
    /// Seconds from `drill start` to the first fault, drawn from this range.
    pub start_delay_s: Span,
    /// The alerts that are this drill's symptoms on the cause nodes: the steady state is
    /// back when none of them fires there.
    pub symptoms: Vec<String>,
    /// The faults.
    #[serde(rename = "fault")]
    pub faults: Vec<FaultDef>,
    /// Hints, most general first. `{node}`, `{region}` and `{service}` stand for the first
    /// cause's node, its region and its service.
    #[serde(rename = "hint")]
    pub hints: Vec<String>,
}

/// The catalogue: every drill, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// Sorted by name, so a seed draws the same drill whatever the directory order.
    pub drills: Vec<Drill>,
}

/// Where the catalogue is when `--catalog` is not given: `./drills` if it exists (the
/// repository's root, where `cargo run` runs), else the one next to this crate's sources.
pub fn default_dir() -> PathBuf {
    let here = PathBuf::from("drills");
    if here.is_dir() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("../../drills") }
}

/// Why the catalogue could not be read, or a drill not found or drawn from it: one line, the
/// cause as its source.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The folder could not be listed.
    #[error("cannot read the drill catalogue {}", dir.display())]
    ReadDir {
        /// The catalogue folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A drill file could not be read.
    #[error("cannot read {}", path.display())]
    ReadFile {
        /// The drill file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A drill file says something a drill cannot be.
    #[error("{}", path.display())]
    Invalid {
        /// The drill file.
        path: PathBuf,
        /// What is wrong in it.
        #[source]
        source: DefinitionError,
    },
    /// The folder holds no drill.
    #[error("no drills (*.toml) in {}", dir.display())]
    Empty {
        /// The catalogue folder.
        dir: PathBuf,
    },
    /// No drill has that name.
    #[error("no drill `{name}`; drills: {}", known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The catalogue's drills.
        known: Vec<String>,
    },
    /// No drill of that level.
    #[error("no {} drills in the catalogue", level.as_str())]
    NoneAtLevel {
        /// The level asked for.
        level: Level,
    },
    /// The drill's node rules need more nodes (or regions) than the pool has.
    #[error(
        "drill {drill}: no node of the pool fits fault {fault}'s rule {rule:?}; give a larger --node pool"
    )]
    PoolTooSmall {
        /// The drill drawn.
        drill: String,
        /// The fault (1 = the first) that found no node.
        fault: usize,
        /// Its rule.
        rule: NodeRule,
    },
}

/// What is wrong in one drill file (each fault numbered from 1).
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// Not TOML, or not a drill's fields and values: the parser's message, its snippet folded
    /// onto one line.
    #[error("{0}")]
    Syntax(String),
    /// Too few or too many faults.
    #[error("a drill has 1-4 [[fault]]s")]
    FaultCount,
    /// Only red herrings.
    #[error("a drill needs at least one fault with role = \"cause\"")]
    NoCause,
    /// No hint.
    #[error("a drill needs at least one hint")]
    NoHint,
    /// No symptom alert.
    #[error("a drill names the alerts that are its symptoms (symptoms = [...])")]
    NoSymptoms,
    /// A runbook name that cannot be an alert's.
    #[error("runbook `{0}` is not an alert name")]
    Runbook(String),
    /// A start delay range backwards or beyond what a node schedules.
    #[error("start_delay_s is [min, max] with min <= max <= 600")]
    StartDelay,
    /// A duration range backwards or out of bounds.
    #[error("fault {0}: duration_s is [min, max] with 1 <= min <= max <= 3600")]
    Duration(usize),
    /// A fault the nodes would refuse (intensity, service).
    #[error("fault {fault}")]
    Fault {
        /// Which.
        fault: usize,
        /// What the catalog says about it.
        #[source]
        source: edge_sim::FaultError,
    },
    /// The first fault placed relative to itself.
    #[error("fault 1: same_region and other_region are relative to fault 1")]
    RelativeFirst,
    /// A near answer that is the right one.
    #[error("fault {0}: `near` lists its own mode")]
    NearOwnMode(usize),
    /// A fault that would start later than a node schedules.
    #[error("fault {0}: start delay plus offset_s exceeds 600 s")]
    StartsTooLate(usize),
}

impl Catalog {
    /// Reads and checks every `*.toml` in `dir`.
    pub fn load(dir: &Path) -> Result<Self, CatalogError> {
        let unlisted = |source| CatalogError::ReadDir { dir: dir.to_owned(), source };
        let mut drills = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(unlisted)? {
            let path = entry.map_err(unlisted)?.path();
            if path.extension().is_none_or(|x| x != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|source| CatalogError::ReadFile { path: path.clone(), source })?;
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            drills.push(Drill::parse(&name, &text).map_err(|source| CatalogError::Invalid { path, source })?);
        }
        drills.sort_by(|a, b| a.name.cmp(&b.name));
        if drills.is_empty() {
            return Err(CatalogError::Empty { dir: dir.to_owned() });
        }
        Ok(Catalog { drills })
    }

    /// The drills of one level.
    pub fn at(&self, level: Level) -> Vec<&Drill> {
        self.drills.iter().filter(|d| d.level == level).collect()
    }

    /// A drill by name.
    pub fn named(&self, name: &str) -> Result<&Drill, CatalogError> {
        self.drills.iter().find(|d| d.name == name).ok_or_else(|| CatalogError::Unknown {
            name: name.to_owned(),
            known: self.drills.iter().map(|d| d.name.clone()).collect(),
        })
    }

    /// Every failure mode some drill uses.
    pub fn modes(&self) -> BTreeSet<FaultKind> {
        self.drills.iter().flat_map(|d| d.faults.iter().map(|f| f.failure)).collect()
    }
}

impl Drill {
    /// Parses and checks one drill file.
    pub fn parse(name: &str, text: &str) -> Result<Self, DefinitionError> {
        let mut drill: Drill =
            toml::from_str(text).map_err(|e| DefinitionError::Syntax(e.to_string().replace('\n', " ")))?;
        drill.name = name.to_owned();
        drill.check()?;
        Ok(drill)
    }

    fn check(&self) -> Result<(), DefinitionError> {
        if self.faults.is_empty() || self.faults.len() > 4 {
            return Err(DefinitionError::FaultCount);
        }
        if !self.faults.iter().any(|f| f.role == Role::Cause) {
            return Err(DefinitionError::NoCause);
        }
        if self.hints.is_empty() {
            return Err(DefinitionError::NoHint);
        }
        if self.symptoms.is_empty() {
            return Err(DefinitionError::NoSymptoms);
        }
        if self.runbook.is_empty() || !self.runbook.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DefinitionError::Runbook(self.runbook.clone()));
        }
        let span_ok = |s: &Span, max: u32| s.0 <= s.1 && s.1 <= max;
        if !span_ok(&self.start_delay_s, edge_sim::api::MAX_START_IN_S as u32) {
            return Err(DefinitionError::StartDelay);
        }
        for (i, f) in self.faults.iter().enumerate() {
            let n = i + 1;
            if !span_ok(&f.duration_s, 3600) || f.duration_s.0 < 1 {
                return Err(DefinitionError::Duration(n));
            }
            let spec = edge_sim::FaultSpec {
                kind: f.failure,
                duration_s: f64::from(f.duration_s.0),
                intensity: f.intensity,
                service: f.service,
            };
            spec.validate().map_err(|source| DefinitionError::Fault { fault: n, source })?;
            if i == 0 && matches!(f.node, NodeRule::SameRegion | NodeRule::OtherRegion) {
                return Err(DefinitionError::RelativeFirst);
            }
            if f.near.contains(&f.failure) {
                return Err(DefinitionError::NearOwnMode(n));
            }
            if f64::from(self.start_delay_s.1 + f.offset_s) > edge_sim::api::MAX_START_IN_S {
                return Err(DefinitionError::StartsTooLate(n));
            }
        }
        Ok(())
    }
}

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
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../drills"))
            .expect("the catalogue loads")
    }

    #[test]
    fn the_catalogue_has_ten_drills_over_three_levels_and_every_mode() {
        let c = catalog();
        assert!(c.drills.len() >= 10, "{} drills", c.drills.len());
        for level in [Level::Easy, Level::Medium, Level::Hard] {
            assert!(c.at(level).len() >= 3, "{level:?}");
        }
        let missing: Vec<_> = FaultKind::ALL.iter().filter(|k| !c.modes().contains(k)).collect();
        assert!(missing.is_empty(), "modes no drill uses: {missing:?}");
        // Hard drills have two faults: two causes or a cause and a red herring.
        assert!(c.at(Level::Hard).iter().all(|d| d.faults.len() >= 2));
        assert!(c.at(Level::Hard).iter().any(|d| d.faults.iter().any(|f| f.role == Role::RedHerring)));
    }

    #[test]
    fn every_runbook_and_symptom_is_a_real_alert() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let rules = std::fs::read_to_string(root.join("prometheus/rules/alerts.yml")).expect("rules");
        for d in catalog().drills {
            assert!(
                root.join(format!("docs/runbooks/{}.md", d.runbook)).is_file(),
                "{}: {}",
                d.name,
                d.runbook
            );
            for alert in &d.symptoms {
                assert!(rules.contains(&format!("- alert: {alert}\n")), "{}: no alert {alert}", d.name);
            }
            for f in d.faults.iter().filter(|f| f.role == Role::Cause) {
                assert!(
                    d.symptoms.iter().any(|s| s == f.failure.expected_alert()) || d.level != Level::Easy,
                    "{}: an easy drill's symptoms include its mode's own alert",
                    d.name
                );
            }
        }
    }

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

    #[test]
    fn bad_drill_files_say_what_is_wrong() {
        let good = r#"
            title = "t"
            level = "easy"
            description = "d"
            runbook = "HighCPUUsage"
            start_delay_s = [1, 2]
            symptoms = ["HighCPUUsage"]
            hint = ["look"]
            [[fault]]
            failure = "cpu_spike"
            duration_s = [30, 40]
        "#;
        assert!(Drill::parse("x", good).is_ok());
        for (bad, says) in [
            (good.replace("cpu_spike", "cpu"), "unknown failure mode"),
            (good.replace("[30, 40]", "[40, 30]"), "duration_s"),
            (good.replace("hint = [\"look\"]", "hint = []"), "hint"),
            (good.replace("easy", "extreme"), "unknown variant"),
            (
                good.replace("duration_s = [30, 40]", "duration_s = [30, 40]\nnode = \"region:mars\""),
                "region:NAME",
            ),
            (
                good.replace("duration_s = [30, 40]", "duration_s = [30, 40]\nservice = \"orders\""),
                "cannot target",
            ),
            (
                good.replace("duration_s = [30, 40]", "duration_s = [30, 40]\nnear = [\"cpu_spike\"]"),
                "own mode",
            ),
        ] {
            let err = stack_client::error_chain(&Drill::parse("x", &bad).expect_err(&bad));
            assert!(err.contains(says) && !err.contains('\n'), "{err}");
        }
    }
}
