//! From a live Prometheus' `ALERTS` series back to the engine's outcome: each alerting rule's
//! episodes per label set, as the virtual run's state machine produces them, so one judge and
//! one report serve both modes.
//!
//! Prometheus writes an `ALERTS{alertstate="pending"|"firing"}` sample for every active alert
//! at every evaluation of its group, and a stale marker when it stops (which a range selector
//! leaves out). So for one label set, samples one group interval apart form an episode: it
//! went pending at its first sample (Prometheus' `activeAt`: a `for: 0` alert's first sample
//! is already firing), fired at its first `firing` sample, and ended at the evaluation after
//! its last one. A gap longer than one and a half intervals (a missed evaluation is
//! impossible for an alert that stayed active) starts a new episode.

use std::collections::BTreeMap;
use std::time::Duration;

use rule_coverage::{AlertOutcome, Episode, Episodes, LabelSet, Millis, RuleGroup, Timeline};
use stack_client::RawSeries;

/// One sample of an `ALERTS` series: when, and whether it was firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertSample {
    /// The evaluation's time.
    pub at: Millis,
    /// `alertstate="firing"` (else pending).
    pub firing: bool,
}

/// The episodes of one label set from its samples (any order; `end` is the last time the
/// run looked: an episode whose last sample is within one interval of it is still active).
pub fn episodes_of(samples: &mut [AlertSample], interval: Duration, end: Millis) -> Vec<Episode> {
    samples.sort_by_key(|s| (s.at, !s.firing));
    let step = Millis::try_from(interval.as_millis()).unwrap_or(Millis::MAX / 4).max(1);
    let mut out: Vec<Episode> = Vec::new();
    let mut last: Option<Millis> = None;
    for s in samples.iter() {
        let continues = last.is_some_and(|l| s.at - l <= step * 3 / 2);
        if !continues {
            if let (Some(ep), Some(l)) = (out.last_mut(), last) {
                ep.resolved_at = Some(l + step);
            }
            out.push(Episode { pending_at: s.at, firing_at: None, resolved_at: None });
        }
        if let Some(ep) = out.last_mut()
            && s.firing
            && ep.firing_at.is_none()
        {
            ep.firing_at = Some(s.at);
        }
        last = Some(s.at);
    }
    if let (Some(ep), Some(l)) = (out.last_mut(), last)
        && end - l > step * 3 / 2
    {
        ep.resolved_at = Some(l + step);
    }
    out
}

/// Whether an `ALERTS` series belongs to `rule`: its name, and every label the rule sets
/// without a template has that value (rules sharing a name, a warning and a critical one,
/// differ there).
fn belongs(labels: &LabelSet, name: &str, rule_labels: &BTreeMap<String, String>) -> bool {
    labels.get("alertname").is_some_and(|n| n == name)
        && rule_labels.iter().filter(|(_, v)| !v.contains("{{")).all(|(k, v)| labels.get(k) == Some(v))
}

