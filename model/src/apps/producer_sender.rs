//! Background sending of a Streams producer's output, its sender half (Kafka's `Sender`):
//! one lane per broker, each with at most one request under way — the talk's
//! `max.in.flight.requests.per.connection = 1` — where a request carries the ready batch of
//! every partition the broker leads (Kafka drains them into one ProduceRequest; here each
//! partition's batch is its own message, sent together, and the lane is free again when all
//! are answered). Lanes go on independently of each other, as Kafka's connections do.
//!
//! The history: before a lane's batches go on the wire, the steps processing handed over
//! with them are recorded on the cycle's invoke (the first time, the invoke itself), so a
//! crash mid-interval leaves an invoke that names every record the cycle may have written.
//!
//! Approximation: while a transaction's new partitions are being added (AddPartitionsToTxn,
//! which Kafka's sender awaits before draining them), answers of other lanes wait to be read.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use checker::history::TxnStep;
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use futures_util::stream::FuturesUnordered;

use crate::apps::record_collector::{Batch, RecordCollector, Round};
use crate::client::producer::send_batch_without_idempotence;
use crate::client::txn_producer::{ProduceAnswer, ProduceCall};
use crate::client::{ClientContext, TransactionalProducer, TxnError};
use crate::protocol::{Response, TopicPartition};

/// How a call ended, by kind of producer.
enum Outcome {
    Transactional(Option<Response>),
    Plain(Result<u64, String>),
}

type Call = Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>;

/// The producer a lane's batches go through.
enum Producer<'a> {
    /// Inside the transaction (begun before the first batch).
    Transactional {
        producer: &'a mut TransactionalProducer,
        began: bool,
    },
    /// Without idempotence, each batch retried until acknowledged or timed out.
    Plain {
        ctx: &'a ClientContext,
        request_timeout_ms: u64,
    },
}

impl Producer<'_> {
    /// Starts a round's calls: for a transaction, begins it the first time and adds the new
    /// partitions first.
    async fn start(&mut self, round: &Round) -> Result<Vec<(Option<ProduceCall>, Call)>, TxnError> {
        match self {
            Producer::Transactional { producer, began } => {
                if !std::mem::replace(began, true) {
                    producer.begin_transaction()?;
                }
                producer
                    .add_to_transaction(round.batches.iter().map(|b| &b.tp))
                    .await?;
                let deadline = producer.produce_deadline();
                let start = |batch: &Batch| {
                    let (call, answer) = producer.start_produce(&batch.tp, &batch.values, deadline);
                    let answer: Call =
                        Box::pin(async move { Outcome::Transactional(answer.await) });
                    (Some(call), answer)
                };
                Ok(round.batches.iter().map(start).collect())
            }
            Producer::Plain {
                ctx,
                request_timeout_ms,
            } => Ok(round
                .batches
                .iter()
                .map(|batch| {
                    let (ctx, tp) = ((*ctx).clone(), batch.tp.clone());
                    let (values, timeout_ms) = (batch.values.clone(), *request_timeout_ms);
                    let answer: Call = Box::pin(async move {
                        let sent = send_batch_without_idempotence(&ctx, &tp, values, timeout_ms);
                        Outcome::Plain(sent.await)
                    });
                    (None, answer)
                })
                .collect()),
        }
    }

    /// A call's answer for the producer.
    fn answered(&mut self, call: Option<&ProduceCall>, outcome: Outcome) -> ProduceAnswer {
        match (self, outcome) {
            (Producer::Transactional { producer, .. }, Outcome::Transactional(answer)) => {
                producer.produce_answered(call.expect("a transactional call"), answer)
            }
            (Producer::Plain { .. }, Outcome::Plain(Ok(base))) => ProduceAnswer::Appended(base),
            (Producer::Plain { .. }, Outcome::Plain(Err(why))) => ProduceAnswer::Failed(why),
            _ => unreachable!("an answer from the other kind of producer"),
        }
    }

    /// Whether a failed batch ends the sending (a transaction is then abortable; at-least-once
    /// goes on with its other batches).
    fn stops_on_failure(&self) -> bool {
        matches!(self, Producer::Transactional { .. })
    }
}

/// A batch under way: which lane it holds, its records, its call.
struct UnderWay {
    lane: sim::NodeId,
    batch: Batch,
    call: Option<ProduceCall>,
}

/// What the lanes ended with: the first fencing and the first other failure.
#[derive(Default)]
struct Failures {
    fenced: Option<String>,
    failed: Option<String>,
}

/// The lanes of one producer, until the collector is finished (or a failure stops a
/// transaction's sending).
struct Lanes<'a, R, W> {
    collector: &'a RecordCollector,
    producer: Producer<'a>,
    /// Gets the history steps not yet recorded before a round goes on the wire.
    record: R,
    /// Gets a partition's end offset after each appended batch.
    written: W,
    /// Calls under way per broker.
    busy: BTreeMap<sim::NodeId, usize>,
    /// Every batch started, by slot (`None` once answered).
    under_way: Vec<Option<UnderWay>>,
    failures: Failures,
}

type Calls = FuturesUnordered<Pin<Box<dyn Future<Output = (usize, Outcome)> + Send>>>;

