//! `KeyRanges`: where each key's run lies in a vector sorted by key, for the indexes that look
//! one value's records or sends up about once per record of a history.
//!
//! Where the keys are dense (values or offsets counted up, as the simulator's are), the runs
//! are found by direct indexing into an array of run starts: 4 bytes a possible key, built in
//! one pass without hashing, one cache miss a look-up. The possible keys are those of the
//! keys' common stride: values dealt round-robin over partitions (the simulator's workloads,
//! the bench's) are each partition's values counted up by the partition count, and an array
//! over every integer of their span was mostly holes (three to six times the memory, and
//! the kernel zeroes all of it first). Where the keys are far apart (random values, as
//! eos-test's packed key-and-value records are), the keys are kept and bucketed by their high
//! bits over their span, about a bucket a key: a look-up reads its bucket's bounds and
//! searches the few keys in it. Built in one pass without hashing (a hash map of ranges,
//! filled an insert a key, cost more to build than all its look-ups), and no worse than a
//! binary search where the keys crowd into a few buckets. Both answer alike (a test and a
//! proptest hold them equal).

use std::ops::Range;

use rustc_hash::FxHashSet;

/// Each distinct key of a sorted sequence with its run's range of positions.
#[derive(Debug)]
pub(crate) enum KeyRanges {
    /// `starts[i]` is the position of the first key ≥ base + i × stride, for i in
    /// 0..=span / stride; a key's run is `starts[i]..starts[i + 1]`.
    Dense {
        base: u64,
        stride: Stride,
        starts: Vec<u32>,
    },
    /// `keys` are the items' keys; `starts[b]` is the position of the first key whose
    /// offset from `base`, shifted right by `shift`, is ≥ b: bucket b's keys are
    /// `keys[starts[b]..starts[b + 1]]`.
    Bucketed {
        base: u64,
        shift: u32,
        starts: Vec<u32>,
        keys: Vec<u64>,
    },
}

impl Default for KeyRanges {
    fn default() -> Self {
        KeyRanges::Bucketed {
            base: 0,
            shift: 0,
            starts: Vec::new(),
            keys: Vec::new(),
        }
    }
}

impl KeyRanges {
    /// Keys spanning at most this many possible keys per key (and a little) are dense: the
    /// array then takes at most 32 bytes a key; bucketed keys take 12 to 16.
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
        let stride = Stride::common(items.iter().map(|item| key(item) - low));
        let slots = stride
            .divide(high - low)
            .expect("the stride divides every key's distance");
        if slots / Self::DENSE_SLOTS_PER_KEY <= items.len() as u64 + 64 {
            Self::dense(items, key, low, stride, slots as usize)
        } else {
            Self::bucketed(items, key, low, high - low)
        }
    }

    fn dense<T>(
        items: &[T],
        key: impl Fn(&T) -> u64,
        base: u64,
        stride: Stride,
        slots: usize,
    ) -> Self {
        let mut starts = Vec::with_capacity(slots + 2);
        // starts[i] = the first position whose key is ≥ base + i × stride.
        for (position, item) in items.iter().enumerate() {
            let slot = stride.quotient(key(item) - base) as usize;
            if starts.len() <= slot {
                // One fill for the run of keys up to this one (not a push per key).
                starts.resize(slot + 1, position as u32);
            }
        }
        starts.push(items.len() as u32);
        KeyRanges::Dense {
            base,
            stride,
            starts,
        }
    }

    /// Buckets over `span` (the keys' high minus low, `base`), at least as many as the items
    /// (a power of two), so that evenly spread keys have about one key a bucket.
    fn bucketed<T>(items: &[T], key: impl Fn(&T) -> u64, base: u64, span: u64) -> Self {
        let shift = bucket_shift(span, items.len());
        let mut starts = Vec::with_capacity((span >> shift) as usize + 2);
        let mut keys = Vec::with_capacity(items.len());
        for (position, item) in items.iter().enumerate() {
            let key = key(item);
            let bucket = ((key - base) >> shift) as usize;
            if starts.len() <= bucket {
                starts.resize(bucket + 1, position as u32);
            }
            keys.push(key);
        }
        starts.push(items.len() as u32);
        KeyRanges::Bucketed {
            base,
            shift,
            starts,
            keys,
        }
    }

    /// The positions of `key`'s run (empty if the keys do not hold it).
    pub fn get(&self, key: u64) -> Range<usize> {
        match self {
            KeyRanges::Dense {
                base,
                stride,
                starts,
            } => {
                let Some(slot) = key.checked_sub(*base).and_then(|x| stride.divide(x)) else {
                    return 0..0;
                };
                match usize::try_from(slot) {
                    Ok(slot) if slot < starts.len() - 1 && starts[slot] < starts[slot + 1] => {
                        starts[slot] as usize..starts[slot + 1] as usize
                    }
                    _ => 0..0,
                }
            }
            KeyRanges::Bucketed {
                base,
                shift,
                starts,
                keys,
            } => {
                let Some(bucket) = key
                    .checked_sub(*base)
                    .and_then(|offset| usize::try_from(offset >> shift).ok())
                    .filter(|&bucket| bucket < starts.len().saturating_sub(1))
                else {
                    return 0..0;
                };
                let (low, high) = (starts[bucket] as usize, starts[bucket + 1] as usize);
                let in_bucket = &keys[low..high];
                let start = low + in_bucket.partition_point(|&k| k < key);
                let end = low + in_bucket.partition_point(|&k| k <= key);
                if start == end { 0..0 } else { start..end }
            }
        }
    }
}

