//! The transaction coordinator's request handling (Kafka's `TransactionCoordinator`), over a
//! durable, append-only transaction log from which it is rebuilt on restart.
//!
//! Appending to the log is synchronous here (append + sync inside the call), so a pending
//! transition is never visible between calls; `pending_state` still guards every transition.
//! The asynchronous window Kafka has is the marker phase: EndTxn answers after
//! PrepareCommit/PrepareAbort is logged, the markers are returned to the caller, and
//! Complete* is logged when the caller reports them written.

use std::collections::BTreeMap;
use std::sync::Arc;

use sim::DurableLog;

use super::metadata::{MAX_PRODUCER_EPOCH, TxnMetadata, TxnState, TxnTransit, is_epoch_exhausted};
use crate::coverage::CoveragePoint;
use crate::protocol::{
    KafkaError, NO_PRODUCER_ID, TopicPartition, TransactionVersion, TxnMarker, TxnResult,
};

/// The group coordinator's offsets topic: AddOffsetsToTxn adds one of its partitions.
pub const CONSUMER_OFFSETS_TOPIC: &str = "__consumer_offsets";

/// The offsets partition of a group: `abs(javaHashCode(group)) % partitions`, as Kafka.
pub fn offsets_partition_for(group_id: &str, partitions: u32) -> TopicPartition {
    TopicPartition::new(
        CONSUMER_OFFSETS_TOPIC,
        offsets_partition_index(group_id, partitions),
    )
}

/// `offsets_partition_for`'s partition number alone (placing a coordinator needs no topic).
pub fn offsets_partition_index(group_id: &str, partitions: u32) -> u32 {
    let step = |h: i32, unit: i32| h.wrapping_mul(31).wrapping_add(unit);
    // Java hashes UTF-16 code units; an ASCII byte is its own code unit.
    let hash = if group_id.is_ascii() {
        group_id.bytes().fold(0i32, |h, b| step(h, b as i32))
    } else {
        group_id.encode_utf16().fold(0i32, |h, c| step(h, c as i32))
    };
    // Kafka's Utils.abs: masks the sign bit (so i32::MIN maps to 0).
    (hash & 0x7fff_ffff) as u32 % partitions
}

/// Coordinator settings. Defaults are Kafka 4.0's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnCoordinatorConfig {
    /// KIP-890 part 2 (transactions v2): every EndTxn bumps the producer epoch, so a delayed
    /// EndTxn cannot end the next transaction. Default on; off models TV0/1 (the
    /// `no-txn-epoch-bump` variant, KAFKA-17754).
    pub epoch_bump_per_txn: bool,
    /// A timed-out transaction's producer is fenced by an epoch bump before the abort
    /// (KAFKA-6119 fix). Default on.
    pub timeout_abort_bumps_epoch: bool,
    /// `transaction.max.timeout.ms`: the longest transaction timeout a producer may ask for.
    /// Default 15 minutes.
    pub max_txn_timeout_ms: u64,
    /// Partitions of `__consumer_offsets` (Kafka's default: 50).
    pub offsets_topic_partitions: u32,
    /// The highest producer epoch handed out; at `max_producer_epoch - 1` the producer id is
    /// rotated. Default Kafka's `Short.MAX_VALUE` (32,767); a scenario lowers it
    /// (`[cluster] max_producer_epoch`) so that rotation, otherwise 32,766 transactions
    /// away, happens within a run (KAFKA-18660's author tested the same way).
    pub max_producer_epoch: i16,
    /// Transactions v2: an abort that fences the producer (a timeout, or InitProducerId
    /// meeting an open transaction) at an exhausted epoch also rotates the producer id
    /// (KAFKA-20090, apache/kafka PR 21506). Default on; off is the
    /// `timeout-abort-skips-rotation` variant: the abort completes at the maximum epoch.
    pub fence_abort_rotates_exhausted_producer: bool,
}

impl Default for TxnCoordinatorConfig {
    fn default() -> Self {
        Self {
            epoch_bump_per_txn: true,
            timeout_abort_bumps_epoch: true,
            max_txn_timeout_ms: 15 * 60 * 1000,
            offsets_topic_partitions: 50,
            max_producer_epoch: MAX_PRODUCER_EPOCH,
            fence_abort_rotates_exhausted_producer: true,
        }
    }
}

/// One record of the durable transaction log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnLogRecord {
    pub transactional_id: Arc<str>,
    pub transit: TxnTransit,
}

