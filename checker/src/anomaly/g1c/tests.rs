use crate::anomaly::policy::{Policy, Verdict};
use crate::anomaly::{Anomaly, AnomalyKind};
use crate::history::{History, Phase};
use crate::testkit::*;

fn found(h: &History) -> Vec<Anomaly> {
    findings_of(h, AnomalyKind::G1c)
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

mod oracle {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::found;
    use crate::anomaly::Anomaly;
    use crate::anomaly::g1c::graph::Dependency::{self, Wr, Ww};
    use crate::anomaly::g1c::graph::tests::{joined, simple_cycles};
    use crate::history::{History, Phase};
    use crate::testkit::*;

    /// A transaction's step: a send (partition, value, offset) or a poll (partition, records).
    #[derive(Clone, Debug)]
    enum Step {
        Send(u32, u64, u64),
        Poll(u32, Vec<(u64, u64)>),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u32..2, 0u64..8, 0u64..8).prop_map(|(p, v, o)| Step::Send(p, v, o)),
            (0u32..2, proptest::collection::vec((0u64..8, 0u64..8), 1..3))
                .prop_map(|(p, r)| Step::Poll(p, r)),
        ]
    }

    /// The edges restated over the raw transactions (node = position among the committed).
    fn edges(txns: &[(bool, Vec<Step>)]) -> BTreeSet<(usize, usize, Dependency)> {
        let committed: Vec<&Vec<Step>> = txns.iter().filter(|t| t.0).map(|t| &t.1).collect();
        let mut writes = Vec::new();
        for (node, steps) in committed.iter().enumerate() {
            for s in steps.iter() {
                if let Step::Send(p, v, o) = s {
                    writes.push((*p, *o, node, *v));
                }
            }
        }
        let mut edges = BTreeSet::new();
        for (reader, steps) in committed.iter().enumerate() {
            for s in steps.iter() {
                let Step::Poll(p, records) = s else { continue };
                for &(o, v) in records {
                    let all: Vec<_> = writes.iter().filter(|w| (w.0, w.3) == (*p, v)).collect();
                    let writer = match all.iter().find(|w| w.1 == o) {
                        Some(w) => Some(w.2),
                        None if all.len() == 1 => Some(all[0].2),
                        None => None,
                    };
                    if let Some(writer) = writer.filter(|&w| w != reader) {
                        edges.insert((writer, reader, Wr));
                    }
                }
            }
        }
        if edges.is_empty() {
            return edges;
        }
        writes.sort_unstable();
        for w in writes.windows(2) {
            if w[0].0 == w[1].0 && w[0].2 != w[1].2 {
                edges.insert((w[0].2, w[1].2, Ww));
            }
        }
        edges
    }

    proptest! {
        #[test]
        fn g1c_findings_agree_with_brute_force_cycles_of_the_restated_graph(
            txns in proptest::collection::vec(
                (proptest::bool::weighted(0.8), proptest::collection::vec(step(), 1..4)),
                0..6,
            )
        ) {
            let mut h = History::default();
            for (i, (ok, steps)) in txns.iter().enumerate() {
                let steps = steps
                    .iter()
                    .map(|s| match s {
                        Step::Send(p, v, o) => send_step("t", *p, *v, None, Some(*o)),
                        Step::Poll(p, r) => poll_step("t", *p, r),
                    })
                    .collect();
                let phase = if *ok { Phase::Ok } else { Phase::Fail };
                run(&mut h, i as u64, phase, txn(steps));
            }
            let committed: Vec<u64> =
                (0..txns.len()).filter(|&i| txns[i].0).map(|i| 2 * i as u64).collect();
            let edges = edges(&txns);
            let cycles = simple_cycles(committed.len(), &edges);
            let read_only: Vec<_> = cycles.iter().filter(|c| c.iter().all(|e| e.2 == Wr)).collect();
            let read_groups = joined(committed.len(), &read_only);
            let mixed: BTreeSet<Vec<usize>> = joined(committed.len(), &cycles.iter().collect::<Vec<_>>())
                .into_iter()
                .filter(|g| !read_groups.iter().any(|r| g.contains(&r[0])))
                .filter(|g| cycles.iter().any(|c| g.contains(&c[0].0) && c.iter().any(|e| e.2 == Wr)))
                .collect();
            let as_invokes = |groups: BTreeSet<Vec<usize>>, wr_only: bool| -> BTreeSet<(bool, Vec<u64>)> {
                groups.into_iter().map(|g| (wr_only, g.iter().map(|&n| committed[n]).collect())).collect()
            };
            let mut expected = as_invokes(read_groups, true);
            expected.extend(as_invokes(mixed, false));
            let got: BTreeSet<(bool, Vec<u64>)> = found(&h)
                .into_iter()
                .map(|a| match a {
                    Anomaly::G1c(c) => (c.write_read_only, c.transactions),
                    other => panic!("{other:?}"),
                })
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}
