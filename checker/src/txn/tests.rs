use super::*;
use crate::history::{CommittedOffset, FinalLog, LogEntry, Operation};
use crate::testkit::*;
use RecordStatus::{Aborted, Committed, Open, Plain};

mod oracle;

fn found(h: &History) -> Vec<Anomaly> {
    check_transactions(h).unwrap()
}

fn kinds(h: &History) -> Vec<AnomalyKind> {
    found(h).iter().map(Anomaly::kind).collect()
}

// --- aborted-read ---

#[test]
fn reading_a_failed_txns_value_is_an_aborted_read() {
    let mut h = History::default();
    run(
        &mut h,
        1,
        Phase::Fail,
        txn(vec![send_step("t", 0, 10, None, None)]),
    );
    run(&mut h, 2, Phase::Ok, poll_op("t", 0, 0, &[(0, 10)]));
    let found = found(&h);
    assert_eq!(
        found,
        vec![Anomaly::AbortedRead(AbortedRead {
            topic: "t".into(),
            partition: 0,
            offset: 0,
            value: 10,
            poll: 3,
            writer: Some((0, 1)),
            aborted_in_final_log: false,
        })]
    );
    assert!(
        found[0].explain().contains("failed (op 1)"),
        "{}",
        found[0].explain()
    );
}

#[test]
fn reading_a_record_the_final_log_marks_aborted_is_an_aborted_read() {
    let mut h = History::default();
    run(
        &mut h,
        1,
        Phase::Info,
        txn(vec![send_step("t", 0, 10, None, None)]),
    );
    run(
        &mut h,
        2,
        Phase::Ok,
        txn(vec![poll_step("t", 0, &[(0, 10)])]),
    );
    h.final_logs.push(final_log("t", 0, &[(10, Aborted)]));
    assert_eq!(kinds(&h), vec![AnomalyKind::AbortedRead]);
}

#[test]
fn near_miss_a_retry_committed_the_same_value_or_the_poll_failed() {
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
        txn(vec![send_step("t", 0, 10, None, Some(1))]),
    );
    run(&mut h, 2, Phase::Ok, poll_op("t", 0, 1, &[(1, 10)]));
    // A failed txn's poll step returned the aborted record: not an ok poll.
    run(
        &mut h,
        3,
        Phase::Fail,
        txn(vec![poll_step("t", 0, &[(0, 10)])]),
    );
    h.final_logs
        .push(final_log("t", 0, &[(10, Aborted), (10, Committed)]));
    assert_eq!(kinds(&h), vec![]);
}

// --- torn-transaction ---

#[test]
fn a_committed_txn_half_in_the_log_is_torn() {
    let mut h = History::default();
    let steps = vec![
        send_step("a", 0, 10, None, Some(0)),
        send_step("b", 0, 20, None, Some(0)),
    ];
    run(&mut h, 1, Phase::Ok, txn(steps));
    h.final_logs.push(final_log("a", 0, &[(10, Committed)]));
    h.final_logs.push(final_log("b", 0, &[(20, Aborted)]));
    let found = found(&h);
    assert_eq!(found.len(), 1, "{found:?}");
    let Anomaly::TornTransaction(t) = &found[0] else {
        panic!("{found:?}")
    };
    let TornEvidence::Log {
        committed,
        not_committed,
    } = &t.evidence
    else {
        panic!()
    };
    assert_eq!((committed[0].value, not_committed[0].value), (10, 20));
    assert!(
        found[0].explain().contains("value 20 in b-0"),
        "{}",
        found[0].explain()
    );
}

#[test]
fn an_info_txn_the_log_shows_committed_in_part_is_torn() {
    let mut h = History::default();
    let steps = vec![
        send_step("a", 0, 10, None, None),
        send_step("a", 0, 11, None, None),
    ];
    run(&mut h, 1, Phase::Info, txn(steps));
    h.final_logs
        .push(final_log("a", 0, &[(10, Committed), (11, Aborted)]));
    assert_eq!(kinds(&h), vec![AnomalyKind::TornTransaction]);
}

