//! The bounds of the scenario format.
//!
//! Every size and duration a scenario file sets is bounded, so that one seed of any accepted
//! scenario stays cheap (seconds at most in a release build, bounded memory) and never asks the
//! model for what it cannot run. `Scenario::parse` rejects a value outside its bound with the
//! file, line, column and field. The fields themselves live with the code that uses them
//! (`model::ClusterSpec`, the `model::apps::*` workloads, `sim::NetConfig`, `sim::FaultMix`,
//! `sim::FaultAction`); their bounds are gathered here, section by section, each with the
//! field's default. README's "Scenario files" section lists them too.
//!
//! How the numbers were chosen: release-build runs of the built-in scenarios with one knob
//! pushed at a time (2-core machine, shared): 100,000 produce values take ~0.8 s, 20,000
//! copied values ~1.2 s, 40,000 queue operations ~2.4 s, 100,000 streams records ~3.5 s and
//! 0.7 GB (500,000 saturated ones ~7 CPU-s and ~1.5 GB: the long-commit-interval throughput
//! runs of `scenarios/talk/`, issue 19); a
//! lossy network multiplies the messages per unit of work by up to ~100 (a lost message
//! breaks its connection and every call in flight on it is retried), hence the tenfold
//! smaller workloads when `network.loss` is above zero; group members and streams tasks keep
//! sending heartbeats and fetches for as long as the run lasts (`BACKGROUND_*`).

// ---- whole file -------------------------------------------------------------------------

/// Largest scenario file read, bytes (1 MiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Longest `name`, characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest `description`, characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;

// ---- [cluster] --------------------------------------------------------------------------

/// `cluster.brokers`: 1..=32 (default 3).
pub const MAX_BROKERS: u32 = 32;
/// `cluster.topics`: 1..=16 topics.
pub const MAX_TOPICS: usize = 16;
/// `cluster.topics[i].name`: 1..=249 characters (Kafka's limit).
pub const MAX_TOPIC_NAME_CHARS: usize = 249;
/// `cluster.topics[i].partitions`: 1..=256.
pub const MAX_PARTITIONS_PER_TOPIC: u32 = 256;
/// Partitions of all topics together, the streams application's sink, repartition and
/// changelog topics included: at most 1,024.
pub const MAX_TOTAL_PARTITIONS: u64 = 1_024;
/// `cluster.sync_us`: 0..=1,000,000 µs (default 0).
pub const MAX_SYNC_US: u64 = 1_000_000;
/// `cluster.request_threads`: 0..=64 handler threads per broker (default 0: not modelled).
pub const MAX_REQUEST_THREADS: u32 = 64;
/// `cluster.request_us`: 0..=1,000,000 µs per request (default 0).
pub const MAX_REQUEST_US: u64 = 1_000_000;
/// `cluster.request_record_us`: 0..=10,000 µs per produced record (default 0).
pub const MAX_REQUEST_RECORD_US: u64 = 10_000;
/// `cluster.disk_mb_per_s`: 0..=100,000 MB/s (default 0: writing takes no time).
pub const MAX_DISK_MB_PER_S: u64 = 100_000;
// `cluster.replication_factor`: 1..=`cluster.brokers` replicas per partition (default 1),
// bounded by the scenario's own broker count.
/// `cluster.leader_election_ms`: 0..=60,000 ms (default 0: every leader from the start).
pub const MAX_LEADER_ELECTION_MS: u64 = 60_000;
/// The lowest `[cluster] max_producer_epoch`: room for one bump and one fence (a transaction
/// at epoch 0 exhausted at 1, fenced to 2).
pub const MIN_MAX_PRODUCER_EPOCH: i16 = 2;

// ---- [app.produce] -----------------------------------------------------------------------

