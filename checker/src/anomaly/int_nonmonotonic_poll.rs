//! int-nonmonotonic-poll (Jepsen's `:int-nonmonotonic-poll`): inside one operation, the
//! records polled from a partition go backwards or repeat an offset. A consumer's position
//! only moves forward between its own seeks, and one operation makes none. Found by the
//! internal-order scan (`txn::internal`).

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::causal::FindingRecords;
use crate::detect::Context;

/// Inside one operation, a record polled from a partition at or below the previous one's
/// offset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntNonmonotonicPoll {
    pub process: u64,
    /// History indices of the operation's invoke and completion.
    pub op: u64,
    pub completion: u64,
    pub topic: String,
    pub partition: u32,
    /// (offset, value) of the two consecutive polled records.
    pub previous: (u64, u64),
    pub next: (u64, u64),
}

impl IntNonmonotonicPoll {
    pub fn explain(&self) -> String {
        let how = if self.next.0 == self.previous.0 {
            "the same offset again"
        } else {
            "a lower offset"
        };
        format!(
            "op {} (process {}, completed op {}) polled value {} at offset {} of {}-{} and \
             then value {} at {how}, {}, inside one operation: an internal non-monotonic poll",
            self.op,
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

impl Finding for IntNonmonotonicPoll {
    fn records(&self) -> Option<FindingRecords<'_>> {
        None
    }
}

pub(crate) fn find(cx: &Context) -> Vec<IntNonmonotonicPoll> {
    cx.internal_order().nonmonotonic_polls.clone()
}

#[cfg(test)]
mod tests {
    use crate::anomaly::{Anomaly, AnomalyKind};
    use crate::history::{History, Phase};
    use crate::testkit::*;

    fn found(h: &History) -> Vec<Anomaly> {
        findings_of(h, AnomalyKind::IntNonmonotonicPoll)
    }

    #[test]
    fn polls_going_back_or_repeating_inside_a_transaction_are_nonmonotonic() {
        let mut h = History::default();
        let steps = vec![poll_step("t", 0, &[(3, 13)]), poll_step("t", 0, &[(2, 12)])];
        run(&mut h, 1, Phase::Ok, txn(steps));
        let steps = vec![poll_step("t", 1, &[(5, 15), (5, 15)])];
        run(&mut h, 2, Phase::Info, txn(steps));
        let found = found(&h);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].explain().contains("at a lower offset, 2"),
            "{}",
            found[0].explain()
        );
        assert!(found[1].explain().contains("the same offset again"));
    }

    #[test]
    fn separate_operations_and_other_partitions_may_go_back() {
        let mut h = History::default();
        run(&mut h, 1, Phase::Ok, poll_op("t", 0, 0, &[(3, 13)]));
        run(&mut h, 1, Phase::Ok, poll_op("t", 0, 0, &[(2, 12)]));
        let steps = vec![poll_step("t", 0, &[(3, 13)]), poll_step("t", 1, &[(2, 12)])];
        run(&mut h, 2, Phase::Ok, txn(steps));
        assert_eq!(found(&h), vec![]);
    }
}