#[test]
fn a_committed_txn_polls_saw_in_part_is_torn() {
    let mut h = History::default();
    let steps = vec![
        send_step("a", 0, 10, None, Some(0)),
        send_step("b", 0, 20, None, Some(1)),
    ];
    run(&mut h, 1, Phase::Ok, txn(steps));
    run(&mut h, 2, Phase::Ok, poll_op("a", 0, 0, &[(0, 10)]));
    // Reads b from 0 past offset 1 without returning 20.
    run(&mut h, 3, Phase::Ok, poll_op("b", 0, 0, &[(0, 7), (2, 8)]));
    let found = found(&h);
    assert!(
        matches!(&found[0], Anomaly::TornTransaction(TornTransaction { evidence: TornEvidence::Polls { skipped, .. }, .. }) if skipped[0].1 == 5),
        "{found:?}"
    );
}

#[test]
fn near_miss_aborted_txns_and_polls_that_stop_short_are_not_torn() {
    let mut h = History::default();
    let steps = vec![
        send_step("a", 0, 10, None, None),
        send_step("b", 0, 20, None, None),
    ];
    // Aborted, fully absent: not committed, so not torn.
    run(&mut h, 1, Phase::Fail, txn(steps));
    let steps = vec![
        send_step("a", 0, 11, None, Some(1)),
        send_step("b", 0, 21, None, Some(1)),
    ];
    run(&mut h, 1, Phase::Ok, txn(steps));
    run(&mut h, 2, Phase::Ok, poll_op("a", 0, 0, &[(1, 11)]));
    // Stops at offset 0 of b: has not read past 21 yet.
    run(&mut h, 3, Phase::Ok, poll_op("b", 0, 0, &[(0, 20)]));
    h.final_logs
        .push(final_log("a", 0, &[(10, Aborted), (11, Committed)]));
    h.final_logs
        .push(final_log("b", 0, &[(20, Aborted), (21, Committed)]));
    // The poll of 20 is an aborted read, nothing else.
    assert_eq!(kinds(&h), vec![AnomalyKind::AbortedRead]);
}

// --- hanging-transaction ---

#[test]
fn open_records_after_convergence_hang() {
    let mut h = History::default();
    run(
        &mut h,
        1,
        Phase::Info,
        txn(vec![send_step("t", 0, 10, None, None)]),
    );
    h.final_logs
        .push(final_log("t", 0, &[(9, Plain), (10, Open)]));
    h.converged = Some(true);
    let found = found(&h);
    assert_eq!(
        found,
        vec![Anomaly::HangingTransaction(HangingTransaction {
            topic: "t".into(),
            partition: 0,
            producer_id: 1,
            offsets: vec![1],
            values: vec![10],
            writers: vec![0],
        })]
    );
    assert!(
        found[0].explain().contains("stays at 1"),
        "{}",
        found[0].explain()
    );
}

#[test]
fn near_miss_open_records_of_an_unconverged_run_do_not_hang() {
    let mut h = History::default();
    h.final_logs.push(final_log("t", 0, &[(10, Open)]));
    h.converged = Some(false);
    assert_eq!(kinds(&h), vec![]);
    h.converged = Some(true);
    h.final_logs[0].records[0].status = Aborted;
    assert_eq!(kinds(&h), vec![]);
}

// --- poll-skip / nonmonotonic-poll ---

fn three_records() -> FinalLog {
    final_log("t", 0, &[(10, Plain), (11, Plain), (12, Plain)])
}

#[test]
fn successive_polls_jumping_a_known_record_skip() {
    let mut h = History::default();
    run(&mut h, 1, Phase::Ok, poll_op("t", 0, 0, &[(0, 10)]));
    run(&mut h, 1, Phase::Ok, poll_op("t", 0, 1, &[(2, 12)]));
    h.final_logs.push(three_records());
    let found = found(&h);
    let Anomaly::PollSkip(skip) = &found[0] else {
        panic!("{found:?}")
    };
    assert_eq!(
        (skip.previous_poll, skip.next_poll, skip.skipped.clone()),
        (1, 3, vec![(1, 11)])
    );
}

#[test]
fn successive_polls_going_back_are_nonmonotonic() {
    let mut h = History::default();
    run(
        &mut h,
        1,
        Phase::Ok,
        txn(vec![poll_step("t", 0, &[(0, 10), (1, 11)])]),
    );
    run(
        &mut h,
        1,
        Phase::Ok,
        txn(vec![poll_step("t", 0, &[(1, 11)])]),
    );
    h.final_logs.push(three_records());
    assert_eq!(kinds(&h), vec![AnomalyKind::NonmonotonicPoll]);
}

