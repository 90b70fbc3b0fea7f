//! The `inject` CLI as a library: parse, then [`run`] with any writer, so tests drive it
//! against in-process nodes and check its output and exit code.
//!
//! It shares the failure catalog with the service (`edge_sim::FaultKind`), so mode names
//! can never drift. It must not depend on the service crate.

pub mod cli;
pub mod commands;
pub mod dotenv;
pub mod drill;
pub mod fleet;
pub mod numbers;
pub mod output;
pub mod scenario;
pub mod table;
pub mod targets;
pub mod watch;

use std::io::Write;
use std::time::Duration;

use cli::{Cli, Command};
use edge_sim::api::InjectRequest;
use scenario::Scenario;
use stack_client::NodeClient;
use targets::{NodeSpec, Targets, compose_port_overrides, compose_service_url, parse_overrides};

/// Exit codes: everything succeeded.
pub const EXIT_OK: u8 = 0;
/// Some node failed, or a run was interrupted.
pub const EXIT_FAILED: u8 = 1;
/// A usage error: nothing was sent.
pub const EXIT_USAGE: u8 = 2;

/// Runs a parsed command line; returns the exit code. Usage errors are caught before
/// anything is sent.
pub async fn run(cli: Cli, out: &mut impl Write, err: &mut impl Write) -> u8 {
    match try_run(cli, out, err).await {
        Ok(true) => EXIT_OK,
        Ok(false) => EXIT_FAILED,
        Err(usage) => {
            let _ = writeln!(err, "inject: {usage}");
            EXIT_USAGE
        }
    }
}

