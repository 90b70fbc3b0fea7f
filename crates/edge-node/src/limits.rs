//! The open-file limit a fleet needs: each node holds a listening socket and at least one
//! connection (Prometheus keeps its scrape connection open), so Linux's default soft limit
//! of 1024 files stops a fleet of a few hundred nodes with "too many open files" long
//! after it started. At start the soft limit is raised to the hard one; if even that is
//! too low, the fleet refuses to start with one line saying what to do.

/// Files each node may hold: its listener, Prometheus' scrape connection, and one more
/// (an `inject` call, an outside load generator).
pub const FILES_PER_NODE: u64 = 3;
/// Files the process needs whatever its size: standard streams, the runtime's epoll and
/// wakers, the log writer, and headroom for a burst of CLI connections.
pub const FILES_BASE: u64 = 64;

/// Open files a fleet of `nodes` needs.
pub fn files_needed(nodes: u32) -> u64 {
    FILES_BASE + FILES_PER_NODE * u64::from(nodes)
}

/// The soft limit is too low and cannot be raised enough.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--nodes {nodes} needs about {needed} open files ({FILES_PER_NODE} per node + {FILES_BASE}) but this \
     process may open at most {allowed}: raise the hard limit (`ulimit -n {needed}` in the shell that \
     starts it, `LimitNOFILE={needed}` for systemd, `ulimits: nofile: {needed}` in Compose) or run fewer nodes"
)]
pub struct TooFewFiles {
    /// Nodes asked for.
    pub nodes: u32,
    /// Files they need.
    pub needed: u64,
    /// The limit after raising the soft limit to the hard one.
    pub allowed: u64,
}

/// Checks that `allowed` files are enough for `nodes`.
pub fn check(nodes: u32, allowed: u64) -> Result<u64, TooFewFiles> {
    let needed = files_needed(nodes);
    if allowed >= needed { Ok(allowed) } else { Err(TooFewFiles { nodes, needed, allowed }) }
}

/// Raises the soft open-file limit to the hard one, then checks it is enough for
/// `nodes`; returns the limit now in force. Where the limit cannot be read (not Linux),
/// nothing is checked.
pub fn raise_for(nodes: u32) -> Result<u64, TooFewFiles> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(allowed) => check(nodes, allowed),
        Err(_) => Ok(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_needs_three_files_a_node_plus_a_base() {
        assert_eq!(files_needed(1000), 3064);
        assert_eq!(check(12, 1024), Ok(1024));
        let err = check(1000, 1024).expect_err("1024 is too few for 1000 nodes");
        assert_eq!((err.needed, err.allowed), (3064, 1024));
        let line = err.to_string();
        assert!(
            !line.contains('\n') && line.contains("ulimit -n 3064") && line.contains("fewer nodes"),
            "{line}"
        );
    }
}
