//! The history flattened into what the checks reason about: every send (a `send` op or a
//! `txn`'s send step), every ok poll (a `poll` op or a committed `txn`'s poll step) and every
//! transaction, each with the history events that show it.
//!
//! A `txn`'s steps are taken from its completion when it completed (the completion lists
//! what the client did, with offsets and records), else from its invoke (what it meant to do).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use rustc_hash::FxHashMap;

use crate::ranges::KeyRanges;

use crate::history::{
    FinalLog, History, Op, OpPair, Operation, Phase, PolledRecord, Topic, TxnStep,
};

/// A topic of the history: its name and its rank among the history's topic names. Topics
/// compare by rank, which orders them as their names do, so the many maps and searches keyed
/// by topic compare integers instead of strings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TopicRef<'h> {
    rank: u32,
    /// A thin reference (to the history's shared name): 16 bytes a topic reference, not 24.
    name: &'h Topic,
}

impl PartialEq for TopicRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.rank == other.rank
    }
}

impl Eq for TopicRef<'_> {}

impl std::hash::Hash for TopicRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.rank.hash(state);
    }
}

impl PartialOrd for TopicRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TopicRef<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank.cmp(&other.rank)
    }
}

impl fmt::Display for TopicRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Every topic name the history mentions, sorted: a name's index is its `TopicRef` rank.
#[derive(Debug, Default)]
pub(crate) struct Topics<'h> {
    names: Vec<&'h Topic>,
}

/// The same string object (the history shares one `Arc<str>` per topic): no byte comparison.
fn same_str(a: &str, b: &str) -> bool {
    std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()
}

/// Room to reserve for what `Facts::new` finds, counted while the ops are paired
/// (`History::pair_up`), from the ops alone: a `txn`'s step count is in its op, so its steps
/// are not visited (a walk over every step cost as much as building the facts).
#[derive(Debug, Default)]
pub(crate) struct Room {
    /// At most this many sends: the `send` ops and every step of the `txn`s (the steps the
    /// facts take: the completion's, else the invoke's). Room never used is never touched.
    sends: usize,
    poll_ops: usize,
    txns: usize,
}

impl Room {
    /// Counts one invoke and its completion, if any.
    pub fn count(&mut self, invoke: &Op, completion: Option<&Op>) {
        match (&invoke.op, completion.map(|c| &c.op)) {
            (Operation::Send { .. }, _) => self.sends += 1,
            (Operation::Poll { .. }, _) => self.poll_ops += 1,
            (Operation::Txn { .. }, Some(Operation::Txn { steps, .. }))
            | (Operation::Txn { steps, .. }, _) => {
                self.txns += 1;
                self.sends += steps.len();
            }
        }
    }

    /// The room for the facts of `pairs`, counted in a walk of its own.
    #[cfg(test)]
    fn of(history: &History, pairs: &[OpPair]) -> Self {
        let mut room = Room::default();
        for &(invoke, completion) in pairs {
            room.count(&history.ops[invoke], completion.map(|c| &history.ops[c]));
        }
        room
    }
}

/// The topic names in the order `Facts::new` meets them, one string each, each ranked by its
/// position until all are known (then `sorted` gives their ranks by name).
#[derive(Default)]
struct FirstSeen<'h> {
    names: Vec<&'h Topic>,
}

impl<'h> FirstSeen<'h> {
    fn topic(&mut self, name: &'h Topic) -> TopicRef<'h> {
        // Every name by address first (the history shares one string per topic), and by
        // bytes only for a string not seen: a comparison of bytes per event cost more than
        // the rest of the walk.
        let rank = match self.names.iter().position(|n| same_str(n, name)) {
            Some(rank) => rank,
            None => match self.names.iter().position(|n| ***n == **name) {
                Some(rank) => rank,
                None => {
                    self.names.push(name);
                    self.names.len() - 1
                }
            },
        };
        TopicRef {
            rank: rank as u32,
            name: self.names[rank],
        }
    }

    /// The topics by name, and each first-seen rank's rank by name.
    fn sorted(self) -> (Topics<'h>, Vec<u32>) {
        let mut names = self.names;
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_unstable_by_key(|&rank| names[rank]);
        let mut rank_by_name = vec![0; names.len()];
        for (by_name, &first_seen) in order.iter().enumerate() {
            rank_by_name[first_seen] = by_name as u32;
        }
        names.sort_unstable();
        (Topics { names }, rank_by_name)
    }
}

impl<'h> Topics<'h> {
    /// The topic named `name`, if the history mentions it.
    pub fn get(&self, name: &str) -> Option<TopicRef<'h>> {
        let rank = match self.names.iter().position(|n| same_str(n, name)) {
            Some(rank) => rank,
            None => self.names.binary_search_by(|n| (***n).cmp(name)).ok()?,
        };
        Some(TopicRef {
            rank: rank as u32,
            name: self.names[rank],
        })
    }

    fn of(&self, name: &str) -> TopicRef<'h> {
        self.get(name)
            .expect("every topic of the history is collected")
    }
}

