//! Cluster layout: brokers, topics, and which broker leads which partition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use sim::NodeId;

use crate::protocol::TopicPartition;

/// A topic and its partition count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: u32,
}

/// The shape of a cluster. Defaults: 3 brokers, no topics, free disk syncs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub brokers: u32,
    pub topics: Vec<TopicSpec>,
    /// Cost model: how long a broker's answer to a request that writes durable state
    /// (produce, transaction and offset log writes, markers) waits for the disk sync,
    /// microseconds. Default 0.
    #[serde(default)]
    pub sync_us: u64,
    /// A topic just created: each partition's leader takes over at a time drawn from the
    /// run's seed in 0..=`leader_election_ms` ms, and until then answers produce and fetch
    /// requests for it with NOT_LEADER_OR_FOLLOWER (retriable), as a broker does while it
    /// creates a partition (KAFKA-15591's trigger). Default 0: every leader from the start.
    #[serde(default)]
    pub leader_election_ms: u64,
    /// The highest producer epoch the transaction coordinators hand out; at one below it
    /// they rotate the producer id. Default Kafka's `Short.MAX_VALUE`, 32,767 (never reached
    /// in a run); a small value makes epoch exhaustion and producer-id rotation happen
    /// within a run (the `epoch-exhaustion` scenario).
    #[serde(default = "default_max_producer_epoch")]
    pub max_producer_epoch: i16,
    /// Shared resources: request-handler threads per broker (Kafka's `num.io.threads`). With
    /// any, a broker's requests queue for a thread (`request_us`, `request_record_us`) and
    /// their durable writes for its one disk (`disk_mb_per_s`, then `sync_us` per write, one
    /// write at a time); see `crate::broker_costs`. Default 0: not modelled (an answer waits
    /// `sync_us` if it wrote durably, and requests never slow each other).
    #[serde(default)]
    pub request_threads: u32,
    /// Shared resources: a handler thread's CPU time per request, microseconds. Default 0.
    #[serde(default)]
    pub request_us: u64,
    /// Shared resources: a handler thread's CPU time per produced record (validation,
    /// offset assignment), microseconds. Default 0.
    #[serde(default)]
    pub request_record_us: u64,
    /// Shared resources: a broker disk's write throughput, megabytes (10^6 B) per second.
    /// Default 0: writing takes no time (only `sync_us`).
    #[serde(default)]
    pub disk_mb_per_s: u64,
    /// Shared resources: replicas per partition (Kafka's `replication.factor`). With links
    /// modelled (`[network] link_mbit_per_s`), every durable write a broker makes (produce,
    /// marker, transaction- or offsets-log record) also crosses its out-link to each of its
    /// followers — the `replication_factor - 1` brokers after it, in broker order, wrapping —
    /// and their in-links before it is durable (acks=all); see `crate::broker_costs`. Leaders,
    /// fail-over and follower state are not modelled: only the replication traffic is.
    /// Default 1: no followers, no replication traffic.
    #[serde(default = "default_replication_factor")]
    pub replication_factor: u32,
    /// Shared resources: a produce without idempotence (no producer id) is answered once the
    /// leader has written it, without waiting for it to be durable (`sync_us`, replication):
    /// Kafka's producer default `acks=1` before 3.0 (KIP-679), which Kafka Streams kept for
    /// at-least-once while exactly-once's idempotence forces `acks=all` (`StreamsConfig`'s
    /// `PRODUCER_DEFAULT_OVERRIDES` set only linger and retries). Timing only: the model still
    /// keeps the write as durably as with `acks=all`, so no acknowledged record is lost to it.
    /// Only with handler threads modelled. Default false (every produce waits, `acks=all`).
    #[serde(default)]
    pub non_idempotent_acks_leader: bool,
}

fn default_replication_factor() -> u32 {
    1
}

fn default_max_producer_epoch() -> i16 {
    crate::txn::MAX_PRODUCER_EPOCH
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            brokers: 3,
            topics: Vec::new(),
            sync_us: 0,
            leader_election_ms: 0,
            max_producer_epoch: crate::txn::MAX_PRODUCER_EPOCH,
            request_threads: 0,
            request_us: 0,
            request_record_us: 0,
            disk_mb_per_s: 0,
            replication_factor: default_replication_factor(),
            non_idempotent_acks_leader: false,
        }
    }
}

impl ClusterSpec {
    /// Name of broker `i` (0-based): "broker-1", "broker-2", …
    pub fn broker_name(i: u32) -> String {
        format!("broker-{}", i + 1)
    }

    pub fn broker_names(&self) -> Vec<String> {
        (0..self.brokers).map(Self::broker_name).collect()
    }

