//! Playing a timeline against the nodes: each step injected on time, each node's answer
//! printed and kept, and on ctrl-c every fault the run started ended again.

use std::io::Write;
use std::time::Duration;

use edge_sim::api::Started;
use stack_client::{NodeClient, NodeError};
use tokio::sync::mpsc::UnboundedSender;

use super::timeline::Scenario;
use crate::fanout::each_node;
use crate::targets::NodeSpec;
use crate::watch::Expectation;

/// What a run did.
#[must_use]
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    /// Each node's answer to each injection it took, in order (the incident report's record).
    pub started: Vec<Started>,
    /// Injections a node refused or did not answer (each said on `err`).
    pub failed: usize,
    /// Whether ctrl-c ended it early (the faults it had started were ended again).
    pub interrupted: bool,
}

impl Ran {
    /// Whether every injection was taken and the timeline ran to its end.
    pub fn complete(&self) -> bool {
        self.failed == 0 && !self.interrupted
    }
}

/// Runs the timeline: results on `out`, failures on `err`. `all` is the running fleet, for
/// steps on `all`. Each injection a node took is sent to `watch` as an expectation of the
/// mode's documented alert on that node. On ctrl-c it ends every fault it started.
pub async fn run(
    client: &NodeClient,
    scenario: &Scenario,
    all: &[u32],
    watch: Option<UnboundedSender<Expectation>>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Ran {
    let start = tokio::time::Instant::now();
    let mut ran = Ran { started: Vec::new(), failed: 0, interrupted: false };
    let _ = write!(out, "{}", scenario.plan());
    let timeline = async {
        for step in &scenario.steps {
            tokio::time::sleep_until(start + Duration::from_secs_f64(step.at)).await;
            let nodes = match step.nodes() {
                Ok(NodeSpec::List(nodes)) => nodes,
                Ok(NodeSpec::All) => all.to_vec(),
                // Refused when the scenario was parsed.
                Err(_) => Vec::new(),
            };
            let body = step.body();
            let injected_at = tokio::time::Instant::now();
            let results = each_node(client, &nodes, |c, n| {
                let body = body.clone();
                async move { c.inject(n, &body).await }
            })
            .await;
            for (n, r) in results {
                let _ = match r {
                    Ok(v) => {
                        if let Some(tx) = &watch {
                            let _ = tx.send(Expectation {
                                alert: step.failure.expected_alert().to_owned(),
                                node: n,
                                start: injected_at,
                                end: injected_at + Duration::from_secs_f64(step.duration),
                            });
                        }
                        let line = writeln!(
                            out,
                            "[t+{:>5.0}s] node {n}: {} started as #{} for {} s",
                            start.elapsed().as_secs_f64(),
                            step.failure,
                            v.fault.id,
                            step.duration
                        );
                        ran.started.push(v);
                        line
                    }
                    Err(e) => {
                        ran.failed += 1;
                        writeln!(err, "[t+{:>5.0}s] error: {e}", start.elapsed().as_secs_f64())
                    }
                };
            }
        }
        // Wait for the last fault to end, with a line every 10 s.
        let end = start + Duration::from_secs_f64(scenario.length());
        while tokio::time::Instant::now() < end {
            let left = end - tokio::time::Instant::now();
            let _ = writeln!(
                out,
                "[t+{:>5.0}s] waiting for the last faults to end ({:.0} s left)",
                start.elapsed().as_secs_f64(),
                left.as_secs_f64()
            );
            tokio::time::sleep(left.min(Duration::from_secs(10))).await;
        }
    };
    // Every step is injected: the watcher may finish once what it has settles.
    let interrupted = tokio::select! {
        () = timeline => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    ran.interrupted = interrupted;
    if interrupted {
        end_started(client, &ran.started, out, err).await;
    } else {
        let _ = writeln!(out, "scenario finished: {} faults injected", ran.started.len());
    }
    ran
}

/// Ends the faults an interrupted run started (one already over on its own is fine).
async fn end_started(client: &NodeClient, started: &[Started], out: &mut impl Write, err: &mut impl Write) {
    let _ = writeln!(out, "interrupted: ending the {} faults this run started", started.len());
    for s in started {
        let (n, id) = (s.node, s.fault.id);
        match client.clear(n, Some(id)).await {
            Ok(_) => {
                let _ = writeln!(out, "node {n}: ended #{id}");
            }
            // Already over on its own: nothing left to clean up.
            Err(NodeError::Refused { status: 404, .. }) => {}
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
            }
        }
    }
}
