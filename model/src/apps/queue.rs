//! The Jepsen-style queue workload (jepsen-kafka-checker.md §1): client processes do random
//! sends, polls and transactions of sends and polls over the partitions of the workload's
//! topics, and every operation is recorded for the log and transaction checkers.
//!
//! Each client (node `client-k`) owns one idempotent producer for its single sends (recorded
//! by the producer as `Operation::Send`), one consumer (its polls are recorded here as
//! `Operation::Poll`, or as poll steps of a transaction) with a position per partition, and —
//! under exactly-once — one `TransactionalProducer` (transactional.id `queue-k`). An operation
//! is drawn from the client's random stream: a quarter single sends, a quarter single polls,
//! half transactions of 1..=`max_txn_len` micro-ops (each a send or a poll of a random
//! partition). A transaction that polled sends its next offsets to the transaction (group
//! `queue-k`), as Jepsen's client does; about one in `abort_one_in` transactions is aborted on
//! purpose (Jepsen's abort-p), and about half pause between micro-ops (Jepsen's
//! intra-txn-delay) so that late requests find transactions open.
//!
//! Outcomes, as Jepsen's `safe-abort!`: a transaction that never tried to commit is `fail`
//! (its abort is definite, even if the abort call itself failed); a commit answered with an
//! error is `fail`; a commit whose outcome cannot be known is `info`. A failed or unknown
//! transaction rewinds the consumer positions to where it started (Jepsen's
//! with-consumer-rollback); a fenced or broken transactional producer is replaced by a new one
//! (`init_transactions` fences and aborts what the old one left open).
//!
//! Under at-least-once and at-most-once there are no transactions: a "transaction" is a
//! non-transactional batch (`transactional: false`) of sends through the plain producer
//! (retries without idempotence, or no retries) and polls, followed by a plain offset commit;
//! it cannot be aborted, so none is aborted on purpose. Such a batch is `ok` when every send
//! was acknowledged and the offsets committed, else `info`.
//!
//! Bounded: each client performs `ops_per_client` operations in all, counted across its
//! restarts. A restarted client starts from its group's committed offsets.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checker::history::{Operation, Phase, PolledRecord, TxnStep};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::queue_script::{ScriptMicro, ScriptOp};
use crate::client::ProcessId;
use crate::client::consumer::Consumer;
use crate::client::{
    ClientContext, Producer, ProducerConfig, TransactionalConfig, TransactionalProducer, TxnError,
};
use crate::fault_point::FaultPoint;
use crate::protocol::{GroupMetadata, IsolationLevel, TopicPartition};
use sim::Decision;

/// Shape of the queue workload. Defaults: 4 clients × 60 operations over every topic of the
/// cluster, transactions of up to 4 micro-ops, one in 30 aborted on purpose, 1–20 ms between
/// operations, 1–40 ms between the micro-ops of half the transactions, 10 s transaction
/// timeout, polls of up to 10 records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueWorkload {
    pub clients: u32,
    /// Operations per client (sends, polls and transactions), across its restarts.
    pub ops_per_client: u32,
    /// Topics the clients use (default: every topic of the cluster).
    pub topics: Vec<String>,
    /// Most micro-ops in one transaction (Jepsen's max-txn-length).
    pub max_txn_len: u32,
    /// About one transaction in this many is aborted on purpose (0: none).
    pub abort_one_in: u32,
    /// Longest pause between two operations of a client, ms (drawn from 1..=).
    pub op_interval_ms: u64,
    /// About half the transactions pause up to this long between micro-ops, ms (0: never).
    pub intra_txn_delay_ms: u64,
    /// About half the transactions pause up to this long after their last micro-op, before
    /// they commit or abort, ms (a slow application, or one that ends transactions on an
    /// interval, as Streams' commit.interval.ms). Default 0: never.
    pub end_txn_delay_ms: u64,
    /// The transactional producers' transaction timeout, ms.
    pub txn_timeout_ms: u64,
    /// A transaction's consecutive sends to one partition go out as one batch (one produce
    /// request, consecutive offsets), as Kafka's producer batches records sent together.
    /// Default false: each send is its own batch of one record.
    pub batch_sends: bool,
    /// Most records one poll returns.
    pub max_poll_records: u32,
    /// Whether faults may crash or pause the client nodes (default false). A crashed
    /// client's unfinished operations stay open in the history: indeterminate, as Jepsen
    /// treats an operation without a completion (the log checker does not report an open
    /// send whose value never reached the log as `missing`).
    pub crash_clients: bool,
    /// One list of operations per client, run in place of random ones (`ops_per_client`,
    /// `max_txn_len`, `abort_one_in` and the pacing then do not apply): see
    /// [`super::queue_script`]. Default empty: random operations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub script: Vec<Vec<ScriptOp>>,
}

