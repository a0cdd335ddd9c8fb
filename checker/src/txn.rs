//! Transaction, per-process and exactly-once findings: `check_transactions` runs every
//! `Transactions` row of `anomaly_kinds!`; the detectors not in a module of their own
//! (`anomaly/<kind>.rs`) are here. One function per finding; each says exactly what it
//! reports. Shared conventions:
//!
//! - *Ok poll*: a `poll` op that completed ok, or a poll step of a `txn` that completed ok.
//!   Polls are taken to be read_committed (the history does not record isolation).
//! - *Acknowledged send*: an ok `send`, a send step of an ok `txn`, or a send step of a
//!   non-transactional `txn` whose completion reports an offset.
//! - *Definitely aborted send*: a send step of a transactional `txn` that completed `fail`.
//! - *Committed-visible record*: a final-log record with status plain or committed.
//! - Values identify records within a partition, as in Jepsen: a workload sends each value to
//!   a partition once (a retry resends the same value). Where that does not hold, a check
//!   attributes a record to every send of its value, and says below how it stays
//!   conservative.
//! - A `txn`'s steps are its completion's when it completed, else its invoke's.
//!
//! Findings come in a stable order: by check (the table's order), then by
//! partition, then by value or offset (torn transactions by invoke index, per-process
//! findings by partition then process then history index).

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::anomaly::*;
pub use crate::detect::{CheckError, check_all};
use crate::detect::{Context, run_passes};
use crate::facts::{Facts, ProcessEvent, SendFact, TopicRef, phase_name};
use crate::history::{History, LogEntry};
use crate::ranges::{KeyRanges, ValueSet};
// The tests (`use super::*`) name phases.
#[cfg(test)]
use crate::history::{Phase, RecordStatus};

/// Runs every transaction check (the `Transactions` rows of `anomaly_kinds!`) over
/// `history` (see the module docs for the definitions). Errors if the history's invokes and
/// completions do not pair up.
pub fn check_transactions(history: &History) -> Result<Vec<Anomaly>, CheckError> {
    run_passes(history, |pass| pass == Pass::Transactions)
}

pub(crate) type Partition<'h> = (TopicRef<'h>, u32);

/// Per partition, its final log's records by (offset, value): the log itself when it is in
/// that order (as a log is), else a sorted copy.
type OffsetIndex<'h> = BTreeMap<Partition<'h>, Cow<'h, [LogEntry]>>;

/// The final logs indexed by value and by offset. Each index is built on first use: many
/// histories need neither (one without transactions, lineage or repeated polls of a
/// partition by one process, such as a plain producer's).
pub(crate) struct Truth<'f, 'h> {
    facts: &'f Facts<'h>,
    by_value: OnceCell<BTreeMap<Partition<'h>, ValueIndex<'h>>>,
    by_offset: OnceCell<OffsetIndex<'h>>,
    /// Per send (index into `Facts::sends`): a committed-visible record holds its value.
    committed_sends: OnceCell<Vec<bool>>,
}

/// One partition's records by (value, offset), and each value's range of them once values
/// are looked up often: some histories ask about once per send and polled record, where a
/// binary search over the whole log missed the cache at almost every step; others ask a few
/// times or never, where the array of ranges cost more to build (mostly the kernel zeroing
/// its fresh pages) than every search. The records are the log itself when it is in that
/// order already (as a log of values counted up is), else the log read through its positions
/// sorted by (value, offset): 4 bytes a record, where a sorted copy of the records took 32
/// and as much again to sort.
struct ValueIndex<'h> {
    log: &'h [LogEntry],
    /// The log's positions in (value, offset) order, equal keys in log order; `None` if the
    /// log is in that order.
    order: Option<Vec<u32>>,
    /// Value → its range in the records by value, built once searches have cost about as
    /// much.
    ranges: OnceCell<KeyRanges>,
    /// Look-ups answered by a binary search so far.
    searches: Cell<usize>,
}

