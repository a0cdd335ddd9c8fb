//! Clients whose calls read like Kafka client code. Every call is recorded in the history as
//! invoke → ok | fail | info.

pub mod consumer;
pub mod group;
pub mod identity;

pub use identity::{ClientId, Incarnations, ProcessId};
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
    /// Who the client is in the history: its processes are `client_id.process(call)`.
    pub client_id: ClientId,
}

/// Calls per client before process ids would collide.
pub const PROCESSES_PER_CLIENT: u64 = checker::history::PROCESSES_PER_CLIENT;
