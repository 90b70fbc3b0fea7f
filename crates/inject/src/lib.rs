//! The `inject` CLI as a library: parse, then [`run`] with any writer, so tests drive it
//! against in-process nodes and check its output and exit code.
//!
//! It shares the failure catalog with the service (`edge_sim::FaultKind`), so mode names
//! can never drift. It must not depend on the service crate.

pub mod cli;
pub mod client;
pub mod commands;
pub mod scenario;
pub mod targets;
pub mod watch;

use std::io::Write;
use std::time::Duration;

use cli::{Cli, Command};
use client::{Client, InjectBody};
use scenario::Scenario;
use targets::{Targets, parse_overrides};

/// Exit codes: everything succeeded.
pub const EXIT_OK: u8 = 0;
/// Some node failed, or a run was interrupted.
pub const EXIT_FAILED: u8 = 1;
/// A usage error: nothing was sent.
pub const EXIT_USAGE: u8 = 2;

/// Runs a parsed command line; returns the exit code. Usage errors are caught before
/// anything is sent.
pub async fn run(cli: Cli, out: &mut impl Write, err: &mut impl Write) -> u8 {
    match try_run(cli, out).await {
        Ok(true) => EXIT_OK,
        Ok(false) => EXIT_FAILED,
        Err(usage) => {
            let _ = writeln!(err, "inject: {usage}");
            EXIT_USAGE
        }
    }
}

async fn try_run(cli: Cli, out: &mut impl Write) -> Result<bool, String> {
    let g = &cli.global;
    let mut overrides = match &g.targets_file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            parse_overrides(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Default::default(),
    };
    if let Some(list) = &g.targets {
        overrides.extend(parse_overrides(list).map_err(|e| format!("--targets: {e}"))?);
    }
    let client =
        Client::new(Targets::new(&g.host, g.base_port, overrides), Duration::from_secs(g.timeout.max(1)))
            .map_err(|e| format!("{e:#}"))?;
    if cli.command.is_some() && (cli.inject.node.is_some() || cli.inject.failure.is_some()) {
        return Err(
            "--node/--failure before a subcommand: put the subcommand first (`inject status --node 3`)"
                .to_owned(),
        );
    }
    match cli.command {
        None => {
            let a = cli.inject;
            let (Some(nodes), Some(failure)) = (a.node, a.failure) else {
                return Err("give --node and --failure (e.g. `inject --node 3 --failure cpu_spike`), or a subcommand; see --help".to_owned());
            };
            let spec = edge_sim::FaultSpec {
                kind: failure,
                duration_s: a.duration,
                intensity: a.intensity,
                service: a.service,
            };
            spec.validate().map_err(|e| e.to_string())?;
            let body =
                InjectBody { failure, duration_s: a.duration, intensity: a.intensity, service: a.service };
            let started = tokio::time::Instant::now();
            let injected = commands::inject(&client, &nodes.0, &body, g.json, out).await;
            if !a.watch && a.expect.is_empty() {
                return Ok(injected);
            }
            let alerts = if a.expect.is_empty() {
                vec![failure.expected_alert().to_owned()]
            } else {
                a.expect.clone()
            };
            let expected: Vec<(String, u32)> =
                nodes.0.iter().flat_map(|n| alerts.iter().map(move |alert| (alert.clone(), *n))).collect();
            let cfg = watch::WatchConfig {
                prometheus: a.prometheus.trim_end_matches('/').to_owned(),
                alertmanager: a.alertmanager.trim_end_matches('/').to_owned(),
                timeout: Duration::from_secs_f64(a.watch_timeout),
            };
            match watch::watch(&cfg, &expected, started, Duration::from_secs_f64(a.duration), out).await {
                Ok((lines, unexpected)) => Ok(watch::report(&lines, &unexpected, g.json, out) && injected),
                Err(e) => {
                    let _ = writeln!(out, "error: cannot watch alerts: {e}");
                    Ok(false)
                }
            }
        }
        Some(Command::Status { node }) => Ok(commands::status(&client, &node.0, g.json, out).await),
        Some(Command::Clear { node, id }) => {
            if id.is_some() && node.0.len() != 1 {
                return Err("--id names one fault of one node; give a single --node".to_owned());
            }
            Ok(commands::clear(&client, &node.0, id, g.json, out).await)
        }
        Some(Command::Scenario { file, dry_run }) => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let scenario = Scenario::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            if dry_run {
                let _ = write!(out, "{}", scenario.plan());
                return Ok(true);
            }
            Ok(scenario::run(&client, &scenario, out).await)
        }
        Some(Command::Random(args)) => {
            if args.node.0.is_empty() {
                return Err("--node selects no node".to_owned());
            }
            let seed = args.seed.unwrap_or_else(rand::random);
            let scenario = Scenario::random(&args, seed);
            let _ = writeln!(out, "seed {seed} (replay with --seed {seed})");
            if args.dry_run {
                let _ = write!(out, "{}", scenario.plan());
                return Ok(true);
            }
            Ok(scenario::run(&client, &scenario, out).await)
        }
    }
}
