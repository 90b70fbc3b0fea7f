//! The on-call channel page (`GET /`) and the runbooks (`GET /runbooks/{name}`).
//!
//! The page is rendered on the server, newest first, and refreshes itself every 3 s, so
//! it works without JavaScript.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::store::{Filter, Notification};
use crate::{SinkState, bounds};

/// How many notifications the page shows.
const PAGE_SIZE: usize = 200;

/// Labels shown on their own in a row, so not repeated in its label list.
const SHOWN: [&str; 3] = ["alertname", "node", "severity"];

/// The page. Askama escapes every value it renders (HTML templates escape by default), so
/// no webhook value can become markup.
#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    count: usize,
    rows: Vec<Row<'a>>,
}

/// One notification as the page shows it.
struct Row<'a> {
    status: &'static str,
    alertname: &'a str,
    summary: &'a str,
    receiver: &'a str,
    severity: &'a str,
    starts_at: &'a str,
    description: &'a str,
    node: Option<&'a str>,
    dashboard: Option<String>,
    runbook: Option<&'a str>,
    source: Option<&'a str>,
    labels: String,
}

impl<'a> Row<'a> {
    fn new(n: &'a Notification, grafana: &str) -> Self {
        let node_number = n.node.as_deref().and_then(bounds::node);
        Row {
            status: bounds::status(&n.status),
            alertname: &n.alertname,
            summary: n.summary.as_deref().unwrap_or(""),
            receiver: &n.receiver,
            severity: n.severity.as_deref().unwrap_or("no severity"),
            starts_at: &n.starts_at,
            description: n.description.as_deref().unwrap_or(""),
            node: n.node.as_deref(),
            // Only a real node number goes into a URL: nothing from the webhook is pasted
            // into a link except links that pass `is_http_url`.
            dashboard: node_number.map(|k| format!("{grafana}/d/edge-node-detail/edge-node?var-node={k}")),
            runbook: n.runbook_url.as_deref().filter(|u| is_http_url(u)),
            source: n.generator_url.as_deref().filter(|u| is_http_url(u)),
            labels: n
                .labels
                .iter()
                .filter(|(k, _)| !SHOWN.contains(&k.as_str()))
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// Whether `s` may become an `href`: an absolute http(s) URL with no whitespace or control
/// characters (browsers drop those inside a scheme, so `java\tscript:` would run).
pub fn is_http_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return false;
    };
    !rest.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `GET /`.
pub async fn index(State(state): State<SinkState>) -> Response {
    let (items, count) = {
        let store = state.store();
        (store.query(&Filter { limit: Some(PAGE_SIZE), ..Filter::default() }), store.len())
    };
    let page = IndexPage { count, rows: items.iter().map(|n| Row::new(n, &state.links.grafana)).collect() };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "rendering the page failed\n").into_response()
        }
    }
}

/// `GET /runbooks/{name}`: the Markdown runbook as plain text. Names are alert names
/// (letters and digits), so no path can escape the runbooks folder.
pub async fn runbook(State(state): State<SinkState>, Path(name): Path<String>) -> Response {
    let name = name.strip_suffix(".md").unwrap_or(&name);
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return (StatusCode::BAD_REQUEST, "runbook names are alert names, such as HighCPUUsage\n")
            .into_response();
    }
    match tokio::fs::read_to_string(state.runbooks.join(format!("{name}.md"))).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, format!("no runbook for {name}\n")).into_response(),
    }
}
