//! Clients whose calls read like Kafka client code. Every call is recorded in the history as
//! invoke → ok | fail | info.

pub mod consumer;
pub mod group;
pub mod producer;
mod txn_history;
pub mod txn_producer;

use sim::{NodeId, Sim};

use crate::cluster::Cluster;
use crate::protocol::KafkaNet;
use crate::recorder::Recorder;

pub use consumer::Consumer;
pub use group::{GroupConfig, GroupMember};
pub use producer::{Producer, ProducerConfig, SendError};
pub use txn_producer::{TransactionalConfig, TransactionalProducer, TxnError};

/// What a client needs from its run: its node, the network, the layout, the recorder.
#[derive(Clone)]
pub struct ClientContext {
    pub sim: Sim,
    pub node: NodeId,
    pub net: KafkaNet,
    pub cluster: Cluster,
    pub recorder: Recorder,
    /// Distinguishes this client's history processes: process = client_id × 1,000,000 + call.
    pub client_id: u64,
}

/// Calls per client before process ids would collide.
pub const PROCESSES_PER_CLIENT: u64 = checker::history::PROCESSES_PER_CLIENT;
