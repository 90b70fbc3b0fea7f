//! `inject drill` against real edge-nodes started in-process on free ports: a sealed fault
//! is applied but listed nowhere, and bad input (a second start, a corrupt state file, an
//! answer for a node outside the fleet, a fleet that cannot take every fault) gets one
//! line, a non-zero exit, and leaves the fleet as it was.

use std::path::{Path, PathBuf};

use clap::Parser;
use test_support::fleet::Fleet;

/// Faults really applied, sealed or not, per node.
fn applied(fleet: &Fleet) -> Vec<usize> {
    fleet.states.iter().map(|s| s.applied_faults().len()).collect()
}

async fn run(fleet: &Fleet, state: &Path, args: &[&str]) -> (u8, String, String) {
    let state = state.display().to_string();
    let mut argv = vec!["inject", "--targets", &fleet.targets, "--prometheus", "http://127.0.0.1:1"];
    argv.extend_from_slice(args);
    if args.contains(&"drill") {
        argv.extend_from_slice(&["--state", &state]);
    }
    // The drill's alert sink on a closed port, never a user's sink on 9095.
    if args.starts_with(&["drill", "start"]) {
        argv.extend_from_slice(&["--sink", "http://127.0.0.1:1"]);
    }
    let cli = inject::cli::Cli::try_parse_from(argv).expect("parses");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = inject::run(cli, &mut out, &mut err).await;
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inject-drill-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join("drill.json")
}

/// One line on stderr saying `says`, and the exit code: 2 for a usage error (refused before
/// anything was sent), 1 for a failure after something was.
fn one_line_refusal(code: u8, err: &str, says: &str) {
    assert!(code != 0 && err.lines().count() == 1 && err.contains(says), "exit {code}: {err}");
}

fn usage_error(code: u8, err: &str, says: &str) {
    one_line_refusal(code, err, says);
    assert_eq!(code, 2, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_is_sealed_judged_and_stopped_and_bad_input_changes_nothing() {
    let fleet = Fleet::start(4).await;
    let state = temp("flow");
    let start = ["drill", "start", "--node", "1-4", "--drill", "easy-hot-cpu", "--seed", "5", "--delay", "0"];
    let (code, out, err) = run(&fleet, &state, &start).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("seed 5") && !out.contains("cpu"), "{out}");
    assert_eq!(applied(&fleet).iter().sum::<usize>(), 1, "one fault applied");
    assert!(fleet.states.iter().all(|s| s.active_faults().is_empty()), "and listed nowhere");
    let (_, status, _) = run(&fleet, &state, &["status", "--node", "1-4"]).await;
    assert!(!status.contains("cpu_spike"), "{status}");

    let before = applied(&fleet);
    let (code, _, err) = run(&fleet, &state, &start).await;
    usage_error(code, &err, "already running");
    let (code, _, err) =
        run(&fleet, &state, &["drill", "answer", "--node", "99", "--failure", "cpu_spike"]).await;
    usage_error(code, &err, "node 99 is not in this drill's fleet");
    assert_eq!(applied(&fleet), before, "refusals changed the fleet");

    let node = applied(&fleet).iter().position(|&n| n == 1).expect("the drill's node") + 1;
    let (code, out, _) =
        run(&fleet, &state, &["drill", "answer", "--node", &node.to_string(), "--failure", "cpu_spike"])
            .await;
    assert_eq!((code, out.lines().next()), (0, Some("right: 1 of 1 cause(s) found")), "{out}");
    let (code, out, _) = run(&fleet, &state, &["drill", "hint"]).await;
    assert!(code == 0 && out.starts_with("Hint 1 of 3 (-10 points)"), "{out}");

    let (code, out, _) = run(&fleet, &state, &["drill", "stop"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(applied(&fleet), vec![0; 4], "stop leaves the fleet healthy: {out}");
    let (code, out, _) = run(&fleet, &state, &["--json", "drill", "reveal"]).await;
    let truth: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!((code, truth["faults"][0]["node"].as_u64()), (0, Some(node as u64)));
    assert_eq!(truth["faults"][0]["end_reason"], "cleared");
    let (code, _, err) = run(&fleet, &state, &["drill", "hint"]).await;
    usage_error(code, &err, "the drill is over");

    // Prometheus and the sink do not answer here: the report still comes out, whole, on
    // stdout, and what is missing is said on stderr (exit 1), so `> report.md` is a clean file.
    let (code, out, err) = run(&fleet, &state, &["drill", "report"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(out.starts_with("# Incident report: ") && !out.contains("warning"), "{out}");
    assert!(err.contains("warning: Prometheus alerts: ") && err.contains("warning: alert sink: "), "{err}");
    assert!(err.lines().all(|l| l.starts_with("warning: ")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_the_fleet_cannot_take_whole_is_undone_and_a_corrupt_state_refused() {
    let fleet = Fleet::start(4).await;
    // Node 5 is not running. Seed 1 draws the first fault (no offset) onto node 1, where it
    // really starts, and the second onto node 5, which fails: the start is undone, so the
    // fault on node 1 is ended (seed 3 would draw node 5 first and undo nothing).
    let state = temp("undo");
    let args =
        ["drill", "start", "--node", "1,5", "--drill", "hard-two-regions", "--seed", "1", "--delay", "0"];
    let (code, _, err) = run(&fleet, &state, &args).await;
    one_line_refusal(code, &err, "drill not started");
    // A fault was sent (and ended again): a failure, not a usage error.
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nothing was left running (1 fault(s) ended): node 5 ("), "{err}");
    assert_eq!(applied(&fleet), vec![0; 4]);
    assert!(!state.exists(), "no state for a drill that did not start");

    std::fs::write(&state, "{\"version\": 1, \"seed\": ").expect("write");
    let args = ["drill", "start", "--node", "1-4", "--seed", "1", "--delay", "0"];
    let (code, _, err) = run(&fleet, &state, &args).await;
    usage_error(code, &err, "is corrupt");
    let (code, _, err) = run(&fleet, &state, &["drill", "status"]).await;
    usage_error(code, &err, "is corrupt");
    assert_eq!(applied(&fleet), vec![0; 4]);
}
