//! Log anomalies of a produce/consume history: duplicate, lost-write, missing,
//! inconsistent-offsets, unexpected-write (their detectors, over the partition views they
//! share), and `check_log`, which runs every `Log` row of `anomaly_kinds!` (not-converged's
//! detector is in its own module).
//!
//! The ground truth (final logs) is used when the history carries it; otherwise the log is
//! reconstructed from what polls observed, as Jepsen does, and the checks that need ground
//! truth (missing) are skipped.
//!
//! Transactions (`txn` ops): a committed (`ok`) transaction's send steps count as ok sends
//! with their offsets, and its poll steps as ok polls. A definitely aborted (`fail`,
//! transactional) transaction's sends are expected *not* to be committed, so their absence is
//! not `missing`; an `info` transaction's sends are unknown, like an `info` send. Only
//! committed-visible records (status plain or committed) count as the log for duplicate,
//! lost-write and missing; `unexpected-write` looks at every record, whatever its status,
//! because it is about data nobody sent at all.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::anomaly::*;
use crate::detect::{CheckError, Context, run_passes};
use crate::facts::{Facts, SendFact, TopicRef};
use crate::history::{History, LogEntry, Phase};

/// Everything known about one partition, in sorted vectors and a map (one allocation each,
/// however many records: this runs once per simulated seed).
#[derive(Debug, Default)]
pub(crate) struct PartitionView<'f> {
    has_ground_truth: bool,
    /// (value, offset) of every committed-visible record (ground truth, or as polled),
    /// sorted, distinct.
    placements: Vec<(u64, u64)>,
    /// (value, offset) of the records that are not committed-visible (aborted or open);
    /// `finish` makes it every record whatever its transactional status, sorted, distinct,
    /// unless there is none, and then `placements` are every record.
    every_record: Option<Vec<(u64, u64)>>,
    /// Indices into `Facts::sends` of the sends to the partition, by value (the send index's
    /// slice: one value's sends in history order).
    sends: &'f [usize],
    /// The value of each of `sends` (the send index's column: read without visiting the
    /// sends).
    sent_values: &'f [u64],
    /// Offset → the value first observed there (final-log record, acknowledged offset or
    /// polled record), to tell whether observers disagree without ordering the observations.
    first_value_at: FirstValues<'f>,
    /// Some observation's value differs from the first at its offset.
    has_inconsistent_offsets: bool,
    /// Highest offset any poll observed.
    max_polled_offset: Option<u64>,
}

impl PartitionView<'_> {
    fn finish(&mut self) {
        // Stable, merging runs (the pairs are identical when equal): a partition written from
        // several sources holds a few ascending runs of values.
        self.placements.sort();
        self.placements.dedup();
        if let Some(others) = &mut self.every_record {
            // The few records that are not committed-visible merged into the many that are:
            // one walk, where sorting them all again cost the most of building the views.
            others.sort_unstable();
            others.dedup();
            *others = merge_distinct(&self.placements, others);
        }
    }

    /// An observation of `value` at `offset`: a final-log record, an acknowledged offset or
    /// a polled record.
    fn observe(&mut self, offset: u64, value: u64) {
        let first = self.first_value_at.first(offset, value);
        self.has_inconsistent_offsets |= first != value;
    }

    /// Every record whatever its transactional status: (value, offset), sorted, distinct.
    fn every_record(&self) -> &[(u64, u64)] {
        self.every_record.as_deref().unwrap_or(&self.placements)
    }

    /// The partition's sends grouped by value, ascending: (value, its sends, whether a
    /// committed-visible record holds it).
    fn sends_by_value(&self) -> impl Iterator<Item = (u64, &[usize], bool)> + '_ {
        // Sends and placements both ascend by value: one walk of each, no search.
        let mut held = self.placements.iter().map(|&(value, _)| value).peekable();
        let mut start = 0;
        self.sent_values.chunk_by(|a, b| a == b).map(move |run| {
            let (value, group) = (run[0], &self.sends[start..start + run.len()]);
            start += run.len();
            while held.next_if(|&h| h < value).is_some() {}
            (value, group, held.peek() == Some(&value))
        })
    }

    /// Every record whatever its transactional status grouped by value, ascending: (its
    /// (value, offset) records, whether some send to the partition has the value).
    fn records_by_value(&self) -> impl Iterator<Item = (&[(u64, u64)], bool)> + '_ {
        // Records and sends both ascend by value: one walk of each, no search.
        let mut sent = self.sent_values.iter().copied().peekable();
        groups(self.every_record(), |(value, _)| *value).map(move |group| {
            let value = group[0].0;
            while sent.next_if(|&s| s < value).is_some() {}
            (group, sent.peek() == Some(&value))
        })
    }
}

