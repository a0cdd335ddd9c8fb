use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::{History, Phase};
use crate::testkit::*;

fn found(h: &History) -> Vec<Anomaly> {
    let all = crate::detect::findings(h).unwrap();
    all.into_iter()
        .filter(|a| a.kind() == AnomalyKind::EarlyRead)
        .collect()
}

/// Transaction T (process 1) sends 10 to t-0 and 20 to t-1; process 2 polls 10; process 3
/// sends 19 to t-1, which lands below T's 20. `third_before_read`: process 3 is invoked
/// before the poll completes.
fn history(third_before_read: bool) -> History {
    let mut h = History::default();
    let t_steps = |offsets: bool| {
        txn(vec![
            send_step("t", 0, 10, None, offsets.then_some(0)),
            send_step("t", 1, 20, None, offsets.then_some(1)),
        ])
    };
    h.push(1, 0, Phase::Invoke, t_steps(false), None);
    h.push(2, 1, Phase::Invoke, poll_op("t", 0, 0, &[]), None);
    if third_before_read {
        h.push(3, 2, Phase::Invoke, send_op("t", 1, 19, None), None);
        h.push(2, 3, Phase::Ok, poll_op("t", 0, 0, &[(0, 10)]), None);
    } else {
        h.push(2, 2, Phase::Ok, poll_op("t", 0, 0, &[(0, 10)]), None);
        h.push(3, 3, Phase::Invoke, send_op("t", 1, 19, None), None);
    }
    h.push(3, 4, Phase::Ok, send_op("t", 1, 19, Some(0)), None);
    h.push(1, 5, Phase::Ok, t_steps(true), None);
    h
}

#[test]
fn a_poll_done_before_its_writer_could_commit_is_an_early_read() {
    let h = history(false);
    let found = found(&h);
    assert_eq!(found.len(), 1, "{found:?}");
    let why = found[0].explain();
    assert!(
        why.contains("op 2 returned value 10 at offset 0 of t-0 by 2 ns"),
        "{why}"
    );
    assert!(
        why.contains("its step 1 reached offset 1 of t-1, after the record 19 at offset 0, written by op 3 invoked at 3 ns"),
        "{why}"
    );
    assert_eq!(
        serde_json::to_value(&found[0]).unwrap()["kind"],
        "early-read"
    );
}

#[test]
fn a_poll_that_may_have_come_after_the_commit_is_not_an_early_read() {
    // Process 3 was invoked before the poll completed: its record may have been appended, and
    // T committed, before the poll read 10.
    assert_eq!(found(&history(true)), vec![]);
}

#[test]
fn reading_ones_own_send_or_a_plain_send_is_not_an_early_read() {
    let mut h = History::default();
    // A plain send read before it completed: no transaction to commit.
    h.push(1, 0, Phase::Invoke, send_op("t", 0, 10, None), None);
    h.push(2, 1, Phase::Invoke, poll_op("t", 0, 0, &[]), None);
    h.push(2, 2, Phase::Ok, poll_op("t", 0, 0, &[(0, 10)]), None);
    h.push(1, 3, Phase::Ok, send_op("t", 0, 10, Some(0)), None);
    // A transaction polling its own send back: precommitted-read's business.
    let steps = vec![
        send_step("t", 1, 30, None, Some(0)),
        poll_step("t", 1, &[(0, 30)]),
    ];
    run(&mut h, 3, Phase::Ok, txn(steps));
    assert_eq!(found(&h), vec![]);
}
