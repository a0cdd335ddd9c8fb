//! int-send-skip (Jepsen's `:int-send-skip`): inside one transaction, two consecutive sends
//! to a partition landed with another record between them. **Jepsen always allows it** and
//! so does eosim's allowed-error policy (`policy.rs`): a transaction does not isolate its
//! writes, so other producers' records interleave with its own (Kafka promises only that one
//! producer's records keep their order). It is informational: `eosim check` lists it, the
//! runs' checks (`check_all`) leave it out. Found by the internal-order scan
//! (`txn::internal`).

use serde::{Deserialize, Serialize};

use super::{Finding, capped_pairs};
use crate::causal::FindingRecords;
use crate::detect::Context;

/// Inside one transaction, two consecutive sends to a partition have other records between.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntSendSkip {
    pub process: u64,
    /// History indices of the transaction's invoke and completion.
    pub txn: u64,
    pub completion: u64,
    pub topic: String,
    pub partition: u32,
    /// (offset, value) of the two consecutive sends.
    pub previous: (u64, u64),
    pub next: (u64, u64),
    /// (offset, value) of the known records between them, ascending.
    pub between: Vec<(u64, u64)>,
}

impl IntSendSkip {
    pub fn explain(&self) -> String {
        format!(
            "transaction op {} (process {}, completed op {}) sent value {} to offset {} of \
             {}-{} and next value {} to offset {}, with other record(s) {} between them: an \
             internal send skip — allowed (transactions do not isolate writes: other \
             producers' records interleave)",
            self.txn,
            self.process,
            self.completion,
            self.previous.1,
            self.previous.0,
            self.topic,
            self.partition,
            self.next.1,
            self.next.0,
            capped_pairs(&self.between)
        )
    }
}

impl Finding for IntSendSkip {
    fn records(&self) -> Option<FindingRecords<'_>> {
        None
    }
}

pub(crate) fn find(cx: &Context) -> Vec<IntSendSkip> {
    cx.internal_order().send_skips.clone()
}

#[cfg(test)]
mod tests {
    use crate::anomaly::{Anomaly, AnomalyKind};
    use crate::history::{History, Phase};
    use crate::testkit::*;

    fn found(h: &History) -> Vec<Anomaly> {
        findings_of(h, AnomalyKind::IntSendSkip)
    }

    #[test]
    fn another_producers_record_between_two_sends_is_an_allowed_send_skip() {
        let mut h = History::default();
        let steps = vec![
            send_step("t", 0, 10, None, Some(0)),
            send_step("t", 0, 12, None, Some(2)),
        ];
        run(&mut h, 1, Phase::Ok, txn(steps));
        run(&mut h, 2, Phase::Ok, send_op("t", 0, 11, Some(1)));
        let found = found(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].explain().contains("11@1"),
            "{}",
            found[0].explain()
        );
        // Informational: the runs' checks leave it out.
        let kinds: Vec<_> = crate::check_all(&h)
            .unwrap()
            .iter()
            .map(Anomaly::kind)
            .collect();
        assert!(!kinds.contains(&AnomalyKind::IntSendSkip), "{kinds:?}");
    }

    #[test]
    fn adjacent_sends_or_a_gap_of_markers_are_not_send_skips() {
        let mut h = History::default();
        let steps = vec![
            send_step("t", 0, 10, None, Some(0)),
            send_step("t", 0, 12, None, Some(1)),
            send_step("t", 0, 13, None, Some(5)),
        ];
        run(&mut h, 1, Phase::Ok, txn(steps));
        assert_eq!(found(&h), vec![]);
    }
}
