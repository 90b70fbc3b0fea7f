//! Rule groups as typed values: what a Prometheus rule file holds, with durations parsed and
//! group labels already merged into each rule, and the way back to a rule file for promtool.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::duration;

/// A rule group: its rules run in order, every `interval` (or the global evaluation
/// interval when it has none).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    /// The group's name.
    pub name: String,
    /// Its own evaluation interval, if it sets one.
    pub interval: Option<Duration>,
    /// Its rules, in file order.
    pub rules: Vec<Rule>,
    /// The file it came from.
    pub source: PathBuf,
}

impl RuleGroup {
    /// The interval it is evaluated at: its own, or `default` (the global one).
    pub fn interval_or(&self, default: Duration) -> Duration {
        self.interval.unwrap_or(default)
    }

    /// Its alerting rules.
    pub fn alerts(&self) -> impl Iterator<Item = (&str, &Rule)> {
        self.rules.iter().filter_map(|r| match &r.kind {
            RuleKind::Alert(name) => Some((name.as_str(), r)),
            RuleKind::Record(_) => None,
        })
    }
}

/// Whether a rule records a series or raises an alert, and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleKind {
    /// A recording rule and the series name it writes.
    Record(String),
    /// An alerting rule and its alert name.
    Alert(String),
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Recording or alerting, with its name.
    pub kind: RuleKind,
    /// Its PromQL expression.
    pub expr: String,
    /// How long the expression must return a series before the alert fires (alerts only).
    pub for_: Duration,
    /// How long an alert keeps firing after the expression stops returning it (alerts only).
    pub keep_firing_for: Duration,
    /// Labels added to the result (the group's labels, overridden by the rule's own).
    pub labels: BTreeMap<String, String>,
    /// Annotations (alerts only).
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    /// Its name: the alert's or the recorded series'.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Record(n) | RuleKind::Alert(n) => n,
        }
    }

    /// Labels whose value is a template (`{{ ... }}`): Prometheus expands them per alert,
    /// which this crate does not do.
    pub fn templated_labels(&self) -> Vec<&str> {
        self.labels.iter().filter(|(_, v)| v.contains("{{")).map(|(k, _)| k.as_str()).collect()
    }
}

/// `groups` as a Prometheus rule file (JSON, which is YAML), with `default_interval` written
/// out for groups that have none so promtool and Prometheus agree on it.
pub fn to_rule_file(groups: &[RuleGroup], default_interval: Duration) -> String {
    use serde_json::{Map, Value, json};
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| {
            let rules: Vec<Value> = g
                .rules
                .iter()
                .map(|r| {
                    let mut rule = Map::new();
                    match &r.kind {
                        RuleKind::Record(n) => rule.insert("record".into(), json!(n)),
                        RuleKind::Alert(n) => rule.insert("alert".into(), json!(n)),
                    };
                    rule.insert("expr".into(), json!(r.expr));
                    if matches!(r.kind, RuleKind::Alert(_)) {
                        rule.insert("for".into(), json!(duration::format(r.for_)));
                        if !r.keep_firing_for.is_zero() {
                            rule.insert("keep_firing_for".into(), json!(duration::format(r.keep_firing_for)));
                        }
                        if !r.annotations.is_empty() {
                            rule.insert("annotations".into(), json!(r.annotations));
                        }
                    }
                    if !r.labels.is_empty() {
                        rule.insert("labels".into(), json!(r.labels));
                    }
                    Value::Object(rule)
                })
                .collect();
            json!({
                "name": g.name,
                "interval": duration::format(g.interval_or(default_interval)),
                "rules": rules,
            })
        })
        .collect();
    let file = json!({ "groups": groups });
    // Serialising a Value built of strings and maps cannot fail.
    serde_json::to_string_pretty(&file).unwrap_or_default()
}
