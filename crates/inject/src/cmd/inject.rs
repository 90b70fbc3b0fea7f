//! `inject --node N --failure MODE` (the seed's form, no subcommand): starts a fault on each
//! node, optionally rolled out over time and timed by `--watch`.

use std::io::Write;
use std::time::Duration;

use edge_sim::api::InjectRequest;

use super::context::Context;
use crate::cli::InjectArgs;
use crate::exit::{CommandError, Outcome};
use crate::output::Output;
use crate::{fanout, targets, watch};

/// Validates the fault, selects the nodes, injects, and watches if asked; `Done` if every
/// node took it and every expected alert fired and resolved.
pub async fn run(
    ctx: &Context,
    a: InjectArgs,
    io: Output<'_, impl Write, impl Write>,
) -> Result<Outcome, CommandError> {
    let (true, Some(failure)) = (a.node.is_some() || a.region.is_some(), a.failure) else {
        return Err("give --node and --failure, or --region and --failure (e.g. `inject --node 3 --failure cpu_spike`), or a subcommand; see --help".into());
    };
    let spec = edge_sim::FaultSpec {
        kind: failure,
        duration_s: a.duration,
        intensity: a.intensity,
        service: a.service,
    };
    spec.validate()?;
    let nodes = ctx.select(a.node.as_ref(), a.region.as_deref()).await?;
    let body = InjectRequest::from(&spec);
    let rollout = a.rollout.map(Duration::from_secs_f64);
    if let Some(over) = rollout
        && !ctx.json
    {
        let _ = writeln!(
            io.err,
            "rolling {failure} out to {} nodes ({}) over {} s; ctrl-c stops it and reports what was done",
            nodes.len(),
            targets::compact(&nodes),
            over.as_secs_f64()
        );
    }
    let watching = (a.watch || !a.expect.is_empty()).then(|| {
        let alerts =
            if a.expect.is_empty() { vec![failure.expected_alert().to_owned()] } else { a.expect.clone() };
        expectations(&nodes, &alerts, Duration::from_secs_f64(a.duration))
    });
    let Output { out, err } = io;
    let streams = Output { out: &mut *out, err: &mut *err };
    let injected =
        Outcome::every(fanout::inject(&ctx.client, &nodes, &body, rollout, ctx.json, streams).await);
    Ok(match watching {
        None => injected,
        Some(rx) => ctx.watch(a.watch_timeout, rx, out, err).await.and(injected),
    })
}

/// Each alert on each node, for a fault that starts now and lasts `duration`.
fn expectations(
    nodes: &[u32],
    alerts: &[String],
    duration: Duration,
) -> tokio::sync::mpsc::UnboundedReceiver<watch::Expectation> {
    let start = tokio::time::Instant::now();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for &node in nodes {
        for alert in alerts {
            let _ = tx.send(watch::Expectation { alert: alert.clone(), node, start, end: start + duration });
        }
    }
    rx
}