#[test]
fn near_miss_rewinds_gaps_and_other_processes_are_fine() {
    let mut h = History::default();
    run(
        &mut h,
        1,
        Phase::Ok,
        poll_op("t", 0, 0, &[(0, 10), (1, 11)]),
    );
    // An explicit rewind by from_offset.
    run(&mut h, 1, Phase::Ok, poll_op("t", 0, 0, &[(0, 10)]));
    // A gap over an aborted record (offset 1 of u) is no skip.
    run(&mut h, 1, Phase::Ok, poll_op("u", 0, 0, &[(0, 20)]));
    run(&mut h, 1, Phase::Ok, poll_op("u", 0, 1, &[(2, 22)]));
    // A txn that aborted rewinds: its process may read again from the committed offset.
    run(
        &mut h,
        2,
        Phase::Ok,
        txn(vec![poll_step("t", 0, &[(0, 10), (1, 11)])]),
    );
    run(&mut h, 2, Phase::Fail, txn(vec![]));
    run(
        &mut h,
        2,
        Phase::Ok,
        txn(vec![poll_step("t", 0, &[(0, 10)])]),
    );
    // Another process polling later offsets is independent.
    run(&mut h, 3, Phase::Ok, poll_op("t", 0, 2, &[(2, 12)]));
    h.final_logs.push(three_records());
    h.final_logs.push(final_log(
        "u",
        0,
        &[(20, Plain), (21, Aborted), (22, Plain)],
    ));
    assert_eq!(kinds(&h), vec![]);
}

// --- nonmonotonic-send ---

#[test]
fn a_later_ack_at_a_lower_offset_is_nonmonotonic() {
    let mut h = History::default();
    run(&mut h, 1, Phase::Ok, send_op("t", 0, 10, Some(5)));
    run(
        &mut h,
        1,
        Phase::Ok,
        txn(vec![send_step("t", 0, 11, None, Some(3))]),
    );
    let found = found(&h);
    let Anomaly::NonmonotonicSend(s) = &found[0] else {
        panic!("{found:?}")
    };
    assert_eq!((s.previous_offset, s.next_offset, s.next_ack), (5, 3, 3));
}

#[test]
fn near_miss_other_processes_partitions_and_unacked_sends() {
    let mut h = History::default();
    run(&mut h, 1, Phase::Ok, send_op("t", 0, 10, Some(5)));
    run(&mut h, 2, Phase::Ok, send_op("t", 0, 11, Some(3)));
    run(&mut h, 1, Phase::Ok, send_op("t", 1, 12, Some(0)));
    run(
        &mut h,
        1,
        Phase::Info,
        txn(vec![send_step("t", 0, 13, None, Some(1))]),
    );
    run(&mut h, 1, Phase::Ok, send_op("t", 0, 14, Some(6)));
    assert_eq!(kinds(&h), vec![]);
}

// --- unseen ---

#[test]
fn acked_values_no_poll_returned_are_unseen() {
    let mut h = History::default();
    run(&mut h, 1, Phase::Ok, send_op("t", 0, 10, Some(0)));
    run(
        &mut h,
        1,
        Phase::Ok,
        txn(vec![send_step("t", 0, 11, None, Some(1))]),
    );
    run(&mut h, 1, Phase::Ok, send_op("t", 0, 12, Some(2)));
    run(
        &mut h,
        2,
        Phase::Ok,
        poll_op("t", 0, 0, &[(0, 10), (2, 12)]),
    );
    let mut found = found(&h);
    // The jump from 10 to 12 inside one poll is not a per-process skip but an internal one.
    let internal = found.pop().expect("two findings");
    assert_eq!(internal.kind(), AnomalyKind::IntPollSkip);
    assert_eq!(
        found,
        vec![Anomaly::Unseen(Unseen {
            topic: "t".into(),
            partition: 0,
            count: 1,
            values: vec![11],
            polled_through: 2,
            end_offset: 2,
        })]
    );
}

