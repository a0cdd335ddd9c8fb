//! Findings. Each anomaly is its own type that names the records, offsets and history events
//! involved and explains itself in a sentence or two (Jepsen's habit: one function per anomaly).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::aggregate::StreamRecord;

/// A value written to one offset but found at several (e.g. a retry appended again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicate {
    pub topic: String,
    pub partition: u32,
    pub value: u64,
    /// Every offset the value occupies, ascending.
    pub offsets: Vec<u64>,
    /// History indices of the send invocations of this value.
    pub sends: Vec<u64>,
    /// History index of the send's acknowledgement, if any.
    pub ack: Option<u64>,
    /// Offset the acknowledgement reported.
    pub acked_offset: Option<u64>,
    /// Who sent it, one entry per send (e.g. "op 336 by copier-2#0 (copy-task-1)"), when
    /// the history names its clients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writers: Vec<String>,
    /// Written by two or more separate transactions (or consume-transform-produce batches):
    /// the input was processed again, not retried inside one send.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reprocessed: bool,
}

/// A send acknowledged as ok whose value the log does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostWrite {
    pub topic: String,
    pub partition: u32,
    pub value: u64,
    pub send: u64,
    pub ack: u64,
    pub acked_offset: Option<u64>,
}

/// A value the workload meant to send that never reached the log (the send failed, timed out
/// or never completed, and nothing retried it to success).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    pub topic: String,
    pub partition: u32,
    pub value: u64,
    pub send: u64,
    /// History index of the completion (fail or info), if the send completed.
    pub completion: Option<u64>,
    /// "fail", "info" or "none".
    pub outcome: String,
    pub error: Option<String>,
}

/// Two different values reported at one offset by different observers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InconsistentOffsets {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    /// Each distinct value with where it was seen ("final log", "ack op 12", "poll op 40").
    pub observations: Vec<(u64, String)>,
}

/// A value in the log that no client ever sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnexpectedWrite {
    pub topic: String,
    pub partition: u32,
    pub value: u64,
    pub offsets: Vec<u64>,
}

/// The run did not converge: after every fault healed, work was still unfinished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotConverged {
    /// History indices of invocations that never completed.
    pub open_ops: Vec<u64>,
}

/// A record of a transaction's send, as a finding names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRecord {
    pub topic: String,
    pub partition: u32,
    pub value: u64,
    /// Where it landed, if known (acknowledgement or final log).
    pub offset: Option<u64>,
}

impl fmt::Display for TxnRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "value {} in {}-{}",
            self.value, self.topic, self.partition
        )?;
        if let Some(offset) = self.offset {
            write!(f, " at offset {offset}")?;
        }
        Ok(())
    }
}

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

/// What shows a committed transaction torn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "evidence", rename_all = "kebab-case")]
pub enum TornEvidence {
    /// The final logs hold some of its sends as committed data and not the others.
    Log {
        committed: Vec<TxnRecord>,
        not_committed: Vec<TxnRecord>,
    },
    /// Some of its sends were returned by ok polls while an ok poll read past another one's
    /// offset without returning it. Each record comes with the poll (completion index).
    Polls {
        seen: Vec<(TxnRecord, u64)>,
        skipped: Vec<(TxnRecord, u64)>,
    },
}

/// A committed transaction whose sends are only partly committed, or only partly visible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TornTransaction {
    /// History index of the transaction's invoke.
    pub txn: u64,
    pub completion: Option<u64>,
    pub txn_id: Option<String>,
    /// How the client saw it end: "ok", "fail", "info" or "none".
    pub outcome: String,
    /// Whether the final log shows one of its sends committed (the client outcome aside).
    pub committed_in_final_log: bool,
    pub evidence: TornEvidence,
}

