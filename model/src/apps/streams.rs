//! A Kafka-Streams-like runtime on the simulated cluster: instances join the application's
//! consumer group, own one task per assigned source partition, keep each task's state stores
//! in a local state directory backed by changelog topics (checkpointed on a clean close), and
//! run the commit cycle — process for a commit interval, then (exactly-once) send every
//! partition's batch, the consumed offsets to the transaction and commit, or (at-least-once)
//! send the batches, wait for their acknowledgements and commit the offsets.
//!
//! The guarantee knob: `exactly-once` (KIP-129) runs a transactional producer per task
//! (`<application>-<sub-topology>_<partition>`; the task's next owner fences the previous one
//! by epoch) and commits each task in its own transaction; `exactly-once-v2` (KIP-447) one per
//! instance (`<application>-<k>`), all tasks in one transaction, a zombie fenced by the group
//! generation on its offsets. An aborted or unknown transaction closes the tasks dirty (their
//! stores are wiped); an opened task keeps its stores up to their checkpoint and restores the
//! rest of its changelog at read_committed (Kafka Streams' exactly-once restore; at
//! read_uncommitted under at-least-once).
//!
//! Each commit cycle is recorded as one `Operation::Txn`: the poll steps of the records
//! processed, a send step per output and changelog record (`source` = the input record), and
//! the offset commits.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checker::history::{Operation, Phase, PolledRecord, TxnStep};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::apps::producer_sender;
use crate::apps::record_collector::{self, BatchLimits, RecordCollector};
use crate::client::consumer::Consumer;
use crate::client::group::{GroupConfig, GroupMember};
use crate::client::producer::send_batch_without_idempotence;
use crate::client::{
    ClientContext, ProcessId, Producer, ProducerConfig, TransactionalConfig, TransactionalProducer,
    TxnError,
};
use crate::fault_point::FaultPoint;
use crate::protocol::{GroupMetadata, IsolationLevel, TopicPartition};
use crate::streams::eos_test::{self, EosTestGenerator, LineGenerator};
use crate::streams::record::{
    Key, Pack, StreamRecord, Value, partition_for_key, timestamp, unpack,
};
use crate::streams::topology::{MemStores, ProcessOutput, StoreSpec, Task, TaskId, Topology};

/// Which application runs. Default: Kafka's EOS system test, simple topology.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamsApp {
    #[default]
    EosTest,
    EosTestComplex,
    /// The talk's DSL example: lines → words → group by word → count.
    WordCount,
}

impl StreamsApp {
    /// The application: its topology, and its generator writing `workload.records` inputs.
    pub fn definition(self, workload: &StreamsWorkload) -> StreamsDefinition {
        let (records, keys) = (workload.records, workload.keys);
        let input_topic = self.input_topic();
        let generate = move |rng: &mut dyn rand::RngCore, partitions: u32| {
            let generated = match self {
                StreamsApp::WordCount => {
                    let mut lines = LineGenerator::new().with_partitions(partitions);
                    (0..records).map(|_| lines.next_line(rng)).collect()
                }
                _ => EosTestGenerator::new()
                    .with_keys(keys)
                    .with_partitions(partitions)
                    .generate(rng, records as usize),
            };
            generated
                .into_iter()
                .map(|g: eos_test::GeneratedRecord| LoadedRecord {
                    topic: input_topic.to_string(),
                    partition: g.partition,
                    record: g.record,
                    pause_ms: g.pause_ms,
                })
                .collect()
        };
        StreamsDefinition {
            topology: self.topology(),
            input: Arc::new(generate),
        }
    }

    /// Whether its loader spreads the inputs over `workload.keys` keys (the eos-test
    /// generator's); word count writes lines of words and ignores `keys`.
    pub fn draws_keys(self) -> bool {
        !matches!(self, StreamsApp::WordCount)
    }

    pub fn topology(self) -> Topology {
        match self {
            StreamsApp::EosTest => eos_test::eos_test_topology(),
            StreamsApp::EosTestComplex => eos_test::eos_test_complex_topology(),
            StreamsApp::WordCount => eos_test::word_count_topology(),
        }
    }

    /// The application id: the consumer group and the internal topics' prefix.
    pub fn application_id(self) -> &'static str {
        match self {
            StreamsApp::WordCount => eos_test::WORD_COUNT_APPLICATION_ID,
            _ => eos_test::APPLICATION_ID,
        }
    }

    /// The topic the loader writes.
    pub fn input_topic(self) -> &'static str {
        match self {
            StreamsApp::WordCount => eos_test::LINES,
            _ => eos_test::DATA,
        }
    }
}

/// Shape of the streams workload. Defaults: the EOS test, 3 instances, 300 input records over
/// 100 keys, commit every 100 ms (Streams' exactly-once default) and never by record count,
/// 10 s transaction timeout, 1 s session timeout, the loader pausing 0–10 ms per record
/// (Kafka's generator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamsWorkload {
    /// Which built-in topology runs (scenario files: `topology = "eos-test"`).
    #[serde(rename = "topology")]
    pub app: StreamsApp,
    pub instances: u32,
    pub records: u32,
    pub keys: u16,
    pub commit_interval_ms: u64,
    pub txn_timeout_ms: u64,
    pub session_timeout_ms: u64,
    /// The loader pauses up to this long after each record, drawn as Kafka's generator draws
    /// it (default 10; 0: as fast as acknowledgements allow, to measure processing capacity).
    pub max_input_pause_ms: u64,
    /// Also commit as soon as a commit cycle has processed this many input records (default
    /// 0: commit by time only, like Kafka's `commit.interval.ms`).
    pub commit_interval_records: u32,
    /// The instances start processing only once the loader has written (and had acknowledged)
    /// every input record, as a throughput benchmark runs on a pre-filled input topic
    /// (default false: they process while it loads).
    pub preload_input: bool,
    /// Every request of the instances and the loader (produce, fetch, group, transaction
    /// coordinator) times out after this long, closing its connection (default 300: the
    /// simulation's short timescale; Kafka's `request.timeout.ms` is 30,000, which a
    /// saturated throughput run needs: an instance's output of one commit interval can take
    /// longer than 300 ms to leave a modelled link).
    pub request_timeout_ms: u64,
    /// Kafka's producer `batch.size` for the instances' output, bytes (records of the
    /// network's `record_bytes`). Default 0: no background sending — an interval's output is
    /// sent at its commit, one batch per partition (the model's traces before the cost model
    /// grew a producer). Above 0, output is sent while processing goes on, in batches of this
    /// size, one request per partition in flight (`apps::record_collector`); the talk's setup
    /// uses Kafka's 16,384.
    pub producer_batch_bytes: u64,
    /// Kafka's producer `buffer.memory`, bytes: processing blocks while this much output waits
    /// unsent (with `producer_batch_bytes` only). Default 33,554,432 (Kafka's 32 MiB).
    pub producer_buffer_bytes: u64,
    /// A poll fetches every task's input partitions at once, as Kafka's consumer asks each
    /// broker for all its assigned partitions in one fetch, instead of one task after
    /// another. Default false (the model's traces before this knob existed).
    pub fetch_all_at_once: bool,
}

impl Default for StreamsWorkload {
    fn default() -> Self {
        Self {
            app: StreamsApp::EosTest,
            instances: 3,
            records: 300,
            keys: 100,
            commit_interval_ms: 100,
            txn_timeout_ms: 10_000,
            session_timeout_ms: 1_000,
            max_input_pause_ms: eos_test::MAX_PAUSE_MS,
            commit_interval_records: 0,
            preload_input: false,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            producer_batch_bytes: 0,
            producer_buffer_bytes: record_collector::DEFAULT_BUFFER_BYTES,
            fetch_all_at_once: false,
        }
    }
}

impl StreamsWorkload {
    /// How its instances run.
    pub fn config(&self) -> StreamsConfig {
        StreamsConfig {
            instances: self.instances,
            commit_interval_ms: self.commit_interval_ms,
            commit_interval_records: self.commit_interval_records,
            txn_timeout_ms: self.txn_timeout_ms,
            session_timeout_ms: self.session_timeout_ms,
            max_input_pause_ms: self.max_input_pause_ms,
            preload_input: self.preload_input,
            request_timeout_ms: self.request_timeout_ms,
            producer_batch_bytes: self.producer_batch_bytes,
            producer_buffer_bytes: self.producer_buffer_bytes,
            fetch_all_at_once: self.fetch_all_at_once,
        }
    }
}

/// How a streams application runs (Kafka Streams' configs). Defaults: 3 instances, commit
/// every 100 ms (Streams' exactly-once default) and never by record count, 10 s transaction
/// timeout, 1 s session timeout, the loader's pauses capped at 10 ms, processing while the
/// loader writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamsConfig {
    pub instances: u32,
    pub commit_interval_ms: u64,
    /// Also commit once a cycle has processed this many input records (0: by time only).
    pub commit_interval_records: u32,
    pub txn_timeout_ms: u64,
    pub session_timeout_ms: u64,
    /// The loader's pause after a record is capped at this (0: as fast as acks allow).
    pub max_input_pause_ms: u64,
    /// Processing starts once every input record is written (a pre-filled input topic).
    pub preload_input: bool,
    /// Every client request's timeout (`StreamsWorkload::request_timeout_ms`).
    pub request_timeout_ms: u64,
    /// Background sending's batch size (0: none; `StreamsWorkload::producer_batch_bytes`).
    pub producer_batch_bytes: u64,
    /// Background sending's buffer (`StreamsWorkload::producer_buffer_bytes`).
    pub producer_buffer_bytes: u64,
    /// `StreamsWorkload::fetch_all_at_once`.
    pub fetch_all_at_once: bool,
}

/// The clients' request timeout unless a workload sets one: the model's clients' own default.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 300;

