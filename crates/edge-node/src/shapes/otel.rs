//! The OpenTelemetry shape: `http_server_request_duration_seconds`, the semantic conventions'
//! `http.server.request.duration` as an OpenTelemetry SDK's Prometheus exporter exposes it,
//! and the exporter's `target_info`.
//!
//! Sources (checked 2026-12):
//! - Semantic conventions, docs/http/http-metrics.md (stable): histogram, unit `s`,
//!   "Duration of HTTP server requests.", advisory buckets [`BUCKETS`]. Attributes:
//!   `http.request.method` (Required; `_OTHER` for a method the instrumentation does not
//!   know), `url.scheme` (Required), `http.response.status_code` (Conditionally Required: if
//!   one was sent; always here), `http.route` (Conditionally Required: if available; absent
//!   for paths no route matched), `error.type` (Conditionally Required: if the request ended
//!   with an error; for a server, a 5xx status, and then the status code as a string).
//!   `network.protocol.name` is Conditionally Required only when it is not `http`, so it is
//!   left out; `network.protocol.version` is Recommended and `server.*` Opt-In, so they are
//!   left out too: we include exactly the Required and Conditionally Required attributes.
//! - Specification, compatibility/prometheus_and_openmetrics.md: the unit becomes the
//!   `_seconds` suffix and dots become underscores; exporters "MUST add the scope name as the
//!   `otel_scope_name` label and the scope version as the `otel_scope_version` label on all
//!   metric points by default" (no `otel_scope_info`: our scope has no attributes); resource
//!   attributes go to "a single `target` info metric" (`target_info`, "Target metadata")
//!   whose labels are the resource's attributes and nothing else.
//!
//! Help texts are written without their final period: prometheus-client appends one.
//!
//! The resource is the one the node's spans carry (`traces::node_resource`), so metrics and
//! traces name the same service; its labels (`service_instance_id`, `edge_node`,
//! `cloud_region`, ...) do not collide with the `node` and `region` target labels.

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::metrics::RequestLabels;
use crate::routes::UNMATCHED;

/// The semantic conventions' advisory bucket boundaries for `http.server.request.duration`.
pub const BUCKETS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
/// The instrumentation scope (the same as the node's tracer's).
pub const SCOPE_NAME: &str = crate::traces::SERVICE_NAME;
/// The instrumentation scope's version.
pub const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// `url.scheme`: the node speaks plain HTTP.
const URL_SCHEME: &str = "http";

/// The attributes of one duration point.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct OtelLabels {
    /// `http.request.method`: the method, or `_OTHER`.
    method: &'static str,
    /// `http.response.status_code`; also `error.type` when 5xx.
    status: u16,
    /// `http.route`, when a route matched.
    route: Option<&'static str>,
}

impl OtelLabels {
    /// The attributes of a request the RED middleware measured.
    pub fn of(request: &RequestLabels) -> Self {
        Self {
            // The RED middleware's `other` is a method it does not know.
            method: if request.method == "other" { "_OTHER" } else { request.method },
            status: request.status,
            route: (request.route != UNMATCHED).then_some(request.route),
        }
    }
}

impl EncodeLabelSet for OtelLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        // Only at scrape time, so the strings may be built here. Attributes sorted by key
        // (as an SDK's attribute set is), then the scope labels the exporter adds.
        let status = self.status.to_string();
        let mut labels: Vec<(&str, &str)> = Vec::with_capacity(7);
        // Per semconv, a server's request ended in error when its status is 5xx.
        if self.status >= 500 {
            labels.push(("error_type", &status));
        }
        labels.push(("http_request_method", self.method));
        labels.push(("http_response_status_code", &status));
        if let Some(route) = self.route {
            labels.push(("http_route", route));
        }
        labels.push(("url_scheme", URL_SCHEME));
        labels.push(("otel_scope_name", SCOPE_NAME));
        labels.push(("otel_scope_version", SCOPE_VERSION));
        labels.encode(encoder)
    }
}

fn new_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The shape's metrics in one registry.
#[derive(Debug)]
pub struct OtelHttp {
    duration: Family<OtelLabels, Histogram, fn() -> Histogram>,
}

impl OtelHttp {
    /// Registers the histogram and `target_info` (labels: the resource's attributes, from
    /// [`target_labels`]).
    pub fn register(registry: &mut Registry, target: &[(String, String)]) -> Self {
        let duration = Family::new_with_constructor(new_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "http_server_request_duration",
            "Duration of HTTP server requests",
            Unit::Seconds,
            duration.clone(),
        );
        // prometheus-client ends every help text with a period: "Target metadata." (the OTel
        // exporters write it without one; no rule reads help texts).
        registry.register("target", "Target metadata", Info::new(target.to_vec()));
        Self { duration }
    }

    /// The histogram of a request's label set (created on first use).
    pub fn series(&self, request: &RequestLabels) -> Histogram {
        self.duration.get_or_create(&OtelLabels::of(request)).clone()
    }
}

/// `target_info`'s labels from a resource: each attribute with its key's dots (and any
/// other character Prometheus does not allow) turned into `_`, sorted by key.
pub fn target_labels(resource: &opentelemetry_sdk::Resource) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> =
        resource.iter().map(|(key, value)| (label_name(key.as_str()), value.to_string())).collect();
    labels.sort();
    labels
}

/// A Prometheus label name for an attribute key: invalid characters become `_`, runs of
/// `_` collapse to one (the compatibility spec's rule).
fn label_name(key: &str) -> String {
    let mut name = String::with_capacity(key.len());
    for c in key.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if !(c == '_' && name.ends_with('_')) {
            name.push(c);
        }
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_keys_become_prometheus_label_names() {
        assert_eq!(label_name("service.instance.id"), "service_instance_id");
        assert_eq!(label_name("a..b-c"), "a_b_c");
        assert_eq!(label_name("1x"), "_1x");
    }

    #[test]
    fn a_request_maps_to_the_semconv_attributes() {
        let req = |route, method, status| RequestLabels { service: "orders", route, method, status };
        let ok = OtelLabels::of(&req("/api/orders", "POST", 201));
        assert_eq!((ok.method, ok.status, ok.route), ("POST", 201, Some("/api/orders")));
        let odd = OtelLabels::of(&req(UNMATCHED, "other", 404));
        assert_eq!((odd.method, odd.route), ("_OTHER", None), "no route when none matched");
    }
}
