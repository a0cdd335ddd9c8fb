//! Wire messages between clients and brokers.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: Arc<str>,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: &str, partition: u32) -> Self {
        Self {
            topic: Arc::from(topic),
            partition,
        }
    }
}

impl TopicPartition {
    /// A compact, stable code for trace notes: a 16-bit hash of the topic in the high bits
    /// and the partition in the low 32, so a note names its topic as well as its partition.
    pub fn trace_code(&self) -> u64 {
        partition_trace_code(&self.topic, self.partition)
    }
}

/// `TopicPartition::trace_code` from a topic name and partition.
pub fn partition_trace_code(topic: &str, partition: u32) -> u64 {
    let mut topic_hash: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a: stable, no dependency
    for byte in topic.bytes() {
        topic_hash = (topic_hash ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    ((topic_hash & 0xffff) << 32) | partition as u64
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// No producer id: a plain (non-idempotent) producer.
pub const NO_PRODUCER_ID: i64 = -1;
/// No producer epoch.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// No sequence number.
pub const NO_SEQUENCE: i32 = -1;

/// A batch of records as a producer sends it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordBatch {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// Sequence of the first record (`NO_SEQUENCE` without idempotence).
    pub base_sequence: i32,
    /// Record values (eosim's records are unique 64-bit ids).
    pub values: Arc<[u64]>,
    /// Part of a transaction: invisible to read_committed readers until its COMMIT marker.
    pub transactional: bool,
}

impl RecordBatch {
    /// Sequence of the last record, wrapping from `i32::MAX` to 0 as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        last_sequence(self.base_sequence, self.values.len())
    }

    pub fn is_idempotent(&self) -> bool {
        self.producer_id != NO_PRODUCER_ID
    }
}

/// Sequence of the last of `records` records starting at `base_sequence`, wrapping from
/// `i32::MAX` to 0 as Kafka does (`NO_SEQUENCE` stays).
pub fn last_sequence(base_sequence: i32, records: usize) -> i32 {
    if base_sequence == NO_SEQUENCE {
        return NO_SEQUENCE;
    }
    let span = records as i64 - 1;
    ((base_sequence as i64 + span) % (i32::MAX as i64 + 1)) as i32
}

/// Errors a broker answers with (Kafka's error codes, the subset this model uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
pub enum KafkaError {
    #[error("OUT_OF_ORDER_SEQUENCE_NUMBER")]
    OutOfOrderSequence,
    #[error("INVALID_PRODUCER_EPOCH")]
    InvalidProducerEpoch,
    #[error("UNKNOWN_TOPIC_OR_PARTITION")]
    UnknownTopicOrPartition,
    #[error("NOT_LEADER_OR_FOLLOWER")]
    NotLeaderOrFollower,
    /// A request that does not fit the transaction's state (e.g. a non-transactional write
    /// while the producer has a transaction open, or EndTxn with no transaction).
    #[error("INVALID_TXN_STATE")]
    InvalidTxnState,
    /// The coordinator knows a newer epoch for this transactional.id: the caller is a zombie.
    #[error("PRODUCER_FENCED")]
    ProducerFenced,
    /// Another transition of this transactional.id is in progress; back off and retry.
    #[error("CONCURRENT_TRANSACTIONS")]
    ConcurrentTransactions,
    /// A marker from a coordinator older than one this partition has seen.
    #[error("TRANSACTION_COORDINATOR_FENCED")]
    TransactionCoordinatorFenced,
    /// The producer id is not the one mapped to this transactional.id.
    #[error("INVALID_PRODUCER_ID_MAPPING")]
    InvalidProducerIdMapping,
    /// Malformed request (e.g. an empty transactional.id).
    #[error("INVALID_REQUEST")]
    InvalidRequest,
    /// A transaction timeout outside (0, transaction.max.timeout.ms].
    #[error("INVALID_TRANSACTION_TIMEOUT")]
    InvalidTransactionTimeout,
    /// OffsetFetch(require_stable) while a transactional offset commit is pending.
    #[error("UNSTABLE_OFFSET_COMMIT")]
    UnstableOffsetCommit,
    /// TxnOffsetCommit from a generation the group has left behind.
    #[error("ILLEGAL_GENERATION")]
    IllegalGeneration,
    /// TxnOffsetCommit from a member the group does not know.
    #[error("UNKNOWN_MEMBER_ID")]
    UnknownMemberId,
    /// The group is rebalancing: rejoin (heartbeat), or join again shortly (JoinGroup while
    /// other members have not rejoined yet).
    #[error("REBALANCE_IN_PROGRESS")]
    RebalanceInProgress,
    /// The request went to a broker that is not the coordinator of its transactional.id or
    /// group (coordinators are placed statically here, so only a misrouted client sees it).
    #[error("NOT_COORDINATOR")]
    NotCoordinator,
    /// The server failed on an unexpected condition (Kafka: an IllegalStateException caught
    /// at the request's edge), e.g. a transaction whose producer epoch cannot be bumped.
    #[error("UNKNOWN_SERVER_ERROR")]
    UnknownServerError,
}

impl KafkaError {
    /// Whether a client may retry the same request.
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            KafkaError::NotLeaderOrFollower
                | KafkaError::OutOfOrderSequence
                | KafkaError::ConcurrentTransactions
                | KafkaError::UnstableOffsetCommit
                | KafkaError::NotCoordinator
        )
    }
}

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TxnResult {
    Commit,
    Abort,
}

