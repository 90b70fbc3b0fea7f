//! `alert-sink`: receive Alertmanager webhooks on 127.0.0.1:9095 (by default).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use alert_sink::{Links, SinkState};
use anyhow::Context;
use clap::Parser;
use service_kit::{logging, shutdown};
use tokio::net::TcpListener;

/// A webhook receiver for Alertmanager that logs, counts and shows every notification.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Port to listen on.
    #[arg(long, env = "ALERT_SINK_PORT", default_value_t = 9095)]
    port: u16,
    /// Address to bind; 0.0.0.0 only inside a container.
    #[arg(long, env = "ALERT_SINK_BIND", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Notifications kept in memory.
    #[arg(long, env = "ALERT_SINK_KEEP", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    keep: u64,
    /// Folder of the runbooks served at /runbooks/{alert}.
    #[arg(long, env = "ALERT_SINK_RUNBOOKS", default_value = "docs/runbooks")]
    runbooks: PathBuf,
    /// Grafana's URL as the browser sees it, for node dashboard links (http or https).
    #[arg(long, env = "ALERT_SINK_GRAFANA_URL", default_value = "http://localhost:3000")]
    grafana_url: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The same writer as the nodes': a stalled stdout drops lines instead of blocking.
    let log = logging::non_blocking(std::io::stdout(), logging::DEFAULT_LOG_BUFFER_LINES);
    if let Err(e) =
        tracing::subscriber::set_global_default(logging::json_subscriber(log.writer, logging::env_filter()))
    {
        eprintln!("alert-sink: logging not initialised: {e}");
    }
    let code = match serve(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "alert-sink stopped");
            eprintln!("alert-sink: {e:#}");
            ExitCode::FAILURE
        }
    };
    logging::flush(log.guard, logging::FLUSH_TIMEOUT);
    code
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let links = Links::new(&cli.grafana_url).context("--grafana-url")?;
    let keep = usize::try_from(cli.keep).context("--keep")?;
    let state = SinkState::new(keep, cli.runbooks, links);
    let addr = SocketAddr::new(cli.bind, cli.port);
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, "alert-sink listening");
    alert_sink::run(listener, state, shutdown::signal()).await.context("serving")?;
    tracing::info!(event = "stopped", "alert-sink stopped cleanly");
    Ok(())
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
    fn options_parse_and_bad_values_are_refused() {
        let cli = Cli::try_parse_from(["alert-sink", "--port", "0", "--keep", "5"]).expect("parses");
        assert_eq!((cli.port, cli.keep), (0, 5));
        assert!(Cli::try_parse_from(["alert-sink", "--keep", "0"]).is_err());
        assert!(Cli::try_parse_from(["alert-sink", "--bind", "nowhere"]).is_err());
    }
}
