//! The terminal form: the faults with the alerts that caught them and when, then the rules
//! with their verdicts. Plain text, no colour, at most [`WIDTH`] columns.

use std::fmt::Write as _;

use super::{FalseAlerts, Report, human_duration, provided_by_phrase, signed_duration, summary_line};

/// The widest line written: a 100-column terminal, or a CI log, shows every line unwrapped.
pub const WIDTH: usize = 100;

/// Columns are separated by this many spaces.
const GAP: usize = 2;

/// The narrowest a text column shrinks to when the table is too wide.
const MIN_COLUMN: usize = 6;

/// The report as terminal tables, at most [`WIDTH`] columns wide.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let run = &report.run;
    let _ = writeln!(out, "{}", wrap(&format!("Rule coverage: {}", summary_line(report)), "", WIDTH));
    let _ = writeln!(
        out,
        "{}",
        wrap(
            &format!(
                "Run: {} nodes, seed {}, {} at rest, scrape {}, evaluation {}, Prometheus {}",
                run.nodes,
                run.seed,
                human_duration(run.rest_s),
                human_duration(run.scrape_interval_s),
                human_duration(run.evaluation_interval_s),
                run.prometheus_version
            ),
            "",
            WIDTH
        )
    );
    for difference in &run.differences {
        let _ = writeln!(out, "{}", wrap(&format!("Differs from live: {difference}"), "  ", WIDTH));
    }
    out.push_str(
        "\nFaults (PENDING and FIRING after the fault's start; RESOLVED after its end, - before it)\n",
    );
    out.push_str(&faults_table(report).render(WIDTH));
    out.push_str("\nRules\n");
    out.push_str(&rules_table(report).render(WIDTH));
    out
}

fn faults_table(report: &Report) -> Table {
    let mut table = Table::new(&[
        ("FAILURE", Align::Left),
        ("NODE", Align::Left),
        ("LENGTH", Align::Right),
        ("STATUS", Align::Left),
        ("ALERT", Align::Left),
        ("PENDING", Align::Right),
        ("FIRING", Align::Right),
        ("RESOLVED", Align::Right),
        ("FLAPS", Align::Right),
    ]);
    for fault in &report.faults {
        let head = [
            fault.failure.clone(),
            fault.node.clone(),
            human_duration(fault.end_s - fault.start_s),
            fault.status.as_str().to_owned(),
        ];
        if fault.detections.is_empty() {
            let mut row = head.to_vec();
            row.extend(["-", "", "", "", ""].map(String::from));
            table.row(row);
        }
        for (i, d) in fault.detections.iter().enumerate() {
            let mut row = if i == 0 { head.to_vec() } else { vec![String::new(); 4] };
            row.extend([
                d.alert.clone(),
                human_duration(d.pending_after_s),
                d.firing_after_s.map_or("-".to_owned(), human_duration),
                match (d.firing_after_s, d.resolved_after_end_s) {
                    (None, _) => "-".to_owned(),
                    (Some(_), None) => "never".to_owned(),
                    (Some(_), Some(r)) => signed_duration(r),
                },
                d.flaps.to_string(),
            ]);
            table.row(row);
        }
        if !fault.collateral.is_empty() {
            let list: Vec<String> =
                fault.collateral.iter().map(|c| format!("{} on {}", c.alert, c.node)).collect();
            table.note(format!("collateral: {}", list.join(", ")));
        }
        if !fault.too_short_for.is_empty() {
            let list: Vec<String> = fault
                .too_short_for
                .iter()
                .map(|t| format!("{} ({})", t.alert, human_duration(t.needs_s)))
                .collect();
            table.note(format!("shorter than the window + for: of {}, which did not fire", list.join(", ")));
        }
    }
    table
}

fn rules_table(report: &Report) -> Table {
    let mut table = Table::new(&[
        ("ALERT", Align::Left),
        ("STATUS", Align::Left),
        ("WINDOW+FOR", Align::Right),
        ("FALSE ALERTS AT REST", Align::Flex),
        ("CAUGHT", Align::Flex),
    ]);
    for rule in &report.rules {
        table.row(vec![
            rule.alert.clone(),
            rule.status.as_str().to_owned(),
            rule.shortest_fault_s.map_or("-".to_owned(), human_duration),
            at_rest(&rule.false_alerts_at_rest),
            if rule.caught.is_empty() { "-".to_owned() } else { rule.caught.join(", ") },
        ]);
        for missing in &rule.missing {
            table.note(format!("missing {}: {}", missing.metric, provided_by_phrase(missing)));
        }
    }
    table
}

