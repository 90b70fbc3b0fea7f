//! One module per subcommand, each with a small `run`. This one builds what they share (the
//! node client, where Prometheus and Alertmanager are, how to learn the running fleet) and
//! hands each command line to its module.

mod clear;
mod drill;
mod inject;
mod scenario;
mod status;

use std::io::Write;
use std::time::Duration;

use stack_client::NodeClient;

use crate::cli::{Cli, Command};
use crate::exit::{Exit, Refusal};
use crate::fleet::{self, Fleet};
use crate::output::Output;
use crate::targets::{NodeSpec, Targets, compose_port_overrides, compose_service_url, parse_overrides};
use crate::watch;

/// What every subcommand reads: resolved before anything is sent, so bad input changes nothing.
pub struct Context {
    /// The client for the nodes.
    pub client: NodeClient,
    /// The nodes `--targets`/`--targets-file` name: the fleet `all` means, if given.
    listed: Option<Vec<u32>>,
    /// Prometheus' base URL (`--prometheus`, else Compose's `PROMETHEUS_PORT`, else 9090).
    pub prometheus: String,
    /// Alertmanager's base URL (likewise, `ALERTMANAGER_PORT`, 9093).
    pub alertmanager: String,
    /// JSON for scripts instead of text for people.
    pub json: bool,
}

impl Context {
    /// From the global flags and the environment (Compose's port variables).
    pub fn new(cli: &Cli) -> Result<Self, Refusal> {
        let g = &cli.global;
        let service = |given: &Option<String>, var: &str, default| match given {
            Some(url) => Ok(url.trim_end_matches('/').to_owned()),
            None => compose_service_url(var, std::env::var(var).ok(), default),
        };
        let prometheus = service(&cli.inject.prometheus, "PROMETHEUS_PORT", 9090)?;
        let alertmanager = service(&cli.inject.alertmanager, "ALERTMANAGER_PORT", 9093)?;
        // Lowest first: Compose's port variables, then a targets file, then --targets.
        let mut overrides = compose_port_overrides(&g.host, std::env::vars())?;
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
        let targets = Targets::new(&g.host, g.base_port, overrides);
        let client =
            NodeClient::new(targets, Duration::from_secs_f64(g.timeout)).map_err(|e| e.to_string())?;
        Ok(Context { client, listed, prometheus, alertmanager, json: g.json })
    }

    /// The running fleet (see `fleet::discover`).
    pub async fn fleet(&self) -> Result<Fleet, String> {
        fleet::discover(&self.client, self.listed.clone(), &self.prometheus).await
    }

    /// The nodes a `--node`/`--region` pair selects; `all` and a region mean the running
    /// fleet, learned only then.
    pub async fn select(&self, node: Option<&NodeSpec>, region: Option<&str>) -> Result<Vec<u32>, String> {
        fleet::select(node, region, || self.fleet()).await
    }

    /// Watches the expectations on `rx` for up to `timeout_s` each and prints the report.
    pub async fn watch(
        &self,
        timeout_s: f64,
        rx: tokio::sync::mpsc::UnboundedReceiver<watch::Expectation>,
        out: &mut impl Write,
        err: &mut impl Write,
    ) -> bool {
        let cfg = watch::WatchConfig {
            prometheus: self.prometheus.clone(),
            alertmanager: self.alertmanager.clone(),
            timeout: Duration::from_secs_f64(timeout_s),
            request_timeout: watch::REQUEST_TIMEOUT,
        };
        if !self.json {
            let _ = writeln!(err, "watching alerts at {} and {}", cfg.prometheus, cfg.alertmanager);
        }
        match watch::watch(&cfg, rx).await {
            Ok(report) => watch::report(&report, self.json, out),
            Err(e) => {
                let _ = writeln!(err, "error: cannot watch alerts: {e}");
                false
            }
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli, io: Output<'_, impl Write, impl Write>) -> Result<Exit, Refusal> {
    let ctx = Context::new(&cli)?;
    if cli.command.is_some() && (cli.inject.node.is_some() || cli.inject.failure.is_some()) {
        return Err(
            "--node/--failure before a subcommand: put the subcommand first (`inject status --node 3`)"
                .into(),
        );
    }
    let watch_timeout = cli.inject.watch_timeout;
    let ok = match cli.command {
        None => inject::run(&ctx, cli.inject, io).await?,
        Some(Command::Status { node, region, full }) => {
            status::run(&ctx, &node, region.as_deref(), full, io.out).await?
        }
        Some(Command::Clear { node, region, id }) => {
            clear::run(&ctx, node.as_ref(), region.as_deref(), id, io).await?
        }
        Some(Command::Scenario { file, dry_run, watch, report }) => {
            scenario::run_file(&ctx, &file, dry_run, watch.then_some(watch_timeout), report, io).await?
        }
        Some(Command::Random(args)) => {
            let watch = args.watch.then_some(watch_timeout);
            scenario::run_random(&ctx, &args, watch, io).await?
        }
        Some(Command::Drill(args)) => drill::run(&ctx, args, io).await?,
    };
    Ok(Exit::from_success(ok))
}
