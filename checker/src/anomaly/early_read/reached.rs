//! What a step reached: per partition, for each offset, the known record at or below it whose
//! writer was invoked latest — the running maxima `commit_not_before` reads.
//!
//! A partition's known records come from its final log, its polls and its acknowledged sends,
//! mostly the same records three times. Where their offsets are dense (as a log's are) the
//! maxima are kept per offset in an array, filled without sorting and read without searching;
//! otherwise (offsets far apart) the distinct records are sorted. Both give the same answer:
//! among the records at offsets ≤ the one asked, the writer invoked latest, ties to the
//! lowest (offset, value).

use std::collections::BTreeMap;

use crate::detect::Context;
use crate::txn::Partition;

/// A record and the earliest invoke of its writer: (invoke time, record offset, value,
/// writer's invoke index).
pub(super) type LatestWriter = (u64, u64, u64, u64);

/// Per partition, the running maxima of its known records.
pub(super) struct Reached<'h> {
    partitions: BTreeMap<Partition<'h>, Running>,
}

/// One partition's running maxima.
enum Running {
    /// Slot `i` is offset `base + i`: the latest writer among the records at offsets ≤ it
    /// (`None` while no writer is known).
    Dense {
        base: u64,
        latest: Vec<Option<LatestWriter>>,
    },
    /// One entry per distinct record, by (offset, value): its offset and the latest writer
    /// among the records up to it.
    Sparse(Vec<(u64, Option<LatestWriter>)>),
}

impl<'h> Reached<'h> {
    /// Every known record with its writer's earliest invoke, as running maxima per partition.
    pub fn new(cx: &Context<'_, 'h>) -> Self {
        let partitions = known_records(cx)
            .into_iter()
            .map(|(partition, list)| (partition, Running::new(cx, partition, list)))
            .collect();
        Reached { partitions }
    }

    /// The record at an offset ≤ `offset` of `partition` whose writer was invoked latest, if
    /// one is known.
    pub fn at(&self, partition: Partition, offset: u64) -> Option<LatestWriter> {
        match self.partitions.get(&partition)? {
            Running::Dense { base, latest } => {
                let slot = offset.checked_sub(*base)?;
                let slot =
                    usize::try_from(slot).map_or(latest.len() - 1, |s| s.min(latest.len() - 1));
                latest[slot]
            }
            Running::Sparse(list) => {
                let at = list.partition_point(|r| r.0 <= offset).checked_sub(1)?;
                list[at].1
            }
        }
    }
}

/// Per partition, every (offset, value) the final log, the polls and the acknowledged sends
/// show, repeats included.
fn known_records<'h>(cx: &Context<'_, 'h>) -> BTreeMap<Partition<'h>, Vec<(u64, u64)>> {
    let facts = cx.facts;
    // Looked up per send, iterated only to fill the sorted map.
    let mut records: rustc_hash::FxHashMap<Partition, Vec<(u64, u64)>> = Default::default();
    for (&partition, log) in &facts.logs {
        let entry = records.entry(partition).or_default();
        entry.extend(log.records.iter().map(|r| (r.offset, r.value)));
    }
    for poll in &facts.polls {
        let entry = records.entry((poll.topic, poll.partition)).or_default();
        entry.extend(poll.records.iter().map(|r| (r.offset, r.value)));
    }
    for send in &facts.sends {
        if let Some(offset) = send.acked_offset() {
            let entry = records.entry((send.topic, send.partition)).or_default();
            entry.push((offset, send.value));
        }
    }
    records.into_iter().collect()
}

/// The earliest-invoked send of `value` to `partition` (the first in invoke order among
/// equal times): (its invoke time, its invoke index).
fn writer(cx: &Context, partition: Partition, value: u64) -> Option<(u64, u64)> {
    let facts = cx.facts;
    facts
        .sends_of(partition.0, partition.1, value)
        .iter()
        .map(|&s| facts.sends[s].invoke())
        .min_by_key(|&invoke| cx.history.ops[invoke as usize].time_ns)
        .map(|w| (cx.history.ops[w as usize].time_ns, w))
}

/// `latest` after a record `here`: replaced only by a strictly later writer, so ties keep
/// the record met first.
fn later(latest: Option<LatestWriter>, here: Option<LatestWriter>) -> Option<LatestWriter> {
    match (latest, here) {
        (Some(p), Some(h)) if h.0 > p.0 => Some(h),
        (Some(p), _) => Some(p),
        (None, here) => here,
    }
}

impl Running {
    /// Offsets spanning at most this many slots per record (and a little) are dense.
    const DENSE_SLOTS_PER_RECORD: u64 = 2;

