//! The alert state machine as Prometheus runs it (`rules/alerting.go`,
//! `AlertingRule.Eval`, prometheus/prometheus main as of 2026-08, commit d15adb9), over the results of an alert's
//! expression at each evaluation time:
//!
//! - a label set the expression returns and that has no active alert becomes **pending**
//!   with `activeAt` = this evaluation (also a label set whose last alert was resolved: a
//!   new episode);
//! - a pending alert **fires** at the first evaluation where `ts - activeAt >= for` (so
//!   `for: 0` fires at the evaluation that created it);
//! - a pending alert whose label set is absent is **dropped** (never fired);
//! - a firing alert whose label set is absent is **resolved** at that evaluation, unless
//!   `keep_firing_for` > 0: the first absent evaluation sets `keepFiringSince`, and it keeps
//!   firing while `ts - keepFiringSince < keep_firing_for`; the label set coming back clears
//!   `keepFiringSince` and the same episode goes on.
//!
//! Resolved alerts that Prometheus keeps for 15 min to resend to Alertmanager are not
//! modelled: they are inactive and a returning label set starts a new episode either way.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// An alert's identifying labels (`alertname` included).
pub type LabelSet = BTreeMap<String, String>;

/// Milliseconds since the Unix epoch, as Prometheus stores timestamps.
pub type Millis = i64;

/// One episode of one label set: from pending to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Episode {
    /// The evaluation at which it became pending (Prometheus' `activeAt`).
    pub pending_at: Millis,
    /// The evaluation at which it fired, if it did.
    pub firing_at: Option<Millis>,
    /// The evaluation at which it ended: resolved if it fired, dropped if it was only
    /// pending; `None` if it was still active at the last evaluation.
    pub resolved_at: Option<Millis>,
}

/// An alert's state after the evaluation at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Returned, not yet for `for`.
    Pending,
    /// Firing (including while kept firing by `keep_firing_for`).
    Firing,
}

impl Episode {
    /// Its state after the evaluation at `t`, if it is active then.
    pub fn state_at(&self, t: Millis) -> Option<State> {
        if t < self.pending_at || self.resolved_at.is_some_and(|r| t >= r) {
            None
        } else if self.firing_at.is_some_and(|f| t >= f) {
            Some(State::Firing)
        } else {
            Some(State::Pending)
        }
    }
}

/// The expression's results: the evaluation times, and for each label set the times at
/// which the expression returned it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Every evaluation time, ascending.
    pub eval_times: Vec<Millis>,
    /// Per label set, the evaluation times (a subset of `eval_times`) it was returned at.
    pub present: BTreeMap<LabelSet, BTreeSet<Millis>>,
}

/// Per label set, its episodes in time order.
pub type Episodes = BTreeMap<LabelSet, Vec<Episode>>;

fn ms(d: Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
}

/// Runs the state machine over `timeline` with the rule's `for` and `keep_firing_for`.
pub fn episodes(timeline: &Timeline, for_: Duration, keep_firing_for: Duration) -> Episodes {
    let (hold, keep) = (ms(for_), ms(keep_firing_for));
    let mut out = Episodes::new();
    for (labels, present) in &timeline.present {
        let mut list = Vec::new();
        // The open episode and, while kept firing, since when the label set is absent.
        let mut open: Option<(Episode, Option<Millis>)> = None;
        for &ts in &timeline.eval_times {
            let returned = present.contains(&ts);
            open = match (open, returned) {
                (None, false) => None,
                (None, true) => Some((Episode { pending_at: ts, firing_at: None, resolved_at: None }, None)),
                (Some((ep, _)), true) => Some((ep, None)),
                (Some((mut ep, since)), false) => {
                    let since = since.unwrap_or(ts);
                    if ep.firing_at.is_some() && keep > 0 && ts - since < keep {
                        Some((ep, Some(since)))
                    } else {
                        ep.resolved_at = Some(ts);
                        list.push(ep);
                        None
                    }
                }
            };
            if let Some((ep, _)) = &mut open
                && ep.firing_at.is_none()
                && ts - ep.pending_at >= hold
            {
                ep.firing_at = Some(ts);
            }
        }
        list.extend(open.map(|(ep, _)| ep));
        if !list.is_empty() {
            out.insert(labels.clone(), list);
        }
    }
    out
}

