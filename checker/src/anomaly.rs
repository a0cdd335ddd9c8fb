//! Findings. Each anomaly is its own type that names the records, offsets and history events
//! involved and explains itself in a sentence or two (Jepsen's habit: one function per anomaly).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::aggregate::{self, StreamRecord};
use crate::causal::FindingRecords;
use crate::detect::Context;
use crate::{log, txn};

mod aborted_read;
mod early_read;
mod g1c;
mod hanging_transaction;
mod int_nonmonotonic_poll;
mod int_nonmonotonic_send;
mod int_poll_skip;
mod int_send_skip;
mod nonmonotonic_send;
mod not_converged;
pub mod policy;
mod precommitted_read;

pub use early_read::CommitBound;
pub use g1c::DependencyStep;

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

/// Declares every kind of finding once, one row per kind:
///
/// ```text
/// Kind = "kebab-name" in Category: "one-line meaning", Pass(how it is found);
/// ```
///
/// - `Kind`: the variant, also the name of its payload type (which has an `explain()`);
/// - the kebab-case name (JSON reports, scenario `[expect]` files and snapshots depend on it
///   byte for byte), the category and the meaning (also the variant's doc);
/// - the pass that finds it (`Log`, `Transactions`, `Aggregates`: `check_log`,
///   `check_transactions`, the aggregate verifier; `check_all` runs them all) and how:
///   - `fn path`: its own detector, `fn(&Context) -> Vec<Kind>`;
///   - `mod module`: a module of its own holding the payload type `module::Kind` (re-exported
///     here) and its detector `module::find`, as `fn` above;
///   - `fn path as joint`: a detector that finds this kind and others in one pass and returns
///     `Vec<Anomaly>` in its own order (the aggregate verifier reports per partition, the
///     count mismatch before the wrong aggregate); each other kind it finds says
///     `in Kind` (reported by `Kind`'s row), and a debug build checks it finds no other.
///
/// From the table come `Anomaly` (serde-tagged with the name), `AnomalyKind` (serde as the
/// name), `AnomalyKind::ALL`, `name`, `category`, `meaning`, `pass`, `Anomaly::kind` /
/// `Anomaly::explain`, and `detect`, which runs the rows of the wanted passes in table
/// order: the order findings are reported in. Adding a kind is a module (`mod` form) and a
/// row.
macro_rules! anomaly_kinds {
    ($(
        $Kind:ident = $name:literal in $Category:ident : $meaning:literal,
        $Pass:ident($($how:tt)+);
    )+) => {
        $( reexport_payload!($Kind, $($how)+); )+

        /// Any finding.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum Anomaly {
            $( #[doc = $meaning] #[serde(rename = $name)] $Kind($Kind), )+
        }

        /// The kind of a finding, for counts and expectations.
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        pub enum AnomalyKind {
            $( #[doc = $meaning] #[serde(rename = $name)] $Kind, )+
        }

        impl AnomalyKind {
            /// Every kind, in table order (a kind's index is its position here).
            pub const ALL: &'static [AnomalyKind] = &[$(AnomalyKind::$Kind),+];

            /// The kebab-case name used in files and on the command line.
            pub const fn name(self) -> &'static str {
                match self {
                    $( AnomalyKind::$Kind => $name, )+
                }
            }

            /// The family of property the kind breaks.
            pub const fn category(self) -> AnomalyCategory {
                match self {
                    $( AnomalyKind::$Kind => AnomalyCategory::$Category, )+
                }
            }

            /// What a finding of this kind means, in one line.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $( AnomalyKind::$Kind => $meaning, )+
                }
            }

            /// The check pass that finds it.
            pub(crate) const fn pass(self) -> Pass {
                match self {
                    $( AnomalyKind::$Kind => Pass::$Pass, )+
                }
            }

            /// The kind whose row runs the detector that finds it (itself, unless a joint
            /// detector of another row finds it).
            pub(crate) const fn reported_by(self) -> AnomalyKind {
                match self {
                    $( AnomalyKind::$Kind => reporting_row!($Kind, $($how)+), )+
                }
            }
        }

        impl Anomaly {
            pub fn kind(&self) -> AnomalyKind {
                match self {
                    $( Anomaly::$Kind(_) => AnomalyKind::$Kind, )+
                }
            }

            /// One or two sentences: what went wrong, with the records and events involved.
            pub fn explain(&self) -> String {
                match self {
                    $( Anomaly::$Kind(finding) => finding.explain(), )+
                }
            }

            /// The records the finding names by offset, if any (where a causal chain starts).
            pub fn records(&self) -> Option<FindingRecords<'_>> {
                match self {
                    $( Anomaly::$Kind(finding) => Finding::records(finding), )+
                }
            }
        }

        /// Runs the detectors of the passes `wanted` accepts, in table order.
        pub(crate) fn detect(cx: &Context, wanted: impl Fn(Pass) -> bool) -> Vec<Anomaly> {
            let mut found = Vec::new();
            $(
                if wanted(Pass::$Pass) {
                    run_detector!(cx, found, $Kind, $($how)+);
                }
            )+
            found
        }
    };
}

