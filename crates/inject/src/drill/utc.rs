//! Times as the drills keep and print them: Unix time now, and UTC clock times and dates of
//! Unix times, for the reports, the status lines and the refusals. A leaf: it depends on
//! nothing of the drills.

/// Unix time now (0 if the system clock is before 1970).
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// `HH:MM:SS.s` UTC of a Unix time.
pub fn clock(t: f64) -> String {
    let tenths = (t * 10.0).round() as i64;
    let secs = tenths.div_euclid(10);
    let day = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}.{}", day / 3600, day % 3600 / 60, day % 60, tenths.rem_euclid(10))
}

/// `YYYY-MM-DD` UTC of a Unix time (Howard Hinnant's civil-from-days).
pub fn date(t: f64) -> String {
    let z = (t.floor() as i64).div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_date_are_utc() {
        assert_eq!(clock(0.0), "00:00:00.0");
        assert_eq!(clock(1_795_332_376.34), "07:26:16.3");
        assert_eq!(date(1_795_332_376.0), "2026-11-22");
        assert_eq!(date(951_782_400.0), "2000-02-29");
    }
}
