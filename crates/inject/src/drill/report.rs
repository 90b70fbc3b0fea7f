//! The incident report in the blameless post-mortem shape (summary, impact, timeline,
//! detection and response, what went well and what did not, action items), as Markdown,
//! rendered from the drill state and the evidence only: a pure function, so it is tested
//! from fixed inputs. What goes in each section is decided here; the layout is the shared
//! `post_mortem` template's.

use super::catalog::{Drill, Role};
use super::evidence::Evidence;
use super::post_mortem::{self, Action, PostMortem, Row, ScoreView, Table};
use super::score::Score;
use super::state::{DrillState, Verdict};
use super::utc::{clock, date};

fn secs(s: Option<f64>) -> String {
    s.map_or_else(|| "not reached".to_owned(), |s| format!("{s:.1} s"))
}

/// What a fault is, in words: `error_burst on payments, node 3`.
fn fault_words(state: &DrillState, i: usize) -> String {
    let p = &state.faults[i].plan;
    match p.service {
        Some(s) => format!("`{}` on {s}, node {}", p.failure, p.node),
        None => format!("`{}` on node {}", p.failure, p.node),
    }
}

/// Renders the report.
pub fn render(drill: &Drill, state: &DrillState, ev: &Evidence, score: &Score) -> String {
    let first_start = ev.faults.iter().map(|f| f.started_at).reduce(f64::min);
    PostMortem {
        title: &drill.title,
        preface: preface(drill, state, ev),
        summary: summary(drill, state, score, first_start),
        impact: match &ev.impact {
            Some(imp) => format!(
                "On the drill's nodes, from the fault's start to {} ({} s); each figure is the PromQL \
                 beside it, evaluated at that time, so a reader can check it.",
                clock(imp.at),
                imp.window_s
            ),
            None => "No fault had started when this was written.".to_owned(),
        },
        figures: ev.impact.as_ref().map(|imp| post_mortem::figures(&imp.figures)),
        timeline: post_mortem::timeline(timeline(state, ev)),
        detection: detection(drill, state, ev, score, first_start),
        score: Some(ScoreView {
            total: format!("{:.0}", score.total),
            parts: score.parts.iter().map(|(what, points)| format!("{what}: {points:+.0}")).collect(),
        }),
        went_well: Some(
            "_For the learner to write: what helped you find it (an alert, a panel, a runbook step)?_",
        ),
        did_not_go_well: Some("_For the learner to write: where you lost time, what misled you._"),
        actions: actions(drill, state, score),
        problems: &ev.problems,
    }
    .markdown()
}

/// The paragraph under the title.
fn preface(drill: &Drill, state: &DrillState, ev: &Evidence) -> String {
    format!(
        "Drill `{}` ({} level, seed {}), {}. A blameless review: it is about the system and the \
         process, not about who did what. Written by `inject drill report` at {} UTC from what the \
         nodes, Prometheus and the alert sink recorded; times are UTC.{}",
        drill.name,
        state.level.as_str(),
        state.seed,
        date(state.started_at),
        clock(ev.read_at),
        if state.stopped_at.is_none() {
            " **The drill was still running when this was written.**"
        } else {
            ""
        }
    )
}

/// The causes, the red herrings, and how fast each step went.
fn summary(drill: &Drill, state: &DrillState, score: &Score, first_start: Option<f64>) -> String {
    let causes: Vec<String> = state.causes().map(|(i, _)| fault_words(state, i)).collect();
    let herrings: Vec<String> = state
        .faults
        .iter()
        .enumerate()
        .filter(|(_, f)| f.plan.role == Role::RedHerring)
        .map(|(i, _)| fault_words(state, i))
        .collect();
    let mut text = format!(
        "{} {}. {}",
        if causes.len() == 1 { "The cause was" } else { "The causes were" },
        causes.join(" and "),
        drill.description
    );
    if !herrings.is_empty() {
        text += &format!(" A red herring ran alongside: {}, which ended on its own.", herrings.join(", "));
    }
    text += &format!(
        " It started at {}, was detected after {}, diagnosed after {} and mitigated after {}. \
         {} of {} cause(s) found; score {:.0}/100.",
        first_start.map_or_else(|| "an unknown time".to_owned(), clock),
        secs(score.detect_s),
        secs(score.diagnose_s),
        secs(score.mitigate_s),
        score.found.0,
        score.found.1,
        score.total
    );
    text
}

