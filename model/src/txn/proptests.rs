//! Random transactional workloads against a reference model: coordinator + partitions.
//!
//! Two transactional.ids write to two partitions; steps add partitions and produce, commit,
//! abort, let transactions time out, start a new instance of a transactional.id (fencing the
//! old one, which keeps trying), deliver markers late, and restart the coordinator from its
//! log. Checked after every step: a read_committed reader sees only committed data, the LSO
//! never passes an open transaction's first offset, a fenced instance never succeeds, and
//! the coordinator's answers for an id never go back to an older (producer id, epoch). At the
//! end, with every marker delivered: committed transactions are visible whole, aborted ones
//! not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use proptest::prelude::*;
use sim::DurableLog;

use super::*;
use crate::partition::{Partition, PartitionConfig, StoredBatch};
use crate::producer_state::AppendOrigin::Client;
use crate::protocol::{IsolationLevel, KafkaError, RecordBatch, TopicPartition, TxnResult};

const TXN_IDS: [&str; 2] = ["t0", "t1"];
const PARTITIONS: u32 = 2;
const TIMEOUT_MS: u64 = 10_000;

#[derive(Clone, Debug)]
enum Step {
    Produce {
        producer: usize,
        partition: u32,
        records: u8,
    },
    End {
        producer: usize,
        commit: bool,
    },
    /// Time passes past every timeout; the coordinator sweeps.
    Timeout,
    /// A new instance of the transactional.id calls InitProducerId.
    NewInstance {
        producer: usize,
    },
    /// The fenced instance tries to add a partition and to commit.
    Zombie {
        producer: usize,
    },
    /// The oldest outstanding marker request is written.
    DeliverMarkers,
    RestartCoordinator,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..2usize, 0..PARTITIONS, 1..4u8).prop_map(|(producer, partition, records)| Step::Produce { producer, partition, records }),
        3 => (0..2usize, any::<bool>()).prop_map(|(producer, commit)| Step::End { producer, commit }),
        1 => Just(Step::Timeout),
        1 => (0..2usize).prop_map(|producer| Step::NewInstance { producer }),
        1 => (0..2usize).prop_map(|producer| Step::Zombie { producer }),
        3 => Just(Step::DeliverMarkers),
        1 => Just(Step::RestartCoordinator),
    ]
}

/// The live instance of a transactional.id, and what its open transaction wrote.
#[derive(Debug, Default)]
struct Instance {
    producer: Option<(i64, i16)>,
    /// A fenced instance's (producer id, epoch).
    zombie: Option<(i64, i16)>,
    next_seq: BTreeMap<u32, i32>,
    open_values: Vec<u64>,
    /// First offset of the open transaction on each partition.
    open_first_offsets: BTreeMap<u32, u64>,
    /// The client's view: its transaction added a partition since it last ended one. A
    /// client ends a transaction that never reached the coordinator locally, without an
    /// EndTxn (Kafka's producer; `TransactionalProducer::end_transaction`).
    started: bool,
}

struct World {
    log: Arc<DurableLog<TxnLogRecord>>,
    coordinator: TxnCoordinator,
    coordinator_epoch: i32,
    config: TxnCoordinatorConfig,
    ids: Arc<AtomicI64>,
    partitions: Vec<Partition>,
    markers: Vec<MarkerRequest>,
    instances: Vec<Instance>,
    /// Values per transactional.id whose decision (commit or abort) is logged but whose
    /// markers may not be written yet.
    committed: BTreeSet<u64>,
    aborted: BTreeSet<u64>,
    newest_answer: BTreeMap<usize, (i64, i16)>,
    now_ms: u64,
    next_value: u64,
}

fn allocator(ids: &Arc<AtomicI64>) -> Box<dyn ProducerIdAllocator> {
    let ids = ids.clone();
    Box::new(move || ids.fetch_add(1, Ordering::SeqCst))
}

