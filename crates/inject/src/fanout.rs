//! Inject, status and clear: concurrent calls to the chosen nodes, one result per node.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use edge_sim::api::{FaultList, FaultView, InjectRequest, Started};
use serde::Serialize;

use exposition::Metrics;
use stack_client::{NodeClient, NodeError};

use crate::output::Output;

/// Requests in flight at once: a thousand nodes are reached in waves of this many, fast
/// (a region of 333 nodes in well under a second on loopback) without opening a thousand
/// sockets at once in the CLI or in the fleet process.
pub const MAX_IN_FLIGHT: usize = 64;

/// Runs `f` against every node concurrently, at most [`MAX_IN_FLIGHT`] at once; one
/// result per node, in node order (see [`each_node_with`]).
pub async fn each_node<T, F, Fut>(
    client: &NodeClient,
    nodes: &[u32],
    f: F,
) -> Vec<(u32, Result<T, NodeError>)>
where
    T: Send + 'static,
    F: Fn(NodeClient, u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, NodeError>> + Send + 'static,
{
    each_node_with(client, nodes, None, std::future::pending(), f).await
}

/// Resolves when the user presses ctrl-c (never, if the handler cannot be installed).
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Runs `f` against every node, at most [`MAX_IN_FLIGHT`] at once, in node order. With a
/// `rollout`, node i of n starts `i * rollout / (n - 1)` after the first (a push that rolls
/// across the nodes one by one). When `interrupt` resolves no further node is started;
/// those in flight finish (each bounded by the client's timeout) and every node not
/// started is reported [`NodeError::NotSent`], so the report says exactly what was done.
/// A node whose task panicked or was cancelled gets [`NodeError::Lost`]: its outcome is
/// unknown, which is a failure, never a silent gap in the report.
pub async fn each_node_with<T, F, Fut>(
    client: &NodeClient,
    nodes: &[u32],
    rollout: Option<Duration>,
    interrupt: impl std::future::Future<Output = ()>,
    f: F,
) -> Vec<(u32, Result<T, NodeError>)>
where
    T: Send + 'static,
    F: Fn(NodeClient, u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, NodeError>> + Send + 'static,
{
    let mut nodes = nodes.to_vec();
    nodes.sort_unstable();
    nodes.dedup();
    let start = tokio::time::Instant::now();
    let gap = match (rollout, nodes.len()) {
        (Some(total), n) if n > 1 => total.div_f64((n - 1) as f64),
        _ => Duration::ZERO,
    };
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut set = JoinSet::new();
    let mut task_node = HashMap::new();
    let mut interrupted = false;
    tokio::pin!(interrupt);
    for (i, &n) in nodes.iter().enumerate() {
        let turn = start + gap.mul_f64(i as f64);
        let slot = tokio::select! {
            biased;
            () = &mut interrupt => {
                interrupted = true;
                break;
            }
            slot = async {
                tokio::time::sleep_until(turn).await;
                slots.clone().acquire_owned().await
            } => slot,
        };
        let Ok(slot) = slot else { break };
        let fut = f(client.clone(), n);
        let task = set.spawn(async move {
            let result = fut.await;
            drop(slot);
            (n, result)
        });
        task_node.insert(task.id(), n);
    }
    let mut out: BTreeMap<u32, Result<T, NodeError>> = BTreeMap::new();
    while let Some(joined) = set.join_next_with_id().await {
        match joined {
            Ok((_, (n, result))) => {
                out.insert(n, result);
            }
            Err(e) => {
                let task = e.id();
                let cause = if e.is_panic() {
                    format!("the request task panicked: {}", panic_message(e.into_panic()))
                } else {
                    "the request task was cancelled".to_owned()
                };
                if let Some(&n) = task_node.get(&task) {
                    out.insert(n, Err(NodeError::Lost { node: n, cause }));
                }
            }
        }
    }
    nodes
        .into_iter()
        .map(|n| {
            let result = out.remove(&n).unwrap_or_else(|| {
                Err(if interrupted {
                    NodeError::NotSent { node: n, reason: "interrupted (ctrl-c) before its turn".to_owned() }
                } else {
                    NodeError::Lost { node: n, cause: "no outcome was recorded".to_owned() }
                })
            });
            (n, result)
        })
        .collect()
}

/// A panic's message on one line (reports are one line per node).
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map_or("(no message)".to_owned(), |s| (*s).to_owned()),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `inject --node ... --failure ...`: one line per node; false if any failed or was not
/// sent. With `rollout`, the nodes are injected one by one over that long (see
/// [`each_node_with`]); ctrl-c stops it and the report names every node not injected.
pub async fn inject(
    client: &NodeClient,
    nodes: &[u32],
    body: &InjectRequest,
    rollout: Option<Duration>,
    json: bool,
    io: Output<'_, impl Write, impl Write>,
) -> bool {
    inject_until(client, nodes, body, rollout, ctrl_c(), json, io).await
}

/// [`inject`], stopped by `interrupt` instead of ctrl-c (for tests).
pub async fn inject_until(
    client: &NodeClient,
    nodes: &[u32],
    body: &InjectRequest,
    rollout: Option<Duration>,
    interrupt: impl std::future::Future<Output = ()>,
    json: bool,
    io: Output<'_, impl Write, impl Write>,
) -> bool {
    let results = each_node_with(client, nodes, rollout, interrupt, |c, n| {
        let body = body.clone();
        async move { c.inject(n, &body).await }
    })
    .await;
    let line = |n, s: &Started| {
        let replaced = s.replaced.map_or(String::new(), |id| format!(", replacing #{id}"));
        format!(
            "node {n}: {} started as #{} for {} s{replaced}; expect {}",
            s.fault.failure, s.fault.id, body.duration_s, s.fault.expected_alert
        )
    };
    let group = |s: &Started| {
        format!(
            "{} started for {} s (expect {}) on",
            s.fault.failure, body.duration_s, s.fault.expected_alert
        )
    };
    report_grouped(&results, json, io.out, io.err, line, group)
}

/// `inject clear`.
pub async fn clear(
    client: &NodeClient,
    nodes: &[u32],
    id: Option<u64>,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> bool {
    let results =
        each_node_with(client, nodes, None, ctrl_c(), |c, n| async move { c.clear(n, id).await }).await;
    let line = |n, list: &FaultList| {
        let ended: Vec<String> = list.faults.iter().map(|f| format!("{} #{}", f.failure, f.id)).collect();
        if ended.is_empty() {
            format!("node {n}: nothing to clear (no listed faults; a drill's sealed faults end too, unnamed)")
        } else {
            format!("node {n}: ended {}", ended.join(", "))
        }
    };
    let group = |list: &FaultList| {
        let mut modes: Vec<&str> = list.faults.iter().map(|f| f.failure.as_str()).collect();
        modes.sort_unstable();
        modes.dedup();
        if modes.is_empty() {
            "nothing to clear on".to_owned()
        } else {
            format!("ended {} on", modes.join(", "))
        }
    };
    report_grouped(&results, json, out, err, line, group)
}

/// Like [`report`], but above [`SUMMARY_ABOVE`] nodes the successes are folded into one
/// line per `group` (`node_crash started ... on 333 nodes: 1-4,13-16,...`) and the nodes
/// never sent to into one line; other failures keep a line each, on `err`. True if every
/// node succeeded.
fn report_grouped<T: Serialize>(
    results: &[(u32, Result<T, NodeError>)],
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
    line: impl Fn(u32, &T) -> String,
    group: impl Fn(&T) -> String,
) -> bool {
    if json || results.len() <= SUMMARY_ABOVE {
        return report(results, json, out, err, line);
    }
    let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut not_sent = Vec::new();
    for (n, r) in results {
        match r {
            Ok(v) => groups.entry(group(v)).or_default().push(*n),
            Err(NodeError::NotSent { .. }) => not_sent.push(*n),
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
            }
        }
    }
    for (what, nodes) in &groups {
        let _ = writeln!(out, "{what} {} nodes: {}", nodes.len(), crate::targets::compact(nodes));
    }
    if !not_sent.is_empty() {
        let _ = writeln!(
            err,
            "error: not sent to {} nodes (interrupted before their turn): {}",
            not_sent.len(),
            crate::targets::compact(&not_sent)
        );
    }
    results.iter().all(|(_, r)| r.is_ok())
}

/// Prints one line (or one JSON item) per node, a node's failure on `err` (in JSON, in the
/// document); true if every node succeeded.
fn report<T: Serialize>(
    results: &[(u32, Result<T, NodeError>)],
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
    line: impl Fn(u32, &T) -> String,
) -> bool {
    if json {
        let items: Vec<Value> = results
            .iter()
            .map(|(n, r)| match r {
                Ok(v) => json!({ "node": n, "ok": true, "result": v }),
                Err(e) => json!({ "node": n, "ok": false, "error": e.to_string() }),
            })
            .collect();
        let _ = writeln!(out, "{}", Value::Array(items));
    } else {
        for (n, r) in results {
            let _ = match r {
                Ok(v) => writeln!(out, "{}", line(*n, v)),
                Err(e) => writeln!(err, "error: {e}"),
            };
        }
    }
    results.iter().all(|(_, r)| r.is_ok())
}

/// One node's row of `inject status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeStatus {
    /// Node number.
    pub node: u32,
    /// Its region.
    pub region: String,
    /// `up`, `down` (answers an error, e.g. a crash), `unreachable`, or `error` (answers
    /// something that is not metrics).
    pub state: String,
    /// CPU utilisation 0-1.
    pub cpu: Option<f64>,
    /// Memory utilisation 0-1.
    pub memory: Option<f64>,
    /// Share of requests answered 5xx during the last second.
    pub error_ratio: Option<f64>,
    /// Active faults with time left.
    pub faults: Vec<FaultView>,
    /// Why it is not up, or why its faults could not be listed.
    pub error: Option<String>,
}

/// Requests answered so far, and those answered 5xx.
fn requests(m: &Metrics) -> (f64, f64) {
    let name = "edge_http_requests_total";
    let errors = m.sum(name, |s| s.label("status").is_some_and(|c| c.starts_with('5')));
    (m.sum(name, |_| true), errors)
}

/// Above this many nodes, `inject status` prints a summary by region and the worst
/// nodes instead of one row per node (`--full` prints every row anyway).
pub const SUMMARY_ABOVE: usize = 24;
/// Nodes listed under "worst nodes" in the summary.
pub const WORST_LISTED: usize = 10;

/// `inject status`: two scrapes of every node a second apart give a live 5xx ratio (all
/// nodes' first scrapes, one pause, all second scrapes: a thousand nodes take about a
/// second more than one). `region_of` names each node's region. One row per node for a
/// small fleet (or with `full`), else a summary by region with the worst nodes.
pub async fn status(
    client: &NodeClient,
    nodes: &[u32],
    region_of: impl Fn(u32) -> String,
    full: bool,
    json: bool,
    out: &mut impl Write,
) -> bool {
    let first = each_node(client, nodes, |c, n| async move { c.metrics(n).await }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = each_node(client, nodes, |c, n| async move {
        let (metrics, faults) = tokio::join!(c.metrics(n), c.faults(n));
        Ok::<_, NodeError>((metrics, faults))
    })
    .await;
    let rows: Vec<NodeStatus> = first
        .into_iter()
        .zip(second)
        .map(|((n, a), (_, b))| {
            let mut row = match (a, b) {
                (Ok(a), Ok((Ok(b), faults))) => row(n, a, b, faults),
                // A node that answers /inject but not /metrics (a crash) still shows its faults.
                (Err(e), Ok((_, faults))) | (Ok(_), Ok((Err(e), faults))) => {
                    failed_row(n, &e, faults.map(|f| f.faults).unwrap_or_default())
                }
                (_, Err(e)) => failed_row(n, &e, Vec::new()),
            };
            row.region = region_of(n);
            row
        })
        .collect();
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string(&rows).unwrap_or_default());
    } else if full || rows.len() <= SUMMARY_ABOVE {
        let _ = writeln!(out, "{}", status_table(&rows));
    } else {
        let _ = write!(out, "{}", status_summary(&rows));
    }
    rows.iter().all(|r| r.state == "up" && r.error.is_none())
}