/// False alerts at rest in a cell: "3 on 2 nodes, 15m" or "-".
fn at_rest(f: &FalseAlerts) -> String {
    if f.episodes == 0 {
        return "-".to_owned();
    }
    let nodes = match f.nodes.as_slice() {
        [one] => one.clone(),
        many => format!("{} nodes", many.len()),
    };
    format!("{} on {nodes}, {}", f.episodes, human_duration(f.total_s))
}

// ---------------------------------------------------------------------------------------
// A plain table that fits a width
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Align {
    /// Text, cut only when the flexible columns are as narrow as they go.
    Left,
    /// Numbers and durations, never cut.
    Right,
    /// Text cut first: lists and phrases that matter less than the names.
    Flex,
}

enum Line {
    Cells(Vec<String>),
    /// A sentence under the row above, indented and wrapped, outside the columns.
    Note(String),
}

struct Table {
    columns: Vec<(&'static str, Align)>,
    lines: Vec<Line>,
}

impl Table {
    fn new(columns: &[(&'static str, Align)]) -> Self {
        Table { columns: columns.to_vec(), lines: Vec::new() }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.lines.push(Line::Cells(cells));
    }

    fn note(&mut self, text: String) {
        self.lines.push(Line::Note(text));
    }

    /// Column widths: each column's widest cell, then the widest flexible column, or when
    /// none can shrink the widest text column, shrunk one at a time until the row fits `width`.
    fn widths(&self, width: usize) -> Vec<usize> {
        let mut widths: Vec<usize> = self.columns.iter().map(|(h, _)| h.chars().count()).collect();
        for line in &self.lines {
            if let Line::Cells(cells) = line {
                for (w, cell) in widths.iter_mut().zip(cells) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let gaps = GAP * self.columns.len().saturating_sub(1);
        while widths.iter().sum::<usize>() + gaps > width {
            let widest_of = |align: Align| {
                (0..widths.len())
                    .filter(|&i| self.columns[i].1 == align && widths[i] > MIN_COLUMN)
                    .max_by_key(|&i| widths[i])
            };
            let widest = widest_of(Align::Flex).or_else(|| widest_of(Align::Left));
            match widest {
                Some(i) => widths[i] -= 1,
                None => break,
            }
        }
        widths
    }

    fn render(&self, width: usize) -> String {
        let widths = self.widths(width);
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|(h, _)| (*h).to_owned()).collect();
        out.push_str(&self.cells_line(&header, &widths));
        for line in &self.lines {
            match line {
                Line::Cells(cells) => out.push_str(&self.cells_line(cells, &widths)),
                Line::Note(text) => {
                    out.push_str(&wrap(text, "    ", width));
                    out.push('\n');
                }
            }
        }
        out
    }

    fn cells_line(&self, cells: &[String], widths: &[usize]) -> String {
        let mut line = String::new();
        for (i, ((cell, width), (_, align))) in cells.iter().zip(widths).zip(&self.columns).enumerate() {
            if i > 0 {
                line.push_str(&" ".repeat(GAP));
            }
            let cell = fit(cell, *width);
            match align {
                Align::Left | Align::Flex => line.push_str(&format!("{cell:<width$}")),
                Align::Right => line.push_str(&format!("{cell:>width$}")),
            }
        }
        let mut line = line.trim_end().to_owned();
        line.push('\n');
        line
    }
}

/// `text` cut to `width` characters, an ellipsis marking the cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` word-wrapped to `width`, every line after the first (and the first, for notes)
/// starting with `indent`; a word longer than a line is cut.
fn wrap(text: &str, indent: &str, width: usize) -> String {
    let room = width.saturating_sub(indent.chars().count()).max(MIN_COLUMN);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let word = fit(word, room);
        let needed = if current.is_empty() { 0 } else { current.chars().count() + 1 };
        if needed + word.chars().count() > room && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines.iter().map(|l| format!("{indent}{l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    #[test]
    fn every_line_fits_100_columns() {
        let mut report = sample();
        // Long names must be cut, not widen the table.
        report.rules[0].alert = "KubernetesPersistentVolumeFillingUpPredictedWithinFourDays".to_owned();
        report.faults[0].detections[0].alert = report.rules[0].alert.clone();
        report.rules[5].missing[0].metric = format!("{}{{fstype=\"xfs\"}}", "x".repeat(120));
        let text = render_text(&report);
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "{} columns: {line}", line.chars().count());
        }
        assert!(text.contains("KubernetesPersistentVolume"), "{text}");
    }

    #[test]
    fn faults_show_who_caught_them_and_when() {
        let text = render_text(&sample());
        let crash = text.lines().find(|l| l.starts_with("node_crash")).unwrap_or_default();
        for cell in ["edge-02", "15m", "caught", "EdgeNodeDown", "15s", "1m15s", "+30s"] {
            assert!(crash.contains(cell), "{cell:?} missing from {crash:?}");
        }
        let second = text.lines().skip_while(|l| !l.starts_with("node_crash")).nth(1).unwrap_or_default();
        assert!(second.trim_start().starts_with("EdgeHighErrorRate"), "{second:?}");
        assert!(second.trim_end().ends_with('1'), "one flap: {second:?}");
        let disk = text.lines().find(|l| l.starts_with("disk_fill")).unwrap_or_default();
        assert!(disk.contains("uncaught"), "{disk}");
        assert!(
            text.contains(
                "shorter than the window + for: of HostFilesystemFillingUp (1h10m), which did not fire"
            ),
            "{text}"
        );
        assert!(text.contains("collateral: EdgeErrorBudgetBurn on edge-01"), "{text}");
        let flaky = text.lines().find(|l| l.starts_with("flaky_network")).unwrap_or_default();
        assert!(flaky.contains("EdgeHighLatencyP99") && flaky.contains("3m20s"), "{flaky}");
    }

    #[test]
    fn rules_show_their_status_and_what_is_missing() {
        let text = render_text(&sample());
        let rules = text.split("\nRules\n").nth(1).unwrap_or_default();
        let header = rules.lines().next().unwrap_or_default();
        assert!(header.contains("WINDOW+FOR") && !header.contains("SHORTEST"), "not a minimum: {header}");
        for (alert, status) in [
            ("EdgeNodeDown", "caught"),
            ("EdgeErrorBudgetBurn", "false_alerts_only"),
            ("HostFilesystemFillingUp", "never_exercised"),
            ("HostOutOfInodes", "cannot_evaluate"),
            ("Watchdog", "always_firing"),
        ] {
            let line = rules.lines().find(|l| l.starts_with(alert)).unwrap_or_default();
            assert!(line.contains(status), "{alert}: {line:?}");
        }
        assert!(rules.contains("3 on 2 nodes, 15m"), "{rules}");
        assert!(
            rules.contains("missing http_server_request_duration_seconds_bucket: provided by shape otel")
        );
        assert!(rules.contains("nothing in the fleet provides it"), "{rules}");
    }

    #[test]
    fn an_alert_resolved_before_the_fault_ended_shows_a_minus_not_plus_minus() {
        let mut report = sample();
        report.faults[0].detections[0].resolved_after_end_s = Some(-243.0);
        report.faults[0].detections[1].resolved_after_end_s = Some(0.0);
        let text = render_text(&report);
        assert!(!text.contains("+-"), "{text}");
        let crash = text.lines().find(|l| l.starts_with("node_crash")).unwrap_or_default();
        assert!(crash.contains(" -4m3s "), "{crash:?}");
        let second = text.lines().skip_while(|l| !l.starts_with("node_crash")).nth(1).unwrap_or_default();
        assert!(second.contains(" 0s ") && !second.contains("+0s"), "{second:?}");
        assert!(text.contains("RESOLVED after its end, - before it"), "the sign is explained: {text}");
    }

    #[test]
    fn wrapping_keeps_words_and_indents() {
        assert_eq!(wrap("aaa bbb ccc", "  ", 9), "  aaa bbb\n  ccc");
        assert_eq!(fit("abcdefgh", 5), "abcd…");
    }
}
