//! `promtool test rules` files generated from the engine's own inputs and outputs: the same
//! input series, and at chosen evaluation times the alerts the state machine says are
//! firing (`alert_rule_test`, which checks firing alerts with their labels and
//! annotations) and the whole `ALERTS` series, pending and firing (`promql_expr_test`). If
//! promtool passes it, Prometheus' own rule manager agrees with [`crate::alert_state`].
//!
//! [`run_test`] makes such a file from a whole engine run ([`write_run_test`] from its
//! OpenMetrics file): the input series as a live Prometheus would have stored them, with a
//! `stale` marker at the first failed scrape of each series ([`input_series_live`]), so
//! promtool's rule manager sees raw and recorded series vanish exactly as live, and the
//! engine (backfilled blocks without stale markers, a lookback delta instead) must agree.
//!
//! promtool evaluates every group at the file's `evaluation_interval` (group intervals are
//! ignored: `cmd/promtool/unittest.go` calls `Group.Eval` for every group at every step)
//! from time 0 (promtool 3.5 has no `start_timestamp`), so times are written relative to
//! the series' start, which must be a multiple of that interval for the two evaluation
//! grids to match. Its query engine keeps Prometheus' default lookback delta (5 min) and
//! allows 10,000 samples per query.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::alert_state::{self, Episodes, LabelSet, Millis, State};
use crate::duration;
use crate::engine::{self, Outcome, TimeRange};
use crate::openmetrics::{self, SeriesSet};
use crate::rules::{self, RuleGroup};

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
    /// Its annotations as the rule writes them; `None` leaves the alert out of
    /// `alert_rule_test` (templated annotations: promtool compares them expanded), its
    /// `ALERTS` series are still checked.
    pub annotations: Option<&'a BTreeMap<String, String>>,
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
    notation(series, start, interval, None)
}

/// `series` as a live Prometheus would have stored them, scraped every `interval` from
/// `start` to `end`: as [`input_series`], and `stale` at the first grid time without a
/// sample after one with a sample, up to `end`. That is the stale marker a live
/// Prometheus writes when a target's scrape fails or a series leaves its exposition
/// (`scrape.go`, the scrape at that time) and what makes the series vanish there;
/// OpenMetrics text, and so the engine's backfilled blocks, cannot carry it.
pub fn input_series_live(
    series: &SeriesSet,
    start: Millis,
    interval: Duration,
    end: Millis,
) -> Result<Vec<InputSeries>, String> {
    notation(series, start, interval, Some(end))
}

fn notation(
    series: &SeriesSet,
    start: Millis,
    interval: Duration,
    stale_until: Option<Millis>,
) -> Result<Vec<InputSeries>, String> {
    let step = Millis::try_from(interval.as_millis()).unwrap_or(Millis::MAX).max(1);
    let last_slot = stale_until.map(|end| (end - start).div_euclid(step));
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
        let last_sample = slots.keys().next_back().copied().unwrap_or(-1);
        // One slot further for the stale marker after the last sample, if scraped then.
        let last = match last_slot {
            Some(end) if last_sample >= 0 && last_sample < end => last_sample + 1,
            _ => last_sample,
        };
        let values: Vec<String> = (0..=last)
            .map(|i| match slots.get(&i) {
                Some(v) => openmetrics::value(*v),
                None if last_slot.is_some() && i > 0 && slots.contains_key(&(i - 1)) => "stale".to_owned(),
                None => "_".to_owned(),
            })
            .collect();
        out.push(InputSeries { series: series_text(labels), values: values.join(" ") });
    }
    Ok(out)
}

