//! Driving the built `edge-node` binary from a test without a runtime: a blocking GET,
//! waiting for a node to answer, waiting for the process to exit.
#![allow(dead_code)]

use std::process::ExitStatus;
use std::sync::OnceLock;
use std::time::Duration;

use test_support::child::ChildGuard;

/// A GET to `http://127.0.0.1:<port><path>`: the status and the body. A fresh connection
/// each time (no idle ones kept: a scrape of 300 nodes would hold 300 files open), and no
/// proxy, whatever the environment says.
pub fn blocking_get(port: u16, path: &str, timeout: Duration) -> reqwest::Result<(u16, String)> {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder().pool_max_idle_per_host(0).no_proxy().build().expect("client")
    });
    let response = client.get(format!("http://127.0.0.1:{port}{path}")).timeout(timeout).send()?;
    let status = response.status().as_u16();
    Ok((status, response.text()?))
}

/// Waits up to `limit` for the node on `port` to answer `/healthz` with 200, each try
/// bounded by `try_timeout`; fails the test if the process exits first.
pub fn wait_healthy(node: &mut ChildGuard, port: u16, limit: Duration, try_timeout: Duration) {
    node.wait_until(limit, &format!("edge-node on port {port} healthy"), || {
        matches!(blocking_get(port, "/healthz", try_timeout), Ok((200, _)))
    });
}

/// Waits for the process to exit; fails the test (and the guard kills it) past `limit`.
pub fn exit_within(node: &mut ChildGuard, limit: Duration) -> ExitStatus {
    node.wait_timeout(limit).unwrap_or_else(|| panic!("edge-node did not exit within {limit:?}"))
}
