//! What really happened, read from the sources an incident review trusts: each node's
//! record of the drill's sealed faults (start, end, why it ended), Prometheus (every
//! alert's pending, firing and resolved times from `ALERTS` and `ALERTS_FOR_STATE`, and
//! the impact on requests), and the alert sink (each notification as it was delivered).
//!
//! A source that does not answer is noted in `problems` and the rest is still gathered:
//! a report with a gap says so rather than failing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use stack_client::{AlertSink, ApiError, NodeError, Prometheus};

use edge_sim::api::SealedList;

use super::state::DrillState;
use stack_client::NodeClient;

/// A fault as its node recorded it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRecord {
    /// Index among the drill's faults.
    pub index: usize,
    /// Unix time it started.
    pub started_at: f64,
    /// Unix time it ended, if it has.
    pub ended_at: Option<f64>,
    /// `expired`, `cleared` or `replaced`.
    pub end_reason: Option<String>,
}

/// One run of one alert: from pending to resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRun {
    /// The alert.
    pub alertname: String,
    /// Its node, if it has one.
    pub node: Option<String>,
    /// Its severity.
    pub severity: Option<String>,
    /// The other labels that tell runs of one alert apart (SLO windows), `k=v` joined.
    pub detail: String,
    /// When it became active (pending), from `ALERTS_FOR_STATE`.
    pub pending_at: Option<f64>,
    /// The first evaluation seen firing.
    pub firing_at: Option<f64>,
    /// The first evaluation after its last firing one; `None` while it fires.
    pub resolved_at: Option<f64>,
}

pub use stack_client::Notice;

/// One impact figure and the PromQL that gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// What it counts.
    pub what: String,
    /// The query, evaluated at `Impact::at`.
    pub promql: String,
    /// Its value (`None` if Prometheus did not answer or had no data).
    pub value: Option<f64>,
}

/// The impact on the drill's nodes over the incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// Unix time the queries are evaluated at.
    pub at: f64,
    /// The window they look back over, seconds.
    pub window_s: u64,
    /// The figures.
    pub figures: Vec<Figure>,
}

/// Everything gathered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The faults, as the nodes recorded them.
    pub faults: Vec<FaultRecord>,
    /// Every alert run but the Watchdog's, in the drill's window, by firing time.
    pub alerts: Vec<AlertRun>,
    /// Every notification but the Watchdog's, in the drill's window, oldest first.
    pub notices: Vec<Notice>,
    /// Impact on requests.
    pub impact: Option<Impact>,
    /// Unix time the evidence was read.
    pub read_at: f64,
    /// Sources that did not answer.
    pub problems: Vec<String>,
}

/// How far before the drill alert runs are read, so one already firing at its start shows
/// its true start rather than the edge of the window.
const LOOKBACK_S: f64 = 300.0;

/// How long one question to Prometheus or the sink may take (the report's queries read
/// minutes of raw samples).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prometheus and the alert sink at these URLs, over one client with [`QUERY_TIMEOUT`].
pub fn sources(prometheus: &str, sink: &str) -> Result<(Prometheus, AlertSink), ApiError> {
    let http = stack_client::http_client(QUERY_TIMEOUT)?;
    Ok((Prometheus::new(http.clone(), prometheus), AlertSink::new(http, sink)))
}

/// Reads it all. `now` is the current Unix time.
pub async fn gather(client: &NodeClient, state: &DrillState, now: f64) -> Evidence {
    let mut problems = Vec::new();
    let (prometheus, sink) = match sources(&state.prometheus, &state.sink) {
        Ok(s) => s,
        Err(e) => {
            let problems = vec![e.to_string()];
            return Evidence {
                faults: Vec::new(),
                alerts: Vec::new(),
                notices: Vec::new(),
                impact: None,
                read_at: now,
                problems,
            };
        }
    };
    let faults = match node_records(client, state).await {
        Ok(f) => f,
        Err(e) => {
            problems.push(e.to_string());
            Vec::new()
        }
    };
    let start = state.started_at.floor() - 1.0;
    let end = now.max(start + 1.0);
    let alerts = match alert_runs(&prometheus, start - LOOKBACK_S, end).await {
        // Alerts already firing when the drill began are context; ones over by then are not.
        Ok(a) => a.into_iter().filter(|r| r.resolved_at.is_none_or(|t| t >= start)).collect(),
        Err(e) => {
            problems.push(format!("Prometheus alerts: {e}"));
            Vec::new()
        }
    };
    let notices = match notices(&sink, start).await {
        Ok(n) => n,
        Err(e) => {
            problems.push(format!("alert sink: {e}"));
            Vec::new()
        }
    };
    let fault_start = faults.iter().map(|f| f.started_at).fold(f64::INFINITY, f64::min);
    let impact = if fault_start.is_finite() && fault_start < now {
        let nodes: Vec<u32> = state.faults.iter().map(|f| f.plan.node).collect();
        Some(impact(&prometheus, &nodes, fault_start, now).await)
    } else {
        None
    };
    Evidence { faults, alerts, notices, impact, read_at: now, problems }
}

async fn node_records(client: &NodeClient, state: &DrillState) -> Result<Vec<FaultRecord>, NodeError> {
    let mut out = Vec::new();
    let mut lists: BTreeMap<u32, SealedList> = BTreeMap::new();
    for (index, f) in state.faults.iter().enumerate() {
        let Some(id) = f.id else { continue };
        let node = f.plan.node;
        if let std::collections::btree_map::Entry::Vacant(slot) = lists.entry(node) {
            slot.insert(client.sealed(node, &state.key).await?);
        }
        if let Some(v) = lists.get(&node).and_then(|l| l.faults.iter().find(|v| v.fault.id == id)) {
            out.push(FaultRecord {
                index,
                started_at: v.fault.started_at,
                ended_at: v.ended_at,
                end_reason: v.end_reason.clone(),
            });
        }
    }
    Ok(out)
}

