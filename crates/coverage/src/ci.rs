//! The exit code for CI: which `--fail-on` conditions hold for a report. [`decide`] is pure:
//! whether a condition holds is read from [`Report::summary`], the names from the report.

use std::fmt;

use crate::cli::FailOn;
use crate::report::{FaultStatus, Report, RuleStatus};

/// A condition that holds, with the faults or rules that make it hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The `--fail-on` condition.
    pub condition: FailOn,
    /// What makes it hold: `failure (node N)` for faults, alert names (with a detail) for rules.
    pub names: Vec<String>,
}

impl fmt::Display for Failure {
    /// One line for stderr, e.g. `--fail-on uncaught: 2 faults no rule caught: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.names.len();
        let what = match self.condition {
            FailOn::Uncaught => plural(n, "fault", "no rule caught"),
            FailOn::FalseAlerts => plural(n, "rule", "fired at rest"),
            FailOn::CannotEvaluate => plural(n, "rule", "cannot evaluate"),
            FailOn::AlwaysFiring => plural(n, "rule", "always firing"),
            FailOn::NeverExercised => plural(n, "rule", "never exercised"),
        };
        write!(f, "--fail-on {}: {what}: {}", self.condition.as_str(), self.names.join(", "))
    }
}

fn plural(n: usize, noun: &str, rest: &str) -> String {
    format!("{n} {noun}{} {rest}", if n == 1 { "" } else { "s" })
}

/// The conditions among `fail_on` that hold for `report`, each once, in the order given.
pub fn decide(report: &Report, fail_on: &[FailOn]) -> Vec<Failure> {
    let summary = report.summary();
    let rules = |status: RuleStatus| -> Vec<String> {
        report.rules.iter().filter(|r| r.status == status).map(|r| r.alert.clone()).collect()
    };
    let mut failures: Vec<Failure> = Vec::new();
    for &condition in fail_on {
        if failures.iter().any(|f| f.condition == condition) {
            continue;
        }
        let names = match condition {
            FailOn::Uncaught if summary.faults_uncaught > 0 => report
                .faults
                .iter()
                .filter(|f| f.status == FaultStatus::Uncaught)
                .map(|f| format!("{} (node {})", f.failure, f.node))
                .collect(),
            FailOn::FalseAlerts if summary.false_alert_episodes > 0 => report
                .rules
                .iter()
                .filter(|r| r.false_alerts_at_rest.episodes > 0)
                .map(|r| {
                    let e = r.false_alerts_at_rest.episodes;
                    format!("{} ({e} episode{})", r.alert, if e == 1 { "" } else { "s" })
                })
                .collect(),
            FailOn::CannotEvaluate if summary.rules_cannot_evaluate > 0 => report
                .rules
                .iter()
                .filter(|r| r.status == RuleStatus::CannotEvaluate)
                .map(|r| {
                    let missing: Vec<&str> = r.missing.iter().map(|m| m.metric.as_str()).collect();
                    if missing.is_empty() {
                        r.alert.clone()
                    } else {
                        format!("{} (reads {})", r.alert, missing.join(" "))
                    }
                })
                .collect(),
            FailOn::AlwaysFiring if summary.rules_always_firing > 0 => rules(RuleStatus::AlwaysFiring),
            FailOn::NeverExercised if summary.rules_never_exercised > 0 => rules(RuleStatus::NeverExercised),
            _ => continue,
        };
        failures.push(Failure { condition, names });
    }
    failures
}

