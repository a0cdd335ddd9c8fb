//! Stream records packed into eosim's `u64` values, and Kafka's key partitioner.
//!
//! The packing is the model's: an app writes its stream records as values packed this way,
//! and hands the checker the layout as part of its aggregate spec (`LAYOUT`, a
//! `checker::aggregate::RecordLayout`), so the checker, which depends on nothing of ours,
//! only decodes what it verifies:
//!
//! ```text
//!  63            44 43     32 31                     0
//! +----------------+---------+------------------------+
//! | input id (20)  | key (12)| value (32, i32 2's c.) |
//! +----------------+---------+------------------------+
//! ```
//!
//! - input id: the id of the input record (in the generated input topic) that caused this
//!   record; an output or aggregate update carries the id of the input that triggered it, so
//!   every output value is unique per output partition and names its lineage. Up to
//!   1,048,575 input records per run; `HOP_FLAG` marks a record written to a repartition hop.
//! - key: up to 4096 keys (Kafka's EOS test draws from 20,000; see `eos_test`).
//! - value: an `i32`. Raw inputs are below 10,000; sum, count, min and max of up to 100,000
//!   such inputs per key fit.
//!
//! Lineage: an output, repartition or changelog record carries the input id of the input
//! record whose processing produced it. So every value is unique per partition of a topic
//! (one input produces one update per operator and key), duplicates are found by value, and
//! `TxnStep::Send { source }` can name the input (`source = pack` of the input).

pub use checker::aggregate::{RecordLayout, StreamRecord};

/// Bits of the input id in a packed record.
pub const INPUT_ID_BITS: u32 = 20;
/// Bits of the key in a packed record.
pub const KEY_BITS: u32 = 12;
/// Input ids are below this (2^20).
pub const INPUT_ID_LIMIT: u32 = 1 << INPUT_ID_BITS;
/// Keys are below this (2^12 = 4096).
pub const KEY_LIMIT: u16 = 1 << KEY_BITS;
/// Set in the input id of a record a stage writes to a repartition hop: the hop's record is
/// a new input for the next stage (its own lineage for the exactly-once oracle, which tells
/// inputs apart by value); the aggregate verifier matches ids with or without it. Input ids
/// stay below it (≤ 500,000 records).
pub const HOP_FLAG: u32 = 1 << 19;

const VALUE_BITS: u32 = 32;
const KEY_SHIFT: u32 = VALUE_BITS;
const INPUT_ID_SHIFT: u32 = VALUE_BITS + KEY_BITS;

/// The packing above as the checker's spec (every aggregate spec the model makes names it).
pub const LAYOUT: RecordLayout = RecordLayout {
    input_id_bits: INPUT_ID_BITS,
    key_bits: KEY_BITS,
    hop_flag: HOP_FLAG,
};

/// Packing a stream record into a value (a trait because `StreamRecord` is the checker's).
pub trait Pack {
    /// The record as an eosim value; panics if the input id or key does not fit its bits.
    fn pack(self) -> u64;
}

impl Pack for StreamRecord {
    fn pack(self) -> u64 {
        assert!(
            self.input_id < INPUT_ID_LIMIT,
            "input id {} does not fit in {INPUT_ID_BITS} bits",
            self.input_id
        );
        assert!(
            self.key < KEY_LIMIT,
            "key {} does not fit in {KEY_BITS} bits",
            self.key
        );
        (u64::from(self.input_id) << INPUT_ID_SHIFT)
            | (u64::from(self.key) << KEY_SHIFT)
            | u64::from(self.value as u32)
    }
}

/// `record.pack()`.
pub fn pack(record: StreamRecord) -> u64 {
    record.pack()
}

/// The record an eosim value holds (every `u64` is some record), as the checker decodes it.
pub fn unpack(value: u64) -> StreamRecord {
    LAYOUT.decode(value)
}

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
    // The key's decimal digits, written on the stack (`to_string` would allocate).
    let mut digits = [0u8; 5];
    let mut start = digits.len();
    let mut rest = key;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let hash = murmur2(&digits[start..]);
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
    fn a_key_hashes_as_its_decimal_string() {
        for key in 0..=Key::MAX {
            let hash = murmur2(key.to_string().as_bytes());
            assert_eq!(partition_for_key(key, 7), (hash & 0x7fff_ffff) as u32 % 7);
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
    fn packing_lays_out_input_id_key_and_value() {
        // Input id 0xABCDE, key 0xFED, value -2: the hex digits line up with the fields.
        let r = StreamRecord::new(0xABCDE, 0xFED, -2);
        assert_eq!(r.pack(), (0xABCDE << 44) | (0xFED << 32) | 0xFFFF_FFFE);
        assert_eq!(format!("{:x}", r.pack()), "abcdefedfffffffe");
        assert_eq!(unpack(r.pack()), r);
        assert_eq!(StreamRecord::new(0, 0, 0).pack(), 0);
        let highest = StreamRecord::new(INPUT_ID_LIMIT - 1, KEY_LIMIT - 1, i32::MAX);
        assert_eq!(highest.pack(), 0xFFFF_FFFF_7FFF_FFFF);
    }

    #[test]
    #[should_panic(expected = "input id 1048576 does not fit in 20 bits")]
    fn an_input_id_beyond_20_bits_panics() {
        StreamRecord::new(INPUT_ID_LIMIT, 0, 0).pack();
    }

    #[test]
    #[should_panic(expected = "key 4096 does not fit in 12 bits")]
    fn a_key_beyond_12_bits_panics() {
        StreamRecord::new(0, KEY_LIMIT, 0).pack();
    }

    #[test]
    fn the_layout_is_the_one_histories_were_recorded_with() {
        // So the aggregate-check lines of every history stay as they were (a legacy layout
        // is not written) and old history files read back with the model's layout.
        assert_eq!(LAYOUT, RecordLayout::LEGACY);
        assert_eq!(INPUT_ID_SHIFT, 44);
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
            prop_assert_eq!(LAYOUT.decode(record.pack()), record);
        }

        #[test]
        fn every_value_is_some_record(raw in any::<u64>()) {
            prop_assert_eq!(unpack(raw).pack(), raw);
        }

        #[test]
        fn partitions_are_in_range_and_stable(key in 0..KEY_LIMIT, partitions in 1u32..64) {
            let p = partition_for_key(key, partitions);
            prop_assert!(p < partitions);
            prop_assert_eq!(p, partition_for_key(key, partitions));
        }
    }
}
