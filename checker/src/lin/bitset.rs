//! The set of linearized operations: a fixed-size bitset with an incrementally maintained
//! Zobrist hash, so hashing a (set, state) pair costs O(1) instead of O(operations).

/// A bitset over `0..len` whose hash is the XOR of a fixed random key per member.
#[derive(Clone, Debug)]
pub struct Bitset {
    words: Vec<u64>,
    hash: u64,
    /// `zobrist_key(i)` for every index, computed once: the search updates the hash per step.
    keys: Vec<u64>,
}

impl PartialEq for Bitset {
    fn eq(&self, other: &Bitset) -> bool {
        self.words == other.words
    }
}

impl Eq for Bitset {}

impl Bitset {
    pub fn new(len: usize) -> Self {
        Bitset {
            words: vec![0; len.div_ceil(64)],
            hash: 0,
            keys: (0..len).map(zobrist_key).collect(),
        }
    }

    pub fn contains(&self, index: usize) -> bool {
        self.words[index / 64] & (1 << (index % 64)) != 0
    }

    /// Adds `index`, which must be absent.
    pub fn insert(&mut self, index: usize) {
        debug_assert!(!self.contains(index));
        self.words[index / 64] |= 1 << (index % 64);
        self.hash ^= self.keys[index];
    }

    /// Removes `index`, which must be present.
    pub fn remove(&mut self, index: usize) {
        debug_assert!(self.contains(index));
        self.words[index / 64] &= !(1 << (index % 64));
        self.hash ^= self.keys[index];
    }

    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Depends only on the members, never on the order they were added in.
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

/// A fixed pseudo-random key per index (SplitMix64 of the index): the same in every run.
pub fn zobrist_key(index: usize) -> u64 {
    mix64(index as u64 ^ 0x5851_f42d_4c95_7f2d)
}

/// SplitMix64's finaliser: spreads every input bit over the whole output.
pub fn mix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_members_only() {
        let mut forward = Bitset::new(130);
        let mut backward = Bitset::new(130);
        for index in [0, 64, 129] {
            forward.insert(index);
        }
        for index in [129, 64, 0] {
            backward.insert(index);
        }
        assert_eq!(forward, backward);
        assert_eq!(forward.hash(), backward.hash());
        assert!(forward.contains(129) && !forward.contains(128));
        forward.remove(64);
        assert_ne!(forward.hash(), backward.hash());
        backward.remove(64);
        assert_eq!(forward.hash(), backward.hash());
    }
}