impl<'h> ValueIndex<'h> {
    fn new(log: &'h [LogEntry]) -> Self {
        let key = |r: &LogEntry| (r.value, r.offset);
        let order = (!log.is_sorted_by_key(key)).then(|| {
            let positions = u32::try_from(log.len()).expect("a log of fewer than 2^32 records");
            let mut order: Vec<u32> = (0..positions).collect();
            // Stable, merging runs: a partition written from several sources holds a few
            // ascending runs of values.
            order.sort_by_key(|&at| key(&log[at as usize]));
            order
        });
        ValueIndex {
            log,
            order,
            ranges: OnceCell::new(),
            searches: Cell::new(0),
        }
    }

    /// Every record, by (value, offset).
    fn records(&self) -> ByValue<'_> {
        ByValue {
            log: self.log,
            order: self.order.as_deref(),
        }
    }

    /// The records of `value`, by offset.
    fn with_value(&self, value: u64) -> ByValue<'_> {
        self.with_value_after(value, self.log.len() / 32)
    }

    /// As `with_value`, building the ranges once `searches` binary searches were made.
    fn with_value_after(&self, value: u64, searches: usize) -> ByValue<'_> {
        let records = self.records();
        if self.ranges.get().is_none() && self.searches.get() < searches {
            self.searches.set(self.searches.get() + 1);
            let start = records.partition_point(|r| r.value < value);
            let rest = records.slice(start..records.len());
            return rest.slice(0..rest.partition_point(|r| r.value == value));
        }
        let ranges = self.ranges.get_or_init(|| match &self.order {
            None => KeyRanges::by_key(self.log, |r| r.value),
            Some(order) => KeyRanges::by_key(order, |&at| self.log[at as usize].value),
        });
        records.slice(ranges.get(value))
    }
}

/// A partition's final-log records (or a run of them) in (value, offset) order: a slice of
/// the log, or the log read through a slice of its positions.
#[derive(Clone, Copy)]
pub(crate) struct ByValue<'a> {
    log: &'a [LogEntry],
    order: Option<&'a [u32]>,
}

impl<'a> ByValue<'a> {
    pub const EMPTY: ByValue<'static> = ByValue {
        log: &[],
        order: None,
    };

    pub fn len(&self) -> usize {
        self.order.map_or(self.log.len(), <[u32]>::len)
    }

    fn get(&self, at: usize) -> &'a LogEntry {
        match self.order {
            None => &self.log[at],
            Some(order) => &self.log[order[at] as usize],
        }
    }

    pub fn iter(self) -> impl Iterator<Item = &'a LogEntry> {
        (0..self.len()).map(move |at| self.get(at))
    }

    /// The records at positions `range` of these.
    pub fn slice(self, range: std::ops::Range<usize>) -> Self {
        match self.order {
            None => ByValue {
                log: &self.log[range],
                order: None,
            },
            Some(order) => ByValue {
                log: self.log,
                order: Some(&order[range]),
            },
        }
    }

    /// The position of the first record `before` is false for (they must be in that order).
    fn partition_point(&self, before: impl Fn(&LogEntry) -> bool) -> usize {
        match self.order {
            None => self.log.partition_point(before),
            Some(order) => order.partition_point(|&at| before(&self.log[at as usize])),
        }
    }
}

impl<'f, 'h> Truth<'f, 'h> {
    pub fn new(facts: &'f Facts<'h>) -> Self {
        Truth {
            facts,
            by_value: OnceCell::new(),
            by_offset: OnceCell::new(),
            committed_sends: OnceCell::new(),
        }
    }

    /// Whether a committed-visible final-log record of its partition holds the value of send
    /// `send` (an index into `Facts::sends`), as `committed_offset_of(..).is_some()`. Decided
    /// for every send at once on first use, by walking each partition's sends by value beside
    /// its records by value: no look-up per send.
    pub(crate) fn send_committed(&self, send: usize) -> bool {
        self.committed_sends.get_or_init(|| {
            let mut committed = vec![false; self.facts.sends.len()];
            for (partition, values, ids) in self.facts.send_index.partitions_with_values() {
                let mut records = self.by_value_of(partition);
                for (&value, &id) in values.iter().zip(ids) {
                    let below = records.iter().take_while(|r| r.value < value).count();
                    records = records.slice(below..records.len());
                    let mut held = records.iter().take_while(|r| r.value == value);
                    committed[id] = held.any(|r| r.status.is_committed());
                }
            }
            committed
        })[send]
    }

