//! `KeyRanges`: where each key's run lies in a vector sorted by key, for the indexes that look
//! one value's records or sends up about once per record of a history.
//!
//! Where the keys are dense (values or offsets counted up, as the simulator's are), the runs
//! are found by direct indexing into an array of run starts: 4 bytes a possible key, built in
//! one pass without hashing, one cache miss a look-up. Where they are far apart, a hash map
//! of ranges (looked up, never iterated: its order is never seen). Both answer alike (a test
//! and a proptest hold them equal).

use std::ops::Range;

use rustc_hash::{FxHashMap, FxHashSet};

/// Each distinct key of a sorted sequence with its run's range of positions.
#[derive(Debug)]
pub(crate) enum KeyRanges {
    /// `starts[k - base]` is the position of the first key ≥ k, for k in base..=base + span;
    /// a key's run is `starts[i]..starts[i + 1]`.
    Dense {
        base: u64,
        starts: Vec<u32>,
    },
    Sparse(FxHashMap<u64, (u32, u32)>),
}

impl Default for KeyRanges {
    fn default() -> Self {
        KeyRanges::Sparse(FxHashMap::default())
    }
}

impl KeyRanges {
    /// Keys spanning at most this many possible keys per key (and a little) are dense: the
    /// array then takes at most 32 bytes a key, a hash map of ranges about 45.
    const DENSE_SLOTS_PER_KEY: u64 = 8;

    /// The runs of `keys`, which must be sorted ascending.
    #[cfg(test)]
    pub fn new(keys: &[u64]) -> Self {
        Self::by_key(keys, |&key| key)
    }

    /// The runs of the items' keys (`key` of each), which must ascend.
    pub fn by_key<T>(items: &[T], key: impl Fn(&T) -> u64) -> Self {
        let (Some(low), Some(high)) = (items.first().map(&key), items.last().map(&key)) else {
            return KeyRanges::default();
        };
        debug_assert!(items.is_sorted_by_key(&key), "keys are sorted");
        let span = high - low;
        if span / Self::DENSE_SLOTS_PER_KEY <= items.len() as u64 + 64 {
            Self::dense(items, key, low, span as usize)
        } else {
            Self::sparse(items, key)
        }
    }

    fn dense<T>(items: &[T], key: impl Fn(&T) -> u64, base: u64, span: usize) -> Self {
        let mut starts = Vec::with_capacity(span + 2);
        // starts[i] = the first position whose key is ≥ base + i.
        for (position, item) in items.iter().enumerate() {
            let slot = (key(item) - base) as usize;
            if starts.len() <= slot {
                // One fill for the run of keys up to this one (not a push per key).
                starts.resize(slot + 1, position as u32);
            }
        }
        starts.push(items.len() as u32);
        KeyRanges::Dense { base, starts }
    }

    fn sparse<T>(items: &[T], key: impl Fn(&T) -> u64) -> Self {
        let mut ranges = FxHashMap::default();
        ranges.reserve(items.len());
        let mut start = 0;
        for run in items.chunk_by(|a, b| key(a) == key(b)) {
            let end = start + run.len();
            ranges.insert(key(&run[0]), (start as u32, end as u32));
            start = end;
        }
        KeyRanges::Sparse(ranges)
    }

    /// The positions of `key`'s run (empty if the keys do not hold it).
    pub fn get(&self, key: u64) -> Range<usize> {
        match self {
            KeyRanges::Dense { base, starts } => {
                let Some(slot) = key.checked_sub(*base) else {
                    return 0..0;
                };
                match usize::try_from(slot) {
                    Ok(slot) if slot < starts.len() - 1 && starts[slot] < starts[slot + 1] => {
                        starts[slot] as usize..starts[slot + 1] as usize
                    }
                    _ => 0..0,
                }
            }
            KeyRanges::Sparse(ranges) => ranges
                .get(&key)
                .map_or(0..0, |&(start, end)| start as usize..end as usize),
        }
    }
}

