//! The order inside one operation (Jepsen's "internal" checks): a poll operation's records,
//! or a transaction's poll steps, in the order returned; a transaction's acknowledged sends in
//! step order. One scan finds the four kinds (int-poll-skip, int-nonmonotonic-poll,
//! int-send-skip, int-nonmonotonic-send), each reported by its own module in `anomaly/`.
//!
//! Per operation and partition, each consecutive pair (a, b) of polled records (or of sends
//! with a reported offset):
//! - nonmonotonic if b's offset ≤ a's;
//! - a skip if a known record (`txn::known_between`: the final log's committed-visible records,
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
use crate::txn::known_between;

/// What the scan found, each list in (partition, operation, position) order.
#[derive(Debug, Default)]
pub(crate) struct InternalOrder {
    pub poll_skips: Vec<IntPollSkip>,
    pub nonmonotonic_polls: Vec<IntNonmonotonicPoll>,
    pub send_skips: Vec<IntSendSkip>,
    pub nonmonotonic_sends: Vec<IntNonmonotonicSend>,
}

/// The operation a pair of records belongs to.
#[derive(Clone, Copy)]
struct Op {
    /// History indices of the operation's invoke and completion, and its process.
    invoke: u64,
    completion: u64,
    process: u64,
}

/// Two consecutive records (offset, value) of one partition inside one operation.
struct Pair<'h> {
    op: Op,
    topic: TopicRef<'h>,
    partition: u32,
    previous: (u64, u64),
    next: (u64, u64),
}

/// Whether a pair is a poll pair or a send pair.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Poll,
    Send,
}

pub(crate) fn scan(cx: &Context) -> InternalOrder {
    let mut found = InternalOrder::default();
    for_each_pair(cx, |side, pair| {
        if pair.next.0 <= pair.previous.0 {
            found.nonmonotonic(side, &pair);
            return;
        }
        if pair.next.0 == pair.previous.0 + 1 {
            return; // Adjacent offsets: nothing between (no known records needed).
        }
        let partition = (pair.topic, pair.partition);
        let between = known_between(cx, partition, pair.previous.0, pair.next.0);
        if !between.is_empty() {
            found.skip(side, &pair, between);
        }
    });
    let key = |topic: &String, partition: u32, op: u64| (topic.clone(), partition, op);
    found
        .poll_skips
        .sort_by_key(|f| key(&f.topic, f.partition, f.op));
    found
        .nonmonotonic_polls
        .sort_by_key(|f| key(&f.topic, f.partition, f.op));
    found
        .send_skips
        .sort_by_key(|f| key(&f.topic, f.partition, f.txn));
    found
        .nonmonotonic_sends
        .sort_by_key(|f| key(&f.topic, f.partition, f.txn));
    found
}

impl InternalOrder {
    fn nonmonotonic(&mut self, side: Side, pair: &Pair) {
        let (op, topic, partition) = (pair.op, pair.topic.to_string(), pair.partition);
        let (previous, next) = (pair.previous, pair.next);
        match side {
            Side::Poll => self.nonmonotonic_polls.push(IntNonmonotonicPoll {
                process: op.process,
                op: op.invoke,
                completion: op.completion,
                topic,
                partition,
                previous,
                next,
            }),
            Side::Send => self.nonmonotonic_sends.push(IntNonmonotonicSend {
                process: op.process,
                txn: op.invoke,
                completion: op.completion,
                topic,
                partition,
                previous,
                next,
            }),
        }
    }

    fn skip(&mut self, side: Side, pair: &Pair, between: Vec<(u64, u64)>) {
        let (op, topic, partition) = (pair.op, pair.topic.to_string(), pair.partition);
        let (previous, next) = (pair.previous, pair.next);
        match side {
            Side::Poll => self.poll_skips.push(IntPollSkip {
                process: op.process,
                op: op.invoke,
                completion: op.completion,
                topic,
                partition,
                previous,
                next,
                skipped: between,
            }),
            Side::Send => self.send_skips.push(IntSendSkip {
                process: op.process,
                txn: op.invoke,
                completion: op.completion,
                topic,
                partition,
                previous,
                next,
                between,
            }),
        }
    }
}

/// Calls `each` for every consecutive pair of records of a partition inside one operation:
/// an ok `poll` op's records; a completed `txn`'s polled records across its poll steps, and
/// (transactional ones) its sends with a reported offset, in step order.
fn for_each_pair<'h>(cx: &Context<'_, 'h>, mut each: impl FnMut(Side, Pair<'h>)) {
    poll_op_pairs(cx, &mut each);
    txn_pairs(cx, &mut each);
}

/// The consecutive records of each ok `poll` op.
fn poll_op_pairs<'h>(cx: &Context<'_, 'h>, each: &mut impl FnMut(Side, Pair<'h>)) {
    let (facts, ops) = (cx.facts, &cx.history.ops);
    for poll in facts.polls.iter().filter(|p| p.from_offset.is_some()) {
        let op = Op {
            invoke: poll.invoke,
            completion: poll.op,
            process: ops[poll.invoke as usize].process,
        };
        for w in poll.records.windows(2) {
            let (previous, next) = ((w[0].offset, w[0].value), (w[1].offset, w[1].value));
            let (topic, partition) = (poll.topic, poll.partition);
            each(
                Side::Poll,
                Pair {
                    op,
                    topic,
                    partition,
                    previous,
                    next,
                },
            );
        }
    }
}

/// The consecutive polled records and sends of a partition inside each completed `txn`.
fn txn_pairs<'h>(cx: &Context<'_, 'h>, each: &mut impl FnMut(Side, Pair<'h>)) {
    let (facts, ops) = (cx.facts, &cx.history.ops);
    // Per partition the operation touched: its last record so far (a few partitions each).
    let mut last: Vec<(Side, TopicRef<'h>, u32, (u64, u64))> = Vec::new();
    for txn in &facts.txns {
        let Some(completion) = txn.completion else {
            continue;
        };
        let op = Op {
            invoke: txn.invoke,
            completion,
            process: ops[txn.invoke as usize].process,
        };
        last.clear();
        let mut record =
            |side: Side, topic: TopicRef<'h>, partition: u32, next: (u64, u64)| match last
                .iter_mut()
                .find(|l| (l.0, l.1, l.2) == (side, topic, partition))
            {
                Some(l) => {
                    let previous = std::mem::replace(&mut l.3, next);
                    each(
                        side,
                        Pair {
                            op,
                            topic,
                            partition,
                            previous,
                            next,
                        },
                    );
                }
                None => last.push((side, topic, partition, next)),
            };
        for step in txn.steps {
            match step {
                TxnStep::Poll {
                    topic,
                    partition,
                    records,
                } => {
                    let topic = facts.topics.get(topic).expect("a topic of the history");
                    for r in records {
                        record(Side::Poll, topic, *partition, (r.offset, r.value));
                    }
                }
                TxnStep::Send {
                    topic,
                    partition,
                    value,
                    offset: Some(offset),
                    ..
                } if txn.transactional => {
                    let topic = facts.topics.get(topic).expect("a topic of the history");
                    record(Side::Send, topic, *partition, (*offset, *value));
                }
                _ => {}
            }
        }
    }
}