/// `mod module` rows: the payload type lives in the kind's module.
macro_rules! reexport_payload {
    ($Kind:ident, mod $module:ident) => {
        pub use self::$module::$Kind;
    };
    ($Kind:ident, $($how:tt)+) => {};
}

/// The row whose detector reports `$Kind`.
macro_rules! reporting_row {
    ($Kind:ident, in $Leader:ident) => {
        AnomalyKind::$Leader
    };
    ($Kind:ident, $($how:tt)+) => {
        AnomalyKind::$Kind
    };
}

/// Appends what the row's detector finds to `$found`.
macro_rules! run_detector {
    ($cx:ident, $found:ident, $Kind:ident, fn $joint:path as joint) => {{
        let start = $found.len();
        $found.extend($joint($cx));
        debug_assert!(
            $found[start..]
                .iter()
                .all(|a| a.kind().reported_by() == AnomalyKind::$Kind
                    && a.kind().pass() == AnomalyKind::$Kind.pass()),
            "a joint detector found a kind whose row does not say `in {}` in its pass",
            stringify!($Kind)
        );
    }};
    ($cx:ident, $found:ident, $Kind:ident, fn $detect:path) => {
        $found.extend($detect($cx).into_iter().map(Anomaly::$Kind))
    };
    ($cx:ident, $found:ident, $Kind:ident, mod $module:ident) => {
        $found.extend($module::find($cx).into_iter().map(Anomaly::$Kind))
    };
    ($cx:ident, $found:ident, $Kind:ident, in $Leader:ident) => {};
}

/// What every payload type says of itself besides its `explain()`. No default: each kind
/// decides whether it names records by offset.
pub trait Finding {
    /// The records the finding names by offset, if any: where its causal chain starts
    /// (`causal::causal_chains`).
    fn records(&self) -> Option<FindingRecords<'_>>;
}

/// Kinds that name no records by offset (a missing value was never at one; the others name
/// operations, transactions or partitions).
macro_rules! names_no_records {
    ($($Kind:ident),+) => {
        $(
            impl Finding for $Kind {
                fn records(&self) -> Option<FindingRecords<'_>> {
                    None
                }
            }
        )+
    };
}

names_no_records!(
    Missing,
    TornTransaction,
    PollSkip,
    NonmonotonicPoll,
    Unseen,
    DuplicateEffect,
    LostEffect,
    WrongAggregate,
    OutputCountMismatch
);

impl Finding for Duplicate {
    fn records(&self) -> Option<FindingRecords<'_>> {
        Some(FindingRecords::new(
            &self.topic,
            self.partition,
            self.offsets.clone(),
        ))
    }
}

impl Finding for LostWrite {
    fn records(&self) -> Option<FindingRecords<'_>> {
        let offset = self.acked_offset?;
        Some(FindingRecords::new(
            &self.topic,
            self.partition,
            vec![offset],
        ))
    }
}

impl Finding for InconsistentOffsets {
    fn records(&self) -> Option<FindingRecords<'_>> {
        Some(FindingRecords::new(
            &self.topic,
            self.partition,
            vec![self.offset],
        ))
    }
}

