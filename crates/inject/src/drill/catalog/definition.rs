//! What a drill file says (`drills/NAME.toml`), as data: its [`Level`], its faults
//! ([`FaultDef`]: the mode, the [`NodeRule`] placing it, its [`Span`]s, its [`Role`]) and the
//! rest of a [`Drill`]. Only deserialising here; `parse` checks a drill. A leaf: the other
//! catalogue modules build on it.

use edge_sim::{FaultKind, Service};
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
