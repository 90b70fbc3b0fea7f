//! The real engine over past data: backfill the series, serve them with Prometheus,
//! evaluate the recording rules layer by layer and load their results, evaluate each alert's
//! expression at its group's interval, and run the alert state machine.
//!
//! Recording rules are evaluated with `query_range` by the same Prometheus at the group's
//! evaluation times and written back with `promtool tsdb create-blocks-from openmetrics`,
//! not with `promtool tsdb create-blocks-from rules`: that command evaluates each group at
//! times offset by a hash of the group's name and the rule file's path (`Group.EvalTimestamp`
//! in rules/group.go), so an alert in the same group would read the previous evaluation's
//! recording instead of the current one, as Prometheus' in-group order guarantees.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stack_client::{ApiError, Prometheus};

use crate::alert_state::{self, Episodes, LabelSet, Millis, Timeline};
use crate::backfill::backfill;
use crate::facts::ExprFacts;
use crate::facts::{self, ExprError};
use crate::openmetrics::{self, SeriesSet};
use crate::rules::{RuleGroup, RuleKind};
use crate::server::{Server, ServerError, ServerOptions};
use crate::tools::{ToolError, Tools};

/// Prometheus refuses a range query of more than 11,000 points per series.
const MAX_POINTS: i64 = 10_000;

/// How long one query may take: `predict_linear` over hours of a fleet takes tens of seconds.
const QUERY_TIMEOUT: Duration = Duration::from_secs(300);

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// promtool or prometheus is missing or failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// The Prometheus server.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A rule's expression does not parse, or recording rules form a cycle.
    #[error(transparent)]
    Expr(#[from] ExprError),
    /// A query failed (Prometheus' message names the problem).
    #[error("rule {rule}: {cause}")]
    Query {
        /// The rule.
        rule: String,
        /// The API error.
        cause: ApiError,
    },
    /// Two series of an alert's result have the same labels once `__name__` is dropped
    /// and the rule's labels added: Prometheus fails such an evaluation.
    #[error(
        "alert {alert}: vector contains metrics with the same labelset after applying alert labels, at {at} ms"
    )]
    DuplicateLabelSet {
        /// The alert.
        alert: String,
        /// The evaluation time.
        at: Millis,
    },
    /// A file of the work folder.
    #[error("{path}: {cause}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(ApiError),
}

/// How to run the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// promtool and prometheus.
    pub tools: Tools,
    /// A folder of its own for blocks, rule files and Prometheus' log (created; emptied
    /// of an earlier run's blocks).
    pub work_dir: PathBuf,
    /// The interval of groups that set none (the global `evaluation_interval`).
    pub default_interval: Duration,
    /// The period of the scraped series. Backfilled series carry no staleness markers: an
    /// instant selector at `t` sees a series' latest sample in `(t - lookback, t]` (left-open
    /// in Prometheus 3, `vectorSelectorSingle` in promql/engine.go). A series sampled every
    /// `p` on a grid then has exactly one grid time in any window when the lookback is `p`,
    /// so it vanishes at the first grid time without a sample, where a live Prometheus writes
    /// its stale marker (a failed scrape; a recording rule's series absent at an evaluation).
    /// So each rule's query gets its own lookback ([`lookback_for`]): the scrape interval
    /// for scraped series, a group's interval for what that group records, the longest of
    /// those it reads. Shorter, a series would flicker between its samples; longer, it
    /// lingers `lookback - p` past its last one.
    pub scrape_interval: Duration,
}

/// The time range evaluated, inclusive (milliseconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// The first time.
    pub start: Millis,
    /// The last time.
    pub end: Millis,
}

/// One alerting rule's results.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertOutcome {
    /// Its group.
    pub group: String,
    /// Its name.
    pub alert: String,
    /// Its group's evaluation interval.
    pub interval: Duration,
    /// Its expression's result at each evaluation (identifying label sets).
    pub timeline: Timeline,
    /// Its episodes per label set.
    pub episodes: Episodes,
}

/// Where the time went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// `promtool tsdb create-blocks-from openmetrics` of the input.
    pub backfill: Duration,
    /// Starting Prometheus (first start).
    pub start: Duration,
    /// Recording rules: queries, backfill, restarts.
    pub recording: Duration,
    /// Alert expressions' queries and the state machine.
    pub alerts: Duration,
    /// All of it.
    pub total: Duration,
}

/// The engine's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Per alerting rule, in rule-file order.
    pub alerts: Vec<AlertOutcome>,
    /// Where the time went.
    pub timings: Timings,
}

/// The evaluation times of a group of `interval` over `range`: multiples of the interval
/// from the epoch (offset 0), from the first at or after `start` to the last at or before
/// `end`.
pub fn eval_times(range: TimeRange, interval: Duration) -> Vec<Millis> {
    let step = Millis::try_from(interval.as_millis()).unwrap_or(Millis::MAX).max(1);
    let first =
        range.start.div_euclid(step) * step + if range.start.rem_euclid(step) == 0 { 0 } else { step };
    (0..).map(|i| first + i * step).take_while(|t| *t <= range.end).collect()
}

