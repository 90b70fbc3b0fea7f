//! The JSON log lines carry every field the dashboards' LogQL queries use.

mod common;

use std::io::Write;

use axum::body::Body;
use axum::http::Request;
use common::*;
use serde_json::Value;
use test_support::logs::Capture;
use tracing_subscriber::EnvFilter;

/// The filter the tests need, whatever `RUST_LOG` says.
fn info() -> EnvFilter {
    EnvFilter::new("info")
}

/// In the child run of [`the_log_tests_do_not_depend_on_rust_log`], records that test
/// `name` got to its end (every assertion held), one line in the file the parent named.
fn record_finished(name: &str) {
    if let Some(path) = std::env::var_os("EDGE_LOG_TESTS_FINISHED") {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("record");
        writeln!(file, "{name}").expect("record");
    }
}

#[test]
fn requests_and_faults_log_one_flat_json_line_each() {
    let capture = Capture::default();
    let subscriber = edge_node::logging::json_subscriber(capture.make_writer(), info());
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("rt");
    rt.block_on(async {
        let (_, app) = quiet_node(4);
        inject(&app, r#"{"failure":"error_burst","duration_s":5,"intensity":1.0}"#).await;
        let req = Request::get("/api/products")
            .header("x-request-id", "trace-me")
            .body(Body::empty())
            .expect("req");
        send(&app, req).await;
        tokio::time::advance(std::time::Duration::from_secs(6)).await;
        get(&app, "/api/products/2").await;
        delete(&app, "/inject").await;
        inject(&app, r#"{"failure":"cpu_spike","duration_s":30}"#).await;
        delete(&app, "/inject/2").await;
    });
    let lines = capture.json_lines();
    let access: Vec<&Value> = lines.iter().filter(|l| l["target"] == "edge_node::access").collect();
    assert_eq!(access.len(), 2, "one line per shop request: {lines:#?}");
    let failed = access[0];
    for field in [
        "timestamp",
        "level",
        "node",
        "request_id",
        "service",
        "route",
        "method",
        "status",
        "latency_ms",
        "outcome",
        "fault",
    ] {
        assert!(!failed[field].is_null(), "access line lacks `{field}`: {failed}");
    }
    assert_eq!(failed["request_id"], "trace-me");
    assert_eq!((failed["status"].as_u64(), failed["outcome"].as_str()), (Some(500), Some("injected_error")));
    assert_eq!((failed["fault"].as_str(), failed["node"].as_u64()), (Some("error_burst"), Some(4)));
    assert_eq!((access[1]["status"].as_u64(), access[1]["fault"].as_str()), (Some(200), Some("none")));
    assert_eq!(access[1]["route"], "/api/products/{id}");

    let faults: Vec<(String, String, String)> = lines
        .iter()
        .filter(|l| l["target"] == "edge_node::fault")
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or_default().to_owned();
            (s("event"), s("failure"), s("reason"))
        })
        .collect();
    let expected = [
        ("fault_started", "error_burst", ""),
        ("fault_ended", "error_burst", "expired"),
        ("fault_started", "cpu_spike", ""),
        ("fault_ended", "cpu_spike", "cleared"),
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned())).collect();
    assert_eq!(faults, expected);
    record_finished("requests_and_faults_log_one_flat_json_line_each");
}

/// The JSON fields the dashboards' LogQL queries read: every `name="field"` of a `| json` stage.
fn logql_json_fields() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../grafana/dashboards");
    let mut fields = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("grafana/dashboards") {
        let path = entry.expect("entry").path();
        // The dashboards are the `.json` files; the folder also holds their README.
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("dashboard");
        let dashboard: Value = serde_json::from_str(&text).expect("dashboard JSON");
        for panel in dashboard["panels"].as_array().into_iter().flatten() {
            if panel["datasource"]["uid"] != "loki" {
                continue;
            }
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or_default();
                for stage in expr.split('|').map(str::trim).filter(|s| s.starts_with("json ")) {
                    for param in stage["json ".len()..].split(',') {
                        let field = param.split_once('=').map_or(param, |(_, f)| f).trim().trim_matches('"');
                        fields.push((format!("{}: {}", path.display(), panel["title"]), field.to_owned()));
                    }
                }
            }
        }
    }
    fields
}

#[test]
fn log_lines_carry_every_field_the_dashboards_logql_reads() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(edge_node::logging::json_subscriber(capture.make_writer(), info()));
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("rt");
    rt.block_on(async {
        let (_, app) = quiet_node(2);
        inject(&app, r#"{"failure":"error_burst","duration_s":5,"intensity":1.0}"#).await;
        get(&app, "/api/orders").await;
        delete(&app, "/inject").await;
    });
    let lines = capture.json_lines();
    let fields = logql_json_fields();
    assert!(fields.len() >= 5, "the node and services dashboards query logs by field: {fields:?}");
    for (panel, field) in fields {
        assert!(
            lines.iter().any(|l| !l[field.as_str()].is_null()),
            "{panel} reads `{field}`, which no line has"
        );
    }
    record_finished("log_lines_carry_every_field_the_dashboards_logql_reads");
}

/// Runs this file's other tests in a child process under a hostile `RUST_LOG`: they set
/// the filter they need, so the environment must not change what they see. Each child
/// test writes its name to a file when it reaches its end, so the check rests on the exit
/// status and that list, not on the test runner's summary text.
#[test]
fn the_log_tests_do_not_depend_on_rust_log() {
    if std::env::var_os("EDGE_LOG_TESTS_CHILD").is_some() {
        return;
    }
    let me = std::env::current_exe().expect("test binary");
    let tests = [
        "log_lines_carry_every_field_the_dashboards_logql_reads",
        "requests_and_faults_log_one_flat_json_line_each",
    ];
    let dir = std::env::temp_dir().join(format!("edge-log-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (i, rust_log) in ["off", "error", "edge_node=trace,warn"].into_iter().enumerate() {
        let finished = dir.join(format!("finished-{i}"));
        let out = std::process::Command::new(&me)
            .args(["--exact", "--test-threads=1"])
            .args(tests)
            .env("RUST_LOG", rust_log)
            .env("EDGE_LOG_TESTS_CHILD", "1")
            .env("EDGE_LOG_TESTS_FINISHED", &finished)
            .output()
            .expect("run the log tests");
        let output = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "RUST_LOG={rust_log}: the child failed:\n{output}");
        let mut ran: Vec<String> =
            std::fs::read_to_string(&finished).unwrap_or_default().lines().map(str::to_owned).collect();
        ran.sort();
        assert_eq!(ran, tests, "RUST_LOG={rust_log}: each log test ran to its end once:\n{output}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
