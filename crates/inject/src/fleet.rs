//! What `--node all` and `--region` mean: the fleet that is running, learned when a
//! command runs, never a fixed size.
//!
//! Where the CLI learns it, first answer wins:
//! 1. `--targets` / `--targets-file`: the nodes they list (regions by node number, as
//!    `edge_sim::fleet` assigns them).
//! 2. Node 1's `GET /fleet`: a fleet process (`edge-node --nodes N`) answers with all its
//!    nodes and their regions.
//! 3. Prometheus' active targets (`/api/v1/targets`), by their `node` and `region` labels:
//!    in Compose (or Kubernetes) each node is a process of its own and only Prometheus
//!    knows them all.
//!
//! If none answers, the command stops with one line saying what was tried and what to do;
//! nothing is sent.

use std::collections::BTreeMap;

use edge_sim::api::{FleetMembers, Member};
use edge_sim::fleet::default_region;

use crate::targets::NodeSpec;
use stack_client::{NodeClient, Prometheus};

/// The running fleet: its members in node order, and where that was learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    /// Node number and region of every node.
    pub members: Vec<Member>,
    /// Where the list came from, for messages.
    pub source: String,
}

impl Fleet {
    /// A fleet from members in any order (sorted and deduplicated by node).
    pub fn new(members: impl IntoIterator<Item = Member>, source: impl Into<String>) -> Self {
        let by_node: BTreeMap<u32, Member> = members.into_iter().map(|m| (m.node, m)).collect();
        Self { members: by_node.into_values().collect(), source: source.into() }
    }

    /// Nodes 1..=N listed by a targets file, in their default regions.
    pub fn from_nodes(nodes: impl IntoIterator<Item = u32>, source: impl Into<String>) -> Self {
        Self::new(
            nodes.into_iter().map(|node| Member { node, region: default_region(node).to_owned() }),
            source,
        )
    }

    /// The region of `node`: the fleet's record, else the default assignment.
    pub fn region_of(&self, node: u32) -> String {
        self.members
            .binary_search_by_key(&node, |m| m.node)
            .map_or_else(|_| default_region(node).to_owned(), |i| self.members[i].region.clone())
    }

    /// Every node number.
    pub fn nodes(&self) -> Vec<u32> {
        self.members.iter().map(|m| m.node).collect()
    }
}

/// Resolves a node spec and an optional region into node numbers, sorted: `all` is the
/// running fleet; a region keeps only that region's nodes (of the list, or of the fleet).
/// `fleet` is asked for only when needed. An empty selection is an error.
pub async fn select<F, Fut>(
    spec: Option<&NodeSpec>,
    region: Option<&str>,
    fleet: F,
) -> Result<Vec<u32>, String>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Fleet, String>>,
{
    let explicit = match spec {
        Some(NodeSpec::List(nodes)) => Some(nodes.clone()),
        Some(NodeSpec::All) | None => None,
    };
    if let (Some(nodes), None) = (&explicit, region) {
        return non_empty(nodes.clone(), "--node");
    }
    let fleet = fleet().await?;
    let chosen: Vec<u32> = match (explicit, region) {
        (Some(nodes), Some(r)) => nodes.into_iter().filter(|&n| fleet.region_of(n) == r).collect(),
        (None, Some(r)) => fleet.members.iter().filter(|m| m.region == r).map(|m| m.node).collect(),
        (_, None) => fleet.nodes(),
    };
    match region {
        Some(r) if chosen.is_empty() => Err(format!(
            "no node of the running fleet ({} nodes, from {}) is in region {r}{}",
            fleet.members.len(),
            fleet.source,
            if spec.is_some() { " among the nodes given" } else { "" }
        )),
        _ => non_empty(chosen, &fleet.source),
    }
}

fn non_empty(nodes: Vec<u32>, from: &str) -> Result<Vec<u32>, String> {
    if nodes.is_empty() { Err(format!("{from} selects no node")) } else { Ok(nodes) }
}

/// Learns the running fleet (see the module doc). `listed` is the nodes `--targets` and
/// `--targets-file` name, if any.
pub async fn discover(
    client: &NodeClient,
    listed: Option<Vec<u32>>,
    prometheus: &str,
) -> Result<Fleet, String> {
    if let Some(nodes) = listed {
        return Ok(Fleet::from_nodes(nodes, "--targets"));
    }
    let from_node = client.fleet(1).await;
    if let Ok(FleetMembers { nodes, .. }) = &from_node
        && nodes.len() > 1
    {
        return Ok(Fleet::new(nodes.clone(), format!("node 1's /fleet ({})", client.url(1))));
    }
    let from_prometheus = prometheus_targets(client, prometheus).await;
    match (from_node, from_prometheus) {
        (_, Ok(fleet)) => Ok(fleet),
        (Ok(_), Err(p)) => Err(format!(
            "cannot learn the running fleet: node 1 ({}) runs alone in its process (Compose or a single \
             node?) and {p}; name the nodes (--node 1-12) or list them with --targets",
            client.url(1)
        )),
        (Err(n), Err(p)) => Err(format!(
            "cannot learn the running fleet: {n}; and {p}; start the fleet (`scripts/run-native.sh`), or \
             name the nodes (--node 1-12) or list them with --targets"
        )),
    }
}

