//! Judging answers and scoring a drill: pure functions of the drill state and the times
//! read from Prometheus, so every rule is unit-tested.
//!
//! Out of 100: the diagnosis is worth 60 (shared among the causes; a near answer earns
//! half, the right failure on the wrong service three quarters), mitigation 20 (the
//! symptoms resolved after the learner acted, before the faults would have ended on
//! their own), speed 20 (full within the level's target time to diagnose, nothing at
//! three times it). Each hint costs 10, each wrong answer 5. Never below 0.

use edge_sim::{FaultKind, Service};
use serde::Serialize;

use super::state::{DrillState, Verdict};

/// Points for a complete diagnosis.
pub const DIAGNOSIS_POINTS: f64 = 60.0;
/// Points for mitigating.
pub const MITIGATION_POINTS: f64 = 20.0;
/// Points for a quick diagnosis.
pub const SPEED_POINTS: f64 = 20.0;
/// What each hint costs.
pub const HINT_COST: f64 = 10.0;
/// What each wrong answer costs: guessing is not free.
pub const WRONG_COST: f64 = 5.0;

/// Judges an answer against the drill's causes: the best match, and which cause it hit.
pub fn judge(
    state: &DrillState,
    node: u32,
    failure: FaultKind,
    service: Option<Service>,
) -> (Verdict, Option<usize>) {
    let mut best = (Verdict::Wrong, None);
    for (i, f) in state.causes() {
        let p = &f.plan;
        if p.node != node {
            continue;
        }
        let verdict = if p.failure == failure {
            if p.service.is_none() || p.service == service { Verdict::Right } else { Verdict::WrongService }
        } else if p.near.contains(&failure) {
            Verdict::Near
        } else {
            Verdict::Wrong
        };
        if verdict.credit() > best.0.credit() {
            best = (verdict, Some(i));
        }
    }
    best
}

/// The times of the incident, Unix seconds, from the real sources.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Times {
    /// The first cause started (its node's record).
    pub fault_start: Option<f64>,
    /// The first alert fired on a cause's node (Prometheus).
    pub detected_at: Option<f64>,
    /// The symptoms on every cause's node resolved after the learner cleared it
    /// (Prometheus), if they did.
    pub mitigated_at: Option<f64>,
}

/// The score and how it was reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// 0-100.
    pub total: f64,
    /// Each part: what, points (negative for costs).
    pub parts: Vec<(String, f64)>,
    /// Seconds from the fault's start to the first alert.
    pub detect_s: Option<f64>,
    /// Seconds from the fault's start to the complete diagnosis.
    pub diagnose_s: Option<f64>,
    /// Seconds from the fault's start to the steady state.
    pub mitigate_s: Option<f64>,
    /// Causes found right, and how many there are.
    pub found: (usize, usize),
}

