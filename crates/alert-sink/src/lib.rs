//! The alert sink: the receiver every Alertmanager route of the stack points at.
//!
//! It takes Alertmanager's webhook (`POST /webhook`), logs each alert of each
//! notification as a JSON line, counts them as Prometheus metrics, keeps the most recent
//! ones in memory and shows them at `GET /notifications` (JSON) and `GET /` (a page that
//! reads like an on-call channel). It also serves the runbooks the alerts link to.
//! It must not depend on the edge-node crates: it is a plain webhook consumer.
//!
//! Webhook bodies are untrusted input: the page escapes every value (an askama template),
//! links only http(s) URLs, and metric labels come from bounded sets ([`bounds`]). A
//! malformed body gets a 4xx with a JSON error body.

pub mod bounds;
pub mod page;
pub mod store;
pub mod webhook;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::bounds::Bounds;
use crate::store::Store;

/// Largest webhook body accepted (Alertmanager batches are small; this bounds memory).
pub const MAX_BODY: usize = 1024 * 1024;

/// Labels of the notification counter. Built only by [`Bounds::labels`], so every value
/// comes from a bounded set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct NotificationLabels {
    /// The Alertmanager receiver (`pager`, `ticket-queue`, `heartbeat`).
    pub receiver: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// The alert's name.
    pub alertname: String,
    /// The alert's severity.
    pub severity: String,
}

/// Longest wait for requests in flight once shutdown begins. Every handler answers from
/// memory or one small file, so a request still running after this is stuck.
pub const GRACE_PERIOD: Duration = Duration::from_secs(5);

/// Where links on the page point.
#[derive(Debug, Clone)]
pub struct Links {
    /// Grafana's base URL (http or https, no trailing slash), for the node dashboard links.
    pub grafana: String,
}

/// A link base that is not an http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an http:// or https:// URL")]
pub struct NotHttp(String);

impl Links {
    /// Links to Grafana at `grafana`, which must be an http(s) URL.
    pub fn new(grafana: &str) -> Result<Self, NotHttp> {
        let grafana = grafana.trim_end_matches('/');
        if page::is_http_url(grafana) {
            Ok(Self { grafana: grafana.to_owned() })
        } else {
            Err(NotHttp(grafana.chars().take(80).collect()))
        }
    }
}

/// Shared state.
#[derive(Debug, Clone)]
pub struct SinkState(Arc<Inner>);

/// What the sink owns.
#[derive(Debug)]
pub struct Inner {
    /// Recent notifications.
    pub store: Mutex<Store>,
    /// The label values admitted so far (see [`bounds`]).
    pub bounds: Mutex<Bounds>,
    /// Alerts received, by receiver, status, name and severity.
    pub notifications: Family<NotificationLabels, Counter>,
    /// Webhook bodies refused as malformed.
    pub rejected: Counter,
    /// Where runbooks are read from.
    pub runbooks: PathBuf,
    /// Link targets.
    pub links: Links,
    registry: Registry,
}

impl std::ops::Deref for SinkState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl SinkState {
    /// A sink keeping the last `capacity` alerts, reading runbooks from `runbooks`.
    pub fn new(capacity: usize, runbooks: PathBuf, links: Links) -> Self {
        let notifications = Family::<NotificationLabels, Counter>::default();
        let rejected = Counter::default();
        let mut registry = Registry::default();
        registry.register(
            "alert_sink_notifications",
            "Alerts received from Alertmanager webhooks",
            notifications.clone(),
        );
        registry.register("alert_sink_rejected", "Webhook bodies refused as malformed", rejected.clone());
        Self(Arc::new(Inner {
            store: Mutex::new(Store::new(capacity)),
            bounds: Mutex::new(Bounds::default()),
            notifications,
            rejected,
            runbooks,
            links,
            registry,
        }))
    }

    /// The store, recovering from a poisoned lock (it holds plain data).
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The label bounds, recovering from a poisoned lock (they hold plain data).
    pub fn bounds(&self) -> std::sync::MutexGuard<'_, Bounds> {
        self.bounds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// OpenMetrics text of the sink's registry.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The sink's HTTP surface.
pub fn app(state: SinkState) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/webhook", post(webhook::receive))
        .route("/notifications", get(webhook::list))
        .route("/runbooks/{name}", get(page::runbook))
        .route("/metrics", get(webhook::metrics))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(same_origin_only))
        .with_state(state)
}

/// The workspace's cross-site rule (`service_kit::cross_site`): a page on another site must
/// not be able to post made-up alerts to the on-call channel through the user's browser.
/// Alertmanager sends `application/json` and no `Origin`, so it is unaffected.
async fn same_origin_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    match service_kit::cross_site::check(request.method(), request.headers(), authority.as_deref()) {
        Ok(()) => next.run(request).await,
        Err(service_kit::cross_site::Refusal::CrossSite(what)) => webhook::error(
            axum::http::StatusCode::FORBIDDEN,
            format!(
                "cross-site request refused ({what}): only Alertmanager and other clients that are not browsers may post"
            ),
        ),
        Err(service_kit::cross_site::Refusal::NotJson) => webhook::error(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "webhooks take application/json bodies".to_owned(),
        ),
    }
}

/// Serves the sink on `listener` until `shutdown` resolves, then stops accepting and
/// waits at most [`GRACE_PERIOD`] for requests in flight.
pub async fn run(
    listener: TcpListener,
    state: SinkState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (begun, grace) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = begun.send(());
    });
    let deadline = async {
        // The sender is dropped without sending only if the server ended on its own;
        // then the server branch below is ready and wins.
        if grace.await.is_ok() {
            tokio::time::sleep(GRACE_PERIOD).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        biased;
        served = server.into_future() => served,
        () = deadline => {
            tracing::warn!(grace_s = GRACE_PERIOD.as_secs(), "requests still in flight after the grace period; exiting");
            Ok(())
        }
    }
}