/// One send: a `send` op, or one send step of a `txn` op. 64 bytes, one cache line: the
/// checks walk every send several times, and at 96 bytes those walks were mostly waiting for
/// memory. So optional fields are an integer with a flag (or a value never valid), and
/// history indices 32-bit (`SendFact::new` checks they fit).
#[derive(Debug)]
pub(crate) struct SendFact<'h> {
    pub topic: TopicRef<'h>,
    pub partition: u32,
    pub value: u64,
    /// The input value this output derives from (send steps only), if `has_source`.
    source: u64,
    /// The offset an acknowledged send reported, if `has_acked_offset`.
    acked_offset: u64,
    /// History index of the op's invoke, and of its completion (0 if it never completed: a
    /// completion comes after its invoke, so never at index 0).
    invoke: u32,
    completion: u32,
    /// Index into `Facts::txns` of the `txn` op this is a step of (`NO_TXN` if none).
    txn: u32,
    /// Its partition's position among the send index's partitions as first met
    /// (`PartitionSlots`): a set of partitions is a flag per slot.
    slot: u32,
    has_source: bool,
    has_acked_offset: bool,
    /// The op's completion phase; `None` if it never completed.
    pub outcome: Option<Phase>,
    /// The send definitely took effect: an ok `send`, a send step of an ok `txn`, or a send
    /// step of a non-transactional `txn` whose completion reports an offset (no atomicity
    /// there, so each step stands on its own).
    pub acknowledged: bool,
}

// One cache line a send (see `SendFact`).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<SendFact>() == 64);

/// The facts of one send as the history gives them (`SendFact::new` packs them).
struct Send<'h> {
    topic: TopicRef<'h>,
    partition: u32,
    value: u64,
    source: Option<u64>,
    invoke: u64,
    completion: Option<u64>,
    outcome: Option<Phase>,
    acknowledged: bool,
    acked_offset: Option<u64>,
    txn: Option<usize>,
}

/// `SendFact::txn` of a send that is no step of a transaction.
const NO_TXN: u32 = u32::MAX;

/// A history index as 32 bits (a history of 2^32 ops would not fit in memory).
fn index32(index: u64) -> u32 {
    u32::try_from(index).expect("a history of fewer than 2^32 ops")
}

impl<'h> SendFact<'h> {
    fn new(send: Send<'h>, slot: u32) -> Self {
        SendFact {
            slot,
            topic: send.topic,
            partition: send.partition,
            value: send.value,
            source: send.source.unwrap_or(0),
            acked_offset: send.acked_offset.unwrap_or(0),
            invoke: index32(send.invoke),
            completion: send.completion.map_or(0, index32),
            txn: send.txn.map_or(NO_TXN, |t| {
                u32::try_from(t)
                    .ok()
                    .filter(|&t| t != NO_TXN)
                    .expect("fewer txns than ops")
            }),
            has_source: send.source.is_some(),
            has_acked_offset: send.acked_offset.is_some(),
            outcome: send.outcome,
            acknowledged: send.acknowledged,
        }
    }

    /// The input value this output derives from (send steps only).
    pub fn source(&self) -> Option<u64> {
        self.has_source.then_some(self.source)
    }

    /// The offset an acknowledged send reported.
    pub fn acked_offset(&self) -> Option<u64> {
        self.has_acked_offset.then_some(self.acked_offset)
    }

    /// History index of the op's invoke.
    pub fn invoke(&self) -> u64 {
        u64::from(self.invoke)
    }

    /// History index of the op's completion, if it completed.
    pub fn completion(&self) -> Option<u64> {
        (self.completion != 0).then_some(u64::from(self.completion))
    }

    /// Its partition's slot (see `Facts::slot_partitions`).
    pub fn slot(&self) -> usize {
        self.slot as usize
    }

    /// Index into `Facts::txns` of the `txn` op this is a step of.
    pub fn txn(&self) -> Option<usize> {
        (self.txn != NO_TXN).then_some(self.txn as usize)
    }

    /// A send step of a transaction that definitely aborted: its value must not be committed.
    pub fn aborted(&self, facts: &Facts) -> bool {
        self.txn()
            .is_some_and(|t| facts.txns[t].transactional && self.outcome == Some(Phase::Fail))
    }

    /// A send step of a transaction that may have aborted (it failed, or its outcome is
    /// unknown: every EndTxn lost, then the coordinator aborted it by timeout): its value's
    /// absence is allowed. Whether such a transaction committed only in part is the
    /// transaction checks' question (torn-transaction, lost-effect), not `missing`'s.
    pub fn may_be_aborted(&self, facts: &Facts) -> bool {
        self.txn()
            .is_some_and(|t| facts.txns[t].transactional && self.outcome != Some(Phase::Ok))
    }
}

/// One ok poll: a `poll` op that completed ok, or a poll step of an ok `txn`.
#[derive(Debug)]
pub(crate) struct PollFact<'h> {
    pub topic: TopicRef<'h>,
    pub partition: u32,
    /// History index of the invoke (of the `poll`, or of the `txn`).
    pub invoke: u64,
    /// History index of the completion (of the `poll`, or of the `txn`).
    pub op: u64,
    /// Where the client asked to read from (`poll` ops only; steps do not say).
    pub from_offset: Option<u64>,
    pub records: &'h [PolledRecord],
}

