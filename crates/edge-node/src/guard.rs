//! The cross-site guard: no request a browser sends on behalf of another site may start,
//! change or end a fault, or create orders or payments.
//!
//! Binding to 127.0.0.1 is not a browser boundary: any page the user opens can make the
//! browser send "simple" requests (form posts, `fetch` with `mode: "no-cors"`) to the
//! node without a CORS preflight. Browsers mark those requests, so every state-changing
//! request (POST, PUT, PATCH, DELETE) is refused when
//!
//! - `Sec-Fetch-Site` is present and is neither `same-origin` nor `none` (403): the
//!   browser itself says the request comes from another site, or from another origin
//!   of the same site (a page on another port of 127.0.0.1 is `same-site`);
//! - `Origin` is present and is not this node's own origin, `null` included (403):
//!   older browsers send no `Sec-Fetch-Site`, but every current one sends `Origin` on a
//!   cross-origin POST;
//! - `Content-Type` is present and is not `application/json` (415): the only content
//!   types a page may send cross-site without a preflight are form and text types, so
//!   this also stops a browser that sends neither header.
//!
//! Clients that are not browsers (curl, the `inject` CLI, scripts, the built-in traffic)
//! send neither `Origin` nor `Sec-Fetch-Site`, and send JSON bodies as
//! `application/json` or no body at all (the seed's `POST /inject?mode=...&duration=...`),
//! so they are unaffected. Reads (GET, HEAD, OPTIONS) pass: they change nothing, and
//! without CORS headers a page cannot read the answers.
//!
//! Not covered: DNS rebinding (a hostile name resolving to 127.0.0.1 makes the page's
//! requests same-origin); that needs an allow-list of host names.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The `Sec-Fetch-Site` header (not among `http`'s constants).
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// The middleware.
pub async fn same_origin_only(request: Request, next: Next) -> Response {
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    if let Err(refusal) = check(request.method(), request.headers(), authority.as_deref()) {
        tracing::warn!(
            event = "cross_site_refused",
            method = %request.method(),
            path = request.uri().path(),
            origin = header_str(request.headers().get(header::ORIGIN)),
            sec_fetch_site = header_str(request.headers().get(SEC_FETCH_SITE)),
            content_type = header_str(request.headers().get(header::CONTENT_TYPE)),
            "refused a request that may come from another site"
        );
        return refusal.into_response();
    }
    next.run(request).await
}

/// Whether a request with this method and these headers may go on. `authority` is the
/// request URI's authority, used when there is no `Host` header (HTTP/2).
pub fn check(method: &Method, headers: &HeaderMap, authority: Option<&str>) -> Result<(), ApiError> {
    if !changes_state(method) {
        return Ok(());
    }
    for site in headers.get_all(SEC_FETCH_SITE) {
        let site = site.to_str().unwrap_or_default().trim().to_ascii_lowercase();
        if site != "same-origin" && site != "none" {
            return Err(refused(&format!("Sec-Fetch-Site: {}", truncate(&site))));
        }
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or(authority);
    for origin in headers.get_all(header::ORIGIN) {
        if !is_own_origin(origin, host) {
            return Err(refused(&format!("Origin: {}", truncate(origin.to_str().unwrap_or("?")))));
        }
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE)
        && !is_json(content_type)
    {
        return Err(ApiError::UnsupportedMediaType(
            "requests that change the node take application/json bodies (or no body and no content type)"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Whether a `Content-Type` value is JSON (`application/json`, any parameters).
pub fn is_json(content_type: &HeaderValue) -> bool {
    content_type
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

fn refused(what: &str) -> ApiError {
    ApiError::Forbidden(format!(
        "cross-site request refused ({what}): only same-origin requests and clients that are not \
         browsers (curl, inject) may change the node"
    ))
}

/// Whether `origin` (`scheme://host[:port]`) names the host and port the request was
/// sent to. Default ports are implied by the scheme; `null` is never our own. The scheme
/// itself is not compared: behind a TLS proxy the node cannot know its own, and one port
/// cannot serve a page over both.
fn is_own_origin(origin: &HeaderValue, host: Option<&str>) -> bool {
    let (Ok(origin), Some(host)) = (origin.to_str(), host) else {
        return false;
    };
    let Some((scheme, origin_authority)) = origin.trim().split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return false,
    };
    match (host_port(origin_authority, default_port), host_port(host.trim(), default_port)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Splits `host[:port]` (IPv6 in brackets) into a lowercase host and a port.
fn host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let uri = axum::http::uri::Authority::try_from(authority).ok()?;
    // An origin has no user info or path; an authority with user info is not one.
    if uri.as_str().contains('@') {
        return None;
    }
    Some((uri.host().to_ascii_lowercase(), uri.port_u16().unwrap_or(default_port)))
}

fn header_str(value: Option<&HeaderValue>) -> Option<String> {
    value.map(|v| truncate(v.to_str().unwrap_or("(not text)")))
}

/// Echoed header values are cut short so a refusal cannot be made arbitrarily large.
fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin_matches(origin: &str, host: &str) -> bool {
        is_own_origin(&HeaderValue::from_str(origin).expect("value"), Some(host))
    }

    #[test]
    fn an_origin_is_our_own_only_with_the_same_host_and_port() {
        assert!(origin_matches("http://127.0.0.1:8003", "127.0.0.1:8003"));
        assert!(origin_matches("http://LOCALHOST:8003", "localhost:8003"));
        assert!(origin_matches("http://localhost", "localhost:80"));
        assert!(origin_matches("http://[::1]:8003", "[::1]:8003"));
        for (origin, host) in [
            ("http://127.0.0.1:3000", "127.0.0.1:8003"),
            ("http://localhost:8003", "127.0.0.1:8003"),
            ("https://evil.example", "127.0.0.1:8003"),
            ("null", "127.0.0.1:8003"),
            ("file://", "127.0.0.1:8003"),
            ("http://user@127.0.0.1:8003", "127.0.0.1:8003"),
            ("http://127.0.0.1:8003.evil.example", "127.0.0.1:8003"),
        ] {
            assert!(!origin_matches(origin, host), "{origin} vs {host}");
        }
    }

    #[test]
    fn reads_pass_whatever_they_carry() {
        let mut headers = HeaderMap::new();
        headers.insert(SEC_FETCH_SITE, HeaderValue::from_static("cross-site"));
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(check(&method, &headers, None).is_ok(), "{method}");
        }
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(check(&method, &headers, None).is_err(), "{method}");
        }
    }
}
