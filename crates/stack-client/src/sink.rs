//! The alert sink (`crates/alert-sink`): the notifications Alertmanager delivered to it.

use serde::{Deserialize, Serialize};

use crate::error::get_json;
use crate::{ApiError, join};

/// The alert sink at `base` (e.g. `http://127.0.0.1:9095`).
#[derive(Debug, Clone)]
pub struct AlertSink {
    http: reqwest::Client,
    base: String,
}

/// A notification the alert sink received (`/notifications`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Unix time it arrived.
    pub received_at: f64,
    /// `firing` or `resolved`.
    pub status: String,
    /// The alert.
    pub alertname: String,
    /// Its node.
    pub node: Option<String>,
    /// The Alertmanager receiver.
    pub receiver: String,
}

impl AlertSink {
    /// The sink at `base`, over the tool's one HTTP client.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self { http, base: base.trim_end_matches('/').to_owned() }
    }

    /// The newest `limit` notifications, as the sink keeps them.
    pub async fn notifications(&self, limit: u32) -> Result<Vec<Notice>, ApiError> {
        let url = join(&self.base, "/notifications");
        get_json(self.http.get(&url).query(&[("limit", limit)]), &url, |v| {
            v["error"].as_str().map(str::to_owned)
        })
        .await
    }
}
