//! The node_exporter shape held against the real node_exporter 1.11: every family a node
//! serves on `/host/metrics` must exist in node_exporter's own output with the same
//! `# TYPE`, the same `# HELP` and the same label names.
//!
//! Two references:
//! - the real binary, Debian sid's `prometheus-node-exporter` 1.11 unpacked at
//!   `target/tools/root/usr/bin/prometheus-node-exporter` (scripts/lib/tools.sh fetches it;
//!   `EDGE_NODE_EXPORTER_BIN` points elsewhere), run on a free port for the test. Without it
//!   the test fails and says how to get it: it is never skipped quietly.
//! - `tests/data/node_exporter_1.11.1.txt`, that binary's output recorded on a Linux
//!   machine where every collector we imitate had data. A family the running binary has
//!   no data for on this machine (a kernel without PSI, no conntrack module, no block
//!   device in a container: [`MAY_LACK_DATA`]) is checked against the recording instead,
//!   and named on stderr; every other family must be in the live output.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use common::process::blocking_get;
use common::{get, quiet_node};
use test_support::child::ChildGuard;

/// What the comparison reads of one family.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Family {
    kind: String,
    help: String,
    labels: BTreeSet<String>,
    samples: usize,
}

/// The families of a text-format exposition: `# TYPE`, `# HELP`, and the label names of
/// their samples (a sample belongs to the family of its exact name: node_exporter's
/// families are counters, gauges and untyped, whose samples carry the family's name).
fn families(text: &str) -> BTreeMap<String, Family> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let entry = |families: &mut BTreeMap<String, Family>, name: &str| {
        families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                kind: String::new(),
                help: String::new(),
                labels: BTreeSet::new(),
                samples: 0,
            })
            .clone()
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let mut f = entry(&mut families, name);
            f.help = help.to_owned();
            families.insert(name.to_owned(), f);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let mut f = entry(&mut families, name);
            f.kind = kind.to_owned();
            families.insert(name.to_owned(), f);
        }
    }
    for sample in common::parse(text).samples() {
        if let Some(f) = families.get_mut(&sample.name) {
            f.labels.extend(sample.labels.iter().map(|(k, _)| k.clone()));
            f.samples += 1;
        }
    }
    families
}

/// Families the real node_exporter reports only where the kernel or machine has the data;
/// each is then held to the recording instead.
const MAY_LACK_DATA: [(&str, &str); 18] = [
    ("node_pressure_cpu_waiting_seconds_total", "kernel without PSI (CONFIG_PSI)"),
    ("node_pressure_memory_waiting_seconds_total", "kernel without PSI"),
    ("node_pressure_memory_stalled_seconds_total", "kernel without PSI"),
    ("node_pressure_io_waiting_seconds_total", "kernel without PSI"),
    ("node_pressure_io_stalled_seconds_total", "kernel without PSI"),
    ("node_nf_conntrack_entries", "nf_conntrack module not loaded"),
    ("node_nf_conntrack_entries_limit", "nf_conntrack module not loaded"),
    ("node_network_speed_bytes", "virtual interface without a link speed"),
    ("node_disk_reads_completed_total", "no block device (container)"),
    ("node_disk_writes_completed_total", "no block device"),
    ("node_disk_read_bytes_total", "no block device"),
    ("node_disk_written_bytes_total", "no block device"),
    ("node_disk_read_time_seconds_total", "no block device"),
    ("node_disk_write_time_seconds_total", "no block device"),
    ("node_disk_io_time_seconds_total", "no block device"),
    ("node_disk_io_time_weighted_seconds_total", "no block device"),
    ("node_disk_io_now", "no block device"),
    ("node_vmstat_oom_kill", "kernel older than 4.13 (no oom_kill in /proc/vmstat)"),
];

/// The recording of the real node_exporter 1.11.1's output.
const RECORDED: &str = include_str!("data/node_exporter_1.11.1.txt");

/// Our `/host/metrics`, families by name.
async fn ours() -> BTreeMap<String, Family> {
    let (_, app) = quiet_node(1);
    let reply = get(&app, "/host/metrics").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
    let ours = families(&reply.body);
    assert!(ours.len() >= 60, "only {} families: {:?}", ours.len(), ours.keys());
    for (name, f) in &ours {
        assert!(f.samples > 0, "{name} declared without a sample");
    }
    ours
}

