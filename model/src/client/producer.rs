//! An async producer: idempotent or not, with retries, an in-flight limit and a delivery
//! timeout, after Kafka's `KafkaProducer` / `Sender` / `RecordAccumulator`.
//!
//! One sender task per partition keeps the unacknowledged batches in order (one record per
//! batch). Only the first `max_in_flight` unacknowledged batches may be on the wire, so with
//! idempotence every retry stays inside the broker's window of 5 retained batches. A failed
//! or timed-out attempt sends that batch and every later unacknowledged one again, in order
//! (their sequence numbers never change), after `retry_backoff`. A batch is given up when its
//! retries run out or it outlives `delivery_timeout`; an idempotent producer then bumps its
//! epoch and renumbers what is left from sequence 0 (KIP-360).
//!
//! Outcomes are honest: `ok` when a broker acknowledged an attempt; `fail` only when no
//! attempt can have been written (every attempt was answered with an error); otherwise `info`.
//!
//! Simplifications (documented in ARCHITECTURE.md): one record per batch; the epoch is bumped
//! per partition rather than producer-wide; leadership is static.

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use checker::history::{Operation, Phase};
use madsim::time::Instant;
use sim::RunLock;
use sim::chan as mpsc;
use tokio::sync::oneshot;

use super::ClientContext;
use crate::client::ProcessId;
use crate::protocol::{
    KafkaError, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, RecordBatch, Request, Response,
    TopicPartition,
};

/// Producer settings. Defaults follow Kafka's, scaled to simulated latencies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Producer id + sequence numbers, deduplicated by the broker (default true).
    pub enable_idempotence: bool,
    /// Retries per batch; 0 gives at-most-once (default `u32::MAX`).
    pub retries: u32,
    /// Unacknowledged batches on the wire per partition (default 5; ≤ 5 with idempotence).
    pub max_in_flight: usize,
    /// How long to wait for one response, ms (default 300; Kafka 30,000 over real networks).
    pub request_timeout_ms: u64,
    /// Pause before a retry, ms (default 50; Kafka 100).
    pub retry_backoff_ms: u64,
    /// Give a batch up this long after `send`, ms (default 120,000, Kafka's).
    pub delivery_timeout_ms: u64,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            enable_idempotence: true,
            retries: u32::MAX,
            max_in_flight: 5,
            request_timeout_ms: 300,
            retry_backoff_ms: 50,
            delivery_timeout_ms: 120_000,
        }
    }
}

/// The Kafka rule for idempotence: in-flight requests fit the broker's 5-batch window.
pub const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: usize = 5;

/// A configuration Kafka would reject.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid producer config: {0}")]
pub struct ConfigError(pub String);

impl ProducerConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_in_flight == 0 {
            return Err(ConfigError("max_in_flight must be at least 1".into()));
        }
        if self.enable_idempotence && self.max_in_flight > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
            return Err(ConfigError(format!(
                "idempotence requires max_in_flight <= {MAX_IN_FLIGHT_FOR_IDEMPOTENCE}, got {}",
                self.max_in_flight
            )));
        }
        if self.enable_idempotence && self.retries == 0 {
            return Err(ConfigError("idempotence requires retries > 0".into()));
        }
        Ok(())
    }
}

/// Why a send did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The value may or may not have been written (a timeout, or an error after an attempt
    /// that may have landed).
    #[error("outcome unknown: {0}")]
    Unknown(String),
    /// Definitely not written: every attempt was refused.
    #[error("failed: {0}")]
    Failed(String),
}

type Reply = oneshot::Sender<Result<u64, SendError>>;

struct Pending {
    value: u64,
    /// History process of this send: the sender records its completion.
    process: ProcessId,
    reply: Reply,
}

/// The outcome of a send, to await (Kafka's `Future<RecordMetadata>`). The completion is
/// recorded in the history when it happens, whether or not anyone awaits this.
pub struct Delivery(oneshot::Receiver<Result<u64, SendError>>);

impl std::future::Future for Delivery {
    type Output = Result<u64, SendError>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(SendError::Unknown("producer stopped".into()))))
    }
}

