//! `inject scenario FILE` and `inject random`: a game day from a timeline or a seeded
//! schedule, optionally timed by `--watch` and written up by `--report`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Context;
use crate::cli::RandomArgs;
use crate::drill::run_report;
use crate::exit::Refusal;
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
) -> Result<bool, Refusal> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let scenario = Scenario::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    if dry_run {
        let _ = write!(io.out, "{}", scenario.plan());
        return Ok(true);
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
) -> Result<bool, Refusal> {
    let nodes = ctx.select(Some(&args.node), None).await?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let scenario = Scenario::random(&args.plan(), &nodes, seed);
    // The seed is part of the result: it replays the run.
    let _ = writeln!(io.out, "seed {seed} (replay with --seed {seed})");
    if args.dry_run {
        let _ = write!(io.out, "{}", scenario.plan());
        return Ok(true);
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
) -> Result<bool, Refusal> {
    let Output { out, err } = io;
    let sink = match &report {
        Some(_) => Some(run_report::sink_url()?),
        None => None,
    };
    let begun = crate::drill::utc::now();
    let mut record = Vec::new();
    let ok = match watch_s {
        None => scenario::run_recorded(&ctx.client, scenario, all, None, out, err, &mut record).await,
        Some(timeout_s) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let (mut report, mut problems) = (Vec::new(), Vec::new());
            // The watch and the run proceed together; the watch's report comes after the run's lines.
            let (ran, watched) = tokio::join!(
                scenario::run_recorded(&ctx.client, scenario, all, Some(tx), out, err, &mut record),
                ctx.watch(timeout_s, rx, &mut report, &mut problems),
            );
            let _ = out.write_all(&report);
            let _ = err.write_all(&problems);
            ran && watched
        }
    };
    let (Some(path), Some(sink)) = (report, sink) else { return Ok(ok) };
    let wrote = run_report::write(&scenario.name, &record, begun, &ctx.prometheus, &sink, &path, err).await;
    Ok(ok && wrote)
}
