//! Each client against an in-process server answering in the service's own shapes (taken
//! from Prometheus' `/api/v1`, Alertmanager's API v2 and the alert sink's `/notifications`):
//! the typed answers, the query each sends, and one-line errors naming the URL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use stack_client::{AlertSink, Alertmanager, ApiError, Prometheus};

/// Serves `app` on a free loopback port; returns its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn http() -> reqwest::Client {
    stack_client::http_client(Duration::from_secs(5)).expect("client")
}

/// The query strings a route was asked with.
type Seen = Arc<Mutex<Vec<String>>>;

fn recording(seen: &Seen, answer: serde_json::Value) -> axum::routing::MethodRouter {
    let seen = seen.clone();
    get(move |RawQuery(q): RawQuery| {
        seen.lock().expect("lock").push(q.unwrap_or_default());
        let answer = answer.clone();
        async move { axum::Json(answer) }
    })
}

#[tokio::test]
async fn prometheus_answers_are_typed_and_its_errors_are_one_line() {
    let seen = Seen::default();
    let vector = serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "up", "node": "3"}, "value": [1767225600.5, "1"]}]}});
    let matrix = serde_json::json!({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"alertname": "HighCPUUsage", "alertstate": "firing", "node": "3"},
         "values": [[1767225600, "1"], [1767225601, "1"]]}]}});
    let alerts = serde_json::json!({"status": "success", "data": {"alerts": [
        {"labels": {"alertname": "HighCPUUsage", "node": "3"}, "annotations": {}, "state": "firing",
         "activeAt": "2026-01-01T00:00:00Z", "value": "9.7e-01"}]}});
    let query_seen = seen.clone();
    let app = axum::Router::new()
        .route(
            "/api/v1/query",
            get(move |RawQuery(q): RawQuery| {
                let q = q.unwrap_or_default();
                query_seen.lock().expect("lock").push(q.clone());
                let answer = if q.contains("%5B") { matrix.clone() } else { vector.clone() };
                async move {
                    if q.contains("broken") {
                        let body = serde_json::json!({"status": "error", "errorType": "bad_data",
                                                      "error": "1:7: parse error: unexpected end of input"});
                        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
                    }
                    axum::Json(answer).into_response()
                }
            }),
        )
        .route("/api/v1/alerts", recording(&seen, alerts))
        .route("/api/v1/targets", recording(&seen, serde_json::json!({"status": "success", "data": {}})))
        .route("/api/v1/query_range", recording(&seen, serde_json::json!({"status": "success", "data": {
            "resultType": "matrix", "result": [{"metric": {"node": "3"}, "values": [[1767225600, "0.5"]]}]}})))
        .route("/api/v1/rules", recording(&seen, serde_json::json!({"status": "success", "data": {"groups": [
            {"name": "edge-node-alerts", "file": "/etc/prometheus/rules/alerts.yml", "interval": 0.5, "rules": [
                {"name": "HighCPUUsage", "type": "alerting", "query": "x > 0.9", "health": "ok"},
                {"name": "node:edge_cpu:ratio", "type": "recording", "query": "x", "health": "ok"}]}]}})));
    let url = serve(app).await;
    let prometheus = Prometheus::new(http(), &format!("{url}/"));

    let up = prometheus.query("up", Some(1767225600.5)).await.expect("vector");
    assert_eq!((up[0].metric["node"].as_str(), up[0].number()), ("3", Some(1.0)));
    let raw = prometheus.raw("ALERTS", 1767225590.0, 1767225601.0).await.expect("matrix");
    assert_eq!(raw[0].1, vec![(1767225600.0, 1.0), (1767225601.0, 1.0)]);
    let firing = prometheus.alerts().await.expect("alerts");
    assert_eq!(
        (firing[0].labels["alertname"].as_str(), firing[0].state.as_str()),
        ("HighCPUUsage", "firing")
    );
    {
        let seen = seen.lock().expect("lock");
        assert_eq!(seen[0], "query=up&time=1767225600.500", "the query and its time");
        assert_eq!(
            seen[1], "query=ALERTS%5B11000ms%5D&time=1767225601.000",
            "a range selector over the window"
        );
    }

    let err = prometheus.query("broken(", None).await.expect_err("bad query");
    assert_eq!(
        err.to_string(),
        format!("{url}/api/v1/query: 400: 1:7: parse error: unexpected end of input"),
        "Prometheus' own message, one line"
    );
    let err = prometheus.targets().await.expect_err("no activeTargets");
    assert!(matches!(err, ApiError::BadAnswer { .. }) && err.to_string().contains("activeTargets"), "{err}");
}

#[tokio::test]
async fn alertmanager_is_asked_for_the_alerts_that_would_notify_and_the_sink_for_its_newest() {
    let seen = Seen::default();
    let held = serde_json::json!([{"labels": {"alertname": "NodeDown", "node": "7"},
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}, "startsAt": "2026-01-01T00:00:00Z"}]);
    let notices = serde_json::json!([{"received_at": 1767225600.25, "status": "firing", "alertname": "NodeDown",
        "node": "7", "receiver": "pager"}]);
    let app = axum::Router::new()
        .route("/api/v2/alerts", recording(&seen, held))
        .route("/notifications", recording(&seen, notices));
    let url = serve(app).await;
    let alerts = Alertmanager::new(http(), &url).active_alerts().await.expect("alerts");
    assert_eq!((alerts[0].labels["node"].as_str(), alerts[0].status.state.as_str()), ("7", "active"));
    let got = AlertSink::new(http(), &url).notifications(1000).await.expect("notices");
    assert_eq!((got[0].alertname.as_str(), got[0].node.as_deref()), ("NodeDown", Some("7")));
    assert_eq!(*seen.lock().expect("lock"), ["active=true&silenced=false&inhibited=false", "limit=1000"]);
}

#[tokio::test]
async fn nothing_listening_is_unreachable_naming_the_url() {
    let closed = test_support::ports::ClosedPort::new();
    let url = closed.url();
    let err = Alertmanager::new(http(), &url).active_alerts().await.expect_err("closed");
    assert_eq!(err, ApiError::Unreachable { url: format!("{url}/api/v2/alerts") });
    assert_eq!(err.to_string(), format!("{url}/api/v2/alerts: cannot connect"));
}