/// Markers of one transaction, to be written to each of `partitions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkerRequest {
    pub transactional_id: Arc<str>,
    pub marker: TxnMarker,
    pub partitions: Vec<TopicPartition>,
}

/// Where new producer ids come from; ids must never repeat, across restarts too.
pub trait ProducerIdAllocator: Send {
    fn next_producer_id(&mut self) -> i64;
}

impl<F: FnMut() -> i64 + Send> ProducerIdAllocator for F {
    fn next_producer_id(&mut self) -> i64 {
        self()
    }
}

/// The answer to InitProducerId, and markers to send (fencing an open transaction aborts it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitProducerIdOutcome {
    pub result: Result<(i64, i16), KafkaError>,
    pub markers: Vec<MarkerRequest>,
}

/// The answer to EndTxn (the producer id and epoch to continue with), and markers to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndTxnOutcome {
    pub result: Result<(i64, i16), KafkaError>,
    pub markers: Vec<MarkerRequest>,
}

impl EndTxnOutcome {
    fn error(error: KafkaError) -> Self {
        Self {
            result: Err(error),
            markers: Vec::new(),
        }
    }
}

/// The transaction coordinator of one transaction-log partition.
pub struct TxnCoordinator {
    config: TxnCoordinatorConfig,
    /// Leader epoch of the transaction-log partition; carried by every marker.
    coordinator_epoch: i32,
    log: Arc<DurableLog<TxnLogRecord>>,
    txns: BTreeMap<Arc<str>, TxnMetadata>,
    producer_ids: Box<dyn ProducerIdAllocator>,
}

impl TxnCoordinator {
    /// Loads the coordinator from its log. `coordinator_epoch` must exceed every earlier
    /// load's (Kafka: the partition's leader epoch), so partitions fence a zombie coordinator.
    /// Returns the markers of transactions found in PrepareCommit/PrepareAbort: they are
    /// re-sent, and `on_markers_written` completes them.
    pub fn open(
        log: Arc<DurableLog<TxnLogRecord>>,
        coordinator_epoch: i32,
        config: TxnCoordinatorConfig,
        producer_ids: Box<dyn ProducerIdAllocator>,
    ) -> (Self, Vec<MarkerRequest>) {
        let mut txns = BTreeMap::new();
        log.read(|records| {
            for record in records {
                let metadata =
                    TxnMetadata::from_log(record.transactional_id.clone(), &record.transit)
                        .with_max_producer_epoch(config.max_producer_epoch);
                txns.insert(record.transactional_id.clone(), metadata);
            }
        });
        let coordinator = Self {
            config,
            coordinator_epoch,
            log,
            txns,
            producer_ids,
        };
        let markers = coordinator
            .txns
            .values()
            .filter(|m| m.state.is_prepare())
            .map(|m| coordinator.marker_request(m))
            .collect();
        (coordinator, markers)
    }

    pub fn coordinator_epoch(&self) -> i32 {
        self.coordinator_epoch
    }

    pub fn config(&self) -> &TxnCoordinatorConfig {
        &self.config
    }

    /// The state of a transactional.id (ground truth for checkers and tests).
    pub fn metadata(&self, transactional_id: &str) -> Option<&TxnMetadata> {
        self.txns.get(transactional_id)
    }

    /// Every transactional.id's state, in id order.
    pub fn transactions(&self) -> impl Iterator<Item = &TxnMetadata> {
        self.txns.values()
    }

    /// Prepares a transition, writes it to the log (synced) and applies it.
    fn write(
        &mut self,
        transactional_id: &Arc<str>,
        prepare: impl FnOnce(&mut TxnMetadata) -> TxnTransit,
    ) {
        let metadata = self
            .txns
            .get_mut(transactional_id)
            .expect("a transition of a known transactional.id");
        let transit = prepare(metadata);
        // Applied before it is logged, so the log takes the transition itself (no copy of its
        // partition set); nothing runs in between, and a transition that panics ends the run.
        metadata.complete_transition(&transit);
        self.log.append(TxnLogRecord {
            transactional_id: transactional_id.clone(),
            transit,
        });
        self.log.sync();
    }

