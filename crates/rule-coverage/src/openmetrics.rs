//! Writing series as OpenMetrics text with timestamps, the input of `promtool tsdb
//! create-blocks-from openmetrics`: one family per metric name, its lines together, each
//! series' samples in time order, `# EOF` at the end; and reading such text back
//! ([`read`]), to turn the series a run fed the engine into a `promtool test rules` input.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::alert_state::{LabelSet, Millis};

/// Series by their full label set (`__name__` included), each with (time, value) samples.
pub type SeriesSet = BTreeMap<LabelSet, Samples>;

/// One series' (time, value) samples.
pub type Samples = Vec<(Millis, f64)>;

/// A value as OpenMetrics writes it (`NaN`, `+Inf`, `-Inf`, or a Go-parsable number).
pub fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v:?}")
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// Milliseconds as OpenMetrics' seconds with three decimals.
pub fn seconds(t: Millis) -> String {
    let sign = if t < 0 { "-" } else { "" };
    format!("{sign}{}.{:03}", t.unsigned_abs() / 1000, t.unsigned_abs() % 1000)
}

/// The text of `series`; series without `__name__` are left out (OpenMetrics needs one).
pub fn write(series: &SeriesSet) -> String {
    let mut by_name: BTreeMap<&str, Vec<(&LabelSet, &Samples)>> = BTreeMap::new();
    for (labels, samples) in series {
        if let Some(name) = labels.get("__name__") {
            by_name.entry(name).or_default().push((labels, samples));
        }
    }
    let mut out = String::new();
    for (name, members) in by_name {
        let _ = writeln!(out, "# TYPE {name} unknown");
        for (labels, samples) in members {
            let inner: Vec<String> = labels
                .iter()
                .filter(|(k, _)| *k != "__name__")
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let head =
                if inner.is_empty() { name.to_owned() } else { format!("{name}{{{}}}", inner.join(",")) };
            let mut sorted = samples.clone();
            sorted.sort_by_key(|(t, _)| *t);
            for (t, v) in sorted {
                let _ = writeln!(out, "{head} {} {}", value(v), seconds(t));
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Why a line of OpenMetrics text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("openmetrics line {line}: {reason}")]
pub struct ReadError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

/// Reads timestamped OpenMetrics text (what [`write`] and the virtual fleet write, what
/// `promtool tsdb create-blocks-from openmetrics` reads): every sample line
/// `name{label="value",...} value timestamp` (timestamps in seconds, to the millisecond;
/// exemplars after ` # ` ignored) into series keyed by their labels with `__name__`, samples
/// in time order. Comment lines (`# TYPE`, `# HELP`, `# UNIT`, `# EOF`) are skipped; a
/// sample without a timestamp is an error, since promtool would store it at another time.
pub fn read(text: &str) -> Result<SeriesSet, ReadError> {
    let mut set = SeriesSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (labels, t, v) = read_line(line).map_err(|reason| ReadError { line: i + 1, reason })?;
        set.entry(labels).or_default().push((t, v));
    }
    for samples in set.values_mut() {
        samples.sort_by_key(|(t, _)| *t);
    }
    Ok(set)
}

fn read_line(line: &str) -> Result<(LabelSet, Millis, f64), String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let (name, mut rest) = line.split_at(name_end);
    if name.is_empty() {
        return Err("no metric name".into());
    }
    let mut labels = LabelSet::from([("__name__".to_owned(), name.to_owned())]);
    if let Some(inner) = rest.strip_prefix('{') {
        rest = read_labels(inner, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let ts = fields.next().filter(|f| *f != "#").ok_or("no timestamp")?;
    let v = match value {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => value.parse().map_err(|_| format!("bad value {value:?}"))?,
    };
    let secs: f64 = ts.parse().map_err(|_| format!("bad timestamp {ts:?}"))?;
    Ok((labels, (secs * 1000.0).round() as Millis, v))
}

/// Reads `key="value",...}` into `labels`; returns what follows the `}`.
fn read_labels<'a>(mut rest: &'a str, labels: &mut LabelSet) -> Result<&'a str, String> {
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let eq = rest.find('=').ok_or("a label without a value")?;
        let key = rest[..eq].trim().to_owned();
        let quoted = rest[eq + 1..].trim_start().strip_prefix('"').ok_or("a label value without quotes")?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("an unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err("an unterminated label value".into()),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.insert(key, value);
        rest = &quoted[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_together_sorted_samples_and_escapes() {
        let mut set = SeriesSet::new();
        let l = |name: &str, node: &str| {
            LabelSet::from([("__name__".into(), name.into()), ("node".into(), node.into())])
        };
        set.insert(l("b:x:sum", "n\"1"), vec![(2_500, 1.0), (1_000, f64::NAN)]);
        set.insert(l("a", "n2"), vec![(1_000, f64::INFINITY)]);
        set.insert(LabelSet::from([("node".into(), "x".into())]), vec![(0, 1.0)]);
        let text = write(&set);
        assert_eq!(
            text,
            "# TYPE a unknown\na{node=\"n2\"} +Inf 1.000\n# TYPE b:x:sum unknown\n\
             b:x:sum{node=\"n\\\"1\"} NaN 1.000\nb:x:sum{node=\"n\\\"1\"} 1.0 2.500\n# EOF\n"
        );
        assert_eq!(value(0.1), "0.1");
        assert_eq!(value(1e-7), "1e-7");
    }

    #[test]
    fn reads_back_what_it_writes_and_what_the_virtual_fleet_writes() {
        let l = |name: &str, node: &str| {
            LabelSet::from([("__name__".into(), name.into()), ("node".into(), node.into())])
        };
        let mut set = SeriesSet::new();
        set.insert(l("b:x:sum", "n\"1\\ }, #\nz"), vec![(1_000, 0.5), (2_500, f64::INFINITY)]);
        set.insert(l("a", "n2"), vec![(-1_000, 2.0), (1_000, f64::NEG_INFINITY)]);
        set.insert(LabelSet::from([("__name__".into(), "bare".into())]), vec![(7, 1e-7)]);
        assert_eq!(read(&write(&set)).expect("reads"), set);
        let nan = read("x NaN 1.5\n").expect("reads");
        assert!(nan[&LabelSet::from([("__name__".into(), "x".into())])][0].1.is_nan());

        let fleet = "# HELP c C.\n# TYPE c counter\n\
                     c_total{job=\"j\",node=\"1\",mode=\"idle\"} 3 1700000000.250\n\
                     c_total{job=\"j\",node=\"1\",mode=\"idle\"} 4 1700000000.000 # {id=\"e\"} 1\n# EOF\n";
        let got = read(fleet).expect("reads");
        let key = LabelSet::from([
            ("__name__".into(), "c_total".into()),
            ("job".into(), "j".into()),
            ("mode".into(), "idle".into()),
            ("node".into(), "1".into()),
        ]);
        assert_eq!(got[&key], [(1_700_000_000_000, 4.0), (1_700_000_000_250, 3.0)], "in time order");
        for (bad, why) in [
            ("x 1\n", "no timestamp"),
            ("x{a=\"b} 1 2\n", "unterminated"),
            ("x{a=b} 1 2\n", "without quotes"),
            ("x one 2\n", "bad value"),
            ("{a=\"b\"} 1 2\n", "no metric name"),
        ] {
            let err = read(bad).expect_err(bad).to_string();
            assert!(err.starts_with("openmetrics line 1: ") && err.contains(why), "{bad:?}: {err}");
        }
    }
}