/// After a converged run a partition still holds records of a transaction that never ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HangingTransaction {
    pub topic: String,
    pub partition: u32,
    pub producer_id: i64,
    /// Offsets of the open records, ascending; the first is where the last stable offset sticks.
    pub offsets: Vec<u64>,
    pub values: Vec<u64>,
    /// Invoke indices of the history's transactions that sent those values.
    pub writers: Vec<u64>,
}

/// One process's successive polls of a partition jumped over a known record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollSkip {
    pub process: u64,
    pub topic: String,
    pub partition: u32,
    /// Completion index of the earlier poll and the last offset it returned.
    pub previous_poll: u64,
    pub previous_offset: u64,
    /// Completion index of the next poll and the first offset it returned.
    pub next_poll: u64,
    pub next_offset: u64,
    /// (offset, value) of the known records in between, ascending.
    pub skipped: Vec<(u64, u64)>,
}

/// One process's next poll of a partition started at or before where its previous one ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonmonotonicPoll {
    pub process: u64,
    pub topic: String,
    pub partition: u32,
    pub previous_poll: u64,
    pub previous_offset: u64,
    pub next_poll: u64,
    pub next_offset: u64,
}

/// One process's later acknowledged send to a partition landed below its earlier one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonmonotonicSend {
    pub process: u64,
    pub topic: String,
    pub partition: u32,
    /// Completion index of the earlier acknowledgement, its value and offset.
    pub previous_ack: u64,
    pub previous_value: u64,
    pub previous_offset: u64,
    pub next_ack: u64,
    pub next_value: u64,
    pub next_offset: u64,
}

/// Acknowledged values of a partition that no poll returned although polls read to its end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unseen {
    pub topic: String,
    pub partition: u32,
    pub count: usize,
    /// The unseen values, ascending.
    pub values: Vec<u64>,
    /// Highest offset any ok poll returned.
    pub polled_through: u64,
    /// Highest known committed offset of the partition (final log or acknowledgements).
    pub end_offset: u64,
}

/// A committed output record attributed to an input by its sends' lineage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectRecord {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub value: u64,
    /// Invoke indices of the operations whose sends of this value named the input.
    pub sent_by: Vec<u64>,
}

/// An input's effect is in the committed output more often than one attempt produces it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateEffect {
    /// The input record's value.
    pub input: u64,
    /// Every committed output attributed to it, by topic, partition, offset.
    pub outputs: Vec<EffectRecord>,
    /// The most sends naming this input in any one operation (the transform's fan-out).
    pub per_attempt: usize,
}

/// An input consumed under a committed offset has no committed output at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostEffect {
    pub input: u64,
    pub topic: String,
    pub partition: u32,
    /// The input record's offset in the final log.
    pub offset: u64,
    pub group: String,
    pub committed_offset: u64,
    /// Invoke indices of the transactions whose poll steps returned the input, with outcome.
    pub consumed_by: Vec<(u64, String)>,
}

/// How a wrong aggregate update diverges from the expected one (the first divergence of an
/// output partition), read from the actual update's lineage (its input id) and value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "kebab-case")]
pub enum Divergence {
    /// The actual update is exactly the one due at the earlier index `earlier_index`: the
    /// same output was written again.
    Repeated { earlier_index: usize },
    /// The actual update is for the input already answered at `earlier_index`, with another
    /// value: that input was processed again (against state that already held its effect).
    Reprocessed { earlier_index: usize },
    /// The actual update is the one due at the later index `later_index`: the updates in
    /// between are missing.
    Skipped { later_index: usize },
    /// The actual update names an input id that is not among the committed inputs below the
    /// group's committed offset (an aborted or not yet committed input had an effect).
    UnknownInput,
    /// Right input, but the aggregate is further along than its inputs allow (count or sum
    /// too large, min too small, max too large): the state already held effects it should
    /// not — double-counting.
    StateAhead,
    /// Right input, but the aggregate lacks effects of earlier inputs (count or sum too
    /// small, min too large, max too small): lost or stale state.
    StateBehind,
    /// Right input, but another key, or an echo with another value: neither pattern.
    Corrupted,
}

