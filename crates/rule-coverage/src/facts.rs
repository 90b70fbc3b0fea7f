//! Planning facts read from the rules themselves: how far back each expression reads (its
//! longest range selector, its longest subquery, offsets included), which metric names it
//! reads, which recording rules it reads (and, through them, their windows), and `for` /
//! `keep_firing_for`. A fault must last at least [`RuleFacts::needs`] for the rule to see it.
//!
//! Expressions are parsed with `promql-parser` (GreptimeTeam's port of Prometheus' grammar);
//! nothing here evaluates them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, Offset};

use crate::rules::{RuleGroup, RuleKind};

/// An expression that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{rule}: expr does not parse: {cause}")]
pub struct ExprError {
    /// The rule's name.
    pub rule: String,
    /// The parser's message.
    pub cause: String,
}

/// What one expression reads, by itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExprFacts {
    /// The longest range selector (`[5m]`), zero if none.
    pub longest_range: Duration,
    /// The longest subquery range (`[1h:5m]`), zero if none.
    pub longest_subquery: Duration,
    /// How far back from the evaluation time it reads samples: range + offset, subquery
    /// range + the inner expression's reach + offset, at the longest.
    pub reach: Duration,
    /// The metric names it selects (`__name__` equality matchers included).
    pub metrics: BTreeSet<String>,
    /// Whether a selector has no fixed name (`{job="x"}`, `{__name__=~"a|b"}`): it may read
    /// any metric, so "reads nothing that exists" cannot be decided from names alone.
    pub unnamed_selector: bool,
}

/// Facts about one expression.
pub fn expr_facts(expr: &str) -> Result<ExprFacts, String> {
    let ast = parser::parse(expr)?;
    let mut facts = ExprFacts::default();
    facts.reach = walk(&ast, &mut facts);
    Ok(facts)
}

fn offset(o: &Option<Offset>) -> Duration {
    match o {
        // A negative offset reads later samples, never earlier ones.
        Some(Offset::Pos(d)) => *d,
        Some(Offset::Neg(_)) | None => Duration::ZERO,
    }
}

fn selector(vs: &promql_parser::parser::VectorSelector, facts: &mut ExprFacts) {
    let named = vs.name.iter().cloned().chain(
        vs.matchers
            .matchers
            .iter()
            .filter(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.clone()),
    );
    let before = facts.metrics.len();
    facts.metrics.extend(named);
    if facts.metrics.len() == before && vs.name.is_none() {
        facts.unnamed_selector = true;
    }
}

/// Records what `e` reads into `facts`; returns how far back it reads.
fn walk(e: &Expr, facts: &mut ExprFacts) -> Duration {
    match e {
        Expr::VectorSelector(vs) => {
            selector(vs, facts);
            offset(&vs.offset)
        }
        Expr::MatrixSelector(ms) => {
            selector(&ms.vs, facts);
            facts.longest_range = facts.longest_range.max(ms.range);
            ms.range + offset(&ms.vs.offset)
        }
        Expr::Subquery(sq) => {
            facts.longest_subquery = facts.longest_subquery.max(sq.range);
            sq.range + walk(&sq.expr, facts) + offset(&sq.offset)
        }
        Expr::Aggregate(a) => {
            let param = a.param.as_ref().map_or(Duration::ZERO, |p| walk(p, facts));
            walk(&a.expr, facts).max(param)
        }
        Expr::Unary(u) => walk(&u.expr, facts),
        Expr::Binary(b) => walk(&b.lhs, facts).max(walk(&b.rhs, facts)),
        Expr::Paren(p) => walk(&p.expr, facts),
        Expr::Call(c) => c.args.args.iter().map(|a| walk(a, facts)).max().unwrap_or_default(),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => Duration::ZERO,
    }
}

