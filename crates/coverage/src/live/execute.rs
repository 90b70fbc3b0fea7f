//! Running the plan against live nodes in real time: each fault is sent over `POST /inject`
//! at its planned offset from the run's start, for its planned length, and the node's own
//! `started_at` is kept as the fault's start (the judge measures detection from it). Ctrl-c
//! or a refused injection ends every fault the run started and returns an error: nothing is
//! left running on the user's fleet.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edge_sim::api::InjectRequest;
use rule_coverage::Millis;
use stack_client::{NodeClient, NodeError};
use tokio::time::Instant;

use crate::plan::Plan;

/// Why the live run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// A node refused or did not answer an injection.
    #[error("injecting {failure} on node {node}: {cause} (every fault this run started was ended)")]
    Inject {
        /// The mode.
        failure: String,
        /// The node.
        node: u32,
        /// Why.
        cause: NodeError,
    },
    /// Ctrl-c.
    #[error("interrupted (every fault this run started was ended)")]
    Interrupted,
}

/// Unix milliseconds now.
pub fn now_ms() -> Millis {
    Millis::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis())
        .unwrap_or(0)
}

/// Sleeps until `deadline`; `Err(Interrupted)` on ctrl-c first.
async fn sleep_until(deadline: Instant) -> Result<(), ExecuteError> {
    tokio::select! {
        () = tokio::time::sleep_until(deadline) => Ok(()),
        _ = tokio::signal::ctrl_c() => Err(ExecuteError::Interrupted),
    }
}

/// Ends the faults `started` lists (node, fault id), ignoring nodes that no longer answer.
async fn end_all(client: &NodeClient, started: &[(u32, u64)]) {
    for &(node, id) in started {
        if let Err(e) = client.clear(node, Some(id)).await {
            eprintln!("coverage: live: could not end fault {id} on node {node}: {e}");
        }
    }
}

/// Runs `plan` from now: returns the run's start (Unix ms) and each slot's start as the node
/// reported it, in plan order. Progress on stderr, a line per injection and per minute.
pub async fn execute(client: &NodeClient, plan: &Plan) -> Result<(Millis, Vec<Millis>), ExecuteError> {
    let t0 = Instant::now();
    let t0_ms = now_ms();
    let mut order: Vec<usize> = (0..plan.slots.len()).collect();
    order.sort_by_key(|&i| plan.slots[i].start);
    let mut starts = vec![0; plan.slots.len()];
    let mut started: Vec<(u32, u64)> = Vec::new();
    let mut next_note = Duration::from_secs(60);
    let mut pending = order.into_iter().peekable();
    loop {
        let next_slot = pending.peek().map(|&i| plan.slots[i].start);
        let target = next_slot.unwrap_or(plan.end).min(next_note);
        if let Err(e) = sleep_until(t0 + target).await {
            end_all(client, &started).await;
            return Err(e);
        }
        if target == next_note && next_slot != Some(target) {
            eprintln!("coverage: live: {}s of {}s", next_note.as_secs(), plan.end.as_secs());
            next_note += Duration::from_secs(60);
            continue;
        }
        let Some(i) = pending.next() else { break };
        let slot = &plan.slots[i];
        let body = InjectRequest {
            failure: slot.kind,
            duration_s: slot.length().as_secs_f64(),
            intensity: slot.intensity,
            service: slot.service,
            seal: None,
            start_in_s: None,
        };
        match client.inject(slot.node, &body).await {
            Ok(s) => {
                starts[i] = (s.fault.started_at * 1000.0).round() as Millis;
                started.push((slot.node, s.fault.id));
                eprintln!(
                    "coverage: live: {} on node {} for {}s (fault {})",
                    slot.kind.as_str(),
                    slot.node,
                    slot.length().as_secs(),
                    s.fault.id
                );
            }
            Err(cause) => {
                end_all(client, &started).await;
                return Err(ExecuteError::Inject {
                    failure: slot.kind.as_str().to_owned(),
                    node: slot.node,
                    cause,
                });
            }
        }
    }
    Ok((t0_ms, starts))
}
