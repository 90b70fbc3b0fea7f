//! Distributed traces: OpenTelemetry spans for shop requests, exported with OTLP over
//! HTTP/protobuf.
//!
//! Off unless an endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): then no tracer exists, no span is built, no
//! thread is started, and the request path pays one `Option` check.
//!
//! On, every node gets its own tracer provider, so its spans carry its own resource
//! (`service.name`, `service.instance.id`, `edge.node`, `cloud.region`): in a fleet
//! process each node reads as the node it is. The providers' span processor
//! ([`QueueProcessor`]) only hands finished spans to one bounded queue per process and
//! never waits: when the queue is full the span is dropped and counted
//! (`edge_trace_spans_dropped_total`). One worker thread drains the queue in batches and
//! sends each node's share with the stock OTLP exporter (`opentelemetry-otlp`), one per
//! node (the exporter carries one resource), over one shared HTTP client. A dead or slow
//! collector therefore costs the worker time, never a request or a scrape. The SDK's
//! own `BatchSpanProcessor` is not used because it starts a thread per provider (one
//! per node) and keeps its count of dropped spans private. Spans are made with the
//! OpenTelemetry API directly rather than through `tracing-opentelemetry`: its layer
//! hangs one tracer (so one resource) on the process's subscriber, where a fleet process
//! needs one per node, and with traces off it would still sit in every log event's path.
//!
//! The sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`), `OTEL_SERVICE_NAME`
//! and `OTEL_RESOURCE_ATTRIBUTES` are read by the SDK the standard way; the exporter
//! reads the endpoint, headers and protocol variables itself.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use edge_sim::FaultKind;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope, KeyValue, Value};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter as _, SpanProcessor};

/// Finished spans waiting for the worker, per process. At the default 20 req/s and about
/// four spans a request, a 12-node fleet makes ~1000 spans/s: this rides out two seconds
/// of a stalled worker (a slow collector) and holds at most a few MB.
pub const MAX_QUEUE: usize = 2048;
/// Spans per export request (the OpenTelemetry default, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
pub const MAX_BATCH: usize = 512;
/// The longest a finished span waits before it is sent: short, so a trace opened from a
/// fresh exemplar or log line is already in the backend.
pub const EXPORT_DELAY: Duration = Duration::from_secs(1);
/// The longest one export may take (the exporter's HTTP timeout): a collector that never
/// answers holds the worker this long, and only the worker. `OTEL_EXPORTER_OTLP_TIMEOUT`
/// (milliseconds) overrides it.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// `service.name` unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` says otherwise.
pub const SERVICE_NAME: &str = "edge-node";
/// The response header carrying the trace id (32 hex digits) of a traced request.
pub static TRACE_ID_HEADER: HeaderName = HeaderName::from_static("x-trace-id");
/// W3C Trace Context Level 2's response header: `00-<trace id>-<span id>-<flags>`.
pub static TRACERESPONSE_HEADER: HeaderName = HeaderName::from_static("traceresponse");

// ---- configuration ---------------------------------------------------------------------

/// Where and how spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSettings {
    /// The full OTLP/HTTP traces URL (`.../v1/traces`), or `None` to let the exporter
    /// resolve it from the standard variables.
    pub endpoint: Option<String>,
    /// See [`EXPORT_TIMEOUT`].
    pub timeout: Duration,
}

impl ExportSettings {
    /// From the standard environment variables: `None` (tracing off) unless an OTLP
    /// endpoint is set and `OTEL_SDK_DISABLED` is not `true`.
    pub fn from_env() -> Option<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] over any source of variables (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return None;
        }
        set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"))?;
        let timeout = set("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .or_else(|| set("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .map_or(EXPORT_TIMEOUT, Duration::from_millis);
        Some(Self { endpoint: None, timeout })
    }

    /// Export to `url` (a full `.../v1/traces` URL) with the default timeout.
    pub fn to_url(url: impl Into<String>) -> Self {
        Self { endpoint: Some(url.into()), timeout: EXPORT_TIMEOUT }
    }
}

/// Why tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The exporter refused its configuration (a malformed endpoint, say).
    #[error("trace exporter: {0}")]
    Exporter(String),
    /// The worker thread could not start.
    #[error("trace export thread: {0}")]
    Thread(#[from] std::io::Error),
}

// ---- the process's exporter ------------------------------------------------------------

/// Spans lost, by reason (shared by every node of the process).
#[derive(Debug, Default)]
pub struct DropCounts {
    /// Dropped because the queue was full.
    pub queue_full: AtomicU64,
    /// Lost in an export the collector refused or did not answer in time.
    pub export_failed: AtomicU64,
}

/// What the worker is sent. Spans travel by value: they are nearly all of the traffic,
/// and boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Message {
    Span(u32, SpanData),
    Flush(mpsc::Sender<()>),
}

