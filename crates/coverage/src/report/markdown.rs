//! The Markdown form, for pull request comments and job summaries: the run, the faults and
//! the rules as tables, then the notes a table cannot hold (false alerts at rest, missing
//! series, faults too short for a rule, collateral alerts, where virtual time differs).

use std::fmt::Write as _;

use super::{
    Report, RuleStatus, false_alerts_phrase, human_duration, provided_by_phrase, signed_duration,
    summary_line,
};

/// The report as GitHub-flavoured Markdown.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let run = &report.run;
    let _ = writeln!(out, "# Rule coverage\n\n{}.\n", summary_line(report));
    let _ = writeln!(
        out,
        "{} nodes, seed {}, {} at rest; scrape every {}, evaluate every {}; Prometheus {}; \
         shapes {}; jobs {} (app) and {} (host).\n",
        run.nodes,
        run.seed,
        human_duration(run.rest_s),
        human_duration(run.scrape_interval_s),
        human_duration(run.evaluation_interval_s),
        text(&run.prometheus_version),
        list(&run.shapes),
        code(&run.jobs.app),
        code(&run.jobs.host),
    );
    let _ = writeln!(out, "Rule files: {}.\n", list(&run.rules_files));
    faults(report, &mut out);
    rules(report, &mut out);
    notes(report, &mut out);
    if !run.differences.is_empty() {
        out.push_str("## Where virtual time differs from live\n\n");
        for difference in &run.differences {
            let _ = writeln!(out, "- {}", text(difference));
        }
        out.push('\n');
    }
    out
}

fn faults(report: &Report, out: &mut String) {
    out.push_str("## Faults\n\n");
    out.push_str(
        "| Failure | Node | From | Length | Status \
         | Caught by: pending / firing (after the start) / resolved (after the end, - before), flaps |\n",
    );
    out.push_str("|---|---|--:|--:|---|---|\n");
    for fault in &report.faults {
        let fired: Vec<String> = fault
            .detections
            .iter()
            .filter_map(|d| {
                let firing = d.firing_after_s?;
                let resolved = d.resolved_after_end_s.map_or("never resolved".to_owned(), signed_duration);
                let flaps = match d.flaps {
                    0 => String::new(),
                    1 => ", 1 flap".to_owned(),
                    n => format!(", {n} flaps"),
                };
                Some(format!(
                    "{}: {} / {} / {resolved}{flaps}",
                    code(&d.alert),
                    human_duration(d.pending_after_s),
                    human_duration(firing)
                ))
            })
            .collect();
        let status = match fault.status {
            super::FaultStatus::Caught => "caught",
            super::FaultStatus::Uncaught => "**uncaught**",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {status} | {} |",
            code(&fault.failure),
            code(&fault.node),
            human_duration(fault.start_s),
            human_duration(fault.end_s - fault.start_s),
            if fired.is_empty() { "none".to_owned() } else { fired.join("<br>") },
        );
    }
    out.push('\n');
}

fn rules(report: &Report, out: &mut String) {
    out.push_str("## Rules\n\n");
    out.push_str("| Alert | Status | Caught | False alerts at rest | Window + `for:` | Group | File |\n");
    out.push_str("|---|---|---|---|--:|---|---|\n");
    for rule in &report.rules {
        let status = match rule.status {
            RuleStatus::Caught => "caught".to_owned(),
            other => format!("**{}**", other.as_str().replace('_', " ")),
        };
        let _ = writeln!(
            out,
            "| {} | {status} | {} | {} | {} | {} | {} |",
            code(&rule.alert),
            if rule.caught.is_empty() { "none".to_owned() } else { list(&rule.caught) },
            false_alerts_phrase(&rule.false_alerts_at_rest),
            rule.shortest_fault_s.map_or("unknown".to_owned(), human_duration),
            text(&rule.group),
            code(&rule.file),
        );
    }
    out.push('\n');
}

fn notes(report: &Report, out: &mut String) {
    let false_alerts: Vec<_> = report.rules.iter().filter(|r| r.false_alerts_at_rest.episodes > 0).collect();
    if !false_alerts.is_empty() {
        out.push_str("## False alerts at rest\n\n");
        for rule in false_alerts {
            let f = &rule.false_alerts_at_rest;
            let _ = writeln!(
                out,
                "- {}: {} episode{}, {} firing in all, on {}.",
                code(&rule.alert),
                f.episodes,
                if f.episodes == 1 { "" } else { "s" },
                human_duration(f.total_s),
                list(&f.nodes),
            );
        }
        out.push('\n');
    }
    let missing: Vec<_> = report.rules.iter().filter(|r| !r.missing.is_empty()).collect();
    if !missing.is_empty() {
        out.push_str("## Missing series\n\n");
        for rule in missing {
            let _ = writeln!(out, "- {} reads:", code(&rule.alert));
            for m in &rule.missing {
                let _ = writeln!(out, "  - {}: {}.", code(&m.metric), text(&provided_by_phrase(m)));
            }
        }
        out.push('\n');
    }
    let short: Vec<_> = report.faults.iter().filter(|f| !f.too_short_for.is_empty()).collect();
    if !short.is_empty() {
        out.push_str("## Faults shorter than a rule's window plus `for:`\n\n");
        for fault in short {
            for t in &fault.too_short_for {
                let _ = writeln!(
                    out,
                    "- {} on {} lasted {}, less than the longest window plus `for:` of {} ({}), \
                     which did not fire for it.",
                    code(&fault.failure),
                    code(&fault.node),
                    human_duration(fault.end_s - fault.start_s),
                    code(&t.alert),
                    human_duration(t.needs_s),
                );
            }
        }
        out.push('\n');
    }
    let collateral: Vec<_> = report.faults.iter().filter(|f| !f.collateral.is_empty()).collect();
    if !collateral.is_empty() {
        out.push_str("## Collateral alerts (fired on another node during a fault)\n\n");
        for fault in collateral {
            let list: Vec<String> =
                fault.collateral.iter().map(|c| format!("{} on {}", code(&c.alert), code(&c.node))).collect();
            let _ =
                writeln!(out, "- {} on {}: {}.", code(&fault.failure), code(&fault.node), list.join(", "));
        }
        out.push('\n');
    }
}

