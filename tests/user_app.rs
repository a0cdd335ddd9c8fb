//! A user's own app, written against the public API only (as a crate depending on eosim
//! would), runs under faults and is judged by the checkers: its producers record their sends
//! themselves, no history is written by hand.

use eosim::checker::AnomalyKind;
use eosim::model::TopicPartition;
use eosim::model::client::Producer;
use eosim::model::{Guarantee, Variant};
use eosim::scenarios::Simulation;
use eosim::scenarios::app::{
    App, AppEnv, AppNodes, ClientId, Completion, Progress, ReadBack, Started,
};
use eosim::sim::madsim::time::sleep;
use std::time::Duration;

/// Emitters send `values` unique values each, round robin over the topic's partitions, with
/// the producer settings of the run's guarantee.
struct Emitters {
    emitters: u32,
    values: u32,
}

const TOPIC: &str = "readings";
const PARTITIONS: u32 = 4;

fn emitter_name(k: u32) -> String {
    format!("emitter-{}", k + 1)
}

impl App for Emitters {
    fn nodes(&self) -> AppNodes {
        AppNodes {
            restartable: Vec::new(),
            other: (0..self.emitters).map(emitter_name).collect(),
        }
    }

    fn start(&self, env: &AppEnv) -> Started {
        let done = Completion::default();
        for k in 0..self.emitters {
            let (env2, done2, values) = (env.clone(), done.clone(), self.values);
            let config = eosim::scenarios::run::producer_config(env.guarantee);
            env.recorder
                .name_client(ClientId::producer(k), emitter_name(k));
            env.sim.add_node(&emitter_name(k), move |node| {
                let ctx = env2.client_context(node, ClientId::producer(k));
                let (config, done) = (config.clone(), done2.clone());
                async move {
                    let producer = Producer::connect(ctx, config).await.expect("valid config");
                    let mut deliveries = Vec::new();
                    for i in 0..values {
                        let tp = TopicPartition::new(TOPIC, i % PARTITIONS);
                        let value = u64::from(k + 1) * 1_000_000 + u64::from(i);
                        deliveries.push(producer.send(&tp, value));
                        // One reading every 25 ms: the run spans the fault phase.
                        sleep(Duration::from_millis(25)).await;
                    }
                    for delivery in deliveries {
                        let _ = delivery.await;
                    }
                    done.finish_one();
                }
            });
        }
        let emitters = self.emitters;
        Started {
            done: Box::pin(async move { done.wait_for(emitters).await }),
            stop_when_done: Vec::new(),
        }
    }

    fn read_back(&self) -> ReadBack {
        ReadBack::Everything
    }

    fn progress(&self, done_ops: &[&eosim::checker::Op]) -> Progress {
        Progress {
            unit: "client operations completed",
            done: done_ops.len() as u64,
            expected: u64::from(self.emitters * self.values),
            ..Progress::default()
        }
    }
}

fn simulation(guarantee: Guarantee) -> eosim::scenarios::SimulationBuilder {
    Simulation::builder(Emitters {
        emitters: 2,
        values: 100,
    })
    .name("emitters")
    .topic(TOPIC, PARTITIONS)
    .guarantee(guarantee)
    .seeds(0..12)
}

#[test]
fn a_users_app_holds_exactly_once_under_faults() {
    simulation(Guarantee::ExactlyOnce)
        .run()
        .expect("a valid simulation")
        .assert_all_passed();
}

#[test]
fn a_users_app_without_idempotence_is_caught_with_duplicates() {
    let results = simulation(Guarantee::AtLeastOnce).run().unwrap();
    assert!(
        results.kinds().contains(&AnomalyKind::Duplicate),
        "{:?}",
        results.kinds()
    );
    let failed = results.failures().next().expect("a failing seed");
    // The same seed runs the same way again.
    let again = simulation(Guarantee::AtLeastOnce)
        .build()
        .unwrap()
        .run_seed(failed.seed);
    assert_eq!(again.trace.hash, failed.trace.hash);
}

#[test]
fn a_variant_applies_to_a_users_app_too() {
    let results = simulation(Guarantee::ExactlyOnce)
        .variant(Variant::NoDedup)
        .run()
        .unwrap();
    assert!(
        results.kinds().contains(&AnomalyKind::Duplicate),
        "{:?}",
        results.kinds()
    );
}

#[test]
fn a_users_app_may_not_take_a_brokers_name() {
    struct Squatter;
    impl App for Squatter {
        fn nodes(&self) -> AppNodes {
            AppNodes {
                restartable: vec!["broker-1".into()],
                other: Vec::new(),
            }
        }
        fn start(&self, _env: &AppEnv) -> Started {
            unreachable!("never started")
        }
        fn read_back(&self) -> ReadBack {
            ReadBack::Everything
        }
        fn progress(&self, _: &[&eosim::checker::Op]) -> Progress {
            Progress::default()
        }
    }
    let e = Simulation::builder(Squatter)
        .topic(TOPIC, 1)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("\"broker-1\""), "{e}");
}