/// Offset → the first value observed there. The final log answers for its own offsets when
/// they count up from its first one, one record each (a log's do): it is observed first, so
/// its records are the first values there, read in place. Otherwise an array over the final
/// log's offsets when they are dense (9 bytes an offset, no hashing). A hash map holds any
/// other offset (looked up, never iterated).
#[derive(Debug, Default)]
struct FirstValues<'f> {
    /// The array's (or the log's) first offset.
    base: u64,
    /// A final log whose record `i` is at offset `base + i`.
    log: &'f [LogEntry],
    values: Vec<u64>,
    /// Which slots of `values` hold a value.
    set: Vec<bool>,
    others: FxHashMap<u64, u64>,
}

impl<'f> FirstValues<'f> {
    /// Offsets spanning at most this many slots per offset (and a little) get an array.
    const DENSE_SLOTS_PER_OFFSET: u64 = 2;

    /// Takes a partition's first final log as the first values at its offsets, if its offsets
    /// count up one by one from the first; false if not (then it must be observed record by
    /// record).
    fn take_log(&mut self, records: &'f [LogEntry]) -> bool {
        let Some(first) = records.first() else {
            return true;
        };
        let counts_up = records
            .windows(2)
            .all(|w| w[0].offset.checked_add(1) == Some(w[1].offset));
        let unobserved = self.log.is_empty() && self.values.is_empty() && self.others.is_empty();
        if counts_up && unobserved {
            (self.base, self.log) = (first.offset, records);
        }
        counts_up && unobserved
    }

    /// Gives `offsets` (the final log's) an array of slots if they are dense.
    fn cover(&mut self, offsets: impl Iterator<Item = u64> + Clone) {
        let count = offsets.clone().count() as u64;
        let (Some(low), Some(high)) = (offsets.clone().min(), offsets.max()) else {
            return;
        };
        let uncovered = self.values.is_empty() && self.log.is_empty();
        if uncovered && (high - low) / Self::DENSE_SLOTS_PER_OFFSET <= count + 64 {
            let slots = (high - low) as usize + 1;
            self.base = low;
            self.values = vec![0; slots];
            self.set = vec![false; slots];
        }
    }

    /// The first value observed at `offset`, `value` if it is the first.
    fn first(&mut self, offset: u64, value: u64) -> u64 {
        let slot = offset
            .checked_sub(self.base)
            .and_then(|slot| usize::try_from(slot).ok());
        if let Some(record) = slot.and_then(|slot| self.log.get(slot)) {
            return record.value;
        }
        match slot.filter(|&slot| slot < self.values.len()) {
            Some(slot) if self.set[slot] => self.values[slot],
            Some(slot) => {
                self.set[slot] = true;
                self.values[slot] = value;
                value
            }
            None => *self.others.entry(offset).or_insert(value),
        }
    }
}

/// How a send ended, for the log checks: ok when acknowledged (a non-transactional batch's
/// send that reports an offset counts whatever the batch's outcome), else its op's outcome.
fn phase(send: &SendFact) -> Option<Phase> {
    if send.acknowledged {
        Some(Phase::Ok)
    } else {
        send.outcome
    }
}

/// Where an offset's value was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    FinalLog,
    Ack(u64),
    Poll(u64),
}

impl Source {
    fn describe(self) -> String {
        match self {
            Source::FinalLog => "final log".to_string(),
            Source::Ack(op) => format!("ack op {op}"),
            Source::Poll(op) => format!("poll op {op}"),
        }
    }
}