impl Default for StreamsConfig {
    fn default() -> Self {
        StreamsWorkload::default().config()
    }
}

/// A record the loader writes: to partition `partition` of `topic`, then it pauses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedRecord {
    pub topic: String,
    pub partition: u32,
    pub record: StreamRecord,
    pub pause_ms: u64,
}

/// Generates an application's input from the run's `streams-input` random stream, for a
/// given partition count, in the order the loader writes it.
pub type InputGenerator =
    Arc<dyn Fn(&mut dyn rand::RngCore, u32) -> Vec<LoadedRecord> + Send + Sync>;

/// A streams application: its topology and the input its loader writes. The topology's
/// source topics that it does not write itself are its external inputs, the loader's.
#[derive(Clone)]
pub struct StreamsDefinition {
    pub topology: Topology,
    pub input: InputGenerator,
}

/// A record a user's input generator writes: the loader puts it on the partition of its key
/// and numbers inputs 1, 2, … in the order given (their input ids: lineage and timestamp).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub topic: String,
    pub key: Key,
    pub value: Value,
    /// How long the loader waits after writing it (virtual ms; capped by the config's
    /// `max_input_pause_ms`).
    pub pause_ms: u64,
}

impl Input {
    /// A record of `topic`, written without a pause after it.
    pub fn new(topic: &str, key: Key, value: Value) -> Self {
        Input {
            topic: topic.to_string(),
            key,
            value,
            pause_ms: 0,
        }
    }

    /// The same record with a pause after it.
    pub fn pause_ms(self, pause_ms: u64) -> Self {
        Input { pause_ms, ..self }
    }
}

impl StreamsDefinition {
    /// An application whose loader writes what `input` generates (from the run's
    /// `streams-input` random stream), numbered from 1 and placed by key.
    pub fn from_inputs<F>(topology: Topology, input: F) -> Self
    where
        F: Fn(&mut dyn rand::RngCore) -> Vec<Input> + Send + Sync + 'static,
    {
        let generate = move |rng: &mut dyn rand::RngCore, partitions: u32| {
            input(rng)
                .into_iter()
                .zip(1u32..)
                .map(|(i, input_id)| {
                    assert!(
                        input_id < HOP_FLAG,
                        "at most {} input records",
                        HOP_FLAG - 1
                    );
                    LoadedRecord {
                        partition: partition_for_key(i.key, partitions),
                        record: StreamRecord::new(input_id, i.key, i.value),
                        topic: i.topic,
                        pause_ms: i.pause_ms,
                    }
                })
                .collect()
        };
        StreamsDefinition {
            topology,
            input: Arc::new(generate),
        }
    }

    /// Source topics the topology does not write: what the loader feeds.
    pub fn external_inputs(&self) -> Vec<String> {
        let written = self.topology.sink_topics();
        self.topology
            .source_topics()
            .into_iter()
            .filter(|t| !written.contains(t))
            .collect()
    }

    /// The topics a task of each sub-topology is assigned by: the first source topic of
    /// each sub-topology, sorted. A task reads partition p of every source topic of its
    /// sub-topology (co-partitioned), so the group assigns tasks, not partitions.
    pub fn assignment_topics(&self) -> Vec<String> {
        let topics: BTreeSet<&String> = self
            .topology
            .sub_topologies()
            .iter()
            .map(|s| &s.source_topics[0])
            .collect();
        topics.into_iter().cloned().collect()
    }
}

/// Pause after an empty fetch or a failed call.
const BACKOFF: Duration = Duration::from_millis(20);
/// Records fetched per task per poll.
const MAX_POLL_RECORDS: u32 = 50;

/// What the loader wrote, once everything is acknowledged: records per `data` partition.
#[derive(Clone, Default)]
pub struct StreamsProgress {
    inner: Arc<Mutex<ProgressState>>,
    notify: Arc<Notify>,
}

#[derive(Default)]
struct ProgressState {
    /// Records the loader wrote per (topic, partition), once all are acknowledged.
    loaded: Option<BTreeMap<(String, u32), u64>>,
    /// Source partitions (topic, partition) whose committed offsets cover all their input.
    finished: std::collections::BTreeSet<(String, u32)>,
}

impl StreamsProgress {
    fn loaded(&self) -> Option<BTreeMap<(String, u32), u64>> {
        self.inner.lock().expect("progress lock").loaded.clone()
    }

    fn finish(&self, tp: &TopicPartition) {
        self.inner
            .lock()
            .expect("progress lock")
            .finished
            .insert((tp.topic.to_string(), tp.partition));
        self.notify.notify_waiters();
    }

    fn inputs_finished(&self, input_topics: &[String], partitions: u32) -> bool {
        let state = self.inner.lock().expect("progress lock");
        input_topics
            .iter()
            .all(|t| (0..partitions).all(|p| state.finished.contains(&(t.clone(), p))))
    }

    /// Waits until the loader has written every input record.
    async fn wait_loaded(&self) {
        loop {
            let notified = self.notify.notified();
            if self.inner.lock().expect("progress lock").loaded.is_some() {
                return;
            }
            notified.await;
        }
    }

    /// Waits until `count` source partitions are finished.
    pub async fn wait_for(&self, count: usize) {
        loop {
            let notified = self.notify.notified();
            if self.inner.lock().expect("progress lock").finished.len() >= count {
                return;
            }
            notified.await;
        }
    }
}

/// Writes the generated input with an idempotent producer; publishes the counts when done.
pub async fn streams_loader(
    ctx: ClientContext,
    definition: StreamsDefinition,
    config: StreamsConfig,
    partitions: u32,
    progress: StreamsProgress,
) {
    let mut rng = ctx.sim.rng("streams-input");
    let records = (definition.input)(&mut rng, partitions);
    let producer_config = ProducerConfig {
        request_timeout_ms: config.request_timeout_ms,
        ..ProducerConfig::default()
    };
    let producer = Producer::connect(ctx, producer_config)
        .await
        .expect("the default producer config is valid");
    let mut counts: BTreeMap<(String, u32), u64> = BTreeMap::new();
    let mut deliveries = Vec::new();
    for generated in records {
        assert!(
            generated.partition < partitions,
            "the input generator wrote partition {} of {} (of {partitions})",
            generated.partition,
            generated.topic
        );
        let tp = TopicPartition::new(&generated.topic, generated.partition);
        *counts
            .entry((generated.topic, generated.partition))
            .or_insert(0) += 1;
        deliveries.push(producer.send(&tp, generated.record.pack()));
        let pause_ms = generated.pause_ms.min(config.max_input_pause_ms);
        if pause_ms > 0 {
            madsim::time::sleep(Duration::from_millis(pause_ms)).await;
        }
    }
    for delivery in deliveries {
        let _ = delivery.await;
    }
    progress.inner.lock().expect("progress lock").loaded = Some(counts);
    progress.notify.notify_waiters();
}

/// A task's identity in the state directory: (sub-topology, partition).
type TaskKey = (u32, u32);

/// One task of an instance: the processor graph, its stores and its input positions.
struct RunningTask {
    task: Task,
    key: TaskKey,
    /// Partition `key.1` of each source topic of its sub-topology, with the position.
    inputs: Vec<TaskInput>,
    stores: MemStores,
    /// The task's stores (the topology's order) with their changelog partitions, looked up
    /// by name for every store update.
    changelogs: Vec<(StoreSpec, TopicPartition)>,
    /// Sink topics another sub-topology reads (repartition hops).
    hops: Arc<BTreeSet<String>>,
    /// The sink topics sent to so far: name, the topic every send to it shares (one
    /// allocation per topic, not per record), whether it is a repartition hop.
    sinks: Vec<(String, Arc<str>, bool)>,
    /// Per store, the changelog offset its contents reflect (Kafka's state-manager offsets):
    /// where restoring got to, then moved on by every committed changelog write.
    changelog_offsets: BTreeMap<String, u64>,
    /// Whether the state directory holds this task's stores as they were before the writes
    /// in `unsaved` (then `save_stores` copies only the keys written, not every store).
    saved: bool,
    /// Per store (as `changelogs`), the keys written since the stores were last saved.
    unsaved: Vec<Vec<Key>>,
    /// Room for processing one record's output, empty between records.
    output: ProcessOutput,
}

/// A task's source partition and its position in it.
struct TaskInput {
    source: TopicPartition,
    position: u64,
}

impl RunningTask {
    /// Task `id` of `topology`, not yet saved to the state directory.
    fn new(
        topology: &Topology,
        id: TaskId,
        stores: MemStores,
        hops: Arc<BTreeSet<String>>,
        changelog_offsets: BTreeMap<String, u64>,
    ) -> Self {
        let task = topology.create_task(id);
        let changelogs: Vec<_> = task
            .stores()
            .into_iter()
            .map(|s| {
                let changelog = TopicPartition::new(&s.changelog_topic, id.partition);
                (s.clone(), changelog)
            })
            .collect();
        let unsaved = vec![Vec::new(); changelogs.len()];
        RunningTask {
            task,
            key: (id.sub_topology, id.partition),
            inputs: task_inputs(topology, id),
            stores,
            changelogs,
            hops,
            sinks: Vec::new(),
            changelog_offsets,
            saved: false,
            unsaved,
            output: ProcessOutput::default(),
        }
    }

    /// Sink topic `name` as sent to (shared by every send to it), and whether it is a
    /// repartition hop.
    fn sink(&mut self, name: &str) -> (Arc<str>, bool) {
        let i = match self.sinks.iter().position(|(n, _, _)| n == name) {
            Some(i) => i,
            None => {
                let hop = self.hops.contains(name);
                self.sinks.push((name.to_string(), Arc::from(name), hop));
                self.sinks.len() - 1
            }
        };
        let (_, topic, hop) = &self.sinks[i];
        (topic.clone(), *hop)
    }

