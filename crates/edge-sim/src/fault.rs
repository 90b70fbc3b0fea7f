//! Fault lifecycle: validation of an injection, overlap, replacement and expiry.
//!
//! Faults of different modes overlap freely. Injecting a mode that is already active
//! with the same target service *replaces* it: the newest command wins, with its own
//! intensity, a fresh id and a fresh expiry (so re-running an injection both extends it
//! and lets you change its strength). Faults expire on their own at `expires_at`.

use std::time::Duration;

use crate::catalog::{FaultKind, Service};
use rand::{Rng, RngExt};

/// The longest fault a node accepts: one hour keeps a forgotten injection from
/// breaking a demo for the rest of the day.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// The shortest fault: below one scrape interval nothing could observe it.
pub const MIN_DURATION: Duration = Duration::from_secs(1);

/// An injection request, already parsed into catalog types but not yet validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    /// The failure mode.
    pub kind: FaultKind,
    /// How long it lasts, in seconds (a float so `0.5` can be rejected, not truncated).
    pub duration_s: f64,
    /// Optional strength; see [`FaultKind::intensity`].
    pub intensity: Option<f64>,
    /// Optional target service, for modes that accept one.
    pub service: Option<Service>,
}

/// Why an injection or a clear was refused. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    /// Duration missing the bounds or not a finite number.
    #[error("duration_s must be a number of seconds between {min} and {max}, got {given}",
        min = MIN_DURATION.as_secs(), max = MAX_DURATION.as_secs())]
    BadDuration {
        /// What was given.
        given: f64,
    },
    /// Intensity outside the mode's range.
    #[error("intensity for {kind} is the {meaning} and must be between {min} and {max}, got {given}")]
    IntensityOutOfRange {
        /// The mode.
        kind: FaultKind,
        /// What intensity means for it.
        meaning: &'static str,
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// What was given.
        given: f64,
    },
    /// The mode has no intensity.
    #[error("{0} takes no intensity")]
    IntensityNotSupported(FaultKind),
    /// The mode cannot be aimed at one service.
    #[error("{0} cannot target a service; only latency_spike and error_burst can")]
    ServiceNotSupported(FaultKind),
    /// No active fault has that id.
    #[error("no active fault with id {0}")]
    UnknownFault(u64),
}

impl FaultSpec {
    /// Checks the spec against the catalog; `Ok` means [`FaultSet::inject`] will accept it.
    pub fn validate(&self) -> Result<(), FaultError> {
        let d = self.duration_s;
        if !d.is_finite() || d < MIN_DURATION.as_secs_f64() || d > MAX_DURATION.as_secs_f64() {
            return Err(FaultError::BadDuration { given: d });
        }
        match (self.kind.intensity(), self.intensity) {
            (None, Some(_)) => return Err(FaultError::IntensityNotSupported(self.kind)),
            (Some(range), Some(given)) if !given.is_finite() || given < range.min || given > range.max => {
                return Err(FaultError::IntensityOutOfRange {
                    kind: self.kind,
                    meaning: range.meaning,
                    min: range.min,
                    max: range.max,
                    given,
                });
            }
            _ => {}
        }
        if self.service.is_some() && !self.kind.accepts_service() {
            return Err(FaultError::ServiceNotSupported(self.kind));
        }
        Ok(())
    }
}

/// A fault that was accepted. Times are offsets from the node's start. The API shows
/// it as an [`api::FaultView`](crate::api::FaultView).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Unique per node, increasing.
    pub id: u64,
    /// The failure mode.
    pub kind: FaultKind,
    /// The resolved intensity (the default was drawn if none was given).
    pub intensity: Option<f64>,
    /// The target service, if any; `None` means the whole node.
    pub service: Option<Service>,
    /// When it started.
    pub started_at: Duration,
    /// When it ends on its own.
    pub expires_at: Duration,
}

impl Fault {
    /// Whether the fault is in force at `now`.
    pub fn is_active(&self, now: Duration) -> bool {
        self.started_at <= now && now < self.expires_at
    }

    /// Time left at `now` (zero once expired).
    pub fn remaining(&self, now: Duration) -> Duration {
        self.expires_at.saturating_sub(now)
    }

    /// The intensity, or the middle of the default range for modes that have one.
    pub fn intensity_or_default(&self) -> f64 {
        self.intensity.or_else(|| self.kind.intensity().map(|i| i.default.0)).unwrap_or(1.0)
    }

    /// Whether a request step of `service` is affected by this fault.
    pub fn targets(&self, service: Service) -> bool {
        self.service.is_none_or(|s| s == service)
    }
}