/// 1 when any condition holds, else 0.
pub fn exit_code(failures: &[Failure]) -> u8 {
    u8::from(!failures.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    /// The sample with every fault caught and every rule caught and quiet at rest.
    fn clean() -> Report {
        let mut report = sample();
        for fault in &mut report.faults {
            fault.status = FaultStatus::Caught;
        }
        for rule in &mut report.rules {
            rule.status = RuleStatus::Caught;
            rule.false_alerts_at_rest = Default::default();
        }
        report
    }

    const EVERY: [FailOn; 5] = [
        FailOn::Uncaught,
        FailOn::FalseAlerts,
        FailOn::CannotEvaluate,
        FailOn::AlwaysFiring,
        FailOn::NeverExercised,
    ];

    #[test]
    fn nothing_chosen_or_nothing_wrong_exits_0() {
        assert_eq!(decide(&sample(), &[]), []);
        assert_eq!(exit_code(&decide(&sample(), &[])), 0);
        assert_eq!(decide(&clean(), &EVERY), []);
        assert_eq!(exit_code(&decide(&clean(), &EVERY)), 0);
    }

    fn one(report: &Report, condition: FailOn) -> Failure {
        let failures = decide(report, &[condition]);
        assert_eq!(exit_code(&failures), 1, "{condition:?}");
        match failures.as_slice() {
            [f] if f.condition == condition => f.clone(),
            other => panic!("{condition:?}: {other:?}"),
        }
    }

    #[test]
    fn uncaught_names_the_faults() {
        let f = one(&sample(), FailOn::Uncaught);
        assert_eq!(f.names.len(), sample().summary().faults_uncaught);
        assert!(f.names.iter().all(|n| n.contains("(node edge-0")), "{f:?}");
        let line = f.to_string();
        assert!(line.starts_with("--fail-on uncaught: 2 faults no rule caught: "), "{line}");
    }

    #[test]
    fn false_alerts_name_every_rule_that_fired_at_rest_whatever_its_status() {
        let f = one(&sample(), FailOn::FalseAlerts);
        assert_eq!(f.names.len(), 3, "{f:?}");
        assert!(f.names.iter().any(|n| n.ends_with("(3 episodes)")), "{f:?}");
        assert!(f.to_string().starts_with("--fail-on false-alerts: 3 rules fired at rest: "), "{f}");
    }

    #[test]
    fn cannot_evaluate_names_the_rule_and_what_it_reads() {
        let f = one(&sample(), FailOn::CannotEvaluate);
        assert_eq!(
            f.to_string(),
            format!("--fail-on cannot-evaluate: 1 rule cannot evaluate: {}", f.names[0])
        );
        assert!(f.names[0].starts_with("HostOutOfInodes (reads node_filesystem_files_free"), "{f:?}");
    }

    #[test]
    fn always_firing_and_never_exercised_name_their_rules() {
        let report = sample();
        let named = |status: RuleStatus| -> Vec<String> {
            report.rules.iter().filter(|r| r.status == status).map(|r| r.alert.clone()).collect()
        };
        assert_eq!(one(&report, FailOn::AlwaysFiring).names, named(RuleStatus::AlwaysFiring));
        assert_eq!(one(&report, FailOn::NeverExercised).names, named(RuleStatus::NeverExercised));
        assert_eq!(
            one(&report, FailOn::NeverExercised).to_string(),
            "--fail-on never-exercised: 1 rule never exercised: HostFilesystemFillingUp"
        );
    }

    #[test]
    fn each_condition_holds_alone_and_is_reported_once_in_the_order_given() {
        for condition in EVERY {
            let mut report = clean();
            match condition {
                FailOn::Uncaught => report.faults[0].status = FaultStatus::Uncaught,
                FailOn::FalseAlerts => report.rules[0].false_alerts_at_rest.episodes = 1,
                FailOn::CannotEvaluate => report.rules[0].status = RuleStatus::CannotEvaluate,
                FailOn::AlwaysFiring => report.rules[0].status = RuleStatus::AlwaysFiring,
                FailOn::NeverExercised => report.rules[0].status = RuleStatus::NeverExercised,
            }
            let failures = decide(&report, &EVERY);
            let held: Vec<FailOn> = failures.iter().map(|f| f.condition).collect();
            assert_eq!(held, [condition]);
            assert_eq!(failures[0].names.len(), 1, "{failures:?}");
            let others: Vec<FailOn> = EVERY.into_iter().filter(|c| *c != condition).collect();
            assert_eq!(decide(&report, &others), [], "{condition:?}");
        }
        let order = [FailOn::NeverExercised, FailOn::Uncaught, FailOn::NeverExercised];
        let held: Vec<FailOn> = decide(&sample(), &order).iter().map(|f| f.condition).collect();
        assert_eq!(held, [FailOn::NeverExercised, FailOn::Uncaught]);
    }
}