    /// Each partition's records by (value, offset); equal keys in log order.
    fn by_value(&self) -> &BTreeMap<Partition<'h>, ValueIndex<'h>> {
        self.by_value.get_or_init(|| {
            let logs = self.facts.logs.iter();
            logs.map(|(&partition, log)| (partition, ValueIndex::new(&log.records)))
                .collect()
        })
    }

    /// Each partition's records by (offset, value); equal keys in log order. A log is in
    /// this order already (offsets grow along it), and is then read in place: no copy.
    fn by_offset(&self) -> &OffsetIndex<'h> {
        self.by_offset.get_or_init(|| {
            let key = |r: &LogEntry| (r.offset, r.value);
            let logs = self.facts.logs.iter();
            logs.map(|(&partition, log)| (partition, in_order(&log.records, key)))
                .collect()
        })
    }

    fn has(&self, partition: Partition<'h>) -> bool {
        self.facts.logs.contains_key(&partition)
    }

    /// A partition's records by (value, offset) (none without a final log).
    pub(crate) fn by_value_of(&self, partition: Partition<'h>) -> ByValue<'_> {
        self.by_value()
            .get(&partition)
            .map_or(ByValue::EMPTY, ValueIndex::records)
    }

    /// The records holding `value`, by offset.
    fn with_value(&self, partition: Partition<'h>, value: u64) -> ByValue<'_> {
        let Some(index) = self.by_value().get(&partition) else {
            return ByValue::EMPTY;
        };
        index.with_value(value)
    }

    /// The lowest offset holding `value` as committed-visible data.
    pub(crate) fn committed_offset_of(&self, partition: Partition<'h>, value: u64) -> Option<u64> {
        self.with_value(partition, value)
            .iter()
            .find(|r| r.status.is_committed())
            .map(|r| r.offset)
    }
}

pub(crate) fn partition_of<'h>(send: &SendFact<'h>) -> Partition<'h> {
    (send.topic, send.partition)
}

/// Where a send landed: its acknowledged offset, else its value's committed-visible offset.
fn txn_record<'h>(send: &SendFact<'h>, truth: &Truth<'_, 'h>) -> TxnRecord {
    TxnRecord {
        topic: send.topic.to_string(),
        partition: send.partition,
        value: send.value,
        offset: send
            .acked_offset()
            .or_else(|| truth.committed_offset_of(partition_of(send), send.value)),
    }
}

/// Per partition without a final log, the records a consumer should see, (offset, value)
/// ascending (see `known_between`).
pub(crate) type KnownRecords<'h> = BTreeMap<Partition<'h>, Vec<(u64, u64)>>;

/// The records of `partition` a consumer should see strictly between offsets `after` and
/// `before`, (offset, value) ascending, distinct: the final log's committed-visible records
/// when the history has it (read from the log by offset: asked about a few gaps, a copy of
/// every such record cost more than all the questions), else every record an ok poll returned
/// or an acknowledged send reported (`known_without_truth`).
pub(crate) fn known_between<'h>(
    cx: &Context<'_, 'h>,
    partition: Partition<'h>,
    after: u64,
    before: u64,
) -> Vec<(u64, u64)> {
    if let Some(records) = cx.truth.by_offset().get(&partition) {
        let start = records.partition_point(|r| r.offset <= after);
        let end = records.partition_point(|r| r.offset < before).max(start);
        let visible = records[start..end]
            .iter()
            .filter(|r| r.status.is_committed());
        let mut between: Vec<(u64, u64)> = visible.map(|r| (r.offset, r.value)).collect();
        between.dedup();
        return between;
    }
    cx.known_records()
        .get(&partition)
        .map_or(Vec::new(), |records| {
            let start = records.partition_point(|r| r.0 <= after);
            let end = records.partition_point(|r| r.0 < before).max(start);
            records[start..end].to_vec()
        })
}