/// A transaction marker as the coordinator asks a partition leader to write it
/// (one partition's share of Kafka's WriteTxnMarkers request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxnMarker {
    pub producer_id: i64,
    /// The epoch the coordinator ended the transaction with (bumped under TV2).
    pub producer_epoch: i16,
    pub result: TxnResult,
    /// The coordinator's leader epoch: a partition rejects a marker from an older coordinator.
    pub coordinator_epoch: i32,
    /// How the partition checks the marker's producer epoch (WriteTxnMarkers carries the
    /// transaction version since KIP-890).
    pub transaction_version: TransactionVersion,
}

/// The transaction protocol version a marker was written under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransactionVersion {
    /// TV0/TV1: markers carry the transaction's own epoch; a partition accepts a marker whose
    /// epoch is at least the producer's current one, so it cannot tell a stale marker of the
    /// previous transaction from the current one's (KAFKA-17754's window).
    V1,
    /// TV2 (KIP-890 part 2): the coordinator bumps the epoch at every EndTxn and writes the
    /// markers with the bumped epoch, so a valid marker's epoch is strictly greater than the
    /// producer's current epoch on the partition; an equal one is a late or duplicate marker
    /// and is refused (Kafka's `ProducerAppendInfo.checkProducerEpoch(epoch, offset,
    /// transactionVersion)`: `transactionVersion >= 2 ? epoch <= current : epoch < current`).
    V2,
}

impl TransactionVersion {
    /// Whether a marker at `marker_epoch` is stale for a producer whose current epoch on the
    /// partition is `current_epoch`.
    pub fn marker_is_stale(self, marker_epoch: i16, current_epoch: i16) -> bool {
        match self {
            TransactionVersion::V1 => marker_epoch < current_epoch,
            TransactionVersion::V2 => marker_epoch <= current_epoch,
        }
    }
}

/// A successful produce: where the batch is (or, for a duplicate, already was).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProduceOk {
    pub base_offset: u64,
    /// The batch was a retry of one already in the log: nothing was appended.
    pub duplicate: bool,
}

/// Records a fetch returned, and the partition's end.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FetchOk {
    /// (offset, value) in offset order.
    pub records: Vec<(u64, u64)>,
    pub high_watermark: u64,
    /// Below this every transaction is decided (equals the high watermark without transactions).
    pub last_stable_offset: u64,
}

/// Which records a fetch may return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IsolationLevel {
    /// Everything below the high watermark, open and aborted transactions included.
    #[default]
    ReadUncommitted,
    /// Only records below the last stable offset, without aborted transactions' records.
    ReadCommitted,
}

/// A consumer group's identity as a transactional producer passes it to
/// TxnOffsetCommit (Kafka's `ConsumerGroupMetadata`). Without group membership (static
/// assignment) the generation is −1 and the member id empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupMetadata {
    pub group_id: Arc<str>,
    pub generation: i32,
    pub member_id: Arc<str>,
}

impl GroupMetadata {
    /// Metadata of a group whose partitions are assigned statically (no generation).
    pub fn static_assignment(group_id: &str) -> Self {
        Self {
            group_id: Arc::from(group_id),
            generation: -1,
            member_id: Arc::from(""),
        }
    }
}

/// Identifies a transactional producer's current session on transactional requests.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TxnProducer {
    pub transactional_id: Arc<str>,
    pub producer_id: i64,
    pub producer_epoch: i16,
}

