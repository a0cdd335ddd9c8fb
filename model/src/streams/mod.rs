//! Kafka-Streams-like stream processing, the pure part: packed stream records and the key
//! partitioner (`record`).

pub mod record;

pub use record::{InputId, Key, StreamRecord, Value, partition_for_key};