/// The process's span exporter: the queue, its worker thread, and the drop counts.
pub struct Exporter {
    queue: SyncSender<Message>,
    drops: Arc<DropCounts>,
    resources: HashMap<u32, Resource>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exporter").field("nodes", &self.resources.len()).finish_non_exhaustive()
    }
}

impl Exporter {
    /// Starts the worker for these nodes (`(id, region)`), with one OTLP exporter each.
    pub fn start(settings: &ExportSettings, nodes: &[(u32, String)]) -> Result<Arc<Self>, StartError> {
        let resources: HashMap<u32, Resource> =
            nodes.iter().map(|(id, region)| (*id, node_resource(*id, region))).collect();
        let (queue, spans) = mpsc::sync_channel(MAX_QUEUE);
        let drops = Arc::new(DropCounts::default());
        let (ready, started) = mpsc::channel();
        let worker = {
            let (settings, resources, drops) = (settings.clone(), resources.clone(), drops.clone());
            std::thread::Builder::new().name("trace-export".to_owned()).spawn(move || {
                // The blocking HTTP client runs a runtime of its own: it is built, used and
                // dropped on this thread, never inside the node's runtime.
                match exporters(&settings, &resources) {
                    Ok(exporters) => {
                        let _ = ready.send(Ok(()));
                        drain(&spans, &exporters, &drops);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            })?
        };
        match started.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(StartError::Exporter(e)),
            Err(_) => return Err(StartError::Exporter("the export thread stopped".to_owned())),
        }
        Ok(Arc::new(Self { queue, drops, resources, worker: Mutex::new(Some(worker)) }))
    }

    /// The tracer of node `id` (which must be one of the nodes given to [`Self::start`]).
    pub fn tracer(self: &Arc<Self>, id: u32) -> NodeTracer {
        let resource = self.resources.get(&id).cloned().unwrap_or_else(|| node_resource(id, "unknown"));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(QueueProcessor { node: id, exporter: self.clone() })
            .with_resource(resource)
            .build();
        let scope =
            InstrumentationScope::builder(SERVICE_NAME).with_version(env!("CARGO_PKG_VERSION")).build();
        NodeTracer { tracer: provider.tracer_with_scope(scope), exporter: self.clone() }
    }

    /// Spans lost so far.
    pub fn drops(&self) -> &DropCounts {
        &self.drops
    }

    /// Sends every span finished so far, waiting at most `within`; true when done.
    pub fn flush(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let (done, flushed) = mpsc::channel();
        let mut message = Message::Flush(done);
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    message = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
        flushed.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok()
    }

    /// Flushes (at most `within`) and lets the worker go; for the end of the process.
    pub fn shutdown(&self, within: Duration) {
        self.flush(within);
        // The worker ends when the last queue handle goes; it is not joined: an export
        // stuck on a dead collector must not hold the exit.
        drop(self.worker.lock().unwrap_or_else(PoisonError::into_inner).take());
    }

    fn enqueue(&self, node: u32, span: SpanData) {
        if self.queue.try_send(Message::Span(node, span)).is_err() {
            self.drops.queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One OTLP exporter per node, each with the node's resource, over one HTTP client.
fn exporters(
    settings: &ExportSettings,
    resources: &HashMap<u32, Resource>,
) -> Result<HashMap<u32, SpanExporter>, String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(settings.timeout)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    resources
        .iter()
        .map(|(&id, resource)| {
            let mut builder = SpanExporter::builder()
                .with_http()
                .with_http_client(client.clone())
                .with_timeout(settings.timeout);
            if let Some(url) = &settings.endpoint {
                builder = builder.with_endpoint(url.clone());
            }
            let mut exporter = builder.build().map_err(|e| e.to_string())?;
            exporter.set_resource(resource);
            Ok((id, exporter))
        })
        .collect()
}

/// The worker: batches spans by size or age, and sends each node's share.
fn drain(spans: &Receiver<Message>, exporters: &HashMap<u32, SpanExporter>, drops: &DropCounts) {
    let mut batch: Vec<(u32, SpanData)> = Vec::with_capacity(MAX_BATCH);
    let mut deadline = Instant::now() + EXPORT_DELAY;
    let mut failing = false;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        let flush_now = match spans.recv_timeout(wait) {
            Ok(Message::Span(node, span)) => {
                batch.push((node, span));
                if batch.len() < MAX_BATCH {
                    continue;
                }
                None
            }
            Ok(Message::Flush(done)) => Some(done),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                export(&mut batch, exporters, drops, &mut failing);
                return;
            }
        };
        export(&mut batch, exporters, drops, &mut failing);
        deadline = Instant::now() + EXPORT_DELAY;
        if let Some(done) = flush_now {
            let _ = done.send(());
        }
    }
}

fn export(
    batch: &mut Vec<(u32, SpanData)>,
    exporters: &HashMap<u32, SpanExporter>,
    drops: &DropCounts,
    failing: &mut bool,
) {
    if batch.is_empty() {
        return;
    }
    let mut by_node: HashMap<u32, Vec<SpanData>> = HashMap::new();
    for (node, span) in batch.drain(..) {
        by_node.entry(node).or_default().push(span);
    }
    for (node, spans) in by_node {
        let count = spans.len() as u64;
        let result = match exporters.get(&node) {
            Some(exporter) => futures_executor::block_on(exporter.export(spans)),
            None => Ok(()),
        };
        match result {
            Ok(()) if *failing => {
                *failing = false;
                tracing::info!(event = "trace_export_recovered", "trace export works again");
            }
            Ok(()) => {}
            Err(e) => {
                drops.export_failed.fetch_add(count, Ordering::Relaxed);
                // One line when export starts failing, not one per batch.
                if !*failing {
                    *failing = true;
                    tracing::warn!(
                        event = "trace_export_failing",
                        error = %e,
                        "trace export failing; spans are dropped and counted in edge_trace_spans_dropped_total"
                    );
                }
            }
        }
    }
}

/// The resource of node `id`: who made a span.
pub fn node_resource(id: u32, region: &str) -> Resource {
    // `Resource::builder()` reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the SDK's
    // placeholder name is replaced with ours, and the node's identity always wins.
    let base = Resource::builder().build();
    let named = base
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    let mut builder = Resource::builder();
    if !named {
        builder = builder.with_service_name(SERVICE_NAME);
    }
    builder
        .with_attributes([
            KeyValue::new("service.instance.id", format!("{SERVICE_NAME}-{id}")),
            KeyValue::new("edge.node", id.to_string()),
            KeyValue::new("cloud.region", region.to_owned()),
        ])
        .build()
}

/// The span processor of one node's provider: hand the span over, never wait.
#[derive(Debug)]
struct QueueProcessor {
    node: u32,
    exporter: Arc<Exporter>,
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.exporter.enqueue(self.node, span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

// ---- spans -----------------------------------------------------------------------------

/// One node's tracer.
#[derive(Clone)]
pub struct NodeTracer {
    tracer: SdkTracer,
    exporter: Arc<Exporter>,
}

impl fmt::Debug for NodeTracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeTracer").finish_non_exhaustive()
    }
}

/// What the request's other signals say about its trace.
#[derive(Debug, Clone)]
pub struct TraceIds {
    /// 32 hex digits.
    pub trace_id: String,
    /// Whether the trace is recorded and exported (only then is it worth an exemplar).
    pub sampled: bool,
    /// The `traceresponse` header value.
    pub traceresponse: String,
}

/// What the server span needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub struct ServerRequest<'a> {
    /// `GET`, `POST`, ... (`_OTHER` for anything unusual, per the HTTP conventions).
    pub method: &'static str,
    /// The route template, or `None` for an unmatched path.
    pub route: Option<&'static str>,
    /// The request's path.
    pub path: &'a str,
    /// The request headers (`traceparent`, `tracestate`, `host`).
    pub headers: &'a HeaderMap,
}

