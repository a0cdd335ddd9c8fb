//! The Wing–Gong–Lowe search for one partition, with Lowe's memoisation of
//! (set of linearized operations, model state).
//!
//! Beyond the textbook algorithm (as in Porcupine):
//! - Model states are interned: the cache, the stack and the transition memo hold 32-bit ids.
//! - Transitions are memoised per (state, operation) in a dense table while the states are
//!   few (registers: a handful of values), so the model steps once per distinct pair however
//!   often the search tries it. Past [`DENSE_MEMO_ENTRIES`] the model is called directly: with
//!   that many states (key-value stores), pairs rarely repeat (measured: a hash memo there
//!   saved 4 % of the model steps and cost more than it saved).
//!   `search_steps` counts tries (what Porcupine calls model steps), `model_steps` the calls
//!   into the model.
//! - The linearized set hashes incrementally (Zobrist), so a cache probe is O(1) plus one
//!   comparison of the bitset on a hash match.
//! - Read-only operations (see [`Model::is_read_only`]) are linearized as soon as they are
//!   legal, and alternatives to them are never tried: if a configuration has a legal
//!   read-only candidate, it can be completed iff it can be completed with that read first
//!   (the read's call precedes every pending return, so it may move first; it changes no
//!   state, so nothing after it notices). This cuts the search well below Porcupine's.
//! - Operations with an unknown outcome have no return event: they never force backtracking,
//!   and the search succeeds as soon as every operation with a known outcome is linearized
//!   (the rest may take effect later, or never).
//! - Of two such operations with the same input (twins: etcd's clients repeat writes that
//!   time out), the later-called is tried only once the earlier is linearized (see
//!   [`twins_before`]): the orders of twins were most of the search's steps on Porcupine's
//!   etcd logs (1,065,709 → 410,240 over the 102 logs, the same verdicts and counterexamples).

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use rustc_hash::{FxHashMap, FxHasher};

use super::bitset::{Bitset, mix64};
use super::models::{Model, Operation};

/// The outcome of one search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchVerdict {
    Linearizable,
    NotLinearizable,
    /// The time budget ran out first.
    Unknown,
    /// The memory budget ran out first (see [`MemoryBudget`]).
    OutOfMemory,
}

/// A memory budget shared by the searches of one check: each search charges the bytes its
/// own structures hold (see [`Search::memory_bytes`]) every [`STEPS_BETWEEN_MEMORY_CHECKS`]
/// tries, and releases them when it finishes or is restarted. Once the total passes the
/// limit, the budget stays exceeded and every search stops with [`SearchVerdict::OutOfMemory`]
/// at its next check (as every search stops once the deadline has passed).
///
/// The count is an estimate from the capacities of the vectors and tables the search
/// allocates (the configuration cache with its sets, the interned states at their inline
/// size, the transition memo, the stack, the event list); heap memory owned by a model's
/// states (a key-value store's strings) and the parsed history itself are not counted.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
    exceeded: AtomicBool,
}

impl MemoryBudget {
    pub fn new(limit_bytes: usize) -> Self {
        MemoryBudget {
            limit: limit_bytes,
            used: AtomicUsize::new(0),
            exceeded: AtomicBool::new(false),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes charged now, over all searches.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether the total ever passed the limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }

    /// Replaces a charge of `before` bytes with one of `after`; false once the budget is
    /// exceeded.
    fn recharge(&self, before: usize, after: usize) -> bool {
        let used = if after >= before {
            self.used.fetch_add(after - before, Ordering::Relaxed) + (after - before)
        } else {
            self.used.fetch_sub(before - after, Ordering::Relaxed) - (before - after)
        };
        if used > self.limit {
            self.exceeded.store(true, Ordering::Relaxed);
        }
        !self.exceeded()
    }
}

/// Why a partition is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure<S> {
    /// The longest linearizable prefix found: operation index (into the searched slice) and
    /// the state after it.
    pub prefix: Vec<(usize, S)>,
    /// The operation that cannot be placed after that prefix: the one nothing left could make
    /// legal before it returns, if the search gave the prefix up for that (see
    /// [`Model::outgrown`]), else the earliest-returning one left.
    pub stuck: usize,
    /// States in which the search tried `stuck` and the model rejected it, in discovery order,
    /// at most [`MAX_REJECTING_STATES`].
    pub rejecting_states: Vec<S>,
    /// Whether there were more such states than listed.
    pub more_rejecting_states: bool,
}

/// Caps the states listed in a counterexample: beyond a handful they stop explaining.
pub const MAX_REJECTING_STATES: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchOutcome<S> {
    pub verdict: SearchVerdict,
    /// Operations tried at some point of the search (Porcupine's "model steps").
    pub search_steps: u64,
    /// Calls into the model (distinct (state, operation) pairs).
    pub model_steps: u64,
    pub distinct_states: usize,
    pub failure: Option<Failure<S>>,
}

/// How many tries between two looks at the clock: cheap, yet well under a millisecond.
const STEPS_BETWEEN_DEADLINE_CHECKS: u64 = 4096;

/// How many tries between two counts of the search's memory (a dozen additions): each try
/// adds at most one configuration, so the count lags by at most this many sets.
pub const STEPS_BETWEEN_MEMORY_CHECKS: u64 = 256;

/// How many tries between two calls of a search's `cancelled` (see [`Search::resume_unless`]).
pub const STEPS_BETWEEN_CANCEL_CHECKS: u64 = 1024;

const NONE: u32 = u32::MAX;
/// A memo entry not computed yet.
const UNKNOWN: u32 = u32::MAX - 1;

/// The memo's size cap, in entries of 4 bytes: 4 MiB per partition at most.
pub const DENSE_MEMO_ENTRIES: usize = 1 << 20;

/// Up to this many entries (256 KiB) the memo grows as needed; past it, it reserves the cap,
/// so that a history of many small partitions does not reserve 4 MiB for each.
const SMALL_MEMO_ENTRIES: usize = 1 << 16;

/// Checks whether `operations` (one partition, in any order) are linearizable, searching
/// until done or until the deadline.
pub fn search<M: Model>(
    model: &M,
    operations: &[&Operation<M::Input, M::Output>],
    deadline: Option<Instant>,
) -> SearchOutcome<M::State> {
    let mut search = Search::new(model, operations);
    search.resume(u64::MAX, deadline, None);
    search.outcome()
}