/// One `txn` op.
#[derive(Debug)]
pub(crate) struct TxnFact<'h> {
    pub transactional: bool,
    pub txn_id: Option<&'h str>,
    pub invoke: u64,
    pub completion: Option<u64>,
    pub outcome: Option<Phase>,
    /// Its steps (the completion's if it completed, else the invoke's).
    pub steps: &'h [TxnStep],
    /// Indices into `Facts::sends` of its send steps, in step order.
    pub sends: std::ops::Range<usize>,
    /// Indices into `Facts::polls` of its poll steps, in step order (an ok txn's: the others'
    /// poll steps are no ok polls).
    pub polls: std::ops::Range<usize>,
    /// A poll step comes after a send step (where a precommitted read can be).
    pub polls_after_send: bool,
    /// Two of its send steps may name the same `source` (their sources do not ascend).
    pub sources_may_repeat: bool,
}

/// What the walk over a transaction's steps notes besides its sends and polls.
#[derive(Default)]
struct StepNotes {
    polls_after_send: bool,
    /// A send step has a `source`.
    lineage: bool,
    sources_may_repeat: bool,
}

/// A process's history in completion order, for the per-process scans.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ProcessEvent {
    /// `Facts::polls[i]` (32 bits, as `SendFact::txn`: 8 bytes an event, 16 with its
    /// process, where a `usize` made them 24).
    Poll(u32),
    /// `Facts::sends[i]`, acknowledged with an offset.
    Ack(u32),
    /// A `txn` ended fail or info: the client rewinds to its committed offsets.
    Rewind,
}

#[derive(Debug, Default)]
pub(crate) struct Facts<'h> {
    /// In invoke order; a `txn`'s steps in step order.
    pub sends: Vec<SendFact<'h>>,
    /// In invoke order; a `txn`'s steps in step order.
    pub polls: Vec<PollFact<'h>>,
    /// In invoke order.
    pub txns: Vec<TxnFact<'h>>,
    /// Per process, its events in completion order.
    pub by_process: ProcessEvents,
    /// Indices into `sends` by (topic, partition, value), ascending.
    pub send_index: SendIndex<'h>,
    /// Ground truth by partition.
    pub logs: BTreeMap<(TopicRef<'h>, u32), &'h FinalLog>,
    /// The history's topics.
    pub topics: Topics<'h>,
    /// The latest invoke time of a `send` or `txn` op (0 if none).
    pub latest_invoke: u64,
    /// The consumer groups commit-offset steps name in the `txn`s with lineage (a send step
    /// with a `source`): the consume-transform-produce groups.
    pub lineage_groups: BTreeSet<&'h str>,
}

/// Each process's events in completion order, in one vector (histories from the simulator
/// have one process per call: a map of vectors would allocate per call).
#[derive(Debug, Default)]
pub(crate) struct ProcessEvents {
    /// (process, event), by process; one process's in completion order.
    timeline: Vec<(u64, ProcessEvent)>,
}

impl ProcessEvents {
    /// From (process, event) with each process's events in completion order.
    fn new(mut timeline: Vec<(u64, ProcessEvent)>) -> Self {
        // A simulated history's processes mostly come in order already (call numbers grow),
        // and a stable sort allocates a buffer even for sorted input.
        if timeline.is_sorted_by_key(|&(process, _)| process) {
            return ProcessEvents { timeline };
        }
        let runs = Self::process_runs(&timeline);
        if runs.len() > timeline.len() / 2 {
            timeline.sort_by_key(|&(process, _)| process);
            return ProcessEvents { timeline };
        }
        // An op's events are pushed together, so they come as runs of one process: ordering
        // the runs (a transaction's tens of events move as one) is the stable sort by
        // process, at a fraction of its comparisons and moves.
        let mut sorted = Vec::with_capacity(timeline.len());
        for run in runs {
            sorted.extend_from_slice(&timeline[run.1..run.2]);
        }
        ProcessEvents { timeline: sorted }
    }

    /// The (process, start, end) of each run of one process's events in `timeline`, by
    /// process, then start: the order a stable sort by process keeps them in.
    fn process_runs(timeline: &[(u64, ProcessEvent)]) -> Vec<(u64, usize, usize)> {
        let mut runs = Vec::new();
        let mut start = 0;
        for run in timeline.chunk_by(|a, b| a.0 == b.0) {
            runs.push((run[0].0, start, start + run.len()));
            start += run.len();
        }
        // (process, start) is distinct per run: an unstable sort orders them as a stable one.
        // Each client's calls (processes) come ascending, so the buckets mostly are sorted.
        crate::ranges::sort_by_key_buckets(&mut runs, |&(process, ..)| process);
        runs
    }

    /// Each process with its (process, event) pairs, by process.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &[(u64, ProcessEvent)])> + '_ {
        self.timeline
            .chunk_by(|a, b| a.0 == b.0)
            .map(|events| (&events[0].0, events))
    }
}