/// A name as inline code, safe in a table cell: pipes escaped (GitHub reads `\|` inside code
/// in tables), and a fence longer than any backtick run inside.
fn code(name: &str) -> String {
    let name = one_line(name).replace('|', "\\|");
    let longest = name.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if name.starts_with('`') || name.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{name}{pad}{fence}")
}

/// Free text with Markdown's and HTML's special characters escaped.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in one_line(value).chars() {
        if "\\`*_{}[]<>()#+!|~&".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Names as a comma-separated list of code spans.
fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names.iter().map(|n| code(n)).collect::<Vec<_>>().join(", ")
}

/// Line breaks end a table row; a name never needs one.
fn one_line(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    /// The cells of the row whose first cell is `first`, unescaped pipes splitting them.
    fn row(md: &str, first: &str) -> Vec<String> {
        let line = md.lines().find(|l| l.starts_with(&format!("| {first} |"))).unwrap_or_default();
        let mut cells = Vec::new();
        let mut cell = String::new();
        let mut escaped = false;
        for c in line.chars() {
            match c {
                '|' if !escaped => cells.push(std::mem::take(&mut cell).trim().to_owned()),
                c => cell.push(c),
            }
            escaped = c == '\\';
        }
        cells.into_iter().skip(1).collect()
    }

    #[test]
    fn the_tables_have_a_row_per_fault_and_rule_with_as_many_cells_as_the_header() {
        let md = render_markdown(&sample());
        let fault_header = row(&md, "Failure");
        let rule_header = row(&md, "Alert");
        assert_eq!(fault_header.len(), 6, "{md}");
        assert_eq!(rule_header.len(), 7, "{md}");
        for failure in ["node_crash", "high_latency", "disk_fill", "flaky_network"] {
            assert_eq!(row(&md, &format!("`{failure}`")).len(), fault_header.len(), "{failure}: {md}");
        }
        for alert in ["EdgeNodeDown", "HostOutOfInodes", "Watchdog", "EdgeErrorBudgetBurn"] {
            assert_eq!(row(&md, &format!("`{alert}`")).len(), rule_header.len(), "{alert}: {md}");
        }
    }

    #[test]
    fn faults_carry_the_times_and_rules_the_status() {
        let md = render_markdown(&sample());
        let crash = row(&md, "`node_crash`");
        assert_eq!(crash[4], "caught");
        assert_eq!(
            crash[5],
            "`EdgeNodeDown`: 15s / 1m15s / +30s<br>`EdgeHighErrorRate`: 1m / 3m / +2m, 1 flap"
        );
        let flaky = row(&md, "`flaky_network`");
        assert_eq!(
            (flaky[4].as_str(), flaky[5].as_str()),
            ("**uncaught**", "none"),
            "pending only is not caught"
        );
        assert_eq!(row(&md, "`Watchdog`")[1], "**always firing**");
        assert_eq!(row(&md, "`HostOutOfInodes`")[1], "**cannot evaluate**");
        assert_eq!(row(&md, "`HostOutOfInodes`")[5], "disk \\& inodes \\<xfs\\>", "escaped group");
    }

    #[test]
    fn the_notes_say_what_the_tables_cannot() {
        let md = render_markdown(&sample());
        for needle in [
            "- `EdgeErrorBudgetBurn`: 3 episodes, 15m firing in all, on `edge-01`, `edge-04`.",
            "- `EdgeHighLatencyP99`: 2 episodes, 4m firing in all, on `edge-02`.",
            "  - `node_filesystem_files_free{fstype=\"xfs\"}`: nothing in the fleet provides it.",
            "  - `http_server_request_duration_seconds_bucket`: provided by shape otel.",
            "- `disk_fill` on `edge-01` lasted 10m, less than the longest window plus `for:` of \
             `HostFilesystemFillingUp` (1h10m), which did not fire for it.",
            "- `node_crash` on `edge-02`: `EdgeErrorBudgetBurn` on `edge-01`.",
            "## Where virtual time differs from live",
        ] {
            assert!(md.contains(needle), "{needle:?} missing from\n{md}");
        }
    }

    #[test]
    fn an_alert_resolved_before_the_fault_ended_shows_a_minus_not_plus_minus() {
        let mut report = sample();
        report.faults[0].detections[0].resolved_after_end_s = Some(-243.0);
        let md = render_markdown(&report);
        assert!(!md.contains("+-"), "{md}");
        assert!(row(&md, "`node_crash`")[5].starts_with("`EdgeNodeDown`: 15s / 1m15s / -4m3s<br>"), "{md}");
        assert!(md.contains("resolved (after the end, - before)"), "the sign is explained: {md}");
    }

    #[test]
    fn names_cannot_break_a_table() {
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(text("a|b\nc"), "a\\|b c");
    }
}
