//! Log anomalies of a produce/consume history: duplicate, lost-write, missing,
//! inconsistent-offsets, unexpected-write, not-converged.
//!
//! The ground truth (final logs) is used when the history carries it; otherwise the log is
//! reconstructed from what polls observed, as Jepsen does, and the checks that need ground
//! truth (missing) are skipped.

use std::collections::BTreeMap;

use crate::anomaly::*;
use crate::history::{History, OpPair, Operation, Phase, TxnStep};

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
struct SendRecord {
    invoke: u64,
    completion: Option<u64>,
    phase: Option<Phase>,
    acked_offset: Option<u64>,
    error: Option<String>,
}

/// Everything known about one partition, in sorted vectors (one allocation each, however
/// many records: this runs once per simulated seed).
#[derive(Debug, Default)]
struct PartitionView {
    has_ground_truth: bool,
    /// (value, offset) of every record (ground truth, or as polled), sorted, distinct.
    placements: Vec<(u64, u64)>,
    /// (value, send), by value; the sends of one value in history order.
    sends: Vec<(u64, SendRecord)>,
    /// (offset, value, where seen), by offset; one offset's observations in history order.
    observations: Vec<(u64, u64, Source)>,
    /// Highest offset any poll observed.
    max_polled_offset: Option<u64>,
}

impl PartitionView {
    fn finish(&mut self) {
        self.placements.sort_unstable();
        self.placements.dedup();
        self.sends.sort_by_key(|(value, _)| *value);
        self.observations.sort_by_key(|(offset, _, _)| *offset);
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

    fn sends_of(&self, value: u64) -> &[(u64, SendRecord)] {
        let start = self.sends.partition_point(|(v, _)| *v < value);
        let end = self.sends.partition_point(|(v, _)| *v <= value);
        &self.sends[start..end]
    }
}

/// Consecutive runs of equal keys.
fn groups<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> impl Iterator<Item = &[T]> {
    items.chunk_by(move |a, b| key(a) == key(b))
}

type Views<'h> = BTreeMap<(&'h str, u32), PartitionView>;