#[test]
fn near_miss_polls_short_of_the_end_or_no_polls_at_all() {
    let mut h = History::default();
    run(&mut h, 1, Phase::Ok, send_op("t", 0, 10, Some(0)));
    run(&mut h, 1, Phase::Ok, send_op("t", 0, 11, Some(1)));
    run(&mut h, 1, Phase::Ok, send_op("u", 0, 12, Some(0)));
    run(&mut h, 2, Phase::Ok, poll_op("t", 0, 0, &[(0, 10)]));
    assert_eq!(kinds(&h), vec![]);
}

/// A plain producer's history (as the simulator's produce-retries: sends with a process per
/// call, then one poll per partition; no transactions, no lineage) skips the indexes and
/// scans that cannot find anything there, and still finds what is there.
#[test]
fn a_plain_producer_history_finds_what_the_skipped_checks_cannot() {
    let mut h = History::default();
    run(&mut h, 1, Phase::Ok, send_op("t", 0, 10, Some(0)));
    run(&mut h, 2, Phase::Ok, send_op("t", 0, 11, Some(1)));
    run(&mut h, 3, Phase::Ok, send_op("t", 1, 20, Some(0)));
    run(&mut h, 4, Phase::Ok, poll_op("t", 0, 1, &[(1, 11)]));
    run(&mut h, 4, Phase::Ok, poll_op("t", 1, 0, &[(0, 20)]));
    h.final_logs
        .push(final_log("t", 0, &[(10, Plain), (11, Plain)]));
    h.final_logs.push(final_log("t", 1, &[(20, Aborted)]));
    h.converged = Some(true);
    let found = check_all(&h).unwrap();
    let kinds: Vec<AnomalyKind> = found.iter().map(Anomaly::kind).collect();
    assert_eq!(
        kinds,
        vec![
            AnomalyKind::LostWrite,
            AnomalyKind::AbortedRead,
            AnomalyKind::Unseen
        ]
    );
    let Anomaly::Unseen(unseen) = &found[2] else {
        unreachable!()
    };
    assert_eq!((unseen.partition, unseen.values.clone()), (0, vec![10]));
}

// --- duplicate-effect / lost-effect ---

/// A consume-transform-produce attempt: polls `input` at `offset` of in-0, sends `outputs`
/// (value, offset) to out-0 with lineage, commits offset + 1 for group g.
fn ctp(input: u64, offset: u64, outputs: &[(u64, Option<u64>)]) -> Operation {
    let mut steps = vec![poll_step("in", 0, &[(offset, input)])];
    for &(value, at) in outputs {
        steps.push(send_step("out", 0, value, Some(input), at));
    }
    steps.push(commit_step("g", "in", 0, offset + 1));
    txn(steps)
}

fn committed_offset(offset: u64) -> CommittedOffset {
    CommittedOffset {
        group: "g".into(),
        topic: "in".into(),
        partition: 0,
        offset,
    }
}

#[test]
fn an_input_with_two_committed_outputs_is_a_duplicate_effect() {
    let mut h = History::default();
    // Zombie and successor both committed their output of input 1.
    run(&mut h, 1, Phase::Ok, ctp(1, 0, &[(101, Some(0))]));
    run(&mut h, 2, Phase::Ok, ctp(1, 0, &[(201, Some(1))]));
    h.final_logs.push(final_log("in", 0, &[(1, Plain)]));
    h.final_logs
        .push(final_log("out", 0, &[(101, Committed), (201, Committed)]));
    h.committed_offsets.push(committed_offset(1));
    let found = found(&h);
    assert_eq!(kinds(&h), vec![AnomalyKind::DuplicateEffect]);
    let Anomaly::DuplicateEffect(d) = &found[0] else {
        panic!()
    };
    assert_eq!((d.input, d.outputs.len(), d.per_attempt), (1, 2, 1));
    assert_eq!(
        (d.outputs[1].offset, d.outputs[1].sent_by.clone()),
        (1, vec![2])
    );
    assert!(
        found[0]
            .explain()
            .contains("input 1 has 2 committed outputs")
    );
}

