//! The default fleet: its size, its largest size and its regions. One source for the node
//! binary (fleet mode, the file_sd targets it writes, a node's default region) and the CLI
//! (node numbers, `--region`'s values, regions of a fleet listed by `--targets`);
//! Compose, the dashboards and the scripts read the targets file the node writes.

/// Nodes in the demo fleet (Compose, `run-native.sh`, `inject --node all`).
pub const DEFAULT_SIZE: u32 = 12;

/// The most nodes one fleet process runs, and the largest node number the CLI accepts
/// (node N listens on base-port + N, so a base port up to 64535 leaves node 1000 a port).
pub const MAX_SIZE: u32 = 1000;

/// Regions of the fleet, assigned to node ids in blocks of four (1-4, 5-8, 9-12, ...).
pub const REGIONS: [&str; 3] = ["eu-west", "us-east", "ap-south"];

/// Nodes per region block.
const BLOCK: u32 = 4;

/// The region of node `node_id` when none is given.
pub fn default_region(node_id: u32) -> &'static str {
    let block = (node_id.saturating_sub(1) / BLOCK) as usize;
    REGIONS[block % REGIONS.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_in_blocks_of_four_and_cycle() {
        let regions: Vec<&str> = (1..=13).map(default_region).collect();
        assert_eq!(&regions[..4], ["eu-west"; 4]);
        assert_eq!(&regions[4..8], ["us-east"; 4]);
        assert_eq!(&regions[8..12], ["ap-south"; 4]);
        assert_eq!(regions[12], "eu-west");
    }
}