/// A test file (JSON, which promtool reads as YAML): `rule_files`, the input series, and at
/// each of `at` (absolute times) the firing alerts and the `ALERTS` series of `expected`
/// (less those of the alerts named in `unchecked`).
#[allow(clippy::too_many_arguments)]
pub fn test_file(
    rule_files: &[String],
    evaluation_interval: Duration,
    start: Millis,
    input_interval: Duration,
    input: &[InputSeries],
    expected: &[Expected<'_>],
    at: &[Millis],
    unchecked: &[String],
) -> Value {
    let alerts_expr = if unchecked.is_empty() {
        "ALERTS".to_owned()
    } else {
        let names: Vec<String> = unchecked.iter().map(|n| regex_escape(n)).collect();
        format!("ALERTS{{alertname!~{}}}", Value::String(names.join("|")))
    };
    let rel = |t: Millis| duration::format(Duration::from_millis(u64::try_from(t - start).unwrap_or(0)));
    let mut alert_cases = Vec::new();
    let mut alerts_series = Vec::new();
    for &t in at {
        let mut samples = Vec::new();
        for e in expected {
            let active = alert_state::active_at(e.episodes, t);
            if let Some(annotations) = e.annotations {
                let firing: Vec<Value> = active
                    .iter()
                    .filter(|(_, s)| **s == State::Firing)
                    .map(|(labels, _)| {
                        let mut exp_labels = labels.clone();
                        exp_labels.remove("alertname");
                        json!({ "exp_labels": exp_labels, "exp_annotations": annotations })
                    })
                    .collect();
                alert_cases.push(json!({ "eval_time": rel(t), "alertname": e.alert, "exp_alerts": firing }));
            }
            for (labels, state) in active {
                let mut l = labels.clone();
                l.insert("__name__".into(), "ALERTS".into());
                let word = if state == State::Firing { "firing" } else { "pending" };
                l.insert("alertstate".into(), word.into());
                samples.push(json!({ "labels": series_text(&l), "value": 1 }));
            }
        }
        alerts_series.push(json!({ "expr": alerts_expr, "eval_time": rel(t), "exp_samples": samples }));
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

/// `name` as a regular expression matching exactly it (RE2 metacharacters escaped).
fn regex_escape(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Up to this many evaluations, a run's test checks every one; beyond, only those around a
/// change ([`checked_times`]).
pub const CHECK_EVERY_UP_TO: usize = 1_000;

/// The evaluations of `eval_times` worth checking: all of them if there are at most
/// [`CHECK_EVERY_UP_TO`], else the first, the last, and every evaluation where any alert's
/// pending and firing label sets differ from the evaluation before, with the one before and
/// the one after it.
pub fn checked_times(eval_times: &[Millis], alerts: &[&Episodes]) -> Vec<Millis> {
    if eval_times.len() <= CHECK_EVERY_UP_TO {
        return eval_times.to_vec();
    }
    let state = |t: Millis| -> Vec<BTreeMap<LabelSet, State>> {
        alerts.iter().map(|e| alert_state::active_at(e, t)).collect()
    };
    let mut keep = BTreeSet::new();
    keep.extend(eval_times.first().copied());
    keep.extend(eval_times.last().copied());
    let mut before = eval_times.first().map(|t| state(*t));
    for (i, &t) in eval_times.iter().enumerate().skip(1) {
        let now = state(t);
        if before.as_ref() != Some(&now) {
            keep.extend(eval_times[i - 1..].iter().take(3).copied());
        }
        before = Some(now);
    }
    keep.into_iter().collect()
}

/// What [`run_test`] makes a run's test file of.
#[derive(Debug, Clone, Copy)]
pub struct RunInput<'a> {
    /// The rules the engine evaluated.
    pub groups: &'a [RuleGroup],
    /// The interval of groups that set none.
    pub default_interval: Duration,
    /// Between two scrapes: the series lie on this grid from `range.start`.
    pub scrape_interval: Duration,
    /// The range the engine evaluated; its end is the last scrape the series could have.
    pub range: TimeRange,
    /// The series the engine was fed (raw series: promtool records the rules itself).
    pub series: &'a SeriesSet,
    /// What the engine computed from them.
    pub outcome: &'a Outcome,
    /// The rule file as the test file names it (relative to the test file's folder).
    pub rule_file: &'a str,
}

/// A run's `promtool test rules` file and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct RunTest {
    /// The test file (JSON, which promtool reads as YAML).
    pub file: Value,
    /// Input series.
    pub series: usize,
    /// Evaluations in the run.
    pub evaluations: usize,
    /// Evaluations checked (all of them up to [`CHECK_EVERY_UP_TO`]).
    pub checked: usize,
    /// What is left unchecked and why, one sentence each.
    pub notes: Vec<String>,
}

/// A `promtool test rules` file proving the engine's outcome of a run equal to Prometheus'
/// own rule manager: the run's series as live Prometheus stores them (stale markers
/// included), the rules, and at each checked evaluation every alert's firing alerts
/// (labels and annotations) and its pending and firing `ALERTS` series.
///
/// Refused when promtool cannot reproduce the run's evaluation grid: groups evaluated at
/// different intervals, or a range start off the evaluation or scrape grid. Alerts with
/// templated labels are left out (the engine does not expand templates; promtool does), and
/// alerts with templated annotations are checked through `ALERTS` only; [`RunTest::notes`]
/// says which.
pub fn run_test(input: &RunInput<'_>) -> Result<RunTest, String> {
    let intervals: BTreeSet<Duration> =
        input.groups.iter().map(|g| g.interval_or(input.default_interval)).collect();
    if intervals.len() > 1 {
        let list: Vec<String> = intervals.iter().map(|d| duration::format(*d)).collect();
        return Err(format!(
            "the groups are evaluated at different intervals ({}); promtool test rules evaluates every \
             group at one interval",
            list.join(", ")
        ));
    }
    let interval = intervals.first().copied().unwrap_or(input.default_interval);
    let ms = |d: Duration| Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX).max(1);
    let start = input.range.start;
    if start.rem_euclid(ms(interval)) != 0 || start.rem_euclid(ms(input.scrape_interval)) != 0 {
        return Err(format!(
            "the run starts at {start} ms, not a multiple of the evaluation interval ({}) and the \
             scrape interval ({}): promtool evaluates from the series' start",
            duration::format(interval),
            duration::format(input.scrape_interval)
        ));
    }
    let series = input_series_live(input.series, start, input.scrape_interval, input.range.end)?;
    let eval_times = engine::eval_times(input.range, interval);

    // Per alert name (promtool checks all rules of a name together), in rule-file order.
    struct ByName<'a> {
        name: &'a str,
        episodes: Episodes,
        annotations: Option<&'a BTreeMap<String, String>>,
        checked: bool,
    }
    let mut names: Vec<ByName<'_>> = Vec::new();
    let mut notes = Vec::new();
    let rules = input.groups.iter().flat_map(|g| g.alerts());
    for ((name, rule), outcome) in rules.zip(&input.outcome.alerts) {
        if outcome.alert != name {
            return Err(format!("the outcome's alert {} is not the rules' {name}", outcome.alert));
        }
        let templated_annotations = rule.annotations.values().any(|v| v.contains("{{"));
        let annotations = (!templated_annotations).then_some(&rule.annotations);
        match names.iter_mut().find(|n| n.name == name) {
            Some(n) => {
                if n.annotations != annotations {
                    n.annotations = None;
                }
                for (labels, eps) in &outcome.episodes {
                    if n.episodes.insert(labels.clone(), eps.clone()).is_some() {
                        n.checked = false;
                    }
                }
            }
            None => {
                names.push(ByName { name, episodes: outcome.episodes.clone(), annotations, checked: true })
            }
        }
        if !rule.templated_labels().is_empty() {
            names.iter_mut().filter(|n| n.name == name).for_each(|n| n.checked = false);
        }
    }
    let mut unchecked = Vec::new();
    for n in &names {
        if !n.checked {
            notes.push(format!(
                "{}: not checked: templated labels (the engine keeps them as written) or two rules of \
                 that name returning the same labels",
                n.name
            ));
            unchecked.push(n.name.to_owned());
        } else if n.annotations.is_none() {
            notes.push(format!(
                "{}: checked through ALERTS only: its annotations are templated (promtool compares them \
                 expanded)",
                n.name
            ));
        }
    }
    let expected: Vec<Expected<'_>> = names
        .iter()
        .filter(|n| n.checked)
        .map(|n| Expected { alert: n.name, annotations: n.annotations, episodes: &n.episodes })
        .collect();
    let all: Vec<&Episodes> = names.iter().map(|n| &n.episodes).collect();
    let at = checked_times(&eval_times, &all);
    let file = test_file(
        &[input.rule_file.to_owned()],
        interval,
        start,
        input.scrape_interval,
        &series,
        &expected,
        &at,
        &unchecked,
    );
    Ok(RunTest { file, series: series.len(), evaluations: eval_times.len(), checked: at.len(), notes })
}

