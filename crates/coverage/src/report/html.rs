//! The HTML form: one self-contained page (inline CSS and script, nothing fetched) with the
//! fault x rule matrix as a heat map, each cell's timeline on hover or click, and the rules
//! with their verdicts. The page is `templates/report.html`; this file turns the report into
//! what the template shows, so the template holds no logic beyond loops.

use askama::Template;

use crate::judge::{FLEET, REGION};

use super::{
    Detection, Fault, FaultStatus, Report, RuleReport, RuleStatus, Timeline, false_alerts_phrase,
    human_duration, resolved_phrase, signed_duration, summary_line,
};

/// The slowest time to firing the colour scale tells apart, unless the report has a slower
/// one: community rules' `for:` and windows reach an hour.
const SCALE_TOP_S: f64 = 3600.0;

/// Share of a fault's length shown before it starts, so a cell's timeline shows the lead-in.
const LEAD_IN: f64 = 0.1;

/// Share of a fault's length always shown after it ends, for the resolution.
const TAIL: f64 = 0.3;

/// The furthest after a fault's end a timeline stretches to show a late resolution, in
/// fault lengths.
const MAX_TAIL: f64 = 2.0;

/// The report as one self-contained HTML page.
pub fn render_html(report: &Report) -> String {
    let page = page(report);
    // The template is checked at compile time and writes into a String, which cannot fail;
    // should askama ever report an error, show it rather than panic.
    page.render().unwrap_or_else(|e| format!("<!doctype html><title>report</title><p>{e}</p>"))
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page {
    summary: String,
    run_line: String,
    rules_files: String,
    differences: Vec<String>,
    scale_top: String,
    columns: Vec<Column>,
    rows: Vec<Row>,
    rules: Vec<RuleRow>,
    /// The detail shown first: the first cell that fired, so the page opens on a timeline.
    selected: String,
}

/// A rule as a matrix column.
struct Column {
    alert: String,
    status: &'static str,
    status_label: String,
}

/// A fault as a matrix row.
struct Row {
    failure: String,
    node: String,
    window: String,
    status: &'static str,
    cells: Vec<Cell>,
}

struct Cell {
    id: String,
    /// `fired`, `pending`, `short` or `quiet`: the CSS class.
    kind: &'static str,
    /// Inline background for fired cells, the heat.
    style: String,
    /// The text in the cell: time to firing, or a short word.
    label: String,
    /// Nodes it fired on elsewhere during the fault (collateral), 0 for none.
    collateral: usize,
    title: String,
    detail: Detail,
}

/// A cell's timeline: the fault's window with the alert's episodes on the faulted node and
/// on the collateral nodes.
struct Detail {
    heading: String,
    lines: Vec<String>,
    fault_left: String,
    fault_width: String,
    ticks: Vec<Tick>,
    tracks: Vec<Track>,
}

struct Tick {
    left: String,
    label: String,
}

struct Track {
    node: String,
    note: &'static str,
    bars: Vec<Bar>,
}

struct Bar {
    /// `pending`, `firing` or `resolved`: the CSS class.
    kind: &'static str,
    left: String,
    width: String,
    title: String,
}

struct RuleRow {
    alert: String,
    group: String,
    file: String,
    status: &'static str,
    status_label: String,
    caught: String,
    at_rest: String,
    missing: Vec<String>,
    shortest: String,
}

fn page(report: &Report) -> Page {
    let run = &report.run;
    let scale_top = report
        .faults
        .iter()
        .flat_map(|f| f.detections.iter().filter_map(|d| d.firing_after_s))
        .fold(SCALE_TOP_S, f64::max);
    let columns = report
        .rules
        .iter()
        .map(|r| Column { alert: r.alert.clone(), status: r.status.as_str(), status_label: label(r.status) })
        .collect();
    let rows: Vec<Row> = report
        .faults
        .iter()
        .enumerate()
        .map(|(i, fault)| Row {
            failure: fault.failure.clone(),
            node: fault.node.clone(),
            window: format!(
                "{} for {}",
                human_duration(fault.start_s),
                human_duration(fault.end_s - fault.start_s)
            ),
            status: fault.status.as_str(),
            cells: report
                .rules
                .iter()
                .enumerate()
                .map(|(j, rule)| cell(report, fault, (j, rule), format!("d{i}-{j}"), scale_top))
                .collect(),
        })
        .collect();
    let selected = rows
        .iter()
        .flat_map(|r| &r.cells)
        .find(|c| c.kind == "fired")
        .or_else(|| rows.iter().flat_map(|r| &r.cells).next())
        .map(|c| c.id.clone())
        .unwrap_or_default();
    Page {
        summary: summary_line(report),
        run_line: format!(
            "{} nodes, seed {}, {} at rest; scrape every {}, evaluate every {}; Prometheus {}; \
             shapes: {}; jobs: {} (app), {} (host).",
            run.nodes,
            run.seed,
            human_duration(run.rest_s),
            human_duration(run.scrape_interval_s),
            human_duration(run.evaluation_interval_s),
            run.prometheus_version,
            run.shapes.join(", "),
            run.jobs.app,
            run.jobs.host,
        ),
        rules_files: run.rules_files.join(", "),
        differences: run.differences.clone(),
        scale_top: human_duration(scale_top),
        columns,
        rows,
        rules: report.rules.iter().map(rule_row).collect(),
        selected,
    }
}

fn label(status: RuleStatus) -> String {
    status.as_str().replace('_', " ")
}

/// Whether a detection or too-short entry names the rule at `index` of the report's rules:
/// by its index when the report has it, else by name.
fn names(alert: &str, at: Option<usize>, (index, rule): (usize, &RuleReport)) -> bool {
    at.map_or(alert == rule.alert, |at| at == index)
}

fn cell(
    report: &Report,
    fault: &Fault,
    (index, rule): (usize, &RuleReport),
    id: String,
    scale_top: f64,
) -> Cell {
    let this = (index, rule);
    let detection = fault.detections.iter().find(|d| names(&d.alert, d.rule, this));
    let collateral: Vec<&str> =
        fault.collateral.iter().filter(|c| c.alert == rule.alert).map(|c| c.node.as_str()).collect();
    let too_short = fault.too_short_for.iter().find(|t| names(&t.alert, t.rule, this));
    let mut lines = Vec::new();
    let (kind, style, label) = match (detection, too_short) {
        (Some(d), _) => {
            lines.push(format!("Pending after {}.", human_duration(d.pending_after_s)));
            match d.firing_after_s {
                Some(firing) => {
                    lines.push(format!("Firing after {}.", human_duration(firing)));
                    lines.push(match d.resolved_after_end_s {
                        Some(r) => sentence(&resolved_phrase(Some(r))),
                        None => "Never resolved within the run.".to_owned(),
                    });
                    if d.flaps > 0 {
                        lines.push(format!(
                            "Flapped {} time{}.",
                            d.flaps,
                            if d.flaps == 1 { "" } else { "s" }
                        ));
                    }
                    ("fired", heat(firing, scale_top), human_duration(firing))
                }
                None => {
                    lines.push("Did not fire before the fault's recovery ended.".to_owned());
                    ("pending", String::new(), "pending".to_owned())
                }
            }
        }
        (None, Some(t)) => {
            lines.push(format!(
                "The fault lasted {}, less than this rule's longest window plus for: ({}); it did not fire.",
                human_duration(fault.end_s - fault.start_s),
                human_duration(t.needs_s)
            ));
            ("short", String::new(), "short".to_owned())
        }
        (None, None) => {
            let already = report.timeline(&rule.alert, &fault.node).is_some_and(|t| {
                t.episodes.iter().any(|e| {
                    e.firing_s.is_some_and(|f| f <= fault.start_s)
                        && e.resolved_s.is_none_or(|r| r > fault.start_s)
                })
            });
            lines.push(if already {
                format!("Already firing on {} when the fault began: not counted as catching it.", fault.node)
            } else {
                format!("Did not fire on {}.", fault.node)
            });
            ("quiet", String::new(), String::new())
        }
    };
    if !collateral.is_empty() {
        lines.push(format!("Collateral: fired on {} during the fault.", collateral.join(", ")));
    }
    let heading = format!("{} · {} on {}", rule.alert, fault.failure, fault.node);
    let title = format!("{heading}: {}", lines.join(" "));
    Cell {
        id,
        kind,
        style,
        label,
        collateral: collateral.len(),
        title,
        detail: detail(report, fault, &rule.alert, &collateral, detection, heading, lines),
    }
}

/// The fleet-wide or region timeline a detection came from, when the faulted node's own
/// has no episode going pending when the detection did: an alert without a `node` label
/// (a region's, or an aggregate) is judged on the faulted node but drawn under its own name.
fn scope_timeline<'a>(
    report: &'a Report,
    fault: &Fault,
    alert: &str,
    detection: Option<&Detection>,
) -> Option<&'a Timeline> {
    let at = fault.start_s + detection?.pending_after_s;
    let pending_then = |t: &Timeline| t.episodes.iter().any(|e| (e.pending_s - at).abs() < 0.001);
    if report.timeline(alert, &fault.node).is_some_and(pending_then) {
        return None;
    }
    report
        .timelines
        .iter()
        .filter(|t| t.alert == alert && (t.node == FLEET || t.node.starts_with(REGION)))
        .find(|t| pending_then(t))
}

