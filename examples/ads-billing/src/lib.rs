//! The talk's example: ad displays and clicks joined into billing and fraud outputs, twice.
//!
//! - [`streams`]: as a Kafka Streams topology written with eosim's DSL (windowed and table
//!   joins, a count), run by eosim's Streams runtime in a consumer group — crashes, pauses
//!   that make zombies, lost acks; exactly-once or at-least-once by the run's guarantee.
//! - Below: the same join hand-written with eosim's clients, one biller per partition.
//!
//! A loader writes ad displays to `displays` and clicks to `clicks` (co-partitioned by ad).
//! One biller per partition joins them: a click on an ad it has seen displayed bills the
//! advertiser (`billing`); a click on an ad never displayed is reported (`fraud`). Every click
//! gives exactly one output: that is the property under test.
//!
//! Two billers, written with eosim's public clients only:
//! - [`Loop::Transactional`]: outputs and consumed offsets commit in one transaction
//!   (exactly-once);
//! - [`Loop::DoItYourself`]: poll → process → send → commit offsets (at-least-once: a biller
//!   that crashes after sending and before committing bills again).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eosim::model::TopicPartition;
use eosim::model::client::consumer::Consumer;
use eosim::model::client::txn_producer::{TransactionalConfig, TransactionalProducer, TxnError};
use eosim::model::client::{ClientContext, Producer, ProducerConfig};
use eosim::model::protocol::GroupMetadata;
use eosim::scenarios::app::{
    App, AppEnv, AppNodes, ClientId, Completion, Incarnations, Progress, ReadBack, Started,
};
use eosim::sim::madsim::time::sleep;

pub mod streams;

pub const DISPLAYS: &str = "displays";
pub const CLICKS: &str = "clicks";
pub const BILLING: &str = "billing";
pub const FRAUD: &str = "fraud";
const GROUP: &str = "billing";
/// Records taken per poll, and the pause between cycles (so the run spans the faults).
const BATCH: usize = 4;
const CYCLE_PAUSE: Duration = Duration::from_millis(100);

/// Which loop the billers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loop {
    Transactional,
    DoItYourself,
}

/// The workload: `ads` displayed ads and `fraud_ads` never displayed, each clicked
/// `clicks_per_ad` times, over `partitions` partitions of every topic.
#[derive(Clone, Copy, Debug)]
pub struct AdsBilling {
    pub partitions: u32,
    pub ads: u64,
    pub fraud_ads: u64,
    pub clicks_per_ad: u64,
    pub billing_loop: Loop,
}

/// The value of ad `ad`'s display.
pub fn display(ad: u64) -> u64 {
    1_000_000 + ad
}

/// The value of click `k` on ad `ad`: its click id is `ad × 10 + k`.
pub fn click(ad: u64, k: u64) -> u64 {
    assert!(k < 10, "at most 10 clicks per ad");
    2_000_000 + ad * 10 + k
}

/// The click id an input click or an output (billing or fraud) stands for.
pub fn click_id(value: u64) -> u64 {
    value % 1_000_000
}

fn ad_of_click(value: u64) -> u64 {
    click_id(value) / 10
}

fn biller_name(p: u32) -> String {
    format!("biller-{}", p + 1)
}

impl AdsBilling {
    /// The ads on partition `p` (displayed or not).
    fn ads_on(&self, p: u32) -> impl Iterator<Item = u64> {
        let partitions = u64::from(self.partitions);
        (0..self.ads + self.fraud_ads).filter(move |ad| ad % partitions == u64::from(p))
    }

    fn displays_on(&self, p: u32) -> u64 {
        self.ads_on(p).filter(|&ad| ad < self.ads).count() as u64
    }

    fn clicks_on(&self, p: u32) -> u64 {
        self.ads_on(p).count() as u64 * self.clicks_per_ad
    }

    /// Every click the loader writes.
    pub fn clicks(&self) -> u64 {
        (self.ads + self.fraud_ads) * self.clicks_per_ad
    }
}

impl App for AdsBilling {
    fn nodes(&self) -> AppNodes {
        AppNodes {
            restartable: (0..self.partitions).map(biller_name).collect(),
            other: vec!["ads-loader".into()],
        }
    }