/// (offset, rank, value, where seen) of one observation. The rank is the invoke index of the
/// observation's op (0 for the final log).
type Observation = (u64, u64, u64, Source);

/// Every observation of a partition, by offset; one offset's in history order (final log
/// first, then by invoke, an ack before a poll of the same rank). Gathered only for a
/// partition whose observers disagree somewhere.
fn observations(
    history: &History,
    facts: &Facts,
    (topic, partition): (TopicRef, u32),
) -> Vec<Observation> {
    let (mut log, mut acks, mut polls) = (Vec::new(), Vec::new(), Vec::new());
    for final_log in &history.final_logs {
        if final_log.partition == partition && facts.topics.get(&final_log.topic) == Some(topic) {
            log.extend(
                final_log
                    .records
                    .iter()
                    .map(|r| (r.offset, 0, r.value, Source::FinalLog)),
            );
        }
    }
    for send in &facts.sends {
        if let (Some(offset), Some(ack), true) = (
            send.acked_offset(),
            send.completion(),
            (send.topic, send.partition) == (topic, partition),
        ) {
            acks.push((offset, send.invoke(), send.value, Source::Ack(ack)));
        }
    }
    for poll in &facts.polls {
        if (poll.topic, poll.partition) == (topic, partition) {
            polls.extend(
                poll.records
                    .iter()
                    .map(|r| (r.offset, poll.invoke, r.value, Source::Poll(poll.op))),
            );
        }
    }
    // A stable sort by (offset, rank) of final log, acks, polls in that order. Each run is
    // sorted (stably) on its own, where it is nearly sorted already, then the runs are merged,
    // the earlier run first on equal keys.
    let key = |&(offset, rank, _, _): &Observation| (offset, rank);
    log.sort_by_key(key);
    acks.sort_by_key(key);
    polls.sort_by_key(key);
    merge_runs(&log, &merge_runs(&acks, &polls, key), key)
}

