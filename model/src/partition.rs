//! A topic partition on its broker: a durable log of batches, and the producer states that
//! are rebuilt from it on restart (as Kafka rebuilds them from its snapshot and log).

use std::collections::BTreeMap;
use std::sync::Arc;

use sim::DurableLog;

use crate::coverage::CoveragePoint;
use crate::producer_state::{
    AppendOrigin, CompletedTxn, DataBatch, NUM_BATCHES_TO_RETAIN, ProducerStateEntry,
    ProducerStateManager, Validation,
};
use crate::protocol::{
    FetchOk, IsolationLevel, KafkaError, ProduceOk, RecordBatch, TopicPartition, TxnMarker,
    TxnResult, last_sequence,
};

/// The record of a control batch: how a transaction ended, and which coordinator said so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlRecord {
    pub result: TxnResult,
    pub coordinator_epoch: i32,
}

/// A batch as stored in the log: producer data, or a control batch (a transaction marker),
/// which holds no values but occupies one offset as Kafka's does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBatch {
    pub base_offset: u64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub values: Arc<[u64]>,
    /// Part of a transaction (control batches are transactional too, as in Kafka).
    pub transactional: bool,
    /// `Some` for a COMMIT/ABORT marker.
    pub control: Option<ControlRecord>,
}

impl StoredBatch {
    /// Offsets the batch occupies: its values, or one for a control record.
    pub fn record_count(&self) -> u64 {
        if self.control.is_some() {
            1
        } else {
            self.values.len() as u64
        }
    }

    pub fn next_offset(&self) -> u64 {
        self.base_offset + self.record_count()
    }

    pub fn last_offset(&self) -> u64 {
        self.next_offset() - 1
    }

    fn data_batch(&self) -> DataBatch {
        DataBatch {
            producer_id: self.producer_id,
            epoch: self.producer_epoch,
            first_seq: self.base_sequence,
            last_seq: last_sequence(self.base_sequence, self.values.len()),
            first_offset: self.base_offset,
            last_offset: self.last_offset(),
            transactional: self.transactional,
        }
    }
}

/// An entry of the aborted-transaction index (Kafka's `AbortedTxn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: u64,
    /// Offset of the ABORT marker.
    pub last_offset: u64,
    /// The last stable offset when the marker was written.
    pub last_stable_offset: u64,
}

/// How a partition validates producers. Defaults: Kafka's (dedup on, window 5), and a high
/// watermark that follows the log end (one replica: an append is replicated when it is made).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionConfig {
    /// Duplicate detection and sequence checks (off: append everything, pre-KIP-98).
    pub idempotence_checks: bool,
    /// Batches retained per producer for duplicate detection.
    pub dedup_window: usize,
    /// Every append moves the high watermark to the log end. Off: it moves only by
    /// `set_high_watermark` (tests of the last stable offset under replication lag).
    pub high_watermark_follows_log_end: bool,
    /// Refuse batches from an older epoch of a producer (a fenced zombie). Off: the
    /// `no-zombie-fencing` variant — such a batch is appended into the producer's current
    /// epoch and transaction, unchecked.
    pub epoch_fencing: bool,
    /// A partition whose log has never held a record accepts, from a producer it has no
    /// state for, only a first sequence of 0 (Kafka 4.5, KAFKA-15591 / apache/kafka PR
    /// 23234: before it, a later batch overtaking a failed first one was appended and the
    /// first one's retries were refused as out of order: silent loss). Off: the
    /// `accept-any-first-sequence` variant, any first sequence goes.
    pub first_sequence_checked_on_new_partition: bool,
    /// Opening a partition on its log rebuilds every producer's state (epoch, retained
    /// batches) from it, as Kafka's log recovery does from the log and its producer
    /// snapshots. Off: the `producer-state-not-restored` variant (KAFKA-5793's lost state)
    /// forgets producers without an open transaction, so a retry of a batch appended before
    /// a crash is appended again.
    pub producer_state_restored_on_load: bool,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        Self {
            idempotence_checks: true,
            dedup_window: NUM_BATCHES_TO_RETAIN,
            high_watermark_follows_log_end: true,
            epoch_fencing: true,
            first_sequence_checked_on_new_partition: true,
            producer_state_restored_on_load: true,
        }
    }
}

