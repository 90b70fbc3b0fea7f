//! `inject drill ...`: the command line of the blind drills (`crate::cli::drill`) turned into
//! calls of the drill library (`crate::drill`).

use std::io::Write;

use super::Context;
use crate::cli::drill::{Action, DrillArgs};
use crate::drill::{self, state};
use crate::exit::Refusal;
use crate::output::Output;

/// Runs one drill action; a refusal changes nothing.
pub async fn run(
    ctx: &Context,
    args: DrillArgs,
    io: Output<'_, impl Write, impl Write>,
) -> Result<bool, Refusal> {
    let path = args.state.unwrap_or_else(state::default_path);
    let (client, json) = (&ctx.client, ctx.json);
    let Output { out, err } = io;
    let done = match args.action {
        Action::Start(a) => {
            let pool = ctx.select(Some(&a.node), None).await?;
            let start = drill::Start {
                level: a.level,
                seed: a.seed,
                pool,
                drill: a.drill,
                catalog: a.catalog,
                delay: a.delay,
                sink: a.sink,
            };
            drill::start(client, start, &path, &ctx.prometheus, json, out).await
        }
        Action::Status => drill::status(client, &path, json, out, err).await,
        Action::Hint => drill::hint(&path, json, out),
        Action::Answer { node, failure, service } => drill::answer(&path, node, failure, service, json, out),
        Action::Reveal => drill::reveal(client, &path, json, out).await,
        Action::Stop => drill::stop(client, &path, json, out, err).await,
        Action::Report { output } => drill::report(client, &path, output.as_deref(), out, err).await,
    };
    Ok(done?)
}
