//! TransactionMetadataTest and the state table of TransactionMetadata.scala (M1–M19).

use super::*;

fn metadata(state: TxnState, epoch: i16, last_epoch: i16) -> TxnMetadata {
    TxnMetadata {
        producer_epoch: epoch,
        last_producer_epoch: last_epoch,
        state,
        ..TxnMetadata::new(Arc::from("t"), 10, 1000, 0)
    }
}

fn tp(partition: u32) -> TopicPartition {
    TopicPartition::new("topic", partition)
}

/// Prepares and completes in one step, as a successful log write does.
fn apply(m: &mut TxnMetadata, transit: TxnTransit) {
    m.complete_transition(&transit);
}

#[test]
fn m1_initialize_epoch() {
    let mut m = TxnMetadata::new(Arc::from("t"), 10, 1000, 0);
    let t = m.prepare_increment_producer_epoch(1000, None, 1).unwrap();
    apply(&mut m, t);
    assert_eq!(
        (m.producer_epoch, m.last_producer_epoch),
        (0, NO_PRODUCER_EPOCH)
    );
}

#[test]
fn m2_normal_epoch_bump() {
    let mut m = metadata(TxnState::Empty, 735, NO_PRODUCER_EPOCH);
    let t = m.prepare_increment_producer_epoch(1000, None, 1).unwrap();
    apply(&mut m, t);
    assert_eq!(
        (m.producer_epoch, m.last_producer_epoch),
        (736, NO_PRODUCER_EPOCH)
    );
}

#[test]
#[should_panic(expected = "exhausted")]
fn m3_bump_not_allowed_when_epochs_exhausted() {
    let mut m = metadata(TxnState::Empty, 32_766, NO_PRODUCER_EPOCH);
    let _ = m.prepare_increment_producer_epoch(1000, None, 1);
}

#[test]
fn m4_rotate_producer_id() {
    let mut m = metadata(TxnState::Empty, 32_766, NO_PRODUCER_EPOCH);
    let t = m.prepare_producer_id_rotation(9893, 1000, 1, true);
    apply(&mut m, t);
    assert_eq!(m.producer_id, 9893);
    assert_eq!(m.producer_epoch, 0);
    assert_eq!(m.previous_producer_id, 10);
    assert_eq!(m.last_producer_epoch, 32_766);
}

#[test]
fn m5_fence_after_epochs_exhausted() {
    let mut m = metadata(TxnState::Ongoing, 32_766, 5);
    let fence = m.prepare_fence_producer_epoch();
    assert_eq!(fence.producer_epoch, MAX_PRODUCER_EPOCH);
    assert_eq!(fence.last_producer_epoch, NO_PRODUCER_EPOCH);
    assert_eq!(m.pending_state, Some(TxnState::PrepareEpochFence));
    m.adopt_epoch_fence(&fence);
    let abort = m.prepare_abort_or_commit(TxnState::PrepareAbort, false, NO_PRODUCER_ID, 2);
    apply(&mut m, abort);
    assert_eq!(
        (m.producer_id, m.producer_epoch, m.state),
        (10, MAX_PRODUCER_EPOCH, TxnState::PrepareAbort)
    );
}

#[test]
#[should_panic(expected = "overflow")]
fn m6_fence_not_allowed_if_it_would_overflow() {
    let mut m = metadata(TxnState::Ongoing, MAX_PRODUCER_EPOCH, NO_PRODUCER_EPOCH);
    m.prepare_fence_producer_epoch();
}

#[test]
fn m7_tv2_epoch_bump_on_end_txn() {
    let mut m = metadata(TxnState::Ongoing, 10, NO_PRODUCER_EPOCH);
    let t = m.prepare_abort_or_commit(TxnState::PrepareCommit, true, NO_PRODUCER_ID, 1);
    apply(&mut m, t);
    assert_eq!((m.producer_epoch, m.last_producer_epoch), (11, 10));
    let t = m.prepare_complete(2);
    apply(&mut m, t);
    assert_eq!((m.state, m.producer_epoch), (TxnState::CompleteCommit, 11));
}

#[test]
fn m8_tv2_epoch_bump_on_end_txn_overflow() {
    let mut m = metadata(TxnState::Ongoing, 32_766, NO_PRODUCER_EPOCH);
    let t = m.prepare_abort_or_commit(TxnState::PrepareCommit, true, 9893, 1);
    apply(&mut m, t);
    assert_eq!((m.producer_id, m.producer_epoch), (10, MAX_PRODUCER_EPOCH));
    let t = m.prepare_complete(2);
    apply(&mut m, t);
    assert_eq!((m.producer_id, m.producer_epoch), (9893, 0));
    assert_eq!(
        m.last_producer_epoch, 32_766,
        "the last epoch the client saw"
    );
    assert_eq!(m.previous_producer_id, 10);
}

#[test]
fn m9_rotation_illegal_with_a_transaction_in_flight() {
    for state in [
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
    ] {
        let result = std::panic::catch_unwind(|| {
            let mut m = metadata(state, 32_766, NO_PRODUCER_EPOCH);
            m.prepare_producer_id_rotation(9893, 1000, 1, false);
        });
        assert!(result.is_err(), "rotation in {state:?} panics");
    }
}

