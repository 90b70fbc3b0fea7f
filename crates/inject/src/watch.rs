//! Detection measurement: after an injection, poll Prometheus' and Alertmanager's HTTP APIs
//! and time each expected alert from injection to pending, to firing, to active in
//! Alertmanager, and from the fault's end to resolved. Also reports alerts nobody expected.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use stack_client::{Alertmanager, Prometheus};
use tokio::time::Instant;

/// How often the APIs are polled: a tenth of the 1 s scrape/evaluation interval.
const POLL: Duration = Duration::from_millis(100);
/// Longest wait for one answer. A later one is stale for a 1 s evaluation interval
/// anyway: the poll counts as failed and the next one retries.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Where to look and how long to wait.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Prometheus base URL.
    pub prometheus: String,
    /// Alertmanager base URL.
    pub alertmanager: String,
    /// Longest wait for an alert to fire, and for it to resolve after the fault ends; also
    /// the longest run of failed polls before the watch gives up.
    pub timeout: Duration,
    /// Longest wait for one answer of either API.
    pub request_timeout: Duration,
}

/// What happened to one expected alert, in seconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Timeline {
    /// Alert name.
    pub alert: String,
    /// Node number.
    pub node: u32,
    /// From injection to pending in Prometheus.
    pub pending_s: Option<f64>,
    /// From injection to firing in Prometheus.
    pub firing_s: Option<f64>,
    /// From injection to active in Alertmanager.
    pub alertmanager_s: Option<f64>,
    /// From the fault's end to gone from both.
    pub resolved_s: Option<f64>,
}

/// The alerts seen at one moment: (name, node) -> Prometheus state, and the set active in
/// Alertmanager.
type Snapshot = (BTreeMap<(String, String), String>, BTreeSet<(String, String)>);

/// One poll of both APIs.
async fn snapshot(prometheus: &Prometheus, alertmanager: &Alertmanager) -> Result<Snapshot, String> {
    let key = |labels: &BTreeMap<String, String>| {
        let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
        (label("alertname"), label("node"))
    };
    let evaluated = prometheus.alerts().await.map_err(|e| e.to_string())?;
    let active = alertmanager.active_alerts().await.map_err(|e| e.to_string())?;
    let states = evaluated.iter().map(|a| (key(&a.labels), a.state.clone())).collect();
    let active = active.iter().map(|a| key(&a.labels)).collect();
    Ok((states, active))
}

/// One alert expected on one node, for a fault that runs from `start` to `end`.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Alert name.
    pub alert: String,
    /// Node number.
    pub node: u32,
    /// When the fault was injected.
    pub start: Instant,
    /// When it ends.
    pub end: Instant,
}

/// What a watch saw: the timelines, the alerts nobody expected, and how the polls went.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WatchReport {
    /// One timeline per expected alert and node.
    pub expected: Vec<Timeline>,
    /// Alerts that fired during the watch and were not expected (`Name{node="N"}`).
    pub unexpected: Vec<String>,
    /// Snapshots attempted (each reads both APIs).
    pub polls: u64,
    /// Snapshots that failed: an error, a non-2xx answer, or no answer within the
    /// request timeout. Timings are as late as the gap they leave.
    pub polls_failed: u64,
    /// The last failure, if any.
    pub last_poll_error: Option<String>,
}

/// Polls both APIs, counting failures; gives up only after `cfg.timeout` without a
/// successful poll, so one slow answer from a busy Prometheus does not end a measurement.
struct Poller<'a> {
    prometheus: Prometheus,
    alertmanager: Alertmanager,
    cfg: &'a WatchConfig,
    polls: u64,
    failed: u64,
    last_error: Option<String>,
    last_ok: Instant,
}

impl Poller<'_> {
    /// A snapshot, `None` if this poll failed but the watch goes on, `Err` once polls have
    /// failed for longer than the timeout.
    async fn poll(&mut self) -> Result<Option<Snapshot>, String> {
        self.polls += 1;
        match snapshot(&self.prometheus, &self.alertmanager).await {
            Ok(s) => {
                self.last_ok = Instant::now();
                Ok(Some(s))
            }
            Err(e) => {
                self.failed += 1;
                self.last_error = Some(e.clone());
                if self.last_ok.elapsed() > self.cfg.timeout {
                    return Err(format!(
                        "no answer from Prometheus and Alertmanager for {:.0} s ({} of {} polls failed); last error: {e}",
                        self.cfg.timeout.as_secs_f64(),
                        self.failed,
                        self.polls
                    ));
                }
                Ok(None)
            }
        }
    }
}

