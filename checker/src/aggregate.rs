//! Kafka Streams' EOS system-test verifier (`EosTestDriver.verify`, reference §3.5) and the
//! packed stream record it reads.
//!
//! Records in eosim are `u64` values, identified by value. Stream records need a key and a
//! value, and the checkers need lineage, so a stream record is packed into the `u64`:
//!
//! ```text
//!  63            44 43     32 31                     0
//! +----------------+---------+------------------------+
//! | input id (20)  | key (12)| value (32, i32 2's c.) |
//! +----------------+---------+------------------------+
//! ```
//!
//! - input id: the id of the input record (in the generated input topic) that caused this
//!   record; an output or aggregate update carries the id of the input that triggered it, so
//!   every output value is unique per output partition and names its lineage. Up to
//!   1,048,575 input records per run.
//! - key: up to 4096 keys (Kafka's EOS test draws from 20,000; see `model::streams::eos_test`).
//! - value: an `i32`. Raw inputs are below 10,000; sum, count, min and max of up to 100,000
//!   such inputs per key fit.
//!
//! The packing lives here rather than in `model` because the checker depends on nothing of
//! ours; `model::streams::record` re-exports it.
//!
//! The verifier ([`check_aggregates`]): per input partition `p`, the committed inputs below the
//! group's committed offset, and all committed outputs of output partition `p` (output topics
//! have the input's partition count and the same key partitioner, so `out-p` is the function
//! of `in-p`). The output count must equal the input count exactly, and the i-th output must
//! be (input i's id, input i's key, the running aggregate of that key's inputs up to and
//! including i). Kafka compares key and value only; we also compare the input id (lineage).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::anomaly::{Anomaly, Divergence, OutputCountMismatch, WrongAggregate};
use crate::history::History;

/// Bits of the input id in a packed record.
pub const INPUT_ID_BITS: u32 = 20;
/// Bits of the key in a packed record.
pub const KEY_BITS: u32 = 12;
/// Input ids are below this (2^20).
pub const INPUT_ID_LIMIT: u32 = 1 << INPUT_ID_BITS;
/// Keys are below this (2^12 = 4096).
pub const KEY_LIMIT: u16 = 1 << KEY_BITS;

const VALUE_BITS: u32 = 32;
const KEY_SHIFT: u32 = VALUE_BITS;
const INPUT_ID_SHIFT: u32 = VALUE_BITS + KEY_BITS;

/// A stream record: the input that caused it, its key and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StreamRecord {
    pub input_id: u32,
    pub key: u16,
    pub value: i32,
}

impl StreamRecord {
    /// A record; panics if the input id or key does not fit its bits.
    pub fn new(input_id: u32, key: u16, value: i32) -> Self {
        let record = StreamRecord {
            input_id,
            key,
            value,
        };
        record.assert_fits();
        record
    }

    fn assert_fits(&self) {
        assert!(
            self.input_id < INPUT_ID_LIMIT,
            "input id {} does not fit in {INPUT_ID_BITS} bits",
            self.input_id
        );
        assert!(
            self.key < KEY_LIMIT,
            "key {} does not fit in {KEY_BITS} bits",
            self.key
        );
    }

    /// The record as an eosim value; panics if a field does not fit.
    pub fn pack(self) -> u64 {
        self.assert_fits();
        (u64::from(self.input_id) << INPUT_ID_SHIFT)
            | (u64::from(self.key) << KEY_SHIFT)
            | u64::from(self.value as u32)
    }

    /// The record an eosim value holds (every `u64` is some record).
    pub fn unpack(value: u64) -> Self {
        StreamRecord {
            input_id: (value >> INPUT_ID_SHIFT) as u32,
            key: ((value >> KEY_SHIFT) & u64::from(KEY_LIMIT - 1)) as u16,
            value: value as u32 as i32,
        }
    }

    /// The same input and key with another value (an operator's output).
    pub fn with_value(self, value: i32) -> Self {
        StreamRecord { value, ..self }
    }
}

impl fmt::Display for StreamRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "input {} key {} value {}",
            self.input_id, self.key, self.value
        )
    }
}

/// `record.pack()`.
pub fn pack(record: StreamRecord) -> u64 {
    record.pack()
}

