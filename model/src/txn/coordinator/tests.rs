//! TransactionCoordinatorTest (C1–C30), the timeout sweep, and TransactionStateManagerTest
//! (S1–S14). Vectors that need a mechanism this synchronous, statically placed coordinator
//! lacks (failing log appends, loading and unloading, expiration) are ignored tests that
//! name it; ARCHITECTURE.md lists them.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};

use super::*;
use crate::protocol::NO_PRODUCER_EPOCH;
use crate::txn::metadata::MAX_PRODUCER_EPOCH;

const TXN: &str = "txn";
const PID: i64 = 10;
const TIMEOUT_MS: u64 = 1000;

fn tp(partition: u32) -> TopicPartition {
    TopicPartition::new("topic", partition)
}

/// Producer ids from a counter shared across restarts: never repeated.
fn counter(start: i64) -> (Arc<AtomicI64>, Box<dyn ProducerIdAllocator>) {
    let next = Arc::new(AtomicI64::new(start));
    let shared = next.clone();
    (
        next,
        Box::new(move || shared.fetch_add(1, Ordering::SeqCst)),
    )
}

fn coordinator(tv2: bool) -> TxnCoordinator {
    let config = TxnCoordinatorConfig {
        epoch_bump_per_txn: tv2,
        ..Default::default()
    };
    TxnCoordinator::open(DurableLog::new(), 7, config, counter(100).1).0
}

/// Installs metadata for `TXN` directly (Kafka's fixture: pid 10).
fn with_state(c: &mut TxnCoordinator, state: TxnState, epoch: i16, last_epoch: i16) {
    let mut m = TxnMetadata::new(Arc::from(TXN), PID, TIMEOUT_MS, 0)
        .with_max_producer_epoch(c.config.max_producer_epoch);
    m.state = state;
    m.producer_epoch = epoch;
    m.last_producer_epoch = last_epoch;
    if state == TxnState::Ongoing || state.is_prepare() {
        m.partitions = BTreeSet::from([tp(0)]);
        m.txn_start_ms = Some(0);
    }
    c.txns.insert(Arc::from(TXN), m);
}

fn state(c: &TxnCoordinator) -> (i64, i16, TxnState) {
    let m = c.metadata(TXN).unwrap();
    (m.producer_id, m.producer_epoch, m.state)
}

fn log_len(c: &TxnCoordinator) -> usize {
    c.log.len()
}

fn end(
    c: &mut TxnCoordinator,
    pid: i64,
    epoch: i16,
    result: TxnResult,
) -> Result<(i64, i16), KafkaError> {
    c.end_txn(TXN, pid, epoch, result, 10).result
}

fn init(c: &mut TxnCoordinator, expected: Option<(i64, i16)>) -> InitProducerIdOutcome {
    c.init_producer_id(Some(TXN), TIMEOUT_MS, expected, 10)
}

#[test]
fn c1_empty_transactional_id_is_invalid() {
    let mut c = coordinator(true);
    assert_eq!(
        c.init_producer_id(Some(""), TIMEOUT_MS, None, 0).result,
        Err(KafkaError::InvalidRequest)
    );
}

#[test]
fn c2_idempotent_init_always_gets_a_fresh_producer_id() {
    let mut c = coordinator(true);
    let first = c
        .init_producer_id(None, TIMEOUT_MS, None, 0)
        .result
        .unwrap();
    let second = c
        .init_producer_id(None, TIMEOUT_MS, None, 0)
        .result
        .unwrap();
    assert_eq!((first.1, second.1), (0, 0));
    assert_ne!(first.0, second.0);
    assert_eq!(
        log_len(&c),
        0,
        "nothing is logged without a transactional.id"
    );
}

#[test]
fn c3_c4_new_transactional_id_gets_a_fresh_producer_id_at_epoch_0() {
    let mut c = coordinator(true);
    assert_eq!(init(&mut c, None).result, Ok((100, 0)));
    let mut c = coordinator(true);
    assert_eq!(
        init(&mut c, Some((55, 3))).result,
        Ok((100, 0)),
        "[C4] expected ignored"
    );
}

#[test]
fn c5_exhausted_epoch_rotates_the_producer_id() {
    let mut c = coordinator(true);
    with_state(&mut c, TxnState::Empty, 32_766, NO_PRODUCER_EPOCH);
    let (pid, epoch) = init(&mut c, None).result.unwrap();
    assert_ne!(pid, PID);
    assert_eq!(epoch, 0);
}

#[test]
fn c7_add_partitions_to_unknown_or_empty_id() {
    let mut c = coordinator(true);
    assert_eq!(
        c.add_partitions(TXN, PID, 0, &[tp(0)], 0),
        Err(KafkaError::InvalidProducerIdMapping)
    );
    assert_eq!(
        c.add_partitions("", PID, 0, &[tp(0)], 0),
        Err(KafkaError::InvalidRequest)
    );
}

#[test]
fn c8_c9_add_partitions_while_preparing() {
    for prepare in [TxnState::PrepareCommit, TxnState::PrepareAbort] {
        let mut c = coordinator(true);
        with_state(&mut c, prepare, 10, 9);
        assert_eq!(
            c.add_partitions(TXN, PID, 10, &[tp(1)], 0),
            Err(KafkaError::ConcurrentTransactions)
        );
        // [C9] the epoch check wins over the state check.
        assert_eq!(
            c.add_partitions(TXN, PID, 0, &[tp(1)], 0),
            Err(KafkaError::ProducerFenced)
        );
    }
}

