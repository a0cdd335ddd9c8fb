//! The transactional copy (Kafka's transactions system test, kafka-eos-protocol.md §3.6):
//! an input topic pre-filled with unique values; copier instances, each owning some input
//! partitions, copy every value to the same partition of an output topic and commit their
//! consumer offsets every `commit_every` records. Two loops:
//!
//! - at-least-once: the talk's do-it-yourself loop — poll, send (plain producer with
//!   retries), then commit the offsets. A crash between the sends and the commit re-copies
//!   the records after the last commit: duplicates.
//! - exactly-once: the consume-transform-produce transaction — begin, poll (read_committed),
//!   send, `send_offsets_to_transaction`, commit. A restarted instance's
//!   `init_transactions` fences its earlier epoch and aborts its open transaction.
//!
//! Each batch is recorded as one `Operation::Txn` (transactional for exactly-once) with its
//! poll, send (`source` = the input value) and commit-offset steps: ok = committed (for the
//! DIY loop: sends acknowledged and offsets committed), fail = definitely aborted, info =
//! unknown; a crash leaves it open.
//!
//! Partitions are assigned statically (input partition p belongs to instance
//! `p % instances`) or by the consumer group (`assignment = "group"`: instances join, heartbeat,
//! and a member whose session runs out loses its partitions to the others — a paused instance
//! becomes a zombie). Exactly-once uses a transactional producer per instance (KIP-447 style,
//! the default) or per input partition (`producers = "per-task"`, KIP-129). The input is
//! written by an idempotent producer (the `loader` node) while the copiers run, under the
//! same faults.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checker::history::{Operation, Phase, PolledRecord, TxnStep};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::client::consumer::Consumer;
use crate::client::group::{GroupConfig, GroupMember};
use crate::client::{
    ClientContext, Producer, ProducerConfig, TransactionalConfig, TransactionalProducer, TxnError,
};
use crate::protocol::{GroupMetadata, IsolationLevel, TopicPartition};

/// How input partitions are divided among the copier instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CopyAssignment {
    /// Input partition p belongs to instance `p % instances`, forever (no group membership).
    #[default]
    Static,
    /// The instances join the consumer group and the group coordinator assigns the
    /// partitions; a member that misses its session timeout loses them (rebalance).
    Group,
}

/// Which transactional.ids the exactly-once loop uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProducerScope {
    /// One transactional producer per instance, `copy-<k>` (Kafka's transactional copier;
    /// Streams' exactly-once-v2, KIP-447): a zombie instance is fenced by the group
    /// coordinator's generation check on its offsets.
    #[default]
    PerInstance,
    /// One transactional producer per input partition (task), `copy-task-<p>` (Streams'
    /// exactly-once v1, KIP-129): the new owner's `init_transactions` fences the old one by
    /// epoch.
    PerTask,
}

/// Shape of the copy workload. Defaults: 3 instances, 300 values, commit every 10 records,
/// topics "input" and "output", 10 s transaction timeout, static assignment, a producer per
/// instance, 1 s session timeout (group assignment only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CopyWorkload {
    pub instances: u32,
    /// Values written to the input topic (value i to partition i mod partitions).
    pub values: u32,
    /// Records per transaction (or per offset commit in the DIY loop).
    pub commit_every: u32,
    pub input_topic: String,
    pub output_topic: String,
    /// The copiers' transaction timeout, ms.
    pub txn_timeout_ms: u64,
    pub assignment: CopyAssignment,
    pub producers: ProducerScope,
    /// The group members' session timeout, ms (group assignment only).
    pub session_timeout_ms: u64,
}

impl Default for CopyWorkload {
    fn default() -> Self {
        Self {
            instances: 3,
            values: 300,
            commit_every: 10,
            input_topic: "input".into(),
            output_topic: "output".into(),
            txn_timeout_ms: 10_000,
            assignment: CopyAssignment::Static,
            producers: ProducerScope::PerInstance,
            session_timeout_ms: 1_000,
        }
    }
}

/// The consumer group of the copiers.
pub const COPY_GROUP: &str = "copy-group";

/// Pause after an empty or failed poll, or a failed offset call.
pub const COPY_RETRY_BACKOFF: Duration = Duration::from_millis(50);

