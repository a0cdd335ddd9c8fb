//! The transaction coordinator: pure, synchronous state machines (kafka-eos-protocol.md
//! §1.2–§1.3). No networking here: requests are method calls, and the markers the
//! coordinator must have written are returned as data ([`MarkerRequest`]) for the broker to
//! send; it reports back with [`TxnCoordinator::on_markers_written`].

pub mod coordinator;
pub mod metadata;
#[cfg(test)]
mod proptests;

pub use coordinator::{
    CONSUMER_OFFSETS_TOPIC, EndTxnOutcome, InitProducerIdOutcome, MarkerRequest,
    ProducerIdAllocator, TxnCoordinator, TxnCoordinatorConfig, TxnLogRecord, offsets_partition_for,
    offsets_partition_index,
};
pub use metadata::{MAX_PRODUCER_EPOCH, TxnMetadata, TxnState, TxnTransit, is_epoch_exhausted};
