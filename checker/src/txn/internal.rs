//! The order inside one operation (Jepsen's "internal" checks): a poll operation's records,
//! or a transaction's poll steps, in the order returned; a transaction's acknowledged sends in
//! step order. One scan finds the four kinds (int-poll-skip, int-nonmonotonic-poll,
//! int-send-skip, int-nonmonotonic-send), each reported by its own module in `anomaly/`.
//!
//! Per operation and partition, each consecutive pair (a, b) of polled records (or of sends
//! with a reported offset):
//! - nonmonotonic if b's offset ≤ a's;
//! - a skip if a known record (`txn::known_records`: the final log's committed-visible records,
//!   else what polls and acknowledgements reported) lies strictly between them.
//!
//! Polls: every `poll` op that completed ok (one fetch of one partition) and every `txn` that
//! completed, whatever its outcome (Jepsen: "pollers … are always supposed to emit safe
//! data"). Sends: every transactional `txn` that completed, with the offsets its completion
//! reports. Jepsen also skips a key named in the operation's rebalance log; eosim's histories
//! have none.

use crate::anomaly::{IntNonmonotonicPoll, IntNonmonotonicSend, IntPollSkip, IntSendSkip};
use crate::detect::Context;
use crate::facts::TopicRef;
use crate::history::TxnStep;
use crate::txn::{KnownRecords, known_between};

/// What the scan found, each list in (partition, operation, position) order.
#[derive(Debug, Default)]
pub(crate) struct InternalOrder {
    pub poll_skips: Vec<IntPollSkip>,
    pub nonmonotonic_polls: Vec<IntNonmonotonicPoll>,
    pub send_skips: Vec<IntSendSkip>,
    pub nonmonotonic_sends: Vec<IntNonmonotonicSend>,
}

/// One operation's records of one partition, in the order the operation saw or made them.
struct Sequence<'h> {
    topic: TopicRef<'h>,
    partition: u32,
    /// History indices of the operation's invoke and completion, and its process.
    invoke: u64,
    completion: u64,
    process: u64,
    /// (offset, value) in order.
    records: Vec<(u64, u64)>,
}

/// A consecutive pair of a sequence and the known records between them.
struct Pair<'s, 'k> {
    sequence: &'s Sequence<'s>,
    previous: (u64, u64),
    next: (u64, u64),
    between: &'k [(u64, u64)],
}

pub(crate) fn scan(cx: &Context) -> InternalOrder {
    let (polls, sends) = sequences(cx);
    let mut found = InternalOrder::default();
    if polls.is_empty() && sends.is_empty() {
        return found;
    }
    let known = cx.known_records();
    for_each_pair(&polls, known, |pair| {
        if pair.next.0 <= pair.previous.0 {
            found.nonmonotonic_polls.push(IntNonmonotonicPoll {
                process: pair.sequence.process,
                op: pair.sequence.invoke,
                completion: pair.sequence.completion,
                topic: pair.sequence.topic.to_string(),
                partition: pair.sequence.partition,
                previous: pair.previous,
                next: pair.next,
            });
        } else if !pair.between.is_empty() {
            found.poll_skips.push(IntPollSkip {
                process: pair.sequence.process,
                op: pair.sequence.invoke,
                completion: pair.sequence.completion,
                topic: pair.sequence.topic.to_string(),
                partition: pair.sequence.partition,
                previous: pair.previous,
                next: pair.next,
                skipped: pair.between.to_vec(),
            });
        }
    });
    for_each_pair(&sends, known, |pair| {
        if pair.next.0 <= pair.previous.0 {
            found.nonmonotonic_sends.push(IntNonmonotonicSend {
                process: pair.sequence.process,
                txn: pair.sequence.invoke,
                completion: pair.sequence.completion,
                topic: pair.sequence.topic.to_string(),
                partition: pair.sequence.partition,
                previous: pair.previous,
                next: pair.next,
            });
        } else if !pair.between.is_empty() {
            found.send_skips.push(IntSendSkip {
                process: pair.sequence.process,
                txn: pair.sequence.invoke,
                completion: pair.sequence.completion,
                topic: pair.sequence.topic.to_string(),
                partition: pair.sequence.partition,
                previous: pair.previous,
                next: pair.next,
                between: pair.between.to_vec(),
            });
        }
    });
    found
}

