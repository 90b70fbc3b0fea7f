//! The cross-site guard, fed the exact header sets browsers send. The Chromium sets were
//! captured from Chromium 156 (headless, Debian) submitting a page served from
//! `http://localhost:18431` to a node at `127.0.0.1:18432`; the Firefox sets are Firefox
//! 128's for the same page. Only the ports are changed here.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;

/// The node's authority as the browser addressed it: only a header here (requests go through
/// the router in-process), and not a default node port, so nothing could reach a real fleet.
const NODE: &str = "127.0.0.1:18003";
const CHROME_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36";
const FIREFOX_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CRASH_JSON: &str = r#"{"failure":"node_crash","duration_s":3600}"#;

fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body.to_owned())).expect("request")
}

/// Chromium: `<form method=POST action="http://127.0.0.1:18003/inject?mode=node_crash&duration=3600">`
/// submitted from another site.
fn chrome_cross_site_form() -> Request<Body> {
    request(
        "POST",
        "/inject?mode=node_crash&duration=3600",
        &[
            ("host", NODE),
            ("connection", "keep-alive"),
            ("content-length", "0"),
            ("cache-control", "max-age=0"),
            ("sec-ch-ua", r#""Not:A-Brand";v="8", "Chromium";v="156""#),
            ("sec-ch-ua-mobile", "?0"),
            ("sec-ch-ua-platform", r#""Linux""#),
            ("upgrade-insecure-requests", "1"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("user-agent", CHROME_UA),
            ("origin", "http://localhost:18431"),
            (
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
            ),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "document"),
            ("referer", "http://localhost:18431/"),
            ("accept-encoding", "gzip, deflate, br, zstd"),
            ("accept-language", "en-US,en;q=0.9"),
        ],
        "",
    )
}

/// Chromium: `fetch(url, {method: "POST", mode: "no-cors", body})` from another site; a
/// string body goes as `text/plain;charset=UTF-8`, a `FormData` as multipart.
fn chrome_no_cors_fetch(uri: &str, content_type: &str, body: &str) -> Request<Body> {
    let length = body.len().to_string();
    request(
        "POST",
        uri,
        &[
            ("host", NODE),
            ("connection", "keep-alive"),
            ("content-length", &length),
            ("sec-ch-ua-platform", r#""Linux""#),
            ("user-agent", CHROME_UA),
            ("sec-ch-ua", r#""Not:A-Brand";v="8", "Chromium";v="156""#),
            ("content-type", content_type),
            ("sec-ch-ua-mobile", "?0"),
            ("accept", "*/*"),
            ("origin", "http://localhost:18431"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "no-cors"),
            ("sec-fetch-dest", "empty"),
            ("referer", "http://localhost:18431/"),
            ("accept-encoding", "gzip, deflate, br, zstd"),
            ("accept-language", "en-US,en;q=0.9"),
        ],
        body,
    )
}

/// Firefox: the same cross-site form; `origin` is `null` when the form sits in a
/// sandboxed frame.
fn firefox_cross_site_form(origin: &str) -> Request<Body> {
    request(
        "POST",
        "/inject?mode=node_crash&duration=3600",
        &[
            ("host", NODE),
            ("user-agent", FIREFOX_UA),
            ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            ("accept-language", "en-US,en;q=0.5"),
            ("accept-encoding", "gzip, deflate, br, zstd"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-length", "0"),
            ("origin", origin),
            ("connection", "keep-alive"),
            ("referer", "http://localhost:18431/"),
            ("upgrade-insecure-requests", "1"),
            ("sec-fetch-dest", "document"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-user", "?1"),
            ("priority", "u=0, i"),
        ],
        "",
    )
}

/// Asserts the node is untouched: no fault, no order, no payment, nothing injected.
async fn assert_untouched(app: &Router) {
    assert_eq!(get(app, "/inject").await.json()["faults"], serde_json::json!([]));
    let text = metrics(app).await;
    assert_eq!(sum(&text, "edge_fault_injections_total", &[]), 0.0);
    assert_eq!(sum(&text, "edge_upstream_requests_total", &[]), 0.0, "no payment was attempted");
    assert_eq!(sample(&text, "edge_orders_stored"), Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn what_browsers_send_for_other_sites_changes_nothing() {
    let (_, app) = quiet_node(3);
    let multipart_body = "------WebKitFormBoundary3XhmnJD26nXV3Hk6\r\nContent-Disposition: form-data; \
                          name=\"product_id\"\r\n\r\n1\r\n------WebKitFormBoundary3XhmnJD26nXV3Hk6--\r\n";
    let attacks = [
        ("chrome form", chrome_cross_site_form(), StatusCode::FORBIDDEN),
        (
            "chrome no-cors text",
            chrome_no_cors_fetch("/inject", "text/plain;charset=UTF-8", CRASH_JSON),
            StatusCode::FORBIDDEN,
        ),
        (
            "chrome no-cors multipart order",
            chrome_no_cors_fetch(
                "/api/orders",
                "multipart/form-data; boundary=----WebKitFormBoundary3XhmnJD26nXV3Hk6",
                multipart_body,
            ),
            StatusCode::FORBIDDEN,
        ),
        (
            "chrome no-cors payment",
            chrome_no_cors_fetch("/api/payments", "text/plain;charset=UTF-8", r#"{"amount_cents":100}"#),
            StatusCode::FORBIDDEN,
        ),
        ("firefox form", firefox_cross_site_form("http://localhost:18431"), StatusCode::FORBIDDEN),
        ("firefox sandboxed form", firefox_cross_site_form("null"), StatusCode::FORBIDDEN),
        (
            // A page on another port of the same host (Grafana, a dev server) is same-site.
            "same-site page on another port",
            request(
                "POST",
                "/inject?mode=node_crash&duration=3600",
                &[
                    ("host", NODE),
                    ("origin", "http://127.0.0.1:3000"),
                    ("sec-fetch-site", "same-site"),
                    ("sec-fetch-mode", "no-cors"),
                    ("content-type", "text/plain;charset=UTF-8"),
                ],
                "",
            ),
            StatusCode::FORBIDDEN,
        ),
        (
            // A browser too old to send Origin or Sec-Fetch-*: the form type gives it away.
            "old browser form",
            request(
                "POST",
                "/inject?mode=node_crash&duration=3600",
                &[
                    ("host", NODE),
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("content-length", "0"),
                ],
                "",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "old browser text body",
            request(
                "POST",
                "/api/orders",
                &[("host", NODE), ("content-type", "text/plain"), ("origin", "https://evil.example")],
                r#"{"product_id":1,"quantity":1}"#,
            ),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (name, attack, expected) in attacks {
        let reply = send(&app, attack).await;
        assert_eq!(reply.status, expected, "{name}: {}", reply.body);
        let error: edge_sim::api::ErrorBody = serde_json::from_str(&reply.body).expect("JSON error");
        assert_eq!(error.status, expected.as_u16(), "{name}");
    }
    assert_untouched(&app).await;
}

#[tokio::test(start_paused = true)]
async fn a_cross_site_request_cannot_end_a_fault_or_slip_past_a_crash() {
    let (_, app) = quiet_node(3);
    inject(&app, r#"{"failure":"node_crash","duration_s":60}"#).await;
    for method in ["DELETE", "POST"] {
        let reply =
            send(&app, request(method, "/inject", &[("host", NODE), ("origin", "https://evil.example")], ""))
                .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method}");
    }
    assert_eq!(get(&app, "/inject").await.json()["faults"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(start_paused = true)]
async fn same_origin_pages_and_clients_that_are_not_browsers_keep_working() {
    let (state, app) = quiet_node(3);
    // curl -XPOST 'localhost:18003/inject?mode=error_burst&duration=30' (the seed's form)
    let curl = [("host", NODE), ("user-agent", "curl/8.5.0"), ("accept", "*/*")];
    let seed = send(&app, request("POST", "/inject?mode=error_burst&duration=30", &curl, "")).await;
    assert_eq!(seed.status, StatusCode::CREATED, "{}", seed.body);
    // curl -XPOST localhost:18003/inject -H 'content-type: application/json' -d '{...}'
    let body = r#"{"failure":"cpu_spike","duration_s":30}"#;
    let length = body.len().to_string();
    let mut json_headers = curl.to_vec();
    json_headers.extend([("content-type", "application/json"), ("content-length", length.as_str())]);
    let reply = send(&app, request("POST", "/inject", &json_headers, body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    // Chromium, same-origin fetch (captured): Origin is the node itself.
    let same_origin = request(
        "POST",
        "/api/payments",
        &[
            ("host", NODE),
            ("content-type", "application/json"),
            ("user-agent", CHROME_UA),
            ("accept", "*/*"),
            ("origin", "http://127.0.0.1:18003"),
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-mode", "cors"),
            ("sec-fetch-dest", "empty"),
            ("referer", "http://127.0.0.1:18003/"),
        ],
        r#"{"amount_cents":100}"#,
    );
    let reply = send(&app, same_origin).await;
    assert!(reply.status == StatusCode::CREATED || reply.status == StatusCode::INTERNAL_SERVER_ERROR);
    // A request the user started (typed address, bookmark) is `none`.
    let typed = request(
        "POST",
        "/inject?mode=memory_leak&duration=30",
        &[("host", NODE), ("sec-fetch-site", "none")],
        "",
    );
    assert_eq!(send(&app, typed).await.status, StatusCode::CREATED);
    // curl -XDELETE; the scripts also send their JSON content type on bodiless requests.
    let scripts = request("DELETE", "/inject/1", &[("host", NODE), ("content-type", "application/json")], "");
    assert_eq!(send(&app, scripts).await.status, StatusCode::OK);
    assert_eq!(send(&app, request("DELETE", "/inject", &curl, "")).await.status, StatusCode::OK);

    // The built-in traffic generator's requests are never refused.
    let mut rng = edge_sim::rng::stream(1, edge_sim::rng::Stream::Traffic);
    for _ in 0..300 {
        let reply = send(&app, edge_node::traffic::pick_request(&state, &mut rng)).await;
        assert!(
            reply.status != StatusCode::FORBIDDEN && reply.status != StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{}: {}",
            reply.status,
            reply.body
        );
    }
}