/// Input value `i`: unique, readable in reports.
pub fn input_value(i: u32) -> u64 {
    1_000_000 + i as u64
}

/// How many of `values` land on input partition `p` of `partitions`.
pub fn values_on_partition(values: u32, partitions: u32, p: u32) -> u64 {
    ((values + partitions - 1 - p) / partitions) as u64
}

/// The transactional.id of instance `k` (0-based): stable across restarts, so a restarted
/// instance fences its predecessor.
pub fn transactional_id(instance: u32) -> String {
    format!("copy-{}", instance + 1)
}

/// The transactional.id of the task copying input partition `p` (producer per task): the
/// partition's next owner fences its previous one.
pub fn task_transactional_id(partition: u32) -> String {
    format!("copy-task-{partition}")
}

/// Which input partitions are copied completely (their committed offset reached the end),
/// whoever copied them, across restarts and rebalances.
#[derive(Clone, Default)]
pub struct CopyCompletion {
    finished: Arc<Mutex<BTreeSet<u32>>>,
    notify: Arc<Notify>,
}

impl CopyCompletion {
    pub fn finished(&self) -> usize {
        self.finished.lock().expect("completion lock").len()
    }

    fn finish(&self, partitions: impl IntoIterator<Item = u32>) {
        self.finished
            .lock()
            .expect("completion lock")
            .extend(partitions);
        self.notify.notify_waiters();
    }

    /// Waits until `count` partitions are finished.
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

/// The loader: writes every input value once with an idempotent producer.
pub async fn loader_program(ctx: ClientContext, workload: CopyWorkload, partitions: u32) {
    let producer = Producer::connect(ctx, ProducerConfig::default())
        .await
        .expect("the default producer config is valid");
    let deliveries: Vec<_> = (0..workload.values)
        .map(|i| {
            let tp = TopicPartition::new(&workload.input_topic, i % partitions);
            producer.send(&tp, input_value(i))
        })
        .collect();
    for delivery in deliveries {
        let _ = delivery.await;
    }
}

/// One incarnation of copier instance `instance`.
pub struct Copier {
    pub ctx: ClientContext,
    pub workload: CopyWorkload,
    pub instance: u32,
    /// Input partitions of the topic (the output has as many).
    pub partitions: u32,
    pub exactly_once: bool,
    pub done: CopyCompletion,
}

/// The transactional producers of one run of the loop: one for the instance, or one per
/// owned input partition.
#[derive(Default)]
struct TxnProducers {
    by_partition: BTreeMap<u32, TransactionalProducer>,
    shared: Option<TransactionalProducer>,
}

impl TxnProducers {
    fn get(&mut self, input: &TopicPartition) -> &mut TransactionalProducer {
        match self.shared.as_mut() {
            Some(producer) => producer,
            None => self
                .by_partition
                .get_mut(&input.partition)
                .expect("an initialised producer for every owned task"),
        }
    }
}

impl Copier {
    fn statically_owned(&self) -> Vec<TopicPartition> {
        (0..self.partitions)
            .filter(|p| p % self.workload.instances == self.instance)
            .map(|p| TopicPartition::new(&self.workload.input_topic, p))
            .collect()
    }

    fn all_inputs(&self) -> Vec<TopicPartition> {
        (0..self.partitions)
            .map(|p| TopicPartition::new(&self.workload.input_topic, p))
            .collect()
    }

    fn output_of(&self, input: &TopicPartition) -> TopicPartition {
        TopicPartition::new(&self.workload.output_topic, input.partition)
    }

    fn expected_end(&self, input: &TopicPartition) -> u64 {
        values_on_partition(self.workload.values, self.partitions, input.partition)
    }

    fn client(&self, offset: u64) -> ClientContext {
        ClientContext {
            client_id: self.ctx.client_id.sub_client(offset),
            ..self.ctx.clone()
        }
    }

    /// The committed offsets of `owned`, retried until the group coordinator answers with
    /// stable offsets (KIP-447: it refuses while a transaction's offsets are pending).
    async fn fetch_positions(
        &self,
        consumer: &Consumer,
        owned: &[TopicPartition],
    ) -> Vec<(TopicPartition, u64)> {
        loop {
            if let Ok(offsets) = consumer.committed(COPY_GROUP, owned).await {
                return offsets
                    .into_iter()
                    .map(|(tp, offset)| (tp, offset.unwrap_or(0)))
                    .collect();
            }
            madsim::time::sleep(COPY_RETRY_BACKOFF).await;
        }
    }

