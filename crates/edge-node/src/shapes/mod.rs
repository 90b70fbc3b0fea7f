//! The metric shapes production rules read, besides our own `edge_*` (which are always on):
//! each one a dialect of a real exporter or instrumentation library, fed from the same model
//! state and the same measured requests as `edge_*`, so a node tells one story in every shape.
//!
//! - [`node_exporter`]: the host under the node, as node_exporter 1.11's collectors name and
//!   type it, on its own path (`GET /host/metrics`) so Prometheus scrapes it as its own job.
//! - [`otel`]: `http_server_request_duration_seconds`, as an OpenTelemetry SDK's Prometheus
//!   exporter exposes the semantic conventions' `http.server.request.duration`.
//! - [`promhttp`]: `http_requests_total` and `http_request_duration_seconds` as client_golang's
//!   promhttp instrumentation names them, with the default process collector's families.
//!
//! "Every metric name in one module" becomes "one module per shape": each file holds its
//! shape's names, help texts, types, labels and buckets. Which shapes a node serves is one
//! flag, `--metric-shapes` (`EDGE_METRIC_SHAPES`), parsed here.

pub mod node_exporter;
pub mod otel;
pub mod promhttp;
pub mod text;

use std::fmt;
use std::str::FromStr;

/// The shapes a node can serve, in their flag spelling.
pub const SHAPE_NAMES: [&str; 3] = ["node_exporter", "otel", "promhttp"];

/// Which shapes a node serves besides `edge_*`. The default is all three: the cost of each
/// is measured in docs/BENCHMARKS.md, and the default may change once it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricShapes {
    /// `GET /host/metrics`: node_exporter's families (404 when off).
    pub node_exporter: bool,
    /// `http_server_request_duration_seconds` and `target_info` on `/metrics`.
    pub otel: bool,
    /// `http_requests_total`, `http_request_duration_seconds` and `process_*` on `/metrics`.
    pub promhttp: bool,
}

impl MetricShapes {
    /// Every shape.
    pub const ALL: Self = Self { node_exporter: true, otel: true, promhttp: true };
    /// `edge_*` only.
    pub const NONE: Self = Self { node_exporter: false, otel: false, promhttp: false };
}

impl Default for MetricShapes {
    fn default() -> Self {
        Self::ALL
    }
}

impl FromStr for MetricShapes {
    type Err = String;

    /// A comma list of shape names, or `none`; spaces around names are ignored, a name
    /// given twice is the same as once, and an empty list is refused (say `none`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = || format!("must be `none` or a comma list of {}", SHAPE_NAMES.join(", "));
        if s.trim() == "none" {
            return Ok(Self::NONE);
        }
        let mut shapes = Self::NONE;
        for name in s.split(',').map(str::trim) {
            match name {
                "node_exporter" => shapes.node_exporter = true,
                "otel" => shapes.otel = true,
                "promhttp" => shapes.promhttp = true,
                "" => return Err(format!("empty shape name; {}", valid())),
                other => return Err(format!("unknown shape `{other}`; {}", valid())),
            }
        }
        Ok(shapes)
    }
}

impl fmt::Display for MetricShapes {
    /// The flag's spelling, so a value prints as it parses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = [self.node_exporter, self.otel, self.promhttp];
        let names: Vec<&str> = SHAPE_NAMES.iter().zip(on).filter(|(_, on)| *on).map(|(n, _)| *n).collect();
        if names.is_empty() { f.write_str("none") } else { f.write_str(&names.join(",")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_lists_parse_print_back_and_refuse_unknown_names() {
        assert_eq!("node_exporter,otel,promhttp".parse(), Ok(MetricShapes::ALL));
        assert_eq!("none".parse(), Ok(MetricShapes::NONE));
        assert_eq!(
            " otel , otel".parse(),
            Ok(MetricShapes { otel: true, ..MetricShapes::NONE }),
            "spaces and repeats are fine"
        );
        for shapes in
            [MetricShapes::ALL, MetricShapes::NONE, MetricShapes { promhttp: true, ..MetricShapes::NONE }]
        {
            assert_eq!(shapes.to_string().parse(), Ok(shapes), "{shapes}");
        }
        assert_eq!(MetricShapes::default(), MetricShapes::ALL);
        for bad in ["", "otel,", "blackbox", "none,otel", "OTEL"] {
            assert!(bad.parse::<MetricShapes>().is_err(), "{bad:?} accepted");
        }
    }
}