    fn positions(&self) -> impl Iterator<Item = (TopicPartition, u64)> + '_ {
        self.inputs.iter().map(|i| (i.source.clone(), i.position))
    }
}

/// What one fetch of a task input gave: its history step and records (offset, value).
#[derive(Default)]
struct Polled {
    step: Option<TxnStep>,
    records: std::collections::VecDeque<(u64, u64)>,
}

/// What a commit cycle works with besides its tasks and producers.
struct CycleContext<'a> {
    consumer: &'a Consumer,
    member: &'a GroupMember,
    /// The group generation the tasks were assigned in (KIP-447's fencing metadata).
    metadata: &'a GroupMetadata,
    /// The history process the cycle's operations are recorded under.
    process: ProcessId,
    local: &'a Local,
}

/// A record to send: its topic-partition, packed value and the input record it came from.
type OutputRecord = (TopicPartition, u64, u64);

/// What processing produced over a commit interval, each poll step and output record tagged
/// with the index of the task it belongs to, in the order processing made them.
#[derive(Default)]
struct Processed {
    steps: Vec<(usize, TxnStep)>,
    sends: Vec<(usize, OutputRecord)>,
}

/// One transaction's share of `Processed`: its poll steps and records to send.
#[derive(Default)]
struct CycleOutput {
    steps: Vec<TxnStep>,
    sends: Vec<OutputRecord>,
}

impl Processed {
    /// Everything, for a transaction covering all tasks.
    fn merged(self) -> CycleOutput {
        CycleOutput {
            steps: self.steps.into_iter().map(|(_, step)| step).collect(),
            sends: self.sends.into_iter().map(|(_, send)| send).collect(),
        }
    }

    /// Each of `tasks` tasks' share, for a transaction per task.
    fn per_task(self, tasks: usize) -> Vec<CycleOutput> {
        let mut outputs: Vec<CycleOutput> = (0..tasks).map(|_| CycleOutput::default()).collect();
        for (task, step) in self.steps {
            outputs[task].steps.push(step);
        }
        for (task, send) in self.sends {
            outputs[task].sends.push(send);
        }
        outputs
    }
}

/// The input whose head record has the lowest timestamp (the first such input on a tie),
/// if any input has a record.
fn lowest_timestamp(buffers: &[std::collections::VecDeque<(u64, u64)>]) -> Option<usize> {
    buffers
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.front().map(|&(_, v)| (timestamp(&unpack(v)), i)))
        .min()
        .map(|(_, i)| i)
}

/// The tasks of an assignment (one per assigned assignment-topic partition), in its order.
fn assigned_tasks(topology: &Topology, assigned: &[TopicPartition]) -> Vec<TaskId> {
    assigned
        .iter()
        .map(|tp| TaskId {
            sub_topology: topology
                .sub_topology_reading(&tp.topic)
                .expect("members subscribe to source topics only"),
            partition: tp.partition,
        })
        .collect()
}

/// A new task's inputs: partition `id.partition` of each source topic of its sub-topology,
/// positioned at 0 until the committed offsets are read.
fn task_inputs(topology: &Topology, id: TaskId) -> Vec<TaskInput> {
    topology.sub_topologies()[id.sub_topology as usize]
        .source_topics
        .iter()
        .map(|topic| TaskInput {
            source: TopicPartition::new(topic, id.partition),
            position: 0,
        })
        .collect()
}

/// The tasks' stores are in the state directory as they are now.
fn mark_saved(tasks: &mut [RunningTask]) {
    for t in tasks {
        t.saved = true;
        t.unsaved.iter_mut().for_each(Vec::clear);
    }
}

/// The topology's repartition hops: the sink topics a sub-topology reads.
fn repartition_hops(topology: &Topology) -> Arc<BTreeSet<String>> {
    Arc::new(
        topology
            .sink_topics()
            .into_iter()
            .filter(|t| topology.sub_topology_reading(t).is_some())
            .collect(),
    )
}

/// Every task's source partitions and positions (the offsets a cycle commits).
fn task_positions(tasks: &[RunningTask]) -> Vec<(TopicPartition, u64)> {
    let mut positions = Vec::with_capacity(tasks.iter().map(|t| t.inputs.len()).sum());
    positions.extend(tasks.iter().flat_map(RunningTask::positions));
    positions
}

/// Set in the input id of a record written to a repartition hop (`streams::record`).
pub use crate::streams::record::HOP_FLAG;

/// One task's directory in an instance's local state directory (Kafka Streams' RocksDB
/// stores and `.checkpoint` file on disk).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskDir {
    /// The stores as processing leaves them — including updates of transactions that have
    /// not committed.
    pub stores: MemStores,
    /// Per store, the changelog offset up to which `stores` holds it. Written when the task
    /// is closed cleanly; while it runs there is none (under exactly-once its stores then
    /// hold uncommitted updates: KAFKA-7192's fix). Opening a task with a checkpoint keeps
    /// the stores and restores only the changelog after it; without one the stores are wiped
    /// and restored from the start.
    pub checkpoint: Option<BTreeMap<String, u64>>,
}

/// An instance's local state directory: a directory per task it has had. Survives crashes
/// and restarts.
pub type StateDir = Arc<sim::DurableCell<BTreeMap<TaskKey, TaskDir>>>;

/// Records fetched per restore step. Between steps the restore checks whether the group is
/// rebalancing or the instance is asked to stop (Kafka restores in the stream thread's loop,
/// which also runs the rebalance callbacks), so a restore can be interrupted — and a task
/// closed cleanly mid-restore must checkpoint how far it got (KAFKA-16017).
const MAX_RESTORE_RECORDS: u32 = 100;

/// One incarnation of streams instance `instance`.
pub struct StreamsInstance {
    pub ctx: ClientContext,
    pub definition: StreamsDefinition,
    pub config: StreamsConfig,
    pub instance: u32,
    pub partitions: u32,
    pub exactly_once: bool,
    /// Exactly-once with a transactional producer per task, `<application>-<sub>_<partition>`
    /// (KIP-129, Streams' `exactly_once`), instead of one per instance (KIP-447,
    /// `exactly_once_v2`).
    pub producer_per_task: bool,
    pub progress: StreamsProgress,
    pub state_dir: StateDir,
}

/// What one incarnation of an instance keeps in memory besides its tasks.
struct Local {
    calls: AtomicU64,
    /// Tasks the previous incarnation left open when it crashed (their stores may hold
    /// uncommitted updates); only the first `open_tasks` after the restart finds them.
    crashed_open: Mutex<BTreeSet<TaskKey>>,
    /// The record collectors: per task and store, the changelog end offset of the writes
    /// acknowledged so far (committed or not).
    written: Mutex<BTreeMap<TaskKey, BTreeMap<String, u64>>>,
    /// Changelog topic → (sub-topology, store name).
    changelogs: BTreeMap<String, (u32, String)>,
    /// The topics the loader feeds (`StreamsDefinition::external_inputs`).
    external_inputs: Vec<String>,
    stop: Arc<sim::StopSignal>,
}

impl StreamsInstance {
    fn client(&self, offset: u64) -> ClientContext {
        ClientContext {
            client_id: self.ctx.client_id.sub_client(offset),
            ..self.ctx.clone()
        }
    }

    fn application_id(&self) -> &str {
        self.definition.topology.application_id()
    }

    fn isolation(&self) -> IsolationLevel {
        if self.exactly_once {
            IsolationLevel::ReadCommitted
        } else {
            IsolationLevel::ReadUncommitted
        }
    }

    /// Runs until asked to stop (a member stays to take over tasks when others fail).
    pub async fn run(self) {
        let topology = self.definition.topology.clone();
        let sources: Vec<TopicPartition> = self
            .definition
            .assignment_topics()
            .iter()
            .flat_map(|t| (0..self.partitions).map(move |p| TopicPartition::new(t, p)))
            .collect();
        let group = GroupConfig {
            session_timeout_ms: self.config.session_timeout_ms,
            request_timeout_ms: self.config.request_timeout_ms,
            ..GroupConfig::new(self.application_id())
        };
        let member = GroupMember::new(
            self.client(3),
            group,
            &format!("instance-{}", self.instance + 1),
            sources,
        );
        let crashed_open = self.state_dir.read(|dir| {
            dir.iter()
                .filter(|(_, d)| d.checkpoint.is_none())
                .map(|(&key, _)| key)
                .collect()
        });
        let local = Local {
            calls: AtomicU64::new(0),
            crashed_open: Mutex::new(crashed_open),
            written: Mutex::default(),
            changelogs: topology
                .stores()
                .iter()
                .map(|s| (s.changelog_topic.clone(), (s.sub_topology, s.name.clone())))
                .collect(),
            external_inputs: self.definition.external_inputs(),
            stop: self.ctx.sim.stop_signal(self.ctx.node),
        };
        if self.config.preload_input {
            self.progress.wait_loaded().await;
        }
        loop {
            self.run_until_fenced(&topology, &member, &local).await;
            if local.stop.is_requested() {
                self.finish_stop(&member).await;
            }
            madsim::time::sleep(BACKOFF).await;
        }
    }

    /// Task `id`'s transactional producer (`<application>-<sub>_<partition>`), initialized:
    /// the task's previous owner is fenced. `None` if it could not be (fenced itself, or
    /// unsure): a new incarnation of the loop starts over.
    async fn init_task_producer(&self, id: TaskId) -> Option<TransactionalProducer> {
        let config = TransactionalConfig {
            txn_timeout_ms: self.config.txn_timeout_ms,
            request_timeout_ms: self.config.request_timeout_ms,
            record_history: false,
            ..TransactionalConfig::new(&format!(
                "{}-{}_{}",
                self.application_id(),
                id.sub_topology,
                id.partition
            ))
        };
        let mut producer = TransactionalProducer::new(self.client(2), config);
        producer.init_transactions().await.ok()?;
        Some(producer)
    }

