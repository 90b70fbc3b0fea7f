//! The built `edge-node` binary, as operators run it: a stdout nobody reads, bad numbers
//! in flags and environment variables, and a shutdown that overruns its grace period.
//! Nodes listen on free ports found at run time.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::{blocking_get, exit_within, wait_healthy};
use test_support::child::ChildGuard;
use test_support::ports::{PortBlock, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_edge-node");

/// How long a node may take to answer its first health check.
const STARTUP: Duration = Duration::from_secs(20);

#[test]
fn a_fleet_whose_stdout_nobody_reads_keeps_answering_metrics() {
    let base = PortBlock::find(2).release();
    let mut node = ChildGuard::new(
        Command::new(BIN)
            .args(["--nodes", "2", "--base-port", &base.to_string(), "--rps", "400", "--seed", "1"])
            .args(["--log-buffer-lines", "64", "--drain-secs", "0"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            // A pipe that is never read: once its 64 KiB are full, every write to it blocks.
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn edge-node"),
    );
    let ports = [base + 1, base + 2];
    for port in ports {
        wait_healthy(&mut node, port, STARTUP, Duration::from_secs(1));
    }
    // 800 requests a second of access lines fill the pipe and the 64-line queue at once.
    std::thread::sleep(Duration::from_millis(1500));

    let scrape = |port| {
        let started = Instant::now();
        let (status, body) = blocking_get(port, "/metrics", Duration::from_secs(3)).expect("scrape answered");
        let took = started.elapsed();
        assert_eq!(status, 200);
        let dropped = common::sample(&body, "edge_log_lines_dropped_total").expect("dropped-lines counter");
        let served = common::sum(&body, "edge_http_requests_total", &[]);
        (took, dropped, served)
    };
    let first: Vec<_> = ports.iter().map(|&p| scrape(p)).collect();
    let mut latencies = Vec::new();
    for _ in 0..10 {
        for port in ports {
            latencies.push(scrape(port).0);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let last: Vec<_> = ports.iter().map(|&p| scrape(p)).collect();

    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    // A blocked node would not answer at all; a healthy scrape takes a few ms.
    assert!(median < Duration::from_millis(200) && worst < Duration::from_secs(1), "{latencies:?}");
    for (i, (before, after)) in first.iter().zip(&last).enumerate() {
        assert!(before.1 > 0.0, "node {}: lines were dropped, and counted", i + 1);
        assert!(after.1 > before.1, "node {}: the count keeps growing: {} -> {}", i + 1, before.1, after.1);
        assert!(after.2 > before.2 + 100.0, "node {}: still serving: {} -> {}", i + 1, before.2, after.2);
    }

    // Stopping does not wait on the blocked stdout either.
    let began = Instant::now();
    node.terminate();
    let status = exit_within(&mut node, Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    assert!(began.elapsed() < Duration::from_secs(5), "exit took {:?}", began.elapsed());
}

#[test]
fn bad_numbers_in_flags_and_environment_are_refused_with_one_line() {
    /// Arguments, environment, and the flag the error must name.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&["healthcheck", "--timeout", "NaN"], &[], "'--timeout <TIMEOUT>'"),
        (&["healthcheck"], &[("EDGE_PORT", "0")], "'--port <PORT>'"),
        (&[], &[("EDGE_RPS", "NaN")], "'--rps <RPS>'"),
        (&[], &[("EDGE_RPS", "1e-30")], "'--rps <RPS>'"),
        (&[], &[("EDGE_NODES", "inf")], "'--nodes <NODES>'"),
        (&[], &[("EDGE_BASE_PORT", "-1")], "'--base-port <BASE_PORT>'"),
        (&[], &[("EDGE_NODE_ID", "0")], "'--node-id <NODE_ID>'"),
        (&[], &[("EDGE_PORT", "65536")], "'--port <PORT>'"),
        (&[], &[("EDGE_SEED", "1.5")], "'--seed <SEED>'"),
        (&[], &[("EDGE_DRAIN_SECS", "NaN")], "'--drain-secs <DRAIN_SECS>'"),
        (&[], &[("EDGE_GRACE_SECS", "-inf")], "'--grace-secs <GRACE_SECS>'"),
        (&[], &[("EDGE_LOG_BUFFER_LINES", "1e9")], "'--log-buffer-lines <LOG_BUFFER_LINES>'"),
    ];
    for (args, env, flag) in cases {
        let out = Command::new(BIN).args(*args).envs(env.iter().copied()).output().expect("run edge-node");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?} {env:?}: one line, got:\n{stderr}");
        assert!(stderr.contains(flag) && stderr.contains("between"), "{args:?} {env:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_shutdown_past_its_grace_period_exits_non_zero() {
    let port = free_port();
    let mut node = ChildGuard::new(
        Command::new(BIN)
            .args(["--port", &port.to_string(), "--rps", "0", "--drain-secs", "0", "--grace-secs", "0.3"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn edge-node"),
    );
    wait_healthy(&mut node, port, STARTUP, Duration::from_secs(1));
    // An order whose body never finishes arriving stays in flight for the request timeout.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    slow.write_all(b"POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .expect("write");
    std::thread::sleep(Duration::from_millis(200));
    node.terminate();
    let status = exit_within(&mut node, Duration::from_secs(10));
    let stderr = node.stderr_text();
    assert_eq!(status.code(), Some(1), "{stderr:?}");
    assert!(stderr.is_some_and(|e| e.contains("grace period")), "the reason is printed");
    drop(slow);
}

#[test]
fn a_fleet_process_exports_each_nodes_spans_under_its_own_node_and_region() {
    let receiver = common::otlp::Receiver::start();
    let base_url = receiver.url.trim_end_matches("/v1/traces").to_owned();
    let base = PortBlock::find(3).release();
    let child = Command::new(BIN)
        .args(["--nodes", "3", "--base-port", &base.to_string(), "--rps", "50", "--drain-secs", "0"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &base_url)
        .env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_SAMPLER")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut running = ChildGuard::new(child);
    wait_healthy(&mut running, base + 3, STARTUP, Duration::from_secs(1));
    // The built-in traffic starts its own traces; each node's arrive under its resource.
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = |node: &str| {
        receiver.spans().iter().any(|s| s.resource.get("edge.node").map(String::as_str) == Some(node))
    };
    while !(seen("1") && seen("2") && seen("3")) {
        assert!(Instant::now() < deadline, "spans of every node never arrived");
        std::thread::sleep(Duration::from_millis(100));
    }
    for span in receiver.spans() {
        let node: u32 = span.resource["edge.node"].parse().expect("node number");
        assert_eq!(span.resource["cloud.region"], edge_node::config::default_region(node), "{span:?}");
        assert_eq!(span.resource["service.instance.id"], format!("edge-node-{node}"));
        assert_eq!(span.resource["service.name"], "edge-node");
        assert_eq!(span.resource.get("deployment.environment.name").map(String::as_str), Some("test"));
    }
    let roots = receiver.spans().into_iter().filter(|s| s.span.parent_span_id.is_empty()).count();
    assert!(roots > 0, "built-in traffic starts its own traces");
    running.terminate();
    let status = exit_within(&mut running, Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}
