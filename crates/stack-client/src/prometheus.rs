//! Prometheus' HTTP API (v1): instant queries, the raw samples of a range selector, the
//! alerts it evaluates, its active targets and its rule groups. Only the fields the tools
//! read are typed; an answer missing one is an error naming the URL.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::get_json;
use crate::{ApiError, join};

/// Prometheus at `base` (e.g. `http://127.0.0.1:9090`).
#[derive(Debug, Clone)]
pub struct Prometheus {
    http: reqwest::Client,
    base: String,
}

/// `{"status": "success", "data": ...}`.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    data: T,
}

fn error_message(v: &serde_json::Value) -> Option<String> {
    v["error"].as_str().map(str::to_owned)
}

/// One series of an instant query: its labels and its value at the query time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sample {
    /// The series' labels (`__name__` included when it has one).
    pub metric: BTreeMap<String, String>,
    /// (Unix time, value as Prometheus writes it).
    pub value: (f64, String),
}

impl Sample {
    /// The value as a number (`NaN`, `+Inf` included); `None` if it is not one.
    pub fn number(&self) -> Option<f64> {
        self.value.1.parse().ok()
    }
}

/// One series of a range selector or range query: its labels and its samples.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Series {
    /// The series' labels.
    pub metric: BTreeMap<String, String>,
    /// (Unix time, value as Prometheus writes it), oldest first.
    pub values: Vec<(f64, String)>,
}

/// A series' labels and its samples as numbers (unparsable ones left out).
pub type RawSeries = (BTreeMap<String, String>, Vec<(f64, f64)>);

#[derive(Debug, Deserialize)]
struct Vector {
    result: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
struct Matrix {
    result: Vec<Series>,
}

/// An alert as Prometheus evaluates it (`/api/v1/alerts`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PromAlert {
    /// Its labels (`alertname`, `node`, `severity`, ...).
    pub labels: BTreeMap<String, String>,
    /// `pending` or `firing`.
    pub state: String,
}

#[derive(Debug, Deserialize)]
struct Alerts {
    alerts: Vec<PromAlert>,
}

/// A target Prometheus scrapes (`/api/v1/targets?state=active`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ActiveTarget {
    /// Its labels after relabelling (`job`, `instance`, `node`, `region`, ...).
    pub labels: BTreeMap<String, String>,
    /// `up`, `down` or `unknown`.
    pub health: String,
    /// The URL it scrapes (`http://127.0.0.1:8003/metrics`).
    #[serde(rename = "scrapeUrl")]
    pub scrape_url: String,
}

#[derive(Debug, Deserialize)]
struct Config {
    yaml: String,
}

#[derive(Debug, Deserialize)]
struct BuildInfo {
    version: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Targets {
    active_targets: Vec<ActiveTarget>,
}

/// A rule group as loaded (`/api/v1/rules`): its name, file and rules' names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RuleGroup {
    /// The group's name.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// Its rules: alert names for alerting rules, record names for recording rules.
    pub rules: Vec<Rule>,
}

/// One rule of a [`RuleGroup`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Rule {
    /// The alert or recorded series name.
    pub name: String,
    /// `alerting` or `recording`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Deserialize)]
struct Groups {
    groups: Vec<RuleGroup>,
}

impl Prometheus {
    /// Prometheus at `base`, over the tool's one HTTP client.
    pub fn new(http: reqwest::Client, base: &str) -> Self {
        Self { http, base: base.trim_end_matches('/').to_owned() }
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let url = join(&self.base, path);
        let answer: Envelope<T> = get_json(self.http.get(&url).query(query), &url, error_message).await?;
        Ok(answer.data)
    }

    /// An instant query at `at` (Unix time; `None`: now) whose result is a vector.
    pub async fn query(&self, expr: &str, at: Option<f64>) -> Result<Vec<Sample>, ApiError> {
        let mut query = vec![("query", expr.to_owned())];
        query.extend(at.map(|t| ("time", format!("{t:.3}"))));
        Ok(self.get::<Vector>("/api/v1/query", &query).await?.result)
    }

    /// A range query from `start` to `end` every `step_s` seconds; `lookback_s`, if given,
    /// replaces the server's `--query.lookback-delta` for this query (the API's
    /// `lookback_delta` parameter).
    pub async fn query_range(
        &self,
        expr: &str,
        start: f64,
        end: f64,
        step_s: f64,
        lookback_s: Option<f64>,
    ) -> Result<Vec<Series>, ApiError> {
        let mut query = vec![
            ("query", expr.to_owned()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{step_s}")),
        ];
        query.extend(lookback_s.map(|l| ("lookback_delta", format!("{l}"))));
        Ok(self.get::<Matrix>("/api/v1/query_range", &query).await?.result)
    }

    /// The raw samples of `selector` in `(start, end]`, by series: an instant query of a range
    /// selector returns every sample at its own timestamp (each scrape or rule evaluation),
    /// not values resampled at a query step.
    pub async fn raw(&self, selector: &str, start: f64, end: f64) -> Result<Vec<RawSeries>, ApiError> {
        let window_ms = ((end - start) * 1e3).ceil().max(1.0) as u64;
        let query = [("query", format!("{selector}[{window_ms}ms]")), ("time", format!("{end:.3}"))];
        let series = self.get::<Matrix>("/api/v1/query", &query).await?.result;
        Ok(series
            .into_iter()
            .map(|s| (s.metric, s.values.iter().filter_map(|(t, v)| Some((*t, v.parse().ok()?))).collect()))
            .collect())
    }

    /// The alerts pending or firing now.
    pub async fn alerts(&self) -> Result<Vec<PromAlert>, ApiError> {
        Ok(self.get::<Alerts>("/api/v1/alerts", &[]).await?.alerts)
    }

    /// The targets it scrapes now.
    pub async fn targets(&self) -> Result<Vec<ActiveTarget>, ApiError> {
        Ok(self.get::<Targets>("/api/v1/targets", &[("state", "active".to_owned())]).await?.active_targets)
    }

    /// The YAML of the configuration it runs (`/api/v1/status/config`).
    pub async fn config(&self) -> Result<String, ApiError> {
        Ok(self.get::<Config>("/api/v1/status/config", &[]).await?.yaml)
    }

    /// Its version (`/api/v1/status/buildinfo`), e.g. `3.5.0`.
    pub async fn version(&self) -> Result<String, ApiError> {
        Ok(self.get::<BuildInfo>("/api/v1/status/buildinfo", &[]).await?.version)
    }

    /// The values label `name` has had in `[start, end]` (Unix time), e.g. every metric name
    /// for `__name__`.
    pub async fn label_values(&self, name: &str, start: f64, end: f64) -> Result<Vec<String>, ApiError> {
        let query = [("start", format!("{start:.3}")), ("end", format!("{end:.3}"))];
        self.get::<Vec<String>>(&format!("/api/v1/label/{name}/values"), &query).await
    }

    /// The rule groups it has loaded.
    pub async fn rules(&self) -> Result<Vec<RuleGroup>, ApiError> {
        Ok(self.get::<Groups>("/api/v1/rules", &[]).await?.groups)
    }
}