/// Whether a node needs a look: not up, faulted, failing requests or saturated.
fn troubled(r: &NodeStatus) -> bool {
    r.state != "up"
        || !r.faults.is_empty()
        || r.error.is_some()
        || r.error_ratio.is_some_and(|e| e > 0.05)
        || r.cpu.is_some_and(|c| c > 0.9)
        || r.memory.is_some_and(|m| m > 0.9)
}

/// Worst first: not up, then most faults, then most 5xx, then busiest CPU.
fn worst_first(a: &NodeStatus, b: &NodeStatus) -> std::cmp::Ordering {
    let key = |r: &NodeStatus| {
        (
            r.state == "up",
            std::cmp::Reverse(r.faults.len()),
            r.error_ratio.unwrap_or(0.0),
            r.cpu.unwrap_or(0.0),
        )
    };
    let (ka, kb) = (key(a), key(b));
    ka.0.cmp(&kb.0)
        .then(ka.1.cmp(&kb.1))
        .then(kb.2.total_cmp(&ka.2))
        .then(kb.3.total_cmp(&ka.3))
        .then(a.node.cmp(&b.node))
}

/// A large fleet for people: one row per region, then the worst nodes.
pub fn status_summary(rows: &[NodeStatus]) -> String {
    let mut regions: BTreeMap<&str, Vec<&NodeStatus>> = BTreeMap::new();
    for r in rows {
        regions.entry(r.region.as_str()).or_default().push(r);
    }
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.0}%", v * 100.0));
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let mut table = crate::table::new(
        &["REGION", "NODES", "UP", "NOT UP", "FAULTED", "CPU avg", "MEM avg", "5XX avg", "5XX max"],
        &[1, 2, 3, 4, 5, 6, 7, 8],
    );
    for (region, rs) in &regions {
        let up: Vec<&&NodeStatus> = rs.iter().filter(|r| r.state == "up").collect();
        let cpu: Vec<f64> = up.iter().filter_map(|r| r.cpu).collect();
        let mem: Vec<f64> = up.iter().filter_map(|r| r.memory).collect();
        let errors: Vec<f64> = up.iter().filter_map(|r| r.error_ratio).collect();
        table.add_row(vec![
            (*region).to_owned(),
            rs.len().to_string(),
            up.len().to_string(),
            (rs.len() - up.len()).to_string(),
            rs.iter().filter(|r| !r.faults.is_empty()).count().to_string(),
            pct(mean(&cpu)),
            pct(mean(&mem)),
            pct(mean(&errors)),
            pct(errors.iter().copied().reduce(f64::max)),
        ]);
    }
    let mut worst: Vec<&NodeStatus> = rows.iter().filter(|r| troubled(r)).collect();
    worst.sort_by(|a, b| worst_first(a, b));
    let mut text = format!("{} nodes in {} regions\n{table}\n", rows.len(), regions.len());
    if worst.is_empty() {
        text.push_str("no node is down, faulted, failing requests or saturated\n");
        return text;
    }
    let shown: Vec<NodeStatus> = worst.iter().take(WORST_LISTED).map(|r| (*r).clone()).collect();
    text.push_str(&format!("worst nodes ({} of {} that need a look):\n", shown.len(), worst.len()));
    text.push_str(&status_table(&shown).to_string());
    text.push('\n');
    text
}