/// An async producer. Cheap to share behind an `Arc`.
pub struct Producer {
    ctx: ClientContext,
    config: ProducerConfig,
    producer_id: i64,
    senders: RunLock<BTreeMap<TopicPartition, mpsc::UnboundedSender<Pending>>>,
    calls: AtomicU64,
}

impl Producer {
    /// Creates a producer; an idempotent one first obtains a producer id (retrying until a
    /// broker answers).
    pub async fn connect(ctx: ClientContext, config: ProducerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let producer_id = if config.enable_idempotence {
            init_producer_id(&ctx, &config).await
        } else {
            NO_PRODUCER_ID
        };
        Ok(Self {
            ctx,
            config,
            producer_id,
            senders: RunLock::new(BTreeMap::new()),
            calls: AtomicU64::new(0),
        })
    }

    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    /// Sends `value` to `tp` without waiting (Kafka's `send`): recorded as an invoke now and
    /// as ok | fail | info when the outcome is known; await the `Delivery` for the outcome.
    pub fn send(&self, tp: &TopicPartition, value: u64) -> Delivery {
        let process = self
            .ctx
            .client_id
            .process(self.calls.fetch_add(1, Ordering::Relaxed));
        let op = Operation::Send {
            topic: tp.topic.clone(),
            partition: tp.partition,
            value,
            offset: None,
        };
        self.ctx.recorder.record(process, Phase::Invoke, op, None);
        let (reply, outcome) = oneshot::channel();
        let pending = Pending {
            value,
            process,
            reply,
        };
        self.with_sender(tp, |sender| sender.send(pending))
            .expect("partition sender runs as long as its node");
        Delivery(outcome)
    }

