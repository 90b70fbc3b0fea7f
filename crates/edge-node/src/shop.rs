//! The simulated shop API: products, orders and payments.
//!
//! Every request is really served: the model plans each step, the handler really
//! sleeps that long and really answers the planned status. Creating an order charges
//! through `payments`, which calls the remote payment gateway, so a payment problem
//! shows in orders too.
//!
//! With traces on, each step is a child span of the request's server span: the order's
//! stock check, its call to payments (a client span) holding the payment's own work and
//! its call to the gateway (a client span).
//!
//! The route table is [`crate::routes`]; paid orders are kept in the node's order store
//! ([`crate::orders`]), reached through the state.
//!
//! Creating an order is the shop's one write: while the data filesystem is full
//! (`disk_fill`) it fails with 500 "no space left on device" before anything is charged (the
//! order's row is written first), and every read keeps working.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post};
use axum::{Extension, Json};
use edge_sim::request::Step;
use edge_sim::{Service, StepFailure};
use opentelemetry::trace::{FutureExt as _, SpanKind};
use serde::{Deserialize, Serialize};

use crate::app_metrics::AppMetrics;
use crate::error::ApiError;
use crate::metrics::{UPSTREAM_GATEWAY, UPSTREAM_PAYMENTS};
use crate::orders::Order;
use crate::routes::ROUTES;
use crate::state::NodeState;
use crate::traces::NodeTracer;

/// The shop routes with their handlers (the table is [`ROUTES`]).
pub fn routes() -> Vec<(&'static str, MethodRouter<NodeState>)> {
    vec![
        (ROUTES[0].path, get(list_products)),
        (ROUTES[1].path, get(get_product)),
        (ROUTES[2].path, post(create_order)),
        (ROUTES[3].path, get(get_order)),
        (ROUTES[4].path, post(create_payment)),
    ]
}

// ---- products ----------------------------------------------------------------------

/// A product of the catalog.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Product {
    /// 1-based id.
    pub id: u32,
    /// Display name.
    pub name: &'static str,
    /// Price in cents.
    pub price_cents: u64,
}

/// The fixed catalog every node sells.
pub const CATALOG: [Product; 12] = [
    Product { id: 1, name: "Edge router", price_cents: 24_900 },
    Product { id: 2, name: "PoE switch", price_cents: 12_900 },
    Product { id: 3, name: "5G modem", price_cents: 31_900 },
    Product { id: 4, name: "Fibre transceiver", price_cents: 4_900 },
    Product { id: 5, name: "Rack PDU", price_cents: 18_900 },
    Product { id: 6, name: "UPS battery", price_cents: 9_900 },
    Product { id: 7, name: "Temperature sensor", price_cents: 2_900 },
    Product { id: 8, name: "Patch cable (10 pack)", price_cents: 1_900 },
    Product { id: 9, name: "Console server", price_cents: 54_900 },
    Product { id: 10, name: "Edge compute module", price_cents: 89_900 },
    Product { id: 11, name: "GPS time source", price_cents: 39_900 },
    Product { id: 12, name: "Cooling fan tray", price_cents: 6_900 },
];

fn product(id: u32) -> Option<&'static Product> {
    CATALOG.iter().find(|p| p.id == id)
}

async fn list_products(State(state): State<NodeState>) -> Result<Json<&'static [Product]>, ApiError> {
    perform(&state, Step::Service(Service::Products), true, "products list").await?;
    Ok(Json(&CATALOG))
}

async fn get_product(
    State(state): State<NodeState>,
    id: Result<Path<u32>, PathRejection>,
) -> Result<Json<&'static Product>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    perform(&state, Step::Service(Service::Products), true, "products lookup").await?;
    product(id).map(Json).ok_or_else(|| unknown_product(id))
}

fn unknown_product(id: u32) -> ApiError {
    ApiError::NotFound(format!("no product {id}; products are 1-{}", CATALOG.len()))
}

// ---- orders ------------------------------------------------------------------------

/// The body of `POST /api/orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrder {
    product_id: u32,
    quantity: u32,
}

/// The most orders one request may ask for.
const MAX_QUANTITY: u32 = 100;

/// The registry of the process the request arrived in (the RED middleware's extension; the
/// current one if a handler were ever reached without it).
fn request_metrics(state: &NodeState, extension: Option<Extension<Arc<AppMetrics>>>) -> Arc<AppMetrics> {
    extension.map_or_else(|| state.metrics(), |Extension(metrics)| metrics)
}

