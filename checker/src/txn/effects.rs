//! The exactly-once oracle: duplicate-effect and lost-effect (see [`duplicate_effects`] and
//! [`lost_effects`]), over committed outputs kept as plain integers; a finding's records are
//! built only for the inputs it names.

use super::{ByValue, Partition, Truth, phase_name};
use crate::anomaly::*;
use crate::detect::Context;
use crate::facts::{Facts, SendKinds, partition_key};
use crate::history::LogEntry;
use crate::history::TxnStep;
use crate::ranges::sort_by_key_buckets;

/// One committed output of an input: (input, partition as `partition_key`, offset, value):
/// 32 bytes of integers, sorted in the order of (input, topic, partition, offset, value).
type Output = (u64, u64, u64, u64);

/// The exactly-once oracle's view: how many committed-visible final-log records are
/// attributed to each input its value's sends name as `source`. The outputs themselves are
/// gathered again only for the inputs a finding names (`Effects::outputs_of`): kept for every
/// input they were 32 bytes an output, written, sorted and dropped for nothing in a clean
/// history.
pub(crate) struct Effects {
    /// The inputs with some committed output, ascending.
    inputs: Vec<u64>,
    /// How many committed outputs each of `inputs` has.
    output_counts: Vec<u32>,
    /// (input, the most sends naming it in any one op: the transform's fan-out), by input,
    /// for the inputs where that is more than 1 (1 otherwise).
    per_attempt: Vec<(u64, usize)>,
}

/// Asks whether inputs have a committed output, searching forward from the previous answer
/// (galloping): inputs asked in ascending order, as a log's usually are, cost about one step
/// each instead of a binary search over every input.
struct OutputCursor<'e> {
    inputs: &'e [u64],
    at: usize,
}

impl<'e> OutputCursor<'e> {
    fn new(effects: &'e Effects) -> Self {
        OutputCursor {
            inputs: &effects.inputs,
            at: 0,
        }
    }

    /// Whether some committed output names `input`.
    fn has_output(&mut self, input: u64) -> bool {
        if self.at > 0 && self.inputs[self.at - 1] >= input {
            self.at = 0; // Asked out of order: search from the start.
        }
        let rest = &self.inputs[self.at..];
        let mut end = 1;
        while end < rest.len() && rest[end - 1] < input {
            end *= 2;
        }
        let end = end.min(rest.len());
        self.at += rest[..end].partition_point(|&i| i < input);
        self.inputs.get(self.at) == Some(&input)
    }
}

impl Effects {
    pub fn new<'h>(facts: &Facts<'h>, truth: &Truth<'_, 'h>) -> Self {
        // One input per committed output (an output counts once per distinct source).
        let mut attributed: Vec<u64> = Vec::with_capacity(facts.sends.len() / 2);
        for_each_output(facts, truth, |input, _| attributed.push(input));
        // Equal inputs are identical, so any sort orders them alike; the inputs are random
        // values in eos-test's workloads, where a comparison sort of every output was a good
        // part of the check.
        sort_by_key_buckets(&mut attributed, |&input| input);
        // Room for every input at once: grown by doubling, the vectors were copied and
        // touched twice their size in fresh pages.
        let mut inputs = Vec::with_capacity(attributed.len());
        let mut output_counts = Vec::with_capacity(attributed.len());
        for run in attributed.chunk_by(|a, b| a == b) {
            inputs.push(run[0]);
            output_counts.push(u32::try_from(run.len()).unwrap_or(u32::MAX));
        }
        Effects {
            inputs,
            output_counts,
            per_attempt: per_attempt(facts),
        }
    }

    /// The committed outputs of the inputs in `wanted` (ascending), by input, then topic,
    /// partition and offset.
    fn outputs_of<'h>(facts: &Facts<'h>, truth: &Truth<'_, 'h>, wanted: &[u64]) -> Vec<Output> {
        let mut outputs = Vec::new();
        for_each_output(facts, truth, |input, (key, offset, value)| {
            if wanted.binary_search(&input).is_ok() {
                outputs.push((input, key, offset, value));
            }
        });
        // Topics compare as their names do; a record is one (topic, partition, offset), so
        // the value only orders records a malformed log puts at one offset (by value, as the
        // groups come).
        outputs.sort_unstable();
        outputs
    }
}

