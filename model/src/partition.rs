//! A topic partition on its broker: a durable log of batches, and the producer states that
//! are rebuilt from it on restart (as Kafka rebuilds them from its snapshot and log).

use std::collections::BTreeMap;
use std::sync::Arc;

use sim::DurableLog;

use crate::producer_state::{
    AppendOrigin, BatchMetadata, NUM_BATCHES_TO_RETAIN, ProducerStateEntry, Validation,
};
use crate::protocol::{FetchOk, KafkaError, ProduceOk, RecordBatch, TopicPartition};

/// A batch as stored in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBatch {
    pub base_offset: u64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub values: Arc<[u64]>,
}

impl StoredBatch {
    pub fn next_offset(&self) -> u64 {
        self.base_offset + self.values.len() as u64
    }
}

/// How a partition validates producers. Defaults: Kafka's (dedup on, window 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionConfig {
    /// Duplicate detection and sequence checks (off: append everything, pre-KIP-98).
    pub idempotence_checks: bool,
    /// Batches retained per producer for duplicate detection.
    pub dedup_window: usize,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        Self {
            idempotence_checks: true,
            dedup_window: NUM_BATCHES_TO_RETAIN,
        }
    }
}

/// The leader's view of one partition.
pub struct Partition {
    pub tp: TopicPartition,
    log: Arc<DurableLog<StoredBatch>>,
    producers: BTreeMap<i64, ProducerStateEntry>,
    next_offset: u64,
    config: PartitionConfig,
}

impl Partition {
    /// Opens a partition on its (possibly non-empty) durable log, rebuilding producer state.
    pub fn open(
        tp: TopicPartition,
        log: Arc<DurableLog<StoredBatch>>,
        config: PartitionConfig,
    ) -> Self {
        let mut partition = Self {
            tp,
            log,
            producers: BTreeMap::new(),
            next_offset: 0,
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
        partition
    }

    /// The offset the next record will get (log end offset).
    pub fn log_end_offset(&self) -> u64 {
        self.next_offset
    }

    /// The producer state of `producer_id`, if any.
    pub fn producer(&self, producer_id: i64) -> Option<&ProducerStateEntry> {
        self.producers.get(&producer_id)
    }

    /// Validates and appends a producer's batch (not yet synced: the caller syncs).
    pub fn append(
        &mut self,
        batch: &RecordBatch,
        origin: AppendOrigin,
    ) -> Result<ProduceOk, KafkaError> {
        assert!(!batch.values.is_empty(), "empty batches are never sent");
        if self.config.idempotence_checks && batch.is_idempotent() {
            // A producer the partition has never seen validates like a fresh entry.
            let fresh;
            let entry = match self.producers.get(&batch.producer_id) {
                Some(entry) => entry,
                None => {
                    fresh = ProducerStateEntry::new(self.config.dedup_window);
                    &fresh
                }
            };
            match entry.validate(
                batch.producer_epoch,
                batch.base_sequence,
                batch.last_sequence(),
                origin,
            )? {
                Validation::Duplicate(original) => {
                    return Ok(ProduceOk {
                        base_offset: original.first_offset,
                        duplicate: true,
                    });
                }
                Validation::Append => {}
            }
        }
        let stored = StoredBatch {
            base_offset: self.next_offset,
            producer_id: batch.producer_id,
            producer_epoch: batch.producer_epoch,
            base_sequence: batch.base_sequence,
            values: batch.values.clone(),
        };
        self.track(&stored);
        self.next_offset = stored.next_offset();
        let base_offset = stored.base_offset;
        self.log.append(stored);
        Ok(ProduceOk {
            base_offset,
            duplicate: false,
        })
    }

    /// Updates producer state for a batch now in the log.
    fn track(&mut self, batch: &StoredBatch) {
        if batch.producer_id < 0 {
            return;
        }
        let window = self.config.dedup_window;
        let entry = self
            .producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerStateEntry::new(window));
        let last_seq = crate::protocol::last_sequence(batch.base_sequence, batch.values.len());
        entry.update(
            batch.producer_epoch,
            BatchMetadata {
                first_seq: batch.base_sequence,
                last_seq,
                first_offset: batch.base_offset,
                last_offset: batch.next_offset() - 1,
            },
        );
    }

    /// Makes the appended batches durable.
    pub fn sync(&self) {
        self.log.sync();
    }

    /// Up to `max_records` records from `offset`.
    pub fn fetch(&self, offset: u64, max_records: u32) -> FetchOk {
        let records = self.log.read(|batches| {
            let start = batches.partition_point(|b| b.next_offset() <= offset);
            let mut out = Vec::new();
            'batches: for b in &batches[start..] {
                for (i, &value) in b.values.iter().enumerate() {
                    let o = b.base_offset + i as u64;
                    if o < offset {
                        continue;
                    }
                    if out.len() as u32 >= max_records {
                        break 'batches;
                    }
                    out.push((o, value));
                }
            }
            out
        });
        FetchOk {
            records,
            high_watermark: self.next_offset,
        }
    }

    /// Every record in the log as (offset, value, producer id): the ground truth.
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

#[cfg(test)]
mod tests;
