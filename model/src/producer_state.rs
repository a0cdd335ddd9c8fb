//! Per-partition state of one producer id: the broker side of idempotence.
//!
//! Faithful to Kafka's `ProducerStateEntry` and `ProducerAppendInfo` (kafka-eos-protocol.md
//! §1.1): the epoch, and the metadata of the last `NUM_BATCHES_TO_RETAIN` batches. A retry is
//! recognised as a duplicate iff its epoch is the current one and its exact (first, last)
//! sequence range is retained; a new batch must carry the next sequence (wrapping at
//! `i32::MAX`); a bumped epoch must start at sequence 0; an older epoch is fenced.
//!
//! Transactions (§1.4): an entry also holds the first offset of the producer's open
//! transaction and the newest coordinator epoch it has seen in a marker.
//! [`ProducerStateManager`] holds every producer of a partition plus the open and the
//! not-yet-replicated transactions, from which the first unstable offset follows (Kafka's
//! `ProducerStateManager`).

use std::collections::{BTreeMap, VecDeque};

use crate::protocol::{KafkaError, NO_PRODUCER_EPOCH, NO_SEQUENCE, TxnMarker, TxnResult};

/// No coordinator epoch seen yet.
pub const NO_COORDINATOR_EPOCH: i32 = -1;

/// Batches Kafka retains per producer for duplicate detection.
pub const NUM_BATCHES_TO_RETAIN: usize = 5;

/// Who is appending: a producer (validated) or log recovery/replication (trusted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendOrigin {
    Client,
    /// Rebuilding state from the log on restart, or a follower's copy: not validated.
    Replication,
}

/// What is kept of one appended batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: u64,
    pub last_offset: u64,
}

/// The outcome of validating a batch against the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Append it.
    Append,
    /// A retry of a retained batch: answer with its original offsets, append nothing.
    Duplicate(BatchMetadata),
}

/// State of one producer id on one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerStateEntry {
    pub epoch: i16,
    /// Oldest first; at most `retain` entries.
    pub batches: VecDeque<BatchMetadata>,
    /// How many batches to retain (Kafka: 5; a variant may shrink it).
    retain: usize,
    /// Newest coordinator epoch seen in a marker: older coordinators are fenced.
    pub coordinator_epoch: i32,
    /// Offset of the first batch of the producer's open transaction, if one is open.
    pub current_txn_first_offset: Option<u64>,
}

impl ProducerStateEntry {
    /// A producer the partition has never seen (or whose state expired): any sequence goes.
    pub fn new(retain: usize) -> Self {
        assert!(retain >= 1, "the dedup window holds at least one batch");
        Self {
            epoch: NO_PRODUCER_EPOCH,
            batches: VecDeque::new(),
            retain,
            coordinator_epoch: NO_COORDINATOR_EPOCH,
            current_txn_first_offset: None,
        }
    }

    /// Sequence of the newest retained batch, or `NO_SEQUENCE`.
    pub fn last_seq(&self) -> i32 {
        self.batches.back().map_or(NO_SEQUENCE, |b| b.last_seq)
    }

    /// Sequence of the oldest retained batch, or `NO_SEQUENCE`.
    pub fn first_seq(&self) -> i32 {
        self.batches.front().map_or(NO_SEQUENCE, |b| b.first_seq)
    }

    /// Checks a batch (epoch, first..=last sequence) before it is appended.
    pub fn validate(
        &self,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
        origin: AppendOrigin,
    ) -> Result<Validation, KafkaError> {
        if origin == AppendOrigin::Replication {
            return Ok(Validation::Append);
        }
        if epoch < self.epoch {
            return Err(KafkaError::InvalidProducerEpoch);
        }
        if epoch == self.epoch
            && let Some(original) = self.find_duplicate(first_seq, last_seq)
        {
            return Ok(Validation::Duplicate(original));
        }
        self.check_sequence(epoch, first_seq)?;
        Ok(Validation::Append)
    }

    fn find_duplicate(&self, first_seq: i32, last_seq: i32) -> Option<BatchMetadata> {
        self.batches
            .iter()
            .copied()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
    }

