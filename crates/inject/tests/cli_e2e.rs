//! The CLI end to end against real edge-nodes started in-process on free ports.

use std::time::Duration;

use clap::Parser;
use edge_node::{NodeConfig, NodeState};
use tokio::net::TcpListener;
use tokio_util_free::Fleet;

mod tokio_util_free {
    //! A tiny fleet runner for the tests (no extra dependencies).
    use super::*;

    pub struct Fleet {
        pub targets: String,
        pub states: Vec<NodeState>,
    }

    impl Fleet {
        pub async fn start(n: u32) -> Self {
            let mut targets = Vec::new();
            let mut states = Vec::new();
            for id in 1..=n {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                targets.push(format!("{id}=http://{}", listener.local_addr().expect("addr")));
                let state = NodeState::new(NodeConfig { rps: 0.0, ..NodeConfig::new(id, 1) });
                states.push(state.clone());
                tokio::spawn(async move { axum::serve(listener, edge_node::app(state)).await });
            }
            Fleet { targets: targets.join(","), states }
        }
    }
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

    let (code, out, _) = inject(&fleet, &["clear", "--node", "all"]).await;
    // Nodes 5-12 of `all` do not exist here: their lines are errors, and the exit code says so.
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("node 2: ended cpu_spike #1") && out.contains("node 1: nothing to clear"), "{out}");
    assert!(
        out.contains("error: node 5 (http://127.0.0.1:8005): cannot connect: is the fleet running?"),
        "{out}"
    );
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
    let (code, out, _) = inject(&fleet, &["clear", "--node", "1", "--id", "99"]).await;
    assert_eq!(code, 1);
    assert_eq!(out.trim(), "error: node 1: 404: no active fault with id 99");
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

    let run = tokio::spawn({
        let path = path.clone();
        let targets = fleet.targets.clone();
        async move {
            let cli = inject::cli::Cli::try_parse_from(["inject", "--targets", &targets, "scenario", &path])
                .expect("parse");
            let (mut out, mut err) = (Vec::new(), Vec::new());
            (inject::run(cli, &mut out, &mut err).await, String::from_utf8_lossy(&out).into_owned())
        }
    });
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        (active(&fleet, 1), active(&fleet, 2)),
        (vec!["error_burst".to_owned()], vec!["latency_spike".to_owned()])
    );
    let (code, out) = run.await.expect("join");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("node 2: latency_spike started as #1 for 1 s")
            && out.contains("scenario finished: 2 faults injected"),
        "{out}"
    );
    std::fs::remove_dir_all(dir).ok();
}
