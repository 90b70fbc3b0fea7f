//! The wire types of a node's `/inject` control API, shared by the node (which serves
//! them) and the CLI (which sends and reads them), so the two can never disagree on a
//! field. Plain serde data: no HTTP here.
//!
//! | request | body sent | answer |
//! |---|---|---|
//! | `POST /inject` | [`InjectRequest`] | `201` [`Started`] |
//! | `GET /inject` | - | `200` [`FaultList`] (the faults active now) |
//! | `DELETE /inject`, `DELETE /inject/{id}` | - | `200` [`FaultList`] (the faults just ended) |
//! | `GET /inject?seal=KEY` | - | `200` [`SealedList`] (the sealed faults started with that key) |
//! | `GET /fleet` | - | `200` [`FleetMembers`] (the nodes of the answering node's process) |
//! | any refusal or failure | - | `4xx`/`5xx` [`ErrorBody`] |
//!
//! A fault injected with a `seal` (a drill's secret key) is *sealed*: the node applies it
//! but hides it from every surface a learner reads (`GET /inject`, the fault gauges and
//! counters, the fault log lines, the access log's `fault` field, error bodies). Only a
//! `GET /inject?seal=KEY` with the same key shows it, with when and how it ended.
//!
//! Times are Unix seconds and durations seconds, both as floats rounded to the
//! millisecond. Fields that are `Option` are always present in what a node sends
//! (`null` when absent); every other field is required when reading.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::{FaultKind, Service};
use crate::fault::{Fault, FaultSpec};

/// The JSON body of `POST /inject`: `{"failure": "cpu_spike", "duration_s": 30}`, with an
/// optional `intensity` and `service`. The seed's names `mode` and `duration` are
/// accepted too; any other field is refused, so a typo cannot be silently ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectRequest {
    /// The failure mode.
    #[serde(alias = "mode")]
    pub failure: FaultKind,
    /// How long it lasts, in seconds (validated by [`FaultSpec::validate`]).
    #[serde(alias = "duration")]
    pub duration_s: f64,
    /// Optional strength; see [`FaultKind::intensity`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intensity: Option<f64>,
    /// Optional target service, for modes that accept one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// A drill's key: the fault is sealed (hidden from everything but this key); see
    /// [`valid_seal`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
    /// Seconds until a sealed fault starts (0-[`MAX_START_IN_S`]), so a drill's learner
    /// cannot tell when it began; only with `seal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_in_s: Option<f64>,
}

/// Longest start delay of a sealed fault: ten minutes.
pub const MAX_START_IN_S: f64 = 600.0;

/// Shortest seal key: long enough that it cannot be guessed from outside.
pub const MIN_SEAL_LEN: usize = 16;
/// Longest seal key.
pub const MAX_SEAL_LEN: usize = 64;

/// Whether `key` is a usable seal: 16-64 characters of `[A-Za-z0-9_-]`.
pub fn valid_seal(key: &str) -> bool {
    (MIN_SEAL_LEN..=MAX_SEAL_LEN).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl From<&InjectRequest> for FaultSpec {
    fn from(r: &InjectRequest) -> Self {
        FaultSpec { kind: r.failure, duration_s: r.duration_s, intensity: r.intensity, service: r.service }
    }
}

impl From<&FaultSpec> for InjectRequest {
    fn from(s: &FaultSpec) -> Self {
        InjectRequest {
            failure: s.kind,
            duration_s: s.duration_s,
            intensity: s.intensity,
            service: s.service,
            seal: None,
            start_in_s: None,
        }
    }
}

/// One node of a fleet: its number and its region (the `node` and `region` target labels).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Node number.
    pub node: u32,
    /// Its region.
    pub region: String,
}

/// The answer of `GET /fleet`: every node the answering node's process runs (a fleet
/// process: all of them; a node in a container of its own: just itself), so the CLI
/// learns what `--node all` and `--region` mean from the fleet that is running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetMembers {
    /// The node that answered.
    pub node: u32,
    /// The nodes of its process, in node order.
    pub nodes: Vec<Member>,
}

/// A fault as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultView {
    /// Unique per node, increasing; the `{id}` of `DELETE /inject/{id}`.
    pub id: u64,
    /// The failure mode.
    pub failure: FaultKind,
    /// The resolved intensity (drawn from the default range if none was given);
    /// `null` for modes that take none.
    pub intensity: Option<f64>,
    /// The target service; `null` means the whole node.
    pub service: Option<Service>,
    /// Unix time it started.
    pub started_at: f64,
    /// Unix time it ends on its own.
    pub expires_at: f64,
    /// Seconds left.
    pub remaining_s: f64,
    /// The alert that should catch it.
    pub expected_alert: String,
}

impl FaultView {
    /// The view of `fault` at model time `now`, on a node that started at Unix time
    /// `started_unix` (model times are offsets from the node's start).
    pub fn new(fault: &Fault, now: Duration, started_unix: f64) -> Self {
        Self {
            id: fault.id,
            failure: fault.kind,
            intensity: fault.intensity,
            service: fault.service,
            started_at: round_ms(started_unix + fault.started_at.as_secs_f64()),
            expires_at: round_ms(started_unix + fault.expires_at.as_secs_f64()),
            remaining_s: round_ms(fault.remaining(now).as_secs_f64()),
            expected_alert: fault.kind.expected_alert().to_owned(),
        }
    }
}

/// Rounds seconds to the millisecond, as every time on the wire is.
pub fn round_ms(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// The answer to `POST /inject` (201): the node, the new fault's fields at the top
/// level, and the id of the fault of the same mode and target it replaced, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    /// The node's number.
    pub node: u32,
    /// The new fault.
    #[serde(flatten)]
    pub fault: FaultView,
    /// The id of the fault it replaced (`null` if none).
    pub replaced: Option<u64>,
}

