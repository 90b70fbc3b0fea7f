//! The command line of the `edge-node` binary: its flags, their `EDGE_*` environment
//! variables, and the checks on their values.
//!
//! Every numeric value, from a flag or from the environment (clap runs both through the
//! same parser), is checked here: NaN, infinities, and values out of range are refused
//! with one line naming the flag and the valid range, before anything starts. Nothing
//! downstream has to guess what a `--timeout NaN` means.

use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{DEFAULT_RPS, MAX_RPS, MIN_RPS};
use crate::logging::DEFAULT_LOG_BUFFER_LINES;
use crate::server::{DRAIN_PERIOD, GRACE_PERIOD};
use crate::shapes::MetricShapes;

/// The default port of a single node (the container port).
pub const SINGLE_NODE_PORT: u16 = 8080;
/// The most nodes one process runs (one source: `edge_sim::fleet`).
pub const MAX_NODES: u32 = edge_sim::fleet::MAX_SIZE;
/// Bounds of `healthcheck --timeout`, seconds: below 0.1 s a healthy but busy node
/// fails; a container health check that waits over a minute is no check at all.
pub const HEALTHCHECK_TIMEOUT: (f64, f64) = (0.1, 60.0);
/// Bounds of `--drain-secs`: 0 turns the drain off; a minute covers any load balancer's
/// readiness probe period.
pub const DRAIN_SECS: (f64, f64) = (0.0, 60.0);
/// Bounds of `--grace-secs`: it must leave time to finish a request, and ten minutes is
/// longer than any orchestrator waits before it kills.
pub const GRACE_SECS: (f64, f64) = (0.1, 600.0);
/// Bounds of `--log-buffer-lines`: at least one line; a million lines of about 300 bytes
/// is already 300 MB, far beyond "a node is a few MB".
pub const LOG_BUFFER_LINES: (u64, u64) = (1, 1_000_000);