    /// Indices of the brokers that follow broker `leader`'s partitions: the
    /// `replication_factor - 1` brokers after it, wrapping (`replication_factor` is at most
    /// `brokers`, which scenario validation enforces).
    pub fn follower_indices(&self, leader: u32) -> impl Iterator<Item = u32> + '_ {
        let followers = self
            .replication_factor
            .saturating_sub(1)
            .min(self.brokers - 1);
        (1..=followers).map(move |k| (leader + k) % self.brokers)
    }

    /// Every partition of every topic, in a stable order.
    pub fn partitions(&self) -> Vec<TopicPartition> {
        self.topics
            .iter()
            .flat_map(|t| (0..t.partitions).map(move |p| TopicPartition::new(&t.name, p)))
            .collect()
    }

    /// Index of the broker that leads `tp`. Leadership is static in this model (no
    /// replication yet): partitions are spread round-robin, offset per topic.
    pub fn leader_index(&self, tp: &TopicPartition) -> u32 {
        let topic_index = self
            .topics
            .iter()
            .position(|t| *t.name == *tp.topic)
            .expect("known topic") as u32;
        (topic_index + tp.partition) % self.brokers
    }

    /// Index of the transaction coordinator of `transactional_id`: the broker leading its
    /// `__transaction_state` partition (Kafka's placement, `TRANSACTION_STATE_PARTITIONS`
    /// partitions), partitions spread round-robin over the brokers. Stable across restarts.
    pub fn txn_coordinator_index(&self, transactional_id: &str) -> u32 {
        crate::txn::offsets_partition_index(transactional_id, TRANSACTION_STATE_PARTITIONS)
            % self.brokers
    }

    /// Index of the group coordinator of `group_id`: the broker leading its
    /// `__consumer_offsets` partition (Kafka's placement, partitions round-robin).
    pub fn group_coordinator_index(&self, group_id: &str) -> u32 {
        self.offsets_partition_leader_index(crate::txn::offsets_partition_index(
            group_id,
            OFFSETS_TOPIC_PARTITIONS,
        ))
    }

    /// Index of the broker leading `__consumer_offsets` partition `partition`: it applies the
    /// transaction markers written there to its groups' pending offsets.
    pub fn offsets_partition_leader_index(&self, partition: u32) -> u32 {
        partition % self.brokers
    }
}

/// Partitions of `__transaction_state` (Kafka's default, 50).
pub const TRANSACTION_STATE_PARTITIONS: u32 = 50;
/// Partitions of `__consumer_offsets` (Kafka's default, 50; must match the coordinators'
/// `offsets_topic_partitions`).
pub const OFFSETS_TOPIC_PARTITIONS: u32 = 50;

/// A running cluster: the spec and the broker nodes.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub spec: ClusterSpec,
    pub brokers: Vec<NodeId>,
    /// When each partition's leader takes over, ms after the start (`leader_election_ms`);
    /// a partition not listed has had its leader from the start.
    pub leaders_ready_at_ms: BTreeMap<TopicPartition, u64>,
}

impl Cluster {
    /// A cluster whose partitions have their leaders from the start.
    pub fn new(spec: ClusterSpec, brokers: Vec<NodeId>) -> Self {
        Self {
            spec,
            brokers,
            leaders_ready_at_ms: BTreeMap::new(),
        }
    }

    /// Draws each partition's leader-election instant in 0..=`spec.leader_election_ms` from
    /// the run's seed (its own "leader-election" stream: other draws are unaffected).
    pub fn with_leader_elections(mut self, seed: u64) -> Self {
        use rand::Rng;
        let window_ms = self.spec.leader_election_ms;
        if window_ms == 0 {
            return self;
        }
        let mut rng = sim::rng_stream(seed, "leader-election");
        self.leaders_ready_at_ms = self
            .spec
            .partitions()
            .into_iter()
            .map(|tp| (tp, rng.gen_range(0..=window_ms)))
            .collect();
        self
    }

    /// Whether `tp`'s leader has taken over at `now_ms`.
    pub fn leader_ready(&self, tp: &TopicPartition, now_ms: u64) -> bool {
        self.leaders_ready_at_ms
            .get(tp)
            .is_none_or(|&at_ms| now_ms >= at_ms)
    }

    /// The node that leads `tp`.
    pub fn leader(&self, tp: &TopicPartition) -> NodeId {
        if *tp.topic == *crate::txn::CONSUMER_OFFSETS_TOPIC {
            return self.brokers[self.spec.offsets_partition_leader_index(tp.partition) as usize];
        }
        self.brokers[self.spec.leader_index(tp) as usize]
    }

    /// The transaction coordinator of `transactional_id`.
    pub fn txn_coordinator(&self, transactional_id: &str) -> NodeId {
        self.brokers[self.spec.txn_coordinator_index(transactional_id) as usize]
    }

    /// The group coordinator of `group_id`.
    pub fn group_coordinator(&self, group_id: &str) -> NodeId {
        self.brokers[self.spec.group_coordinator_index(group_id) as usize]
    }
}
