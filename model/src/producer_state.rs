//! Per-partition state of one producer id: the broker side of idempotence.
//!
//! Faithful to Kafka's `ProducerStateEntry` and `ProducerAppendInfo` (kafka-eos-protocol.md
//! §1.1): the epoch, and the metadata of the last `NUM_BATCHES_TO_RETAIN` batches. A retry is
//! recognised as a duplicate iff its epoch is the current one and its exact (first, last)
//! sequence range is retained; a new batch must carry the next sequence (wrapping at
//! `i32::MAX`); a bumped epoch must start at sequence 0; an older epoch is fenced.

use std::collections::VecDeque;

use crate::protocol::{KafkaError, NO_PRODUCER_EPOCH, NO_SEQUENCE};

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
}

impl ProducerStateEntry {
    /// A producer the partition has never seen (or whose state expired): any sequence goes.
    pub fn new(retain: usize) -> Self {
        assert!(retain >= 1, "the dedup window holds at least one batch");
        Self {
            epoch: NO_PRODUCER_EPOCH,
            batches: VecDeque::new(),
            retain,
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

    /// Records an appended batch. An epoch change clears the retained batches.
    pub fn update(&mut self, epoch: i16, batch: BatchMetadata) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
        self.batches.push_back(batch);
        while self.batches.len() > self.retain {
            self.batches.pop_front();
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
    //! (shared/reference/kafka-test-vectors.md, ids in brackets).

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
    fn p1_p3_next_sequence_only() {
        let mut e = ProducerStateEntry::new(5);
        assert_eq!(append(&mut e, 0, 0, 0, 0, Client), Ok(Validation::Append));
        assert_eq!(append(&mut e, 0, 1, 1, 1, Client), Ok(Validation::Append));
        // P3: a gap is out of order.
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
        // U9: the same sequences appended twice by a follower are both kept.
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
    fn u1_u6_duplicates_within_the_last_five_batches() {
        let mut e = ProducerStateEntry::new(5);
        for seq in 0..6 {
            append(&mut e, 0, seq, seq, seq as u64, Client).unwrap();
        }
        // U1: a 3-record batch 6..=8 at offsets 6..=8.
        assert_eq!(append(&mut e, 0, 6, 8, 6, Client), Ok(Validation::Append));
        // U2: resent → duplicate with the original offsets.
        assert_eq!(
            e.validate(0, 6, 8, Client),
            Ok(Validation::Duplicate(meta(6, 8, 6)))
        );
        // U3: a partial overlap is out of order.
        assert_eq!(
            e.validate(0, 7, 8, Client),
            Err(KafkaError::OutOfOrderSequence)
        );
        // U4: seq 2 is the oldest retained (2, 3, 4, 5, 6-8): a duplicate.
        assert_eq!(
            e.validate(0, 2, 2, Client),
            Ok(Validation::Duplicate(meta(2, 2, 2)))
        );
        // U5: seq 1 fell out of the window: out of order.
        assert_eq!(
            e.validate(0, 1, 1, Client),
            Err(KafkaError::OutOfOrderSequence)
        );
        // U6: a new seq 9, then again → the first's offsets.
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
}
