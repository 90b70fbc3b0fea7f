//! The state of the drill in progress, in one JSON file, so a drill survives closing the
//! terminal: what was drawn and injected (with the seal key that sees it), the hints taken
//! and the answers given, and when it was stopped.
//!
//! The file is written whole to a temporary file and renamed, so a crash mid-write never
//! leaves half a file. A file that does not parse is refused with one line naming it.
//! The file holds the answer: a learner who reads it sees the drill (README says so).

use std::path::{Path, PathBuf};

use edge_sim::{FaultKind, Service};
use serde::{Deserialize, Serialize};

use super::catalog::{Level, Planned};

/// The state file's format version.
pub const VERSION: u32 = 1;

/// A hint taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HintTaken {
    /// Which (0 = the first).
    pub index: usize,
    /// Unix time.
    pub at: f64,
}

/// How an answer matched the drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Right node, right mode (and service, if the cause has one).
    Right,
    /// Right node and mode, the wrong (or no) service.
    WrongService,
    /// Right node, a neighbouring mode of the same family.
    Near,
    /// Anything else.
    Wrong,
}

impl Verdict {
    /// The share of a cause's points this answer earns.
    pub fn credit(self) -> f64 {
        match self {
            Verdict::Right => 1.0,
            Verdict::WrongService => 0.75,
            Verdict::Near => 0.5,
            Verdict::Wrong => 0.0,
        }
    }

    /// What the learner is told.
    pub fn says(self) -> &'static str {
        match self {
            Verdict::Right => "right",
            Verdict::WrongService => "right node and failure, not the right service",
            Verdict::Near => "right node, close but not the failure",
            Verdict::Wrong => "not it",
        }
    }
}

/// An answer given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// Unix time.
    pub at: f64,
    /// The node named.
    pub node: u32,
    /// The mode named.
    pub failure: FaultKind,
    /// The service named, if any.
    pub service: Option<Service>,
    /// How it matched.
    pub verdict: Verdict,
    /// The index of the cause it matched (for right, wrong-service and near answers).
    pub cause: Option<usize>,
}

/// A planned fault and what the node said when it took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Injected {
    /// What was drawn.
    #[serde(flatten)]
    pub plan: Planned,
    /// The node's id for it (`None` until injected).
    pub id: Option<u64>,
    /// Unix time it starts, as the node scheduled it.
    pub starts_at: Option<f64>,
}

/// The whole drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillState {
    /// [`VERSION`].
    pub version: u32,
    /// The seed the drill was drawn from.
    pub seed: u64,
    /// The level asked for.
    pub level: Level,
    /// The drill's name (its file in the catalogue).
    pub drill: String,
    /// The nodes it could draw from.
    pub pool: Vec<u32>,
    /// The seal key its faults were injected with.
    pub key: String,
    /// Unix time of `drill start`.
    pub started_at: f64,
    /// Prometheus, as given at start.
    pub prometheus: String,
    /// The alert sink, as given at start.
    pub sink: String,
    /// The catalogue the drill was drawn from (absolute), so later commands find its hints
    /// from any directory.
    pub catalog: PathBuf,
    /// The faults.
    pub faults: Vec<Injected>,
    /// Hints taken, in order.
    pub hints: Vec<HintTaken>,
    /// Answers given, in order.
    pub answers: Vec<Answer>,
    /// Unix time of `drill stop`, once stopped.
    pub stopped_at: Option<f64>,
}

impl DrillState {
    /// The causes (not the red herrings), with their index among the faults.
    pub fn causes(&self) -> impl Iterator<Item = (usize, &Injected)> {
        self.faults.iter().enumerate().filter(|(_, f)| f.plan.role == super::catalog::Role::Cause)
    }
}

/// Where the state lives when `--state` is not given: `$XDG_STATE_HOME/edge-fleet/drill.json`,
/// else `~/.local/state/edge-fleet/drill.json`, else `./.drill.json`.
pub fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")));
    match base {
        Some(b) => b.join("edge-fleet/drill.json"),
        None => PathBuf::from(".drill.json"),
    }
}

