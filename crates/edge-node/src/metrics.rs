//! Our own metrics, `edge_*`: their names, help, labels and buckets live here and only here
//! (the other shapes' live in [`crate::shapes`], one module each).
//!
//! They are registered into the registry of the node's process ([`crate::app_metrics`]),
//! built at start-up and again when the process restarts after an OOM kill, and shared
//! read-only in between. Names are prefixed `edge_` and in base units; prometheus-client
//! appends `_total` and the unit suffix. The node's identity (`node`, `region`) comes from
//! Prometheus' target labels, never from the app.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use edge_sim::FaultKind;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::logging::LogDrops;
use crate::routes::ROUTES;
use crate::traces::Exporter;

/// The content type `/metrics` answers with (Prometheus v3 rejects a scrape without a valid
/// one): the workspace's one definition, in service-kit.
pub use service_kit::OPENMETRICS_CONTENT_TYPE;

/// Request latency buckets, in seconds: dense around the 0.1-1 s range where the
/// latency alerts and SLOs draw their lines, wide enough for x10 spikes and timeouts.
pub const LATENCY_BUCKETS: [f64; 15] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0];

/// The simulated node's memory: utilisation ratios are turned into bytes against it.
pub const SIMULATED_MEMORY_BYTES: u64 = edge_sim::host::MEMORY_BYTES;

/// Labels of a served request (RED metrics).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `products`, `orders`, `payments`, or `none` for unmatched paths.
    pub service: &'static str,
    /// The route template from `MatchedPath`, or `unmatched`.
    pub route: &'static str,
    /// The HTTP method, or `other` for anything unusual.
    pub method: &'static str,
    /// The HTTP status code.
    pub status: u16,
}

/// The exemplar attached to a latency observation: the request id, and the trace id
/// when the request's trace was sampled (so an exemplar link always opens a trace that
/// was exported). Both are also in the response headers and the access log line.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RequestExemplar {
    /// The request id (`x-request-id`).
    pub request_id: String,
    /// The trace id, 32 hex digits (`trace_id`, the label Grafana's exemplar link reads).
    pub trace_id: Option<String>,
}

impl EncodeLabelSet for RequestExemplar {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder,
    ) -> Result<(), std::fmt::Error> {
        // A label only when there is a trace: an empty `trace_id` would link to nothing.
        // At most 10 + 64 + 8 + 32 characters: within OpenMetrics' 128 for an exemplar.
        let mut labels = vec![("request_id", self.request_id.as_str())];
        if let Some(trace_id) = &self.trace_id {
            labels.push(("trace_id", trace_id.as_str()));
        }
        labels.encode(encoder)
    }
}

/// Labels of the fault metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FaultLabels {
    /// The failure mode.
    pub failure: &'static str,
}

/// The `upstream` label of orders' internal charge through payments.
pub const UPSTREAM_PAYMENTS: &str = "payments";
/// The `upstream` label of payments' calls to the remote payment gateway.
pub const UPSTREAM_GATEWAY: &str = "payment_gateway";
/// Server-error statuses whose request counters exist from the start, so the first error
/// after a quiet spell shows in `rate()` at once instead of one scrape late (the error
/// alerts and SLOs read these counters). Their latency histograms are not pre-created:
/// they would be 18 series each (20 histograms, 360 of a node's ~525 series) for a
/// latency no alert waits on, and they are what a 1000-node Prometheus could not carry.
/// An error's latency joins the quantiles from the second scrape that sees its status.
pub const PRECREATED_ERROR_STATUSES: [u16; 4] = [500, 502, 503, 504];

/// Labels of calls to a dependency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    /// `payments` (called by orders) or `payment_gateway` (called by payments).
    pub upstream: &'static str,
    /// `success` or `error`.
    pub outcome: &'static str,
}

type LatencyFamily = Family<RequestLabels, HistogramWithExemplars<RequestExemplar>>;
type GaugeF64 = Gauge<f64, AtomicU64>;

/// A counter whose value is read from elsewhere (the host, a clock) rather than counted
/// here: `set` takes the source's current total. It never goes down, even if two readers
/// race with values a moment apart. Clones share the value.
#[derive(Debug, Clone, Default)]
pub struct SampledCounter(Arc<AtomicU64>);

impl SampledCounter {
    /// Records the source's total now (ignored if negative or not finite).
    pub fn set(&self, total: f64) {
        if total.is_finite() && total >= 0.0 {
            // For non-negative floats the bit patterns order as the values do.
            self.0.fetch_max(total.to_bits(), Ordering::Relaxed);
        }
    }

