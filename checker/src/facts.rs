//! The history flattened into what the checks reason about: every send (a `send` op or a
//! `txn`'s send step), every ok poll (a `poll` op or a committed `txn`'s poll step) and every
//! transaction, each with the history events that show it.
//!
//! A `txn`'s steps are taken from its completion when it completed (the completion lists
//! what the client did, with offsets and records), else from its invoke (what it meant to do).

use std::collections::BTreeMap;

use crate::history::{FinalLog, History, OpPair, Operation, Phase, PolledRecord, TxnStep};

/// One send: a `send` op, or one send step of a `txn` op.
#[derive(Debug)]
pub(crate) struct SendFact<'h> {
    pub topic: &'h str,
    pub partition: u32,
    pub value: u64,
    /// The input value this output derives from (send steps only).
    pub source: Option<u64>,
    /// History index of the op's invoke, and of its completion if it completed.
    pub invoke: u64,
    pub completion: Option<u64>,
    /// The op's completion phase; `None` if it never completed.
    pub outcome: Option<Phase>,
    /// The send definitely took effect: an ok `send`, a send step of an ok `txn`, or a send
    /// step of a non-transactional `txn` whose completion reports an offset (no atomicity
    /// there, so each step stands on its own).
    pub acknowledged: bool,
    /// The offset an acknowledged send reported.
    pub acked_offset: Option<u64>,
    pub error: Option<&'h str>,
    /// Index into `Facts::txns` of the `txn` op this is a step of.
    pub txn: Option<usize>,
}

impl SendFact<'_> {
    /// A send step of a transaction that definitely aborted: its value must not be committed.
    pub fn aborted(&self, facts: &Facts) -> bool {
        self.txn
            .is_some_and(|t| facts.txns[t].transactional && self.outcome == Some(Phase::Fail))
    }
}

/// One ok poll: a `poll` op that completed ok, or a poll step of an ok `txn`.
#[derive(Debug)]
pub(crate) struct PollFact<'h> {
    pub topic: &'h str,
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
}

/// A process's history in completion order, for the per-process scans.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ProcessEvent {
    /// `Facts::polls[i]`.
    Poll(usize),
    /// `Facts::sends[i]`, acknowledged with an offset.
    Ack(usize),
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
    pub logs: BTreeMap<(&'h str, u32), &'h FinalLog>,
}

/// Each process's events in completion order, in one vector (histories from the simulator
/// have one process per call: a map of vectors would allocate per call).
#[derive(Debug, Default)]
pub(crate) struct ProcessEvents {
    events: Vec<ProcessEvent>,
    /// (process, its events' range in `events`), by process.
    processes: Vec<(u64, std::ops::Range<usize>)>,
}

impl ProcessEvents {
    /// From (completion index, step, process, event) in any order.
    fn new(mut timeline: Vec<(u64, usize, u64, ProcessEvent)>) -> Self {
        timeline.sort_by_key(|&(completion, step, process, _)| (process, completion, step));
        let mut out = ProcessEvents::default();
        for (_, _, process, event) in timeline {
            match out.processes.last_mut() {
                Some((p, range)) if *p == process => range.end += 1,
                _ => out
                    .processes
                    .push((process, out.events.len()..out.events.len() + 1)),
            }
            out.events.push(event);
        }
        out
    }

    /// Each process with its events, by process.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &[ProcessEvent])> + '_ {
        self.processes
            .iter()
            .map(|(p, range)| (p, &self.events[range.clone()]))
    }
}

/// Sends by (topic, partition, value): two aligned sorted vectors rather than a map of
/// vectors (one allocation each, however many sends; this runs once per simulated seed).
#[derive(Debug, Default)]
pub(crate) struct SendIndex<'h> {
    keys: Vec<(&'h str, u32, u64)>,
    /// Indices into `Facts::sends`; one key's in invoke order.
    ids: Vec<usize>,
}

impl<'h> SendIndex<'h> {
    fn new(sends: &[SendFact<'h>]) -> Self {
        let mut pairs: Vec<((&'h str, u32, u64), usize)> = sends
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.topic, s.partition, s.value), i))
            .collect();
        pairs.sort_unstable();
        let (keys, ids) = pairs.into_iter().unzip();
        Self { keys, ids }
    }