    /// Runs until every owned partition is copied (static assignment) or forever (group
    /// assignment: a member stays to take over partitions when others fail). Under
    /// exactly-once, an instance that is fenced, or loses track of a transaction's outcome,
    /// does what a Kafka Streams thread does on `TaskMigratedException`: drops its producers,
    /// rejoins, re-initialises (which fences whatever holds its transactional.id now, e.g.
    /// its own delayed InitProducerId) and resumes from the committed offsets. With static
    /// assignment at most `MAX_REINITS` times, so two live holders of one id cannot fence
    /// each other forever (no group decides between them).
    pub async fn run(self) {
        let calls = AtomicU64::new(0);
        let member = (self.workload.assignment == CopyAssignment::Group).then(|| {
            let config = GroupConfig {
                session_timeout_ms: self.workload.session_timeout_ms,
                ..GroupConfig::new(COPY_GROUP)
            };
            let name = format!("copier-{}", self.instance + 1);
            GroupMember::new(self.client(3), config, &name, self.all_inputs())
        });
        let mut attempt = 0;
        loop {
            if attempt > 0 {
                madsim::time::sleep(COPY_RETRY_BACKOFF).await;
            }
            if self.run_until_done_or_fenced(&calls, member.as_ref()).await == RunEnd::Done {
                return;
            }
            attempt += 1;
            if member.is_none() && attempt > MAX_REINITS {
                return;
            }
        }
    }

    /// Initialises the transactional producers `owned` needs (fencing earlier holders of
    /// their ids) and drops those of partitions no longer owned.
    async fn prepare_producers(
        &self,
        producers: &mut TxnProducers,
        owned: &[TopicPartition],
    ) -> Result<(), TxnError> {
        let config = |id: String| TransactionalConfig {
            txn_timeout_ms: self.workload.txn_timeout_ms,
            record_history: false,
            ..TransactionalConfig::new(&id)
        };
        match self.workload.producers {
            ProducerScope::PerInstance => {
                if producers.shared.is_none() {
                    let mut producer = TransactionalProducer::new(
                        self.client(2),
                        config(transactional_id(self.instance)),
                    );
                    producer.init_transactions().await?;
                    producers.shared = Some(producer);
                }
            }
            ProducerScope::PerTask => {
                producers
                    .by_partition
                    .retain(|p, _| owned.iter().any(|tp| tp.partition == *p));
                for tp in owned {
                    if producers.by_partition.contains_key(&tp.partition) {
                        continue;
                    }
                    let mut producer = TransactionalProducer::new(
                        self.client(2),
                        config(task_transactional_id(tp.partition)),
                    );
                    producer.init_transactions().await?;
                    producers.by_partition.insert(tp.partition, producer);
                }
            }
        }
        Ok(())
    }

