//! Log anomalies of a produce/consume history: duplicate, lost-write, missing,
//! inconsistent-offsets, unexpected-write, not-converged.
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

use crate::anomaly::*;
use crate::facts::{Facts, TopicRef};
use crate::history::{History, OpPair, Phase};

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

#[derive(Debug)]
struct SendRecord<'h> {
    invoke: u64,
    completion: Option<u64>,
    phase: Option<Phase>,
    acked_offset: Option<u64>,
    error: Option<&'h str>,
    /// A send step of a definitely aborted transaction: absent by design, never `missing`.
    aborted: bool,
}

/// Everything known about one partition, in sorted vectors (one allocation each, however
/// many records: this runs once per simulated seed).
#[derive(Debug, Default)]
struct PartitionView<'h> {
    has_ground_truth: bool,
    /// (value, offset) of every committed-visible record (ground truth, or as polled),
    /// sorted, distinct.
    placements: Vec<(u64, u64)>,
    /// (value, offset) of every record whatever its transactional status, sorted, distinct.
    every_record: Vec<(u64, u64)>,
    /// (value, send), by value; the sends of one value in history order.
    sends: Vec<(u64, SendRecord<'h>)>,
    /// (offset, rank, value, where seen), by offset; one offset's observations in history
    /// order (final log first, then by invoke). The rank is the invoke index of the
    /// observation's op (0 for the final log).
    observations: Vec<(u64, u64, u64, Source)>,
    /// The observations of the history (acks, then polls) until `finish` merges them into
    /// `observations` (which holds the final log's until then).
    acks: Vec<(u64, u64, u64, Source)>,
    polls: Vec<(u64, u64, u64, Source)>,
    /// Highest offset any poll observed.
    max_polled_offset: Option<u64>,
}

impl<'h> PartitionView<'h> {
    fn observe(&mut self, offset: u64, value: u64, source: Source, rank: u64) {
        let run = match source {
            Source::FinalLog => &mut self.observations,
            Source::Ack(_) => &mut self.acks,
            Source::Poll(_) => &mut self.polls,
        };
        run.push((offset, rank, value, source));
    }

    fn finish(&mut self) {
        self.placements.sort_unstable();
        self.placements.dedup();
        self.every_record.sort_unstable();
        self.every_record.dedup();
        // One offset's observations keep the final log first, then history order: a stable
        // sort by (offset, rank) of final log, acks, polls in that order. Each run is sorted
        // (stably) on its own, where it is nearly sorted already, then the runs are merged,
        // the earlier run first on equal keys.
        let key = |&(offset, rank, _, _): &(u64, u64, u64, Source)| (offset, rank);
        self.observations.sort_by_key(key);
        self.acks.sort_by_key(key);
        self.polls.sort_by_key(key);
        let log = std::mem::take(&mut self.observations);
        let history = merge_runs(&self.acks, &self.polls, key);
        self.observations = merge_runs(&log, &history, key);
        self.acks = Vec::new();
        self.polls = Vec::new();
    }

    fn offsets_of(&self, value: u64) -> impl Iterator<Item = u64> + '_ {
        let start = self.placements.partition_point(|(v, _)| *v < value);
        self.placements[start..]
            .iter()
            .take_while(move |(v, _)| *v == value)
            .map(|(_, o)| *o)
    }

    fn holds(&self, value: u64) -> bool {
        self.offsets_of(value).next().is_some()
    }

    fn sends_of(&self, value: u64) -> &[(u64, SendRecord<'h>)] {
        let start = self.sends.partition_point(|(v, _)| *v < value);
        let end = self.sends.partition_point(|(v, _)| *v <= value);
        &self.sends[start..end]
    }
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

/// Consecutive runs of equal keys.
fn groups<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> impl Iterator<Item = &[T]> {
    items.chunk_by(move |a, b| key(a) == key(b))
}

type Views<'h> = BTreeMap<(TopicRef<'h>, u32), PartitionView<'h>>;

fn build_views<'h>(history: &'h History, facts: &Facts<'h>) -> Views<'h> {
    let mut views: Views<'h> = BTreeMap::new();
    for log in &history.final_logs {
        let topic = facts
            .topics
            .get(&log.topic)
            .expect("a final log's topic is collected");
        let v = views.entry((topic, log.partition)).or_default();
        v.has_ground_truth = true;
        for r in &log.records {
            if r.status.is_committed() {
                v.placements.push((r.value, r.offset));
            }
            v.every_record.push((r.value, r.offset));
            v.observe(r.offset, r.value, Source::FinalLog, 0);
        }
    }
    let truth_known = !history.final_logs.is_empty();
    for send in &facts.sends {
        if let (Some(offset), Some(ack)) = (send.acked_offset, send.completion) {
            let v = views.entry((send.topic, send.partition)).or_default();
            v.observe(offset, send.value, Source::Ack(ack), send.invoke);
        }
    }
    // The send index lists sends by (topic, partition, value), one value's in history order:
    // each partition's `sends` come out sorted by value with no sort.
    for ((topic, partition, value), ids) in facts.send_index.groups() {
        let v = views.entry((topic, partition)).or_default();
        for &i in ids {
            let send = &facts.sends[i];
            let record = SendRecord {
                invoke: send.invoke,
                completion: send.completion,
                phase: if send.acknowledged {
                    Some(Phase::Ok)
                } else {
                    send.outcome
                },
                acked_offset: send.acked_offset,
                error: send.error,
                aborted: send.aborted(facts),
            };
            v.sends.push((value, record));
        }
    }
    for poll in &facts.polls {
        let v = views.entry((poll.topic, poll.partition)).or_default();
        for r in poll.records {
            v.observe(r.offset, r.value, Source::Poll(poll.op), poll.invoke);
            if !truth_known {
                v.placements.push((r.value, r.offset));
                v.every_record.push((r.value, r.offset));
            }
            v.max_polled_offset = v.max_polled_offset.max(Some(r.offset));
        }
    }
    views.values_mut().for_each(PartitionView::finish);
    views
}

