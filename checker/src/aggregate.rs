//! Kafka Streams' EOS system-test verifier (`EosTestDriver.verify`, reference §3.5) and the
//! packed stream record it reads.
//!
//! Records in eosim are `u64` values, identified by value. Stream records need a key and a
//! value, and the checkers need lineage, so an application packs a stream record (input id,
//! key, value) into the `u64`. The packing is the application's: the model's lives in
//! `model::streams::record`, which also hands the checker its [`RecordLayout`] as part of
//! the spec (each [`AggregateCheck`] carries one). The checker only decodes, with the layout
//! its check names, into its own view, [`StreamRecord`].
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

/// A stream record: the input that caused it, its key and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StreamRecord {
    pub input_id: u32,
    pub key: u16,
    pub value: i32,
}

impl StreamRecord {
    pub fn new(input_id: u32, key: u16, value: i32) -> Self {
        StreamRecord {
            input_id,
            key,
            value,
        }
    }

    /// The same input and key with another value (an operator's output).
    pub fn with_value(self, value: i32) -> Self {
        StreamRecord { value, ..self }
    }
}

/// How an application packed its stream records into `u64` values, from the top bit down:
/// the input id, the key (`key_bits`), the value (the low 32 bits, an `i32` in two's
/// complement). Part of the spec the application gives the checker, which only decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordLayout {
    /// Bits of the input id, above the key (decoding takes every bit above the key).
    pub input_id_bits: u32,
    /// Bits of the key, above the value (at most 16: a key is a `u16`).
    pub key_bits: u32,
    /// Set in the input id of a record a stage writes to a repartition hop (the hop record
    /// is a new input for the next stage, with its own lineage): an output matches its input
    /// with or without it.
    pub hop_flag: u32,
}

impl RecordLayout {
    /// The layout histories were recorded with before they named theirs (input id 20 bits,
    /// key 12, the hop flag bit 19 of the input id): an `aggregate-check` line without a
    /// layout is read with it, and a check with it writes none.
    pub const LEGACY: RecordLayout = RecordLayout {
        input_id_bits: 20,
        key_bits: 12,
        hop_flag: 1 << 19,
    };

    /// The record `value` holds (every `u64` is some record; a malformed layout from a
    /// history file decodes to zeros rather than panicking).
    pub fn decode(self, value: u64) -> StreamRecord {
        let key_mask = 1u64
            .checked_shl(self.key_bits)
            .map_or(u64::MAX, |bit| bit - 1);
        StreamRecord {
            input_id: value.checked_shr(32 + self.key_bits).unwrap_or(0) as u32,
            key: ((value >> 32) & key_mask) as u16,
            value: value as u32 as i32,
        }
    }

    /// The input id without the repartition hop flag: the input it stands for.
    pub fn lineage(self, input_id: u32) -> u32 {
        input_id & !self.hop_flag
    }

    pub fn is_legacy(&self) -> bool {
        *self == Self::LEGACY
    }
}

impl Default for RecordLayout {
    fn default() -> Self {
        Self::LEGACY
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
    /// How the records of both topics are packed (the application's spec); not written when
    /// it is the legacy layout, so such history lines stay as they were.
    #[serde(default, skip_serializing_if = "RecordLayout::is_legacy")]
    pub layout: RecordLayout,
}

/// Every verification of a run (Kafka's verify / verify-complex).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateSpec {
    pub checks: Vec<AggregateCheck>,
    /// The layout `check` gives each check it adds.
    #[serde(default, skip_serializing_if = "RecordLayout::is_legacy")]
    pub layout: RecordLayout,
}

impl AggregateSpec {
    /// A spec whose records are packed with the legacy layout.
    pub fn new() -> Self {
        Self::default()
    }

    /// A spec whose records are packed with `layout` (the application's).
    pub fn for_layout(layout: RecordLayout) -> Self {
        AggregateSpec {
            checks: Vec::new(),
            layout,
        }
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
            layout: self.layout,
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
            let all_inputs = partition_records(inputs, partition, check.layout);
            let below: Vec<OffsetRecord> = all_inputs
                .iter()
                .copied()
                .filter(|r| r.offset < committed_offset)
                .collect();
            let out = partition_records(outputs, partition, check.layout);
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
        ..AggregateSpec::default()
    };
    check_aggregates(history, &spec)
}

/// Per partition, (offset, packed value) of its committed-visible records in offset order.
type ByPartition = BTreeMap<u32, Vec<(u64, u64)>>;

/// Committed-visible records (plain or committed) of every final log, still packed (each
/// check decodes with its own layout), by topic and partition, in offset order.
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
                .map(|e| (e.offset, e.value)),
        );
        records.sort_by_key(|&(offset, _)| offset);
    }
    out
}

fn partition_records(
    topic: Option<&ByPartition>,
    partition: u32,
    layout: RecordLayout,
) -> Vec<OffsetRecord> {
    let records = topic.and_then(|t| t.get(&partition));
    records.map_or_else(Vec::new, |records| {
        let decode = |&(offset, value): &(u64, u64)| OffsetRecord {
            offset,
            record: layout.decode(value),
        };
        records.iter().map(decode).collect()
    })
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

impl ExpectedUpdate {
    /// Same input (with or without the layout's hop flag), key and value.
    fn matches(&self, record: StreamRecord, layout: RecordLayout) -> bool {
        layout.lineage(self.input_id) == layout.lineage(record.input_id)
            && self.key == record.key
            && self.value == i64::from(record.value)
    }
}

/// The update sequence a correct run writes for `inputs` (one per input, in input order, with
/// the running aggregate of the input's key).
pub fn expected_updates(kind: AggregateKind, inputs: &[StreamRecord]) -> Vec<ExpectedUpdate> {
    // Each key's running aggregate, indexed by key: keys are 16 bits and a workload's few
    // (eos-test's 100), where a tree map's look-up per input was a good part of the check.
    let keys = inputs.iter().map(|input| usize::from(input.key) + 1).max();
    let mut state: Vec<Option<i64>> = vec![None; keys.unwrap_or(0)];
    inputs
        .iter()
        .map(|input| {
            let aggregate = state[usize::from(input.key)].get_or_insert_with(|| kind.init());
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
        .position(|(e, o)| !e.matches(o.record, check.layout));
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
        divergence: classify(check, index, actual, expected),
    }
}

/// Reads the divergence at `index` from the actual update's lineage and value.
fn classify(
    check: &AggregateCheck,
    index: usize,
    actual: StreamRecord,
    expected: &[ExpectedUpdate],
) -> Divergence {
    let (kind, layout) = (check.kind, check.layout);
    let due = expected[index];
    assert!(
        !due.matches(actual, layout),
        "classify called on a matching update"
    );
    // The exact update due elsewhere: the nearest earlier one wins (a repeat), else the
    // nearest later one (a skip).
    if let Some(j) = expected[..index]
        .iter()
        .rposition(|e| e.matches(actual, layout))
    {
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
    if let Some(j) = expected[index + 1..]
        .iter()
        .position(|e| e.matches(actual, layout))
    {
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
