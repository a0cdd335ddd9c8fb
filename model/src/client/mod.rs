//! Clients whose calls read like Kafka client code. Every call is recorded in the history as
//! invoke → ok | fail | info.

pub mod consumer;
pub mod group;
pub mod identity;

pub use identity::{ClientId, Incarnations, ProcessId};
pub mod producer;
mod txn_history;
pub mod txn_producer;

use sim::{NodeId, Sim};

use crate::cluster::Cluster;
use crate::protocol::KafkaNet;
use crate::recorder::Recorder;

pub use consumer::Consumer;
pub use group::{GroupConfig, GroupMember};
pub use producer::{Producer, ProducerConfig, SendError};
pub use txn_producer::{TransactionalConfig, TransactionalProducer, TxnError};

/// What a client needs from its run: its node, the network, the layout, the recorder.
#[derive(Clone)]
pub struct ClientContext {
    pub sim: Sim,
    pub node: NodeId,
    pub net: KafkaNet,
    pub cluster: Cluster,
    pub recorder: Recorder,
    /// Who the client is in the history: its processes are `client_id.process(call)`.
    pub client_id: ClientId,
    /// The client side of the protocol variants in force (default: Kafka's fixed clients).
    pub switches: ClientSwitches,
}

/// What the protocol variants switch off in clients and their applications. Every default is
/// the fixed behaviour; `from_variants` maps the variants to them: the one place variants
/// reach clients (the broker's is `BrokerSwitches::from_variants`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientSwitches {
    /// After an abort that leaves a batch of unknown fate, a transactional producer under
    /// transactions v1 re-initialises with a bumped epoch before its next transaction
    /// (KIP-360; KAFKA-14053's fix). Default true; off is the
    /// `no-epoch-bump-after-send-timeout` variant.
    pub epoch_bump_after_unknown_send: bool,
    /// A Streams task under exactly-once deletes its checkpoint once it starts processing,
    /// so a crash leaves stores without one, which are wiped (KAFKA-7192's invariant;
    /// KAFKA-20685's fix). Default true; off is the `checkpoint-kept-while-running` variant.
    pub checkpoint_deleted_when_running: bool,
    /// A consumer fetching its group's committed offsets asks for stable ones
    /// (`require_stable`, KIP-447, KAFKA-9346), so it waits while a transaction's offset
    /// commit is pending. Default true; off is the `no-stable-offset-check` variant.
    pub require_stable_offsets: bool,
    /// After aborting a transaction, a consume-transform-produce loop seeks its consumer
    /// back to the committed offsets, so the aborted batch's inputs are processed again
    /// (Kafka leaves this to the application: KAFKA-17582). Default true; off is the
    /// `no-seek-after-abort` variant.
    pub seek_to_committed_after_abort: bool,
    /// A failed transactional send puts the producer in an abortable state, so the
    /// transaction can only abort (KAFKA-9279's fix). Default true; off is the
    /// `commit-ignores-failed-sends` variant: the failure reaches only that send's result,
    /// which the application does not check, and the commit goes ahead.
    pub failed_send_aborts_transaction: bool,
    /// A transactional send whose retries ran out is an abortable error (KAFKA-19176's fix,
    /// apache/kafka PR 19522). Default true; off is the `timed-out-send-retried` variant:
    /// the error reaches the application as retriable, the batch's sequence numbers are
    /// spent, and the application sends the record again in the same transaction.
    pub exhausted_send_is_abortable: bool,
    /// The queue workload's polls read at read_committed. Default true; off is the
    /// `read-uncommitted` variant: they see open and aborted transactions' records.
    pub read_committed: bool,
    /// A consume-transform-produce copier commits its consumer offsets inside the output
    /// transaction (`sendOffsetsToTransaction`). Default true; off is the
    /// `offsets-outside-txn` variant: offsets committed after the transaction, separately.
    pub offsets_in_transaction: bool,
    /// Under exactly-once, a Streams task left open by a crash has its stores wiped and
    /// restored from the changelog (KAFKA-7192's fix). Default true; off is the
    /// `store-not-wiped-on-unclean-shutdown` variant.
    pub stores_wiped_after_unclean_shutdown: bool,
    /// A Streams task closed cleanly checkpoints the changelog offsets its stores reflect,
    /// and every close forgets what the task's record collector wrote (KAFKA-16017's fix).
    /// Default true; off is the `checkpoint-written-not-restored` variant: the collector's
    /// written offsets survive a dirty close (the task is revived, not recreated) and a clean
    /// close checkpoints max(written, restored), so a task closed mid-restore claims the
    /// whole changelog and its next opening skips what it never restored.
    pub checkpoint_restored_offsets: bool,
    /// A consumer drops the records of a fetched batch below its fetch offset (the broker
    /// answers with whole batches; Kafka's `CompletedFetch` skips what lies below the
    /// position). Default true; off is the `records-below-fetch-offset` variant.
    pub drops_records_below_fetch_offset: bool,
    /// A consumer that hands over only `max_records` of a fetch keeps its position after
    /// the last record handed over. Default true; off is the
    /// `position-past-undelivered-records` variant: the position moves past the whole answer.
    pub position_follows_delivered_records: bool,
}

impl Default for ClientSwitches {
    fn default() -> Self {
        Self {
            epoch_bump_after_unknown_send: true,
            checkpoint_deleted_when_running: true,
            require_stable_offsets: true,
            seek_to_committed_after_abort: true,
            failed_send_aborts_transaction: true,
            exhausted_send_is_abortable: true,
            read_committed: true,
            offsets_in_transaction: true,
            stores_wiped_after_unclean_shutdown: true,
            checkpoint_restored_offsets: true,
            drops_records_below_fetch_offset: true,
            position_follows_delivered_records: true,
        }
    }
}

impl ClientSwitches {
    /// The client side of the variants in force.
    pub fn from_variants(variants: &crate::Variants) -> Self {
        use crate::Variant;
        Self {
            epoch_bump_after_unknown_send: !variants.has(Variant::NoEpochBumpAfterSendTimeout),
            checkpoint_deleted_when_running: !variants.has(Variant::CheckpointKeptWhileRunning),
            require_stable_offsets: !variants.has(Variant::NoStableOffsetCheck),
            seek_to_committed_after_abort: !variants.has(Variant::NoSeekAfterAbort),
            failed_send_aborts_transaction: !variants.has(Variant::CommitIgnoresFailedSends),
            exhausted_send_is_abortable: !variants.has(Variant::TimedOutSendRetried),
            read_committed: !variants.has(Variant::ReadUncommitted),
            offsets_in_transaction: !variants.has(Variant::OffsetsOutsideTxn),
            stores_wiped_after_unclean_shutdown: !variants
                .has(Variant::StoreNotWipedOnUncleanShutdown),
            checkpoint_restored_offsets: !variants.has(Variant::CheckpointWrittenNotRestored),
            drops_records_below_fetch_offset: !variants.has(Variant::RecordsBelowFetchOffset),
            position_follows_delivered_records: !variants
                .has(Variant::PositionPastUndeliveredRecords),
        }
    }
}

/// Calls per client before process ids would collide.
pub const PROCESSES_PER_CLIENT: u64 = checker::history::PROCESSES_PER_CLIENT;