/// A phrase as a sentence: capitalised, with a full stop.
fn sentence(phrase: &str) -> String {
    let mut chars = phrase.chars();
    let first: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    format!("{first}{}.", chars.as_str())
}

/// A fired cell's colour: green when it fires at once, through yellow to red-orange at the
/// top of the scale, on a log scale (15 s and 1 min differ as much as 15 min and 1 h).
fn heat(firing_after_s: f64, scale_top: f64) -> String {
    let t = ((1.0 + firing_after_s.max(0.0)).ln() / (1.0 + scale_top).ln()).clamp(0.0, 1.0);
    let hue = 140.0 - 125.0 * t;
    format!("background:hsl({hue:.0} 70% 42%)")
}

fn detail(
    report: &Report,
    fault: &Fault,
    alert: &str,
    collateral: &[&str],
    detection: Option<&Detection>,
    heading: String,
    lines: Vec<String>,
) -> Detail {
    let length = (fault.end_s - fault.start_s).max(1.0);
    let from = fault.start_s - LEAD_IN * length;
    let tracks_of = |node: &str| report.timeline(alert, node);
    let scope = scope_timeline(report, fault, alert, detection);
    // Stretch the window to show a resolution soon after the fault, within MAX_TAIL.
    let latest_resolution = std::iter::once(fault.node.as_str())
        .chain(scope.map(|t| t.node.as_str()))
        .chain(collateral.iter().copied())
        .filter_map(tracks_of)
        .flat_map(|t| &t.episodes)
        .filter(|e| e.pending_s < fault.end_s + MAX_TAIL * length)
        .filter_map(|e| e.resolved_s)
        .filter(|r| *r > fault.start_s)
        .fold(fault.end_s + TAIL * length, f64::max);
    let to = latest_resolution.min(fault.end_s + MAX_TAIL * length) + 0.05 * length;
    let span = to - from;
    let pct = |t: f64| ((t - from) / span * 100.0).clamp(0.0, 100.0);
    let mut tracks = vec![track(tracks_of(&fault.node), &fault.node, "faulted node", from, to, &pct)];
    if let Some(t) = scope {
        let note = if t.node == FLEET { "fleet-wide" } else { "faulted node's region" };
        tracks.push(track(Some(t), &t.node, note, from, to, &pct));
    }
    for node in collateral {
        tracks.push(track(tracks_of(node), node, "collateral", from, to, &pct));
    }
    let ticks = [fault.start_s, fault.end_s]
        .into_iter()
        .chain((fault.start_s + TAIL * length < to - 0.1 * span).then_some(to - 0.05 * length))
        .map(|t| Tick { left: format!("{:.2}%", pct(t)), label: signed_duration(t - fault.start_s) })
        .collect();
    Detail {
        heading,
        lines,
        fault_left: format!("{:.2}%", pct(fault.start_s)),
        fault_width: format!("{:.2}%", pct(fault.end_s) - pct(fault.start_s)),
        ticks,
        tracks,
    }
}

