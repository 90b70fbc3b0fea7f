//! The report's JSON contract, version 1: what `coverage --json` prints and every renderer
//! reads. Field docs here are the documentation of the contract.
//!
//! Stability: within version 1 fields are only ever added, never renamed, retyped or
//! removed, so readers should ignore fields they do not know. A breaking change bumps
//! [`VERSION`]. Times are seconds (`f64`): `*_s` fields count from the run's start (virtual
//! time 0), `*_after_s` from the fault's start, `*_after_end_s` from the fault's end.

use serde::{Deserialize, Serialize};

/// The contract's version, written into every report as `version`.
pub const VERSION: u32 = 1;

/// One coverage run's result: the run's settings, each fault, each alerting rule, and the
/// alert timelines the verdicts were drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The contract's version: always [`VERSION`] (1) for this shape.
    pub version: u32,
    /// How the run was made: fleet size, seed, intervals, shapes, Prometheus.
    pub run: Run,
    /// Every planned fault, in plan order.
    pub faults: Vec<Fault>,
    /// Every alerting rule of the rule files, in file and group order.
    pub rules: Vec<RuleReport>,
    /// Every (alert, node) pair that was ever pending, with its episodes.
    pub timelines: Vec<Timeline>,
}

/// How the series were made: by the virtual fleet in virtual time, or by a running stack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The virtual fleet, evaluated by Prometheus over backfilled blocks (the default).
    #[default]
    Virtual,
    /// A running stack in real time (`--live`): its own Prometheus evaluated the rules.
    Live,
}

/// How the run was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// `virtual` or `live` (added in 1; absent in older reports, which were virtual).
    #[serde(default)]
    pub mode: Mode,
    /// Number of simulated edge nodes.
    pub nodes: u32,
    /// The seed of the fleet's randomness: the same seed, plan and rules give the same report.
    pub seed: u64,
    /// Length of the fault-free stretch at the start of the run, used for false alerts at rest.
    pub rest_s: f64,
    /// The scrape interval of the virtual Prometheus.
    pub scrape_interval_s: f64,
    /// The default rule evaluation interval (groups may set their own).
    pub evaluation_interval_s: f64,
    /// The metric shapes the nodes exposed (names from the metric-shapes issue, e.g. `otel`).
    pub shapes: Vec<String>,
    /// The `job` label values the series carried.
    pub jobs: Jobs,
    /// The version of the Prometheus release that evaluated the rules, e.g. `3.5.0`.
    pub prometheus_version: String,
    /// The rule files read, as given (files, or files found in the folders given).
    pub rules_files: Vec<String>,
    /// Each way, in one sentence, that this run's virtual time differs from a live
    /// Prometheus in something a rule could notice. Empty when none applies.
    pub differences: Vec<String>,
}

/// The `job` label values of the scraped series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jobs {
    /// The job of the edge application's own metrics.
    pub app: String,
    /// The job of the host (node_exporter style) metrics.
    pub host: String,
}

/// Whether any rule fired for a fault on the faulted node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultStatus {
    /// At least one alert fired on the faulted node during the fault or its tail.
    Caught,
    /// No alert fired on the faulted node.
    Uncaught,
}

/// One injected fault and what the rules made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// The failure mode, in the catalog's snake_case name, e.g. `node_crash`.
    pub failure: String,
    /// The faulted node: its `node` label value, e.g. `3`.
    pub node: String,
    /// When the fault began, from the run's start.
    pub start_s: f64,
    /// When the fault ended, from the run's start.
    pub end_s: f64,
    /// `caught` when `caught_by` is non-empty, else `uncaught`.
    pub status: FaultStatus,
    /// The alert names that fired on the faulted node for this fault, in order of firing.
    pub caught_by: Vec<String>,
    /// Each alert that went at least pending on the faulted node for this fault.
    pub detections: Vec<Detection>,
    /// Alerts that fired on other nodes during the fault (not counted as catching it).
    pub collateral: Vec<Collateral>,
    /// Rules that did not fire for this fault and whose longest window plus `for:` is longer
    /// than it, so the fault may have been too short for them (a strong enough signal can
    /// still fire sooner). Rules reading a series nothing provides are not listed: that, not
    /// the length, keeps them quiet.
    pub too_short_for: Vec<TooShort>,
}

