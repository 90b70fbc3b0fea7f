//! The alert sink's router, driven in-process.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn sink(capacity: usize) -> Router {
    let runbooks = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/runbooks");
    alert_sink::app(alert_sink::SinkState::new(
        capacity,
        runbooks,
        alert_sink::Links::new("http://grafana.test").expect("http"),
    ))
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, String) {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String) {
    call(app, Request::get(uri).body(Body::empty()).expect("req")).await
}

async fn post(app: &Router, body: &str) -> (StatusCode, String) {
    let req = Request::post("/webhook")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("req");
    call(app, req).await
}

/// A webhook body as Alertmanager 0.25 sends it.
fn payload(receiver: &str, status: &str, alertname: &str, node: &str) -> String {
    serde_json::json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"x\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": { "alertname": alertname, "node": node },
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": status,
            "labels": { "alertname": alertname, "node": node, "severity": "critical", "region": "eu-west" },
            "annotations": {
                "summary": format!("Edge node {node} is down"),
                "description": "<script>alert(1)</script>",
                "runbook_url": format!("http://localhost:9095/runbooks/{alertname}")
            },
            "startsAt": "2026-11-21T10:00:00.000Z",
            "endsAt": if status == "resolved" { "2026-11-21T10:01:00.000Z" } else { "0001-01-01T00:00:00Z" },
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "abc"
        }]
    })
    .to_string()
}

