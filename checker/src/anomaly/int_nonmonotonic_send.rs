//! int-nonmonotonic-send (Jepsen's `:int-nonmonotonic-send`): inside one transaction, a
//! later send to a partition got an offset at or below an earlier one's. A transactional
//! producer's records of a partition are appended in the order it sent them ("Messages in a
//! transaction … would be in the order they are produced"). Found by the internal-order scan
//! (`txn::internal`).

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::causal::FindingRecords;
use crate::detect::Context;

/// Inside one transaction, a later send to a partition landed at or below an earlier one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntNonmonotonicSend {
    pub process: u64,
    /// History indices of the transaction's invoke and completion.
    pub txn: u64,
    pub completion: u64,
    pub topic: String,
    pub partition: u32,
    /// (offset, value) of the two consecutive sends.
    pub previous: (u64, u64),
    pub next: (u64, u64),
}

impl IntNonmonotonicSend {
    pub fn explain(&self) -> String {
        format!(
            "transaction op {} (process {}, completed op {}) sent value {} to offset {} of \
             {}-{}, then value {} which landed at offset {}, not after it: an internal \
             non-monotonic send",
            self.txn,
            self.process,
            self.completion,
            self.previous.1,
            self.previous.0,
            self.topic,
            self.partition,
            self.next.1,
            self.next.0
        )
    }
}

impl Finding for IntNonmonotonicSend {
    /// The two records: their appends are the chain's start.
    fn records(&self) -> Option<FindingRecords<'_>> {
        let mut offsets = vec![self.next.0, self.previous.0];
        offsets.dedup();
        Some(FindingRecords::new(&self.topic, self.partition, offsets))
    }
}

pub(crate) fn find(cx: &Context) -> Vec<IntNonmonotonicSend> {
    cx.internal_order().nonmonotonic_sends.clone()
}

#[cfg(test)]
mod tests {
    use crate::anomaly::{Anomaly, AnomalyKind};
    use crate::history::{History, Operation, Phase};
    use crate::testkit::*;

    fn found(h: &History) -> Vec<Anomaly> {
        findings_of(h, AnomalyKind::IntNonmonotonicSend)
    }

    #[test]
    fn a_later_send_landing_lower_inside_a_transaction_is_nonmonotonic() {
        let mut h = History::default();
        let steps = vec![
            send_step("t", 0, 10, None, Some(4)),
            send_step("t", 1, 20, None, Some(0)),
            send_step("t", 0, 11, None, Some(3)),
        ];
        run(&mut h, 1, Phase::Ok, txn(steps));
        let found = found(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        let why = found[0].explain();
        assert!(why.contains("value 11 which landed at offset 3"), "{why}");
    }

    #[test]
    fn separate_transactions_and_non_transactional_batches_are_not_checked() {
        let mut h = History::default();
        run(
            &mut h,
            1,
            Phase::Ok,
            txn(vec![send_step("t", 0, 10, None, Some(4))]),
        );
        run(
            &mut h,
            1,
            Phase::Ok,
            txn(vec![send_step("t", 0, 11, None, Some(3))]),
        );
        let batch = Operation::Txn {
            transactional: false,
            txn_id: None,
            steps: vec![
                send_step("t", 1, 10, None, Some(4)),
                send_step("t", 1, 11, None, Some(3)),
            ],
        };
        run(&mut h, 2, Phase::Ok, batch);
        assert_eq!(found(&h), vec![]);
    }
}