/// Per partition without a final log, every record an ok poll returned or an acknowledged
/// send reported, (offset, value) ascending, distinct.
pub(crate) fn known_without_truth<'h>(
    facts: &Facts<'h>,
    truth: &Truth<'_, 'h>,
) -> KnownRecords<'h> {
    let mut known: KnownRecords = BTreeMap::new();
    for poll in &facts.polls {
        let partition = (poll.topic, poll.partition);
        if !truth.has(partition) {
            let records = known.entry(partition).or_default();
            records.extend(poll.records.iter().map(|r| (r.offset, r.value)));
        }
    }
    for send in &facts.sends {
        if let (Some(offset), false) = (send.acked_offset(), truth.has(partition_of(send))) {
            known
                .entry(partition_of(send))
                .or_default()
                .push((offset, send.value));
        }
    }
    for records in known.values_mut() {
        // Stable, merging runs (equal pairs are identical): usually sorted already.
        records.sort();
        records.dedup();
    }
    known
}

/// poll-skip and nonmonotonic-poll (Jepsen's per-process scan). For each process, its ok
/// polls of each partition in completion order (a txn's poll steps in step order); polls
/// that returned nothing are passed over. With `a` the last offset the previous poll returned
/// and `b` the first offset the next one returned:
/// - nonmonotonic-poll if b ≤ a;
/// - poll-skip if a known record (see `known_between`) lies strictly between a and b.
///
/// The history has no assign/subscribe/rebalance events, so the scan assumes each process is
/// one consumer that moves only by its own polls, and forgets a position when the process
/// says it moved: a `poll` op whose `from_offset` is at or below `a` is an explicit rewind
/// (not compared), and a `txn` of the process that ended fail or info rewinds all its
/// partitions (an aborted consume-transform-produce loop seeks back to its committed offsets).
pub(crate) fn scan_polls(cx: &Context) -> (Vec<PollSkip>, Vec<NonmonotonicPoll>) {
    let facts = cx.facts;
    let (mut skips, mut backwards) = (Vec::new(), Vec::new());
    // Per partition: (last offset returned, completion of that poll). One map for every
    // process, emptied for each (a simulated history has a process per call: a map each was
    // an allocation each); looked up, never iterated, so its order is never seen.
    let mut position: FxHashMap<Partition, (u64, u64)> = FxHashMap::default();
    // A finding compares two polls of a process.
    for (&process, events) in facts.by_process.iter().filter(|(_, e)| e.len() >= 2) {
        position.clear();
        for (_, event) in events {
            let poll = match *event {
                ProcessEvent::Rewind => {
                    position.clear();
                    continue;
                }
                ProcessEvent::Ack(_) => continue,
                ProcessEvent::Poll(i) => &facts.polls[i as usize],
            };
            let (Some(first), Some(last)) = (poll.records.first(), poll.records.last()) else {
                continue;
            };
            let partition = (poll.topic, poll.partition);
            if let Some(&(previous_offset, previous_poll)) = position.get(&partition) {
                let rewound = poll.from_offset.is_some_and(|from| from <= previous_offset);
                if !rewound && first.offset <= previous_offset {
                    backwards.push(NonmonotonicPoll {
                        process,
                        topic: poll.topic.to_string(),
                        partition: poll.partition,
                        previous_poll,
                        previous_offset,
                        next_poll: poll.op,
                        next_offset: first.offset,
                    });
                } else if !rewound {
                    let between = known_between(cx, partition, previous_offset, first.offset);
                    if !between.is_empty() {
                        skips.push(PollSkip {
                            process,
                            topic: poll.topic.to_string(),
                            partition: poll.partition,
                            previous_poll,
                            previous_offset,
                            next_poll: poll.op,
                            next_offset: first.offset,
                            skipped: between,
                        });
                    }
                }
            }
            position.insert(partition, (last.offset, poll.op));
        }
    }
    sort_by_poll(&mut skips, |f| {
        (&f.topic, f.partition, f.process, f.next_poll)
    });
    sort_by_poll(&mut backwards, |f| {
        (&f.topic, f.partition, f.process, f.next_poll)
    });
    (skips, backwards)
}

