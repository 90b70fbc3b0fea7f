//! One typed client for everything the tools talk to: the nodes (`/inject`, `/fleet`,
//! `/metrics`), Prometheus (query, alerts, targets, rules), Alertmanager (API v2) and the
//! alert sink. One HTTP client per tool, serde types for every answer, an error that names
//! the URL and the cause on one line.
//!
//! Nothing else in the workspace builds an HTTP client for these or parses their answers by
//! hand. It must not depend on clap or on the service crate: the CLI, the drills, the
//! scenarios and `--watch` build on it; it knows nothing of their flags.

mod alertmanager;
mod error;
pub mod locate;
mod nodes;
mod prometheus;
mod sink;

use std::time::Duration;

pub use alertmanager::{Alertmanager, AmAlert, AmAlertStatus};
pub use error::ApiError;
pub use nodes::{NodeClient, NodeError, START_HINT, Targets};
pub use prometheus::{ActiveTarget, PromAlert, Prometheus, RawSeries, Rule, RuleGroup, Sample, Series};
pub use sink::{AlertSink, Notice};

/// The one way a tool builds its HTTP client: a timeout on every request, and no idle
/// connections kept (at a thousand nodes each would hold a file open until the tool hit its
/// open-file limit; a fresh loopback connection is cheap).
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, ApiError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| ApiError::Other { url: String::new(), cause: error_chain(&e) })
}

/// The error and its causes on one line (reqwest's own message omits the cause).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `base` + `path`, the base without a trailing slash.
fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}
