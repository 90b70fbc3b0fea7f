//! The failure catalog and the shop's services: one enum each, shared by the service
//! and the CLI so the two can never disagree on a name.
//!
//! The names are derived once, by strum, in snake_case: `as_str`, `FromStr`, `Display`,
//! the lists of valid names, and serde (which goes through them), so no hand-written copy
//! can drift from the variants. Parsing, whether through `FromStr`, serde or clap (the
//! optional `clap` feature), refuses an unknown name with a message listing the valid ones.

use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use strum::{VariantArray, VariantNames};

/// Every failure mode a node can suffer. Serialised in snake_case (`cpu_spike`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::VariantNames,
    strum::VariantArray,
)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "snake_case"))]
#[strum(serialize_all = "snake_case", parse_err_ty = UnknownFaultKind, parse_err_fn = UnknownFaultKind::new)]
pub enum FaultKind {
    /// CPU pinned at 95-100 %; requests slow down as the node saturates.
    CpuSpike,
    /// Memory climbs steadily towards 99 %; released when the fault ends.
    MemoryLeak,
    /// Every request step takes `intensity` times longer (default x10).
    LatencySpike,
    /// A fraction of requests (default 20-50 %) fail with 500.
    ErrorBurst,
    /// The node stops serving: 503 everywhere except the `/inject` control endpoints.
    NodeCrash,
    /// The payment gateway behind `payments` fails: payments answer 502, order
    /// creation (which charges through payments) degrades with it, products are fine.
    DependencyFailure,
    /// Packet loss in front of the node: a fraction of requests and scrapes stall for
    /// 1-3 s of retransmission, so scrapes time out and `up` flaps.
    FlakyNetwork,
    /// The data filesystem (`/var/lib/edge`) fills at `intensity` of its size per second
    /// (default 1 %/s: full in about a minute) and stays full; order writes then fail with
    /// "no space left on device". The space is released when the fault ends.
    DiskFill,
    /// Memory leaks at `intensity` per second (default 5 %) until the kernel's OOM killer
    /// ends the process; it comes back after a few seconds and, while the fault lasts,
    /// leaks again until the next kill.
    OomKill,
}

/// What the optional `intensity` of a fault means, its valid range and its default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Intensity {
    /// One line for error messages and docs.
    pub meaning: &'static str,
    /// Smallest accepted value.
    pub min: f64,
    /// Largest accepted value.
    pub max: f64,
    /// Used when none is given: drawn uniformly from `default.0..=default.1`
    /// (equal bounds give a fixed default).
    pub default: (f64, f64),
}

/// One mode of the catalog as tools outside Rust read it (`edge-node catalog --json`): the
/// checks and generators learn the modes from this, never from the source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The wire name.
    pub failure: FaultKind,
    /// The alert that must catch it.
    pub expected_alert: &'static str,
    /// Whether it can be aimed at one service.
    pub accepts_service: bool,
    /// Its intensity, if it takes one.
    pub intensity: Option<Intensity>,
}

/// The whole catalog, in declaration order.
pub fn entries() -> Vec<Entry> {
    FaultKind::ALL
        .iter()
        .map(|&kind| Entry {
            failure: kind,
            expected_alert: kind.expected_alert(),
            accepts_service: kind.accepts_service(),
            intensity: kind.intensity(),
        })
        .collect()
}

impl FaultKind {
    /// The whole catalog, in documentation (declaration) order.
    pub const ALL: &'static [FaultKind] = <FaultKind as VariantArray>::VARIANTS;

