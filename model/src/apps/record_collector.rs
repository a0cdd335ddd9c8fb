//! Background sending of a Streams producer's output, as Kafka's producer sends: the records
//! handed to the producer collect per partition (its `RecordAccumulator`); a partition's batch
//! leaves once it holds `batch.size` bytes, while processing goes on, and whatever is left
//! leaves at the commit's flush. Requests go in rounds: at most one batch per partition in a
//! round, and the next round only once every answer of the previous one is in — the talk's
//! `max.in.flight.requests.per.connection = 1`. (Kafka's `Sender` drains each broker's ready
//! batches into one request per broker connection; here a partition's batch is its own
//! request, and a round waits for its slowest broker.) Processing blocks while
//! `buffer.memory` bytes wait unsent, as Kafka's `send()` blocks on a full buffer.
//!
//! Not modelled: `linger.ms` (a partial batch waits for the flush; Streams' default linger of
//! 100 ms is the talk's commit interval).
//!
//! The history: a record is on the wire before its transaction (or at-least-once cycle) ends,
//! and the instance may crash before it does, so before each round the sender records what
//! processing has done since the last round (poll and send steps) on the cycle's invoke — the
//! first round records the invoke. A cycle cut short by a crash then still names every
//! record it may have written.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use checker::history::TxnStep;
use tokio::sync::Notify;

use crate::client::producer::send_batch_without_idempotence;
use crate::client::{ClientContext, TransactionalProducer, TxnError};
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

/// One round's batches: per partition, the indices of the records (in hand-over order) and
/// their values.
pub struct Round {
    batches: Vec<(TopicPartition, Vec<usize>, Vec<u64>)>,
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
    fn take_unrecorded(&self) -> Vec<TxnStep> {
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

    /// The next round to send: waits until a batch is full, or takes every partial batch
    /// once the collector is closed; `None` once it is closed and empty (or stopped).
    pub async fn next_round(&self) -> Option<Round> {
        loop {
            let notified = self.notify.notified();
            {
                let mut pending = self.pending();
                if pending.stopped || (pending.closed && pending.unsent_records == 0) {
                    return None;
                }
                if let Some(round) = self.take_round(&mut pending) {
                    drop(pending);
                    self.notify.notify_waiters(); // room in the buffer
                    return Some(round);
                }
            }
            notified.await;
        }
    }

    /// Takes a batch from every partition with a full one — from every partition with any
    /// once closed, or while the buffer is full: Kafka's accumulator counts every batch ready
    /// while a `send()` waits for memory (`RecordAccumulator.ready`'s `exhausted`), or a
    /// full buffer of partial batches would wait for ever.
    fn take_round(&self, pending: &mut Pending) -> Option<Round> {
        let full = self.limits.batch_records;
        let closed = pending.closed || pending.unsent_records >= self.limits.buffer_records;
        let mut batches = Vec::new();
        let mut taken = 0;
        for (tp, unsent) in pending.unsent.iter_mut() {
            if unsent.len() >= full || (closed && !unsent.is_empty()) {
                let n = unsent.len().min(full);
                let (indices, values) = unsent.drain(..n).unzip();
                batches.push((tp.clone(), indices, values));
                taken += n;
            }
        }
        pending.unsent_records -= taken;
        (!batches.is_empty()).then_some(Round { batches })
    }

    /// A round's answers, one per batch: its first offset where acknowledged.
    fn acked(&self, round: &Round, bases: &[Option<u64>]) {
        assert_eq!(round.batches.len(), bases.len(), "an answer per batch");
        let mut pending = self.pending();
        for ((_, indices, _), base) in round.batches.iter().zip(bases) {
            if let Some(base) = base {
                for (k, &i) in indices.iter().enumerate() {
                    pending.acked[i] = Some(base + k as u64);
                }
            }
        }
    }

    /// The sender gives up: what waits unsent is dropped, and processing no longer blocks.
    fn stop(&self) {
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

/// Sends a transaction's records in the background until the collector is closed and empty.
/// Before each round, `record` gets the history steps not yet recorded (the first call
/// records the invoke), and before the first the transaction begins; after each round,
/// `written` gets each partition's end offset. The first failed round ends it (the
/// transaction is then abortable, or the producer fenced).
pub async fn send_transactional(
    collector: &RecordCollector,
    producer: &mut TransactionalProducer,
    mut record: impl FnMut(Vec<TxnStep>),
    mut written: impl FnMut(&TopicPartition, u64),
) -> Result<(), TxnError> {
    let mut first = true;
    while let Some(round) = collector.next_round().await {
        record(collector.take_unrecorded());
        if std::mem::take(&mut first)
            && let Err(e) = producer.begin_transaction()
        {
            collector.stop();
            return Err(e);
        }
        let requests: Vec<(&TopicPartition, &[u64])> = round
            .batches
            .iter()
            .map(|(tp, _, values)| (tp, values.as_slice()))
            .collect();
        match producer.send_batches(&requests).await {
            Ok(bases) => {
                let answers: Vec<Option<u64>> = bases.iter().copied().map(Some).collect();
                collector.acked(&round, &answers);
                for ((tp, indices, _), base) in round.batches.iter().zip(bases) {
                    written(tp, base + indices.len() as u64);
                }
            }
            Err(e) => {
                collector.stop();
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Sends at-least-once records (no idempotence, retried until acknowledged or timed out) in
/// the background until the collector is closed and empty; before each round `record` gets
/// the history steps not yet recorded (the first call records the invoke). A batch that
/// fails does not stop the others; the last failure is returned.
pub async fn send_plain(
    collector: &RecordCollector,
    ctx: &ClientContext,
    request_timeout_ms: u64,
    mut record: impl FnMut(Vec<TxnStep>),
) -> Result<(), String> {
    let mut failed = None;
    while let Some(round) = collector.next_round().await {
        record(collector.take_unrecorded());
        let calls = round.batches.iter().map(|(tp, _, values)| {
            send_batch_without_idempotence(ctx, tp, values.clone(), request_timeout_ms)
        });
        let answers = futures_util::future::join_all(calls).await;
        let mut bases = Vec::with_capacity(answers.len());
        for answer in answers {
            bases.push(answer.map_err(|why| failed = Some(why)).ok());
        }
        collector.acked(&round, &bases);
    }
    failed.map_or(Ok(()), Err)
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
            .take_round(&mut pending)
            .expect("partition 0 is full");
        assert_eq!(round.batches.len(), 1);
        assert_eq!(round.batches[0].1, vec![0, 2]);
        assert_eq!(round.batches[0].2, vec![10, 11]);
        assert!(
            collector.take_round(&mut pending).is_none(),
            "no batch is full"
        );
        pending.closed = true;
        let flush = collector
            .take_round(&mut pending)
            .expect("the partial batches");
        let taken: Vec<Vec<u64>> = flush.batches.iter().map(|b| b.2.clone()).collect();
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
        let round = collector.take_round(&mut collector.pending());
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
            .take_round(&mut collector.pending())
            .expect("a flush");
        collector.acked(&round, &[Some(100), Some(7)]);
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