#[derive(Clone, Debug, Hash)]
pub enum Request {
    Produce {
        tp: TopicPartition,
        batch: RecordBatch,
    },
    Fetch {
        tp: TopicPartition,
        offset: u64,
        max_records: u32,
        isolation: IsolationLevel,
    },
    /// InitProducerId. Without a transactional.id (any broker): a fresh producer id with
    /// epoch 0. With one (its transaction coordinator): the id's producer id and a bumped
    /// epoch, fencing earlier instances and aborting their open transaction.
    InitProducerId {
        transactional_id: Option<Arc<str>>,
        txn_timeout_ms: u64,
    },
    AddPartitionsToTxn {
        producer: TxnProducer,
        partitions: Vec<TopicPartition>,
    },
    AddOffsetsToTxn {
        producer: TxnProducer,
        group_id: Arc<str>,
    },
    EndTxn {
        producer: TxnProducer,
        result: TxnResult,
    },
    /// Coordinator → partition leader (or group coordinator, for `__consumer_offsets`
    /// partitions): write `marker` to each of `partitions`.
    WriteTxnMarkers {
        marker: TxnMarker,
        partitions: Vec<TopicPartition>,
    },
    /// To the group coordinator: offsets pending until the transaction's marker.
    TxnOffsetCommit {
        producer: TxnProducer,
        group: GroupMetadata,
        offsets: Vec<(TopicPartition, u64)>,
    },
    /// To the group coordinator: offsets committed at once (no transaction).
    OffsetCommit {
        group_id: Arc<str>,
        offsets: Vec<(TopicPartition, u64)>,
    },
    /// To the group coordinator. `require_stable`: answer UNSTABLE_OFFSET_COMMIT while a
    /// transactional commit for one of the partitions is pending (KIP-447).
    OffsetFetch {
        group_id: Arc<str>,
        partitions: Vec<TopicPartition>,
        require_stable: bool,
    },
    /// To the group coordinator: join (no member id) or rejoin (a known one); answered with
    /// the generation and the member's assignment (see `group::membership`).
    JoinGroup {
        group_id: Arc<str>,
        member_id: Option<Arc<str>>,
        /// Names new members: `<client>-g<generation>`.
        client: Arc<str>,
        meta: crate::group::MemberMeta,
    },
    /// To the group coordinator: keeps the member's session alive; ILLEGAL_GENERATION or
    /// UNKNOWN_MEMBER_ID tell it to rejoin.
    Heartbeat {
        group_id: Arc<str>,
        member_id: Arc<str>,
        generation: i32,
    },
    /// To the group coordinator: leave now (a clean shutdown).
    LeaveGroup {
        group_id: Arc<str>,
        member_id: Arc<str>,
    },
}

#[derive(Clone, Debug, Hash)]
pub enum Response {
    Produce(Result<ProduceOk, KafkaError>),
    Fetch(Result<FetchOk, KafkaError>),
    InitProducerId(Result<(i64, i16), KafkaError>),
    AddPartitionsToTxn(Result<(), KafkaError>),
    AddOffsetsToTxn(Result<(), KafkaError>),
    /// The producer id and epoch to continue with (bumped per transaction under TV2).
    EndTxn(Result<(i64, i16), KafkaError>),
    /// Per partition: written, or why not.
    WriteTxnMarkers(Vec<(TopicPartition, Result<(), KafkaError>)>),
    TxnOffsetCommit(Result<(), KafkaError>),
    OffsetCommit(Result<(), KafkaError>),
    /// Committed offset per requested partition (`None`: nothing committed).
    OffsetFetch(Result<Vec<(TopicPartition, Option<u64>)>, KafkaError>),
    JoinGroup(Result<crate::group::Joined, KafkaError>),
    Heartbeat(Result<(), KafkaError>),
    LeaveGroup(Result<(), KafkaError>),
}

/// Every message kind, as `sim::Message::label` names requests and their responses (the
/// vocabulary of fault filters and swarm draws; keep it in step with the two `label`s).
pub const MESSAGE_KINDS: &[&str] = &[
    "produce",
    "fetch",
    "init-producer-id",
    "add-partitions-to-txn",
    "add-offsets-to-txn",
    "end-txn",
    "write-txn-markers",
    "txn-offset-commit",
    "offset-commit",
    "offset-fetch",
    "join-group",
    "heartbeat",
    "leave-group",
];

use sim::net::MessageContent;

