//! A broker node: serves produce, fetch and InitProducerId for the partitions it leads.
//!
//! Durable state (the partition logs and the producer-id counter) lives in storage objects
//! the node's init closure captures; everything else is rebuilt from it on restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sim::{DurableCell, DurableLog, NodeId, Sim};

use crate::config::{Variant, Variants};
use crate::partition::{Partition, PartitionConfig, StoredBatch};
use crate::producer_state::AppendOrigin;
use crate::protocol::{KafkaError, KafkaNet, Request, Response, TopicPartition};

/// Producer ids are `broker index + PRODUCER_ID_STRIDE * n`, so brokers never collide.
pub const PRODUCER_ID_STRIDE: i64 = 1_000;

/// How often the `unsynced-acks` variant syncs the logs.
pub const UNSYNCED_FLUSH_INTERVAL: Duration = Duration::from_millis(500);

/// What survives a broker crash.
pub struct BrokerStorage {
    pub logs: BTreeMap<TopicPartition, Arc<DurableLog<StoredBatch>>>,
    pub producer_id_counter: Arc<DurableCell<u64>>,
}

impl BrokerStorage {
    pub fn new(partitions: &[TopicPartition]) -> Arc<Self> {
        Arc::new(Self {
            logs: partitions
                .iter()
                .map(|tp| (tp.clone(), DurableLog::new()))
                .collect(),
            producer_id_counter: DurableCell::new(0),
        })
    }
}

/// Starts broker `index` (0-based) as node `name`, leading `partitions`.
pub fn spawn_broker(
    sim: &Sim,
    net: &KafkaNet,
    name: &str,
    index: u32,
    partitions: Vec<TopicPartition>,
    variants: &Variants,
) -> (NodeId, Arc<BrokerStorage>) {
    let storage = BrokerStorage::new(&partitions);
    let config = PartitionConfig {
        idempotence_checks: !variants.has(Variant::NoDedup),
        ..Default::default()
    };
    let ack_before_sync = variants.has(Variant::UnsyncedAcks);
    let (net, init_storage) = (net.clone(), storage.clone());
    let sim_for_init = sim.clone();
    let node = sim.add_node(name, move |me| {
        let broker = Broker::open(
            me,
            index,
            net.clone(),
            init_storage.clone(),
            config,
            ack_before_sync,
        );
        let sim = sim_for_init.clone();
        async move { broker.run(sim).await }
    });
    for log in storage.logs.values() {
        sim.attach_disk(node, log.clone());
    }
    sim.attach_disk(node, storage.producer_id_counter.clone());
    (node, storage)
}

struct Broker {
    me: NodeId,
    index: u32,
    net: KafkaNet,
    storage: Arc<BrokerStorage>,
    partitions: BTreeMap<TopicPartition, Partition>,
    ack_before_sync: bool,
}

impl Broker {
    fn open(
        me: NodeId,
        index: u32,
        net: KafkaNet,
        storage: Arc<BrokerStorage>,
        config: PartitionConfig,
        ack_before_sync: bool,
    ) -> Self {
        let partitions = storage
            .logs
            .iter()
            .map(|(tp, log)| (tp.clone(), Partition::open(tp.clone(), log.clone(), config)))
            .collect();
        Self {
            me,
            index,
            net,
            storage,
            partitions,
            ack_before_sync,
        }
    }

    async fn run(mut self, sim: Sim) {
        let mut inbox = self.net.serve(self.me);
        if self.ack_before_sync {
            let logs: Vec<_> = self.storage.logs.values().cloned().collect();
            sim.spawn_on(self.me, async move {
                loop {
                    madsim::time::sleep(UNSYNCED_FLUSH_INTERVAL).await;
                    logs.iter().for_each(|l| l.sync());
                }
            });
        }
        while let Some(incoming) = inbox.recv().await {
            let response = self.handle(incoming.request);
            self.net.reply(self.me, incoming.reply_to, response);
        }
    }

    fn handle(&mut self, request: Request) -> Response {
        match request {
            Request::Produce { tp, batch } => {
                let Some(partition) = self.partitions.get_mut(&tp) else {
                    return Response::Produce(Err(KafkaError::NotLeaderOrFollower));
                };
                let result = partition.append(&batch, AppendOrigin::Client);
                if let Ok(ok) = &result
                    && !ok.duplicate
                {
                    sim::trace::note(self.me, "append", tp.partition as u64, ok.base_offset);
                    if !self.ack_before_sync {
                        partition.sync();
                    }
                }
                Response::Produce(result)
            }
            Request::Fetch {
                tp,
                offset,
                max_records,
            } => match self.partitions.get(&tp) {
                Some(partition) => Response::Fetch(Ok(partition.fetch(offset, max_records))),
                None => Response::Fetch(Err(KafkaError::NotLeaderOrFollower)),
            },
            Request::InitProducerId => {
                let counter = &self.storage.producer_id_counter;
                let n = counter.get() + 1;
                counter.set_synced(n);
                let producer_id = self.index as i64 + PRODUCER_ID_STRIDE * n as i64;
                Response::InitProducerId(Ok((producer_id, 0)))
            }
        }
    }
}