/// Sorts the per-process scan's findings by partition, then process, then poll (`key` gives
/// them; stable).
fn sort_by_poll<T>(findings: &mut [T], key: impl Fn(&T) -> (&String, u32, u64, u64)) {
    findings.sort_by(|a, b| key(a).cmp(&key(b)));
}

/// poll-skip: the poll skips of the per-process scan (`scan_polls`).
pub(crate) fn poll_skips(cx: &Context) -> Vec<PollSkip> {
    cx.poll_scan().0.clone()
}

/// nonmonotonic-poll: the non-monotonic polls of the per-process scan (`scan_polls`).
pub(crate) fn nonmonotonic_polls(cx: &Context) -> Vec<NonmonotonicPoll> {
    cx.poll_scan().1.clone()
}

/// Per partition some ok poll returned records of: the highest offset returned, and the
/// values returned.
fn polled_values<'h>(facts: &Facts<'h>) -> BTreeMap<Partition<'h>, (u64, ValueSet)> {
    let mut polled: BTreeMap<Partition, (u64, Vec<u64>)> = facts
        .polled_counts()
        .into_iter()
        .map(|(partition, count)| (partition, (0, Vec::with_capacity(count))))
        .collect();
    for poll in facts.polls.iter().filter(|p| !p.records.is_empty()) {
        let (through, values) = polled
            .entry((poll.topic, poll.partition))
            .or_insert((0, Vec::new()));
        for r in poll.records {
            *through = (*through).max(r.offset);
            values.push(r.value);
        }
    }
    let sets = polled.into_iter();
    sets.map(|(partition, (through, values))| (partition, (through, ValueSet::new(&values))))
        .collect()
}

/// unseen: for a partition that ok polls read, the values of its acknowledged sends that no
/// ok poll of it returned — reported only when polls read to the partition's end: the highest
/// offset any ok poll returned is at least the highest known committed offset (the final log's
/// last committed-visible record, and every acknowledged offset). One finding per partition.
/// An acknowledged value absent from the log is also a lost-write; both are reported, as in
/// Jepsen.
pub(crate) fn unseen(cx: &Context) -> Vec<Unseen> {
    let (facts, truth) = (cx.facts, &cx.truth);
    let polled = polled_values(facts);
    let acknowledged = acknowledged_unpolled(facts, &polled);
    // An input whose derived output is committed was read by a consumer whose transaction
    // committed, even if that consumer never learnt the outcome (an `info` txn's polls are not
    // ok polls): lineage counts as having seen it. Sorted, distinct.
    // Built on first need: only a value no poll returned is looked up in it.
    let seen_through_lineage = std::cell::OnceCell::new();
    let lineage = || {
        seen_through_lineage.get_or_init(|| {
            let mut seen: Vec<u64> = facts
                .sends
                .iter()
                .filter_map(|s| s.source().map(|source| (s, source)))
                .filter(|(s, _)| {
                    truth
                        .with_value(partition_of(s), s.value)
                        .iter()
                        .any(|r| r.status.is_committed())
                })
                .map(|(_, source)| source)
                .collect();
            seen.sort_unstable();
            seen.dedup();
            seen
        })
    };
    let mut found = Vec::new();
    let partitions = polled.iter().zip(acknowledged);
    for ((&partition, &(polled_through, _)), (last_acked, unpolled)) in partitions {
        // The last committed-visible record by offset: found from the end of the log in
        // offset order (a log is, and other checks read it so too), not by a walk of it.
        let last_committed = truth.by_offset().get(&partition).and_then(|records| {
            let committed = records.iter().rev().find(|r| r.status.is_committed());
            committed.map(|r| r.offset)
        });
        let Some(end_offset) = last_committed.max(last_acked) else {
            continue;
        };
        if polled_through < end_offset {
            continue;
        }
        let mut missed = unpolled;
        missed.retain(|v| lineage().binary_search(v).is_err());
        if !missed.is_empty() {
            found.push(Unseen {
                topic: partition.0.to_string(),
                partition: partition.1,
                count: missed.len(),
                values: missed,
                polled_through,
                end_offset,
            });
        }
    }
    found
}

