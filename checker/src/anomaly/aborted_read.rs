//! aborted-read (Jepsen's G1a): an ok poll returned a value whose transaction aborted.

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::causal::FindingRecords;
use crate::detect::Context;
use crate::history::{Phase, RecordStatus};
use crate::txn::{Partition, partition_of};

/// An ok poll returned a value whose writer definitely aborted (Jepsen's G1a).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortedRead {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub value: u64,
    /// History index of the poll's completion (a `poll` op, or the committed `txn` whose
    /// poll step returned the record).
    pub poll: u64,
    /// The failed transaction that sent the value: (invoke, completion), if the history has one.
    pub writer: Option<(u64, u64)>,
    /// Whether the final log marks the record at that offset aborted.
    pub aborted_in_final_log: bool,
}

impl AbortedRead {
    pub fn explain(&self) -> String {
        let mut why = Vec::new();
        if let Some((invoke, completion)) = self.writer {
            why.push(format!(
                "the transaction that sent it (op {invoke}) failed (op {completion})"
            ));
        }
        if self.aborted_in_final_log {
            why.push("the final log marks that record aborted".to_string());
        }
        format!(
            "poll op {} returned value {} at offset {} of {}-{}, but {}: a read of aborted \
             data (G1a)",
            self.poll,
            self.value,
            self.offset,
            self.topic,
            self.partition,
            why.join(" and ")
        )
    }
}

impl Finding for AbortedRead {
    fn records(&self) -> Option<FindingRecords<'_>> {
        None
    }
}

/// aborted-read (Jepsen's G1a): an ok poll returned value v at offset o of a partition, and
/// either the final log holds v at o with status aborted, or every send of v to that
/// partition in the history is a definitely aborted send (there is at least one). One finding
/// per (poll completion, partition, offset).
pub(crate) fn find(cx: &Context) -> Vec<AbortedRead> {
    let facts = cx.facts;
    // A finding needs an aborted final-log record or a definitely aborted send: a polled
    // record is looked up in those two short lists first (no search of the whole history's
    // sends or logs for the many records that are neither).
    let mut aborted_records: Vec<(Partition, u64, u64)> = Vec::new();
    for (&partition, log) in &facts.logs {
        let aborted = log
            .records
            .iter()
            .filter(|r| r.status == RecordStatus::Aborted);
        aborted_records.extend(aborted.map(|r| (partition, r.offset, r.value)));
    }
    // A send is definitely aborted iff it is a step of a transactional txn that failed.
    let mut aborted_sends: Vec<(Partition, u64)> = facts
        .txns
        .iter()
        .filter(|t| t.transactional && t.outcome == Some(Phase::Fail))
        .flat_map(|t| &facts.sends[t.sends.clone()])
        .map(|s| (partition_of(s), s.value))
        .collect();
    if aborted_records.is_empty() && aborted_sends.is_empty() {
        return Vec::new();
    }
    aborted_records.sort_unstable();
    aborted_sends.sort_unstable();
    let values = aborted_records.iter().map(|r| r.2);
    let filter = ValueFilter::new(values.chain(aborted_sends.iter().map(|s| s.1)));
    let mut found: Vec<AbortedRead> = Vec::new();
    for poll in &facts.polls {
        let partition = (poll.topic, poll.partition);
        for r in poll.records.iter().filter(|r| filter.may_hold(r.value)) {
            let aborted_in_final_log = aborted_records
                .binary_search(&(partition, r.offset, r.value))
                .is_ok();
            // Every send of the value definitely aborted (and there is one).
            let writer_aborted = aborted_sends.binary_search(&(partition, r.value)).is_ok() && {
                let writers = facts.sends_of(poll.topic, poll.partition, r.value);
                writers.iter().all(|&w| facts.sends[w].aborted(facts))
            };
            if !(aborted_in_final_log || writer_aborted) {
                continue;
            }
            let writer = writer_aborted.then(|| {
                let first = facts.sends_of(poll.topic, poll.partition, r.value)[0];
                let s = &facts.sends[first];
                (
                    s.invoke(),
                    s.completion().expect("an aborted send's txn completed"),
                )
            });
            found.push(AbortedRead {
                topic: poll.topic.to_string(),
                partition: poll.partition,
                offset: r.offset,
                value: r.value,
                poll: poll.op,
                writer,
                aborted_in_final_log,
            });
        }
    }
    found.sort_by(|a, b| {
        (&a.topic, a.partition, a.offset, a.poll).cmp(&(&b.topic, b.partition, b.offset, b.poll))
    });
    found.dedup_by(|a, b| {
        (&a.topic, a.partition, a.offset, a.poll) == (&b.topic, b.partition, b.offset, b.poll)
    });
    found
}

/// A set of values that may answer "held" for a value it does not hold, never "not held" for
/// one it does: one bit per hash of a value, in a table that stays in cache, so the many polled
/// records of values nothing aborted are passed over without searching the aborted lists.
struct ValueFilter {
    bits: Vec<u64>,
}

impl ValueFilter {
    /// 2^18 bits (32 KiB).
    const BITS: u32 = 18;

    fn new(values: impl Iterator<Item = u64>) -> Self {
        let mut bits = vec![0u64; 1 << (Self::BITS - 6)];
        for value in values {
            let bit = Self::bit(value);
            bits[bit >> 6] |= 1 << (bit & 63);
        }
        ValueFilter { bits }
    }

    fn bit(value: u64) -> usize {
        // Fibonacci hashing: the top bits of the product mix every bit of the value.
        (value.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::BITS)) as usize
    }

    fn may_hold(&self, value: u64) -> bool {
        let bit = Self::bit(value);
        self.bits[bit >> 6] & (1 << (bit & 63)) != 0
    }
}