/// Labels that make one alert run distinct, without `alertstate`.
fn run_key(mut labels: BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels.remove("alertstate");
    labels.remove("__name__");
    labels
}

/// The raw samples of `selector` in `(start, end]`, by run key.
async fn raw(
    prometheus: &Prometheus,
    selector: &str,
    start: f64,
    end: f64,
) -> Result<Vec<(BTreeMap<String, String>, Vec<(f64, f64)>)>, ApiError> {
    let series = prometheus.raw(selector, start, end).await?;
    Ok(series.into_iter().map(|(labels, points)| (run_key(labels), points)).collect())
}

/// Every alert run in `[start, end]`: firing from the raw samples of `ALERTS` (each
/// evaluation that found it firing), pending from `ALERTS_FOR_STATE` (whose value is the
/// time the alert became active). A run ends at the first evaluation that no longer finds
/// it, one evaluation interval (measured from the samples) after its last firing sample.
pub async fn alert_runs(prometheus: &Prometheus, start: f64, end: f64) -> Result<Vec<AlertRun>, ApiError> {
    let firing = raw(prometheus, r#"ALERTS{alertstate="firing", alertname!="Watchdog"}"#, start, end).await?;
    let active: BTreeMap<_, _> = raw(prometheus, r#"ALERTS_FOR_STATE{alertname!="Watchdog"}"#, start, end)
        .await?
        .into_iter()
        .collect();
    let mut runs = Vec::new();
    for (key, points) in firing {
        let interval =
            points.windows(2).map(|w| w[1].0 - w[0].0).filter(|d| *d > 0.0).reduce(f64::min).unwrap_or(1.0);
        let label = |k: &str| key.get(k).cloned();
        let detail = key
            .iter()
            .filter(|(k, _)| {
                !["alertname", "node", "severity", "region", "job", "instance"].contains(&k.as_str())
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut i = 0;
        while i < points.len() {
            let mut j = i;
            while j + 1 < points.len() && points[j + 1].0 - points[j].0 <= interval * 2.5 {
                j += 1;
            }
            let (first, last) = (points[i].0, points[j].0);
            let pending_at = active.get(&key).and_then(|v| {
                v.iter().filter(|(t, _)| *t >= first - interval * 0.5).map(|(_, at)| at.min(first)).next()
            });
            // Still firing if its last sample is the newest evaluation Prometheus could have made.
            let resolved = last + interval;
            runs.push(AlertRun {
                alertname: label("alertname").unwrap_or_default(),
                node: label("node"),
                severity: label("severity"),
                detail: detail.clone(),
                pending_at,
                firing_at: Some(first),
                resolved_at: (resolved + interval < end).then_some(resolved),
            });
            i = j + 1;
        }
    }
    runs.sort_by(|a, b| a.firing_at.partial_cmp(&b.firing_at).unwrap_or(std::cmp::Ordering::Equal));
    Ok(runs)
}

/// The notifications the sink received since `since`, but the Watchdog's, oldest first.
pub async fn notices(sink: &AlertSink, since: f64) -> Result<Vec<Notice>, ApiError> {
    let mut all = sink.notifications(1000).await?;
    all.retain(|n| n.received_at >= since && n.alertname != "Watchdog");
    all.sort_by(|a, b| a.received_at.partial_cmp(&b.received_at).unwrap_or(std::cmp::Ordering::Equal));
    Ok(all)
}

/// The impact queries over `nodes` from `from` to `at`.
pub fn impact_queries(nodes: &[u32], window_s: u64) -> Vec<(String, String)> {
    let mut nodes = nodes.to_vec();
    nodes.sort_unstable();
    nodes.dedup();
    let sel = nodes.iter().map(u32::to_string).collect::<Vec<_>>().join("|");
    let w = format!("{window_s}s");
    vec![
        (
            "requests served".to_owned(),
            format!(r#"sum(increase(edge_http_requests_total{{node=~"{sel}"}}[{w}]))"#),
        ),
        (
            "requests failed (5xx)".to_owned(),
            format!(r#"sum(increase(edge_http_requests_total{{node=~"{sel}", status=~"5.."}}[{w}]))"#),
        ),
        (
            "requests slower than 0.25 s (the latency SLO)".to_owned(),
            format!(
                r#"sum(increase(edge_http_request_duration_seconds_count{{node=~"{sel}"}}[{w}])) - sum(increase(edge_http_request_duration_seconds_bucket{{node=~"{sel}", le="0.25"}}[{w}]))"#
            ),
        ),
        (
            "seconds a node could not be scraped".to_owned(),
            format!(r#"sum(count_over_time((up{{node=~"{sel}"}} == 0)[{w}:1s])) or vector(0)"#),
        ),
    ]
}

/// The impact figures over `nodes` from `from` to `at`.
pub async fn impact(prometheus: &Prometheus, nodes: &[u32], from: f64, at: f64) -> Impact {
    let window_s = (at - from).ceil().max(1.0) as u64;
    let mut figures = Vec::new();
    for (what, promql) in impact_queries(nodes, window_s) {
        let value = prometheus
            .query(&promql, Some(at))
            .await
            .ok()
            .and_then(|result| result.first().and_then(stack_client::Sample::number))
            .map(f64::round);
        figures.push(Figure { what, promql, value });
    }
    Impact { at, window_s, figures }
}