/// Where [`write_run_test`] put the files, and what the test holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The test file.
    pub test: PathBuf,
    /// The rule file beside it.
    pub rules: PathBuf,
    /// The test.
    pub run: RunTest,
}

/// [`run_test`] over the series of `openmetrics` (the file the engine backfilled), written
/// to `path` with the rules (as [`rules::to_rule_file`] writes them) beside it as
/// `<path's stem>.rules.yml`. Check it with `promtool test rules <path>`.
pub fn write_run_test(
    path: &Path,
    openmetrics: &Path,
    groups: &[RuleGroup],
    default_interval: Duration,
    scrape_interval: Duration,
    range: TimeRange,
    outcome: &Outcome,
) -> Result<Written, String> {
    let text = std::fs::read_to_string(openmetrics).map_err(|e| format!("{}: {e}", openmetrics.display()))?;
    let series = openmetrics::read(&text).map_err(|e| format!("{}: {e}", openmetrics.display()))?;
    drop(text);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("promtool-test");
    let rule_name = format!("{stem}.rules.yml");
    let rules_path = path.with_file_name(&rule_name);
    let input = RunInput {
        groups,
        default_interval,
        scrape_interval,
        range,
        series: &series,
        outcome,
        rule_file: &rule_name,
    };
    let run = run_test(&input)?;
    std::fs::write(&rules_path, rules::to_rule_file(groups, default_interval))
        .map_err(|e| format!("{}: {e}", rules_path.display()))?;
    let text = serde_json::to_string_pretty(&run.file).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Written { test: path.to_owned(), rules: rules_path, run })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert_state::Episode;
    use std::path::Path;

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
        let expected = [Expected { alert: "A", annotations: Some(&ann), episodes: &eps }];
        let file = test_file(
            &["r.yml".into()],
            Duration::from_secs(60),
            0,
            Duration::from_secs(60),
            &[],
            &expected,
            &[60_000, 120_000, 180_000],
            &[],
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
        assert_eq!(test["promql_expr_test"][0]["expr"], "ALERTS");

        // Templated annotations: ALERTS only; an unchecked alert is left out of ALERTS.
        let expected = [Expected { alert: "A", annotations: None, episodes: &eps }];
        let file = test_file(
            &[],
            Duration::from_secs(60),
            0,
            Duration::from_secs(60),
            &[],
            &expected,
            &[0],
            &["B.x".into(), "C".into()],
        );
        assert_eq!(file["tests"][0]["alert_rule_test"], json!([]));
        assert_eq!(file["tests"][0]["promql_expr_test"][0]["expr"], r#"ALERTS{alertname!~"B\\.x|C"}"#);
    }

    fn labels(name: &str, node: &str) -> LabelSet {
        LabelSet::from([("__name__".into(), name.into()), ("node".into(), node.into())])
    }

    #[test]
    fn live_input_marks_the_first_missing_scrape_stale_as_prometheus_does() {
        let m = 60_000;
        let set = SeriesSet::from([
            // Scraped at 0, 1; failed at 2, 3; back at 4; failed from 5 to the end (6).
            (labels("x", "a"), vec![(0, 1.0), (m, 2.0), (4 * m, 3.0)]),
            // Present to the end: nothing to mark.
            (labels("x", "b"), (0..=6).map(|i| (i * m, 1.0)).collect()),
            // Appears late, ends at the last scrape of the run.
            (labels("x", "c"), vec![(5 * m, 1.0), (6 * m, 1.0)]),
        ]);
        let got = input_series_live(&set, 0, Duration::from_secs(60), 6 * m).expect("on the grid");
        let values: Vec<&str> = got.iter().map(|s| s.values.as_str()).collect();
        assert_eq!(values, ["1.0 2.0 stale _ 3.0 stale", "1.0 1.0 1.0 1.0 1.0 1.0 1.0", "_ _ _ _ _ 1.0 1.0"]);
        // The run ends before the next scrape: no marker past its end.
        let got = input_series_live(&set, 0, Duration::from_secs(60), 4 * m + 59_999).expect("on the grid");
        assert_eq!(got[0].values, "1.0 2.0 stale _ 3.0");
        // Without a run's end (crafted inputs), no markers.
        assert_eq!(
            input_series(&set, 0, Duration::from_secs(60)).expect("grid")[0].values,
            "1.0 2.0 _ _ 3.0"
        );
    }

    fn one_alert(pending: Millis, firing: Option<Millis>, resolved: Option<Millis>) -> Episodes {
        let labels = LabelSet::from([("alertname".into(), "A".into()), ("node".into(), "a".into())]);
        Episodes::from([(
            labels,
            vec![Episode { pending_at: pending, firing_at: firing, resolved_at: resolved }],
        )])
    }

    #[test]
    fn long_runs_check_the_evaluations_around_each_change() {
        let short: Vec<Millis> = (0..10).collect();
        let eps = one_alert(3, Some(5), Some(7));
        assert_eq!(checked_times(&short, &[&eps]), short, "a short run checks every evaluation");
        let long: Vec<Millis> = (0..(CHECK_EVERY_UP_TO as Millis + 500)).collect();
        let eps = one_alert(100, Some(200), Some(300));
        let last = long.len() as Millis - 1;
        assert_eq!(
            checked_times(&long, &[&eps]),
            [0, 99, 100, 101, 199, 200, 201, 299, 300, 301, last],
            "first, last, and each change with its neighbours"
        );
    }

    fn outcome_of(groups: &[RuleGroup], episodes: Episodes, interval: Duration) -> Outcome {
        let alerts = groups
            .iter()
            .flat_map(|g| g.alerts().map(move |(name, _)| (g, name)))
            .map(|(g, name)| crate::engine::AlertOutcome {
                group: g.name.clone(),
                alert: name.to_owned(),
                interval,
                timeline: alert_state::Timeline::default(),
                episodes: episodes.clone(),
            })
            .collect();
        Outcome { alerts, timings: crate::engine::Timings::default() }
    }

    #[test]
    fn a_run_test_needs_one_evaluation_grid_and_notes_what_it_leaves_out() {
        let text = r#"
groups:
  - name: g
    interval: 1m
    rules:
      - alert: Plain
        expr: x > 1
        annotations: {summary: static}
      - alert: Annotated
        expr: x > 1
        annotations: {summary: "{{ $labels.node }}"}
      - alert: Templated
        expr: x > 1
        labels: {who: "{{ $labels.node }}"}
"#;
        let groups = crate::load::parse_text(text, Path::new("r.yml")).expect("valid");
        let m = 60_000;
        let outcome = outcome_of(&groups, one_alert(m, Some(2 * m), None), Duration::from_secs(60));
        let set = SeriesSet::from([(labels("x", "a"), vec![(3_600_000, 2.0), (3_600_000 + m, 2.0)])]);
        let input = RunInput {
            groups: &groups,
            default_interval: Duration::from_secs(60),
            scrape_interval: Duration::from_secs(60),
            range: TimeRange { start: 3_600_000, end: 3_600_000 + 3 * m },
            series: &set,
            outcome: &outcome,
            rule_file: "r.rules.yml",
        };
        let run = run_test(&input).expect("one grid");
        assert_eq!((run.series, run.evaluations, run.checked), (1, 4, 4));
        let test = &run.file["tests"][0];
        assert_eq!(test["input_series"][0]["values"], "2.0 2.0 stale");
        let names: BTreeSet<&str> = test["alert_rule_test"]
            .as_array()
            .expect("cases")
            .iter()
            .filter_map(|c| c["alertname"].as_str())
            .collect();
        assert_eq!(names, BTreeSet::from(["Plain"]));
        assert_eq!(test["promql_expr_test"][0]["expr"], r#"ALERTS{alertname!~"Templated"}"#);
        assert_eq!(run.notes.len(), 2, "{:?}", run.notes);
        assert!(run.notes[0].starts_with("Annotated: checked through ALERTS only"), "{:?}", run.notes);
        assert!(run.notes[1].starts_with("Templated: not checked"), "{:?}", run.notes);
        assert_eq!(run.file["evaluation_interval"], "1m");

        let off = RunInput { range: TimeRange { start: 3_600_000 + 30_000, end: 3_700_000 }, ..input };
        assert!(run_test(&off).expect_err("off the grid").contains("not a multiple"));
        let mut two = groups.clone();
        two[0].interval = Some(Duration::from_secs(30));
        two.extend(groups.clone());
        let outcome = outcome_of(&two, Episodes::new(), Duration::from_secs(60));
        let err = run_test(&RunInput { groups: &two, outcome: &outcome, ..input }).expect_err("two grids");
        assert!(err.contains("different intervals (30s, 1m)"), "{err}");
    }
}
