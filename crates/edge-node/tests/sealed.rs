//! Sealed faults (blind drills): applied like any other, hidden from every surface a
//! learner reads (`GET /inject`, the fault gauges and counters, the fault and access log
//! lines, error bodies), visible with the drill's key, and ended by a learner's clear.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use test_support::logs::Capture;
use tracing_subscriber::EnvFilter;

const KEY: &str = "drill-key-0123456789";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("rt")
}

#[test]
fn a_sealed_error_burst_fails_requests_but_names_itself_nowhere() {
    let capture = Capture::default();
    let subscriber = edge_node::logging::json_subscriber(capture.make_writer(), EnvFilter::new("info"));
    let _guard = tracing::subscriber::set_default(subscriber);
    runtime().block_on(async {
        let (_, app) = quiet_node(5);
        let started = inject(
            &app,
            &format!(r#"{{"failure":"error_burst","duration_s":30,"intensity":1.0,"seal":"{KEY}"}}"#),
        )
        .await;
        let id = started["id"].as_u64().expect("id");

        // Applied: every request fails, as a plain internal error.
        let reply = get(&app, "/api/products").await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(reply.json()["error"], "internal server error");

        // Hidden: the list, the gauges, the counter.
        let list = get(&app, "/inject").await.json();
        assert_eq!(list["faults"].as_array().map(Vec::len), Some(0), "{list}");
        let text = metrics(&app).await;
        assert_eq!(sum(&text, "edge_fault_active", &[]), 0.0, "no gauge names it");
        assert_eq!(sum(&text, "edge_fault_injections_total", &[]), 0.0, "nor the counter");
        assert!(sum(&text, "edge_http_requests_total", &[r#"status="500""#]) >= 1.0, "the symptom is real");

        // Visible with the key, and only with it.
        let sealed = get(&app, &format!("/inject?seal={KEY}")).await.json();
        assert_eq!(sealed["faults"][0]["failure"], "error_burst");
        assert_eq!(sealed["faults"][0]["ended_at"], serde_json::Value::Null);
        let other = get(&app, "/inject?seal=another-key-0123456789").await.json();
        assert_eq!(other["faults"].as_array().map(Vec::len), Some(0));
        assert_eq!(get(&app, "/inject?seal=short").await.status, StatusCode::BAD_REQUEST);

        // Deleting by id without the key is as if the id did not exist.
        assert_eq!(delete(&app, &format!("/inject/{id}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(get(&app, "/api/products").await.status, StatusCode::INTERNAL_SERVER_ERROR);

        // A learner's clear of the node ends it; the answer does not name it; the key sees when.
        tokio::time::advance(Duration::from_secs(2)).await;
        let cleared = delete(&app, "/inject").await.json();
        assert_eq!(cleared["faults"].as_array().map(Vec::len), Some(0), "{cleared}");
        assert_eq!(get(&app, "/api/products").await.status, StatusCode::OK);
        let sealed = get(&app, &format!("/inject?seal={KEY}")).await.json();
        assert_eq!(sealed["faults"][0]["end_reason"], "cleared");
        let ended = sealed["faults"][0]["ended_at"].as_f64().expect("ended");
        let began = sealed["faults"][0]["started_at"].as_f64().expect("started");
        assert!((2.0..2.5).contains(&(ended - began)), "{sealed}");
        assert_eq!(sealed["faults"][0]["remaining_s"], 0.0);
    });
    let logs = capture.text();
    assert!(logs.contains("\"status\":500"), "request lines are logged: {logs}");
    for word in ["error_burst", "fault_started", "fault_ended", "injected"] {
        assert!(!logs.contains(word), "`{word}` in the logs:\n{logs}");
    }
}

#[test]
fn a_sealed_crash_answers_a_plain_503_and_ends_with_its_key() {
    runtime().block_on(async {
        let (_, app) = quiet_node(2);
        let started =
            inject(&app, &format!(r#"{{"failure":"node_crash","duration_s":30,"seal":"{KEY}"}}"#)).await;
        let reply = get(&app, "/metrics").await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!reply.body.contains("crash") && !reply.body.contains("inject"), "{}", reply.body);
        let id = started["id"].as_u64().expect("id");
        let ended = delete(&app, &format!("/inject/{id}?seal={KEY}")).await;
        assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
        assert_eq!(get(&app, "/metrics").await.status, StatusCode::OK);
        let sealed = get(&app, &format!("/inject?seal={KEY}")).await.json();
        assert_eq!(sealed["faults"][0]["end_reason"], "cleared");
    });
}

#[test]
fn a_sealed_fault_expires_on_time_and_a_learners_fault_of_the_same_mode_does_not_name_it() {
    runtime().block_on(async {
        let (_, app) = quiet_node(3);
        inject(&app, &format!(r#"{{"failure":"cpu_spike","duration_s":5,"seal":"{KEY}"}}"#)).await;
        tokio::time::advance(Duration::from_secs(1)).await;
        let text = metrics(&app).await;
        assert!(sample(&text, "edge_cpu_utilization_ratio").expect("cpu") > 0.9, "applied");
        let mine = inject(&app, r#"{"failure":"cpu_spike","duration_s":5}"#).await;
        assert_eq!(mine["replaced"], serde_json::Value::Null, "{mine}");
        let sealed = get(&app, &format!("/inject?seal={KEY}")).await.json();
        assert_eq!(sealed["faults"][0]["end_reason"], "replaced");

        let (_, app) = quiet_node(4);
        inject(&app, &format!(r#"{{"failure":"memory_leak","duration_s":5,"seal":"{KEY}"}}"#)).await;
        tokio::time::advance(Duration::from_secs(6)).await;
        let sealed = get(&app, &format!("/inject?seal={KEY}")).await.json();
        assert_eq!(sealed["faults"][0]["end_reason"], "expired", "{sealed}");
        let v = &sealed["faults"][0];
        let (a, b) = (v["ended_at"].as_f64().expect("e"), v["expires_at"].as_f64().expect("x"));
        assert!(a >= b && a - b < 1.5, "{sealed}");
        for bad in [
            r#"{"failure":"cpu_spike","duration_s":5,"seal":"x y"}"#,
            r#"{"failure":"cpu_spike","duration_s":5,"start_in_s":3}"#,
            r#"{"failure":"cpu_spike","duration_s":5,"seal":"drill-key-0123456789","start_in_s":601}"#,
        ] {
            assert_eq!(post_json(&app, "/inject", bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        assert_eq!(get(&app, "/inject").await.json()["faults"].as_array().map(Vec::len), Some(0));
    });
}

#[test]
fn a_sealed_fault_with_a_start_delay_begins_later() {
    runtime().block_on(async {
        let (_, app) = quiet_node(6);
        let body = format!(r#"{{"failure":"node_crash","duration_s":5,"seal":"{KEY}","start_in_s":10}}"#);
        let started = inject(&app, &body).await;
        let (s, x) = (started["started_at"].as_f64().expect("s"), started["expires_at"].as_f64().expect("x"));
        assert!((x - s - 5.0).abs() < 1e-3, "{started}");
        assert_eq!(get(&app, "/api/products").await.status, StatusCode::OK, "not yet");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(get(&app, "/api/products").await.status, StatusCode::SERVICE_UNAVAILABLE, "now");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(get(&app, "/api/products").await.status, StatusCode::OK, "over");
        assert_eq!(get(&app, "/inject").await.json()["faults"].as_array().map(Vec::len), Some(0));
    });
}
