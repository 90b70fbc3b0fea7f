//! `inject clear`: ends faults early, one fault of one node (`--id`) or all of each node's.

use std::io::Write;

use super::context::Context;
use crate::exit::{CommandError, Outcome};
use crate::fanout;
use crate::output::Output;
use crate::targets::NodeSpec;

/// Clears; `Done` if every node answered.
pub async fn run(
    ctx: &Context,
    node: Option<&NodeSpec>,
    region: Option<&str>,
    id: Option<u64>,
    io: Output<'_, impl Write, impl Write>,
) -> Result<Outcome, CommandError> {
    let nodes = ctx.select(node, region).await?;
    if id.is_some() && nodes.len() != 1 {
        return Err("--id names one fault of one node; give a single --node".into());
    }
    Ok(Outcome::every(fanout::clear(&ctx.client, &nodes, id, ctx.json, io.out, io.err).await))
}