/// How one alert reacted to a fault on the faulted node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// The alert's name.
    pub alert: String,
    /// The rule's index in `rules`, which tells apart rules sharing a name (a warning and a
    /// critical one); null in reports written before it was added (then match by name).
    #[serde(default)]
    pub rule: Option<usize>,
    /// From the fault's start to the alert's first pending state.
    pub pending_after_s: f64,
    /// From the fault's start to firing; null when it went pending but did not fire before
    /// the fault's recovery ended (then the alert is not in `caught_by`).
    pub firing_after_s: Option<f64>,
    /// From the fault's end to the alert resolving (the last of its label sets that fired;
    /// if none fired, when it stopped pending); negative when it resolved before the fault
    /// ended; null if it never resolved in the run.
    pub resolved_after_end_s: Option<f64>,
    /// Times the alert resolved and then fired again within the fault and its tail (label
    /// sets firing at the same time are one firing, not a flap).
    pub flaps: u32,
}

/// An alert that fired on a node other than the faulted one during a fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collateral {
    /// The alert's name.
    pub alert: String,
    /// The node it fired on, or for an alert of a region (a `region` label and no node),
    /// `region <name>`.
    pub node: String,
}

/// A rule a fault was too short for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TooShort {
    /// The alert's name.
    pub alert: String,
    /// The rule's index in `rules`, as [`Detection::rule`].
    #[serde(default)]
    pub rule: Option<usize>,
    /// The rule's longest window (through the recording rules it reads) plus `for:`.
    pub needs_s: f64,
}

/// A rule's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    /// It fired on the faulted node for at least one fault.
    Caught,
    /// No fault moved it: it never went pending.
    NeverExercised,
    /// It reads a series or label value that nothing provides (see `missing`).
    CannotEvaluate,
    /// It fired through the rest period and the faults regardless.
    AlwaysFiring,
    /// It fired only at rest or as collateral, never for a fault on the faulted node.
    FalseAlertsOnly,
}

impl RuleStatus {
    /// Every status, in the order reports list them.
    pub const ALL: [RuleStatus; 5] = [
        RuleStatus::Caught,
        RuleStatus::NeverExercised,
        RuleStatus::CannotEvaluate,
        RuleStatus::AlwaysFiring,
        RuleStatus::FalseAlertsOnly,
    ];

    /// The snake_case name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Caught => "caught",
            RuleStatus::NeverExercised => "never_exercised",
            RuleStatus::CannotEvaluate => "cannot_evaluate",
            RuleStatus::AlwaysFiring => "always_firing",
            RuleStatus::FalseAlertsOnly => "false_alerts_only",
        }
    }
}

impl FaultStatus {
    /// The snake_case name, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultStatus::Caught => "caught",
            FaultStatus::Uncaught => "uncaught",
        }
    }
}

/// One alerting rule and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleReport {
    /// The alert's name.
    pub alert: String,
    /// The rule group it belongs to.
    pub group: String,
    /// The file it was read from.
    pub file: String,
    /// The verdict.
    pub status: RuleStatus,
    /// The failure modes it caught (fired on the faulted node), in plan order.
    pub caught: Vec<String>,
    /// What it did in the fault-free rest period.
    pub false_alerts_at_rest: FalseAlerts,
    /// The series or label values it reads that nothing in the fleet provided.
    pub missing: Vec<Missing>,
    /// Its longest window (through the recording rules it reads) plus `for:`: a fault this
    /// long fills the window for the whole `for:`. Not a minimum: a strong enough signal can
    /// fire for a shorter fault. Null when unknown.
    pub shortest_fault_s: Option<f64>,
}

/// Alerts fired while no fault was active.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FalseAlerts {
    /// Firing episodes at rest, over all nodes.
    pub episodes: u32,
    /// The nodes they fired on, sorted (`fleet` for a fleet-wide alert, `region <name>` for
    /// a region's).
    pub nodes: Vec<String>,
    /// Total firing time at rest, summed over nodes.
    pub total_s: f64,
}

/// Something a rule reads that the fleet does not provide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Missing {
    /// The metric name, or the selector with the label value nothing carries,
    /// e.g. `node_filesystem_avail_bytes{fstype="xfs"}`.
    pub metric: String,
    /// The metric shape or job name that would provide it; null when none would.
    pub provided_by: Option<String>,
}