impl Default for QueueWorkload {
    fn default() -> Self {
        Self {
            clients: 4,
            ops_per_client: 60,
            topics: Vec::new(),
            max_txn_len: 4,
            abort_one_in: 30,
            op_interval_ms: 20,
            intra_txn_delay_ms: 40,
            end_txn_delay_ms: 0,
            txn_timeout_ms: 10_000,
            batch_sends: false,
            max_poll_records: 10,
            crash_clients: false,
            script: Vec::new(),
        }
    }
}

impl QueueWorkload {
    /// The operations client `k` (0-based) runs: its script's, or `ops_per_client`.
    pub fn ops_of(&self, client: u32) -> u64 {
        if self.script.is_empty() {
            u64::from(self.ops_per_client)
        } else {
            self.script
                .get(client as usize)
                .map_or(0, |ops| ops.len() as u64)
        }
    }
}

/// Values client `k` (0-based) may send: `(k + 1) × VALUES_PER_CLIENT + n`.
pub const VALUES_PER_CLIENT: u64 = 1_000_000;

/// Pause between two checks of whether a partition's transactions are decided.
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// Pause before retrying an unanswered OffsetFetch.
const RETRY_BACKOFF: Duration = Duration::from_millis(50);

/// The transactional.id and consumer group of client `k` (0-based).
pub fn client_group(client: u32) -> String {
    format!("queue-{}", client + 1)
}

/// Which clients have done all their operations (each counted once, across restarts).
#[derive(Clone, Default)]
pub struct QueueCompletion {
    finished: Arc<Mutex<BTreeSet<u32>>>,
    notify: Arc<Notify>,
}

impl QueueCompletion {
    pub fn finished(&self) -> usize {
        self.finished.lock().expect("completion lock").len()
    }

    fn finish(&self, client: u32) {
        self.finished
            .lock()
            .expect("completion lock")
            .insert(client);
        self.notify.notify_waiters();
    }

    pub async fn wait_for(&self, count: usize) {
        loop {
            let notified = self.notify.notified();
            if self.finished() >= count {
                return;
            }
            notified.await;
        }
    }
}

/// What a client keeps across its restarts: how many operations it has started and how many
/// values it has drawn (so no value is ever sent twice).
#[derive(Default)]
pub struct ClientProgress {
    ops: AtomicU64,
    values: AtomicU64,
}

/// How a client's operations are carried out (from the guarantee and the variants).
#[derive(Clone, Debug)]
pub struct QueueMode {
    /// Transactions through a `TransactionalProducer` (exactly-once); otherwise
    /// non-transactional batches.
    pub transactional: bool,
    /// The plain producer's settings (single sends, and batches without transactions).
    pub producer: ProducerConfig,
}

/// One incarnation of queue client `client`.
pub struct QueueClient {
    /// `client_id` is this incarnation's first history client id; it uses four from there
    /// (its loop, its producer, its transactional producer, its consumer).
    pub ctx: ClientContext,
    pub workload: QueueWorkload,
    pub client: u32,
    pub incarnation: u64,
    /// The partitions of the workload's topics.
    pub partitions: Vec<TopicPartition>,
    pub mode: QueueMode,
    pub progress: Arc<ClientProgress>,
    pub done: QueueCompletion,
}