    fn check_sequence(&self, epoch: i16, first_seq: i32) -> Result<(), KafkaError> {
        if self.epoch == NO_PRODUCER_EPOCH {
            // No state (new producer, or state expired): accept any sequence.
            return Ok(());
        }
        if epoch != self.epoch {
            // An epoch bump must restart the sequence.
            return if first_seq == 0 {
                Ok(())
            } else {
                Err(KafkaError::OutOfOrderSequence)
            };
        }
        if in_sequence(self.last_seq(), first_seq) {
            Ok(())
        } else {
            Err(KafkaError::OutOfOrderSequence)
        }
    }

    /// Checks, after `validate` said `Append`, that a batch fits the producer's transaction
    /// state: no non-transactional write while a transaction is open (P15).
    pub fn check_transactional(&self, transactional: bool) -> Result<(), KafkaError> {
        if !transactional && self.current_txn_first_offset.is_some() {
            return Err(KafkaError::InvalidTxnState);
        }
        Ok(())
    }

    /// Records an appended batch. An epoch change clears the retained batches.
    pub fn update(&mut self, epoch: i16, batch: BatchMetadata) {
        self.maybe_update_epoch(epoch);
        self.batches.push_back(batch);
        while self.batches.len() > self.retain {
            self.batches.pop_front();
        }
    }

    fn maybe_update_epoch(&mut self, epoch: i16) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
    }

    /// Opens a transaction at `first_offset` unless one is open; true if one was opened.
    pub fn begin_txn_if_needed(&mut self, first_offset: u64) -> bool {
        if self.current_txn_first_offset.is_some() {
            return false;
        }
        self.current_txn_first_offset = Some(first_offset);
        true
    }

    /// Checks a COMMIT/ABORT marker: an older producer epoch (P24, U17) or an older
    /// coordinator epoch (P23, U16) is rejected. TV0/1 accept an equal producer epoch (their
    /// markers carry the transaction's own epoch); TV2 refuses it: the marker of the previous
    /// transaction, arriving late, carries the epoch the next transaction writes with, and
    /// would otherwise end that one (eos-test seed 633, before the network kept TCP's
    /// promises).
    pub fn validate_marker(
        &self,
        marker: &TxnMarker,
        origin: AppendOrigin,
    ) -> Result<(), KafkaError> {
        if origin == AppendOrigin::Replication {
            return Ok(());
        }
        if marker
            .transaction_version
            .marker_is_stale(marker.producer_epoch, self.epoch)
        {
            return Err(KafkaError::InvalidProducerEpoch);
        }
        if marker.coordinator_epoch < self.coordinator_epoch {
            return Err(KafkaError::TransactionCoordinatorFenced);
        }
        Ok(())
    }

    /// Applies a marker: adopts its epoch (a higher one clears the retained batches, P13),
    /// its coordinator epoch, and closes the open transaction, returning its first offset.
    pub fn apply_marker(&mut self, marker: &TxnMarker) -> Option<u64> {
        self.maybe_update_epoch(marker.producer_epoch);
        self.coordinator_epoch = marker.coordinator_epoch;
        self.current_txn_first_offset.take()
    }
}

/// A transaction whose marker is in the log: data from `first_offset`, marker at `last_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: u64,
    /// Offset of the COMMIT/ABORT marker.
    pub last_offset: u64,
    pub aborted: bool,
}

/// A data batch as the state manager sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: u64,
    pub last_offset: u64,
    pub transactional: bool,
}

impl DataBatch {
    fn metadata(&self) -> BatchMetadata {
        BatchMetadata {
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            first_offset: self.first_offset,
            last_offset: self.last_offset,
        }
    }
}

/// Every producer's state on one partition, and the partition's transactions.
///
/// Validation (`validate_*`) never mutates; `apply_*` records what was appended, so a
/// rejected batch leaves no trace (P17).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: BTreeMap<i64, ProducerStateEntry>,
    /// Undecided transactions: first offset → producer id.
    ongoing_txns: BTreeMap<u64, i64>,
    /// Decided transactions whose marker is not yet below the high watermark, by first offset:
    /// a reader must not pass them until the marker is replicated.
    unreplicated_txns: BTreeMap<u64, CompletedTxn>,
    dedup_window: usize,
}

impl ProducerStateManager {
    pub fn new(dedup_window: usize) -> Self {
        Self {
            producers: BTreeMap::new(),
            ongoing_txns: BTreeMap::new(),
            unreplicated_txns: BTreeMap::new(),
            dedup_window,
        }
    }