/// The facts of one rule, its own and those it inherits from the recording rules it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFacts {
    /// The group it belongs to.
    pub group: String,
    /// Recording or alerting, with its name.
    pub kind: RuleKind,
    /// What its own expression reads.
    pub own: ExprFacts,
    /// The recording rules it reads, directly or through other recording rules.
    pub reads_records: BTreeSet<String>,
    /// Its reach including that of every recording rule it reads (a rule reading
    /// `job:x:rate5m` written from `rate(x[5m])` over `[10m]` reaches 15 min back).
    pub effective_reach: Duration,
    /// The metrics it needs from outside the rules: its own and those of the recording rules
    /// it reads, less the recorded names.
    pub source_metrics: BTreeSet<String>,
    /// `for:` (alerts; zero for recording rules).
    pub for_: Duration,
    /// `keep_firing_for:` (alerts; zero for recording rules).
    pub keep_firing_for: Duration,
}

impl RuleFacts {
    /// How long a condition must hold before the alert fires: its effective reach plus `for`
    /// (a lower bound on a fault's useful length; scrape and evaluation intervals add to it).
    pub fn needs(&self) -> Duration {
        self.effective_reach + self.for_
    }
}

/// Facts for every rule of `groups`, in order.
pub fn rule_facts(groups: &[RuleGroup]) -> Result<Vec<RuleFacts>, ExprError> {
    let mut own = Vec::new();
    for g in groups {
        for r in &g.rules {
            let facts =
                expr_facts(&r.expr).map_err(|cause| ExprError { rule: r.name().to_owned(), cause })?;
            own.push((g, r, facts));
        }
    }
    // A record name may be written by several rules (of several groups): it reads all of them.
    let mut records: BTreeMap<&str, Vec<&ExprFacts>> = BTreeMap::new();
    for (_, r, f) in &own {
        if let RuleKind::Record(name) = &r.kind {
            records.entry(name.as_str()).or_default().push(f);
        }
    }
    Ok(own
        .iter()
        .map(|(g, r, f)| {
            let mut reads = BTreeSet::new();
            let mut sources = BTreeSet::new();
            let reach = inherited(f, &records, &mut reads, &mut sources, 0);
            RuleFacts {
                group: g.name.clone(),
                kind: r.kind.clone(),
                own: f.clone(),
                reads_records: reads,
                effective_reach: reach,
                source_metrics: sources,
                for_: r.for_,
                keep_firing_for: r.keep_firing_for,
            }
        })
        .collect())
}

/// Deeper than any sane chain of recording rules; stops a cycle (which Prometheus allows
/// across groups) from recursing forever.
const MAX_DEPTH: usize = 32;

fn inherited(
    f: &ExprFacts,
    records: &BTreeMap<&str, Vec<&ExprFacts>>,
    reads: &mut BTreeSet<String>,
    sources: &mut BTreeSet<String>,
    depth: usize,
) -> Duration {
    let mut reach = f.reach;
    for m in &f.metrics {
        match records.get(m.as_str()) {
            Some(writers) if depth < MAX_DEPTH => {
                let first = reads.insert(m.clone());
                for w in writers {
                    let below =
                        if first { inherited(w, records, reads, sources, depth + 1) } else { w.reach };
                    reach = reach.max(f.reach + below);
                }
            }
            Some(_) => {}
            None => {
                sources.insert(m.clone());
            }
        }
    }
    reach
}

