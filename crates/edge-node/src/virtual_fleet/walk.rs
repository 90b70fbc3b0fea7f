//! One shop request walked through virtual time, step by step, as the shop's handlers
//! ([`crate::shop`]) serve it live: each step is planned by the model when it starts (the
//! same [`NodeState::plan`] the handlers call), its failure answered with the status the
//! handlers answer ([`crate::shop::step_error`]), and the checks between steps (disk full,
//! unknown product, evicted order) read from the same state at the instant the handler
//! would read them. Only the sleeping differs: here the node's event queue holds the
//! request until its step ends.

use std::sync::Arc;
use std::time::Duration;

use edge_sim::request::Step;
use edge_sim::{Service, StepFailure, StepPlan};

use crate::app_metrics::AppMetrics;
use crate::error::ApiError;
use crate::metrics::{UPSTREAM_GATEWAY, UPSTREAM_PAYMENTS};
use crate::shop::{CATALOG, product_exists, step_error};
use crate::state::NodeState;
use crate::traffic::ShopRequest;

/// The step whose time is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// The entry service's own work.
    Entry,
    /// Orders' internal charge through payments.
    Payments,
    /// Payments' call to the remote gateway.
    Gateway,
}

/// A request being served.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) request: ShopRequest,
    /// The registry of the process it arrived in (as the RED middleware keeps it).
    pub(super) metrics: Arc<AppMetrics>,
    /// When the RED middleware started timing it (after any network stall).
    pub(super) began: Duration,
    pub(super) stage: Stage,
    /// The planned failure of the step running now.
    pub(super) failure: Option<StepFailure>,
}

/// What happens once the running step's time is up.
#[derive(Debug)]
pub(super) enum Next {
    /// Another step starts now, with this plan.
    Step(StepPlan),
    /// The request is answered with this status.
    Done(u16),
}

/// Plans the entry step of `request` now.
pub(super) fn start(
    state: &NodeState,
    request: ShopRequest,
    metrics: Arc<AppMetrics>,
    began: Duration,
) -> (InFlight, StepPlan) {
    let service = request.route().service;
    let plan = state.plan(Step::Service(service), true);
    let flight = InFlight { request, metrics, began, stage: Stage::Entry, failure: plan.failure };
    (flight, plan)
}

/// The running step of `f` ended: the handler's next move, read from `state` now.
pub(super) fn resume(state: &NodeState, f: &mut InFlight) -> Next {
    let failed = f.failure.map(|failure| status(&step_error(state, failure).0));
    let edge = f.metrics.edge();
    let next_stage = match (f.request, f.stage) {
        (ShopRequest::ListProducts, Stage::Entry) => return Next::Done(failed.unwrap_or(200)),
        (ShopRequest::GetProduct(id), Stage::Entry) => {
            return Next::Done(failed.unwrap_or(if product_exists(id) { 200 } else { 404 }));
        }
        (ShopRequest::GetOrder(id), Stage::Entry) => {
            return Next::Done(failed.unwrap_or_else(|| if state.order(id).is_some() { 200 } else { 404 }));
        }
        (ShopRequest::CreateOrder { .. }, Stage::Entry) => match failed {
            Some(status) => return Next::Done(status),
            None if state.disk_full() => return Next::Done(status(&ApiError::DiskFull)),
            None => Stage::Payments,
        },
        (ShopRequest::CreateOrder { .. } | ShopRequest::CreatePayment { .. }, Stage::Payments) => {
            match failed {
                Some(status) => {
                    edge.observe_upstream(UPSTREAM_PAYMENTS, false);
                    return Next::Done(status);
                }
                None => Stage::Gateway,
            }
        }
        (ShopRequest::CreatePayment { .. }, Stage::Entry) => match failed {
            Some(status) => return Next::Done(status),
            None => Stage::Gateway,
        },
        (ShopRequest::CreateOrder { product_id, quantity }, Stage::Gateway) => {
            edge.observe_upstream(UPSTREAM_GATEWAY, failed.is_none());
            edge.observe_upstream(UPSTREAM_PAYMENTS, failed.is_none());
            if let Some(status) = failed {
                return Next::Done(status);
            }
            let payment_id = state.next_payment_id();
            let price = CATALOG.iter().find(|p| p.id == product_id).map_or(0, |p| p.price_cents);
            state.store_order(product_id, quantity, price * u64::from(quantity), payment_id);
            return Next::Done(201);
        }
        (ShopRequest::CreatePayment { .. }, Stage::Gateway) => {
            edge.observe_upstream(UPSTREAM_GATEWAY, failed.is_none());
            if let Some(status) = failed {
                return Next::Done(status);
            }
            let _ = state.next_payment_id();
            return Next::Done(201);
        }
        // No other stage is ever entered for these requests.
        (_, _) => return Next::Done(500),
    };
    f.stage = next_stage;
    let plan = match next_stage {
        Stage::Payments => state.plan(Step::Service(Service::Payments), false),
        _ => state.plan(Step::Gateway, false),
    };
    f.failure = plan.failure;
    Next::Step(plan)
}

/// The status an error is answered with.
pub(super) fn status(error: &ApiError) -> u16 {
    error.status().as_u16()
}