/// The drill's own timeline rows (start and stop, the faults, the learner's hints and
/// answers) and the sources', unsorted.
fn timeline(state: &DrillState, ev: &Evidence) -> Vec<Row> {
    let mut rows: Vec<Row> = vec![(
        state.started_at,
        "drill",
        format!("`inject drill start --level {} --seed {}`", state.level.as_str(), state.seed),
    )];
    for f in &ev.faults {
        let what = fault_words(state, f.index);
        let role = if state.faults[f.index].plan.role == Role::RedHerring { " (red herring)" } else { "" };
        rows.push((f.started_at, "node", format!("fault started: {what}{role}")));
        if let (Some(t), Some(why)) = (f.ended_at, &f.end_reason) {
            let why = match state.stopped_at {
                Some(stop) if why == "cleared" && t >= stop - 0.5 => "ended by `drill stop`",
                _ if why == "cleared" => "cleared (the mitigation)",
                _ => why.as_str(),
            };
            rows.push((t, "node", format!("fault ended: {what}, {why}")));
        }
    }
    rows.extend(post_mortem::evidence_rows(ev, true));
    for h in &state.hints {
        rows.push((h.at, "learner", format!("took hint {}", h.index + 1)));
    }
    for a in &state.answers {
        let service = a.service.map_or_else(String::new, |s| format!(" --service {s}"));
        let verdict =
            if a.verdict == Verdict::Right { "right".to_owned() } else { a.verdict.says().to_owned() };
        rows.push((
            a.at,
            "learner",
            format!("answered `--node {} --failure {}{service}`: {verdict}", a.node, a.failure),
        ));
    }
    if let Some(t) = state.stopped_at {
        rows.push((t, "drill", "`inject drill stop`".to_owned()));
    }
    rows
}

/// The Detection and response figures.
fn detection(
    drill: &Drill,
    state: &DrillState,
    ev: &Evidence,
    score: &Score,
    first_start: Option<f64>,
) -> Table {
    let first_notice = ev.notices.iter().find(|n| n.status == "firing").map(|n| n.received_at);
    let wrong = state.answers.iter().filter(|a| a.verdict == Verdict::Wrong).count();
    let rows = [
        ("time to detect (fault start to the first alert firing on a cause's node)", secs(score.detect_s)),
        (
            "time to the first notification at the alert sink",
            secs(first_notice.zip(first_start).map(|(n, s)| n - s)),
        ),
        ("time to diagnose (fault start to the answer that found every cause)", secs(score.diagnose_s)),
        (
            "time to mitigate (fault start to the symptoms resolved after the learner's action)",
            secs(score.mitigate_s),
        ),
        ("hints taken", format!("{} of {}", state.hints.len(), drill.hints.len())),
        ("answers", format!("{} ({wrong} wrong)", state.answers.len())),
    ];
    Table {
        head: vec!["figure", "value"],
        rows: rows.into_iter().map(|(f, v)| vec![f.to_owned(), v]).collect(),
    }
}

/// The action items the drill's outcome calls for.
fn actions(drill: &Drill, state: &DrillState, score: &Score) -> Vec<Action> {
    let learner = |action: String, why| Action { action, why, owner: "_learner_" };
    let mut actions = vec![learner(
        format!(
            "Re-read `docs/runbooks/{r}.md` (served at {sink}/runbooks/{r}) against this timeline and fix what did not lead you here",
            r = drill.runbook,
            sink = state.sink
        ),
        "the runbook this drill exercises",
    )];
    if !state.hints.is_empty() {
        actions.push(learner(
            format!("Add what hint {} told you to the runbook's Diagnose section", state.hints.len()),
            "the hints were needed",
        ));
    }
    if score.detect_s.is_none_or(|d| d > 10.0) {
        actions.push(learner(
            "Check why no alert fired on a cause's node within 10 s".to_owned(),
            "detection was slow or missing",
        ));
    }
    if score.mitigate_s.is_none() {
        actions.push(learner(
            "Practise the runbook's Mitigate step".to_owned(),
            "the symptoms were not resolved by a mitigation",
        ));
    }
    actions
}

#[cfg(test)]
mod tests {
    use edge_sim::{FaultKind, Service};