impl World {
    /// `max_epoch`: the coordinator's `max_producer_epoch`; a small one makes producer-id
    /// rotation (TV2 EndTxn, fencing aborts, InitProducerId) happen every few steps.
    fn new(tv2: bool, max_epoch: Option<i16>) -> Self {
        let defaults = TxnCoordinatorConfig::default();
        let config = TxnCoordinatorConfig {
            epoch_bump_per_txn: tv2,
            max_producer_epoch: max_epoch.unwrap_or(defaults.max_producer_epoch),
            ..defaults
        };
        let ids = Arc::new(AtomicI64::new(1));
        let log = DurableLog::new();
        let (coordinator, _) = TxnCoordinator::open(log.clone(), 0, config, allocator(&ids));
        let partitions = (0..PARTITIONS)
            .map(|p| {
                let log: Arc<DurableLog<StoredBatch>> = DurableLog::new();
                Partition::open(
                    TopicPartition::new("out", p),
                    log,
                    PartitionConfig::default(),
                )
            })
            .collect();
        let mut world = Self {
            log,
            coordinator,
            coordinator_epoch: 0,
            config,
            ids,
            partitions,
            markers: Vec::new(),
            instances: vec![Instance::default(), Instance::default()],
            committed: BTreeSet::new(),
            aborted: BTreeSet::new(),
            newest_answer: BTreeMap::new(),
            now_ms: 0,
            next_value: 0,
        };
        for producer in 0..2 {
            world.new_instance(producer);
        }
        world
    }

    /// Every (producer id, epoch) the coordinator hands an id is newer than the last one.
    fn answered(&mut self, producer: usize, answer: (i64, i16)) {
        if let Some(&newest) = self.newest_answer.get(&producer) {
            assert!(
                answer > newest,
                "{answer:?} handed out after {newest:?}: a fenced epoch"
            );
        }
        self.newest_answer.insert(producer, answer);
    }

    /// The open transaction of `producer` was decided.
    fn decide(&mut self, producer: usize, commit: bool) {
        let instance = &mut self.instances[producer];
        let values = std::mem::take(&mut instance.open_values);
        instance.open_first_offsets.clear();
        if commit {
            self.committed.extend(values);
        } else {
            self.aborted.extend(values);
        }
    }

    /// Whether the coordinator holds another producer id than `pid` for `producer`'s
    /// transactional.id: a rotation took `pid` away.
    fn rotated_away(&self, producer: usize, pid: i64) -> bool {
        self.coordinator
            .metadata(TXN_IDS[producer])
            .is_some_and(|m| m.producer_id != pid)
    }

    fn is_ongoing(&self, producer: usize) -> bool {
        self.coordinator
            .metadata(TXN_IDS[producer])
            .is_some_and(|m| m.state == TxnState::Ongoing)
    }

    fn new_instance(&mut self, producer: usize) {
        let id = TXN_IDS[producer];
        let was_ongoing = self.is_ongoing(producer);
        let mut outcome =
            self.coordinator
                .init_producer_id(Some(id), TIMEOUT_MS, None, self.now_ms);
        if was_ongoing {
            assert_eq!(outcome.result, Err(KafkaError::ConcurrentTransactions));
            self.decide(producer, false);
            self.markers.extend(outcome.markers);
        }
        while outcome.result == Err(KafkaError::ConcurrentTransactions) {
            assert!(
                !self.markers.is_empty(),
                "the coordinator waits for markers"
            );
            self.deliver_markers();
            outcome = self
                .coordinator
                .init_producer_id(Some(id), TIMEOUT_MS, None, self.now_ms);
        }
        let answer = outcome
            .result
            .expect("InitProducerId succeeds once markers are written");
        self.answered(producer, answer);
        let instance = &mut self.instances[producer];
        instance.zombie = instance.producer.replace(answer);
        instance.next_seq.clear();
        instance.started = false;
    }

