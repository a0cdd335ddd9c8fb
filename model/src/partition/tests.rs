use super::*;
use crate::producer_state::AppendOrigin::{Client, Replication};
use proptest::prelude::*;

fn batch(pid: i64, epoch: i16, seq: i32, values: &[u64]) -> RecordBatch {
    RecordBatch {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        values: values.into(),
        transactional: false,
    }
}

fn open(log: &Arc<DurableLog<StoredBatch>>) -> Partition {
    Partition::open(
        TopicPartition::new("t", 0),
        log.clone(),
        PartitionConfig::default(),
    )
}

#[test]
fn duplicate_returns_original_offsets_and_appends_nothing() {
    let log = DurableLog::new();
    let mut p = open(&log);
    assert_eq!(
        p.append(&batch(1, 0, 0, &[10, 11]), Client),
        Ok(ProduceOk {
            base_offset: 0,
            duplicate: false
        })
    );
    assert_eq!(
        p.append(&batch(1, 0, 2, &[12]), Client),
        Ok(ProduceOk {
            base_offset: 2,
            duplicate: false
        })
    );
    assert_eq!(
        p.append(&batch(1, 0, 0, &[10, 11]), Client),
        Ok(ProduceOk {
            base_offset: 0,
            duplicate: true
        })
    );
    assert_eq!(p.log_end_offset(), 3);
    // Whole batches: the batch holding offset 1 comes back from its base offset 0.
    assert_eq!(p.fetch(1, 10).records, vec![(0, 10), (1, 11), (2, 12)]);
}

#[test]
fn u10_a_follower_appends_duplicates_from_several_producers() {
    // Kafka: testMultipleProducersWithDuplicatesInSingleAppend. Kafka appends the five
    // batches in one call; this partition appends a batch per call, with the same outcome.
    let log = DurableLog::new();
    let mut p = open(&log);
    let batches = [(1, 0), (2, 0), (1, 1), (2, 1), (1, 1)];
    for (i, (pid, seq)) in batches.into_iter().enumerate() {
        assert_eq!(
            p.append(&batch(pid, 0, seq, &[i as u64]), Replication),
            Ok(ProduceOk {
                base_offset: i as u64,
                duplicate: false
            }),
            "batch {i}: pid {pid} seq {seq}"
        );
    }
    assert_eq!(p.log_end_offset(), 5);
}

#[test]
fn producer_state_survives_a_restart_through_the_log() {
    let log = DurableLog::new();
    let mut p = open(&log);
    p.append(&batch(1, 0, 0, &[10]), Client).unwrap();
    p.sync();
    let mut reopened = open(&log);
    assert_eq!(
        reopened.append(&batch(1, 0, 0, &[10]), Client),
        Ok(ProduceOk {
            base_offset: 0,
            duplicate: true
        })
    );
    assert_eq!(
        reopened.append(&batch(1, 0, 2, &[12]), Client),
        Err(KafkaError::OutOfOrderSequence)
    );
}

#[test]
fn without_idempotence_checks_every_batch_is_appended() {
    let log = DurableLog::new();
    let config = PartitionConfig {
        idempotence_checks: false,
        ..Default::default()
    };
    let mut p = Partition::open(TopicPartition::new("t", 0), log, config);
    p.append(&batch(1, 0, 0, &[10]), Client).unwrap();
    assert_eq!(
        p.append(&batch(1, 0, 0, &[10]), Client),
        Ok(ProduceOk {
            base_offset: 1,
            duplicate: false
        })
    );
}

#[test]
fn fetch_respects_offset_and_limit() {
    let log = DurableLog::new();
    let mut p = open(&log);
    for v in 0..10u64 {
        p.append(&batch(-1, -1, -1, &[v]), Client).unwrap();
    }
    let got = p.fetch(4, 3);
    assert_eq!(got.records, vec![(4, 4), (5, 5), (6, 6)]);
    assert_eq!(got.high_watermark, 10);
    assert!(p.fetch(10, 3).records.is_empty());
}