    fn of(&self, key: &(&'h str, u32, u64)) -> &[usize] {
        let start = self.keys.partition_point(|k| k < key);
        let end = self.keys.partition_point(|k| k <= key);
        &self.ids[start..end]
    }

    /// Each key with its sends, in key order.
    pub fn groups(&self) -> impl Iterator<Item = ((&'h str, u32, u64), &[usize])> + '_ {
        let mut start = 0;
        std::iter::from_fn(move || {
            let key = *self.keys.get(start)?;
            let end = start + self.keys[start..].partition_point(|k| *k == key);
            let group = &self.ids[start..end];
            start = end;
            Some((key, group))
        })
    }
}

pub(crate) fn phase_name(phase: Option<Phase>) -> String {
    phase.map_or("none".to_string(), |p| p.to_string())
}

impl<'h> Facts<'h> {
    pub fn new(history: &'h History, pairs: &[OpPair]) -> Self {
        let mut facts = Facts::default();
        for log in &history.final_logs {
            facts.logs.insert((&log.topic, log.partition), log);
        }
        // (completion index, step, process, event): sorted afterwards into per-process order.
        let mut timeline: Vec<(u64, usize, u64, ProcessEvent)> = Vec::new();
        for &(invoke, completion) in pairs {
            let inv = &history.ops[invoke];
            let done = completion.map(|c| &history.ops[c]);
            let outcome = done.map(|d| d.phase);
            let ok = outcome == Some(Phase::Ok);
            match &inv.op {
                Operation::Send {
                    topic,
                    partition,
                    value,
                    ..
                } => {
                    let acked_offset = match done.map(|d| &d.op) {
                        Some(Operation::Send { offset, .. }) if ok => *offset,
                        _ => None,
                    };
                    if let (Some(_), Some(d)) = (acked_offset, done) {
                        timeline.push((
                            d.index,
                            0,
                            inv.process,
                            ProcessEvent::Ack(facts.sends.len()),
                        ));
                    }
                    facts.sends.push(SendFact {
                        topic,
                        partition: *partition,
                        value: *value,
                        source: None,
                        invoke: inv.index,
                        completion: done.map(|d| d.index),
                        outcome,
                        acknowledged: ok,
                        acked_offset,
                        error: done.and_then(|d| d.error.as_deref()),
                        txn: None,
                    });
                }
                Operation::Poll {
                    topic, partition, ..
                } => {
                    let Some(d) = done.filter(|_| ok) else {
                        continue;
                    };
                    let Operation::Poll {
                        records,
                        from_offset,
                        ..
                    } = &d.op
                    else {
                        continue;
                    };
                    timeline.push((
                        d.index,
                        0,
                        inv.process,
                        ProcessEvent::Poll(facts.polls.len()),
                    ));
                    facts.polls.push(PollFact {
                        topic,
                        partition: *partition,
                        invoke: inv.index,
                        op: d.index,
                        from_offset: Some(*from_offset),
                        records,
                    });
                }
                Operation::Txn {
                    transactional,
                    txn_id,
                    steps,
                } => {
                    let steps = match done.map(|d| &d.op) {
                        Some(Operation::Txn { steps, .. }) => steps,
                        _ => steps,
                    };
                    let txn = facts.txns.len();
                    let first_send = facts.sends.len();
                    for (step_index, step) in steps.iter().enumerate() {
                        match step {
                            TxnStep::Send {
                                topic,
                                partition,
                                value,
                                source,
                                offset,
                            } => {
                                let acknowledged =
                                    ok || (!transactional && done.is_some() && offset.is_some());
                                let acked_offset = offset.filter(|_| acknowledged);
                                if let (Some(_), Some(d)) = (acked_offset, done) {
                                    let event = ProcessEvent::Ack(facts.sends.len());
                                    timeline.push((d.index, step_index, inv.process, event));
                                }
                                facts.sends.push(SendFact {
                                    topic,
                                    partition: *partition,
                                    value: *value,
                                    source: *source,
                                    invoke: inv.index,
                                    completion: done.map(|d| d.index),
                                    outcome,
                                    acknowledged,
                                    acked_offset,
                                    error: done.and_then(|d| d.error.as_deref()),
                                    txn: Some(txn),
                                });
                            }
                            TxnStep::Poll {
                                topic,
                                partition,
                                records,
                            } => {
                                let Some(d) = done.filter(|_| ok) else {
                                    continue;
                                };
                                let event = ProcessEvent::Poll(facts.polls.len());
                                timeline.push((d.index, step_index, inv.process, event));
                                facts.polls.push(PollFact {
                                    topic,
                                    partition: *partition,
                                    invoke: inv.index,
                                    op: d.index,
                                    from_offset: None,
                                    records,
                                });
                            }
                            TxnStep::CommitOffset { .. } => {}
                        }
                    }
                    if let Some(d) = done.filter(|_| !ok) {
                        timeline.push((d.index, usize::MAX, inv.process, ProcessEvent::Rewind));
                    }
                    facts.txns.push(TxnFact {
                        transactional: *transactional,
                        txn_id: txn_id.as_deref(),
                        invoke: inv.index,
                        completion: done.map(|d| d.index),
                        outcome,
                        steps,
                        sends: first_send..facts.sends.len(),
                    });
                }
            }
        }
        facts.send_index = SendIndex::new(&facts.sends);
        facts.by_process = ProcessEvents::new(timeline);
        facts
    }

    /// Sends of `value` to a partition, in invoke order.
    pub fn sends_of(&self, topic: &'h str, partition: u32, value: u64) -> &[usize] {
        self.send_index.of(&(topic, partition, value))
    }
}
