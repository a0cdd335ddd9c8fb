//! int-poll-skip (Jepsen's `:int-poll-skip`): inside one operation, two consecutive records
//! polled from a partition skip over a known record. A consumer reads a partition in offset
//! order, so within one poll operation (or one transaction's polls) the record after offset a
//! is the next record a consumer may see after a: a committed record in between was skipped.
//! Found by the internal-order scan (`txn::internal`).

use serde::{Deserialize, Serialize};

use super::{Finding, capped_pairs};
use crate::causal::FindingRecords;
use crate::detect::Context;

/// Inside one operation, two consecutive records polled from a partition skip a known record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntPollSkip {
    pub process: u64,
    /// History indices of the operation's invoke and completion.
    pub op: u64,
    pub completion: u64,
    pub topic: String,
    pub partition: u32,
    /// (offset, value) of the two consecutive polled records.
    pub previous: (u64, u64),
    pub next: (u64, u64),
    /// (offset, value) of the known records between them, ascending.
    pub skipped: Vec<(u64, u64)>,
}

impl IntPollSkip {
    pub fn explain(&self) -> String {
        format!(
            "op {} (process {}, completed op {}) polled value {} at offset {} of {}-{} and \
             then value {} at offset {}, skipping known record(s) {} inside one operation: \
             an internal poll skip",
            self.op,
            self.process,
            self.completion,
            self.previous.1,
            self.previous.0,
            self.topic,
            self.partition,
            self.next.1,
            self.next.0,
            capped_pairs(&self.skipped)
        )
    }
}

impl Finding for IntPollSkip {
    /// The skipped records: where they were appended is the chain's start.
    fn records(&self) -> Option<FindingRecords<'_>> {
        let offsets = self.skipped.iter().map(|&(offset, _)| offset).collect();
        Some(FindingRecords::new(&self.topic, self.partition, offsets))
    }
}

pub(crate) fn find(cx: &Context) -> Vec<IntPollSkip> {
    cx.internal_order().poll_skips.clone()
}

#[cfg(test)]
mod tests {
    use crate::anomaly::{Anomaly, AnomalyKind};
    use crate::history::{History, Phase, RecordStatus::Committed};
    use crate::testkit::*;

    fn found(h: &History) -> Vec<Anomaly> {
        findings_of(h, AnomalyKind::IntPollSkip)
    }

    #[test]
    fn a_transaction_whose_polls_jump_over_a_committed_record_skips_it() {
        let mut h = History::default();
        let steps = vec![poll_step("t", 0, &[(0, 10)]), poll_step("t", 0, &[(2, 12)])];
        run(&mut h, 1, Phase::Ok, txn(steps));
        h.final_logs.push(final_log(
            "t",
            0,
            &[(10, Committed), (11, Committed), (12, Committed)],
        ));
        let found = found(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        let why = found[0].explain();
        assert!(why.contains("skipping known record(s) 11@1"), "{why}");
        assert_eq!(
            serde_json::to_value(&found[0]).unwrap()["kind"],
            "int-poll-skip"
        );
    }

    #[test]
    fn one_poll_op_skipping_a_record_another_poll_saw_is_a_skip() {
        let mut h = History::default();
        run(
            &mut h,
            1,
            Phase::Ok,
            poll_op("t", 0, 0, &[(0, 10), (2, 12)]),
        );
        run(&mut h, 2, Phase::Ok, poll_op("t", 0, 1, &[(1, 11)]));
        assert_eq!(found(&h).len(), 1);
    }

    #[test]
    fn gaps_of_aborted_records_and_markers_are_not_skips() {
        let mut h = History::default();
        let steps = vec![poll_step("t", 0, &[(0, 10), (3, 12)])];
        run(&mut h, 1, Phase::Ok, txn(steps));
        use crate::history::RecordStatus::Aborted;
        h.final_logs.push(final_log(
            "t",
            0,
            &[
                (10, Committed),
                (11, Aborted),
                (99, Aborted),
                (12, Committed),
            ],
        ));
        assert_eq!(found(&h), vec![]);
    }
}