/// The i-th committed output of a partition is not (same key, running aggregate of that key's
/// committed inputs up to i) — Kafka's EosTest verifier (verifyMin / verifySum / …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrongAggregate {
    pub input_topic: String,
    pub output_topic: String,
    pub partition: u32,
    /// "echo", "min", "sum", "max" or "count".
    pub aggregate: String,
    /// Position among the partition's committed outputs (and committed inputs), from 0.
    pub index: usize,
    pub output_offset: u64,
    /// The input the update was due for: its offset, input id and key.
    pub input_offset: u64,
    pub expected_input_id: u32,
    pub key: u16,
    /// The running aggregate (or, for echo, the input's value) the update should carry.
    pub expected_value: i64,
    /// The update found (input id, key, value).
    pub actual: StreamRecord,
    /// Input ids of that key's committed inputs up to and including index, in order: what
    /// the expected aggregate is over.
    pub key_inputs: Vec<u32>,
    pub divergence: Divergence,
}

/// An output partition holds more or fewer committed records than its input partition has
/// committed inputs below the group's committed offset (one update per input is due).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputCountMismatch {
    pub input_topic: String,
    pub output_topic: String,
    pub partition: u32,
    pub aggregate: String,
    pub group: String,
    /// The group's committed offset of the input partition (0 if it committed none).
    pub committed_offset: u64,
    pub inputs: usize,
    pub outputs: usize,
    /// Input ids with more committed outputs than committed inputs (processed again).
    pub repeated_inputs: Vec<u32>,
    /// Input ids with fewer committed outputs than committed inputs (effect lost).
    pub missing_inputs: Vec<u32>,
    /// Input ids of outputs that are not committed inputs below the offset at all.
    pub unknown_inputs: Vec<u32>,
}

/// Any finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Anomaly {
    Duplicate(Duplicate),
    LostWrite(LostWrite),
    Missing(Missing),
    InconsistentOffsets(InconsistentOffsets),
    UnexpectedWrite(UnexpectedWrite),
    NotConverged(NotConverged),
    AbortedRead(AbortedRead),
    TornTransaction(TornTransaction),
    HangingTransaction(HangingTransaction),
    PollSkip(PollSkip),
    NonmonotonicPoll(NonmonotonicPoll),
    NonmonotonicSend(NonmonotonicSend),
    Unseen(Unseen),
    DuplicateEffect(DuplicateEffect),
    LostEffect(LostEffect),
    WrongAggregate(WrongAggregate),
    OutputCountMismatch(OutputCountMismatch),
}

