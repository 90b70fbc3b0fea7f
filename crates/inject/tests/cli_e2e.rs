//! The CLI end to end against real edge-nodes started in-process on free ports.

use clap::Parser;
use test_support::fleet::Fleet;
use tokio::net::TcpListener;

/// The fault injections node `node` counted, by mode: its own record of what was
/// injected, whatever the timing.
async fn injections(fleet: &Fleet, node: usize) -> Vec<(String, f64)> {
    let overrides = inject::targets::parse_overrides(&fleet.targets).expect("targets");
    let targets = stack_client::Targets::new("127.0.0.1", 0, overrides);
    let client = stack_client::NodeClient::new(targets, std::time::Duration::from_secs(10)).expect("client");
    let metrics = client.metrics(node as u32).await.expect("metrics");
    metrics
        .samples()
        .iter()
        .filter(|s| s.name == "edge_fault_injections_total" && s.value > 0.0)
        .map(|s| (s.label("failure").unwrap_or_default().to_owned(), s.value))
        .collect()
}

async fn inject(fleet: &Fleet, args: &[&str]) -> (u8, String, String) {
    let mut argv = vec!["inject", "--targets", &fleet.targets];
    argv.extend_from_slice(args);
    let cli = inject::cli::Cli::try_parse_from(argv).expect("parses");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = inject::run(cli, &mut out, &mut err).await;
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}

