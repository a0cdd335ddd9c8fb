use super::*;
use crate::producer_state::AppendOrigin::Client;
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
    assert_eq!(p.fetch(1, 10).records, vec![(1, 11), (2, 12)]);
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