#[test]
fn c10_c11_add_partitions_logs_only_new_partitions() {
    for from in [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
    ] {
        let mut c = coordinator(true);
        with_state(&mut c, from, 1, NO_PRODUCER_EPOCH);
        assert_eq!(c.add_partitions(TXN, PID, 1, &[tp(1)], 5), Ok(()));
        assert_eq!(log_len(&c), 1, "from {from:?}");
        assert_eq!(state(&c).2, TxnState::Ongoing);
        // [C11] partitions already in the transaction: no write.
        assert_eq!(c.add_partitions(TXN, PID, 1, &[tp(1)], 6), Ok(()));
        assert_eq!(log_len(&c), 1);
    }
}

#[test]
fn add_offsets_adds_the_groups_offsets_partition() {
    let mut c = coordinator(true);
    let (pid, epoch) = init(&mut c, None).result.unwrap();
    c.add_offsets(TXN, pid, epoch, "group", 1).unwrap();
    let expected = offsets_partition_for("group", 50);
    assert!(c.metadata(TXN).unwrap().partitions.contains(&expected));
    // Java's "group".hashCode() = 98629247; 98629247 % 50 = 47.
    assert_eq!(expected.partition, 47);
}

#[test]
fn c13_end_txn_unknown_id_or_unmapped_producer() {
    let mut c = coordinator(true);
    assert_eq!(
        end(&mut c, PID, 1, TxnResult::Commit),
        Err(KafkaError::InvalidProducerIdMapping)
    );
    with_state(&mut c, TxnState::Ongoing, 1, NO_PRODUCER_EPOCH);
    assert_eq!(
        end(&mut c, PID + 1, 1, TxnResult::Commit),
        Err(KafkaError::InvalidProducerIdMapping)
    );
}

#[test]
fn c14_end_txn_with_another_epoch_while_ongoing() {
    for tv2 in [false, true] {
        let mut c = coordinator(tv2);
        with_state(&mut c, TxnState::Ongoing, 2, NO_PRODUCER_EPOCH);
        assert_eq!(
            end(&mut c, PID, 1, TxnResult::Commit),
            Err(KafkaError::ProducerFenced)
        );
        assert_eq!(
            end(&mut c, PID, 3, TxnResult::Commit),
            Err(KafkaError::ProducerFenced)
        );
    }
}

#[test]
fn c15_retried_end_txn_after_completion_is_answered_ok() {
    // TV0: the same epoch.
    let mut c = coordinator(false);
    with_state(&mut c, TxnState::CompleteCommit, 1, NO_PRODUCER_EPOCH);
    assert_eq!(end(&mut c, PID, 1, TxnResult::Commit), Ok((PID, 1)));
    with_state(&mut c, TxnState::CompleteAbort, 1, NO_PRODUCER_EPOCH);
    assert_eq!(end(&mut c, PID, 1, TxnResult::Abort), Ok((PID, 1)));
    // TV2: the epoch the transaction was ended from (current − 1).
    let mut c = coordinator(true);
    with_state(&mut c, TxnState::CompleteCommit, 2, 1);
    assert_eq!(end(&mut c, PID, 1, TxnResult::Commit), Ok((PID, 2)));
    with_state(&mut c, TxnState::CompleteAbort, 2, 1);
    assert_eq!(end(&mut c, PID, 1, TxnResult::Abort), Ok((PID, 2)));
    assert_eq!(log_len(&c), 0, "a retry writes nothing");
}

#[test]
fn c16_c17_mismatched_or_concurrent_end_txn() {
    let mut c = coordinator(false);
    let cases = [
        (
            TxnState::CompleteAbort,
            TxnResult::Commit,
            KafkaError::InvalidTxnState,
        ),
        (
            TxnState::CompleteCommit,
            TxnResult::Abort,
            KafkaError::InvalidTxnState,
        ),
        (
            TxnState::PrepareCommit,
            TxnResult::Commit,
            KafkaError::ConcurrentTransactions,
        ),
        (
            TxnState::PrepareAbort,
            TxnResult::Commit,
            KafkaError::InvalidTxnState,
        ),
        (
            TxnState::PrepareAbort,
            TxnResult::Abort,
            KafkaError::ConcurrentTransactions,
        ),
        (
            TxnState::Empty,
            TxnResult::Commit,
            KafkaError::InvalidTxnState,
        ),
    ];
    for (s, result, error) in cases {
        with_state(&mut c, s, 1, NO_PRODUCER_EPOCH);
        assert_eq!(
            end(&mut c, PID, 1, result),
            Err(error),
            "{result:?} in {s:?}"
        );
    }
}

#[test]
fn c18_tv2_current_epoch_in_a_decided_state_is_not_a_retry() {
    let mut c = coordinator(true);
    for s in [TxnState::PrepareCommit, TxnState::CompleteCommit] {
        with_state(&mut c, s, 5, 4);
        assert_eq!(
            end(&mut c, PID, 5, TxnResult::Commit),
            Err(KafkaError::ProducerFenced),
            "{s:?}"
        );
    }
}