/// A micro-op of a transaction: a send of a value, or a poll.
#[derive(Clone, Debug)]
enum Micro {
    Send(TopicPartition, u64),
    Poll(TopicPartition),
}

/// Why a transaction (or batch) ended as it did.
/// How a random transaction is to end: aborted on purpose or committed, after a pause.
#[derive(Clone, Copy, Debug)]
struct TxnEnding {
    abort: bool,
    pause: Option<Duration>,
}

enum TxnEnd {
    Committed,
    /// Definitely aborted (on purpose, or after an error before the commit).
    Aborted(String),
    Unknown(String),
}

impl QueueClient {
    fn sub_client(&self, offset: u64) -> ClientContext {
        ClientContext {
            client_id: self.ctx.client_id.sub_client(offset),
            ..self.ctx.clone()
        }
    }

    /// The isolation level of the workload's polls: read_committed unless the
    /// `read-uncommitted` variant is in force.
    fn isolation(&self) -> IsolationLevel {
        if self.ctx.switches.read_committed {
            IsolationLevel::ReadCommitted
        } else {
            IsolationLevel::ReadUncommitted
        }
    }

    fn process(&self) -> ProcessId {
        self.ctx.client_id.process(0)
    }

    fn next_value(&self) -> u64 {
        let n = self.progress.values.fetch_add(1, Ordering::Relaxed);
        assert!(
            n < VALUES_PER_CLIENT,
            "client {} ran out of values",
            self.client
        );
        (self.client as u64 + 1) * VALUES_PER_CLIENT + n
    }

    fn group(&self) -> String {
        client_group(self.client)
    }

    /// The group's committed offsets (0 where none), retried until the group coordinator
    /// answers with stable offsets.
    async fn committed_positions(&self, consumer: &Consumer) -> BTreeMap<TopicPartition, u64> {
        loop {
            if let Ok(offsets) = consumer.committed(&self.group(), &self.partitions).await {
                return offsets
                    .into_iter()
                    .map(|(tp, offset)| (tp, offset.unwrap_or(0)))
                    .collect();
            }
            madsim::time::sleep(RETRY_BACKOFF).await;
        }
    }

    async fn new_txn_producer(&self) -> Option<TransactionalProducer> {
        let mut producer = TransactionalProducer::new(
            self.sub_client(2),
            TransactionalConfig {
                txn_timeout_ms: self.workload.txn_timeout_ms,
                record_history: false,
                ..TransactionalConfig::new(&self.group())
            },
        );
        producer.init_transactions().await.ok()?;
        Some(producer)
    }

    /// Runs the client's remaining operations, then reports it finished.
    pub async fn run(self) {
        let mut rng = self.ctx.sim.rng(&format!(
            "queue-client-{}-{}",
            self.client, self.incarnation
        ));
        let consumer = Consumer::new(self.sub_client(3));
        let producer = Producer::connect(self.sub_client(1), self.mode.producer.clone())
            .await
            .expect("the guarantee's producer config is valid");
        let mut txn_producer = None;
        let mut positions = self.committed_positions(&consumer).await;
        let scripted = !self.workload.script.is_empty();
        loop {
            let index = self.progress.ops.fetch_add(1, Ordering::Relaxed);
            if index >= self.workload.ops_of(self.client) {
                break;
            }
            if scripted {
                let op = &self.workload.script[self.client as usize][index as usize];
                let ops = (&producer, &consumer, &mut positions);
                self.scripted_op(op, ops, &mut txn_producer).await;
                continue;
            }
            let pause = rng.gen_range(1..=self.workload.op_interval_ms.max(1));
            madsim::time::sleep(Duration::from_millis(pause)).await;
            let tp = self.partitions.choose(&mut rng).expect("validated").clone();
            match rng.gen_range(0..4) {
                0 => {
                    // Recorded by the producer itself.
                    let _ = producer.send(&tp, self.next_value()).await;
                }
                1 => self.poll(&consumer, &tp, &mut positions).await,
                _ => {
                    let micros = self.draw_txn(&mut rng);
                    let abort = self.workload.abort_one_in > 0
                        && rng.gen_range(0..self.workload.abort_one_in) == 0;
                    let ending = TxnEnding {
                        abort,
                        pause: self.draw_end_pause(&mut rng),
                    };
                    let delay = (self.workload.intra_txn_delay_ms > 0 && rng.gen_bool(0.5))
                        .then_some(self.workload.intra_txn_delay_ms);
                    let mut delays = || delay.map(|d| Duration::from_millis(rng.gen_range(1..=d)));
                    if self.mode.transactional {
                        if txn_producer.is_none() {
                            txn_producer = self.new_txn_producer().await;
                        }
                        let Some(p) = txn_producer.as_mut() else {
                            continue; // fenced while initialising: try again next time
                        };
                        let healthy = self
                            .transaction(p, &consumer, &micros, ending, &mut positions, &mut delays)
                            .await;
                        if !healthy {
                            txn_producer = None;
                        }
                    } else {
                        self.batch(&producer, &consumer, &micros, &mut positions, &mut delays)
                            .await;
                    }
                }
            }
        }
        self.done.finish(self.client);
    }