/// One alert's state history on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The alert's name.
    pub alert: String,
    /// The node whose series it was evaluated on; `fleet` for a fleet-wide alert, and
    /// `region <name>` for a region's (a `region` label, no `node` or `instance`).
    pub node: String,
    /// Each time it went pending, in time order.
    pub episodes: Vec<Episode>,
}

/// One pending → firing → resolved cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// When it went pending, from the run's start.
    pub pending_s: f64,
    /// When it started firing; null if it went back to inactive without firing.
    pub firing_s: Option<f64>,
    /// When it resolved (or, unfired, stopped pending); null if still active at the run's end.
    pub resolved_s: Option<f64>,
}

/// Counts for a one-line verdict and for CI exit codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Faults with status `caught`.
    pub faults_caught: usize,
    /// Faults with status `uncaught`.
    pub faults_uncaught: usize,
    /// Rules with status `caught`.
    pub rules_caught: usize,
    /// Rules with status `never_exercised`.
    pub rules_never_exercised: usize,
    /// Rules with status `cannot_evaluate`.
    pub rules_cannot_evaluate: usize,
    /// Rules with status `always_firing`.
    pub rules_always_firing: usize,
    /// Rules with status `false_alerts_only`.
    pub rules_false_alerts_only: usize,
    /// Rules with at least one false alert at rest, whatever their status.
    pub rules_with_false_alerts: usize,
    /// False alert episodes at rest, over all rules and nodes.
    pub false_alert_episodes: u64,
}

impl Summary {
    /// Rules with the given status.
    pub fn rules_with(&self, status: RuleStatus) -> usize {
        match status {
            RuleStatus::Caught => self.rules_caught,
            RuleStatus::NeverExercised => self.rules_never_exercised,
            RuleStatus::CannotEvaluate => self.rules_cannot_evaluate,
            RuleStatus::AlwaysFiring => self.rules_always_firing,
            RuleStatus::FalseAlertsOnly => self.rules_false_alerts_only,
        }
    }
}

/// Why a JSON report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not JSON, or not this shape.
    #[error("not a coverage report: {0}")]
    Json(#[from] serde_json::Error),
    /// A report of another contract version.
    #[error("coverage report version {found}, this build reads version {VERSION}")]
    Version {
        /// The version the report declared.
        found: u32,
    },
}

impl Report {
    /// A version-1 report.
    pub fn new(run: Run, faults: Vec<Fault>, rules: Vec<RuleReport>, timelines: Vec<Timeline>) -> Self {
        Report { version: VERSION, run, faults, rules, timelines }
    }

    /// Reads a JSON report, refusing other contract versions.
    pub fn from_json(text: &str) -> Result<Self, ReadError> {
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let Versioned { version } = serde_json::from_str(text)?;
        if version != VERSION {
            return Err(ReadError::Version { found: version });
        }
        Ok(serde_json::from_str(text)?)
    }

    /// The report as pretty JSON, the `--json` output.
    pub fn to_json(&self) -> String {
        // Plain structs of strings, numbers and vectors cannot fail to serialise (NaN and
        // infinite times are written as null); were it ever to, still print valid JSON.
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
    }

    /// The counts: faults caught and uncaught, rules by status, false alert episodes.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for fault in &self.faults {
            match fault.status {
                FaultStatus::Caught => s.faults_caught += 1,
                FaultStatus::Uncaught => s.faults_uncaught += 1,
            }
        }
        for rule in &self.rules {
            match rule.status {
                RuleStatus::Caught => s.rules_caught += 1,
                RuleStatus::NeverExercised => s.rules_never_exercised += 1,
                RuleStatus::CannotEvaluate => s.rules_cannot_evaluate += 1,
                RuleStatus::AlwaysFiring => s.rules_always_firing += 1,
                RuleStatus::FalseAlertsOnly => s.rules_false_alerts_only += 1,
            }
            if rule.false_alerts_at_rest.episodes > 0 {
                s.rules_with_false_alerts += 1;
            }
            s.false_alert_episodes += u64::from(rule.false_alerts_at_rest.episodes);
        }
        s
    }

    /// The timeline of `alert` on `node`, if it was ever pending there.
    pub fn timeline(&self, alert: &str, node: &str) -> Option<&Timeline> {
        self.timelines.iter().find(|t| t.alert == alert && t.node == node)
    }
}