    /// Runs `f` on the channel to `tp`'s sender, starting the sender on first use (lent, not
    /// cloned: a clone and its drop each lock the channel).
    fn with_sender<R>(
        &self,
        tp: &TopicPartition,
        f: impl FnOnce(&mpsc::UnboundedSender<Pending>) -> R,
    ) -> R {
        let mut senders = self.senders.lock();
        if let Some(sender) = senders.get(tp) {
            return f(sender);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let sender = PartitionSender::new(
            self.ctx.clone(),
            self.config.clone(),
            tp.clone(),
            self.producer_id,
            rx,
        );
        self.ctx.sim.spawn_on(self.ctx.node, sender.run());
        f(senders.entry(tp.clone()).or_insert(tx))
    }
}

/// One batch to `tp` without idempotence (Kafka's producer with `enable.idempotence=false`,
/// acks=all and retries, default timeouts), retried until acknowledged or the delivery
/// timeout passes; returns its first offset. A retry after a lost ack writes the batch
/// twice. Each attempt times out after `request_timeout_ms` (`ProducerConfig`'s default
/// unless the caller's app sets one). Not recorded in the history: the caller records the
/// operation it is part of.
pub async fn send_batch_without_idempotence(
    ctx: &ClientContext,
    tp: &TopicPartition,
    values: Vec<u64>,
    request_timeout_ms: u64,
) -> Result<u64, String> {
    let config = ProducerConfig {
        request_timeout_ms,
        ..ProducerConfig::default()
    };
    let request = Request::Produce {
        tp: tp.clone(),
        batch: RecordBatch {
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            values: Arc::from(values),
            transactional: false,
        },
    };
    let leader = ctx.cluster.leader(tp);
    let timeout = Duration::from_millis(config.request_timeout_ms);
    let deadline = sim::now_ms() + config.delivery_timeout_ms;
    loop {
        match ctx
            .net
            .call(ctx.node, leader, request.clone(), timeout)
            .await
        {
            Ok(Response::Produce(Ok(ok))) => return Ok(ok.base_offset),
            Ok(Response::Produce(Err(e))) if !e.is_retriable() => return Err(e.to_string()),
            Ok(Response::Produce(Err(_))) | Err(_) => {}
            Ok(other) => panic!("produce answered with {other:?}"),
        }
        if sim::now_ms() >= deadline {
            return Err(format!("produce to {tp} timed out"));
        }
        madsim::time::sleep(Duration::from_millis(config.retry_backoff_ms)).await;
    }
}

async fn init_producer_id(ctx: &ClientContext, config: &ProducerConfig) -> i64 {
    let timeout = Duration::from_millis(config.request_timeout_ms);
    let request = Request::InitProducerId {
        transactional_id: None,
        txn_timeout_ms: 0,
    };
    for attempt in 0usize.. {
        let broker = ctx.cluster.brokers[attempt % ctx.cluster.brokers.len()];
        if let Ok(Response::InitProducerId(Ok((producer_id, _epoch)))) = ctx
            .net
            .call(ctx.node, broker, request.clone(), timeout)
            .await
        {
            return producer_id;
        }
        madsim::time::sleep(Duration::from_millis(config.retry_backoff_ms)).await;
    }
    unreachable!("the loop only ends by returning")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BatchState {
    Unsent,
    /// On the wire as attempt number `attempt`; responses to older attempts are stale.
    InFlight {
        attempt: u32,
    },
    Acked,
}

struct Batch {
    id: u64,
    value: u64,
    process: ProcessId,
    sequence: i32,
    epoch: i16,
    enqueued_at: Instant,
    attempts: u32,
    /// Some attempt may have been written (it timed out or its answer is still out).
    maybe_written: bool,
    state: BatchState,
    reply: Option<Reply>,
}

/// A call's tag carries the batch id and the attempt number, so a late answer to an earlier
/// attempt is recognised as stale.
const ATTEMPT_BITS: u32 = 20;

fn attempt_tag(batch_id: u64, attempt: u32) -> u64 {
    assert!(
        attempt < 1 << ATTEMPT_BITS,
        "attempt number overflows its tag bits"
    );
    batch_id << ATTEMPT_BITS | attempt as u64
}

fn split_tag(tag: u64) -> (u64, u32) {
    (
        tag >> ATTEMPT_BITS,
        (tag & ((1 << ATTEMPT_BITS) - 1)) as u32,
    )
}

struct PartitionSender {
    ctx: ClientContext,
    config: ProducerConfig,
    tp: TopicPartition,
    /// The partition's leader (placement is static: looked up once, not per send).
    leader: sim::NodeId,
    producer_id: i64,
    epoch: i16,
    next_sequence: i32,
    next_batch_id: u64,
    /// Unfinished batches in send order (acknowledged ones leave from the front).
    queue: VecDeque<Batch>,
    backoff_until: Option<Instant>,
    incoming: mpsc::UnboundedReceiver<Pending>,
    /// Outcomes of this sender's calls, tagged by `attempt_tag`.
    outcomes: mpsc::UnboundedReceiver<(u64, Result<Response, sim::CallError>)>,
    outcome_sink: sim::net::CallSink<Response>,
}

impl PartitionSender {
    fn new(
        ctx: ClientContext,
        config: ProducerConfig,
        tp: TopicPartition,
        producer_id: i64,
        incoming: mpsc::UnboundedReceiver<Pending>,
    ) -> Self {
        let epoch = if producer_id == NO_PRODUCER_ID {
            NO_PRODUCER_EPOCH
        } else {
            0
        };
        let (outcome_sink, outcomes) = mpsc::unbounded_channel();
        let leader = ctx.cluster.leader(&tp);
        Self {
            ctx,
            config,
            tp,
            leader,
            producer_id,
            epoch,
            next_sequence: 0,
            next_batch_id: 0,
            queue: VecDeque::new(),
            backoff_until: None,
            incoming,
            outcomes,
            outcome_sink,
        }
    }

    fn idempotent(&self) -> bool {
        self.producer_id != NO_PRODUCER_ID
    }

    async fn run(mut self) {
        let mut open = true;
        let mut alarm = sim::Alarm::new();
        loop {
            let now = sim::trace::now();
            self.expire(now);
            if self.backoff_until.is_some_and(|t| t <= now) {
                self.backoff_until = None;
            }
            if self.backoff_until.is_none() {
                self.send_ready();
            }
            if !open && self.queue.is_empty() {
                return;
            }
            alarm.set(self.next_wakeup());
            tokio::select! {
                biased;
                Some((tag, result)) = self.outcomes.recv() => {
                    let (id, attempt) = split_tag(tag);
                    self.on_result(id, attempt, result);
                }
                pending = self.incoming.recv(), if open => match pending {
                    Some(p) => self.enqueue(p),
                    None => open = false,
                },
                _ = alarm.fired() => {}
            }
        }
    }

    fn enqueue(&mut self, pending: Pending) {
        let sequence = if self.idempotent() {
            self.take_sequence()
        } else {
            NO_SEQUENCE
        };
        self.queue.push_back(Batch {
            id: self.next_batch_id,
            value: pending.value,
            process: pending.process,
            sequence,
            epoch: self.epoch,
            enqueued_at: sim::trace::now(),
            attempts: 0,
            maybe_written: false,
            state: BatchState::Unsent,
            reply: Some(pending.reply),
        });
        self.next_batch_id += 1;
    }

    fn take_sequence(&mut self) -> i32 {
        let s = self.next_sequence;
        self.next_sequence = if s == i32::MAX { 0 } else { s + 1 };
        s
    }

    /// The oldest unacknowledged batch: batches are queued in send order, so it is the first
    /// one not yet acknowledged (acknowledged ones leave from the front).
    fn oldest_unacked(&self) -> Option<&Batch> {
        self.queue.iter().find(|b| b.state != BatchState::Acked)
    }

    /// The earliest of: backoff end, next delivery-timeout expiry.
    fn next_wakeup(&self) -> Option<Instant> {
        let expiry = self
            .oldest_unacked()
            .map(|b| b.enqueued_at + Duration::from_millis(self.config.delivery_timeout_ms));
        match (self.backoff_until, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Puts every unsent batch within the in-flight window on the wire.
    fn send_ready(&mut self) {
        let window = self.config.max_in_flight.min(self.queue.len());
        let leader = self.leader;
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        for i in 0..window {
            let batch = &mut self.queue[i];
            if batch.state != BatchState::Unsent {
                continue;
            }
            batch.attempts += 1;
            batch.state = BatchState::InFlight {
                attempt: batch.attempts,
            };
            batch.maybe_written = true;
            let request = Request::Produce {
                tp: self.tp.clone(),
                batch: RecordBatch {
                    producer_id: self.producer_id,
                    producer_epoch: batch.epoch,
                    base_sequence: batch.sequence,
                    values: Arc::from([batch.value]),
                    transactional: false,
                },
            };
            let tag = attempt_tag(batch.id, batch.attempts);
            self.ctx.net.start_call(
                self.ctx.node,
                leader,
                request,
                timeout,
                &self.outcome_sink,
                tag,
            );
        }
    }

    fn on_result(&mut self, id: u64, attempt: u32, result: Result<Response, sim::CallError>) {
        // Batch ids grow along the queue.
        let Ok(index) = self.queue.binary_search_by_key(&id, |b| b.id) else {
            return;
        };
        let current = self.queue[index].state == BatchState::InFlight { attempt };
        match result {
            Ok(Response::Produce(Ok(ok))) => {
                // Any attempt's acknowledgement is valid: every attempt carries the same batch.
                self.complete(index, Ok(ok.base_offset));
            }
            Ok(Response::Produce(Err(error))) if current => {
                if attempt == 1 && self.queue[index].attempts == 1 {
                    // Answered, so this (only) attempt was not written.
                    self.queue[index].maybe_written = false;
                }
                self.on_failure(index, Some(error));
            }
            // Timed out, or the connection closed under it: unknown, retry.
            Err(_) if current => self.on_failure(index, None),
            Ok(Response::Produce(Err(_))) | Err(_) => {}
            Ok(other) => panic!("produce answered with {other:?}"),
        }
        self.drop_acked_front();
    }

    fn on_failure(&mut self, index: usize, error: Option<KafkaError>) {
        let batch = &self.queue[index];
        let retries_left = batch.attempts <= self.config.retries;
        let head = self.queue.iter().position(|b| b.state != BatchState::Acked) == Some(index);
        let give_up = !retries_left
            || error == Some(KafkaError::InvalidProducerEpoch)
            || error.is_some_and(|e| !e.is_retriable())
            // Out of order at the head: the broker's state lost our sequence (KIP-360).
            || (self.idempotent() && head && error == Some(KafkaError::OutOfOrderSequence));
        if give_up {
            let reason = error.map_or("request timed out".to_string(), |e| e.to_string());
            self.give_up(index, reason);
            return;
        }
        // Go back: this batch and every later unacknowledged one are sent again, in order.
        for b in self.queue.iter_mut().skip(index) {
            if b.state != BatchState::Acked {
                b.state = BatchState::Unsent;
            }
        }
        self.backoff_until =
            Some(sim::trace::now() + Duration::from_millis(self.config.retry_backoff_ms));
    }

    /// Completes a batch that will not be retried, then (idempotent) bumps the epoch so the
    /// sequence gap it leaves cannot block the batches behind it.
    fn give_up(&mut self, index: usize, reason: String) {
        tracing::debug!(partition = %self.tp, value = self.queue[index].value, %reason, "send given up");
        let error = if self.queue[index].maybe_written {
            SendError::Unknown(reason)
        } else {
            SendError::Failed(reason)
        };
        self.complete(index, Err(error));
        if self.idempotent() {
            self.bump_epoch();
        }
    }

    /// KIP-360 for an idempotent producer: a new epoch, sequences restart at 0. A batch that
    /// may already be in the log under the old epoch is given up as unknown rather than sent
    /// again under the new one, where the broker could not recognise it as a duplicate.
    fn bump_epoch(&mut self) {
        self.epoch = self.epoch.checked_add(1).expect("producer epoch exhausted");
        self.next_sequence = 0;
        crate::CoveragePoint::ClientEpochBump.hit();
        crate::TraceNote::EpochBump.record(
            self.ctx.node,
            self.producer_id as u64,
            self.epoch as u64,
        );
        let mut index = 0;
        while index < self.queue.len() {
            if self.queue[index].state == BatchState::Acked {
                index += 1;
                continue;
            }
            if self.queue[index].maybe_written {
                let e =
                    SendError::Unknown("abandoned at epoch bump: it may have been written".into());
                self.complete(index, Err(e));
                continue;
            }
            let sequence = self.take_sequence();
            let batch = &mut self.queue[index];
            batch.sequence = sequence;
            batch.epoch = self.epoch;
            batch.state = BatchState::Unsent;
            index += 1;
        }
        self.drop_acked_front();
    }

    /// Batches older than the delivery timeout are given up (oldest first).
    fn expire(&mut self, now: Instant) {
        let limit = Duration::from_millis(self.config.delivery_timeout_ms);
        while let Some(index) = self.queue.iter().position(|b| b.state != BatchState::Acked) {
            if now - self.queue[index].enqueued_at < limit {
                return;
            }
            self.give_up(index, "delivery timeout expired".into());
        }
    }

    /// Answers the caller and marks the batch done (acked batches leave from the front; a
    /// failed one is removed at once).
    fn complete(&mut self, index: usize, outcome: Result<u64, SendError>) {
        let batch = &mut self.queue[index];
        if let Some(reply) = batch.reply.take() {
            let op = |offset| Operation::Send {
                topic: self.tp.topic.clone(),
                partition: self.tp.partition,
                value: batch.value,
                offset,
            };
            let recorder = &self.ctx.recorder;
            match &outcome {
                Ok(offset) => recorder.record(batch.process, Phase::Ok, op(Some(*offset)), None),
                Err(SendError::Failed(e)) => {
                    recorder.record(batch.process, Phase::Fail, op(None), Some(e.clone()))
                }
                Err(SendError::Unknown(e)) => {
                    recorder.record(batch.process, Phase::Info, op(None), Some(e.clone()))
                }
            };
            let _ = reply.send(outcome.clone());
        }
        match outcome {
            Ok(_) => batch.state = BatchState::Acked,
            Err(_) => {
                self.queue.remove(index);
            }
        }
    }

    fn drop_acked_front(&mut self) {
        while self
            .queue
            .front()
            .is_some_and(|b| b.state == BatchState::Acked)
        {
            self.queue.pop_front();
        }
    }
}
