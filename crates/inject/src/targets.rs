//! Which nodes a command talks to: node specs (`3`, `all`, `1,3,5`, `2-6`) and where each
//! node lives (`http://{host}:{base-port + N}` by default, or an override file/env var).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Largest node number accepted (one source: `edge_sim::fleet`).
pub const MAX_NODE: u32 = edge_sim::fleet::MAX_SIZE;

/// Which nodes a command means: `all` (the fleet that is running, learned when the
/// command runs: see [`crate::fleet`]) or a list of node numbers of any size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSpec {
    /// Every node of the running fleet.
    All,
    /// These nodes, sorted and without duplicates.
    List(Vec<u32>),
}

/// A node spec that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid node `{given}`: {reason}; use a number (3), `all`, a list (1,3,5), a range (2-6) or both (1,5,7-300), nodes 1-{MAX_NODE}"
)]
pub struct BadNodeSpec {
    given: String,
    reason: String,
}

impl FromStr for NodeSpec {
    type Err = BadNodeSpec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            |reason: &str| BadNodeSpec { given: s.chars().take(40).collect(), reason: reason.to_owned() };
        let number = |t: &str| -> Result<u32, BadNodeSpec> {
            let n: u32 =
                t.trim().parse().map_err(|_| bad(&format!("`{}` is not a node number", t.trim())))?;
            if n == 0 || n > MAX_NODE { Err(bad(&format!("node {n} is out of range"))) } else { Ok(n) }
        };
        if s.trim().eq_ignore_ascii_case("all") {
            return Ok(NodeSpec::All);
        }
        let mut nodes = Vec::new();
        for part in s.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (number(a)?, number(b)?);
                    if a > b {
                        return Err(bad(&format!("range {a}-{b} runs backwards")));
                    }
                    nodes.extend(a..=b);
                }
                None => nodes.push(number(part)?),
            }
        }
        nodes.sort_unstable();
        nodes.dedup();
        Ok(NodeSpec::List(nodes))
    }
}

impl fmt::Display for NodeSpec {
    /// `all`, or the list with runs folded into ranges (`1,5,7-300`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeSpec::All => f.write_str("all"),
            NodeSpec::List(nodes) => f.write_str(&compact(nodes)),
        }
    }
}

/// Sorted node numbers as a short list: runs of three or more folded into ranges.
pub fn compact(nodes: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < nodes.len() {
        let mut j = i;
        while j + 1 < nodes.len() && nodes[j + 1] == nodes[j] + 1 {
            j += 1;
        }
        if j >= i + 2 {
            parts.push(format!("{}-{}", nodes[i], nodes[j]));
        } else {
            parts.extend(nodes[i..=j].iter().map(u32::to_string));
        }
        i = j + 1;
    }
    parts.join(",")
}

pub use stack_client::Targets;

/// Parses overrides: `N=URL` entries separated by commas or new lines (`#` starts a comment).
pub fn parse_overrides(text: &str) -> Result<BTreeMap<u32, String>, String> {
    let mut map = BTreeMap::new();
    for entry in text.lines().map(|l| l.split('#').next().unwrap_or("")).flat_map(|l| l.split(',')) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (n, url) = entry.split_once('=').ok_or_else(|| format!("`{entry}` is not N=URL"))?;
        let n: u32 = n.trim().parse().map_err(|_| format!("`{}` is not a node number", n.trim()))?;
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("node {n}: `{url}` is not an http(s) URL"));
        }
        map.insert(n, url.to_owned());
    }
    Ok(map)
}

