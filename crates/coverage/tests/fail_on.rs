//! `--fail-on`, the formats and `--output` through the command line, without Prometheus:
//! the flags parsed as the binary parses them, decided on the hand-written sample report,
//! and the binary's refusals (exit 2, one line) before anything runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use coverage::ci::{decide, exit_code};
use coverage::cli::{Cli, FailOn};
use coverage::report::Report;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sample() -> Report {
    let path = manifest().join("tests/data/report/sample.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Report::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The exit code and stderr lines the binary would give for `fail_on` after a run that
/// produced `report`.
fn outcome(fail_on: &str, report: &Report) -> (u8, Vec<String>) {
    let cli = Cli::try_parse_from(["coverage", "--rules", "r.yml", "--fail-on", fail_on])
        .unwrap_or_else(|e| panic!("--fail-on {fail_on}: {e}"));
    let failures = decide(report, &cli.fail_on);
    (exit_code(&failures), failures.iter().map(ToString::to_string).collect())
}

#[test]
fn the_sample_fails_each_condition_it_shows_and_no_flag_means_exit_0() {
    let report = sample();
    let cli = Cli::try_parse_from(["coverage", "--rules", "r.yml"]).expect("parses");
    assert_eq!(exit_code(&decide(&report, &cli.fail_on)), 0, "no --fail-on: exit 0 after a run");
    for (flag, start) in [
        ("uncaught", "--fail-on uncaught: 2 faults no rule caught: "),
        ("false-alerts", "--fail-on false-alerts: 3 rules fired at rest: "),
        ("cannot-evaluate", "--fail-on cannot-evaluate: 1 rule cannot evaluate: HostOutOfInodes"),
        ("always-firing", "--fail-on always-firing: 1 rule always firing: "),
        ("never-exercised", "--fail-on never-exercised: 1 rule never exercised: HostFilesystemFillingUp"),
    ] {
        let (code, lines) = outcome(flag, &report);
        assert_eq!(code, 1, "{flag}");
        assert!(matches!(lines.as_slice(), [line] if line.starts_with(start)), "{flag}: {lines:?}");
    }
    let (code, lines) = outcome("uncaught,never-exercised,cannot-evaluate", &report);
    assert_eq!((code, lines.len()), (1, 3), "one line per condition: {lines:?}");
}

#[test]
fn a_report_with_nothing_wrong_passes_every_condition() {
    let mut report = sample();
    report.faults.retain(|f| !f.caught_by.is_empty());
    report.rules.retain(|r| r.status == coverage::report::RuleStatus::Caught);
    for rule in &mut report.rules {
        rule.false_alerts_at_rest = Default::default();
    }
    let every = "uncaught,false-alerts,cannot-evaluate,always-firing,never-exercised";
    assert_eq!(outcome(every, &report), (0, vec![]));
    let cli = Cli::try_parse_from(["coverage", "--rules", "r", "--fail-on", every]).expect("parses");
    assert_eq!(cli.fail_on[0], FailOn::Uncaught);
    assert_eq!(cli.fail_on.len(), 5);
}

fn refused(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_coverage"))
        .arg("--rules")
        .arg(manifest().join("tests/data/small-rules.yml"))
        .args(args)
        // No tools: were the run to start, it would fail with 1, not 2.
        .arg("--tools")
        .arg("/no/such/tools")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("coverage: ") && out.stdout.is_empty(), "{stderr}");
    stderr
}

#[test]
fn bad_outputs_and_conditions_exit_2_in_one_line_before_the_run() {
    let stderr = refused(&["--output", "html=/no/such/folder/report.html"]);
    assert!(stderr.contains("/no/such/folder/report.html"), "{stderr}");
    assert!(!stderr.contains("generated"), "nothing ran: {stderr}");
    refused(&["--out", "/no/such/folder/report.txt"]);
    refused(&["--output", "report.html"]);
    refused(&["--output", "pdf=report.pdf"]);
    refused(&["--fail-on", "uncaught,meteor"]);
    refused(&["--format", "pdf"]);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    refused(&["--output", &format!("json={}", dir.display())]);
}

#[test]
fn the_help_documents_formats_outputs_fail_on_and_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_coverage")).arg("--help").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for word in
        ["junit", "html", "markdown", "--output <FORMAT=FILE>", "--fail-on", "never-exercised", "Exit codes:"]
    {
        assert!(help.contains(word), "{word}: {help}");
    }
}
