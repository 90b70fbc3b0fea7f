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
