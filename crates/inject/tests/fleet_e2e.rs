//! The CLI against a fleet of 300 nodes served by the fleet runner (`edge_node::run_with`,
//! what `edge-node --nodes 300` runs) on contiguous free ports, so `--node all` and
//! `--region` are learned from the running fleet as in real use: a region outage, the
//! status summary, clearing the whole fleet, a rollout's order, an interrupted rollout's
//! report, and a fleet that cannot be learned.

use std::collections::BTreeSet;
use std::time::Duration;

use clap::Parser;
use edge_node::NodeState;
use edge_sim::fleet::default_region;
use test_support::fleet::BasePortFleet;
use test_support::ports::{ClosedPort, PortBlock};
use tokio::net::TcpListener;

const NODES: u16 = 300;

async fn inject(fleet: &BasePortFleet, args: &[&str]) -> (u8, String, String) {
    let base = fleet.base.to_string();
    let mut argv = vec!["inject", "--base-port", &base, "--prometheus", &fleet.closed];
    argv.extend_from_slice(args);
    let cli = inject::cli::Cli::try_parse_from(argv).expect("parses");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = inject::run(cli, &mut out, &mut err).await;
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}

fn faulted(fleet: &BasePortFleet) -> BTreeSet<u32> {
    fleet.states.iter().filter(|s| !s.active_faults().is_empty()).map(NodeState::id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_outage_status_summary_and_clearing_the_running_fleet() {
    let fleet = BasePortFleet::start(NODES).await;
    let (code, out, err) =
        inject(&fleet, &["--region", "eu-west", "--failure", "node_crash", "--duration", "120"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let eu: BTreeSet<u32> = (1..=u32::from(NODES)).filter(|&n| default_region(n) == "eu-west").collect();
    assert_eq!(eu.len(), 100);
    assert_eq!(faulted(&fleet), eu, "every eu-west node and no other");
    assert!(
        out.starts_with("node_crash started for 120 s (expect NodeDown) on 100 nodes: 1-4,13-16,"),
        "{out}"
    );
    // All at once: every crash began within a moment of the first.
    let starts: Vec<Duration> =
        fleet.states.iter().flat_map(|s| s.active_faults()).map(|f| f.started_at).collect();
    let spread = starts.iter().max().expect("max").saturating_sub(*starts.iter().min().expect("min"));
    assert!(spread < Duration::from_secs(2), "the outage took {spread:?} to spread");

    let (code, out, _) = inject(&fleet, &["status"]).await;
    assert_eq!(code, 1, "nodes are down: {out}");
    assert!(out.starts_with("300 nodes in 3 regions\n"), "{out}");
    assert!(out.contains("| eu-west  |   100 |   0 |    100 |     100 |"), "{out}");
    assert!(out.contains("| us-east  |   100 | 100 |      0 |       0 |"), "{out}");
    assert!(out.contains("worst nodes (10 of 100 that need a look):"), "{out}");
    assert!(out.lines().count() < 30, "a summary, not a 300-line table: {out}");
    let (_, full, _) = inject(&fleet, &["status", "--region", "us-east", "--full"]).await;
    assert_eq!(full.lines().filter(|l| l.contains("| us-east |")).count(), 100, "{full}");

    let (code, out, _) = inject(&fleet, &["clear", "--node", "all"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ended node_crash on 100 nodes") && out.contains("nothing to clear on 200 nodes"),
        "{out}"
    );
    assert!(faulted(&fleet).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_goes_node_by_node_and_an_interrupted_one_reports_exactly_what_was_sent() {
    let fleet = BasePortFleet::start(48).await;
    let (code, out, _) = inject(
        &fleet,
        &["--region", "us-east", "--node", "1-40", "--failure", "error_burst", "--rollout", "2.2"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let chosen: BTreeSet<u32> = [5, 6, 7, 8, 17, 18, 19, 20, 29, 30, 31, 32].into();
    assert_eq!(faulted(&fleet), chosen);
    let starts: Vec<Duration> =
        chosen.iter().map(|&n| fleet.states[n as usize - 1].active_faults()[0].started_at).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "in node order: {starts:?}");
    // 12 nodes over 2.2 s: one every 0.2 s.
    let spread = starts[11].saturating_sub(starts[0]);
    assert!((Duration::from_millis(1800)..Duration::from_secs(4)).contains(&spread), "{spread:?}");
    inject(&fleet, &["clear", "--node", "all"]).await;

    // Stopped half-way: those started are exactly those reported started.
    let client = stack_client::NodeClient::new(
        inject::targets::Targets::new("127.0.0.1", fleet.base, Default::default()),
        Duration::from_secs(5),
    )
    .expect("client");
    let nodes: Vec<u32> = (1..=20).collect();
    let body = edge_sim::api::InjectRequest {
        failure: edge_sim::FaultKind::CpuSpike,
        duration_s: 60.0,
        intensity: None,
        service: None,
        seal: None,
        start_in_s: None,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let stop = tokio::time::sleep(Duration::from_millis(900));
    let ok = inject::fanout::inject_until(
        &client,
        &nodes,
        &body,
        Some(Duration::from_secs(19)),
        stop,
        false,
        inject::output::Output { out: &mut out, err: &mut err },
    )
    .await;
    let (out, err) = (String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned());
    assert!(!ok, "an interrupted rollout is a failure: {out}{err}");
    let started = faulted(&fleet);
    assert!(!started.is_empty() && started.len() < 20, "{started:?}");
    let (first, last) = (started.first().copied().unwrap_or(0), started.last().copied().unwrap_or(0));
    assert_eq!(started, (first..=last).collect(), "a prefix, in node order");
    assert!(
        err.contains(&format!("error: node {}: not sent: interrupted (ctrl-c) before its turn", last + 1)),
        "{err}"
    );
    assert_eq!(out.lines().filter(|l| l.contains("started as")).count(), started.len(), "{out}");
    assert_eq!(err.lines().filter(|l| l.contains("not sent")).count(), 20 - started.len(), "{err}");
    assert!(
        !out.contains("error") && err.lines().all(|l| l.starts_with("error: ")),
        "results on stdout only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_without_a_running_fleet_is_one_line_and_nothing_is_sent() {
    // Released at once: nothing may listen there.
    let base = PortBlock::find(12).release();
    let closed = ClosedPort::new();
    let prometheus = closed.url();
    let cli = inject::cli::Cli::try_parse_from([
        "inject",
        "--base-port",
        &base.to_string(),
        "--prometheus",
        &prometheus,
        "--node",
        "all",
        "--failure",
        "cpu_spike",
    ])
    .expect("parses");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = inject::run(cli, &mut out, &mut err).await;
    let err = String::from_utf8_lossy(&err).into_owned();
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("inject: cannot learn the running fleet: node 1 ("), "{err}");
    assert!(err.contains(&format!("Prometheus ({prometheus}) cannot connect")), "{err}");
    assert!(out.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_in_processes_of_their_own_are_learned_from_prometheus_targets() {
    use axum::routing::get;
    // Three nodes each alone in its "process" (Compose): each /fleet lists only itself.
    let (base, states) = test_support::fleet::separate_nodes(3).await;
    // Prometheus scrapes nodes 1 and 3 (labels as the file_sd targets give them) and itself,
    // answering in the shape of its `/api/v1/targets` (the fields the client reads).
    let targets = serde_json::json!({"status": "success", "data": {"activeTargets": [
        {"labels": {"job": "edge-node", "node": "1", "region": "eu-west", "instance": "edge-node-1:8080"}, "health": "up", "scrapeUrl": "http://edge-node-1:8080/metrics"},
        {"labels": {"job": "edge-node", "node": "3", "region": "eu-west", "instance": "edge-node-3:8080"}, "health": "up", "scrapeUrl": "http://edge-node-3:8080/metrics"},
        {"labels": {"job": "prometheus", "instance": "localhost:9090"}, "health": "up", "scrapeUrl": "http://localhost:9090/metrics"}
    ], "droppedTargets": []}});
    let prom = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let prometheus = format!("http://{}", prom.local_addr().expect("addr"));
    let app = axum::Router::new().route("/api/v1/targets", get(move || async move { axum::Json(targets) }));
    tokio::spawn(async move { axum::serve(prom, app).await });

    let cli = inject::cli::Cli::try_parse_from([
        "inject",
        "--base-port",
        &base.to_string(),
        "--prometheus",
        &prometheus,
        "--node",
        "all",
        "--failure",
        "latency_spike",
    ])
    .expect("parses");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = inject::run(cli, &mut out, &mut err).await;
    assert_eq!(code, 0, "{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
    let hit: Vec<usize> = states.iter().map(|s| s.active_faults().len()).collect();
    assert_eq!(hit, vec![1, 0, 1], "the nodes Prometheus scrapes, nothing else");
}
