//! Seeded, reproducible random streams.
//!
//! A run has one seed. Each node derives its own seed from it, and each consumer
//! (resource drift, request plans, the traffic generator, the host) takes its own ChaCha stream
//! of that node seed, so one consumer drawing more never shifts another's sequence.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The independent random streams of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Slow drift of CPU and memory.
    Drift = 1,
    /// Per-request latency and failures, and default intensities.
    Requests = 2,
    /// The built-in traffic generator's arrivals and request mix.
    Traffic = 3,
    /// The host under the node (per-core spread, run queue, clock offset, the boot state);
    /// a stream of its own so adding the host moved no other stream's draws.
    Host = 4,
}

/// The seed of node `node_id` in a run seeded with `run_seed` (SplitMix64 of both, so
/// neighbouring node ids get unrelated seeds).
pub fn node_seed(run_seed: u64, node_id: u32) -> u64 {
    let mut z = run_seed ^ (u64::from(node_id)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A reproducible RNG for one stream of a node.
pub fn stream(node_seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(node_seed);
    rng.set_stream(stream as u64);
    rng
}

#[cfg(test)]
mod tests {
    use rand::RngExt;

    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let draw = |seed, s| stream(seed, s).random::<u64>();
        assert_eq!(draw(42, Stream::Drift), draw(42, Stream::Drift));
        assert_ne!(draw(42, Stream::Drift), draw(42, Stream::Requests));
        assert_ne!(draw(42, Stream::Host), draw(42, Stream::Traffic));
        assert_ne!(node_seed(7, 1), node_seed(7, 2));
        assert_eq!(node_seed(7, 3), node_seed(7, 3));
    }
}