impl NodeTracer {
    /// Starts the server span of a request, joining the caller's trace when its
    /// `traceparent` is valid. The returned context carries the span.
    pub fn server_span(&self, request: &ServerRequest<'_>) -> Context {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers));
        // Per the HTTP conventions: `{method} {route}`, or just the method without a route.
        let name = match request.route {
            Some(route) => format!("{} {route}", request.method),
            None => request.method.to_owned(),
        };
        let mut attributes = vec![
            KeyValue::new("http.request.method", request.method),
            KeyValue::new("url.path", request.path.to_owned()),
            KeyValue::new("url.scheme", "http"),
        ];
        if let Some(route) = request.route {
            attributes.push(KeyValue::new("http.route", route));
        }
        if let Some((host, port)) = server_address(request.headers) {
            attributes.push(KeyValue::new("server.address", host));
            if let Some(port) = port {
                attributes.push(KeyValue::new("server.port", i64::from(port)));
            }
        }
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        parent.with_span(span)
    }

    /// Ends the server span with the response's status and the faults in force.
    pub fn end_server_span(cx: &Context, status: u16, faults: Option<KeyValue>) -> TraceIds {
        let span = cx.span();
        span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
        if let Some(faults) = faults {
            span.set_attribute(faults);
        }
        // Per the HTTP conventions a server span is an error on 5xx only (4xx is the client's).
        if status >= 500 {
            span.set_attribute(KeyValue::new("error.type", status.to_string()));
            span.set_status(Status::error(format!("HTTP {status}")));
        }
        span.end();
        ids(cx)
    }