/// `times` cut into runs of at most [`MAX_POINTS`], each one range query.
fn chunks(times: &[Millis]) -> impl Iterator<Item = (Millis, Millis)> + '_ {
    times.chunks(MAX_POINTS as usize).filter_map(|c| Some((*c.first()?, *c.last()?)))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |cause| EngineError::Io { path: path.to_owned(), cause }
}

/// The lookback delta to evaluate `expr` with: the longest sampling period among the series
/// it reads, the scrape interval for scraped series and the recording group's interval for
/// recorded ones (`periods`). Prometheus' selectors see `(t - lookback, t]`, so with the
/// lookback equal to a series' period it vanishes at its first missing sample, where a live
/// Prometheus writes its stale marker. A selector without a fixed name may read any of them.
pub fn lookback_for(
    facts: &ExprFacts,
    periods: &BTreeMap<String, Duration>,
    scrape_interval: Duration,
) -> Duration {
    let recorded = |m: &String| periods.get(m).copied();
    let mut lookback = Duration::ZERO;
    if facts.unnamed_selector {
        lookback = periods.values().copied().fold(scrape_interval, Duration::max);
    }
    for m in &facts.metrics {
        lookback = lookback.max(recorded(m).unwrap_or(scrape_interval));
    }
    if lookback.is_zero() { scrape_interval } else { lookback }
}

/// Each recorded name's period: the interval of the group recording it (the longest, if
/// several do).
pub fn record_periods(groups: &[RuleGroup], default_interval: Duration) -> BTreeMap<String, Duration> {
    let mut out: BTreeMap<String, Duration> = BTreeMap::new();
    for g in groups {
        for r in &g.rules {
            if let RuleKind::Record(name) = &r.kind {
                let period = out.entry(name.clone()).or_default();
                *period = (*period).max(g.interval_or(default_interval));
            }
        }
    }
    out
}

/// `expr` evaluated at every time of `times` (which share one step) with `lookback`: each
/// series' labels and the (time, value) samples it had.
async fn query_at(
    prom: &Prometheus,
    rule: &str,
    expr: &str,
    times: &[Millis],
    step: Duration,
    lookback: Duration,
) -> Result<SeriesSet, EngineError> {
    let mut out = SeriesSet::new();
    for (first, last) in chunks(times) {
        let series = prom
            .query_range(
                expr,
                first as f64 / 1e3,
                last as f64 / 1e3,
                step.as_secs_f64(),
                Some(lookback.as_secs_f64()),
            )
            .await
            .map_err(|cause| EngineError::Query { rule: rule.to_owned(), cause })?;
        for s in series {
            let samples = out.entry(s.metric).or_default();
            samples.extend(
                s.values.iter().map(|(t, v)| ((t * 1e3).round() as Millis, v.parse().unwrap_or(f64::NAN))),
            );
        }
    }
    Ok(out)
}

/// Evaluates `groups` over the series in `openmetrics` (timestamped OpenMetrics text ending
/// `# EOF`) in `range`, with the real Prometheus: per alerting rule, its episodes.
pub async fn evaluate(
    openmetrics: &Path,
    groups: &[RuleGroup],
    range: TimeRange,
    config: &EngineConfig,
) -> Result<Outcome, EngineError> {
    let began = Instant::now();
    let mut timings = Timings::default();
    let layers = facts::recording_layers(groups)?;
    let periods = record_periods(groups, config.default_interval);
    // Each rule's lookback, indexed as the groups and rules (parsing checks every expression).
    let lookbacks = groups
        .iter()
        .map(|g| {
            g.rules
                .iter()
                .map(|r| {
                    let f = facts::expr_facts(&r.expr)
                        .map_err(|cause| ExprError { rule: r.name().to_owned(), cause })?;
                    Ok(lookback_for(&f, &periods, config.scrape_interval))
                })
                .collect::<Result<Vec<Duration>, ExprError>>()
        })
        .collect::<Result<Vec<_>, ExprError>>()?;

    let work = &config.work_dir;
    let data = work.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(io(&data))?;
    }
    std::fs::create_dir_all(&data).map_err(io(&data))?;

    let t = Instant::now();
    backfill(&config.tools, openmetrics, &data, work)?;
    timings.backfill = t.elapsed();

    let now = Millis::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis())
        .unwrap_or(Millis::MAX);
    let age = Duration::from_millis(u64::try_from(now.saturating_sub(range.start)).unwrap_or(0));
    let day = Duration::from_secs(86_400);
    let options = ServerOptions {
        data_dir: data.clone(),
        work_dir: work.clone(),
        // Whole days past the data's age, so nothing is deleted at start.
        retention: day * (u32::try_from(age.as_secs() / 86_400).unwrap_or(u32::MAX / 2) + 2),
        // Every rule's query names its own; this is for anything else.
        lookback_delta: periods.values().copied().fold(config.scrape_interval, Duration::max),
    };
    let http = stack_client::http_client(QUERY_TIMEOUT).map_err(EngineError::Client)?;
    let t = Instant::now();
    let mut server = Server::start(&config.tools, options, http).await?;
    timings.start = t.elapsed();

    let t = Instant::now();
    for (i, layer) in layers.iter().enumerate() {
        let prom = server.client();
        let mut recorded = SeriesSet::new();
        for &(gi, ri) in layer {
            let (group, rule) = (&groups[gi], &groups[gi].rules[ri]);
            let interval = group.interval_or(config.default_interval);
            let times = eval_times(range, interval);
            let result =
                query_at(&prom, rule.name(), &rule.expr, &times, interval, lookbacks[gi][ri]).await?;
            for (mut labels, samples) in result {
                // As Prometheus: the rule's labels override the result's, then the name.
                labels.extend(rule.labels.clone());
                labels.insert("__name__".into(), rule.name().to_owned());
                recorded.entry(labels).or_default().extend(samples);
            }
        }
        if recorded.is_empty() {
            continue;
        }
        let file = work.join(format!("recorded-{i}.om"));
        std::fs::write(&file, openmetrics::write(&recorded)).map_err(io(&file))?;
        server.stop().await;
        backfill(&config.tools, &file, &data, work)?;
        server.restart().await?;
    }
    timings.recording = t.elapsed();

    let t = Instant::now();
    let prom = server.client();
    let mut alerts = Vec::new();
    for (group, lookbacks) in groups.iter().zip(&lookbacks) {
        let interval = group.interval_or(config.default_interval);
        let times = eval_times(range, interval);
        for (rule, lookback) in group.rules.iter().zip(lookbacks) {
            let RuleKind::Alert(name) = &rule.kind else { continue };
            let result = query_at(&prom, name, &rule.expr, &times, interval, *lookback).await?;
            let timeline = alert_timeline(name, &rule.labels, result, times.clone())?;
            let episodes = alert_state::episodes(&timeline, rule.for_, rule.keep_firing_for);
            alerts.push(AlertOutcome {
                group: group.name.clone(),
                alert: name.to_owned(),
                interval,
                timeline,
                episodes,
            });
        }
    }
    timings.alerts = t.elapsed();
    server.stop().await;
    timings.total = began.elapsed();
    Ok(Outcome { alerts, timings })
}

