//! One reader of the Prometheus / OpenMetrics text format, for everything the CLI and the
//! workspace's tests read from a node's `/metrics`. No dependencies beyond `thiserror`.
//!
//! Why not a crate: `prometheus-parse` splits label values on `,` and `=` (so a value
//! holding either is misread) and brings regex and chrono; `openmetrics-parser` is
//! LGPL-3.0, which does not fit this MIT/Apache workspace. The sample lines are small to
//! read: `name{label="value",...} value [timestamp] [# exemplar]`, with `\\`, `\"` and
//! `\n` escaped in label values. Comment lines (`# HELP`, `# TYPE`, `# UNIT`, `# EOF`)
//! carry nothing the CLI needs and are skipped.

use std::fmt;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name, with any suffix (`edge_http_requests_total`).
    pub name: String,
    /// Its labels, in exposition order.
    pub labels: Vec<(String, String)>,
    /// Its value (`NaN`, `+Inf` and `-Inf` included).
    pub value: f64,
}

impl Sample {
    /// The value of label `key`, if the sample has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A line that is not a valid sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metrics line {line}: {reason}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// Every sample of one exposition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    samples: Vec<Sample>,
}

impl Metrics {
    /// Reads an exposition. Strict on sample lines: a page that is not metrics (an HTML
    /// error page, a truncated answer) is an error, not a set of zeros.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut samples = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let sample = parse_line(line).map_err(|reason| ParseError { line: i + 1, reason })?;
            samples.push(sample);
        }
        Ok(Self { samples })
    }

    /// All samples, in exposition order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The first sample named `name` that has every label of `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
            .map(|s| s.value)
    }

    /// The sum of the samples named `name` that `filter` keeps.
    pub fn sum(&self, name: &str, filter: impl Fn(&Sample) -> bool) -> f64 {
        self.samples.iter().filter(|s| s.name == name && filter(s)).map(|s| s.value).sum()
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Splits a leading metric or label name off `s`.
fn name(s: &str) -> Option<(&str, &str)> {
    if !s.starts_with(is_name_start) {
        return None;
    }
    let end = s.find(|c| !is_name_char(c)).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

fn parse_line(line: &str) -> Result<Sample, String> {
    let (metric, mut rest) = name(line).ok_or("a sample must start with a metric name")?;
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        rest = body;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = name(rest).ok_or("expected a label name")?;
            let after = after.strip_prefix("=\"").ok_or_else(|| format!("label `{key}`: expected =\""))?;
            let (value, after) = quoted(after).map_err(|e| format!("label `{key}`: {e}"))?;
            labels.push((key.to_owned(), value));
            rest = after.trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err(format!("after label `{key}`: expected , or }}"));
            }
        }
    }
    if !rest.starts_with([' ', '\t']) {
        return Err(format!("`{metric}`: expected a space before the value"));
    }
    // The value, then an optional timestamp and exemplar, which the CLI does not use.
    let token = rest.split_whitespace().next().ok_or_else(|| format!("`{metric}`: no value"))?;
    let value = parse_value(token).ok_or_else(|| format!("`{metric}`: `{token}` is not a number"))?;
    Ok(Sample { name: metric.to_owned(), labels, value })
}

/// Reads an escaped label value up to its closing quote; returns it and what follows.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, other)) => return Err(format!("unknown escape \\{other}")),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated label value".to_owned())
}

/// A sample value: a float, or `NaN`, `+Inf`, `-Inf` as the formats spell them.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        // Rust would also take `inf` and `infinity`, which the formats do not.
        s if s.bytes().any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E')) => None,
        s => s.parse().ok(),
    }
}

