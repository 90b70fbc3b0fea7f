//! `inject status`: a row per node (a summary by region at scale), read from the nodes.

use std::io::Write;

use super::context::Context;
use crate::exit::{CommandError, Outcome};
use crate::fanout;
use crate::targets::NodeSpec;

/// Reads the nodes; `Done` if every one answered.
pub async fn run(
    ctx: &Context,
    node: &NodeSpec,
    region: Option<&str>,
    full: bool,
    out: &mut impl Write,
) -> Result<Outcome, CommandError> {
    // Regions as the running fleet records them when it was asked; else by number.
    let known = if *node == NodeSpec::All || region.is_some() { Some(ctx.fleet().await?) } else { None };
    let nodes = match &known {
        Some(f) => crate::fleet::select(Some(node), region, || async { Ok(f.clone()) }).await?,
        None => ctx.select(Some(node), None).await?,
    };
    let region_of = |n| match &known {
        Some(f) => f.region_of(n),
        None => edge_sim::fleet::default_region(n).to_owned(),
    };
    Ok(Outcome::every(fanout::status(&ctx.client, &nodes, region_of, full, ctx.json, out).await))
}