/// The fleet as Prometheus scrapes it: every active target with a numeric `node` label.
async fn prometheus_targets(client: &NodeClient, prometheus: &str) -> Result<Fleet, String> {
    let failed = |why: String| format!("Prometheus ({prometheus}) {why}");
    let targets =
        Prometheus::new(client.http().clone(), prometheus).targets().await.map_err(|e| match e {
            stack_client::ApiError::Unreachable { .. } => failed("cannot connect".to_owned()),
            other => failed(format!("did not answer: {other}")),
        })?;
    let members: Vec<Member> = targets
        .into_iter()
        .filter_map(|t| {
            let node = t.labels.get("node")?.parse::<u32>().ok()?;
            let region = t.labels.get("region").cloned().unwrap_or_else(|| default_region(node).to_owned());
            Some(Member { node, region })
        })
        .collect();
    if members.is_empty() {
        return Err(failed("scrapes no target with a `node` label".to_owned()));
    }
    Ok(Fleet::new(members, format!("Prometheus' targets ({prometheus})")))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fleet(n: u32) -> Fleet {
        Fleet::from_nodes(1..=n, "test")
    }

    async fn pick(
        spec: Option<&str>,
        region: Option<&str>,
        f: Result<Fleet, String>,
    ) -> Result<Vec<u32>, String> {
        let spec = spec.map(|s| s.parse::<NodeSpec>().expect("spec"));
        select(spec.as_ref(), region, || async { f }).await
    }

    #[tokio::test]
    async fn all_is_the_running_fleet_and_a_region_its_share() {
        assert_eq!(pick(Some("all"), None, Ok(fleet(300))).await.map(|v| v.len()), Ok(300));
        let eu = pick(None, Some("eu-west"), Ok(fleet(300))).await.expect("eu-west");
        assert_eq!(eu.len(), 100, "blocks of four over three regions");
        assert!(eu.iter().all(|&n| default_region(n) == "eu-west"));
        assert_eq!(&eu[..5], [1, 2, 3, 4, 13]);
        assert_eq!(pick(Some("1-8"), Some("us-east"), Ok(fleet(300))).await, Ok(vec![5, 6, 7, 8]));
    }

    #[tokio::test]
    async fn an_explicit_list_needs_no_fleet_and_a_failed_lookup_is_the_error() {
        let unreachable = || Err::<Fleet, _>("cannot learn the running fleet: x".to_owned());
        assert_eq!(pick(Some("1,5,7-9"), None, unreachable()).await, Ok(vec![1, 5, 7, 8, 9]));
        assert_eq!(
            pick(Some("all"), None, unreachable()).await,
            Err("cannot learn the running fleet: x".into())
        );
        let none = pick(Some("1-4"), Some("ap-south"), Ok(fleet(12))).await.expect_err("no ap-south in 1-4");
        assert!(none.contains("region ap-south among the nodes given"), "{none}");
        let none =
            pick(None, Some("ap-south"), Ok(fleet(8))).await.expect_err("a fleet of 8 has no ap-south");
        assert!(none.contains("no node of the running fleet (8 nodes"), "{none}");
    }

    #[test]
    fn regions_come_from_the_record_and_default_by_number() {
        let f = Fleet::new(
            [Member { node: 7, region: "moon".into() }, Member { node: 2, region: "eu-west".into() }],
            "t",
        );
        assert_eq!(f.nodes(), vec![2, 7], "sorted");
        assert_eq!(f.region_of(7), "moon");
        assert_eq!(f.region_of(9), "ap-south");
    }

    proptest! {
        /// Every node of a region is chosen, and nothing else, whatever the fleet's size.
        #[test]
        fn a_region_selects_exactly_its_nodes(n in 1u32..=1000, r in 0usize..3) {
            let region = edge_sim::fleet::REGIONS[r];
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
            let got = rt.block_on(pick(None, Some(region), Ok(fleet(n))));
            let want: Vec<u32> = (1..=n).filter(|&k| default_region(k) == region).collect();
            if want.is_empty() {
                prop_assert!(got.is_err());
            } else {
                prop_assert_eq!(got, Ok(want));
            }
        }
    }
}
