//! The shop's route table: the one source for the router, the `route` label and the
//! pre-created error counters. Plain data (no handlers), so the metrics and the RED
//! middleware can read it without depending on the shop.

use edge_sim::Service;

/// One route of the shop.
#[derive(Debug, Clone, Copy)]
pub struct ApiRoute {
    /// The route template (also the `route` label).
    pub path: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The service that owns it.
    pub service: Service,
}

/// The `route` label of paths no route matched (so junk paths cannot grow the registry).
pub const UNMATCHED: &str = "unmatched";

/// Every shop route.
pub const ROUTES: [ApiRoute; 5] = [
    ApiRoute { path: "/api/products", method: "GET", service: Service::Products },
    ApiRoute { path: "/api/products/{id}", method: "GET", service: Service::Products },
    ApiRoute { path: "/api/orders", method: "POST", service: Service::Orders },
    ApiRoute { path: "/api/orders/{id}", method: "GET", service: Service::Orders },
    ApiRoute { path: "/api/payments", method: "POST", service: Service::Payments },
];

/// The route whose template is `path`, if it is a shop route.
pub fn route(path: &str) -> Option<&'static ApiRoute> {
    ROUTES.iter().find(|r| r.path == path)
}
