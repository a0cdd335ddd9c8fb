//! The system under test: a Kafka-like cluster on eosim's engine.
//!
//! Brokers hold topic partitions as logs of batches (producer id, epoch, sequence range) and
//! keep per-producer state for duplicate detection and sequence and epoch checks, faithful to
//! Kafka's idempotent producer (docs/reference/kafka-eos-protocol.md §1.1, tested against the
//! behaviours of Kafka's own unit tests). Clients (an async producer and a consumer) record
//! every call they make in the checker's history vocabulary.
//!
//! Transactions (§1.2–§1.4) are pure, synchronous state machines so far: transactional
//! batches, markers, the LSO and read_committed fetches in `partition`; the transaction
//! coordinator in `txn`; committed and pending transactional offsets in `group`.
//!
//! Stream processing's pure foundations are in `streams`: packed stream records, the
//! topology DSL and processor API, tasks and state stores, Kafka's EOS system test.

pub mod apps;
pub mod broker;
pub mod broker_costs;
pub mod client;
pub mod cluster;
pub mod config;
pub mod coverage;
pub mod fault_point;
pub mod group;
pub mod partition;
pub mod producer_state;
pub mod protocol;
pub mod recorder;
pub mod streams;
pub mod trace_note;
pub mod txn;

pub use cluster::{Cluster, ClusterSpec, TopicSpec};
pub use config::{Guarantee, Variant, Variants};
pub use coverage::CoveragePoint;
pub use protocol::{KafkaError, Request, Response, TopicPartition};
pub use recorder::Recorder;
pub use trace_note::TraceNote;