/// The leader's view of one partition.
pub struct Partition {
    pub tp: TopicPartition,
    log: Arc<DurableLog<StoredBatch>>,
    producers: ProducerStateManager,
    /// In marker order.
    aborted_txns: Vec<AbortedTxn>,
    /// (producer id, first offset) → ABORT marker offset, to filter read_committed fetches.
    aborted_ranges: BTreeMap<(i64, u64), u64>,
    next_offset: u64,
    high_watermark: u64,
    config: PartitionConfig,
}

impl Partition {
    /// Opens a partition on its (possibly non-empty) durable log, rebuilding producer state,
    /// open transactions and the aborted-transaction index. Everything in the log counts as
    /// replicated: the high watermark starts at the log end.
    pub fn open(
        tp: TopicPartition,
        log: Arc<DurableLog<StoredBatch>>,
        config: PartitionConfig,
    ) -> Self {
        let mut partition = Self {
            tp,
            log,
            producers: ProducerStateManager::new(config.dedup_window),
            aborted_txns: Vec::new(),
            aborted_ranges: BTreeMap::new(),
            next_offset: 0,
            high_watermark: 0,
            config,
        };
        let batches = partition.log.read(|b| b.to_vec());
        for batch in batches {
            assert_eq!(
                batch.base_offset, partition.next_offset,
                "log offsets are contiguous"
            );
            partition.track(&batch);
            partition.next_offset = batch.next_offset();
        }
        partition.set_high_watermark(partition.next_offset);
        if !config.producer_state_restored_on_load
            && partition.producers.forget_idle_producers() > 0
        {
            crate::CoveragePoint::ProducerStateForgotten.hit();
        }
        partition
    }

