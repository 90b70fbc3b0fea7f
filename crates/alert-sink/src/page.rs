//! The on-call channel page (`GET /`) and the runbooks (`GET /runbooks/{name}`).
//!
//! The page is rendered on the server, newest first, and refreshes itself every 3 s, so
//! it works without JavaScript.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::SinkState;
use crate::store::{Filter, Notification};

/// How many notifications the page shows.
const PAGE_SIZE: usize = 200;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
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
pub async fn index(State(state): State<SinkState>) -> Html<String> {
    let items = state.store().query(&Filter { limit: Some(PAGE_SIZE), ..Filter::default() });
    let mut rows = String::new();
    for n in &items {
        render(&mut rows, n, &state.links.grafana);
    }
    if items.is_empty() {
        rows.push_str(
            r#"<li class="empty">No notifications yet. Inject a fault and watch this channel.</li>"#,
        );
    }
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>#oncall - edge fleet alerts</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #1a1d21; color: #d1d2d3; }}
header {{ padding: 12px 20px; background: #350d36; color: #fff; font-weight: 600; }}
ul {{ list-style: none; margin: 0; padding: 8px 20px; }}
li {{ padding: 10px 12px; margin: 6px 0; border-left: 4px solid #888; background: #222529; }}
li.firing {{ border-color: #e01e5a; }} li.resolved {{ border-color: #2eb67d; }}
.status {{ font-weight: 700; text-transform: uppercase; font-size: 12px; }}
.firing .status {{ color: #e01e5a; }} .resolved .status {{ color: #2eb67d; }}
.meta {{ color: #9a9b9e; font-size: 12px; }} a {{ color: #1d9bd1; }}
</style></head>
<body><header>#oncall &middot; edge fleet &middot; {count} notifications (newest first)</header>
<ul id="notifications">{rows}</ul></body></html>"#,
        count = state.store().len(),
    ))
}

fn render(out: &mut String, n: &Notification, grafana: &str) {
    let node = n.node.as_deref().map_or(String::new(), |node| {
        format!(
            r#" &middot; <a href="{grafana}/d/edge-node-detail/edge-node?var-node={n}">node {n} dashboard</a>"#,
            grafana = esc(grafana),
            n = esc(node)
        )
    });
    let runbook = n
        .runbook_url
        .as_deref()
        .map_or(String::new(), |url| format!(r#" &middot; <a href="{}">runbook</a>"#, esc(url)));
    let _ = write!(
        out,
        r#"<li class="{status}" data-alertname="{name}"><span class="status">{status}</span> <b>{name}</b> {summary}
<div class="meta">{receiver} &middot; {severity} &middot; since {starts}{node}{runbook}</div>
<div>{description}</div></li>"#,
        status = esc(&n.status),
        name = esc(&n.alertname),
        summary = esc(n.summary.as_deref().unwrap_or("")),
        receiver = esc(&n.receiver),
        severity = esc(n.severity.as_deref().unwrap_or("no severity")),
        starts = esc(&n.starts_at),
        description = esc(n.description.as_deref().unwrap_or("")),
    );
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
