//! The Wing–Gong–Lowe search for one partition, with Lowe's memoisation of
//! (set of linearized operations, model state).
//!
//! Beyond the textbook algorithm (as in Porcupine):
//! - Model states are interned: the cache, the stack and the transition memo hold 32-bit ids.
//! - Transitions are memoised per (state, operation): the model steps once per distinct pair,
//!   however often the search tries it. `search_steps` counts tries (what Porcupine calls
//!   model steps), `model_steps` the calls into the model.
//! - The linearized set hashes incrementally (Zobrist), so a cache probe is O(1) plus one
//!   comparison of the bitset on a hash match.
//! - Operations with an unknown outcome have no return event: they never force backtracking,
//!   and the search succeeds as soon as every operation with a known outcome is linearized
//!   (the rest may take effect later, or never).

use std::hash::{Hash, Hasher};
use std::time::Instant;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use super::bitset::{Bitset, mix64};
use super::models::{Model, Operation};

/// The outcome of one search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchVerdict {
    Linearizable,
    NotLinearizable,
    /// The time budget ran out first.
    Unknown,
}

/// Why a partition is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure<S> {
    /// The longest linearizable prefix found: operation index (into the searched slice) and
    /// the state after it.
    pub prefix: Vec<(usize, S)>,
    /// The operation that cannot be placed after that prefix: the earliest-returning one left.
    pub stuck: usize,
    /// States in which the search tried `stuck` and the model rejected it, in discovery order,
    /// at most [`MAX_REJECTING_STATES`].
    pub rejecting_states: Vec<S>,
    /// How many such states there were in all.
    pub rejecting_state_count: usize,
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

const NONE: u32 = u32::MAX;

/// Checks whether `operations` (one partition, in any order) are linearizable.
pub fn search<M: Model>(
    model: &M,
    operations: &[&Operation<M::Input, M::Output>],
    deadline: Option<Instant>,
) -> SearchOutcome<M::State> {
    Search::new(model, operations).run(deadline)
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
            let slot = if is_return { &mut list.return_event } else { &mut list.call_event };
            slot[operation as usize] = position as u32;
            list.next.push(if position + 1 < count { position as u32 + 1 } else { NONE });
            list.prev.push(if position == 0 { head } else { position as u32 - 1 });
        }
        list.next.push(if count > 0 { 0 } else { NONE });
        list.prev.push(NONE);
        list
    }

    fn first(&self) -> u32 {
        self.next[self.head as usize]
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

/// Interned model states.
struct States<S> {
    states: Vec<S>,
    hashes: Vec<u64>,
    table: HashTable<u32>,
}

impl<S: Eq + Hash> States<S> {
    fn new() -> Self {
        States { states: Vec::new(), hashes: Vec::new(), table: HashTable::new() }
    }

    fn intern(&mut self, state: S) -> u32 {
        let mut hasher = FxHasher::default();
        state.hash(&mut hasher);
        let hash = mix64(hasher.finish());
        let States { states, hashes, table } = self;
        let entry = table.entry(
            hash,
            |&id| hashes[id as usize] == hash && states[id as usize] == state,
            |&id| hashes[id as usize],
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(occupied) => *occupied.get(),
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                let id = states.len() as u32;
                vacant.insert(id);
                states.push(state);
                hashes.push(hash);
                id
            }
        }
    }
}

/// The set of (linearized operations, state) configurations already explored.
struct ConfigurationCache {
    words_per_set: usize,
    sets: Vec<u64>,
    states: Vec<u32>,
    hashes: Vec<u64>,
    table: HashTable<u32>,
}

impl ConfigurationCache {
    fn new(words_per_set: usize) -> Self {
        ConfigurationCache { words_per_set, sets: Vec::new(), states: Vec::new(), hashes: Vec::new(), table: HashTable::new() }
    }

    /// Records the configuration; false if it was already there.
    fn insert_if_new(&mut self, linearized: &Bitset, state: u32) -> bool {
        let hash = linearized.hash() ^ mix64(u64::from(state));
        let words = self.words_per_set;
        let ConfigurationCache { sets, states, hashes, table, .. } = self;
        let entry = table.entry(
            hash,
            |&id| {
                let id = id as usize;
                hashes[id] == hash && states[id] == state && sets[id * words..(id + 1) * words] == *linearized.words()
            },
            |&id| hashes[id as usize],
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert(states.len() as u32);
                sets.extend_from_slice(linearized.words());
                states.push(state);
                hashes.push(hash);
                true
            }
        }
    }
}