    /// The offset the next record will get (log end offset).
    pub fn log_end_offset(&self) -> u64 {
        self.next_offset
    }

    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }

    /// Moves the high watermark (never backwards, never past the log end).
    pub fn set_high_watermark(&mut self, high_watermark: u64) {
        assert!(
            high_watermark <= self.next_offset,
            "the high watermark {high_watermark} passes the log end {}",
            self.next_offset
        );
        assert!(
            high_watermark >= self.high_watermark,
            "the high watermark moves forward only"
        );
        self.high_watermark = high_watermark;
        self.producers.on_high_watermark_updated(high_watermark);
    }

    /// First offset of an open transaction, or of a decided one whose marker is not yet
    /// below the high watermark.
    pub fn first_unstable_offset(&self) -> Option<u64> {
        self.producers.first_unstable_offset()
    }

    /// Below this offset every transaction is decided and replicated.
    pub fn last_stable_offset(&self) -> u64 {
        self.first_unstable_offset()
            .map_or(self.high_watermark, |fuo| fuo.min(self.high_watermark))
    }

    /// The aborted-transaction index, in marker order.
    pub fn aborted_transactions(&self) -> &[AbortedTxn] {
        &self.aborted_txns
    }

    /// The producer state of `producer_id`, if any.
    pub fn producer(&self, producer_id: i64) -> Option<&ProducerStateEntry> {
        self.producers.entry(producer_id)
    }

    /// Validates and appends a producer's batch (not yet synced: the caller syncs).
    pub fn append(
        &mut self,
        batch: &RecordBatch,
        origin: AppendOrigin,
    ) -> Result<ProduceOk, KafkaError> {
        assert!(!batch.values.is_empty(), "empty batches are never sent");
        assert!(
            !batch.transactional || batch.is_idempotent(),
            "a transactional batch carries a producer id"
        );
        let mut stored = StoredBatch {
            base_offset: self.next_offset,
            producer_id: batch.producer_id,
            producer_epoch: batch.producer_epoch,
            base_sequence: batch.base_sequence,
            values: batch.values.clone(),
            transactional: batch.transactional,
            control: None,
        };
        if let Some(current) = self.unfenced_zombie_epoch(batch, origin) {
            // The variant's bug: the zombie's batch is taken as the current epoch's.
            stored.producer_epoch = current;
            stored.base_sequence = crate::protocol::NO_SEQUENCE;
            let base_offset = stored.base_offset;
            self.push(stored);
            return Ok(ProduceOk {
                base_offset,
                duplicate: false,
            });
        }
        if self.refuses_first_sequence(batch, origin) {
            CoveragePoint::UnknownProducerFirstSequence.hit();
            return Err(KafkaError::OutOfOrderSequence);
        }
        if self.config.idempotence_checks
            && batch.is_idempotent()
            && let Validation::Duplicate(original) = self
                .producers
                .validate_data(&stored.data_batch(), origin)
                .inspect_err(|e| {
                    if *e == KafkaError::OutOfOrderSequence && origin == AppendOrigin::Client {
                        CoveragePoint::OutOfOrderRejected.hit();
                    }
                })?
        {
            if origin == AppendOrigin::Client {
                CoveragePoint::DedupHit.hit();
            }
            return Ok(ProduceOk {
                base_offset: original.first_offset,
                duplicate: true,
            });
        }
        let base_offset = stored.base_offset;
        self.push(stored);
        Ok(ProduceOk {
            base_offset,
            duplicate: false,
        })
    }

    /// Under `no-zombie-fencing`: the producer's current epoch when a client's batch comes
    /// from an older one (a zombie's), which the variant appends as the current epoch's.
    fn unfenced_zombie_epoch(&self, batch: &RecordBatch, origin: AppendOrigin) -> Option<i16> {
        if self.config.epoch_fencing || origin != AppendOrigin::Client {
            return None;
        }
        self.producers
            .entry(batch.producer_id)
            .map(|e| e.epoch)
            .filter(|&current| batch.producer_epoch < current)
    }

    /// A never-written partition accepts only sequence 0 from a producer it has no state for
    /// (the fix of KAFKA-15591; off under `accept-any-first-sequence`).
    fn refuses_first_sequence(&self, batch: &RecordBatch, origin: AppendOrigin) -> bool {
        self.config.idempotence_checks
            && self.config.first_sequence_checked_on_new_partition
            && origin == AppendOrigin::Client
            && batch.is_idempotent()
            && self.next_offset == 0
            && self.producers.entry(batch.producer_id).is_none()
            && batch.base_sequence != 0
    }

    /// Validates and appends a COMMIT/ABORT marker as a control batch; returns its offset.
    pub fn append_marker(
        &mut self,
        marker: &TxnMarker,
        origin: AppendOrigin,
    ) -> Result<u64, KafkaError> {
        self.producers.validate_marker(marker, origin)?;
        let stored = StoredBatch {
            base_offset: self.next_offset,
            producer_id: marker.producer_id,
            producer_epoch: marker.producer_epoch,
            base_sequence: crate::protocol::NO_SEQUENCE,
            values: Arc::from([]),
            transactional: true,
            control: Some(ControlRecord {
                result: marker.result,
                coordinator_epoch: marker.coordinator_epoch,
            }),
        };
        let offset = stored.base_offset;
        self.push(stored);
        Ok(offset)
    }

    /// Appends a validated batch to the log and to the in-memory state.
    fn push(&mut self, stored: StoredBatch) {
        self.track(&stored);
        self.next_offset = stored.next_offset();
        self.log.append(stored);
        if self.config.high_watermark_follows_log_end {
            self.set_high_watermark(self.next_offset);
        }
    }

    /// Updates producer and transaction state for a batch now in the log.
    fn track(&mut self, batch: &StoredBatch) {
        if batch.producer_id < 0 {
            return;
        }
        let Some(control) = batch.control else {
            self.producers.apply_data(&batch.data_batch());
            return;
        };
        let marker = TxnMarker {
            producer_id: batch.producer_id,
            producer_epoch: batch.producer_epoch,
            result: control.result,
            coordinator_epoch: control.coordinator_epoch,
            // Replayed from the log: not validated, so the version does not matter.
            transaction_version: crate::protocol::TransactionVersion::V1,
        };
        if let Some(completed) = self.producers.apply_marker(&marker, batch.base_offset) {
            if completed.aborted {
                self.index_aborted(&completed);
            }
            self.producers.complete_txn(completed);
        }
    }

    fn index_aborted(&mut self, completed: &CompletedTxn) {
        let entry = AbortedTxn {
            producer_id: completed.producer_id,
            first_offset: completed.first_offset,
            last_offset: completed.last_offset,
            last_stable_offset: self.producers.last_stable_offset_for(completed),
        };
        self.aborted_txns.push(entry);
        self.aborted_ranges.insert(
            (completed.producer_id, completed.first_offset),
            completed.last_offset,
        );
    }

    /// Whether a transactional data batch belongs to an aborted transaction. A producer has
    /// one transaction open at a time, so the aborted range of that producer that starts at
    /// or before the batch, if it reaches the batch, is its transaction.
    fn is_aborted(&self, batch: &StoredBatch) -> bool {
        batch.transactional
            && self
                .aborted_ranges
                .range((batch.producer_id, 0)..=(batch.producer_id, batch.base_offset))
                .next_back()
                .is_some_and(|(_, &marker_offset)| marker_offset >= batch.base_offset)
    }

    /// Makes the appended batches durable.
    pub fn sync(&self) {
        self.log.sync();
    }

    /// Up to `max_records` records from `offset`, read_uncommitted.
    pub fn fetch(&self, offset: u64, max_records: u32) -> FetchOk {
        self.fetch_isolated(offset, max_records, IsolationLevel::ReadUncommitted)
    }

    /// Whole batches from the one holding `offset`, until `max_records` records at or above
    /// `offset` are in (the batch that reaches it is returned whole). read_uncommitted reads
    /// up to the high watermark; read_committed up to the last stable offset and skips
    /// aborted transactions' records. Control records are never returned. (Kafka sends the
    /// aborted-transaction list and the consumer filters; here the partition filters, with
    /// the same result.)
    ///
    /// Like Kafka's broker, the answer starts at the batch's base offset, so it may hold
    /// records below `offset`: the log is read in whole batches (a compressed batch cannot be
    /// split), and the consumer drops what lies below its position (Kafka's
    /// `CompletedFetch.nextFetchedRecord`: `record.offset() >= nextFetchOffset`; the Fetch
    /// API's documentation: "it's possible for the returned messages to have offsets smaller
    /// than the starting offset … the caller is responsible for filtering out those
    /// messages"). `crate::client::consumer` does that filtering.
    pub fn fetch_isolated(
        &self,
        offset: u64,
        max_records: u32,
        isolation: IsolationLevel,
    ) -> FetchOk {
        let last_stable_offset = self.last_stable_offset();
        let end = match isolation {
            IsolationLevel::ReadUncommitted => self.high_watermark,
            IsolationLevel::ReadCommitted => last_stable_offset,
        };
        let read_committed = isolation == IsolationLevel::ReadCommitted;
        let records = self.log.read(|batches| {
            let start = batches.partition_point(|b| b.next_offset() <= offset);
            let mut out = Vec::new();
            let mut at_or_above_offset = 0u32;
            for b in &batches[start..] {
                if at_or_above_offset >= max_records || b.base_offset >= end {
                    break;
                }
                if read_committed && self.is_aborted(b) {
                    continue;
                }
                for (i, &value) in b.values.iter().enumerate() {
                    let o = b.base_offset + i as u64;
                    if o >= end {
                        break;
                    }
                    at_or_above_offset += u32::from(o >= offset);
                    out.push((o, value));
                }
            }
            out
        });
        FetchOk {
            records,
            high_watermark: self.high_watermark,
            last_stable_offset,
        }
    }

    /// Every data record in the log as (offset, value, producer id): the ground truth. It
    /// includes records of open and aborted transactions; control records hold no values.
    pub fn dump(log: &DurableLog<StoredBatch>) -> Vec<(u64, u64, i64)> {
        log.read(|batches| {
            batches
                .iter()
                .flat_map(|b| {
                    b.values
                        .iter()
                        .enumerate()
                        .map(move |(i, &v)| (b.base_offset + i as u64, v, b.producer_id))
                })
                .collect()
        })
    }
}