    /// The value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

impl EncodeMetric for SampledCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// The `edge_*` metrics of one node's process.
#[derive(Debug)]
pub struct NodeMetrics {
    /// Served requests (RED: rate and errors).
    pub requests: Family<RequestLabels, Counter>,
    /// Served request latency (RED: duration), with the request and trace ids as exemplar.
    pub request_duration: LatencyFamily,
    /// Requests being served now (USE: saturation).
    pub in_flight: Gauge,
    /// How many requests may be in flight before the node sheds load with 503.
    pub concurrency_limit: Gauge,
    /// CPU utilisation, 0-1 (USE: utilisation).
    pub cpu: GaugeF64,
    /// Memory utilisation, 0-1.
    pub memory: GaugeF64,
    /// Memory in use.
    pub memory_used: Gauge,
    /// The node's memory size.
    pub memory_limit: Gauge,
    /// Unix time the node's process started.
    pub start_time: GaugeF64,
    /// Seconds since the node's process started.
    pub uptime: GaugeF64,
    /// Usage of the data filesystem, 0-1 (`disk_fill` fills it).
    pub disk_used: GaugeF64,
    /// 1 while a fault of the mode is active (every mode pre-created at 0).
    pub fault_active: Family<FaultLabels, Gauge>,
    /// Faults injected, by mode.
    pub fault_injections: Family<FaultLabels, Counter>,
    /// Calls to dependencies, by outcome.
    pub upstream_requests: Family<UpstreamLabels, Counter>,
    /// Orders held in the bounded in-memory store.
    pub orders_stored: Gauge,
    /// Requests and scrapes the network in front of the node held for a retransmission
    /// timeout (`flaky_network`): what a host's TCP timeout counter shows under packet
    /// loss. 0 on a healthy network, so one is evidence, whatever the scrape interval.
    pub network_timeouts: Counter,
}

/// What the info metric says about the node.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// Crate version.
    pub version: &'static str,
    /// The run seed (so a run can be replayed).
    pub seed: u64,
    /// Where the count of dropped log lines comes from.
    pub log_drops: LogDrops,
    /// The process's trace exporter, if traces are on (its drop counts).
    pub traces: Option<Arc<Exporter>>,
    /// The host kernel's count of OOM kills of this node's process
    /// (`edge_oom_kills_total`): one value for every registry the node's process has had,
    /// so a restart does not reset it.
    pub oom_kills: SampledCounter,
}

/// `edge_log_lines_dropped_total`: read from the log writer at each scrape, so it needs
/// no updating. The log writer is the process's, so every node of a fleet reports the
/// same count (aggregate with `max`, not `sum`).
#[derive(Debug)]
struct DroppedLogLines(LogDrops);