/// Every alerting rule's outcome, in rule-file order, from the `ALERTS` series read over
/// the run (`series`: all of them, e.g. `ALERTS` raw over the run's range). A series goes
/// to the first rule it belongs to. The timelines are empty: live, only the alerts are seen.
pub fn outcomes(
    series: &[RawSeries],
    groups: &[RuleGroup],
    default_interval: Duration,
    end: Millis,
) -> Vec<AlertOutcome> {
    let rules: Vec<(&RuleGroup, &str, &rule_coverage::Rule)> =
        groups.iter().flat_map(|g| g.alerts().map(move |(name, r)| (g, name, r))).collect();
    let mut samples: Vec<BTreeMap<LabelSet, Vec<AlertSample>>> = vec![BTreeMap::new(); rules.len()];
    for (labels, values) in series {
        let mut key: LabelSet = labels.clone();
        key.remove("__name__");
        let firing = key.remove("alertstate").is_some_and(|s| s == "firing");
        let Some(i) = rules.iter().position(|(_, name, r)| belongs(&key, name, &r.labels)) else { continue };
        let list = samples[i].entry(key).or_default();
        list.extend(values.iter().map(|(t, _)| AlertSample { at: (t * 1000.0).round() as Millis, firing }));
    }
    rules
        .iter()
        .zip(samples)
        .map(|((group, name, _), by_labels)| {
            let interval = group.interval_or(default_interval);
            let episodes: Episodes = by_labels
                .into_iter()
                .map(|(labels, mut s)| (labels, episodes_of(&mut s, interval, end)))
                .filter(|(_, eps)| !eps.is_empty())
                .collect();
            AlertOutcome {
                group: group.name.clone(),
                alert: (*name).to_owned(),
                interval,
                timeline: Timeline::default(),
                episodes,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rule_coverage::load::parse_text;
    use std::path::Path;

    const S: Millis = 10_000;

    fn at(ts: &[(Millis, bool)]) -> Vec<AlertSample> {
        ts.iter().map(|&(at, firing)| AlertSample { at, firing }).collect()
    }

    #[test]
    fn samples_one_interval_apart_are_one_episode_from_pending_to_the_evaluation_after_the_last() {
        let mut s = at(&[(0, false), (S, false), (2 * S, true), (3 * S, true)]);
        let eps = episodes_of(&mut s, Duration::from_secs(10), 10 * S);
        assert_eq!(eps, [Episode { pending_at: 0, firing_at: Some(2 * S), resolved_at: Some(4 * S) }]);
    }

    #[test]
    fn a_gap_starts_a_new_episode_and_a_pending_one_that_never_fired_is_dropped_at_its_end() {
        let mut s = at(&[(5 * S, true), (0, false), (6 * S, true)]);
        let eps = episodes_of(&mut s, Duration::from_secs(10), 20 * S);
        assert_eq!(
            eps,
            [
                Episode { pending_at: 0, firing_at: None, resolved_at: Some(S) },
                Episode { pending_at: 5 * S, firing_at: Some(5 * S), resolved_at: Some(7 * S) },
            ],
            "for: 0 fires at its first sample"
        );
    }

    #[test]
    fn an_alert_active_at_the_end_of_the_run_is_not_resolved() {
        let mut s = at(&[(0, true), (S, true)]);
        let eps = episodes_of(&mut s, Duration::from_secs(10), S + S / 2);
        assert_eq!(eps[0].resolved_at, None);
    }

    #[test]
    fn series_go_to_the_rule_whose_name_and_fixed_labels_they_carry() {
        let groups = parse_text(
            "groups:\n  - name: g\n    interval: 5s\n    rules:\n\
             \x20     - alert: Disk\n        expr: a > 1\n        labels: {severity: warning}\n\
             \x20     - alert: Disk\n        expr: a > 2\n        labels: {severity: critical, node: '{{ $labels.n }}'}\n",
            Path::new("t.yml"),
        )
        .expect("valid");
        let series = |sev: &str, node: &str| -> RawSeries {
            let labels = [
                ("__name__", "ALERTS"),
                ("alertname", "Disk"),
                ("alertstate", "firing"),
                ("severity", sev),
                ("node", node),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
            (labels, vec![(100.0, 1.0), (105.0, 1.0)])
        };
        let out = outcomes(
            &[series("critical", "3"), series("warning", "1"), series("info", "2")],
            &groups,
            Duration::from_secs(15),
            200_000,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].interval, Duration::from_secs(5));
        let nodes =
            |o: &AlertOutcome| -> Vec<String> { o.episodes.keys().map(|l| l["node"].clone()).collect() };
        assert_eq!((nodes(&out[0]), nodes(&out[1])), (vec!["1".to_owned()], vec!["3".to_owned()]));
        let ep = out[1].episodes.values().next().expect("one")[0];
        assert_eq!(ep, Episode { pending_at: 100_000, firing_at: Some(100_000), resolved_at: Some(110_000) });
        assert!(!out[0].episodes.keys().next().expect("one").contains_key("alertstate"));
    }
}