impl Partition {
    /// Like `dump`, with each record's transaction outcome: `None` for a non-transactional
    /// record, `Some(Some(result))` once its producer's next marker decided it, `Some(None)`
    /// while its transaction is open.
    pub fn dump_with_status(
        log: &DurableLog<StoredBatch>,
    ) -> Vec<(u64, u64, i64, Option<Option<TxnResult>>)> {
        log.read(|batches| {
            // A transactional record is decided by its producer's first marker after it, so
            // a walk from the end knows each record's outcome when it gets there: the output
            // is made at its size and filled from the back, with no list of open records.
            let records: usize = (batches.iter())
                .filter(|b| b.control.is_none())
                .map(|b| b.values.len())
                .sum();
            let mut out = vec![(0, 0, 0, None); records];
            let mut next = records;
            // Producer id → the outcome of its first marker after the walk's position.
            let mut decided: BTreeMap<i64, TxnResult> = BTreeMap::new();
            for b in batches.iter().rev() {
                if let Some(control) = b.control {
                    decided.insert(b.producer_id, control.result);
                    continue;
                }
                let status = b
                    .transactional
                    .then(|| decided.get(&b.producer_id).copied());
                next -= b.values.len();
                for (i, &v) in b.values.iter().enumerate() {
                    out[next + i] = (b.base_offset + i as u64, v, b.producer_id, status);
                }
            }
            out
        })
    }
}

#[cfg(test)]
mod tests;
