//! A real OTLP/HTTP traces receiver for the tests: it decodes each export request with the
//! official OpenTelemetry protobuf definitions (`opentelemetry-proto`) and keeps the spans.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::post;
use edge_node::traces::{ExportSettings, Exporter};
use edge_node::{NodeConfig, NodeState, app};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// A span as received, with its resource's attributes.
#[derive(Debug, Clone)]
pub struct Received {
    pub resource: HashMap<String, String>,
    pub span: Span,
}

impl Received {
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }
    pub fn attr(&self, key: &str) -> Option<String> {
        attr(&self.span.attributes, key)
    }
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.span.end_time_unix_nano.saturating_sub(self.span.start_time_unix_nano))
    }
}

type Store = Arc<Mutex<Vec<Received>>>;

/// An OTLP/HTTP traces receiver on a free port.
pub struct Receiver {
    pub url: String,
    store: Store,
}

impl Receiver {
    /// On a runtime of its own, so a test may block its own thread waiting for an export.
    pub fn start() -> Self {
        let store = Store::default();
        let router = Router::new().route("/v1/traces", post(receive)).with_state(store.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, router).await
            })
        });
        Self { url: format!("http://{addr}/v1/traces"), store }
    }

    pub fn spans(&self) -> Vec<Received> {
        self.store.lock().expect("store").clone()
    }

    pub fn trace(&self, trace_id: &str) -> Vec<Received> {
        self.spans().into_iter().filter(|s| s.trace_id() == trace_id).collect()
    }
}

async fn receive(
    State(store): State<Store>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    assert_eq!(
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/x-protobuf")
    );
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP ExportTraceServiceRequest");
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let resource: HashMap<String, String> = resource_spans
            .resource
            .map(|r| {
                r.attributes
                    .iter()
                    .filter_map(|kv| Some((kv.key.clone(), value(kv.value.as_ref()?))))
                    .collect()
            })
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.push(Received { resource: resource.clone(), span });
            }
        }
    }
    store.lock().expect("store").extend(received);
    let mut out = HeaderMap::new();
    out.insert(header::CONTENT_TYPE, "application/x-protobuf".parse().expect("header"));
    (StatusCode::OK, out, ExportTraceServiceResponse::default().encode_to_vec())
}

pub fn value(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::ArrayValue(a)) => a.values.iter().map(value).collect::<Vec<_>>().join(","),
        _ => String::new(),
    }
}

pub fn attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).map(value)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- driving a traced node ------------------------------------------------------------

/// A quiet node (no built-in traffic) exporting to `settings`.
pub fn traced_node(id: u32, settings: &ExportSettings) -> (Arc<Exporter>, NodeState, Router) {
    let region = edge_node::config::default_region(id).to_owned();
    let exporter = Exporter::start(settings, &[(id, region)]).expect("exporter");
    let config = NodeConfig { rps: 0.0, ..NodeConfig::new(id, 42) };
    let state = NodeState::with_tracer(config, Some(exporter.tracer(id)));
    let router = app(state.clone());
    (exporter, state, router)
}

pub fn order() -> Request<Body> {
    Request::post("/api/orders")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"product_id":3,"quantity":2}"#))
        .expect("request")
}

/// Sends a request; the status and the trace id header.
pub async fn traced(router: &Router, request: Request<Body>) -> (StatusCode, Option<String>) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let trace_id = response.headers().get("x-trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let status = response.status();
    let _ = axum::body::to_bytes(response.into_body(), 1 << 20).await;
    (status, trace_id)
}

pub fn flush(exporter: &Exporter) {
    assert!(exporter.flush(Duration::from_secs(10)), "export did not finish");
}

pub fn by_name<'a>(spans: &'a [Received], name: &str) -> &'a Received {
    spans.iter().find(|s| s.span.name == name).unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}