/// `StreamRecord::unpack(value)`.
pub fn unpack(value: u64) -> StreamRecord {
    StreamRecord::unpack(value)
}

/// What an output topic holds per input record (Kafka's EosTest outputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AggregateKind {
    /// The input itself (`echo`; also a repartition topic).
    Echo,
    /// Running minimum per key (init `i32::MAX`).
    Min,
    /// Running sum per key (init 0).
    Sum,
    /// Running maximum per key (init `i32::MIN`).
    Max,
    /// Running count per key (1, 2, 3, …).
    Count,
}

impl AggregateKind {
    pub fn name(self) -> &'static str {
        match self {
            AggregateKind::Echo => "echo",
            AggregateKind::Min => "min",
            AggregateKind::Sum => "sum",
            AggregateKind::Max => "max",
            AggregateKind::Count => "count",
        }
    }

    /// The aggregate before any input (unused by echo). Computed in `i64` so that an
    /// overflowing sum shows as a wrong aggregate rather than a checker panic.
    fn init(self) -> i64 {
        match self {
            AggregateKind::Echo | AggregateKind::Sum | AggregateKind::Count => 0,
            AggregateKind::Min => i64::from(i32::MAX),
            AggregateKind::Max => i64::from(i32::MIN),
        }
    }

    fn apply(self, aggregate: i64, value: i32) -> i64 {
        let value = i64::from(value);
        match self {
            AggregateKind::Echo => value,
            AggregateKind::Min => aggregate.min(value),
            AggregateKind::Sum => aggregate + value,
            AggregateKind::Max => aggregate.max(value),
            AggregateKind::Count => aggregate + 1,
        }
    }

    /// Whether `actual` is further along than `expected` (more effects absorbed), for a
    /// divergence on the right input. `None` for echo, which has no "along".
    fn is_ahead(self, actual: i64, expected: i64) -> Option<bool> {
        match self {
            AggregateKind::Echo => None,
            AggregateKind::Min => Some(actual < expected),
            AggregateKind::Sum | AggregateKind::Max | AggregateKind::Count => {
                Some(actual > expected)
            }
        }
    }
}

impl fmt::Display for AggregateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One verification: `output_topic` must hold `kind` of `input_topic`'s committed inputs below
/// `group`'s committed offsets, partition by partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateCheck {
    pub input_topic: String,
    pub output_topic: String,
    pub kind: AggregateKind,
    /// The consumer group (Streams' application id) whose committed offsets bound the input.
    pub group: String,
}

/// Every verification of a run (Kafka's verify / verify-complex).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateSpec {
    pub checks: Vec<AggregateCheck>,
}

impl AggregateSpec {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a check (builder style).
    pub fn check(
        mut self,
        input_topic: &str,
        output_topic: &str,
        kind: AggregateKind,
        group: &str,
    ) -> Self {
        self.checks.push(AggregateCheck {
            input_topic: input_topic.to_string(),
            output_topic: output_topic.to_string(),
            kind,
            group: group.to_string(),
        });
        self
    }
}

/// A record of a partition as the verifier reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetRecord {
    pub offset: u64,
    pub record: StreamRecord,
}

/// Runs every check of `spec` over the history's ground truth (`final_logs`,
/// `committed_offsets`); a history without final logs has nothing to verify. Findings are
/// `output-count-mismatch` and `wrong-aggregate` (the first divergence per output partition).
pub fn check_aggregates(history: &History, spec: &AggregateSpec) -> Vec<Anomaly> {
    let committed = committed_records(history);
    let mut found = Vec::new();
    for check in &spec.checks {
        let inputs = committed.get(check.input_topic.as_str());
        let outputs = committed.get(check.output_topic.as_str());
        let partitions: std::collections::BTreeSet<u32> = [inputs, outputs]
            .into_iter()
            .flatten()
            .flat_map(|by_partition| by_partition.keys().copied())
            .collect();
        for partition in partitions {
            let committed_offset =
                committed_offset(history, &check.group, &check.input_topic, partition);
            let all_inputs = partition_records(inputs, partition);
            let below: Vec<OffsetRecord> = all_inputs
                .iter()
                .copied()
                .filter(|r| r.offset < committed_offset)
                .collect();
            let out = partition_records(outputs, partition);
            found.extend(verify_partition(
                check,
                partition,
                committed_offset,
                &below,
                &out,
            ));
        }
    }
    found
}