fn active(fleet: &Fleet, node: usize) -> Vec<String> {
    fleet.states[node - 1].active_faults().iter().map(|f| f.kind.as_str().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inject_status_and_clear_work_against_real_nodes() {
    let fleet = Fleet::start(4).await;
    let (code, out, _) = inject(&fleet, &["--node", "2-3", "--failure", "cpu_spike"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 2, "one line per node: {out}");
    assert!(out.contains("node 2: cpu_spike started as #1 for 30 s; expect HighCPUUsage"), "{out}");
    assert_eq!((active(&fleet, 2), active(&fleet, 1)), (vec!["cpu_spike".to_owned()], vec![]));

    let (code, out, _) = inject(&fleet, &["status", "--node", "1-4"]).await;
    assert_eq!(code, 0, "{out}");
    let row2 = out.lines().find(|l| l.split('|').nth(1).map(str::trim) == Some("2")).expect("row for node 2");
    assert!(row2.contains("up") && row2.contains("cpu_spike #1"), "{out}");
    let (_, json, _) = inject(&fleet, &["status", "--node", "2", "--json"]).await;
    let rows: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert!(rows[0]["cpu"].as_f64().unwrap_or(0.0) >= 0.93, "{json}");

    let (code, out, err) = inject(&fleet, &["clear", "--node", "all"]).await;
    // Nodes 5-12 of `all` do not exist here: their lines are errors, on stderr, and the exit
    // code says so; stdout holds the results alone.
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("node 2: ended cpu_spike #1") && out.contains("node 1: nothing to clear"), "{out}");
    assert_eq!(out.lines().count(), 4, "one result per node that answered: {out}");
    let refused = format!("error: node 5 ({}): cannot connect: is the fleet running?", fleet.closed);
    assert!(err.contains(&refused) && !out.contains("error"), "{err}");
    assert!(active(&fleet, 2).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_refusal_is_shown_and_bad_input_is_caught_before_sending() {
    let fleet = Fleet::start(2).await;
    let (code, out, _) =
        inject(&fleet, &["--node", "1", "--failure", "node_crash", "--intensity", "0.5"]).await;
    assert_eq!(code, 2, "caught before sending: {out}");
    assert!(active(&fleet, 1).is_empty());
    let (code, _, err) = inject(&fleet, &["--node", "1"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("give --node and --failure"), "{err}");
    let (code, _, err) = inject(&fleet, &["clear", "--node", "1-2", "--id", "4"]).await;
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = inject(&fleet, &["clear", "--node", "1", "--id", "99"]).await;
    assert_eq!(code, 1);
    assert_eq!((out.as_str(), err.trim()), ("", "error: node 1: 404: no active fault with id 99"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_scenario_runs_its_timeline() {
    let fleet = Fleet::start(2).await;
    let dir = std::env::temp_dir().join(format!("inject-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("short.toml");
    std::fs::write(
        &file,
        "name = \"short\"\n[[step]]\nat = 0\nnode = \"1\"\nfailure = \"error_burst\"\nduration = 2\n\
         [[step]]\nat = 1\nnode = \"2\"\nfailure = \"latency_spike\"\nduration = 1\nservice = \"orders\"\n",
    )
    .expect("write");
    let path = file.to_string_lossy().into_owned();
    let (code, out, _) = inject(&fleet, &["scenario", &path, "--dry-run"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("2 steps over 2 s") && fleet.states.iter().all(|s| s.active_faults().is_empty()),
        "{out}"
    );

    // The run, to its end: no wall-clock assertion on what is active when. The nodes' own
    // counters say what was injected where; the CLI's lines say in which order.
    let (code, out, _) = inject(&fleet, &["scenario", &path]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(injections(&fleet, 1).await, vec![("error_burst".to_owned(), 1.0)], "{out}");
    assert_eq!(injections(&fleet, 2).await, vec![("latency_spike".to_owned(), 1.0)], "{out}");
    let first = out.find("node 1: error_burst started as #1 for 2 s").expect("step 1 line");
    let second = out.find("node 2: latency_spike started as #1 for 1 s").expect("step 2 line");
    assert!(first < second && out.contains("scenario finished: 2 faults injected"), "{out}");
    std::fs::remove_dir_all(dir).ok();
}

/// A node that answers 2xx with bodies that break the API's promises.
async fn broken_node() -> String {
    use axum::Json;
    use axum::http::StatusCode;
    use axum::routing::{delete, get, post};
    use serde_json::json;
    let app = axum::Router::new()
        .route(
            "/inject",
            post(|| async { (StatusCode::CREATED, Json(json!({ "node": 1, "failure": "cpu_spike" }))) })
                .get(|| async { Json(json!({ "node": 1 })) })
                .delete(|| async { Json(json!({ "node": 2, "faults": [] })) }),
        )
        .route("/inject/{id}", delete(|| async { Json(json!({ "node": 1, "faults": [{ "id": 3 }] })) }))
        .route("/metrics", get(|| async { "edge_cpu_utilization_ratio 0.5\n" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The exit code, stdout and stderr.
async fn run_against(url: &str, args: &[&str]) -> (u8, String, String) {
    let targets = format!("1={url}");
    let mut argv = vec!["inject", "--targets", &targets];
    argv.extend_from_slice(args);
    let cli = inject::cli::Cli::try_parse_from(argv).expect("parses");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = inject::run(cli, &mut out, &mut err).await;
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_missing_a_field_is_an_error_naming_the_node_not_a_default() {
    let url = broken_node().await;
    // A node's failure is a diagnostic (stderr); stdout keeps only results.
    let (code, out, err) = run_against(&url, &["--node", "1", "--failure", "cpu_spike"]).await;
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.starts_with(&format!("error: node 1 ({url}): unexpected answer: missing field `id`")),
        "{err}"
    );

    let (code, out, err) = run_against(&url, &["clear", "--node", "1", "--id", "3"]).await;
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("error: node 1 (") && err.contains("unexpected answer: missing field"), "{err}");
    let (code, _, err) = run_against(&url, &["clear", "--node", "1"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unexpected answer: it answered as node 2; check --targets"), "{err}");

    // The status table is the result: a node it could not read is a row saying why.
    let (code, out, _) = run_against(&url, &["status", "--node", "1"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot list faults: node 1") && out.contains("missing field `faults`"), "{out}");

    // A scenario remembers only faults a node confirmed with an id, so an interrupted run
    // can never try to clear a made-up fault #0.
    let dir = std::env::temp_dir().join(format!("inject-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("one.toml");
    std::fs::write(
        &file,
        "name = \"one\"\n[[step]]\nat = 0\nnode = \"1\"\nfailure = \"cpu_spike\"\nduration = 1\n",
    )
    .expect("write");
    let (code, out, err) = run_against(&url, &["scenario", &file.to_string_lossy()]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("missing field `id`") && out.contains("scenario finished: 0 faults injected"),
        "{out}{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}