impl<'a, R, W> Lanes<'a, R, W>
where
    R: FnMut(Vec<TxnStep>),
    W: FnMut(&TopicPartition, u64),
{
    fn new(collector: &'a RecordCollector, producer: Producer<'a>, record: R, written: W) -> Self {
        Self {
            collector,
            producer,
            record,
            written,
            busy: BTreeMap::new(),
            under_way: Vec::new(),
            failures: Failures::default(),
        }
    }

    fn stopped(&self) -> bool {
        self.failures.fenced.is_some()
            || (self.failures.failed.is_some() && self.producer.stops_on_failure())
    }

    /// Runs the lanes until nothing is left to send and every call is answered; `leader`
    /// gives a partition's broker.
    async fn run(
        &mut self,
        leader: impl Fn(&TopicPartition) -> sim::NodeId,
    ) -> Result<(), TxnError> {
        let mut calls = Calls::new();
        loop {
            // Made before looking, so no change between the look and the wait is missed.
            let changed = self.collector.changed();
            if !self.stopped()
                && let Some(round) = self
                    .collector
                    .try_round(|tp| !self.busy.contains_key(&leader(tp)))
            {
                self.start(round, &leader, &mut calls).await?;
                continue;
            }
            if calls.is_empty() {
                if self.stopped() || self.collector.is_finished() {
                    return Ok(());
                }
                changed.await;
                continue;
            }
            let next = calls.next();
            futures_util::pin_mut!(next, changed);
            if let Either::Left((Some((slot, outcome)), _)) = select(next, changed).await {
                self.take_answer(slot, outcome);
            }
        }
    }

    /// Records the steps handed over so far, then starts the round's calls, each holding
    /// its broker's lane.
    async fn start(
        &mut self,
        round: Round,
        leader: &impl Fn(&TopicPartition) -> sim::NodeId,
        calls: &mut Calls,
    ) -> Result<(), TxnError> {
        (self.record)(self.collector.take_unrecorded());
        let started = match self.producer.start(&round).await {
            Ok(started) => started,
            Err(e) => {
                self.collector.stop();
                return Err(e);
            }
        };
        for (batch, (call, answer)) in round.batches.into_iter().zip(started) {
            let lane = leader(&batch.tp);
            *self.busy.entry(lane).or_default() += 1;
            let slot = self.under_way.len();
            self.under_way.push(Some(UnderWay { lane, batch, call }));
            calls.push(Box::pin(async move { (slot, answer.await) }));
        }
        Ok(())
    }

    /// A call's answer: its records acknowledged, or the failure kept; its lane freed once
    /// every call of it is answered.
    fn take_answer(&mut self, slot: usize, outcome: Outcome) {
        let UnderWay { lane, batch, call } = self.under_way[slot].take().expect("answered once");
        match self.producer.answered(call.as_ref(), outcome) {
            ProduceAnswer::Appended(base) => {
                self.collector.acked(&batch, base);
                (self.written)(&batch.tp, base + batch.values.len() as u64);
            }
            ProduceAnswer::Fenced(why) => {
                self.failures.fenced.get_or_insert(why);
            }
            ProduceAnswer::Failed(why) => {
                self.failures.failed.get_or_insert(why);
            }
        }
        if self.stopped() {
            // Here, not where the loop waits: stopping notifies, and a wait made before it
            // would wake at once, again and again, with no time passing.
            self.collector.stop();
        }
        let calls = self.busy.get_mut(&lane).expect("the lane is busy");
        *calls -= 1;
        if *calls == 0 {
            self.busy.remove(&lane);
        }
    }
}

/// Sends a transaction's records in the background until the collector is closed and empty:
/// begins the transaction before the first batch; before each round, `record` gets the
/// history steps not yet recorded (the first call records the invoke); after each appended
/// batch, `written` gets its partition's end offset. A failed batch ends the sending (the
/// transaction is then abortable, or the producer fenced).
pub async fn send_transactional(
    collector: &RecordCollector,
    producer: &mut TransactionalProducer,
    leader: impl Fn(&TopicPartition) -> sim::NodeId,
    record: impl FnMut(Vec<TxnStep>),
    written: impl FnMut(&TopicPartition, u64),
) -> Result<(), TxnError> {
    let sender = Producer::Transactional {
        producer,
        began: false,
    };
    let mut lanes = Lanes::new(collector, sender, record, written);
    lanes.run(leader).await?;
    let Failures { fenced, failed } = std::mem::take(&mut lanes.failures);
    let Producer::Transactional { producer, .. } = &mut lanes.producer else {
        unreachable!("a transactional sender")
    };
    match producer.produce_failed(fenced, failed).await {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Sends at-least-once records (no idempotence, each batch retried until acknowledged or
/// timed out) in the background until the collector is closed and empty; before each round
/// `record` gets the history steps not yet recorded. A failed batch does not stop the
/// others; the first failure is returned.
pub async fn send_plain(
    collector: &RecordCollector,
    ctx: &ClientContext,
    request_timeout_ms: u64,
    record: impl FnMut(Vec<TxnStep>),
) -> Result<(), String> {
    let sender = Producer::Plain {
        ctx,
        request_timeout_ms,
    };
    let leader = |tp: &TopicPartition| ctx.cluster.leader(tp);
    let mut lanes = Lanes::new(collector, sender, record, |_: &TopicPartition, _| {});
    lanes
        .run(leader)
        .await
        .expect("a plain sender begins nothing that can fail");
    lanes.failures.failed.map_or(Ok(()), Err)
}
