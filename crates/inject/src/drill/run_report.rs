//! The incident report of a scenario or random run (`--report FILE`): the same
//! post-mortem shape as a drill's, built from the nodes' answers to each injection,
//! Prometheus' alerts and impact queries and the alert sink's notifications, with the
//! detection of each fault by its documented alert.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use edge_sim::api::Started;

use super::error::{DrillError, Outcome};
use super::evidence::{self, Evidence};
use super::post_mortem::{self, Action, PostMortem, Row, Table};
use super::utc::{clock, date, now};

/// Longest wait, after the run, for the faults' alerts to resolve before the report is
/// read: resolutions take a few seconds (a flaky network's up to 16 s).
const SETTLE: Duration = Duration::from_secs(20);

/// Waits for the run's expected alerts to resolve (bounded), reads the evidence and
/// writes the report to `path`; says so on `log` (with a warning per source that did not
/// answer: the outcome's gaps).
pub async fn write(
    name: &str,
    record: &[Started],
    begun: f64,
    prometheus: &str,
    sink: &str,
    path: &Path,
    log: &mut impl Write,
) -> Result<Outcome, DrillError> {
    let (prometheus, sink) = evidence::sources(prometheus, sink).map_err(DrillError::Sources)?;
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let runs = evidence::alert_runs(&prometheus, begun - 1.0, now()).await.unwrap_or_default();
        let open = runs.iter().any(|r| r.resolved_at.is_none() && expected(record, r));
        if !open || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let read_at = now();
    let mut problems = Vec::new();
    let alerts = evidence::alert_runs(&prometheus, begun - 300.0, read_at).await.unwrap_or_else(|e| {
        problems.push(format!("Prometheus alerts: {e}"));
        Vec::new()
    });
    // Alerts already firing when the run began are context; ones over by then are not.
    let alerts = alerts.into_iter().filter(|r| r.resolved_at.is_none_or(|t| t >= begun - 1.0)).collect();
    let notices = evidence::notices(&sink, begun - 1.0).await.unwrap_or_else(|e| {
        problems.push(format!("alert sink: {e}"));
        Vec::new()
    });
    let first = record.iter().map(|s| s.fault.started_at).reduce(f64::min);
    let impact = match first {
        Some(from) => {
            let nodes: Vec<u32> = record.iter().map(|s| s.node).collect();
            Some(evidence::impact(&prometheus, &nodes, from, read_at).await)
        }
        None => None,
    };
    let ev = Evidence { faults: Vec::new(), alerts, notices, impact, read_at, problems };
    let md = render(name, record, begun, &ev);
    std::fs::write(path, md).map_err(|source| DrillError::WriteReport { path: path.to_owned(), source })?;
    let _ = writeln!(log, "wrote the incident report to {}", path.display());
    for p in &ev.problems {
        let _ = writeln!(log, "warning: {p}");
    }
    Ok(Outcome::with_gaps(ev.problems))
}

/// Whether an alert run is the documented alert of one of the run's faults, on its node.
fn expected(record: &[Started], run: &evidence::AlertRun) -> bool {
    record.iter().any(|s| {
        run.alertname == s.fault.expected_alert && run.node.as_deref() == Some(s.node.to_string().as_str())
    })
}

/// The documented alert's run that caught fault `s`: the first on its node firing from
/// its start on.
fn caught_by<'a>(ev: &'a Evidence, s: &Started) -> Option<&'a evidence::AlertRun> {
    ev.alerts
        .iter()
        .filter(|r| expected(std::slice::from_ref(s), r))
        .find(|r| r.firing_at.is_some_and(|t| t >= s.fault.started_at - 1.0 && t <= s.fault.expires_at + 1.0))
}

/// Renders the report of a run.
pub fn render(name: &str, record: &[Started], begun: f64, ev: &Evidence) -> String {
    let missed: Vec<&Started> = record.iter().filter(|s| caught_by(ev, s).is_none()).collect();
    let mut nodes: Vec<u32> = record.iter().map(|s| s.node).collect();
    nodes.sort_unstable();
    nodes.dedup();
    PostMortem {
        title: name,
        preface: format!(
            "A game day run by `inject`, {}. A blameless review. Written at {} UTC from the nodes' answers to \
             each injection, Prometheus and the alert sink; times are UTC.",
            date(begun),
            clock(ev.read_at)
        ),
        summary: format!(
            "{} fault(s) were injected on node(s) {}; {} caught by their documented alert, {} not.",
            record.len(),
            nodes.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
            record.len() - missed.len(),
            missed.len()
        ),
        impact: match &ev.impact {
            Some(imp) => format!(
                "On the run's nodes, from the first fault to {} ({} s); each figure is the PromQL beside it, \
                 evaluated at that time.",
                clock(imp.at),
                imp.window_s
            ),
            None => "Nothing was injected.".to_owned(),
        },
        figures: ev.impact.as_ref().map(|imp| post_mortem::figures(&imp.figures)),
        timeline: post_mortem::timeline(timeline(record, begun, ev)),
        detection: detection(record, ev),
        score: None,
        went_well: Some("_For the team to write._"),
        did_not_go_well: Some("_For the team to write._"),
        actions: missed
            .iter()
            .map(|s| Action {
                action: format!(
                    "Find why `{}` did not fire for `{}` on node {}",
                    s.fault.expected_alert, s.fault.failure, s.node
                ),
                why: "a fault no alert caught",
                owner: "_team_",
            })
            .collect(),
        problems: &ev.problems,
    }
    .markdown()
}