/// Call and return events sorted by time, in a doubly linked list that operations are lifted
/// out of when linearized and put back on backtracking (dancing links).
struct EventList {
    /// Per event: the operation, and whether it is the call (or the return).
    operation: Vec<u32>,
    is_call: Vec<bool>,
    next: Vec<u32>,
    prev: Vec<u32>,
    call_event: Vec<u32>,
    /// `NONE` for operations with an unknown outcome.
    return_event: Vec<u32>,
    /// The sentinel before the first event.
    head: u32,
}

impl EventList {
    fn new<I, O>(operations: &[&Operation<I, O>]) -> Self {
        // (time, returns after calls at equal times, operation): ties between a call and a
        // return count as concurrent, as in Porcupine.
        let mut events: Vec<(u64, bool, u32)> = Vec::with_capacity(operations.len() * 2);
        for (index, operation) in operations.iter().enumerate() {
            events.push((operation.call, false, index as u32));
            if let Some(ret) = operation.ret {
                events.push((ret, true, index as u32));
            }
        }
        events.sort_unstable();
        let count = events.len();
        let head = count as u32;
        let mut list = EventList {
            operation: Vec::with_capacity(count),
            is_call: Vec::with_capacity(count),
            next: Vec::with_capacity(count + 1),
            prev: Vec::with_capacity(count + 1),
            call_event: vec![NONE; operations.len()],
            return_event: vec![NONE; operations.len()],
            head,
        };
        for (position, &(_, is_return, operation)) in events.iter().enumerate() {
            list.operation.push(operation);
            list.is_call.push(!is_return);
            let slot = if is_return {
                &mut list.return_event
            } else {
                &mut list.call_event
            };
            slot[operation as usize] = position as u32;
            list.next.push(if position + 1 < count {
                position as u32 + 1
            } else {
                NONE
            });
            list.prev.push(if position == 0 {
                head
            } else {
                position as u32 - 1
            });
        }
        list.next.push(if count > 0 { 0 } else { NONE });
        list.prev.push(NONE);
        list
    }

    fn first(&self) -> u32 {
        self.next[self.head as usize]
    }

    fn bytes(&self) -> usize {
        self.operation.capacity() * 4
            + self.is_call.capacity()
            + (self.next.capacity() + self.prev.capacity()) * 4
            + (self.call_event.capacity() + self.return_event.capacity()) * 4
    }

    fn unlink(&mut self, event: u32) {
        let (prev, next) = (self.prev[event as usize], self.next[event as usize]);
        self.next[prev as usize] = next;
        if next != NONE {
            self.prev[next as usize] = prev;
        }
    }

    fn relink(&mut self, event: u32) {
        let (prev, next) = (self.prev[event as usize], self.next[event as usize]);
        self.next[prev as usize] = event;
        if next != NONE {
            self.prev[next as usize] = event;
        }
    }

    fn lift(&mut self, operation: u32) {
        self.unlink(self.call_event[operation as usize]);
        let ret = self.return_event[operation as usize];
        if ret != NONE {
            self.unlink(ret);
        }
    }

    /// Undoes the most recent `lift`, which must have been of `operation`.
    fn unlift(&mut self, operation: u32) {
        let ret = self.return_event[operation as usize];
        if ret != NONE {
            self.relink(ret);
        }
        self.relink(self.call_event[operation as usize]);
    }
}

/// A vector that grows by whole segments of about 32 KiB, never moving what it holds: the
/// search's tables grow to megabytes, and doubling a vector copies it (glibc's `realloc`
/// copies heap blocks) and touches twice the memory.
struct Segmented<T> {
    segments: Vec<Vec<T>>,
    len: usize,
}

impl<T> Segmented<T> {
    /// Elements per segment: a power of two near 32 KiB.
    const BITS: u32 = (32 * 1024
        / if size_of::<T>() == 0 {
            1
        } else {
            size_of::<T>()
        })
    .next_power_of_two()
    .trailing_zeros();
    const MASK: usize = (1 << Self::BITS) - 1;

