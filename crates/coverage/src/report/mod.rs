//! The coverage report: one [`Report`] (the JSON contract, in [`model`]) and its renderers,
//! each a pure function of the report, so every form says the same thing.
//!
//! - [`text::render_text`]: tables for the terminal, 100 columns wide.
//! - [`markdown::render_markdown`]: the same tables plus the per-rule and per-fault notes.
//! - [`junit::render_junit`]: JUnit XML, one test case per fault and per rule.
//! - [`html::render_html`]: one self-contained page with the fault x rule heat map.
//!
//! What makes the command exit non-zero is the command's policy, not the report's: it reads
//! [`Report::summary`].

pub mod html;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod text;

pub use html::render_html;
pub use junit::render_junit;
pub use markdown::render_markdown;
pub use model::*;
pub use text::render_text;

/// A duration for people: `45s`, `6m`, `6m30s`, `1h10m`, `26h`. Rounded to the second; a
/// negative one starts with `-` (`-4m3s`), unless it rounds to `0s`.
pub fn human_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "?".to_owned();
    }
    let total = seconds.abs().round() as u64;
    let sign = if seconds < 0.0 && total > 0 { "-" } else { "" };
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    let body = match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    };
    format!("{sign}{body}")
}

/// A time relative to a moment, for a table cell: `+30s` after it, `-4m3s` before it, `0s`
/// at it (to the second).
pub fn signed_duration(seconds: f64) -> String {
    let body = human_duration(seconds);
    if seconds > 0.0 && body != "0s" && body != "?" { format!("+{body}") } else { body }
}

/// When an alert resolved relative to the fault's end, in words: "resolved 30s after the
/// fault ended", "resolved 4m3s before the fault ended" (it went quiet while the fault went
/// on), "resolved as the fault ended"; "never resolved" when it did not within the run.
pub fn resolved_phrase(resolved_after_end_s: Option<f64>) -> String {
    let Some(r) = resolved_after_end_s else { return "never resolved".to_owned() };
    match human_duration(r.abs()).as_str() {
        "?" => "resolved at an unknown time".to_owned(),
        "0s" => "resolved as the fault ended".to_owned(),
        d if r < 0.0 => format!("resolved {d} before the fault ended"),
        d => format!("resolved {d} after the fault ended"),
    }
}

/// A sentence's worth of counts: "2 of 4 faults caught; rules: 3 caught, ...".
pub fn summary_line(report: &Report) -> String {
    let s = report.summary();
    let rules: Vec<String> = RuleStatus::ALL
        .iter()
        .filter(|status| s.rules_with(**status) > 0)
        .map(|status| format!("{} {}", s.rules_with(*status), status.as_str().replace('_', " ")))
        .collect();
    let rules = if rules.is_empty() { "none".to_owned() } else { rules.join(", ") };
    format!(
        "{} of {} faults caught; rules: {rules}; {} false alert episode{} at rest",
        s.faults_caught,
        s.faults_caught + s.faults_uncaught,
        s.false_alert_episodes,
        if s.false_alert_episodes == 1 { "" } else { "s" },
    )
}

/// The nodes as a short phrase: "edge-02", "2 nodes".
fn nodes_phrase(nodes: &[String]) -> String {
    match nodes {
        [one] => one.clone(),
        many => format!("{} nodes", many.len()),
    }
}

/// "3 episodes on 2 nodes, 15m" or "none".
pub fn false_alerts_phrase(f: &FalseAlerts) -> String {
    if f.episodes == 0 {
        return "none".to_owned();
    }
    format!(
        "{} episode{} on {}, {}",
        f.episodes,
        if f.episodes == 1 { "" } else { "s" },
        nodes_phrase(&f.nodes),
        human_duration(f.total_s)
    )
}

