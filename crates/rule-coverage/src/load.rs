//! Loading rules: Prometheus rule files, folders of them (`*.yml`, `*.yaml`, sorted by
//! name, not recursive, as Prometheus' `rule_files` globs), and Prometheus Operator
//! `PrometheusRule` manifests (one or many YAML documents; other Kubernetes objects in the
//! same stream are skipped). Every error names the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::duration;
use crate::rules::{Rule, RuleGroup, RuleKind};

/// Why rules could not be loaded; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file or folder could not be read.
    #[error("{path}: {cause}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// Not valid YAML, or not the shape of a rule file.
    #[error("{path}: {cause}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        cause: String,
    },
    /// A rule that Prometheus would refuse.
    #[error("{path}: group {group:?}: {cause}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The group.
        group: String,
        /// What was wrong.
        cause: String,
    },
}

#[derive(Debug, Deserialize)]
struct GroupDoc {
    name: String,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
struct RuleDoc {
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    alert: Option<String>,
    expr: Scalar,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// An `expr` may be written as a bare number (`expr: 1`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Integer(i64),
    Float(f64),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Self::Text(s) => s,
            Self::Integer(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
        }
    }
}

/// Loads `path`: a rule file, a PrometheusRule manifest, or a folder of either.
pub fn load_path(path: &Path) -> Result<Vec<RuleGroup>, LoadError> {
    let read = |cause| LoadError::Read { path: path.to_owned(), cause };
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
            .collect();
        files.sort();
        let mut groups = Vec::new();
        for file in files {
            groups.extend(load_file(&file)?);
        }
        Ok(groups)
    } else {
        load_file(path)
    }
}

/// Loads every path of `paths` in order.
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<RuleGroup>, LoadError> {
    let mut groups = Vec::new();
    for p in paths {
        groups.extend(load_path(p.as_ref())?);
    }
    Ok(groups)
}

/// Loads one file.
pub fn load_file(path: &Path) -> Result<Vec<RuleGroup>, LoadError> {
    let text =
        std::fs::read_to_string(path).map_err(|cause| LoadError::Read { path: path.to_owned(), cause })?;
    parse_text(&text, path)
}

/// Parses the text of a file (one or many YAML documents) that came from `path`.
pub fn parse_text(text: &str, path: &Path) -> Result<Vec<RuleGroup>, LoadError> {
    let parse_err = |cause: String| LoadError::Parse { path: path.to_owned(), cause };
    // Each document as a generic value first: other Kubernetes objects in a manifest stream
    // may hold anything under `spec`.
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|e| parse_err(e.to_string()))?;
    let mut groups = Vec::new();
    for doc in docs {
        let listed = if doc.get("groups").is_some() {
            &doc["groups"]
        } else if doc.get("kind").and_then(|k| k.as_str()) == Some("PrometheusRule") {
            &doc["spec"]["groups"]
        } else if doc.get("kind").is_some() || doc.is_null() {
            // Another Kubernetes object in the same stream (a ConfigMap, a Namespace).
            continue;
        } else {
            return Err(parse_err("neither a rule file (groups:) nor a PrometheusRule manifest".into()));
        };
        if listed.is_null() {
            continue;
        }
        let parsed: Vec<GroupDoc> =
            serde_json::from_value(listed.clone()).map_err(|e| parse_err(format!("groups: {e}")))?;
        groups.extend(parsed);
    }
    groups.into_iter().map(|g| group(g, path)).collect()
}

