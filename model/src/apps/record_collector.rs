//! Background sending of a Streams producer's output, its accumulator half (Kafka's
//! `RecordAccumulator`): the records handed to the producer collect per partition; a
//! partition's batch is ready once it holds `batch.size` bytes, while processing goes on, and
//! whatever is left is ready at the commit's flush. The sender (`apps::producer_sender`) takes
//! the ready batches of the partitions whose broker has nothing under way. Processing blocks
//! while `buffer.memory` bytes wait unsent, as Kafka's `send()` blocks on a full buffer.
//!
//! Not modelled: `linger.ms` (a partial batch waits for the flush; Streams' default linger of
//! 100 ms is the talk's commit interval).
//!
//! The history: a record is on the wire before its transaction (or at-least-once cycle) ends,
//! and the instance may crash before it does, so the collector keeps the history steps
//! (polls, sends) handed over with the records for the sender to record on the cycle's invoke
//! before it sends them (`take_unrecorded`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use checker::history::TxnStep;
use tokio::sync::Notify;

use crate::protocol::TopicPartition;

/// Kafka's `buffer.memory` default, bytes.
pub const DEFAULT_BUFFER_BYTES: u64 = 32 * 1024 * 1024;

/// A producer's batching limits in records (`batch.size` and `buffer.memory` over the size
/// of one record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// Records that fill a batch (at least 1).
    pub batch_records: usize,
    /// Unsent records at which processing blocks (at least one batch).
    pub buffer_records: usize,
}

impl BatchLimits {
    /// Limits for `batch_bytes` batches and a `buffer_bytes` buffer of `record_bytes`
    /// records (a record of 0 bytes counts as 1).
    pub fn new(batch_bytes: u64, buffer_bytes: u64, record_bytes: u64) -> Self {
        let record_bytes = record_bytes.max(1);
        let batch_records = (batch_bytes / record_bytes).max(1) as usize;
        let buffer_records = ((buffer_bytes / record_bytes) as usize).max(batch_records);
        Self {
            batch_records,
            buffer_records,
        }
    }
}

/// One partition's batch: the indices of its records (in hand-over order) and their values.
pub struct Batch {
    pub tp: TopicPartition,
    indices: Vec<usize>,
    pub values: Vec<u64>,
}

/// The batches taken together: at most one per partition.
pub struct Round {
    pub batches: Vec<Batch>,
}

#[derive(Default)]
struct Pending {
    /// Per partition, the indices of the records not yet sent, in hand-over order.
    unsent: BTreeMap<TopicPartition, VecDeque<(usize, u64)>>,
    unsent_records: usize,
    handed_over: usize,
    /// Per handed-over record, its offset once acknowledged.
    acked: Vec<Option<u64>>,
    /// Processing is over: flush what is left.
    closed: bool,
    /// The sender gave up (a transaction's send failed): nothing more is sent.
    stopped: bool,
    /// History steps (polls, sends) handed over and not yet recorded on the invoke.
    unrecorded: Vec<TxnStep>,
}

/// One producer's records of a commit interval, between processing and the sender.
pub struct RecordCollector {
    limits: BatchLimits,
    pending: Mutex<Pending>,
    notify: Notify,
}

