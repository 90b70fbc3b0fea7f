//! Fault lifecycle: validation of an injection, overlap, replacement, expiry and clearing.
//!
//! Faults of different modes overlap freely. Injecting a mode that is already active
//! with the same target service *replaces* it: the newest command wins, with its own
//! intensity, a fresh id and a fresh expiry (so re-running an injection both extends it
//! and lets you change its strength). Faults expire on their own at `expires_at`.
//!
//! No fault leaves the set silently: every call that changes it returns the faults it
//! ended and why ([`Ended`]), expired ones included, so the service can log each end and
//! keep its own records of them (a drill's seals) from that one answer.

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

/// Why an injection or a clear was refused. Nothing changes when one is returned, beyond
/// the end of faults whose time was up (see [`Changed`]).
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

/// Why a fault left the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Its time was up.
    Expired,
    /// Ended early on request ([`FaultSet::clear`], [`FaultSet::clear_all`]).
    Cleared,
    /// A new injection of the same mode and target took its place.
    Replaced,
}

impl EndReason {
    /// The name in logs and in the API (`expired`, `cleared`, `replaced`).
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Expired => "expired",
            EndReason::Cleared => "cleared",
            EndReason::Replaced => "replaced",
        }
    }
}

/// A fault that left the set, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    /// The fault as it was while in force.
    pub fault: Fault,
    /// Why it ended.
    pub reason: EndReason,
}

/// What a call that changes the set did: its own answer, and every fault it ended.
///
/// Each such call first ends the faults whose time is up, so `ended` holds those even
/// when the call itself is refused (`result` is an `Err`); nothing else changes then.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "the ended faults are the only record of their end"]
pub struct Changed<T> {
    /// The call's own answer.
    pub result: Result<T, FaultError>,
    /// The faults it ended, in order: the expired ones (oldest first), then the one the
    /// call replaced or cleared.
    pub ended: Vec<Ended>,
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

    /// Starts a fault at `now`. The default intensity, when it is a range, is drawn from
    /// `rng`. The answer is the new fault; a fault of the same mode and target it took
    /// the place of is in `ended` as [`EndReason::Replaced`].
    pub fn inject(&mut self, spec: &FaultSpec, now: Duration, rng: &mut impl Rng) -> Changed<Fault> {
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
    ) -> Changed<Fault> {
        let mut ended = self.expire(now);
        if let Err(refused) = spec.validate() {
            return Changed { result: Err(refused), ended };
        }
        let start = start.max(now);
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
        if let Some(i) = self.faults.iter().position(|f| f.kind == spec.kind && f.service == spec.service) {
            ended.push(Ended { fault: self.faults.remove(i), reason: EndReason::Replaced });
        }
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
        Changed { result: Ok(fault), ended }
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

    /// Ends one fault early (an active one, or one held for a later start); it is the
    /// last of `ended`, as [`EndReason::Cleared`]. An id no fault in force or held has is
    /// refused with [`FaultError::UnknownFault`].
    pub fn clear(&mut self, id: u64, now: Duration) -> Changed<()> {
        let mut ended = self.expire(now);
        let Some(i) = self.faults.iter().position(|f| f.id == id) else {
            return Changed { result: Err(FaultError::UnknownFault(id)), ended };
        };
        ended.push(Ended { fault: self.faults.remove(i), reason: EndReason::Cleared });
        Changed { result: Ok(()), ended }
    }

    /// Ends every fault: those whose time is up as [`EndReason::Expired`], the others
    /// (active or held for a later start) as [`EndReason::Cleared`].
    pub fn clear_all(&mut self, now: Duration) -> Vec<Ended> {
        let mut ended = self.expire(now);
        let cleared = std::mem::take(&mut self.faults).into_iter();
        ended.extend(cleared.map(|fault| Ended { fault, reason: EndReason::Cleared }));
        ended
    }

    /// Ends the faults whose time is up at `now`, oldest first, as [`EndReason::Expired`].
    pub fn expire(&mut self, now: Duration) -> Vec<Ended> {
        let (expired, kept): (Vec<Fault>, Vec<Fault>) =
            std::mem::take(&mut self.faults).into_iter().partition(|f| now >= f.expires_at);
        self.faults = kept;
        expired.into_iter().map(|fault| Ended { fault, reason: EndReason::Expired }).collect()
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

    fn ended(fault: &Fault, reason: EndReason) -> Ended {
        Ended { fault: fault.clone(), reason }
    }

    /// Starts `spec` at `now`, which must be accepted and end nothing.
    fn start(set: &mut FaultSet, spec: &FaultSpec, now: Duration, rng: &mut ChaCha8Rng) -> Fault {
        let change = set.inject(spec, now, rng);
        assert_eq!(change.ended, vec![], "{spec:?} at {now:?} ended something");
        change.result.expect("valid")
    }

    #[test]
    fn a_fault_is_active_until_its_expiry_and_then_expires_on_its_own() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let fault = set.inject(&spec(FaultKind::CpuSpike, 30.0), secs(10), &mut rng).result.expect("valid");
        assert_eq!((fault.id, fault.started_at, fault.expires_at), (1, secs(10), secs(40)));
        assert!(set.is_active(FaultKind::CpuSpike, secs(39)));
        assert_eq!(fault.remaining(secs(35)), secs(5));
        assert!(!set.is_active(FaultKind::CpuSpike, secs(40)));
        assert_eq!(set.expire(secs(40)), vec![ended(&fault, EndReason::Expired)]);
        assert_eq!(set.active(secs(40)).count(), 0);
    }

    #[test]
    fn different_modes_overlap_and_the_same_mode_is_replaced() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let first = start(&mut set, &spec(FaultKind::CpuSpike, 30.0), secs(0), &mut rng);
        start(&mut set, &spec(FaultKind::MemoryLeak, 60.0), secs(5), &mut rng);
        let again = FaultSpec { intensity: Some(0.6), ..spec(FaultKind::CpuSpike, 100.0) };
        let change = set.inject(&again, secs(20), &mut rng);
        assert_eq!(change.ended, vec![ended(&first, EndReason::Replaced)]);
        let fault = change.result.expect("valid");
        assert_eq!((fault.id, fault.intensity), (3, Some(0.6)));
        assert_eq!(fault.expires_at, secs(120));
        let active: Vec<_> = set.active(secs(21)).map(|f| (f.id, f.kind)).collect();
        assert_eq!(active, vec![(2, FaultKind::MemoryLeak), (3, FaultKind::CpuSpike)]);
    }

