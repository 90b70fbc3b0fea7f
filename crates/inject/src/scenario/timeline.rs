//! What a game day is: a named timeline of [`Step`]s, each an injection on some nodes at some
//! second, and the plan printed before it runs. A leaf: the other scenario modules build on it.

use edge_sim::api::InjectRequest;
use edge_sim::{FaultKind, Service};
use serde::Deserialize;

use crate::targets::{BadNodeSpec, NodeSpec};

/// A scenario file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its title.
    pub name: String,
    /// What it rehearses.
    #[serde(default)]
    pub description: String,
    /// The injections.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// One injection of the timeline.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Seconds after the start.
    pub at: f64,
    /// Nodes, as on the command line (`3`, `all`, `1,3`, `2-6`).
    pub node: String,
    /// The failure mode.
    pub failure: FaultKind,
    /// Seconds.
    pub duration: f64,
    /// Optional strength.
    pub intensity: Option<f64>,
    /// Optional target service.
    pub service: Option<Service>,
}

impl Step {
    /// Its nodes, parsed (checked when the scenario is, so a loaded scenario's steps always
    /// parse). Public for tools that plan a scenario themselves (`coverage --scenario`).
    pub fn nodes(&self) -> Result<NodeSpec, BadNodeSpec> {
        self.node.parse()
    }

    /// The `/inject` request of each of its nodes.
    pub(super) fn body(&self) -> InjectRequest {
        InjectRequest {
            failure: self.failure,
            duration_s: self.duration,
            intensity: self.intensity,
            service: self.service,
            seal: None,
            start_in_s: None,
        }
    }
}

/// Longest scenario accepted: a working day.
pub const MAX_LENGTH_S: f64 = 8.0 * 3600.0;

impl Scenario {
    /// Whether a step targets `all` (the running fleet must then be learned first).
    pub fn uses_all(&self) -> bool {
        self.steps.iter().any(|s| matches!(s.nodes(), Ok(NodeSpec::All)))
    }

    /// When the last fault ends, in seconds from the start.
    pub fn length(&self) -> f64 {
        self.steps.iter().map(|s| s.at + s.duration).fold(0.0, f64::max)
    }

    /// The plan, one line per step.
    pub fn plan(&self) -> String {
        let mut out = format!("{}: {} steps over {:.0} s\n", self.name, self.steps.len(), self.length());
        for s in &self.steps {
            let extra = match (s.intensity, s.service) {
                (Some(i), Some(svc)) => format!(" intensity {i} on {svc}"),
                (Some(i), None) => format!(" intensity {i}"),
                (None, Some(svc)) => format!(" on {svc}"),
                (None, None) => String::new(),
            };
            out.push_str(&format!(
                "  t+{:>5.0}s  node {:<8} {:<18} for {:>4.0} s{extra}  (expect {})\n",
                s.at,
                s.node,
                s.failure.as_str(),
                s.duration,
                s.failure.expected_alert()
            ));
        }
        out
    }
}
