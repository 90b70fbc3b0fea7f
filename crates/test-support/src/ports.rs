//! Ports for tests: a block of consecutive free ports (for a process told `--base-port`),
//! and a port held closed (connections are refused, and nobody else can take it).
//!
//! A single server for a test needs neither: bind `127.0.0.1:0` and read the address.

use std::net::{SocketAddr, TcpListener};
use std::ops::RangeInclusive;

/// The ports the real fleet (8001-8012) and its stack (Prometheus 9090, Alertmanager 9093,
/// the alert sink 9095) use, and the gaps between them: no block overlaps this range.
pub const RESERVED: RangeInclusive<u16> = 8001..=9095;

/// Where blocks are looked for from: above the well-known and registered ports that
/// developer tools like to take (3000, 5432, 8080, ...).
const SEARCH_FROM: u16 = 10_000;

/// Tries before giving up: a busy machine holds a few ports, not most of them.
const ATTEMPTS: usize = 200;

/// `n` consecutive free ports, `base + 1 ..= base + n` (node `i` of `edge-node --nodes n
/// --base-port base` listens on `base + i`), each held by a listener until released.
///
/// Blocks are drawn at random below the kernel's ephemeral range, where outgoing
/// connections (a busy machine makes many) cannot take a port of the block, and off
/// [`RESERVED`].
#[derive(Debug)]
pub struct PortBlock {
    base: u16,
    held: Vec<TcpListener>,
}

impl PortBlock {
    /// Finds and holds a block of `n` ports; panics if none is free after many tries.
    pub fn find(n: u16) -> Self {
        let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|r| r.split_whitespace().next().and_then(|p| p.parse::<u16>().ok()))
            .unwrap_or(32768);
        let high = ephemeral_low.saturating_sub(n.saturating_add(1)).max(SEARCH_FROM + 1);
        for _ in 0..ATTEMPTS {
            let base = rand::random_range(SEARCH_FROM..high);
            let Some(last) = base.checked_add(n) else { continue };
            if base < *RESERVED.end() && last >= *RESERVED.start() {
                continue;
            }
            let mut held = Vec::with_capacity(usize::from(n));
            for port in base + 1..=last {
                match TcpListener::bind(("127.0.0.1", port)) {
                    Ok(listener) => held.push(listener),
                    Err(_) => break,
                }
            }
            if held.len() == usize::from(n) {
                return Self { base, held };
            }
        }
        panic!("no {n} free ports in a row");
    }

    /// The base port: the block is `base + 1 ..= base + n`.
    pub fn base(&self) -> u16 {
        self.base
    }

    /// The block's ports.
    pub fn ports(&self) -> RangeInclusive<u16> {
        self.base + 1..=self.base + self.len()
    }

    /// How many ports the block has.
    pub fn len(&self) -> u16 {
        u16::try_from(self.held.len()).unwrap_or(u16::MAX)
    }

    /// Whether the block has no port.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Closes the listeners, for a child process to bind the ports; returns the base.
    /// Until the child binds them another process could, so tests that serve in-process
    /// keep the listeners ([`Self::into_listeners`]) instead.
    pub fn release(self) -> u16 {
        self.base
    }

    /// The listeners holding the block, in port order.
    pub fn into_listeners(self) -> Vec<TcpListener> {
        self.held
    }

    /// The listeners as tokio listeners, in port order; call inside a runtime.
    pub fn into_tokio_listeners(self) -> Vec<tokio::net::TcpListener> {
        self.held
            .into_iter()
            .map(|listener| {
                listener.set_nonblocking(true).expect("nonblocking");
                tokio::net::TcpListener::from_std(listener).expect("listener")
            })
            .collect()
    }
}

/// One free port, released at once for a child process to bind.
pub fn free_port() -> u16 {
    PortBlock::find(1).release() + 1
}

/// A loopback port bound but not listening: a connection is refused at once, and no one
/// else can take the port while this lives. Where a test points anything that must not
/// answer (nodes that are not running, a Prometheus that is not there).
#[derive(Debug)]
pub struct ClosedPort {
    _socket: tokio::net::TcpSocket,
    addr: SocketAddr,
}

impl ClosedPort {
    /// Binds a free port and never listens on it.
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
        let addr = socket.local_addr().expect("addr");
        Self { _socket: socket, addr }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_consecutive_held_and_off_the_reserved_ports() {
        let block = PortBlock::find(20);
        assert_eq!(block.len(), 20);
        assert!(block.ports().all(|p| !RESERVED.contains(&p)), "{:?}", block.ports());
        assert!(block.ports().all(|p| TcpListener::bind(("127.0.0.1", p)).is_err()), "held");
        let listeners = block.into_listeners();
        let ports: Vec<u16> = listeners.iter().map(|l| l.local_addr().expect("addr").port()).collect();
        assert!(ports.windows(2).all(|w| w[1] == w[0] + 1), "{ports:?}");
    }

    #[test]
    fn a_released_block_can_be_bound_again() {
        let block = PortBlock::find(3);
        let ports = block.ports();
        block.release();
        let rebound: Vec<_> = ports.filter_map(|p| TcpListener::bind(("127.0.0.1", p)).ok()).collect();
        assert_eq!(rebound.len(), 3);
    }

    #[test]
    fn a_closed_port_refuses_connections_and_cannot_be_taken() {
        let closed = ClosedPort::new();
        assert!(!RESERVED.contains(&closed.port()));
        let refused = std::net::TcpStream::connect(closed.addr()).expect_err("refused");
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(TcpListener::bind(closed.addr()).is_err(), "held");
        assert_eq!(closed.url(), format!("http://127.0.0.1:{}", closed.port()));
    }
}
