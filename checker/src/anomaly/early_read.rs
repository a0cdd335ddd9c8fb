//! early-read: a poll returned a value before the transaction that wrote it could have asked
//! to commit — a real-time dirty read. The name is the Bufstream analysis' (Jepsen's
//! `early_read` workload: "clients can poll values in a transaction before that transaction
//! commits"); precommitted-read is the case where the reader is the writing transaction
//! itself, early-read the case of any other reader, shown by the history's clock.
//!
//! The history does not record when a transaction asked to commit, only that it did so after
//! its last step. A step can be dated from below by what it saw: a send that landed at offset
//! o, or a poll that returned a record at offset o, happened after every record at a lower
//! offset of that partition was appended, so after each such record's writer was invoked
//! (offsets grow with time in a log). So the transaction asked to commit no earlier than
//! `commit_not_before` = the latest of its own invoke and, over its steps, the latest invoke
//! of a writer of a record at or below the step's offset (every known record: final log,
//! polls, acknowledgements; a value's writer is the earliest-invoked send of it).
//!
//! A finding: an ok poll (a `poll` op, or a poll step of an ok `txn`) completed before the
//! `commit_not_before` of the transaction that wrote a value it returned — a transactional
//! `txn` that completed ok or info and is not the reader. The writer is the send acknowledged
//! at the polled offset (the earliest-invoked, should several claim it: any of them may have
//! written the record, and the read is early only for the one that could have committed
//! first), else the only send of that value to that partition. One finding per (reader,
//! writer), at the first such record.

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::causal::FindingRecords;
use crate::detect::Context;
use crate::facts::{Facts, SendKinds, TxnFact, phase_name};
use crate::history::{Phase, PolledRecord, TxnStep};
use crate::txn::Partition;
use reached::Reached;

/// What dates a transaction's commit: a step that came after a record whose writer was
/// invoked at `writer_invoked_ns`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitBound {
    /// The transaction's step (from 0), its partition and the offset it sent to or polled.
    pub step: usize,
    pub topic: String,
    pub partition: u32,
    pub step_offset: u64,
    /// The record at or below that offset, and the op (invoke index) that wrote it.
    pub record_offset: u64,
    pub record_value: u64,
    pub writer_op: u64,
}

/// A poll returned a value before its writing transaction could have asked to commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlyRead {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub value: u64,
    /// The reading op's completion index and time.
    pub reader: u64,
    pub read_by_ns: u64,
    /// The writing transaction: invoke index, completion and outcome.
    pub writer: u64,
    pub writer_completion: Option<u64>,
    pub writer_outcome: String,
    /// The earliest time the writer can have asked to commit, and what shows it (`None`: its
    /// own invoke).
    pub commit_not_before_ns: u64,
    pub bound: Option<CommitBound>,
}

impl EarlyRead {
    pub fn explain(&self) -> String {
        let why = match &self.bound {
            Some(b) => format!(
                "its step {} reached offset {} of {}-{}, after the record {} at offset {}, \
                 written by op {} invoked at {} ns",
                b.step,
                b.step_offset,
                b.topic,
                b.partition,
                b.record_value,
                b.record_offset,
                b.writer_op,
                self.commit_not_before_ns
            ),
            None => format!("it was invoked only at {} ns", self.commit_not_before_ns),
        };
        format!(
            "op {} returned value {} at offset {} of {}-{} by {} ns, but transaction op {} \
             that wrote it (it ended {}) cannot have asked to commit before {} ns: {why} — a \
             read of uncommitted data, an early read",
            self.reader,
            self.value,
            self.offset,
            self.topic,
            self.partition,
            self.read_by_ns,
            self.writer,
            self.writer_outcome,
            self.commit_not_before_ns
        )
    }
}

impl Finding for EarlyRead {
    fn records(&self) -> Option<FindingRecords<'_>> {
        Some(FindingRecords::new(
            &self.topic,
            self.partition,
            vec![self.offset],
        ))
    }
}

pub(crate) fn find(cx: &Context) -> Vec<EarlyRead> {
    let candidates = reads_of_other_transactions(cx, latest_invoke(cx));
    if candidates.is_empty() {
        return Vec::new();
    }
    let reached = Reached::new(cx);
    // The commit bound of each writer, computed on first need.
    let mut bounds: Vec<Option<Option<Bound>>> = vec![None; cx.facts.txns.len()];
    let mut found = Vec::new();
    let mut reported = std::collections::BTreeSet::new();
    for (poll, r, writer) in candidates {
        let poll = &cx.facts.polls[poll];
        let txn = &cx.facts.txns[writer];
        let bound = bounds[writer].get_or_insert_with(|| commit_not_before(cx, &reached, txn));
        let Some((not_before, bound)) = bound else {
            continue;
        };
        let read_by_ns = cx.history.ops[poll.op as usize].time_ns;
        if read_by_ns >= *not_before || !reported.insert((poll.op, writer)) {
            continue;
        }
        found.push(EarlyRead {
            topic: poll.topic.to_string(),
            partition: poll.partition,
            offset: r.offset,
            value: r.value,
            reader: poll.op,
            read_by_ns,
            writer: txn.invoke,
            writer_completion: txn.completion,
            writer_outcome: phase_name(txn.outcome),
            commit_not_before_ns: *not_before,
            bound: bound.clone(),
        });
    }
    found.sort_by_key(|f| (f.writer, f.reader));
    found
}