    fn start(&self, env: &AppEnv) -> Started {
        let (loader_env, workload) = (env.clone(), *self);
        env.sim.add_node("ads-loader", move |node| {
            load(loader_env.client_context(node, ClientId::LOADER), workload)
        });
        let done = Completion::default();
        for p in 0..self.partitions {
            start_biller(env, *self, p, &done);
        }
        let billers = self.partitions;
        Started {
            done: Box::pin(async move { done.wait_for(billers).await }),
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
            expected: self.clicks(),
            ..Progress::default()
        }
    }
}

/// Adds biller `p`'s node: each start (after a crash too) is a new incarnation that goes on
/// from the group's committed offsets.
fn start_biller(env: &AppEnv, workload: AdsBilling, p: u32, done: &Completion) {
    let (env2, done) = (env.clone(), done.clone());
    let finished = Arc::new(AtomicBool::new(false));
    let incarnations = Incarnations::new(p, biller_name(p), &["consumer", "producer"]);
    env.sim.add_node(&biller_name(p), move |node| {
        let (_, id) = incarnations.next(&env2.recorder);
        let biller = Biller {
            consumer: Consumer::new(env2.client_context(node, id.sub_client(1))),
            producer_ctx: env2.client_context(node, id.sub_client(2)),
            displays: TopicPartition::new(DISPLAYS, p),
            clicks: TopicPartition::new(CLICKS, p),
            ends: (workload.displays_on(p), workload.clicks_on(p)),
        };
        let (done, finished) = (done.clone(), finished.clone());
        async move {
            let finished_now = match workload.billing_loop {
                Loop::Transactional => biller.run_transactional().await,
                Loop::DoItYourself => biller.run_do_it_yourself().await,
            };
            if finished_now && !finished.swap(true, Ordering::Relaxed) {
                done.finish_one();
            }
        }
    });
}

/// Writes every display, then every click.
async fn load(ctx: ClientContext, workload: AdsBilling) {
    let producer = Producer::connect(ctx, ProducerConfig::default())
        .await
        .expect("the default producer config is valid");
    let partition = |topic: &str, ad: u64| {
        TopicPartition::new(topic, (ad % u64::from(workload.partitions)) as u32)
    };
    let displays: Vec<_> = (0..workload.ads)
        .map(|ad| producer.send(&partition(DISPLAYS, ad), display(ad)))
        .collect();
    for delivery in displays {
        let _ = delivery.await;
    }
    let mut clicks = Vec::new();
    for ad in 0..workload.ads + workload.fraud_ads {
        for k in 0..workload.clicks_per_ad {
            clicks.push(producer.send(&partition(CLICKS, ad), click(ad, k)));
        }
    }
    for delivery in clicks {
        let _ = delivery.await;
    }
}

/// One biller incarnation: joins its partition of clicks with its partition of displays.
struct Biller {
    consumer: Consumer,
    producer_ctx: ClientContext,
    displays: TopicPartition,
    clicks: TopicPartition,
    /// How many displays and clicks its partitions will hold.
    ends: (u64, u64),
}

/// What one cycle read and what it sends.
struct Cycle {
    displayed: Vec<u64>,
    outputs: Vec<(TopicPartition, u64)>,
    next: (u64, u64),
}

impl Biller {
    /// The group's committed offsets of the displays and clicks partitions, retried until
    /// answered, and the ads displayed below the committed displays offset (the join's
    /// state, rebuilt from its input).
    async fn restore(&self) -> ((u64, u64), BTreeSet<u64>) {
        let partitions = [self.displays.clone(), self.clicks.clone()];
        let positions = loop {
            if let Ok(c) = self.consumer.committed(GROUP, &partitions).await {
                break (c[0].1.unwrap_or(0), c[1].1.unwrap_or(0));
            }
            sleep(CYCLE_PAUSE).await;
        };
        let mut displayed = BTreeSet::new();
        let mut at = 0;
        while at < positions.0 {
            if let Ok((records, _)) = self.consumer.poll(&self.displays, at).await {
                for (offset, value) in records.into_iter().take_while(|r| r.0 < positions.0) {
                    displayed.insert(value - display(0));
                    at = offset + 1;
                }
            }
        }
        (positions, displayed)
    }