/// A set of values: a bit per possible value over their span where they are dense (values
/// counted up), else a hash set (asked, never iterated: its order is never seen). Built from
/// values in any order, so they need no sort.
#[derive(Debug)]
pub(crate) enum ValueSet {
    Dense { base: u64, bits: Vec<u64> },
    Sparse(FxHashSet<u64>),
}

impl ValueSet {
    /// Values spanning at most this many possible values per value (and a little) get a bit
    /// each: at most 8 bytes a value, a hash set about 16.
    const DENSE_BITS_PER_VALUE: u64 = 64;

    pub fn new(values: &[u64]) -> Self {
        let (Some(&low), Some(&high)) = (values.iter().min(), values.iter().max()) else {
            return ValueSet::Sparse(FxHashSet::default());
        };
        let span = high - low;
        if span / Self::DENSE_BITS_PER_VALUE > values.len() as u64 + 64 {
            return ValueSet::Sparse(values.iter().copied().collect());
        }
        let mut bits = vec![0u64; (span / 64) as usize + 1];
        for &value in values {
            let slot = value - low;
            bits[(slot / 64) as usize] |= 1 << (slot % 64);
        }
        ValueSet::Dense { base: low, bits }
    }

    pub fn contains(&self, value: u64) -> bool {
        match self {
            ValueSet::Dense { base, bits } => value.checked_sub(*base).is_some_and(|slot| {
                let word = usize::try_from(slot / 64).ok().and_then(|w| bits.get(w));
                word.is_some_and(|word| word & (1 << (slot % 64)) != 0)
            }),
            ValueSet::Sparse(set) => set.contains(&value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The run of `key` found by scanning.
    fn scanned(keys: &[u64], key: u64) -> Range<usize> {
        match keys.iter().position(|&k| k == key) {
            Some(start) => start..start + keys.iter().filter(|&&k| k == key).count(),
            None => 0..0,
        }
    }

    #[test]
    fn dense_and_sparse_runs_are_found_and_absent_keys_are_empty() {
        let dense = [3, 3, 4, 6, 6, 6, 9];
        let sparse = [5, 5, 1_000_000, u64::MAX];
        assert!(matches!(KeyRanges::new(&dense), KeyRanges::Dense { .. }));
        assert!(matches!(KeyRanges::new(&sparse), KeyRanges::Sparse(_)));
        for keys in [&dense[..], &sparse[..], &[]] {
            let ranges = KeyRanges::new(keys);
            for key in [0, 2, 3, 4, 5, 6, 7, 9, 10, 1_000_000, u64::MAX] {
                assert_eq!(ranges.get(key), scanned(keys, key), "{keys:?} {key}");
            }
        }
    }

    proptest! {
        /// A value set holds what it was built from and nothing else, dense or sparse.
        #[test]
        fn a_value_set_holds_its_values(
            values in prop::collection::vec(
                prop_oneof![0u64..40, 1_000u64..1_010, Just(u64::MAX)], 0..60),
            probes in prop::collection::vec(
                prop_oneof![0u64..45, 995u64..1_015, Just(u64::MAX)], 1..20),
        ) {
            let set = ValueSet::new(&values);
            for value in probes.into_iter().chain(values.iter().copied()) {
                prop_assert_eq!(set.contains(value), values.contains(&value));
            }
        }

        #[test]
        fn look_ups_agree_with_a_scan(
            mut keys in prop::collection::vec(
                prop_oneof![0u64..40, 1_000u64..1_010, Just(u64::MAX)], 0..60),
            probes in prop::collection::vec(
                prop_oneof![0u64..45, 995u64..1_015, Just(u64::MAX)], 1..20),
        ) {
            keys.sort_unstable();
            let ranges = KeyRanges::new(&keys);
            for key in probes {
                prop_assert_eq!(ranges.get(key), scanned(&keys, key));
            }
        }
    }
}