    pub fn entry(&self, producer_id: i64) -> Option<&ProducerStateEntry> {
        self.producers.get(&producer_id)
    }

    /// Drops the state of every producer without an open transaction, as a leader that
    /// loaded its log without producer snapshots would know nothing of them (the
    /// `producer-state-not-restored` variant, KAFKA-5793's lost state). Producers with an
    /// open transaction keep theirs: their markers must still find it. Returns how many
    /// were dropped.
    pub fn forget_idle_producers(&mut self) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, entry| entry.current_txn_first_offset.is_some());
        before - self.producers.len()
    }

    /// Validates a data batch (sequence, epoch, then transaction state, in Kafka's order; an
    /// exact duplicate is answered before the transaction state is looked at).
    pub fn validate_data(
        &self,
        batch: &DataBatch,
        origin: AppendOrigin,
    ) -> Result<Validation, KafkaError> {
        let fresh;
        let entry = match self.producers.get(&batch.producer_id) {
            Some(entry) => entry,
            None => {
                fresh = ProducerStateEntry::new(self.dedup_window);
                &fresh
            }
        };
        let validation = entry.validate(batch.epoch, batch.first_seq, batch.last_seq, origin)?;
        if validation == Validation::Append && origin == AppendOrigin::Client {
            entry.check_transactional(batch.transactional)?;
        }
        Ok(validation)
    }

    /// Records a data batch now in the log; a transactional batch opens the producer's
    /// transaction if none is open.
    pub fn apply_data(&mut self, batch: &DataBatch) {
        if batch.producer_id < 0 {
            return;
        }
        let window = self.dedup_window;
        let entry = self
            .producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerStateEntry::new(window));
        // A batch without a sequence is one the `no-zombie-fencing` variant let in from a
        // fenced epoch: it joins the producer's transaction but not its sequence history.
        if batch.first_seq != NO_SEQUENCE {
            entry.update(batch.epoch, batch.metadata());
        }
        if batch.transactional && entry.begin_txn_if_needed(batch.first_offset) {
            self.ongoing_txns
                .insert(batch.first_offset, batch.producer_id);
        }
    }

    /// Validates a marker for `marker.producer_id` (a producer with no state accepts any, P5).
    pub fn validate_marker(
        &self,
        marker: &TxnMarker,
        origin: AppendOrigin,
    ) -> Result<(), KafkaError> {
        match self.producers.get(&marker.producer_id) {
            Some(entry) => entry.validate_marker(marker, origin),
            None => Ok(()),
        }
    }

    /// Records a marker now in the log at `offset`; returns the transaction it completed, if
    /// the producer had one open (a marker on an empty transaction completes nothing, P22).
    /// The caller indexes an aborted one (see `last_stable_offset_for`) and then calls
    /// `complete_txn`.
    pub fn apply_marker(&mut self, marker: &TxnMarker, offset: u64) -> Option<CompletedTxn> {
        let window = self.dedup_window;
        let entry = self
            .producers
            .entry(marker.producer_id)
            .or_insert_with(|| ProducerStateEntry::new(window));
        let first_offset = entry.apply_marker(marker)?;
        Some(CompletedTxn {
            producer_id: marker.producer_id,
            first_offset,
            last_offset: offset,
            aborted: marker.result == TxnResult::Abort,
        })
    }

    /// The last stable offset recorded with an aborted transaction in the index: the first
    /// offset of another producer's open transaction, else just past the marker (Kafka's
    /// `lastStableOffset(completedTxn)`).
    pub fn last_stable_offset_for(&self, completed: &CompletedTxn) -> u64 {
        self.ongoing_txns
            .iter()
            .find(|&(_, &pid)| pid != completed.producer_id)
            .map_or(completed.last_offset + 1, |(&first, _)| first)
    }

    /// Moves a completed transaction from undecided to decided-but-unreplicated.
    pub fn complete_txn(&mut self, completed: CompletedTxn) {
        let removed = self.ongoing_txns.remove(&completed.first_offset);
        assert_eq!(
            removed,
            Some(completed.producer_id),
            "a completed transaction was open, under its producer"
        );
        self.unreplicated_txns
            .insert(completed.first_offset, completed);
    }

    /// The high watermark moved: decided transactions whose marker is below it are stable.
    pub fn on_high_watermark_updated(&mut self, high_watermark: u64) {
        self.unreplicated_txns
            .retain(|_, txn| txn.last_offset >= high_watermark);
    }

    /// First offset of a transaction with no marker yet.
    pub fn first_undecided_offset(&self) -> Option<u64> {
        self.ongoing_txns.keys().next().copied()
    }

    /// First offset a read_committed reader may not pass: the earliest undecided transaction,
    /// or decided one whose marker is not yet below the high watermark.
    pub fn first_unstable_offset(&self) -> Option<u64> {
        let unreplicated = self.unreplicated_txns.keys().next().copied();
        match (self.first_undecided_offset(), unreplicated) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Whether `next` directly follows `last` (with wrap-around from `i32::MAX` to 0).
pub fn in_sequence(last: i32, next: i32) -> bool {
    next as i64 == last as i64 + 1 || (last == i32::MAX && next == 0)
}

#[cfg(test)]
mod tests {
    //! Behaviours from Kafka's ProducerStateManagerTest and UnifiedLogTest
    //! (docs/reference/kafka-test-vectors.md, ids in brackets).

    use super::*;
    use AppendOrigin::{Client, Replication};

    fn meta(first_seq: i32, last_seq: i32, first_offset: u64) -> BatchMetadata {
        let span = (last_seq as i64 - first_seq as i64).rem_euclid(i32::MAX as i64 + 1) as u64;
        BatchMetadata {
            first_seq,
            last_seq,
            first_offset,
            last_offset: first_offset + span,
        }
    }

    /// Validates and, if it should be appended, applies one batch at `offset`.
    fn append(
        e: &mut ProducerStateEntry,
        epoch: i16,
        first: i32,
        last: i32,
        offset: u64,
        origin: AppendOrigin,
    ) -> Result<Validation, KafkaError> {
        let v = e.validate(epoch, first, last, origin)?;
        if v == Validation::Append {
            e.update(epoch, meta(first, last, offset));
        }
        Ok(v)
    }

    #[test]
    fn p1_p2_p3_next_sequence_only() {
        let mut e = ProducerStateEntry::new(5);
        assert_eq!(append(&mut e, 0, 0, 0, 0, Client), Ok(Validation::Append));
        assert_eq!(append(&mut e, 0, 1, 1, 1, Client), Ok(Validation::Append));
        // [P2] Kafka's state manager (`ProducerAppendInfo.checkSequence`, testBasicIdMapping)
        // takes only the next sequence: seq 1 again is out of order there, because exact
        // duplicates are answered earlier, by the log. `check_sequence` is that layer;
        // `validate` runs the log's duplicate lookup first, as `UnifiedLog` does (U2).
        assert_eq!(e.check_sequence(0, 1), Err(KafkaError::OutOfOrderSequence));
        assert_eq!(
            e.validate(0, 1, 1, Client),
            Ok(Validation::Duplicate(meta(1, 1, 1)))
        );
        // [P3] a gap is out of order.
        assert_eq!(
            e.validate(0, 5, 5, Client),
            Err(KafkaError::OutOfOrderSequence)
        );
    }

    #[test]
    fn p4_u8_epoch_bump_restarts_at_zero_and_fences_the_old_epoch() {
        let mut e = ProducerStateEntry::new(5);
        append(&mut e, 0, 0, 0, 0, Client).unwrap();
        append(&mut e, 0, 1, 1, 1, Client).unwrap();
        assert_eq!(append(&mut e, 1, 0, 0, 2, Client), Ok(Validation::Append));
        assert_eq!(
            e.validate(0, 0, 0, Client),
            Err(KafkaError::InvalidProducerEpoch)
        );
        assert_eq!(
            e.validate(0, 2, 2, Client),
            Err(KafkaError::InvalidProducerEpoch)
        );
    }

    #[test]
    fn epoch_bump_with_nonzero_sequence_is_out_of_order() {
        let mut e = ProducerStateEntry::new(5);
        append(&mut e, 0, 0, 0, 0, Client).unwrap();
        assert_eq!(
            e.validate(1, 3, 3, Client),
            Err(KafkaError::OutOfOrderSequence)
        );
    }

    #[test]
    fn p9_p10_sequence_wraps_at_max() {
        let mut e = ProducerStateEntry::new(5);
        append(&mut e, 15, i32::MAX, i32::MAX, 735, Replication).unwrap();
        assert_eq!(
            append(&mut e, 15, 0, 0, 736, Client),
            Ok(Validation::Append)
        );
        assert_eq!((e.first_seq(), e.last_seq()), (i32::MAX, 0));
        let mut e = ProducerStateEntry::new(5);
        append(&mut e, 15, i32::MAX, i32::MAX, 735, Replication).unwrap();
        assert_eq!(
            e.validate(15, 1, 1, Client),
            Err(KafkaError::OutOfOrderSequence)
        );
    }

    #[test]
    fn p11_batch_spanning_the_wrap() {
        let mut e = ProducerStateEntry::new(5);
        append(&mut e, 0, i32::MAX - 10, 9, 2000, Replication).unwrap();
        assert_eq!((e.first_seq(), e.last_seq()), (i32::MAX - 10, 9));
        assert_eq!(e.batches[0].last_offset, 2020);
    }

    #[test]
    fn p12_p26_u9_replication_is_not_validated() {
        let mut e = ProducerStateEntry::new(5);
        assert_eq!(
            append(&mut e, 5, 16, 16, 735, Replication),
            Ok(Validation::Append)
        );
        let mut e = ProducerStateEntry::new(5);
        append(&mut e, 0, 0, 0, 0, Client).unwrap();
        assert_eq!(
            append(&mut e, 0, 3, 3, 1, Replication),
            Ok(Validation::Append)
        );
        assert_eq!(
            e.validate(0, 5, 5, Client),
            Err(KafkaError::OutOfOrderSequence),
            "a client gap is still rejected"
        );
        // [U9] the same sequences appended twice by a follower are both kept.
        let mut e = ProducerStateEntry::new(5);
        append(&mut e, 0, 0, 1, 0, Replication).unwrap();
        assert_eq!(
            append(&mut e, 0, 0, 1, 2, Replication),
            Ok(Validation::Append)
        );
    }

    #[test]
    fn p25_no_state_accepts_any_sequence() {
        let e = ProducerStateEntry::new(5);
        assert_eq!(e.validate(0, 1, 1, Client), Ok(Validation::Append));
    }

    #[test]
    #[ignore = "producer-id expiration not modelled: a partition keeps every producer's state as long as its log (Kafka's default is 1 day; runs last minutes)"]
    fn p25_idle_producer_state_expires_unless_its_transaction_is_open() {
        // Kafka: testPidExpirationTimeout, testProducersWithOngoingTransactionsDontExpire.
        unimplemented!("producer-id expiration")
    }

    #[test]
    fn u1_u6_duplicates_within_the_last_five_batches() {
        let mut e = ProducerStateEntry::new(5);
        for seq in 0..6 {
            append(&mut e, 0, seq, seq, seq as u64, Client).unwrap();
        }
        // [U1] a 3-record batch 6..=8 at offsets 6..=8.
        assert_eq!(append(&mut e, 0, 6, 8, 6, Client), Ok(Validation::Append));
        // [U2] resent → duplicate with the original offsets.
        assert_eq!(
            e.validate(0, 6, 8, Client),
            Ok(Validation::Duplicate(meta(6, 8, 6)))
        );
        // [U3] a partial overlap is out of order.
        assert_eq!(
            e.validate(0, 7, 8, Client),
            Err(KafkaError::OutOfOrderSequence)
        );
        // [U4] seq 2 is the oldest retained (2, 3, 4, 5, 6-8): a duplicate.
        assert_eq!(
            e.validate(0, 2, 2, Client),
            Ok(Validation::Duplicate(meta(2, 2, 2)))
        );
        // [U5] seq 1 fell out of the window: out of order.
        assert_eq!(
            e.validate(0, 1, 1, Client),
            Err(KafkaError::OutOfOrderSequence)
        );
        // [U6] a new seq 9, then again → the first's offsets.
        append(&mut e, 0, 9, 9, 9, Client).unwrap();
        assert_eq!(
            e.validate(0, 9, 9, Client),
            Ok(Validation::Duplicate(meta(9, 9, 9)))
        );
    }

    #[test]
    fn u7_non_sequential_append() {
        let mut e = ProducerStateEntry::new(5);
        append(&mut e, 0, 0, 0, 0, Client).unwrap();
        assert_eq!(
            e.validate(0, 2, 2, Client),
            Err(KafkaError::OutOfOrderSequence)
        );
    }

    #[test]
    fn a_window_of_one_forgets_earlier_batches() {
        let mut e = ProducerStateEntry::new(1);
        append(&mut e, 0, 0, 0, 0, Client).unwrap();
        append(&mut e, 0, 1, 1, 1, Client).unwrap();
        assert_eq!(
            e.validate(0, 0, 0, Client),
            Err(KafkaError::OutOfOrderSequence)
        );
        assert_eq!(
            e.validate(0, 1, 1, Client),
            Ok(Validation::Duplicate(meta(1, 1, 1)))
        );
    }

    #[test]
    fn epoch_change_clears_retained_batches() {
        let mut e = ProducerStateEntry::new(5);
        append(&mut e, 0, 0, 0, 0, Client).unwrap();
        append(&mut e, 1, 0, 0, 1, Client).unwrap();
        assert_eq!(e.batches.len(), 1);
        assert_eq!(
            e.validate(1, 0, 0, Client),
            Ok(Validation::Duplicate(meta(0, 0, 1)))
        );
    }

    // ---- Transactions: ProducerStateManagerTest (P5–P8, P13–P24) ----

    use crate::protocol::{TransactionVersion, TxnMarker, TxnResult};

    fn data(pid: i64, epoch: i16, seqs: (i32, i32), first_offset: u64, txn: bool) -> DataBatch {
        DataBatch {
            producer_id: pid,
            epoch,
            first_seq: seqs.0,
            last_seq: seqs.1,
            first_offset,
            last_offset: first_offset + (seqs.1 - seqs.0) as u64,
            transactional: txn,
        }
    }

    fn marker(pid: i64, epoch: i16, result: TxnResult, coordinator_epoch: i32) -> TxnMarker {
        TxnMarker {
            producer_id: pid,
            producer_epoch: epoch,
            result,
            coordinator_epoch,
            transaction_version: TransactionVersion::V1,
        }
    }

    fn append_data(
        m: &mut ProducerStateManager,
        batch: DataBatch,
        origin: AppendOrigin,
    ) -> Result<Validation, KafkaError> {
        let v = m.validate_data(&batch, origin)?;
        if v == Validation::Append {
            m.apply_data(&batch);
        }
        Ok(v)
    }

    /// Validates, applies and completes a marker at `offset` (as the partition does).
    fn append_marker(
        m: &mut ProducerStateManager,
        marker: TxnMarker,
        offset: u64,
        origin: AppendOrigin,
    ) -> Result<Option<CompletedTxn>, KafkaError> {
        m.validate_marker(&marker, origin)?;
        let completed = m.apply_marker(&marker, offset);
        if let Some(c) = completed {
            m.complete_txn(c);
        }
        Ok(completed)
    }

    #[test]
    fn p5_p8_marker_with_no_producer_state() {
        let mut m = ProducerStateManager::new(5);
        // [P5] a COMMIT for a producer the partition never saw creates an entry, epoch 2,
        // no sequence, and completes nothing.
        let completed = append_marker(&mut m, marker(1, 2, TxnResult::Commit, 0), 27, Client);
        assert_eq!(completed, Ok(None));
        let e = m.entry(1).expect("the marker created an entry");
        assert_eq!((e.epoch, e.last_seq()), (2, NO_SEQUENCE));
        // [P6] fencing survives when only a marker remains.
        assert_eq!(
            m.validate_data(&data(1, 0, (0, 0), 28, false), Client),
            Err(KafkaError::InvalidProducerEpoch)
        );
        // [P7] only a marker left: the producer must restart at 0.
        assert_eq!(
            m.validate_data(&data(1, 2, (17, 17), 28, false), Client),
            Err(KafkaError::OutOfOrderSequence)
        );
        // [P8]
        assert_eq!(
            append_data(&mut m, data(1, 2, (0, 0), 28, false), Client),
            Ok(Validation::Append)
        );
        assert_eq!(m.entry(1).unwrap().last_seq(), 0);
    }

    #[test]
    fn p13_control_record_bumps_producer_epoch() {
        let mut m = ProducerStateManager::new(5);
        append_data(&mut m, data(1, 0, (0, 0), 0, false), Client).unwrap();
        append_marker(&mut m, marker(1, 1, TxnResult::Abort, 0), 1, Client).unwrap();
        let e = m.entry(1).unwrap();
        assert_eq!(e.epoch, 1);
        assert_eq!(e.current_txn_first_offset, None);
        assert_eq!((e.first_seq(), e.last_seq()), (NO_SEQUENCE, NO_SEQUENCE));
        assert_eq!(
            append_data(&mut m, data(1, 1, (0, 0), 2, false), Client),
            Ok(Validation::Append)
        );
    }

    #[test]
    fn p14_out_of_sequence_after_control_record_epoch_bump() {
        let mut m = ProducerStateManager::new(5);
        append_data(&mut m, data(1, 0, (0, 0), 0, true), Client).unwrap();
        append_data(&mut m, data(1, 0, (1, 1), 1, true), Client).unwrap();
        append_marker(&mut m, marker(1, 1, TxnResult::Abort, 0), 2, Client).unwrap();
        assert_eq!(
            m.validate_data(&data(1, 1, (2, 2), 3, true), Client),
            Err(KafkaError::OutOfOrderSequence)
        );
        assert_eq!(
            m.validate_data(&data(1, 2, (2, 2), 3, true), Client),
            Err(KafkaError::OutOfOrderSequence)
        );
        assert_eq!(
            m.validate_data(&data(1, 1, (0, 0), 3, true), Client),
            Ok(Validation::Append)
        );
    }

    #[test]
    fn p15_non_transactional_append_during_open_transaction() {
        let mut m = ProducerStateManager::new(5);
        append_data(&mut m, data(1, 0, (0, 0), 0, true), Client).unwrap();
        assert_eq!(
            m.validate_data(&data(1, 0, (1, 1), 1, false), Client),
            Err(KafkaError::InvalidTxnState)
        );
        // An exact retry of the transactional batch is still a duplicate, not an error.
        assert!(matches!(
            m.validate_data(&data(1, 0, (0, 0), 1, true), Client),
            Ok(Validation::Duplicate(_))
        ));
    }

    #[test]
    fn p16_transaction_state_through_commit() {
        let mut m = ProducerStateManager::new(5);
        append_data(&mut m, data(1, 0, (0, 0), 9, false), Client).unwrap();
        assert_eq!(m.entry(1).unwrap().current_txn_first_offset, None);
        append_data(&mut m, data(1, 0, (1, 5), 16, true), Client).unwrap();
        assert_eq!(m.entry(1).unwrap().current_txn_first_offset, Some(16));
        append_data(&mut m, data(1, 0, (6, 10), 26, true), Client).unwrap();
        assert_eq!(m.entry(1).unwrap().current_txn_first_offset, Some(16));
        let completed = append_marker(&mut m, marker(1, 0, TxnResult::Commit, 15), 40, Client);
        assert_eq!(
            completed,
            Ok(Some(CompletedTxn {
                producer_id: 1,
                first_offset: 16,
                last_offset: 40,
                aborted: false
            }))
        );
        let e = m.entry(1).unwrap();
        assert_eq!(
            e.last_seq(),
            10,
            "the sequence survives a same-epoch marker"
        );
        assert_eq!(e.current_txn_first_offset, None);
        assert_eq!(e.coordinator_epoch, 15);
    }

    #[test]
    fn p17_validation_does_not_mutate() {
        let mut m = ProducerStateManager::new(5);
        append_data(&mut m, data(1, 0, (0, 5), 0, true), Client).unwrap();
        let before = m.clone();
        m.validate_data(&data(1, 0, (6, 10), 6, true), Client)
            .unwrap();
        m.validate_marker(&marker(1, 0, TxnResult::Commit, 0), Client)
            .unwrap();
        assert_eq!(m, before, "validation left no trace");
        append_data(&mut m, data(1, 0, (6, 10), 26, true), Client).unwrap();
        let e = m.entry(1).unwrap();
        assert_eq!((e.first_seq(), e.last_seq()), (0, 10));
        assert_eq!(e.batches.back().unwrap().last_offset, 30);
    }

    #[test]
    fn p18_p20_first_unstable_offset_waits_for_the_high_watermark() {
        let (a, b) = (1, 2);
        let mut m = ProducerStateManager::new(5);
        append_data(&mut m, data(a, 0, (0, 0), 99, true), Client).unwrap();
        append_data(&mut m, data(b, 0, (0, 0), 105, true), Client).unwrap();
        // [P18]
        assert_eq!(m.first_undecided_offset(), Some(99));
        assert_eq!(m.first_unstable_offset(), Some(99));
        // [P19]
        append_marker(&mut m, marker(a, 0, TxnResult::Commit, 0), 109, Client).unwrap();
        assert_eq!(m.first_undecided_offset(), Some(105));
        assert_eq!(m.first_unstable_offset(), Some(99));
        m.on_high_watermark_updated(100);
        assert_eq!(m.first_unstable_offset(), Some(99));
        m.on_high_watermark_updated(110);
        assert_eq!(m.first_unstable_offset(), Some(105));
        // [P20]
        append_marker(&mut m, marker(b, 0, TxnResult::Abort, 0), 112, Client).unwrap();
        assert_eq!(m.first_undecided_offset(), None);
        assert_eq!(m.first_unstable_offset(), Some(105));
        m.on_high_watermark_updated(113);
        assert_eq!(m.first_unstable_offset(), None);
    }

    #[test]
    fn p21_last_stable_offset_of_completed_transactions() {
        let s = 1000;
        let mut m = ProducerStateManager::new(5);
        for (pid, first) in [(1, s), (2, s + 25), (3, s + 57)] {
            append_data(&mut m, data(pid, 0, (0, 0), first, true), Client).unwrap();
        }
        let complete = |m: &mut ProducerStateManager, pid: i64, last: u64| {
            let c = m
                .apply_marker(&marker(pid, 0, TxnResult::Abort, 0), last)
                .unwrap();
            let lso = m.last_stable_offset_for(&c);
            m.complete_txn(c);
            lso
        };
        assert_eq!(complete(&mut m, 1, s + 72), s + 25);
        assert_eq!(complete(&mut m, 3, s + 100), s + 25);
        assert_eq!(complete(&mut m, 2, s + 170), s + 171);
        m.on_high_watermark_updated(s + 171);
        assert_eq!(m.first_unstable_offset(), None);
    }

    #[test]
    fn p23_coordinator_fencing() {
        let mut m = ProducerStateManager::new(5);
        let mut offset = 0;
        for (seq, coordinator_epoch) in [1, 1, 2].into_iter().enumerate() {
            let seq = seq as i32;
            append_data(&mut m, data(1, 0, (seq, seq), offset, true), Client).unwrap();
            let commit = marker(1, 0, TxnResult::Commit, coordinator_epoch);
            let r = append_marker(&mut m, commit, offset + 1, Client);
            assert!(
                matches!(r, Ok(Some(_))),
                "coordinator epoch {coordinator_epoch} accepted"
            );
            offset += 2;
        }
        append_data(&mut m, data(1, 0, (3, 3), offset, true), Client).unwrap();
        assert_eq!(
            m.validate_marker(&marker(1, 0, TxnResult::Commit, 1), Client),
            Err(KafkaError::TransactionCoordinatorFenced)
        );
    }

    #[test]
    fn p24_old_epoch_for_control_record() {
        let mut m = ProducerStateManager::new(5);
        append_data(&mut m, data(1, 5, (0, 0), 0, true), Client).unwrap();
        assert_eq!(
            m.validate_marker(&marker(1, 3, TxnResult::Commit, 0), Client),
            Err(KafkaError::InvalidProducerEpoch)
        );
    }

    #[test]
    fn recovery_replays_an_open_transaction() {
        // Recovery replays without validation and reopens the transaction.
        let mut m = ProducerStateManager::new(5);
        append_data(&mut m, data(1, 0, (0, 0), 0, true), Replication).unwrap();
        append_data(&mut m, data(1, 0, (1, 1), 1, true), Replication).unwrap();
        assert_eq!(m.entry(1).unwrap().current_txn_first_offset, Some(0));
        assert_eq!(m.first_undecided_offset(), Some(0));
        assert_eq!(
            append_data(&mut m, data(1, 0, (2, 2), 2, true), Client),
            Ok(Validation::Append)
        );
    }
}