    fn produce(&mut self, producer: usize, partition: u32, records: u8) {
        let Some((pid, epoch)) = self.instances[producer].producer else {
            return;
        };
        let tp = TopicPartition::new("out", partition);
        let id = TXN_IDS[producer];
        match self
            .coordinator
            .add_partitions(id, pid, epoch, &[tp], self.now_ms)
        {
            Ok(()) => self.instances[producer].started = true,
            Err(KafkaError::ConcurrentTransactions) => return,
            // Timed out and fenced: this instance is done.
            Err(KafkaError::ProducerFenced) => return,
            // Fenced by a rotation (a fencing abort at an exhausted epoch gave the
            // transactional.id a new producer id): Kafka answers the old id so too.
            Err(KafkaError::InvalidProducerIdMapping) => {
                assert!(
                    self.rotated_away(producer, pid),
                    "AddPartitions refused the current id"
                );
                return;
            }
            Err(e) => panic!("AddPartitions: {e}"),
        }
        let values: Vec<u64> = (self.next_value..self.next_value + records as u64).collect();
        self.next_value += records as u64;
        let instance = &mut self.instances[producer];
        let seq = instance.next_seq.entry(partition).or_insert(0);
        let batch = RecordBatch {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: *seq,
            values: values.clone().into(),
            transactional: true,
        };
        let ok = self.partitions[partition as usize]
            .append(&batch, Client)
            .expect("a live instance's transactional append is accepted");
        *seq += records as i32;
        instance
            .open_first_offsets
            .entry(partition)
            .or_insert(ok.base_offset);
        instance.open_values.extend(values);
    }

    fn end(&mut self, producer: usize, commit: bool) {
        let Some((pid, epoch)) = self.instances[producer].producer else {
            return;
        };
        if !std::mem::take(&mut self.instances[producer].started) {
            return; // ended locally: nothing reached the coordinator
        }
        let result = if commit {
            TxnResult::Commit
        } else {
            TxnResult::Abort
        };
        let was_ongoing = self.is_ongoing(producer);
        let outcome = self
            .coordinator
            .end_txn(TXN_IDS[producer], pid, epoch, result, self.now_ms);
        match outcome.result {
            // TV2: EndTxn(abort) one epoch below a transaction a fence aborted (a timeout) is
            // a retry (Kafka's `retryOnEpochBump`): answered with the id and epoch to go on
            // with, as after the producer's own abort.
            Ok(answer) if !was_ongoing && self.config.epoch_bump_per_txn => {
                assert!(!commit, "a timed-out transaction never commits");
                assert!(outcome.markers.is_empty());
                assert!(
                    answer == (pid, epoch + 1) || answer.1 == 0,
                    "{answer:?} after ({pid}, {epoch})"
                );
                self.answered(producer, answer);
                let instance = &mut self.instances[producer];
                instance.producer = Some(answer);
                instance.next_seq.clear();
            }
            // TV0/1: EndTxn after the same decision completed is answered as a retry (C15).
            Ok(answer) if !was_ongoing => {
                assert_eq!(answer, (pid, epoch));
                assert!(outcome.markers.is_empty());
            }
            Ok(answer) => {
                self.decide(producer, commit);
                self.markers.extend(outcome.markers);
                if self.config.epoch_bump_per_txn {
                    self.answered(producer, answer);
                    let instance = &mut self.instances[producer];
                    instance.producer = Some(answer);
                    instance.next_seq.clear();
                }
            }
            Err(
                KafkaError::InvalidTxnState
                | KafkaError::ConcurrentTransactions
                | KafkaError::ProducerFenced,
            ) => {}
            Err(KafkaError::InvalidProducerIdMapping) => {
                assert!(
                    self.rotated_away(producer, pid),
                    "EndTxn refused the current id"
                );
            }
            Err(e) => panic!("EndTxn: {e}"),
        }
    }

    fn timeout(&mut self) {
        self.now_ms += TIMEOUT_MS + 1;
        let ongoing: Vec<usize> = (0..2).filter(|&p| self.is_ongoing(p)).collect();
        let markers = self.coordinator.abort_timed_out_transactions(self.now_ms);
        assert_eq!(
            markers.len(),
            ongoing.len(),
            "every open transaction timed out"
        );
        for producer in ongoing {
            self.decide(producer, false);
        }
        self.markers.extend(markers);
    }

