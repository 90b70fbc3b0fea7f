//! Property test: no `/inject` body, however odd, panics the node, gets a 5xx, or
//! changes state when it is refused.

mod common;

use axum::http::StatusCode;
use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn any_json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        (-10.0..4000.0f64).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "cpu_spike",
            "memory_leak",
            "node_crash",
            "error_burst",
            "orders",
            "payments"
        ])
        .prop_map(Value::from),
    ]
}

fn inject_body() -> impl Strategy<Value = String> {
    let structured = (
        prop::option::of(any_json_value()),
        prop::option::of(any_json_value()),
        prop::option::of(any_json_value()),
        prop::option::of(any_json_value()),
        prop::option::of(("[a-z_]{1,8}", any_json_value())),
    )
        .prop_map(|(failure, duration, intensity, service, extra)| {
            let mut object = serde_json::Map::new();
            for (key, value) in [
                ("failure", failure),
                ("duration_s", duration),
                ("intensity", intensity),
                ("service", service),
            ] {
                if let Some(v) = value {
                    object.insert(key.to_owned(), v);
                }
            }
            if let Some((k, v)) = extra {
                object.insert(k, v);
            }
            Value::Object(object).to_string()
        });
    prop_oneof![3 => structured, 1 => ".{0,64}", 1 => any_json_value().prop_map(|v| json!([v]).to_string())]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_inject_bodies_never_break_the_node(body in inject_body()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("runtime");
        rt.block_on(async {
            let (_, app) = quiet_node(1);
            let reply = post_json(&app, "/inject", &body).await;
            let active = get(&app, "/inject").await.json()["faults"].as_array().map_or(0, Vec::len);
            if reply.status == StatusCode::CREATED {
                prop_assert_eq!(active, 1);
                prop_assert!(reply.json()["id"].is_u64());
            } else {
                prop_assert!(reply.status.is_client_error(), "{} for {}", reply.status, body);
                prop_assert!(reply.json()["error"].is_string());
                prop_assert_eq!(active, 0);
            }
            // The node still serves, unless what was accepted was a crash.
            let crashed = reply.status == StatusCode::CREATED && reply.json()["failure"] == "node_crash";
            let health = get(&app, "/healthz").await.status;
            prop_assert_eq!(health, if crashed { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK });
            Ok(())
        })?;
    }
}