/// An alert expression's result as identifying label sets, as `AlertingRule.Eval` makes
/// them: `__name__` dropped, the rule's labels set (templates left as written), `alertname`.
pub fn alert_timeline(
    alert: &str,
    rule_labels: &BTreeMap<String, String>,
    result: SeriesSet,
    eval_times: Vec<Millis>,
) -> Result<Timeline, EngineError> {
    let mut present: BTreeMap<LabelSet, std::collections::BTreeSet<Millis>> = BTreeMap::new();
    for (mut labels, samples) in result {
        labels.remove("__name__");
        labels.extend(rule_labels.clone());
        labels.insert("alertname".into(), alert.to_owned());
        let times = present.entry(labels).or_default();
        for (t, _) in samples {
            if !times.insert(t) {
                return Err(EngineError::DuplicateLabelSet { alert: alert.to_owned(), at: t });
            }
        }
    }
    Ok(Timeline { eval_times, present })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluation_times_are_multiples_of_the_interval_inside_the_range() {
        let r = TimeRange { start: 61_000, end: 240_000 };
        assert_eq!(eval_times(r, Duration::from_secs(60)), [120_000, 180_000, 240_000]);
        let r = TimeRange { start: 60_000, end: 119_999 };
        assert_eq!(eval_times(r, Duration::from_secs(60)), [60_000]);
        assert_eq!(eval_times(TimeRange { start: 5, end: 4 }, Duration::from_secs(1)), Vec::<Millis>::new());
    }

    #[test]
    fn long_ranges_are_split_below_prometheus_point_limit() {
        let times: Vec<Millis> = (0..25_000).map(|i| i * 1000).collect();
        let c: Vec<_> = chunks(&times).collect();
        assert_eq!(c, [(0, 9_999_000), (10_000_000, 19_999_000), (20_000_000, 24_999_000)]);
    }

    #[test]
    fn alert_label_sets_drop_the_name_add_rule_labels_and_refuse_duplicates() {
        let series = |name: &str, node: &str| {
            LabelSet::from([("__name__".into(), name.into()), ("node".into(), node.into())])
        };
        let rule_labels = BTreeMap::from([("severity".to_owned(), "page".to_owned())]);
        let mut result = SeriesSet::new();
        result.insert(series("up", "a"), vec![(0, 0.0), (60_000, 0.0)]);
        let tl = alert_timeline("Down", &rule_labels, result.clone(), vec![0, 60_000]).expect("unique");
        let expected = LabelSet::from([
            ("alertname".into(), "Down".into()),
            ("node".into(), "a".into()),
            ("severity".into(), "page".into()),
        ]);
        assert_eq!(tl.present[&expected], [0, 60_000].into());
        result.insert(series("other", "a"), vec![(60_000, 1.0)]);
        let err = alert_timeline("Down", &rule_labels, result, vec![0, 60_000]).expect_err("same labels");
        assert!(err.to_string().contains("same labelset"), "{err}");
    }
}