/// wrong-aggregate and output-count-mismatch (found jointly, reported per output partition:
/// see [`verify_partition`]): `check_aggregates` over the history's own `aggregate_checks`.
pub(crate) fn history_findings(cx: &crate::detect::Context) -> Vec<Anomaly> {
    let history = cx.history;
    if history.aggregate_checks.is_empty() {
        return Vec::new();
    }
    let spec = AggregateSpec {
        checks: history.aggregate_checks.clone(),
    };
    check_aggregates(history, &spec)
}

type ByPartition = BTreeMap<u32, Vec<OffsetRecord>>;

/// Committed-visible records (plain or committed) of every final log, unpacked, by topic
/// and partition, in offset order.
fn committed_records(history: &History) -> BTreeMap<&str, ByPartition> {
    let mut out: BTreeMap<&str, ByPartition> = BTreeMap::new();
    for log in &history.final_logs {
        let records = out
            .entry(&*log.topic)
            .or_default()
            .entry(log.partition)
            .or_default();
        records.extend(
            log.records
                .iter()
                .filter(|e| e.status.is_committed())
                .map(|e| OffsetRecord {
                    offset: e.offset,
                    record: StreamRecord::unpack(e.value),
                }),
        );
        records.sort_by_key(|r| r.offset);
    }
    out
}

fn partition_records(topic: Option<&ByPartition>, partition: u32) -> Vec<OffsetRecord> {
    topic
        .and_then(|t| t.get(&partition))
        .cloned()
        .unwrap_or_default()
}

/// The group's committed offset of a partition (the last entry if several), 0 if none.
fn committed_offset(history: &History, group: &str, topic: &str, partition: u32) -> u64 {
    history
        .committed_offsets
        .iter()
        .rfind(|c| c.group == group && &*c.topic == topic && c.partition == partition)
        .map_or(0, |c| c.offset)
}

/// The update due for one input: its id, key and the aggregate's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectedUpdate {
    pub input_id: u32,
    pub key: u16,
    pub value: i64,
}

/// Set in the input id of a record a stage writes to a repartition hop (the runtime's
/// convention: the hop record is a new input for the next stage, with its own lineage). An
/// output matches its input with or without it.
pub const HOP_FLAG: u32 = 1 << 19;

impl ExpectedUpdate {
    fn matches(&self, record: StreamRecord) -> bool {
        self.input_id & !HOP_FLAG == record.input_id & !HOP_FLAG
            && self.key == record.key
            && self.value == i64::from(record.value)
    }
}

/// The update sequence a correct run writes for `inputs` (one per input, in input order, with
/// the running aggregate of the input's key).
pub fn expected_updates(kind: AggregateKind, inputs: &[StreamRecord]) -> Vec<ExpectedUpdate> {
    let mut state: BTreeMap<u16, i64> = BTreeMap::new();
    inputs
        .iter()
        .map(|input| {
            let aggregate = state.entry(input.key).or_insert_with(|| kind.init());
            *aggregate = kind.apply(*aggregate, input.value);
            ExpectedUpdate {
                input_id: input.input_id,
                key: input.key,
                value: *aggregate,
            }
        })
        .collect()
}

/// Verifies one output partition against its committed inputs: at most one
/// `output-count-mismatch` and one `wrong-aggregate` (the first divergence; everything after
/// it usually diverges too).
pub fn verify_partition(
    check: &AggregateCheck,
    partition: u32,
    committed_offset: u64,
    inputs: &[OffsetRecord],
    outputs: &[OffsetRecord],
) -> Vec<Anomaly> {
    let input_records: Vec<StreamRecord> = inputs.iter().map(|r| r.record).collect();
    let expected = expected_updates(check.kind, &input_records);
    let mut found = Vec::new();
    if outputs.len() != inputs.len() {
        found.push(Anomaly::OutputCountMismatch(count_mismatch(
            check,
            partition,
            committed_offset,
            &input_records,
            outputs,
        )));
    }
    let first_wrong = expected
        .iter()
        .zip(outputs)
        .position(|(e, o)| !e.matches(o.record));
    if let Some(index) = first_wrong {
        found.push(Anomaly::WrongAggregate(wrong_aggregate(
            check, partition, index, inputs, outputs, &expected,
        )));
    }
    found
}