/// A simulated edge node: shop API, RED metrics, failure injection.
///
/// Without --nodes, runs one node (node 1 on port 8080 unless told otherwise; in a
/// container, set the EDGE_* variables). With --nodes N, runs a fleet of N independent
/// nodes in this process on ports base-port+1 ..= base-port+N.
#[derive(Debug, Parser)]
#[command(name = "edge-node", version, about, long_about)]
pub struct Cli {
    /// A subcommand instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Run a fleet of this many nodes (ids 1..=N) instead of one.
    #[arg(long, env = "EDGE_NODES", value_parser = whole::<u32>(1, MAX_NODES),
          allow_negative_numbers = true, conflicts_with_all = ["node_id", "port", "region"])]
    pub nodes: Option<u32>,

    /// Fleet mode: node N listens on base-port + N.
    #[arg(long, env = "EDGE_BASE_PORT", default_value_t = 8000, value_parser = whole::<u16>(0, u16::MAX),
          allow_negative_numbers = true)]
    pub base_port: u16,

    /// Single-node mode: this node's number (the `node` label Prometheus gives it).
    #[arg(long, env = "EDGE_NODE_ID", value_parser = whole::<u32>(1, u32::MAX), allow_negative_numbers = true)]
    pub node_id: Option<u32>,

    /// Single-node mode: the port to listen on (0: any free port).
    #[arg(long, env = "EDGE_PORT", value_parser = whole::<u16>(0, u16::MAX), allow_negative_numbers = true)]
    pub port: Option<u16>,

    /// Single-node mode: the region (default: by node id, eu-west for 1-4, us-east for
    /// 5-8, ap-south for 9-12, repeating).
    #[arg(long, env = "EDGE_REGION")]
    pub region: Option<String>,

    /// The address to bind; use 0.0.0.0 only inside a container.
    #[arg(long, env = "EDGE_BIND", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,

    /// Built-in traffic per node, requests per second (0 turns it off).
    #[arg(long, env = "EDGE_RPS", default_value_t = DEFAULT_RPS, value_parser = parse_rps,
          allow_negative_numbers = true)]
    pub rps: f64,

    /// Metric shapes each node serves besides its own edge_* metrics (always on): a comma
    /// list of node_exporter (the host under the node in node_exporter 1.11's names, on
    /// GET /host/metrics, to scrape as its own job), otel (OpenTelemetry's
    /// http_server_request_duration_seconds and target_info on /metrics) and promhttp
    /// (client_golang's http_requests_total, http_request_duration_seconds and process_* on
    /// /metrics), or none. Each costs series and scrape time: see docs/BENCHMARKS.md.
    #[arg(long, env = "EDGE_METRIC_SHAPES", default_value_t = MetricShapes::ALL,
          value_parser = parse_shapes)]
    pub metric_shapes: MetricShapes,

    /// Run seed, for a reproducible run (default: random, and logged).
    #[arg(long, env = "EDGE_SEED", value_parser = whole::<u64>(0, u64::MAX), allow_negative_numbers = true)]
    pub seed: Option<u64>,

    /// Log format: one JSON object per line (for Loki), or text for people.
    #[arg(long, env = "EDGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    /// Log lines held for stdout while it is slow; beyond this, lines are dropped and
    /// counted in edge_log_lines_dropped_total instead of stalling the node.
    #[arg(long, env = "EDGE_LOG_BUFFER_LINES", default_value_t = DEFAULT_LOG_BUFFER_LINES as u64,
          value_parser = whole::<u64>(LOG_BUFFER_LINES.0, LOG_BUFFER_LINES.1), allow_negative_numbers = true)]
    pub log_buffer_lines: u64,

    /// On shutdown, seconds /readyz answers 503 while the node still serves, so load
    /// balancers and probes see it before the listener closes (0: no drain).
    #[arg(long, env = "EDGE_DRAIN_SECS", default_value_t = DRAIN_PERIOD.as_secs_f64(),
          value_parser = seconds(DRAIN_SECS.0, DRAIN_SECS.1), allow_negative_numbers = true)]
    pub drain_secs: f64,

    /// On shutdown, after the drain, the longest wait for requests in flight; past it
    /// the process exits with status 1.
    #[arg(long, env = "EDGE_GRACE_SECS", default_value_t = GRACE_PERIOD.as_secs_f64(),
          value_parser = seconds(GRACE_SECS.0, GRACE_SECS.1), allow_negative_numbers = true)]
    pub grace_secs: f64,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a local node's /healthz and exit 0 (healthy) or 1 (for container health checks).
    Healthcheck {
        /// The node's port.
        #[arg(long, env = "EDGE_PORT", default_value_t = SINGLE_NODE_PORT,
              value_parser = whole::<u16>(1, u16::MAX), allow_negative_numbers = true)]
        port: u16,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 2.0, value_parser = seconds(HEALTHCHECK_TIMEOUT.0, HEALTHCHECK_TIMEOUT.1),
              allow_negative_numbers = true)]
        timeout: f64,
    },
    /// Print the failure catalog: each mode, the alert that must catch it, whether it can
    /// aim at one service, and its intensity range (JSON with --json, for tools).
    Catalog {
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print Prometheus file_sd targets for a fleet (node and region labels included).
    Targets {
        /// How many nodes.
        #[arg(long, default_value_t = edge_sim::fleet::DEFAULT_SIZE, value_parser = whole::<u32>(1, MAX_NODES),
              allow_negative_numbers = true)]
        nodes: u32,
        /// Address of node {id}; `{port}` is base-port + id.
        #[arg(long, default_value = "127.0.0.1:{port}")]
        address: String,
        /// See `{port}`.
        #[arg(long, default_value_t = 8000, value_parser = whole::<u16>(0, u16::MAX), allow_negative_numbers = true)]
        base_port: u16,
    },
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One flat JSON object per line.
    Json,
    /// Compact text for people.
    Text,
}

impl Cli {
    /// `--drain-secs` as a duration (already checked finite and in range).
    pub fn drain(&self) -> Duration {
        Duration::from_secs_f64(self.drain_secs)
    }