async fn create_order(
    State(state): State<NodeState>,
    metrics: Option<Extension<Arc<AppMetrics>>>,
    body: Result<Json<NewOrder>, JsonRejection>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let metrics = request_metrics(&state, metrics);
    let Json(new) = body.map_err(json_rejection)?;
    let product = product(new.product_id).ok_or_else(|| {
        ApiError::Unprocessable(format!("no product {}; products are 1-{}", new.product_id, CATALOG.len()))
    })?;
    if new.quantity == 0 || new.quantity > MAX_QUANTITY {
        return Err(ApiError::Unprocessable(format!(
            "quantity must be 1-{MAX_QUANTITY}, got {}",
            new.quantity
        )));
    }
    perform(&state, Step::Service(Service::Orders), true, "orders stock check").await?;
    if state.disk_full() {
        return Err(ApiError::DiskFull);
    }
    let total = product.price_cents * u64::from(new.quantity);
    let charged = match state.tracer() {
        None => charge(&state, &metrics, false).await,
        Some(tracer) => {
            let cx = tracer.step_span("payments charge", SpanKind::Client, Some(UPSTREAM_PAYMENTS));
            let charged = charge(&state, &metrics, false).with_context(cx.clone()).await;
            let failure = charged.as_ref().err().map(|e| e.outcome().as_str());
            NodeTracer::end_step_span(&cx, std::time::Duration::ZERO, failure);
            charged
        }
    };
    metrics.edge().observe_upstream(UPSTREAM_PAYMENTS, charged.is_ok());
    let payment_id = charged?;
    let order = state.store_order(product.id, new.quantity, total, payment_id);
    Ok((StatusCode::CREATED, Json(order)))
}

async fn get_order(
    State(state): State<NodeState>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<Order>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    perform(&state, Step::Service(Service::Orders), true, "orders lookup").await?;
    state
        .order(id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no order {id} (old orders are evicted)")))
}

// ---- payments ----------------------------------------------------------------------

/// The body of `POST /api/payments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPayment {
    amount_cents: u64,
}

/// A captured payment.
#[derive(Debug, Serialize)]
struct Payment {
    id: u64,
    amount_cents: u64,
    status: &'static str,
}

/// The largest single payment: 100 000.00.
const MAX_AMOUNT_CENTS: u64 = 10_000_000;

async fn create_payment(
    State(state): State<NodeState>,
    metrics: Option<Extension<Arc<AppMetrics>>>,
    body: Result<Json<NewPayment>, JsonRejection>,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    let metrics = request_metrics(&state, metrics);
    let Json(new) = body.map_err(json_rejection)?;
    if new.amount_cents == 0 || new.amount_cents > MAX_AMOUNT_CENTS {
        return Err(ApiError::Unprocessable(format!(
            "amount_cents must be 1-{MAX_AMOUNT_CENTS}, got {}",
            new.amount_cents
        )));
    }
    let id = charge(&state, &metrics, true).await?;
    Ok((StatusCode::CREATED, Json(Payment { id, amount_cents: new.amount_cents, status: "captured" })))
}

/// The payments service's work: its own step, then the gateway. `entry` is false when
/// orders charge through it internally.
async fn charge(state: &NodeState, metrics: &AppMetrics, entry: bool) -> Result<u64, ApiError> {
    perform(state, Step::Service(Service::Payments), entry, "payments authorize").await?;
    let gateway = perform(state, Step::Gateway, false, "payment gateway charge").await;
    metrics.edge().observe_upstream(UPSTREAM_GATEWAY, gateway.is_ok());
    gateway?;
    Ok(state.next_payment_id())
}

// ---- shared ------------------------------------------------------------------------

/// Plans a step with the model, really waits for it, and fails it if planned so; with
/// traces on, as a span named `name` (a client span for the gateway, which is remote).
async fn perform(state: &NodeState, step: Step, entry: bool, name: &'static str) -> Result<(), ApiError> {
    let plan = state.plan(step, entry);
    let span = state.tracer().map(|tracer| match step {
        Step::Gateway => tracer.step_span(name, SpanKind::Client, Some(UPSTREAM_GATEWAY)),
        Step::Service(_) => tracer.step_span(name, SpanKind::Internal, None),
    });
    tokio::time::sleep(plan.delay).await;
    let (result, failure) = match plan.failure {
        None => (Ok(()), None),
        Some(failure) => {
            let (error, name) = step_error(state, failure);
            (Err(error), Some(name))
        }
    };
    if let Some(cx) = span {
        NodeTracer::end_step_span(&cx, plan.delay, failure);
    }
    result
}

/// The answer to a step the model planned to fail, and the failure's name for its span
/// (shared with the virtual fleet, which answers the same status).
pub(crate) fn step_error(state: &NodeState, failure: StepFailure) -> (ApiError, &'static str) {
    match failure {
        // While a drill's fault is sealed, an injected failure reads like a real one, in the
        // response and in the step's span.
        StepFailure::Injected(_) if state.sealed_active() => {
            (ApiError::Opaque(axum::http::StatusCode::INTERNAL_SERVER_ERROR), "internal")
        }
        StepFailure::Injected(kind) => (ApiError::Injected(kind.as_str()), kind.as_str()),
        StepFailure::Upstream => (ApiError::Upstream("payment gateway"), "upstream"),
    }
}

/// Whether product `id` is in the catalog (the virtual fleet's lookups answer as the
/// handler does).
pub(crate) fn product_exists(id: u32) -> bool {
    product(id).is_some()
}

/// Keeps axum's precise reason (syntax, missing field, content type) in our JSON shape.
pub fn json_rejection(rejection: JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(text),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(text),
        _ => ApiError::BadRequest(text),
    }
}
