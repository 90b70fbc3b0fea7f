//! Real edge-nodes served in-process on free ports, for the CLI's end-to-end tests
//! (feature `fleet`). Every node is quiet (no built-in traffic, so every count is the
//! test's) with run seed 1.
//!
//! No command of a test can reach the default ports 8001-8012, where a real fleet may be
//! running: [`Fleet::targets`] names a URL for every node of the default fleet, and nodes
//! not started point at a port held closed.

use std::net::SocketAddr;

use edge_node::{NodeConfig, NodeState};
use tokio::net::TcpListener;

use crate::ports::{ClosedPort, PortBlock, RESERVED};

/// The run seed of every node here.
const SEED: u64 = 1;

/// A quiet node's state.
fn quiet(id: u32) -> NodeState {
    NodeState::new(NodeConfig { rps: 0.0, ..NodeConfig::new(id, SEED) })
}

/// Node `id` alone on a free port, served in the background (its `/fleet` lists only
/// itself, as a node in a container of its own): its state and address.
pub async fn node(id: u32) -> (NodeState, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    serve_alone(listener, id)
}

/// Nodes 1..=n on the consecutive ports `base + 1 ..= base + n`, each served alone (its
/// `/fleet` lists only itself), as nodes in containers of their own: the base port and
/// node `i`'s state at index `i - 1`. Call inside a tokio runtime.
pub async fn separate_nodes(n: u16) -> (u16, Vec<NodeState>) {
    let block = PortBlock::find(n);
    let base = block.base();
    let states = (1..).zip(block.into_tokio_listeners()).map(|(id, l)| serve_alone(l, id).0).collect();
    (base, states)
}

/// Serves node `id` alone on `listener` until the test's runtime ends.
fn serve_alone(listener: TcpListener, id: u32) -> (NodeState, SocketAddr) {
    let addr = listener.local_addr().expect("addr");
    let state = quiet(id);
    let app = edge_node::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, addr)
}

/// Nodes 1..=n, each alone on a free port, addressed through `inject --targets`.
#[derive(Debug)]
pub struct Fleet {
    /// For `inject --targets`: node `i` at its URL for `i <= n`, every other node of the
    /// default fleet at [`Fleet::closed`].
    pub targets: String,
    /// Node `i`'s state at index `i - 1`.
    pub states: Vec<NodeState>,
    /// The closed port's URL (`http://127.0.0.1:<port>`): connections are refused.
    pub closed: String,
    _closed: ClosedPort,
}

impl Fleet {
    /// Starts nodes 1..=n; call inside a multi-threaded tokio runtime.
    pub async fn start(n: u32) -> Self {
        let closed_port = ClosedPort::new();
        let closed = closed_port.url();
        let mut targets = Vec::new();
        let mut states = Vec::new();
        for id in 1..=n {
            let (state, addr) = node(id).await;
            targets.push(format!("{id}=http://{addr}"));
            states.push(state);
        }
        targets.extend((n + 1..=edge_sim::fleet::DEFAULT_SIZE).map(|id| format!("{id}={closed}")));
        for port in RESERVED {
            assert!(
                !targets.iter().any(|t| t.ends_with(&format!(":{port}"))),
                "reserved port in {targets:?}"
            );
        }
        Fleet { targets: targets.join(","), states, closed, _closed: closed_port }
    }
}

/// Nodes 1..=n on the consecutive ports `base + 1 ..= base + n`, served together by the
/// fleet runner (`edge_node::run`, what `edge-node --nodes n --base-port base` runs), so
/// `inject --base-port` learns the fleet from `/fleet` as in real use.
#[derive(Debug)]
pub struct BasePortFleet {
    /// The base port: node `i` listens on `base + i`.
    pub base: u16,
    /// Node `i`'s state at index `i - 1`.
    pub states: Vec<NodeState>,
    /// A closed port's URL, for services that must not answer (say, `--prometheus`).
    pub closed: String,
    _closed: ClosedPort,
}

impl BasePortFleet {
    /// Starts nodes 1..=n; call inside a multi-threaded tokio runtime. The block's
    /// listeners are kept from the port search, never released and bound again: tests
    /// running at once would race for the same ports.
    pub async fn start(n: u16) -> Self {
        let block = PortBlock::find(n);
        let base = block.base();
        let nodes: Vec<(TcpListener, NodeState)> =
            (1..).zip(block.into_tokio_listeners()).map(|(id, listener)| (listener, quiet(id))).collect();
        let states = nodes.iter().map(|(_, s)| s.clone()).collect();
        // A shutdown that never comes: the test's runtime ends the fleet.
        tokio::spawn(edge_node::run(nodes, tokio_util::sync::CancellationToken::new()));
        let closed_port = ClosedPort::new();
        BasePortFleet { base, states, closed: closed_port.url(), _closed: closed_port }
    }
}
