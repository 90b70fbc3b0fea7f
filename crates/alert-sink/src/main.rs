//! `alert-sink`: receive Alertmanager webhooks on 127.0.0.1:9095 (by default).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

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
    #[arg(long, env = "ALERT_SINK_KEEP", default_value_t = 1000)]
    keep: usize,
    /// Folder of the runbooks served at /runbooks/{alert}.
    #[arg(long, env = "ALERT_SINK_RUNBOOKS", default_value = "docs/runbooks")]
    runbooks: PathBuf,
    /// Grafana's URL as the browser sees it, for node dashboard links.
    #[arg(long, env = "ALERT_SINK_GRAFANA_URL", default_value = "http://localhost:3000")]
    grafana_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .init();
    let state = alert_sink::SinkState::new(
        cli.keep,
        cli.runbooks,
        alert_sink::Links { grafana: cli.grafana_url.trim_end_matches('/').to_owned() },
    );
    let addr = SocketAddr::new(cli.bind, cli.port);
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, "alert-sink listening");
    axum::serve(listener, alert_sink::app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")
}

/// Resolves on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
