use super::*;
use crate::history::{FinalLog, LogEntry, Operation, PolledRecord, RecordStatus};
use proptest::prelude::*;
use std::collections::BTreeSet;

fn send(value: u64, offset: Option<u64>) -> Operation {
    Operation::Send {
        topic: "t".into(),
        partition: 0,
        value,
        offset,
    }
}

fn log(values: &[u64]) -> FinalLog {
    FinalLog {
        topic: "t".into(),
        partition: 0,
        records: values
            .iter()
            .enumerate()
            .map(|(o, &value)| LogEntry {
                offset: o as u64,
                value,
                producer_id: 1,
                status: RecordStatus::Plain,
            })
            .collect(),
    }
}

fn kinds(h: &History) -> Vec<AnomalyKind> {
    check_log(h).unwrap().iter().map(Anomaly::kind).collect()
}

#[test]
fn clean_history_has_no_anomaly() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Ok, send(10, Some(0)), None);
    h.push(2, 2, Phase::Invoke, send(11, None), None);
    h.push(2, 3, Phase::Ok, send(11, Some(1)), None);
    h.final_logs.push(log(&[10, 11]));
    h.converged = Some(true);
    assert_eq!(kinds(&h), vec![]);
}

#[test]
fn retried_value_appended_twice_is_a_duplicate_naming_both_offsets() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Ok, send(10, Some(1)), None);
    h.final_logs.push(log(&[10, 10]));
    let found = check_log(&h).unwrap();
    assert_eq!(found.len(), 1);
    let Anomaly::Duplicate(d) = &found[0] else {
        panic!("{found:?}")
    };
    assert_eq!(
        (d.value, d.offsets.clone(), d.sends.clone(), d.ack),
        (10, vec![0, 1], vec![0], Some(1))
    );
    assert!(found[0].explain().contains("offsets [0, 1]"));
}

#[test]
fn acked_but_absent_is_a_lost_write_and_failed_absent_is_missing() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Ok, send(10, Some(0)), None);
    h.push(2, 2, Phase::Invoke, send(11, None), None);
    h.push(2, 3, Phase::Info, send(11, None), Some("timeout".into()));
    h.push(3, 4, Phase::Invoke, send(12, None), None);
    h.push(4, 5, Phase::Invoke, send(13, None), None);
    h.push(4, 6, Phase::Fail, send(13, None), Some("refused".into()));
    h.final_logs.push(log(&[]));
    assert_eq!(
        kinds(&h),
        vec![
            AnomalyKind::LostWrite,
            AnomalyKind::Missing,
            AnomalyKind::Missing
        ]
    );
    let found = check_log(&h).unwrap();
    let outcomes: Vec<(u64, &str)> = found
        .iter()
        .filter_map(|a| match a {
            Anomaly::Missing(m) => Some((m.value, m.outcome.as_str())),
            _ => None,
        })
        .collect();
    // Value 12's send never completed (its process crashed): indeterminate, as Jepsen
    // treats an operation without a completion, so not missing.
    assert_eq!(outcomes, vec![(11, "info"), (13, "fail")]);
}

#[test]
fn an_info_send_that_landed_is_fine() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Info, send(10, None), Some("timeout".into()));
    h.final_logs.push(log(&[10]));
    assert_eq!(kinds(&h), vec![]);
}

#[test]
fn ack_offset_disagreeing_with_the_log_is_inconsistent() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Ok, send(10, Some(0)), None);
    h.push(2, 2, Phase::Invoke, send(11, None), None);
    h.push(2, 3, Phase::Ok, send(11, Some(0)), None);
    h.final_logs.push(log(&[11]));
    assert_eq!(
        kinds(&h),
        vec![AnomalyKind::LostWrite, AnomalyKind::InconsistentOffsets]
    );
}

#[test]
fn unsent_value_in_the_log_is_unexpected() {
    let mut h = History::default();
    h.final_logs.push(log(&[99]));
    assert_eq!(kinds(&h), vec![AnomalyKind::UnexpectedWrite]);
}

