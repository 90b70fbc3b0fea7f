//! The `inject` binary reads `./.env` as Compose does: moved ports there reach the nodes,
//! the environment wins over the file, and a malformed file is a usage error that sends
//! nothing. Nodes run in-process on free ports (never the default 8001-8012).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edge_node::NodeState;
use test_support::ports::ClosedPort;

/// Node 3 on a free port: its state and port.
async fn node_3() -> (NodeState, u16) {
    let (state, addr) = test_support::fleet::node(3).await;
    (state, addr.port())
}

/// A folder holding `.env` with `text`.
fn project(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inject-dotenv-e2e-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join(".env"), text).expect(".env");
    dir
}

/// Runs the binary in `dir` with the Compose and CLI variables cleared, plus `env`. The
/// base port puts node 3's default on a closed port, so a CLI that ignored `.env` would
/// find nothing there rather than reach a user's node on 8003.
async fn inject(dir: &Path, env: &[(&str, String)], args: &[&str]) -> Output {
    let closed = ClosedPort::new();
    let port = closed.port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_inject"));
    command.current_dir(dir).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("INJECT_") || key.starts_with("EDGE_NODE_") || key.ends_with("_PORT") {
            command.env_remove(key);
        }
    }
    command.env("INJECT_BASE_PORT", (port - 3).to_string());
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    tokio::task::spawn_blocking(move || command.output().expect("run inject")).await.expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_moved_in_dot_env_reach_the_nodes_and_the_environment_wins() {
    let (state, port) = node_3().await;
    let closed = ClosedPort::new();
    let dir = project("moved", &format!("# ports moved for Compose\nEDGE_NODE_3_PORT={port}\n"));

    let out = inject(&dir, &[], &["--node", "3", "--failure", "cpu_spike", "--duration", "30"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let active: Vec<&str> = state.active_faults().iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(active, ["cpu_spike"], "the fault reached the port .env names");

    let env = [("EDGE_NODE_3_PORT", closed.port().to_string())];
    let out = inject(&dir, &env, &["status", "--node", "3"]).await;
    assert_eq!(out.status.code(), Some(1), "the environment's port (closed) wins over .env's");
    let out = inject(&dir, &[], &["status", "--node", "3"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_dot_env_is_a_usage_error_that_sends_nothing() {
    let (state, port) = node_3().await;
    let dir = project("bad", &format!("EDGE_NODE_3_PORT={port}\nGRAFANA_PORT 3300\n"));
    let out = inject(&dir, &[], &["--node", "3", "--failure", "cpu_spike"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("inject: .env: ") && stderr.contains("GRAFANA_PORT 3300"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(state.active_faults().is_empty(), "nothing was sent");
    let _ = std::fs::remove_dir_all(&dir);
}