/// Every difference between our family and the reference's, as lines.
fn differences(name: &str, ours: &Family, real: &Family) -> Vec<String> {
    let mut out = Vec::new();
    if ours.kind != real.kind {
        out.push(format!("{name}: TYPE {} here, {} in node_exporter", ours.kind, real.kind));
    }
    if ours.help != real.help {
        out.push(format!("{name}: HELP {:?} here, {:?} in node_exporter", ours.help, real.help));
    }
    if ours.labels != real.labels {
        out.push(format!("{name}: labels {:?} here, {:?} in node_exporter", ours.labels, real.labels));
    }
    out
}

#[tokio::test]
async fn every_host_family_is_node_exporter_1_11s_as_recorded() {
    let recorded = families(RECORDED);
    let ours = ours().await;
    let mut problems = Vec::new();
    for (name, f) in &ours {
        match recorded.get(name) {
            None => problems.push(format!("{name}: not in node_exporter 1.11.1's output")),
            Some(real) => problems.extend(differences(name, f, real)),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The real binary, or a failure saying how to get it.
fn binary() -> PathBuf {
    let path = std::env::var_os("EDGE_NODE_EXPORTER_BIN").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/tools/root/usr/bin/prometheus-node-exporter")
        },
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{} is missing: fetch Debian sid's node_exporter with \
         `source scripts/lib/tools.sh && apt_fetch sid target/tools/root prometheus-node-exporter` \
         (scripts/test does it), or set EDGE_NODE_EXPORTER_BIN",
        path.display()
    );
    path
}

/// Runs the real node_exporter on a free port and returns its `/metrics`.
fn real_output() -> String {
    let textfiles = std::env::temp_dir().join(format!("edge-node-textfile-{}", std::process::id()));
    std::fs::create_dir_all(&textfiles).expect("textfile directory");
    let port = test_support::ports::free_port();
    let child = Command::new(binary())
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--collector.textfile.directory={}", textfiles.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node_exporter");
    let mut exporter = ChildGuard::new(child);
    let mut text = String::new();
    exporter.wait_until(Duration::from_secs(20), "node_exporter answering /metrics", || {
        match blocking_get(port, "/metrics", Duration::from_secs(5)) {
            Ok((200, body)) => {
                text = body;
                true
            }
            _ => false,
        }
    });
    let version = Command::new(binary()).arg("--version").output().expect("node_exporter --version");
    let version =
        String::from_utf8_lossy(&version.stdout).into_owned() + &String::from_utf8_lossy(&version.stderr);
    assert!(version.contains("version 1.11."), "expected node_exporter 1.11, got {version}");
    let _ = std::fs::remove_dir_all(&textfiles);
    text
}

#[tokio::test]
async fn every_host_family_matches_the_real_node_exporter_running_here() {
    let live = families(&tokio::task::spawn_blocking(real_output).await.expect("real node_exporter"));
    let recorded = families(RECORDED);
    let ours = ours().await;
    let mut problems = Vec::new();
    let mut compared_live = 0;
    for (name, f) in &ours {
        match (live.get(name).filter(|r| r.samples > 0), MAY_LACK_DATA.iter().find(|(n, _)| n == name)) {
            (Some(real), _) => {
                compared_live += 1;
                problems.extend(differences(name, f, real));
                // The recording must still be what the binary says.
                if let Some(old) = recorded.get(name) {
                    problems
                        .extend(differences(name, old, real).into_iter().map(|d| format!("recording: {d}")));
                }
            }
            (None, Some((_, why))) => {
                eprintln!(
                    "{name}: no data from the running node_exporter here ({why}); held to the recording"
                );
                match recorded.get(name) {
                    Some(old) => problems.extend(differences(name, f, old)),
                    None => problems.push(format!("{name}: neither here nor in the recording")),
                }
            }
            (None, None) => problems.push(format!("{name}: not in the running node_exporter's output")),
        }
    }
    eprintln!("{compared_live} of {} host families compared with the running node_exporter", ours.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        compared_live >= ours.len() - MAY_LACK_DATA.len(),
        "only {compared_live} of {} families compared live",
        ours.len()
    );
}

#[test]
fn the_family_reader_tells_differences_apart() {
    let a = families("# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"1\"} 1\n");
    let b = families("# HELP x_total Y.\n# TYPE x_total gauge\nx_total{b=\"1\"} 1\n");
    assert_eq!(differences("x_total", &a["x_total"], &b["x_total"]).len(), 3);
    assert!(differences("x_total", &a["x_total"], &a["x_total"]).is_empty());
}