    /// One operation of the client's script (`queue_script`), recorded as the random
    /// workload's are.
    async fn scripted_op(
        &self,
        op: &ScriptOp,
        (producer, consumer, positions): (&Producer, &Consumer, &mut BTreeMap<TopicPartition, u64>),
        txn_producer: &mut Option<TransactionalProducer>,
    ) {
        let micros = match op {
            ScriptOp::Send(tp) => {
                let _ = producer.send(tp, self.next_value()).await;
                return;
            }
            ScriptOp::Poll(tp) => return self.poll(consumer, tp, positions).await,
            ScriptOp::Sleep { ms } => {
                return madsim::time::sleep(Duration::from_millis(*ms)).await;
            }
            ScriptOp::Txn { micros, .. } => micros,
        };
        let abort = matches!(op, ScriptOp::Txn { commit: false, .. });
        // Each step after the first waits the script's sleeps written before it.
        let (mut steps, mut pauses, mut pause_ms) = (Vec::new(), Vec::new(), 0);
        for micro in micros {
            let step = match micro {
                ScriptMicro::Sleep(ms) => {
                    pause_ms += ms;
                    continue;
                }
                ScriptMicro::Send(tp) => Micro::Send(tp.clone(), self.next_value()),
                ScriptMicro::Poll(tp) => Micro::Poll(tp.clone()),
            };
            if !steps.is_empty() {
                pauses.push((pause_ms > 0).then(|| Duration::from_millis(pause_ms)));
            }
            pause_ms = 0;
            steps.push(step);
        }
        let micros = steps;
        let mut pauses = pauses.into_iter();
        let mut script_pauses = || pauses.next().flatten();
        if !self.mode.transactional {
            return self
                .batch(producer, consumer, &micros, positions, &mut script_pauses)
                .await;
        }
        if txn_producer.is_none() {
            *txn_producer = self.new_txn_producer().await;
        }
        let Some(p) = txn_producer.as_mut() else {
            return; // fenced while initialising: the operation is skipped
        };
        let healthy = self
            .transaction(
                p,
                consumer,
                &micros,
                TxnEnding { abort, pause: None },
                positions,
                &mut script_pauses,
            )
            .await;
        if !healthy {
            *txn_producer = None;
        }
    }

    /// The pause before a transaction ends (`end_txn_delay_ms`): drawn only when set, so
    /// workloads without it draw what they always drew.
    fn draw_end_pause(&self, rng: &mut impl Rng) -> Option<Duration> {
        let most_ms = self.workload.end_txn_delay_ms;
        (most_ms > 0 && rng.gen_bool(0.5))
            .then(|| Duration::from_millis(rng.gen_range(1..=most_ms)))
    }

