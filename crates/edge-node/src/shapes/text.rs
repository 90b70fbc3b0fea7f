//! A writer of the Prometheus text exposition format 0.0.4, the format node_exporter serves.
//!
//! `/metrics` is OpenMetrics through prometheus-client; `/host/metrics` is written here instead
//! because there we imitate another program's output line for line: node_exporter 1.11 answers
//! `text/plain; version=0.0.4` (it does not offer OpenMetrics unless told to), declares
//! `# TYPE node_cpu_seconds_total counter` with the `_total` in the family name, and types its
//! vmstat fields `untyped`, none of which the OpenMetrics encoder would write. Prometheus
//! ingests the same series, types and help texts from both formats; writing the real
//! exporter's format keeps even the metadata (`/api/v1/metadata`) identical to it.

use std::fmt::Write as _;

/// The content type of the text format, as node_exporter sends it.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `# TYPE` of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up; resets on restart.
    Counter,
    /// Goes up and down.
    Gauge,
    /// No type declared (node_exporter's vmstat fields).
    Untyped,
}

impl Kind {
    /// The spelling in a `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Untyped => "untyped",
        }
    }
}

/// One family's metadata: name, help text and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// The metric name (with `_total` for counters, as node_exporter names them).
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// The `# TYPE`.
    pub kind: Kind,
}

/// Text being written, family by family.
#[derive(Debug)]
pub struct TextWriter {
    out: String,
}

impl TextWriter {
    /// An empty exposition with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self { out: String::with_capacity(capacity) }
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, family: &Family) {
        let help = family.help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {} {help}", family.name);
        let _ = writeln!(self.out, "# TYPE {} {}", family.name, family.kind.as_str());
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(key);
                self.out.push_str("=\"");
                for c in value.chars() {
                    match c {
                        '\\' => self.out.push_str("\\\\"),
                        '"' => self.out.push_str("\\\""),
                        '\n' => self.out.push_str("\\n"),
                        c => self.out.push(c),
                    }
                }
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        push_value(&mut self.out, value);
        self.out.push('\n');
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, family: &Family, value: f64) {
        self.family(family);
        self.sample(family.name, &[], value);
    }

    /// The exposition.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A sample value: whole numbers without a fraction, `NaN` and `±Inf` as the format spells them.
fn push_value(out: &mut String, value: f64) {
    // Exactly representable integers print as integers (counters of bytes, packets, ...).
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let _ = match value {
        v if v.is_nan() => write!(out, "NaN"),
        v if v == f64::INFINITY => write!(out, "+Inf"),
        v if v == f64::NEG_INFINITY => write!(out, "-Inf"),
        v if v.fract() == 0.0 && v.abs() < EXACT => write!(out, "{}", v as i64),
        v => write!(out, "{v}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_samples_are_written_as_the_text_format_spells_them() {
        let mut w = TextWriter::with_capacity(256);
        let family = Family { name: "x_total", help: "Two\nlines \\ here.", kind: Kind::Counter };
        w.family(&family);
        w.sample("x_total", &[("a", "q\"uo\\te\n"), ("b", "")], 3.0);
        w.sample("x_total", &[], 0.25);
        w.single(&Family { name: "y", help: "Y.", kind: Kind::Untyped }, f64::NAN);
        w.sample("y", &[], -2.5e20);
        w.sample("y", &[], f64::INFINITY);
        assert_eq!(
            w.finish(),
            "# HELP x_total Two\\nlines \\\\ here.\n# TYPE x_total counter\n\
             x_total{a=\"q\\\"uo\\\\te\\n\",b=\"\"} 3\nx_total 0.25\n\
             # HELP y Y.\n# TYPE y untyped\ny NaN\ny -250000000000000000000\ny +Inf\n"
        );
    }
}
