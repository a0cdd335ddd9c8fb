//! precommitted-read (Jepsen's `:precommitted-read`): a transaction polled a record it had
//! itself sent earlier in the same transaction. A read_committed consumer sees a
//! transaction's records only once it commits, its own producer's included, so a transaction
//! can never read back its own sends.
//!
//! The record must surely be the transaction's own: the poll returned the send's value in
//! the send's partition after the send step, and either at the offset the send reported, or
//! the history has no other send of that value to that partition (so a resend of a value an
//! earlier transaction committed, as a re-processing stream task makes, is not one).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::causal::FindingRecords;
use crate::detect::Context;
use crate::facts::{Facts, TxnFact, phase_name};
use crate::history::TxnStep;

/// A transaction polled a value it had sent itself, before it committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrecommittedRead {
    /// History index of the transaction's invoke.
    pub txn: u64,
    pub completion: Option<u64>,
    pub txn_id: Option<String>,
    /// How the client saw it end: "ok", "fail", "info" or "none".
    pub outcome: String,
    pub topic: String,
    pub partition: u32,
    pub value: u64,
    /// Where the poll returned it.
    pub offset: u64,
    /// Positions among the transaction's steps (from 0) of the send and of the poll.
    pub send_step: usize,
    pub poll_step: usize,
}

impl PrecommittedRead {
    pub fn explain(&self) -> String {
        let who = match &self.txn_id {
            Some(id) => format!("transaction op {} ({id})", self.txn),
            None => format!("transaction op {}", self.txn),
        };
        let ended = match self.completion {
            Some(op) => format!("ended {} (op {op})", self.outcome),
            None => "never completed".to_string(),
        };
        format!(
            "{who} sent value {} to {}-{} (step {}) and its poll (step {}) returned it at \
             offset {} before the transaction committed (it {ended}): a transaction read its \
             own uncommitted write — a precommitted read",
            self.value, self.topic, self.partition, self.send_step, self.poll_step, self.offset
        )
    }
}

impl Finding for PrecommittedRead {
    /// The record polled back: its append, and the produce that made it, are the chain.
    fn records(&self) -> Option<FindingRecords<'_>> {
        Some(FindingRecords::new(
            &self.topic,
            self.partition,
            vec![self.offset],
        ))
    }
}

/// One finding per transaction and (topic, partition, value) polled back, by the
/// transaction's invoke, then poll step, then the poll's record order. Every transactional
/// `txn` counts whatever its outcome: its polls read before it ended.
pub(crate) fn find(cx: &Context) -> Vec<PrecommittedRead> {
    let facts = cx.facts;
    let mut found = Vec::new();
    // Only a poll after a send can read the send back: the facts note where one is, so the
    // steps of the other transactions (almost all) are not walked again.
    for txn in facts
        .txns
        .iter()
        .filter(|t| t.transactional && t.polls_after_send)
    {
        found.extend(in_transaction(facts, txn));
    }
    found
}

/// A send step of a transaction: (step, topic, partition, value, reported offset).
type SentStep<'h> = (usize, &'h str, u32, u64, Option<u64>);

fn in_transaction<'h>(facts: &Facts<'h>, txn: &TxnFact<'h>) -> Vec<PrecommittedRead> {
    let mut sent: Vec<SentStep<'h>> = Vec::new();
    let mut reported: BTreeSet<(&str, u32, u64)> = BTreeSet::new();
    let mut found = Vec::new();
    for (step, s) in txn.steps.iter().enumerate() {
        match s {
            TxnStep::Send {
                topic,
                partition,
                value,
                offset,
                ..
            } => sent.push((step, topic, *partition, *value, *offset)),
            TxnStep::Poll {
                topic,
                partition,
                records,
            } => {
                for r in records {
                    let own = sent.iter().find(|&&(_, t, p, v, offset)| {
                        (t, p, v) == (&**topic, *partition, r.value)
                            && (offset == Some(r.offset) || only_send(facts, t, p, v))
                    });
                    let Some(&(send_step, ..)) = own else {
                        continue;
                    };
                    if reported.insert((topic, *partition, r.value)) {
                        found.push(PrecommittedRead {
                            txn: txn.invoke,
                            completion: txn.completion,
                            txn_id: txn.txn_id.map(str::to_string),
                            outcome: phase_name(txn.outcome),
                            topic: topic.to_string(),
                            partition: *partition,
                            value: r.value,
                            offset: r.offset,
                            send_step,
                            poll_step: step,
                        });
                    }
                }
            }
            TxnStep::CommitOffset { .. } => {}
        }
    }
    found
}