/// Division by a stride d = odd × 2^shift without a division instruction (a few per look-up
/// would cost more than the look-up): exact division by the odd part is a multiplication by
/// its inverse modulo 2^64, and the product is at most u64::MAX / odd exactly when the odd
/// part divides (Granlund and Montgomery; Lemire, Kaser and Kurz).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stride {
    shift: u32,
    inverse: u64,
    limit: u64,
}

impl Stride {
    fn new(stride: u64) -> Self {
        debug_assert!(stride > 0);
        let shift = stride.trailing_zeros();
        let odd = stride >> shift;
        // Newton's iteration doubles the correct low bits: 3 (odd² ≡ 1 mod 8), 6, … 96.
        let mut inverse = odd;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inverse)));
        }
        Stride {
            shift,
            inverse,
            limit: u64::MAX / odd,
        }
    }

    /// The greatest common divisor of `distances` (1 if they are all 0): a check per
    /// distance, and a new stride only for the few distances that divide the last one's.
    fn common(distances: impl Iterator<Item = u64>) -> Self {
        let (mut gcd, mut stride) = (0, Stride::new(1));
        for distance in distances {
            if distance == 0 || (gcd != 0 && stride.divide(distance).is_some()) {
                continue;
            }
            gcd = greatest_common_divisor(gcd, distance);
            stride = Stride::new(gcd);
            if gcd == 1 {
                break;
            }
        }
        stride
    }

    /// x divided by the stride, if it divides x.
    fn divide(self, x: u64) -> Option<u64> {
        let low_bits = x & ((1 << self.shift) - 1);
        let quotient = self.quotient(x);
        (low_bits == 0 && quotient <= self.limit).then_some(quotient)
    }

    /// x divided by the stride, which must divide it.
    fn quotient(self, x: u64) -> u64 {
        (x >> self.shift).wrapping_mul(self.inverse)
    }
}

