//! The client_golang shape: the HTTP metrics promhttp's instrumentation middleware records,
//! and three families of client_golang's default process collector.
//!
//! Sources (checked 2026-12):
//! - promhttp (`prometheus/promhttp/instrument_server.go`): `InstrumentHandlerCounter` and
//!   `InstrumentHandlerDuration` fill the `code` and `method` labels; `sanitizeCode` writes
//!   the numeric status (`"200"`), `sanitizeMethod` the lower-case method (`"get"`) and
//!   `"unknown"` for one it does not know. The `handler` label is the one every application
//!   curries in itself: here the route template. Names, help texts and label order follow
//!   the common instrumented-server pattern (`http_requests_total`, "Tracks the number of
//!   HTTP requests."; `http_request_duration_seconds`, "Tracks the latencies for HTTP
//!   requests."; labels `code`, `handler`, `method`), with client_golang's `DefBuckets`.
//! - client_golang's process collector: `process_start_time_seconds`,
//!   `process_resident_memory_bytes`, `process_cpu_seconds_total` with its help texts (the
//!   real node_exporter's own `/metrics` shows them). They are what "did it restart?" rules
//!   read (`changes(process_start_time_seconds[..])`, `resets(..)`).
//!
//! Help texts are written without their final period: prometheus-client appends one.
//!
//! A counter of each route's server errors exists from the start, as `edge_*`'s does (see
//! `metrics::PRECREATED_ERROR_STATUSES`), so a user's error-ratio rule sees the first 5xx at
//! once; latency histograms are created on first use, as promhttp does.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::metrics::{RequestLabels, SampledCounter};

/// client_golang's `prometheus.DefBuckets`.
pub const DEF_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// promhttp's labels of one request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PromLabels {
    /// The numeric status code.
    pub code: u16,
    /// The route template (`unmatched` for paths no route matched).
    pub handler: &'static str,
    /// The lower-case method, or `unknown`.
    pub method: &'static str,
}

impl PromLabels {
    /// promhttp's labels of a request the RED middleware measured.
    pub fn of(request: &RequestLabels) -> Self {
        Self { code: request.status, handler: request.route, method: sanitize_method(request.method) }
    }
}

/// promhttp's `sanitizeMethod` over the RED middleware's method labels.
fn sanitize_method(method: &str) -> &'static str {
    match method {
        "GET" => "get",
        "PUT" => "put",
        "HEAD" => "head",
        "POST" => "post",
        "DELETE" => "delete",
        "CONNECT" => "connect",
        "OPTIONS" => "options",
        "TRACE" => "trace",
        "PATCH" => "patch",
        _ => "unknown",
    }
}

fn new_histogram() -> Histogram {
    Histogram::new(DEF_BUCKETS)
}

/// The HTTP families in one registry.
#[derive(Debug)]
pub struct PromHttp {
    requests: Family<PromLabels, Counter>,
    duration: Family<PromLabels, Histogram, fn() -> Histogram>,
}

impl PromHttp {
    /// Registers both families.
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::<PromLabels, Counter>::default();
        let duration = Family::new_with_constructor(new_histogram as fn() -> Histogram);
        registry.register("http_requests", "Tracks the number of HTTP requests", requests.clone());
        registry.register_with_unit(
            "http_request_duration",
            "Tracks the latencies for HTTP requests",
            Unit::Seconds,
            duration.clone(),
        );
        Self { requests, duration }
    }

    /// The counter and histogram of a request's label set (created on first use).
    pub fn series(&self, request: &RequestLabels) -> (Counter, Histogram) {
        let labels = PromLabels::of(request);
        (self.requests.get_or_create(&labels).clone(), self.duration.get_or_create(&labels).clone())
    }

    /// Creates a request's counter at 0 (no histogram).
    pub fn precreate(&self, request: &RequestLabels) {
        let _ = self.requests.get_or_create(&PromLabels::of(request));
    }
}

/// Three families of client_golang's process collector, for the node's (simulated) process.
#[derive(Debug)]
pub struct ProcessMetrics {
    resident_memory: Gauge,
    cpu: SampledCounter,
}

impl ProcessMetrics {
    /// Registers the families; `start_unix` is when this process started.
    pub fn register(registry: &mut Registry, start_unix: f64) -> Self {
        let start = Gauge::<f64, AtomicU64>::default();
        start.set(start_unix);
        let m = Self { resident_memory: Gauge::default(), cpu: SampledCounter::default() };
        registry.register_with_unit(
            "process_cpu",
            "Total user and system CPU time spent in seconds",
            Unit::Seconds,
            m.cpu.clone(),
        );
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory size in bytes",
            Unit::Bytes,
            m.resident_memory.clone(),
        );
        registry.register_with_unit(
            "process_start_time",
            "Start time of the process since unix epoch in seconds",
            Unit::Seconds,
            start,
        );
        m
    }

    /// Sets what the host says of the process now: its memory and the CPU time it used.
    pub fn set(&self, resident_bytes: u64, cpu_seconds: f64) {
        self.resident_memory.set(i64::try_from(resident_bytes).unwrap_or(i64::MAX));
        self.cpu.set(cpu_seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_sanitized_as_promhttp_does() {
        let labels =
            |method| PromLabels::of(&RequestLabels { service: "none", route: "r", method, status: 503 });
        assert_eq!(labels("GET"), PromLabels { code: 503, handler: "r", method: "get" });
        assert_eq!(labels("PATCH").method, "patch");
        assert_eq!(labels("other").method, "unknown");
    }
}