    /// `--grace-secs` as a duration (already checked finite and in range).
    pub fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.grace_secs)
    }
}

/// `--rps`: 0, or a rate the generator can keep (see [`MIN_RPS`] and [`MAX_RPS`]).
fn parse_rps(s: &str) -> Result<f64, String> {
    let out_of_range = || format!("must be 0 (no traffic) or a number between {MIN_RPS} and {MAX_RPS}");
    let rps: f64 = s.trim().parse().map_err(|_| out_of_range())?;
    if rps == 0.0 || (MIN_RPS..=MAX_RPS).contains(&rps) { Ok(rps.abs()) } else { Err(out_of_range()) }
}

/// `--metric-shapes`: see [`MetricShapes`]'s `FromStr`.
fn parse_shapes(s: &str) -> Result<MetricShapes, String> {
    s.parse()
}

/// A parser for a number of seconds between `min` and `max` (finite, so never NaN).
fn seconds(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |s| {
        let out_of_range = || format!("must be a number of seconds between {min} and {max}");
        let secs: f64 = s.trim().parse().map_err(|_| out_of_range())?;
        // `contains` is false for NaN, and the bounds are finite.
        if (min..=max).contains(&secs) { Ok(secs.abs()) } else { Err(out_of_range()) }
    }
}

/// A parser for a whole number between `min` and `max`.
fn whole<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
{
    move |s| {
        let out_of_range = || format!("must be a whole number between {min} and {max}");
        let n: T = s.trim().parse().map_err(|_| out_of_range())?;
        if min <= n && n <= max { Ok(n) } else { Err(out_of_range()) }
    }
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
        assert_eq!(one.metric_shapes, MetricShapes::ALL, "every shape by default");
        let some = Cli::try_parse_from(["edge-node", "--metric-shapes", "otel,promhttp"]).expect("shapes");
        assert_eq!(some.metric_shapes, MetricShapes { node_exporter: false, ..MetricShapes::ALL });
        let none = Cli::try_parse_from(["edge-node", "--metric-shapes", "none"]).expect("none");
        assert_eq!(none.metric_shapes, MetricShapes::NONE);
        assert!(matches!(
            Cli::try_parse_from(["edge-node", "healthcheck", "--port", "8003"]).expect("hc").command,
            Some(Command::Healthcheck { port: 8003, .. })
        ));
    }

    #[test]
    fn bad_numbers_get_one_line_naming_the_flag_and_the_range() {
        for (args, needle) in [
            (
                &["healthcheck", "--timeout", "NaN"][..],
                "'--timeout <TIMEOUT>': must be a number of seconds between 0.1 and 60",
            ),
            (&["--rps", "1e-30"], "'--rps <RPS>': must be 0 (no traffic) or a number between 0.01 and 10000"),
            (&["--rps", "inf"], "'--rps <RPS>'"),
            (
                &["--drain-secs", "-1"],
                "'--drain-secs <DRAIN_SECS>': must be a number of seconds between 0 and 60",
            ),
            (&["--grace-secs", "1e400"], "between 0.1 and 600"),
            (&["--port", "70000"], "'--port <PORT>': must be a whole number between 0 and 65535"),
            (&["--seed", "-1"], "'--seed <SEED>': must be a whole number between 0 and 18446744073709551615"),
            (&["--log-buffer-lines", "0"], "between 1 and 1000000"),
            (
                &["--metric-shapes", "blackbox"],
                "'--metric-shapes <METRIC_SHAPES>': unknown shape `blackbox`; must be `none` or a comma list of \
                 node_exporter, otel, promhttp",
            ),
        ] {
            let argv = std::iter::once("edge-node").chain(args.iter().copied());
            let err = Cli::try_parse_from(argv).expect_err("refused");
            let first = err.to_string().lines().next().unwrap_or_default().to_owned();
            assert!(first.contains(needle), "{args:?}: {first}");
        }
    }
}
