//! Alertmanager's API v2: the alerts it holds. Only the fields the tools read are typed.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::get_json;
use crate::{ApiError, join};

/// Alertmanager at `base` (e.g. `http://127.0.0.1:9093`).
#[derive(Debug, Clone)]
pub struct Alertmanager {
    http: reqwest::Client,
    base: String,
}

/// An alert as Alertmanager holds it (`/api/v2/alerts`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AmAlert {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Whether it is active, silenced or inhibited.
    pub status: AmAlertStatus,
}

/// The `status` of an [`AmAlert`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AmAlertStatus {
    /// `active`, `suppressed` or `unprocessed`.
    pub state: String,
}

impl Alertmanager {
    /// Alertmanager at `base`, over the tool's one HTTP client.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self { http, base: base.trim_end_matches('/').to_owned() }
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The alerts that would notify now: active, neither silenced nor inhibited.
    pub async fn active_alerts(&self) -> Result<Vec<AmAlert>, ApiError> {
        let url = join(&self.base, "/api/v2/alerts");
        let query = [("active", "true"), ("silenced", "false"), ("inhibited", "false")];
        get_json(self.http.get(&url).query(&query), &url, |v| v["message"].as_str().map(str::to_owned)).await
    }
}
