//! Seeded random streams, one per subsystem.
//!
//! Each stream is derived from (seed, stream name) alone, so adding or removing draws in one
//! subsystem (say, one fault fewer) never reshuffles the random choices of another.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random stream named `name` for run `seed`.
pub fn stream(seed: u64, name: &str) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    let name_hash = xxhash_rust::xxh3::xxh3_64(name.as_bytes());
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&name_hash.to_le_bytes());
    key[16..24].copy_from_slice(&(seed ^ name_hash).rotate_left(17).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a1: Vec<u32> = (0..8)
            .map(|_| 0)
            .scan(stream(7, "net"), |r, _: u32| Some(r.r#gen()))
            .collect();
        let a2: Vec<u32> = (0..8)
            .map(|_| 0)
            .scan(stream(7, "net"), |r, _: u32| Some(r.r#gen()))
            .collect();
        let b: Vec<u32> = (0..8)
            .map(|_| 0)
            .scan(stream(7, "faults"), |r, _: u32| Some(r.r#gen()))
            .collect();
        let c: Vec<u32> = (0..8)
            .map(|_| 0)
            .scan(stream(8, "net"), |r, _: u32| Some(r.r#gen()))
            .collect();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn stream_values_are_stable_across_builds() {
        // Pinned so that a dependency upgrade that changes the generator is noticed: every
        // recorded seed would replay differently.
        let v: u64 = stream(42, "network").r#gen();
        assert_eq!(format!("{v:016x}"), "c42f86d891580564");
    }
}