/// The result of an accepted injection.
#[derive(Debug, Clone, PartialEq)]
pub struct Injected {
    /// The new fault.
    pub fault: Fault,
    /// The fault of the same mode and target it replaced, if one was active.
    pub replaced: Option<Fault>,
}

/// The faults of one node.
#[derive(Debug, Clone, Default)]
pub struct FaultSet {
    faults: Vec<Fault>,
    next_id: u64,
}

impl FaultSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a fault at `now`. The default intensity, when it is a range, is drawn from `rng`.
    pub fn inject(
        &mut self,
        spec: &FaultSpec,
        now: Duration,
        rng: &mut impl Rng,
    ) -> Result<Injected, FaultError> {
        self.inject_from(spec, now, now, rng)
    }

    /// Starts a fault at `start` (at or after `now`): until then it is held but not
    /// active (a drill's start delay). Otherwise as [`Self::inject`].
    pub fn inject_from(
        &mut self,
        spec: &FaultSpec,
        start: Duration,
        now: Duration,
        rng: &mut impl Rng,
    ) -> Result<Injected, FaultError> {
        spec.validate()?;
        let start = start.max(now);
        self.expire(now);
        let intensity = spec.intensity.or_else(|| {
            spec.kind.intensity().map(|i| {
                if i.default.0 < i.default.1 {
                    // Three decimals: exact enough, and readable in the API and logs.
                    (rng.random_range(i.default.0..=i.default.1) * 1e3).round() / 1e3
                } else {
                    i.default.0
                }
            })
        });
        let replaced = self
            .faults
            .iter()
            .position(|f| f.kind == spec.kind && f.service == spec.service)
            .map(|i| self.faults.remove(i));
        self.next_id += 1;
        let fault = Fault {
            id: self.next_id,
            kind: spec.kind,
            intensity,
            service: spec.service,
            started_at: start,
            expires_at: start + Duration::from_secs_f64(spec.duration_s),
        };
        self.faults.push(fault.clone());
        Ok(Injected { fault, replaced })
    }

    /// Faults in force at `now`, oldest first.
    pub fn active(&self, now: Duration) -> impl Iterator<Item = &Fault> {
        self.faults.iter().filter(move |f| f.is_active(now))
    }

    /// The active faults of one mode at `now`.
    pub fn active_of(&self, kind: FaultKind, now: Duration) -> impl Iterator<Item = &Fault> {
        self.active(now).filter(move |f| f.kind == kind)
    }

    /// Whether any fault of `kind` is in force at `now`.
    pub fn is_active(&self, kind: FaultKind, now: Duration) -> bool {
        self.active_of(kind, now).next().is_some()
    }

    /// Ends one active fault early.
    pub fn clear(&mut self, id: u64, now: Duration) -> Result<Fault, FaultError> {
        self.expire(now);
        let i = self.faults.iter().position(|f| f.id == id).ok_or(FaultError::UnknownFault(id))?;
        Ok(self.faults.remove(i))
    }

    /// Ends every active fault; returns them.
    pub fn clear_all(&mut self, now: Duration) -> Vec<Fault> {
        self.expire(now);
        std::mem::take(&mut self.faults)
    }

    /// Drops faults whose time is up; returns them so their end can be logged.
    pub fn expire(&mut self, now: Duration) -> Vec<Fault> {
        let (ended, kept) = std::mem::take(&mut self.faults).into_iter().partition(|f| now >= f.expires_at);
        self.faults = kept;
        ended
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn spec(kind: FaultKind, duration_s: f64) -> FaultSpec {
        FaultSpec { kind, duration_s, intensity: None, service: None }
    }

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_fault_is_active_until_its_expiry_and_then_expires_on_its_own() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let fault = set.inject(&spec(FaultKind::CpuSpike, 30.0), secs(10), &mut rng).expect("valid").fault;
        assert_eq!((fault.id, fault.started_at, fault.expires_at), (1, secs(10), secs(40)));
        assert!(set.is_active(FaultKind::CpuSpike, secs(39)));
        assert_eq!(fault.remaining(secs(35)), secs(5));
        assert!(!set.is_active(FaultKind::CpuSpike, secs(40)));
        assert_eq!(set.expire(secs(40)), vec![fault]);
        assert_eq!(set.active(secs(40)).count(), 0);
    }

    #[test]
    fn different_modes_overlap_and_the_same_mode_is_replaced() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        set.inject(&spec(FaultKind::CpuSpike, 30.0), secs(0), &mut rng).expect("valid");
        set.inject(&spec(FaultKind::MemoryLeak, 60.0), secs(5), &mut rng).expect("valid");
        let again = FaultSpec { intensity: Some(0.6), ..spec(FaultKind::CpuSpike, 100.0) };
        let injected = set.inject(&again, secs(20), &mut rng).expect("valid");
        assert_eq!(injected.replaced.map(|f| f.id), Some(1));
        assert_eq!((injected.fault.id, injected.fault.intensity), (3, Some(0.6)));
        assert_eq!(injected.fault.expires_at, secs(120));
        let active: Vec<_> = set.active(secs(21)).map(|f| (f.id, f.kind)).collect();
        assert_eq!(active, vec![(2, FaultKind::MemoryLeak), (3, FaultKind::CpuSpike)]);
    }

    #[test]
    fn the_same_mode_on_different_services_overlaps() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for service in [Service::Orders, Service::Payments] {
            let s = FaultSpec { service: Some(service), ..spec(FaultKind::LatencySpike, 30.0) };
            assert_eq!(set.inject(&s, secs(0), &mut rng).expect("valid").replaced, None);
        }
        assert_eq!(set.active_of(FaultKind::LatencySpike, secs(1)).count(), 2);
    }

    #[test]
    fn a_fault_started_later_is_held_inactive_until_its_start() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let f = set
            .inject_from(&spec(FaultKind::NodeCrash, 10.0), secs(15), secs(5), &mut rng)
            .expect("ok")
            .fault;
        assert_eq!((f.started_at, f.expires_at), (secs(15), secs(25)));
        assert!(!set.is_active(FaultKind::NodeCrash, secs(14)));
        assert!(set.is_active(FaultKind::NodeCrash, secs(15)));
        assert!(set.expire(secs(14)).is_empty(), "a pending fault does not expire");
        assert_eq!(set.expire(secs(25)).len(), 1);
    }

    #[test]
    fn clear_ends_one_fault_or_all_and_unknown_ids_are_refused() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        set.inject(&spec(FaultKind::CpuSpike, 30.0), secs(0), &mut rng).expect("valid");
        set.inject(&spec(FaultKind::NodeCrash, 30.0), secs(0), &mut rng).expect("valid");
        assert_eq!(set.clear(7, secs(1)), Err(FaultError::UnknownFault(7)));
        assert_eq!(set.clear(1, secs(1)).map(|f| f.kind), Ok(FaultKind::CpuSpike));
        assert_eq!(set.clear(1, secs(1)), Err(FaultError::UnknownFault(1)));
        assert_eq!(set.clear_all(secs(2)).len(), 1);
        assert_eq!(set.active(secs(2)).count(), 0);
    }

    #[test]
    fn invalid_specs_are_refused_and_change_nothing() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let bad = [
            spec(FaultKind::CpuSpike, 0.0),
            spec(FaultKind::CpuSpike, -5.0),
            spec(FaultKind::CpuSpike, 0.5),
            spec(FaultKind::CpuSpike, 3601.0),
            spec(FaultKind::CpuSpike, f64::NAN),
            spec(FaultKind::CpuSpike, f64::INFINITY),
            FaultSpec { intensity: Some(1.5), ..spec(FaultKind::CpuSpike, 30.0) },
            FaultSpec { intensity: Some(f64::NAN), ..spec(FaultKind::ErrorBurst, 30.0) },
            FaultSpec { intensity: Some(0.5), ..spec(FaultKind::NodeCrash, 30.0) },
            FaultSpec { service: Some(Service::Orders), ..spec(FaultKind::CpuSpike, 30.0) },
        ];
        for s in &bad {
            assert!(set.inject(s, secs(0), &mut rng).is_err(), "{s:?} must be refused");
        }
        assert_eq!(set.active(secs(0)).count(), 0);
        assert_eq!(
            set.inject(&spec(FaultKind::CpuSpike, 1.0), secs(0), &mut rng).expect("valid").fault.id,
            1
        );
    }

    #[test]
    fn error_messages_say_what_is_valid() {
        let err = FaultSpec { intensity: Some(2.0), ..spec(FaultKind::ErrorBurst, 30.0) }.validate();
        assert_eq!(
            err.expect_err("out of range").to_string(),
            "intensity for error_burst is the fraction of requests failing and must be between 0.01 and 1, got 2"
        );
        let err = spec(FaultKind::CpuSpike, 0.0).validate().expect_err("zero");
        assert_eq!(err.to_string(), "duration_s must be a number of seconds between 1 and 3600, got 0");
    }

    #[test]
    fn default_error_burst_intensity_is_drawn_between_20_and_50_percent() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for i in 0..200 {
            let mut set = FaultSet::new();
            let f = set.inject(&spec(FaultKind::ErrorBurst, 30.0), secs(i), &mut rng).expect("valid").fault;
            let p = f.intensity.expect("drawn");
            assert!((0.2..=0.5).contains(&p), "{p}");
        }
    }
}