    /// Starts a child span of the current context for one step of a request: `kind` is
    /// `Client` for a call to another service (named in `peer`), else `Internal`.
    pub fn step_span(&self, name: &'static str, kind: SpanKind, peer: Option<&'static str>) -> Context {
        let parent = Context::current();
        let mut attributes = Vec::new();
        if let Some(peer) = peer {
            attributes.push(KeyValue::new("peer.service", peer));
            attributes.push(KeyValue::new("server.address", peer));
        }
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        parent.with_span(span)
    }

    /// Ends a step's span: an error with `failure` (the injected mode, or `upstream`) if
    /// it failed, with the delay the model planned for it.
    pub fn end_step_span(cx: &Context, planned: Duration, failure: Option<&str>) {
        let span = cx.span();
        span.set_attribute(KeyValue::new("edge.planned_delay_ms", planned.as_secs_f64() * 1e3));
        if let Some(failure) = failure {
            span.set_attribute(KeyValue::new("error.type", failure.to_owned()));
            span.set_status(Status::error(failure.to_owned()));
        }
        span.end();
    }

    /// The process's exporter (for `/metrics`' drop counts).
    pub fn exporter(&self) -> &Arc<Exporter> {
        &self.exporter
    }
}

/// The faults in force, as a span attribute (`edge.faults`, e.g. `["latency_spike"]`), or
/// `None` when healthy. The one place spans learn about faults; the caller passes only
/// the faults a reader may see (the node's state leaves a sealed drill's out).
pub fn fault_attribute(faults: &[FaultKind]) -> Option<KeyValue> {
    if faults.is_empty() {
        return None;
    }
    let names: Vec<opentelemetry::StringValue> = faults.iter().map(|f| f.as_str().into()).collect();
    Some(KeyValue::new("edge.faults", Value::Array(names.into())))
}

/// The trace ids of the span in `cx`.
pub fn ids(cx: &Context) -> TraceIds {
    let span = cx.span();
    let context = span.span_context();
    TraceIds {
        trace_id: context.trace_id().to_string(),
        sampled: context.is_sampled(),
        traceresponse: format!(
            "00-{}-{}-{:02x}",
            context.trace_id(),
            context.span_id(),
            context.trace_flags().to_u8()
        ),
    }
}

/// Adds the trace id headers to a response.
pub fn tag_response(headers: &mut HeaderMap, ids: &TraceIds) {
    if let Ok(value) = HeaderValue::from_str(&ids.trace_id) {
        headers.insert(TRACE_ID_HEADER.clone(), value);
    }
    if let Ok(value) = HeaderValue::from_str(&ids.traceresponse) {
        headers.insert(TRACERESPONSE_HEADER.clone(), value);
    }
}

/// `server.address` and `server.port` from the `Host` header.
fn server_address(headers: &HeaderMap) -> Option<(String, Option<u16>)> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let authority: axum::http::uri::Authority = host.parse().ok()?;
    Some((authority.host().to_owned(), authority.port_u16()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn tracing_is_off_without_an_endpoint_and_on_with_either_variable() {
        assert_eq!(ExportSettings::from_vars(vars(&[])), None);
        assert_eq!(ExportSettings::from_vars(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])), None);
        assert_eq!(ExportSettings::from_vars(vars(&[("OTEL_SERVICE_NAME", "x")])), None);
        let on = ExportSettings::from_vars(vars(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://tempo:4318")]));
        assert_eq!(on, Some(ExportSettings { endpoint: None, timeout: EXPORT_TIMEOUT }));
        let traces_only = ExportSettings::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://tempo:4318/v1/traces"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "250"),
        ]));
        assert_eq!(traces_only.map(|s| s.timeout), Some(Duration::from_millis(250)));
        let disabled = ExportSettings::from_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://tempo:4318"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ]));
        assert_eq!(disabled, None);
    }

    #[test]
    fn the_resource_names_the_node_and_its_region() {
        let resource = node_resource(7, "us-east");
        let get =
            |k: &'static str| resource.get(&opentelemetry::Key::from_static_str(k)).map(|v| v.to_string());
        assert_eq!(get("edge.node").as_deref(), Some("7"));
        assert_eq!(get("cloud.region").as_deref(), Some("us-east"));
        assert_eq!(get("service.instance.id").as_deref(), Some("edge-node-7"));
        assert!(get("service.name").is_some());
    }

    #[test]
    fn the_host_header_gives_server_address_and_port() {
        let mut headers = HeaderMap::new();
        assert_eq!(server_address(&headers), None);
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:18003"));
        assert_eq!(server_address(&headers), Some(("127.0.0.1".to_owned(), Some(18003))));
        headers.insert(header::HOST, HeaderValue::from_static("edge-node-3"));
        assert_eq!(server_address(&headers), Some(("edge-node-3".to_owned(), None)));
    }
}