fn count_mismatch(
    check: &AggregateCheck,
    partition: u32,
    committed_offset: u64,
    inputs: &[StreamRecord],
    outputs: &[OffsetRecord],
) -> OutputCountMismatch {
    // (inputs, outputs) per input id.
    let mut counts: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for input in inputs {
        counts.entry(input.input_id).or_default().0 += 1;
    }
    for output in outputs {
        counts.entry(output.record.input_id).or_default().1 += 1;
    }
    let ids = |keep: fn(usize, usize) -> bool| -> Vec<u32> {
        counts
            .iter()
            .filter(|&(_, &(i, o))| keep(i, o))
            .map(|(&id, _)| id)
            .collect()
    };
    OutputCountMismatch {
        input_topic: check.input_topic.clone(),
        output_topic: check.output_topic.clone(),
        partition,
        aggregate: check.kind.name().to_string(),
        group: check.group.clone(),
        committed_offset,
        inputs: inputs.len(),
        outputs: outputs.len(),
        repeated_inputs: ids(|i, o| i > 0 && o > i),
        missing_inputs: ids(|i, o| o < i),
        unknown_inputs: ids(|i, o| i == 0 && o > 0),
    }
}

fn wrong_aggregate(
    check: &AggregateCheck,
    partition: u32,
    index: usize,
    inputs: &[OffsetRecord],
    outputs: &[OffsetRecord],
    expected: &[ExpectedUpdate],
) -> WrongAggregate {
    let due = expected[index];
    let actual = outputs[index].record;
    let key_inputs = inputs[..=index]
        .iter()
        .filter(|r| r.record.key == due.key)
        .map(|r| r.record.input_id)
        .collect();
    WrongAggregate {
        input_topic: check.input_topic.clone(),
        output_topic: check.output_topic.clone(),
        partition,
        aggregate: check.kind.name().to_string(),
        index,
        output_offset: outputs[index].offset,
        input_offset: inputs[index].offset,
        expected_input_id: due.input_id,
        key: due.key,
        expected_value: due.value,
        actual,
        key_inputs,
        divergence: classify(check.kind, index, actual, expected),
    }
}

/// Reads the divergence at `index` from the actual update's lineage and value.
fn classify(
    kind: AggregateKind,
    index: usize,
    actual: StreamRecord,
    expected: &[ExpectedUpdate],
) -> Divergence {
    let due = expected[index];
    assert!(!due.matches(actual), "classify called on a matching update");
    // The exact update due elsewhere: the nearest earlier one wins (a repeat), else the
    // nearest later one (a skip).
    if let Some(j) = expected[..index].iter().rposition(|e| e.matches(actual)) {
        return Divergence::Repeated { earlier_index: j };
    }
    if actual.input_id == due.input_id {
        if actual.key != due.key {
            return Divergence::Corrupted;
        }
        return match kind.is_ahead(i64::from(actual.value), due.value) {
            Some(true) => Divergence::StateAhead,
            Some(false) => Divergence::StateBehind,
            None => Divergence::Corrupted,
        };
    }
    if let Some(j) = expected[index + 1..].iter().position(|e| e.matches(actual)) {
        return Divergence::Skipped {
            later_index: index + 1 + j,
        };
    }
    let same_input = |e: &ExpectedUpdate| e.input_id == actual.input_id && e.key == actual.key;
    if let Some(j) = expected[..index].iter().rposition(same_input) {
        return Divergence::Reprocessed { earlier_index: j };
    }
    if let Some(j) = expected[index + 1..].iter().position(same_input) {
        return Divergence::Skipped {
            later_index: index + 1 + j,
        };
    }
    if expected.iter().any(|e| e.input_id == actual.input_id) {
        return Divergence::Corrupted;
    }
    Divergence::UnknownInput
}

#[cfg(test)]
mod tests;
