//! Writing scrapes as one OpenMetrics stream with timestamps, the input of
//! `promtool tsdb create-blocks-from openmetrics`.
//!
//! Each scrape's exposition is copied line by line with what Prometheus' scrape adds: the
//! target labels (`job`, `instance`, `node`, `region`) on every sample, the scrape's
//! timestamp (OpenMetrics timestamps are seconds, as promtool reads them: checked with
//! promtool 3.5 — `1700000000` became 1700000000000 ms), and the synthetic series `up`,
//! `scrape_duration_seconds`, `scrape_samples_scraped` and
//! `scrape_samples_post_metric_relabeling`. Exemplars and `# EOF` are dropped (one `# EOF`
//! ends the stream), and so are `# HELP` lines: blocks keep no metadata, and promtool
//! would only read past them. node_exporter's text-format `untyped` becomes
//! OpenMetrics' `unknown` (promtool refuses `untyped`). Families repeat once per scrape with
//! their `# TYPE` (which decides how promtool reads `le` and `quantile`); promtool accepts
//! that.

use std::io::{self, Write};
use std::time::Duration;

use super::node::Scrape;

/// The labels a scrape of one target adds, pre-rendered (`job="..",instance="..",...`).
#[derive(Debug, Clone)]
pub struct Target {
    labels: String,
}

impl Target {
    /// A target of `job` at `instance`, with the fleet's `node` and `region` labels.
    pub fn new(job: &str, instance: &str, node: u32, region: &str) -> Self {
        let mut labels = String::new();
        for (i, (key, value)) in
            [("job", job), ("instance", instance), ("node", &node.to_string()), ("region", region)]
                .iter()
                .enumerate()
        {
            if i > 0 {
                labels.push(',');
            }
            labels.push_str(key);
            labels.push_str("=\"");
            escape_into(&mut labels, value);
            labels.push('"');
        }
        Self { labels }
    }
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A timestamp in OpenMetrics' unit (seconds), to the millisecond Prometheus stores.
pub fn timestamp(start_unix_ms: i64, at: Duration) -> String {
    let ms = start_unix_ms + i64::try_from(at.as_millis()).unwrap_or(i64::MAX);
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Writes one scrape of `target` at timestamp `ts`: the synthetic series, then the
/// samples if it succeeded. Returns the samples scraped.
pub fn write_scrape(out: &mut impl Write, target: &Target, ts: &str, scrape: &Scrape) -> io::Result<usize> {
    let mut body = Vec::new();
    let (up, duration, samples) = match scrape {
        Scrape::Up { text, duration } => (1, *duration, copy_exposition(&mut body, text, target, ts)?),
        Scrape::Down { duration, .. } => (0, *duration, 0),
    };
    let labels = &target.labels;
    let seconds = duration.as_secs_f64();
    write!(
        out,
        "# TYPE up gauge\nup{{{labels}}} {up} {ts}\n\
         # TYPE scrape_duration_seconds gauge\nscrape_duration_seconds{{{labels}}} {seconds} {ts}\n\
         # TYPE scrape_samples_scraped gauge\nscrape_samples_scraped{{{labels}}} {samples} {ts}\n\
         # TYPE scrape_samples_post_metric_relabeling gauge\n\
         scrape_samples_post_metric_relabeling{{{labels}}} {samples} {ts}\n"
    )?;
    out.write_all(&body)?;
    Ok(samples)
}

/// Copies an exposition with the target's labels and the timestamp on every sample;
/// returns how many samples it copied.
fn copy_exposition(out: &mut Vec<u8>, text: &str, target: &Target, ts: &str) -> io::Result<usize> {
    let mut samples = 0;
    for line in text.lines() {
        if line.is_empty() || line == "# EOF" || line.starts_with("# HELP ") {
            continue;
        }
        if let Some(meta) = line.strip_prefix('#') {
            match meta.strip_suffix(" untyped") {
                Some(head) if meta.starts_with(" TYPE ") => {
                    out.push(b'#');
                    out.extend_from_slice(head.as_bytes());
                    out.extend_from_slice(b" unknown\n");
                }
                _ => {
                    out.extend_from_slice(line.as_bytes());
                    out.push(b'\n');
                }
            }
            continue;
        }
        write_sample(out, line, &target.labels, ts)?;
        samples += 1;
    }
    Ok(samples)
}

/// `name{labels} value [ts] [# exemplar]` becomes `name{target,labels} value ts`.
fn write_sample(out: &mut Vec<u8>, line: &str, target: &str, ts: &str) -> io::Result<()> {
    let name_end = line.bytes().position(|b| b == b'{' || b == b' ').unwrap_or(line.len());
    let (name, mut rest) = line.split_at(name_end);
    out.extend_from_slice(name.as_bytes());
    out.push(b'{');
    out.extend_from_slice(target.as_bytes());
    if let Some(labels) = rest.strip_prefix('{') {
        let close = label_block_end(labels);
        if close > 0 {
            out.push(b',');
            out.extend_from_slice(&labels.as_bytes()[..close]);
        }
        rest = labels.get(close + 1..).unwrap_or_default();
    }
    let value = rest.split_ascii_whitespace().next().unwrap_or("NaN");
    out.extend_from_slice(b"} ");
    out.extend_from_slice(value.as_bytes());
    out.push(b' ');
    out.extend_from_slice(ts.as_bytes());
    out.push(b'\n');
    Ok(())
}

/// The index of the `}` closing a label block that starts after `{` (quotes and escapes
/// respected: label values may hold `}`, `#` and spaces).
fn label_block_end(labels: &str) -> usize {
    let (mut quoted, mut escaped) = (false, false);
    for (i, b) in labels.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'}' if !quoted => return i,
            _ => {}
        }
    }
    labels.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_get_the_target_labels_and_the_timestamp_and_lose_exemplars() {
        let target = Target::new("edge-node", "edge-node-1:8080", 1, "eu-west");
        let text = "# HELP a A.\n# TYPE a counter\na_total{x=\"}# \\\"q\"} 3 # {request_id=\"r\"} 0.1\n\
                    # TYPE b untyped\nb 1.5\n# EOF\n";
        let mut out = Vec::new();
        let n = copy_exposition(&mut out, text, &target, "1700000000.250").expect("written");
        assert_eq!(n, 2);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "# TYPE a counter\n\
             a_total{job=\"edge-node\",instance=\"edge-node-1:8080\",node=\"1\",region=\"eu-west\",x=\"}# \\\"q\"} 3 1700000000.250\n\
             # TYPE b unknown\n\
             b{job=\"edge-node\",instance=\"edge-node-1:8080\",node=\"1\",region=\"eu-west\"} 1.5 1700000000.250\n"
        );
    }

    #[test]
    fn timestamps_are_seconds_with_milliseconds() {
        assert_eq!(timestamp(1_700_000_000_000, Duration::from_millis(15_007)), "1700000015.007");
        assert_eq!(timestamp(1_700_000_000_000, Duration::ZERO), "1700000000.000");
    }
}
