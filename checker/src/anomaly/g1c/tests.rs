use crate::anomaly::policy::{Policy, Verdict};
use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::{History, Phase};
use crate::testkit::*;

fn found(h: &History) -> Vec<Anomaly> {
    let all = crate::detect::findings(h).unwrap();
    all.into_iter()
        .filter(|a| a.kind() == AnomalyKind::G1c)
        .collect()
}

#[test]
fn two_transactions_reading_each_others_writes_are_a_write_read_cycle() {
    let mut h = History::default();
    // Op 0 sends 1 to t-0 and polls 2 from t-1; op 2 sends 2 to t-1 and polls 1 from t-0.
    let a = vec![
        send_step("t", 0, 1, None, Some(0)),
        poll_step("t", 1, &[(0, 2)]),
    ];
    let b = vec![
        send_step("t", 1, 2, None, Some(0)),
        poll_step("t", 0, &[(0, 1)]),
    ];
    run(&mut h, 1, Phase::Ok, txn(a));
    run(&mut h, 2, Phase::Ok, txn(b));
    let found = found(&h);
    assert_eq!(found.len(), 1, "{found:?}");
    let Anomaly::G1c(cycle) = &found[0] else {
        unreachable!()
    };
    assert!(cycle.write_read_only);
    assert_eq!(cycle.transactions, [0, 2]);
    let why = found[0].explain();
    assert!(
        why.contains("op 0 wrote 1 to t-0, which op 2 polled (wr)"),
        "{why}"
    );
    assert!(why.contains("write-read edges alone"), "{why}");
    assert_eq!(Policy::default().judge(&found[0]), Verdict::Error);
    assert_eq!(serde_json::to_value(&found[0]).unwrap()["kind"], "g1c");
    assert!(crate::check_all(&h).unwrap().contains(&found[0]));
}

#[test]
fn a_cycle_through_a_write_write_edge_is_allowed_while_ww_deps_are() {
    let mut h = History::default();
    // Op 0 writes 1 at t-0 offset 0, then op 2 writes 2 at offset 1 (ww 0 → 2); op 2 commits
    // and op 0 polls its 5 from t-1 (wr 2 → 0): normal in Kafka.
    let a = vec![
        send_step("t", 0, 1, None, Some(0)),
        poll_step("t", 1, &[(0, 5)]),
    ];
    let b = vec![
        send_step("t", 0, 2, None, Some(1)),
        send_step("t", 1, 5, None, Some(0)),
    ];
    run(&mut h, 1, Phase::Ok, txn(a));
    run(&mut h, 2, Phase::Ok, txn(b));
    let found = found(&h);
    assert_eq!(found.len(), 1, "{found:?}");
    let why = found[0].explain();
    assert!(
        why.contains("op 0 wrote 1 to t-0 right before op 2 wrote 2 (ww)"),
        "{why}"
    );
    assert_eq!(Policy::default().judge(&found[0]), Verdict::Informational);
    let strict = Policy {
        ww_deps_allowed: false,
        ..Policy::default()
    };
    assert_eq!(strict.judge(&found[0]), Verdict::Error);
    assert!(!crate::check_all(&h).unwrap().contains(&found[0]));
}

#[test]
fn one_way_reads_failed_writers_and_own_writes_make_no_cycle() {
    let mut h = History::default();
    // Op 2 reads op 0's write, not the other way round.
    run(
        &mut h,
        1,
        Phase::Ok,
        txn(vec![send_step("t", 0, 1, None, Some(0))]),
    );
    let b = vec![
        send_step("t", 1, 2, None, Some(0)),
        poll_step("t", 0, &[(0, 1)]),
    ];
    run(&mut h, 2, Phase::Ok, txn(b));
    // A failed transaction reading op 2's write and written to by it: not a node.
    let c = vec![
        send_step("t", 0, 3, None, Some(1)),
        poll_step("t", 1, &[(0, 2)]),
    ];
    run(&mut h, 3, Phase::Fail, txn(c));
    assert_eq!(found(&h), vec![]);
}
