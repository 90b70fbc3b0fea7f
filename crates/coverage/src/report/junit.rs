//! The JUnit XML form, so CI systems list every fault and every rule as a test case: a
//! `faults` suite (a case fails when its fault went uncaught) and a `rules` suite (a case
//! fails on false alerts at rest, "cannot evaluate" or "always firing", and is skipped when
//! never exercised). The elements and attributes are those of the common JUnit schema
//! (Jenkins' junit-10.xsd, which GitHub, GitLab and Jenkins reporters read).

use std::fmt::Write as _;

use super::{
    Fault, FaultStatus, Report, RuleReport, RuleStatus, false_alerts_phrase, human_duration, resolved_phrase,
};

/// The report as a JUnit XML document.
pub fn render_junit(report: &Report) -> String {
    let faults: Vec<Case> = report.faults.iter().map(fault_case).collect();
    let rules: Vec<Case> = report.rules.iter().map(rule_case).collect();
    let all = faults.iter().chain(&rules);
    let failures = all.clone().filter(|c| matches!(c.verdict, Verdict::Failure { .. })).count();
    let skipped = all.clone().filter(|c| matches!(c.verdict, Verdict::Skipped(_))).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"rule coverage\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\">",
        faults.len() + rules.len(),
    );
    suite(&mut out, "faults", &faults);
    suite(&mut out, "rules", &rules);
    out.push_str("</testsuites>\n");
    out
}

enum Verdict {
    Passed,
    Failure { kind: &'static str, message: String },
    Skipped(String),
}

struct Case {
    classname: String,
    name: String,
    verdict: Verdict,
    /// What happened, in lines: the failure's body, or `system-out`.
    details: Vec<String>,
}

fn fault_case(fault: &Fault) -> Case {
    let mut details: Vec<String> = fault
        .detections
        .iter()
        .map(|d| match d.firing_after_s {
            Some(firing) => format!(
                "{} fired after {} (pending after {}), {}, {} flap{}",
                d.alert,
                human_duration(firing),
                human_duration(d.pending_after_s),
                resolved_phrase(d.resolved_after_end_s),
                d.flaps,
                if d.flaps == 1 { "" } else { "s" },
            ),
            None => format!(
                "{} went pending after {} but did not fire before the fault's recovery ended",
                d.alert,
                human_duration(d.pending_after_s)
            ),
        })
        .collect();
    details.extend(fault.collateral.iter().map(|c| format!("collateral: {} fired on {}", c.alert, c.node)));
    details.extend(fault.too_short_for.iter().map(|t| {
        format!(
            "shorter than the longest window plus for: of {} ({}), which did not fire",
            t.alert,
            human_duration(t.needs_s)
        )
    }));
    let verdict = match fault.status {
        FaultStatus::Caught => Verdict::Passed,
        FaultStatus::Uncaught => Verdict::Failure {
            kind: "uncaught",
            message: format!(
                "no alert fired on {} during {} of {}",
                fault.node,
                fault.failure,
                human_duration(fault.end_s - fault.start_s)
            ),
        },
    };
    Case {
        classname: "faults".to_owned(),
        name: format!("{} on {}", fault.failure, fault.node),
        verdict,
        details,
    }
}

fn rule_case(rule: &RuleReport) -> Case {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    match rule.status {
        RuleStatus::CannotEvaluate => {
            let names: Vec<&str> = rule.missing.iter().map(|m| m.metric.as_str()).collect();
            problems
                .push(("cannot_evaluate", format!("cannot evaluate: nothing provides {}", names.join(", "))));
        }
        RuleStatus::AlwaysFiring => problems.push(("always_firing", "always firing".to_owned())),
        _ => {}
    }
    if rule.false_alerts_at_rest.episodes > 0 {
        problems.push((
            "false_alerts_at_rest",
            format!("false alerts at rest: {}", false_alerts_phrase(&rule.false_alerts_at_rest)),
        ));
    }
    let mut details = Vec::new();
    if !rule.caught.is_empty() {
        details.push(format!("caught {}", rule.caught.join(", ")));
    }
    for m in &rule.missing {
        details.push(match &m.provided_by {
            Some(by) => format!("missing {}: provided by {by}", m.metric),
            None => format!("missing {}: nothing in the fleet provides it", m.metric),
        });
    }
    if let Some(s) = rule.shortest_fault_s {
        details.push(format!("longest window plus for: {}", human_duration(s)));
    }
    let verdict = if let Some((kind, _)) = problems.first() {
        let message: Vec<String> = problems.iter().map(|(_, m)| m.clone()).collect();
        Verdict::Failure { kind, message: message.join("; ") }
    } else if rule.status == RuleStatus::NeverExercised {
        Verdict::Skipped("never exercised: no fault moved it".to_owned())
    } else {
        Verdict::Passed
    };
    Case { classname: format!("rules.{}", rule.group), name: rule.alert.clone(), verdict, details }
}

fn suite(out: &mut String, name: &str, cases: &[Case]) {
    let failures = cases.iter().filter(|c| matches!(c.verdict, Verdict::Failure { .. })).count();
    let skipped = cases.iter().filter(|c| matches!(c.verdict, Verdict::Skipped(_))).count();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\">",
        cases.len()
    );
    for case in cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(&case.classname, true),
            escape(&case.name, true)
        );
        let details = case.details.join("\n");
        match (&case.verdict, details.is_empty()) {
            (Verdict::Passed, true) => out.push_str("/>\n"),
            (verdict, _) => {
                out.push_str(">\n");
                match verdict {
                    Verdict::Passed => {}
                    Verdict::Failure { kind, message } => {
                        let _ = writeln!(
                            out,
                            "      <failure message=\"{}\" type=\"{kind}\">{}</failure>",
                            escape(message, true),
                            escape(&format!("{message}\n{details}"), false).trim_end()
                        );
                    }
                    Verdict::Skipped(message) => {
                        let _ = writeln!(out, "      <skipped message=\"{}\"/>", escape(message, true));
                    }
                }
                // A failure's body holds the details (reporters show it); otherwise system-out.
                let failed = matches!(verdict, Verdict::Failure { .. });
                if !details.is_empty() && !failed {
                    let _ = writeln!(out, "      <system-out>{}</system-out>", escape(&details, false));
                }
                out.push_str("    </testcase>\n");
            }
        }
    }
    out.push_str("  </testsuite>\n");
}