    use super::super::catalog::Drill;
    use super::super::evidence::{AlertRun, FaultRecord, Figure, Impact, Notice};
    use super::super::score::{Times, score};
    use super::super::state::tests::sample;
    use super::super::state::{Answer, HintTaken};
    use super::*;

    #[test]
    fn the_report_has_every_section_and_a_timeline_in_order_from_its_sources() {
        let drill = Drill::parse(
            "medium-payments-errors",
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../drills/medium-payments-errors.toml"
            ))
            .expect("drill"),
        )
        .expect("parses");
        let mut state = sample();
        state.hints.push(HintTaken { index: 0, at: 1030.0 });
        state.answers.push(Answer {
            at: 1040.0,
            node: 3,
            failure: FaultKind::DependencyFailure,
            service: None,
            verdict: Verdict::Near,
            cause: Some(0),
        });
        state.answers.push(Answer {
            at: 1050.0,
            node: 3,
            failure: FaultKind::ErrorBurst,
            service: Some(Service::Payments),
            verdict: Verdict::Right,
            cause: Some(0),
        });
        state.stopped_at = Some(1200.0);
        let ev = Evidence {
            faults: vec![
                FaultRecord {
                    index: 0,
                    started_at: 1010.2,
                    ended_at: Some(1060.0),
                    end_reason: Some("cleared".into()),
                },
                FaultRecord {
                    index: 1,
                    started_at: 1010.2,
                    ended_at: Some(1200.1),
                    end_reason: Some("cleared".into()),
                },
            ],
            alerts: vec![AlertRun {
                alertname: "HighErrorRate".into(),
                node: Some("3".into()),
                severity: Some("critical".into()),
                detail: String::new(),
                pending_at: Some(1011.0),
                firing_at: Some(1011.5),
                resolved_at: Some(1063.0),
            }],
            notices: vec![Notice {
                received_at: 1012.0,
                status: "firing".into(),
                alertname: "HighErrorRate".into(),
                node: Some("3".into()),
                receiver: "pager".into(),
            }],
            impact: Some(Impact {
                at: 1200.0,
                window_s: 190,
                figures: vec![Figure {
                    what: "requests failed (5xx)".into(),
                    promql: "sum(x)".into(),
                    value: Some(42.0),
                }],
            }),
            read_at: 1201.0,
            problems: vec![],
        };
        let times =
            Times { fault_start: Some(1010.2), detected_at: Some(1011.5), mitigated_at: Some(1063.0) };
        let sc = score(&state, &times);
        let md = render(&drill, &state, &ev, &sc);
        for section in [
            "## Summary",
            "## Impact",
            "## Timeline",
            "## Detection and response",
            "## What went well",
            "## What did not go well",
            "## Action items",
        ] {
            assert!(md.contains(section), "{section} missing:\n{md}");
        }
        assert!(md.contains("| requests failed (5xx) | 42 | `sum(x)` |"), "{md}");
        assert!(md.contains("`error_burst` on payments, node 3"), "{md}");
        assert!(md.contains("red herring"), "{md}");
        let timeline: Vec<&str> = md
            .split("## Timeline")
            .nth(1)
            .expect("timeline")
            .split("## Detection")
            .next()
            .expect("end")
            .lines()
            .filter(|l| l.starts_with("| 00:"))
            .collect();
        let events = [
            "drill start",
            "fault started: `error_burst`",
            "fault started: `cpu_spike`",
            "HighErrorRate on node 3 pending",
            "HighErrorRate on node 3 firing",
            "delivered to pager",
            "took hint 1",
            "close but not the failure",
            "--service payments`: right",
            "cleared (the mitigation)",
            "HighErrorRate on node 3 resolved",
            "`inject drill stop`",
            "ended by `drill stop`",
        ];
        assert_eq!(timeline.len(), events.len(), "{timeline:#?}");
        for (line, event) in timeline.iter().zip(events) {
            assert!(line.contains(event), "expected `{event}` in `{line}`");
        }
        assert!(timeline[4].starts_with("| 00:16:51.5 | Prometheus |"), "{}", timeline[4]);
        assert!(
            md.contains("time to detect (fault start to the first alert firing on a cause's node) | 1.3 s"),
            "{md}"
        );
        assert!(
            md.contains(
                "time to mitigate (fault start to the symptoms resolved after the learner's action) | 52.8 s"
            ),
            "{md}"
        );
        assert!(md.contains("docs/runbooks/HighErrorRate.md"), "{md}");
    }
}