/// `app.produce.producers`: 1..=256 (default 3).
pub const MAX_PRODUCERS: u32 = 256;
/// `app.produce.values_per_producer`: 0..=100,000 (default 100). Values are numbered
/// `(producer + 1) × 1,000,000 + i`, so it must stay below 1,000,000 in any case.
pub const MAX_VALUES_PER_PRODUCER: u32 = 100_000;
/// `producers × values_per_producer` of `[app.produce]`: at most 100,000 (a tenth of it on a
/// lossy network).
pub const MAX_PRODUCE_VALUES: u64 = 100_000;
/// `app.produce.send_interval_ms`: 0..=60,000 ms (default 20).
pub const MAX_SEND_INTERVAL_MS: u64 = 60_000;

// ---- [app.transactional-copy] ------------------------------------------------------------

/// `app.transactional-copy.instances`: 1..=64 (default 3).
pub const MAX_COPY_INSTANCES: u32 = 64;
/// `app.transactional-copy.values`: 1..=20,000 (default 300; a tenth of the bound on a lossy network).
pub const MAX_COPY_VALUES: u32 = 20_000;
/// `app.transactional-copy.commit_every`: 1..=10,000 records (default 10).
pub const MAX_COMMIT_EVERY: u32 = 10_000;

// ---- [app.jepsen-queue] ------------------------------------------------------------------

/// `app.jepsen-queue.clients`: 1..=128 (default 4).
pub const MAX_QUEUE_CLIENTS: u32 = 128;
/// `app.jepsen-queue.ops_per_client`: 1..=10,000 (default 60).
pub const MAX_OPS_PER_CLIENT: u32 = 10_000;
/// `clients × ops_per_client` of `[app.jepsen-queue]`: at most 40,000 (a tenth of it on a
/// lossy network).
pub const MAX_QUEUE_OPS: u64 = 40_000;
/// `app.jepsen-queue.max_txn_len`: 1..=100 micro-ops (default 4).
pub const MAX_TXN_LEN: u32 = 100;
/// `clients × ops_per_client × max_txn_len` of `[app.jepsen-queue]`: at most 160,000 (40,000
/// operations of the default 4 micro-ops; a tenth of it on a lossy network). A run's cost
/// grows with its micro-ops: 40,000 operations of up to 20 took over 5 s.
pub const MAX_QUEUE_MICRO_OPS: u64 = 160_000;
/// `app.jepsen-queue.op_interval_ms`: 1..=60,000 ms (default 20).
pub const MAX_OP_INTERVAL_MS: u64 = 60_000;
/// `app.jepsen-queue.intra_txn_delay_ms`: 0..=60,000 ms (default 40).
pub const MAX_INTRA_TXN_DELAY_MS: u64 = 60_000;
/// `app.jepsen-queue.end_txn_delay_ms`: 0..=60,000 ms (default 0).
pub const MAX_END_TXN_DELAY_MS: u64 = 60_000;
/// `app.jepsen-queue.max_poll_records`: 1..=100 (default 10). Every polled record is recorded in the
/// history and checked.
pub const MAX_POLL_RECORDS: u32 = 100;

// ---- [app.streams] -----------------------------------------------------------------------

