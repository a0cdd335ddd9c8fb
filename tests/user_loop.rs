//! A user's consume-transform-produce loop, written with eosim's consumer and producers only:
//! the transactional producer records each transaction itself (its sends and the offsets it
//! commits), the consumer its polls, the plain producer its sends. No history code here, and
//! the checkers judge it: the transactional loop holds exactly-once through copier crashes;
//! the do-it-yourself loop (send, then commit offsets) copies again after a crash.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eosim::checker::AnomalyKind;
use eosim::model::client::consumer::Consumer;
use eosim::model::client::txn_producer::{TransactionalConfig, TransactionalProducer, TxnError};
use eosim::model::client::{ClientContext, Producer, ProducerConfig};
use eosim::model::protocol::GroupMetadata;
use eosim::model::{Guarantee, TopicPartition};
use eosim::scenarios::Simulation;
use eosim::scenarios::app::{
    App, AppEnv, AppNodes, ClientId, Completion, Incarnations, Progress, ReadBack, Started,
};
use eosim::sim::madsim::time::sleep;

const INPUT: &str = "in";
const OUTPUT: &str = "out";
const PARTITIONS: u32 = 2;
const GROUP: &str = "user-copy";
/// Records copied per cycle, and the pause between cycles (so the copy spans the faults).
const BATCH: usize = 5;
const CYCLE_PAUSE: Duration = Duration::from_millis(100);

/// Copies every record of `in` to `out`, one copier per partition.
struct UserCopy {
    values_per_partition: u64,
}

fn copier_name(p: u32) -> String {
    format!("user-copier-{}", p + 1)
}

impl App for UserCopy {
    fn nodes(&self) -> AppNodes {
        AppNodes {
            restartable: (0..PARTITIONS).map(copier_name).collect(),
            other: vec!["user-loader".into()],
        }
    }

    fn start(&self, env: &AppEnv) -> Started {
        let per_partition = self.values_per_partition;
        let loader_env = env.clone();
        env.sim.add_node("user-loader", move |node| {
            load(
                loader_env.client_context(node, ClientId::LOADER),
                per_partition,
            )
        });
        let done = Completion::default();
        for p in 0..PARTITIONS {
            let (env2, done2) = (env.clone(), done.clone());
            let finished = Arc::new(AtomicBool::new(false));
            let incarnations = Incarnations::new(p, copier_name(p), &["consumer", "producer"]);
            env.sim.add_node(&copier_name(p), move |node| {
                let (_, id) = incarnations.next(&env2.recorder);
                let copier = Copier {
                    consumer: Consumer::new(env2.client_context(node, id.sub_client(1))),
                    producer_ctx: env2.client_context(node, id.sub_client(2)),
                    transactional: env2.guarantee.is_exactly_once(),
                    input: TopicPartition::new(INPUT, p),
                    output: TopicPartition::new(OUTPUT, p),
                    end: per_partition,
                };
                let (done, finished) = (done2.clone(), finished.clone());
                async move {
                    copier.run().await;
                    if !finished.swap(true, Ordering::Relaxed) {
                        done.finish_one();
                    }
                }
            });
        }
        Started {
            done: Box::pin(async move { done.wait_for(PARTITIONS).await }),
            stop_when_done: Vec::new(),
        }
    }

    fn read_back(&self) -> ReadBack {
        ReadBack::Committed
    }

    fn progress(&self, done_ops: &[&eosim::checker::Op]) -> Progress {
        Progress {
            unit: "operations completed",
            done: done_ops.len() as u64,
            expected: u64::from(PARTITIONS) * self.values_per_partition,
            ..Progress::default()
        }
    }
}

/// Writes the input: value `1_000 × (p + 1) + i` to partition p.
async fn load(ctx: ClientContext, per_partition: u64) {
    let producer = Producer::connect(ctx, ProducerConfig::default())
        .await
        .expect("valid config");
    let mut deliveries = Vec::new();
    for p in 0..PARTITIONS {
        for i in 0..per_partition {
            let tp = TopicPartition::new(INPUT, p);
            deliveries.push(producer.send(&tp, 1_000 * u64::from(p + 1) + i));
        }
    }
    for delivery in deliveries {
        let _ = delivery.await;
    }
}

struct Copier {
    consumer: Consumer,
    producer_ctx: ClientContext,
    transactional: bool,
    input: TopicPartition,
    output: TopicPartition,
    end: u64,
}