impl Finding for UnexpectedWrite {
    fn records(&self) -> Option<FindingRecords<'_>> {
        Some(FindingRecords::new(
            &self.topic,
            self.partition,
            self.offsets.clone(),
        ))
    }
}

/// The check passes, in the order `check_all` runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    /// `check_log`: what the log holds against what was sent and seen.
    Log,
    /// `check_transactions`: transactions, per-process orders, exactly-once effects.
    Transactions,
    /// The aggregate verifier over the history's own `aggregate_checks`.
    Aggregates,
}

// The order is the kinds' sort order (sets of kinds, and the lists made from them, follow it)
// and the order findings are reported in (`detect`): a new kind goes last.
anomaly_kinds! {
    Duplicate = "duplicate" in Duplication:
        "one intended value at several offsets of a partition",
        Log(fn log::duplicates);
    LostWrite = "lost-write" in Loss:
        "a value acknowledged as written that the log does not hold",
        Log(fn log::lost_writes);
    Missing = "missing" in Loss:
        "a value the workload meant to send that never reached the log, whose send ended without success (fail or info)",
        Log(fn log::missing);
    InconsistentOffsets = "inconsistent-offsets" in Integrity:
        "two different values reported at one offset",
        Log(fn log::inconsistent_offsets);
    UnexpectedWrite = "unexpected-write" in Integrity:
        "a value in the log that no client sent",
        Log(fn log::unexpected_writes);
    NotConverged = "not-converged" in Liveness:
        "work still unfinished after every fault healed",
        Log(mod not_converged);
    AbortedRead = "aborted-read" in Isolation:
        "a poll returned a value whose transaction aborted (G1a)",
        Transactions(mod aborted_read);
    TornTransaction = "torn-transaction" in Isolation:
        "a committed transaction only partly committed, or only partly visible to polls",
        Transactions(fn txn::torn::torn_transactions);
    HangingTransaction = "hanging-transaction" in Liveness:
        "a converged run left a transaction open in a partition, holding its last stable offset",
        Transactions(mod hanging_transaction);
    PollSkip = "poll-skip" in Ordering:
        "a process's successive polls of a partition jumped over a known record",
        Transactions(fn txn::poll_skips);
    NonmonotonicPoll = "nonmonotonic-poll" in Ordering:
        "a process's next poll of a partition started at or before where its previous one ended",
        Transactions(fn txn::nonmonotonic_polls);
    NonmonotonicSend = "nonmonotonic-send" in Ordering:
        "a process's later acknowledged send to a partition landed below its earlier one",
        Transactions(mod nonmonotonic_send);
    Unseen = "unseen" in Loss:
        "acknowledged values no poll returned although polls read to the partition's end",
        Transactions(fn txn::unseen);
    DuplicateEffect = "duplicate-effect" in Duplication:
        "an input's effect in the committed output more often than one attempt produces it",
        Transactions(fn txn::effects::duplicate_effects);
    LostEffect = "lost-effect" in Loss:
        "an input consumed under a committed offset without any committed output",
        Transactions(fn txn::effects::lost_effects);
    WrongAggregate = "wrong-aggregate" in State:
        "an output that is not the running aggregate of its key's committed inputs",
        Aggregates(fn aggregate::history_findings as joint);
    OutputCountMismatch = "output-count-mismatch" in State:
        "more or fewer committed outputs than committed inputs",
        Aggregates(in WrongAggregate);
    PrecommittedRead = "precommitted-read" in Isolation:
        "a transaction polled a value it had sent itself, before it committed",
        Transactions(mod precommitted_read);
    IntPollSkip = "int-poll-skip" in Ordering:
        "inside one operation, consecutive records polled from a partition skipped a known record",
        Transactions(mod int_poll_skip);
    IntNonmonotonicPoll = "int-nonmonotonic-poll" in Ordering:
        "inside one operation, records polled from a partition went back or repeated an offset",
        Transactions(mod int_nonmonotonic_poll);
    IntSendSkip = "int-send-skip" in Ordering:
        "inside one transaction, other records between two consecutive sends to a partition (informational)",
        Transactions(mod int_send_skip);
    IntNonmonotonicSend = "int-nonmonotonic-send" in Ordering:
        "inside one transaction, a later send to a partition landed at or below an earlier one",
        Transactions(mod int_nonmonotonic_send);
    G1c = "g1c" in Isolation:
        "a cycle of write-write and write-read dependencies between committed transactions, with a write-read edge",
        Transactions(mod g1c);
    EarlyRead = "early-read" in Isolation:
        "a poll returned a value before the transaction that wrote it could have asked to commit",
        Transactions(mod early_read);
}