/// Why the state file could not be read or written: one line naming the file, the cause as
/// its source.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file exists but could not be read.
    #[error("cannot read the drill state {}", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a drill state (half written by hand, another program's).
    #[error("the drill state {} is corrupt; remove it (the fleet's faults end on their own)", path.display())]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What the parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A state of another format version.
    #[error("the drill state {} has version {found}, expected {VERSION}", path.display())]
    Version {
        /// The state file.
        path: PathBuf,
        /// The version it has.
        found: u32,
    },
    /// No drill: the file does not exist.
    #[error("no drill: start one with `inject drill start` (state file {})", path.display())]
    Missing {
        /// Where the state was looked for.
        path: PathBuf,
    },
    /// The state (or its folder) could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or folder that could not be written.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Reads the state: `Ok(None)` if there is no file.
pub fn load(path: &Path) -> Result<Option<DrillState>, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Read { path: path.to_owned(), source }),
    };
    let state: DrillState = serde_json::from_str(&text)
        .map_err(|source| StateError::Corrupt { path: path.to_owned(), source })?;
    if state.version != VERSION {
        return Err(StateError::Version { path: path.to_owned(), found: state.version });
    }
    Ok(Some(state))
}

/// The state of a drill that must exist.
pub fn require(path: &Path) -> Result<DrillState, StateError> {
    load(path)?.ok_or_else(|| StateError::Missing { path: path.to_owned() })
}

/// Writes the state whole (temporary file, then rename).
pub fn save(path: &Path, state: &DrillState) -> Result<(), StateError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    }
    let text = serde_json::to_string_pretty(state).map_err(|e| write_error(path)(e.into()))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(write_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(write_error(path))
}

/// [`StateError::Write`] of `path`, for `map_err`.
fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Write { path: path.to_owned(), source }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::catalog::Role;
    use super::*;

    pub(crate) fn sample() -> DrillState {
        let plan = |node, failure, service, role| Planned {
            node,
            failure,
            intensity: None,
            service,
            start_in_s: 10,
            duration_s: 300,
            role,
            near: vec![FaultKind::DependencyFailure],
        };
        DrillState {
            version: VERSION,
            seed: 7,
            level: Level::Medium,
            drill: "medium-payments-errors".to_owned(),
            pool: (1..=12).collect(),
            key: "k".repeat(24),
            started_at: 1000.0,
            prometheus: "http://127.0.0.1:9090".to_owned(),
            sink: "http://127.0.0.1:9095".to_owned(),
            catalog: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../drills")),
            faults: vec![
                Injected {
                    plan: plan(3, FaultKind::ErrorBurst, Some(Service::Payments), Role::Cause),
                    id: Some(1),
                    starts_at: Some(1010.0),
                },
                Injected {
                    plan: plan(7, FaultKind::CpuSpike, None, Role::RedHerring),
                    id: Some(4),
                    starts_at: Some(1010.0),
                },
            ],
            hints: vec![],
            answers: vec![],
            stopped_at: None,
        }
    }

    #[test]
    fn the_state_round_trips_and_a_missing_file_is_no_drill() {
        let dir = std::env::temp_dir().join(format!("drill-state-{}", std::process::id()));
        let path = dir.join("sub/drill.json");
        assert!(matches!(load(&path), Ok(None)));
        let missing = require(&path).expect_err("none");
        assert!(
            matches!(missing, StateError::Missing { .. })
                && missing.to_string().contains("inject drill start")
        );
        save(&path, &sample()).expect("saved");
        assert_eq!(load(&path).expect("loads"), Some(sample()));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_corrupt_or_foreign_file_is_one_line_naming_it() {
        let dir = std::env::temp_dir().join(format!("drill-corrupt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("drill.json");
        for text in ["{not json", "{}", "[1,2]", ""] {
            std::fs::write(&path, text).expect("write");
            let err = load(&path).expect_err(text);
            assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
            let line = stack_client::error_chain(&err);
            assert!(
                line.contains("corrupt") && line.contains("drill.json") && !line.contains('\n'),
                "{line}"
            );
        }
        let mut other = serde_json::to_value(sample()).expect("json");
        other["version"] = 99.into();
        std::fs::write(&path, other.to_string()).expect("write");
        assert!(load(&path).expect_err("version").to_string().contains("version 99"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