/// The label sets pending and firing after the evaluation at `t`.
pub fn active_at(episodes: &Episodes, t: Millis) -> BTreeMap<LabelSet, State> {
    episodes
        .iter()
        .filter_map(|(labels, eps)| eps.iter().find_map(|e| e.state_at(t)).map(|s| (labels.clone(), s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: Millis = 60_000;

    fn labels(node: &str) -> LabelSet {
        LabelSet::from([("alertname".into(), "A".into()), ("node".into(), node.into())])
    }

    /// Evaluations at 0..n minutes; `pattern` marks each minute the expression returns `a`.
    fn timeline(pattern: &str) -> Timeline {
        let eval_times: Vec<Millis> = (0..pattern.len() as Millis).map(|i| i * STEP).collect();
        let present = pattern.bytes().zip(&eval_times).filter(|(c, _)| *c == b'x').map(|(_, t)| *t).collect();
        Timeline { eval_times, present: BTreeMap::from([(labels("a"), present)]) }
    }

    fn run(pattern: &str, for_min: u64, keep_min: u64) -> Vec<Episode> {
        let eps = episodes(
            &timeline(pattern),
            Duration::from_secs(60 * for_min),
            Duration::from_secs(60 * keep_min),
        );
        eps.get(&labels("a")).cloned().unwrap_or_default()
    }

    fn ep(pending: i64, firing: Option<i64>, resolved: Option<i64>) -> Episode {
        Episode {
            pending_at: pending * STEP,
            firing_at: firing.map(|f| f * STEP),
            resolved_at: resolved.map(|r| r * STEP),
        }
    }

    #[test]
    fn for_zero_fires_at_the_first_evaluation_and_resolves_when_absent() {
        assert_eq!(run("..xxx..", 0, 0), [ep(2, Some(2), Some(5))]);
    }

    #[test]
    fn pending_fires_once_active_for_at_least_for() {
        // Active at 1; 3 - 1 >= 2 min: fires at 3.
        assert_eq!(run(".xxxxx.", 2, 0), [ep(1, Some(3), Some(6))]);
        // Exactly `for` long and gone at the evaluation it would fire: never fires.
        assert_eq!(run(".xx.", 2, 0), [ep(1, None, Some(3))]);
    }

    #[test]
    fn a_pending_alert_that_disappears_is_dropped_and_restarts_from_scratch() {
        assert_eq!(run(".xx.xxx..", 2, 0), [ep(1, None, Some(3)), ep(4, Some(6), Some(7))]);
    }

    #[test]
    fn keep_firing_for_holds_a_firing_alert_and_a_return_continues_the_episode() {
        // Fires at 1, absent from 3: kept at 3 (0 < 2) and 4 (1 < 2), resolved at 5 (2 >= 2).
        assert_eq!(run(".xx.....", 0, 2), [ep(1, Some(1), Some(5))]);
        // Back at 4 while kept: the same episode; absent again from 5, resolved at 7.
        assert_eq!(run(".xx.x...", 0, 2), [ep(1, Some(1), Some(7))]);
    }

    #[test]
    fn keep_firing_for_does_not_hold_a_pending_alert() {
        assert_eq!(run(".x...", 5, 10), [ep(1, None, Some(2))]);
    }

    #[test]
    fn an_alert_active_at_the_end_stays_open_and_states_are_read_back() {
        let eps = run("..xxxx", 2, 0);
        assert_eq!(eps, [ep(2, Some(4), None)]);
        let e = eps[0];
        assert_eq!(
            [1, 2, 3, 4, 5].map(|m| e.state_at(m * STEP)),
            [None, Some(State::Pending), Some(State::Pending), Some(State::Firing), Some(State::Firing)]
        );
    }

    #[test]
    fn label_sets_are_independent() {
        let mut tl = timeline("xxx...");
        tl.present.insert(labels("b"), BTreeSet::from([3 * STEP, 4 * STEP]));
        let eps = episodes(&tl, Duration::from_secs(60), Duration::ZERO);
        assert_eq!(eps[&labels("a")], [ep(0, Some(1), Some(3))]);
        assert_eq!(eps[&labels("b")], [ep(3, Some(4), Some(5))]);
        let at3 = active_at(&eps, 3 * STEP);
        assert_eq!(at3, BTreeMap::from([(labels("b"), State::Pending)]));
    }
}