impl Sample {
    /// `name{label="value",...}` as exposed (labels in exposition order, values escaped),
    /// or `name` alone without labels: the series this sample belongs to.
    pub fn series(&self) -> String {
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| {
                format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
            })
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

impl fmt::Display for Sample {
    /// The sample as an exposition line (value in Rust's shortest round-trip form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.series())?;
        let value = match self.value {
            v if v.is_nan() => "NaN".to_owned(),
            v if v == f64::INFINITY => "+Inf".to_owned(),
            v if v == f64::NEG_INFINITY => "-Inf".to_owned(),
            v => v.to_string(),
        };
        write!(f, " {value}")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What prometheus-client 0.25 writes for the node (abridged), exemplar included.
    const NODE: &str = r#"# HELP edge_http_requests Requests served.
# TYPE edge_http_requests counter
edge_http_requests_total{service="orders",route="/api/orders",method="POST",status="201"} 40
edge_http_requests_total{service="orders",route="/api/orders",method="POST",status="503"} 7
edge_http_requests_total{service="payments",route="/api/payments",method="POST",status="500"} 3
edge_http_requests_created{service="orders",route="/api/orders",method="POST",status="201"} 1700000000.0
# TYPE edge_cpu_utilization_ratio gauge
# UNIT edge_cpu_utilization_ratio ratio
edge_cpu_utilization_ratio 0.975
edge_http_request_duration_seconds_bucket{le="+Inf"} 50 # {trace_id="abc"} 0.2 1700000000.1
edge_memory_utilization_ratio NaN
# EOF
"#;

    #[test]
    fn a_node_exposition_reads_back() {
        let m = Metrics::parse(NODE).expect("valid");
        assert_eq!(m.get("edge_cpu_utilization_ratio", &[]), Some(0.975));
        assert_eq!(m.sum("edge_http_requests_total", |_| true), 50.0);
        let five =
            m.sum("edge_http_requests_total", |s| s.label("status").is_some_and(|c| c.starts_with('5')));
        assert_eq!(five, 10.0);
        assert_eq!(m.get("edge_http_requests_total", &[("service", "payments")]), Some(3.0));
        assert_eq!(m.get("edge_http_request_duration_seconds_bucket", &[("le", "+Inf")]), Some(50.0));
        assert!(m.get("edge_memory_utilization_ratio", &[]).is_some_and(f64::is_nan));
        assert_eq!(m.get("edge_cpu_utilization", &[]), None, "names match whole");
    }

    #[test]
    fn escapes_commas_and_equals_in_label_values_are_kept() {
        let m = Metrics::parse(r#"x{a="1,b=\"2\"",c="back\\slash\nline"} 4"#).expect("valid");
        assert_eq!(m.samples()[0].label("a"), Some(r#"1,b="2""#));
        assert_eq!(m.samples()[0].label("c"), Some("back\\slash\nline"));
    }

    #[test]
    fn what_is_not_metrics_is_an_error_with_its_line() {
        for (text, line) in [
            ("<html>", 1),
            ("ok 1\nx{a=\"1\" 2", 2),
            ("x{a=1} 2", 1),
            ("x 1\n\nx{a=\"\\q\"} 1", 3),
            ("x", 1),
            ("x abc", 1),
            ("x inf", 1),
            ("x{a=\"1\"}2", 1),
        ] {
            assert_eq!(Metrics::parse(text).expect_err(text).line, line, "{text:?}");
        }
    }

    fn label_value() -> impl Strategy<Value = String> {
        prop::string::string_regex(r#"[a-z0-9 ,=}{"\\\n/é-]{0,12}"#).expect("regex")
    }

    proptest! {
        #[test]
        fn any_sample_reads_back_as_written(
            name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,20}",
            labels in prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,8}", label_value()), 0..4),
            value in prop::num::f64::ANY,
        ) {
            let sample = Sample { name, labels, value };
            let text = format!("# HELP x y\n{sample}\n# EOF\n");
            let read = Metrics::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            let got = &read.samples()[0];
            prop_assert_eq!((&got.name, &got.labels), (&sample.name, &sample.labels));
            prop_assert!(got.value == value || (got.value.is_nan() && value.is_nan()), "{} vs {}", got.value, value);
        }
    }
}