/// Per-node overrides from Compose's published-port variables (`EDGE_NODE_3_PORT=18003`, see
/// docker-compose.yml), so the CLI follows a user who moved a node's port: `http://{host}:{port}`.
pub fn compose_port_overrides(
    host: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<u32, String>, String> {
    let mut map = BTreeMap::new();
    for (name, value) in vars {
        let Some(n) = name.strip_prefix("EDGE_NODE_").and_then(|rest| rest.strip_suffix("_PORT")) else {
            continue;
        };
        let Ok(n) = n.parse::<u32>() else { continue };
        let port: u16 = value
            .trim()
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{name}: `{value}` is not a port (1-65535)"))?;
        map.insert(n, format!("http://{host}:{port}"));
    }
    Ok(map)
}

/// `http://127.0.0.1:{port}`, the port from Compose's variable `var` (e.g. `PROMETHEUS_PORT`)
/// when set, else `default`.
pub fn compose_service_url(var: &str, value: Option<String>, default: u16) -> Result<String, String> {
    let port = match value {
        None => default,
        Some(v) => v
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{var}: `{v}` is not a port (1-65535)"))?,
    };
    Ok(format!("http://127.0.0.1:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Result<Vec<u32>, BadNodeSpec> {
        match s.parse::<NodeSpec>()? {
            NodeSpec::List(nodes) => Ok(nodes),
            NodeSpec::All => Ok(vec![0]),
        }
    }

    #[test]
    fn node_specs_parse_numbers_all_lists_and_ranges() {
        assert_eq!(spec("3"), Ok(vec![3]));
        assert_eq!("all".parse::<NodeSpec>(), Ok(NodeSpec::All), "the running fleet, learned later");
        assert_eq!(spec("1,5,7-300").map(|v| v.len()), Ok(296));
        assert_eq!(spec("1-1000").map(|v| v.len()), Ok(1000));
        assert_eq!(spec("5,1,3,3"), Ok(vec![1, 3, 5]));
        assert_eq!(spec("2-6"), Ok(vec![2, 3, 4, 5, 6]));
        assert_eq!(spec("1,4-5, 9"), Ok(vec![1, 4, 5, 9]));
    }

    proptest::proptest! {
        /// Any set of nodes, printed compactly (runs as ranges), parses back to itself.
        #[test]
        fn node_lists_of_any_size_round_trip(set in proptest::collection::btree_set(1u32..=MAX_NODE, 1..400)) {
            let nodes: Vec<u32> = set.into_iter().collect();
            let text = compact(&nodes);
            proptest::prop_assert_eq!(spec(&text), Ok(nodes.clone()), "{}", text);
            proptest::prop_assert_eq!(NodeSpec::List(nodes).to_string(), text);
        }
    }

    #[test]
    fn compact_folds_runs_of_three_or_more() {
        assert_eq!(compact(&[1, 2, 3, 4, 13, 14, 16]), "1-4,13,14,16");
        assert_eq!(compact(&[]), "");
    }

    #[test]
    fn bad_node_specs_say_what_is_valid() {
        for bad in ["0", "-1", "x", "6-2", "1,,2", "", "1001", "3-", "1-1001", "all,3"] {
            let err = spec(bad).expect_err(bad).to_string();
            assert!(err.contains("use a number (3), `all`"), "{bad}: {err}");
        }
    }

    #[test]
    fn targets_default_to_base_port_plus_n_and_honour_overrides() {
        let overrides =
            parse_overrides("# k8s port-forward\n3=http://127.0.0.1:18080/\n4=https://edge-4.example")
                .expect("valid");
        let t = Targets::new("127.0.0.1", 8000, overrides);
        assert_eq!(t.url(1), "http://127.0.0.1:8001");
        assert_eq!(t.url(3), "http://127.0.0.1:18080");
        assert_eq!(t.url(4), "https://edge-4.example");
        assert!(parse_overrides("3:http://x").is_err());
        assert!(parse_overrides("3=ftp://x").is_err());
    }

    #[test]
    fn compose_port_variables_move_nodes_and_services() {
        let vars = [
            ("EDGE_NODE_3_PORT", "18003"),
            ("EDGE_NODE_X_PORT", "1"),
            ("PATH", "/bin"),
            ("EDGE_NODE_12_PORT", "8112"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let map = compose_port_overrides("127.0.0.1", vars).expect("valid");
        assert_eq!(map.get(&3).map(String::as_str), Some("http://127.0.0.1:18003"));
        assert_eq!(map.get(&12).map(String::as_str), Some("http://127.0.0.1:8112"));
        assert_eq!(map.len(), 2);
        let bad = compose_port_overrides("127.0.0.1", [("EDGE_NODE_3_PORT".to_owned(), "99999".to_owned())]);
        assert_eq!(bad, Err("EDGE_NODE_3_PORT: `99999` is not a port (1-65535)".to_owned()));
        assert_eq!(
            compose_service_url("PROMETHEUS_PORT", None, 9090).as_deref(),
            Ok("http://127.0.0.1:9090")
        );
        assert_eq!(
            compose_service_url("PROMETHEUS_PORT", Some("19090".into()), 9090).as_deref(),
            Ok("http://127.0.0.1:19090")
        );
        assert!(compose_service_url("PROMETHEUS_PORT", Some("nan".into()), 9090).is_err());
    }
}