fn greatest_common_divisor(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
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

/// How far a key's offset from the lowest is shifted right to give its bucket, for `count`
/// keys over `span`: at least as many buckets as keys (a power of two), so that evenly
/// spread keys have about one a bucket. At most 63: a shifted offset stays in range (a shift
/// by 64 overflows).
fn bucket_shift(span: u64, count: usize) -> u32 {
    let span_bits = u64::BITS - span.leading_zeros();
    let bucket_bits = (usize::BITS - count.leading_zeros()).max(1);
    span_bits.saturating_sub(bucket_bits)
}

/// Sorts `items` as `sort_unstable` does, first dealing them into buckets by their keys'
/// high bits over the keys' span, about a bucket an item, then sorting each bucket: for keys
/// spread evenly (random values, as eos-test's are) a few passes instead of a comparison
/// sort's n log n mostly mispredicted branches; keys crowded into a few buckets sort as before.
/// `key` must agree with the order: a smaller key is a smaller item.
pub(crate) fn sort_by_key_buckets<T: Ord + Copy>(items: &mut [T], key: impl Fn(&T) -> u64) {
    // Small slices gain nothing from the buckets; already-sorted ones sort in one pass.
    if items.len() < 64 || items.is_sorted() {
        items.sort_unstable();
        return;
    }
    let (Some(low), Some(high)) = (items.iter().map(&key).min(), items.iter().map(&key).max())
    else {
        return;
    };
    let shift = bucket_shift(high - low, items.len());
    let bucket = |item: &T| ((key(item) - low) >> shift) as usize;
    // ends[b]: where bucket b ends, once counted and summed; then, as items are dealt, where
    // the next item of bucket b goes (filled from the end, back to its start).
    let mut ends = vec![0u32; ((high - low) >> shift) as usize + 1];
    for item in items.iter() {
        ends[bucket(item)] += 1;
    }
    let mut sum = 0;
    for end in &mut ends {
        sum += *end;
        *end = sum;
    }
    let mut dealt = items.to_vec();
    for item in items.iter().rev() {
        let end = &mut ends[bucket(item)];
        *end -= 1;
        dealt[*end as usize] = *item;
    }
    // Each `ends[b]` is now bucket b's start.
    for (b, &start) in ends.iter().enumerate() {
        let end = ends.get(b + 1).map_or(dealt.len(), |&next| next as usize);
        dealt[start as usize..end].sort_unstable();
    }
    items.copy_from_slice(&dealt);
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
    fn strides_divide_exactly() {
        for stride in [
            1u64,
            2,
            3,
            6,
            7,
            12,
            1 << 40,
            3 << 41,
            u64::MAX,
            u64::MAX - 1,
        ] {
            let exact = Stride::new(stride);
            for x in [
                0u64,
                1,
                2,
                3,
                5,
                6,
                12,
                35,
                36,
                1 << 40,
                3 << 41,
                u64::MAX,
                u64::MAX - 1,
            ] {
                let expected = x.is_multiple_of(stride).then(|| x / stride);
                assert_eq!(exact.divide(x), expected, "{x} / {stride}");
            }
        }
        let common = |distances: &[u64]| {
            let stride = Stride::common(distances.iter().copied());
            (1..=64).find(|&d| stride.divide(d) == Some(1)).unwrap_or(0)
        };
        assert_eq!(common(&[0, 6, 12, 9]), 3);
        assert_eq!(common(&[0, 6, 12]), 6);
        assert_eq!(common(&[0, 0]), 1);
        assert_eq!(common(&[4, 10, 7]), 1);
        assert!(matches!(
            KeyRanges::new(&[5, 11, 17, 23]),
            KeyRanges::Dense { ref starts, .. } if starts.len() == 5
        ));
    }

    #[test]
    fn dense_and_sparse_runs_are_found_and_absent_keys_are_empty() {
        let dense = [3, 3, 4, 6, 6, 6, 9];
        let sparse = [5, 5, 1_000_000, u64::MAX];
        assert!(matches!(KeyRanges::new(&dense), KeyRanges::Dense { .. }));
        assert!(matches!(
            KeyRanges::new(&sparse),
            KeyRanges::Bucketed { .. }
        ));
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

        /// Bucketed keys spread anywhere over u64, or crowded into a few buckets among a
        /// few far-off keys, find their runs as a scan does; keys between them find none.
        #[test]
        fn bucketed_look_ups_agree_with_a_scan(
            keys in prop::collection::vec(
                prop_oneof![any::<u64>(), 0u64..4, 1u64 << 63..(1u64 << 63) + 3, Just(u64::MAX)],
                1..80),
        ) {
            let mut keys = keys;
            keys.sort_unstable();
            let ranges = KeyRanges::new(&keys);
            prop_assume!(matches!(ranges, KeyRanges::Bucketed { .. }));
            let near = |k: u64| [k.wrapping_sub(1), k, k.wrapping_add(1)];
            for key in keys.iter().flat_map(|&k| near(k)).chain([0, 5, u64::MAX - 1]) {
                prop_assert_eq!(ranges.get(key), scanned(&keys, key));
            }
        }

        /// Sorting by key buckets sorts as `sort_unstable` does, for keys spread over u64,
        /// crowded into a few buckets, or sorted already; and pairs with equal keys by their
        /// second part.
        #[test]
        fn bucket_sorts_agree_with_sort_unstable(
            keys in prop::collection::vec(
                prop_oneof![any::<u64>(), 0u64..4, 1u64 << 63..(1u64 << 63) + 3, Just(u64::MAX)],
                0..300),
            seconds in prop::collection::vec(0u8..3, 300),
            presorted in any::<bool>(),
        ) {
            let mut pairs: Vec<(u64, u8)> = keys.iter().copied().zip(seconds).collect();
            if presorted {
                pairs.sort_unstable();
            }
            let mut expected = pairs.clone();
            expected.sort_unstable();
            sort_by_key_buckets(&mut pairs, |&(key, _)| key);
            prop_assert_eq!(pairs, expected);
        }

        #[test]
        fn look_ups_agree_with_a_scan(
            keys in prop::collection::vec(
                prop_oneof![0u64..40, 1_000u64..1_010, Just(u64::MAX)], 0..60),
            probes in prop::collection::vec(
                prop_oneof![0u64..45, 995u64..1_015, Just(u64::MAX)], 1..20),
            stride in prop_oneof![Just(1u64), 2u64..13, Just(1 << 40), Just(3 << 41)],
            offset in prop_oneof![Just(0u64), 1u64..4, Just(u64::MAX - 100_000)],
        ) {
            // Keys at a common stride (values dealt round-robin), some probes between them.
            let spread = |k: u64| k.wrapping_mul(stride).wrapping_add(offset);
            let mut keys: Vec<u64> = keys.into_iter().map(spread).collect();
            let probes: Vec<u64> = probes.iter().map(|&p| spread(p))
                .chain(probes.iter().map(|&p| spread(p).wrapping_add(1)))
                .collect();
            keys.sort_unstable();
            let ranges = KeyRanges::new(&keys);
            for key in probes {
                prop_assert_eq!(ranges.get(key), scanned(&keys, key));
            }
        }
    }
}