/// `app.streams.instances`: 1..=32 (default 3). More instances than input partitions is allowed:
/// the idle ones wait (as in Kafka; they spun before issue 12's fix, see
/// `scenarios/regressions/eos-test-idle-instances.toml`).
pub const MAX_STREAMS_INSTANCES: u32 = 32;
/// `app.streams.records`: 1..=500,000 input records (default 300; a tenth of the bound on a lossy
/// network). The bound is the input-id space (`model::streams::record::HOP_FLAG`, 2^19); a
/// seed of 500,000 saturated records takes ~7 CPU-s and ~1.5 GB in a release build, so a
/// long commit interval (a second) still sees several commits in a throughput run.
pub const MAX_STREAMS_RECORDS: u32 = 500_000;
/// `app.streams.records` per key (`records / keys`): at most 100,000, so that a key's sum of
/// raw inputs (each below 10,000) stays far below `i32::MAX` (214,748 such inputs) even when
/// the random keys fall unevenly.
pub const MAX_STREAMS_RECORDS_PER_KEY: u32 = 100_000;
/// `app.streams.keys`: 1..=4,096 (default 100; keys are 12 bits).
pub const MAX_STREAMS_KEYS: u16 = 4_096;
/// `app.streams.commit_interval_ms`: 1..=60,000 ms (default 100).
pub const MAX_COMMIT_INTERVAL_MS: u64 = 60_000;
/// `app.streams.max_input_pause_ms`: 0..=10,000 ms (default 10).
pub const MAX_INPUT_PAUSE_MS: u64 = 10_000;
/// `app.streams.commit_interval_records`: 0..=500,000 (default 0: by time only).
pub const MAX_COMMIT_INTERVAL_RECORDS: u32 = MAX_STREAMS_RECORDS;
/// `app.streams.request_timeout_ms`: 1..=300,000 ms (default 300; Kafka's 30,000 for a
/// saturated throughput run).
pub const MAX_REQUEST_TIMEOUT_MS: u64 = 300_000;
/// `app.streams.producer_batch_bytes`: 0..=16 MiB (default 0: no background sending; Kafka's
/// `batch.size` default is 16,384).
pub const MAX_PRODUCER_BATCH_BYTES: u64 = 16 * 1024 * 1024;
/// `app.streams.producer_buffer_bytes`: 1..=1 GiB (default 32 MiB, Kafka's `buffer.memory`).
pub const MAX_PRODUCER_BUFFER_BYTES: u64 = 1024 * 1024 * 1024;

// ---- shared by the apps ------------------------------------------------------------------

/// `*.txn_timeout_ms`: 1..=300,000 ms (default 10,000).
pub const MAX_TXN_TIMEOUT_MS: u64 = 300_000;
/// `app.transactional-copy.session_timeout_ms`, `app.streams.session_timeout_ms`: more than the members' heartbeat
/// interval (`model::client::GroupConfig`'s 100 ms: a member asserts that it heartbeats more
/// often than its session times out) and at most 300,000 ms (default 1,000).
pub const MAX_SESSION_TIMEOUT_MS: u64 = 300_000;

// ---- [network] -------------------------------------------------------------------------------

/// `network.latency_min_us` ≤ `network.latency_max_us` ≤ 1,000,000 µs (defaults 500 and 2,000).
pub const MAX_LATENCY_US: u64 = 1_000_000;
/// `network.message_overhead_us`: 0..=1,000,000 µs (default 0).
pub const MAX_MESSAGE_OVERHEAD_US: u64 = 1_000_000;
/// `network.record_bytes`: 0..=1,048,576 (default 0).
pub const MAX_RECORD_BYTES: u64 = 1 << 20;
/// `network.transfer_us_per_kib`: 0..=10,000 µs (default 0).
pub const MAX_TRANSFER_US_PER_KIB: u64 = 10_000;
/// `network.link_mbit_per_s`: 0..=1,000,000 Mbit/s per node and direction (default 0: no limit).
pub const MAX_LINK_MBIT_PER_S: u64 = 1_000_000;
/// `network.message_bytes`: 0..=1,048,576 bytes besides a message's records (default 0).
pub const MAX_MESSAGE_BYTES: u64 = 1 << 20;
/// `network.client_message_us`: 0..=1,000,000 µs of a client's CPU per message (default 0).
pub const MAX_CLIENT_MESSAGE_US: u64 = 1_000_000;
/// `network.client_record_us`: 0..=10,000 µs of a client's CPU per record (default 0).
pub const MAX_CLIENT_RECORD_US: u64 = 10_000;
/// `network.loss` is a probability, 0.0..=1.0 (default 0.0). Above 0 the workload bounds
/// (`MAX_PRODUCE_VALUES`, `MAX_COPY_VALUES`, `MAX_QUEUE_OPS`, `MAX_STREAMS_RECORDS`) are
/// divided by this factor.
pub const LOSSY_WORKLOAD_DIVISOR: u64 = 10;

