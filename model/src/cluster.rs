//! Cluster layout: brokers, topics, and which broker leads which partition.

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
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            brokers: 3,
            topics: Vec::new(),
            sync_us: 0,
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
        let tp = crate::txn::offsets_partition_for(transactional_id, TRANSACTION_STATE_PARTITIONS);
        tp.partition % self.brokers
    }

    /// Index of the group coordinator of `group_id`: the broker leading its
    /// `__consumer_offsets` partition (Kafka's placement, partitions round-robin).
    pub fn group_coordinator_index(&self, group_id: &str) -> u32 {
        self.offsets_partition_leader_index(
            crate::txn::offsets_partition_for(group_id, OFFSETS_TOPIC_PARTITIONS).partition,
        )
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
}

impl Cluster {
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