    /// Leaves the group and ends the node: the last step of a clean shutdown, once every
    /// task is closed cleanly.
    async fn finish_stop(&self, member: &GroupMember) {
        member.leave().await;
        self.ctx.sim.stopped(self.ctx.node);
        std::future::pending::<()>().await;
    }

    async fn run_until_fenced(&self, topology: &Topology, member: &GroupMember, local: &Local) {
        let mut consumer = Consumer::new(self.client(1));
        consumer.request_timeout = Duration::from_millis(self.config.request_timeout_ms);
        let mut txn_producer = None;
        if self.exactly_once && !self.producer_per_task {
            let Some(producer) = self.init_instance_producer().await else {
                return;
            };
            txn_producer = Some(producer);
        }
        loop {
            if local.stop.is_requested() {
                return;
            }
            let assigned = member.join().await;
            let metadata = member.group_metadata();
            let Some(mut task_producers) = self.init_task_producers(topology, &assigned).await
            else {
                return;
            };
            let Some(mut tasks) = self
                .open_tasks(topology, &consumer, member, &assigned, local)
                .await
            else {
                continue; // interrupted by a rebalance or a stop request: rejoin or stop
            };
            let ended = self
                .run_tasks(
                    &consumer,
                    member,
                    &metadata,
                    local,
                    &mut txn_producer,
                    &mut task_producers,
                    &mut tasks,
                )
                .await;
            if ended.is_break() {
                return;
            }
        }
    }

    /// The instance's one transactional producer (exactly-once without a producer per
    /// task), initialized; `None` if init_transactions failed.
    async fn init_instance_producer(&self) -> Option<TransactionalProducer> {
        let config = TransactionalConfig {
            txn_timeout_ms: self.config.txn_timeout_ms,
            request_timeout_ms: self.config.request_timeout_ms,
            record_history: false,
            ..TransactionalConfig::new(&format!("{}-{}", self.application_id(), self.instance + 1))
        };
        let mut producer = TransactionalProducer::new(self.client(2), config);
        producer.init_transactions().await.ok()?;
        Some(producer)
    }

    /// Under a producer per task, one initialized producer per assigned task, in task order
    /// (none otherwise); `None` if one's init_transactions failed.
    async fn init_task_producers(
        &self,
        topology: &Topology,
        assigned: &[TopicPartition],
    ) -> Option<Vec<TransactionalProducer>> {
        // Per task: a new owner's init_transactions fences the task's previous owner —
        // before the task restores and reads its committed offsets, as Kafka Streams'
        // StreamTask.initializeIfNeeded initializes the record collector (the producer's
        // initTransactions) before registering and restoring stores, and reads the
        // committed offsets only when restoration completes. So a commit the previous
        // owner still had under way is decided first, and seen.
        let mut task_producers = Vec::new();
        if self.exactly_once && self.producer_per_task {
            for id in assigned_tasks(topology, assigned) {
                task_producers.push(self.init_task_producer(id).await?);
            }
        }
        Some(task_producers)
    }

    /// Runs commit cycles over the opened tasks of one assignment until a rebalance, a stop
    /// request, an abort or fencing ends them, closing the tasks. `Continue`: rejoin the
    /// group (or find the stop request); `Break`: fenced, this incarnation is done.
    #[allow(clippy::too_many_arguments)]
    async fn run_tasks(
        &self,
        consumer: &Consumer,
        member: &GroupMember,
        metadata: &GroupMetadata,
        local: &Local,
        txn_producer: &mut Option<TransactionalProducer>,
        task_producers: &mut [TransactionalProducer],
        tasks: &mut [RunningTask],
    ) -> ControlFlow<()> {
        loop {
            if member.is_stale() || local.stop.is_requested() {
                // Every transaction is committed between cycles: a clean close.
                self.close_clean(tasks, local);
                return ControlFlow::Continue(());
            }
            if tasks.is_empty() {
                // An idle instance (more instances than partitions): Kafka's poll blocks
                // for its timeout; without a wait this loop would never yield to time.
                madsim::time::sleep(Duration::from_millis(self.config.commit_interval_ms)).await;
                continue;
            }
            let process = self
                .ctx
                .client_id
                .process(local.calls.fetch_add(1, Ordering::Relaxed));
            let cx = CycleContext {
                consumer,
                member,
                metadata,
                process,
                local,
            };
            let outcome = match txn_producer.as_mut() {
                None if self.exactly_once => {
                    self.cycle_task_transactions(&cx, task_producers, tasks)
                        .await
                }
                Some(producer) => self.cycle_instance_transaction(&cx, producer, tasks).await,
                None => self.cycle_at_least_once(&cx, tasks).await,
            };
            match outcome {
                Cycle::Committed | Cycle::Idle => {}
                Cycle::Aborted | Cycle::Migrated => {
                    // Close dirty, rejoin, restore, resume from the committed offsets.
                    self.close_dirty(tasks, local, outcome == Cycle::Aborted);
                    return ControlFlow::Continue(());
                }
                Cycle::Fenced => {
                    self.close_dirty(tasks, local, false);
                    return ControlFlow::Break(());
                }
            }
            let positions = task_positions(tasks);
            self.report_finished(consumer, &positions, &local.external_inputs)
                .await;
        }
    }

    /// Opens the tasks of `assigned`: stores from the local state directory (kept up to
    /// their checkpoint, wiped without one), the changelog restored after that, positions
    /// from the committed offsets. `None` if a rebalance or a stop request interrupted the
    /// restore: the tasks opened so far are then closed cleanly.
    async fn open_tasks(
        &self,
        topology: &Topology,
        consumer: &Consumer,
        member: &GroupMember,
        assigned: &[TopicPartition],
        local: &Local,
    ) -> Option<Vec<RunningTask>> {
        let hops = repartition_hops(topology);
        // Only the first opening after a restart finds what the crash left open; whatever
        // this one does not take is wiped when next opened.
        let crashed_open = std::mem::take(&mut *local.crashed_open.lock().expect("crashed lock"));
        let mut tasks = Vec::new();
        for id in assigned_tasks(topology, assigned) {
            let key = (id.sub_topology, id.partition);
            let dir = self.state_dir.read(|dir| dir.get(&key).cloned());
            let left_by_crash = crashed_open.contains(&key);
            // The `store-not-wiped-on-unclean-shutdown` variant (KAFKA-7192) uses the dirty
            // stores as they are.
            if left_by_crash && !self.ctx.switches.stores_wiped_after_unclean_shutdown {
                // KAFKA-7192: the crashed task's local stores are trusted as they are.
                crate::CoveragePoint::CrashedStoresReused.hit();
                let stores = dir.unwrap_or_default().stores;
                let mut task =
                    RunningTask::new(topology, id, stores, hops.clone(), BTreeMap::new());
                self.start_from_committed(consumer, &mut task).await;
                tasks.push(task);
                continue;
            }
            if dir.as_ref().is_some_and(|d| d.checkpoint.is_none()) {
                crate::CoveragePoint::StoreWiped.hit();
            }
            let (stores, restored_to) = match dir {
                Some(TaskDir {
                    stores,
                    checkpoint: Some(checkpoint),
                }) => (stores, checkpoint),
                // No checkpoint: the stores may hold uncommitted updates. Wipe them.
                _ => (MemStores::default(), BTreeMap::new()),
            };
            let mut task = RunningTask::new(topology, id, stores, hops.clone(), restored_to);
            let restored = self.restore(consumer, member, &mut task, local).await;
            tasks.push(task);
            if !restored {
                crate::CoveragePoint::RestoreInterrupted.hit();
                crate::TraceNote::RestoreInterrupted.record(
                    self.ctx.node,
                    key.0 as u64,
                    key.1 as u64,
                );
                self.close_clean(&tasks, local);
                return None;
            }
            let task = tasks.last_mut().expect("just pushed");
            self.start_from_committed(consumer, task).await;
        }
        // Running from here: no checkpoint while the stores take uncommitted updates (under
        // `checkpoint-kept-while-running`, KAFKA-20685, the restore's checkpoint stays).
        if self.ctx.switches.checkpoint_deleted_when_running {
            self.save_stores(&mut tasks);
        } else {
            self.keep_restore_checkpoints(&mut tasks);
        }
        Some(tasks)
    }

    /// Positions the task's inputs at the group's committed offsets.
    async fn start_from_committed(&self, consumer: &Consumer, task: &mut RunningTask) {
        for input in &mut task.inputs {
            input.position = self.committed(consumer, &input.source).await;
        }
    }

    /// Restores the task's stores from their changelogs, from the offsets they reflect to
    /// the end (the last stable offset under exactly-once: an open transaction is waited
    /// out). False if interrupted by a rebalance or a stop request.
    async fn restore(
        &self,
        consumer: &Consumer,
        member: &GroupMember,
        task: &mut RunningTask,
        local: &Local,
    ) -> bool {
        // Restoring writes the stores behind the state directory's back: the next save
        // copies them whole.
        task.saved = false;
        let stores = task.changelogs.clone();
        for (spec, changelog) in stores {
            let store = spec.name.clone();
            let mut offset = task.changelog_offsets.get(&store).copied().unwrap_or(0);
            loop {
                if member.is_stale() || local.stop.is_requested() {
                    return false;
                }
                match consumer
                    .fetch(&changelog, offset, MAX_RESTORE_RECORDS, self.isolation())
                    .await
                {
                    Ok(f) if f.records.is_empty() => {
                        let end = match self.isolation() {
                            IsolationLevel::ReadCommitted => f.last_stable_offset,
                            IsolationLevel::ReadUncommitted => f.high_watermark,
                        };
                        if end >= f.high_watermark {
                            task.changelog_offsets.insert(store, offset.max(end));
                            break;
                        }
                        madsim::time::sleep(BACKOFF).await; // an open transaction: wait it out
                    }
                    Ok(f) => {
                        offset = f.records.last().expect("non-empty").0 + 1;
                        task.stores
                            .restore(&spec, f.records.iter().map(|&(_, v)| unpack(v)));
                        task.changelog_offsets.insert(store.clone(), offset);
                    }
                    Err(_) => madsim::time::sleep(BACKOFF).await,
                }
            }
        }
        true
    }

