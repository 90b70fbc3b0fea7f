//! Detection measurement: after an injection, poll Prometheus' and Alertmanager's HTTP APIs
//! and time each expected alert from injection to pending, to firing, to active in
//! Alertmanager, and from the fault's end to resolved. Also reports alerts nobody expected.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

/// How often the APIs are polled: a tenth of the 1 s scrape/evaluation interval.
const POLL: Duration = Duration::from_millis(100);

/// Where to look and how long to wait.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Prometheus base URL.
    pub prometheus: String,
    /// Alertmanager base URL.
    pub alertmanager: String,
    /// Longest wait for an alert to fire, and for it to resolve after the fault ends.
    pub timeout: Duration,
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

/// The alerts seen now: (name, node) -> Prometheus state, and the set active in Alertmanager.
async fn snapshot(
    http: &reqwest::Client,
    cfg: &WatchConfig,
) -> Result<(BTreeMap<(String, String), String>, BTreeSet<(String, String)>), String> {
    let get = |url: String| async move {
        let res = http.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
        res.json::<Value>().await.map_err(|e| format!("{url}: {e}"))
    };
    let key = |labels: &Value| {
        (
            labels["alertname"].as_str().unwrap_or("").to_owned(),
            labels["node"].as_str().unwrap_or("").to_owned(),
        )
    };
    let prom = get(format!("{}/api/v1/alerts", cfg.prometheus)).await?;
    let am =
        get(format!("{}/api/v2/alerts?active=true&silenced=false&inhibited=false", cfg.alertmanager)).await?;
    let states = prom["data"]["alerts"]
        .as_array()
        .map(|a| {
            a.iter().map(|x| (key(&x["labels"]), x["state"].as_str().unwrap_or("").to_owned())).collect()
        })
        .unwrap_or_default();
    let active = am.as_array().map(|a| a.iter().map(|x| key(&x["labels"])).collect()).unwrap_or_default();
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

/// Watches the expectations that arrive on `rx` until the sender is dropped and each has
/// fired and resolved (or timed out). Returns the timelines and the alerts nobody
/// expected; `Err` if the APIs cannot be read.
pub async fn watch(
    cfg: &WatchConfig,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Expectation>,
) -> Result<(Vec<Timeline>, Vec<String>), String> {
    let http =
        reqwest::Client::builder().timeout(Duration::from_secs(2)).build().map_err(|e| e.to_string())?;
    let before = snapshot(&http, cfg).await?.0;
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
        let (states, active) = snapshot(&http, cfg).await?;
        for (e, line) in &mut watched {
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
    Ok((watched.into_iter().map(|(_, l)| l).collect(), unexpected.into_iter().collect()))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Prints the report; true if every expected alert fired and resolved.
pub fn report(lines: &[Timeline], unexpected: &[String], json: bool, out: &mut impl Write) -> bool {
    let ok = lines.iter().all(|l| l.alertmanager_s.is_some() && l.resolved_s.is_some());
    if json {
        let v = serde_json::json!({ "expected": lines, "unexpected": unexpected, "ok": ok });
        let _ = writeln!(out, "{v}");
        return ok;
    }
    let s = |v: Option<f64>| v.map_or("never".to_owned(), |v| format!("{v:.2}s"));
    let mut table = crate::table::new(
        &["ALERT", "NODE", "PENDING", "FIRING", "ALERTMANAGER", "RESOLVED"],
        &[1, 2, 3, 4, 5],
    );
    for l in lines {
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
    if !unexpected.is_empty() {
        let _ = writeln!(out, "also fired, not expected: {}", unexpected.join(", "));
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_a_table_and_fails_on_an_alert_that_never_fired() {
        let fired = Timeline {
            alert: "HighCPUUsage".to_owned(),
            node: 3,
            pending_s: Some(2.0),
            firing_s: Some(12.5),
            alertmanager_s: Some(13.0),
            resolved_s: Some(4.25),
        };
        let mut out = Vec::new();
        assert!(report(std::slice::from_ref(&fired), &[], false, &mut out));
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(text.starts_with("| ALERT        | NODE | PENDING |"), "{text}");
        assert!(
            text.contains("| HighCPUUsage |    3 |   2.00s | 12.50s |       13.00s |    4.25s |"),
            "{text}"
        );

        let never = Timeline { alert: "NodeDown".to_owned(), node: 4, ..Timeline::default() };
        let mut out = Vec::new();
        assert!(!report(&[fired, never], &["HighLatency{node=\"5\"}".to_owned()], false, &mut out));
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(text.contains("| NodeDown     |    4 |   never |"), "{text}");
        assert!(text.contains("also fired, not expected: HighLatency{node=\"5\"}"), "{text}");
    }
}