fn group(doc: GroupDoc, path: &Path) -> Result<RuleGroup, LoadError> {
    let invalid =
        |cause: String| LoadError::Invalid { path: path.to_owned(), group: doc.name.clone(), cause };
    let dur = |field: &str, text: &Option<String>| -> Result<Duration, LoadError> {
        match text {
            None => Ok(Duration::ZERO),
            Some(t) => duration::parse(t).map_err(|e| invalid(format!("{field}: {e}"))),
        }
    };
    let interval = match &doc.interval {
        None => None,
        Some(_) => Some(dur("interval", &doc.interval)?).filter(|d| !d.is_zero()),
    };
    if doc.name.is_empty() {
        return Err(invalid("a group needs a name".into()));
    }
    let mut rules = Vec::with_capacity(doc.rules.len());
    for (i, r) in doc.rules.iter().enumerate() {
        let at = |cause: String| invalid(format!("rule {}: {cause}", i + 1));
        let kind = match (&r.record, &r.alert) {
            (Some(n), None) => RuleKind::Record(n.clone()),
            (None, Some(n)) => RuleKind::Alert(n.clone()),
            _ => return Err(at("exactly one of record and alert is needed".into())),
        };
        let for_ = dur("for", &r.for_)?;
        let keep_firing_for = dur("keep_firing_for", &r.keep_firing_for)?;
        if matches!(kind, RuleKind::Record(_))
            && (!for_.is_zero() || !keep_firing_for.is_zero() || !r.annotations.is_empty())
        {
            return Err(at("a recording rule takes no for, keep_firing_for or annotations".into()));
        }
        let mut labels = doc.labels.clone();
        labels.extend(r.labels.clone());
        rules.push(Rule {
            kind,
            expr: String::new(),
            for_,
            keep_firing_for,
            labels,
            annotations: r.annotations.clone(),
        });
    }
    for (rule, r) in rules.iter_mut().zip(doc.rules) {
        rule.expr = r.expr.into_text();
        if rule.expr.trim().is_empty() {
            return Err(invalid(format!("rule {:?}: empty expr", rule.name())));
        }
    }
    Ok(RuleGroup { name: doc.name, interval, rules, source: path.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE_FILE: &str = r#"
groups:
  - name: host
    interval: 30s
    labels:
      team: infra
    rules:
      - record: instance:cpu:rate5m
        expr: rate(cpu_seconds_total[5m])
      - alert: HighCpu
        expr: instance:cpu:rate5m > 0.9
        for: 10m
        keep_firing_for: 2m
        labels:
          severity: warning
          team: core
        annotations:
          summary: "CPU {{ $value }}"
  - name: plain
    rules:
      - alert: Always
        expr: 1
"#;

    fn parse(text: &str) -> Result<Vec<RuleGroup>, LoadError> {
        parse_text(text, Path::new("rules/x.yml"))
    }

    #[test]
    fn reads_a_rule_file_with_durations_labels_and_defaults() {
        let groups = parse(RULE_FILE).expect("valid");
        assert_eq!(groups.len(), 2);
        let host = &groups[0];
        assert_eq!((host.name.as_str(), host.interval), ("host", Some(Duration::from_secs(30))));
        assert_eq!(host.rules[0].kind, RuleKind::Record("instance:cpu:rate5m".into()));
        assert_eq!(host.rules[0].labels.get("team").map(String::as_str), Some("infra"));
        let alert = &host.rules[1];
        assert_eq!(alert.kind, RuleKind::Alert("HighCpu".into()));
        assert_eq!((alert.for_, alert.keep_firing_for), (Duration::from_secs(600), Duration::from_secs(120)));
        assert_eq!(alert.labels.get("team").map(String::as_str), Some("core"), "the rule's own label wins");
        assert_eq!(alert.labels.get("severity").map(String::as_str), Some("warning"));
        assert_eq!(alert.annotations.get("summary").map(String::as_str), Some("CPU {{ $value }}"));
        let plain = &groups[1];
        assert_eq!((plain.interval, plain.rules[0].expr.as_str()), (None, "1"));
        assert_eq!(plain.rules[0].for_, Duration::ZERO);
        assert_eq!(host.source, Path::new("rules/x.yml"));
    }

    #[test]
    fn reads_prometheus_rule_manifests_among_other_objects() {
        let text = r#"
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: a}
spec:
  groups:
    - name: a1
      rules:
        - alert: A
          expr: up == 0
          for: 1m
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: b}
spec:
  groups:
    - name: b1
      interval: 1m
      rules:
        - record: job:up:sum
          expr: sum by (job) (up)
"#;
        let groups = parse(text).expect("valid");
        let names: Vec<_> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["a1", "b1"]);
        assert_eq!(groups[0].rules[0].for_, Duration::from_secs(60));
    }

    #[test]
    fn errors_name_the_file_and_say_what_is_wrong() {
        let cases = [
            ("groups: [", "rules/x.yml"),
            ("foo: bar\n", "neither a rule file"),
            (
                "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5x\n",
                "for:",
            ),
            ("groups:\n  - name: g\n    rules:\n      - expr: up\n", "exactly one of record and alert"),
            (
                "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        for: 1m\n",
                "recording rule",
            ),
            ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: ''\n", "empty expr"),
        ];
        for (text, needle) in cases {
            let err = parse(text).expect_err(text).to_string();
            assert!(err.starts_with("rules/x.yml: "), "{err}");
            assert!(err.contains(needle), "{needle:?} in {err}");
        }
    }

    #[test]
    fn loads_a_folder_of_yml_and_yaml_files_in_name_order() {
        let dir = std::env::temp_dir().join(format!("rule-coverage-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let rule = |name: &str| {
            format!("groups:\n  - name: {name}\n    rules:\n      - alert: {name}\n        expr: up == 0\n")
        };
        std::fs::write(dir.join("b.yaml"), rule("B")).expect("write");
        std::fs::write(dir.join("a.yml"), rule("A")).expect("write");
        std::fs::write(dir.join("notes.txt"), "not rules").expect("write");
        let groups = load_path(&dir).expect("loads");
        let names: Vec<_> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(groups[0].source, dir.join("a.yml"));
        std::fs::write(dir.join("c.yml"), "groups: [").expect("write");
        let err = load_path(&dir).expect_err("c.yml is broken").to_string();
        assert!(err.contains("c.yml"), "{err}");
        let err = load_path(&dir.join("missing.yml")).expect_err("missing").to_string();
        assert!(err.contains("missing.yml"), "{err}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