impl Copier {
    async fn run(self) {
        if self.transactional {
            self.run_transactional().await
        } else {
            self.run_at_least_once().await
        }
    }

    /// Where to go on from: the group's committed offset (retried until answered).
    async fn position(&self) -> u64 {
        loop {
            if let Ok(committed) = self
                .consumer
                .committed(GROUP, std::slice::from_ref(&self.input))
                .await
            {
                return committed[0].1.unwrap_or(0);
            }
            sleep(CYCLE_PAUSE).await;
        }
    }

    /// Up to `BATCH` records from `position` (empty on an error or at the end).
    async fn poll(&self, position: u64) -> Vec<(u64, u64)> {
        match self.consumer.poll(&self.input, position).await {
            Ok((records, _)) => records.into_iter().take(BATCH).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The transactional loop: the outputs and the offsets commit together.
    async fn run_transactional(self) {
        let id = format!("user-copy-{}", self.input.partition);
        let mut producer =
            TransactionalProducer::new(self.producer_ctx.clone(), TransactionalConfig::new(&id));
        if producer.init_transactions().await.is_err() {
            return;
        }
        let group = GroupMetadata::static_assignment(GROUP);
        let mut position = self.position().await;
        while position < self.end {
            sleep(CYCLE_PAUSE).await;
            let records = self.poll(position).await;
            let Some(&(last, _)) = records.last() else {
                continue;
            };
            match copy_in_transaction(&mut producer, &self, &records, last + 1, &group).await {
                Ok(()) => position = last + 1,
                Err(TxnError::Abortable(_)) => {
                    if producer.abort_transaction().await.is_err() {
                        return;
                    }
                    position = self.position().await;
                }
                // Fenced or unknown: a restart re-initialises.
                Err(_) => return,
            }
        }
    }

    /// The do-it-yourself loop: send, wait for the acks, then commit the offsets.
    async fn run_at_least_once(self) {
        let config = ProducerConfig {
            enable_idempotence: false,
            ..ProducerConfig::default()
        };
        let Ok(producer) = Producer::connect(self.producer_ctx.clone(), config).await else {
            return;
        };
        let mut position = self.position().await;
        while position < self.end {
            sleep(CYCLE_PAUSE).await;
            let records = self.poll(position).await;
            let Some(&(last, _)) = records.last() else {
                continue;
            };
            let deliveries: Vec<_> = records
                .iter()
                .map(|&(_, value)| producer.send(&self.output, value))
                .collect();
            for delivery in deliveries {
                let _ = delivery.await;
            }
            let commit = [(self.input.clone(), last + 1)];
            if self.consumer.commit_sync(GROUP, &commit).await.is_ok() {
                position = last + 1;
            }
        }
    }
}

async fn copy_in_transaction(
    producer: &mut TransactionalProducer,
    copier: &Copier,
    records: &[(u64, u64)],
    next: u64,
    group: &GroupMetadata,
) -> Result<(), TxnError> {
    producer.begin_transaction()?;
    for &(_, value) in records {
        producer.send(&copier.output, value).await?;
    }
    producer
        .send_offsets_to_transaction(&[(copier.input.clone(), next)], group)
        .await?;
    producer.commit_transaction().await
}

fn simulation(guarantee: Guarantee) -> eosim::scenarios::SimulationBuilder {
    Simulation::builder(UserCopy {
        values_per_partition: 40,
    })
    .name("user-copy")
    .topic(INPUT, PARTITIONS)
    .topic(OUTPUT, PARTITIONS)
    .guarantee(guarantee)
    .seeds(0..16)
}

#[test]
fn a_users_transactional_loop_holds_exactly_once_through_crashes() {
    let results = simulation(Guarantee::ExactlyOnce).run().unwrap();
    results.assert_all_passed();
    // Its transactions are in the history, recorded by the producer itself.
    let committed = results.outcomes[0]
        .history
        .ops
        .iter()
        .filter(|op| {
            op.phase == eosim::checker::Phase::Ok
                && matches!(op.op, eosim::checker::Operation::Txn { .. })
        })
        .count();
    assert!(
        committed >= 16,
        "{committed} committed transactions recorded"
    );
}

#[test]
fn a_users_do_it_yourself_loop_is_caught_copying_twice() {
    let results = simulation(Guarantee::AtLeastOnce).run().unwrap();
    assert!(
        results.kinds().contains(&AnomalyKind::Duplicate),
        "{:?}",
        results.kinds()
    );
}