/// Watches the expectations that arrive on `rx` until the sender is dropped and each has
/// fired and resolved (or timed out). Failed polls are retried; `Err` only if the APIs
/// answer nothing for longer than `cfg.timeout`.
pub async fn watch(
    cfg: &WatchConfig,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Expectation>,
) -> Result<WatchReport, String> {
    let http = stack_client::http_client(cfg.request_timeout).map_err(|e| e.to_string())?;
    let (prometheus, alertmanager) =
        (Prometheus::new(http.clone(), &cfg.prometheus), Alertmanager::new(http, &cfg.alertmanager));
    let mut poller = Poller {
        prometheus,
        alertmanager,
        cfg,
        polls: 0,
        failed: 0,
        last_error: None,
        last_ok: Instant::now(),
    };
    let before = loop {
        if let Some((states, _)) = poller.poll().await? {
            break states;
        }
        tokio::time::sleep(POLL).await;
    };
    let mut watched: Vec<(Expectation, Timeline)> = Vec::new();
    let mut unexpected = BTreeSet::new();
    let mut open = true;
    loop {
        while open {
            match rx.try_recv() {
                Ok(e) => {
                    let line = Timeline { alert: e.alert.clone(), node: e.node, ..Timeline::default() };
                    watched.push((e, line));
                }
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => open = false,
            }
        }
        let now = Instant::now();
        if let Some((states, active)) = poller.poll().await? {
            record(&mut watched, &states, &active, now);
            for (alert, node) in states.keys() {
                let mine = watched.iter().any(|(e, _)| &e.alert == alert && e.node.to_string() == *node);
                if !mine && alert != "Watchdog" && !before.contains_key(&(alert.clone(), node.clone())) {
                    unexpected.insert(if node.is_empty() {
                        alert.clone()
                    } else {
                        format!("{alert}{{node=\"{node}\"}}")
                    });
                }
            }
        }
        let settled = watched.iter().all(|(e, l)| {
            let done = l.alertmanager_s.is_some() && l.resolved_s.is_some();
            let gave_up =
                (l.alertmanager_s.is_none() && now > e.start + cfg.timeout) || now > e.end + cfg.timeout;
            done || gave_up
        });
        if !open && settled {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(WatchReport {
        expected: watched.into_iter().map(|(_, l)| l).collect(),
        unexpected: unexpected.into_iter().collect(),
        polls: poller.polls,
        polls_failed: poller.failed,
        last_poll_error: poller.last_error,
    })
}

/// Notes on each timeline what the snapshot taken at `now` shows.
fn record(
    watched: &mut [(Expectation, Timeline)],
    states: &BTreeMap<(String, String), String>,
    active: &BTreeSet<(String, String)>,
    now: Instant,
) {
    for (e, line) in watched {
        let t = round(now.saturating_duration_since(e.start).as_secs_f64());
        let k = (line.alert.clone(), line.node.to_string());
        let state = states.get(&k).map(String::as_str);
        if line.pending_s.is_none() && state.is_some() {
            line.pending_s = Some(t);
        }
        if line.firing_s.is_none() && state == Some("firing") {
            line.firing_s = Some(t);
        }
        if line.alertmanager_s.is_none() && active.contains(&k) {
            line.alertmanager_s = Some(t);
        }
        if now >= e.end
            && line.firing_s.is_some()
            && line.resolved_s.is_none()
            && state.is_none()
            && !active.contains(&k)
        {
            line.resolved_s = Some(round((now - e.end).as_secs_f64()));
        }
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Prints the report; true if every expected alert fired and resolved.
pub fn report(r: &WatchReport, json: bool, out: &mut impl Write) -> bool {
    let ok = r.expected.iter().all(|l| l.alertmanager_s.is_some() && l.resolved_s.is_some());
    if json {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["ok"] = Value::Bool(ok);
        let _ = writeln!(out, "{v}");
        return ok;
    }
    let s = |v: Option<f64>| v.map_or("never".to_owned(), |v| format!("{v:.2}s"));
    let mut table = crate::table::new(
        &["ALERT", "NODE", "PENDING", "FIRING", "ALERTMANAGER", "RESOLVED"],
        &[1, 2, 3, 4, 5],
    );
    for l in &r.expected {
        table.add_row(vec![
            l.alert.clone(),
            l.node.to_string(),
            s(l.pending_s),
            s(l.firing_s),
            s(l.alertmanager_s),
            s(l.resolved_s),
        ]);
    }
    let _ = writeln!(out, "{table}");
    if !r.unexpected.is_empty() {
        let _ = writeln!(out, "also fired, not expected: {}", r.unexpected.join(", "));
    }
    let _ = match &r.last_poll_error {
        Some(e) => {
            writeln!(out, "polls: {} of {} failed and were retried; last error: {e}", r.polls_failed, r.polls)
        }
        None => writeln!(out, "polls: {}, none failed", r.polls),
    };
    ok
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::Json;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;

    use super::*;

    fn fired() -> Timeline {
        Timeline {
            alert: "HighCPUUsage".to_owned(),
            node: 3,
            pending_s: Some(2.0),
            firing_s: Some(12.5),
            alertmanager_s: Some(13.0),
            resolved_s: Some(4.25),
        }
    }

    #[test]
    fn the_report_is_a_table_and_fails_on_an_alert_that_never_fired() {
        let mut out = Vec::new();
        let r = WatchReport { expected: vec![fired()], polls: 40, ..WatchReport::default() };
        assert!(report(&r, false, &mut out));
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(text.starts_with("| ALERT        | NODE | PENDING |"), "{text}");
        assert!(
            text.contains("| HighCPUUsage |    3 |   2.00s | 12.50s |       13.00s |    4.25s |"),
            "{text}"
        );
        assert!(text.ends_with("polls: 40, none failed\n"), "{text}");

        let never = Timeline { alert: "NodeDown".to_owned(), node: 4, ..Timeline::default() };
        let r = WatchReport {
            expected: vec![fired(), never],
            unexpected: vec!["HighLatency{node=\"5\"}".to_owned()],
            polls: 40,
            polls_failed: 2,
            last_poll_error: Some("http://p/api/v1/alerts: 503".to_owned()),
        };
        let mut out = Vec::new();
        assert!(!report(&r, false, &mut out));
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(text.contains("| NodeDown     |    4 |   never |"), "{text}");
        assert!(text.contains("also fired, not expected: HighLatency{node=\"5\"}"), "{text}");
        assert!(
            text.contains("polls: 2 of 40 failed and were retried; last error: http://p/api/v1/alerts: 503")
        );
        let mut out = Vec::new();
        report(&r, true, &mut out);
        let v: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!((v["ok"].as_bool(), v["polls_failed"].as_u64()), (Some(false), Some(2)));
        assert_eq!(v["expected"][0]["alertmanager_s"], 13.0, "the fields scripts read");
    }

    /// A fake Prometheus and Alertmanager on one port. Prometheus' first `failures`
    /// answers are errors or late; the next three show alert X firing on node 1, as do
    /// Alertmanager's first three; then it is resolved. Counted in calls, not seconds, so
    /// a slow machine sees the same story.
    async fn fake_apis(failures: u32) -> String {
        let (prom_calls, am_calls) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let alert = || serde_json::json!({ "labels": { "alertname": "X", "node": "1" }, "state": "firing" });
        let prometheus = get(move || {
            let call = prom_calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if call < failures {
                    if call % 2 == 0 {
                        return StatusCode::SERVICE_UNAVAILABLE.into_response();
                    }
                    // Slower than the request timeout: a busy Prometheus.
                    tokio::time::sleep(Duration::from_millis(800)).await;
                }
                let alerts = if call < failures + 3 { vec![alert()] } else { vec![] };
                Json(serde_json::json!({ "status": "success", "data": { "alerts": alerts } })).into_response()
            }
        });
        let alertmanager = get(move || {
            let call = am_calls.fetch_add(1, Ordering::SeqCst);
            // Alertmanager's API v2 shape: the state under `status`.
            let held = || serde_json::json!({ "labels": { "alertname": "X", "node": "1" }, "status": { "state": "active" } });
            async move { Json(if call < 3 { vec![held()] } else { vec![] }) }
        });
        let app =
            axum::Router::new().route("/api/v1/alerts", prometheus).route("/api/v2/alerts", alertmanager);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn config(url: &str, timeout_s: u64) -> WatchConfig {
        WatchConfig {
            prometheus: url.to_owned(),
            alertmanager: url.to_owned(),
            timeout: Duration::from_secs(timeout_s),
            request_timeout: Duration::from_millis(300),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_and_slow_polls_are_retried_and_counted() {
        let url = fake_apis(4).await;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // Already over: it resolves as soon as the APIs stop showing it.
        let start = Instant::now();
        let expectation = Expectation { alert: "X".to_owned(), node: 1, start, end: start };
        tx.send(expectation).expect("send");
        drop(tx);
        let r = watch(&config(&url, 10), rx).await.expect("the watch survives failed polls");
        // At least the four planned; a loaded machine may time out another one.
        assert!(r.polls_failed >= 4, "{r:?}");
        assert!(r.polls > 4 && r.last_poll_error.is_some(), "{r:?}");
        let line = &r.expected[0];
        assert!(
            line.firing_s.is_some() && line.alertmanager_s.is_some() && line.resolved_s.is_some(),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn the_watch_gives_up_after_the_timeout_without_an_answer() {
        let closed = test_support::ports::ClosedPort::new();
        let url = closed.url();
        let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let err = watch(&config(&url, 1), rx).await.expect_err("nothing answers");
        assert!(err.starts_with("no answer from Prometheus and Alertmanager for 1 s ("), "{err}");
        assert!(err.contains("polls failed); last error: http://") && !err.contains('\n'), "{err}");
    }
}