/// Merges two sorted runs into one, `a`'s item first on equal keys (as a stable sort of `a`
/// followed by `b` would order them).
fn merge_runs<T: Copy, K: Ord>(a: &[T], b: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if key(&b[j]) < key(&a[i]) {
            out.push(b[j]);
            j += 1;
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Two sorted, distinct lists merged into one sorted, distinct list.
fn merge_distinct(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Consecutive runs of equal keys.
fn groups<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> impl Iterator<Item = &[T]> {
    items.chunk_by(move |a, b| key(a) == key(b))
}

pub(crate) type Views<'f, 'h> = BTreeMap<(TopicRef<'h>, u32), PartitionView<'f>>;

pub(crate) fn build_views<'f, 'h>(history: &'h History, facts: &'f Facts<'h>) -> Views<'f, 'h> {
    let mut views: Views<'f, 'h> = BTreeMap::new();
    for log in &history.final_logs {
        let topic = facts
            .topics
            .get(&log.topic)
            .expect("a final log's topic is collected");
        let v = views.entry((topic, log.partition)).or_default();
        v.has_ground_truth = true;
        v.placements.reserve(log.records.len());
        // A log taken whole holds the first value at each of its offsets: nothing to observe.
        let observed = !v.first_value_at.take_log(&log.records);
        if observed {
            v.first_value_at.cover(log.records.iter().map(|r| r.offset));
        }
        for r in &log.records {
            if r.status.is_committed() {
                v.placements.push((r.value, r.offset));
            } else {
                v.every_record
                    .get_or_insert_default()
                    .push((r.value, r.offset));
            }
            if observed {
                v.observe(r.offset, r.value);
            }
        }
    }
    for (partition, values, sends) in facts.send_index.partitions_with_values() {
        let v = views.entry(partition).or_default();
        (v.sends, v.sent_values) = (sends, values);
    }
    observe_acks(facts, &mut views);
    let truth_known = !history.final_logs.is_empty();
    for poll in &facts.polls {
        let v = views.entry((poll.topic, poll.partition)).or_default();
        for r in poll.records {
            v.observe(r.offset, r.value);
            if !truth_known {
                v.placements.push((r.value, r.offset));
            }
            v.max_polled_offset = v.max_polled_offset.max(Some(r.offset));
        }
    }
    views.values_mut().for_each(PartitionView::finish);
    views
}

/// Observes every acknowledged offset, walking the sends in the order they are stored (by
/// value, through the send index, was a cache miss a send): whether observers disagree at an
/// offset does not depend on the order they are observed in.
fn observe_acks(facts: &Facts, views: &mut Views) {
    let keys: Vec<_> = views.keys().copied().collect();
    // Each send's partition slot → its view's position in `views` (every sent-to partition
    // has one).
    let view_of_slot: Vec<usize> = facts
        .slot_partitions()
        .map(|partition| {
            keys.binary_search(&partition)
                .expect("a view per partition")
        })
        .collect();
    let mut views: Vec<&mut PartitionView> = views.values_mut().collect();
    for send in &facts.sends {
        if let (Some(offset), Some(_)) = (send.acked_offset(), send.completion()) {
            views[view_of_slot[send.slot()]].observe(offset, send.value);
        }
    }
}

/// Runs every log check (the `Log` rows of `anomaly_kinds!`) over `history`. Findings come
/// in a stable order: by check (table order), then by partition, then by value or offset.
/// Errors if the history's invokes and completions do not pair up.
pub fn check_log(history: &History) -> Result<Vec<Anomaly>, CheckError> {
    run_passes(history, |pass| pass == Pass::Log)
}

/// A value at more than one offset.
pub(crate) fn duplicates(cx: &Context) -> Vec<Duplicate> {
    let (history, facts, views) = (cx.history, cx.facts, cx.log_views());
    let mut out = Vec::new();
    for (&(topic, partition), v) in views {
        for group in groups(&v.placements, |(value, _)| *value).filter(|g| g.len() > 1) {
            let value = group[0].0;
            let sends: Vec<&SendFact> = facts
                .sends_of(topic, partition, value)
                .iter()
                .map(|&s| &facts.sends[s])
                .collect();
            let ack = sends.iter().find(|s| s.acked_offset().is_some());
            out.push(Duplicate {
                topic: topic.to_string(),
                partition,
                value,
                offsets: group.iter().map(|(_, o)| *o).collect(),
                sends: sends.iter().map(|s| s.invoke()).collect(),
                ack: ack.and_then(|s| s.completion()),
                acked_offset: ack.and_then(|s| s.acked_offset()),
                writers: writers(history, sends.iter().map(|s| s.invoke())),
                reprocessed: separate_txns(history, sends.iter().map(|s| s.invoke())) > 1,
            });
        }
    }
    out
}

/// How many distinct transaction (or consume-transform-produce batch) operations sent it.
fn separate_txns(history: &History, invokes: impl Iterator<Item = u64>) -> usize {
    let mut txns: Vec<u64> = invokes
        .filter(|&i| {
            matches!(
                history.ops[i as usize].op,
                crate::history::Operation::Txn { .. }
            )
        })
        .collect();
    txns.sort_unstable();
    txns.dedup();
    txns.len()
}

/// "op N by <client> (<transactional.id>)" for each send, when the history names clients.
fn writers(history: &History, invokes: impl Iterator<Item = u64>) -> Vec<String> {
    if history.clients.is_empty() {
        return Vec::new();
    }
    invokes
        .map(|index| {
            let op = &history.ops[index as usize];
            let who = history.process_name(op.process);
            match &op.op {
                crate::history::Operation::Txn {
                    txn_id: Some(id), ..
                } => format!("op {index} by {who} ({id})"),
                _ => format!("op {index} by {who}"),
            }
        })
        .collect()
}

/// An ok send whose value is absent: from the ground truth, or (without it) never polled
/// although polls reached past its offset.
pub(crate) fn lost_writes(cx: &Context) -> Vec<LostWrite> {
    let (facts, views) = (cx.facts, cx.log_views());
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        // A value a committed-visible record holds is not lost: asked first, as it is cheap
        // and almost always so.
        for (value, group, _) in v.sends_by_value().filter(|&(_, _, held)| !held) {
            let mut group = group.iter().map(|&s| &facts.sends[s]);
            let Some(ok) = group.find(|s| phase(s) == Some(Phase::Ok)) else {
                continue;
            };
            let provably_lost = v.has_ground_truth
                || matches!((ok.acked_offset(), v.max_polled_offset), (Some(a), Some(m)) if m >= a);
            if provably_lost {
                out.push(LostWrite {
                    topic: topic.to_string(),
                    partition: *partition,
                    value,
                    send: ok.invoke(),
                    ack: ok.completion().expect("an ok send has a completion"),
                    acked_offset: ok.acked_offset(),
                });
            }
        }
    }
    out
}

/// An intended value that is not in the ground-truth log and whose send ended without
/// succeeding (fail, or info: the client gave it up). Sends of transactions that aborted or
/// may have aborted (unknown outcome) may be absent and do not count, nor do sends that never
/// completed: as Jepsen treats an operation without a completion, their outcome is
/// indeterminate (their process crashed, so nothing says the write was ever attempted; a
/// run that ends with operations still open is `not-converged`).
pub(crate) fn missing(cx: &Context) -> Vec<Missing> {
    let (history, facts, views) = (cx.history, cx.facts, cx.log_views());
    let mut out = Vec::new();
    for ((topic, partition), v) in views.iter().filter(|(_, v)| v.has_ground_truth) {
        for (value, group, held) in v.sends_by_value() {
            let group = || group.iter().map(|&s| &facts.sends[s]);
            if held || group().any(|s| phase(s) == Some(Phase::Ok)) {
                continue;
            }
            let Some(last) = group().rfind(|s| !s.may_be_aborted(facts)) else {
                continue;
            };
            if last.completion().is_none() {
                continue;
            }
            out.push(Missing {
                topic: topic.to_string(),
                partition: *partition,
                value,
                send: last.invoke(),
                completion: last.completion(),
                outcome: match phase(last) {
                    Some(Phase::Fail) => "fail",
                    Some(Phase::Info) => "info",
                    _ => "none",
                }
                .to_string(),
                error: last
                    .completion()
                    .and_then(|c| history.ops[c as usize].error.clone()),
            });
        }
    }
    out
}

/// An offset at which observers saw different values.
pub(crate) fn inconsistent_offsets(cx: &Context) -> Vec<InconsistentOffsets> {
    let (history, facts, views) = (cx.history, cx.facts, cx.log_views());
    let mut out = Vec::new();
    for (&(topic, partition), v) in views {
        if !v.has_inconsistent_offsets {
            continue;
        }
        for seen in groups(&observations(history, facts, (topic, partition)), |o| o.0) {
            if seen.iter().all(|(_, _, value, _)| *value == seen[0].2) {
                continue;
            }
            // One observation per distinct value, in value order: the first place it was seen.
            let mut distinct: Vec<u64> = seen.iter().map(|(_, _, value, _)| *value).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let observations = distinct
                .into_iter()
                .map(|value| {
                    let source = seen
                        .iter()
                        .find(|(_, _, v, _)| *v == value)
                        .map(|(_, _, _, s)| *s);
                    (value, source.expect("a distinct value was seen").describe())
                })
                .collect();
            out.push(InconsistentOffsets {
                topic: topic.to_string(),
                partition,
                offset: seen[0].0,
                observations,
            });
        }
    }
    out
}

/// A value in the log (of any transactional status) that no client sent.
pub(crate) fn unexpected_writes(cx: &Context) -> Vec<UnexpectedWrite> {
    let views = cx.log_views();
    let mut out = Vec::new();
    for (&(topic, partition), v) in views {
        for (group, sent) in v.records_by_value() {
            let value = group[0].0;
            if !sent {
                out.push(UnexpectedWrite {
                    topic: topic.to_string(),
                    partition,
                    value,
                    offsets: group.iter().map(|(_, o)| *o).collect(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