/// Runs the command: its result (tables, JSON, a report) on `out`; progress, warnings and
/// errors about it on `err`, so `inject ... > file` gets only the result.
async fn try_run(mut cli: Cli, out: &mut impl Write, err: &mut impl Write) -> Result<bool, String> {
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
    // The nodes a targets file or --targets names are the fleet (`all`).
    let mut listed: Option<Vec<u32>> = None;
    if let Some(path) = &g.targets_file {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let given = parse_overrides(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        listed.get_or_insert_default().extend(given.keys());
        overrides.extend(given);
    }
    if let Some(list) = &g.targets {
        let given = parse_overrides(list).map_err(|e| format!("--targets: {e}"))?;
        listed.get_or_insert_default().extend(given.keys());
        overrides.extend(given);
    }
    let client =
        NodeClient::new(Targets::new(&g.host, g.base_port, overrides), Duration::from_secs_f64(g.timeout))
            .map_err(|e| format!("{e:#}"))?;
    if cli.command.is_some() && (cli.inject.node.is_some() || cli.inject.failure.is_some()) {
        return Err(
            "--node/--failure before a subcommand: put the subcommand first (`inject status --node 3`)"
                .to_owned(),
        );
    }
    // `all` and --region mean the running fleet, learned only when a command needs it.
    let prometheus = cli.inject.prometheus.clone().unwrap_or_default();
    let learn = || fleet::discover(&client, listed.clone(), &prometheus);
    let region = cli.inject.region.clone();
    match cli.command {
        None => {
            let a = cli.inject;
            let (true, Some(failure)) = (a.node.is_some() || a.region.is_some(), a.failure) else {
                return Err("give --node and --failure, or --region and --failure (e.g. `inject --node 3 --failure cpu_spike`), or a subcommand; see --help".to_owned());
            };
            let spec = edge_sim::FaultSpec {
                kind: failure,
                duration_s: a.duration,
                intensity: a.intensity,
                service: a.service,
            };
            spec.validate().map_err(|e| e.to_string())?;
            let nodes = fleet::select(a.node.as_ref(), region.as_deref(), learn).await?;
            let body = InjectRequest::from(&spec);
            let rollout = a.rollout.map(Duration::from_secs_f64);
            if let Some(over) = rollout
                && !g.json
            {
                let _ = writeln!(
                    out,
                    "rolling {} out to {} nodes ({}) over {} s; ctrl-c stops it and reports what was done",
                    failure,
                    nodes.len(),
                    targets::compact(&nodes),
                    over.as_secs_f64()
                );
            }
            let started = tokio::time::Instant::now();
            let watching = (a.watch || !a.expect.is_empty()).then(|| {
                let alerts = if a.expect.is_empty() {
                    vec![failure.expected_alert().to_owned()]
                } else {
                    a.expect.clone()
                };
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                for n in &nodes {
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
            let injected =
                commands::inject(&client, &nodes, &body, rollout, g.json, output::Output { out, err }).await;
            match watching {
                None => Ok(injected),
                Some(rx) => Ok(watched(&a, rx, g.json, out, err).await && injected),
            }
        }
        Some(Command::Status { node, region, full }) => {
            // Regions as the running fleet records them when it was asked; else by number.
            let needs_fleet = node == NodeSpec::All || region.is_some();
            let known = if needs_fleet { Some(learn().await?) } else { None };
            let nodes = match &known {
                Some(f) => fleet::select(Some(&node), region.as_deref(), || async { Ok(f.clone()) }).await?,
                None => fleet::select(Some(&node), None, learn).await?,
            };
            let region_of = |n| match &known {
                Some(f) => f.region_of(n),
                None => edge_sim::fleet::default_region(n).to_owned(),
            };
            Ok(commands::status(&client, &nodes, region_of, full, g.json, out).await)
        }
        Some(Command::Clear { node, region, id }) => {
            let nodes = fleet::select(node.as_ref(), region.as_deref(), learn).await?;
            if id.is_some() && nodes.len() != 1 {
                return Err("--id names one fault of one node; give a single --node".to_owned());
            }
            Ok(commands::clear(&client, &nodes, id, g.json, out, err).await)
        }
        Some(Command::Scenario { file, dry_run, watch, report }) => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let scenario = Scenario::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            if dry_run {
                let _ = write!(out, "{}", scenario.plan());
                return Ok(true);
            }
            let all = if scenario.uses_all() { learn().await?.nodes() } else { Vec::new() };
            let report = report.map(|path| (path, cli.inject.prometheus.clone().unwrap_or_default()));
            run_scenario(
                &client,
                &scenario,
                &all,
                watch.then_some(&cli.inject),
                report,
                g.json,
                output::Output { out, err },
            )
            .await
        }
        Some(Command::Drill(mut args)) => {
            if let drill::Action::Start(a) = &mut args.action {
                a.node = NodeSpec::List(fleet::select(Some(&a.node), None, learn).await?);
            }
            let prometheus = cli.inject.prometheus.as_deref().unwrap_or_default();
            drill::run(&client, args, prometheus, g.json, out, err).await
        }
        Some(Command::Random(args)) => {
            let nodes = fleet::select(Some(&args.node), None, learn).await?;
            let seed = args.seed.unwrap_or_else(rand::random);
            let scenario = Scenario::random(&args, &nodes, seed);
            let _ = writeln!(out, "seed {seed} (replay with --seed {seed})");
            if args.dry_run {
                let _ = write!(out, "{}", scenario.plan());
                return Ok(true);
            }
            let report =
                args.report.clone().map(|path| (path, cli.inject.prometheus.clone().unwrap_or_default()));
            run_scenario(
                &client,
                &scenario,
                &nodes,
                args.watch.then_some(&cli.inject),
                report,
                g.json,
                output::Output { out, err },
            )
            .await
        }
    }
}

/// Runs a scenario, watching each step's documented alert if `watch` carries the settings,
/// and writing an incident report if `report` names a file (and Prometheus).
async fn run_scenario(
    client: &NodeClient,
    scenario: &Scenario,
    all: &[u32],
    watch: Option<&cli::InjectArgs>,
    report: Option<(std::path::PathBuf, String)>,
    json: bool,
    io: output::Output<'_, impl Write, impl Write>,
) -> Result<bool, String> {
    let output::Output { out, err } = io;
    let sink = match &report {
        Some(_) => Some(drill::run_report::sink_url()?),
        None => None,
    };
    let begun = drill::run_report::now();
    let mut record = Vec::new();
    let ok = match watch {
        None => scenario::run_recorded(client, scenario, all, None, out, err, &mut record).await,
        Some(settings) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let settings = settings.clone();
            let watcher = tokio::spawn(async move {
                let (mut report, mut problems) = (Vec::new(), Vec::new());
                let ok = watched(&settings, rx, json, &mut report, &mut problems).await;
                (ok, report, problems)
            });
            let ran = scenario::run_recorded(client, scenario, all, Some(tx), out, err, &mut record).await;
            let (ok, report, problems) = watcher.await.map_err(|e| e.to_string())?;
            let _ = out.write_all(&report);
            let _ = err.write_all(&problems);
            ran && ok
        }
    };
    let Some(((path, prometheus), sink)) = report.zip(sink) else { return Ok(ok) };
    let wrote =
        drill::run_report::write(&scenario.name, &record, begun, &prometheus, &sink, &path, err).await;
    Ok(ok && wrote)
}

/// Watches the expectations on `rx` and prints the report.
async fn watched(
    a: &cli::InjectArgs,
    rx: tokio::sync::mpsc::UnboundedReceiver<watch::Expectation>,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
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
        let _ = writeln!(err, "watching alerts at {} and {}", cfg.prometheus, cfg.alertmanager);
    }
    match watch::watch(&cfg, rx).await {
        Ok(report) => watch::report(&report, json, out),
        Err(e) => {
            let _ = writeln!(err, "error: cannot watch alerts: {e}");
            false
        }
    }
}
