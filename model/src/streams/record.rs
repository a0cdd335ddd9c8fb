//! Stream records packed into eosim's `u64` values, and Kafka's key partitioner.
//!
//! The packing (input id 20 bits | key 12 bits | value 32 bits, i32 two's complement) lives
//! in `checker::aggregate`, because the checker depends on nothing of ours and must unpack
//! what it verifies; it is re-exported here so that model code says `streams::record`.
//!
//! Lineage: an output, repartition or changelog record carries the input id of the input
//! record whose processing produced it. So every value is unique per partition of a topic
//! (one input produces one update per operator and key), duplicates are found by value, and
//! `TxnStep::Send { source }` can name the input (`source = StreamRecord::pack` of the input).

pub use checker::aggregate::{
    HOP_FLAG, INPUT_ID_BITS, INPUT_ID_LIMIT, KEY_BITS, KEY_LIMIT, StreamRecord, pack, unpack,
};

/// A record key (12 bits used).
pub type Key = u16;
/// A record value (raw inputs below 10,000; aggregates of up to 100,000 inputs).
pub type Value = i32;
/// An input record's id (20 bits used).
pub type InputId = u32;

/// A record's timestamp: its input id, without the repartition hop flag. A loader numbers
/// inputs in the order it writes them, so the id is the record's event time (Kafka's
/// CreateTime); every record an input causes carries it on (Kafka forwards a record's
/// timestamp with it).
pub fn timestamp(record: &StreamRecord) -> u32 {
    record.input_id & !HOP_FLAG
}

/// Kafka's `Utils.murmur2`: the 32-bit murmur2 hash (seed `0x9747b28c`) its default
/// partitioner applies to the serialized key.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: i32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h = (SEED ^ length as u32) as i32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= ((k as u32) >> R) as i32;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    // Java's switch falls through: the tail's bytes from the highest down, then one multiply.
    let tail = chunks.remainder();
    if tail.len() == 3 {
        h ^= i32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= i32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= i32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= ((h as u32) >> 13) as i32;
    h = h.wrapping_mul(M);
    h ^= ((h as u32) >> 15) as i32;
    h
}

/// The partition Kafka's default partitioner gives `key` among `partitions`, with the key
/// serialized as Kafka's EOS test does (`String.valueOf(key)`, UTF-8):
/// `toPositive(murmur2(bytes)) % partitions`. The same function places input records, output
/// and repartition records, so `out-p` holds exactly the effects of `in-p`'s keys.
pub fn partition_for_key(key: Key, partitions: u32) -> u32 {
    assert!(partitions > 0, "a topic has at least one partition");
    let hash = murmur2(key.to_string().as_bytes());
    (hash & 0x7fff_ffff) as u32 % partitions
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn murmur2_matches_kafkas_utils() {
        // Values of Kafka's Utils.murmur2, as pinned by other ports' tests (Akka's
        // Murmur2Spec), covering every tail length.
        for (key, hash) in [
            ("1", -1_993_445_489),
            ("12", 126_087_238),
            ("123", -267_702_483),
            ("1234", -1_614_185_708),
            ("12345", -1_188_365_604),
        ] {
            assert_eq!(murmur2(key.as_bytes()), hash, "{key}");
        }
    }

    #[test]
    fn keys_spread_over_partitions() {
        let mut counts = [0u32; 5];
        for key in 0..KEY_LIMIT {
            counts[partition_for_key(key, 5) as usize] += 1;
        }
        // 4096 keys over 5 partitions: about 819 each.
        assert!(
            counts.iter().all(|&c| (700..950).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    #[should_panic(expected = "at least one partition")]
    fn zero_partitions_panics() {
        partition_for_key(1, 0);
    }

    proptest! {
        #[test]
        fn records_round_trip_through_values(
            input_id in 0..INPUT_ID_LIMIT,
            key in 0..KEY_LIMIT,
            value in any::<i32>(),
        ) {
            let record = StreamRecord::new(input_id, key, value);
            prop_assert_eq!(unpack(pack(record)), record);
            prop_assert_eq!(StreamRecord::unpack(record.pack()), record);
        }

        #[test]
        fn partitions_are_in_range_and_stable(key in 0..KEY_LIMIT, partitions in 1u32..64) {
            let p = partition_for_key(key, partitions);
            prop_assert!(p < partitions);
            prop_assert_eq!(p, partition_for_key(key, partitions));
        }
    }
}