/// The kind of a finding, for counts and expectations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    Duplicate,
    LostWrite,
    Missing,
    InconsistentOffsets,
    UnexpectedWrite,
    NotConverged,
    AbortedRead,
    TornTransaction,
    HangingTransaction,
    PollSkip,
    NonmonotonicPoll,
    NonmonotonicSend,
    Unseen,
    DuplicateEffect,
    LostEffect,
    WrongAggregate,
    OutputCountMismatch,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 17] = [
        AnomalyKind::Duplicate,
        AnomalyKind::LostWrite,
        AnomalyKind::Missing,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::UnexpectedWrite,
        AnomalyKind::NotConverged,
        AnomalyKind::AbortedRead,
        AnomalyKind::TornTransaction,
        AnomalyKind::HangingTransaction,
        AnomalyKind::PollSkip,
        AnomalyKind::NonmonotonicPoll,
        AnomalyKind::NonmonotonicSend,
        AnomalyKind::Unseen,
        AnomalyKind::DuplicateEffect,
        AnomalyKind::LostEffect,
        AnomalyKind::WrongAggregate,
        AnomalyKind::OutputCountMismatch,
    ];

    /// The kebab-case name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::Missing => "missing",
            AnomalyKind::InconsistentOffsets => "inconsistent-offsets",
            AnomalyKind::UnexpectedWrite => "unexpected-write",
            AnomalyKind::NotConverged => "not-converged",
            AnomalyKind::AbortedRead => "aborted-read",
            AnomalyKind::TornTransaction => "torn-transaction",
            AnomalyKind::HangingTransaction => "hanging-transaction",
            AnomalyKind::PollSkip => "poll-skip",
            AnomalyKind::NonmonotonicPoll => "nonmonotonic-poll",
            AnomalyKind::NonmonotonicSend => "nonmonotonic-send",
            AnomalyKind::Unseen => "unseen",
            AnomalyKind::DuplicateEffect => "duplicate-effect",
            AnomalyKind::LostEffect => "lost-effect",
            AnomalyKind::WrongAggregate => "wrong-aggregate",
            AnomalyKind::OutputCountMismatch => "output-count-mismatch",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Duplicate {
    pub fn explain(&self) -> String {
        let ack = match (self.ack, self.acked_offset) {
            (Some(op), Some(off)) => format!(", acknowledged at offset {off} (op {op})"),
            (Some(op), None) => format!(", acknowledged (op {op})"),
            _ => String::new(),
        };
        let place = format!(
            "occupies offsets {:?} of {}-{}",
            self.offsets, self.topic, self.partition
        );
        let by = if self.writers.is_empty() {
            format!("ops {:?}", self.sends)
        } else {
            self.writers.join(", ")
        };
        if self.reprocessed {
            return format!(
                "value {} was written by separate operations ({by}){ack} and {place}: the same \
                 input was processed again by a later attempt — a re-process after a restart, \
                 a rebalance or a zombie, not a retry inside one send",
                self.value
            );
        }
        let sent = match self.sends.len() {
            0 => "never sent".to_string(),
            1 => format!("sent once ({by})"),
            n => format!("sent {n} times ({by})"),
        };
        format!(
            "value {} was {sent}{ack} but {place}: the log holds one intended write {} times, \
             so a resend was appended again instead of being recognised as a duplicate",
            self.value,
            self.offsets.len()
        )
    }
}

impl LostWrite {
    pub fn explain(&self) -> String {
        let at = self
            .acked_offset
            .map(|o| format!(" at offset {o}"))
            .unwrap_or_default();
        format!(
            "value {} was acknowledged{at} (send op {}, ack op {}) but {}-{} does not hold it: \
             an acknowledged write was lost",
            self.value, self.send, self.ack, self.topic, self.partition
        )
    }
}

impl Missing {
    pub fn explain(&self) -> String {
        let how = match (self.outcome.as_str(), self.completion) {
            ("fail", Some(op)) => format!("failed (op {op})"),
            ("info", Some(op)) => format!("ended with an unknown outcome (op {op})"),
            _ => "never completed".to_string(),
        };
        let error = self
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        format!(
            "value {} was meant for {}-{} (send op {}) but the send {how}{error}, and nothing \
             retried it: the value never reached the log",
            self.value, self.topic, self.partition, self.send
        )
    }
}

impl InconsistentOffsets {
    pub fn explain(&self) -> String {
        let seen: Vec<String> = self
            .observations
            .iter()
            .map(|(v, src)| format!("{v} ({src})"))
            .collect();
        format!(
            "offset {} of {}-{} was reported holding different values: {}",
            self.offset,
            self.topic,
            self.partition,
            seen.join(", ")
        )
    }
}

impl UnexpectedWrite {
    pub fn explain(&self) -> String {
        format!(
            "value {} sits at offsets {:?} of {}-{} but no client ever sent it",
            self.value, self.offsets, self.topic, self.partition
        )
    }
}