/// Scores the drill so far.
pub fn score(state: &DrillState, times: &Times) -> Score {
    let causes: Vec<usize> = state.causes().map(|(i, _)| i).collect();
    let mut best = vec![0.0_f64; state.faults.len()];
    let mut complete_at = None;
    for a in &state.answers {
        if let Some(i) = a.cause {
            best[i] = best[i].max(a.verdict.credit());
        }
        if complete_at.is_none() && causes.iter().all(|&i| best[i] >= 1.0) {
            complete_at = Some(a.at);
        }
    }
    let share = causes.iter().map(|&i| best[i]).sum::<f64>() / causes.len().max(1) as f64;
    let since = |t: Option<f64>| match (t, times.fault_start) {
        (Some(t), Some(s)) => Some(((t - s) * 10.0).round() / 10.0),
        _ => None,
    };
    let diagnose_s = since(complete_at);
    let target = state.level.target_diagnosis_s();
    let speed = diagnose_s.map_or(0.0, |d| (1.0 - (d - target).max(0.0) / (2.0 * target)).clamp(0.0, 1.0));
    let wrong = state.answers.iter().filter(|a| a.verdict == Verdict::Wrong).count();
    let mut parts = vec![
        (format!("diagnosis ({:.0} % of the causes' credit)", share * 100.0), DIAGNOSIS_POINTS * share),
        (
            if times.mitigated_at.is_some() { "mitigated: the symptoms resolved" } else { "not mitigated" }
                .to_owned(),
            if times.mitigated_at.is_some() { MITIGATION_POINTS } else { 0.0 },
        ),
        (
            match diagnose_s {
                Some(d) => format!("time to diagnose {d:.0} s (full points within {target:.0} s)"),
                None => "no complete diagnosis".to_owned(),
            },
            SPEED_POINTS * speed,
        ),
    ];
    if !state.hints.is_empty() {
        parts.push((format!("{} hint(s)", state.hints.len()), -HINT_COST * state.hints.len() as f64));
    }
    if wrong > 0 {
        parts.push((format!("{wrong} wrong answer(s)"), -WRONG_COST * wrong as f64));
    }
    let total = parts.iter().map(|(_, p)| p).sum::<f64>().clamp(0.0, 100.0).round();
    let found = causes.iter().filter(|&&i| best[i] >= 1.0).count();
    Score {
        total,
        parts,
        detect_s: since(times.detected_at),
        diagnose_s,
        mitigate_s: since(times.mitigated_at),
        found: (found, causes.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::tests::sample;
    use super::super::state::{Answer, HintTaken};
    use super::*;

    fn answer(
        state: &mut DrillState,
        at: f64,
        node: u32,
        failure: FaultKind,
        service: Option<Service>,
    ) -> Verdict {
        let (verdict, cause) = judge(state, node, failure, service);
        state.answers.push(Answer { at, node, failure, service, verdict, cause });
        verdict
    }

    #[test]
    fn answers_are_judged_by_node_mode_service_and_family() {
        let s = sample(); // cause: error_burst on payments, node 3; red herring: cpu_spike on 7
        let j = |n, f, sv| judge(&s, n, f, sv).0;
        assert_eq!(j(3, FaultKind::ErrorBurst, Some(Service::Payments)), Verdict::Right);
        assert_eq!(j(3, FaultKind::ErrorBurst, Some(Service::Orders)), Verdict::WrongService);
        assert_eq!(j(3, FaultKind::ErrorBurst, None), Verdict::WrongService);
        assert_eq!(j(3, FaultKind::DependencyFailure, None), Verdict::Near);
        assert_eq!(j(3, FaultKind::CpuSpike, None), Verdict::Wrong);
        assert_eq!(j(4, FaultKind::ErrorBurst, Some(Service::Payments)), Verdict::Wrong, "wrong node");
        assert_eq!(j(7, FaultKind::CpuSpike, None), Verdict::Wrong, "the red herring is no answer");
    }

    #[test]
    fn a_quick_right_answer_with_mitigation_scores_100() {
        let mut s = sample();
        answer(&mut s, 1100.0, 3, FaultKind::ErrorBurst, Some(Service::Payments));
        let times =
            Times { fault_start: Some(1010.0), detected_at: Some(1011.5), mitigated_at: Some(1130.0) };
        let sc = score(&s, &times);
        assert_eq!(sc.total, 100.0, "{sc:?}");
        assert_eq!((sc.detect_s, sc.diagnose_s, sc.mitigate_s), (Some(1.5), Some(90.0), Some(120.0)));
        assert_eq!(sc.found, (1, 1));
    }

    #[test]
    fn hints_wrong_answers_near_answers_and_slowness_cost_points() {
        let mut s = sample();
        s.hints = vec![HintTaken { index: 0, at: 1050.0 }, HintTaken { index: 1, at: 1060.0 }];
        assert_eq!(answer(&mut s, 1070.0, 5, FaultKind::CpuSpike, None), Verdict::Wrong);
        assert_eq!(answer(&mut s, 1080.0, 3, FaultKind::DependencyFailure, None), Verdict::Near);
        let times = Times { fault_start: Some(1010.0), detected_at: Some(1012.0), mitigated_at: None };
        let sc = score(&s, &times);
        // 60 x 0.5 (near), no mitigation, no complete diagnosis, -20 hints, -5 wrong.
        assert_eq!(sc.total, 5.0, "{sc:?}");
        assert_eq!(sc.diagnose_s, None);
        // Right at last, slowly: 2 x target after the start is half the speed points.
        answer(&mut s, 1010.0 + 2.0 * 240.0, 3, FaultKind::ErrorBurst, Some(Service::Payments));
        let sc = score(&s, &Times { mitigated_at: Some(1600.0), ..times });
        assert_eq!(sc.total, 60.0 + 20.0 + 10.0 - 20.0 - 5.0, "{sc:?}");
        // The score never goes below zero.
        s.answers.clear();
        s.hints = (0..12).map(|i| HintTaken { index: i, at: 1020.0 }).collect();
        assert_eq!(score(&s, &times).total, 0.0);
    }

    #[test]
    fn two_causes_need_two_answers() {
        let mut s = sample();
        s.faults[1].plan.role = super::super::catalog::Role::Cause;
        answer(&mut s, 1050.0, 3, FaultKind::ErrorBurst, Some(Service::Payments));
        let times = Times { fault_start: Some(1010.0), ..Times::default() };
        let sc = score(&s, &times);
        assert_eq!((sc.found, sc.diagnose_s), ((1, 2), None));
        assert_eq!(answer(&mut s, 1070.0, 7, FaultKind::CpuSpike, None), Verdict::Right);
        let sc = score(&s, &times);
        assert_eq!((sc.found, sc.diagnose_s), ((2, 2), Some(60.0)));
    }
}