/// The status rows as a table for people.
pub fn status_table(rows: &[NodeStatus]) -> comfy_table::Table {
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.0}%", v * 100.0));
    let mut table =
        crate::table::new(&["NODE", "REGION", "STATE", "CPU", "MEM", "5XX", "FAULTS"], &[0, 3, 4, 5]);
    for r in rows {
        let faults: Vec<String> = r
            .faults
            .iter()
            .map(|f| format!("{} #{} ({:.0}s left)", f.failure, f.id, f.remaining_s))
            .collect();
        // A node that is not up shows why where its faults would be.
        let faults = if faults.is_empty() {
            r.error.clone().unwrap_or_else(|| "-".to_owned())
        } else {
            faults.join(", ")
        };
        table.add_row(vec![
            r.node.to_string(),
            r.region.clone(),
            r.state.clone(),
            pct(r.cpu),
            pct(r.memory),
            pct(r.error_ratio),
            faults,
        ]);
    }
    table
}

fn row(node: u32, first: Metrics, second: Metrics, faults: Result<FaultList, NodeError>) -> NodeStatus {
    let (faults_list, faults_error) = match faults {
        Ok(list) => (list.faults, None),
        Err(e) => (Vec::new(), Some(format!("cannot list faults: {e}"))),
    };
    let ((total_a, errors_a), (total_b, errors_b)) = (requests(&first), requests(&second));
    let (total, errors) = (total_b - total_a, errors_b - errors_a);
    NodeStatus {
        node,
        region: String::new(),
        state: "up".to_owned(),
        cpu: second.get("edge_cpu_utilization_ratio", &[]),
        memory: second.get("edge_memory_utilization_ratio", &[]),
        error_ratio: (total > 0.0).then(|| errors / total),
        faults: faults_list,
        error: faults_error,
    }
}

