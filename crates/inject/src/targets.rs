//! Which nodes a command talks to: node specs (`3`, `all`, `1,3,5`, `2-6`) and where each
//! node lives (`http://{host}:{base-port + N}` by default, or an override file/env var).

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
/// Where the nodes and services are, from override lists and Compose's port variables (the
/// client layer's, shared with the `coverage` command's live mode).
pub use stack_client::locate::{compose_port_overrides, compose_service_url, parse_overrides};

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
}