#[test]
fn without_ground_truth_polls_stand_in_for_the_log() {
    let mut h = History::default();
    let poll = |records: Vec<PolledRecord>| Operation::Poll {
        topic: "t".into(),
        partition: 0,
        from_offset: 0,
        records,
    };
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Ok, send(10, Some(0)), None);
    h.push(1, 2, Phase::Invoke, send(11, None), None);
    h.push(1, 3, Phase::Ok, send(11, Some(1)), None);
    h.push(2, 4, Phase::Invoke, poll(vec![]), None);
    h.push(
        2,
        5,
        Phase::Ok,
        poll(vec![
            PolledRecord {
                offset: 1,
                value: 11,
            },
            PolledRecord {
                offset: 2,
                value: 11,
            },
        ]),
        None,
    );
    // 10 was acked at 0 and polls reached past it without seeing it: lost. 11 twice: duplicate.
    assert_eq!(
        kinds(&h),
        vec![AnomalyKind::Duplicate, AnomalyKind::LostWrite]
    );
}

#[test]
fn unconverged_run_lists_open_invocations() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.final_logs.push(log(&[10]));
    h.converged = Some(false);
    let found = check_log(&h).unwrap();
    assert_eq!(
        found,
        vec![Anomaly::NotConverged(NotConverged { open_ops: vec![0] })]
    );
}

/// What one intended value went through, for the generator.
#[derive(Clone, Debug)]
struct Fate {
    outcome: Phase,
    appended_times: usize,
}

fn fate() -> impl Strategy<Value = Fate> {
    (
        prop_oneof![
            Just(Phase::Ok),
            Just(Phase::Fail),
            Just(Phase::Info),
            Just(Phase::Invoke)
        ],
        0usize..3,
    )
        .prop_map(|(outcome, appended_times)| Fate {
            outcome,
            appended_times,
        })
}