impl EncodeMetric for DroppedLogLines {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.0.dropped(), None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Labels of `edge_trace_spans_dropped_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SpanDropLabels {
    /// `queue_full` (the exporter fell behind) or `export_failed` (the collector refused
    /// or did not answer).
    reason: &'static str,
}

/// `edge_trace_spans_dropped_total`: read from the process's trace exporter at each
/// scrape (every node of a fleet reports the same count: aggregate with `max`). Both
/// reasons exist from the start, at 0 while traces are off.
#[derive(Debug)]
struct DroppedSpans(Option<Arc<Exporter>>);

impl EncodeMetric for DroppedSpans {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (queue_full, export_failed) = self.0.as_ref().map_or((0, 0), |e| {
            let d = e.drops();
            (d.queue_full.load(Ordering::Relaxed), d.export_failed.load(Ordering::Relaxed))
        });
        for (reason, count) in [("queue_full", queue_full), ("export_failed", export_failed)] {
            let labels = SpanDropLabels { reason };
            encoder.encode_family(&labels)?.encode_counter::<NoLabelSet, _, u64>(&count, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

fn new_latency_histogram() -> HistogramWithExemplars<RequestExemplar> {
    HistogramWithExemplars::new(LATENCY_BUCKETS.into_iter())
}

impl NodeMetrics {
    /// Builds every metric and registers it in `registry`.
    pub fn new(info: &BuildInfo, registry: &mut Registry) -> Self {
        let m = Self {
            requests: Family::default(),
            request_duration: Family::new_with_constructor(new_latency_histogram),
            in_flight: Gauge::default(),
            concurrency_limit: Gauge::default(),
            cpu: GaugeF64::default(),
            memory: GaugeF64::default(),
            memory_used: Gauge::default(),
            memory_limit: Gauge::default(),
            start_time: GaugeF64::default(),
            uptime: GaugeF64::default(),
            disk_used: GaugeF64::default(),
            fault_active: Family::default(),
            fault_injections: Family::default(),
            upstream_requests: Family::default(),
            orders_stored: Gauge::default(),
            network_timeouts: Counter::default(),
        };
        let ratio = || Unit::Other("ratio".to_owned());
        let r = registry;
        r.register("edge_http_requests", "HTTP requests served by the shop API", m.requests.clone());
        r.register_with_unit(
            "edge_http_request_duration",
            "Time to serve a shop API request",
            Unit::Seconds,
            m.request_duration.clone(),
        );
        r.register("edge_http_requests_in_flight", "Shop API requests being served now", m.in_flight.clone());
        r.register(
            "edge_http_concurrency_limit",
            "Requests that may be in flight before the node answers 503",
            m.concurrency_limit.clone(),
        );
        r.register_with_unit(
            "edge_cpu_utilization",
            "CPU utilisation of the node (0-1)",
            ratio(),
            m.cpu.clone(),
        );
        r.register_with_unit(
            "edge_memory_utilization",
            "Memory utilisation of the node (0-1)",
            ratio(),
            m.memory.clone(),
        );
        r.register_with_unit("edge_memory_used", "Memory in use", Unit::Bytes, m.memory_used.clone());
        r.register_with_unit("edge_memory_limit", "Memory of the node", Unit::Bytes, m.memory_limit.clone());
        r.register_with_unit(
            "edge_start_time",
            "Unix time the node's process started",
            Unit::Seconds,
            m.start_time.clone(),
        );
        r.register_with_unit(
            "edge_uptime",
            "Time since the node's process started",
            Unit::Seconds,
            m.uptime.clone(),
        );
        r.register_with_unit(
            "edge_disk_used",
            "Usage of the node's data filesystem (0-1)",
            ratio(),
            m.disk_used.clone(),
        );
        r.register(
            "edge_oom_kills",
            "Times the host's OOM killer ended the node's process (read from the host: a restart does not reset it)",
            info.oom_kills.clone(),
        );
        r.register(
            "edge_fault_active",
            "1 while an injected fault of this mode is active",
            m.fault_active.clone(),
        );
        r.register("edge_fault_injections", "Faults injected", m.fault_injections.clone());
        r.register("edge_upstream_requests", "Calls to dependencies", m.upstream_requests.clone());
        r.register("edge_orders_stored", "Orders in the bounded in-memory store", m.orders_stored.clone());
        r.register(
            "edge_network_retransmit_timeouts",
            "Requests and scrapes held 1-3 s by a retransmission timeout in the network in front of the node",
            m.network_timeouts.clone(),
        );
        r.register(
            "edge_log_lines_dropped",
            "Log lines dropped because stdout did not keep up (per process: every node of a fleet reports the same count)",
            DroppedLogLines(info.log_drops.clone()),
        );
        r.register(
            "edge_trace_spans_dropped",
            "Finished spans not exported, by reason (per process: every node of a fleet reports the same count)",
            DroppedSpans(info.traces.clone()),
        );
        r.register(
            "edge_build",
            "Version and run seed of the node",
            // No region (or node): those are Prometheus target labels, and an app label of
            // the same name would collide with them (Prometheus renames it `exported_region`).
            Info::new(vec![
                ("version".to_owned(), info.version.to_owned()),
                ("seed".to_owned(), info.seed.to_string()),
            ]),
        );
        // Pre-create every mode so "no fault" is an honest 0, not a missing series.
        for &kind in FaultKind::ALL {
            m.fault_active.get_or_create(&fault_labels(kind)).set(0);
            let _ = m.fault_injections.get_or_create(&fault_labels(kind));
        }
        for upstream in [UPSTREAM_PAYMENTS, UPSTREAM_GATEWAY] {
            for outcome in ["success", "error"] {
                let _ = m.upstream_requests.get_or_create(&UpstreamLabels { upstream, outcome });
            }
        }
        // Each shop route's error counters (see [`PRECREATED_ERROR_STATUSES`]).
        for r in &ROUTES {
            for status in PRECREATED_ERROR_STATUSES {
                let labels =
                    RequestLabels { service: r.service.as_str(), route: r.path, method: r.method, status };
                let _ = m.requests.get_or_create(&labels);
            }
        }
        m.memory_limit.set(i64::try_from(SIMULATED_MEMORY_BYTES).unwrap_or(i64::MAX));
        m
    }

    /// The request counter and latency histogram of a label set (created on first use), to
    /// record into without looking them up again.
    pub fn series(&self, labels: &RequestLabels) -> (Counter, HistogramWithExemplars<RequestExemplar>) {
        (self.requests.get_or_create(labels).clone(), self.request_duration.get_or_create(labels).clone())
    }

    /// Records one call to a dependency.
    pub fn observe_upstream(&self, upstream: &'static str, ok: bool) {
        let outcome = if ok { "success" } else { "error" };
        self.upstream_requests.get_or_create(&UpstreamLabels { upstream, outcome }).inc();
    }
}

/// The labels of a mode's fault metrics.
pub fn fault_labels(kind: FaultKind) -> FaultLabels {
    FaultLabels { failure: kind.as_str() }
}
