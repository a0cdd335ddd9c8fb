//! The transactional producer's concurrent batches against real (simulated) brokers: one
//! batch per partition, all at once, offsets in the caller's order, sequences that carry on
//! into the next transaction, and a fenced producer told so.

use model::broker::{ClusterCell, spawn_broker};
use model::client::{ClientContext, TransactionalConfig, TransactionalProducer, TxnError};
use model::protocol::KafkaNet;
use model::{Cluster, ClusterSpec, Recorder, TopicPartition, TopicSpec};
use sim::node::SUPERVISOR;
use sim::{NetConfig, SeedOptions, run_seed};

/// A 3-broker cluster with topic `out` (3 partitions) and a client on the supervisor.
fn cluster(sim: &sim::Sim) -> ClientContext {
    let net = KafkaNet::new(sim, NetConfig::default());
    let spec = ClusterSpec {
        topics: vec![TopicSpec {
            name: "out".into(),
            partitions: 3,
        }],
        ..ClusterSpec::default()
    };
    let partitions = spec.partitions();
    let cell = ClusterCell::default();
    let brokers = (0..spec.brokers)
        .map(|i| {
            let led = partitions
                .iter()
                .filter(|tp| spec.leader_index(tp) == i)
                .cloned()
                .collect();
            let name = ClusterSpec::broker_name(i);
            spawn_broker(sim, &net, &name, i, led, Default::default(), cell.clone()).0
        })
        .collect();
    let cluster = Cluster::new(spec, brokers);
    cell.set(cluster.clone()).expect("set once");
    ClientContext {
        sim: sim.clone(),
        node: SUPERVISOR,
        net,
        cluster,
        recorder: Recorder::new(),
        client_id: model::client::ClientId::LOADER,
        switches: Default::default(),
    }
}

#[test]
fn batches_to_every_partition_go_at_once_and_a_fenced_producer_is_told() {
    let options = SeedOptions {
        record_trace: true,
        ..SeedOptions::default()
    };
    let report = run_seed(5, &options, |sim| async move {
        let ctx = cluster(&sim);
        let tps: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new("out", p)).collect();
        let mut producer = TransactionalProducer::new(ctx.clone(), TransactionalConfig::new("t"));
        producer.init_transactions().await.unwrap();
        let mut first_offsets = Vec::new();
        for round in 0..2u64 {
            producer.begin_transaction().unwrap();
            let values: Vec<Vec<u64>> = (0..3u64)
                .map(|k| vec![100 * round + 10 * k, 100 * round + 10 * k + 1])
                .collect();
            let batches: Vec<(&TopicPartition, &[u64])> = tps
                .iter()
                .zip(&values)
                .map(|(tp, v)| (tp, v.as_slice()))
                .collect();
            first_offsets.push(producer.send_batches(&batches).await.unwrap());
            producer.commit_transaction().await.unwrap();
        }
        // A new instance with the same transactional.id fences this one.
        let mut successor = TransactionalProducer::new(ctx, TransactionalConfig::new("t"));
        successor.init_transactions().await.unwrap();
        producer.begin_transaction().unwrap();
        let fenced = producer.send_batches(&[(&tps[0], &[999][..])]).await;
        (first_offsets, fenced)
    });
    let (first_offsets, fenced) = report.outcome.unwrap();
    // Two records per partition, then the commit marker: the next transaction starts at 3.
    assert_eq!(first_offsets, vec![vec![0, 0, 0], vec![3, 3, 3]]);
    // Each transaction's three produce requests leave together (one AddPartitionsToTxn for
    // the three partitions before them), not one after another's answer.
    let events = report.trace.recorded.expect("recorded");
    let sent_at = |label: &str| -> Vec<u64> {
        events
            .iter()
            .filter(|e| {
                e.node == SUPERVISOR
                    && matches!(e.kind, sim::TraceKind::Send { label: l, response: false, .. } if l == label)
            })
            .map(|e| e.at_ns)
            .collect()
    };
    let produce = sent_at("produce");
    // (The fenced producer's AddPartitionsToTxn is refused: its batch never leaves.)
    assert_eq!(produce.len(), 6, "3 + 3: {produce:?}");
    assert!(
        produce[0] == produce[2] && produce[3] == produce[5],
        "{produce:?}"
    );
    assert!(
        sent_at("add-partitions-to-txn").len() >= 3,
        "one per transaction"
    );
    assert!(
        matches!(fenced, Err(TxnError::Fatal(_))),
        "a fenced producer must be fatal: {fenced:?}"
    );
}