/// Declares the anomaly categories once, one row per category: variant, kebab-case name and a
/// one-line meaning; `ALL`, `name` and `meaning` derived, as for the kinds.
macro_rules! anomaly_categories {
    ($( $Category:ident = $name:literal : $meaning:literal, )+) => {
        /// The family of property a kind of anomaly breaks: what reports total findings by.
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        pub enum AnomalyCategory {
            $( #[doc = $meaning] #[serde(rename = $name)] $Category, )+
        }

        impl AnomalyCategory {
            /// Every category, in table order.
            pub const ALL: &'static [AnomalyCategory] = &[$(AnomalyCategory::$Category),+];

            /// The kebab-case name reports use.
            pub const fn name(self) -> &'static str {
                match self {
                    $( AnomalyCategory::$Category => $name, )+
                }
            }

            /// What the category's findings have in common, in one line.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $( AnomalyCategory::$Category => $meaning, )+
                }
            }
        }
    };
}

// Jepsen's families (docs/reference/jepsen-kafka-checker.md, §1.4) grouped by the property
// broken; the order is the order reports list them in.
anomaly_categories! {
    Duplication = "duplication":
        "an effect is in the log or the output more than once",
    Loss = "loss":
        "an acknowledged or intended effect is missing from the log, the output or what readers saw",
    Ordering = "ordering":
        "a client saw a partition's offsets out of order",
    Integrity = "integrity":
        "the log holds what no client wrote, or observers disagree about what it holds",
    Isolation = "isolation":
        "a transaction was seen after it aborted, or committed or seen only in part",
    State = "state":
        "a stream task's output is not what its committed inputs give",
    Liveness = "liveness":
        "work that never finished: the run did not converge, or a transaction never ended",
}

impl AnomalyCategory {
    /// Whether the category's findings say something good never happened (the rest say
    /// something bad happened: safety).
    pub const fn is_liveness(self) -> bool {
        matches!(self, AnomalyCategory::Liveness)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.name() == name)
    }
}

impl AnomalyKind {
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for AnomalyCategory {
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

/// (offset, value) pairs as "value@offset", capped as `capped` does.
fn capped_pairs(pairs: &[(u64, u64)]) -> String {
    let shown: Vec<String> = pairs.iter().map(|(o, v)| format!("{v}@{o}")).collect();
    capped(&shown)
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `DuplicateEffect` → "duplicate-effect": serde's `rename_all = "kebab-case"`, which named
    /// the kinds before the table did.
    fn kebab_case(variant: &str) -> String {
        let mut out = String::new();
        for (i, c) in variant.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn kind_names_are_the_kebab_case_of_the_variants_and_round_trip() {
        for &kind in AnomalyKind::ALL {
            let name = kind.name();
            assert_eq!(name, kebab_case(&format!("{kind:?}")));
            assert_eq!(AnomalyKind::from_name(name), Some(kind));
            assert_eq!(kind.to_string(), name);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<AnomalyKind>(&json).unwrap(), kind);
        }
        assert_eq!(AnomalyKind::from_name("panic"), None);
    }

    #[test]
    fn all_lists_every_kind_once_in_declaration_order() {
        // The enum and ALL come from one table, so no kind can be left out; this pins that
        // ALL is the declaration order (a kind's index is its discriminant), which sets of
        // kinds sort by.
        for (index, &kind) in AnomalyKind::ALL.iter().enumerate() {
            assert_eq!(kind as usize, index, "{kind:?}");
        }
        let names: BTreeSet<&str> = AnomalyKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), AnomalyKind::ALL.len());
    }

