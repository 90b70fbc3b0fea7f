//! `promtool test rules` files generated from the engine's own inputs and outputs: the same
//! input series, and at chosen evaluation times the alerts the state machine says are
//! firing (`alert_rule_test`, which checks firing alerts with their labels and
//! annotations) and the whole `ALERTS` series, pending and firing (`promql_expr_test`). If
//! promtool passes it, Prometheus' own rule manager agrees with [`crate::alert_state`].
//!
//! promtool evaluates every group at the file's `evaluation_interval` (group intervals are
//! ignored) from time 0 (promtool 3.5 has no `start_timestamp`), so times are written
//! relative to the series' start, which must be a multiple of that interval for the two
//! evaluation grids to match.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::alert_state::{self, Episodes, LabelSet, Millis, State};
use crate::duration;
use crate::openmetrics::{self, SeriesSet};

/// A series the test's input holds, in promtool's notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSeries {
    /// `name{label="value"}`.
    pub series: String,
    /// Space-separated values, one per input interval, `_` where there is no sample.
    pub values: String,
}

/// One alerting rule's expected states: its name, annotations (static ones: promtool
/// compares them after templating) and episodes.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The alert's name.
    pub alert: &'a str,
    /// Its annotations as the rule writes them.
    pub annotations: &'a BTreeMap<String, String>,
    /// What the state machine computed.
    pub episodes: &'a Episodes,
}

fn series_text(labels: &LabelSet) -> String {
    let name = labels.get("__name__").cloned().unwrap_or_default();
    let inner: Vec<String> = labels
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
        .collect();
    format!("{name}{{{}}}", inner.join(", "))
}

/// `series` as promtool input: a value per `interval` from `start` to the last sample, `_`
/// where a series has none. Samples off that grid are an error (naming the series).
pub fn input_series(
    series: &SeriesSet,
    start: Millis,
    interval: Duration,
) -> Result<Vec<InputSeries>, String> {
    let step = Millis::try_from(interval.as_millis()).unwrap_or(Millis::MAX).max(1);
    let mut out = Vec::new();
    for (labels, samples) in series {
        let mut slots: BTreeMap<Millis, f64> = BTreeMap::new();
        for &(t, v) in samples {
            if t < start || (t - start) % step != 0 {
                return Err(format!(
                    "{}: sample at {t} ms is off the {step} ms grid from {start}",
                    series_text(labels)
                ));
            }
            slots.insert((t - start) / step, v);
        }
        let last = slots.keys().next_back().copied().unwrap_or(-1);
        let values: Vec<String> = (0..=last)
            .map(|i| slots.get(&i).map_or_else(|| "_".to_owned(), |v| openmetrics::value(*v)))
            .collect();
        out.push(InputSeries { series: series_text(labels), values: values.join(" ") });
    }
    Ok(out)
}

/// A test file (JSON, which promtool reads as YAML): `rule_files`, the input series, and at
/// each of `at` (absolute times) the firing alerts and the `ALERTS` series of `expected`.
pub fn test_file(
    rule_files: &[String],
    evaluation_interval: Duration,
    start: Millis,
    input_interval: Duration,
    input: &[InputSeries],
    expected: &[Expected<'_>],
    at: &[Millis],
) -> Value {
    let rel = |t: Millis| duration::format(Duration::from_millis(u64::try_from(t - start).unwrap_or(0)));
    let mut alert_cases = Vec::new();
    let mut alerts_series = Vec::new();
    for &t in at {
        let mut samples = Vec::new();
        for e in expected {
            let active = alert_state::active_at(e.episodes, t);
            let firing: Vec<Value> = active
                .iter()
                .filter(|(_, s)| **s == State::Firing)
                .map(|(labels, _)| {
                    let mut exp_labels = labels.clone();
                    exp_labels.remove("alertname");
                    json!({ "exp_labels": exp_labels, "exp_annotations": e.annotations })
                })
                .collect();
            alert_cases.push(json!({ "eval_time": rel(t), "alertname": e.alert, "exp_alerts": firing }));
            for (labels, state) in active {
                let mut l = labels.clone();
                l.insert("__name__".into(), "ALERTS".into());
                let word = if state == State::Firing { "firing" } else { "pending" };
                l.insert("alertstate".into(), word.into());
                samples.push(json!({ "labels": series_text(&l), "value": 1 }));
            }
        }
        alerts_series.push(json!({ "expr": "ALERTS", "eval_time": rel(t), "exp_samples": samples }));
    }
    let input: Vec<Value> = input.iter().map(|s| json!({ "series": s.series, "values": s.values })).collect();
    json!({
        "rule_files": rule_files,
        "evaluation_interval": duration::format(evaluation_interval),
        "tests": [{
            "interval": duration::format(input_interval),
            "input_series": input,
            "alert_rule_test": alert_cases,
            "promql_expr_test": alerts_series,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert_state::Episode;

    #[test]
    fn input_series_fill_gaps_and_refuse_samples_off_the_grid() {
        let labels = LabelSet::from([("__name__".into(), "cpu".into()), ("node".into(), "a".into())]);
        let set = SeriesSet::from([(labels.clone(), vec![(120_000, 0.5), (60_000, 1.0), (240_000, 2.0)])]);
        let got = input_series(&set, 60_000, Duration::from_secs(60)).expect("on the grid");
        assert_eq!(got, [InputSeries { series: "cpu{node=\"a\"}".into(), values: "1.0 0.5 _ 2.0".into() }]);
        let off = SeriesSet::from([(labels, vec![(90_000, 1.0)])]);
        assert!(input_series(&off, 60_000, Duration::from_secs(60)).is_err());
    }

    #[test]
    fn expectations_list_firing_alerts_and_every_alerts_series() {
        let labels = LabelSet::from([("alertname".into(), "A".into()), ("node".into(), "a".into())]);
        let eps = Episodes::from([(
            labels,
            vec![Episode { pending_at: 60_000, firing_at: Some(120_000), resolved_at: Some(180_000) }],
        )]);
        let ann = BTreeMap::from([("summary".to_owned(), "s".to_owned())]);
        let expected = [Expected { alert: "A", annotations: &ann, episodes: &eps }];
        let file = test_file(
            &["r.yml".into()],
            Duration::from_secs(60),
            0,
            Duration::from_secs(60),
            &[],
            &expected,
            &[60_000, 120_000, 180_000],
        );
        let test = &file["tests"][0];
        assert_eq!(test["alert_rule_test"][0]["exp_alerts"], json!([]), "pending is not firing");
        assert_eq!(
            test["alert_rule_test"][1]["exp_alerts"],
            json!([{ "exp_labels": { "node": "a" }, "exp_annotations": { "summary": "s" } }])
        );
        assert_eq!(test["alert_rule_test"][1]["eval_time"], "2m");
        assert_eq!(
            test["promql_expr_test"][0]["exp_samples"][0]["labels"],
            r#"ALERTS{alertname="A", alertstate="pending", node="a"}"#
        );
        assert_eq!(test["promql_expr_test"][2]["exp_samples"], json!([]), "resolved");
    }
}
