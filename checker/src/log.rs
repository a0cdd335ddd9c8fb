//! Log anomalies of a produce/consume history: duplicate, lost-write, missing,
//! inconsistent-offsets, unexpected-write, not-converged.
//!
//! The ground truth (final logs) is used when the history carries it; otherwise the log is
//! reconstructed from what polls observed, as Jepsen does, and the checks that need ground
//! truth (missing) are skipped.

use std::collections::{BTreeMap, BTreeSet};

use crate::anomaly::*;
use crate::history::{History, Operation, Phase, Topic};

type PartitionKey = (Topic, u32);

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

#[derive(Debug, Default)]
struct PartitionView {
    has_ground_truth: bool,
    /// value → offsets it occupies (ground truth, or as polled).
    value_offsets: BTreeMap<u64, BTreeSet<u64>>,
    /// value → its sends.
    sends: BTreeMap<u64, Vec<SendRecord>>,
    /// offset → (value, where it was seen).
    offset_observations: BTreeMap<u64, Vec<(u64, Source)>>,
    /// Highest offset any poll observed.
    max_polled_offset: Option<u64>,
}

fn view<'a>(
    views: &'a mut BTreeMap<PartitionKey, PartitionView>,
    topic: &Topic,
    partition: u32,
) -> &'a mut PartitionView {
    views.entry((topic.clone(), partition)).or_default()
}

fn build_views(
    history: &History,
    pairs: &[(usize, Option<usize>)],
) -> BTreeMap<PartitionKey, PartitionView> {
    let mut views: BTreeMap<PartitionKey, PartitionView> = BTreeMap::new();
    for log in &history.final_logs {
        let v = view(&mut views, &log.topic, log.partition);
        v.has_ground_truth = true;
        for r in &log.records {
            v.value_offsets.entry(r.value).or_default().insert(r.offset);
            v.offset_observations
                .entry(r.offset)
                .or_default()
                .push((r.value, Source::FinalLog));
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
                let v = view(&mut views, topic, *partition);
                if let (Some(offset), Some(d)) = (acked_offset, done) {
                    v.offset_observations
                        .entry(offset)
                        .or_default()
                        .push((*value, Source::Ack(d.index)));
                }
                v.sends.entry(*value).or_default().push(SendRecord {
                    invoke: inv.index,
                    completion: done.map(|d| d.index),
                    phase: done.map(|d| d.phase),
                    acked_offset,
                    error: done.and_then(|d| d.error.clone()),
                });
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
                let v = view(&mut views, topic, *partition);
                for r in records {
                    v.offset_observations
                        .entry(r.offset)
                        .or_default()
                        .push((r.value, Source::Poll(d.index)));
                    if !truth_known {
                        v.value_offsets.entry(r.value).or_default().insert(r.offset);
                    }
                    v.max_polled_offset = v.max_polled_offset.max(Some(r.offset));
                }
            }
            _ => {}
        }
    }
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
fn duplicates(views: &BTreeMap<PartitionKey, PartitionView>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        for (value, offsets) in &v.value_offsets {
            if offsets.len() < 2 {
                continue;
            }
            let sends = v.sends.get(value).map(Vec::as_slice).unwrap_or_default();
            let ack = sends.iter().find(|s| s.acked_offset.is_some());
            out.push(Anomaly::Duplicate(Duplicate {
                topic: topic.to_string(),
                partition: *partition,
                value: *value,
                offsets: offsets.iter().copied().collect(),
                sends: sends.iter().map(|s| s.invoke).collect(),
                ack: ack.and_then(|s| s.completion),
                acked_offset: ack.and_then(|s| s.acked_offset),
            }));
        }
    }
    out
}

/// An ok send whose value is absent: from the ground truth, or (without it) never polled
/// although polls reached past its offset.
fn lost_writes(views: &BTreeMap<PartitionKey, PartitionView>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        for (value, sends) in &v.sends {
            let Some(ok) = sends.iter().find(|s| s.phase == Some(Phase::Ok)) else {
                continue;
            };
            if v.value_offsets.contains_key(value) {
                continue;
            }
            let provably_lost = v.has_ground_truth
                || matches!((ok.acked_offset, v.max_polled_offset), (Some(a), Some(m)) if m >= a);
            if provably_lost {
                out.push(Anomaly::LostWrite(LostWrite {
                    topic: topic.to_string(),
                    partition: *partition,
                    value: *value,
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
fn missing(views: &BTreeMap<PartitionKey, PartitionView>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views.iter().filter(|(_, v)| v.has_ground_truth) {
        for (value, sends) in &v.sends {
            if v.value_offsets.contains_key(value)
                || sends.iter().any(|s| s.phase == Some(Phase::Ok))
            {
                continue;
            }
            let last = sends.last().expect("a value in `sends` has a send");
            out.push(Anomaly::Missing(Missing {
                topic: topic.to_string(),
                partition: *partition,
                value: *value,
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
fn inconsistent_offsets(views: &BTreeMap<PartitionKey, PartitionView>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        for (offset, seen) in &v.offset_observations {
            let distinct: BTreeSet<u64> = seen.iter().map(|(value, _)| *value).collect();
            if distinct.len() < 2 {
                continue;
            }
            // One observation per distinct value: the first place it was seen.
            let mut observations = Vec::new();
            for value in distinct {
                let source = seen
                    .iter()
                    .find(|(v, _)| *v == value)
                    .map(|(_, s)| s.describe())
                    .unwrap_or_default();
                observations.push((value, source));
            }
            out.push(Anomaly::InconsistentOffsets(InconsistentOffsets {
                topic: topic.to_string(),
                partition: *partition,
                offset: *offset,
                observations,
            }));
        }
    }
    out
}

/// A value in the log that no client sent.
fn unexpected_writes(views: &BTreeMap<PartitionKey, PartitionView>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for ((topic, partition), v) in views {
        for (value, offsets) in &v.value_offsets {
            if !v.sends.contains_key(value) {
                out.push(Anomaly::UnexpectedWrite(UnexpectedWrite {
                    topic: topic.to_string(),
                    partition: *partition,
                    value: *value,
                    offsets: offsets.iter().copied().collect(),
                }));
            }
        }
    }
    out
}

/// The run said it did not converge: list the invocations left open.
fn not_converged(history: &History, pairs: &[(usize, Option<usize>)]) -> Vec<Anomaly> {
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