    async fn run_until_done_or_fenced(
        &self,
        calls: &AtomicU64,
        member: Option<&GroupMember>,
    ) -> RunEnd {
        let consumer = Consumer::new(self.client(1));
        let mut producers = if self.exactly_once {
            RunProducers::Transactional(TxnProducers::default())
        } else {
            RunProducers::Plain(self.connect_plain_producer().await)
        };
        let isolation = self.isolation();
        let mut turn = 0usize;
        // One pass per generation: (re)join, set up, copy until the group moves on.
        loop {
            let owned = match member {
                Some(member) => member.join().await,
                None => self.statically_owned(),
            };
            if let RunProducers::Transactional(txn_producers) = &mut producers
                && self.prepare_producers(txn_producers, &owned).await.is_err()
            {
                return RunEnd::Fenced; // fenced by a newer instance
            }
            let group = member.map_or_else(
                || GroupMetadata::static_assignment(COPY_GROUP),
                GroupMember::group_metadata,
            );
            let mut positions = self.fetch_positions(&consumer, &owned).await;
            loop {
                if member.is_some_and(GroupMember::is_stale) {
                    break; // rejoin: the assignment may have moved
                }
                let Some(index) = self.next_open(&positions, &mut turn) else {
                    match self.settle_at_end(&consumer, &owned, member).await {
                        Some(stable) => positions = stable,
                        None => return RunEnd::Done,
                    }
                    continue;
                };
                let (input, position) = positions[index].clone();
                let fetched = self.fetch_batch(&consumer, input, position, isolation);
                let Some(batch) = fetched.await else {
                    continue;
                };
                let copied =
                    self.copy_batch(&mut producers, &consumer, &batch, &group, turn, calls);
                match copied.await {
                    Copied::Done => positions[index].1 = batch.next_position,
                    Copied::Fenced => return RunEnd::Fenced,
                    Copied::Aborted if member.is_some() => {
                        break; // e.g. ILLEGAL_GENERATION: rejoin first
                    }
                    Copied::Aborted if self.ctx.switches.seek_to_committed_after_abort => {
                        positions = self.fetch_positions(&consumer, &owned).await;
                    }
                    Copied::Aborted => {
                        // KAFKA-17582: the consumer's position stays past the aborted
                        // batch's records.
                        crate::CoveragePoint::AbortWithoutSeek.hit();
                        positions[index].1 = batch.next_position;
                    }
                }
            }
        }
    }

    /// Exactly-once copiers read only committed records.
    fn isolation(&self) -> IsolationLevel {
        if self.exactly_once {
            IsolationLevel::ReadCommitted
        } else {
            IsolationLevel::ReadUncommitted
        }
    }

    /// The plain producer of an at-least-once copier (no idempotence).
    async fn connect_plain_producer(&self) -> Producer {
        let config = ProducerConfig {
            enable_idempotence: false,
            ..ProducerConfig::default()
        };
        Producer::connect(self.client(2), config)
            .await
            .expect("valid producer config")
    }

    /// The index in `positions` of the next partition with records left to copy, taking
    /// turns among those; `None` if every one is at its end.
    fn next_open(&self, positions: &[(TopicPartition, u64)], turn: &mut usize) -> Option<usize> {
        let open: Vec<usize> = (0..positions.len())
            .filter(|&i| positions[i].1 < self.expected_end(&positions[i].0))
            .collect();
        if open.is_empty() {
            return None;
        }
        let index = open[*turn % open.len()];
        *turn += 1;
        Some(index)
    }

    /// Every owned partition is copied to its end. Done only once the group coordinator
    /// holds (stable) offsets at the end: a commit's offset markers may still be on their
    /// way, and a DIY commit whose answer was lost may not have happened (then copy again
    /// from there). `None`: done, under static assignment (a group member stays); else,
    /// after a backoff, the committed positions to go on from.
    async fn settle_at_end(
        &self,
        consumer: &Consumer,
        owned: &[TopicPartition],
        member: Option<&GroupMember>,
    ) -> Option<Vec<(TopicPartition, u64)>> {
        let stable = self.fetch_positions(consumer, owned).await;
        let at_end = stable
            .iter()
            .all(|(tp, offset)| *offset >= self.expected_end(tp));
        if at_end {
            self.done.finish(owned.iter().map(|tp| tp.partition));
        }
        if at_end && member.is_none() {
            return None;
        }
        madsim::time::sleep(COPY_RETRY_BACKOFF).await;
        Some(stable)
    }

    /// The next batch to copy: up to `commit_every` records of `input` from `position`;
    /// `None`, after a backoff, if the fetch failed or found nothing.
    async fn fetch_batch(
        &self,
        consumer: &Consumer,
        input: TopicPartition,
        position: u64,
        isolation: IsolationLevel,
    ) -> Option<Batch> {
        let fetched = match consumer
            .fetch(&input, position, self.workload.commit_every, isolation)
            .await
        {
            Ok(f) if !f.records.is_empty() => f.records,
            _ => {
                madsim::time::sleep(COPY_RETRY_BACKOFF).await;
                return None;
            }
        };
        let next_position = fetched.last().expect("non-empty").0 + 1;
        Some(Batch {
            output: self.output_of(&input),
            input,
            records: fetched,
            next_position,
        })
    }