// ---- [faults] ----------------------------------------------------------------------------------

/// `faults.phase_ms`: 0..=600,000 ms (default 5,000).
pub const MAX_PHASE_MS: u64 = 600_000;
/// `faults.heal_deadline_ms`: 1..=600,000 ms (default 60,000).
pub const MAX_HEAL_DEADLINE_MS: u64 = 600_000;
/// `faults.plan`: at most 64 explicit faults. With `MAX_MIX_COUNT` this keeps any node below
/// the model's 100 restarts (`scenarios::run`'s client-id space per node): an explicit plan
/// restarts a node at most 32 times, a mix at most 64.
pub const MAX_PLAN_FAULTS: usize = 64;
/// `faults.plan[i].count`, `faults.mix.max_messages`: 1..=100 messages per message fault
/// (mix default 3).
pub const MAX_MESSAGES_PER_FAULT: u32 = sim::fault::MAX_MESSAGES_PER_FAULT;
/// `faults.plan[i].extra_ms` (delay), `faults.mix.max_delay_ms`: at most 600,000 ms (mix
/// default 3,000).
pub const MAX_DELAY_MS: u64 = sim::fault::MAX_DELAY_MS;
/// `faults.plan[i].grace_ms` (stop): at most 600,000 ms (default 5,000).
pub const MAX_GRACE_MS: u64 = sim::fault::MAX_GRACE_MS;
/// `faults.mix.count`: 0..=64 faults (default 8).
pub const MAX_MIX_COUNT: u32 = 64;
/// Each `faults.mix` weight (`crash`, `pause`, `stop`, `drop_requests`, `lose_acks`,
/// `duplicate_requests`, `duplicate_responses`, `delay`): 0..=1,000.
pub const MAX_MIX_WEIGHT: u32 = 1_000;
/// `faults.mix.min_outage_ms` ≤ `faults.mix.max_outage_ms` ≤ 600,000 ms (defaults 1 and 2,000).
pub const MAX_OUTAGE_MS: u64 = MAX_PHASE_MS;
/// `faults.mix.message` (a list) and `faults.mix.targets`: at most 64 entries.
pub const MAX_LIST_ENTRIES: usize = 64;

/// madsim aborts a run after this much virtual time (`sim::SeedOptions::time_limit`).
pub const SIM_TIME_LIMIT_MS: u64 = 3_600_000;

/// The longest a run can last, in virtual time: the fault phase, the heal deadline, then the
/// verifier's read-back, which has another heal deadline (plus a few calls' timeouts).
pub const fn longest_run_ms(phase_ms: u64, heal_deadline_ms: u64) -> u64 {
    phase_ms + 2 * heal_deadline_ms
}

// Any accepted run ends well inside madsim's limit (a margin of 30 minutes).
const _: () =
    assert!(longest_run_ms(MAX_PHASE_MS, MAX_HEAL_DEADLINE_MS) + 1_800_000 <= SIM_TIME_LIMIT_MS);

// ---- background work over time ------------------------------------------------------------

/// Messages per virtual second one consumer-group member sends while it idles (heartbeats
/// every 100 ms, each a request and a response, and its empty polls), measured.
pub const BACKGROUND_MSGS_PER_MEMBER_S: u64 = 60;
/// Messages per virtual second one streams task sends while it idles (an empty fetch every
/// 20 ms and its answer, and the commit cycle's checks), measured.
pub const BACKGROUND_MSGS_PER_STREAMS_TASK_S: u64 = 80;
/// Largest estimate of the background messages of a run: (`faults.phase_ms` +
/// `faults.heal_deadline_ms`) in seconds × (members × `BACKGROUND_MSGS_PER_MEMBER_S` + streams
/// tasks × `BACKGROUND_MSGS_PER_STREAMS_TASK_S`). 1,500,000 messages take about 3 s.
pub const MAX_BACKGROUND_MESSAGES: u64 = 1_500_000;