    /// Writes the open tasks' stores to the local state directory, without a checkpoint
    /// (under `checkpoint-kept-while-running` a task's checkpoint, if any, stays). A task
    /// whose saved stores are those of its last save gets only the keys written since
    /// copied: the same directory as a copy of every store, without copying them all after
    /// every poll.
    fn save_stores(&self, tasks: &mut [RunningTask]) {
        let keep = !self.ctx.switches.checkpoint_deleted_when_running;
        self.state_dir.update_synced(|dir| {
            for t in tasks.iter() {
                if let (true, Some(saved)) = (t.saved, dir.get_mut(&t.key)) {
                    for ((spec, _), keys) in t.changelogs.iter().zip(&t.unsaved) {
                        saved.stores.copy_keys(&t.stores, &spec.name, keys);
                    }
                    if !keep {
                        saved.checkpoint = None;
                    }
                    continue;
                }
                let checkpoint = if keep {
                    dir.get(&t.key).and_then(|d| d.checkpoint.clone())
                } else {
                    None
                };
                dir.insert(
                    t.key,
                    TaskDir {
                        stores: t.stores.clone(),
                        checkpoint,
                    },
                );
            }
        });
        mark_saved(tasks);
    }

    /// The `checkpoint-kept-while-running` variant (KAFKA-20685): the checkpoint written
    /// when restoration ended (the changelog offsets restored) stays while the task runs.
    fn keep_restore_checkpoints(&self, tasks: &mut [RunningTask]) {
        crate::CoveragePoint::CheckpointKeptWhileRunning.hit();
        self.state_dir.update_synced(|dir| {
            for t in tasks.iter() {
                dir.insert(
                    t.key,
                    TaskDir {
                        stores: t.stores.clone(),
                        checkpoint: Some(t.changelog_offsets.clone()),
                    },
                );
            }
        });
        mark_saved(tasks);
    }

    /// Closes tasks cleanly (revoked, or the instance stops; nothing uncommitted): their
    /// stores stay on disk with a checkpoint of the changelog offsets they reflect.
    fn close_clean(&self, tasks: &[RunningTask], local: &Local) {
        let mut written = local.written.lock().expect("collector lock");
        let checkpoints: Vec<BTreeMap<String, u64>> = tasks
            .iter()
            .map(|t| {
                let mut checkpoint = t.changelog_offsets.clone();
                let collector = written.remove(&t.key).unwrap_or_default();
                if !self.ctx.switches.checkpoint_restored_offsets {
                    // KAFKA-16017: the record collector's offsets go into the checkpoint.
                    for (store, end) in collector {
                        let offset = checkpoint.entry(store).or_insert(0);
                        if end > *offset {
                            crate::TraceNote::CheckpointAhead.record(self.ctx.node, *offset, end);
                            *offset = end;
                        }
                    }
                }
                checkpoint
            })
            .collect();
        self.state_dir.update_synced(|dir| {
            for (t, checkpoint) in tasks.iter().zip(&checkpoints) {
                dir.insert(
                    t.key,
                    TaskDir {
                        stores: t.stores.clone(),
                        checkpoint: Some(checkpoint.clone()),
                    },
                );
            }
        });
    }

    /// Closes tasks dirty: their stores may hold uncommitted updates, so they are wiped (the
    /// next opening restores from the changelog). `revived`: the transaction aborted (Kafka's
    /// TaskCorruptedException: the same task object is closed dirty and revived) rather than
    /// the producer fenced (TaskMigratedException: the tasks are lost and recreated when
    /// assigned again). The fix forgets what their record collectors wrote either way; the
    /// `checkpoint-written-not-restored` variant keeps it for a revived task.
    fn close_dirty(&self, tasks: &[RunningTask], local: &Local, revived: bool) {
        let what = if revived {
            crate::TraceNote::TaskCorrupted
        } else {
            crate::TraceNote::TaskLost
        };
        let point = if revived {
            crate::CoveragePoint::TaskCorrupted
        } else {
            crate::CoveragePoint::TaskLost
        };
        for t in tasks {
            point.hit();
            what.record(self.ctx.node, t.key.0 as u64, t.key.1 as u64);
        }
        // Wiping deletes the task's directory: no stores, no checkpoint.
        self.state_dir.update_synced(|dir| {
            for t in tasks {
                dir.remove(&t.key);
            }
        });
        if self.ctx.switches.checkpoint_restored_offsets || !revived {
            let mut written = local.written.lock().expect("collector lock");
            for t in tasks {
                written.remove(&t.key);
            }
        }
    }

    /// Notes acknowledged changelog writes in the record collectors: `end` is the offset
    /// after the last record acknowledged in `tp`.
    fn note_written(&self, local: &Local, tp: &TopicPartition, end: u64) {
        let Some((sub_topology, store)) = local.changelogs.get(tp.topic.as_ref()) else {
            return;
        };
        let mut written = local.written.lock().expect("collector lock");
        let offset = written
            .entry((*sub_topology, tp.partition))
            .or_default()
            .entry(store.clone())
            .or_insert(0);
        *offset = (*offset).max(end);
    }

    /// After a commit: the stores now reflect their changelogs up to the acknowledged writes.
    /// A changelog send is one to a task's changelog partition (the same topic as the task's
    /// own, so compared by pointer first); each store's end is noted once per commit.
    fn note_committed(tasks: &mut [RunningTask], sends: &[OutputRecord], acked: &[u64]) {
        let mut ends: Vec<Vec<Option<u64>>> = (tasks.iter())
            .map(|t| vec![None; t.changelogs.len()])
            .collect();
        for ((tp, _, _), &offset) in sends.iter().zip(acked) {
            let found = tasks.iter().zip(ends.iter_mut()).find_map(|(t, ends)| {
                let i = position_of(t.changelogs.iter().map(|(_, c)| c), tp)?;
                Some(&mut ends[i])
            });
            if let Some(end) = found {
                *end = Some(end.map_or(offset + 1, |e| e.max(offset + 1)));
            }
        }
        for (t, ends) in tasks.iter_mut().zip(ends) {
            for ((spec, _), end) in t.changelogs.iter().zip(ends) {
                let Some(end) = end else { continue };
                match t.changelog_offsets.get_mut(&spec.name) {
                    Some(reflected) => *reflected = (*reflected).max(end),
                    None => {
                        t.changelog_offsets.insert(spec.name.clone(), end);
                    }
                }
            }
        }
    }

    async fn committed(&self, consumer: &Consumer, tp: &TopicPartition) -> u64 {
        loop {
            if let Ok(offsets) = consumer
                .committed(self.application_id(), std::slice::from_ref(tp))
                .await
            {
                return offsets[0].1.unwrap_or(0);
            }
            madsim::time::sleep(BACKOFF).await;
        }
    }

    /// Polls every task once and processes what came back into `out`; returns how many
    /// input records came back.
    async fn poll_and_process(
        &self,
        consumer: &Consumer,
        tasks: &mut [RunningTask],
        out: &mut Processed,
    ) -> usize {
        if self.config.fetch_all_at_once {
            return self.poll_all_and_process(consumer, tasks, out).await;
        }
        let mut polled_records = 0;
        for (task, t) in tasks.iter_mut().enumerate() {
            let mut polls = Vec::with_capacity(t.inputs.len());
            for input in &mut t.inputs {
                polls.push(self.poll_input(consumer, input).await);
            }
            polled_records += self.process_polled(task, t, polls, out);
        }
        polled_records
    }

    /// `poll_and_process` with every task's inputs fetched at once (`fetch_all_at_once`),
    /// then processed task by task.
    async fn poll_all_and_process(
        &self,
        consumer: &Consumer,
        tasks: &mut [RunningTask],
        out: &mut Processed,
    ) -> usize {
        let fetches = tasks.iter_mut().map(|t| {
            futures_util::future::join_all(
                t.inputs
                    .iter_mut()
                    .map(|input| self.poll_input(consumer, input)),
            )
        });
        let polled = futures_util::future::join_all(fetches).await;
        let mut polled_records = 0;
        for (task, (t, polls)) in tasks.iter_mut().zip(polled).enumerate() {
            polled_records += self.process_polled(task, t, polls, out);
        }
        polled_records
    }

    /// Processes one task's polled records (one `Polled` per input, in input order) into
    /// `out`; returns how many records were polled.
    fn process_polled(
        &self,
        task: usize,
        t: &mut RunningTask,
        polls: Vec<Polled>,
        out: &mut Processed,
    ) -> usize {
        let mut polled_records = 0;
        let mut buffers: Vec<_> = (polls.into_iter())
            .map(|polled| {
                out.steps.extend(polled.step.map(|step| (task, step)));
                polled_records += polled.records.len();
                polled.records
            })
            .collect();
        // Kafka's PartitionGroup: the buffered record with the lowest timestamp first,
        // each partition in offset order (one input: offset order).
        while let Some(i) = lowest_timestamp(&buffers) {
            let (offset, value) = buffers[i].pop_front().expect("a head record");
            self.process_record(t, i, value, task, &mut out.sends);
            t.inputs[i].position = offset + 1;
        }
        polled_records
    }

