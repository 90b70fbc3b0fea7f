//! The metrics of the node's process: one registry with every app-level metric (`edge_*`
//! and the `otel` and `promhttp` shapes), built when the process starts and replaced by a
//! fresh one when it restarts after an OOM kill.
//!
//! # Restart
//!
//! A real process that restarts starts every counter and histogram from zero and reports a
//! new `process_start_time_seconds`; rules rely on that (`resets()`, `changes()`, `rate()`'s
//! reset handling). The node's state holds the current [`AppMetrics`] behind an `Arc`; when
//! the model's process has restarted (`Process::restarts` changed) the state builds a new
//! one and swaps it in. Each request takes the `Arc` when it arrives and records into it
//! when it ends, so a request in flight across the swap finishes into the old registry, as
//! a dead process's would, and never into the new one. What the host reports (the OOM kill
//! count, `edge_oom_kills_total`) is one shared value registered in every registry: it is
//! the kernel's count, not the process's, so it does not reset.
//!
//! # Hot path
//!
//! [`AppMetrics::observe_request`] records one request in every shape that is on. The
//! label sets of a request (edge's, otel's, promhttp's) are resolved once per distinct
//! request label set and kept as metric handles in a small map, so a request costs one
//! lookup and a few atomic updates however many shapes are on.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::metrics::{BuildInfo, NodeMetrics, PRECREATED_ERROR_STATUSES, RequestExemplar, RequestLabels};
use crate::routes::ROUTES;
use crate::shapes::MetricShapes;
use crate::shapes::otel::OtelHttp;
use crate::shapes::promhttp::{ProcessMetrics, PromHttp};

/// What every registry of a node is built from (kept to build the next one on a restart).
#[derive(Debug, Clone)]
pub struct AppSetup {
    /// What the info metric says, and the process-wide counters read at scrape time.
    pub build: BuildInfo,
    /// The shapes served.
    pub shapes: MetricShapes,
    /// `target_info`'s labels (otel shape).
    pub target: Vec<(String, String)>,
    /// `edge_http_concurrency_limit`.
    pub concurrency_limit: usize,
}

/// The process a registry belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStart {
    /// The model's restart count when this process started (0: the first).
    pub restarts: u32,
    /// Unix time it started.
    pub started_unix: f64,
    /// The host's busy CPU seconds (user + system, all cores) when it started: the
    /// process's own CPU time is the host's since then.
    pub cpu_baseline: f64,
}

/// The handles one request label set records into, in every shape that is on.
#[derive(Debug)]
struct Series {
    requests: Counter,
    duration: HistogramWithExemplars<RequestExemplar>,
    otel: Option<Histogram>,
    promhttp: Option<(Counter, Histogram)>,
}

/// Every app-level metric of one process of the node.
#[derive(Debug)]
pub struct AppMetrics {
    edge: NodeMetrics,
    otel: Option<OtelHttp>,
    promhttp: Option<PromHttp>,
    process: Option<ProcessMetrics>,
    series: RwLock<HashMap<RequestLabels, Series>>,
    registry: Registry,
    start: ProcessStart,
}

impl AppMetrics {
    /// A fresh registry for the process that started at `start`.
    pub fn new(setup: &AppSetup, start: ProcessStart) -> Self {
        let mut registry = Registry::default();
        let edge = NodeMetrics::new(&setup.build, &mut registry);
        edge.start_time.set(start.started_unix);
        edge.concurrency_limit.set(i64::try_from(setup.concurrency_limit).unwrap_or(i64::MAX));
        let otel = setup.shapes.otel.then(|| OtelHttp::register(&mut registry, &setup.target));
        let (promhttp, process) = if setup.shapes.promhttp {
            let promhttp = PromHttp::register(&mut registry);
            for r in &ROUTES {
                for status in PRECREATED_ERROR_STATUSES {
                    promhttp.precreate(&RequestLabels {
                        service: r.service.as_str(),
                        route: r.path,
                        method: r.method,
                        status,
                    });
                }
            }
            (Some(promhttp), Some(ProcessMetrics::register(&mut registry, start.started_unix)))
        } else {
            (None, None)
        };
        Self { edge, otel, promhttp, process, series: RwLock::default(), registry, start }
    }

    /// The `edge_*` metrics.
    pub fn edge(&self) -> &NodeMetrics {
        &self.edge
    }

    /// client_golang's process families, if the promhttp shape is on.
    pub fn process(&self) -> Option<&ProcessMetrics> {
        self.process.as_ref()
    }

    /// The process this registry belongs to.
    pub fn start(&self) -> ProcessStart {
        self.start
    }

    /// Records one served request in every shape; `trace_id` is the sampled trace's id,
    /// if any (the exemplar of `edge_http_request_duration_seconds`).
    pub fn observe_request(
        &self,
        labels: &RequestLabels,
        seconds: f64,
        request_id: &str,
        trace_id: Option<&str>,
    ) {
        let exemplar =
            RequestExemplar { request_id: request_id.to_owned(), trace_id: trace_id.map(str::to_owned) };
        self.observe(labels, seconds, Some(exemplar));
    }

    /// Records one served request in every shape, as [`Self::observe_request`] does, with
    /// no exemplar (the virtual fleet: its output carries none).
    pub fn observe_request_without_exemplar(&self, labels: &RequestLabels, seconds: f64) {
        self.observe(labels, seconds, None);
    }

    fn observe(&self, labels: &RequestLabels, seconds: f64, exemplar: Option<RequestExemplar>) {
        // A poisoned map holds only handles, each valid on its own: carry on with it.
        if let Some(series) = self.series.read().unwrap_or_else(PoisonError::into_inner).get(labels) {
            series.observe(seconds, exemplar);
            return;
        }
        let (requests, duration) = self.edge.series(labels);
        let series = Series {
            requests,
            duration,
            otel: self.otel.as_ref().map(|o| o.series(labels)),
            promhttp: self.promhttp.as_ref().map(|p| p.series(labels)),
        };
        series.observe(seconds, exemplar);
        self.series.write().unwrap_or_else(PoisonError::into_inner).entry(labels.clone()).or_insert(series);
    }

    /// The OpenMetrics text of the registry.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(24 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl Series {
    fn observe(&self, seconds: f64, exemplar: Option<RequestExemplar>) {
        self.requests.inc();
        self.duration.observe(seconds, exemplar, None);
        if let Some(otel) = &self.otel {
            otel.observe(seconds);
        }
        if let Some((requests, duration)) = &self.promhttp {
            requests.inc();
            duration.observe(seconds);
        }
    }
}