/// Kafka's broker reads the log in whole batches: a fetch from inside a batch gets the
/// batch from its base offset (the consumer drops what lies below its position), and the
/// batch that reaches `max_records` is returned whole.
#[test]
fn fetch_answers_with_whole_batches() {
    let log = DurableLog::new();
    let mut p = open(&log);
    p.append(&batch(-1, -1, -1, &[10, 11, 12, 13]), Client)
        .unwrap();
    p.append(&batch(-1, -1, -1, &[14, 15, 16]), Client).unwrap();
    p.append(&batch(-1, -1, -1, &[17]), Client).unwrap();
    let offsets = |f: crate::protocol::FetchOk| f.records.iter().map(|r| r.0).collect::<Vec<_>>();
    // From inside the first batch: all of it, then the second, whose records reach 3.
    assert_eq!(offsets(p.fetch(2, 3)), vec![0, 1, 2, 3, 4, 5, 6]);
    // Two records at or above offset 2 are in the first batch already.
    assert_eq!(offsets(p.fetch(2, 2)), vec![0, 1, 2, 3]);
    // From a batch's base offset nothing below it comes back.
    assert_eq!(offsets(p.fetch(4, 1)), vec![4, 5, 6]);
    assert_eq!(offsets(p.fetch(7, 5)), vec![7]);
    assert!(p.fetch(8, 5).records.is_empty());
    assert!(p.fetch(2, 0).records.is_empty(), "nothing is asked for");
}

/// What a test producer does next.
#[derive(Clone, Debug)]
enum Step {
    /// Send the next new batch of 1–3 records.
    New(u8),
    /// Resend the k-th most recent batch of the current epoch (a retry or duplicate delivery).
    Retry(u8),
    /// Bump the epoch: the next batch starts at sequence 0.
    BumpEpoch,
    /// A zombie send with an epoch older than the current.
    Stale,
    /// The broker restarts: the partition is rebuilt from its log.
    Restart,
    /// Send a batch that skips one sequence number.
    Gap,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u8..4).prop_map(Step::New),
        3 => (0u8..8).prop_map(Step::Retry),
        1 => Just(Step::BumpEpoch),
        1 => Just(Step::Stale),
        1 => Just(Step::Restart),
        1 => Just(Step::Gap),
    ]
}

proptest! {
    /// Random sends, retries, duplicate deliveries, epoch bumps, zombie sends and restarts
    /// against a reference model: never a duplicate append, never a gap accepted, a retry of
    /// one of the last five batches always answered with its original offset.
    #[test]
    fn broker_producer_state_against_reference(steps in proptest::collection::vec(step(), 1..60)) {
        let log = DurableLog::new();
        let mut p = open(&log);
        let mut epoch: i16 = 0;
        let mut next_seq: i32 = 0;
        let mut next_value: u64 = 0;
        // Batches of the current epoch that were appended: (seq, values, base offset).
        let mut sent: Vec<(i32, Vec<u64>, u64)> = Vec::new();
        for s in steps {
            match s {
                Step::New(n) => {
                    let values: Vec<u64> = (0..n as u64).map(|i| next_value + i).collect();
                    next_value += n as u64;
                    let before = p.log_end_offset();
                    let r = p.append(&batch(7, epoch, next_seq, &values), Client);
                    prop_assert_eq!(r, Ok(ProduceOk { base_offset: before, duplicate: false }), "the next sequence is accepted");
                    sent.push((next_seq, values, before));
                    next_seq += n as i32;
                }
                Step::Retry(k) => {
                    let Some(idx) = sent.len().checked_sub(1 + k as usize) else { continue };
                    let (seq, values, offset) = sent[idx].clone();
                    let before = p.log_end_offset();
                    let r = p.append(&batch(7, epoch, seq, &values), Client);
                    prop_assert_eq!(p.log_end_offset(), before, "a retry never appends");
                    if (k as usize) < NUM_BATCHES_TO_RETAIN {
                        prop_assert_eq!(r, Ok(ProduceOk { base_offset: offset, duplicate: true }));
                    } else {
                        prop_assert_eq!(r, Err(KafkaError::OutOfOrderSequence));
                    }
                }
                Step::BumpEpoch => {
                    epoch += 1;
                    next_seq = 0;
                    sent.clear();
                }
                Step::Stale => {
                    // A bumped epoch that nothing was appended with yet is unknown to the
                    // broker: then the older epoch is still the broker's current one.
                    if epoch == 0 || sent.is_empty() { continue; }
                    let before = p.log_end_offset();
                    let r = p.append(&batch(7, epoch - 1, 0, &[999_999]), Client);
                    prop_assert_eq!(r, Err(KafkaError::InvalidProducerEpoch));
                    prop_assert_eq!(p.log_end_offset(), before);
                }
                Step::Restart => {
                    p.sync();
                    p = open(&log);
                }
                Step::Gap => {
                    if sent.is_empty() { continue; }
                    let before = p.log_end_offset();
                    let r = p.append(&batch(7, epoch, next_seq + 1, &[next_value]), Client);
                    prop_assert_eq!(r, Err(KafkaError::OutOfOrderSequence));
                    prop_assert_eq!(p.log_end_offset(), before);
                }
            }
        }
        // Every value the producer meant to write is in the log exactly once.
        let mut values: Vec<u64> = Partition::dump(&log).into_iter().map(|(_, v, _)| v).collect();
        let n = values.len();
        values.sort();
        values.dedup();
        prop_assert_eq!(values.len(), n, "no value appended twice");
        prop_assert_eq!(values, (0..next_value).collect::<Vec<_>>());
    }
}