proptest! {
    /// Random fates of values against a brute-force oracle that recounts occurrences in the
    /// final log with plain loops.
    #[test]
    fn log_checks_agree_with_a_brute_force_oracle(fates in proptest::collection::vec(fate(), 0..12), foreign in 0usize..3, order_seed in any::<u64>()) {
        // Build the final log: each value appended `appended_times` times, plus foreign values,
        // shuffled deterministically.
        let mut entries: Vec<u64> = Vec::new();
        for (i, f) in fates.iter().enumerate() {
            for _ in 0..f.appended_times { entries.push(i as u64); }
        }
        for j in 0..foreign { entries.push(1000 + j as u64); }
        let mut state = order_seed | 1;
        for i in (1..entries.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            entries.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut h = History::default();
        for (i, f) in fates.iter().enumerate() {
            let value = i as u64;
            h.push(i as u64, 0, Phase::Invoke, send(value, None), None);
            let first_offset = entries.iter().position(|&v| v == value).map(|o| o as u64);
            match f.outcome {
                Phase::Invoke => {}
                Phase::Ok => { h.push(i as u64, 1, Phase::Ok, send(value, first_offset), None); }
                other => { h.push(i as u64, 1, other, send(value, None), None); }
            }
        }
        h.final_logs.push(log(&entries));

        let mut expected: Vec<(AnomalyKind, u64)> = Vec::new();
        let count = |v: u64| entries.iter().filter(|&&e| e == v).count();
        for v in entries.iter().copied().collect::<BTreeSet<_>>() {
            if count(v) > 1 { expected.push((AnomalyKind::Duplicate, v)); }
        }
        for (i, f) in fates.iter().enumerate() {
            if f.outcome == Phase::Ok && count(i as u64) == 0 { expected.push((AnomalyKind::LostWrite, i as u64)); }
        }
        for (i, f) in fates.iter().enumerate() {
            // A send without a completion is indeterminate: never missing.
            let ended_unsuccessfully = !matches!(f.outcome, Phase::Ok | Phase::Invoke);
            if ended_unsuccessfully && count(i as u64) == 0 { expected.push((AnomalyKind::Missing, i as u64)); }
        }
        for j in 0..foreign { expected.push((AnomalyKind::UnexpectedWrite, 1000 + j as u64)); }

        let got: Vec<(AnomalyKind, u64)> = check_log(&h).unwrap().iter().map(|a| {
            let value = match a {
                Anomaly::Duplicate(d) => d.value,
                Anomaly::LostWrite(l) => l.value,
                Anomaly::Missing(m) => m.value,
                Anomaly::UnexpectedWrite(u) => u.value,
                other => panic!("unexpected finding {other:?}"),
            };
            (a.kind(), value)
        }).collect();
        prop_assert_eq!(got, expected);
    }
}

mod transactions {
    use super::*;
    use crate::testkit::*;
    use RecordStatus::{Aborted, Committed, Open};

    #[test]
    fn a_committed_txns_sends_count_as_ok_sends() {
        let mut h = History::default();
        let steps = vec![
            send_step("t", 0, 10, None, Some(0)),
            send_step("t", 0, 11, None, Some(1)),
        ];
        run(&mut h, 1, Phase::Ok, txn(steps));
        h.final_logs.push(final_log("t", 0, &[(10, Committed)]));
        // 11 was committed (ok txn) but the log lacks it; the ack of 11 at offset 1 agrees
        // with nothing else, so it is only a lost write.
        assert_eq!(kinds(&h), vec![AnomalyKind::LostWrite]);
        let found = check_log(&h).unwrap();
        let Anomaly::LostWrite(l) = &found[0] else {
            panic!()
        };
        assert_eq!(
            (l.value, l.send, l.ack, l.acked_offset),
            (11, 0, 1, Some(1))
        );
    }

    #[test]
    fn an_ok_txns_send_held_only_as_aborted_is_lost() {
        let mut h = History::default();
        run(
            &mut h,
            1,
            Phase::Ok,
            txn(vec![send_step("t", 0, 10, None, Some(0))]),
        );
        h.final_logs.push(final_log("t", 0, &[(10, Aborted)]));
        assert_eq!(kinds(&h), vec![AnomalyKind::LostWrite]);
    }

    #[test]
    fn an_aborted_txns_sends_are_meant_to_be_absent() {
        let mut h = History::default();
        let steps = vec![
            send_step("t", 0, 10, None, None),
            send_step("t", 0, 11, None, None),
        ];
        run(&mut h, 1, Phase::Fail, txn(steps));
        h.final_logs.push(final_log("t", 0, &[(10, Aborted)]));
        assert_eq!(kinds(&h), vec![]);
    }

    /// A transaction whose outcome is unknown (every EndTxn lost; the coordinator then
    /// aborted it by timeout) may have aborted: its absent values are allowed (issue 12's
    /// checker false positive, seen at scale in transactional-copy and eos-test).
    #[test]
    fn an_unknown_txns_absent_sends_are_allowed() {
        let mut h = History::default();
        run(
            &mut h,
            1,
            Phase::Info,
            txn(vec![send_step("t", 0, 10, None, None)]),
        );
        h.final_logs.push(final_log("t", 0, &[(10, Aborted)]));
        assert_eq!(kinds(&h), vec![]);
    }

    /// A non-transactional batch (the do-it-yourself loop) with an unknown outcome is a plain
    /// send whose fate is unknown: absent, it is missing.
    #[test]
    fn an_unknown_plain_batchs_absent_sends_are_missing() {
        let mut h = History::default();
        let plain = Operation::Txn {
            transactional: false,
            txn_id: None,
            steps: vec![send_step("t", 0, 10, None, None)],
        };
        run(&mut h, 1, Phase::Info, plain);
        h.final_logs.push(final_log("t", 0, &[]));
        assert_eq!(kinds(&h), vec![AnomalyKind::Missing]);
    }

    #[test]
    fn aborted_and_open_copies_are_not_duplicates() {
        let mut h = History::default();
        run(
            &mut h,
            1,
            Phase::Fail,
            txn(vec![send_step("t", 0, 10, None, None)]),
        );
        run(
            &mut h,
            1,
            Phase::Ok,
            txn(vec![send_step("t", 0, 10, None, Some(2))]),
        );
        h.final_logs.push(final_log(
            "t",
            0,
            &[(10, Aborted), (10, Open), (10, Committed)],
        ));
        assert_eq!(kinds(&h), vec![]);
    }

    #[test]
    fn committed_copies_of_a_txn_value_are_duplicates() {
        let mut h = History::default();
        run(
            &mut h,
            1,
            Phase::Ok,
            txn(vec![send_step("t", 0, 10, None, Some(0))]),
        );
        h.final_logs
            .push(final_log("t", 0, &[(10, Committed), (10, Committed)]));
        assert_eq!(kinds(&h), vec![AnomalyKind::Duplicate]);
    }

    #[test]
    fn an_unsent_aborted_record_is_still_unexpected() {
        let mut h = History::default();
        h.final_logs.push(final_log("t", 0, &[(99, Aborted)]));
        assert_eq!(kinds(&h), vec![AnomalyKind::UnexpectedWrite]);
    }

    #[test]
    fn a_committed_txns_poll_steps_count_as_polls() {
        let mut h = History::default();
        run(&mut h, 1, Phase::Ok, send_op("t", 0, 10, Some(0)));
        run(
            &mut h,
            2,
            Phase::Ok,
            txn(vec![poll_step("t", 0, &[(0, 11)])]),
        );
        // Without ground truth the poll stands in for the log: it disagrees with the ack.
        assert_eq!(
            kinds(&h),
            vec![
                AnomalyKind::LostWrite,
                AnomalyKind::InconsistentOffsets,
                AnomalyKind::UnexpectedWrite
            ]
        );
    }
}

#[test]
fn a_value_written_by_two_clients_is_a_duplicate_naming_both_writers() {
    let mut h = History::default();
    let zombie = 2 * crate::history::PROCESSES_PER_CLIENT;
    let owner = 3 * crate::history::PROCESSES_PER_CLIENT;
    h.clients.insert(2, "copier-2#0".into());
    h.clients.insert(3, "copier-1#0".into());
    h.push(owner, 0, Phase::Invoke, send(10, None), None);
    h.push(owner, 1, Phase::Ok, send(10, Some(0)), None);
    h.push(zombie, 2, Phase::Invoke, send(10, None), None);
    h.push(zombie, 3, Phase::Ok, send(10, Some(1)), None);
    h.final_logs.push(log(&[10, 10]));
    let found = check_log(&h).unwrap();
    let Anomaly::Duplicate(d) = &found[0] else {
        panic!("{found:?}")
    };
    assert_eq!(d.writers, vec!["op 0 by copier-1#0", "op 2 by copier-2#0"]);
    assert!(!d.reprocessed, "plain sends: the workload sent it twice");
    let why = d.explain();
    assert!(
        why.contains("sent 2 times") && why.contains("copier-2#0"),
        "{why}"
    );
}

#[test]
fn a_value_committed_by_two_transactions_is_a_reprocess_naming_both_writers() {
    let txn = |offset: Option<u64>| Operation::Txn {
        transactional: true,
        txn_id: Some("copy-task-0".into()),
        steps: vec![crate::history::TxnStep::Send {
            topic: "t".into(),
            partition: 0,
            value: 10,
            source: Some(10),
            offset,
        }],
    };
    let mut h = History::default();
    let zombie = 2 * crate::history::PROCESSES_PER_CLIENT;
    let owner = 3 * crate::history::PROCESSES_PER_CLIENT;
    h.clients.insert(2, "copier-2#0".into());
    h.clients.insert(3, "copier-1#0".into());
    h.push(zombie, 0, Phase::Invoke, txn(None), None);
    h.push(owner, 1, Phase::Invoke, txn(None), None);
    h.push(owner, 2, Phase::Ok, txn(Some(0)), None);
    h.push(zombie, 3, Phase::Ok, txn(Some(1)), None);
    h.final_logs.push(log(&[10, 10]));
    let found = check_log(&h).unwrap();
    let Anomaly::Duplicate(d) = &found[0] else {
        panic!("{found:?}")
    };
    assert!(d.reprocessed);
    let why = d.explain();
    assert!(
        why.contains("op 0 by copier-2#0 (copy-task-0)") && why.contains("processed again"),
        "{why}"
    );
}

proptest! {
    /// The first value at each offset, array or hash map, is the first observed there, as a
    /// plain map of every observation says.
    #[test]
    fn first_values_agree_with_a_map(
        log_offsets in prop::collection::vec(0u64..30, 0..20),
        sparse in any::<bool>(),
        observations in prop::collection::vec((0u64..40, 0u64..3), 1..60),
    ) {
        let spread = |o: u64| if sparse { o * 1_000 } else { o };
        let mut first = FirstValues::default();
        first.cover(log_offsets.iter().map(|&o| spread(o)));
        let mut oracle = std::collections::BTreeMap::new();
        for (offset, value) in observations {
            let offset = spread(offset);
            let expected = *oracle.entry(offset).or_insert(value);
            prop_assert_eq!(first.first(offset, value), expected);
        }
    }
}

proptest! {
    /// Merging two sorted, distinct lists is sorting and deduplicating both together.
    #[test]
    fn merge_distinct_is_a_sorted_union(
        a in prop::collection::btree_set((0u64..6, 0u64..6), 0..12),
        b in prop::collection::btree_set((0u64..6, 0u64..6), 0..12),
    ) {
        let (a, b): (Vec<_>, Vec<_>) = (a.into_iter().collect(), b.into_iter().collect());
        let mut expected = [a.clone(), b.clone()].concat();
        expected.sort_unstable();
        expected.dedup();
        prop_assert_eq!(merge_distinct(&a, &b), expected);
    }
}
