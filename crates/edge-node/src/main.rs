//! `edge-node`: run one simulated edge node, or a fleet of them in one process.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use edge_node::config::{DEFAULT_RPS, default_region};
use edge_node::{NodeConfig, NodeState, logging};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A simulated edge node: shop API, RED metrics, failure injection.
///
/// Without --nodes, runs one node (node 1 on port 8080 unless told otherwise; in a
/// container, set the EDGE_* variables). With --nodes N, runs a fleet of N independent
/// nodes in this process on ports base-port+1 ..= base-port+N.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Run a fleet of this many nodes (ids 1..=N) instead of one.
    #[arg(long, env = "EDGE_NODES", value_parser = clap::value_parser!(u32).range(1..=1000),
          conflicts_with_all = ["node_id", "port", "region"])]
    nodes: Option<u32>,

    /// Fleet mode: node N listens on base-port + N.
    #[arg(long, env = "EDGE_BASE_PORT", default_value_t = 8000)]
    base_port: u16,

    /// Single-node mode: this node's number (the `node` label Prometheus gives it).
    #[arg(long, env = "EDGE_NODE_ID", value_parser = clap::value_parser!(u32).range(1..))]
    node_id: Option<u32>,

    /// Single-node mode: the port to listen on.
    #[arg(long, env = "EDGE_PORT")]
    port: Option<u16>,

    /// Single-node mode: the region (default: by node id, eu-west for 1-4, us-east for
    /// 5-8, ap-south for 9-12, repeating).
    #[arg(long, env = "EDGE_REGION")]
    region: Option<String>,

    /// The address to bind; use 0.0.0.0 only inside a container.
    #[arg(long, env = "EDGE_BIND", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,

    /// Built-in traffic per node, requests per second (0 turns it off).
    #[arg(long, env = "EDGE_RPS", default_value_t = DEFAULT_RPS, value_parser = parse_rps)]
    rps: f64,

    /// Run seed, for a reproducible run (default: random, and logged).
    #[arg(long, env = "EDGE_SEED")]
    seed: Option<u64>,

    /// Log format: one JSON object per line (for Loki), or text for people.
    #[arg(long, env = "EDGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a local node's /healthz and exit 0 (healthy) or 1 (for container health checks).
    Healthcheck {
        /// The node's port.
        #[arg(long, env = "EDGE_PORT", default_value_t = 8080)]
        port: u16,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 2.0)]
        timeout: f64,
    },
    /// Print Prometheus file_sd targets for a fleet (node and region labels included).
    Targets {
        /// How many nodes.
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=1000))]
        nodes: u32,
        /// Address of node {id}; `{port}` is base-port + id.
        #[arg(long, default_value = "127.0.0.1:{port}")]
        address: String,
        /// See `{port}`.
        #[arg(long, default_value_t = 8000)]
        base_port: u16,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

fn parse_rps(s: &str) -> Result<f64, String> {
    let rps: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if rps.is_finite() && (0.0..=10_000.0).contains(&rps) {
        Ok(rps)
    } else {
        Err(format!("must be between 0 and 10000, got {s}"))
    }
}

/// Default port of a single node (the container port).
const SINGLE_NODE_PORT: u16 = 8080;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Targets { nodes, address, base_port }) = &cli.command {
        print!("{}", edge_node::targets::file_sd(*nodes, address, *base_port));
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Healthcheck { port, timeout }) = cli.command {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        return match edge_node::ops::healthcheck(addr, Duration::from_secs_f64(timeout.clamp(0.1, 60.0))) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("edge-node healthcheck: {e}");
                ExitCode::FAILURE
            }
        };
    }
    init_logging(cli.log_format);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
        .and_then(|rt| rt.block_on(serve(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "edge-node stopped");
            eprintln!("edge-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let installed = match format {
        LogFormat::Json => tracing::subscriber::set_global_default(logging::json_subscriber(std::io::stdout)),
        LogFormat::Text => tracing::subscriber::set_global_default(logging::text_subscriber(std::io::stdout)),
    };
    if let Err(e) = installed {
        eprintln!("edge-node: logging not initialised: {e}");
    }
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let seed = cli.seed.unwrap_or_else(rand::random);
    let configs: Vec<(NodeConfig, u16)> = match cli.nodes {
        Some(n) => (1..=n)
            .map(|id| {
                let port = u16::try_from(u32::from(cli.base_port) + id).with_context(|| {
                    format!("node {id} would need port {} (over 65535)", u32::from(cli.base_port) + id)
                })?;
                Ok((NodeConfig { rps: cli.rps, ..NodeConfig::new(id, seed) }, port))
            })
            .collect::<anyhow::Result<_>>()?,
        None => {
            let id = cli.node_id.unwrap_or(1);
            let region = cli.region.clone().unwrap_or_else(|| default_region(id).to_owned());
            vec![(
                NodeConfig { rps: cli.rps, region, ..NodeConfig::new(id, seed) },
                cli.port.unwrap_or(SINGLE_NODE_PORT),
            )]
        }
    };

    let mut nodes = Vec::with_capacity(configs.len());
    for (config, port) in configs {
        let addr = SocketAddr::new(cli.bind, port);
        let listener = TcpListener::bind(addr).await.with_context(|| {
            format!("node {}: cannot listen on {addr} (is another fleet running?)", config.node_id)
        })?;
        nodes.push((listener, NodeState::new(config)));
    }
    let first = nodes.first().map(|(l, _)| l.local_addr()).transpose()?;
    tracing::info!(
        event = "fleet_started",
        nodes = nodes.len(),
        seed,
        rps = cli.rps,
        first = first.map(|a| a.to_string()),
        "edge-node serving; replay this run with --seed {seed}"
    );

    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    edge_node::run(nodes, shutdown).await.context("serving")?;
    tracing::info!(event = "stopped", "edge-node stopped cleanly");
    Ok(())
}

/// Cancels `shutdown` on ctrl-c or SIGTERM.
async fn wait_for_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!(event = "shutdown", "shutting down");
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fleet_and_single_node_options_parse_and_conflict() {
        let fleet =
            Cli::try_parse_from(["edge-node", "--nodes", "12", "--rps", "0", "--seed", "7"]).expect("fleet");
        assert_eq!((fleet.nodes, fleet.rps, fleet.seed), (Some(12), 0.0, Some(7)));
        assert!(Cli::try_parse_from(["edge-node", "--nodes", "3", "--port", "9000"]).is_err());
        assert!(Cli::try_parse_from(["edge-node", "--nodes", "0"]).is_err());
        assert!(Cli::try_parse_from(["edge-node", "--rps", "-1"]).is_err());
        assert!(Cli::try_parse_from(["edge-node", "--rps", "NaN"]).is_err());
        let one = Cli::try_parse_from(["edge-node", "--node-id", "3", "--port", "8080"]).expect("one");
        assert_eq!((one.node_id, one.port), (Some(3), Some(8080)));
        assert!(matches!(
            Cli::try_parse_from(["edge-node", "healthcheck", "--port", "8003"]).expect("hc").command,
            Some(Command::Healthcheck { port: 8003, .. })
        ));
    }
}
