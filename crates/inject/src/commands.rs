//! Inject, status and clear: concurrent calls to the chosen nodes, one result per node.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use edge_sim::api::{FaultList, FaultView, InjectRequest, Started};
use serde::Serialize;

use crate::client::{Client, NodeError};
use exposition::Metrics;

/// Runs `f` against every node concurrently; one result per node, in node order. A node
/// whose task panicked or was cancelled gets [`NodeError::Lost`]: its outcome is unknown,
/// which is a failure, never a silent gap in the report.
pub async fn each_node<T, F, Fut>(client: &Client, nodes: &[u32], f: F) -> Vec<(u32, Result<T, NodeError>)>
where
    T: Send + 'static,
    F: Fn(Client, u32) -> Fut,
    Fut: std::future::Future<Output = Result<T, NodeError>> + Send + 'static,
{
    let mut nodes = nodes.to_vec();
    nodes.sort_unstable();
    nodes.dedup();
    let mut set = JoinSet::new();
    let mut task_node = HashMap::new();
    for &n in &nodes {
        let fut = f(client.clone(), n);
        let task = set.spawn(async move { (n, fut.await) });
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
                Err(NodeError::Lost { node: n, cause: "no outcome was recorded".to_owned() })
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

/// `inject --node ... --failure ...`: one line per node; false if any failed.
pub async fn inject(
    client: &Client,
    nodes: &[u32],
    body: &InjectRequest,
    json: bool,
    out: &mut impl Write,
) -> bool {
    let results = each_node(client, nodes, |c, n| {
        let body = body.clone();
        async move { c.inject(n, &body).await }
    })
    .await;
    report(&results, json, out, |n, s: &Started| {
        let replaced = s.replaced.map_or(String::new(), |id| format!(", replacing #{id}"));
        format!(
            "node {n}: {} started as #{} for {} s{replaced}; expect {}",
            s.fault.failure, s.fault.id, body.duration_s, s.fault.expected_alert
        )
    })
}

/// `inject clear`.
pub async fn clear(
    client: &Client,
    nodes: &[u32],
    id: Option<u64>,
    json: bool,
    out: &mut impl Write,
) -> bool {
    let results = each_node(client, nodes, |c, n| async move { c.clear(n, id).await }).await;
    report(&results, json, out, |n, list: &FaultList| {
        let ended: Vec<String> = list.faults.iter().map(|f| format!("{} #{}", f.failure, f.id)).collect();
        if ended.is_empty() {
            format!("node {n}: nothing to clear (no listed faults; a drill's sealed faults end too, unnamed)")
        } else {
            format!("node {n}: ended {}", ended.join(", "))
        }
    })
}

/// Prints one line (or one JSON item) per node; true if every node succeeded.
fn report<T: Serialize>(
    results: &[(u32, Result<T, NodeError>)],
    json: bool,
    out: &mut impl Write,
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
                Err(e) => writeln!(out, "error: {e}"),
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

/// `inject status`: two scrapes a second apart give a live 5xx ratio.
pub async fn status(client: &Client, nodes: &[u32], json: bool, out: &mut impl Write) -> bool {
    let rows = each_node(client, nodes, |c, n| async move {
        let first = c.metrics(n).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (second, faults) = tokio::join!(c.metrics(n), c.faults(n));
        Ok::<_, NodeError>(row(n, first, second, faults))
    })
    .await;
    let rows: Vec<NodeStatus> =
        rows.into_iter().map(|(n, r)| r.unwrap_or_else(|e| failed_row(n, &e, Vec::new()))).collect();
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string(&rows).unwrap_or_default());
    } else {
        let _ = writeln!(out, "{}", status_table(&rows));
    }
    rows.iter().all(|r| r.state == "up" && r.error.is_none())
}

/// The status rows as a table for people.
pub fn status_table(rows: &[NodeStatus]) -> comfy_table::Table {
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.0}%", v * 100.0));
    let mut table = crate::table::new(&["NODE", "STATE", "CPU", "MEM", "5XX", "FAULTS"], &[0, 2, 3, 4]);
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
            r.state.clone(),
            pct(r.cpu),
            pct(r.memory),
            pct(r.error_ratio),
            faults,
        ]);
    }
    table
}

fn row(
    node: u32,
    first: Result<Metrics, NodeError>,
    second: Result<Metrics, NodeError>,
    faults: Result<FaultList, NodeError>,
) -> NodeStatus {
    let (faults_list, faults_error) = match faults {
        Ok(list) => (list.faults, None),
        Err(e) => (Vec::new(), Some(format!("cannot list faults: {e}"))),
    };
    match (&first, &second) {
        (Ok(a), Ok(b)) => {
            let ((total_a, errors_a), (total_b, errors_b)) = (requests(a), requests(b));
            let (total, errors) = (total_b - total_a, errors_b - errors_a);
            NodeStatus {
                node,
                state: "up".to_owned(),
                cpu: b.get("edge_cpu_utilization_ratio", &[]),
                memory: b.get("edge_memory_utilization_ratio", &[]),
                error_ratio: (total > 0.0).then(|| errors / total),
                faults: faults_list,
                error: faults_error,
            }
        }
        (_, Err(e)) | (Err(e), _) => failed_row(node, e, faults_list),
    }
}

/// The row of a node that did not answer with metrics.
fn failed_row(node: u32, e: &NodeError, faults: Vec<FaultView>) -> NodeStatus {
    NodeStatus {
        node,
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

    fn client() -> Client {
        Client::new(Targets::new("127.0.0.1", 0, BTreeMap::new()), Duration::from_secs(1)).expect("client")
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

        let mut out = Vec::new();
        assert!(
            !report(&results, false, &mut out, |n, _| format!("node {n}: ok")),
            "a lost node fails the run"
        );
        let text = String::from_utf8_lossy(&out).into_owned();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("error: node 2: outcome unknown"), "{text}");
    }
}