/// Runs every log check over `history`. Findings come in a stable order: by check, then by
/// partition, then by value or offset. Errors if the history's invokes and completions do
/// not pair up.
pub fn check_log(history: &History) -> Result<Vec<Anomaly>, String> {
    let pairs = crate::txn::pairs(history)?;
    let facts = Facts::new(history, &pairs);
    Ok(log_findings(history, &pairs, &facts))
}

pub(crate) fn log_findings(history: &History, pairs: &[OpPair], facts: &Facts) -> Vec<Anomaly> {
    let views = build_views(history, facts);
    let mut found = Vec::new();
    found.extend(duplicates(history, &views));
    found.extend(lost_writes(&views));
    found.extend(missing(&views));
    found.extend(inconsistent_offsets(&views));
    found.extend(unexpected_writes(&views));
    found.extend(not_converged(history, pairs));
    found
}

/// A value at more than one offset.
fn duplicates(history: &History, views: &Views) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        for group in groups(&v.placements, |(value, _)| *value).filter(|g| g.len() > 1) {
            let value = group[0].0;
            let sends = v.sends_of(value);
            let ack = sends
                .iter()
                .map(|(_, s)| s)
                .find(|s| s.acked_offset.is_some());
            out.push(Anomaly::Duplicate(Duplicate {
                topic: topic.to_string(),
                partition: *partition,
                value,
                offsets: group.iter().map(|(_, o)| *o).collect(),
                sends: sends.iter().map(|(_, s)| s.invoke).collect(),
                ack: ack.and_then(|s| s.completion),
                acked_offset: ack.and_then(|s| s.acked_offset),
                writers: writers(history, sends.iter().map(|(_, s)| s.invoke)),
                reprocessed: separate_txns(history, sends.iter().map(|(_, s)| s.invoke)) > 1,
            }));
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
fn lost_writes(views: &Views) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        for group in groups(&v.sends, |(value, _)| *value) {
            let value = group[0].0;
            let Some(ok) = group
                .iter()
                .map(|(_, s)| s)
                .find(|s| s.phase == Some(Phase::Ok))
            else {
                continue;
            };
            if v.holds(value) {
                continue;
            }
            let provably_lost = v.has_ground_truth
                || matches!((ok.acked_offset, v.max_polled_offset), (Some(a), Some(m)) if m >= a);
            if provably_lost {
                out.push(Anomaly::LostWrite(LostWrite {
                    topic: topic.to_string(),
                    partition: *partition,
                    value,
                    send: ok.invoke,
                    ack: ok.completion.expect("an ok send has a completion"),
                    acked_offset: ok.acked_offset,
                }));
            }
        }
    }
    out
}

/// An intended value that is not in the ground-truth log and whose send never succeeded.
/// Sends of definitely aborted transactions are meant to be absent and do not count.
fn missing(views: &Views) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views.iter().filter(|(_, v)| v.has_ground_truth) {
        for group in groups(&v.sends, |(value, _)| *value) {
            let value = group[0].0;
            if v.holds(value) || group.iter().any(|(_, s)| s.phase == Some(Phase::Ok)) {
                continue;
            }
            let Some((_, last)) = group.iter().rfind(|(_, s)| !s.aborted) else {
                continue;
            };
            out.push(Anomaly::Missing(Missing {
                topic: topic.to_string(),
                partition: *partition,
                value,
                send: last.invoke,
                completion: last.completion,
                outcome: match last.phase {
                    Some(Phase::Fail) => "fail",
                    Some(Phase::Info) => "info",
                    _ => "none",
                }
                .to_string(),
                error: last.error.map(str::to_string),
            }));
        }
    }
    out
}

/// An offset at which observers saw different values.
fn inconsistent_offsets(views: &Views) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        for seen in groups(&v.observations, |(offset, _, _, _)| *offset) {
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
            out.push(Anomaly::InconsistentOffsets(InconsistentOffsets {
                topic: topic.to_string(),
                partition: *partition,
                offset: seen[0].0,
                observations,
            }));
        }
    }
    out
}

/// A value in the log (of any transactional status) that no client sent.
fn unexpected_writes(views: &Views) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        for group in groups(&v.every_record, |(value, _)| *value) {
            let value = group[0].0;
            if v.sends_of(value).is_empty() {
                out.push(Anomaly::UnexpectedWrite(UnexpectedWrite {
                    topic: topic.to_string(),
                    partition: *partition,
                    value,
                    offsets: group.iter().map(|(_, o)| *o).collect(),
                }));
            }
        }
    }
    out
}

/// The run said it did not converge: list the invocations left open.
fn not_converged(history: &History, pairs: &[OpPair]) -> Vec<Anomaly> {
    if history.converged != Some(false) {
        return Vec::new();
    }
    let open_ops = pairs
        .iter()
        .filter(|(_, c)| c.is_none())
        .map(|(i, _)| *i as u64)
        .collect();
    vec![Anomaly::NotConverged(NotConverged { open_ops })]
}

#[cfg(test)]
mod tests;