fn track(
    timeline: Option<&Timeline>,
    node: &str,
    note: &'static str,
    from: f64,
    to: f64,
    pct: &dyn Fn(f64) -> f64,
) -> Track {
    let mut bars = Vec::new();
    for e in timeline.map(|t| t.episodes.as_slice()).unwrap_or_default() {
        let end = e.resolved_s.unwrap_or(f64::INFINITY);
        if end < from || e.pending_s > to {
            continue;
        }
        let mut bar = |kind: &'static str, a: f64, b: f64, title: String| {
            let (left, right) = (pct(a), pct(b.min(to)));
            if right > left || kind == "resolved" {
                bars.push(Bar {
                    kind,
                    left: format!("{left:.2}%"),
                    width: format!("{:.2}%", right - left),
                    title,
                });
            }
        };
        let pending_end = e.firing_s.unwrap_or(end);
        bar("pending", e.pending_s, pending_end, format!("pending from {}", human_duration(e.pending_s)));
        if let Some(firing) = e.firing_s {
            bar("firing", firing, end, format!("firing from {}", human_duration(firing)));
        }
        // An episode that never fired ends without resolving: no mark.
        if let Some(resolved) = e.resolved_s.filter(|r| *r <= to && e.firing_s.is_some()) {
            bar("resolved", resolved, resolved, format!("resolved at {}", human_duration(resolved)));
        }
    }
    Track { node: node.to_owned(), note, bars }
}