/// The latest invoke time of a `send` or `txn` op. A commit bound is the invoke time of the
/// writing transaction or of some send, so no poll completed at or after this time is early:
/// the candidates need not include its records (a run's read-back, polled at the end, is most
/// of the polled records of a history).
/// Found by the walk that builds the facts (`Facts::latest_invoke`).
fn latest_invoke(cx: &Context) -> u64 {
    cx.facts.latest_invoke
}

/// Every record of an ok poll completed before `latest_invoke` written by another operation's
/// transaction (`writer_of`), as (index into `Facts::polls`, record, index into
/// `Facts::txns`), in poll order. Only partitions such transactions send to are looked at (a
/// consume-transform-produce loop reads none).
fn reads_of_other_transactions(
    cx: &Context,
    latest_invoke: u64,
) -> Vec<(usize, PolledRecord, usize)> {
    let facts = cx.facts;
    let written = facts.partitions_with(SendKinds::OF_UNFAILED_TXN);
    let mut candidates = Vec::new();
    if written.is_empty() {
        return candidates;
    }
    for (i, poll) in facts.polls.iter().enumerate() {
        let partition = (poll.topic, poll.partition);
        if cx.history.ops[poll.op as usize].time_ns >= latest_invoke
            || !written.contains(&partition)
        {
            continue;
        }
        for r in poll.records {
            if let Some(writer) = writer_of(facts, partition, r.offset, r.value)
                && facts.txns[writer].invoke != poll.invoke
            {
                candidates.push((i, *r, writer));
            }
        }
    }
    candidates
}

/// The transaction (index into `Facts::txns`) whose send wrote `value` at `offset`: the send
/// acknowledged there (the earliest-invoked if several claim it), else the only send of the
/// value to the partition; a transactional `txn` that did not fail.
fn writer_of(facts: &Facts, partition: Partition, offset: u64, value: u64) -> Option<usize> {
    let sends = facts.sends_of(partition.0, partition.1, value);
    let send = sends
        .iter()
        .map(|&s| &facts.sends[s])
        .filter(|s| s.acked_offset() == Some(offset))
        .min_by_key(|s| s.invoke())
        .or_else(|| (sends.len() == 1).then(|| &facts.sends[sends[0]]))?;
    let txn = send.txn()?;
    let t = &facts.txns[txn];
    (t.transactional && t.outcome.is_some_and(|o| o != Phase::Fail)).then_some(txn)
}

/// The earliest time a transaction can have asked to commit, and the step that shows it.
type Bound = (u64, Option<CommitBound>);

/// The earliest time `txn` can have asked to commit, and the step that shows it; `None` for
/// a transaction that is not a possible writer (not transactional, failed or never completed).
fn commit_not_before(cx: &Context, reached: &Reached, txn: &TxnFact) -> Option<Bound> {
    txn.completion?;
    if !txn.transactional || txn.outcome == Some(Phase::Fail) {
        return None;
    }
    let facts = cx.facts;
    let mut best = (cx.history.ops[txn.invoke as usize].time_ns, None);
    for (step, s) in txn.steps.iter().enumerate() {
        let (topic, partition, offset) = match s {
            TxnStep::Send {
                topic,
                partition,
                offset: Some(offset),
                ..
            } => (topic, *partition, *offset),
            TxnStep::Poll {
                topic,
                partition,
                records,
            } => match records.iter().map(|r| r.offset).max() {
                Some(offset) => (topic, *partition, offset),
                None => continue,
            },
            _ => continue,
        };
        let Some(topic_ref) = facts.topics.get(topic) else {
            continue;
        };
        let Some((time, record_offset, record_value, writer_op)) =
            reached.at((topic_ref, partition), offset)
        else {
            continue;
        };
        if time > best.0 {
            best = (
                time,
                Some(CommitBound {
                    step,
                    topic: topic.to_string(),
                    partition,
                    step_offset: offset,
                    record_offset,
                    record_value,
                    writer_op,
                }),
            );
        }
    }
    Some(best)
}

mod reached;
#[cfg(test)]
mod tests;