    #[test]
    fn every_kind_has_a_one_line_meaning_and_every_category_a_kind() {
        for &kind in AnomalyKind::ALL {
            let meaning = kind.meaning();
            assert!(!meaning.is_empty() && !meaning.contains('\n'), "{kind}");
        }
        for &category in AnomalyCategory::ALL {
            assert!(
                AnomalyKind::ALL.iter().any(|k| k.category() == category),
                "{category} has no kind"
            );
            assert!(!category.meaning().is_empty(), "{category}");
        }
    }

    #[test]
    fn category_names_are_kebab_case_and_round_trip() {
        for (index, &category) in AnomalyCategory::ALL.iter().enumerate() {
            assert_eq!(category as usize, index);
            let name = category.name();
            assert_eq!(name, kebab_case(&format!("{category:?}")));
            assert_eq!(AnomalyCategory::from_name(name), Some(category));
            let json = serde_json::to_string(&category).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<AnomalyCategory>(&json).unwrap(),
                category
            );
        }
    }

    #[test]
    fn liveness_is_not_converging_or_a_transaction_that_never_ends() {
        let liveness: Vec<AnomalyKind> = AnomalyKind::ALL
            .iter()
            .copied()
            .filter(|k| k.category().is_liveness())
            .collect();
        assert_eq!(
            liveness,
            [AnomalyKind::NotConverged, AnomalyKind::HangingTransaction]
        );
    }

    /// The rows of the README table whose header is `header`, each row's cells trimmed, with
    /// backquotes dropped.
    fn readme_table(header: &str) -> Vec<Vec<String>> {
        let readme = include_str!("../../README.md");
        let lines = readme.lines().skip_while(|l| *l != header).skip(2);
        lines
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                l.trim_matches('|')
                    .split(" | ")
                    .map(|cell| cell.trim().replace('`', ""))
                    .collect()
            })
            .collect()
    }

    /// What differs between README's table under `header` and `declared` (cells without
    /// backquotes, first cell backquoted in README): the first differing row and the table to
    /// paste, as the code declares it; `None` when they agree.
    fn table_drift(header: &str, declared: &[Vec<String>]) -> Option<String> {
        let shown = readme_table(header);
        if shown == declared {
            return None;
        }
        let row = shown
            .iter()
            .zip(declared)
            .position(|(s, d)| s != d)
            .unwrap_or(shown.len().min(declared.len()));
        let markdown: Vec<String> = declared
            .iter()
            .map(|cells| {
                let mut cells = cells.clone();
                cells[0] = format!("`{}`", cells[0]);
                format!("| {} |", cells.join(" | "))
            })
            .collect();
        Some(format!(
            "README's table `{header}` has drifted from the code at row {}: README {:?}, code \
             {:?}. The table as the code declares it:\n{header}\n|{}\n{}\n",
            row + 1,
            shown.get(row),
            declared.get(row),
            "---|".repeat(declared.first().map_or(0, Vec::len)),
            markdown.join("\n")
        ))
    }

    #[test]
    fn the_readme_lists_every_kind_and_category_as_the_tables_declare_them() {
        let kinds: Vec<Vec<String>> = AnomalyKind::ALL
            .iter()
            .map(|k| {
                [k.name(), k.category().name(), k.meaning()]
                    .map(str::to_string)
                    .to_vec()
            })
            .collect();
        let categories: Vec<Vec<String>> = AnomalyCategory::ALL
            .iter()
            .map(|c| [c.name(), c.meaning()].map(str::to_string).to_vec())
            .collect();
        let drift: Vec<String> = [
            table_drift("| kind | category | meaning |", &kinds),
            table_drift(
                "| category | what its findings have in common |",
                &categories,
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        assert!(drift.is_empty(), "{}", drift.join("\n"));
    }

    #[test]
    fn a_finding_is_tagged_with_its_kind_name() {
        let finding = Anomaly::NotConverged(NotConverged { open_ops: vec![3] });
        let json = serde_json::to_value(&finding).unwrap();
        assert_eq!(json["kind"], "not-converged");
        assert_eq!(finding.kind(), AnomalyKind::NotConverged);
        assert_eq!(serde_json::from_value::<Anomaly>(json).unwrap(), finding);
        assert!(finding.explain().contains("did not finish"));
    }
}