    async fn poll(&self, tp: &TopicPartition, from: u64) -> Vec<(u64, u64)> {
        match self.consumer.poll(tp, from).await {
            Ok((records, _)) => records.into_iter().take(BATCH).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Reads one batch of displays and of clicks from `at`, and bills (or reports) each click
    /// against the ads displayed so far.
    async fn cycle(&self, at: (u64, u64), displayed: &BTreeSet<u64>) -> Cycle {
        let new_displays = self.poll(&self.displays, at.0).await;
        let clicks = self.poll(&self.clicks, at.1).await;
        let seen: Vec<u64> = new_displays.iter().map(|r| r.1 - display(0)).collect();
        let outputs = clicks
            .iter()
            .map(|&(_, value)| {
                let ad = ad_of_click(value);
                let (topic, base) = if displayed.contains(&ad) || seen.contains(&ad) {
                    (BILLING, 3_000_000)
                } else {
                    (FRAUD, 4_000_000)
                };
                let tp = TopicPartition::new(topic, self.clicks.partition);
                (tp, base + click_id(value))
            })
            .collect();
        Cycle {
            displayed: seen,
            outputs,
            next: (
                new_displays.last().map_or(at.0, |r| r.0 + 1),
                clicks.last().map_or(at.1, |r| r.0 + 1),
            ),
        }
    }

    fn offsets(&self, next: (u64, u64)) -> [(TopicPartition, u64); 2] {
        [
            (self.displays.clone(), next.0),
            (self.clicks.clone(), next.1),
        ]
    }

    /// Exactly-once: each cycle's outputs and offsets commit in one transaction. Returns
    /// whether it finished (false: fenced, a restart goes on).
    async fn run_transactional(self) -> bool {
        let id = format!("ads-billing-{}", self.clicks.partition);
        let mut producer =
            TransactionalProducer::new(self.producer_ctx.clone(), TransactionalConfig::new(&id));
        if producer.init_transactions().await.is_err() {
            return false;
        }
        let group = GroupMetadata::static_assignment(GROUP);
        let (mut at, mut displayed) = self.restore().await;
        while at != self.ends {
            sleep(CYCLE_PAUSE).await;
            let cycle = self.cycle(at, &displayed).await;
            if cycle.next == at {
                continue;
            }
            match commit_cycle(&mut producer, &cycle, &self.offsets(cycle.next), &group).await {
                Ok(()) => {
                    displayed.extend(cycle.displayed);
                    at = cycle.next;
                }
                Err(TxnError::Abortable(_)) => {
                    if producer.abort_transaction().await.is_err() {
                        return false;
                    }
                    (at, displayed) = self.restore().await;
                }
                Err(_) => return false,
            }
        }
        true
    }

    /// At-least-once: send the outputs, wait for their acks, then commit the offsets.
    async fn run_do_it_yourself(self) -> bool {
        let config = ProducerConfig {
            enable_idempotence: false,
            ..ProducerConfig::default()
        };
        let Ok(producer) = Producer::connect(self.producer_ctx.clone(), config).await else {
            return false;
        };
        let (mut at, mut displayed) = self.restore().await;
        while at != self.ends {
            sleep(CYCLE_PAUSE).await;
            let cycle = self.cycle(at, &displayed).await;
            if cycle.next == at {
                continue;
            }
            let deliveries: Vec<_> = cycle
                .outputs
                .iter()
                .map(|(tp, value)| producer.send(tp, *value))
                .collect();
            for delivery in deliveries {
                let _ = delivery.await;
            }
            let offsets = self.offsets(cycle.next);
            if self.consumer.commit_sync(GROUP, &offsets).await.is_ok() {
                displayed.extend(cycle.displayed);
                at = cycle.next;
            }
        }
        true
    }
}

async fn commit_cycle(
    producer: &mut TransactionalProducer,
    cycle: &Cycle,
    offsets: &[(TopicPartition, u64)],
    group: &GroupMetadata,
) -> Result<(), TxnError> {
    producer.begin_transaction()?;
    for (tp, value) in &cycle.outputs {
        producer.send(tp, *value).await?;
    }
    producer.send_offsets_to_transaction(offsets, group).await?;
    producer.commit_transaction().await
}