#[tokio::test]
async fn notifications_are_stored_counted_and_listed_newest_first() {
    let app = sink(100);
    assert_eq!(post(&app, &payload("pager", "firing", "NodeDown", "3")).await.0, StatusCode::OK);
    assert_eq!(post(&app, &payload("ticket-queue", "firing", "HighCPUUsage", "4")).await.0, StatusCode::OK);
    assert_eq!(post(&app, &payload("pager", "resolved", "NodeDown", "3")).await.0, StatusCode::OK);

    let (_, body) = get(&app, "/notifications").await;
    let list: serde_json::Value = serde_json::from_str(&body).expect("json");
    let names: Vec<(&str, &str)> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|n| (n["alertname"].as_str().unwrap_or(""), n["status"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(names, vec![("NodeDown", "resolved"), ("HighCPUUsage", "firing"), ("NodeDown", "firing")]);
    assert_eq!(list[0]["ends_at"], "2026-11-21T10:01:00.000Z");
    assert_eq!(list[1]["ends_at"], serde_json::Value::Null);

    let (_, body) = get(&app, "/notifications?receiver=pager&status=firing&node=3").await;
    let filtered: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(filtered.as_array().map(Vec::len), Some(1));
    assert_eq!(get(&app, "/notifications?colour=red").await.0, StatusCode::BAD_REQUEST);

    let (_, metrics) = get(&app, "/metrics").await;
    assert!(metrics.contains(
        r#"alert_sink_notifications_total{receiver="pager",status="firing",alertname="NodeDown",severity="critical"} 1"#
    ));
}

#[tokio::test]
async fn the_store_is_bounded() {
    let app = sink(2);
    for node in ["1", "2", "3"] {
        post(&app, &payload("pager", "firing", "NodeDown", node)).await;
    }
    let (_, body) = get(&app, "/notifications").await;
    let list: serde_json::Value = serde_json::from_str(&body).expect("json");
    let nodes: Vec<&str> =
        list.as_array().expect("array").iter().filter_map(|n| n["node"].as_str()).collect();
    assert_eq!(nodes, vec!["3", "2"]);
}

#[tokio::test]
async fn malformed_webhooks_are_refused_with_json_and_counted() {
    let app = sink(10);
    for body in ["", "{", r#"{"receiver": 1}"#, r#"{"alerts": []}"#] {
        let (status, text) = post(&app, body).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(serde_json::from_str::<serde_json::Value>(&text).expect("json")["error"].is_string());
    }
    assert!(get(&app, "/metrics").await.1.contains("alert_sink_rejected_total 4"));
    assert_eq!(get(&app, "/notifications").await.1, "[]");
}

#[tokio::test]
async fn the_page_reads_like_an_on_call_channel_and_escapes_what_it_shows() {
    let app = sink(10);
    assert!(get(&app, "/").await.1.contains("No notifications yet"));
    post(&app, &payload("pager", "firing", "NodeDown", "3")).await;
    post(&app, &payload("pager", "resolved", "NodeDown", "3")).await;
    let (status, html) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    let resolved = html.find(r#"<li class="resolved""#).expect("resolved row");
    let firing = html.find(r#"<li class="firing""#).expect("firing row");
    assert!(resolved < firing, "newest first");
    assert!(html.contains(r#"<a href="http://localhost:9095/runbooks/NodeDown">runbook</a>"#));
    assert!(html.contains(r#"href="http://grafana.test/d/edge-node-detail/edge-node?var-node=3""#));
    assert!(!html.contains("<script>"), "annotations are escaped");
}

#[tokio::test]
async fn runbooks_are_served_by_alert_name_only() {
    let app = sink(10);
    let (status, text) = get(&app, "/runbooks/NodeDown").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.starts_with("# NodeDown"), "{text}");
    assert_eq!(get(&app, "/runbooks/Nope").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/runbooks/..%2F..%2FCargo.toml").await.0, StatusCode::BAD_REQUEST);
}

/// A webhook body of one alert per `(labels, annotations)`, with `generatorURL` `source`.
fn custom(alerts: &[(serde_json::Value, serde_json::Value)], source: &str) -> String {
    let alerts: Vec<serde_json::Value> = alerts
        .iter()
        .map(|(labels, annotations)| {
            serde_json::json!({
                "status": "firing", "labels": labels, "annotations": annotations,
                "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": source
            })
        })
        .collect();
    serde_json::json!({ "version": "4", "status": "firing", "receiver": "pager", "alerts": alerts })
        .to_string()
}

#[tokio::test]
async fn only_http_links_are_rendered() {
    let app = sink(10);
    for url in ["javascript:alert(1)", "JavaScript:alert(2)", " javascript:alert(3)", "java\tscript:alert(4)"]
    {
        let labels = serde_json::json!({ "alertname": "NodeDown", "node": "javascript:alert(5)" });
        let annotations = serde_json::json!({ "runbook_url": url, "summary": "s" });
        assert_eq!(post(&app, &custom(&[(labels, annotations)], url)).await.0, StatusCode::OK);
    }
    let (_, html) = get(&app, "/").await;
    assert_eq!(html.matches("<li class=\"firing\"").count(), 4, "{html}");
    assert!(!html.to_ascii_lowercase().contains("href=\"javascript"), "{html}");
    assert!(!html.contains("href=\" javascript") && !html.contains("script:alert(4)\""), "{html}");
    assert!(!html.contains(">runbook<") && !html.contains(">source<") && !html.contains(">dashboard<"));

    let labels = serde_json::json!({ "alertname": "NodeDown", "node": "7" });
    let annotations = serde_json::json!({ "runbook_url": "https://runbooks.example/NodeDown" });
    post(&app, &custom(&[(labels, annotations)], "http://prometheus:9090/graph?g0.expr=up")).await;
    let (_, html) = get(&app, "/").await;
    assert!(html.contains(r#"<a href="https://runbooks.example/NodeDown">runbook</a>"#), "{html}");
    assert!(html.contains(r#"<a href="http://prometheus:9090/graph?g0.expr=up">source</a>"#), "{html}");
    assert!(html.contains(r#"<a href="http://grafana.test/d/edge-node-detail/edge-node?var-node=7">"#));
}

#[tokio::test]
async fn every_value_is_escaped_labels_included() {
    let app = sink(10);
    let labels = serde_json::json!({
        "alertname": "<script>alert(1)</script>", "node": "<b>3</b>",
        "severity": "\"><script>", "region": "<script>alert(2)</script>"
    });
    let annotations =
        serde_json::json!({ "summary": "<img src=x onerror=alert(3)>", "description": "&<>'\"" });
    assert_eq!(post(&app, &custom(&[(labels, annotations)], "")).await.0, StatusCode::OK);
    let (_, html) = get(&app, "/").await;
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<b>3"), "{html}");
    // Askama escapes with numeric character references.
    assert!(html.contains("data-alertname=\"&#60;script&#62;alert(1)&#60;/script&#62;\""), "{html}");
    assert!(html.contains("region=&#60;script&#62;alert(2)&#60;/script&#62;"), "{html}");
    assert!(html.contains("<div>&#38;&#60;&#62;&#39;&#34;</div>"), "{html}");
}

#[tokio::test]
async fn ten_thousand_alert_names_do_not_make_ten_thousand_series() {
    let app = sink(100);
    for batch in 0..10 {
        let alerts: Vec<_> = (0..1000)
            .map(|i| {
                (serde_json::json!({ "alertname": format!("Invented{batch}x{i}") }), serde_json::json!({}))
            })
            .collect();
        assert_eq!(post(&app, &custom(&alerts, "")).await.0, StatusCode::OK);
    }
    let (_, metrics) = get(&app, "/metrics").await;
    let series: Vec<&str> =
        metrics.lines().filter(|l| l.starts_with("alert_sink_notifications_total{")).collect();
    assert_eq!(series.len(), alert_sink::bounds::MAX_ALERTNAMES + 1, "the first names and `other`");
    assert!(
        series.iter().any(|l| l.contains("alertname=\"other\"") && l.ends_with(" 9800")),
        "everything past the cap is counted as other: {:?}",
        series.last()
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_json() {
    let app = sink(10);
    let (status, text) = post(&app, &"x".repeat(alert_sink::MAX_BODY + 1)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(serde_json::from_str::<serde_json::Value>(&text).expect("json")["error"].is_string(), "{text}");
}

/// What Chromium sends for a page's `fetch(url, {method: "POST", mode: "no-cors", body})`
/// to the sink from another site, and for a cross-site form post.
#[tokio::test]
async fn a_page_on_another_site_cannot_post_alerts_through_the_browser() {
    let app = sink(10);
    let body = payload("pager", "firing", "NodeDown", "3");
    let attempts: [&[(&str, &str)]; 3] = [
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
            ("content-type", "text/plain;charset=UTF-8"),
        ],
        &[
            ("origin", "http://127.0.0.1:3000"),
            ("sec-fetch-site", "same-site"),
            ("content-type", "application/json"),
        ],
        &[("content-type", "application/x-www-form-urlencoded")],
    ];
    for headers in attempts {
        let mut req = Request::post("/webhook").header(header::HOST, "127.0.0.1:19095");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let (status, text) = call(&app, req.body(Body::from(body.clone())).expect("request")).await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{headers:?}: {status}"
        );
        assert!(serde_json::from_str::<serde_json::Value>(&text).expect("json")["error"].is_string());
    }
    assert_eq!(get(&app, "/notifications").await.1, "[]", "nothing was stored");
    // Alertmanager: JSON, no Origin, no Sec-Fetch-Site.
    assert_eq!(post(&app, &body).await.0, StatusCode::OK);
}