impl sim::Message for Request {
    fn label(&self) -> &'static str {
        match self {
            Request::Produce { .. } => "produce",
            Request::Fetch { .. } => "fetch",
            Request::InitProducerId { .. } => "init-producer-id",
            Request::AddPartitionsToTxn { .. } => "add-partitions-to-txn",
            Request::AddOffsetsToTxn { .. } => "add-offsets-to-txn",
            Request::EndTxn { .. } => "end-txn",
            Request::WriteTxnMarkers { .. } => "write-txn-markers",
            Request::TxnOffsetCommit { .. } => "txn-offset-commit",
            Request::OffsetCommit { .. } => "offset-commit",
            Request::OffsetFetch { .. } => "offset-fetch",
            Request::JoinGroup { .. } => "join-group",
            Request::Heartbeat { .. } => "heartbeat",
            Request::LeaveGroup { .. } => "leave-group",
        }
    }

    fn records(&self) -> u64 {
        match self {
            Request::Produce { batch, .. } => batch.values.len() as u64,
            _ => 0,
        }
    }

    /// For content filters: an EndTxn's result, a transactional request's id and epoch, a
    /// produce's or fetch's partition (and a produce's epoch).
    fn content(&self) -> MessageContent<'_> {
        fn of_producer(p: &TxnProducer) -> MessageContent<'_> {
            MessageContent {
                transactional_id: Some(&*p.transactional_id),
                epoch: Some(p.producer_epoch.into()),
                ..MessageContent::default()
            }
        }
        match self {
            Request::Produce { tp, batch } => MessageContent {
                partition: Some((&*tp.topic, tp.partition)),
                epoch: Some(batch.producer_epoch.into()),
                ..MessageContent::default()
            },
            Request::Fetch { tp, .. } => MessageContent {
                partition: Some((&*tp.topic, tp.partition)),
                ..MessageContent::default()
            },
            Request::EndTxn { producer, result } => MessageContent {
                result: Some(match result {
                    TxnResult::Commit => "commit",
                    TxnResult::Abort => "abort",
                }),
                ..of_producer(producer)
            },
            Request::AddPartitionsToTxn { producer, .. }
            | Request::AddOffsetsToTxn { producer, .. }
            | Request::TxnOffsetCommit { producer, .. } => of_producer(producer),
            Request::InitProducerId {
                transactional_id: Some(id),
                ..
            } => MessageContent {
                transactional_id: Some(id),
                ..MessageContent::default()
            },
            _ => MessageContent::default(),
        }
    }
}

impl Request {
    /// Whether the broker makes something durable to answer it (the cost model's sync).
    pub fn writes_durably(&self) -> bool {
        matches!(
            self,
            Request::Produce { .. }
                | Request::InitProducerId {
                    transactional_id: Some(_),
                    ..
                }
                | Request::AddPartitionsToTxn { .. }
                | Request::AddOffsetsToTxn { .. }
                | Request::EndTxn { .. }
                | Request::WriteTxnMarkers { .. }
                | Request::TxnOffsetCommit { .. }
                | Request::OffsetCommit { .. }
        )
    }
}

impl sim::Message for Response {
    fn label(&self) -> &'static str {
        match self {
            Response::Produce(_) => "produce",
            Response::Fetch(_) => "fetch",
            Response::InitProducerId(_) => "init-producer-id",
            Response::AddPartitionsToTxn(_) => "add-partitions-to-txn",
            Response::AddOffsetsToTxn(_) => "add-offsets-to-txn",
            Response::EndTxn(_) => "end-txn",
            Response::WriteTxnMarkers(_) => "write-txn-markers",
            Response::TxnOffsetCommit(_) => "txn-offset-commit",
            Response::OffsetCommit(_) => "offset-commit",
            Response::OffsetFetch(_) => "offset-fetch",
            Response::JoinGroup(_) => "join-group",
            Response::Heartbeat(_) => "heartbeat",
            Response::LeaveGroup(_) => "leave-group",
        }
    }

    fn records(&self) -> u64 {
        match self {
            Response::Fetch(Ok(fetched)) => fetched.records.len() as u64,
            _ => 0,
        }
    }
}

/// The network of a Kafka-like cluster.
pub type KafkaNet = sim::Net<Request, Response>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_sequence_wraps_like_kafka() {
        let batch = |base, n: u64| RecordBatch {
            producer_id: 1,
            producer_epoch: 0,
            base_sequence: base,
            values: (0..n).collect::<Vec<_>>().into(),
            transactional: false,
        };
        assert_eq!(batch(0, 3).last_sequence(), 2);
        assert_eq!(batch(i32::MAX, 1).last_sequence(), i32::MAX);
        assert_eq!(
            batch(i32::MAX - 10, 21).last_sequence(),
            9,
            "[P11] offsets 2000-2020"
        );
    }
}