    #[test]
    fn the_same_mode_on_different_services_overlaps() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for service in [Service::Orders, Service::Payments] {
            let s = FaultSpec { service: Some(service), ..spec(FaultKind::LatencySpike, 30.0) };
            assert_eq!(set.inject(&s, secs(0), &mut rng).ended, vec![], "nothing replaced");
        }
        assert_eq!(set.active_of(FaultKind::LatencySpike, secs(1)).count(), 2);
    }

    #[test]
    fn a_fault_started_later_is_held_inactive_until_its_start() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let f = set
            .inject_from(&spec(FaultKind::NodeCrash, 10.0), secs(15), secs(5), &mut rng)
            .result
            .expect("ok");
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
        let cpu = start(&mut set, &spec(FaultKind::CpuSpike, 30.0), secs(0), &mut rng);
        let crash = start(&mut set, &spec(FaultKind::NodeCrash, 30.0), secs(0), &mut rng);
        assert_eq!(
            set.clear(7, secs(1)),
            Changed { result: Err(FaultError::UnknownFault(7)), ended: vec![] }
        );
        assert_eq!(
            set.clear(1, secs(1)),
            Changed { result: Ok(()), ended: vec![ended(&cpu, EndReason::Cleared)] }
        );
        assert_eq!(set.clear(1, secs(1)).result, Err(FaultError::UnknownFault(1)));
        assert_eq!(set.clear_all(secs(2)), vec![ended(&crash, EndReason::Cleared)]);
        assert_eq!(set.active(secs(2)).count(), 0);
    }

    #[test]
    fn every_change_ends_the_faults_whose_time_is_up_first_and_says_so() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let cpu = start(&mut set, &spec(FaultKind::CpuSpike, 10.0), secs(0), &mut rng);
        let leak = start(&mut set, &spec(FaultKind::MemoryLeak, 20.0), secs(0), &mut rng);
        let crash = start(&mut set, &spec(FaultKind::NodeCrash, 30.0), secs(0), &mut rng);

        // t=10: the spike's time is up; an injection of the same mode is no replacement.
        let change = set.inject(&spec(FaultKind::CpuSpike, 10.0), secs(10), &mut rng);
        assert_eq!(change.ended, vec![ended(&cpu, EndReason::Expired)]);
        let cpu2 = change.result.expect("valid");
        assert_eq!(cpu2.id, 4);

        // t=20: a refused injection still reports the two expiries, oldest first.
        let change = set.inject(&spec(FaultKind::CpuSpike, 0.5), secs(20), &mut rng);
        assert_eq!(change.result, Err(FaultError::BadDuration { given: 0.5 }));
        assert_eq!(change.ended, vec![ended(&leak, EndReason::Expired), ended(&cpu2, EndReason::Expired)]);

        // t=30: clearing the crash just as its time is up is refused: it expired.
        assert_eq!(
            set.clear(crash.id, secs(30)),
            Changed {
                result: Err(FaultError::UnknownFault(crash.id)),
                ended: vec![ended(&crash, EndReason::Expired)]
            }
        );
        assert_eq!(set.expire(secs(3600)), vec![], "each end is reported once");
    }

    #[test]
    fn a_replacement_and_a_clear_come_after_the_expiries_they_found() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let burst = start(&mut set, &spec(FaultKind::ErrorBurst, 5.0), secs(0), &mut rng);
        let cpu = start(&mut set, &spec(FaultKind::CpuSpike, 60.0), secs(0), &mut rng);
        let change = set.inject(&spec(FaultKind::CpuSpike, 60.0), secs(5), &mut rng);
        assert_eq!(change.ended, vec![ended(&burst, EndReason::Expired), ended(&cpu, EndReason::Replaced)]);
        let cpu2 = change.result.expect("valid");

        let network = start(&mut set, &spec(FaultKind::FlakyNetwork, 5.0), secs(10), &mut rng);
        assert_eq!(
            set.clear(cpu2.id, secs(15)),
            Changed {
                result: Ok(()),
                ended: vec![ended(&network, EndReason::Expired), ended(&cpu2, EndReason::Cleared)]
            }
        );
    }

    #[test]
    fn clear_all_tells_expired_faults_from_cleared_ones_pending_included() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let cpu = start(&mut set, &spec(FaultKind::CpuSpike, 10.0), secs(0), &mut rng);
        let leak = start(&mut set, &spec(FaultKind::MemoryLeak, 60.0), secs(0), &mut rng);
        let held = set
            .inject_from(&spec(FaultKind::NodeCrash, 10.0), secs(100), secs(0), &mut rng)
            .result
            .expect("valid");
        assert_eq!(
            set.clear_all(secs(10)),
            vec![
                ended(&cpu, EndReason::Expired),
                ended(&leak, EndReason::Cleared),
                ended(&held, EndReason::Cleared),
            ]
        );
        assert_eq!(set.clear_all(secs(11)), vec![]);
    }

    #[test]
    fn a_pending_fault_can_be_cleared_before_it_starts() {
        let mut set = FaultSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let held = set
            .inject_from(&spec(FaultKind::NodeCrash, 10.0), secs(100), secs(0), &mut rng)
            .result
            .expect("valid");
        assert_eq!(set.clear(held.id, secs(50)).ended, vec![ended(&held, EndReason::Cleared)]);
        assert!(!set.is_active(FaultKind::NodeCrash, secs(100)));
    }

    #[test]
    fn end_reasons_have_their_log_names() {
        let names = [EndReason::Expired, EndReason::Cleared, EndReason::Replaced].map(EndReason::as_str);
        assert_eq!(names, ["expired", "cleared", "replaced"]);
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
            let change = set.inject(s, secs(0), &mut rng);
            assert!(change.result.is_err(), "{s:?} must be refused");
            assert_eq!(change.ended, vec![]);
        }
        assert_eq!(set.active(secs(0)).count(), 0);
        assert_eq!(
            set.inject(&spec(FaultKind::CpuSpike, 1.0), secs(0), &mut rng).result.map(|f| f.id),
            Ok(1)
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
            let f = set.inject(&spec(FaultKind::ErrorBurst, 30.0), secs(i), &mut rng).result.expect("valid");
            let p = f.intensity.expect("drawn");
            assert!((0.2..=0.5).contains(&p), "{p}");
        }
    }
}