    fn marker_request(&self, metadata: &TxnMetadata) -> MarkerRequest {
        let result = match metadata.state {
            TxnState::PrepareCommit => TxnResult::Commit,
            TxnState::PrepareAbort => TxnResult::Abort,
            other => panic!("markers are sent from Prepare*, not {other:?}"),
        };
        MarkerRequest {
            transactional_id: metadata.transactional_id.clone(),
            marker: TxnMarker {
                producer_id: metadata.producer_id,
                producer_epoch: metadata.producer_epoch,
                result,
                coordinator_epoch: self.coordinator_epoch,
                transaction_version: if self.config.epoch_bump_per_txn {
                    TransactionVersion::V2
                } else {
                    TransactionVersion::V1
                },
            },
            partitions: metadata.partitions.iter().cloned().collect(),
        }
    }

    fn valid_timeout(&self, txn_timeout_ms: u64) -> bool {
        txn_timeout_ms > 0 && txn_timeout_ms <= self.config.max_txn_timeout_ms
    }

    /// InitProducerId. Without a transactional.id: a fresh producer id at epoch 0 (C2).
    /// `expected` is KIP-360's (producer id, epoch) of a producer that already had one.
    pub fn init_producer_id(
        &mut self,
        transactional_id: Option<&str>,
        txn_timeout_ms: u64,
        expected: Option<(i64, i16)>,
        now_ms: u64,
    ) -> InitProducerIdOutcome {
        let fail = |error| InitProducerIdOutcome {
            result: Err(error),
            markers: Vec::new(),
        };
        let Some(transactional_id) = transactional_id else {
            let producer_id = self.producer_ids.next_producer_id();
            return InitProducerIdOutcome {
                result: Ok((producer_id, 0)),
                markers: Vec::new(),
            };
        };
        if transactional_id.is_empty() {
            return fail(KafkaError::InvalidRequest);
        }
        if !self.valid_timeout(txn_timeout_ms) {
            return fail(KafkaError::InvalidTransactionTimeout);
        }
        let id: Arc<str> = Arc::from(transactional_id);
        if !self.txns.contains_key(&id) {
            let producer_id = self.producer_ids.next_producer_id();
            let metadata = TxnMetadata::new(id.clone(), producer_id, txn_timeout_ms, now_ms)
                .with_max_producer_epoch(self.config.max_producer_epoch);
            self.txns.insert(id.clone(), metadata);
        }
        let metadata = &self.txns[&id];
        if metadata.has_pending_transition() {
            return fail(KafkaError::ConcurrentTransactions);
        }
        if let Some(expected) = expected
            && !is_valid_expected_producer_id(metadata, expected)
        {
            return fail(KafkaError::ProducerFenced);
        }
        match metadata.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                fail(KafkaError::ConcurrentTransactions)
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                self.bump_or_rotate(&id, txn_timeout_ms, expected, now_ms)
            }
            TxnState::Ongoing => {
                // Fence the producer and abort its transaction; the client retries and gets a
                // second bump, so the fenced epoch is never handed out.
                CoveragePoint::InitFencedOngoingTxn.hit();
                let Some(markers) = self.fence_and_abort(&id, now_ms) else {
                    return fail(KafkaError::UnknownServerError);
                };
                let markers = vec![markers];
                InitProducerIdOutcome {
                    result: Err(KafkaError::ConcurrentTransactions),
                    markers,
                }
            }
            TxnState::Dead | TxnState::PrepareEpochFence => {
                panic!(
                    "{id}: InitProducerId found the illegal resting state {:?}",
                    metadata.state
                )
            }
        }
    }

    fn bump_or_rotate(
        &mut self,
        id: &Arc<str>,
        txn_timeout_ms: u64,
        expected: Option<(i64, i16)>,
        now_ms: u64,
    ) -> InitProducerIdOutcome {
        let metadata = &self.txns[id];
        let initialised_before = metadata.producer_epoch >= 0;
        let rotate = metadata.is_producer_epoch_exhausted()
            && expected.is_none_or(|(_, epoch)| epoch == metadata.producer_epoch);
        if rotate {
            let new_producer_id = self.producer_ids.next_producer_id();
            self.write(id, |m| {
                m.prepare_producer_id_rotation(
                    new_producer_id,
                    txn_timeout_ms,
                    now_ms,
                    expected.is_some(),
                )
            });
        } else {
            let metadata = self.txns.get_mut(id).expect("known");
            let transit = match metadata.prepare_increment_producer_epoch(
                txn_timeout_ms,
                expected.map(|(_, epoch)| epoch),
                now_ms,
            ) {
                Ok(transit) => transit,
                Err(error) => {
                    return InitProducerIdOutcome {
                        result: Err(error),
                        markers: Vec::new(),
                    };
                }
            };
            self.write(id, |_| transit);
        }
        if initialised_before {
            CoveragePoint::CoordinatorEpochBump.hit();
        }
        let metadata = &self.txns[id];
        InitProducerIdOutcome {
            result: Ok((metadata.producer_id, metadata.producer_epoch)),
            markers: Vec::new(),
        }
    }

    /// Fences an Ongoing transaction's producer (epoch + 1) and logs PrepareAbort under the
    /// new epoch; returns its markers. Transactions v2 at an exhausted epoch also rotate the
    /// producer id on completion (KAFKA-20090's fix: the exhaustion is judged before the
    /// fence, as Kafka's `generateTxnTransitMetadataForTxnCompletion` does). None when the
    /// epoch is at its maximum and cannot be fenced, which only a producer that the
    /// `timeout-abort-skips-rotation` variant left there can reach (Kafka threw
    /// IllegalStateException: "Cannot fence producer with epoch equal to Short.MaxValue").
    fn fence_and_abort(&mut self, id: &Arc<str>, now_ms: u64) -> Option<MarkerRequest> {
        let metadata = &self.txns[id];
        if !metadata.can_bump_epoch() {
            self.assert_only_the_variant_overflows(metadata);
            return None;
        }
        let next_producer_id = if self.config.epoch_bump_per_txn
            && self.config.fence_abort_rotates_exhausted_producer
            && metadata.is_producer_epoch_exhausted()
        {
            CoveragePoint::FenceAbortRotatesProducerId.hit();
            self.producer_ids.next_producer_id()
        } else {
            NO_PRODUCER_ID
        };
        self.write(id, |m| {
            let fence = m.prepare_fence_producer_epoch();
            m.adopt_epoch_fence(&fence);
            m.prepare_abort_or_commit(TxnState::PrepareAbort, false, next_producer_id, now_ms)
        });
        Some(self.marker_request(&self.txns[id]))
    }

    /// A producer at the maximum epoch with a transaction to end: impossible unless the
    /// `timeout-abort-skips-rotation` variant let an abort complete there.
    fn assert_only_the_variant_overflows(&self, metadata: &TxnMetadata) {
        assert!(
            !self.config.fence_abort_rotates_exhausted_producer,
            "{}: producer {} holds the maximum epoch {} with a transaction open",
            metadata.transactional_id, metadata.producer_id, metadata.producer_epoch
        );
    }

    /// Looks up a transactional.id for AddPartitions/AddOffsets/EndTxn.
    fn known(&self, transactional_id: &str) -> Result<Arc<str>, KafkaError> {
        if transactional_id.is_empty() {
            return Err(KafkaError::InvalidRequest);
        }
        self.txns
            .get_key_value(transactional_id)
            .map(|(id, _)| id.clone())
            .ok_or(KafkaError::InvalidProducerIdMapping)
    }

    /// AddPartitionsToTxn. The epoch is checked before the state (C9), except for the
    /// producer id a completing transaction rotates to: KAFKA-18660's fix (apache/kafka PR
    /// 18730) answers a pending transition CONCURRENT_TRANSACTIONS before checking the
    /// producer, so a producer whose EndTxn handed it the new id, starting its next
    /// transaction while the markers are written and the coordinator still holds the old
    /// id, is not fenced by its own rotation. (Kafka's marker phase is a pending transition;
    /// here it is the Prepare* state, where C9's fixture still wants the epoch check first.)
    pub fn add_partitions(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicPartition],
        now_ms: u64,
    ) -> Result<(), KafkaError> {
        let id = self.known(transactional_id)?;
        let metadata = &self.txns[&id];
        let rotating_to_it = metadata.state.is_prepare()
            && metadata.next_producer_id != NO_PRODUCER_ID
            && producer_id == metadata.next_producer_id;
        if metadata.has_pending_transition() || rotating_to_it {
            return Err(KafkaError::ConcurrentTransactions);
        }
        if metadata.producer_id != producer_id {
            return Err(KafkaError::InvalidProducerIdMapping);
        }
        if metadata.producer_epoch != producer_epoch {
            return Err(KafkaError::ProducerFenced);
        }
        if metadata.state.is_prepare() {
            return Err(KafkaError::ConcurrentTransactions);
        }
        let already_added = partitions.iter().all(|tp| metadata.partitions.contains(tp));
        if metadata.state == TxnState::Ongoing && already_added {
            return Ok(());
        }
        self.write(&id, |m| m.prepare_add_partitions(partitions, now_ms));
        Ok(())
    }

    /// AddOffsetsToTxn: adds the group's offsets partition, so the markers reach the group
    /// coordinator.
    pub fn add_offsets(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
        now_ms: u64,
    ) -> Result<(), KafkaError> {
        let tp = offsets_partition_for(group_id, self.config.offsets_topic_partitions);
        self.add_partitions(transactional_id, producer_id, producer_epoch, &[tp], now_ms)
    }

    /// EndTxn(commit | abort).
    pub fn end_txn(
        &mut self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        result: TxnResult,
        now_ms: u64,
    ) -> EndTxnOutcome {
        let id = match self.known(transactional_id) {
            Ok(id) => id,
            Err(error) => return EndTxnOutcome::error(error),
        };
        let metadata = &self.txns[&id];
        if let Err(error) = self.check_end_txn_producer(metadata, producer_id, producer_epoch) {
            return EndTxnOutcome::error(error);
        }
        if metadata.has_pending_transition() {
            return EndTxnOutcome::error(KafkaError::ConcurrentTransactions);
        }
        let current = Ok((metadata.producer_id, metadata.producer_epoch));
        let same_result = |state| {
            matches!(
                (state, result),
                (
                    TxnState::PrepareCommit | TxnState::CompleteCommit,
                    TxnResult::Commit
                ) | (
                    TxnState::PrepareAbort | TxnState::CompleteAbort,
                    TxnResult::Abort
                )
            )
        };
        match metadata.state {
            TxnState::Ongoing => self.decide(&id, result, now_ms),
            // A retry after the markers: answered as the first EndTxn was (C15, C16).
            state if state.is_complete() && same_result(state) => EndTxnOutcome {
                result: current,
                markers: Vec::new(),
            },
            // A retry while the markers are being written (C17).
            state if state.is_prepare() && same_result(state) => {
                EndTxnOutcome::error(KafkaError::ConcurrentTransactions)
            }
            TxnState::Empty
            | TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::CompleteCommit
            | TxnState::CompleteAbort => EndTxnOutcome::error(KafkaError::InvalidTxnState),
            TxnState::Dead | TxnState::PrepareEpochFence => {
                panic!(
                    "{id}: EndTxn found the illegal resting state {:?}",
                    metadata.state
                )
            }
        }
    }

    /// Whether (producer id, epoch) may end this transactional.id's transaction. TV0/1: the
    /// exact current epoch (C14, C22). TV2 (Kafka's `endTransaction`): the current epoch
    /// while Ongoing; in Prepare*/Complete* a retry, i.e. the epoch just below the current
    /// one (`retryOnEpochBump`: a bump by the EndTxn itself or by a fence that aborted it),
    /// or across a producer-id rotation the previous id at the last epoch before exhaustion
    /// (`retryOnOverflow`) (C18, C19).
    fn check_end_txn_producer(
        &self,
        metadata: &TxnMetadata,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<(), KafkaError> {
        if !self.config.epoch_bump_per_txn {
            if metadata.producer_id != producer_id {
                return Err(KafkaError::InvalidProducerIdMapping);
            }
            if metadata.producer_epoch != producer_epoch {
                return Err(KafkaError::ProducerFenced);
            }
            return Ok(());
        }
        let decided = metadata.state.is_prepare() || metadata.state.is_complete();
        let retry_after_rotation = decided
            && metadata.previous_producer_id == producer_id
            && metadata.producer_id != producer_id
            && metadata.producer_epoch == 0
            && producer_epoch == metadata.max_producer_epoch - 1;
        if metadata.producer_id != producer_id && !retry_after_rotation {
            return Err(KafkaError::InvalidProducerIdMapping);
        }
        let retry_after_bump =
            metadata.producer_epoch >= 1 && producer_epoch == metadata.producer_epoch - 1;
        let valid_epoch = if decided {
            retry_after_rotation || retry_after_bump
        } else {
            producer_epoch == metadata.producer_epoch
        };
        if valid_epoch {
            Ok(())
        } else {
            Err(KafkaError::ProducerFenced)
        }
    }

    /// Ongoing → PrepareCommit/PrepareAbort (with the TV2 epoch bump, rotating the producer
    /// id at an exhausted epoch); answers with the id and epoch the producer continues with.
    fn decide(&mut self, id: &Arc<str>, result: TxnResult, now_ms: u64) -> EndTxnOutcome {
        let bump = self.config.epoch_bump_per_txn;
        let metadata = &self.txns[id];
        if bump && !metadata.can_bump_epoch() {
            // Kafka before apache/kafka PR 21469 overflowed the epoch here and the
            // transition failed: the transaction stays Ongoing (KAFKA-20090).
            self.assert_only_the_variant_overflows(metadata);
            return EndTxnOutcome::error(KafkaError::UnknownServerError);
        }
        let next_producer_id = if bump && metadata.is_producer_epoch_exhausted() {
            CoveragePoint::ProducerIdRotated.hit();
            self.producer_ids.next_producer_id()
        } else {
            NO_PRODUCER_ID
        };
        let state = match result {
            TxnResult::Commit => TxnState::PrepareCommit,
            TxnResult::Abort => TxnState::PrepareAbort,
        };
        self.write(id, |m| {
            m.prepare_abort_or_commit(state, bump, next_producer_id, now_ms)
        });
        let metadata = &self.txns[id];
        let continue_with = if next_producer_id != NO_PRODUCER_ID {
            (next_producer_id, 0)
        } else {
            (metadata.producer_id, metadata.producer_epoch)
        };
        EndTxnOutcome {
            result: Ok(continue_with),
            markers: vec![self.marker_request(metadata)],
        }
    }

    /// Every partition of `request` has its marker: log Complete*. A stale report (the
    /// transaction already completed, or was re-decided after a restart) is ignored; returns
    /// whether it completed the transaction.
    pub fn on_markers_written(&mut self, request: &MarkerRequest, now_ms: u64) -> bool {
        let Some(metadata) = self.txns.get(&request.transactional_id) else {
            return false;
        };
        let current = metadata.state.is_prepare()
            && !metadata.has_pending_transition()
            && metadata.producer_id == request.marker.producer_id
            && metadata.producer_epoch == request.marker.producer_epoch;
        if !current {
            return false;
        }
        let id = request.transactional_id.clone();
        self.write(&id, |m| m.prepare_complete(now_ms));
        true
    }

    /// Transactional.ids whose Ongoing transaction is older than its timeout.
    pub fn timed_out_transactions(&self, now_ms: u64) -> Vec<Arc<str>> {
        self.txns
            .values()
            .filter(|m| {
                m.state == TxnState::Ongoing
                    && !m.has_pending_transition()
                    && m.txn_start_ms
                        .is_some_and(|start| start + m.txn_timeout_ms < now_ms)
            })
            .map(|m| m.transactional_id.clone())
            .collect()
    }

    /// The periodic sweep (Kafka: every 10 s): aborts every timed-out transaction, fencing
    /// its producer first (unless `timeout_abort_bumps_epoch` is off, where only TV2's
    /// per-transaction bump moves the epoch). Returns the markers to send.
    pub fn abort_timed_out_transactions(&mut self, now_ms: u64) -> Vec<MarkerRequest> {
        self.timed_out_transactions(now_ms)
            .into_iter()
            .filter_map(|id| {
                CoveragePoint::TxnTimedOut.hit();
                if self.config.timeout_abort_bumps_epoch {
                    // None: stuck at the maximum epoch (the variant); Kafka's sweep failed
                    // on it every time.
                    self.fence_and_abort(&id, now_ms)
                } else {
                    let bump = self.config.epoch_bump_per_txn
                        && !self.txns[&id].is_producer_epoch_exhausted();
                    self.write(&id, |m| {
                        m.prepare_abort_or_commit(
                            TxnState::PrepareAbort,
                            bump,
                            NO_PRODUCER_ID,
                            now_ms,
                        )
                    });
                    Some(self.marker_request(&self.txns[&id]))
                }
            })
            .collect()
    }
}

/// KIP-360: whom InitProducerId with an expected (producer id, epoch) may re-initialise: a
/// just-created id (no epoch yet), the current producer id (its epoch is checked by the bump),
/// or the previous id at an exhausted epoch (a retry across a rotation).
fn is_valid_expected_producer_id(metadata: &TxnMetadata, (producer_id, epoch): (i64, i16)) -> bool {
    metadata.producer_epoch == crate::protocol::NO_PRODUCER_EPOCH
        || producer_id == metadata.producer_id
        || (producer_id == metadata.previous_producer_id
            && is_epoch_exhausted(epoch, metadata.max_producer_epoch))
}

#[cfg(test)]
mod tests;