#[test]
fn near_miss_fan_out_and_aborted_retries_are_exactly_once() {
    let mut h = History::default();
    run(
        &mut h,
        1,
        Phase::Fail,
        ctp(1, 0, &[(101, None), (102, None)]),
    );
    run(
        &mut h,
        1,
        Phase::Ok,
        ctp(1, 0, &[(101, Some(2)), (102, Some(3))]),
    );
    h.final_logs.push(final_log("in", 0, &[(1, Plain)]));
    h.final_logs.push(final_log(
        "out",
        0,
        &[
            (101, Aborted),
            (102, Aborted),
            (101, Committed),
            (102, Committed),
        ],
    ));
    h.committed_offsets.push(committed_offset(1));
    assert_eq!(kinds(&h), vec![]);
}

#[test]
fn a_consumed_input_without_committed_output_is_a_lost_effect() {
    let mut h = History::default();
    run(&mut h, 1, Phase::Ok, ctp(1, 0, &[(101, Some(0))]));
    run(&mut h, 1, Phase::Info, ctp(2, 1, &[(102, None)]));
    h.final_logs
        .push(final_log("in", 0, &[(1, Plain), (2, Plain), (3, Plain)]));
    h.final_logs
        .push(final_log("out", 0, &[(101, Committed), (102, Aborted)]));
    // The offset of input 2 was committed although its output aborted.
    h.committed_offsets.push(committed_offset(2));
    let found = found(&h);
    assert_eq!(kinds(&h), vec![AnomalyKind::LostEffect]);
    let Anomaly::LostEffect(l) = &found[0] else {
        panic!()
    };
    assert_eq!(
        (l.input, l.offset, l.consumed_by.clone()),
        (2, 1, vec![(2, "info".to_string())])
    );
}

#[test]
fn near_miss_inputs_beyond_the_committed_offset_or_other_groups() {
    let mut h = History::default();
    run(&mut h, 1, Phase::Ok, ctp(1, 0, &[(101, Some(0))]));
    h.final_logs
        .push(final_log("in", 0, &[(1, Plain), (2, Plain)]));
    h.final_logs.push(final_log("out", 0, &[(101, Committed)]));
    h.committed_offsets.push(committed_offset(1));
    // A group that only reads (no transform commits under it) has read everything.
    h.committed_offsets.push(CommittedOffset {
        group: "audit".into(),
        ..committed_offset(2)
    });
    assert_eq!(kinds(&h), vec![]);
}

#[test]
fn check_all_is_log_findings_then_transaction_findings() {
    let mut h = History::default();
    run(
        &mut h,
        1,
        Phase::Fail,
        txn(vec![send_step("t", 0, 10, None, None)]),
    );
    run(&mut h, 2, Phase::Ok, poll_op("t", 0, 0, &[(0, 10)]));
    h.final_logs
        .push(final_log("t", 0, &[(10, Committed), (99, Plain)]));
    let all: Vec<AnomalyKind> = check_all(&h).unwrap().iter().map(Anomaly::kind).collect();
    assert_eq!(
        all,
        vec![AnomalyKind::UnexpectedWrite, AnomalyKind::AbortedRead]
    );
}

#[test]
fn an_input_read_by_a_txn_that_committed_unbeknown_to_its_client_is_not_unseen() {
    // Input 10 is read only by an `info` txn (the client crashed before learning the outcome),
    // yet that txn committed: its output 110 is committed in the final log. Later polls read
    // the input partition through its end. Lineage shows 10 was consumed.
    let mut h = History::default();
    run(&mut h, 1, Phase::Ok, send_op("in", 0, 10, Some(0)));
    run(&mut h, 1, Phase::Ok, send_op("in", 0, 11, Some(1)));
    run(&mut h, 2, Phase::Info, ctp(10, 0, &[(110, None)]));
    run(&mut h, 3, Phase::Ok, ctp(11, 1, &[(111, Some(1))]));
    h.final_logs.push(FinalLog {
        topic: "out".into(),
        partition: 0,
        records: vec![
            LogEntry {
                offset: 0,
                value: 110,
                producer_id: 1,
                status: Committed,
            },
            LogEntry {
                offset: 1,
                value: 111,
                producer_id: 1,
                status: Committed,
            },
        ],
    });
    assert!(
        !kinds(&h).contains(&AnomalyKind::Unseen),
        "{:#?}",
        found(&h)
    );
    // Without the committed output, 10 was never seen by anyone.
    h.final_logs[0].records[0].status = Aborted;
    assert!(kinds(&h).contains(&AnomalyKind::Unseen), "{:#?}", found(&h));
}