#[test]
fn c19_tv2_end_txn_retry_across_producer_id_rotation() {
    let mut c = coordinator(true);
    with_state(&mut c, TxnState::Ongoing, 32_766, NO_PRODUCER_EPOCH);
    let outcome = c.end_txn(TXN, PID, 32_766, TxnResult::Commit, 1);
    let (new_pid, new_epoch) = outcome.result.unwrap();
    assert_ne!(new_pid, PID);
    assert_eq!(new_epoch, 0);
    assert_eq!(
        outcome.markers[0].marker.producer_epoch, MAX_PRODUCER_EPOCH,
        "markers at 32,767"
    );
    assert_eq!(
        state(&c),
        (PID, MAX_PRODUCER_EPOCH, TxnState::PrepareCommit)
    );
    assert_eq!(
        end(&mut c, PID, 32_766, TxnResult::Commit),
        Err(KafkaError::ConcurrentTransactions)
    );
    assert!(c.on_markers_written(&outcome.markers[0], 2));
    assert_eq!(state(&c), (new_pid, 0, TxnState::CompleteCommit));
    assert_eq!(
        end(&mut c, PID, 32_766, TxnResult::Commit),
        Ok((new_pid, 0))
    );
}

/// Ends an Ongoing transaction at `epoch`, retries the EndTxn while its markers are being
/// written and once they are; returns both answers to the retry.
fn end_txn_and_retry(c: &mut TxnCoordinator, epoch: i16) -> [Result<(i64, i16), KafkaError>; 2] {
    with_state(c, TxnState::Ongoing, epoch, NO_PRODUCER_EPOCH);
    let outcome = c.end_txn(TXN, PID, epoch, TxnResult::Commit, 1);
    assert!(outcome.result.is_ok());
    let while_preparing = end(c, PID, epoch, TxnResult::Commit);
    assert!(c.on_markers_written(&outcome.markers[0], 2));
    [while_preparing, end(c, PID, epoch, TxnResult::Commit)]
}

#[test]
fn c20_retry_of_an_end_txn_whose_state_tv2_wrote() {
    // Kafka: shouldReturnWhenTransactionVersionDowngraded. A retry is judged by the version
    // the state was written under (`TransactionMetadata.clientTransactionVersion`), not by
    // the retry's own: a TV0 client retrying against TV2's PrepareCommit at E + 1 is told
    // CONCURRENT_TRANSACTIONS, then NONE with E + 1. This model has no per-client version:
    // the coordinator's switch is the version the state was written under.
    let mut c = coordinator(true);
    assert_eq!(
        end_txn_and_retry(&mut c, 5),
        [Err(KafkaError::ConcurrentTransactions), Ok((PID, 6))]
    );
    // As Kafka's fixture, with no last epoch: the retry is recognised as current − 1
    // (`retryOnEpochBump`), so after a fence too.
    with_state(&mut c, TxnState::PrepareCommit, 6, NO_PRODUCER_EPOCH);
    assert_eq!(
        end(&mut c, PID, 5, TxnResult::Commit),
        Err(KafkaError::ConcurrentTransactions)
    );
}

#[test]
fn c21_retry_of_an_end_txn_whose_state_tv0_wrote() {
    // Kafka: shouldReturnCorrectlyWhenTransactionVersionUpgraded. State written under TV0
    // (PrepareCommit at E): a TV2 client's retry at E is told CONCURRENT_TRANSACTIONS, then
    // NONE with E unchanged.
    let mut c = coordinator(false);
    assert_eq!(
        end_txn_and_retry(&mut c, 5),
        [Err(KafkaError::ConcurrentTransactions), Ok((PID, 5))]
    );
}

#[test]
fn c22_complete_with_another_epoch_is_fenced() {
    let mut c = coordinator(false);
    with_state(&mut c, TxnState::CompleteCommit, 1, NO_PRODUCER_EPOCH);
    assert_eq!(
        end(&mut c, PID, 2, TxnResult::Commit),
        Err(KafkaError::ProducerFenced)
    );
    with_state(&mut c, TxnState::CompleteCommit, 2, NO_PRODUCER_EPOCH);
    assert_eq!(
        end(&mut c, PID, 1, TxnResult::Commit),
        Err(KafkaError::ProducerFenced)
    );
    let mut c = coordinator(true);
    with_state(&mut c, TxnState::CompleteCommit, 2, 1);
    assert_eq!(
        end(&mut c, PID, 0, TxnResult::Commit),
        Err(KafkaError::ProducerFenced)
    );
}