/// The run's own timeline rows (its start, each fault's start and due end) and the
/// sources', unsorted.
fn timeline(record: &[Started], begun: f64, ev: &Evidence) -> Vec<Row> {
    let mut rows: Vec<Row> = vec![(begun, "inject", "run started".to_owned())];
    for s in record {
        let what = match s.fault.service {
            Some(sv) => format!("`{}` on {sv}, node {}", s.fault.failure, s.node),
            None => format!("`{}` on node {}", s.fault.failure, s.node),
        };
        rows.push((s.fault.started_at, "node", format!("fault started: {what} (#{})", s.fault.id)));
        rows.push((s.fault.expires_at, "node", format!("fault due to end: {what}")));
    }
    rows.extend(post_mortem::evidence_rows(ev, false));
    rows
}

/// Each fault, its documented alert, and how long that alert took to fire and to resolve.
fn detection(record: &[Started], ev: &Evidence) -> Table {
    let rows = record.iter().map(|s| {
        let run = caught_by(ev, s);
        let detect = run
            .and_then(|r| r.firing_at)
            .map_or("missed".to_owned(), |t| format!("{:.1} s", t - s.fault.started_at));
        let resolved = run
            .and_then(|r| r.resolved_at)
            .map_or("not seen".to_owned(), |t| format!("{:.1} s", t - s.fault.expires_at));
        vec![
            format!("`{}` #{}", s.fault.failure, s.fault.id),
            s.node.to_string(),
            s.fault.expected_alert.clone(),
            detect,
            resolved,
        ]
    });
    Table {
        head: vec!["fault", "node", "expected alert", "time to detect", "resolved after the fault's end"],
        rows: rows.collect(),
    }
}

#[cfg(test)]
mod tests {
    use edge_sim::FaultKind;
    use edge_sim::api::FaultView;

    use super::super::evidence::{AlertRun, Notice};
    use super::*;

    fn started(node: u32, id: u64, failure: FaultKind, at: f64) -> Started {
        Started {
            node,
            replaced: None,
            fault: FaultView {
                id,
                failure,
                intensity: None,
                service: None,
                started_at: at,
                expires_at: at + 30.0,
                remaining_s: 30.0,
                expected_alert: failure.expected_alert().to_owned(),
            },
        }
    }

    #[test]
    fn a_run_report_times_each_fault_by_its_alert_and_names_the_missed_ones() {
        let record = [started(3, 1, FaultKind::CpuSpike, 100.0), started(5, 1, FaultKind::NodeCrash, 110.0)];
        let ev = Evidence {
            faults: vec![],
            alerts: vec![AlertRun {
                alertname: "HighCPUUsage".into(),
                node: Some("3".into()),
                severity: Some("warning".into()),
                detail: String::new(),
                pending_at: Some(100.8),
                firing_at: Some(100.8),
                resolved_at: Some(131.0),
            }],
            notices: vec![Notice {
                received_at: 101.0,
                status: "firing".into(),
                alertname: "HighCPUUsage".into(),
                node: Some("3".into()),
                receiver: "ticket-queue".into(),
            }],
            impact: None,
            read_at: 150.0,
            problems: vec![],
        };
        let md = render("Two faults", &record, 99.0, &ev);
        assert!(md.contains("| `cpu_spike` #1 | 3 | HighCPUUsage | 0.8 s | 1.0 s |"), "{md}");
        assert!(md.contains("| `node_crash` #1 | 5 | NodeDown | missed | not seen |"), "{md}");
        assert!(md.contains("Find why `NodeDown` did not fire for `node_crash` on node 5"), "{md}");
        assert!(md.contains("1 caught by their documented alert, 1 not"), "{md}");
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| 00:0")).collect();
        assert!(
            rows[0].contains("run started") && rows[1].contains("fault started: `cpu_spike`"),
            "{rows:#?}"
        );
        assert!(
            rows.iter().any(|r| r.starts_with("| 00:01:41.0 | alert sink | HighCPUUsage firing node 3")),
            "{rows:#?}"
        );
    }
}