struct Search<'a, M: Model> {
    model: &'a M,
    operations: &'a [&'a Operation<M::Input, M::Output>],
    events: EventList,
    states: States<M::State>,
    /// (state << 32 | operation) → next state, or `NONE` if the model rejects it.
    transitions: HashTable<(u64, u32)>,
    search_steps: u64,
    model_steps: u64,
}

impl<'a, M: Model> Search<'a, M> {
    fn new(model: &'a M, operations: &'a [&'a Operation<M::Input, M::Output>]) -> Self {
        Search {
            model,
            operations,
            events: EventList::new(operations),
            states: States::new(),
            transitions: HashTable::new(),
            search_steps: 0,
            model_steps: 0,
        }
    }

    /// The state after applying `operation` in `state`, or `NONE`.
    fn transition(&mut self, state: u32, operation: u32) -> u32 {
        let key = (u64::from(state) << 32) | u64::from(operation);
        let hash = mix64(key);
        if let Some(&(_, next)) = self.transitions.find(hash, |&(known, _)| known == key) {
            return next;
        }
        self.model_steps += 1;
        let op = self.operations[operation as usize];
        let next = match self.model.step(&self.states.states[state as usize], &op.input, op.output.as_ref()) {
            Some(next_state) => self.states.intern(next_state),
            None => NONE,
        };
        self.transitions.insert_unique(hash, (key, next), |&(known, _)| mix64(known));
        next
    }

    fn known_transition(&self, state: u32, operation: u32) -> Option<u32> {
        let key = (u64::from(state) << 32) | u64::from(operation);
        self.transitions.find(mix64(key), |&(known, _)| known == key).map(|&(_, next)| next)
    }

    fn run(mut self, deadline: Option<Instant>) -> SearchOutcome<M::State> {
        let operation_count = self.operations.len();
        let mut open_with_known_outcome = self.operations.iter().filter(|op| op.ret.is_some()).count();
        let mut linearized = Bitset::new(operation_count);
        let mut cache = ConfigurationCache::new(operation_count.div_ceil(64));
        let mut state = self.states.intern(self.model.init());
        // (operation, state before it)
        let mut stack: Vec<(u32, u32)> = Vec::new();
        // The deepest stack seen: (operation, state after it).
        let mut deepest: Vec<(u32, u32)> = Vec::new();
        let mut event = self.events.first();
        let verdict = loop {
            if open_with_known_outcome == 0 || event == NONE {
                break SearchVerdict::Linearizable;
            }
            let operation = self.events.operation[event as usize];
            if !self.events.is_call[event as usize] {
                // The earliest pending return: whatever is on top of the stack cannot be right.
                let Some((undone, previous_state)) = stack.pop() else {
                    break SearchVerdict::NotLinearizable;
                };
                linearized.remove(undone as usize);
                state = previous_state;
                self.events.unlift(undone);
                if self.operations[undone as usize].ret.is_some() {
                    open_with_known_outcome += 1;
                }
                event = self.events.next[self.events.call_event[undone as usize] as usize];
                continue;
            }
            self.search_steps += 1;
            if self.search_steps % STEPS_BETWEEN_DEADLINE_CHECKS == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                break SearchVerdict::Unknown;
            }
            let next_state = self.transition(state, operation);
            if next_state != NONE {
                linearized.insert(operation as usize);
                if cache.insert_if_new(&linearized, next_state) {
                    stack.push((operation, state));
                    state = next_state;
                    self.events.lift(operation);
                    if self.operations[operation as usize].ret.is_some() {
                        open_with_known_outcome -= 1;
                    }
                    if stack.len() > deepest.len() {
                        deepest = prefix_with_states_after(&stack, state);
                    }
                    event = self.events.first();
                    continue;
                }
                linearized.remove(operation as usize);
            }
            event = self.events.next[event as usize];
        };
        let failure = (verdict == SearchVerdict::NotLinearizable).then(|| self.explain(&deepest));
        SearchOutcome {
            verdict,
            search_steps: self.search_steps,
            model_steps: self.model_steps,
            distinct_states: self.states.states.len(),
            failure,
        }
    }

