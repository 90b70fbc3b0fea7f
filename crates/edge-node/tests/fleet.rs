//! Real sockets: a 12-node fleet on free ports, and graceful shutdown.

mod common;

use std::io::Write;
use std::time::Duration;

use edge_node::{NodeConfig, NodeState, RunError, ShutdownTimes, run_with};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

struct Fleet {
    urls: Vec<String>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), RunError>>,
}

/// No drain: these tests are about what happens once the listeners close.
const NO_DRAIN: ShutdownTimes =
    ShutdownTimes { drain: Duration::ZERO, grace: edge_node::server::GRACE_PERIOD };

async fn start_fleet(n: u32, rps: f64) -> Fleet {
    start_fleet_with(n, rps, NO_DRAIN).await
}

async fn start_fleet_with(n: u32, rps: f64, times: ShutdownTimes) -> Fleet {
    let mut nodes = Vec::new();
    let mut urls = Vec::new();
    for id in 1..=n {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        urls.push(format!("http://{}", listener.local_addr().expect("addr")));
        nodes.push((listener, NodeState::new(NodeConfig { rps, ..NodeConfig::new(id, 7) })));
    }
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_with(nodes, shutdown.clone(), times));
    Fleet { urls, shutdown, task }
}

fn client() -> reqwest::Client {
    stack_client::http_client(Duration::from_secs(10)).expect("client")
}