    /// Copies one batch, recorded as one history operation: in a transaction under
    /// exactly-once (aborted on an abortable error), else by plain sends and an offset
    /// commit, under the next process id of `calls`. `turn`: the batch's number in the run
    /// (offsets outside the transaction are committed every few batches).
    async fn copy_batch(
        &self,
        producers: &mut RunProducers,
        consumer: &Consumer,
        batch: &Batch,
        group: &GroupMetadata,
        turn: usize,
        calls: &AtomicU64,
    ) -> Copied {
        assert_eq!(
            matches!(producers, RunProducers::Transactional(_)),
            self.exactly_once,
            "transactional producers exactly under exactly-once"
        );
        let process = self
            .ctx
            .client_id
            .process(calls.fetch_add(1, Ordering::Relaxed));
        let txn_id = match self.workload.producers {
            ProducerScope::PerInstance => transactional_id(self.instance),
            ProducerScope::PerTask => task_transactional_id(batch.input.partition),
        };
        let record = |phase, offsets: Option<&[u64]>, error: Option<String>| {
            let op = batch.operation(self.exactly_once, &txn_id, offsets);
            self.ctx.recorder.record(process, phase, op, error);
        };
        record(Phase::Invoke, None, None);
        let producer = match producers {
            RunProducers::Transactional(txn_producers) => txn_producers.get(&batch.input),
            RunProducers::Plain(producer) => {
                let (phase, offsets, error) = copy_at_least_once(producer, consumer, batch).await;
                record(phase, offsets.as_deref(), error);
                return Copied::Done;
            }
        };
        // Under the variant, offsets are committed separately and only every few batches
        // (as a consumer's auto-commit would), and always at a partition's end.
        let offsets_now = OffsetCommit::choose(
            self.ctx.switches.offsets_in_transaction,
            turn,
            batch.next_position >= self.expected_end(&batch.input),
        );
        match copy_transactionally(producer, consumer, batch, group, offsets_now).await {
            Ok(offsets) => {
                record(Phase::Ok, Some(&offsets), None);
                Copied::Done
            }
            Err(TxnError::Abortable(why)) => match producer.abort_transaction().await {
                Ok(()) => {
                    record(Phase::Fail, None, Some(why));
                    Copied::Aborted
                }
                Err(e) => {
                    record(Phase::Fail, None, Some(format!("{why}; {e}")));
                    Copied::Fenced // fenced while aborting
                }
            },
            Err(TxnError::Fatal(why)) => {
                // Fenced: the coordinator aborted (or will abort) the transaction.
                record(Phase::Fail, None, Some(why));
                Copied::Fenced
            }
            Err(TxnError::Unknown(why)) => {
                record(Phase::Info, None, Some(why));
                Copied::Fenced
            }
        }
    }
}

/// The producers of one run of the copy loop.
enum RunProducers {
    /// Exactly-once: transactional producers, set up for each generation's assignment.
    Transactional(TxnProducers),
    /// At-least-once: one plain producer.
    Plain(Producer),
}

/// What became of a batch the copy loop tried to copy.
enum Copied {
    /// Copied (committed, under exactly-once): the input's position moves past it.
    Done,
    /// Its transaction was aborted, and the producer is still usable.
    Aborted,
    /// Fenced, or the transaction's outcome is unknown: re-initialise.
    Fenced,
}

/// How often a fenced instance re-initialises before it gives up.
pub const MAX_REINITS: u32 = 5;

/// Why one run of the copy loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunEnd {
    Done,
    /// Fenced, or a transaction's outcome is unknown: re-initialise.
    Fenced,
}

/// One batch of the copy loop: records polled from `input`, to be copied to `output`.
struct Batch {
    input: TopicPartition,
    output: TopicPartition,
    records: Vec<(u64, u64)>,
    next_position: u64,
}