#[test]
fn m10_m13_kip360_expected_epoch() {
    // [M10] new metadata, any expected epoch: a new producer.
    let mut m = TxnMetadata::new(Arc::from("t"), 10, 1000, 0);
    let t = m
        .prepare_increment_producer_epoch(1000, Some(735), 1)
        .unwrap();
    assert_eq!(t.producer_epoch, 0);
    // [M11]
    let mut m = metadata(TxnState::Empty, 735, NO_PRODUCER_EPOCH);
    let t = m
        .prepare_increment_producer_epoch(1000, Some(735), 1)
        .unwrap();
    assert_eq!((t.producer_epoch, t.last_producer_epoch), (736, 735));
    // [M12] a retry of a bump that succeeded.
    let mut m = metadata(TxnState::Empty, 735, 734);
    let t = m
        .prepare_increment_producer_epoch(1000, Some(734), 1)
        .unwrap();
    assert_eq!((t.producer_epoch, t.last_producer_epoch), (735, 734));
    // [M13]
    let mut m = metadata(TxnState::Empty, 735, 734);
    assert_eq!(
        m.prepare_increment_producer_epoch(1000, Some(733), 1),
        Err(KafkaError::ProducerFenced)
    );
    assert_eq!(
        m.pending_state, None,
        "a refused bump leaves nothing pending"
    );
}

#[test]
fn m14_complete_keeps_the_epoch() {
    // Kafka's TV2 complete records lastEpoch = epoch; this model keeps the epoch the
    // transaction was ended from (see ARCHITECTURE.md); the epoch itself is unchanged in both.
    for (state, bump) in [
        (TxnState::PrepareCommit, false),
        (TxnState::PrepareAbort, true),
    ] {
        let mut m = metadata(TxnState::Ongoing, 0, NO_PRODUCER_EPOCH);
        let t = m.prepare_abort_or_commit(state, bump, NO_PRODUCER_ID, 1);
        apply(&mut m, t);
        let epoch = m.producer_epoch;
        let t = m.prepare_complete(0); // the clock may move backwards
        apply(&mut m, t);
        assert_eq!(m.producer_epoch, epoch);
        assert_eq!(
            m.last_producer_epoch,
            if bump { 0 } else { NO_PRODUCER_EPOCH }
        );
    }
}

#[test]
fn m15_txn_start_time_set_only_when_a_transaction_begins() {
    let mut m = metadata(TxnState::Empty, 0, NO_PRODUCER_EPOCH);
    let t = m.prepare_add_partitions(&[tp(0)], 99);
    apply(&mut m, t);
    let t = m.prepare_add_partitions(&[tp(1)], 98);
    apply(&mut m, t);
    assert_eq!(m.txn_start_ms, Some(99));
    assert_eq!(m.txn_last_update_ms, 98, "last update may move backwards");
    assert_eq!(m.partitions.len(), 2);
}

#[test]
fn m16_valid_previous_states() {
    use TxnState::*;
    let all = [
        Empty,
        Ongoing,
        PrepareCommit,
        PrepareAbort,
        CompleteCommit,
        CompleteAbort,
        Dead,
        PrepareEpochFence,
    ];
    let table: [(TxnState, &[TxnState]); 8] = [
        (Empty, &[Empty, CompleteCommit, CompleteAbort]),
        (Ongoing, &[Ongoing, Empty, CompleteCommit, CompleteAbort]),
        (PrepareCommit, &[Ongoing]),
        (PrepareAbort, &[Ongoing, PrepareEpochFence]),
        (CompleteCommit, &[PrepareCommit]),
        (CompleteAbort, &[PrepareAbort]),
        (PrepareEpochFence, &[Ongoing]),
        (Dead, &[Empty, CompleteCommit, CompleteAbort]),
    ];
    for (to, from) in table {
        for state in all {
            assert_eq!(
                to.valid_previous_states().contains(&state),
                from.contains(&state),
                "{state:?} -> {to:?}"
            );
        }
    }
}

#[test]
fn m17_illegal_transitions_panic() {
    use TxnState::*;
    let illegal = [
        (Ongoing, CompleteCommit),
        (Empty, PrepareCommit),
        (PrepareCommit, PrepareAbort),
        (CompleteCommit, PrepareCommit),
        (Ongoing, Dead),
        (PrepareAbort, CompleteCommit),
    ];
    for (from, to) in illegal {
        let result = std::panic::catch_unwind(|| {
            let mut m = metadata(from, 0, NO_PRODUCER_EPOCH);
            let transit = TxnTransit {
                state: to,
                ..m.snapshot()
            };
            m.prepare_transition(transit);
        });
        assert!(result.is_err(), "{from:?} -> {to:?} panics");
    }
}

#[test]
#[should_panic(expected = "pending")]
fn m18_prepare_while_pending_panics() {
    let mut m = metadata(TxnState::Empty, 0, NO_PRODUCER_EPOCH);
    m.prepare_add_partitions(&[tp(0)], 1);
    m.prepare_add_partitions(&[tp(1)], 2);
}

#[test]
fn m19_state_ids_and_expiration() {
    use TxnState::*;
    let ids = [
        (Empty, 0, true),
        (Ongoing, 1, false),
        (PrepareCommit, 2, false),
        (PrepareAbort, 3, false),
        (CompleteCommit, 4, true),
        (CompleteAbort, 5, true),
        (Dead, 6, false),
        (PrepareEpochFence, 7, false),
    ];
    for (state, id, expires) in ids {
        assert_eq!(state.id(), id);
        assert_eq!(state.is_expiration_allowed(), expires, "{state:?}");
    }
}