#[test]
fn c23_end_txn_logs_the_decision_and_returns_markers() {
    for (tv2, result, prepare) in [
        (false, TxnResult::Commit, TxnState::PrepareCommit),
        (true, TxnResult::Abort, TxnState::PrepareAbort),
    ] {
        let mut c = coordinator(tv2);
        with_state(&mut c, TxnState::Ongoing, 3, NO_PRODUCER_EPOCH);
        let outcome = c.end_txn(TXN, PID, 3, result, 1);
        let epoch = if tv2 { 4 } else { 3 };
        assert_eq!(outcome.result, Ok((PID, epoch)));
        assert_eq!(state(&c), (PID, epoch, prepare));
        assert_eq!(log_len(&c), 1);
        assert_eq!(
            outcome.markers,
            vec![MarkerRequest {
                transactional_id: Arc::from(TXN),
                marker: TxnMarker {
                    producer_id: PID,
                    producer_epoch: epoch,
                    result,
                    coordinator_epoch: 7,
                    transaction_version: if tv2 {
                        TransactionVersion::V2
                    } else {
                        TransactionVersion::V1
                    },
                },
                partitions: vec![tp(0)],
            }]
        );
    }
}

#[test]
fn c24_init_while_ongoing_fences_and_aborts() {
    let mut c = coordinator(false);
    with_state(&mut c, TxnState::Ongoing, 5, 4);
    let outcome = init(&mut c, None);
    assert_eq!(outcome.result, Err(KafkaError::ConcurrentTransactions));
    assert_eq!(state(&c), (PID, 6, TxnState::PrepareAbort));
    assert_eq!(
        c.metadata(TXN).unwrap().last_producer_epoch,
        NO_PRODUCER_EPOCH
    );
    assert_eq!(outcome.markers[0].marker.result, TxnResult::Abort);
    assert_eq!(outcome.markers[0].marker.producer_epoch, 6);
    // The client retries: still deciding, then a second bump once the markers are written.
    assert_eq!(
        init(&mut c, None).result,
        Err(KafkaError::ConcurrentTransactions)
    );
    assert!(c.on_markers_written(&outcome.markers[0], 11));
    assert_eq!(
        init(&mut c, None).result,
        Ok((PID, 7)),
        "the fenced epoch 6 is never returned"
    );
}

#[test]
fn c25_init_while_preparing_or_pending() {
    let mut c = coordinator(true);
    for s in [TxnState::PrepareCommit, TxnState::PrepareAbort] {
        with_state(&mut c, s, 5, 4);
        assert_eq!(
            init(&mut c, None).result,
            Err(KafkaError::ConcurrentTransactions)
        );
    }
    with_state(&mut c, TxnState::Empty, 5, 4);
    c.txns.get_mut(TXN).unwrap().pending_state = Some(TxnState::Ongoing);
    assert_eq!(
        init(&mut c, None).result,
        Err(KafkaError::ConcurrentTransactions)
    );
    assert_eq!(
        c.add_partitions(TXN, PID, 5, &[tp(0)], 1),
        Err(KafkaError::ConcurrentTransactions)
    );
    assert_eq!(
        end(&mut c, PID, 5, TxnResult::Commit),
        Err(KafkaError::ConcurrentTransactions)
    );
}

#[test]
fn c28_init_while_ongoing_at_an_exhausted_epoch() {
    let mut c = coordinator(false);
    with_state(&mut c, TxnState::Ongoing, 32_766, NO_PRODUCER_EPOCH);
    let outcome = init(&mut c, None);
    assert_eq!(outcome.result, Err(KafkaError::ConcurrentTransactions));
    assert_eq!(state(&c), (PID, MAX_PRODUCER_EPOCH, TxnState::PrepareAbort));
    c.on_markers_written(&outcome.markers[0], 11);
    let (pid, epoch) = init(&mut c, None).result.unwrap();
    assert_ne!(pid, PID, "the retry rotates the producer id");
    assert_eq!(epoch, 0);
}

#[test]
#[ignore = "synchronous coordinator: InitProducerId fences and logs the abort in one call, so no other request can move the epoch between the two (Kafka re-reads the metadata in between)"]
fn c26_init_fence_meets_an_epoch_moved_on_meanwhile() {
    // Kafka: shouldFailToAbortTransactionOnHandleInitPidWhenProducerEpochIsSmaller. The
    // fence is prepared at E + 1, the re-read finds E + 2: PRODUCER_FENCED.
    unimplemented!("a window between the fence and its abort")
}

#[test]
#[ignore = "transaction-log appends never fail: the log is local and written synchronously (replication: not yet an issue), so there is no NOT_ENOUGH_REPLICAS and no failed-fence flag"]
fn c27_init_fence_whose_log_append_fails_bumps_the_epoch_once() {
    // Kafka: shouldNotRepeatedlyBumpEpochDueToInitPidDuringOngoingTxnIfAppendToLogFails.
    unimplemented!("a transaction-log append that can fail")
}

#[test]
#[ignore = "KIP-890 part 1 verification (not yet an issue): partitions do not verify transactional appends with the coordinator, so it has no verify-only AddPartitions"]
fn c12_verify_only_add_partitions() {
    // Kafka: testVerifyPartitionHandling, shouldRespondWithErrorsNoneOnAddPartitionWhen
    // OngoingVerifyOnlyAndPartitionsTheSame, shouldRespondWithInvalidTxnStateWhenVerifyOnly
    // AndPartitionNotPresent.
    unimplemented!("handleVerifyPartitionsInTransaction")
}

#[test]
fn c29_kip360_bump_and_its_retry() {
    let mut c = coordinator(true);
    with_state(&mut c, TxnState::Empty, 10, 9);
    assert_eq!(init(&mut c, Some((PID, 10))).result, Ok((PID, 11)));
    assert_eq!(
        init(&mut c, Some((PID, 10))).result,
        Ok((PID, 11)),
        "no double bump"
    );
}