    fn new(cx: &Context, partition: Partition, list: Vec<(u64, u64)>) -> Self {
        let (Some(low), Some(high)) = (
            list.iter().map(|r| r.0).min(),
            list.iter().map(|r| r.0).max(),
        ) else {
            return Running::Sparse(Vec::new());
        };
        let dense = (high - low) / Self::DENSE_SLOTS_PER_RECORD <= list.len() as u64 + 64;
        if dense {
            Self::dense(cx, partition, low, high, &list)
        } else {
            Self::sparse(cx, partition, list)
        }
    }

    fn sparse(cx: &Context, partition: Partition, mut list: Vec<(u64, u64)>) -> Self {
        list.sort_unstable();
        list.dedup();
        let mut running: Vec<(u64, Option<LatestWriter>)> = Vec::with_capacity(list.len());
        for (offset, value) in list {
            let here = writer(cx, partition, value).map(|(t, w)| (t, offset, value, w));
            let previous = running.last().and_then(|&(_, latest)| latest);
            running.push((offset, later(previous, here)));
        }
        Running::Sparse(running)
    }

    /// Each offset's best record first (latest writer, ties to the lowest value: the order
    /// the sorted list meets them in), then the running maxima over the offsets.
    fn dense(cx: &Context, partition: Partition, low: u64, high: u64, list: &[(u64, u64)]) -> Self {
        let slots = (high - low) as usize + 1;
        // Per slot: the value whose writer was looked up last (repeats skip the look-up),
        // and the best record so far.
        let mut looked_up: Vec<Option<u64>> = vec![None; slots];
        let mut best: Vec<Option<LatestWriter>> = vec![None; slots];
        for &(offset, value) in list {
            let slot = (offset - low) as usize;
            if looked_up[slot] == Some(value) {
                continue;
            }
            looked_up[slot] = Some(value);
            let Some((time, w)) = writer(cx, partition, value) else {
                continue;
            };
            let better = match best[slot] {
                None => true,
                Some((t, _, v, _)) => time > t || (time == t && value < v),
            };
            if better {
                best[slot] = Some((time, offset, value, w));
            }
        }
        let mut latest = best;
        let mut running = None;
        for slot in &mut latest {
            running = later(running, *slot);
            *slot = running;
        }
        Running::Dense { base: low, latest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Facts;
    use crate::history::{History, Operation, Phase};

    /// A history with sends of values 0..n to one partition, invoked at scrambled times.
    fn history(n: u64) -> History {
        let mut h = History::default();
        for v in 0..n {
            // Thirteen distinct times for forty values: many ties.
            let time = (v * 7919) % 13;
            let send = |offset| Operation::Send {
                topic: "t".into(),
                partition: 0,
                value: v,
                offset,
            };
            h.push(v, time, Phase::Invoke, send(None), None);
            h.push(v, time + 1, Phase::Ok, send(Some(v)), None);
        }
        h
    }

    /// Dense and sparse agree at every offset, on records with repeats, several values at
    /// one offset, values without a writer and ties in time.
    #[test]
    fn dense_and_sparse_maxima_agree() {
        let h = history(40);
        let pairs = h.pairs().unwrap();
        let facts = Facts::new(&h, &pairs);
        let cx = Context::new(&h, &pairs, &facts);
        let partition = (facts.topics.get("t").unwrap(), 0);
        let mut list: Vec<(u64, u64)> = (0..40).map(|v| (v * 3 % 37 + 5, v)).collect();
        // Values 16 and 3, 30 and 4, 19 and 6 were sent at the same time (19 and 6 the
        // latest of all).
        list.extend([
            (9, 1),
            (9, 2),
            (12, 99),
            (12, 3),
            (5, 0),
            (41, 17),
            (41, 16),
        ]);
        list.extend([
            (20, 16),
            (20, 3),
            (21, 4),
            (21, 30),
            (21, 4),
            (5, 19),
            (5, 6),
        ]);
        let dense = Running::dense(&cx, partition, 5, 41, &list);
        let sparse = Running::sparse(&cx, partition, list);
        let (dense, sparse) = (
            Reached {
                partitions: BTreeMap::from([(partition, dense)]),
            },
            Reached {
                partitions: BTreeMap::from([(partition, sparse)]),
            },
        );
        for offset in 0..60 {
            assert_eq!(
                dense.at(partition, offset),
                sparse.at(partition, offset),
                "{offset}"
            );
        }
        assert_eq!(dense.at(partition, 4), None);
        assert!(dense.at(partition, 50).is_some());
    }
}