impl NotConverged {
    pub fn explain(&self) -> String {
        let shown: Vec<String> = self.open_ops.iter().take(10).map(u64::to_string).collect();
        format!(
            "after every fault healed the run did not finish: {} operation(s) never completed \
             (ops {}{})",
            self.open_ops.len(),
            shown.join(", "),
            if self.open_ops.len() > 10 {
                ", …"
            } else {
                ""
            }
        )
    }
}

/// "a, b, c" of at most ten items, then "… (n in all)".
fn capped<T: fmt::Display>(items: &[T]) -> String {
    let shown: Vec<String> = items.iter().take(10).map(T::to_string).collect();
    if items.len() > 10 {
        format!("{}, … ({} in all)", shown.join(", "), items.len())
    } else {
        shown.join(", ")
    }
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

impl TornTransaction {
    pub fn explain(&self) -> String {
        let who = match &self.txn_id {
            Some(id) => format!("transaction {id} (op {})", self.txn),
            None => format!("transaction op {}", self.txn),
        };
        let how = match (self.outcome.as_str(), self.completion) {
            ("ok", Some(c)) => format!("committed (op {c})"),
            (outcome, Some(c)) => {
                format!("ended {outcome} (op {c}) but the final log shows it committed")
            }
            _ => "never completed but the final log shows it committed".to_string(),
        };
        match &self.evidence {
            TornEvidence::Log {
                committed,
                not_committed,
            } => format!(
                "{who} {how}, yet only part of it is committed data in the final logs: {} \
                 committed; {} not: a torn transaction",
                capped(committed),
                capped(not_committed)
            ),
            TornEvidence::Polls { seen, skipped } => {
                let seen: Vec<String> = seen
                    .iter()
                    .map(|(r, poll)| format!("{r} (poll op {poll})"))
                    .collect();
                let skipped: Vec<String> = skipped
                    .iter()
                    .map(|(r, poll)| format!("{r} (poll op {poll})"))
                    .collect();
                format!(
                    "{who} {how}, yet polls saw only part of it: returned {}; read past {} \
                     without returning it: a torn transaction",
                    capped(&seen),
                    capped(&skipped)
                )
            }
        }
    }
}

impl HangingTransaction {
    pub fn explain(&self) -> String {
        let writers = if self.writers.is_empty() {
            String::new()
        } else {
            format!(" (sent by transaction op {})", capped(&self.writers))
        };
        format!(
            "the run converged but {}-{} still holds an open transaction of producer {} at \
             offsets {} (values {}){writers}: it never committed or aborted, so the last \
             stable offset stays at {} and read_committed consumers never read past it",
            self.topic,
            self.partition,
            self.producer_id,
            capped(&self.offsets),
            capped(&self.values),
            self.offsets.first().copied().unwrap_or_default()
        )
    }
}

impl PollSkip {
    pub fn explain(&self) -> String {
        let skipped: Vec<String> = self
            .skipped
            .iter()
            .map(|(offset, value)| format!("{value}@{offset}"))
            .collect();
        format!(
            "process {} polled {}-{} up to offset {} (op {}), then from offset {} (op {}), \
             skipping known record(s) {}: a poll skip",
            self.process,
            self.topic,
            self.partition,
            self.previous_offset,
            self.previous_poll,
            self.next_offset,
            self.next_poll,
            capped(&skipped)
        )
    }
}

impl NonmonotonicPoll {
    pub fn explain(&self) -> String {
        format!(
            "process {} polled {}-{} up to offset {} (op {}), then its next poll started at \
             offset {} (op {}) with no rewind in between: a non-monotonic poll",
            self.process,
            self.topic,
            self.partition,
            self.previous_offset,
            self.previous_poll,
            self.next_offset,
            self.next_poll
        )
    }
}

impl NonmonotonicSend {
    pub fn explain(&self) -> String {
        format!(
            "process {} had value {} acknowledged at offset {} of {}-{} (op {}), then its \
             later value {} at the lower offset {} (op {}): a non-monotonic send",
            self.process,
            self.previous_value,
            self.previous_offset,
            self.topic,
            self.partition,
            self.previous_ack,
            self.next_value,
            self.next_offset,
            self.next_ack
        )
    }
}

impl Unseen {
    pub fn explain(&self) -> String {
        format!(
            "{} acknowledged value(s) of {}-{} were never returned by any poll, although polls \
             read through offset {} (the partition ends at {}): {}",
            self.count,
            self.topic,
            self.partition,
            self.polled_through,
            self.end_offset,
            capped(&self.values)
        )
    }
}

impl DuplicateEffect {
    pub fn explain(&self) -> String {
        let outputs: Vec<String> = self
            .outputs
            .iter()
            .map(|o| {
                format!(
                    "value {} at {}-{} offset {} (sent by op {})",
                    o.value,
                    o.topic,
                    o.partition,
                    o.offset,
                    capped(&o.sent_by)
                )
            })
            .collect();
        format!(
            "input {} has {} committed outputs but one attempt produces {}: {}: its effect \
             was applied more than once",
            self.input,
            self.outputs.len(),
            self.per_attempt,
            capped(&outputs)
        )
    }
}

impl LostEffect {
    pub fn explain(&self) -> String {
        let consumed: Vec<String> = self
            .consumed_by
            .iter()
            .map(|(op, outcome)| format!("op {op} ({outcome})"))
            .collect();
        let consumed = if consumed.is_empty() {
            "no transaction in the history polled it".to_string()
        } else {
            format!("consumed by transaction {}", capped(&consumed))
        };
        format!(
            "input {} at offset {} of {}-{} lies below group {}'s committed offset {} but has \
             no committed output ({consumed}): its effect was lost",
            self.input, self.offset, self.topic, self.partition, self.group, self.committed_offset
        )
    }
}

impl Divergence {
    /// What the divergence looks like, as a clause.
    fn describe(&self, index: usize) -> String {
        match self {
            Divergence::Repeated { earlier_index } => format!(
                "it repeats the update already due at index {earlier_index}: a duplicate \
                 output — re-processing (or a duplicated write)"
            ),
            Divergence::Reprocessed { earlier_index } => format!(
                "it answers the input already answered at index {earlier_index}, with another \
                 value: that input was processed again, against state that already held its \
                 effect — re-processing with double-counting"
            ),
            Divergence::Skipped { later_index } => format!(
                "it is the update due at index {later_index}: the updates for indices \
                 {index}..{later_index} are missing — lost output"
            ),
            Divergence::UnknownInput => "its input is not a committed input below the group's \
                 committed offset: an aborted or uncommitted input had an effect"
                .to_string(),
            Divergence::StateAhead => "the aggregate is further along than the key's \
                 committed inputs allow: the state already held effects it should not — \
                 double-counting (re-processed or aborted inputs left their effect in the store)"
                .to_string(),
            Divergence::StateBehind => "the aggregate lacks the effect of earlier inputs of \
                 the key: lost or stale state (restored from an old or incomplete changelog)"
                .to_string(),
            Divergence::Corrupted => "it is for the right input but another key or value, \
                 neither re-processing nor lost state"
                .to_string(),
        }
    }
}

impl WrongAggregate {
    pub fn explain(&self) -> String {
        format!(
            "{}-{} output #{} (offset {}) should be {} of key {} = {} for input {} \
             ({}-{} offset {}; the key's inputs so far: {}), but is input {} key {} value {}: \
             {}",
            self.output_topic,
            self.partition,
            self.index,
            self.output_offset,
            self.aggregate,
            self.key,
            self.expected_value,
            self.expected_input_id,
            self.input_topic,
            self.partition,
            self.input_offset,
            capped(&self.key_inputs),
            self.actual.input_id,
            self.actual.key,
            self.actual.value,
            self.divergence.describe(self.index)
        )
    }
}

impl OutputCountMismatch {
    pub fn explain(&self) -> String {
        let (more, how) = if self.outputs > self.inputs {
            ("more", "re-processing or duplicated output")
        } else {
            ("fewer", "lost output")
        };
        let mut detail = Vec::new();
        if !self.repeated_inputs.is_empty() {
            detail.push(format!(
                "inputs {} have more outputs than inputs",
                capped(&self.repeated_inputs)
            ));
        }
        if !self.missing_inputs.is_empty() {
            detail.push(format!(
                "inputs {} have no (or too few) outputs",
                capped(&self.missing_inputs)
            ));
        }
        if !self.unknown_inputs.is_empty() {
            detail.push(format!(
                "outputs name inputs {} that are not committed inputs below the offset",
                capped(&self.unknown_inputs)
            ));
        }
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", detail.join("; "))
        };
        format!(
            "{}-{} ({}) holds {} committed outputs but {}-{} has {} committed inputs below \
             group {}'s committed offset {}: {more} outputs than inputs{detail} — {how}",
            self.output_topic,
            self.partition,
            self.aggregate,
            self.outputs,
            self.input_topic,
            self.partition,
            self.inputs,
            self.group,
            self.committed_offset
        )
    }
}