#[test]
fn c30_old_producer_fenced_after_new_producer_init() {
    let mut c = coordinator(true);
    with_state(&mut c, TxnState::Empty, 10, NO_PRODUCER_EPOCH);
    assert_eq!(init(&mut c, None).result, Ok((PID, 11)));
    assert_eq!(
        init(&mut c, Some((PID, 10))).result,
        Err(KafkaError::ProducerFenced)
    );
    // testFenceProducerWhenMappingExistsWithDifferentProducerId: the id now maps to another
    // producer id; the old one is fenced.
    let mut c = coordinator(true);
    with_state(&mut c, TxnState::Empty, 10, 9);
    let m = c.txns.get_mut(TXN).unwrap();
    (m.producer_id, m.previous_producer_id) = (PID + 1, PID);
    assert_eq!(
        init(&mut c, Some((PID, 10))).result,
        Err(KafkaError::ProducerFenced)
    );
    // After a rotation: (pid, 32,765) is fenced, (pid, 32,766) is a retry of the rotation.
    let mut c = coordinator(true);
    with_state(&mut c, TxnState::Empty, 32_766, NO_PRODUCER_EPOCH);
    let rotated = init(&mut c, Some((PID, 32_766))).result.unwrap();
    assert_eq!(rotated.1, 0);
    assert_eq!(
        init(&mut c, Some((PID, 32_765))).result,
        Err(KafkaError::ProducerFenced)
    );
    assert_eq!(init(&mut c, Some((PID, 32_766))).result, Ok(rotated));
}

#[test]
fn timeout_sweep_fences_and_aborts_only_expired_ongoing_transactions() {
    let mut c = coordinator(false);
    with_state(&mut c, TxnState::Ongoing, 3, 2);
    assert!(
        c.abort_timed_out_transactions(TIMEOUT_MS).is_empty(),
        "not yet expired"
    );
    let markers = c.abort_timed_out_transactions(TIMEOUT_MS + 1);
    assert_eq!(state(&c), (PID, 4, TxnState::PrepareAbort));
    assert_eq!(
        c.metadata(TXN).unwrap().last_producer_epoch,
        NO_PRODUCER_EPOCH
    );
    assert_eq!(markers.len(), 1);
    assert_eq!(markers[0].marker.producer_epoch, 4);
    // The zombie at epoch 3 is fenced.
    assert_eq!(
        end(&mut c, PID, 3, TxnResult::Commit),
        Err(KafkaError::ProducerFenced)
    );
    // Decided transactions are not swept again.
    assert!(c.abort_timed_out_transactions(10 * TIMEOUT_MS).is_empty());
}

#[test]
fn timeout_sweep_without_fencing_bumps_only_under_tv2() {
    for tv2 in [false, true] {
        let config = TxnCoordinatorConfig {
            epoch_bump_per_txn: tv2,
            timeout_abort_bumps_epoch: false,
            ..Default::default()
        };
        let mut c = TxnCoordinator::open(DurableLog::new(), 0, config, counter(100).1).0;
        with_state(&mut c, TxnState::Ongoing, 3, NO_PRODUCER_EPOCH);
        c.abort_timed_out_transactions(TIMEOUT_MS + 1);
        assert_eq!(
            state(&c),
            (PID, if tv2 { 4 } else { 3 }, TxnState::PrepareAbort)
        );
    }
}

#[test]
fn s1_transaction_timeout_validation() {
    let mut c = coordinator(true);
    let max = c.config().max_txn_timeout_ms;
    for (timeout, valid) in [(1, true), (0, false), (max, true), (max + 1, false)] {
        let result = c
            .init_producer_id(Some(&format!("t{timeout}")), timeout, None, 0)
            .result;
        assert_eq!(result.is_ok(), valid, "timeout {timeout}");
        if !valid {
            assert_eq!(result, Err(KafkaError::InvalidTransactionTimeout));
        }
    }
}

#[test]
fn s13_only_expired_ongoing_transactions_time_out() {
    let mut c = coordinator(true);
    let mut install = |id: &str, s: TxnState, timeout_ms: u64| {
        let mut m = TxnMetadata::new(Arc::from(id), PID, timeout_ms, 0);
        m.state = s;
        m.producer_epoch = 1;
        m.txn_start_ms = Some(0);
        c.txns.insert(Arc::from(id), m);
    };
    install("ongoing-1s", TxnState::Ongoing, 1000);
    install("ongoing-10s", TxnState::Ongoing, 10_000);
    install("prepare-commit", TxnState::PrepareCommit, 1000);
    install("prepare-abort", TxnState::PrepareAbort, 1000);
    install("complete-commit", TxnState::CompleteCommit, 1000);
    install("complete-abort", TxnState::CompleteAbort, 1000);
    assert_eq!(
        c.timed_out_transactions(2000),
        vec![Arc::<str>::from("ongoing-1s")]
    );
}

