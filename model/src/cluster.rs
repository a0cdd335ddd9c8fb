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

/// The shape of a cluster. Defaults: 3 brokers, no topics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    pub brokers: u32,
    pub topics: Vec<TopicSpec>,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            brokers: 3,
            topics: Vec::new(),
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
}

/// A running cluster: the spec and the broker nodes.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub spec: ClusterSpec,
    pub brokers: Vec<NodeId>,
}

impl Cluster {
    /// The node that leads `tp`.
    pub fn leader(&self, tp: &TopicPartition) -> NodeId {
        self.brokers[self.spec.leader_index(tp) as usize]
    }
}
