//! The failure catalog and the shop's services: one enum each, shared by the service
//! and the CLI so the two can never disagree on a name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Every failure mode a node can suffer. Serialised in snake_case (`cpu_spike`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
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
}

/// What the optional `intensity` of a fault means, its valid range and its default.
#[derive(Debug, Clone, Copy, PartialEq)]
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

impl FaultKind {
    /// The whole catalog, in documentation order.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::CpuSpike,
        FaultKind::MemoryLeak,
        FaultKind::LatencySpike,
        FaultKind::ErrorBurst,
        FaultKind::NodeCrash,
        FaultKind::DependencyFailure,
        FaultKind::FlakyNetwork,
    ];

    /// The wire name (`cpu_spike`).
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::CpuSpike => "cpu_spike",
            FaultKind::MemoryLeak => "memory_leak",
            FaultKind::LatencySpike => "latency_spike",
            FaultKind::ErrorBurst => "error_burst",
            FaultKind::NodeCrash => "node_crash",
            FaultKind::DependencyFailure => "dependency_failure",
            FaultKind::FlakyNetwork => "flaky_network",
        }
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
        }
    }

    /// Whether the fault can be aimed at one service (`"service": "payments"`).
    pub fn accepts_service(self) -> bool {
        matches!(self, FaultKind::LatencySpike | FaultKind::ErrorBurst)
    }

    /// The valid names, comma separated, for error messages.
    pub fn valid_names() -> String {
        join(FaultKind::ALL.iter().map(|k| k.as_str()))
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown failure mode `{0}`; valid modes: {valid}", valid = FaultKind::valid_names())]
pub struct UnknownFaultKind(pub String);

impl FromStr for FaultKind {
    type Err = UnknownFaultKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| UnknownFaultKind(truncate(s)))
    }
}

/// The three services of the simulated shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// The product catalog.
    Products,
    /// Orders; creating one charges through `payments`.
    Orders,
    /// Payments; each charge calls the (simulated, remote) payment gateway.
    Payments,
}

impl Service {
    /// All services, in documentation order.
    pub const ALL: [Service; 3] = [Service::Products, Service::Orders, Service::Payments];

    /// The label value (`orders`).
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Products => "products",
            Service::Orders => "orders",
            Service::Payments => "payments",
        }
    }

    /// The valid names, comma separated, for error messages.
    pub fn valid_names() -> String {
        join(Service::ALL.iter().map(|s| s.as_str()))
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the services.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service `{0}`; valid services: {valid}", valid = Service::valid_names())]
pub struct UnknownService(pub String);

impl FromStr for Service {
    type Err = UnknownService;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| UnknownService(truncate(s)))
    }
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
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
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for kind in FaultKind::ALL {
            assert_eq!(kind.as_str().parse::<FaultKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).expect("serialise");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        for service in Service::ALL {
            assert_eq!(service.as_str().parse::<Service>(), Ok(service));
        }
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = "cpu_spikes".parse::<FaultKind>().expect_err("not a mode");
        assert_eq!(
            err.to_string(),
            "unknown failure mode `cpu_spikes`; valid modes: cpu_spike, memory_leak, \
             latency_spike, error_burst, node_crash, dependency_failure, flaky_network"
        );
        let err = "x".repeat(1000).parse::<Service>().expect_err("not a service");
        assert!(err.to_string().len() < 120, "echo is bounded: {err}");
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