fn rule_row(rule: &RuleReport) -> RuleRow {
    RuleRow {
        alert: rule.alert.clone(),
        group: rule.group.clone(),
        file: rule.file.clone(),
        status: rule.status.as_str(),
        status_label: label(rule.status),
        caught: if rule.caught.is_empty() { "none".to_owned() } else { rule.caught.join(", ") },
        at_rest: false_alerts_phrase(&rule.false_alerts_at_rest),
        missing: rule
            .missing
            .iter()
            .map(|m| match &m.provided_by {
                Some(by) => format!("{} (provided by {by})", m.metric),
                None => format!("{} (nothing provides it)", m.metric),
            })
            .collect(),
        shortest: rule.shortest_fault_s.map_or("unknown".to_owned(), human_duration),
    }
}

/// Whether a fault row reads as caught, for the template.
impl Row {
    fn caught(&self) -> bool {
        self.status == FaultStatus::Caught.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    #[test]
    fn the_page_is_self_contained() {
        let html = render_html(&sample());
        assert!(html.starts_with("<!doctype html>"), "{}", &html[..html.len().min(200)]);
        for external in ["://", "src=", "<link", "@import", "url("] {
            assert!(!html.contains(external), "the page must fetch nothing, found {external:?}");
        }
        assert!(html.contains("<style>") && html.contains("<script>"), "inline CSS and script");
    }

    #[test]
    fn the_matrix_has_a_row_per_fault_and_a_cell_per_rule() {
        let report = sample();
        let html = render_html(&report);
        assert_eq!(html.matches("<tr class=\"fault").count(), report.faults.len());
        assert_eq!(html.matches("<button class=\"cell").count(), report.faults.len() * report.rules.len());
        assert_eq!(html.matches("class=\"detail\"").count(), report.faults.len() * report.rules.len());
        assert_eq!(
            html.matches("<button class=\"cell fired").count(),
            3,
            "the three alerts that caught faults"
        );
        assert_eq!(html.matches("<button class=\"cell pending").count(), 1, "flaky_network's pending only");
        assert_eq!(html.matches("<button class=\"cell short").count(), 1, "disk_fill too short");
        assert_eq!(html.matches("<span class=\"collateral\">").count(), 1, "EdgeErrorBudgetBurn on edge-01");
    }

    #[test]
    fn fired_cells_are_coloured_by_time_to_firing() {
        assert_eq!(heat(0.0, 3600.0), "background:hsl(140 70% 42%)");
        assert_eq!(heat(3600.0, 3600.0), "background:hsl(15 70% 42%)");
        assert_eq!(heat(7200.0, 3600.0), "background:hsl(15 70% 42%)", "clamped");
        let html = render_html(&sample());
        // EdgeNodeDown fired after 75 s: nearer green than EdgeHighLatencyP99 after 6 min.
        assert!(html.contains("style=\"background:hsl(74 70% 42%)\" title=\"EdgeNodeDown"), "75 s");
        assert!(html.contains("style=\"background:hsl(50 70% 42%)\" title=\"EdgeHighLatencyP99"), "6 min");
    }

    #[test]
    fn a_cell_timeline_shows_pending_firing_and_resolved_within_the_window() {
        let report = sample();
        let crash = &report.faults[0];
        let cell = cell(&report, crash, (1, &report.rules[1]), "x".into(), SCALE_TOP_S);
        let faulted = &cell.detail.tracks[0];
        assert_eq!(faulted.node, "edge-02");
        let kinds: Vec<&str> = faulted.bars.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, ["pending", "firing", "resolved", "pending", "firing", "resolved"], "the flap");
        // Window: 90 s before the start, to the later of the last resolution (4620) and 30% of
        // the length after the end (4770), plus 45 s: 3510..4815.
        assert_eq!(faulted.bars[0].left, format!("{:.2}%", (3660.0 - 3510.0) / 1305.0 * 100.0));
        assert_eq!(faulted.bars[5].left, format!("{:.2}%", (4620.0 - 3510.0) / 1305.0 * 100.0));
        let budget = cell_for(&report, 0, "EdgeErrorBudgetBurn");
        assert_eq!(budget.kind, "quiet");
        assert_eq!(budget.collateral, 1);
        let tracks: Vec<(&str, &str)> =
            budget.detail.tracks.iter().map(|t| (t.node.as_str(), t.note)).collect();
        assert_eq!(tracks, [("edge-02", "faulted node"), ("edge-01", "collateral")]);
        let kinds: Vec<&str> = budget.detail.tracks[1].bars.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, ["pending", "firing", "resolved"], "the episode at rest is outside the window");
    }

    #[test]
    fn an_alert_resolved_before_the_fault_ended_says_before() {
        let mut report = sample();
        report.faults[0].detections[0].resolved_after_end_s = Some(-243.0);
        let node_down = cell_for(&report, 0, "EdgeNodeDown");
        assert!(
            node_down.detail.lines.iter().any(|l| l == "Resolved 4m3s before the fault ended."),
            "{:?}",
            node_down.detail.lines
        );
        let html = render_html(&report);
        assert!(!html.contains("Resolved -") && !html.contains("resolved -"), "{html}");
        assert!(html.contains("Resolved 2m after the fault ended."), "EdgeHighErrorRate");
        let ticks: Vec<String> = node_down.detail.ticks.iter().map(|t| t.label.clone()).collect();
        assert_eq!(ticks[..2], ["0s", "+15m"], "the fault's start and end");
    }

    #[test]
    fn a_detection_by_a_regions_or_fleet_wide_alert_draws_that_timeline() {
        for (name, note) in [("region eu-west", "faulted node's region"), (FLEET, "fleet-wide")] {
            let mut report = sample();
            let node_down =
                report.timelines.iter_mut().find(|t| t.alert == "EdgeNodeDown").expect("timeline");
            node_down.node = name.to_owned();
            let cell = cell_for(&report, 0, "EdgeNodeDown");
            let tracks: Vec<(&str, &str)> =
                cell.detail.tracks.iter().map(|t| (t.node.as_str(), t.note)).collect();
            assert_eq!(tracks, [("edge-02", "faulted node"), (name, note)]);
            assert!(cell.detail.tracks[0].bars.is_empty());
            let kinds: Vec<&str> = cell.detail.tracks[1].bars.iter().map(|b| b.kind).collect();
            assert_eq!(kinds, ["pending", "firing", "resolved"], "{name}");
        }
        // The node's own timeline holds the detection: nothing more is drawn.
        let report = sample();
        assert_eq!(cell_for(&report, 0, "EdgeNodeDown").detail.tracks.len(), 1);
    }

    #[test]
    fn quiet_and_short_cells_do_not_claim_more_than_the_judge_knows() {
        let report = sample();
        let flaky = cell_for(&report, 3, "EdgeHighLatencyP99");
        assert!(flaky.detail.lines.contains(&"Did not fire before the fault's recovery ended.".to_owned()));
        let short = cell_for(&report, 2, "HostFilesystemFillingUp");
        assert_eq!(short.kind, "short");
        assert_eq!(
            short.detail.lines,
            [
                "The fault lasted 10m, less than this rule's longest window plus for: (1h10m); it did not fire."
            ]
        );
        let html = render_html(&report);
        assert!(!html.contains("Shortest fault") && html.contains("<th>Window + for:</th>"), "{html}");
    }

    #[test]
    fn a_pending_only_episode_has_no_firing_bar_and_no_resolution() {
        let report = sample();
        let flaky = cell_for(&report, 3, "EdgeHighLatencyP99");
        assert_eq!(flaky.kind, "pending");
        let kinds: Vec<&str> = flaky.detail.tracks[0].bars.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, ["pending"]);
    }

    fn cell_for(report: &Report, fault: usize, alert: &str) -> Cell {
        let rule = report.rules.iter().enumerate().find(|(_, r)| r.alert == alert).expect(alert);
        cell(report, &report.faults[fault], rule, "x".into(), SCALE_TOP_S)
    }

    #[test]
    fn rules_sharing_a_name_each_show_their_own_detection() {
        // A warning and a critical EdgeHighErrorRate: the critical one went pending later
        // and never fired. Without the index both columns would show the warning's.
        let mut report = sample();
        let mut critical = report.rules[1].clone();
        critical.group = "critical".to_owned();
        report.rules.insert(2, critical);
        let crash = &mut report.faults[0];
        crash.detections[1].rule = Some(1);
        let mut later = crash.detections[1].clone();
        (later.rule, later.pending_after_s, later.firing_after_s) = (Some(2), 500.0, None);
        crash.detections.push(later);
        let [warning, critical] =
            [1, 2].map(|i| cell(&report, &report.faults[0], (i, &report.rules[i]), "x".into(), SCALE_TOP_S));
        assert_eq!((warning.kind, warning.label.as_str()), ("fired", "3m"));
        assert_eq!((critical.kind, critical.label.as_str()), ("pending", "pending"));
        assert_eq!(critical.detail.lines[0], "Pending after 8m20s.");
    }

    #[test]
    fn a_never_resolving_alert_runs_to_the_window_edge() {
        let report = sample();
        let watchdog = cell_for(&report, 1, "Watchdog");
        assert_eq!(watchdog.kind, "quiet", "Watchdog is not a detection of the fault");
        assert!(
            watchdog.detail.lines[0].starts_with("Already firing on edge-03"),
            "{:?}",
            watchdog.detail.lines
        );
        let bars = &watchdog.detail.tracks[0].bars;
        assert_eq!(bars.len(), 1, "{:?}", bars.iter().map(|b| b.kind).collect::<Vec<_>>());
        assert_eq!(
            (bars[0].kind, bars[0].left.as_str(), bars[0].width.as_str()),
            ("firing", "0.00%", "100.00%")
        );
    }

    #[test]
    fn names_are_escaped() {
        let mut report = sample();
        report.rules[0].alert = "<script>alert(1)</script>".to_owned();
        report.faults[0].node = "\"><img onerror=x>".to_owned();
        let html = render_html(&report);
        assert!(!html.contains("<script>alert"), "alert name not escaped");
        assert!(!html.contains("<img"), "node name not escaped");
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "escaped as character references"
        );
    }

    /// The size of the benchmark: about 70 rules and 20 faults, 1400 cells, each with
    /// its timeline on the page.
    pub(crate) fn large() -> Report {
        let mut report = sample();
        let rules = report.rules.clone();
        let faults = report.faults.clone();
        report.rules = (0..70)
            .map(|i| RuleReport { alert: format!("Rule{i}"), ..rules[i % rules.len()].clone() })
            .collect();
        report.faults = (0..20)
            .map(|i| {
                let mut f = faults[i % faults.len()].clone();
                f.detections.iter_mut().for_each(|d| d.alert = format!("Rule{}", i * 3 % 70));
                f
            })
            .collect();
        report
    }

    #[test]
    fn a_benchmark_sized_report_stays_a_page_a_browser_opens_at_once() {
        let html = render_html(&large());
        assert_eq!(html.matches("<button class=\"cell").count(), 1400);
        assert!(html.len() < 3_000_000, "{} bytes", html.len());
    }

    #[test]
    fn the_first_fired_cell_is_shown_first() {
        let page = page(&sample());
        assert_eq!(page.selected, "d0-0", "node_crash x EdgeNodeDown");
        assert!(page.rows[0].caught() && !page.rows[2].caught());
    }
}