    /// Fetches from a task input's position; with nothing fetched, moves the position past
    /// what only markers or aborted records fill below the stable end.
    async fn poll_input(&self, consumer: &Consumer, input: &mut TaskInput) -> Polled {
        let Ok(fetched) = consumer
            .fetch(
                &input.source,
                input.position,
                MAX_POLL_RECORDS,
                self.isolation(),
            )
            .await
        else {
            return Polled::default();
        };
        if fetched.records.is_empty() {
            let end = match self.isolation() {
                IsolationLevel::ReadCommitted => fetched.last_stable_offset,
                IsolationLevel::ReadUncommitted => fetched.high_watermark,
            };
            input.position = input.position.max(end);
            return Polled::default();
        }
        let step = TxnStep::Poll {
            topic: input.source.topic.clone(),
            partition: input.source.partition,
            records: fetched
                .records
                .iter()
                .map(|&(offset, value)| PolledRecord { offset, value })
                .collect(),
        };
        Polled {
            step: Some(step),
            // The fetched vector becomes the buffer as it is (no copy).
            records: fetched.records.into(),
        }
    }

    /// Runs one record of the task's input `input` through the task: its sends (a
    /// repartition hop's records get `HOP_FLAG`) and store updates (to the store's changelog
    /// partition) join `sends`.
    fn process_record(
        &self,
        t: &mut RunningTask,
        input: usize,
        value: u64,
        task: usize,
        sends: &mut Vec<(usize, OutputRecord)>,
    ) {
        let mut out = std::mem::take(&mut t.output);
        let topic = &t.inputs[input].source.topic;
        t.task
            .process_into(topic, unpack(value), &mut t.stores, &mut out);
        // A record's sinks mostly share its key: murmur2 of the key's digits once per key.
        let mut last: Option<(Key, u32)> = None;
        for sink in out.sends.drain(..) {
            let partition = match last {
                Some((key, partition)) if key == sink.record.key => partition,
                _ => {
                    let partition = sink.partition(self.partitions);
                    last = Some((sink.record.key, partition));
                    partition
                }
            };
            let (topic, hop) = t.sink(&sink.topic);
            let mut record = sink.record;
            if hop {
                assert!(
                    record.input_id < HOP_FLAG,
                    "input id {} too large",
                    record.input_id
                );
                record.input_id |= HOP_FLAG;
            }
            let tp = TopicPartition { topic, partition };
            sends.push((task, (tp, record.pack(), value)));
        }
        for update in out.store_updates.drain(..) {
            let store = (t.changelogs.iter())
                .position(|(s, _)| s.name == update.store)
                .expect("a task's stores have changelogs");
            t.unsaved[store].push(update.key);
            let tp = t.changelogs[store].1.clone();
            sends.push((task, (tp, update.changelog_record().pack(), value)));
        }
        t.output = out;
    }

    /// Polls and processes every task for one commit interval, as Kafka's StreamThread runs
    /// all its tasks between commits, keeping the local state directory up to date. The
    /// interval ends early when the group moves on or a stop is asked for: Kafka's poll,
    /// called between records, runs the rebalance (whose revocation commits first) and the
    /// shutdown check, so a member rejoins within a poll, not a commit interval. With
    /// background sending, the output goes to `collectors` as it is made (one per task, or
    /// one for all), processing waits while a buffer is full, and the collectors are closed
    /// (flushed) when the interval ends.
    async fn process_for_interval(
        &self,
        cx: &CycleContext<'_>,
        tasks: &mut [RunningTask],
        collectors: &[RecordCollector],
    ) -> Processed {
        let deadline = sim::now_ms() + self.config.commit_interval_ms;
        let mut out = Processed::default();
        let mut records = 0;
        while sim::now_ms() < deadline && !cx.member.is_stale() && !cx.local.stop.is_requested() {
            for collector in collectors {
                collector.wait_for_room().await;
            }
            let (steps_before, sends_before) = (out.steps.len(), out.sends.len());
            let polled = self.poll_and_process(cx.consumer, tasks, &mut out).await;
            hand_over(
                collectors,
                &out.steps[steps_before..],
                &out.sends[sends_before..],
            );
            if polled == 0 {
                madsim::time::sleep(BACKOFF).await;
                continue;
            }
            self.save_stores(tasks);
            records += polled;
            let every = self.config.commit_interval_records;
            if every > 0 && records >= every as usize {
                break; // commit early: the interval in records is reached
            }
        }
        for collector in collectors {
            collector.close();
        }
        out
    }

    /// Kafka Streams' `exactly_once` (KIP-129, a producer per task): every task processed for
    /// the interval together, then each task's transaction committed in turn by its own
    /// producer, as TaskManager commits task by task. A task with nothing new commits nothing.
    /// With background sending each task's operation has a process of its own (their
    /// transactions overlap: every task's records leave while the interval runs).
    async fn cycle_task_transactions(
        &self,
        cx: &CycleContext<'_>,
        producers: &mut [TransactionalProducer],
        tasks: &mut [RunningTask],
    ) -> Cycle {
        assert_eq!(producers.len(), tasks.len(), "a producer per task");
        let started: Vec<Vec<(TopicPartition, u64)>> =
            tasks.iter().map(|t| t.positions().collect()).collect();
        let (processed, sendings, processes) = match self.batch_limits() {
            None => {
                let processed = self.process_for_interval(cx, tasks, &[]).await;
                let sendings = tasks.iter().map(|_| Sending::AtCommit).collect();
                (processed, sendings, vec![cx.process; tasks.len()])
            }
            Some(limits) => {
                let processes: Vec<ProcessId> = (0..tasks.len())
                    .map(|i| match i {
                        0 => cx.process,
                        _ => self.next_process(cx.local),
                    })
                    .collect();
                let (processed, sendings) = self
                    .process_sending_transactional(cx, &processes, tasks, producers, limits)
                    .await;
                (processed, sendings, processes)
            }
        };
        let mut outputs = processed.per_task(tasks.len()).into_iter();
        let mut sendings = sendings.into_iter();
        let mut outcome = Cycle::Idle;
        for i in 0..tasks.len() {
            let output = outputs.next().expect("an output per task");
            let sending = sendings.next().expect("a sending per task");
            let cycle = self
                .commit_exactly_once(
                    cx,
                    processes[i],
                    &mut producers[i],
                    std::slice::from_mut(&mut tasks[i]),
                    (&started[i], output),
                    sending,
                )
                .await;
            match cycle {
                Cycle::Idle => {}
                Cycle::Committed => outcome = Cycle::Committed,
                other => {
                    // The iterators hold the later tasks' shares only.
                    let positions: Vec<Vec<(TopicPartition, u64)>> = tasks[i + 1..]
                        .iter()
                        .map(|t| t.positions().collect())
                        .collect();
                    let later = (producers[i + 1..].iter_mut())
                        .zip(&processes[i + 1..])
                        .zip(positions.iter().zip(outputs.zip(sendings)));
                    for ((producer, &process), (offsets, left)) in later {
                        self.abandon(process, producer, offsets, left).await;
                    }
                    return other;
                }
            }
        }
        outcome
    }

    /// A task's transaction left behind when another task's commit failed (the tasks are
    /// closed dirty): if its records started leaving, it is aborted and its operation ends
    /// naming everything it did (its records may be in the log, aborted).
    async fn abandon(
        &self,
        process: ProcessId,
        producer: &mut TransactionalProducer,
        offsets: &[(TopicPartition, u64)],
        (output, sending): (CycleOutput, Sending),
    ) {
        let Sending::Background(SentInBackground {
            invoke: Some(index),
            ..
        }) = sending
        else {
            return; // nothing began
        };
        let CycleOutput { steps, sends } = output;
        let op = streams_operation(self.application_id(), true, steps, &sends, None, offsets);
        self.ctx.recorder.amend(index, op.clone());
        let phase = match producer.abort_transaction().await {
            Ok(()) => Phase::Fail,
            Err(_) => Phase::Info,
        };
        let why = "abandoned: another task's commit failed".to_string();
        self.ctx.recorder.record(process, phase, op, Some(why));
    }

    /// Kafka Streams' `exactly_once_v2` (KIP-447, a producer per instance): every task
    /// processed for the interval, then one transaction commits them all.
    async fn cycle_instance_transaction(
        &self,
        cx: &CycleContext<'_>,
        producer: &mut TransactionalProducer,
        tasks: &mut [RunningTask],
    ) -> Cycle {
        let started = task_positions(tasks);
        let (processed, sending) = match self.batch_limits() {
            None => (
                self.process_for_interval(cx, tasks, &[]).await,
                Sending::AtCommit,
            ),
            Some(limits) => {
                let producers = std::slice::from_mut(producer);
                let (processed, mut sendings) = self
                    .process_sending_transactional(cx, &[cx.process], tasks, producers, limits)
                    .await;
                (processed, sendings.pop().expect("one producer's sending"))
            }
        };
        let output = processed.merged();
        self.commit_exactly_once(cx, cx.process, producer, tasks, (&started, output), sending)
            .await
    }

    /// Background sending's limits, if the workload asks for it
    /// (`StreamsConfig::producer_batch_bytes`).
    fn batch_limits(&self) -> Option<BatchLimits> {
        (self.config.producer_batch_bytes > 0).then(|| {
            BatchLimits::new(
                self.config.producer_batch_bytes,
                self.config.producer_buffer_bytes,
                self.ctx.net.config().record_bytes,
            )
        })
    }

    /// A new history process of this incarnation.
    fn next_process(&self, local: &Local) -> ProcessId {
        self.ctx
            .client_id
            .process(local.calls.fetch_add(1, Ordering::Relaxed))
    }

    /// Records what a cycle has done so far on its invoke, before its records go on the
    /// wire (background sending): the first call records the invoke (`invoke` is then its
    /// history index), later ones add steps to it. The commit replaces it with the whole.
    fn record_in_progress(
        &self,
        process: ProcessId,
        transactional: bool,
        invoke: &mut Option<u64>,
        steps: Vec<TxnStep>,
    ) {
        match *invoke {
            Some(index) => self.ctx.recorder.extend_invoke(index, steps),
            None => {
                let op = Operation::Txn {
                    transactional,
                    txn_id: None,
                    steps,
                };
                *invoke = Some(self.ctx.recorder.record(process, Phase::Invoke, op, None));
            }
        }
    }