/// Calls `each` for every consecutive pair of every sequence, sequences sorted by
/// (partition, invoke).
fn for_each_pair(sequences: &[Sequence], known: &KnownRecords, mut each: impl FnMut(Pair)) {
    for sequence in sequences {
        let partition = (sequence.topic, sequence.partition);
        for w in sequence.records.windows(2) {
            let between = if w[1].0 > w[0].0 {
                known_between(known, partition, w[0].0, w[1].0)
            } else {
                &[]
            };
            each(Pair {
                sequence,
                previous: w[0],
                next: w[1],
                between,
            });
        }
    }
}

/// Every operation's polled records and every transaction's reported sends, per partition
/// with at least two of them, sorted by (partition, invoke).
fn sequences<'h>(cx: &Context<'_, 'h>) -> (Vec<Sequence<'h>>, Vec<Sequence<'h>>) {
    let (facts, ops) = (cx.facts, &cx.history.ops);
    let mut polls = Vec::new();
    let mut sends = Vec::new();
    for poll in facts.polls.iter().filter(|p| p.from_offset.is_some()) {
        polls.push(Sequence {
            topic: poll.topic,
            partition: poll.partition,
            invoke: poll.invoke,
            completion: poll.op,
            process: ops[poll.invoke as usize].process,
            records: poll.records.iter().map(|r| (r.offset, r.value)).collect(),
        });
    }
    for txn in &facts.txns {
        let Some(completion) = txn.completion else {
            continue;
        };
        let process = ops[txn.invoke as usize].process;
        let new = |topic: TopicRef<'h>, partition: u32| Sequence {
            topic,
            partition,
            invoke: txn.invoke,
            completion,
            process,
            records: Vec::new(),
        };
        let mut polled: Vec<Sequence<'h>> = Vec::new();
        let mut sent: Vec<Sequence<'h>> = Vec::new();
        for step in txn.steps {
            match step {
                TxnStep::Poll {
                    topic,
                    partition,
                    records,
                } => {
                    let topic = facts.topics.get(topic).expect("a topic of the history");
                    let at = sequence_of(&mut polled, topic, *partition, &new);
                    at.records
                        .extend(records.iter().map(|r| (r.offset, r.value)));
                }
                TxnStep::Send {
                    topic,
                    partition,
                    value,
                    offset: Some(offset),
                    ..
                } if txn.transactional => {
                    let topic = facts.topics.get(topic).expect("a topic of the history");
                    let at = sequence_of(&mut sent, topic, *partition, &new);
                    at.records.push((*offset, *value));
                }
                _ => {}
            }
        }
        polls.extend(polled);
        sends.extend(sent);
    }
    for list in [&mut polls, &mut sends] {
        list.retain(|s| s.records.len() >= 2);
        list.sort_by_key(|s| (s.topic, s.partition, s.invoke));
    }
    (polls, sends)
}

/// The sequence of `topic`-`partition` in `list`, added by `new` if absent.
fn sequence_of<'l, 'h>(
    list: &'l mut Vec<Sequence<'h>>,
    topic: TopicRef<'h>,
    partition: u32,
    new: &impl Fn(TopicRef<'h>, u32) -> Sequence<'h>,
) -> &'l mut Sequence<'h> {
    let at = match list
        .iter()
        .position(|s| (s.topic, s.partition) == (topic, partition))
    {
        Some(at) => at,
        None => {
            list.push(new(topic, partition));
            list.len() - 1
        }
    };
    &mut list[at]
}