    fn new() -> Self {
        Segmented {
            segments: Vec::new(),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Bytes allocated (at `T`'s inline size): every segment after the first is whole.
    fn bytes(&self) -> usize {
        let elements = match self.segments.first() {
            None => 0,
            Some(first) => first.capacity() + (self.segments.len() - 1) * (Self::MASK + 1),
        };
        elements * size_of::<T>() + self.segments.capacity() * size_of::<Vec<T>>()
    }

    fn push(&mut self, value: T) {
        match self.segments.last_mut() {
            Some(last) if last.len() <= Self::MASK => last.push(value),
            _ => {
                // The first segment grows as a vector does (small searches stay small);
                // the next ones are allocated whole.
                let capacity = if self.segments.is_empty() {
                    0
                } else {
                    Self::MASK + 1
                };
                let mut segment = Vec::with_capacity(capacity);
                segment.push(value);
                self.segments.push(segment);
            }
        }
        self.len += 1;
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.segments.iter().flatten()
    }
}

impl<T> std::ops::Index<usize> for Segmented<T> {
    type Output = T;

    fn index(&self, index: usize) -> &T {
        &self.segments[index >> Self::BITS][index & Self::MASK]
    }
}

/// Interned model states, in an open-addressing table split in two: a byte per slot (a
/// 7-bit tag of the hash, or empty) and the ids. A probe for a state not seen before — most
/// of them with key-value stores — reads only bytes, an array small enough to stay in cache
/// when the ids are megabytes.
struct States<S> {
    states: Segmented<S>,
    hashes: Segmented<u64>,
    /// `EMPTY_TAG` or `state_tag(hash)`.
    tags: Vec<u8>,
    ids: Vec<u32>,
}

const EMPTY_TAG: u8 = 0;

/// Never `EMPTY_TAG`; taken from the bits of the hash that do not pick the slot.
fn state_tag(hash: u64) -> u8 {
    0x80 | (hash >> 57) as u8
}

impl<S: Eq + Hash> States<S> {
    fn new() -> Self {
        States {
            states: Segmented::new(),
            hashes: Segmented::new(),
            tags: vec![EMPTY_TAG; SMALL_TABLE_SLOTS],
            ids: vec![0; SMALL_TABLE_SLOTS],
        }
    }

    fn len(&self) -> usize {
        self.states.len()
    }

    fn bytes(&self) -> usize {
        self.states.bytes() + self.hashes.bytes() + self.tags.capacity() + self.ids.capacity() * 4
    }

    fn intern(&mut self, state: S) -> u32 {
        let mut hasher = FxHasher::default();
        state.hash(&mut hasher);
        let hash = mix64(hasher.finish());
        let tag = state_tag(hash);
        let mask = self.tags.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            let entry = self.tags[slot];
            if entry == EMPTY_TAG {
                break;
            }
            if entry == tag {
                let id = self.ids[slot];
                if self.hashes[id as usize] == hash && self.states[id as usize] == state {
                    return id;
                }
            }
            slot = (slot + 1) & mask;
        }
        let id = self.states.len() as u32;
        self.tags[slot] = tag;
        self.ids[slot] = id;
        self.states.push(state);
        self.hashes.push(hash);
        // Keep the load under a half, so probe sequences stay short.
        if self.states.len() * 2 > self.tags.len() {
            let len = self.tags.len() * 2;
            let (mut tags, mut ids) = (vec![EMPTY_TAG; len], vec![0; len]);
            for (id, &hash) in self.hashes.iter().enumerate() {
                let mut slot = hash as usize & (len - 1);
                while tags[slot] != EMPTY_TAG {
                    slot = (slot + 1) & (len - 1);
                }
                tags[slot] = state_tag(hash);
                ids[slot] = id as u32;
            }
            (self.tags, self.ids) = (tags, ids);
        }
        id
    }
}

const TAG_MASK: u64 = 0xffff_ffff_0000_0000;
const ID_MASK: u64 = 0xffff_ffff;
/// Slots a table starts with.
const SMALL_TABLE_SLOTS: usize = 1 << 6;

/// The set of (linearized operations, state) configurations already explored.
///
/// An open-addressing table with linear probing, written out rather than a general hash map
/// because a search probes it on nearly every step: a slot holds the upper half of the hash
/// and the configuration's index, so most probes touch one cache line and compare no set.
struct ConfigurationCache {
    /// Per configuration: its full hash (to grow the table), its state and the next
    /// configuration of that state's chain (`state | next << 32`), and its set's words.
    records: Records,
    /// Per state: the most recent configuration in its chain, `NONE` if it has none yet, or
    /// `IN_TABLE` once its configurations are in `slots`.
    chains: Vec<u32>,
    chain_lengths: Vec<u8>,
    /// `EMPTY_SLOT` or (hash >> 32) << 32 | configuration index.
    slots: Vec<u64>,
    /// Configurations in `slots`.
    in_table: usize,
}

const EMPTY_SLOT: u64 = u64::MAX;

/// Where a configuration's probe starts: from the hash's upper half, which its slot keeps,
/// so that growing the table reads no record.
fn home_slot(hash: u64, mask: usize) -> usize {
    (hash >> 32) as usize & mask
}
/// A state's configurations are in the table, not chained.
const IN_TABLE: u32 = u32::MAX - 1;
/// A state chains this many configurations at most; then they all move to the table.
const MAX_CHAIN: u8 = 4;

impl ConfigurationCache {
    fn new(words_per_set: usize) -> Self {
        ConfigurationCache {
            records: Records::new(2 + words_per_set),
            chains: Vec::new(),
            chain_lengths: Vec::new(),
            slots: vec![EMPTY_SLOT; SMALL_TABLE_SLOTS],
            in_table: 0,
        }
    }

    fn bytes(&self) -> usize {
        self.records.bytes()
            + self.chains.capacity() * 4
            + self.chain_lengths.capacity()
            + self.slots.capacity() * 8
    }

    /// Records the configuration; false if it was already there.
    ///
    /// A state's first configurations are chained from the state, so that a configuration
    /// with a state never seen before (with key-value stores, most of them) is recorded
    /// without probing a table of megabytes; states reached with more sets (registers: a
    /// handful of states, thousands of sets each) have theirs in the hash table.
    fn insert_if_new(&mut self, linearized: &Bitset, state: u32) -> bool {
        let hash = linearized.hash() ^ mix64(u64::from(state));
        let state_index = state as usize;
        if state_index >= self.chains.len() {
            self.chains.resize(state_index + 1, NONE);
            self.chain_lengths.resize(state_index + 1, 0);
        }
        let head = self.chains[state_index];
        if head != IN_TABLE {
            let mut id = head;
            while id != NONE {
                let record = self.records.get(id as usize);
                if record[0] == hash && same_words(&record[2..], linearized.words()) {
                    return false;
                }
                id = (record[1] >> 32) as u32;
            }
            if self.chain_lengths[state_index] < MAX_CHAIN {
                let id = self.records.len() as u32;
                self.records.push(
                    [hash, u64::from(state) | u64::from(head) << 32],
                    linearized.words(),
                );
                self.chains[state_index] = id;
                self.chain_lengths[state_index] += 1;
                return true;
            }
            // The chain is full: its configurations move to the table.
            self.chains[state_index] = IN_TABLE;
            let mut id = head;
            while id != NONE {
                let record = self.records.get(id as usize);
                let (record_hash, next) = (record[0], (record[1] >> 32) as u32);
                self.place(record_hash, id);
                id = next;
            }
        } else if self.find(hash, linearized, state) {
            return false;
        }
        let id = self.records.len() as u32;
        self.records.push(
            [hash, u64::from(state) | u64::from(NONE) << 32],
            linearized.words(),
        );
        self.place(hash, id);
        true
    }

    /// Whether the table holds the configuration.
    fn find(&self, hash: u64, linearized: &Bitset, state: u32) -> bool {
        let tag = hash & TAG_MASK;
        let mask = self.slots.len() - 1;
        let mut slot = home_slot(hash, mask);
        loop {
            let entry = self.slots[slot];
            if entry == EMPTY_SLOT {
                return false;
            }
            if entry & TAG_MASK == tag {
                let record = self.records.get((entry & ID_MASK) as usize);
                if record[1] as u32 == state && same_words(&record[2..], linearized.words()) {
                    return true;
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Puts a configuration known to be absent into the table.
    fn place(&mut self, hash: u64, id: u32) {
        let mask = self.slots.len() - 1;
        let mut slot = home_slot(hash, mask);
        while self.slots[slot] != EMPTY_SLOT {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = (hash & TAG_MASK) | u64::from(id);
        self.in_table += 1;
        // Keep the load under a half, so probe sequences stay short.
        if self.in_table * 2 > self.slots.len() {
            let mut slots = vec![EMPTY_SLOT; self.slots.len() * 2];
            let mask = slots.len() - 1;
            for &entry in &self.slots {
                if entry != EMPTY_SLOT {
                    // The tag is the hash's upper half, which picks the slot.
                    let mut slot = home_slot(entry, mask);
                    while slots[slot] != EMPTY_SLOT {
                        slot = (slot + 1) & mask;
                    }
                    slots[slot] = entry;
                }
            }
            self.slots = slots;
        }
    }
}

/// Fixed-length records of words, in segments of about 32 KiB (see [`Segmented`]).
struct Records {
    record_len: usize,
    /// Records per segment: `1 << bits`.
    bits: u32,
    segments: Vec<Vec<u64>>,
    len: usize,
}

impl Records {
    fn new(record_len: usize) -> Self {
        Records {
            record_len,
            bits: (4096 / record_len).next_power_of_two().trailing_zeros(),
            segments: Vec::new(),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Bytes allocated: every segment after the first is whole.
    fn bytes(&self) -> usize {
        let words = match self.segments.first() {
            None => 0,
            Some(first) => {
                first.capacity() + (self.segments.len() - 1) * (self.record_len << self.bits)
            }
        };
        words * 8 + self.segments.capacity() * size_of::<Vec<u64>>()
    }

    fn get(&self, id: usize) -> &[u64] {
        let start = (id & ((1 << self.bits) - 1)) * self.record_len;
        &self.segments[id >> self.bits][start..start + self.record_len]
    }

    fn push(&mut self, head: [u64; 2], tail: &[u64]) {
        let full = self.record_len << self.bits;
        if self.segments.last().is_none_or(|last| last.len() == full) {
            let capacity = if self.segments.is_empty() { 0 } else { full };
            self.segments.push(Vec::with_capacity(capacity));
        }
        let last = self.segments.last_mut().expect("a segment with room");
        last.extend_from_slice(&head);
        last.extend_from_slice(tail);
        self.len += 1;
    }
}

/// Per operation, its twin before it, or `NONE`: the latest operation called before it with
/// the same input that, as it, has an unknown outcome (no return, no output) and is not
/// read-only. The search linearizes twins in call order only, and loses no linearization by
/// it: where the later one is linearized and the earlier not, the earlier can take its place
/// (it was called first, has no return to meet and steps the same), and the later the
/// earlier's place after it, if any (the later's call had passed by then). Histories whose
/// clients time out repeat such operations (etcd's: a write of 2 times out, then another),
/// and the orders in which the search tried them were most of its steps.
fn twins_before<M: Model>(
    operations: &[&Operation<M::Input, M::Output>],
    events: &EventList,
    read_only: &[bool],
) -> Vec<u32> {
    let mut twins = vec![NONE; operations.len()];
    // The latest such operation of each input (looked up only: its order is never seen).
    let mut latest: FxHashMap<&M::Input, u32> = FxHashMap::default();
    let calls = (0..events.operation.len()).filter(|&event| events.is_call[event]);
    for operation in calls.map(|event| events.operation[event]) {
        let op = operations[operation as usize];
        if op.ret.is_none()
            && op.output.is_none()
            && !read_only[operation as usize]
            && let Some(twin) = latest.insert(&op.input, operation)
        {
            twins[operation as usize] = twin;
        }
    }
    twins
}

/// Word-by-word: sets are a few words long, shorter than a call to `memcmp` is worth.
fn same_words(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A search that can be paused after a number of steps and resumed, so that partitions can
/// be interleaved deterministically.
pub struct Search<'a, M: Model> {
    model: &'a M,
    operations: &'a [&'a Operation<M::Input, M::Output>],
    events: EventList,
    states: States<M::State>,
    /// Row per state (while under [`DENSE_MEMO_ENTRIES`]), column per operation: the next
    /// state, `NONE` if the model rejects it, or `UNKNOWN`.
    memo: Vec<u32>,
    /// Per operation: the first states in which the model rejected it (for counterexamples),
    /// at most `MAX_REJECTING_STATES`, and whether there were more.
    rejections: Vec<(Vec<u32>, bool)>,
    cache: ConfigurationCache,
    linearized: Bitset,
    state: u32,
    /// (operation, state before it, whether it was forced: a read-only operation, the only
    /// candidate worth trying in its configuration)
    stack: Vec<(u32, u32, bool)>,
    /// Per operation: `Model::is_read_only`.
    read_only: Vec<bool>,
    /// Per operation: not read-only, and may reset the state (`Model::resets`); while one
    /// that may enable an operation could still come before it returns, the operation is not
    /// given up (see [`Search::outgrown`]).
    resets: Vec<bool>,
    /// Per operation: an interchangeable operation with an unknown outcome called before it
    /// (see [`twins_before`]), which must be linearized first, or `NONE`.
    twin_before: Vec<u32>,
    /// The deepest stack seen: (operation, state after it).
    deepest: Vec<(u32, u32)>,
    /// Whether the search is in the configuration `deepest` ends in (it has not moved since).
    at_deepest: bool,
    /// The operation that configuration was given up for (see [`Search::outgrown`]): the one
    /// a counterexample names, rather than the earliest-returning one left, which may be
    /// placeable.
    deepest_outgrown: Option<u32>,
    /// The next event to look at.
    event: u32,
    /// Whether the current pass tries the read-only candidates (else the others).
    read_only_pass: bool,
    open_with_known_outcome: usize,
    verdict: Option<SearchVerdict>,
    search_steps: u64,
    model_steps: u64,
    /// Transitions answered by the memo.
    memo_hits: u64,
    /// The outcome, once there is a verdict (the search's tables are freed then).
    finished: Option<SearchOutcome<M::State>>,
    /// Bytes charged to the memory budget by the last check.
    charged: usize,
}

impl<'a, M: Model> Search<'a, M> {
    pub fn new(model: &'a M, operations: &'a [&'a Operation<M::Input, M::Output>]) -> Self {
        let events = EventList::new(operations);
        let mut search = Search {
            model,
            operations,
            event: events.first(),
            events,
            states: States::new(),
            memo: Vec::new(),
            rejections: vec![(Vec::new(), false); operations.len()],
            cache: ConfigurationCache::new(operations.len().div_ceil(64)),
            linearized: Bitset::new(operations.len()),
            state: 0,
            stack: Vec::new(),
            read_only: operations
                .iter()
                .map(|op| model.is_read_only(&op.input, op.output.as_ref()))
                .collect(),
            resets: operations
                .iter()
                .map(|op| {
                    !model.is_read_only(&op.input, op.output.as_ref()) && model.resets(&op.input)
                })
                .collect(),
            twin_before: Vec::new(),
            deepest: Vec::new(),
            at_deepest: true,
            deepest_outgrown: None,
            read_only_pass: true,
            open_with_known_outcome: operations.iter().filter(|op| op.ret.is_some()).count(),
            verdict: None,
            search_steps: 0,
            model_steps: 0,
            memo_hits: 0,
            finished: None,
            charged: 0,
        };
        search.twin_before = twins_before::<M>(operations, &search.events, &search.read_only);
        search.state = search.intern(model.init());
        search
    }

    /// The state after applying `operation` in `state`, or `NONE`.
    fn transition(&mut self, state: u32, operation: u32) -> u32 {
        let operation_count = self.operations.len();
        let slot = state as usize * operation_count + operation as usize;
        if let Some(&next) = self.memo.get(slot)
            && next != UNKNOWN
        {
            self.memo_hits += 1;
            return next;
        }
        self.model_steps += 1;
        let op = self.operations[operation as usize];
        let current = &self.states.states[state as usize];
        let next = if self.read_only[operation as usize] {
            // Read-only: the state stays, nothing to build or intern.
            if self
                .model
                .read_is_legal(current, &op.input, op.output.as_ref())
            {
                state
            } else {
                NONE
            }
        } else {
            match self.model.step(current, &op.input, op.output.as_ref()) {
                Some(next_state) => self.intern(next_state),
                None => NONE,
            }
        };
        if next == NONE {
            self.record_rejection(state, operation);
        }
        if let Some(entry) = self.memo.get_mut(slot) {
            *entry = next;
        }
        next
    }

    /// Interns a state, giving it a memo row while the memo is under its cap.
    fn intern(&mut self, state: M::State) -> u32 {
        let id = self.states.intern(state);
        let row_end = (id as usize + 1) * self.operations.len();
        if row_end > self.memo.len() && row_end <= DENSE_MEMO_ENTRIES {
            if row_end > SMALL_MEMO_ENTRIES && self.memo_hits < self.model_steps {
                // The memo has not paid off so far: states keep coming (key-value stores),
                // pairs rarely repeat. Filling megabytes of rows nobody reads costs more than
                // the model steps they would spare; the rows so far stay.
                return id;
            }
            if row_end > self.memo.capacity() && row_end > SMALL_MEMO_ENTRIES {
                // Past a small memo, room for the whole memo at once: growing by doubling
                // copied megabytes over and over, and room not written to costs no memory.
                self.memo
                    .reserve_exact(DENSE_MEMO_ENTRIES - self.memo.len());
            }
            self.memo.resize(row_end, UNKNOWN);
        }
        id
    }

    fn record_rejection(&mut self, state: u32, operation: u32) {
        let (states, more) = &mut self.rejections[operation as usize];
        // Once the list is full and known to be incomplete, nothing more is recorded: skip
        // the scan (an operation can be rejected in thousands of states).
        if *more {
            return;
        }
        if !states.contains(&state) {
            if states.len() < MAX_REJECTING_STATES {
                states.push(state);
            } else {
                *more = true;
            }
        }
    }

    pub fn search_steps(&self) -> u64 {
        self.search_steps
    }

    /// Searches until a verdict, until `search_steps` reaches `step_limit` (then `None`: call
    /// again with a higher limit to go on), until the deadline (verdict `Unknown`) or until
    /// the memory budget is exceeded (verdict `OutOfMemory`). A search that finishes releases
    /// its charge on the budget; a paused one keeps it (see [`Search::restart`]).
    pub fn resume(
        &mut self,
        step_limit: u64,
        deadline: Option<Instant>,
        memory: Option<&MemoryBudget>,
    ) -> Option<SearchVerdict> {
        self.resume_unless(step_limit, deadline, memory, &|| false)
    }

    /// As [`Search::resume`], but also pauses (returns `None`) soon after `cancelled` turns
    /// true: it is asked every [`STEPS_BETWEEN_CANCEL_CHECKS`] tries. A search paused so has
    /// a step count that depends on when it was asked; the caller discards it.
    pub fn resume_unless(
        &mut self,
        step_limit: u64,
        deadline: Option<Instant>,
        memory: Option<&MemoryBudget>,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<SearchVerdict> {
        if self.verdict.is_none() {
            self.verdict = self.run_until(step_limit, deadline, memory, cancelled);
            if self.verdict.is_some() {
                self.finish();
            }
            if let Some(budget) = memory {
                self.charge(budget);
            }
        }
        self.verdict
    }

    /// Forgets a paused search's progress and frees its tables (charging the budget for what
    /// is left): resumed with the same step limit, it searches the same path again and ends
    /// with the same outcome, as the search is deterministic. This trades time for memory.
    pub fn restart(&mut self, memory: Option<&MemoryBudget>) {
        if self.verdict.is_some() {
            return;
        }
        let charged = self.charged;
        *self = Search::new(self.model, self.operations);
        self.charged = charged;
        if let Some(budget) = memory {
            self.charge(budget);
        }
    }

    /// Bytes held by this search's own structures (an estimate from their capacities; see
    /// [`MemoryBudget`]).
    pub fn memory_bytes(&self) -> usize {
        self.events.bytes()
            + self.states.bytes()
            + self.memo.len() * 4
            + self
                .rejections
                .iter()
                .map(|(states, _)| states.capacity() * 4)
                .sum::<usize>()
            + self.rejections.capacity() * size_of::<(Vec<u32>, bool)>()
            + self.cache.bytes()
            + self.linearized.words().len() * 16
            + self.stack.capacity() * size_of::<(u32, u32, bool)>()
            + self.read_only.capacity()
            + self.resets.capacity()
            + self.twin_before.capacity() * 4
            + self.deepest.capacity() * 8
    }

    /// Charges the budget with what the search holds now; false once it is exceeded.
    fn charge(&mut self, budget: &MemoryBudget) -> bool {
        let now = self.memory_bytes();
        let ok = budget.recharge(self.charged, now);
        self.charged = now;
        ok
    }

    /// Each configuration is searched in two passes over its candidates (the calls before the
    /// first pending return): read-only ones first, where one that is legal settles the
    /// configuration, then the others.
    fn run_until(
        &mut self,
        step_limit: u64,
        deadline: Option<Instant>,
        memory: Option<&MemoryBudget>,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<SearchVerdict> {
        if let Some(budget) = memory
            && !self.charge(budget)
        {
            return Some(SearchVerdict::OutOfMemory);
        }
        loop {
            if self.open_with_known_outcome == 0 {
                return Some(SearchVerdict::Linearizable);
            }
            let event = self.event;
            if event == NONE || !self.events.is_call[event as usize] {
                // The end of this pass's candidates.
                if self.read_only_pass {
                    self.read_only_pass = false;
                    self.event = self.events.first();
                } else if !self.backtrack() {
                    return Some(SearchVerdict::NotLinearizable);
                }
                continue;
            }
            let operation = self.events.operation[event as usize];
            let read_only = self.read_only[operation as usize];
            if read_only != self.read_only_pass {
                self.event = self.events.next[event as usize];
                continue;
            }
            let twin = self.twin_before[operation as usize];
            if twin != NONE && !self.linearized.contains(twin as usize) {
                self.event = self.events.next[event as usize];
                continue;
            }
            if let Some(stop) = self.count_try(step_limit, deadline, memory, cancelled) {
                return stop;
            }
            let next_state = self.transition(self.state, operation);
            if next_state == NONE {
                if self.outgrown(operation) {
                    if !self.give_up(operation) {
                        return Some(SearchVerdict::NotLinearizable);
                    }
                    continue;
                }
                self.event = self.events.next[event as usize];
                continue;
            }
            if self.linearize(operation, next_state, read_only) {
                continue;
            }
            if read_only {
                // Seen before, so it failed: and so does this configuration.
                if !self.backtrack() {
                    return Some(SearchVerdict::NotLinearizable);
                }
                continue;
            }
            self.event = self.events.next[event as usize];
        }
    }

    /// Counts a try about to be made; `Some(what run_until returns)` if the search stops
    /// first: paused (`None`) before the try at the step limit or once cancelled (resumed, it
    /// makes the try), or ended by the deadline or the memory budget.
    fn count_try(
        &mut self,
        step_limit: u64,
        deadline: Option<Instant>,
        memory: Option<&MemoryBudget>,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<Option<SearchVerdict>> {
        if self.search_steps >= step_limit
            || (self
                .search_steps
                .is_multiple_of(STEPS_BETWEEN_CANCEL_CHECKS)
                && cancelled())
        {
            return Some(None);
        }
        self.search_steps += 1;
        if self
            .search_steps
            .is_multiple_of(STEPS_BETWEEN_DEADLINE_CHECKS)
            && deadline.is_some_and(|d| Instant::now() >= d)
        {
            return Some(Some(SearchVerdict::Unknown));
        }
        if self
            .search_steps
            .is_multiple_of(STEPS_BETWEEN_MEMORY_CHECKS)
            && let Some(budget) = memory
            && !self.charge(budget)
        {
            return Some(Some(SearchVerdict::OutOfMemory));
        }
        None
    }

    /// Whether `operation`, not legal in this configuration, can no longer be made legal
    /// before it returns (see [`Model::outgrown`]): no operation left that may come before
    /// its return — one invoked before it, still in the event list — resets the state in a
    /// way that may enable it. Then no completion of this configuration exists. The walk
    /// covers the events not linearized up to that return: the operations pending now, those
    /// invoked until then, and those with an unknown outcome not linearized.
    fn outgrown(&self, operation: u32) -> bool {
        let op = self.operations[operation as usize];
        let ret = self.events.return_event[operation as usize];
        if ret == NONE
            || !self.model.outgrown(
                &self.states.states[self.state as usize],
                &op.input,
                op.output.as_ref(),
            )
        {
            return false;
        }
        let mut event = self.events.first();
        while event != ret && event != NONE {
            let other = self.events.operation[event as usize];
            if self.events.is_call[event as usize]
                && other != operation
                && self.resets[other as usize]
                && self.model.may_enable(
                    &self.operations[other as usize].input,
                    &op.input,
                    op.output.as_ref(),
                )
            {
                return false;
            }
            event = self.events.next[event as usize];
        }
        true
    }

    /// Gives up this configuration because `operation` can no longer be made legal, and
    /// backtracks (see [`Search::backtrack`]).
    fn give_up(&mut self, operation: u32) -> bool {
        if self.at_deepest && self.deepest_outgrown.is_none() {
            self.deepest_outgrown = Some(operation);
        }
        self.backtrack()
    }

    /// Linearizes `operation` next unless the resulting configuration was seen before.
    fn linearize(&mut self, operation: u32, next_state: u32, forced: bool) -> bool {
        self.linearized.insert(operation as usize);
        if !self.cache.insert_if_new(&self.linearized, next_state) {
            self.linearized.remove(operation as usize);
            return false;
        }
        self.stack.push((operation, self.state, forced));
        self.state = next_state;
        self.events.lift(operation);
        if self.operations[operation as usize].ret.is_some() {
            self.open_with_known_outcome -= 1;
        }
        self.at_deepest = self.stack.len() > self.deepest.len();
        if self.at_deepest {
            self.deepest = prefix_with_states_after(&self.stack, self.state);
            self.deepest_outgrown = None;
        }
        self.event = self.events.first();
        self.read_only_pass = true;
        true
    }

    /// Undoes the last linearization and moves on to the next candidate; false if there is
    /// nothing to undo. A forced operation has no alternatives: undo the one before it too.
    fn backtrack(&mut self) -> bool {
        self.at_deepest = false;
        loop {
            let Some((undone, previous_state, forced)) = self.stack.pop() else {
                return false;
            };
            self.linearized.remove(undone as usize);
            self.state = previous_state;
            self.events.unlift(undone);
            if self.operations[undone as usize].ret.is_some() {
                self.open_with_known_outcome += 1;
            }
            if !forced {
                // This configuration's read-only pass is over: go on with the others.
                self.event = self.events.next[self.events.call_event[undone as usize] as usize];
                self.read_only_pass = false;
                return true;
            }
        }
    }

    /// Builds the outcome and frees everything else: the memo, the configuration cache, the
    /// states (a counterexample keeps copies of the few it names) and the event list. A
    /// history's searches all live until the last one is over: the partitions searched next
    /// reuse this memory instead of faulting in fresh pages.
    fn finish(&mut self) {
        self.finished = Some(self.current_outcome());
        self.memo = Vec::new();
        self.cache = ConfigurationCache::new(0);
        self.states = States::new();
        self.rejections = Vec::new();
        self.deepest = Vec::new();
        self.stack = Vec::new();
        self.events = EventList::new::<(), ()>(&[]);
        self.linearized = Bitset::new(0);
        self.read_only = Vec::new();
        self.resets = Vec::new();
        self.twin_before = Vec::new();
    }

    /// The result so far (verdict `Unknown` if the search has not finished).
    pub fn outcome(&self) -> SearchOutcome<M::State> {
        match &self.finished {
            Some(outcome) => outcome.clone(),
            None => self.current_outcome(),
        }
    }

    fn current_outcome(&self) -> SearchOutcome<M::State> {
        let verdict = self.verdict.unwrap_or(SearchVerdict::Unknown);
        SearchOutcome {
            verdict,
            search_steps: self.search_steps,
            model_steps: self.model_steps,
            distinct_states: self.states.len(),
            failure: (verdict == SearchVerdict::NotLinearizable).then(|| self.explain()),
        }
    }

    /// Builds the counterexample from the deepest prefix the search reached.
    fn explain(&self) -> Failure<M::State> {
        let mut in_prefix = vec![false; self.operations.len()];
        for &(operation, _) in &self.deepest {
            in_prefix[operation as usize] = true;
        }
        // The operation the deepest configuration was given up for, if it was; else, as
        // events are stored in time order, the first return of an operation outside the
        // prefix: the deadline nothing after the prefix could meet.
        let first_deadline = || {
            (0..self.events.operation.len())
                .find(|&event| {
                    !self.events.is_call[event] && !in_prefix[self.events.operation[event] as usize]
                })
                .map(|event| self.events.operation[event])
                .expect("a non-linearizable partition has an operation with a known outcome left")
        };
        let stuck = self.deepest_outgrown.unwrap_or_else(first_deadline);
        let (rejecting, more_rejecting) = &self.rejections[stuck as usize];
        let state_of = |id: u32| self.states.states[id as usize].clone();
        Failure {
            prefix: self
                .deepest
                .iter()
                .map(|&(operation, after)| (operation as usize, state_of(after)))
                .collect(),
            stuck: stuck as usize,
            rejecting_states: rejecting.iter().map(|&id| state_of(id)).collect(),
            more_rejecting_states: *more_rejecting,
        }
    }
}

/// The stack as (operation, state after it), given the state after its top.
fn prefix_with_states_after(stack: &[(u32, u32, bool)], top_state: u32) -> Vec<(u32, u32)> {
    stack
        .iter()
        .enumerate()
        .map(|(depth, &(operation, _, _))| {
            let after = stack
                .get(depth + 1)
                .map_or(top_state, |&(_, before_next, _)| before_next);
            (operation, after)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lin::edn::Value;
    use crate::lin::models::register::RegisterInput;
    use crate::lin::models::{OperationSource, Register};

    fn op(
        input: RegisterInput,
        output: Option<i64>,
        call: u64,
        ret: Option<u64>,
    ) -> Operation<RegisterInput, Value> {
        let source = OperationSource {
            process: "0".into(),
            invoke_line: call as usize + 1,
            complete_line: None,
        };
        Operation {
            input,
            output: output.map(Value::Int),
            call,
            ret,
            source,
        }
    }

    fn check(history: &[Operation<RegisterInput, Value>]) -> SearchOutcome<Value> {
        let refs: Vec<_> = history.iter().collect();
        search(&Register, &refs, None)
    }

    #[test]
    fn concurrent_write_and_read_can_go_either_way() {
        let write = op(RegisterInput::Write(Value::Int(1)), None, 0, Some(3));
        let read_new = op(RegisterInput::Read, Some(1), 1, Some(2));
        assert_eq!(
            check(&[write.clone(), read_new]).verdict,
            SearchVerdict::Linearizable
        );
        let read_nil = Operation {
            output: Some(Value::Nil),
            ..op(RegisterInput::Read, None, 1, Some(2))
        };
        assert_eq!(
            check(&[write, read_nil]).verdict,
            SearchVerdict::Linearizable
        );
    }

    #[test]
    fn stale_read_after_write_is_caught_with_a_counterexample() {
        let history = [
            op(RegisterInput::Write(Value::Int(1)), None, 0, Some(1)),
            op(RegisterInput::Write(Value::Int(2)), None, 2, Some(3)),
            op(RegisterInput::Read, Some(1), 4, Some(5)),
        ];
        let outcome = check(&history);
        assert_eq!(outcome.verdict, SearchVerdict::NotLinearizable);
        let failure = outcome.failure.unwrap();
        assert_eq!(failure.prefix, vec![(0, Value::Int(1)), (1, Value::Int(2))]);
        assert_eq!(failure.stuck, 2);
        assert_eq!(failure.rejecting_states, vec![Value::Int(2)]);
    }

    #[test]
    fn unknown_outcomes_may_apply_late_or_never() {
        // A write that never returned may explain a later read…
        let pending_write = op(RegisterInput::Write(Value::Int(7)), None, 0, None);
        let read_seven = op(RegisterInput::Read, Some(7), 5, Some(6));
        assert_eq!(
            check(&[pending_write.clone(), read_seven]).verdict,
            SearchVerdict::Linearizable
        );
        // …or never happen at all.
        let read_nil = Operation {
            output: Some(Value::Nil),
            ..op(RegisterInput::Read, None, 5, Some(6))
        };
        assert_eq!(
            check(&[pending_write.clone(), read_nil.clone()]).verdict,
            SearchVerdict::Linearizable
        );
        // But it cannot take effect before it was invoked.
        let early_read = op(RegisterInput::Read, Some(7), 0, Some(1));
        let late_write = op(RegisterInput::Write(Value::Int(7)), None, 2, None);
        assert_eq!(
            check(&[early_read, late_write]).verdict,
            SearchVerdict::NotLinearizable
        );
    }

    #[test]
    fn twins_with_unknown_outcomes_are_tried_in_call_order_only() {
        // Writes of 1 and 2 that time out, three of each, then reads of 1, 2 and 1: the
        // writes take effect in the order the reads need. A read of 3 after them cannot be
        // placed.
        let mut history: Vec<_> = (0..6)
            .map(|i| {
                op(
                    RegisterInput::Write(Value::Int(1 + i as i64 % 2)),
                    None,
                    i,
                    None,
                )
            })
            .collect();
        let twins = {
            let refs: Vec<_> = history.iter().collect();
            let events = EventList::new(&refs);
            let read_only = vec![false; refs.len()];
            twins_before::<Register>(&refs, &events, &read_only)
        };
        assert_eq!(twins, vec![NONE, NONE, 0, 1, 2, 3]);
        history.push(op(RegisterInput::Read, Some(1), 10, Some(11)));
        history.push(op(RegisterInput::Read, Some(2), 12, Some(13)));
        history.push(op(RegisterInput::Read, Some(1), 14, Some(15)));
        let outcome = check(&history);
        assert_eq!(outcome.verdict, SearchVerdict::Linearizable);
        history.push(op(RegisterInput::Read, Some(3), 16, Some(17)));
        let outcome = check(&history);
        assert_eq!(outcome.verdict, SearchVerdict::NotLinearizable);
        assert_eq!(outcome.failure.expect("a counterexample").stuck, 9);
    }

    #[test]
    fn a_paused_search_resumes_to_the_same_result() {
        let history = writes_then_impossible_read(8, 100);
        let refs: Vec<_> = history.iter().collect();
        let whole = search(&Register, &refs, None);
        let mut paused = Search::new(&Register, &refs);
        let mut limit = 1;
        while paused.resume(limit, None, None).is_none() {
            assert_eq!(paused.search_steps(), limit);
            limit += 7;
        }
        assert_eq!(paused.outcome(), whole);
        assert_eq!(whole.verdict, SearchVerdict::NotLinearizable);
    }

    #[test]
    fn empty_history_is_linearizable() {
        let outcome = check(&[]);
        assert_eq!(outcome.verdict, SearchVerdict::Linearizable);
        assert_eq!(outcome.search_steps, 0);
    }

    /// `writes` concurrent writes (write `i` from `i` to `end`) and a read of 99, never
    /// written, in the middle: not linearizable, after a search that grows with `writes`.
    fn writes_then_impossible_read(writes: i64, end: u64) -> Vec<Operation<RegisterInput, Value>> {
        let mut history: Vec<_> = (0..writes)
            .map(|value| {
                op(
                    RegisterInput::Write(Value::Int(value)),
                    None,
                    value as u64,
                    Some(end),
                )
            })
            .collect();
        history.push(op(
            RegisterInput::Read,
            Some(99),
            end / 2,
            Some(end / 2 + end / 10),
        ));
        history
    }

    /// Many concurrent writes, a write of 99 and one of 98 among them, and three reads one
    /// after another in the middle: 99, 98, then 99 again, which needs a second write of 99.
    /// Not linearizable, but every read has a write that could enable it until the search has
    /// placed the write of 99, so nothing cuts the search short: a long one. The writes of 99
    /// and 98 and the reads come last (`history[30..]` is a short search).
    fn hard_history() -> Vec<Operation<RegisterInput, Value>> {
        let mut history: Vec<_> = (0..40)
            .chain([99, 98])
            .map(|value| {
                let write = RegisterInput::Write(Value::Int(value));
                op(write, None, value as u64 % 50, Some(1000))
            })
            .collect();
        for (read, at) in [(99, 500), (98, 520), (99, 540)] {
            history.push(op(RegisterInput::Read, Some(read), at, Some(at + 10)));
        }
        history
    }

    #[test]
    fn a_read_that_no_write_left_can_enable_ends_the_configuration() {
        // Forty concurrent writes and a read of 99 among them: without giving up where no
        // write left writes 99, the search would try the writes' orders until the read's
        // return; with it, each configuration ends at its first read try.
        let history = writes_then_impossible_read(40, 1000);
        let refs: Vec<_> = history.iter().collect();
        let outcome = search(&Register, &refs, None);
        assert_eq!(outcome.verdict, SearchVerdict::NotLinearizable);
        assert!(outcome.search_steps < 100, "{}", outcome.search_steps);
        // The hard history's reads each have a write that could enable them until the write
        // of 99 is placed: the search goes on.
        let history = hard_history();
        let refs: Vec<_> = history.iter().collect();
        let mut search = Search::new(&Register, &refs);
        assert_eq!(search.resume(100_000, None, None), None);
    }

    #[test]
    fn the_counterexample_names_the_operation_the_search_gave_up_for() {
        // A write of 4 that returns first and a read of 1 that nothing writes: the search
        // gives the first configuration up for the read, which the counterexample names,
        // not the write (the earliest return left, which could be placed).
        let history = [
            op(RegisterInput::Write(Value::Int(4)), None, 0, Some(5)),
            op(RegisterInput::Read, Some(1), 1, Some(6)),
        ];
        let refs: Vec<_> = history.iter().collect();
        let outcome = search(&Register, &refs, None);
        assert_eq!(outcome.verdict, SearchVerdict::NotLinearizable);
        let failure = outcome.failure.unwrap();
        assert_eq!(failure.stuck, 1);
        assert_eq!(failure.rejecting_states, vec![Value::Nil]);
    }

    #[test]
    fn an_exceeded_memory_budget_gives_out_of_memory_and_stays_exceeded() {
        let history = hard_history();
        let refs: Vec<_> = history.iter().collect();
        let budget = MemoryBudget::new(1 << 20);
        let mut search = Search::new(&Register, &refs);
        assert_eq!(
            search.resume(u64::MAX, None, Some(&budget)),
            Some(SearchVerdict::OutOfMemory)
        );
        assert!(budget.exceeded());
        // The finished search gave its memory back, but the budget stays exceeded: another
        // search sharing it stops at once.
        assert!(budget.used() < 1 << 20, "{}", budget.used());
        let mut other = Search::new(&Register, &refs);
        assert_eq!(
            other.resume(u64::MAX, None, Some(&budget)),
            Some(SearchVerdict::OutOfMemory)
        );
        assert_eq!(other.search_steps(), 0);
        // A generous budget: the search stays under it, and charges what it holds.
        let roomy = MemoryBudget::new(usize::MAX / 2);
        let mut search = Search::new(&Register, &refs);
        assert_eq!(search.resume(300_000, None, Some(&roomy)), None);
        assert_eq!(roomy.used(), search.memory_bytes());
        assert!(search.memory_bytes() > 1 << 20, "{}", search.memory_bytes());
    }

    #[test]
    fn a_restarted_search_ends_as_an_uninterrupted_one() {
        let history = hard_history();
        let refs: Vec<_> = history[30..].iter().collect();
        let whole = search(&Register, &refs, None);
        assert_eq!(whole.verdict, SearchVerdict::NotLinearizable);
        let budget = MemoryBudget::new(usize::MAX / 2);
        let mut restarted = Search::new(&Register, &refs);
        let mut limit = 16;
        while restarted.resume(limit, None, Some(&budget)).is_none() {
            let held = budget.used();
            restarted.restart(Some(&budget));
            assert!(budget.used() < held, "a restart frees the tables");
            assert_eq!(restarted.search_steps(), 0);
            limit *= 2;
        }
        assert_eq!(restarted.outcome(), whole);
        assert_eq!(budget.used(), restarted.memory_bytes());
    }

    #[test]
    fn an_expired_deadline_gives_unknown() {
        let history = hard_history();
        let refs: Vec<_> = history.iter().collect();
        let outcome = search(&Register, &refs, Some(Instant::now()));
        assert_eq!(outcome.verdict, SearchVerdict::Unknown);
    }
}