// ---- Transactions: UnifiedLogTest (U11–U17), P22, read_committed, recovery ----

use crate::protocol::{IsolationLevel, TransactionVersion, TxnMarker, TxnResult};
use IsolationLevel::{ReadCommitted, ReadUncommitted};

fn txn_batch(pid: i64, epoch: i16, seq: i32, values: &[u64]) -> RecordBatch {
    RecordBatch {
        transactional: true,
        ..batch(pid, epoch, seq, values)
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

/// A partition whose high watermark moves only when the test says so.
fn open_manual_hw(log: &Arc<DurableLog<StoredBatch>>) -> Partition {
    let config = PartitionConfig {
        high_watermark_follows_log_end: false,
        ..Default::default()
    };
    Partition::open(TopicPartition::new("t", 0), log.clone(), config)
}

/// A test producer: appends consecutive records with its own sequence numbers.
struct TestProducer {
    pid: i64,
    epoch: i16,
    next_seq: i32,
    next_value: u64,
}

impl TestProducer {
    fn new(pid: i64, epoch: i16) -> Self {
        Self {
            pid,
            epoch,
            next_seq: 0,
            next_value: pid as u64 * 1_000_000,
        }
    }

    fn send(&mut self, p: &mut Partition, records: u64, transactional: bool) -> u64 {
        let values: Vec<u64> = (self.next_value..self.next_value + records).collect();
        let b = RecordBatch {
            transactional,
            ..batch(self.pid, self.epoch, self.next_seq, &values)
        };
        let ok = p
            .append(&b, Client)
            .expect("the test producer's append is valid");
        self.next_seq += records as i32;
        self.next_value += records;
        ok.base_offset
    }

    fn txn(&mut self, p: &mut Partition, records: u64) -> u64 {
        self.send(p, records, true)
    }

    fn end(&self, p: &mut Partition, result: TxnResult) -> u64 {
        p.append_marker(&marker(self.pid, self.epoch, result, 0), Client)
            .expect("the marker is valid")
    }
}

/// Appends `records` records without a producer id.
fn plain(p: &mut Partition, records: u64) {
    let values: Vec<u64> = (0..records).map(|i| 900_000_000 + i).collect();
    p.append(&batch(-1, -1, -1, &values), Client).unwrap();
}

fn has_data(p: &Partition, offset: u64) -> bool {
    !p.fetch_isolated(offset, 1000, ReadCommitted)
        .records
        .is_empty()
}

#[test]
fn u11_no_transactional_data_no_unstable_offset() {
    let log = DurableLog::new();
    let mut p = open_manual_hw(&log);
    plain(&mut p, 3);
    assert_eq!(p.first_unstable_offset(), None);
}

#[test]
fn u12_first_unstable_offset_with_transactional_data() {
    let log = DurableLog::new();
    let mut p = open_manual_hw(&log);
    let mut producer = TestProducer::new(137, 5);
    producer.txn(&mut p, 3);
    assert_eq!(p.first_unstable_offset(), Some(0));
    producer.txn(&mut p, 3);
    assert_eq!(p.first_unstable_offset(), Some(0));
    let marker_offset = producer.end(&mut p, TxnResult::Commit);
    assert_eq!(p.first_unstable_offset(), Some(0));
    p.set_high_watermark(marker_offset);
    assert_eq!(
        p.first_unstable_offset(),
        Some(0),
        "HW not yet past the marker"
    );
    p.set_high_watermark(marker_offset + 1);
    assert_eq!(p.first_unstable_offset(), None);
}

#[test]
fn u13_last_stable_offset_with_mixed_producer_data() {
    let log = DurableLog::new();
    let mut p = open_manual_hw(&log);
    let (mut p1, mut p2) = (TestProducer::new(1, 0), TestProducer::new(2, 0));
    p1.txn(&mut p, 3);
    plain(&mut p, 3);
    p2.txn(&mut p, 3);
    assert_eq!(p.first_unstable_offset(), Some(0));
    p1.end(&mut p, TxnResult::Abort);
    p.set_high_watermark(p.log_end_offset());
    assert_eq!(p.first_unstable_offset(), Some(6));
    p2.end(&mut p, TxnResult::Commit);
    p.set_high_watermark(p.log_end_offset());
    assert_eq!(p.first_unstable_offset(), None);
}

#[test]
fn u14_fetch_up_to_last_stable_offset() {
    let log = DurableLog::new();
    let mut p = open_manual_hw(&log);
    let (mut p1, mut p2) = (TestProducer::new(1, 0), TestProducer::new(2, 0));
    p1.txn(&mut p, 5); // 0-4
    plain(&mut p, 3); // 5-7
    p2.txn(&mut p, 2); // 8-9
    p1.txn(&mut p, 4); // 10-13
    plain(&mut p, 2); // 14-15
    p1.txn(&mut p, 10); // 16-25
    assert_eq!(p1.end(&mut p, TxnResult::Commit), 26);
    assert_eq!(p.last_stable_offset(), 0, "the HW has not moved");
    p.set_high_watermark(p.log_end_offset());
    assert_eq!(p.last_stable_offset(), 8);
    for offset in 0..8 {
        assert!(has_data(&p, offset), "data below the LSO at {offset}");
    }
    for offset in 8..27 {
        assert!(
            !has_data(&p, offset),
            "nothing at or past the LSO ({offset})"
        );
    }
    assert_eq!(p2.end(&mut p, TxnResult::Abort), 27);
    assert_eq!(
        p.last_stable_offset(),
        8,
        "the ABORT is not yet below the HW"
    );
    p.set_high_watermark(p.log_end_offset());
    assert_eq!(p.last_stable_offset(), 28);
    // Kafka returns the control batch at 26-27 (the consumer drops it); here the partition
    // returns records only, so from 26 on a read_committed fetch is empty.
    for offset in 0..26 {
        assert!(has_data(&p, offset), "data below the LSO at {offset}");
    }
    let committed: Vec<u64> = p
        .fetch_isolated(0, 1000, ReadCommitted)
        .records
        .iter()
        .map(|&(o, _)| o)
        .collect();
    let expected: Vec<u64> = (0..8).chain(10..26).collect();
    assert_eq!(committed, expected, "p2's aborted 8-9 are filtered out");
    assert_eq!(p.fetch_isolated(0, 1000, ReadUncommitted).records.len(), 26);
}

/// Builds U15's log: four producers interleaved with plain data, two aborts, two commits.
fn u15_log(p: &mut Partition) {
    let mut producers: Vec<TestProducer> = (1..=4).map(|pid| TestProducer::new(pid, 0)).collect();
    let mut txn = |p: &mut Partition, index: usize, records| producers[index].txn(p, records);
    txn(p, 0, 5); // 0-4
    plain(p, 3); // 5-7
    txn(p, 1, 2); // 8-9
    txn(p, 0, 4); // 10-13
    txn(p, 2, 3); // 14-16
    plain(p, 2); // 17-18
    txn(p, 0, 10); // 19-28
    let end = |p: &mut Partition, pid: i64, result| {
        p.append_marker(&marker(pid, 0, result, 0), Client).unwrap()
    };
    assert_eq!(end(p, 1, TxnResult::Abort), 29);
    txn(p, 1, 6); // 30-35
    txn(p, 3, 3); // 36-38
    plain(p, 10); // 39-48
    txn(p, 2, 9); // 49-57
    assert_eq!(end(p, 3, TxnResult::Commit), 58);
    txn(p, 3, 8); // 59-66
    txn(p, 1, 7); // 67-73
    assert_eq!(end(p, 2, TxnResult::Abort), 74);
    plain(p, 10); // 75-84
    txn(p, 3, 4); // 85-88
    assert_eq!(end(p, 4, TxnResult::Commit), 89);
}

#[test]
fn u15_transaction_index_updated() {
    let log = DurableLog::new();
    let mut p = open_manual_hw(&log);
    u15_log(&mut p);
    let expected = vec![
        AbortedTxn {
            producer_id: 1,
            first_offset: 0,
            last_offset: 29,
            last_stable_offset: 8,
        },
        AbortedTxn {
            producer_id: 2,
            first_offset: 8,
            last_offset: 74,
            last_stable_offset: 36,
        },
    ];
    assert_eq!(p.aborted_transactions(), expected.as_slice());
    p.set_high_watermark(30);
    assert_eq!(p.first_unstable_offset(), Some(8));
    p.set_high_watermark(75);
    assert_eq!(p.first_unstable_offset(), Some(36));
    p.set_high_watermark(p.log_end_offset());
    assert_eq!(p.first_unstable_offset(), None);
    // Recovery rebuilds the same index.
    p.sync();
    let reopened = open_manual_hw(&log);
    assert_eq!(reopened.aborted_transactions(), expected.as_slice());
    assert_eq!(reopened.first_unstable_offset(), None);
}

#[test]
fn u16_zombie_coordinator_fenced() {
    for with_data in [true, false] {
        let log = DurableLog::new();
        let mut p = open(&log);
        let mut producer = TestProducer::new(1, 0);
        let mut end = |p: &mut Partition, result, coordinator_epoch| {
            if with_data {
                producer.txn(p, 1);
            }
            p.append_marker(&marker(1, 0, result, coordinator_epoch), Client)
        };
        assert!(end(&mut p, TxnResult::Abort, 1).is_ok());
        assert!(end(&mut p, TxnResult::Commit, 2).is_ok());
        assert_eq!(
            end(&mut p, TxnResult::Commit, 1),
            Err(KafkaError::TransactionCoordinatorFenced),
            "with data: {with_data}"
        );
    }
}

#[test]
fn u17_end_txn_with_fenced_producer_epoch() {
    let log = DurableLog::new();
    let mut p = open(&log);
    p.append_marker(&marker(1, 5, TxnResult::Abort, 0), Client)
        .unwrap();
    let end = p.log_end_offset();
    assert_eq!(
        p.append_marker(&marker(1, 4, TxnResult::Abort, 0), Client),
        Err(KafkaError::InvalidProducerEpoch)
    );
    assert_eq!(p.log_end_offset(), end, "a rejected marker is not appended");
}

#[test]
fn p22_markers_on_empty_transactions_complete_nothing() {
    let log = DurableLog::new();
    let mut p = open_manual_hw(&log);
    plain(&mut p, 16); // 0-15
    let mut producer = TestProducer::new(1, 0);
    producer.txn(&mut p, 5); // 16-20
    assert_eq!(producer.end(&mut p, TxnResult::Commit), 21);
    assert_eq!(producer.end(&mut p, TxnResult::Commit), 22);
    assert_eq!(producer.end(&mut p, TxnResult::Abort), 23);
    producer.txn(&mut p, 4); // 24-27
    assert_eq!(producer.end(&mut p, TxnResult::Abort), 28);
    assert_eq!(producer.end(&mut p, TxnResult::Abort), 29);
    producer.txn(&mut p, 2); // 30-31
    let aborted: Vec<(u64, u64)> = p
        .aborted_transactions()
        .iter()
        .map(|a| (a.first_offset, a.last_offset))
        .collect();
    assert_eq!(
        aborted,
        vec![(24, 28)],
        "only the non-empty abort is indexed"
    );
    p.set_high_watermark(32);
    assert_eq!(p.first_unstable_offset(), Some(30));
}

#[test]
fn p15_non_transactional_append_during_open_transaction_is_rejected() {
    let log = DurableLog::new();
    let mut p = open(&log);
    p.append(&txn_batch(1, 0, 0, &[10]), Client).unwrap();
    assert_eq!(
        p.append(&batch(1, 0, 1, &[11]), Client),
        Err(KafkaError::InvalidTxnState)
    );
    assert_eq!(p.log_end_offset(), 1);
}

#[test]
fn read_committed_with_concurrent_high_watermark_updates() {
    // A transaction is written and aborted while the high watermark catches up at every
    // possible point in between: a read_committed reader never sees its data.
    for hw_moves_after_step in 0..4 {
        let log = DurableLog::new();
        let mut p = open_manual_hw(&log);
        let mut producer = TestProducer::new(1, 0);
        let mut non_empty_reads = 0;
        for step in 0..4 {
            match step {
                0 | 1 => {
                    producer.txn(&mut p, 2);
                }
                2 => {
                    producer.end(&mut p, TxnResult::Abort);
                }
                _ => {}
            }
            if step >= hw_moves_after_step {
                p.set_high_watermark(p.log_end_offset());
            }
            non_empty_reads += usize::from(has_data(&p, 0));
        }
        assert_eq!(
            non_empty_reads, 0,
            "HW moves after step {hw_moves_after_step}"
        );
        assert_eq!(p.fetch_isolated(0, 10, ReadUncommitted).high_watermark, 5);
    }
}

#[test]
fn reopen_mid_transaction_and_after_markers() {
    let log = DurableLog::new();
    let mut p = open(&log);
    plain(&mut p, 2); // 0-1
    p.append(&txn_batch(1, 0, 0, &[10, 11]), Client).unwrap(); // 2-3
    p.sync();

    // Mid-transaction: the transaction is open again after the restart.
    let mut p = open(&log);
    assert_eq!(p.producer(1).unwrap().current_txn_first_offset, Some(2));
    assert_eq!(p.last_stable_offset(), 2);
    assert_eq!(p.fetch_isolated(0, 10, ReadCommitted).records.len(), 2);
    assert_eq!(
        p.append(&batch(1, 0, 2, &[12]), Client),
        Err(KafkaError::InvalidTxnState),
        "still inside the transaction"
    );
    p.append(&txn_batch(1, 0, 2, &[12]), Client).unwrap(); // 4
    p.append_marker(&marker(1, 0, TxnResult::Commit, 3), Client)
        .unwrap(); // 5
    p.append(&txn_batch(1, 0, 3, &[13]), Client).unwrap(); // 6
    p.append_marker(&marker(1, 0, TxnResult::Abort, 3), Client)
        .unwrap(); // 7
    p.sync();

    // After markers: decided, indexed, and the coordinator epoch remembered.
    let mut p = open(&log);
    assert_eq!(p.producer(1).unwrap().current_txn_first_offset, None);
    assert_eq!(p.last_stable_offset(), 8);
    let values: Vec<u64> = p
        .fetch_isolated(0, 10, ReadCommitted)
        .records
        .iter()
        .map(|&(_, v)| v)
        .collect();
    assert_eq!(values, vec![900_000_000, 900_000_001, 10, 11, 12]);
    assert_eq!(p.aborted_transactions().len(), 1);
    assert_eq!(
        p.append_marker(&marker(1, 0, TxnResult::Commit, 2), Client),
        Err(KafkaError::TransactionCoordinatorFenced),
        "[P23] after reload"
    );
    assert_eq!(
        p.append(&txn_batch(1, 0, 4, &[14]), Client)
            .map(|ok| ok.base_offset),
        Ok(8),
        "the sequence continues after the reload"
    );
}

fn marker_v2(pid: i64, epoch: i16, result: TxnResult) -> TxnMarker {
    TxnMarker {
        transaction_version: TransactionVersion::V2,
        ..marker(pid, epoch, result, 0)
    }
}

/// TV2 (KIP-890 part 2): transaction 1 wrote at epoch 0 and ended with markers at epoch 1;
/// transaction 2 writes at epoch 1. A late copy of transaction 1's COMMIT (epoch 1) must not
/// end transaction 2 — the stale marker of eos-test seed 633. Under TV1 the same marker is
/// taken (KAFKA-17754's window, the `no-txn-epoch-bump` variant).
#[test]
fn a_stale_tv2_marker_cannot_end_the_next_transaction() {
    for version in [TransactionVersion::V1, TransactionVersion::V2] {
        let log = DurableLog::new();
        let mut p = open(&log);
        p.append(&txn_batch(1, 0, 0, &[10]), Client).unwrap();
        let commit = TxnMarker {
            transaction_version: version,
            ..marker(1, 1, TxnResult::Commit, 0)
        };
        p.append_marker(&commit, Client).unwrap();
        p.append(&txn_batch(1, 1, 0, &[11]), Client).unwrap();
        let late = p.append_marker(&commit, Client);
        match version {
            TransactionVersion::V2 => {
                assert_eq!(late, Err(KafkaError::InvalidProducerEpoch));
                assert_eq!(
                    p.first_unstable_offset(),
                    Some(2),
                    "transaction 2 still open"
                );
            }
            TransactionVersion::V1 => {
                assert!(late.is_ok(), "TV1 cannot tell the stale marker apart");
                assert_eq!(p.first_unstable_offset(), None);
            }
        }
    }
}

/// TV2: the marker of the transaction that wrote at epoch E carries E + 1 and is taken; a
/// retry of it (coordinator restart) is refused as stale, which the coordinator counts as
/// written.
#[test]
fn a_tv2_marker_must_exceed_the_data_epoch_and_its_retry_is_refused() {
    let log = DurableLog::new();
    let mut p = open(&log);
    p.append(&txn_batch(1, 3, 0, &[10]), Client).unwrap();
    assert_eq!(
        p.append_marker(&marker_v2(1, 3, TxnResult::Commit), Client),
        Err(KafkaError::InvalidProducerEpoch),
        "a TV2 marker at the data's own epoch is stale"
    );
    assert!(
        p.append_marker(&marker_v2(1, 4, TxnResult::Commit), Client)
            .is_ok()
    );
    assert_eq!(
        p.append_marker(&marker_v2(1, 4, TxnResult::Commit), Client),
        Err(KafkaError::InvalidProducerEpoch)
    );
    assert_eq!(p.first_unstable_offset(), None);
}

/// Kafka 4.5 (KAFKA-15591, apache/kafka PR 23234): a partition whose log never held a
/// record accepts only sequence 0 from a producer it has no state for; one that holds
/// records still accepts any first sequence (state may have expired). The variant
/// `accept-any-first-sequence` restores the old behaviour, under which a batch that
/// overtook a failed first one is appended and the first one's retry is out of order.
#[test]
fn a_never_written_partition_takes_only_sequence_zero_from_an_unknown_producer() {
    let log = DurableLog::new();
    let mut p = open(&log);
    assert_eq!(
        p.append(&batch(1, 0, 5, &[15]), Client),
        Err(KafkaError::OutOfOrderSequence)
    );
    assert_eq!(p.log_end_offset(), 0);
    p.append(&batch(1, 0, 0, &[10]), Client).unwrap();
    assert!(
        p.append(&batch(2, 0, 7, &[27]), Client).is_ok(),
        "a written partition takes any first sequence from an unknown producer"
    );

    let log = DurableLog::new();
    let mut buggy = Partition::open(
        TopicPartition::new("t", 0),
        log.clone(),
        PartitionConfig {
            first_sequence_checked_on_new_partition: false,
            ..PartitionConfig::default()
        },
    );
    assert!(buggy.append(&batch(1, 0, 5, &[15]), Client).is_ok());
    assert_eq!(
        buggy.append(&batch(1, 0, 0, &[10]), Client),
        Err(KafkaError::OutOfOrderSequence),
        "the overtaken first batch can never be written: silent loss"
    );
}

/// The ground truth's statuses: a transactional record is decided by its producer's first
/// marker after it (other producers' markers do not count), open until then; a plain record
/// has none.
#[test]
fn dump_with_status_decides_each_record_by_its_producers_next_marker() {
    let log = DurableLog::new();
    let mut offset = 0;
    let mut put = |pid: i64, transactional: bool, values: &[u64], result: Option<TxnResult>| {
        let control = result.map(|result| ControlRecord {
            result,
            coordinator_epoch: 0,
        });
        let count = if control.is_some() {
            1
        } else {
            values.len() as u64
        };
        log.append(StoredBatch {
            base_offset: offset,
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: 0,
            values: values.into(),
            transactional: transactional || control.is_some(),
            control,
        });
        offset += count;
    };
    put(1, true, &[10, 11], None);
    put(2, false, &[20], None);
    put(2, true, &[21], None);
    put(1, false, &[], Some(TxnResult::Commit));
    put(3, true, &[30], None);
    put(1, true, &[12], None);
    put(2, false, &[], Some(TxnResult::Abort));
    put(1, false, &[], Some(TxnResult::Abort));
    put(2, true, &[22], None);
    let (commit, abort) = (Some(Some(TxnResult::Commit)), Some(Some(TxnResult::Abort)));
    assert_eq!(
        Partition::dump_with_status(&log),
        vec![
            (0, 10, 1, commit),
            (1, 11, 1, commit),
            (2, 20, 2, None),
            (3, 21, 2, abort),
            (5, 30, 3, Some(None)),
            (6, 12, 1, abort),
            (9, 22, 2, Some(None)),
        ]
    );
}