#[test]
fn s2_a_transactional_id_is_added_once_and_then_found() {
    // Kafka: testAddGetPids (get before put: none; put if absent; get finds it).
    let (next_id, ids) = counter(100);
    let mut c = TxnCoordinator::open(DurableLog::new(), 7, TxnCoordinatorConfig::default(), ids).0;
    assert!(c.metadata("one").is_none());
    let first = c.init_producer_id(Some("one"), TIMEOUT_MS, None, 0).result;
    assert_eq!(first, Ok((100, 0)));
    assert!(
        c.metadata("two").is_none(),
        "only the id asked for is added"
    );
    let again = c.init_producer_id(Some("one"), TIMEOUT_MS, None, 1).result;
    assert_eq!(
        again,
        Ok((100, 1)),
        "the existing entry is kept, its epoch bumped"
    );
    assert_eq!(
        next_id.load(Ordering::SeqCst),
        101,
        "one producer id allocated"
    );
}

#[test]
fn s6_a_logged_transition_is_applied_and_nothing_stays_pending() {
    // Kafka: testCompleteTransitionWhenAppendSucceeded.
    let mut c = coordinator(true);
    let (pid, epoch) = init(&mut c, None).result.unwrap();
    c.add_partitions(TXN, pid, epoch, &[tp(0), tp(1)], 5)
        .unwrap();
    let m = c.metadata(TXN).unwrap().clone();
    assert_eq!(m.pending_state, None);
    assert_eq!(m.state, TxnState::Ongoing);
    assert_eq!(m.partitions, BTreeSet::from([tp(0), tp(1)]));
    let last = c.log.read(|records| records.last().cloned()).unwrap();
    assert_eq!(
        TxnMetadata::from_log(Arc::from(TXN), &last.transit),
        m,
        "the log's last record is the state"
    );
}

#[test]
#[should_panic(expected = "not prepared")]
fn s12_completing_a_transition_whose_pending_state_was_cleared_panics() {
    // Kafka: testAppendTransactionToLogWhilePendingStateChanged (IllegalStateException).
    let mut m = TxnMetadata::new(Arc::from(TXN), PID, TIMEOUT_MS, 0);
    let transit = m.prepare_add_partitions(&[tp(0)], 1);
    m.pending_state = None;
    m.complete_transition(&transit);
}

#[test]
#[ignore = "coordinator migration (not yet an issue): coordinators are placed statically and a broker's transaction log is loaded once, when it starts, and never unloaded"]
fn s3_s4_s5_unloading_a_transaction_log_partition() {
    // Kafka: testDeletePartition (unloading partition 0 drops only its ids),
    // testLoadAndRemoveTransactionsForPartition (NOT_COORDINATOR before the load and after
    // the unload), testDeleteLoadingPartition (an unload during the load discards it).
    unimplemented!("transaction-log partitions that load and unload")
}

#[test]
#[ignore = "transaction-log appends never fail: the log is local and written synchronously (replication: not yet an issue)"]
fn s7_s10_s11_failed_transaction_log_appends() {
    // Kafka: testAppendFailToCoordinatorNotAvailableError (COORDINATOR_NOT_AVAILABLE),
    // testAppendFailToUnknownError (UNKNOWN_SERVER_ERROR), testPendingStateNotResetOnRetryAppend
    // (a retried append keeps the pending state); metadata unchanged, pending cleared.
    unimplemented!("a transaction-log append that can fail")
}

#[test]
#[ignore = "coordinator migration (not yet an issue): an append is synchronous within a request, so no reload, emigration or new coordinator epoch can come between the append and its completion"]
fn s8_s9_s12_append_racing_a_coordinator_change() {
    // Kafka: testAppendFailToNotCoordinatorError (NOT_COORDINATOR), testAppendFailTo
    // CoordinatorLoadingError (COORDINATOR_LOAD_IN_PROGRESS), testAppendTransactionToLog
    // WhileProducerFenced (another coordinator epoch: NOT_COORDINATOR).
    unimplemented!("a coordinator epoch that changes during an append")
}

#[test]
#[ignore = "transactional.id expiration not modelled: Dead is never entered and no tombstone is written (Kafka's default is 7 days; runs last minutes)"]
fn s14_expired_transactional_ids_are_removed() {
    // Kafka: shouldRemove{CompleteCommit,CompleteAbort,Empty}ExpiredTransactionalIds,
    // shouldNotRemove{Ongoing,PrepareAbort,PrepareCommit}TransactionalIds,
    // shouldNotRemoveExpiredTransactionalIdsIfLogAppendFails.
    unimplemented!("transactional.id expiration")
}

