//! Kafka-Streams-like stream processing, the pure part: packed stream records and the key
//! partitioner (`record`), the topology DSL, processors, tasks and state stores
//! (`topology`, with an in-memory `topology::testing::TopologyTestDriver`), and Kafka's EOS
//! system test and the talk's word count (`eos_test`). Nothing here touches the simulation:
//! a runtime (instances in a consumer group, one task per input partition, changelog
//! topics, the commit cycle) drives it.

pub mod eos_test;
pub mod record;
pub mod topology;

pub use record::{InputId, Key, StreamRecord, Value, partition_for_key};
pub use topology::{
    KGroupedStream, KStream, KTable, MemStores, ProcessOutput, Processor, ProcessorContext,
    SinkRecord, StateStores, StoreSpec, StoreUpdate, SubTopology, Task, TaskId, Topology,
    TopologyBuilder,
};