    fn draw_txn(&self, rng: &mut impl Rng) -> Vec<Micro> {
        let len = rng.gen_range(1..=self.workload.max_txn_len.max(1));
        (0..len)
            .map(|_| {
                let tp = self.partitions.choose(rng).expect("validated").clone();
                if rng.gen_bool(0.5) {
                    Micro::Send(tp, self.next_value())
                } else {
                    Micro::Poll(tp)
                }
            })
            .collect()
    }

    /// One fetch from the position, unrecorded; advances the position.
    async fn fetch(
        &self,
        consumer: &Consumer,
        tp: &TopicPartition,
        positions: &mut BTreeMap<TopicPartition, u64>,
    ) -> Result<Vec<PolledRecord>, String> {
        let position = positions.get(tp).copied().unwrap_or(0);
        let fetched = consumer
            .fetch(
                tp,
                position,
                self.workload.max_poll_records,
                self.isolation(),
            )
            .await
            .map_err(|e| e.to_string())?;
        positions.insert(tp.clone(), fetched.next_offset);
        Ok(fetched
            .records
            .iter()
            .map(|&(offset, value)| PolledRecord { offset, value })
            .collect())
    }

    /// A single poll, recorded as `Operation::Poll` (a failed read did nothing: `fail`).
    async fn poll(
        &self,
        consumer: &Consumer,
        tp: &TopicPartition,
        positions: &mut BTreeMap<TopicPartition, u64>,
    ) {
        let op = |from_offset, records| Operation::Poll {
            topic: tp.topic.clone(),
            partition: tp.partition,
            from_offset,
            records,
        };
        let from = positions.get(tp).copied().unwrap_or(0);
        let recorder = &self.ctx.recorder;
        recorder.record(self.process(), Phase::Invoke, op(from, Vec::new()), None);
        match self.fetch(consumer, tp, positions).await {
            Ok(records) => recorder.record(self.process(), Phase::Ok, op(from, records), None),
            Err(e) => recorder.record(self.process(), Phase::Fail, op(from, Vec::new()), Some(e)),
        };
    }

    fn txn_op(&self, transactional: bool, steps: Vec<TxnStep>) -> Operation {
        Operation::Txn {
            transactional,
            txn_id: Some(self.group()),
            steps,
        }
    }

    fn planned_steps(micros: &[Micro]) -> Vec<TxnStep> {
        micros
            .iter()
            .map(|m| match m {
                Micro::Send(tp, value) => TxnStep::Send {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    value: *value,
                    source: None,
                    offset: None,
                },
                Micro::Poll(tp) => TxnStep::Poll {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    records: Vec::new(),
                },
            })
            .collect()
    }

    /// Offsets to commit after polling `polled`: each one's position, as commit-offset steps.
    fn commit_steps(
        &self,
        polled: &BTreeSet<TopicPartition>,
        positions: &BTreeMap<TopicPartition, u64>,
    ) -> Vec<(TopicPartition, u64)> {
        polled
            .iter()
            .map(|tp| (tp.clone(), positions.get(tp).copied().unwrap_or(0)))
            .collect()
    }

    fn commit_offset_step(&self, tp: &TopicPartition, offset: u64) -> TxnStep {
        TxnStep::CommitOffset {
            group: self.group(),
            topic: tp.topic.clone(),
            partition: tp.partition,
            offset,
        }
    }

