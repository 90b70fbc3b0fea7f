//! Blind drills for on-call practice: `inject drill start|status|hint|answer|reveal|stop|report`.
//!
//! A drill draws a fault (or two) from the catalogue (`drills/`) with a printed seed,
//! injects it *sealed* (the nodes apply it but name it nowhere a learner looks) with a
//! start delay the learner does not know, and keeps its state in a file. The learner
//! finds it from alerts, dashboards and logs, answers, mitigates with the ordinary CLI,
//! and gets a score and a post-mortem built from what the nodes, Prometheus and the
//! alert sink recorded.
//!
//! Modules: [`catalog`] (the drills and the seeded draw), [`state`] (the state file),
//! [`error`] (how a command refuses or fails, and the outcome with gaps),
//! [`score`] (judging and scoring, pure), [`evidence`] (reading the sources), [`mod@report`]
//! (the Markdown post-mortem, pure), [`run_report`] (a scenario run's), and `post_mortem`
//! (the layout both share, an askama template), [`utc`] (times as the drills print them).

pub mod catalog;
pub mod error;
pub mod evidence;
mod post_mortem;
pub mod report;
pub mod run_report;
pub mod score;
pub mod state;
pub mod utc;

use std::io::Write;
use std::path::PathBuf;

use edge_sim::api::InjectRequest;
use edge_sim::{FaultKind, Service};
use serde_json::json;

use catalog::{Catalog, Draw, Drill, Level, Role};
pub use error::{DrillError, Outcome, StartFailure, Undone};
use evidence::Evidence;
use score::Times;
use stack_client::{NodeClient, NodeError};
use state::{DrillState, HintTaken};
use utc::now;

/// What a drill is started with (`inject drill start`'s options, as plain data).
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// The level to draw at.
    pub level: Level,
    /// The seed (default: random, printed).
    pub seed: Option<u64>,
    /// The nodes the drill may break (the running fleet already resolved).
    pub pool: Vec<u32>,
    /// For instructors: this drill instead of one drawn at the level.
    pub drill: Option<String>,
    /// The catalogue folder (default: `./drills`, else the repository's).
    pub catalog: Option<PathBuf>,
    /// Seconds before the first fault, instead of the drawn delay.
    pub delay: Option<f64>,
    /// The alert sink, for the report.
    pub sink: String,
}

/// The drill in `path`, its catalogue entry, and the evidence of what happened so far.
async fn read(
    client: &NodeClient,
    path: &std::path::Path,
) -> Result<(DrillState, Drill, Evidence), DrillError> {
    let st = state::require(path)?;
    let drill = drill_of(&st)?;
    let ev = evidence::gather(client, &st, now()).await;
    Ok((st, drill, ev))
}