fn build_views<'h>(history: &'h History, pairs: &[OpPair]) -> Views<'h> {
    let mut views: Views<'h> = BTreeMap::new();
    for log in &history.final_logs {
        let v = views.entry((&log.topic, log.partition)).or_default();
        v.has_ground_truth = true;
        for r in &log.records {
            // An aborted transaction's record is in the log but never visible to a
            // read_committed reader: not a placement of its value.
            if r.status != crate::history::RecordStatus::Aborted {
                v.placements.push((r.value, r.offset));
            }
            v.observations.push((r.offset, r.value, Source::FinalLog));
        }
    }
    let truth_known = !history.final_logs.is_empty();
    for &(invoke, completion) in pairs {
        let inv = &history.ops[invoke];
        let done = completion.map(|c| &history.ops[c]);
        match (&inv.op, done.map(|d| &d.op)) {
            (
                Operation::Send {
                    topic,
                    partition,
                    value,
                    ..
                },
                completed,
            ) => {
                let acked_offset = match completed {
                    Some(Operation::Send { offset, .. })
                        if done.is_some_and(|d| d.phase == Phase::Ok) =>
                    {
                        *offset
                    }
                    _ => None,
                };
                let v = views.entry((topic, *partition)).or_default();
                if let (Some(offset), Some(d)) = (acked_offset, done) {
                    v.observations.push((offset, *value, Source::Ack(d.index)));
                }
                let record = SendRecord {
                    invoke: inv.index,
                    completion: done.map(|d| d.index),
                    phase: done.map(|d| d.phase),
                    acked_offset,
                    error: done.and_then(|d| d.error.clone()),
                };
                v.sends.push((*value, record));
            }
            (
                Operation::Poll {
                    topic, partition, ..
                },
                Some(Operation::Poll { records, .. }),
            ) => {
                let Some(d) = done.filter(|d| d.phase == Phase::Ok) else {
                    continue;
                };
                let v = views.entry((topic, *partition)).or_default();
                for r in records {
                    v.observations
                        .push((r.offset, r.value, Source::Poll(d.index)));
                    if !truth_known {
                        v.placements.push((r.value, r.offset));
                    }
                    v.max_polled_offset = v.max_polled_offset.max(Some(r.offset));
                }
            }
            (Operation::Txn { steps, .. }, completed) => {
                // The completion's steps carry the results; without one, the invoke's.
                let (steps, phase) = match (completed, done) {
                    (Some(Operation::Txn { steps, .. }), Some(d)) => (steps, Some(d.phase)),
                    _ => (steps, None),
                };
                for step in steps {
                    match step {
                        TxnStep::Send {
                            topic,
                            partition,
                            value,
                            offset,
                            ..
                        } => {
                            let v = views.entry((topic, *partition)).or_default();
                            let acked_offset = offset.filter(|_| phase == Some(Phase::Ok));
                            if let (Some(offset), Some(d)) = (acked_offset, done) {
                                v.observations.push((offset, *value, Source::Ack(d.index)));
                            }
                            v.sends.push((
                                *value,
                                SendRecord {
                                    invoke: inv.index,
                                    completion: done.map(|d| d.index),
                                    phase,
                                    acked_offset,
                                    error: done.and_then(|d| d.error.clone()),
                                },
                            ));
                        }
                        TxnStep::Poll {
                            topic,
                            partition,
                            records,
                        } if phase.is_some() => {
                            let d = done.expect("a phase comes from a completion");
                            let v = views.entry((topic, *partition)).or_default();
                            for r in records {
                                v.observations
                                    .push((r.offset, r.value, Source::Poll(d.index)));
                                if !truth_known {
                                    v.placements.push((r.value, r.offset));
                                }
                                v.max_polled_offset = v.max_polled_offset.max(Some(r.offset));
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    views.values_mut().for_each(PartitionView::finish);
    views
}

/// Runs every log check over `history`. Findings come in a stable order: by check, then by
/// partition, then by value or offset. Errors if the history's invokes and completions do
/// not pair up.
pub fn check_log(history: &History) -> Result<Vec<Anomaly>, String> {
    let pairs = history.pairs().map_err(|(i, m)| format!("op {i}: {m}"))?;
    let views = build_views(history, &pairs);
    let mut found = Vec::new();
    found.extend(duplicates(&views));
    found.extend(lost_writes(&views));
    found.extend(missing(&views));
    found.extend(inconsistent_offsets(&views));
    found.extend(unexpected_writes(&views));
    found.extend(not_converged(history, &pairs));
    Ok(found)
}

/// A value at more than one offset.
fn duplicates(views: &Views) -> Vec<Anomaly> {
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
            }));
        }
    }
    out
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
fn missing(views: &Views) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views.iter().filter(|(_, v)| v.has_ground_truth) {
        for group in groups(&v.sends, |(value, _)| *value) {
            let value = group[0].0;
            if v.holds(value) || group.iter().any(|(_, s)| s.phase == Some(Phase::Ok)) {
                continue;
            }
            let last = &group[group.len() - 1].1;
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
                error: last.error.clone(),
            }));
        }
    }
    out
}

/// An offset at which observers saw different values.
fn inconsistent_offsets(views: &Views) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        for seen in groups(&v.observations, |(offset, _, _)| *offset) {
            if seen.iter().all(|(_, value, _)| *value == seen[0].1) {
                continue;
            }
            // One observation per distinct value, in value order: the first place it was seen.
            let mut distinct: Vec<u64> = seen.iter().map(|(_, value, _)| *value).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let observations = distinct
                .into_iter()
                .map(|value| {
                    let source = seen
                        .iter()
                        .find(|(_, v, _)| *v == value)
                        .map(|(_, _, s)| *s);
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

/// A value in the log that no client sent.
fn unexpected_writes(views: &Views) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        for group in groups(&v.placements, |(value, _)| *value) {
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