    /// The wire name (`cpu_spike`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The alert that must catch this fault (the CLI's default `--expect`).
    pub fn expected_alert(self) -> &'static str {
        match self {
            FaultKind::CpuSpike => "HighCPUUsage",
            FaultKind::MemoryLeak => "MemoryLeakPredicted",
            FaultKind::LatencySpike => "HighLatency",
            FaultKind::ErrorBurst => "HighErrorRate",
            FaultKind::NodeCrash => "NodeDown",
            FaultKind::DependencyFailure => "UpstreamFailing",
            FaultKind::FlakyNetwork => "ScrapeFlapping",
            FaultKind::DiskFill => "DiskFillingUp",
            FaultKind::OomKill => "NodeOOMKilled",
        }
    }

    /// What `intensity` means for this mode, or `None` if the mode takes none.
    pub fn intensity(self) -> Option<Intensity> {
        let spec = |meaning, min, max, default| Some(Intensity { meaning, min, max, default });
        match self {
            FaultKind::CpuSpike => spec("target CPU utilisation (0-1)", 0.5, 1.0, (0.95, 1.0)),
            FaultKind::MemoryLeak => {
                spec("leak rate, fraction of memory per second", 0.001, 0.05, (0.01, 0.01))
            }
            FaultKind::LatencySpike => spec("latency multiplier", 1.5, 100.0, (10.0, 10.0)),
            FaultKind::ErrorBurst => spec("fraction of requests failing", 0.01, 1.0, (0.2, 0.5)),
            FaultKind::NodeCrash => None,
            FaultKind::DependencyFailure => {
                spec("fraction of payment-gateway calls failing", 0.05, 1.0, (1.0, 1.0))
            }
            FaultKind::FlakyNetwork => {
                spec("fraction of requests and scrapes stalled", 0.05, 0.9, (0.3, 0.3))
            }
            FaultKind::DiskFill => {
                spec("fill rate, fraction of the data filesystem per second", 0.0005, 0.05, (0.01, 0.01))
            }
            FaultKind::OomKill => spec("leak rate, fraction of memory per second", 0.005, 0.2, (0.05, 0.05)),
        }
    }

    /// Whether the fault can be aimed at one service (`"service": "payments"`).
    pub fn accepts_service(self) -> bool {
        matches!(self, FaultKind::LatencySpike | FaultKind::ErrorBurst)
    }

    /// The valid names, comma separated, for error messages.
    pub fn valid_names() -> String {
        <FaultKind as VariantNames>::VARIANTS.join(", ")
    }
}

/// A name that is not in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown failure mode `{0}`; valid modes: {valid}", valid = FaultKind::valid_names())]
pub struct UnknownFaultKind(pub String);

impl UnknownFaultKind {
    fn new(name: &str) -> Self {
        Self(truncate(name))
    }
}

/// The three services of the simulated shop.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::VariantNames,
    strum::VariantArray,
)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "snake_case"))]
#[strum(serialize_all = "snake_case", parse_err_ty = UnknownService, parse_err_fn = UnknownService::new)]
pub enum Service {
    /// The product catalog.
    Products,
    /// Orders; creating one charges through `payments`.
    Orders,
    /// Payments; each charge calls the (simulated, remote) payment gateway.
    Payments,
}

impl Service {
    /// All services, in documentation (declaration) order.
    pub const ALL: &'static [Service] = <Service as VariantArray>::VARIANTS;

    /// The label value (`orders`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The valid names, comma separated, for error messages.
    pub fn valid_names() -> String {
        <Service as VariantNames>::VARIANTS.join(", ")
    }
}

/// A name that is not one of the services.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service `{0}`; valid services: {valid}", valid = Service::valid_names())]
pub struct UnknownService(pub String);

impl UnknownService {
    fn new(name: &str) -> Self {
        Self(truncate(name))
    }
}

// Serde goes through the strum names rather than its own derive: one source of names, and
// a JSON body or a scenario file with a wrong name gets the same message as the command
// line, one that lists the valid names.
impl Serialize for FaultKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Serialize for Service {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FaultKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        by_name(deserializer)
    }
}

impl<'de> Deserialize<'de> for Service {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        by_name(deserializer)
    }
}

fn by_name<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(serde::de::Error::custom)
}

