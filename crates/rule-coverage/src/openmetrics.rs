//! Writing series as OpenMetrics text with timestamps, the input of `promtool tsdb
//! create-blocks-from openmetrics`: one family per metric name, its lines together, each
//! series' samples in time order, `# EOF` at the end.

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
}