/// XML text (or, with `attribute`, an attribute value in double quotes): markup characters
/// as entities, line breaks in attributes as character references so they survive attribute
/// normalisation, and characters XML 1.0 forbids dropped.
fn escape(value: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample;

    /// An element read back: its depth under the root, name, attributes and text.
    struct Element {
        depth: usize,
        name: String,
        attrs: Vec<(String, String)>,
        text: String,
    }

    /// A case read back: "classname name", and its children as (element, message, text).
    type CaseRead = (String, Vec<(String, String, String)>);

    /// A minimal XML reader for the tests (no XML crate is in the lock file; the end-to-end
    /// suite parses the same output with Python's): checks that tags nest and close, that
    /// attributes are quoted and entities known, and returns the elements in order.
    fn parse(xml: &str) -> Vec<Element> {
        let body =
            xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").expect("an XML declaration");
        let mut elements: Vec<Element> = Vec::new();
        let mut open: Vec<(String, usize)> = Vec::new();
        let mut rest = body;
        while let Some(start) = rest.find('<') {
            let text = &rest[..start];
            assert!(!text.contains('>'), "a bare > in text: {text:?}");
            if let Some((_, index)) = open.last() {
                elements[*index].text.push_str(&unescape(text));
            } else {
                assert!(text.trim().is_empty(), "text outside the root: {text:?}");
            }
            let end = rest[start..].find('>').expect("an unclosed tag") + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let (opened, _) = open.pop().expect("a close tag without an open one");
                assert_eq!(opened, name, "tags must nest");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, mut attrs_text) = tag.split_once(' ').unwrap_or((tag, ""));
            let mut attrs = Vec::new();
            while !attrs_text.trim().is_empty() {
                let (key, after) =
                    attrs_text.trim_start().split_once("=\"").expect("attributes in double quotes");
                let (value, after) = after.split_once('"').expect("a closed attribute");
                assert!(!value.contains('<'), "a bare < in an attribute");
                attrs.push((key.to_owned(), unescape(value)));
                attrs_text = after;
            }
            elements.push(Element { depth: open.len(), name: name.to_owned(), attrs, text: String::new() });
            if !self_closing {
                open.push((name.to_owned(), elements.len() - 1));
            }
        }
        assert!(open.is_empty(), "unclosed: {open:?}");
        assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
        elements
    }

    fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let semi = rest[amp..].find(';').expect("an entity ends with ;") + amp;
            out.push_str(match &rest[amp + 1..semi] {
                "amp" => "&",
                "lt" => "<",
                "gt" => ">",
                "quot" => "\"",
                "apos" => "'",
                "#10" => "\n",
                "#13" => "\r",
                "#9" => "\t",
                other => panic!("unknown entity &{other};"),
            });
            rest = &rest[semi + 1..];
        }
        out.push_str(rest);
        out
    }

    fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> &'a str {
        attrs.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }

    #[test]
    fn two_suites_with_the_counts_their_cases_add_up_to() {
        let elements = parse(&render_junit(&sample()));
        let (root, root_attrs) = (&elements[0].name, &elements[0].attrs);
        assert_eq!(root, "testsuites");
        assert_eq!((attr(root_attrs, "tests"), attr(root_attrs, "failures")), ("11", "6"));
        assert_eq!(attr(root_attrs, "skipped"), "1");
        let suites: Vec<_> = elements.iter().filter(|e| e.name == "testsuite").collect();
        assert_eq!(suites.iter().map(|s| attr(&s.attrs, "name")).collect::<Vec<_>>(), ["faults", "rules"]);
        assert!(suites.iter().all(|s| s.depth == 1), "suites sit directly under testsuites");
        let counts: Vec<[&str; 3]> =
            suites.iter().map(|s| ["tests", "failures", "skipped"].map(|k| attr(&s.attrs, k))).collect();
        assert_eq!(counts, [["4", "2", "0"], ["7", "4", "1"]]);
        for Element { depth, name, attrs, .. } in &elements {
            match name.as_str() {
                "testcase" => {
                    assert_eq!(*depth, 2);
                    assert!(!attr(attrs, "name").is_empty() && !attr(attrs, "classname").is_empty());
                }
                "failure" | "skipped" | "system-out" => assert_eq!(*depth, 3),
                "testsuites" | "testsuite" => {}
                other => panic!("not a JUnit element: {other}"),
            }
        }
    }

    /// Each case's name and the elements under it.
    fn cases(xml: &str) -> Vec<CaseRead> {
        let mut out: Vec<CaseRead> = Vec::new();
        for Element { depth, name, attrs, text } in parse(xml) {
            if name == "testcase" {
                out.push((format!("{} {}", attr(&attrs, "classname"), attr(&attrs, "name")), Vec::new()));
            } else if depth == 3 {
                let message = attr(&attrs, "message").to_owned();
                out.last_mut().expect("a case").1.push((name, message, text));
            }
        }
        out
    }

    #[test]
    fn uncaught_faults_fail_and_caught_ones_pass() {
        let cases = cases(&render_junit(&sample()));
        let kinds = |case: &str| -> Vec<String> {
            cases
                .iter()
                .find(|(n, _)| n == case)
                .map(|(_, c)| c.iter().map(|e| e.0.clone()).collect())
                .unwrap_or_default()
        };
        assert_eq!(kinds("faults node_crash on edge-02"), ["system-out"]);
        assert_eq!(kinds("faults disk_fill on edge-01"), ["failure"]);
        assert_eq!(kinds("faults flaky_network on edge-04"), ["failure"]);
        let disk = &cases.iter().find(|(n, _)| n == "faults disk_fill on edge-01").expect("disk_fill").1;
        assert_eq!(disk[0].1, "no alert fired on edge-01 during disk_fill of 10m");
        assert!(
            disk[0].2.contains(
                "shorter than the longest window plus for: of HostFilesystemFillingUp (1h10m), which did not fire"
            ),
            "{disk:?}"
        );
        assert!(!disk[0].2.contains("needs"), "a window is no requirement: {disk:?}");
        let flaky = &cases.iter().find(|(n, _)| n == "faults flaky_network on edge-04").expect("flaky").1;
        assert!(
            flaky[0].2.contains(
                "EdgeHighLatencyP99 went pending after 3m20s but did not fire before the fault's recovery ended"
            ),
            "{flaky:?}"
        );
    }

    #[test]
    fn rules_fail_on_false_alerts_cannot_evaluate_and_always_firing_and_skip_when_never_exercised() {
        let cases = cases(&render_junit(&sample()));
        let first = |case: &str| -> (String, String) {
            let found = cases.iter().find(|(n, _)| n.ends_with(&format!(" {case}"))).expect(case);
            found.1.first().map(|e| (e.0.clone(), e.1.clone())).unwrap_or_default()
        };
        assert_eq!(first("EdgeNodeDown").0, "system-out", "caught, quiet at rest: passes");
        let node_down = &cases.iter().find(|(n, _)| n.ends_with(" EdgeNodeDown")).expect("EdgeNodeDown").1;
        assert!(node_down[0].2.contains("longest window plus for: "), "{node_down:?}");
        assert!(!node_down[0].2.contains("shortest fault"), "not a minimum: {node_down:?}");
        assert_eq!(
            first("EdgeHighLatencyP99"),
            ("failure".into(), "false alerts at rest: 2 episodes on edge-02, 4m".into())
        );
        assert_eq!(first("EdgeErrorBudgetBurn").0, "failure");
        assert_eq!(first("Watchdog").1, "always firing; false alerts at rest: 4 episodes on 4 nodes, 4h");
        assert_eq!(
            first("HostOutOfInodes").1,
            "cannot evaluate: nothing provides node_filesystem_files_free{fstype=\"xfs\"}, \
             http_server_request_duration_seconds_bucket"
        );
        assert_eq!(
            first("HostFilesystemFillingUp"),
            ("skipped".into(), "never exercised: no fault moved it".into())
        );
    }

    #[test]
    fn an_alert_resolved_before_the_fault_ended_says_before() {
        let mut report = sample();
        report.faults[0].detections[0].resolved_after_end_s = Some(-243.0);
        let cases = cases(&render_junit(&report));
        let crash = &cases.iter().find(|(n, _)| n == "faults node_crash on edge-02").expect("node_crash").1;
        let out = &crash[0].2;
        assert!(
            out.contains(
                "EdgeNodeDown fired after 1m15s (pending after 15s), resolved 4m3s before the fault ended"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "EdgeHighErrorRate fired after 3m (pending after 1m), resolved 2m after the fault ended"
            ),
            "{out}"
        );
        assert!(!out.contains("resolved -"), "{out}");
    }

    #[test]
    fn markup_in_names_is_escaped() {
        let xml = render_junit(&sample());
        assert!(xml.contains("classname=\"rules.disk &amp; inodes &lt;xfs&gt;\""), "{xml}");
        assert!(xml.contains("fstype=&quot;xfs&quot;"), "{xml}");
        let mut report = sample();
        report.faults[2].node = "a\"<b>&'\n\u{1}c".to_owned();
        let cases = cases(&render_junit(&report));
        assert!(cases.iter().any(|(n, _)| n == "faults disk_fill on a\"<b>&'\nc"), "{cases:?}");
    }
}
