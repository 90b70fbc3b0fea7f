//! What every subcommand shares, resolved from the global flags and the environment before
//! anything is sent: the node client, where Prometheus, Alertmanager and the alert sink are,
//! and how to learn the running fleet. A leaf of `cmd`: the subcommands and `cmd` itself
//! import it; it imports none of them.

use std::io::Write;
use std::time::Duration;

use stack_client::NodeClient;

use crate::cli::Cli;
use crate::exit::{CommandError, Outcome, Refusal};
use crate::fleet::{self, Fleet};
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
    pub fn new(cli: &Cli) -> Result<Self, CommandError> {
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
            NodeClient::new(targets, Duration::from_secs_f64(g.timeout)).map_err(CommandError::Client)?;
        Ok(Context { client, listed, prometheus, alertmanager, json: g.json })
    }

    /// The running fleet (see `fleet::discover`); not learning it is a refusal (nothing is
    /// sent to a fleet no one can name).
    pub async fn fleet(&self) -> Result<Fleet, Refusal> {
        fleet::discover(&self.client, self.listed.clone(), &self.prometheus).await.map_err(Refusal)
    }

    /// The nodes a `--node`/`--region` pair selects; `all` and a region mean the running
    /// fleet, learned only then. An empty selection is a refusal.
    pub async fn select(&self, node: Option<&NodeSpec>, region: Option<&str>) -> Result<Vec<u32>, Refusal> {
        fleet::select(node, region, || fleet::discover(&self.client, self.listed.clone(), &self.prometheus))
            .await
            .map_err(Refusal)
    }

    /// Watches the expectations on `rx` for up to `timeout_s` each and prints the report;
    /// `Done` if every expected alert fired and resolved.
    pub async fn watch(
        &self,
        timeout_s: f64,
        rx: tokio::sync::mpsc::UnboundedReceiver<watch::Expectation>,
        out: &mut impl Write,
        err: &mut impl Write,
    ) -> Outcome {
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
            Ok(report) => Outcome::every(watch::report(&report, self.json, out)),
            Err(e) => {
                let _ = writeln!(err, "error: cannot watch alerts: {e}");
                Outcome::Incomplete
            }
        }
    }
}

/// The alert sink: `given` (`--sink`), else `INJECT_SINK`, else Compose's `ALERT_SINK_PORT`
/// on 127.0.0.1, else 9095.
pub fn sink_url(given: Option<String>) -> Result<String, Refusal> {
    match given.or_else(|| std::env::var("INJECT_SINK").ok()).filter(|url| !url.is_empty()) {
        Some(url) => Ok(url.trim_end_matches('/').to_owned()),
        None => Ok(compose_service_url("ALERT_SINK_PORT", std::env::var("ALERT_SINK_PORT").ok(), 9095)?),
    }
}