/// `drill status`: how it is going; gaps are the sources that did not answer (said on `err`).
pub async fn status(
    client: &NodeClient,
    path: &std::path::Path,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<Outcome, DrillError> {
    let (st, drill, ev) = read(client, path).await?;
    print_status(&st, &drill, &ev, json, out, err);
    Ok(Outcome::with_gaps(ev.problems))
}

/// `drill reveal`: what the drill really is, for the instructor.
pub async fn reveal(
    client: &NodeClient,
    path: &std::path::Path,
    json: bool,
    out: &mut impl Write,
) -> Result<(), DrillError> {
    let (st, drill, ev) = read(client, path).await?;
    print_reveal(&st, &drill, &ev, json, out);
    Ok(())
}

/// `drill report`: the Markdown post-mortem to `output` (a file) or `out`; what a source did
/// not give is said on `err` (the report on stdout stays a clean file when redirected) and
/// is the outcome's gaps.
pub async fn report(
    client: &NodeClient,
    path: &std::path::Path,
    output: Option<&std::path::Path>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<Outcome, DrillError> {
    let (st, drill, ev) = read(client, path).await?;
    let sc = score::score(&st, &times(&st, &drill, &ev));
    let md = report::render(&drill, &st, &ev, &sc);
    match output {
        Some(file) => {
            std::fs::write(file, md)
                .map_err(|source| DrillError::WriteReport { path: file.to_owned(), source })?;
            let _ = writeln!(err, "wrote the incident report to {}", file.display());
        }
        None => {
            let _ = write!(out, "{md}");
        }
    }
    for p in &ev.problems {
        let _ = writeln!(err, "warning: {p}");
    }
    Ok(Outcome::with_gaps(ev.problems))
}

/// The drill of a state, from the catalogue it was drawn from.
fn drill_of(st: &DrillState) -> Result<Drill, DrillError> {
    let catalog = Catalog::load(&st.catalog)?;
    Ok(catalog.named(&st.drill)?.clone())
}

/// A seal key no one outside the state file can guess.
fn new_key() -> String {
    format!("drill-{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>())
}

/// `drill start`: draws a drill, injects it sealed and saves its state; on any failure
/// ends what it started (nothing changes) and refuses in one line.
pub async fn start(
    client: &NodeClient,
    a: Start,
    path: &std::path::Path,
    prometheus: &str,
    json: bool,
    out: &mut impl Write,
) -> Result<(), DrillError> {
    if let Some(old) = state::load(path)?
        && old.stopped_at.is_none()
    {
        return Err(DrillError::AlreadyRunning {
            level: old.level,
            seed: old.seed,
            started_at: old.started_at,
        });
    }
    let dir = a.catalog.clone().unwrap_or_else(catalog::default_dir);
    let catalog = Catalog::load(&dir)?;
    if a.pool.is_empty() {
        return Err(DrillError::EmptyPool);
    }
    let seed = a.seed.unwrap_or_else(rand::random);
    let drawn = catalog::draw(&catalog, a.level, a.drill.as_deref(), &a.pool, seed)?;
    let mut st = new_state(&drawn, &a, seed, &dir, prometheus);
    // Inject every fault; on any failure or ctrl-c, end what was started: nothing changes.
    let outcome: Result<(), StartFailure> = tokio::select! {
        r = inject_sealed(client, &mut st) => r.map_err(StartFailure::from),
        _ = tokio::signal::ctrl_c() => Err(StartFailure::Interrupted),
    };
    if let Err(cause) = outcome.and_then(|()| Ok(state::save(path, &st)?)) {
        let (ended, failed) = end_faults(client, &st).await;
        return Err(DrillError::NotStarted { cause, undone: Undone { ended, failed } });
    }
    print_started(&st, drawn.drill, a.delay, path, json, out);
    Ok(())
}

/// The state of a drill just drawn, before anything is injected: a new seal key, and each
/// fault's start shifted so the first starts after `--delay` if one was given.
fn new_state(drawn: &Draw<'_>, a: &Start, seed: u64, dir: &std::path::Path, prometheus: &str) -> DrillState {
    let shift = a
        .delay
        .map(|d| d.round() as i64 - i64::from(drawn.faults.iter().map(|f| f.start_in_s).min().unwrap_or(0)));
    DrillState {
        version: state::VERSION,
        seed,
        level: drawn.drill.level,
        drill: drawn.drill.name.clone(),
        pool: a.pool.clone(),
        key: new_key(),
        started_at: now(),
        prometheus: prometheus.trim_end_matches('/').to_owned(),
        sink: a.sink.trim_end_matches('/').to_owned(),
        catalog: std::fs::canonicalize(dir).unwrap_or(dir.to_owned()),
        faults: drawn
            .faults
            .iter()
            .map(|p| {
                let mut plan = p.clone();
                if let Some(shift) = shift {
                    plan.start_in_s = (i64::from(plan.start_in_s) + shift).max(0) as u32;
                }
                state::Injected { plan, id: None, starts_at: None }
            })
            .collect(),
        hints: Vec::new(),
        answers: Vec::new(),
        stopped_at: None,
    }
}

/// Injects the drill's faults in order, sealed with its key, noting each one's id and start;
/// stops at the first a node does not take (the caller ends those already started).
async fn inject_sealed(client: &NodeClient, st: &mut DrillState) -> Result<(), NodeError> {
    for f in &mut st.faults {
        let p = &f.plan;
        let body = InjectRequest {
            failure: p.failure,
            duration_s: f64::from(p.duration_s),
            intensity: p.intensity,
            service: p.service,
            seal: Some(st.key.clone()),
            start_in_s: Some(f64::from(p.start_in_s)),
        };
        let started = client.inject(p.node, &body).await?;
        f.id = Some(started.fault.id);
        f.starts_at = Some(started.fault.started_at);
    }
    Ok(())
}

/// What a started drill tells the learner: the seed, the window something will go wrong
/// in, and the commands to use; never which fault or when.
fn print_started(
    st: &DrillState,
    drill: &Drill,
    delay: Option<f64>,
    path: &std::path::Path,
    json: bool,
    out: &mut impl Write,
) {
    // The longest the drill's definition allows, not this draw's: the learner must not be
    // able to read the start from the message.
    let last_offset = drill.faults.iter().map(|f| f.offset_s).max().unwrap_or(0);
    let window = match delay {
        Some(d) => d.round() as u32 + last_offset,
        None => drill.start_delay_s.1 + last_offset,
    };
    let seed = st.seed;
    if json {
        let _ =
            writeln!(out, "{}", json!({"seed": seed, "level": st.level, "state": path, "within_s": window}));
    } else {
        let _ = writeln!(
            out,
            "Drill started: level {}, seed {seed} (replay with `inject drill start --level {} --seed {seed}`).\n\
             You are on call. Within the next {} s something will go wrong on the fleet (nodes {}).\n\
             Find it from the alerts (alert sink, Prometheus), the dashboards and the logs; then\n  \
             inject drill answer --node N --failure MODE [--service S]   your diagnosis\n  \
             inject clear --node N   (or what the runbook says)           your mitigation\n  \
             inject drill hint       a hint (costs points)\n  \
             inject drill status     how it is going\n  \
             inject drill stop       end it (the fleet is left healthy), then `inject drill report`\n\
             State: {}",
            st.level.as_str(),
            st.level.as_str(),
            window.max(1),
            crate::targets::compact(&st.pool),
            path.display()
        );
    }
}

/// Ends every injected fault of the drill (its key may end sealed faults). Returns how
/// many were ended or already over, and why the others could not be.
async fn end_faults(client: &NodeClient, st: &DrillState) -> (usize, Vec<NodeError>) {
    let mut ended = 0;
    let mut failed = Vec::new();
    for f in &st.faults {
        let Some(id) = f.id else { continue };
        match client.clear_sealed(f.plan.node, id, &st.key).await {
            Ok(_) | Err(NodeError::Refused { status: 404, .. }) => ended += 1,
            Err(e) => failed.push(e),
        }
    }
    (ended, failed)
}

/// `drill hint`: the next hint (each costs points).
pub fn hint(path: &std::path::Path, json: bool, out: &mut impl Write) -> Result<(), DrillError> {
    let mut st = state::require(path)?;
    let drill = drill_of(&st)?;
    if st.stopped_at.is_some() {
        return Err(DrillError::Over);
    }
    let index = st.hints.len();
    let Some(text) = drill.hints.get(index) else {
        return Err(DrillError::NoMoreHints(drill.hints.len()));
    };
    let text = fill(text, &st);
    st.hints.push(HintTaken { index, at: now() });
    state::save(path, &st)?;
    if json {
        let _ = writeln!(
            out,
            "{}",
            json!({"hint": index + 1, "of": drill.hints.len(), "text": text, "cost": score::HINT_COST})
        );
    } else {
        let _ = writeln!(
            out,
            "Hint {} of {} (-{:.0} points): {text}",
            index + 1,
            drill.hints.len(),
            score::HINT_COST
        );
    }
    Ok(())
}

/// A hint with `{node}`, `{region}` and `{service}` filled in from the first cause.
fn fill(text: &str, st: &DrillState) -> String {
    let Some((_, cause)) = st.causes().next() else { return text.to_owned() };
    let p = &cause.plan;
    text.replace("{node}", &p.node.to_string())
        .replace("{region}", edge_sim::fleet::default_region(p.node))
        .replace("{service}", p.service.map_or("the service", |s| s.as_str()))
}

/// `drill answer`: records and judges a diagnosis.
pub fn answer(
    path: &std::path::Path,
    node: u32,
    failure: FaultKind,
    service: Option<Service>,
    json: bool,
    out: &mut impl Write,
) -> Result<(), DrillError> {
    let mut st = state::require(path)?;
    if !st.pool.contains(&node) {
        return Err(DrillError::NotInPool { node, pool: st.pool });
    }
    if st.stopped_at.is_some() {
        return Err(DrillError::Over);
    }
    let (verdict, cause) = score::judge(&st, node, failure, service);
    st.answers.push(state::Answer { at: now(), node, failure, service, verdict, cause });
    state::save(path, &st)?;
    let causes: Vec<usize> = st.causes().map(|(i, _)| i).collect();
    let found = causes
        .iter()
        .filter(|&&i| st.answers.iter().any(|a| a.cause == Some(i) && a.verdict == state::Verdict::Right))
        .count();
    if json {
        let _ = writeln!(out, "{}", json!({"verdict": verdict, "found": found, "causes": causes.len()}));
    } else {
        let _ = writeln!(out, "{}: {found} of {} cause(s) found", verdict.says(), causes.len());
        if found == causes.len() {
            let _ = writeln!(
                out,
                "Now mitigate (the runbook's Mitigate step); `inject drill status` shows when the steady state is back."
            );
        }
    }
    Ok(())
}

/// The times of the incident from the evidence: the first cause's start (its node), the
/// first alert firing on a cause's node, and when the drill's symptoms on the cause
/// nodes resolved after the learner cleared every cause before it would have ended.
pub fn times(st: &DrillState, drill: &Drill, ev: &Evidence) -> Times {
    let causes: Vec<usize> = st.causes().map(|(i, _)| i).collect();
    let records: Vec<_> = ev.faults.iter().filter(|f| causes.contains(&f.index)).collect();
    let fault_start = records.iter().map(|f| f.started_at).reduce(f64::min);
    let nodes: Vec<String> = causes.iter().map(|&i| st.faults[i].plan.node.to_string()).collect();
    let on_cause = |a: &&evidence::AlertRun| a.node.as_ref().is_some_and(|n| nodes.contains(n));
    let after_start = |t: Option<f64>| matches!((t, fault_start), (Some(t), Some(s)) if t >= s - 1.0);
    let detected_at = ev
        .alerts
        .iter()
        .filter(on_cause)
        .filter(|a| after_start(a.firing_at))
        .filter_map(|a| a.firing_at)
        .reduce(f64::min);
    let cleared_by_learner = records.len() == causes.len()
        && records.iter().all(|f| {
            f.end_reason.as_deref() == Some("cleared")
                && f.ended_at.is_some_and(|t| st.stopped_at.is_none_or(|stop| t < stop - 0.5))
        });
    let mitigated_at = if cleared_by_learner {
        let symptoms: Vec<_> = ev
            .alerts
            .iter()
            .filter(on_cause)
            .filter(|a| drill.symptoms.contains(&a.alertname) && after_start(a.firing_at))
            .collect();
        if symptoms.iter().any(|a| a.resolved_at.is_none()) {
            None
        } else {
            let cleared = records.iter().filter_map(|f| f.ended_at).reduce(f64::max);
            symptoms.iter().filter_map(|a| a.resolved_at).chain(cleared).reduce(f64::max)
        }
    } else {
        None
    };
    Times { fault_start, detected_at, mitigated_at }
}

fn print_status(
    st: &DrillState,
    drill: &Drill,
    ev: &Evidence,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) {
    let t = times(st, drill, ev);
    let sc = score::score(st, &t);
    // Whether a cause was cleared is the learner's own action; saying so names no fault.
    let cleared = ev
        .faults
        .iter()
        .any(|f| st.faults[f.index].plan.role == Role::Cause && f.end_reason.as_deref() == Some("cleared"));
    let steady = match (t.mitigated_at, cleared) {
        (Some(at), _) => format!("back at {} UTC (mitigated)", utc::clock(at)),
        (None, true) => "not yet: the symptoms still fire, or not every cause was cleared".to_owned(),
        (None, false) => "not mitigated".to_owned(),
    };
    if json {
        let _ = writeln!(
            out,
            "{}",
            json!({
                "seed": st.seed, "level": st.level, "running": st.stopped_at.is_none(),
                "hints": st.hints.len(), "answers": st.answers.len(), "found": sc.found.0, "causes": sc.found.1,
                "mitigated": t.mitigated_at.is_some(), "score": sc, "problems": ev.problems,
            })
        );
        return;
    }
    let elapsed = st.stopped_at.unwrap_or(ev.read_at) - st.started_at;
    let _ = writeln!(
        out,
        "drill: level {}, seed {}, started {} UTC, {} ({:.0} s)",
        st.level.as_str(),
        st.seed,
        utc::clock(st.started_at),
        if st.stopped_at.is_some() { "stopped" } else { "running" },
        elapsed
    );
    let _ = writeln!(out, "hints: {} of {} taken", st.hints.len(), drill.hints.len());
    let _ =
        writeln!(out, "answers: {} given, {} of {} cause(s) found", st.answers.len(), sc.found.0, sc.found.1);
    let _ = writeln!(out, "steady state: {steady}");
    let _ = writeln!(out, "score so far: {:.0}/100", sc.total);
    for p in &ev.problems {
        let _ = writeln!(err, "warning: {p}");
    }
}

fn print_reveal(st: &DrillState, drill: &Drill, ev: &Evidence, json: bool, out: &mut impl Write) {
    let rows: Vec<serde_json::Value> = st
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let rec = ev.faults.iter().find(|r| r.index == i);
            json!({
                "node": f.plan.node, "failure": f.plan.failure, "service": f.plan.service,
                "intensity": f.plan.intensity, "role": f.plan.role, "id": f.id,
                "starts_at": rec.map(|r| r.started_at).or(f.starts_at), "duration_s": f.plan.duration_s,
                "ended_at": rec.and_then(|r| r.ended_at), "end_reason": rec.and_then(|r| r.end_reason.clone()),
            })
        })
        .collect();
    if json {
        let _ = writeln!(
            out,
            "{}",
            json!({"drill": drill.name, "title": drill.title, "level": st.level, "seed": st.seed,
                   "runbook": drill.runbook, "symptoms": drill.symptoms, "faults": rows})
        );
        return;
    }
    let _ = writeln!(out, "drill {} ({}): {}", drill.name, st.level.as_str(), drill.title);
    let _ =
        writeln!(out, "runbook: docs/runbooks/{}.md; symptoms: {}", drill.runbook, drill.symptoms.join(", "));
    for (i, f) in st.faults.iter().enumerate() {
        let rec = ev.faults.iter().find(|r| r.index == i);
        let role = if f.plan.role == Role::RedHerring { "red herring" } else { "cause" };
        let service = f.plan.service.map_or(String::new(), |s| format!(" on {s}"));
        let when = match rec {
            Some(r) => format!(
                "starts {} UTC, {}",
                utc::clock(r.started_at),
                match (r.ended_at, &r.end_reason) {
                    (Some(t), Some(why)) => format!("ended {} UTC ({why})", utc::clock(t)),
                    _ => format!("lasts {} s", f.plan.duration_s),
                }
            ),
            None => "no record on its node".to_owned(),
        };
        let _ = writeln!(out, "  {role}: node {} {}{service}; {when}", f.plan.node, f.plan.failure);
    }
}

/// `drill stop`: ends the drill's faults (the fleet is left healthy) and prints the score;
/// gaps are the faults it could not end (said on `err`).
pub async fn stop(
    client: &NodeClient,
    path: &std::path::Path,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<Outcome, DrillError> {
    let mut st = state::require(path)?;
    let (ended, failed) = end_faults(client, &st).await;
    let failed: Vec<String> = failed.iter().map(ToString::to_string).collect();
    if st.stopped_at.is_none() {
        st.stopped_at = Some(now());
        state::save(path, &st)?;
    }
    let drill = drill_of(&st)?;
    let ev = evidence::gather(client, &st, now()).await;
    let t = times(&st, &drill, &ev);
    let sc = score::score(&st, &t);
    if json {
        let _ = writeln!(out, "{}", json!({"ended": ended, "failed": failed, "score": sc}));
    } else {
        let _ = writeln!(
            out,
            "drill stopped: {ended} fault(s) ended or already over; the drill's nodes are healthy"
        );
        for f in &failed {
            let _ = writeln!(err, "error: {f}");
        }
        let _ = writeln!(out, "score: {:.0}/100", sc.total);
        for (what, points) in &sc.parts {
            let _ = writeln!(out, "  {what}: {points:+.0}");
        }
        let _ = writeln!(
            out,
            "reveal what it was with `inject drill reveal`; write it up with `inject drill report -o report.md`"
        );
    }
    Ok(Outcome::with_gaps(failed))
}