/// Calls `output` with (input, (partition as `partition_key`, offset, value)) for every
/// committed-visible final-log record and each distinct input its value's sends name as
/// `source`.
fn for_each_output<'h>(
    facts: &Facts<'h>,
    truth: &Truth<'_, 'h>,
    mut output: impl FnMut(u64, (u64, u64, u64)),
) {
    let mut sources: Vec<u64> = Vec::new();
    // Only send steps carry lineage: the partitions no such step names have no effects.
    let with_lineage = facts.partitions_with(SendKinds::LINEAGE);
    let groups = facts
        .send_index
        .groups_in(|partition| with_lineage.contains(&partition));
    // The groups come by value within a partition, as the final log's records by value
    // do: each group's records are found by walking both together, not by a look-up.
    let mut log = LogWalk::default();
    for ((topic, partition, value), sends) in groups {
        let records = log.with_value(truth, (topic, partition), value);
        sources.clear();
        sources.extend(sends.iter().filter_map(|&s| facts.sends[s].source()));
        if sources.is_empty() {
            continue; // No lineage: nothing to attribute the value's records to.
        }
        sources.sort_unstable();
        sources.dedup();
        let key = partition_key(topic, partition);
        for r in records.iter().filter(|r| r.status.is_committed()) {
            for &source in &sources {
                output(source, (key, r.offset, value));
            }
        }
    }
}

/// A walk along one partition's final-log records by value, asked for ascending values.
struct LogWalk<'t, 'h> {
    partition: Option<Partition<'h>>,
    records: ByValue<'t>,
}

impl Default for LogWalk<'_, '_> {
    fn default() -> Self {
        LogWalk {
            partition: None,
            records: ByValue::EMPTY,
        }
    }
}

impl<'t, 'h> LogWalk<'t, 'h> {
    /// The records of `value` in `partition`: of a value above the previous one asked in the
    /// same partition (else the walk starts again).
    fn with_value(
        &mut self,
        truth: &'t Truth<'_, 'h>,
        partition: Partition<'h>,
        value: u64,
    ) -> ByValue<'t> {
        if self.partition != Some(partition) {
            self.partition = Some(partition);
            self.records = truth.by_value_of(partition);
        }
        let below = self.records.iter().take_while(|r| r.value < value).count();
        self.records = self.records.slice(below..self.records.len());
        let run = self.records.iter().take_while(|r| r.value == value).count();
        self.records.slice(0..run)
    }
}

/// (input, the most sends naming it in any one op), by input, where that is more than 1.
fn per_attempt(facts: &Facts) -> Vec<(u64, usize)> {
    let mut counts: Vec<(u64, usize)> = Vec::new();
    let mut sources: Vec<u64> = Vec::new();
    // A transaction whose sources ascend names each once (noted as the facts were built).
    for txn in facts.txns.iter().filter(|t| t.sources_may_repeat) {
        sources.clear();
        sources.extend(
            facts.sends[txn.sends.clone()]
                .iter()
                .filter_map(|s| s.source()),
        );
        sources.sort_unstable();
        // A count of 1 is what an input without an entry gets: only larger ones are kept
        // (a one-to-one transform keeps none).
        counts.extend(
            sources
                .chunk_by(|a, b| a == b)
                .filter(|run| run.len() > 1)
                .map(|run| (run[0], run.len())),
        );
    }
    // Equal pairs are identical, so any sort orders them alike (see `Effects::new`).
    sort_by_key_buckets(&mut counts, |&(input, _)| input);
    // The largest count of each input is the last of its run.
    counts.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            earlier.1 = later.1;
        }
        same
    });
    counts
}

/// duplicate-effect: an input value v has more committed outputs than one attempt produces.
/// A committed output of v is a committed-visible final-log record whose (topic, partition,
/// value) some send step with `source: v` sent (a record counts once per distinct source its
/// value's sends name). One attempt produces `per_attempt(v)` outputs: the most send steps
/// with `source: v` in any one `txn` (1 for a one-to-one transform). Finding iff
/// outputs(v) > per_attempt(v). One finding per input value, ascending.
pub(crate) fn duplicate_effects(cx: &Context) -> Vec<DuplicateEffect> {
    let (facts, effects) = (cx.facts, cx.effects());
    // (input, its fan-out) of the inputs with more outputs than one attempt produces. Inputs
    // come ascending, as `per_attempt` lists them: one walk of both, no search.
    let mut attempts = effects.per_attempt.iter().peekable();
    let mut duplicated: Vec<(u64, usize)> = Vec::new();
    for (&input, &count) in effects.inputs.iter().zip(&effects.output_counts) {
        while attempts.next_if(|&&(source, _)| source < input).is_some() {}
        let per_attempt = attempts
            .peek()
            .filter(|&&&(source, _)| source == input)
            .map_or(1, |&&(_, count)| count);
        if count as usize > per_attempt {
            duplicated.push((input, per_attempt));
        }
    }
    if duplicated.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<u64> = duplicated.iter().map(|&(input, _)| input).collect();
    let outputs = Effects::outputs_of(facts, &cx.truth, &wanted);
    let by_input = outputs.chunk_by(|a, b| a.0 == b.0);
    let mut found = Vec::new();
    for (outputs, &(input, per_attempt)) in by_input.zip(&duplicated) {
        debug_assert_eq!(outputs[0].0, input, "the same inputs, in the same order");
        let record = |&(_, key, offset, value): &Output| {
            let (topic, partition) = facts.partition_keyed(key);
            let mut sent_by: Vec<u64> = facts
                .sends_of(topic, partition, value)
                .iter()
                .filter(|&&s| facts.sends[s].source() == Some(input))
                .map(|&s| facts.sends[s].invoke())
                .collect();
            sent_by.dedup();
            EffectRecord {
                topic: topic.to_string(),
                partition,
                offset,
                value,
                sent_by,
            }
        };
        found.push(DuplicateEffect {
            input,
            outputs: outputs.iter().map(record).collect(),
            per_attempt,
        });
    }
    found
}