#[test]
fn s4_restart_rebuilds_state_and_resends_markers_of_decided_transactions() {
    let log = DurableLog::new();
    let (_, ids) = counter(100);
    let mut c = TxnCoordinator::open(log.clone(), 1, TxnCoordinatorConfig::default(), ids).0;
    // tid1: Ongoing with two partitions, then three, then PrepareCommit.
    let (p1, e1) = c
        .init_producer_id(Some("tid1"), TIMEOUT_MS, None, 0)
        .result
        .unwrap();
    c.add_partitions("tid1", p1, e1, &[tp(0), tp(1)], 1)
        .unwrap();
    c.add_partitions("tid1", p1, e1, &[tp(2)], 2).unwrap();
    let committing = c.end_txn("tid1", p1, e1, TxnResult::Commit, 3);
    // tid2: Ongoing → PrepareAbort → CompleteAbort → a new InitProducerId (Empty).
    let (p2, e2) = c
        .init_producer_id(Some("tid2"), TIMEOUT_MS, None, 0)
        .result
        .unwrap();
    c.add_partitions("tid2", p2, e2, &[tp(0)], 1).unwrap();
    let aborting = c.end_txn("tid2", p2, e2, TxnResult::Abort, 3);
    c.on_markers_written(&aborting.markers[0], 4);
    let (p2, e2) = c
        .init_producer_id(Some("tid2"), TIMEOUT_MS, None, 5)
        .result
        .unwrap();
    let before: Vec<TxnMetadata> = c.transactions().cloned().collect();
    drop(c);

    let (ids_after, ids) = counter(100);
    ids_after.store(1000, Ordering::SeqCst);
    let (mut c, resend) = TxnCoordinator::open(log, 2, TxnCoordinatorConfig::default(), ids);
    let after: Vec<TxnMetadata> = c.transactions().cloned().collect();
    assert_eq!(after, before, "the log is the whole state");
    assert_eq!(state_of(&c, "tid2"), (p2, e2, TxnState::Empty));
    // The decided commit is re-sent under the new coordinator epoch, then completed.
    assert_eq!(resend.len(), 1);
    assert_eq!(resend[0].marker.coordinator_epoch, 2);
    assert_eq!(
        resend[0].marker.producer_epoch,
        committing.markers[0].marker.producer_epoch
    );
    assert_eq!(resend[0].partitions, vec![tp(0), tp(1), tp(2)]);
    assert!(c.on_markers_written(&resend[0], 6));
    assert_eq!(state_of(&c, "tid1").2, TxnState::CompleteCommit);
    assert!(
        !c.on_markers_written(&resend[0], 7),
        "a second report is stale"
    );
}

fn state_of(c: &TxnCoordinator, id: &str) -> (i64, i16, TxnState) {
    let m = c.metadata(id).unwrap();
    (m.producer_id, m.producer_epoch, m.state)
}

#[test]
fn without_the_tv2_bump_a_delayed_end_txn_ends_the_next_transaction() {
    // KAFKA-17754: under TV0/1 both transactions share an epoch, so a delayed EndTxn(commit)
    // of the first one commits the second, half-written one. TV2 fences it.
    for tv2 in [false, true] {
        let mut c = coordinator(tv2);
        let (pid, epoch) = init(&mut c, None).result.unwrap();
        c.add_partitions(TXN, pid, epoch, &[tp(0)], 1).unwrap();
        let first = c.end_txn(TXN, pid, epoch, TxnResult::Commit, 2);
        let (pid, next_epoch) = first.result.unwrap();
        c.on_markers_written(&first.markers[0], 3);
        c.add_partitions(TXN, pid, next_epoch, &[tp(1)], 4).unwrap();
        let delayed = c.end_txn(TXN, pid, epoch, TxnResult::Commit, 5);
        if tv2 {
            assert_eq!(delayed.result, Err(KafkaError::ProducerFenced));
            assert_eq!(state(&c).2, TxnState::Ongoing);
        } else {
            assert!(delayed.result.is_ok(), "the stray commit is accepted");
            assert_eq!(state(&c).2, TxnState::PrepareCommit);
        }
    }
}

// ---- Epoch exhaustion under transactions v2, at a small `max_producer_epoch` --------------

const SMALL_MAX_EPOCH: i16 = 3;

/// TV2 with epochs up to 3 (exhausted at 2); `rotates`: KAFKA-20090's fix in force.
fn small_epoch_coordinator(rotates: bool) -> TxnCoordinator {
    let config = TxnCoordinatorConfig {
        max_producer_epoch: SMALL_MAX_EPOCH,
        fence_abort_rotates_exhausted_producer: rotates,
        ..Default::default()
    };
    TxnCoordinator::open(DurableLog::new(), 7, config, counter(100).1).0
}

/// Writes every marker the outcome asked for and completes the transaction.
fn write_markers(c: &mut TxnCoordinator, markers: &[MarkerRequest]) {
    for request in markers {
        assert!(c.on_markers_written(request, 20));
    }
}

#[test]
fn end_txn_at_an_exhausted_epoch_rotates_and_the_new_id_waits_for_the_markers() {
    // KAFKA-18660: the answer carries the new id at epoch 0, and that id's AddPartitions
    // while the old id's markers are written is CONCURRENT_TRANSACTIONS, not a fence.
    let mut c = small_epoch_coordinator(true);
    with_state(&mut c, TxnState::Ongoing, 2, 1);
    let outcome = c.end_txn(TXN, PID, 2, TxnResult::Commit, 10);
    let (new_pid, epoch) = outcome.result.unwrap();
    assert_ne!(new_pid, PID);
    assert_eq!(epoch, 0);
    assert_eq!(
        c.add_partitions(TXN, new_pid, 0, &[tp(1)], 11),
        Err(KafkaError::ConcurrentTransactions)
    );
    write_markers(&mut c, &outcome.markers);
    assert_eq!(state(&c), (new_pid, 0, TxnState::CompleteCommit));
    assert_eq!(c.add_partitions(TXN, new_pid, 0, &[tp(1)], 12), Ok(()));
}

