//! A broker node: serves produce and fetch for the partitions it leads, and hosts the
//! transaction coordinator of the transactional.ids and the group coordinator of the groups
//! placed on it (`ClusterSpec::txn_coordinator_index` / `group_coordinator_index`).
//!
//! Durable state (the partition logs, the producer-id counter, the transaction log, the
//! offsets log and the coordinator-load counter) lives in [`BrokerStorage`], which the node's
//! init closure captures; everything else is rebuilt from it on restart. Each restart loads
//! the transaction coordinator with a higher coordinator epoch, so partitions fence markers
//! from an earlier load, and re-sends the markers of transactions it finds in
//! PrepareCommit/PrepareAbort.
//!
//! Markers travel to partition leaders as WriteTxnMarkers requests, retried (after
//! `MARKER_RETRY_BACKOFF`) until every partition acknowledged; then the coordinator logs
//! Complete*. Markers for partitions this broker leads are written directly. A marker for a
//! `__consumer_offsets` partition completes the pending transactional offsets of the groups
//! there. Every `TXN_TIMEOUT_SWEEP_INTERVAL` while a transaction is Ongoing, the coordinator
//! aborts (and fences) the transactions that outlived their timeout.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use madsim::time::Instant;
use sim::chan as mpsc;
use sim::{DurableCell, DurableLog, NodeId, Sim};

use crate::broker_costs::{BrokerCosts, Replication};
use crate::cluster::{Cluster, OFFSETS_TOPIC_PARTITIONS};
use crate::config::{Variant, Variants};
use crate::coverage::CoveragePoint;
use crate::fault_point::FaultPoint;
use crate::group::{
    GroupMembers, GroupOffsets, GroupOffsetsConfig, MemberMeta, OffsetLogRecord, Rebalance,
};
use crate::partition::{Partition, PartitionConfig, StoredBatch};
use crate::producer_state::AppendOrigin;
use crate::protocol::{
    IsolationLevel, KafkaError, KafkaNet, RecordBatch, Request, Response, TopicPartition,
    TxnMarker, TxnProducer, TxnResult,
};
use crate::trace_note::TraceNote;
use crate::txn::{
    CONSUMER_OFFSETS_TOPIC, MarkerRequest, TxnCoordinator, TxnCoordinatorConfig, TxnLogRecord,
    TxnState,
};

/// Producer ids are `broker index + PRODUCER_ID_STRIDE * n`, so brokers never collide.
pub const PRODUCER_ID_STRIDE: i64 = 1_000;

/// How often the `unsynced-acks` variant syncs the logs.
pub const UNSYNCED_FLUSH_INTERVAL: Duration = Duration::from_millis(500);