/// Whether the history holds exactly one send of `value` to the partition.
fn only_send(facts: &Facts, topic: &str, partition: u32, value: u64) -> bool {
    facts
        .topics
        .get(topic)
        .is_some_and(|t| facts.sends_of(t, partition, value).len() == 1)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::anomaly::{Anomaly, AnomalyKind};
    use crate::history::{History, Operation, Phase};
    use crate::testkit::*;

    fn found(h: &History) -> Vec<Anomaly> {
        findings_of(h, AnomalyKind::PrecommittedRead)
    }

    #[test]
    fn a_transaction_polling_back_its_own_send_is_a_precommitted_read() {
        let mut h = History::default();
        let steps = vec![
            send_step("t", 0, 10, None, Some(5)),
            poll_step("t", 1, &[(0, 99)]),
            poll_step("t", 0, &[(4, 7), (5, 10)]),
        ];
        run(&mut h, 1, Phase::Ok, txn(steps));
        let found = found(&h);
        let expected = PrecommittedRead {
            txn: 0,
            completion: Some(1),
            txn_id: Some("tx".into()),
            outcome: "ok".into(),
            topic: "t".into(),
            partition: 0,
            value: 10,
            offset: 5,
            send_step: 0,
            poll_step: 2,
        };
        assert_eq!(found, vec![Anomaly::PrecommittedRead(expected)]);
        let why = found[0].explain();
        assert!(
            why.contains("transaction op 0 (tx) sent value 10 to t-0 (step 0)"),
            "{why}"
        );
        assert!(why.contains("precommitted read"), "{why}");
        let json = serde_json::to_value(&found[0]).unwrap();
        assert_eq!(json["kind"], "precommitted-read");
    }

    #[test]
    fn an_unacknowledged_send_polled_back_counts_when_no_other_send_has_its_value() {
        let mut h = History::default();
        let steps = vec![
            send_step("t", 0, 10, None, None),
            poll_step("t", 0, &[(3, 10)]),
            poll_step("t", 0, &[(3, 10)]),
        ];
        run(&mut h, 1, Phase::Info, txn(steps));
        let found = found(&h);
        assert_eq!(found.len(), 1, "one finding per value: {found:?}");
        assert!(found[0].explain().contains("ended info (op 1)"));
    }

    #[test]
    fn reading_what_others_committed_or_before_sending_is_not_a_precommitted_read() {
        let mut h = History::default();
        run(
            &mut h,
            1,
            Phase::Ok,
            txn(vec![send_step("t", 0, 10, None, Some(0))]),
        );
        // Polls 10 (committed by the first transaction) before sending 11.
        let steps = vec![
            poll_step("t", 0, &[(0, 10)]),
            send_step("t", 0, 11, None, Some(1)),
        ];
        run(&mut h, 2, Phase::Ok, txn(steps));
        // Polls a value first, then sends the same value (a duplicate, not a read of its own).
        let steps = vec![
            poll_step("t", 0, &[(0, 10)]),
            send_step("t", 0, 10, None, Some(2)),
        ];
        run(&mut h, 3, Phase::Ok, txn(steps));
        assert_eq!(found(&h), vec![]);
    }

    #[test]
    fn a_resent_value_read_where_an_earlier_transaction_put_it_is_not_a_precommitted_read() {
        let mut h = History::default();
        // An unknown-outcome transaction that really committed 10 at offset 0, then a
        // re-processing transaction that sends 10 again (offset 3) and reads the first copy.
        run(
            &mut h,
            1,
            Phase::Info,
            txn(vec![send_step("t", 0, 10, None, None)]),
        );
        let steps = vec![
            send_step("t", 0, 10, None, Some(3)),
            poll_step("t", 0, &[(0, 10)]),
        ];
        run(&mut h, 2, Phase::Ok, txn(steps));
        assert_eq!(found(&h), vec![]);
        // Unless it read the copy it sent itself.
        let steps = vec![
            send_step("t", 0, 10, None, Some(4)),
            poll_step("t", 0, &[(4, 10)]),
        ];
        run(&mut h, 3, Phase::Ok, txn(steps));
        assert_eq!(found(&h).len(), 1);
    }

    #[test]
    fn a_non_transactional_batch_may_read_its_own_send() {
        let mut h = History::default();
        let batch = Operation::Txn {
            transactional: false,
            txn_id: None,
            steps: vec![
                send_step("t", 0, 10, None, Some(0)),
                poll_step("t", 0, &[(0, 10)]),
            ],
        };
        run(&mut h, 1, Phase::Ok, batch);
        assert_eq!(found(&h), vec![]);
    }

    /// A step of a random transaction: a send (partition, value, reported offset) or a poll
    /// (partition, (offset, value) records).
    #[derive(Clone, Debug)]
    enum Step {
        Send(u32, u64, Option<u64>),
        Poll(u32, Vec<(u64, u64)>),
    }

    fn step() -> impl Strategy<Value = Step> {
        let record = (0u64..4, 0u64..4);
        prop_oneof![
            (0u32..2, 0u64..4, proptest::option::of(0u64..4))
                .prop_map(|(p, v, o)| Step::Send(p, v, o)),
            (0u32..2, proptest::collection::vec(record, 0..3)).prop_map(|(p, r)| Step::Poll(p, r)),
        ]
    }

    fn to_step(step: &Step) -> TxnStep {
        match step {
            Step::Send(p, v, o) => send_step("t", *p, *v, None, *o),
            Step::Poll(p, records) => poll_step("t", *p, records),
        }
    }

    /// The definition restated over the raw transactions with plain loops: (transaction's
    /// invoke index, partition, value) of every precommitted read, sorted.
    fn oracle(txns: &[(bool, Vec<Step>)]) -> Vec<(u64, u32, u64)> {
        let sends_of = |p: u32, v: u64| {
            let sends = txns.iter().flat_map(|(_, steps)| steps);
            sends
                .filter(|s| matches!(s, Step::Send(sp, sv, _) if (*sp, *sv) == (p, v)))
                .count()
        };
        let mut out = Vec::new();
        for (i, (transactional, steps)) in txns.iter().enumerate() {
            for (j, step) in steps.iter().enumerate() {
                let Step::Poll(p, records) = step else {
                    continue;
                };
                for &(offset, value) in records {
                    let own = steps[..j].iter().any(|s| {
                        matches!(s, Step::Send(sp, sv, so)
                            if (*sp, *sv) == (*p, value)
                                && (*so == Some(offset) || sends_of(*p, value) == 1))
                    });
                    if *transactional && own {
                        out.push((2 * i as u64, *p, value));
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    proptest! {
        #[test]
        fn findings_agree_with_a_brute_force_oracle(
            txns in proptest::collection::vec(
                (any::<bool>(), proptest::collection::vec(step(), 0..5)),
                0..5,
            )
        ) {
            let mut h = History::default();
            for (process, (transactional, steps)) in txns.iter().enumerate() {
                let op = Operation::Txn {
                    transactional: *transactional,
                    txn_id: None,
                    steps: steps.iter().map(to_step).collect(),
                };
                run(&mut h, process as u64, Phase::Ok, op);
            }
            let mut got: Vec<(u64, u32, u64)> = found(&h)
                .into_iter()
                .map(|a| match a {
                    Anomaly::PrecommittedRead(r) => (r.txn, r.partition, r.value),
                    other => panic!("{other:?}"),
                })
                .collect();
            // Findings come by transaction, then poll step: sorted by transaction already.
            prop_assert!(got.windows(2).all(|w| w[0].0 <= w[1].0));
            got.sort_unstable();
            prop_assert_eq!(got, oracle(&txns));
        }
    }
}
