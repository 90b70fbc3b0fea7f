//! `inject drill ...`: the command line of the blind drills (`crate::cli::drill`) turned into
//! calls of the drill library (`crate::drill`).

use std::io::Write;

use super::context::{Context, sink_url};
use crate::cli::drill::{Action, DrillArgs};
use crate::drill::{self, state};
use crate::exit::{CommandError, Outcome};
use crate::output::Output;

/// Runs one drill action; a refusal changes nothing.
pub async fn run(
    ctx: &Context,
    args: DrillArgs,
    io: Output<'_, impl Write, impl Write>,
) -> Result<Outcome, CommandError> {
    let path = args.state.unwrap_or_else(state::default_path);
    let (client, json) = (&ctx.client, ctx.json);
    let Output { out, err } = io;
    Ok(match args.action {
        Action::Start(a) => {
            let pool = ctx.select(Some(&a.node), None).await?;
            let start = drill::Start {
                level: a.level,
                seed: a.seed,
                pool,
                drill: a.drill,
                catalog: a.catalog,
                delay: a.delay,
                sink: sink_url(a.sink)?,
            };
            drill::start(client, start, &path, &ctx.prometheus, json, out).await?;
            Outcome::Done
        }
        Action::Status => drill::status(client, &path, json, out, err).await?.into(),
        Action::Hint => {
            drill::hint(&path, json, out)?;
            Outcome::Done
        }
        Action::Answer { node, failure, service } => {
            drill::answer(&path, node, failure, service, json, out)?;
            Outcome::Done
        }
        Action::Reveal => {
            drill::reveal(client, &path, json, out).await?;
            Outcome::Done
        }
        Action::Stop => drill::stop(client, &path, json, out, err).await?.into(),
        Action::Report { output } => drill::report(client, &path, output.as_deref(), out, err).await?.into(),
    })
}
