//! The cross-site rule of the workspace's services: no request a browser sends on behalf of
//! another site may change state.
//!
//! Binding to 127.0.0.1 is not a browser boundary: any page the user opens can make the
//! browser send "simple" requests (form posts, `fetch` with `mode: "no-cors"`) to a local
//! service without a CORS preflight. Browsers mark those requests, so every state-changing
//! request (POST, PUT, PATCH, DELETE) is refused when
//!
//! - `Sec-Fetch-Site` is present and is neither `same-origin` nor `none`: the browser itself
//!   says the request comes from another site, or from another origin of the same site (a
//!   page on another port of 127.0.0.1 is `same-site`);
//! - `Origin` is present and is not the service's own origin, `null` included: older
//!   browsers send no `Sec-Fetch-Site`, but every current one sends `Origin` on a
//!   cross-origin POST;
//! - `Content-Type` is present and is not `application/json`: the only content types a page
//!   may send cross-site without a preflight are form and text types, so this also stops a
//!   browser that sends neither header.
//!
//! Clients that are not browsers (curl, the `inject` CLI, Alertmanager's webhooks, scripts)
//! send neither `Origin` nor `Sec-Fetch-Site`, and JSON bodies as `application/json` or no
//! body at all, so they are unaffected. Reads (GET, HEAD, OPTIONS, TRACE) pass: they change
//! nothing, and without CORS headers a page cannot read the answers.
//!
//! Not covered: DNS rebinding (a hostile name resolving to 127.0.0.1 makes the page's
//! requests same-origin); that needs an allow-list of host names.

use http::{HeaderMap, HeaderValue, Method, header};

/// The `Sec-Fetch-Site` header (not among `http`'s constants).
pub const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// Why a request was refused; each service answers it in its own error format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A browser sent it on behalf of another site (403): which header said so.
    CrossSite(String),
    /// A body that is not `application/json` (415).
    NotJson,
}

/// Whether a request with this method and these headers may go on. `authority` is the
/// request URI's authority, used when there is no `Host` header (HTTP/2).
pub fn check(method: &Method, headers: &HeaderMap, authority: Option<&str>) -> Result<(), Refusal> {
    if !changes_state(method) {
        return Ok(());
    }
    for site in headers.get_all(SEC_FETCH_SITE) {
        let site = site.to_str().unwrap_or_default().trim().to_ascii_lowercase();
        if site != "same-origin" && site != "none" {
            return Err(Refusal::CrossSite(format!("Sec-Fetch-Site: {}", truncate(&site))));
        }
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or(authority);
    for origin in headers.get_all(header::ORIGIN) {
        if !is_own_origin(origin, host) {
            return Err(Refusal::CrossSite(format!("Origin: {}", truncate(origin.to_str().unwrap_or("?")))));
        }
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE)
        && !is_json(content_type)
    {
        return Err(Refusal::NotJson);
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
    let uri = http::uri::Authority::try_from(authority).ok()?;
    // An origin has no user info or path; an authority with user info is not one.
    if uri.as_str().contains('@') {
        return None;
    }
    Some((uri.host().to_ascii_lowercase(), uri.port_u16().unwrap_or(default_port)))
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
