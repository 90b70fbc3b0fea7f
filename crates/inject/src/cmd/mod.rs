//! One module per subcommand, each with a small `run`, over what they share (`context`: the
//! node client, where Prometheus, Alertmanager and the alert sink are, how to learn the
//! running fleet). This one hands each command line to its module and returns how it ended;
//! `crate::run` turns that into an exit code through `crate::exit`.

mod clear;
mod context;
mod drill;
mod inject;
mod scenario;
mod status;

use std::io::Write;

use crate::cli::{Cli, Command};
use crate::exit::{CommandError, Outcome};
use crate::output::Output;
use context::Context;

/// Runs a parsed command line: how it went, or the error it ended with (a usage error
/// before anything was sent) for `crate::run` to say and turn into an exit code.
pub async fn run(cli: Cli, io: Output<'_, impl Write, impl Write>) -> Result<Outcome, CommandError> {
    let ctx = Context::new(&cli)?;
    if cli.command.is_some() && (cli.inject.node.is_some() || cli.inject.failure.is_some()) {
        return Err(
            "--node/--failure before a subcommand: put the subcommand first (`inject status --node 3`)"
                .into(),
        );
    }
    let watch_timeout = cli.inject.watch_timeout;
    match cli.command {
        None => inject::run(&ctx, cli.inject, io).await,
        Some(Command::Status { node, region, full }) => {
            status::run(&ctx, &node, region.as_deref(), full, io.out).await
        }
        Some(Command::Clear { node, region, id }) => {
            clear::run(&ctx, node.as_ref(), region.as_deref(), id, io).await
        }
        Some(Command::Scenario { file, dry_run, watch, report }) => {
            scenario::run_file(&ctx, &file, dry_run, watch.then_some(watch_timeout), report, io).await
        }
        Some(Command::Random(args)) => {
            let watch = args.watch.then_some(watch_timeout);
            scenario::run_random(&ctx, &args, watch, io).await
        }
        Some(Command::Drill(args)) => drill::run(&ctx, args, io).await,
    }
}