    /// One transaction through `producer`, recorded as one transactional `Operation::Txn`.
    /// Returns whether the producer is still usable.
    async fn transaction(
        &self,
        producer: &mut TransactionalProducer,
        consumer: &Consumer,
        micros: &[Micro],
        ending: TxnEnding,
        positions: &mut BTreeMap<TopicPartition, u64>,
        delays: &mut impl FnMut() -> Option<Duration>,
    ) -> bool {
        let recorder = &self.ctx.recorder;
        recorder.record(
            self.process(),
            Phase::Invoke,
            self.txn_op(true, Self::planned_steps(micros)),
            None,
        );
        let start = positions.clone();
        let mut steps = Vec::new();
        let mut polled = BTreeSet::new();
        let steps_result = self
            .transaction_steps(
                producer,
                consumer,
                micros,
                positions,
                delays,
                &mut steps,
                &mut polled,
            )
            .await;
        if steps_result.is_ok()
            && let Some(pause) = ending.pause
        {
            madsim::time::sleep(pause).await;
        }
        let end = match steps_result {
            Err(e) => TxnEnd::Aborted(e.to_string()),
            Ok(()) if ending.abort => TxnEnd::Aborted("aborted on purpose".into()),
            Ok(()) if self.closes_before_commit(producer).await => {
                // The producer is closed with its transaction open: it never commits (the
                // coordinator's timeout, or the next init_transactions, aborts it).
                return self.closed_without_commit(steps, positions, start);
            }
            Ok(()) => match producer.commit_transaction().await {
                Ok(()) => TxnEnd::Committed,
                // The coordinator answered the commit with an error (Jepsen: definite).
                Err(TxnError::Fatal(why) | TxnError::Abortable(why)) => TxnEnd::Aborted(why),
                Err(TxnError::Unknown(why)) => TxnEnd::Unknown(why),
            },
        };
        let (phase, error) = match end {
            TxnEnd::Committed => (Phase::Ok, None),
            // Never tried to commit, or the commit was refused: definitely aborted, whatever
            // the abort call says (a fenced producer's transaction is aborted by the fence).
            TxnEnd::Aborted(why) if producer.can_abort() => {
                match producer.abort_transaction().await {
                    Ok(()) => (Phase::Fail, Some(why)),
                    Err(e) => (Phase::Fail, Some(format!("{why}; abort: {e}"))),
                }
            }
            TxnEnd::Aborted(why) => (Phase::Fail, Some(why)),
            TxnEnd::Unknown(why) => (Phase::Info, Some(why)),
        };
        if phase != Phase::Ok {
            *positions = start;
        }
        recorder.record(self.process(), phase, self.txn_op(true, steps), error);
        !producer.is_fatal()
    }

    /// Whether a plan decides, at `client:before-commit`, that the application closes its
    /// producer instead of committing.
    async fn closes_before_commit(&self, producer: &TransactionalProducer) -> bool {
        let id = producer.transactional_id();
        let event = FaultPoint::BeforeCommit.event(None, Some(id));
        self.ctx.sim.at_point(self.ctx.node, &event).await == Decision::Close
    }

    /// Records a transaction closed without committing (definitely not committed) and says
    /// the producer is gone.
    fn closed_without_commit(
        &self,
        steps: Vec<TxnStep>,
        positions: &mut BTreeMap<TopicPartition, u64>,
        start: BTreeMap<TopicPartition, u64>,
    ) -> bool {
        *positions = start;
        let why = Some("the application closed the producer without committing".to_string());
        let op = self.txn_op(true, steps);
        self.ctx
            .recorder
            .record(self.process(), Phase::Fail, op, why);
        false
    }

    /// The micro-ops of a transaction, then its offsets; `steps` collects what was done.
    #[allow(clippy::too_many_arguments)]
    async fn transaction_steps(
        &self,
        producer: &mut TransactionalProducer,
        consumer: &Consumer,
        micros: &[Micro],
        positions: &mut BTreeMap<TopicPartition, u64>,
        delays: &mut impl FnMut() -> Option<Duration>,
        steps: &mut Vec<TxnStep>,
        polled: &mut BTreeSet<TopicPartition>,
    ) -> Result<(), TxnError> {
        producer.begin_transaction()?;
        let mut i = 0;
        while i < micros.len() {
            if i > 0
                && let Some(pause) = delays()
            {
                madsim::time::sleep(pause).await;
            }
            match &micros[i] {
                Micro::Send(tp, _) => {
                    let values = self.batch_at(micros, i);
                    i += values.len();
                    self.send_in_transaction(producer, tp, &values, steps)
                        .await?;
                    continue;
                }
                Micro::Poll(tp) => {
                    let records = self
                        .fetch(consumer, tp, positions)
                        .await
                        .map_err(TxnError::Abortable)?;
                    polled.insert(tp.clone());
                    steps.push(TxnStep::Poll {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        records,
                    });
                }
            }
            i += 1;
        }
        if !polled.is_empty() {
            let offsets = self.commit_steps(polled, positions);
            let group = GroupMetadata::static_assignment(&self.group());
            producer
                .send_offsets_to_transaction(&offsets, &group)
                .await?;
            steps.extend(
                offsets
                    .iter()
                    .map(|(tp, o)| self.commit_offset_step(tp, *o)),
            );
        }
        Ok(())
    }

