//! Parsers for the CLI's numeric flags. Each refuses NaN, infinities and out-of-range
//! values with one line that states the range; clap puts the flag's name in front, so
//! the user reads `invalid value 'NaN' for '--duration <SECONDS>': must be 1-3600 seconds`.

use std::fmt::Display;
use std::str::FromStr;

/// A parser for a float in `min..=max`; `unit` follows the range in messages.
pub fn float(
    min: f64,
    max: f64,
    unit: &'static str,
) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |s: &str| {
        let range = format!("{min}-{max}{unit}");
        let x: f64 = s.trim().parse().map_err(|_| format!("must be a number, {range}; got `{}`", echo(s)))?;
        if x.is_finite() && (min..=max).contains(&x) {
            Ok(x)
        } else {
            Err(format!("must be {range}, got {}", echo(s)))
        }
    }
}

/// A parser for seconds in `min..=max`.
pub fn seconds(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    float(min, max, " seconds")
}

/// A parser for a whole number in `min..=max`.
pub fn integer<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
{
    move |s: &str| match s.trim().parse::<T>() {
        Ok(x) if (min..=max).contains(&x) => Ok(x),
        _ => Err(format!("must be a whole number {min}-{max}, got {}", echo(s))),
    }
}

/// The widest intensity any mode accepts; each mode's own range is checked once the mode
/// is known (`FaultSpec::validate`).
pub fn intensity_bounds() -> (f64, f64) {
    edge_sim::FaultKind::ALL
        .iter()
        .filter_map(|k| k.intensity())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), i| (lo.min(i.min), hi.max(i.max)))
}

/// Echoed input is cut short so a message stays one readable line.
fn echo(s: &str) -> String {
    let cut: String = s.chars().take(24).filter(|c| !c.is_control()).collect();
    if cut.len() < s.len() { format!("{cut}...") } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_refuse_nan_infinities_and_out_of_range() {
        let p = seconds(1.0, 3600.0);
        assert_eq!(p("30"), Ok(30.0));
        assert_eq!(p("1e3"), Ok(1000.0));
        for bad in ["NaN", "inf", "-inf", "0.5", "3601", "1e400", "", "x", "30s"] {
            let err = p(bad).expect_err(bad);
            assert!(err.contains("1-3600 seconds") && !err.contains('\n'), "{bad}: {err}");
        }
    }

    #[test]
    fn integers_state_their_range() {
        let p = integer(1u32, 50);
        assert_eq!(p("2"), Ok(2));
        for bad in ["0", "51", "-1", "NaN", "2.5", "99999999999"] {
            assert_eq!(p(bad), Err(format!("must be a whole number 1-50, got {bad}")), "{bad}");
        }
    }

    #[test]
    fn the_intensity_bounds_cover_every_mode() {
        let (lo, hi) = intensity_bounds();
        let mut with_intensity = 0;
        for kind in edge_sim::FaultKind::ALL {
            let Some(i) = kind.intensity() else { continue };
            with_intensity += 1;
            for (what, x) in
                [("min", i.min), ("max", i.max), ("default low", i.default.0), ("default high", i.default.1)]
            {
                assert!(lo <= x && x <= hi, "{kind}'s {what} {x} is outside the CLI's {lo}-{hi}");
            }
        }
        assert!(with_intensity >= 2, "the catalogue has modes with an intensity");
        // The bounds are the union, not wider: each end is some mode's own end.
        let ends = |f: fn(&edge_sim::Intensity) -> f64| {
            edge_sim::FaultKind::ALL.iter().filter_map(|k| k.intensity()).map(|i| f(&i)).collect::<Vec<f64>>()
        };
        assert!(ends(|i| i.min).contains(&lo), "{lo} is no mode's minimum");
        assert!(ends(|i| i.max).contains(&hi), "{hi} is no mode's maximum");
    }
}