impl Batch {
    /// The batch as a history operation; `offsets`: where each send landed (on completion).
    fn operation(&self, transactional: bool, txn_id: &str, offsets: Option<&[u64]>) -> Operation {
        let mut steps = vec![TxnStep::Poll {
            topic: self.input.topic.clone(),
            partition: self.input.partition,
            records: self
                .records
                .iter()
                .map(|&(offset, value)| PolledRecord { offset, value })
                .collect(),
        }];
        for (i, &(_, value)) in self.records.iter().enumerate() {
            steps.push(TxnStep::Send {
                topic: self.output.topic.clone(),
                partition: self.output.partition,
                value,
                source: Some(value),
                offset: offsets.map(|o| o[i]),
            });
        }
        steps.push(TxnStep::CommitOffset {
            group: COPY_GROUP.to_string(),
            topic: self.input.topic.clone(),
            partition: self.input.partition,
            offset: self.next_position,
        });
        Operation::Txn {
            transactional,
            txn_id: Some(txn_id.to_string()),
            steps,
        }
    }
}

/// begin → send each → send_offsets_to_transaction → commit. Returns the send offsets.
/// When a transactional batch commits its consumer offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OffsetCommit {
    /// Inside the transaction (sendOffsetsToTransaction): the fix.
    InTransaction,
    /// After the transaction, separately (the `offsets-outside-txn` variant).
    AfterTransaction,
    /// Not with this batch (the variant commits every few batches).
    Later,
}

/// Under `offsets-outside-txn`, batches between two separate offset commits.
const OFFSETS_OUTSIDE_TXN_EVERY_BATCHES: usize = 3;

impl OffsetCommit {
    fn choose(offsets_in_txn: bool, batch_number: usize, partition_done: bool) -> Self {
        if offsets_in_txn {
            OffsetCommit::InTransaction
        } else if partition_done || batch_number.is_multiple_of(OFFSETS_OUTSIDE_TXN_EVERY_BATCHES) {
            OffsetCommit::AfterTransaction
        } else {
            OffsetCommit::Later
        }
    }
}

async fn copy_transactionally(
    producer: &mut TransactionalProducer,
    consumer: &Consumer,
    batch: &Batch,
    group: &GroupMetadata,
    offset_commit: OffsetCommit,
) -> Result<Vec<u64>, TxnError> {
    producer.begin_transaction()?;
    let mut offsets = Vec::with_capacity(batch.records.len());
    for &(_, value) in &batch.records {
        offsets.push(producer.send(&batch.output, value).await?);
    }
    let commit = [(batch.input.clone(), batch.next_position)];
    if offset_commit == OffsetCommit::InTransaction {
        producer.send_offsets_to_transaction(&commit, group).await?;
    }
    producer.commit_transaction().await?;
    if offset_commit == OffsetCommit::AfterTransaction {
        // The variant's bug: the offsets follow the committed outputs in a second step.
        let mut committed = false;
        for _ in 0..20 {
            if consumer.commit_sync(COPY_GROUP, &commit).await.is_ok() {
                committed = true;
                break;
            }
            madsim::time::sleep(COPY_RETRY_BACKOFF).await;
        }
        if !committed {
            return Err(TxnError::Unknown(
                "offset commit after the transaction unanswered".into(),
            ));
        }
    }
    Ok(offsets)
}

/// The DIY loop's batch: send each value (plain producer, retries), wait for every ack,
/// then commit the offsets (retried until answered; an unanswered commit is unknown).
async fn copy_at_least_once(
    producer: &Producer,
    consumer: &Consumer,
    batch: &Batch,
) -> (Phase, Option<Vec<u64>>, Option<String>) {
    let deliveries: Vec<_> = batch
        .records
        .iter()
        .map(|&(_, value)| producer.send(&batch.output, value))
        .collect();
    let mut offsets = Vec::with_capacity(deliveries.len());
    let mut send_error = None;
    for delivery in deliveries {
        match delivery.await {
            Ok(offset) => offsets.push(offset),
            Err(e) => send_error = Some(e.to_string()),
        }
    }
    let commit = [(batch.input.clone(), batch.next_position)];
    let mut committed = false;
    for _ in 0..20 {
        if consumer.commit_sync(COPY_GROUP, &commit).await.is_ok() {
            committed = true;
            break;
        }
        madsim::time::sleep(COPY_RETRY_BACKOFF).await;
    }
    match (send_error, committed) {
        (None, true) => (Phase::Ok, Some(offsets), None),
        (Some(e), _) => (Phase::Info, None, Some(e)),
        (None, false) => (Phase::Info, None, Some("offset commit unanswered".into())),
    }
}