    /// The values of the send at `micros[i]` and, with `batch_sends`, of the sends right
    /// after it to the same partition: what Kafka's record accumulator puts in one batch when
    /// an application sends them together (within `linger.ms`).
    fn batch_at(&self, micros: &[Micro], i: usize) -> Vec<u64> {
        let Micro::Send(first_tp, _) = &micros[i] else {
            unreachable!("batch_at is called on a send");
        };
        let most = if self.workload.batch_sends {
            usize::MAX
        } else {
            1
        };
        micros[i..]
            .iter()
            .take(most)
            .map_while(|m| match m {
                Micro::Send(tp, value) if tp == first_tp => Some(*value),
                _ => None,
            })
            .collect()
    }

    /// Sends `values` to `tp` as one batch inside the transaction and records a send step
    /// per value (their offsets consecutive from the batch's). An error the application
    /// does not ignore ends the transaction's steps.
    async fn send_in_transaction(
        &self,
        producer: &mut TransactionalProducer,
        tp: &TopicPartition,
        values: &[u64],
        steps: &mut Vec<TxnStep>,
    ) -> Result<(), TxnError> {
        let mut result = producer.send_batch(tp, values).await;
        if result.is_err()
            && !self.ctx.switches.exhausted_send_is_abortable
            && producer.in_transaction()
        {
            // KAFKA-19176's application: a retriable error, so send again.
            crate::CoveragePoint::TimedOutSendRetried.hit();
            result = producer.send_batch(tp, values).await;
        }
        let base_offset = result.as_ref().ok().copied();
        steps.extend(values.iter().zip(0u64..).map(|(&value, k)| TxnStep::Send {
            topic: tp.topic.clone(),
            partition: tp.partition,
            value,
            source: None,
            offset: base_offset.map(|base| base + k),
        }));
        // Under `commit-ignores-failed-sends` (KAFKA-9279), or a plan's `ignore` at
        // `client:send-failed`, the application goes on without the send.
        if !producer.take_ignored_send_error() {
            result?;
        }
        Ok(())
    }

    /// One step of a non-transactional batch: a send through the plain producer or a poll,
    /// recorded in `steps` (a failed send too, without its offset; a failed poll not).
    /// Returns the partition a poll read, or the error that ends the batch.
    async fn batch_step(
        &self,
        producer: &Producer,
        consumer: &Consumer,
        micro: &Micro,
        positions: &mut BTreeMap<TopicPartition, u64>,
        steps: &mut Vec<TxnStep>,
    ) -> Result<Option<TopicPartition>, String> {
        match micro {
            Micro::Send(tp, value) => {
                let result = producer.send(tp, *value).await;
                steps.push(TxnStep::Send {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    value: *value,
                    source: None,
                    offset: result.as_ref().ok().copied(),
                });
                result.map(|_| None).map_err(|e| e.to_string())
            }
            Micro::Poll(tp) => {
                let records = self.fetch(consumer, tp, positions).await?;
                steps.push(TxnStep::Poll {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    records,
                });
                Ok(Some(tp.clone()))
            }
        }
    }