    /// Builds the counterexample from the deepest prefix the search reached.
    fn explain(&self, deepest: &[(u32, u32)]) -> Failure<M::State> {
        let mut in_prefix = vec![false; self.operations.len()];
        for &(operation, _) in deepest {
            in_prefix[operation as usize] = true;
        }
        // Events are stored in time order: the first return of an operation outside the
        // prefix is the deadline nothing after the prefix could meet.
        let stuck = (0..self.events.operation.len())
            .find(|&event| !self.events.is_call[event] && !in_prefix[self.events.operation[event] as usize])
            .map(|event| self.events.operation[event])
            .expect("a non-linearizable partition has an operation with a known outcome left over");
        let rejecting: Vec<u32> = (0..self.states.states.len() as u32)
            .filter(|&state| self.known_transition(state, stuck) == Some(NONE))
            .collect();
        let state_of = |id: u32| self.states.states[id as usize].clone();
        Failure {
            prefix: deepest.iter().map(|&(operation, after)| (operation as usize, state_of(after))).collect(),
            stuck: stuck as usize,
            rejecting_states: rejecting.iter().take(MAX_REJECTING_STATES).map(|&id| state_of(id)).collect(),
            rejecting_state_count: rejecting.len(),
        }
    }
}

/// The stack as (operation, state after it), given the state after its top.
fn prefix_with_states_after(stack: &[(u32, u32)], top_state: u32) -> Vec<(u32, u32)> {
    stack
        .iter()
        .enumerate()
        .map(|(depth, &(operation, _))| {
            let after = stack.get(depth + 1).map_or(top_state, |&(_, before_next)| before_next);
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

    fn op(input: RegisterInput, output: Option<i64>, call: u64, ret: Option<u64>) -> Operation<RegisterInput, Value> {
        let source = OperationSource { process: "0".into(), invoke_line: call as usize + 1, complete_line: None };
        Operation { input, output: output.map(Value::Int), call, ret, source }
    }

    fn check(history: &[Operation<RegisterInput, Value>]) -> SearchOutcome<Value> {
        let refs: Vec<_> = history.iter().collect();
        search(&Register, &refs, None)
    }

    #[test]
    fn concurrent_write_and_read_can_go_either_way() {
        let write = op(RegisterInput::Write(Value::Int(1)), None, 0, Some(3));
        let read_new = op(RegisterInput::Read, Some(1), 1, Some(2));
        assert_eq!(check(&[write.clone(), read_new]).verdict, SearchVerdict::Linearizable);
        let read_nil = Operation { output: Some(Value::Nil), ..op(RegisterInput::Read, None, 1, Some(2)) };
        assert_eq!(check(&[write, read_nil]).verdict, SearchVerdict::Linearizable);
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
        assert_eq!(check(&[pending_write.clone(), read_seven]).verdict, SearchVerdict::Linearizable);
        // …or never happen at all.
        let read_nil = Operation { output: Some(Value::Nil), ..op(RegisterInput::Read, None, 5, Some(6)) };
        assert_eq!(check(&[pending_write.clone(), read_nil.clone()]).verdict, SearchVerdict::Linearizable);
        // But it cannot take effect before it was invoked.
        let early_read = op(RegisterInput::Read, Some(7), 0, Some(1));
        let late_write = op(RegisterInput::Write(Value::Int(7)), None, 2, None);
        assert_eq!(check(&[early_read, late_write]).verdict, SearchVerdict::NotLinearizable);
    }

    #[test]
    fn empty_history_is_linearizable() {
        let outcome = check(&[]);
        assert_eq!(outcome.verdict, SearchVerdict::Linearizable);
        assert_eq!(outcome.search_steps, 0);
    }

    #[test]
    fn an_expired_deadline_gives_unknown() {
        // Many concurrent writes and an impossible read force a long search.
        let mut history: Vec<_> = (0..40).map(|value| op(RegisterInput::Write(Value::Int(value)), None, value as u64, Some(1000))).collect();
        history.push(op(RegisterInput::Read, Some(99), 500, Some(600)));
        let refs: Vec<_> = history.iter().collect();
        let outcome = search(&Register, &refs, Some(Instant::now()));
        assert_eq!(outcome.verdict, SearchVerdict::Unknown);
    }
}