/// For each partition of `polled` (the values its polls returned, by partition), of its
/// acknowledged sends: the last offset acknowledged, and the values (ascending, distinct)
/// that its polls did not return. One walk over the sends in the order they are stored (by
/// value, through the send index, was about a cache miss a send).
fn acknowledged_unpolled(
    facts: &Facts,
    polled: &BTreeMap<Partition, (u64, ValueSet)>,
) -> Vec<(Option<u64>, Vec<u64>)> {
    let keys: Vec<_> = polled.keys().copied().collect();
    let sets: Vec<&ValueSet> = polled.values().map(|(_, set)| set).collect();
    // Each partition slot's position among the polled partitions, if it is one.
    let position: Vec<Option<usize>> = facts
        .slot_partitions()
        .map(|partition| keys.binary_search(&partition).ok())
        .collect();
    let mut acknowledged = vec![(None, Vec::new()); keys.len()];
    for send in facts.sends.iter().filter(|s| s.acknowledged) {
        let Some(at) = position[send.slot()] else {
            continue;
        };
        let (last_acked, unpolled) = &mut acknowledged[at];
        *last_acked = (*last_acked).max(send.acked_offset());
        if !sets[at].contains(send.value) {
            unpolled.push(send.value);
        }
    }
    for (_, unpolled) in &mut acknowledged {
        unpolled.sort_unstable();
        unpolled.dedup();
    }
    acknowledged
}

pub(crate) mod effects;
pub(crate) mod internal;
pub mod jepsen_kafka;
pub(crate) mod torn;

#[cfg(test)]
mod tests;

/// `log` sorted by `key` (equal keys in log order): read in place when it already is, a
/// sorted copy otherwise.
fn in_order<K: Ord>(log: &[LogEntry], key: impl Fn(&LogEntry) -> K) -> Cow<'_, [LogEntry]> {
    if log.is_sorted_by_key(&key) {
        Cow::Borrowed(log)
    } else {
        let mut sorted = log.to_vec();
        sorted.sort_by_key(key);
        Cow::Owned(sorted)
    }
}

#[cfg(test)]
mod value_index_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A value's records are the same whether found by a binary search or by the ranges,
        /// and whenever the ranges are built in between: as a scan of every record finds them
        /// (by offset; a log in value order is read in place, another through its positions,
        /// and a malformed one may repeat an offset).
        #[test]
        fn look_ups_agree_with_a_scan(
            mut values in prop::collection::vec(0u64..40, 0..60),
            in_value_order in any::<bool>(),
            repeats in prop::collection::vec(any::<bool>(), 60),
            asked in prop::collection::vec(0u64..45, 1..30),
            searches in 0usize..8,
        ) {
            if in_value_order {
                values.sort_unstable();
            }
            let mut offset = 0;
            let records: Vec<LogEntry> = values
                .iter()
                .zip(&repeats)
                .enumerate()
                .map(|(at, (&value, &repeat))| {
                    offset += u64::from(at > 0 && !repeat);
                    LogEntry {
                        offset,
                        value,
                        producer_id: at as i64,
                        status: RecordStatus::Committed,
                    }
                })
                .collect();
            let index = ValueIndex::new(&records);
            prop_assert_eq!(index.order.is_none(), records.is_sorted_by_key(|r| (r.value, r.offset)));
            for value in asked {
                // Stable: records at one offset in log order.
                let mut scanned: Vec<_> = records.iter().copied().filter(|r| r.value == value).collect();
                scanned.sort_by_key(|r| r.offset);
                let found: Vec<_> = index.with_value_after(value, searches).iter().copied().collect();
                prop_assert_eq!(found, scanned);
            }
        }
    }
}