/// lost-effect: an input consumed under a committed offset has no committed output. The
/// consume-transform-produce groups are those named by a commit-offset step of a `txn` that
/// also has a send step with a `source`. For each of their committed offsets (ground truth,
/// `History::committed_offsets`) of a partition with a final log, every committed-visible
/// record of that partition below the committed offset is a consumed input, identified by its
/// value; finding iff no committed output names it (as for duplicate-effect). This assumes
/// every input has an effect (a transform that filters inputs out cannot be checked this
/// way). One finding per input record, by (topic, partition, offset); where several groups
/// commit one partition, the first by name reports it.
pub(crate) fn lost_effects(cx: &Context) -> Vec<LostEffect> {
    let (history, facts, truth) = (cx.history, cx.facts, &cx.truth);
    // Noted while the facts were built: no walk over the transactions' steps here.
    let groups = &facts.lineage_groups;
    let mut commits: Vec<_> = history
        .committed_offsets
        .iter()
        .filter(|c| groups.contains(c.group.as_str()))
        .collect();
    commits
        .sort_by(|a, b| (&a.topic, a.partition, &a.group).cmp(&(&b.topic, b.partition, &b.group)));
    let mut found: Vec<LostEffect> = Vec::new();
    // The partition last looked at and the highest committed offset of it so far: a later
    // group's commit of it reports only the records above that (the others were reported).
    let mut reported_below: Option<(&str, u32, u64)> = None;
    let mut outputs = OutputCursor::new(cx.effects());
    for commit in commits {
        let Some(records) = facts
            .topics
            .get(&commit.topic)
            .and_then(|topic| truth.by_offset().get(&(topic, commit.partition)))
        else {
            continue;
        };
        let below = match reported_below {
            Some((topic, partition, below))
                if topic == &*commit.topic && partition == commit.partition =>
            {
                below
            }
            _ => 0,
        };
        reported_below = Some((&commit.topic, commit.partition, below.max(commit.offset)));
        let lost = records.iter().filter(|r| {
            below <= r.offset
                && r.offset < commit.offset
                && r.status.is_committed()
                && !outputs.has_output(r.value)
        });
        let mut last = None;
        for &LogEntry {
            offset,
            value: input,
            ..
        } in lost
        {
            // One finding per offset, should a malformed log hold two records at one.
            if last.replace(offset) != Some(offset) {
                found.push(lost_effect(facts, commit, offset, input));
            }
        }
    }
    found.sort_by(|a, b| (&a.topic, a.partition, a.offset).cmp(&(&b.topic, b.partition, b.offset)));
    found
}

/// The finding for the record at `offset` (value `input`) below `commit`.
fn lost_effect(
    facts: &Facts,
    commit: &crate::history::CommittedOffset,
    offset: u64,
    input: u64,
) -> LostEffect {
    let consumed_by = facts
        .txns
        .iter()
        .filter(|t| {
            t.steps.iter().any(|step| {
                matches!(step, TxnStep::Poll { topic, partition, records }
                    if *topic == commit.topic && *partition == commit.partition
                        && records.iter().any(|r| r.value == input))
            })
        })
        .map(|t| (t.invoke, phase_name(t.outcome)))
        .collect();
    LostEffect {
        input,
        topic: commit.topic.to_string(),
        partition: commit.partition,
        offset,
        group: commit.group.clone(),
        committed_offset: commit.offset,
        consumed_by,
    }
}

#[cfg(test)]
mod cursor_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The galloping cursor answers as a search of the whole list, in any order of asking.
        #[test]
        fn the_cursor_agrees_with_a_search(
            mut inputs in prop::collection::vec(0u64..50, 0..30),
            asked in prop::collection::vec(0u64..55, 1..40),
        ) {
            inputs.sort_unstable();
            inputs.dedup();
            let mut cursor = OutputCursor { inputs: &inputs, at: 0 };
            for input in asked {
                prop_assert_eq!(cursor.has_output(input), inputs.binary_search(&input).is_ok());
            }
        }
    }
}