/// The recording rules of `groups` in layers: layer 0 reads no recorded series, layer k
/// reads only layers below k. Each entry is (group index, rule index). A cycle is an error
/// naming a rule on it.
pub fn recording_layers(groups: &[RuleGroup]) -> Result<Vec<Vec<(usize, usize)>>, ExprError> {
    let mut pending = Vec::new();
    let mut record_names = BTreeSet::new();
    for (gi, g) in groups.iter().enumerate() {
        for (ri, r) in g.rules.iter().enumerate() {
            if let RuleKind::Record(name) = &r.kind {
                let facts = expr_facts(&r.expr).map_err(|cause| ExprError { rule: name.clone(), cause })?;
                record_names.insert(name.clone());
                pending.push(((gi, ri), name.clone(), facts.metrics));
            }
        }
    }
    let mut layers = Vec::new();
    while !pending.is_empty() {
        // Still to write: names some pending rule writes (a name two rules write is ready
        // only when both are).
        let unwritten: BTreeSet<String> = pending.iter().map(|(_, n, _)| n.clone()).collect();
        let (ready, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(_, _, reads)| {
            reads.iter().all(|m| !record_names.contains(m) || !unwritten.contains(m))
        });
        if ready.is_empty() {
            let name = rest.first().map(|(_, n, _)| n.clone()).unwrap_or_default();
            return Err(ExprError { rule: name, cause: "recording rules read each other in a cycle".into() });
        }
        layers.push(ready.into_iter().map(|(at, _, _)| at).collect());
        pending = rest;
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_text;
    use std::path::Path;

    fn mins(m: u64) -> Duration {
        Duration::from_secs(60 * m)
    }

    #[test]
    fn windows_subqueries_offsets_and_names() {
        let f = expr_facts(r#"rate(http_requests_total{job="api"}[5m]) > 0.1"#).expect("parses");
        assert_eq!((f.longest_range, f.longest_subquery, f.reach), (mins(5), Duration::ZERO, mins(5)));
        assert_eq!(f.metrics, BTreeSet::from(["http_requests_total".to_owned()]));

        let f = expr_facts("max_over_time(rate(x[5m])[1h:1m]) / y offset 10m").expect("parses");
        assert_eq!((f.longest_range, f.longest_subquery), (mins(5), mins(60)));
        assert_eq!(f.reach, mins(65), "subquery range + inner window");
        assert_eq!(f.metrics, BTreeSet::from(["x".to_owned(), "y".to_owned()]));

        let f = expr_facts("predict_linear(node_filesystem_avail_bytes[6h], 4 * 3600) < 0").expect("parses");
        assert_eq!(f.reach, mins(360));
        let f = expr_facts("avg_over_time(x[5m] offset 1h)").expect("parses");
        assert_eq!(f.reach, mins(65), "an offset reads further back");

        let f = expr_facts(r#"{__name__="up", job="a"} == 0 or {job="b"}"#).expect("parses");
        assert_eq!(f.metrics, BTreeSet::from(["up".to_owned()]));
        assert!(f.unnamed_selector);
        // A string holding brackets is not a window.
        let f = expr_facts(r#"label_replace(up, "x", "[1h]", "", "")"#).expect("parses");
        assert_eq!(f.reach, Duration::ZERO);
        assert!(expr_facts("rate(x[5m]").is_err());
    }

    const CHAIN: &str = r#"
groups:
  - name: rec
    rules:
      - record: job:x:rate5m
        expr: sum by (job) (rate(x_total[5m]))
      - record: job:x:avg1h
        expr: avg_over_time(job:x:rate5m[1h])
  - name: alerts
    rules:
      - alert: XHigh
        expr: job:x:avg1h > 1 and on(job) y > 0
        for: 10m
        keep_firing_for: 5m
      - alert: Quick
        expr: up == 0
"#;

    #[test]
    fn rules_inherit_the_windows_and_sources_of_the_records_they_read() {
        let groups = parse_text(CHAIN, Path::new("c.yml")).expect("valid");
        let facts = rule_facts(&groups).expect("parses");
        let x = facts.iter().find(|f| f.kind == RuleKind::Alert("XHigh".into())).expect("XHigh");
        assert_eq!(x.reads_records, BTreeSet::from(["job:x:avg1h".to_owned(), "job:x:rate5m".to_owned()]));
        assert_eq!(x.effective_reach, mins(65));
        assert_eq!(x.source_metrics, BTreeSet::from(["x_total".to_owned(), "y".to_owned()]));
        assert_eq!(x.needs(), mins(75));
        assert_eq!(x.keep_firing_for, mins(5));
        let quick = facts.iter().find(|f| f.kind == RuleKind::Alert("Quick".into())).expect("Quick");
        assert_eq!((quick.effective_reach, quick.needs()), (Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn recording_rules_come_in_dependency_layers_and_cycles_are_refused() {
        let groups = parse_text(CHAIN, Path::new("c.yml")).expect("valid");
        assert_eq!(recording_layers(&groups).expect("no cycle"), vec![vec![(0, 0)], vec![(0, 1)]]);
        let cycle = "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: b\n      - record: b\n        expr: a + 1\n";
        let groups = parse_text(cycle, Path::new("c.yml")).expect("valid");
        assert!(recording_layers(&groups).is_err());
        let facts = rule_facts(&groups).expect("a cycle still has facts");
        assert_eq!(facts[0].reads_records, BTreeSet::from(["a".to_owned(), "b".to_owned()]));
    }
}