/// The row of a node that did not answer with metrics.
fn failed_row(node: u32, e: &NodeError, faults: Vec<FaultView>) -> NodeStatus {
    NodeStatus {
        node,
        region: String::new(),
        state: match e {
            NodeError::Refused { .. } => "down".to_owned(),
            NodeError::Unreachable { .. } | NodeError::Timeout { .. } => "unreachable".to_owned(),
            _ => "error".to_owned(),
        },
        cpu: None,
        memory: None,
        error_ratio: None,
        faults,
        error: Some(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::targets::Targets;

    fn client() -> NodeClient {
        NodeClient::new(Targets::new("127.0.0.1", 0, BTreeMap::new()), Duration::from_secs(1))
            .expect("client")
    }

    #[tokio::test]
    async fn a_node_whose_task_panics_is_reported_as_a_failure() {
        let results = each_node(&client(), &[3, 1, 2, 3], |_, n| async move {
            if n == 2 {
                panic!("a bug while talking to node 2\n(second line)");
            }
            Ok::<_, NodeError>(n * 10)
        })
        .await;
        let nodes: Vec<u32> = results.iter().map(|(n, _)| *n).collect();
        assert_eq!(nodes, vec![1, 2, 3], "every node once, in order");
        assert!(matches!(results[0].1, Ok(10)) && matches!(results[2].1, Ok(30)));
        let Err(lost) = &results[1].1 else { panic!("node 2 has no result") };
        assert_eq!(
            lost.to_string(),
            "node 2: outcome unknown: the request task panicked: a bug while talking to node 2 (second line)"
        );

        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert!(
            !report(&results, false, &mut out, &mut err, |n, _| format!("node {n}: ok")),
            "a lost node fails the run"
        );
        let (text, errors) = (String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
        assert_eq!(text, "node 1: ok\nnode 3: ok\n", "the results, and nothing else, on stdout");
        assert_eq!(
            errors.lines().collect::<Vec<_>>(),
            [
                "error: node 2: outcome unknown: the request task panicked: a bug while talking to node 2 (second line)"
            ]
        );
    }
}