/// Kinds of sends a partition may receive, as flags, noted per partition slot as the facts
/// are built (`Facts::partitions_with`): a detector asking which partitions some kind of send
/// goes to walks no send (walks of every send, 64 bytes each, for a flag per partition cost
/// about as much as the detectors' own work).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SendKinds(u8);

impl SendKinds {
    pub const NONE: Self = Self(0);
    /// A send step with lineage (`source`).
    pub const LINEAGE: Self = Self(1);
    /// A send step of a transactional `txn` with two send steps or more.
    pub const OF_MULTI_SEND_TXN: Self = Self(2);
    /// A send step of a transactional `txn` that completed, not `fail`.
    pub const OF_UNFAILED_TXN: Self = Self(4);
    /// A send step of a transactional `txn` that completed ok.
    pub const OF_COMMITTED_TXN: Self = Self(8);

    fn add(&mut self, kinds: SendKinds) {
        self.0 |= kinds.0;
    }

    fn has(self, kinds: SendKinds) -> bool {
        self.0 & kinds.0 != 0
    }

    /// The kinds a transaction's send steps are, besides their own (`LINEAGE`).
    fn of_txn(txn: &TxnFact) -> SendKinds {
        let mut kinds = SendKinds::NONE;
        if txn.transactional {
            if txn.sends.len() >= 2 {
                kinds.add(SendKinds::OF_MULTI_SEND_TXN);
            }
            if txn.outcome.is_some_and(|o| o != Phase::Fail) {
                kinds.add(SendKinds::OF_UNFAILED_TXN);
            }
            if txn.outcome == Some(Phase::Ok) {
                kinds.add(SendKinds::OF_COMMITTED_TXN);
            }
        }
        kinds
    }
}

/// Sends by (topic, partition, value): two aligned vectors grouped by partition and sorted
/// by value within one, rather than a map of vectors (one allocation each, however many
/// sends; this runs once per simulated seed).
#[derive(Debug, Default)]
pub(crate) struct SendIndex<'h> {
    /// Each send's value, by partition, then value.
    values: Vec<u64>,
    /// Indices into `Facts::sends`, aligned with `values`; one value's in invoke order.
    ids: Vec<usize>,
    /// Per partition, by key (topic rank and partition in one integer): its range in
    /// `values` and `ids`, and each value's range from its start. Detectors ask for one
    /// value's sends about once per polled or logged record, and a binary search over every
    /// send missed the cache at almost each of its ~20 steps.
    partitions: Vec<(u64, Range<usize>, KeyRanges)>,
    /// The topics' names by rank, to give the keys their topics back.
    names: Vec<&'h Topic>,
    /// Each partition slot's key (`SendFact::slot`).
    slot_keys: Vec<u64>,
    /// The kinds of sends each partition slot has.
    slot_kinds: Vec<SendKinds>,
}

/// A partition as one integer: its topic's rank above its number (ordered as the partitions
/// are).
pub(crate) fn partition_key(topic: TopicRef, partition: u32) -> u64 {
    (u64::from(topic.rank) << 32) | u64::from(partition)
}

