//! `inject scenario FILE` and `inject random`: a game day from a timeline or a seeded
//! schedule, optionally timed by `--watch` and written up by `--report`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::context::{Context, sink_url};
use crate::cli::RandomArgs;
use crate::drill::run_report;
use crate::exit::{CommandError, Outcome};
use crate::output::Output;
use crate::scenario::{self, Scenario};

/// `scenario FILE [--dry-run] [--watch] [--report R]`.
pub async fn run_file(
    ctx: &Context,
    file: &Path,
    dry_run: bool,
    watch_s: Option<f64>,
    report: Option<PathBuf>,
    io: Output<'_, impl Write, impl Write>,
) -> Result<Outcome, CommandError> {
    let scenario = Scenario::load(file)?;
    if dry_run {
        let _ = write!(io.out, "{}", scenario.plan());
        return Ok(Outcome::Done);
    }
    let all = if scenario.uses_all() { ctx.fleet().await?.nodes() } else { Vec::new() };
    run(ctx, &scenario, &all, watch_s, report, io).await
}

/// `random [--seed S] [--dry-run] [--watch] [--report R] ...`.
pub async fn run_random(
    ctx: &Context,
    args: &RandomArgs,
    watch_s: Option<f64>,
    io: Output<'_, impl Write, impl Write>,
) -> Result<Outcome, CommandError> {
    let nodes = ctx.select(Some(&args.node), None).await?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let scenario = Scenario::random(&args.plan(), &nodes, seed);
    // The seed is part of the result: it replays the run.
    let _ = writeln!(io.out, "seed {seed} (replay with --seed {seed})");
    if args.dry_run {
        let _ = write!(io.out, "{}", scenario.plan());
        return Ok(Outcome::Done);
    }
    run(ctx, &scenario, &nodes, watch_s, args.report.clone(), io).await
}

/// Runs a scenario, watching each step's documented alert for up to `watch_s`, and writing
/// an incident report to `report` if given.
async fn run(
    ctx: &Context,
    scenario: &Scenario,
    all: &[u32],
    watch_s: Option<f64>,
    report: Option<PathBuf>,
    io: Output<'_, impl Write, impl Write>,
) -> Result<Outcome, CommandError> {
    let Output { out, err } = io;
    // Resolved before anything is sent: a bad ALERT_SINK_PORT is a usage error.
    let sink = match &report {
        Some(_) => Some(sink_url(None)?),
        None => None,
    };
    let begun = crate::drill::utc::now();
    let (ran, watched) = match watch_s {
        None => (scenario::run(&ctx.client, scenario, all, None, out, err).await, Outcome::Done),
        Some(timeout_s) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let (mut report, mut problems) = (Vec::new(), Vec::new());
            // The watch and the run proceed together; the watch's report comes after the run's lines.
            let both = tokio::join!(
                scenario::run(&ctx.client, scenario, all, Some(tx), out, err),
                ctx.watch(timeout_s, rx, &mut report, &mut problems),
            );
            let _ = out.write_all(&report);
            let _ = err.write_all(&problems);
            both
        }
    };
    let outcome = Outcome::from(&ran).and(watched);
    let (Some(path), Some(sink)) = (report, sink) else { return Ok(outcome) };
    let wrote =
        run_report::write(&scenario.name, &ran.started, begun, &ctx.prometheus, &sink, &path, err).await?;
    Ok(outcome.and(wrote.into()))
}