/// The answer to `GET /inject` (the faults active now) and to `DELETE /inject` and
/// `DELETE /inject/{id}` (the faults those requests ended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultList {
    /// The node's number.
    pub node: u32,
    /// Oldest first.
    pub faults: Vec<FaultView>,
}

/// A sealed fault as `GET /inject?seal=KEY` shows it: the fault, and when and why it
/// ended (`null` while it is active).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedView {
    /// The fault as it was started.
    #[serde(flatten)]
    pub fault: FaultView,
    /// Unix time it ended: expired, cleared (a learner's `DELETE /inject`) or replaced.
    pub ended_at: Option<f64>,
    /// `expired`, `cleared` or `replaced`; `null` while active.
    pub end_reason: Option<String>,
}

/// The answer to `GET /inject?seal=KEY`: the node's sealed faults with that key, oldest
/// first (the node keeps the most recent ones only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedList {
    /// The node's number.
    pub node: u32,
    /// Oldest first.
    pub faults: Vec<SealedView>,
}

/// The body of every refusal and failure: `{"error": "...", "status": 400}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// One line saying what was wrong and, for bad input, what is valid.
    pub error: String,
    /// The HTTP status code, repeated for clients that only keep the body.
    pub status: u16,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn view() -> FaultView {
        FaultView {
            id: 3,
            failure: FaultKind::ErrorBurst,
            intensity: Some(0.25),
            service: Some(Service::Payments),
            started_at: 1_700_000_000.5,
            expires_at: 1_700_000_030.5,
            remaining_s: 12.25,
            expected_alert: "HighErrorRate".to_owned(),
        }
    }

    #[test]
    fn started_is_one_flat_object_in_the_served_field_order() {
        let started = Started { node: 4, fault: view(), replaced: None };
        let text = serde_json::to_string(&started).expect("serialise");
        assert_eq!(
            text,
            r#"{"node":4,"id":3,"failure":"error_burst","intensity":0.25,"service":"payments","started_at":1700000000.5,"expires_at":1700000030.5,"remaining_s":12.25,"expected_alert":"HighErrorRate","replaced":null}"#
        );
        assert_eq!(serde_json::from_str::<Started>(&text).expect("read back"), started);
    }

    #[test]
    fn lists_and_errors_round_trip() {
        let list = FaultList { node: 1, faults: vec![view()] };
        let value = serde_json::to_value(&list).expect("serialise");
        assert_eq!(value["faults"][0]["failure"], "error_burst");
        assert_eq!(serde_json::from_value::<FaultList>(value).expect("read back"), list);
        let error = ErrorBody { error: "no active fault with id 2".to_owned(), status: 404 };
        let text = serde_json::to_string(&error).expect("serialise");
        assert_eq!(text, r#"{"error":"no active fault with id 2","status":404}"#);
        assert_eq!(serde_json::from_str::<ErrorBody>(&text).expect("read back"), error);
    }

    #[test]
    fn required_fields_are_required_when_reading() {
        let full = serde_json::to_value(Started { node: 4, fault: view(), replaced: Some(1) }).expect("json");
        for field in ["node", "id", "failure", "started_at", "expires_at", "remaining_s", "expected_alert"] {
            let mut partial = full.clone();
            partial.as_object_mut().map(|o| o.remove(field));
            assert!(serde_json::from_value::<Started>(partial).is_err(), "`{field}` must be required");
        }
        assert!(serde_json::from_value::<FaultList>(json!({"node": 1})).is_err());
        assert!(serde_json::from_value::<ErrorBody>(json!({"error": "x"})).is_err());
    }

    #[test]
    fn the_request_takes_the_seed_names_and_refuses_unknown_fields() {
        let seed: InjectRequest =
            serde_json::from_value(json!({"mode": "node_crash", "duration": 30})).expect("seed names");
        assert_eq!((seed.failure, seed.duration_s, seed.intensity), (FaultKind::NodeCrash, 30.0, None));
        let err =
            serde_json::from_value::<InjectRequest>(json!({"failure": "cpu_spike", "duration_s": 3, "x": 1}))
                .expect_err("unknown field");
        assert!(err.to_string().contains("unknown field `x`"), "{err}");
        let err = serde_json::from_value::<InjectRequest>(json!({"failure": "cpu", "duration_s": 3}))
            .expect_err("unknown mode");
        assert!(err.to_string().contains("valid modes: cpu_spike"), "{err}");
        assert!(serde_json::from_value::<InjectRequest>(json!({"failure": "cpu_spike"})).is_err());
    }

    #[test]
    fn the_request_sends_only_what_is_set_and_maps_to_a_spec() {
        let spec = FaultSpec { kind: FaultKind::CpuSpike, duration_s: 30.0, intensity: None, service: None };
        let request = InjectRequest::from(&spec);
        assert_eq!(
            serde_json::to_value(&request).expect("json"),
            json!({"failure": "cpu_spike", "duration_s": 30.0})
        );
        assert_eq!(FaultSpec::from(&request), spec);
    }

    #[test]
    fn a_view_shows_unix_times_and_time_left() {
        let fault = Fault {
            id: 7,
            kind: FaultKind::NodeCrash,
            intensity: None,
            service: None,
            started_at: Duration::from_secs(10),
            expires_at: Duration::from_secs(40),
        };
        let v = FaultView::new(&fault, Duration::from_millis(15_500), 1000.0);
        assert_eq!((v.started_at, v.expires_at, v.remaining_s), (1010.0, 1040.0, 24.5));
        assert_eq!((v.id, v.failure, v.expected_alert.as_str()), (7, FaultKind::NodeCrash, "NodeDown"));
    }
}