    fn zombie(&mut self, producer: usize) {
        let Some((pid, epoch)) = self.instances[producer].zombie else {
            return;
        };
        let id = TXN_IDS[producer];
        let tp = TopicPartition::new("out", 0);
        let add = self
            .coordinator
            .add_partitions(id, pid, epoch, &[tp], self.now_ms);
        assert!(add.is_err(), "a fenced instance added a partition");
        let end = self
            .coordinator
            .end_txn(id, pid, epoch, TxnResult::Commit, self.now_ms);
        assert!(end.result.is_err(), "a fenced instance ended a transaction");
    }

    fn deliver_markers(&mut self) {
        if self.markers.is_empty() {
            return;
        }
        let request = self.markers.remove(0);
        for tp in &request.partitions {
            self.partitions[tp.partition as usize]
                .append_marker(&request.marker, Client)
                .expect("the coordinator's marker is accepted");
        }
        self.coordinator.on_markers_written(&request, self.now_ms);
    }

    fn restart_coordinator(&mut self) {
        self.coordinator_epoch += 1;
        let (coordinator, resend) = TxnCoordinator::open(
            self.log.clone(),
            self.coordinator_epoch,
            self.config,
            allocator(&self.ids),
        );
        self.coordinator = coordinator;
        // Requests to the old coordinator's marker sender are lost with it.
        self.markers = resend;
    }

    fn check(&self) {
        for (index, partition) in self.partitions.iter().enumerate() {
            let read = partition.fetch_isolated(0, u32::MAX, IsolationLevel::ReadCommitted);
            for (offset, value) in read.records {
                assert!(
                    self.committed.contains(&value),
                    "read_committed saw {value} at {offset} on partition {index}, not committed"
                );
            }
            let open_first = self
                .instances
                .iter()
                .filter_map(|i| i.open_first_offsets.get(&(index as u32)))
                .min();
            if let Some(&first) = open_first {
                assert!(
                    partition.last_stable_offset() <= first,
                    "the LSO passed an open transaction"
                );
            }
        }
    }

    fn finish(&mut self) {
        for producer in 0..2 {
            if self.is_ongoing(producer) {
                self.end(producer, false);
            }
        }
        while !self.markers.is_empty() {
            self.deliver_markers();
        }
        let mut visible = BTreeSet::new();
        for partition in &self.partitions {
            assert_eq!(
                partition.last_stable_offset(),
                partition.log_end_offset(),
                "nothing hangs"
            );
            let read = partition.fetch_isolated(0, u32::MAX, IsolationLevel::ReadCommitted);
            visible.extend(read.records.into_iter().map(|(_, v)| v));
        }
        assert_eq!(
            visible, self.committed,
            "committed transactions are visible whole"
        );
        assert!(visible.is_disjoint(&self.aborted));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn transactions_against_reference(
        tv2 in any::<bool>(),
        max_epoch in proptest::option::of(2i16..=4),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut world = World::new(tv2, max_epoch);
        for step in steps {
            match step {
                Step::Produce { producer, partition, records } => world.produce(producer, partition, records),
                Step::End { producer, commit } => world.end(producer, commit),
                Step::Timeout => world.timeout(),
                Step::NewInstance { producer } => world.new_instance(producer),
                Step::Zombie { producer } => world.zombie(producer),
                Step::DeliverMarkers => world.deliver_markers(),
                Step::RestartCoordinator => world.restart_coordinator(),
            }
            world.check();
        }
        world.finish();
    }
}

/// The small maximum epochs above do reach rotation: two TV2 transactions at max epoch 3 move
/// the producer to a new id, and the reference still holds.
#[test]
fn a_small_max_epoch_rotates_the_producer_id_within_a_few_transactions() {
    let mut world = World::new(true, Some(3));
    let (first_id, _) = world.instances[0].producer.expect("initialised");
    for commit in [true, false, true] {
        world.produce(0, 0, 1);
        world.end(0, commit);
        while !world.markers.is_empty() {
            world.deliver_markers();
        }
        world.check();
    }
    let (id_now, _) = world.instances[0].producer.expect("still initialised");
    assert_ne!(id_now, first_id, "the producer id was rotated");
    world.finish();
}
