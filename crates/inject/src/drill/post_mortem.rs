//! The post-mortem layout both incident reports share (a drill's and a scenario run's):
//! a view of what goes in each section, which each report builds from its own inputs, laid
//! out as Markdown by the askama template `templates/post_mortem.md`. The helpers here
//! turn the evidence both reports draw on into rows of that view.

use askama::Template;

use super::evidence::{Evidence, Figure};
use super::utc::clock;

/// One timeline row before it is sorted: seconds since the epoch, the source, the event.
pub(super) type Row = (f64, &'static str, String);

/// A post-mortem, section by section, every value already the text it shows.
#[derive(Template)]
#[template(path = "post_mortem.md", escape = "none")]
pub(super) struct PostMortem<'a> {
    /// What the incident was.
    pub title: &'a str,
    /// The paragraph under the title: what ran, when, and where the report comes from.
    pub preface: String,
    /// The Summary paragraph.
    pub summary: String,
    /// The Impact paragraph.
    pub impact: String,
    /// The impact figures' table, when there is one.
    pub figures: Option<Vec<FigureRow>>,
    /// The timeline, in time order.
    pub timeline: Vec<TimelineRow>,
    /// The Detection and response table.
    pub detection: Table,
    /// The score under that table, for a drill.
    pub score: Option<ScoreView>,
    /// The prompt under What went well, if the section is wanted.
    pub went_well: Option<&'static str>,
    /// The prompt under What did not go well, if the section is wanted.
    pub did_not_go_well: Option<&'static str>,
    /// The action items the report suggests (a row for the reader's own always follows).
    pub actions: Vec<Action>,
    /// Sources that did not answer, listed under Gaps in the sources.
    pub problems: &'a [String],
}

impl PostMortem<'_> {
    /// The Markdown. Rendering cannot fail (every value is a string), but should askama
    /// ever report an error the reader sees it rather than a panic.
    pub fn markdown(&self) -> String {
        self.render().unwrap_or_else(|e| format!("The incident report could not be rendered: {e}\n"))
    }
}

/// An impact figure: what, its value, its PromQL (escaped for a table cell).
pub(super) struct FigureRow {
    what: String,
    value: String,
    promql: String,
}

/// A timeline row: `HH:MM:SS.s`, the source, the event.
pub(super) struct TimelineRow {
    time: String,
    source: &'static str,
    event: String,
}

/// A table: its column heads and its rows of cells.
pub(super) struct Table {
    /// Column heads.
    pub head: Vec<&'static str>,
    /// Rows, one cell per head.
    pub rows: Vec<Vec<String>>,
}

/// A drill's score: the total and each part, as `what: points`.
pub(super) struct ScoreView {
    /// Out of 100.
    pub total: String,
    /// Each part, signed.
    pub parts: Vec<String>,
}

/// An action item.
pub(super) struct Action {
    /// What to do.
    pub action: String,
    /// Why.
    pub why: &'static str,
    /// Who: `_learner_` or `_team_`.
    pub owner: &'static str,
}

/// The impact figures as table rows, each with the PromQL that produced it.
pub(super) fn figures(figures: &[Figure]) -> Vec<FigureRow> {
    figures
        .iter()
        .map(|f| FigureRow {
            what: f.what.clone(),
            value: f.value.map_or_else(|| "no data".to_owned(), |v| format!("{v:.0}")),
            promql: f.promql.replace('|', "\\|"),
        })
        .collect()
}

/// The timeline rows the sources outside the node give, in the order the reports list them:
/// each alert's pending, firing and resolved times in Prometheus (with its severity on
/// `pending` when `severity` is asked for), then every notification the alert sink received.
pub(super) fn evidence_rows(ev: &Evidence, severity: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for a in &ev.alerts {
        let on = a.node.as_ref().map_or_else(String::new, |n| format!(" on node {n}"));
        let detail = if a.detail.is_empty() { String::new() } else { format!(" ({})", a.detail) };
        let sev = match (severity, a.severity.as_deref()) {
            (true, s) => format!(" ({})", s.unwrap_or("-")),
            (false, _) => String::new(),
        };
        for (t, what) in [(a.pending_at, "pending"), (a.firing_at, "firing"), (a.resolved_at, "resolved")] {
            if let Some(t) = t {
                let sev = if what == "pending" { sev.as_str() } else { "" };
                rows.push((t, "Prometheus", format!("{}{on}{detail} {what}{sev}", a.alertname)));
            }
        }
    }
    for n in &ev.notices {
        let on = n.node.as_ref().map_or_else(String::new, |n| format!(" node {n}"));
        rows.push((
            n.received_at,
            "alert sink",
            format!("{} {}{on} delivered to {}", n.alertname, n.status, n.receiver),
        ));
    }
    rows
}

/// The timeline's rows in time order (rows at the same time keep the order they came in).
pub(super) fn timeline(mut rows: Vec<Row>) -> Vec<TimelineRow> {
    rows.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    rows.into_iter().map(|(t, source, event)| TimelineRow { time: clock(t), source, event }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_leaves_out_the_sections_not_given_and_lists_the_gaps() {
        let problems = vec!["alert sink: refused".to_owned()];
        let md = PostMortem {
            title: "T",
            preface: "P.".into(),
            summary: "S.".into(),
            impact: "Nothing was injected.".into(),
            figures: None,
            timeline: timeline(vec![(61.0, "b", "second".into()), (60.0, "a", "first".into())]),
            detection: Table { head: vec!["fault", "node"], rows: vec![vec!["`f`".into(), "3".into()]] },
            score: None,
            went_well: None,
            did_not_go_well: None,
            actions: vec![],
            problems: &problems,
        }
        .markdown();
        assert_eq!(
            md,
            "# Incident report: T\n\nP.\n\n## Summary\n\nS.\n\n## Impact\n\nNothing was injected.\n\n\
             ## Timeline\n\n| time (UTC) | source | event |\n|---|---|---|\n\
             | 00:01:00.0 | a | first |\n| 00:01:01.0 | b | second |\n\n\
             ## Detection and response\n\n| fault | node |\n|---|---|\n| `f` | 3 |\n\n\
             ## Action items\n\n| action | why | owner |\n|---|---|---|\n| _your own_ | | |\n\n\
             ## Gaps in the sources\n\n- alert sink: refused\n"
        );
    }
}