/// What provides a missing series, for a sentence.
fn provided_by_phrase(missing: &Missing) -> String {
    match &missing.provided_by {
        Some(by) => format!("provided by {by}"),
        None => "nothing in the fleet provides it".to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The hand-written fixture with every status.
    pub(crate) fn sample() -> Report {
        let text = include_str!("../../tests/data/report/sample.json");
        match Report::from_json(text) {
            Ok(report) => report,
            Err(e) => panic!("tests/data/report/sample.json: {e}"),
        }
    }

    /// Where [`the_sample_renders_into_the_folder_the_browser_check_reads`] writes, when set.
    const SAMPLE_OUT: &str = "COVERAGE_REPORT_SAMPLE_OUT";

    /// Every form of the sample, written into `$COVERAGE_REPORT_SAMPLE_OUT` when that is set:
    /// scripts/e2e/test_coverage_report.py parses the XML and screenshots the page in Chromium.
    #[test]
    fn the_sample_renders_into_the_folder_the_browser_check_reads() {
        let report = sample();
        let forms = [
            ("sample.json", report.to_json()),
            ("sample.txt", render_text(&report)),
            ("sample.md", render_markdown(&report)),
            ("sample.xml", render_junit(&report)),
            ("sample.html", render_html(&report)),
        ];
        for (name, body) in &forms {
            assert!(body.len() > 500, "{name} is nearly empty: {body}");
        }
        if let Some(dir) = std::env::var_os(SAMPLE_OUT) {
            let dir = std::path::PathBuf::from(dir);
            for (name, body) in &forms {
                if let Err(e) = std::fs::write(dir.join(name), body) {
                    panic!("{SAMPLE_OUT}: writing {name} into {}: {e}", dir.display());
                }
            }
        }
    }

    #[test]
    fn the_sample_has_every_status() {
        let report = sample();
        for status in [FaultStatus::Caught, FaultStatus::Uncaught] {
            assert!(report.faults.iter().any(|f| f.status == status), "no {status:?} fault");
        }
        for status in RuleStatus::ALL {
            assert!(report.rules.iter().any(|r| r.status == status), "no {status:?} rule");
        }
    }

    #[test]
    fn the_json_round_trips_and_keeps_snake_case_and_nulls() {
        let report = sample();
        let json = report.to_json();
        assert_eq!(Report::from_json(&json).ok(), Some(report.clone()));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(value["version"], 1);
        assert_eq!(value["faults"][2]["status"], "uncaught");
        assert_eq!(value["rules"][3]["status"], "false_alerts_only");
        assert_eq!(value["rules"][4]["status"], "never_exercised");
        assert!(value["rules"][5]["shortest_fault_s"].is_null());
        assert!(value["rules"][5]["missing"][0]["provided_by"].is_null());
        assert!(value["faults"][3]["detections"][0]["firing_after_s"].is_null());
        assert!(value["timelines"][7]["episodes"][0]["resolved_s"].is_null());
    }

    #[test]
    fn other_versions_and_other_shapes_are_refused() {
        let bumped = include_str!("../../tests/data/report/sample.json").replacen(
            "\"version\": 1",
            "\"version\": 2",
            1,
        );
        assert!(matches!(Report::from_json(&bumped), Err(ReadError::Version { found: 2 })));
        assert!(matches!(Report::from_json("{\"version\": 1}"), Err(ReadError::Json(_))));
        assert!(matches!(Report::from_json("[]"), Err(ReadError::Json(_))));
    }

    #[test]
    fn unknown_fields_are_ignored_so_version_1_can_grow() {
        let grown = include_str!("../../tests/data/report/sample.json").replacen(
            "\"version\": 1,",
            "\"version\": 1, \"added_later\": {\"x\": 1},",
            1,
        );
        assert_eq!(Report::from_json(&grown).ok(), Some(sample()));
    }

    #[test]
    fn the_summary_counts_faults_rules_and_false_alerts() {
        let s = sample().summary();
        assert_eq!((s.faults_caught, s.faults_uncaught), (2, 2));
        assert_eq!(
            RuleStatus::ALL.map(|status| s.rules_with(status)),
            [3, 1, 1, 1, 1],
            "caught, never exercised, cannot evaluate, always firing, false alerts only"
        );
        assert_eq!(s.rules_with_false_alerts, 3);
        assert_eq!(s.false_alert_episodes, 2 + 3 + 4);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        let cases =
            [(0.0, "0s"), (45.0, "45s"), (60.0, "1m"), (75.0, "1m15s"), (3600.0, "1h"), (4200.0, "1h10m")];
        for (seconds, expected) in cases {
            assert_eq!(human_duration(seconds), expected, "{seconds}");
        }
        assert_eq!(human_duration(93_600.0), "26h");
        assert_eq!(human_duration(-30.0), "-30s");
        assert_eq!(human_duration(-243.0), "-4m3s");
        assert_eq!(human_duration(-0.4), "0s", "no minus on what rounds to nothing");
        assert_eq!(human_duration(f64::NAN), "?");
    }

    #[test]
    fn relative_times_carry_one_sign_and_say_before_or_after() {
        let cases = [(30.0, "+30s"), (-243.0, "-4m3s"), (0.0, "0s"), (-0.2, "0s"), (0.3, "0s")];
        for (seconds, expected) in cases {
            assert_eq!(signed_duration(seconds), expected, "{seconds}");
        }
        assert_eq!(signed_duration(f64::INFINITY), "?");
        assert_eq!(resolved_phrase(Some(30.0)), "resolved 30s after the fault ended");
        assert_eq!(resolved_phrase(Some(-243.0)), "resolved 4m3s before the fault ended");
        assert_eq!(resolved_phrase(Some(0.2)), "resolved as the fault ended");
        assert_eq!(resolved_phrase(None), "never resolved");
    }

    #[test]
    fn the_summary_line_names_only_the_statuses_present() {
        assert_eq!(
            summary_line(&sample()),
            "2 of 4 faults caught; rules: 3 caught, 1 never exercised, 1 cannot evaluate, \
             1 always firing, 1 false alerts only; 9 false alert episodes at rest"
        );
    }
}