impl RecordCollector {
    pub fn new(limits: BatchLimits) -> Self {
        Self {
            limits,
            pending: Mutex::default(),
            notify: Notify::new(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().expect("record collector lock")
    }

    /// Hands records (partition, value) to the producer, in processing order, with the
    /// history steps that made them (`steps`: polls and sends since the last hand-over).
    pub fn hand_over<'a>(
        &self,
        records: impl IntoIterator<Item = (&'a TopicPartition, u64)>,
        steps: impl IntoIterator<Item = TxnStep>,
    ) {
        let mut pending = self.pending();
        assert!(!pending.closed, "a record handed over after the flush");
        pending.unrecorded.extend(steps);
        for (tp, value) in records {
            let index = pending.handed_over;
            pending.handed_over += 1;
            pending.acked.push(None);
            if pending.stopped {
                continue; // the transaction is lost already: Kafka's send() would throw
            }
            pending
                .unsent
                .entry(tp.clone())
                .or_default()
                .push_back((index, value));
            pending.unsent_records += 1;
        }
        drop(pending);
        self.notify.notify_waiters();
    }

    /// The history steps handed over since the last call.
    pub(crate) fn take_unrecorded(&self) -> Vec<TxnStep> {
        std::mem::take(&mut self.pending().unrecorded)
    }

    /// Processing is over: the sender flushes what is left, then ends.
    pub fn close(&self) {
        self.pending().closed = true;
        self.notify.notify_waiters();
    }

    /// Waits while the buffer is full (`buffer.memory`), as Kafka's `send()` blocks.
    pub async fn wait_for_room(&self) {
        loop {
            let notified = self.notify.notified();
            {
                let pending = self.pending();
                if pending.stopped || pending.unsent_records < self.limits.buffer_records {
                    return;
                }
            }
            notified.await;
        }
    }

    /// A notification of the next change (records handed over, the collector closed or
    /// stopped): create it before looking, so no change between the look and the wait is
    /// missed.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    /// The batches ready now among the partitions `idle` admits (their broker's lane has
    /// nothing under way): a full one from each, every partial one once closed or while the
    /// buffer is exhausted.
    pub(crate) fn try_round(&self, idle: impl Fn(&TopicPartition) -> bool) -> Option<Round> {
        let round = self.take_round(&mut self.pending(), idle)?;
        self.notify.notify_waiters(); // room in the buffer
        Some(round)
    }

    /// Whether nothing is left to send: closed and empty, or stopped.
    pub(crate) fn is_finished(&self) -> bool {
        let pending = self.pending();
        pending.stopped || (pending.closed && pending.unsent_records == 0)
    }

    /// Takes a batch from every partition with a full one — from every partition with any
    /// once closed, or while the buffer is full: Kafka's accumulator counts every batch ready
    /// while a `send()` waits for memory (`RecordAccumulator.ready`'s `exhausted`), or a
    /// full buffer of partial batches would wait for ever.
    fn take_round(
        &self,
        pending: &mut Pending,
        idle: impl Fn(&TopicPartition) -> bool,
    ) -> Option<Round> {
        let full = self.limits.batch_records;
        let closed = pending.closed || pending.unsent_records >= self.limits.buffer_records;
        let mut batches = Vec::new();
        let mut taken = 0;
        for (tp, unsent) in pending.unsent.iter_mut() {
            let ready = unsent.len() >= full || (closed && !unsent.is_empty());
            if ready && idle(tp) {
                let n = unsent.len().min(full);
                let (indices, values) = unsent.drain(..n).unzip();
                batches.push(Batch {
                    tp: tp.clone(),
                    indices,
                    values,
                });
                taken += n;
            }
        }
        pending.unsent_records -= taken;
        (!batches.is_empty()).then_some(Round { batches })
    }

    /// A batch was appended at first offset `base`.
    pub(crate) fn acked(&self, batch: &Batch, base: u64) {
        let mut pending = self.pending();
        for (k, &i) in batch.indices.iter().enumerate() {
            pending.acked[i] = Some(base + k as u64);
        }
    }

    /// The sender gives up: what waits unsent is dropped, and processing no longer blocks.
    pub(crate) fn stop(&self) {
        let mut pending = self.pending();
        pending.stopped = true;
        pending.unsent.clear();
        pending.unsent_records = 0;
        drop(pending);
        self.notify.notify_waiters();
    }

    /// Each handed-over record's offset, once the sender has ended (`None`: not
    /// acknowledged).
    pub fn into_acked(self) -> Vec<Option<u64>> {
        self.pending
            .into_inner()
            .expect("record collector lock")
            .acked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: u32) -> TopicPartition {
        TopicPartition::new("out", p)
    }

    #[test]
    fn limits_count_records_of_the_record_size() {
        assert_eq!(
            BatchLimits::new(16_384, DEFAULT_BUFFER_BYTES, 100),
            BatchLimits {
                batch_records: 163,
                buffer_records: 335_544
            }
        );
        // A record larger than a batch still makes a batch; the buffer holds one at least.
        assert_eq!(
            BatchLimits::new(100, 10, 1_000),
            BatchLimits {
                batch_records: 1,
                buffer_records: 1
            }
        );
    }

    #[test]
    fn only_full_batches_leave_before_the_flush_then_every_partial_one() {
        let collector = RecordCollector::new(BatchLimits {
            batch_records: 2,
            buffer_records: 10,
        });
        collector.hand_over([(&tp(0), 10), (&tp(1), 20), (&tp(0), 11), (&tp(0), 12)], []);
        let mut pending = collector.pending();
        let round = collector
            .take_round(&mut pending, |_| true)
            .expect("partition 0 is full");
        assert_eq!(round.batches.len(), 1);
        assert_eq!(round.batches[0].indices, vec![0, 2]);
        assert_eq!(round.batches[0].values, vec![10, 11]);
        assert!(
            collector.take_round(&mut pending, |_| true).is_none(),
            "no batch is full"
        );
        pending.closed = true;
        assert!(
            collector.take_round(&mut pending, |_| false).is_none(),
            "no lane is idle"
        );
        let flush = collector
            .take_round(&mut pending, |_| true)
            .expect("the partial batches");
        let taken: Vec<Vec<u64>> = flush.batches.iter().map(|b| b.values.clone()).collect();
        assert_eq!(taken, vec![vec![12], vec![20]]);
        assert_eq!(pending.unsent_records, 0);
    }

    #[test]
    fn a_full_buffer_of_partial_batches_sends_them() {
        let collector = RecordCollector::new(BatchLimits {
            batch_records: 3,
            buffer_records: 4,
        });
        let partitions: Vec<TopicPartition> = (0..4).map(tp).collect();
        collector.hand_over(partitions.iter().map(|p| (p, 1)), []);
        let round = collector.take_round(&mut collector.pending(), |_| true);
        assert_eq!(round.expect("the buffer is exhausted").batches.len(), 4);
    }

    #[test]
    fn acknowledged_offsets_land_on_the_records_in_hand_over_order() {
        let collector = RecordCollector::new(BatchLimits {
            batch_records: 2,
            buffer_records: 10,
        });
        collector.hand_over([(&tp(0), 10), (&tp(1), 20), (&tp(0), 11)], []);
        collector.close();
        let round = collector
            .take_round(&mut collector.pending(), |_| true)
            .expect("a flush");
        collector.acked(&round.batches[0], 100);
        collector.acked(&round.batches[1], 7);
        assert_eq!(collector.into_acked(), vec![Some(100), Some(7), Some(101)]);
    }

    #[test]
    fn a_stopped_collector_drops_what_waits_and_what_comes() {
        let collector = RecordCollector::new(BatchLimits {
            batch_records: 5,
            buffer_records: 5,
        });
        collector.hand_over([(&tp(0), 10)], []);
        collector.stop();
        collector.hand_over([(&tp(0), 11)], []);
        assert_eq!(collector.pending().unsent_records, 0);
        assert_eq!(collector.into_acked(), vec![None, None]);
    }
}
