//! The `inject` CLI as a library: parse, then [`run`] with any writer, so tests drive it
//! against in-process nodes and check its output and exit code.
//!
//! It shares the failure catalog with the service (`edge_sim::FaultKind`), so mode names
//! can never drift. It must not depend on the service crate.

pub mod cli;
pub mod client;
pub mod commands;
pub mod drill;
pub mod numbers;
pub mod scenario;
pub mod table;
pub mod targets;
pub mod watch;

use std::io::Write;
use std::time::Duration;

use cli::{Cli, Command};
use client::Client;
use edge_sim::api::InjectRequest;
use scenario::Scenario;
use targets::{Targets, compose_port_overrides, compose_service_url, parse_overrides};

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

async fn try_run(mut cli: Cli, out: &mut impl Write) -> Result<bool, String> {
    // Compose's port variables, resolved before anything is sent (bad input changes nothing).
    for (given, var, default) in [
        (&mut cli.inject.prometheus, "PROMETHEUS_PORT", 9090),
        (&mut cli.inject.alertmanager, "ALERTMANAGER_PORT", 9093),
    ] {
        if given.is_none() {
            *given = Some(compose_service_url(var, std::env::var(var).ok(), default)?);
        }
    }
    let g = &cli.global;
    // Lowest first: Compose's port variables, then a targets file, then --targets.
    let mut overrides = compose_port_overrides(&g.host, std::env::vars())?;
    if let Some(path) = &g.targets_file {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        overrides.extend(parse_overrides(&text).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    if let Some(list) = &g.targets {
        overrides.extend(parse_overrides(list).map_err(|e| format!("--targets: {e}"))?);
    }
    let client =
        Client::new(Targets::new(&g.host, g.base_port, overrides), Duration::from_secs_f64(g.timeout))
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
            let (Some(nodes), Some(failure)) = (a.node.clone(), a.failure) else {
                return Err("give --node and --failure (e.g. `inject --node 3 --failure cpu_spike`), or a subcommand; see --help".to_owned());
            };
            let spec = edge_sim::FaultSpec {
                kind: failure,
                duration_s: a.duration,
                intensity: a.intensity,
                service: a.service,
            };
            spec.validate().map_err(|e| e.to_string())?;
            let body = InjectRequest::from(&spec);
            let started = tokio::time::Instant::now();
            let watching = (a.watch || !a.expect.is_empty()).then(|| {
                let alerts = if a.expect.is_empty() {
                    vec![failure.expected_alert().to_owned()]
                } else {
                    a.expect.clone()
                };
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                for n in &nodes.0 {
                    for alert in &alerts {
                        let end = started + Duration::from_secs_f64(a.duration);
                        let _ = tx.send(watch::Expectation {
                            alert: alert.clone(),
                            node: *n,
                            start: started,
                            end,
                        });
                    }
                }
                drop(tx);
                rx
            });
            let injected = commands::inject(&client, &nodes.0, &body, g.json, out).await;
            match watching {
                None => Ok(injected),
                Some(rx) => Ok(watched(&a, rx, g.json, out).await && injected),
            }
        }
        Some(Command::Status { node }) => Ok(commands::status(&client, &node.0, g.json, out).await),
        Some(Command::Clear { node, id }) => {
            if id.is_some() && node.0.len() != 1 {
                return Err("--id names one fault of one node; give a single --node".to_owned());
            }
            Ok(commands::clear(&client, &node.0, id, g.json, out).await)
        }
        Some(Command::Scenario { file, dry_run, watch, report }) => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let scenario = Scenario::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            if dry_run {
                let _ = write!(out, "{}", scenario.plan());
                return Ok(true);
            }
            let report = report.map(|path| (path, cli.inject.prometheus.clone().unwrap_or_default()));
            run_scenario(&client, &scenario, watch.then_some(&cli.inject), report, g.json, out).await
        }
        Some(Command::Drill(args)) => {
            let prometheus = cli.inject.prometheus.as_deref().unwrap_or_default();
            drill::run(&client, args, prometheus, g.json, out).await
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
            let report =
                args.report.clone().map(|path| (path, cli.inject.prometheus.clone().unwrap_or_default()));
            run_scenario(&client, &scenario, args.watch.then_some(&cli.inject), report, g.json, out).await
        }
    }
}

/// Runs a scenario, watching each step's documented alert if `watch` carries the settings,
/// and writing an incident report if `report` names a file (and Prometheus).
async fn run_scenario(
    client: &Client,
    scenario: &Scenario,
    watch: Option<&cli::InjectArgs>,
    report: Option<(std::path::PathBuf, String)>,
    json: bool,
    out: &mut impl Write,
) -> Result<bool, String> {
    let sink = match &report {
        Some(_) => Some(drill::run_report::sink_url()?),
        None => None,
    };
    let begun = drill::run_report::now();
    let mut record = Vec::new();
    let ok = match watch {
        None => scenario::run_recorded(client, scenario, None, out, &mut record).await,
        Some(settings) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let settings = settings.clone();
            let watcher = tokio::spawn(async move {
                let mut report = Vec::new();
                let ok = watched(&settings, rx, json, &mut report).await;
                (ok, report)
            });
            let ran = scenario::run_recorded(client, scenario, Some(tx), out, &mut record).await;
            let (ok, report) = watcher.await.map_err(|e| e.to_string())?;
            let _ = out.write_all(&report);
            ran && ok
        }
    };
    let Some(((path, prometheus), sink)) = report.zip(sink) else { return Ok(ok) };
    let wrote =
        drill::run_report::write(&scenario.name, &record, begun, &prometheus, &sink, &path, out).await;
    Ok(ok && wrote)
}

/// Watches the expectations on `rx` and prints the report.
async fn watched(
    a: &cli::InjectArgs,
    rx: tokio::sync::mpsc::UnboundedReceiver<watch::Expectation>,
    json: bool,
    out: &mut impl Write,
) -> bool {
    // try_run fills both in before anything runs.
    let url = |u: &Option<String>| u.as_deref().unwrap_or_default().trim_end_matches('/').to_owned();
    let cfg = watch::WatchConfig {
        prometheus: url(&a.prometheus),
        alertmanager: url(&a.alertmanager),
        timeout: Duration::from_secs_f64(a.watch_timeout),
        request_timeout: watch::REQUEST_TIMEOUT,
    };
    if !json {
        let _ = writeln!(out, "watching alerts at {} and {}", cfg.prometheus, cfg.alertmanager);
    }
    match watch::watch(&cfg, rx).await {
        Ok(report) => watch::report(&report, json, out),
        Err(e) => {
            let _ = writeln!(out, "error: cannot watch alerts: {e}");
            false
        }
    }
}
