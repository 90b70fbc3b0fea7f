//! The node's cross-site guard: the workspace's rule (`service_kit::cross_site`: no request
//! a browser sends on behalf of another site may change state) as a check on each request,
//! run first by the server's one front middleware, so no page can start, change or end a
//! fault, or create orders or payments, through the browser.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use service_kit::cross_site::{self, Refusal, SEC_FETCH_SITE};

use crate::error::ApiError;

pub use service_kit::cross_site::is_json;

/// The rule on one request (run first by the server's front middleware): `Err` holds the
/// refusal to answer with (and logs it).
pub fn check(request: &Request) -> Result<(), ApiError> {
    let authority = request.uri().authority().map(|a| a.as_str());
    if let Err(refusal) = cross_site::check(request.method(), request.headers(), authority) {
        tracing::warn!(
            event = "cross_site_refused",
            method = %request.method(),
            path = request.uri().path(),
            origin = header_str(request.headers().get(header::ORIGIN)),
            sec_fetch_site = header_str(request.headers().get(SEC_FETCH_SITE)),
            content_type = header_str(request.headers().get(header::CONTENT_TYPE)),
            "refused a request that may come from another site"
        );
        return Err(into_api_error(refusal));
    }
    Ok(())
}

/// The refusal as the node's JSON error.
pub fn into_api_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::CrossSite(what) => ApiError::Forbidden(format!(
            "cross-site request refused ({what}): only same-origin requests and clients that are not \
             browsers (curl, inject) may change the node"
        )),
        Refusal::NotJson => ApiError::UnsupportedMediaType(
            "requests that change the node take application/json bodies (or no body and no content type)"
                .to_owned(),
        ),
    }
}

fn header_str(value: Option<&HeaderValue>) -> Option<String> {
    value.map(|v| v.to_str().unwrap_or("(not text)").chars().take(64).collect())
}