    /// Processes for one interval while each producer's records leave in the background
    /// (a collector per producer: per task, or one for the instance); returns what was
    /// processed and, per producer, how its sending went.
    async fn process_sending_transactional(
        &self,
        cx: &CycleContext<'_>,
        processes: &[ProcessId],
        tasks: &mut [RunningTask],
        producers: &mut [TransactionalProducer],
        limits: BatchLimits,
    ) -> (Processed, Vec<Sending>) {
        let collectors: Vec<RecordCollector> = producers
            .iter()
            .map(|_| RecordCollector::new(limits))
            .collect();
        let mut invokes = vec![None; producers.len()];
        let senders = producers
            .iter_mut()
            .zip(&collectors)
            .zip(invokes.iter_mut().zip(processes))
            .map(|((producer, collector), (invoke, &process))| {
                producer_sender::send_transactional(
                    collector,
                    producer,
                    |tp| self.ctx.cluster.leader(tp),
                    move |steps| self.record_in_progress(process, true, invoke, steps),
                    |tp, end| self.note_written(cx.local, tp, end),
                )
            });
        let (processed, sent) = futures_util::future::join(
            self.process_for_interval(cx, tasks, &collectors),
            futures_util::future::join_all(senders),
        )
        .await;
        let sendings = sent
            .into_iter()
            .zip(collectors)
            .zip(invokes)
            .map(|((sent, collector), invoke)| {
                Sending::Background(SentInBackground {
                    sent,
                    acked: collector.into_acked(),
                    invoke,
                })
            })
            .collect();
        (processed, sendings)
    }

    /// Commits what `tasks` processed since positions `started` in one transaction: begin,
    /// send the output, send the offsets to the transaction, commit. Recorded as one
    /// history operation.
    async fn commit_exactly_once(
        &self,
        cx: &CycleContext<'_>,
        process: ProcessId,
        producer: &mut TransactionalProducer,
        tasks: &mut [RunningTask],
        (started, output): (&[(TopicPartition, u64)], CycleOutput),
        sending: Sending,
    ) -> Cycle {
        let CycleOutput { steps, sends } = output;
        let offsets = task_positions(tasks);
        if sends.is_empty() && offsets == started {
            return Cycle::Idle;
        }
        // The invoke names copies of the poll steps; the completion takes them.
        let op = |polls: Vec<TxnStep>, offsets_known: Option<&[u64]>| {
            streams_operation(
                self.application_id(),
                true,
                polls,
                &sends,
                offsets_known,
                &offsets,
            )
        };
        self.record_commit_invoke(process, &sending, op(steps.clone(), None));
        let result = self
            .send_and_commit(producer, &sends, &offsets, cx, sending)
            .await;
        // Kafka: a commit refused for the group's sake (CommitFailedException) is a
        // TaskMigratedException — the tasks are lost; any other abortable error corrupts them
        // (closed dirty and revived).
        let migrated = matches!(&result, Err(e) if e.is_refused_by_group());
        match result {
            Ok(acked) => {
                self.ctx
                    .recorder
                    .record(process, Phase::Ok, op(steps, Some(&acked)), None);
                Self::note_committed(tasks, &sends, &acked);
                Cycle::Committed
            }
            Err(TxnError::Abortable(why)) => {
                let aborted = producer.abort_transaction().await;
                self.ctx
                    .recorder
                    .record(process, Phase::Fail, op(steps, None), Some(why));
                match (aborted.is_ok(), migrated) {
                    (false, _) => Cycle::Fenced,
                    (true, true) => Cycle::Migrated,
                    (true, false) => Cycle::Aborted,
                }
            }
            Err(TxnError::Fatal(why)) => {
                self.ctx
                    .recorder
                    .record(process, Phase::Fail, op(steps, None), Some(why));
                Cycle::Fenced
            }
            Err(TxnError::Unknown(why)) => {
                self.ctx
                    .recorder
                    .record(process, Phase::Info, op(steps, None), Some(why));
                Cycle::Fenced
            }
        }
    }

    /// Records a transaction's invoke: amends the one recorded when its records started
    /// leaving in the background, or records it now.
    fn record_commit_invoke(&self, process: ProcessId, sending: &Sending, op: Operation) {
        match sending {
            Sending::Background(SentInBackground {
                invoke: Some(index),
                ..
            }) => self.ctx.recorder.amend(*index, op),
            _ => {
                self.ctx.recorder.record(process, Phase::Invoke, op, None);
            }
        }
    }

    /// An exactly-once commit's transaction: its records sent (`sent_in_transaction`), then
    /// the offsets sent to the transaction, then the commit. Returns the records' offsets.
    async fn send_and_commit(
        &self,
        producer: &mut TransactionalProducer,
        sends: &[OutputRecord],
        offsets: &[(TopicPartition, u64)],
        cx: &CycleContext<'_>,
        sending: Sending,
    ) -> Result<Vec<u64>, TxnError> {
        let acked = self
            .sent_in_transaction(producer, sends, cx.local, sending)
            .await?;
        // Outputs and changelog records acknowledged, nothing committed yet: KAFKA-7192's
        // window (a crash here leaves the store ahead of the committed changelog).
        let event = FaultPoint::ChangelogFlushed.event(None, None);
        self.ctx.sim.at_point(self.ctx.node, &event).await;
        producer
            .send_offsets_to_transaction(offsets, cx.metadata)
            .await?;
        producer.commit_transaction().await?;
        Ok(acked)
    }

    /// A transaction's records, sent: now, at the commit (the transaction begins here), or
    /// already in the background. Returns each record's offset.
    async fn sent_in_transaction(
        &self,
        producer: &mut TransactionalProducer,
        sends: &[OutputRecord],
        local: &Local,
        sending: Sending,
    ) -> Result<Vec<u64>, TxnError> {
        match sending {
            Sending::AtCommit => {
                producer.begin_transaction()?;
                self.send_in_transaction(producer, sends, local).await
            }
            Sending::Background(SentInBackground { sent, acked, .. }) => {
                sent?;
                if !producer.in_transaction() {
                    producer.begin_transaction()?; // nothing was sent: offsets only
                }
                let acked = acked.into_iter();
                Ok(acked
                    .map(|a| a.expect("a flushed transaction's records are acknowledged"))
                    .collect())
            }
        }
    }

    /// Sends a transaction's records, one batch per partition and all partitions at once
    /// (as Kafka's sender drains every ready batch); returns each record's offset and notes
    /// the changelog ends written.
    async fn send_in_transaction(
        &self,
        producer: &mut TransactionalProducer,
        sends: &[OutputRecord],
        local: &Local,
    ) -> Result<Vec<u64>, TxnError> {
        let batches = batches_by_partition(sends);
        let values: Vec<Vec<u64>> = batches
            .iter()
            .map(|(_, indices)| indices.iter().map(|&i| sends[i].1).collect())
            .collect();
        let requests: Vec<(&TopicPartition, &[u64])> = batches
            .iter()
            .zip(&values)
            .map(|(&(tp, _), v)| (tp, v.as_slice()))
            .collect();
        let bases = producer.send_batches(&requests).await?;
        let mut acked = vec![0; sends.len()];
        for ((tp, indices), base) in batches.iter().zip(bases) {
            for (k, &i) in indices.iter().enumerate() {
                acked[i] = base + k as u64;
            }
            self.note_written(local, tp, base + indices.len() as u64);
        }
        Ok(acked)
    }

    /// One at-least-once cycle: process for the commit interval (sending in the background
    /// if configured), wait for every acknowledgement, then commit the offsets.
    async fn cycle_at_least_once(&self, cx: &CycleContext<'_>, tasks: &mut [RunningTask]) -> Cycle {
        let (consumer, process) = (cx.consumer, cx.process);
        let (processed, background) = match self.batch_limits() {
            None => (self.process_for_interval(cx, tasks, &[]).await, None),
            Some(limits) => {
                let (processed, sent) = self.process_sending_plain(cx, tasks, limits).await;
                (processed, Some(sent))
            }
        };
        let CycleOutput { steps, sends } = processed.merged();
        let offsets = task_positions(tasks);
        if sends.is_empty() {
            // Nothing new, but a commit of earlier positions may have been lost: commit again
            // (an idempotent OffsetCommit), or the instance would never report its tasks done.
            if !offsets.is_empty() {
                let _ = consumer.commit_sync(self.application_id(), &offsets).await;
            }
            return Cycle::Idle;
        }
        // The invoke names copies of the poll steps; the completion takes them.
        let op = |polls: Vec<TxnStep>, acked: Option<&[u64]>| {
            streams_operation(self.application_id(), false, polls, &sends, acked, &offsets)
        };
        let (acked, failed) = match background {
            None => {
                self.ctx
                    .recorder
                    .record(process, Phase::Invoke, op(steps.clone(), None), None);
                self.send_plain_at_commit(&sends).await
            }
            Some(SentInBackground {
                sent,
                acked,
                invoke,
            }) => {
                let index = invoke.expect("records were sent, so the invoke is recorded");
                self.ctx.recorder.amend(index, op(steps.clone(), None));
                (
                    acked.into_iter().map(|a| a.unwrap_or(0)).collect(),
                    sent.err(),
                )
            }
        };
        let committed = consumer
            .commit_sync(self.application_id(), &offsets)
            .await
            .is_ok();
        if failed.is_none() {
            Self::note_committed(tasks, &sends, &acked);
        }
        match (failed, committed) {
            (None, true) => {
                self.ctx
                    .recorder
                    .record(process, Phase::Ok, op(steps, Some(&acked)), None)
            }
            (why, _) => self.ctx.recorder.record(
                process,
                Phase::Info,
                op(steps, None),
                Some(why.unwrap_or_else(|| "offset commit unanswered".into())),
            ),
        };
        Cycle::Committed
    }