fn metric(text: &str, name: &str) -> f64 {
    common::sample(text, name).unwrap_or_else(|| panic!("{name} missing"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_nodes_are_independent() {
    let fleet = start_fleet(12, 20.0).await;
    let http = client();
    for (i, url) in fleet.urls.iter().enumerate() {
        let health: serde_json::Value =
            http.get(format!("{url}/healthz")).send().await.expect("up").json().await.expect("json");
        assert_eq!(health["node"], i + 1);
    }
    let injected = http
        .post(format!("{}/inject", fleet.urls[2]))
        .json(&serde_json::json!({"failure": "cpu_spike", "duration_s": 30}))
        .send()
        .await
        .expect("inject");
    assert_eq!(injected.status(), 201);

    // Node 3 alone is spiking; the others have no faults and their own signals.
    let mut cpus = Vec::new();
    let mut seeds = std::collections::HashSet::new();
    for (i, url) in fleet.urls.iter().enumerate() {
        let faults: serde_json::Value =
            http.get(format!("{url}/inject")).send().await.expect("get").json().await.expect("json");
        assert_eq!(faults["faults"].as_array().map(Vec::len), Some(usize::from(i == 2)), "node {}", i + 1);
        let text =
            http.get(format!("{url}/metrics")).send().await.expect("scrape").text().await.expect("text");
        cpus.push(metric(&text, "edge_cpu_utilization_ratio"));
        seeds.insert(format!("{:.6}", metric(&text, "edge_memory_utilization_ratio")));
    }
    assert!(cpus[2] >= 0.93, "node 3 spikes: {cpus:?}");
    assert!(cpus.iter().enumerate().all(|(i, c)| i == 2 || *c < 0.7), "{cpus:?}");
    assert!(seeds.len() >= 11, "each node has its own model: {seeds:?}");

    // The built-in traffic generator really serves requests on every node.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for url in &fleet.urls {
        let text =
            http.get(format!("{url}/metrics")).send().await.expect("scrape").text().await.expect("text");
        let served = common::sum(&text, "edge_http_requests_total", &[]);
        assert!(served >= 5.0, "{url} served {served} generated requests");
    }
    fleet.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), fleet.task)
        .await
        .expect("stops in time")
        .expect("join")
        .expect("clean");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight_then_stops_listening() {
    let fleet = start_fleet(1, 0.0).await;
    let http = client();
    let url = fleet.urls[0].clone();
    http.post(format!("{url}/inject"))
        .json(&serde_json::json!({"failure": "latency_spike", "duration_s": 60, "intensity": 40}))
        .send()
        .await
        .expect("inject");
    // ~800 ms to serve: shutdown begins while it is in flight.
    let slow = tokio::spawn({
        let http = http.clone();
        let url = url.clone();
        async move { http.get(format!("{url}/api/products")).send().await.map(|r| r.status()) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let began = std::time::Instant::now();
    fleet.shutdown.cancel();
    let finished =
        tokio::time::timeout(Duration::from_secs(10), fleet.task).await.expect("bounded").expect("join");
    assert!(finished.is_ok(), "{finished:?}");
    assert!(began.elapsed() < edge_node::server::GRACE_PERIOD);
    assert_eq!(
        slow.await.expect("join").expect("served").as_u16(),
        200,
        "the request in flight was answered"
    );
    assert!(http.get(format!("{url}/healthz")).send().await.is_err(), "no longer listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_healthcheck_client_tells_healthy_from_down() {
    let fleet = start_fleet(1, 0.0).await;
    let addr = fleet.urls[0].trim_start_matches("http://").parse().expect("addr");
    let check = move || edge_node::ops::healthcheck(addr, Duration::from_secs(2));
    assert!(tokio::task::spawn_blocking(check).await.expect("join").is_ok());
    client()
        .post(format!("{}/inject?mode=node_crash&duration=30", fleet.urls[0]))
        .send()
        .await
        .expect("crash");
    let err = tokio::task::spawn_blocking(check).await.expect("join").expect_err("crashed");
    assert!(err.to_string().contains("503"), "{err}");
    fleet.shutdown.cancel();
    fleet.task.await.expect("join").expect("clean");
    assert!(tokio::task::spawn_blocking(check).await.expect("join").is_err(), "refused once stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_for_the_drain_period_while_the_node_still_serves() {
    let drain = Duration::from_millis(1500);
    let fleet = start_fleet_with(1, 0.0, ShutdownTimes { drain, ..NO_DRAIN }).await;
    let http = client();
    let url = fleet.urls[0].clone();
    assert_eq!(http.get(format!("{url}/readyz")).send().await.expect("ready").status(), 200);
    let began = std::time::Instant::now();
    fleet.shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let readyz = http.get(format!("{url}/readyz")).send().await.expect("still listening");
    assert_eq!(readyz.status(), 503);
    assert_eq!(readyz.json::<serde_json::Value>().await.expect("json")["status"], "shutting down");
    assert_eq!(http.get(format!("{url}/healthz")).send().await.expect("alive").status(), 200);
    assert_eq!(http.get(format!("{url}/api/products/1")).send().await.expect("serves").status(), 200);
    assert!(began.elapsed() < drain, "the checks above ran inside the drain");
    tokio::time::timeout(Duration::from_secs(10), fleet.task)
        .await
        .expect("bounded")
        .expect("join")
        .expect("clean");
    assert!(began.elapsed() >= drain, "the listener stayed open for the whole drain");
    assert!(http.get(format!("{url}/healthz")).send().await.is_err(), "no longer listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_that_runs_past_its_grace_period_is_an_error() {
    let grace = Duration::from_millis(300);
    let fleet = start_fleet_with(1, 0.0, ShutdownTimes { drain: Duration::ZERO, grace }).await;
    // A client that sends the headers of an order and only part of its body: the
    // request stays in flight until the request timeout (5 s), far past the grace.
    let addr = fleet.urls[0].trim_start_matches("http://").to_owned();
    let mut slow = std::net::TcpStream::connect(&addr).expect("connect");
    slow.write_all(
        b"POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let began = std::time::Instant::now();
    fleet.shutdown.cancel();
    let result =
        tokio::time::timeout(Duration::from_secs(10), fleet.task).await.expect("bounded").expect("join");
    assert!(matches!(result, Err(RunError::GracePeriodExceeded { grace: g }) if g == grace), "{result:?}");
    assert!(began.elapsed() < Duration::from_secs(2), "gave up at the grace period: {:?}", began.elapsed());
    drop(slow);
}