impl Anomaly {
    pub fn kind(&self) -> AnomalyKind {
        match self {
            Anomaly::Duplicate(_) => AnomalyKind::Duplicate,
            Anomaly::LostWrite(_) => AnomalyKind::LostWrite,
            Anomaly::Missing(_) => AnomalyKind::Missing,
            Anomaly::InconsistentOffsets(_) => AnomalyKind::InconsistentOffsets,
            Anomaly::UnexpectedWrite(_) => AnomalyKind::UnexpectedWrite,
            Anomaly::NotConverged(_) => AnomalyKind::NotConverged,
            Anomaly::AbortedRead(_) => AnomalyKind::AbortedRead,
            Anomaly::TornTransaction(_) => AnomalyKind::TornTransaction,
            Anomaly::HangingTransaction(_) => AnomalyKind::HangingTransaction,
            Anomaly::PollSkip(_) => AnomalyKind::PollSkip,
            Anomaly::NonmonotonicPoll(_) => AnomalyKind::NonmonotonicPoll,
            Anomaly::NonmonotonicSend(_) => AnomalyKind::NonmonotonicSend,
            Anomaly::Unseen(_) => AnomalyKind::Unseen,
            Anomaly::DuplicateEffect(_) => AnomalyKind::DuplicateEffect,
            Anomaly::LostEffect(_) => AnomalyKind::LostEffect,
            Anomaly::WrongAggregate(_) => AnomalyKind::WrongAggregate,
            Anomaly::OutputCountMismatch(_) => AnomalyKind::OutputCountMismatch,
        }
    }

    /// One or two sentences: what went wrong, with the records and events involved.
    pub fn explain(&self) -> String {
        match self {
            Anomaly::Duplicate(a) => a.explain(),
            Anomaly::LostWrite(a) => a.explain(),
            Anomaly::Missing(a) => a.explain(),
            Anomaly::InconsistentOffsets(a) => a.explain(),
            Anomaly::UnexpectedWrite(a) => a.explain(),
            Anomaly::NotConverged(a) => a.explain(),
            Anomaly::AbortedRead(a) => a.explain(),
            Anomaly::TornTransaction(a) => a.explain(),
            Anomaly::HangingTransaction(a) => a.explain(),
            Anomaly::PollSkip(a) => a.explain(),
            Anomaly::NonmonotonicPoll(a) => a.explain(),
            Anomaly::NonmonotonicSend(a) => a.explain(),
            Anomaly::Unseen(a) => a.explain(),
            Anomaly::DuplicateEffect(a) => a.explain(),
            Anomaly::LostEffect(a) => a.explain(),
            Anomaly::WrongAggregate(a) => a.explain(),
            Anomaly::OutputCountMismatch(a) => a.explain(),
        }
    }
}