/// How often a coordinator with an Ongoing transaction looks for timed-out ones (Kafka's
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` is 10 s; scaled down to the
/// simulated runs' length).
pub const TXN_TIMEOUT_SWEEP_INTERVAL: Duration = Duration::from_millis(1_000);

/// Pause before a WriteTxnMarkers request that failed or timed out is sent again.
pub const MARKER_RETRY_BACKOFF: Duration = Duration::from_millis(50);

/// How long the coordinator waits for a WriteTxnMarkers response.
pub const MARKER_REQUEST_TIMEOUT: Duration = Duration::from_millis(300);

/// Broker-wide protocol switches (variants turn safeguards off). Defaults: Kafka's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerSwitches {
    /// Acknowledge a produce before syncing (the `unsynced-acks` variant). Default false.
    pub ack_before_sync: bool,
    /// Bump the producer epoch at every transaction end (KIP-890 part 2). Default true.
    pub epoch_bump_per_txn: bool,
    /// Refuse requests from an older epoch of a transactional producer (a fenced zombie):
    /// produce, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit. Default true;
    /// off is the `no-zombie-fencing` variant.
    pub epoch_fencing: bool,
    /// KIP-447: refuse a TxnOffsetCommit from a member or generation the group left behind.
    /// Default true; off is the `no-generation-check` variant.
    pub generation_check: bool,
    /// Fence a timed-out transaction's producer (epoch bump) before aborting it (KAFKA-6119's
    /// fix). Default true; off is the `timeout-abort-keeps-epoch` variant.
    pub timeout_abort_fences: bool,
    /// A marker refused INVALID_PRODUCER_EPOCH counts as written (the partition is past it:
    /// an idempotent retry, KAFKA-19999's fix). Default true; off is the
    /// `marker-retry-refused` variant: the coordinator gives up the transaction's markers, as
    /// Kafka's marker handler did, and the transaction stays in Prepare*.
    pub refused_marker_counts_as_written: bool,
    /// A fencing abort at an exhausted epoch rotates the producer id (KAFKA-20090's fix).
    /// Default true; off is the `timeout-abort-skips-rotation` variant.
    pub fence_abort_rotates_exhausted_producer: bool,
}

impl Default for BrokerSwitches {
    fn default() -> Self {
        Self {
            ack_before_sync: false,
            epoch_bump_per_txn: true,
            epoch_fencing: true,
            generation_check: true,
            timeout_abort_fences: true,
            refused_marker_counts_as_written: true,
            fence_abort_rotates_exhausted_producer: true,
        }
    }
}

impl BrokerSwitches {
    /// The broker side of the variants in force.
    pub fn from_variants(variants: &Variants) -> Self {
        Self {
            ack_before_sync: variants.has(Variant::UnsyncedAcks),
            // Transactions v1 under `no-txn-epoch-bump` (KAFKA-17754) and the v1-era bugs:
            // the transactional client continues its sequence numbers within an unchanged
            // epoch.
            epoch_bump_per_txn: !variants.has(Variant::NoTxnEpochBump)
                && !variants.has(Variant::TimeoutAbortKeepsEpoch)
                && !variants.has(Variant::NoEpochBumpAfterSendTimeout),
            epoch_fencing: !variants.has(Variant::NoZombieFencing),
            generation_check: !variants.has(Variant::NoGenerationCheck),
            timeout_abort_fences: !variants.has(Variant::TimeoutAbortKeepsEpoch),
            refused_marker_counts_as_written: !variants.has(Variant::MarkerRetryRefused),
            fence_abort_rotates_exhausted_producer: !variants
                .has(Variant::TimeoutAbortSkipsRotation),
        }
    }
}

/// What survives a broker crash.
pub struct BrokerStorage {
    pub logs: BTreeMap<TopicPartition, Arc<DurableLog<StoredBatch>>>,
    pub producer_id_counter: Arc<DurableCell<u64>>,
    /// The transaction coordinator's log (`__transaction_state`, this broker's share).
    pub txn_log: Arc<DurableLog<TxnLogRecord>>,
    /// The group coordinator's log (`__consumer_offsets`, this broker's share).
    pub offsets_log: Arc<DurableLog<OffsetLogRecord>>,
    /// Highest producer epoch seen per (offsets partition, producer id) on this broker's
    /// offsets partitions (Kafka keeps it in the `__consumer_offsets` partitions' producer
    /// state): a TxnOffsetCommit below it comes from a fenced producer, a marker at or below
    /// it (TV2) is stale.
    pub offsets_producer_epochs: Arc<DurableCell<BTreeMap<(u32, i64), i16>>>,
    /// Times the coordinators were loaded: the coordinator epoch of the current load.
    pub coordinator_loads: Arc<DurableCell<u64>>,
}

impl BrokerStorage {
    pub fn new(partitions: &[TopicPartition]) -> Arc<Self> {
        Arc::new(Self {
            logs: partitions
                .iter()
                .map(|tp| (tp.clone(), DurableLog::new()))
                .collect(),
            producer_id_counter: DurableCell::new(0),
            txn_log: DurableLog::new(),
            offsets_log: DurableLog::new(),
            offsets_producer_epochs: DurableCell::new(BTreeMap::new()),
            coordinator_loads: DurableCell::new(0),
        })
    }

    /// The group coordinator's state as its log holds it (ground truth for checkers).
    pub fn group_offsets(&self) -> GroupOffsets {
        self.group_offsets_with(BrokerSwitches::default())
    }

    fn group_offsets_with(&self, switches: BrokerSwitches) -> GroupOffsets {
        let records = self.offsets_log.read(|r| r.to_vec());
        let config = GroupOffsetsConfig {
            offsets_topic_partitions: OFFSETS_TOPIC_PARTITIONS,
            generation_check: switches.generation_check,
        };
        GroupOffsets::from_records(config, &records)
    }
}

/// The cluster layout, known once every broker node exists (brokers route markers with it).
pub type ClusterCell = Arc<OnceLock<Cluster>>;

/// How a broker is set up: the partition checks and switches the variants in force imply,
/// and the scenario's coordinator settings. Default: Kafka's (no variant, epochs up to
/// 32,767).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerSettings {
    pub partitions: PartitionConfig,
    pub switches: BrokerSwitches,
    /// `[cluster] max_producer_epoch`: the highest epoch the transaction coordinator hands
    /// out. Default `Short.MAX_VALUE` (32,767).
    pub max_producer_epoch: i16,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self::from_variants(&Variants::default())
    }
}

impl BrokerSettings {
    /// Kafka's settings with the broker side of `variants`.
    pub fn from_variants(variants: &Variants) -> Self {
        Self {
            partitions: PartitionConfig {
                idempotence_checks: !variants.has(Variant::NoDedup),
                epoch_fencing: !variants.has(Variant::NoZombieFencing),
                first_sequence_checked_on_new_partition: !variants
                    .has(Variant::AcceptAnyFirstSequence),
                producer_state_restored_on_load: !variants.has(Variant::ProducerStateNotRestored),
                ..Default::default()
            },
            switches: BrokerSwitches::from_variants(variants),
            max_producer_epoch: crate::txn::MAX_PRODUCER_EPOCH,
        }
    }

    /// The same with the coordinators' highest epoch set (`[cluster] max_producer_epoch`).
    pub fn with_max_producer_epoch(mut self, max_producer_epoch: i16) -> Self {
        self.max_producer_epoch = max_producer_epoch;
        self
    }
}

/// Starts broker `index` (0-based) as node `name`, leading `partitions`. `cluster` must be
/// set before the simulation runs (after every broker is spawned); a broker's first start
/// may come before, so nothing it needs at start is read from `cluster`.
pub fn spawn_broker(
    sim: &Sim,
    net: &KafkaNet,
    name: &str,
    index: u32,
    partitions: Vec<TopicPartition>,
    settings: BrokerSettings,
    cluster: ClusterCell,
) -> (NodeId, Arc<BrokerStorage>) {
    let storage = BrokerStorage::new(&partitions);
    let (net, init_storage) = (net.clone(), storage.clone());
    let sim_for_init = sim.clone();
    let node = sim.add_node(name, move |me| {
        let broker = Broker::open(
            me,
            index,
            net.clone(),
            init_storage.clone(),
            settings,
            cluster.clone(),
        );
        let sim = sim_for_init.clone();
        async move { broker.run(sim).await }
    });
    for log in storage.logs.values() {
        sim.attach_disk(node, log.clone());
    }
    sim.attach_disk(node, storage.producer_id_counter.clone());
    sim.attach_disk(node, storage.txn_log.clone());
    sim.attach_disk(node, storage.offsets_log.clone());
    sim.attach_disk(node, storage.offsets_producer_epochs.clone());
    sim.attach_disk(node, storage.coordinator_loads.clone());
    (node, storage)
}

/// A transaction's markers on their way to the partition leaders.
struct PendingMarkers {
    request: MarkerRequest,
    /// Partitions still without their marker.
    remaining: BTreeSet<TopicPartition>,
    /// Leaders (broker index) with a WriteTxnMarkers request on the wire.
    in_flight: BTreeSet<u32>,
    /// Not before this instant (after a failure).
    retry_at: Option<Instant>,
    /// Given up without completing the transaction (the `marker-retry-refused` variant).
    abandoned: bool,
}

/// Call tags of WriteTxnMarkers requests: (pending-marker id, leader index).
const LEADER_BITS: u32 = 16;

pub(crate) struct Broker {
    me: NodeId,
    index: u32,
    net: KafkaNet,
    storage: Arc<BrokerStorage>,
    partitions: BTreeMap<TopicPartition, Partition>,
    ack_before_sync: bool,
    switches: BrokerSwitches,
    /// The cost model: the disk sync charged to every answer that needed one, and the
    /// shared handler threads and disk when they are modelled.
    costs: BrokerCosts,
    cluster: ClusterCell,
    txn_coordinator: TxnCoordinator,
    groups: GroupOffsets,
    /// Group membership and session clocks (the member sets are durable in `groups`' log).
    members: GroupMembers,
    offsets_producer_epochs: BTreeMap<(u32, i64), i16>,
    markers: BTreeMap<u64, PendingMarkers>,
    next_marker_id: u64,
    marker_sink: sim::net::CallSink<Response>,
    marker_outcomes: mpsc::UnboundedReceiver<(u64, Result<Response, sim::CallError>)>,
}

impl Broker {
    pub(crate) fn open(
        me: NodeId,
        index: u32,
        net: KafkaNet,
        storage: Arc<BrokerStorage>,
        settings: BrokerSettings,
        cluster: ClusterCell,
    ) -> Self {
        let BrokerSettings {
            partitions: config,
            switches,
            max_producer_epoch,
        } = settings;
        let ack_before_sync = switches.ack_before_sync;
        let partitions = storage
            .logs
            .iter()
            .map(|(tp, log)| (tp.clone(), Partition::open(tp.clone(), log.clone(), config)))
            .collect();
        let coordinator_epoch = storage.coordinator_loads.get() + 1;
        storage.coordinator_loads.set_synced(coordinator_epoch);
        let counter = storage.producer_id_counter.clone();
        let allocator = move || next_producer_id(&counter, index);
        let (txn_coordinator, recovered_markers) = TxnCoordinator::open(
            storage.txn_log.clone(),
            i32::try_from(coordinator_epoch).expect("fewer than 2^31 coordinator loads"),
            TxnCoordinatorConfig {
                offsets_topic_partitions: OFFSETS_TOPIC_PARTITIONS,
                epoch_bump_per_txn: switches.epoch_bump_per_txn,
                timeout_abort_bumps_epoch: switches.timeout_abort_fences,
                fence_abort_rotates_exhausted_producer: switches
                    .fence_abort_rotates_exhausted_producer,
                max_producer_epoch,
                ..TxnCoordinatorConfig::default()
            },
            Box::new(allocator),
        );
        let groups = storage.group_offsets_with(switches);
        let members = GroupMembers::load(groups.memberships(), sim::now_ms());
        let offsets_producer_epochs = storage.offsets_producer_epochs.get();
        let (marker_sink, marker_outcomes) = mpsc::unbounded_channel();
        let mut broker = Self {
            me,
            index,
            net,
            storage,
            partitions,
            ack_before_sync,
            switches,
            costs: BrokerCosts::none(),
            cluster,
            txn_coordinator,
            groups,
            members,
            offsets_producer_epochs,
            markers: BTreeMap::new(),
            next_marker_id: 0,
            marker_sink,
            marker_outcomes,
        };
        if coordinator_epoch > 1 && broker.txn_coordinator.transactions().next().is_some() {
            CoveragePoint::CoordinatorReloaded.hit();
        }
        if !recovered_markers.is_empty() {
            CoveragePoint::RecoveredMarkersResent.hit();
        }
        broker.enqueue_markers(recovered_markers);
        broker
    }

    async fn run(mut self, sim: Sim) {
        self.costs = BrokerCosts::new(
            &self.cluster().spec,
            &self.net.config(),
            Some(self.replication()),
        );
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
        let mut alarm = sim::Alarm::new();
        let mut next_sweep: Option<Instant> = None;
        loop {
            let now = sim::trace::now();
            self.send_markers(now);
            // The sweep timer runs only while a transaction is Ongoing, so brokers without
            // transactions keep no timers.
            if self.has_ongoing_transaction() {
                let due = *next_sweep.get_or_insert(now + TXN_TIMEOUT_SWEEP_INTERVAL);
                if due <= now {
                    let markers = self
                        .txn_coordinator
                        .abort_timed_out_transactions(sim::now_ms());
                    self.enqueue_markers(markers);
                    next_sweep = None;
                    continue;
                }
            } else {
                next_sweep = None;
            }
            let session_deadline = self.members.next_deadline_ms();
            if self.expire_members(now, session_deadline) {
                continue;
            }
            let retry = self.markers.values().filter_map(|m| m.retry_at).min();
            let session_end = session_deadline.map(instant_at_ms);
            alarm.set([next_sweep, retry, session_end].into_iter().flatten().min());
            tokio::select! {
                biased;
                Some((tag, outcome)) = self.marker_outcomes.recv() => {
                    self.on_marker_outcome(tag, outcome);
                }
                incoming = inbox.recv() => {
                    let Some(incoming) = incoming else { return };
                    let sync = self.costs.service(sim::trace::now(), &incoming.request);
                    let response = self.handle(incoming.request);
                    // A point fault that fired while handling halts the broker here, before
                    // the answer or any marker leaves.
                    sim.settle(self.me).await;
                    crate::coverage::on_response(&response);
                    self.net.reply_after(self.me, incoming.reply_to, response, sync);
                }
                _ = alarm.fired() => {}
            }
        }
    }

    /// Expires the group members whose session ran out (`deadline`: the members' next
    /// deadline, read once per turn of the loop); returns whether any did.
    fn expire_members(&mut self, now: Instant, deadline: Option<u64>) -> bool {
        let due = deadline.is_some_and(|deadline| instant_at_ms(deadline) <= now);
        if !due {
            return false;
        }
        let rebalances = self.members.expire(sim::now_ms());
        for rebalance in &rebalances {
            CoveragePoint::SessionExpired.hit();
            self.record_rebalance(rebalance);
        }
        !rebalances.is_empty()
    }

    /// Makes a new generation durable (the KIP-447 check reads it) and traces it.
    fn record_rebalance(&mut self, rebalance: &Rebalance) {
        CoveragePoint::Rebalance.hit();
        TraceNote::Rebalance.record(
            self.me,
            rebalance.generation as u64,
            rebalance.members.len() as u64,
        );
        let _ = self.update_groups(|groups| {
            groups.record_rebalance(rebalance);
            Ok(())
        });
    }

    fn has_ongoing_transaction(&self) -> bool {
        self.txn_coordinator
            .transactions()
            .any(|m| m.state == TxnState::Ongoing)
    }

    /// This broker's followers, for the cost model's replication traffic.
    fn replication(&self) -> Replication {
        let cluster = self.cluster();
        Replication {
            net: self.net.clone(),
            leader: self.me,
            followers: (cluster.spec.follower_indices(self.index))
                .map(|i| cluster.brokers[i as usize])
                .collect(),
        }
    }

    fn cluster(&self) -> &Cluster {
        self.cluster
            .get()
            .expect("the cluster layout is set before the simulation runs")
    }

    /// Handles one request; markers the coordinator must have written are queued.
    pub(crate) fn handle(&mut self, request: Request) -> Response {
        let now_ms = sim::now_ms();
        match request {
            Request::Produce { tp, batch } => self.produce(&tp, &batch, now_ms),
            Request::Fetch {
                tp,
                offset,
                max_records,
                isolation,
            } => self.fetch(&tp, offset, max_records, isolation, now_ms),
            Request::InitProducerId {
                transactional_id: None,
                ..
            } => {
                let producer_id = next_producer_id(&self.storage.producer_id_counter, self.index);
                Response::InitProducerId(Ok((producer_id, 0)))
            }
            Request::InitProducerId {
                transactional_id: Some(id),
                txn_timeout_ms,
            } => self.init_transactional_producer(&id, txn_timeout_ms, now_ms),
            Request::AddPartitionsToTxn {
                producer,
                partitions,
            } => self.add_partitions_to_txn(producer, &partitions, now_ms),
            Request::AddOffsetsToTxn { producer, group_id } => {
                self.add_offsets_to_txn(producer, &group_id, now_ms)
            }
            Request::EndTxn { producer, result } => self.end_txn(producer, result, now_ms),
            Request::WriteTxnMarkers { marker, partitions } => Response::WriteTxnMarkers(
                partitions
                    .into_iter()
                    .map(|tp| {
                        let result = self.write_marker(&tp, &marker);
                        (tp, result)
                    })
                    .collect(),
            ),
            Request::TxnOffsetCommit {
                producer,
                group,
                offsets,
            } => Response::TxnOffsetCommit(self.txn_offset_commit(&producer, &group, &offsets)),
            Request::OffsetCommit { group_id, offsets } => self.offset_commit(&group_id, &offsets),
            Request::OffsetFetch {
                group_id,
                partitions,
                require_stable,
            } => self.offset_fetch(&group_id, partitions, require_stable),
            Request::JoinGroup {
                group_id,
                member_id,
                client,
                meta,
            } => self.join_group(&group_id, member_id.as_deref(), &client, meta, now_ms),
            Request::Heartbeat {
                group_id,
                member_id,
                generation,
            } => self.heartbeat(&group_id, &member_id, generation, now_ms),
            Request::LeaveGroup {
                group_id,
                member_id,
            } => self.leave_group(&group_id, &member_id, now_ms),
        }
    }

    /// Produce: appends a client's batch to a partition this broker leads. A new append (not
    /// a duplicate the producer state answered) is traced, synced unless acks come before
    /// the sync (`unsynced-acks`), and reaches `broker:appended` before it is answered.
    fn produce(&mut self, tp: &TopicPartition, batch: &RecordBatch, now_ms: u64) -> Response {
        if !self.cluster().leader_ready(tp, now_ms) {
            CoveragePoint::LeaderNotReady.hit();
            return Response::Produce(Err(KafkaError::NotLeaderOrFollower));
        }
        let Some(partition) = self.partitions.get_mut(tp) else {
            return Response::Produce(Err(KafkaError::NotLeaderOrFollower));
        };
        let result = partition.append(batch, AppendOrigin::Client);
        if let Ok(ok) = &result
            && !ok.duplicate
        {
            TraceNote::Append.record(self.me, tp.trace_code(), ok.base_offset);
            if !self.ack_before_sync {
                partition.sync();
            }
            let partition = Some((&*tp.topic, tp.partition));
            FaultPoint::Appended.reach(self.net.sim(), self.me, partition, None);
        }
        Response::Produce(result)
    }

    /// Fetch from a partition this broker leads, at the request's isolation level.
    fn fetch(
        &self,
        tp: &TopicPartition,
        offset: u64,
        max_records: u32,
        isolation: IsolationLevel,
        now_ms: u64,
    ) -> Response {
        match self.partitions.get(tp) {
            _ if !self.cluster().leader_ready(tp, now_ms) => {
                Response::Fetch(Err(KafkaError::NotLeaderOrFollower))
            }
            Some(partition) => {
                let fetched = partition.fetch_isolated(offset, max_records, isolation);
                if isolation == IsolationLevel::ReadCommitted
                    && fetched.last_stable_offset < fetched.high_watermark
                    && offset < fetched.high_watermark
                    // Whole batches: count only the records at or above the offset.
                    && fetched.records.len()
                        - fetched.records.partition_point(|&(o, _)| o < offset)
                        < max_records as usize
                {
                    // Stopped at the LSO with records beyond it: an open transaction.
                    CoveragePoint::LsoHeld.hit();
                }
                Response::Fetch(Ok(fetched))
            }
            None => Response::Fetch(Err(KafkaError::NotLeaderOrFollower)),
        }
    }

    /// InitProducerId with a transactional.id, at its transaction coordinator: the markers
    /// of a transaction it aborts (fencing an earlier instance) are queued.
    fn init_transactional_producer(
        &mut self,
        id: &str,
        txn_timeout_ms: u64,
        now_ms: u64,
    ) -> Response {
        if !self.is_txn_coordinator(id) {
            return Response::InitProducerId(Err(KafkaError::NotCoordinator));
        }
        let outcome = self
            .txn_coordinator
            .init_producer_id(Some(id), txn_timeout_ms, None, now_ms);
        self.enqueue_markers(outcome.markers);
        Response::InitProducerId(outcome.result)
    }

    fn add_partitions_to_txn(
        &mut self,
        producer: TxnProducer,
        partitions: &[TopicPartition],
        now_ms: u64,
    ) -> Response {
        let producer = self.unfenced(producer);
        Response::AddPartitionsToTxn(self.check_txn_coordinator(&producer).and_then(|()| {
            self.txn_coordinator.add_partitions(
                &producer.transactional_id,
                producer.producer_id,
                producer.producer_epoch,
                partitions,
                now_ms,
            )
        }))
    }

    fn add_offsets_to_txn(
        &mut self,
        producer: TxnProducer,
        group_id: &str,
        now_ms: u64,
    ) -> Response {
        let producer = self.unfenced(producer);
        Response::AddOffsetsToTxn(self.check_txn_coordinator(&producer).and_then(|()| {
            self.txn_coordinator.add_offsets(
                &producer.transactional_id,
                producer.producer_id,
                producer.producer_epoch,
                group_id,
                now_ms,
            )
        }))
    }

    /// EndTxn at the transaction coordinator: logs Prepare{Commit,Abort} and queues the
    /// markers to write.
    fn end_txn(&mut self, producer: TxnProducer, result: TxnResult, now_ms: u64) -> Response {
        let producer = self.unfenced(producer);
        if let Err(e) = self.check_txn_coordinator(&producer) {
            return Response::EndTxn(Err(e));
        }
        let outcome = self.txn_coordinator.end_txn(
            &producer.transactional_id,
            producer.producer_id,
            producer.producer_epoch,
            result,
            now_ms,
        );
        if !outcome.markers.is_empty() {
            // Prepare{Commit,Abort} was logged just now (a retry logs nothing).
            let point = match result {
                TxnResult::Commit => FaultPoint::PrepareCommitLogged,
                TxnResult::Abort => FaultPoint::PrepareAbortLogged,
            };
            let id = Some(&*producer.transactional_id);
            point.reach(self.net.sim(), self.me, None, id);
        }
        self.enqueue_markers(outcome.markers);
        Response::EndTxn(outcome.result)
    }

    fn offset_commit(&mut self, group_id: &str, offsets: &[(TopicPartition, u64)]) -> Response {
        if !self.is_group_coordinator(group_id) {
            return Response::OffsetCommit(Err(KafkaError::NotCoordinator));
        }
        Response::OffsetCommit(self.update_groups(|groups| {
            groups.commit(group_id, offsets);
            Ok(())
        }))
    }

    fn offset_fetch(
        &self,
        group_id: &str,
        partitions: Vec<TopicPartition>,
        require_stable: bool,
    ) -> Response {
        if !self.is_group_coordinator(group_id) {
            return Response::OffsetFetch(Err(KafkaError::NotCoordinator));
        }
        let fetched: Result<Vec<_>, _> = partitions
            .into_iter()
            .map(|tp| {
                let offset = self.groups.fetch(group_id, &tp, require_stable)?;
                Ok((tp, offset))
            })
            .collect();
        Response::OffsetFetch(fetched)
    }

    fn join_group(
        &mut self,
        group_id: &str,
        member_id: Option<&str>,
        client: &str,
        meta: MemberMeta,
        now_ms: u64,
    ) -> Response {
        if !self.is_group_coordinator(group_id) {
            return Response::JoinGroup(Err(KafkaError::NotCoordinator));
        }
        let (result, rebalance) = self.members.join(group_id, member_id, client, meta, now_ms);
        if let Some(rebalance) = rebalance {
            self.record_rebalance(&rebalance);
        }
        Response::JoinGroup(result)
    }

    fn heartbeat(
        &mut self,
        group_id: &str,
        member_id: &str,
        generation: i32,
        now_ms: u64,
    ) -> Response {
        if !self.is_group_coordinator(group_id) {
            return Response::Heartbeat(Err(KafkaError::NotCoordinator));
        }
        Response::Heartbeat(
            self.members
                .heartbeat(group_id, member_id, generation, now_ms),
        )
    }

    fn leave_group(&mut self, group_id: &str, member_id: &str, now_ms: u64) -> Response {
        if !self.is_group_coordinator(group_id) {
            return Response::LeaveGroup(Err(KafkaError::NotCoordinator));
        }
        let (result, rebalance) = self.members.leave(group_id, member_id, now_ms);
        if let Some(rebalance) = rebalance {
            self.record_rebalance(&rebalance);
        }
        Response::LeaveGroup(result)
    }

    /// Under `no-zombie-fencing` the coordinator does not look at the epoch: a request from
    /// an older epoch of the current producer id is taken as the current epoch's.
    fn unfenced(&self, producer: TxnProducer) -> TxnProducer {
        if self.switches.epoch_fencing {
            return producer;
        }
        match self.txn_coordinator.metadata(&producer.transactional_id) {
            Some(m)
                if m.producer_id == producer.producer_id
                    && producer.producer_epoch < m.producer_epoch =>
            {
                TxnProducer {
                    producer_epoch: m.producer_epoch,
                    ..producer
                }
            }
            _ => producer,
        }
    }

    fn is_txn_coordinator(&self, transactional_id: &str) -> bool {
        self.cluster().spec.txn_coordinator_index(transactional_id) == self.index
    }

    fn is_group_coordinator(&self, group_id: &str) -> bool {
        self.cluster().spec.group_coordinator_index(group_id) == self.index
    }

    fn check_txn_coordinator(&self, producer: &TxnProducer) -> Result<(), KafkaError> {
        if self.is_txn_coordinator(&producer.transactional_id) {
            Ok(())
        } else {
            Err(KafkaError::NotCoordinator)
        }
    }

    /// Applies a change to the group offsets and makes its new log records durable.
    fn update_groups(
        &mut self,
        change: impl FnOnce(&mut GroupOffsets) -> Result<(), KafkaError>,
    ) -> Result<(), KafkaError> {
        let before = self.groups.records().len();
        let result = change(&mut self.groups);
        for record in &self.groups.records()[before..] {
            self.storage.offsets_log.append(record.clone());
        }
        self.storage.offsets_log.sync();
        result
    }

    /// TxnOffsetCommit: a producer epoch below the highest seen for its producer id on the
    /// group's offsets partition is fenced (Kafka: the `__consumer_offsets` partition's
    /// producer state); then the group's KIP-447 member check.
    fn txn_offset_commit(
        &mut self,
        producer: &TxnProducer,
        group: &crate::protocol::GroupMetadata,
        offsets: &[(TopicPartition, u64)],
    ) -> Result<(), KafkaError> {
        if !self.is_group_coordinator(&group.group_id) {
            return Err(KafkaError::NotCoordinator);
        }
        let key = (
            crate::txn::offsets_partition_index(&group.group_id, OFFSETS_TOPIC_PARTITIONS),
            producer.producer_id,
        );
        let seen = self.offsets_producer_epochs.get(&key);
        if self.switches.epoch_fencing && seen.is_some_and(|&epoch| producer.producer_epoch < epoch)
        {
            return Err(KafkaError::ProducerFenced);
        }
        self.raise_offsets_producer_epoch(key, producer.producer_epoch);
        self.update_groups(|groups| {
            groups.txn_commit(
                &group.group_id,
                producer.producer_id,
                group.generation,
                &group.member_id,
                offsets,
            )
        })
    }

    /// The highest producer epoch seen on an offsets partition, by (partition, producer id).
    fn raise_offsets_producer_epoch(&mut self, key: (u32, i64), epoch: i16) {
        let entry = self.offsets_producer_epochs.entry(key).or_insert(epoch);
        *entry = (*entry).max(epoch);
        self.storage
            .offsets_producer_epochs
            .set_synced(self.offsets_producer_epochs.clone());
    }

    /// A marker on an offsets partition is checked as on any partition (Kafka writes it to
    /// the `__consumer_offsets` log through the same producer-state checks): a stale producer
    /// epoch is refused, so a late marker of the previous transaction cannot settle the next
    /// one's pending offsets.
    fn write_offsets_marker(
        &mut self,
        partition: u32,
        marker: &TxnMarker,
    ) -> Result<(), KafkaError> {
        let key = (partition, marker.producer_id);
        if self.switches.epoch_fencing
            && let Some(&current) = self.offsets_producer_epochs.get(&key)
            && marker
                .transaction_version
                .marker_is_stale(marker.producer_epoch, current)
        {
            return Err(KafkaError::InvalidProducerEpoch);
        }
        self.raise_offsets_producer_epoch(key, marker.producer_epoch);
        let _ = self.update_groups(|groups| {
            groups.on_marker(partition, marker.producer_id, marker.result);
            Ok(())
        });
        Ok(())
    }

    /// Writes one partition's marker (a data partition this broker leads, or an offsets
    /// partition whose groups this broker coordinates).
    fn write_marker(&mut self, tp: &TopicPartition, marker: &TxnMarker) -> Result<(), KafkaError> {
        if *tp.topic == *CONSUMER_OFFSETS_TOPIC {
            if self
                .cluster()
                .spec
                .offsets_partition_leader_index(tp.partition)
                != self.index
            {
                return Err(KafkaError::NotLeaderOrFollower);
            }
            return self.write_offsets_marker(tp.partition, marker);
        }
        let Some(partition) = self.partitions.get_mut(tp) else {
            return Err(KafkaError::NotLeaderOrFollower);
        };
        let offset = partition.append_marker(marker, AppendOrigin::Client)?;
        partition.sync();
        TraceNote::Marker.record(self.me, tp.trace_code(), offset);
        Ok(())
    }

    fn enqueue_markers(&mut self, requests: Vec<MarkerRequest>) {
        for request in requests {
            let id = self.next_marker_id;
            self.next_marker_id += 1;
            self.markers.insert(
                id,
                PendingMarkers {
                    remaining: request.partitions.iter().cloned().collect(),
                    request,
                    in_flight: BTreeSet::new(),
                    retry_at: None,
                    abandoned: false,
                },
            );
        }
    }

    /// Writes local markers and puts a WriteTxnMarkers request on the wire for every leader
    /// with partitions still waiting (none already in flight, backoff over).
    fn send_markers(&mut self, now: Instant) {
        let ids: Vec<u64> = self.markers.keys().copied().collect();
        for id in ids {
            let pending = self.markers.get_mut(&id).expect("listed");
            if pending.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            // The backoff (if any) is over: the alarm must not keep firing for it.
            pending.retry_at = None;
            let pending = &self.markers[&id];
            let mut by_leader: BTreeMap<u32, Vec<TopicPartition>> = BTreeMap::new();
            for tp in &pending.remaining {
                let leader = self.leader_index(tp);
                if !pending.in_flight.contains(&leader) {
                    by_leader.entry(leader).or_default().push(tp.clone());
                }
            }
            let marker = pending.request.marker;
            let mut failed = false;
            for (leader, partitions) in by_leader {
                if leader == self.index {
                    for tp in partitions {
                        let written = match self.write_marker(&tp, &marker) {
                            Ok(()) => true,
                            // A moot refusal (the partition is past this marker: it was
                            // written before a coordinator restart re-sent it) counts as
                            // written, as for a remote leader's answer.
                            Err(e) => self.marker_refused(id, &tp, &marker, e),
                        };
                        if written {
                            self.costs.write_in_background(now);
                            self.marker_written(id, &tp);
                        } else {
                            failed = true;
                        }
                    }
                    continue;
                }
                let to = self.cluster().brokers[leader as usize];
                let request = Request::WriteTxnMarkers { marker, partitions };
                self.net.start_call(
                    self.me,
                    to,
                    request,
                    MARKER_REQUEST_TIMEOUT,
                    &self.marker_sink,
                    id << LEADER_BITS | leader as u64,
                );
                let pending = self.markers.get_mut(&id).expect("pending");
                pending.in_flight.insert(leader);
            }
            if failed && let Some(pending) = self.markers.get_mut(&id) {
                CoveragePoint::MarkerRetried.hit();
                pending.retry_at = Some(now + MARKER_RETRY_BACKOFF);
            }
            self.complete_if_written(id);
        }
    }

    fn leader_index(&self, tp: &TopicPartition) -> u32 {
        let spec = &self.cluster().spec;
        if *tp.topic == *CONSUMER_OFFSETS_TOPIC {
            spec.offsets_partition_leader_index(tp.partition)
        } else {
            spec.leader_index(tp)
        }
    }

    /// A leader refused a marker. A newer coordinator (TRANSACTION_COORDINATOR_FENCED) or a
    /// producer already past this epoch (INVALID_PRODUCER_EPOCH: a marker re-sent after a
    /// coordinator restart once the producer moved on, or a retry of a marker the partition
    /// already wrote, which transactions v2's strict check refuses) make the marker moot:
    /// counted as written (KAFKA-19999's fix, apache/kafka PR 21176, answers such a retry as
    /// written at the partition). Returns whether it counts as written; otherwise it is
    /// retried, or under `marker-retry-refused` the transaction's markers are given up.
    fn marker_refused(
        &mut self,
        id: u64,
        tp: &TopicPartition,
        marker: &TxnMarker,
        e: KafkaError,
    ) -> bool {
        TraceNote::MarkerRefused.record(self.me, tp.trace_code(), e as u64);
        let moot = matches!(
            e,
            KafkaError::TransactionCoordinatorFenced | KafkaError::InvalidProducerEpoch
        );
        assert!(
            moot || e.is_retriable(),
            "{tp}: marker {marker:?} refused with {e}, which no coordinator can cause"
        );
        if e == KafkaError::InvalidProducerEpoch && !self.switches.refused_marker_counts_as_written
        {
            // Kafka before KAFKA-19999's fix (TransactionMarkerRequestCompletionHandler):
            // INVALID_PRODUCER_EPOCH cancels the transaction's markers, and nothing logs its
            // completion: it stays in PREPARE_COMMIT/PREPARE_ABORT.
            CoveragePoint::MarkersAbandoned.hit();
            if let Some(pending) = self.markers.get_mut(&id) {
                pending.abandoned = true;
            }
            return false;
        }
        if moot {
            CoveragePoint::StaleMarkerRejected.hit();
        }
        moot
    }

    fn marker_written(&mut self, id: u64, tp: &TopicPartition) {
        if let Some(pending) = self.markers.get_mut(&id) {
            pending.remaining.remove(tp);
        }
    }

    fn complete_if_written(&mut self, id: u64) {
        if self.markers.get(&id).is_some_and(|p| p.abandoned) {
            self.markers.remove(&id);
            return;
        }
        let done = self
            .markers
            .get(&id)
            .is_some_and(|p| p.remaining.is_empty());
        if done {
            let pending = self.markers.remove(&id).expect("checked");
            // The transaction log's Complete* record.
            self.costs.write_in_background(sim::trace::now());
            self.txn_coordinator
                .on_markers_written(&pending.request, sim::now_ms());
        }
    }

    fn on_marker_outcome(&mut self, tag: u64, outcome: Result<Response, sim::CallError>) {
        let (id, leader) = (tag >> LEADER_BITS, (tag & ((1 << LEADER_BITS) - 1)) as u32);
        let Some(pending) = self.markers.get_mut(&id) else {
            return;
        };
        pending.in_flight.remove(&leader);
        let marker = pending.request.marker;
        let mut failed = false;
        match outcome {
            Ok(Response::WriteTxnMarkers(results)) => {
                for (tp, result) in results {
                    match result {
                        Ok(()) => self.marker_written(id, &tp),
                        Err(e) => {
                            if self.marker_refused(id, &tp, &marker, e) {
                                self.marker_written(id, &tp);
                            } else {
                                failed = true;
                            }
                        }
                    }
                }
            }
            Ok(other) => panic!("WriteTxnMarkers answered with {other:?}"),
            Err(_) => failed = true,
        }
        if failed && let Some(pending) = self.markers.get_mut(&id) {
            CoveragePoint::MarkerRetried.hit();
            pending.retry_at = Some(sim::trace::now() + MARKER_RETRY_BACKOFF);
        }
        self.complete_if_written(id);
    }
}

/// The instant `ms` virtual milliseconds after the start of the run.
fn instant_at_ms(ms: u64) -> Instant {
    let now_ms = sim::now_ms();
    let now = sim::trace::now();
    if ms >= now_ms {
        now + Duration::from_millis(ms - now_ms)
    } else {
        now - Duration::from_millis(now_ms - ms)
    }
}

/// Allocates the next producer id of broker `index` from its durable counter.
fn next_producer_id(counter: &DurableCell<u64>, index: u32) -> i64 {
    let n = counter.get() + 1;
    counter.set_synced(n);
    index as i64 + PRODUCER_ID_STRIDE * n as i64
}

#[cfg(test)]
mod tests;