    /// At-least-once's sending at the commit: one batch per partition, all partitions at
    /// once (as the exactly-once cycle sends). Returns each record's offset (0 where its
    /// batch failed) and the last failure.
    async fn send_plain_at_commit(&self, sends: &[OutputRecord]) -> (Vec<u64>, Option<String>) {
        let batches = batches_by_partition(sends);
        let calls = batches.iter().map(|(tp, indices)| {
            let values: Vec<u64> = indices.iter().map(|&i| sends[i].1).collect();
            send_batch_without_idempotence(&self.ctx, tp, values, self.config.request_timeout_ms)
        });
        let answers = futures_util::future::join_all(calls).await;
        let mut acked = vec![0; sends.len()];
        let mut failed = None;
        for ((_, indices), answer) in batches.iter().zip(answers) {
            match answer {
                Ok(base) => {
                    for (k, &i) in indices.iter().enumerate() {
                        acked[i] = base + k as u64;
                    }
                }
                Err(why) => failed = Some(why),
            }
        }
        (acked, failed)
    }

    /// Processes for one interval while at-least-once's records leave in the background.
    async fn process_sending_plain(
        &self,
        cx: &CycleContext<'_>,
        tasks: &mut [RunningTask],
        limits: BatchLimits,
    ) -> (Processed, SentInBackground<String>) {
        let collector = RecordCollector::new(limits);
        let mut invoke = None;
        let sender = producer_sender::send_plain(
            &collector,
            &self.ctx,
            self.config.request_timeout_ms,
            |steps| self.record_in_progress(cx.process, false, &mut invoke, steps),
        );
        let (processed, sent) = futures_util::future::join(
            self.process_for_interval(cx, tasks, std::slice::from_ref(&collector)),
            sender,
        )
        .await;
        let acked = collector.into_acked();
        (
            processed,
            SentInBackground {
                sent,
                acked,
                invoke,
            },
        )
    }

    /// Marks the source partitions whose committed offset covers all their input.
    async fn report_finished(
        &self,
        consumer: &Consumer,
        positions: &[(TopicPartition, u64)],
        inputs: &[String],
    ) {
        let Some(loaded) = self.progress.loaded() else {
            return;
        };
        for (source, position) in positions {
            let loaded_key = (source.topic.to_string(), source.partition);
            let expected = loaded.get(&loaded_key).copied().unwrap_or(0);
            let Ok(f) = consumer.fetch(source, *position, 1, self.isolation()).await else {
                continue;
            };
            let caught_up = f.records.is_empty() && f.last_stable_offset >= f.high_watermark;
            // Every input record is in (offsets count control records too, so ≥); a later
            // stage's input is complete once every partition the loader feeds is finished.
            let all_in = if inputs.iter().any(|t| *t == *source.topic) {
                f.high_watermark >= expected
            } else {
                self.progress.inputs_finished(inputs, self.partitions)
            };
            if caught_up && all_in && self.committed(consumer, source).await >= *position {
                self.progress.finish(source);
            }
        }
    }
}

/// The cycle's sends grouped into one batch per partition (Kafka's producer batches per
/// partition too): partition → indices into `sends`, in send order; partitions in order.
/// A cycle writes to a handful of partitions, so each send finds its batch by a look down
/// the list, and the few batches are sorted at the end; each batch is counted first and
/// made at its size.
fn batches_by_partition(sends: &[OutputRecord]) -> Vec<(&TopicPartition, Vec<usize>)> {
    let mut counts: Vec<(&TopicPartition, usize)> = Vec::new();
    let batch_of: Vec<usize> = (sends.iter())
        .map(|(tp, _, _)| {
            let b = match position_of(counts.iter().map(|(b, _)| *b), tp) {
                Some(b) => b,
                None => {
                    counts.push((tp, 0));
                    counts.len() - 1
                }
            };
            counts[b].1 += 1;
            b
        })
        .collect();
    let mut batches: Vec<(&TopicPartition, Vec<usize>)> = (counts.into_iter())
        .map(|(tp, n)| (tp, Vec::with_capacity(n)))
        .collect();
    for (i, b) in batch_of.into_iter().enumerate() {
        batches[b].1.push(i);
    }
    batches.sort_unstable_by_key(|&(tp, _)| tp);
    batches
}

/// Where `tp` is among distinct topic-partitions, if it is. A task's sends to one topic share
/// its name, so a look for the same name by pointer comes first, and names are compared only
/// if that finds nothing (the answer is the same: the partitions are distinct).
fn position_of<'a>(
    partitions: impl Iterator<Item = &'a TopicPartition> + Clone,
    tp: &TopicPartition,
) -> Option<usize> {
    let mut by_pointer = partitions.clone();
    by_pointer
        .position(|p| p.partition == tp.partition && Arc::ptr_eq(&p.topic, &tp.topic))
        .or_else(|| partitions.into_iter().position(|p| p == tp))
}

/// What background sending leaves for the commit (`apps::producer_sender`): the sender's
/// outcome, each record's acknowledged offset, and the history index of the invoke recorded
/// before the first send (`None`: nothing was sent).
struct SentInBackground<E> {
    sent: Result<(), E>,
    acked: Vec<Option<u64>>,
    invoke: Option<u64>,
}

/// How a transaction's records were sent.
enum Sending {
    /// At the commit, every partition's batch at once (no background sending).
    AtCommit,
    /// In the background while the interval's processing went on.
    Background(SentInBackground<TxnError>),
}

/// Hands processing's new output to the producers' collectors (background sending), with
/// its history steps: one collector per task, or one for every task.
fn hand_over(
    collectors: &[RecordCollector],
    steps: &[(usize, TxnStep)],
    sends: &[(usize, OutputRecord)],
) {
    let records = |task: Option<usize>| {
        let own = sends
            .iter()
            .filter(move |(t, _)| task.is_none_or(|task| *t == task));
        own.map(|(_, (tp, value, _))| (tp, *value))
    };
    let history = |task: Option<usize>| {
        let polls = steps
            .iter()
            .filter(move |(t, _)| task.is_none_or(|task| *t == task));
        let outputs = sends
            .iter()
            .filter(move |(t, _)| task.is_none_or(|task| *t == task));
        let polls = polls.map(|(_, step)| step.clone());
        polls.chain(outputs.map(|(_, (tp, value, source))| send_step(tp, *value, *source, None)))
    };
    match collectors {
        [] => {}
        [all] => all.hand_over(records(None), history(None)),
        per_task => {
            for (task, collector) in per_task.iter().enumerate() {
                collector.hand_over(records(Some(task)), history(Some(task)));
            }
        }
    }
}

/// How a commit cycle ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cycle {
    Committed,
    /// Nothing to do this interval.
    Idle,
    /// Aborted (the tasks are corrupted): rejoin, restore and resume from the committed
    /// offsets.
    Aborted,
    /// Aborted because the group moved on (the tasks are lost): rejoin, restore, resume.
    Migrated,
    /// Fenced or unsure: a new producer (and session) is needed.
    Fenced,
}

/// A commit cycle as a history operation.
fn streams_operation(
    group: &str,
    transactional: bool,
    polls: Vec<TxnStep>,
    sends: &[(TopicPartition, u64, u64)],
    acked: Option<&[u64]>,
    offsets: &[(TopicPartition, u64)],
) -> Operation {
    let mut steps = polls;
    steps.reserve_exact(sends.len() + offsets.len());
    for (i, (tp, value, source)) in sends.iter().enumerate() {
        steps.push(send_step(tp, *value, *source, acked.map(|a| a[i])));
    }
    for (tp, offset) in offsets {
        steps.push(TxnStep::CommitOffset {
            group: group.to_string(),
            topic: tp.topic.clone(),
            partition: tp.partition,
            offset: *offset,
        });
    }
    Operation::Txn {
        transactional,
        txn_id: None,
        steps,
    }
}

/// The history step of an output record (`source`: the input record it came from).
fn send_step(tp: &TopicPartition, value: u64, source: u64, offset: Option<u64>) -> TxnStep {
    TxnStep::Send {
        topic: tp.topic.clone(),
        partition: tp.partition,
        value,
        source: Some(source),
        offset,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    fn buffer(input_ids: &[u32]) -> VecDeque<(u64, u64)> {
        input_ids
            .iter()
            .zip(0u64..)
            .map(|(&id, offset)| (offset, StreamRecord::new(id, 1, 0).pack()))
            .collect()
    }

    /// A task's inputs are merged by timestamp (input id, hop flag cleared), each partition
    /// in offset order, the first input on a tie (Kafka's PartitionGroup).
    #[test]
    fn a_task_takes_the_lowest_timestamp_first_each_partition_in_offset_order() {
        let hop = |id: u32| id | HOP_FLAG;
        let mut buffers = vec![buffer(&[2, 9, 4]), buffer(&[hop(3), 5]), buffer(&[])];
        let mut order = Vec::new();
        while let Some(i) = lowest_timestamp(&buffers) {
            let (_, value) = buffers[i].pop_front().expect("a head");
            order.push((i, timestamp(&unpack(value))));
        }
        // 9 blocks 4 behind it: a partition is never reordered.
        assert_eq!(order, [(0, 2), (1, 3), (1, 5), (0, 9), (0, 4)]);
        let tie = vec![buffer(&[7]), buffer(&[7])];
        assert_eq!(lowest_timestamp(&tie), Some(0));
        assert_eq!(lowest_timestamp(&[buffer(&[]), buffer(&[])]), None);
    }
}