/// Echoed names are cut short so an error message cannot be made arbitrarily large.
fn truncate(s: &str) -> String {
    const MAX_ECHO: usize = 40;
    match s.char_indices().nth(MAX_ECHO) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod entries_tests {
    use super::*;

    #[test]
    fn the_exported_catalog_has_every_mode_with_its_alert_and_intensity() {
        let json = serde_json::to_value(entries()).expect("json");
        let rows = json.as_array().expect("a list");
        assert_eq!(rows.len(), FaultKind::ALL.len());
        assert_eq!(rows[0]["failure"], "cpu_spike");
        assert_eq!(rows[0]["expected_alert"], "HighCPUUsage");
        assert_eq!(rows[0]["intensity"]["max"], 1.0);
        let crash = rows.iter().find(|r| r["failure"] == "node_crash").expect("node_crash");
        assert!(crash["intensity"].is_null() && crash["accepts_service"] == false, "{crash}");
        let fill = rows.iter().find(|r| r["failure"] == "disk_fill").expect("disk_fill");
        assert_eq!(fill["expected_alert"], "DiskFillingUp");
        assert_eq!(
            (fill["intensity"]["min"].as_f64(), fill["intensity"]["max"].as_f64()),
            (Some(0.0005), Some(0.05))
        );
        assert_eq!(fill["intensity"]["default"], serde_json::json!([0.01, 0.01]));
        let oom = rows.iter().find(|r| r["failure"] == "oom_kill").expect("oom_kill");
        assert_eq!(oom["expected_alert"], "NodeOOMKilled");
        assert_eq!(
            (oom["intensity"]["min"].as_f64(), oom["intensity"]["max"].as_f64()),
            (Some(0.005), Some(0.2))
        );
        assert_eq!(oom["intensity"]["default"], serde_json::json!([0.05, 0.05]));
        assert!(fill["accepts_service"] == false && oom["accepts_service"] == false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_display_and_serde() {
        for &kind in FaultKind::ALL {
            assert_eq!(kind.as_str().parse::<FaultKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            let json = serde_json::to_string(&kind).expect("serialise");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<FaultKind>(&json).expect("deserialise"), kind);
        }
        for &service in Service::ALL {
            assert_eq!(service.as_str().parse::<Service>(), Ok(service));
            assert_eq!(service.to_string(), service.as_str());
            let json = serde_json::to_string(&service).expect("serialise");
            assert_eq!(serde_json::from_str::<Service>(&json).expect("deserialise"), service);
        }
    }

    #[test]
    fn the_wire_names_are_the_documented_ones_in_order() {
        let modes: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            modes,
            [
                "cpu_spike",
                "memory_leak",
                "latency_spike",
                "error_burst",
                "node_crash",
                "dependency_failure",
                "flaky_network",
                "disk_fill",
                "oom_kill"
            ]
        );
        assert_eq!(Service::valid_names(), "products, orders, payments");
        // Names are exact: no case folding, no spaces, no variant identifiers.
        for near_miss in ["CpuSpike", "CPU_SPIKE", " cpu_spike", "cpu-spike"] {
            assert!(near_miss.parse::<FaultKind>().is_err(), "{near_miss}");
        }
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = "cpu_spikes".parse::<FaultKind>().expect_err("not a mode");
        assert_eq!(
            err.to_string(),
            "unknown failure mode `cpu_spikes`; valid modes: cpu_spike, memory_leak, \
             latency_spike, error_burst, node_crash, dependency_failure, flaky_network, disk_fill, oom_kill"
        );
        let err = "x".repeat(1000).parse::<Service>().expect_err("not a service");
        assert!(err.to_string().len() < 120, "echo is bounded: {err}");
        let err = serde_json::from_str::<Service>("\"cart\"").expect_err("not a service");
        assert!(
            err.to_string().starts_with("unknown service `cart`; valid services: products, orders, payments"),
            "{err}"
        );
    }

    #[cfg(feature = "clap")]
    #[test]
    fn clap_accepts_exactly_the_wire_names() {
        use clap::ValueEnum;
        for kind in FaultKind::value_variants() {
            let name = kind.to_possible_value().map(|v| v.get_name().to_owned());
            assert_eq!(name.as_deref(), Some(kind.as_str()));
        }
        for service in Service::value_variants() {
            let name = service.to_possible_value().map(|v| v.get_name().to_owned());
            assert_eq!(name.as_deref(), Some(service.as_str()));
        }
    }

    #[test]
    fn every_default_intensity_lies_in_its_range() {
        for kind in FaultKind::ALL {
            if let Some(i) = kind.intensity() {
                assert!(i.min <= i.default.0 && i.default.0 <= i.default.1 && i.default.1 <= i.max);
            }
        }
    }
}