impl<'h> SendIndex<'h> {
    fn new(sends: &[SendFact<'h>], placed: PartitionSlots, topics: &Topics<'h>) -> Self {
        // A counting sort by partition (few of them), which keeps invoke order within one,
        // then a sort by value of each partition that is not in value order already (a
        // simulated workload's sends to a partition mostly come in value order): no sort of
        // every send, and no vector of sort keys beside the index.
        let PartitionSlots {
            keys,
            counts,
            kinds,
            ..
        } = placed;
        // Each partition's first position, by key; then, as sends are placed, its next.
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_unstable_by_key(|&slot| keys[slot]);
        let mut next = vec![0usize; keys.len()];
        let mut partitions = Vec::with_capacity(keys.len());
        let mut start = 0;
        for slot in order {
            next[slot] = start;
            let end = start + counts[slot];
            partitions.push((keys[slot], start..end, KeyRanges::default()));
            start = end;
        }
        let (mut values, mut ids) = (vec![0u64; sends.len()], vec![0usize; sends.len()]);
        for (i, send) in sends.iter().enumerate() {
            let at = &mut next[send.slot as usize];
            values[*at] = send.value;
            ids[*at] = i;
            *at += 1;
        }
        for (_, range, ranges) in &mut partitions {
            sort_by_value(&mut values[range.clone()], &mut ids[range.clone()]);
            *ranges = KeyRanges::by_key(&values[range.clone()], |&value| value);
        }
        Self {
            values,
            ids,
            partitions,
            names: topics.names.clone(),
            slot_keys: keys,
            slot_kinds: kinds,
        }
    }

    /// The partition of `key`: its range and value ranges.
    fn find(&self, key: u64) -> Option<&(u64, Range<usize>, KeyRanges)> {
        let at = self.partitions.binary_search_by_key(&key, |p| p.0).ok()?;
        Some(&self.partitions[at])
    }

    /// The partition a key names.
    fn partition(&self, key: u64) -> (TopicRef<'h>, u32) {
        let rank = (key >> 32) as u32;
        let topic = TopicRef {
            rank,
            name: self.names[rank as usize],
        };
        (topic, key as u32)
    }

    fn of(&self, topic: TopicRef<'h>, partition: u32, value: u64) -> &[usize] {
        match self.find(partition_key(topic, partition)) {
            Some((_, range, ranges)) => {
                let run = ranges.get(value);
                &self.ids[range.start + run.start..range.start + run.end]
            }
            None => &[],
        }
    }

    /// Each partition with its sends' values and the sends (by value, one value's in invoke
    /// order), in partition order.
    pub fn partitions_with_values(
        &self,
    ) -> impl Iterator<Item = ((TopicRef<'h>, u32), &[u64], &[usize])> + '_ {
        self.partitions.iter().map(|(key, range, _)| {
            let values = &self.values[range.clone()];
            (self.partition(*key), values, &self.ids[range.clone()])
        })
    }

    /// Each key with its sends, in key order.
    #[cfg(test)]
    pub fn groups(&self) -> impl Iterator<Item = ((TopicRef<'h>, u32, u64), &[usize])> + '_ {
        self.groups_in(|_| true)
    }

    /// Each key of the partitions `wanted` accepts with its sends, in key order.
    pub fn groups_in(
        &self,
        wanted: impl Fn((TopicRef<'h>, u32)) -> bool,
    ) -> impl Iterator<Item = ((TopicRef<'h>, u32, u64), &[usize])> + '_ {
        let wanted: Vec<bool> = self
            .partitions
            .iter()
            .map(|(key, _, _)| wanted(self.partition(*key)))
            .collect();
        let partitions = self.partitions.iter().zip(wanted).filter(|(_, w)| *w);
        partitions.flat_map(move |((key, range, _), _)| {
            let (topic, partition) = self.partition(*key);
            let mut start = range.start;
            self.values[range.clone()]
                .chunk_by(|a, b| a == b)
                .map(move |run| {
                    let group = &self.ids[start..start + run.len()];
                    start += run.len();
                    ((topic, partition, run[0]), group)
                })
        })
    }
}

/// The distinct partition keys of the sends in order of first appearance, each send's
/// position among them (its `SendFact::slot`) and their counts, noted as `Facts::new` finds
/// the sends (no walk of their own over them). The previous send's key is remembered, then a few partitions are looked along, and
/// only beyond them a hash map (looked up, never iterated) is asked: sends go to a few
/// partitions, often in turn, where a tree map per send cost two searches and an insertion.
#[derive(Debug, Default)]
struct PartitionSlots {
    keys: Vec<u64>,
    slot_of: FxHashMap<u64, u32>,
    last: Option<(u64, u32)>,
    /// How many sends each of `keys` has.
    counts: Vec<usize>,
    /// The kinds of sends each of `keys` has (`SendKinds`).
    kinds: Vec<SendKinds>,
}

impl PartitionSlots {
    /// Partitions up to this many are found by a look along `keys`, not by hashing.
    const FEW: usize = 8;

    /// Notes the next send's partition key; its slot.
    fn place(&mut self, key: u64) -> u32 {
        let slot = match self.last {
            Some((k, slot)) if k == key => slot,
            _ => self.slot(key),
        };
        self.last = Some((key, slot));
        self.counts[slot as usize] += 1;
        slot
    }

    fn slot(&mut self, key: u64) -> u32 {
        let known = if self.keys.len() <= Self::FEW {
            self.keys.iter().position(|&k| k == key).map(|at| at as u32)
        } else {
            self.slot_of.get(&key).copied()
        };
        known.unwrap_or_else(|| {
            self.keys.push(key);
            self.counts.push(0);
            self.kinds.push(SendKinds::NONE);
            let slot = (self.keys.len() - 1) as u32;
            self.slot_of.insert(key, slot);
            slot
        })
    }

    /// The keys with their topics ranked by name (`FirstSeen::sorted`).
    fn renumber(&mut self, rank_by_name: &[u32]) {
        for key in &mut self.keys {
            let rank = rank_by_name[(*key >> 32) as usize];
            *key = (u64::from(rank) << 32) | (*key & u64::from(u32::MAX));
        }
    }
}

/// Sorts one partition's (value, send) pairs by value, then send (invoke order), unless they
/// are in that order already.
fn sort_by_value(values: &mut [u64], ids: &mut [usize]) {
    let sorted = values
        .windows(2)
        .zip(ids.windows(2))
        .all(|(v, i)| (v[0], i[0]) <= (v[1], i[1]));
    if sorted {
        return;
    }
    let mut pairs: Vec<(u64, usize)> = values.iter().copied().zip(ids.iter().copied()).collect();
    // Stable, which merges runs: a partition written from several sources is usually a few
    // ascending runs of values (equal pairs are identical, so the order is the same).
    pairs.sort();
    for (k, (value, id)) in pairs.into_iter().enumerate() {
        values[k] = value;
        ids[k] = id;
    }
}

pub(crate) fn phase_name(phase: Option<Phase>) -> String {
    phase.map_or("none".to_string(), |p| p.to_string())
}

/// What `Facts::new` has found so far in its walk over the pairs.
struct Builder<'h> {
    facts: Facts<'h>,
    names: FirstSeen<'h>,
    slots: PartitionSlots,
    /// (process, event) in invoke order, an op's events in step order: each process's events
    /// are in completion order, as a process invokes only once its previous op completed
    /// (`History::pairs` rejects anything else).
    timeline: Vec<(u64, ProcessEvent)>,
    /// The groups of the current transaction's commit-offset steps.
    commit_groups: Vec<&'h str>,
}

impl<'h> Builder<'h> {
    fn new(room: &Room) -> Self {
        // Room for every send and event up front: regrowing copied them all, twice. Polls:
        // one per poll op and (a guess) per transaction.
        let polls = room.poll_ops + room.txns;
        let mut facts = Facts::default();
        facts.sends.reserve(room.sends);
        facts.polls.reserve(polls);
        facts.txns.reserve(room.txns);
        Builder {
            facts,
            names: FirstSeen::default(),
            slots: PartitionSlots::default(),
            timeline: Vec::with_capacity(room.sends + polls + room.txns),
            commit_groups: Vec::new(),
        }
    }

    fn push_send(&mut self, process: u64, send: Send<'h>) {
        if send.acked_offset.is_some() && send.completion.is_some() {
            let event = ProcessEvent::Ack(self.facts.sends.len() as u32);
            self.timeline.push((process, event));
        }
        let slot = self.slots.place(partition_key(send.topic, send.partition));
        if send.source.is_some() {
            self.slots.kinds[slot as usize].add(SendKinds::LINEAGE);
        }
        self.facts.sends.push(SendFact::new(send, slot));
    }

    /// An ok poll (of a `poll` op, or a step of an ok `txn`) completed by `done`.
    fn push_poll(&mut self, invoke: &Op, done: &Op, poll: (&'h Topic, u32, &'h [PolledRecord])) {
        let (topic, partition, records) = poll;
        let event = ProcessEvent::Poll(self.facts.polls.len() as u32);
        self.timeline.push((invoke.process, event));
        self.facts.polls.push(PollFact {
            topic: self.names.topic(topic),
            partition,
            invoke: invoke.index,
            op: done.index,
            from_offset: match &done.op {
                Operation::Poll { from_offset, .. } => Some(*from_offset),
                _ => None,
            },
            records,
        });
    }

    fn send_op(&mut self, invoke: &'h Op, done: Option<&'h Op>) {
        let Operation::Send {
            topic,
            partition,
            value,
            ..
        } = &invoke.op
        else {
            return;
        };
        let ok = done.is_some_and(|d| d.phase == Phase::Ok);
        let acked_offset = match done.map(|d| &d.op) {
            Some(Operation::Send { offset, .. }) if ok => *offset,
            _ => None,
        };
        let send = Send {
            topic: self.names.topic(topic),
            partition: *partition,
            value: *value,
            source: None,
            invoke: invoke.index,
            completion: done.map(|d| d.index),
            outcome: done.map(|d| d.phase),
            acknowledged: ok,
            acked_offset,
            txn: None,
        };
        self.push_send(invoke.process, send);
    }

    fn poll_op(&mut self, invoke: &'h Op, done: Option<&'h Op>) {
        let Operation::Poll {
            topic, partition, ..
        } = &invoke.op
        else {
            return;
        };
        if let Some(
            done @ Op {
                phase: Phase::Ok,
                op: Operation::Poll { records, .. },
                ..
            },
        ) = done
        {
            self.push_poll(invoke, done, (topic, *partition, records));
        }
    }

    fn txn_op(&mut self, invoke: &'h Op, done: Option<&'h Op>) {
        let Operation::Txn {
            transactional,
            txn_id,
            steps,
        } = &invoke.op
        else {
            return;
        };
        let steps = match done.map(|d| &d.op) {
            Some(Operation::Txn { steps, .. }) => steps,
            _ => steps,
        };
        let (first_send, first_poll) = (self.facts.sends.len(), self.facts.polls.len());
        let notes = self.txn_steps(invoke, done, *transactional, steps);
        if done.is_some_and(|d| d.phase != Phase::Ok) {
            self.timeline.push((invoke.process, ProcessEvent::Rewind));
        }
        for group in self.commit_groups.drain(..) {
            if notes.lineage {
                self.facts.lineage_groups.insert(group);
            }
        }
        let txn = TxnFact {
            transactional: *transactional,
            txn_id: txn_id.as_deref(),
            invoke: invoke.index,
            completion: done.map(|d| d.index),
            outcome: done.map(|d| d.phase),
            steps,
            sends: first_send..self.facts.sends.len(),
            polls: first_poll..self.facts.polls.len(),
            polls_after_send: notes.polls_after_send,
            sources_may_repeat: notes.sources_may_repeat,
        };
        let kinds = SendKinds::of_txn(&txn);
        if kinds != SendKinds::NONE {
            for send in &self.facts.sends[txn.sends.clone()] {
                self.slots.kinds[send.slot as usize].add(kinds);
            }
        }
        self.facts.txns.push(txn);
    }

    /// The sends and ok polls of the next transaction's `steps` (its commit-offset steps'
    /// groups in `commit_groups`), and what else the walk notes.
    fn txn_steps(
        &mut self,
        invoke: &'h Op,
        done: Option<&'h Op>,
        transactional: bool,
        steps: &'h [TxnStep],
    ) -> StepNotes {
        let outcome = done.map(|d| d.phase);
        let ok = outcome == Some(Phase::Ok);
        let txn = self.facts.txns.len();
        let (mut notes, mut sent, mut last_source) = (StepNotes::default(), false, None);
        for step in steps {
            sent |= matches!(step, TxnStep::Send { .. });
            notes.polls_after_send |= sent && matches!(step, TxnStep::Poll { .. });
            if let TxnStep::Send {
                source: Some(source),
                ..
            } = step
            {
                notes.lineage = true;
                notes.sources_may_repeat |= last_source.is_some_and(|last| last >= *source);
                last_source = Some(*source);
            }
            match step {
                TxnStep::Send {
                    topic,
                    partition,
                    value,
                    source,
                    offset,
                } => {
                    let acknowledged = ok || (!transactional && done.is_some() && offset.is_some());
                    let send = Send {
                        topic: self.names.topic(topic),
                        partition: *partition,
                        value: *value,
                        source: *source,
                        invoke: invoke.index,
                        completion: done.map(|d| d.index),
                        outcome,
                        acknowledged,
                        acked_offset: offset.filter(|_| acknowledged),
                        txn: Some(txn),
                    };
                    self.push_send(invoke.process, send);
                }
                TxnStep::Poll {
                    topic,
                    partition,
                    records,
                } => match done.filter(|_| ok) {
                    Some(done) => self.push_poll(invoke, done, (topic, *partition, records)),
                    // Not an ok poll, but its topic is one the checks look up (`internal`
                    // scans the polls of every completed transaction).
                    None => _ = self.names.topic(topic),
                },
                TxnStep::CommitOffset { topic, group, .. } => {
                    self.names.topic(topic);
                    self.commit_groups.push(group);
                }
            }
        }
        notes
    }

    /// The facts, with their topics ranked by name and their indexes.
    fn finish(mut self, history: &'h History) -> Facts<'h> {
        for log in &history.final_logs {
            self.names.topic(&log.topic);
        }
        let (topics, rank_by_name) = self.names.sorted();
        let mut facts = self.facts;
        // Ranks were given as the names came; they are the names' order unless a later name
        // sorts first.
        if !rank_by_name.is_sorted() {
            let rank = |topic: &mut TopicRef| topic.rank = rank_by_name[topic.rank as usize];
            facts.sends.iter_mut().for_each(|s| rank(&mut s.topic));
            facts.polls.iter_mut().for_each(|p| rank(&mut p.topic));
            self.slots.renumber(&rank_by_name);
        }
        for log in &history.final_logs {
            let partition = (topics.of(&log.topic), log.partition);
            facts.logs.insert(partition, log);
        }
        facts.send_index = SendIndex::new(&facts.sends, self.slots, &topics);
        facts.by_process = ProcessEvents::new(self.timeline);
        facts.topics = topics;
        facts
    }
}

impl<'h> Facts<'h> {
    /// The facts of `pairs`, counting the room for them first.
    #[cfg(test)]
    pub fn new(history: &'h History, pairs: &[OpPair]) -> Self {
        Self::with_room(history, pairs, Room::of(history, pairs))
    }

    /// As `new`, with the room counted while the ops were paired (`History::pair_up`).
    pub fn with_room(history: &'h History, pairs: &[OpPair], room: Room) -> Self {
        let mut build = Builder::new(&room);
        let mut latest_invoke = 0;
        for &(invoke, completion) in pairs {
            let (invoke, done) = (&history.ops[invoke], completion.map(|c| &history.ops[c]));
            match &invoke.op {
                Operation::Send { .. } => build.send_op(invoke, done),
                Operation::Poll { .. } => build.poll_op(invoke, done),
                Operation::Txn { .. } => build.txn_op(invoke, done),
            }
            if !matches!(invoke.op, Operation::Poll { .. }) {
                latest_invoke = latest_invoke.max(invoke.time_ns);
            }
        }
        let mut facts = build.finish(history);
        facts.latest_invoke = latest_invoke;
        facts
    }

    /// The partitions that some send of one of `kinds` goes to.
    pub fn partitions_with(&self, kinds: SendKinds) -> BTreeSet<(TopicRef<'h>, u32)> {
        let flags = self.slots_with(kinds);
        let flagged = self.slot_partitions().zip(flags).filter(|(_, flag)| *flag);
        flagged.map(|(partition, _)| partition).collect()
    }

    /// Per partition slot (`SendFact::slot`), whether some send of one of `kinds` goes to it.
    pub fn slots_with(&self, kinds: SendKinds) -> Vec<bool> {
        let slots = &self.send_index.slot_kinds;
        slots.iter().map(|slot| slot.has(kinds)).collect()
    }

    /// The partition of each send slot (`SendFact::slot`), by slot.
    pub fn slot_partitions(&self) -> impl Iterator<Item = (TopicRef<'h>, u32)> + '_ {
        let index = &self.send_index;
        index.slot_keys.iter().map(|&key| index.partition(key))
    }

    /// How many records the ok polls returned, per partition they returned some of: to
    /// reserve vectors of polled records at once (grown by doubling, they touched about twice
    /// their size in fresh memory, which the kernel zeroes first).
    pub fn polled_counts(&self) -> BTreeMap<(TopicRef<'h>, u32), usize> {
        let mut counts = BTreeMap::new();
        for poll in self.polls.iter().filter(|p| !p.records.is_empty()) {
            *counts.entry((poll.topic, poll.partition)).or_default() += poll.records.len();
        }
        counts
    }

    /// The partition a `partition_key` of one of the history's sends names.
    pub fn partition_keyed(&self, key: u64) -> (TopicRef<'h>, u32) {
        self.send_index.partition(key)
    }

    /// Sends of `value` to a partition, in invoke order.
    pub fn sends_of(&self, topic: TopicRef<'h>, partition: u32, value: u64) -> &[usize] {
        self.send_index.of(topic, partition, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The latest invoke time of a send or txn, found while building the facts, is what a
        /// scan of every op finds.
        #[test]
        fn latest_invoke_agrees_with_a_scan(
            ops in prop::collection::vec((0u8..3, 0u64..1000, any::<bool>(), 0u64..1000), 0..20),
        ) {
            let mut history = History::default();
            for (process, &(kind, invoked, completes, took)) in ops.iter().enumerate() {
                let op = match kind {
                    0 => Operation::Send { topic: "t".into(), partition: 0, value: 1, offset: None },
                    1 => Operation::Poll {
                        topic: "t".into(), partition: 0, from_offset: 0, records: Vec::new(),
                    },
                    _ => Operation::Txn { transactional: true, txn_id: None, steps: Vec::new() },
                };
                history.push(process as u64, invoked, Phase::Invoke, op.clone(), None);
                if completes {
                    history.push(process as u64, invoked + took, Phase::Ok, op, None);
                }
            }
            let pairs = history.pairs().expect("pairs");
            let facts = Facts::new(&history, &pairs);
            let scanned = history
                .ops
                .iter()
                .filter(|op| op.phase == Phase::Invoke && !matches!(op.op, Operation::Poll { .. }))
                .map(|op| op.time_ns)
                .max()
                .unwrap_or(0);
            prop_assert_eq!(facts.latest_invoke, scanned);
        }

        /// The send index's groups are every (partition, value) with its sends in invoke
        /// order, in key order, as sorting every send says; `sends_of` finds each.
        #[test]
        fn send_index_agrees_with_a_sort(
            sends in prop::collection::vec((0u32..3, 0u64..12), 0..40),
        ) {
            let mut history = History::default();
            for (process, &(partition, value)) in sends.iter().enumerate() {
                let topic = if partition == 2 { "b" } else { "a" };
                let send = Operation::Send { topic: topic.into(), partition, value, offset: None };
                history.push(process as u64, 0, Phase::Invoke, send, None);
            }
            let pairs = history.pairs().expect("pairs");
            let facts = Facts::new(&history, &pairs);
            let mut expected: Vec<(String, u32, u64, usize)> = facts
                .sends
                .iter()
                .enumerate()
                .map(|(i, s)| (s.topic.to_string(), s.partition, s.value, i))
                .collect();
            expected.sort();
            let grouped: Vec<(String, u32, u64, usize)> = facts
                .send_index
                .groups()
                .flat_map(|((t, p, v), ids)| ids.iter().map(move |&i| (t.to_string(), p, v, i)))
                .collect();
            prop_assert_eq!(&grouped, &expected);
            for &(_, _, _, i) in &expected {
                let s = &facts.sends[i];
                let of = facts.sends_of(s.topic, s.partition, s.value);
                prop_assert!(of.contains(&i));
                prop_assert!(of.iter().all(|&j| facts.sends[j].value == s.value));
            }
        }

        /// Ordering runs of one process's events is the stable sort by process, whether the
        /// runs are few and long (the run-ordering path) or many and short (the sort's).
        #[test]
        fn process_events_are_a_stable_sort_by_process(
            runs in prop::collection::vec((0u64..6, 1usize..5), 0..40),
        ) {
            let mut timeline = Vec::new();
            for &(process, len) in &runs {
                for _ in 0..len {
                    timeline.push((process, ProcessEvent::Poll(timeline.len() as u32)));
                }
            }
            let mut expected = timeline.clone();
            expected.sort_by_key(|&(process, _)| process);
            let events = ProcessEvents::new(timeline);
            let key = |&(process, event): &(u64, ProcessEvent)| match event {
                ProcessEvent::Poll(at) => (process, at),
                _ => (process, u32::MAX),
            };
            let got: Vec<_> = events.timeline.iter().map(key).collect();
            prop_assert_eq!(got, expected.iter().map(key).collect::<Vec<_>>());
        }
    }
}
