//! `edge-node`: run one simulated edge node, or a fleet of them in one process.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use clap::error::ErrorKind;
use edge_node::cli::{Cli, Command, LogFormat, SINGLE_NODE_PORT};
use edge_node::config::default_region;
use edge_node::logging::{self, LogDrops};
use edge_node::{NodeConfig, NodeState, ShutdownTimes};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// mimalloc instead of glibc's allocator: a fleet allocates and frees a few small buffers
/// per request on two threads, and glibc malloc took a third of the process's CPU there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    if let Some(Command::Catalog { json }) = &cli.command {
        print!("{}", edge_node::catalog::render(*json));
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Targets { nodes, address, base_port }) = &cli.command {
        print!("{}", edge_node::targets::file_sd(*nodes, address, *base_port));
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Healthcheck { port, timeout }) = cli.command {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        // `timeout` was checked finite and in range by the parser.
        return match edge_node::ops::healthcheck(addr, Duration::from_secs_f64(timeout)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("edge-node healthcheck: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // Before anything opens a file: raise the open-file limit, or say what to do.
    if let Err(e) = edge_node::limits::raise_for(cli.nodes.unwrap_or(1)) {
        eprintln!("edge-node: {e}");
        return ExitCode::FAILURE;
    }
    let log =
        logging::non_blocking(std::io::stdout(), usize::try_from(cli.log_buffer_lines).unwrap_or(usize::MAX));
    let installed = match cli.log_format {
        LogFormat::Json => tracing::subscriber::set_global_default(logging::json_subscriber(
            log.writer,
            logging::env_filter(),
        )),
        LogFormat::Text => tracing::subscriber::set_global_default(logging::text_subscriber(
            log.writer,
            logging::env_filter(),
        )),
    };
    if let Err(e) = installed {
        eprintln!("edge-node: logging not initialised: {e}");
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
        .and_then(|rt| rt.block_on(serve(cli, log.drops)));
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "edge-node stopped");
            eprintln!("edge-node: {e:#}");
            ExitCode::FAILURE
        }
    };
    logging::flush(log.guard, logging::FLUSH_TIMEOUT);
    code
}

/// Prints a command-line error: a bad value as the one line naming the flag and the
/// valid range, anything else as clap renders it.
fn usage_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let rendered = e.to_string();
            eprintln!("{}", rendered.lines().next().unwrap_or("error: invalid value"));
        }
        _ => {
            let _ = e.print();
        }
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

async fn serve(cli: Cli, log_drops: LogDrops) -> anyhow::Result<()> {
    let seed = cli.seed.unwrap_or_else(rand::random);
    let node = |id| NodeConfig {
        rps: cli.rps,
        log_drops: log_drops.clone(),
        shapes: cli.metric_shapes,
        ..NodeConfig::new(id, seed)
    };
    let configs: Vec<(NodeConfig, u16)> = match cli.nodes {
        Some(n) => (1..=n)
            .map(|id| {
                let port = u16::try_from(u32::from(cli.base_port) + id).with_context(|| {
                    format!("node {id} would need port {} (over 65535)", u32::from(cli.base_port) + id)
                })?;
                Ok((node(id), port))
            })
            .collect::<anyhow::Result<_>>()?,
        None => {
            let id = cli.node_id.unwrap_or(1);
            let region = cli.region.clone().unwrap_or_else(|| default_region(id).to_owned());
            vec![(NodeConfig { region, ..node(id) }, cli.port.unwrap_or(SINGLE_NODE_PORT))]
        }
    };

    // Traces: on only when an OTLP endpoint is set (the standard variables).
    let exporter = match edge_node::traces::ExportSettings::from_env() {
        None => None,
        Some(settings) => {
            let ids: Vec<(u32, String)> =
                configs.iter().map(|(c, _)| (c.node_id, c.region.clone())).collect();
            Some(edge_node::traces::Exporter::start(&settings, &ids).context("starting trace export")?)
        }
    };
    let mut nodes = Vec::with_capacity(configs.len());
    for (config, port) in configs {
        let addr = SocketAddr::new(cli.bind, port);
        let listener = TcpListener::bind(addr).await.with_context(|| {
            format!("node {}: cannot listen on {addr} (is another fleet running?)", config.node_id)
        })?;
        let tracer = exporter.as_ref().map(|e| e.tracer(config.node_id));
        nodes.push((listener, NodeState::with_tracer(config, tracer)));
    }
    let first = nodes.first().map(|(l, _)| l.local_addr()).transpose()?;
    tracing::info!(
        event = "fleet_started",
        nodes = nodes.len(),
        seed,
        rps = cli.rps,
        metric_shapes = %cli.metric_shapes,
        traces = exporter.is_some(),
        first = first.map(|a| a.to_string()),
        "edge-node serving; replay this run with --seed {seed}"
    );

    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    let times = ShutdownTimes { drain: cli.drain(), grace: cli.grace() };
    let served = edge_node::run_with(nodes, shutdown, times).await;
    if let Some(exporter) = &exporter {
        // The last requests' spans, without letting a dead collector hold the exit.
        tokio::task::block_in_place(|| exporter.shutdown(logging::FLUSH_TIMEOUT));
    }
    served?;
    tracing::info!(event = "stopped", "edge-node stopped cleanly");
    Ok(())
}

/// Cancels `shutdown` on ctrl-c or SIGTERM.
async fn wait_for_signal(shutdown: CancellationToken) {
    service_kit::shutdown::signal().await;
    shutdown.cancel();
}