    /// A non-transactional batch (at-least-once / at-most-once): the sends through the plain
    /// producer, the polls, then a plain offset commit; `ok` if every send was acknowledged
    /// and the offsets committed, else `info`.
    async fn batch(
        &self,
        producer: &Producer,
        consumer: &Consumer,
        micros: &[Micro],
        positions: &mut BTreeMap<TopicPartition, u64>,
        delays: &mut impl FnMut() -> Option<Duration>,
    ) {
        let recorder = &self.ctx.recorder;
        recorder.record(
            self.process(),
            Phase::Invoke,
            self.txn_op(false, Self::planned_steps(micros)),
            None,
        );
        let start = positions.clone();
        let mut steps = Vec::new();
        let mut polled = BTreeSet::new();
        let mut error = None;
        for (i, micro) in micros.iter().enumerate() {
            if i > 0
                && let Some(pause) = delays()
            {
                madsim::time::sleep(pause).await;
            }
            match self
                .batch_step(producer, consumer, micro, positions, &mut steps)
                .await
            {
                Ok(Some(tp)) => {
                    polled.insert(tp);
                }
                Ok(None) => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        if error.is_none() && !polled.is_empty() {
            let offsets = self.commit_steps(&polled, positions);
            match consumer.commit_sync(&self.group(), &offsets).await {
                Ok(()) => steps.extend(
                    offsets
                        .iter()
                        .map(|(tp, o)| self.commit_offset_step(tp, *o)),
                ),
                Err(e) => error = Some(format!("offset commit: {e}")),
            }
        }
        let phase = if error.is_none() {
            Phase::Ok
        } else {
            Phase::Info
        };
        if phase != Phase::Ok {
            *positions = start;
        }
        recorder.record(self.process(), phase, self.txn_op(false, steps), error);
    }
}

/// Reads `tp` from offset 0 to its end at `isolation`, recording each fetch as a poll of
/// process `process`, retrying failed fetches until `deadline_ms`. Returns the records, or
/// None at the deadline. (The runner's verification read of transactional output:
/// read_committed, so that aborted records are not reported as read.)
///
/// First, unrecorded, it waits until `settle_ms` for the partition's transactions to be
/// decided (last stable offset = high watermark): a transaction committed just before the
/// clients finished may still have its markers on the way. A transaction still open then is
/// left to the checker (hanging-transaction).
pub async fn read_back(
    consumer: &Consumer,
    recorder: &crate::Recorder,
    process: ProcessId,
    tp: &TopicPartition,
    isolation: IsolationLevel,
    settle_ms: u64,
    deadline_ms: u64,
) -> Option<Vec<(u64, u64)>> {
    while sim::now_ms() < settle_ms.min(deadline_ms) {
        match consumer
            .fetch(tp, 0, 1, IsolationLevel::ReadCommitted)
            .await
        {
            Ok(f) if f.last_stable_offset >= f.high_watermark => break,
            _ => madsim::time::sleep(SETTLE_POLL).await,
        }
    }
    let mut offset = 0;
    let mut all = Vec::new();
    loop {
        if sim::now_ms() >= deadline_ms {
            return None;
        }
        let op = |records| Operation::Poll {
            topic: tp.topic.clone(),
            partition: tp.partition,
            from_offset: offset,
            records,
        };
        recorder.record(process, Phase::Invoke, op(Vec::new()), None);
        match consumer.fetch(tp, offset, 500, isolation).await {
            Ok(fetched) => {
                let polled = fetched
                    .records
                    .iter()
                    .map(|&(offset, value)| PolledRecord { offset, value })
                    .collect();
                recorder.record(process, Phase::Ok, op(polled), None);
                let end = match isolation {
                    IsolationLevel::ReadCommitted => fetched.last_stable_offset,
                    IsolationLevel::ReadUncommitted => fetched.high_watermark,
                };
                let Some(&(last, _)) = fetched.records.last() else {
                    return Some(all); // nothing readable below the end but markers
                };
                offset = last + 1;
                all.extend(fetched.records);
                if offset >= end {
                    return Some(all);
                }
            }
            Err(e) => {
                recorder.record(process, Phase::Fail, op(Vec::new()), Some(e.to_string()));
                madsim::time::sleep(RETRY_BACKOFF).await;
            }
        }
    }
}