#[test]
fn a_timeout_abort_at_an_exhausted_epoch_rotates_the_producer_id() {
    // KAFKA-20090's fix: the fence takes the epoch to the maximum, and the abort rotates.
    let mut c = small_epoch_coordinator(true);
    with_state(&mut c, TxnState::Ongoing, 2, 1);
    let markers = c.abort_timed_out_transactions(TIMEOUT_MS + 1);
    assert_eq!(state(&c), (PID, SMALL_MAX_EPOCH, TxnState::PrepareAbort));
    write_markers(&mut c, &markers);
    let (new_pid, epoch, completed) = state(&c);
    assert_ne!(new_pid, PID);
    assert_eq!((epoch, completed), (0, TxnState::CompleteAbort));
    // The producer's own abort, at its exhausted epoch under the old id, is a retry
    // across the rotation: it goes on with the new id.
    assert_eq!(end(&mut c, PID, 2, TxnResult::Abort), Ok((new_pid, 0)));
    // Its commit is refused: the transaction aborted.
    assert_eq!(
        end(&mut c, PID, 2, TxnResult::Commit),
        Err(KafkaError::InvalidTxnState)
    );
}

#[test]
fn an_init_fencing_an_open_transaction_at_an_exhausted_epoch_rotates_too() {
    let mut c = small_epoch_coordinator(true);
    with_state(&mut c, TxnState::Ongoing, 2, 1);
    let outcome = init(&mut c, None);
    assert_eq!(outcome.result, Err(KafkaError::ConcurrentTransactions));
    write_markers(&mut c, &outcome.markers);
    let (new_pid, epoch) = init(&mut c, None).result.unwrap();
    assert_ne!(new_pid, PID);
    assert_eq!(
        epoch, 1,
        "the rotated id at 0, bumped by the retried InitProducerId"
    );
}

#[test]
fn a_timeout_abort_below_exhaustion_is_retried_one_epoch_behind() {
    // Kafka's `retryOnEpochBump` after a fence: the producer's abort at E is answered with
    // E + 1, which it goes on with.
    let mut c = small_epoch_coordinator(true);
    with_state(&mut c, TxnState::Ongoing, 0, NO_PRODUCER_EPOCH);
    let markers = c.abort_timed_out_transactions(TIMEOUT_MS + 1);
    assert_eq!(
        end(&mut c, PID, 0, TxnResult::Abort),
        Err(KafkaError::ConcurrentTransactions),
        "markers still being written"
    );
    write_markers(&mut c, &markers);
    assert_eq!(end(&mut c, PID, 0, TxnResult::Abort), Ok((PID, 1)));
}

#[test]
fn without_the_rotation_a_producer_reaches_the_maximum_epoch_and_its_transaction_sticks() {
    // The `timeout-abort-skips-rotation` variant (KAFKA-20090).
    let mut c = small_epoch_coordinator(false);
    with_state(&mut c, TxnState::Ongoing, 2, 1);
    let markers = c.abort_timed_out_transactions(TIMEOUT_MS + 1);
    write_markers(&mut c, &markers);
    assert_eq!(state(&c), (PID, SMALL_MAX_EPOCH, TxnState::CompleteAbort));
    // The retried abort hands out the maximum epoch, and a transaction opens at it.
    let max = SMALL_MAX_EPOCH;
    assert_eq!(end(&mut c, PID, 2, TxnResult::Abort), Ok((PID, max)));
    assert_eq!(c.add_partitions(TXN, PID, max, &[tp(1)], 30), Ok(()));
    // It can be neither ended nor fenced, by InitProducerId or by the timeout sweep.
    assert_eq!(
        end(&mut c, PID, max, TxnResult::Commit),
        Err(KafkaError::UnknownServerError)
    );
    assert_eq!(
        init(&mut c, None).result,
        Err(KafkaError::UnknownServerError)
    );
    assert!(c.abort_timed_out_transactions(10 * TIMEOUT_MS).is_empty());
    assert_eq!(state(&c), (PID, max, TxnState::Ongoing));
}

#[test]
#[should_panic(expected = "holds the maximum epoch")]
fn with_the_rotation_a_transaction_at_the_maximum_epoch_is_impossible() {
    let mut c = small_epoch_coordinator(true);
    with_state(&mut c, TxnState::Ongoing, SMALL_MAX_EPOCH, 2);
    let _ = end(&mut c, PID, SMALL_MAX_EPOCH, TxnResult::Commit);
}

/// A group's offsets partition is Java's `String.hashCode` over UTF-16 code units; ASCII
/// names hash their bytes, the same units.
#[test]
fn offsets_partitions_hash_utf16_code_units() {
    let java = |s: &str| {
        let hash = s
            .encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32));
        (hash & 0x7fff_ffff) as u32 % 50
    };
    for name in [
        "group",
        "EosTest",
        "",
        "app-1_3",
        "grüße",
        "日本-群",
        "𝄞clef",
    ] {
        assert_eq!(offsets_partition_index(name, 50), java(name), "{name}");
        assert_eq!(
            offsets_partition_for(name, 50).partition,
            java(name),
            "{name}"
        );
    }
}
