//! Prometheus' duration notation (`90s`, `1h30m`, `1d`, `500ms`): rule files and PromQL use
//! it, and so do the files this crate writes for promtool. The same grammar as Prometheus'
//! `model.ParseDuration`: units from the largest down, each at most once, `y` = 365 days.

use std::time::Duration;

/// The units in the order they must appear, with their length in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Prometheus duration: {text:?} (expected e.g. 30s, 5m, 1h30m, 1d)")]
pub struct DurationError {
    /// The text given.
    pub text: String,
}

/// Parses `text` (`0` alone is allowed, as in Prometheus).
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let err = || DurationError { text: text.to_owned() };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        // "ms" before "m": the longest unit that matches.
        let unit = UNITS
            .iter()
            .enumerate()
            .skip(next_unit)
            .filter(|(_, (name, _))| rest.starts_with(name))
            .max_by_key(|(_, (name, _))| name.len())
            .ok_or_else(err)?;
        let (index, (name, ms)) = unit;
        rest = &rest[name.len()..];
        if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(err());
        }
        next_unit = index + 1;
        total = number.checked_mul(*ms).and_then(|v| total.checked_add(v)).ok_or_else(err)?;
    }
    Ok(Duration::from_millis(total))
}

/// Writes `d` as Prometheus does (`1h30m`, `0s`), to the millisecond.
pub fn format(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (name, len) in UNITS {
        if ms >= len {
            out.push_str(&format!("{}{name}", ms / len));
            ms %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_combinations() {
        let cases = [
            ("0", 0),
            ("0s", 0),
            ("500ms", 500),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("1d", 86_400_000),
            ("2w", 14 * 86_400_000),
            ("1y", 365 * 86_400_000),
            ("1m30s500ms", 90_500),
        ];
        for (text, ms) in cases {
            assert_eq!(parse(text), Ok(Duration::from_millis(ms)), "{text}");
        }
    }

    #[test]
    fn rejects_what_prometheus_rejects() {
        for text in ["", "5", "m", "1.5m", "5m1h", "1h1h", "5M", "-5m", "5 m", "5mx", "1s1m"] {
            assert!(parse(text).is_err(), "{text:?} must not parse");
        }
    }

    #[test]
    fn formats_as_prometheus_and_round_trips() {
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format(Duration::from_millis(90_500)), "1m30s500ms");
        assert_eq!(format(Duration::from_secs(86_400 * 8)), "1w1d");
        for text in ["30s", "5m", "1h30m", "1d", "1w1d2h", "250ms"] {
            assert_eq!(format(parse(text).expect("parses")), text);
        }
    }
}
