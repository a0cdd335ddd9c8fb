//! Turns a scenario into a simulated run and checks it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use checker::{Anomaly, FinalLog, History, LogEntry, RecordStatus};
use model::apps::produce::{Completion, producer_program};
use model::broker::{BrokerStorage, spawn_broker};
use model::client::consumer::Consumer;
use model::client::{ClientContext, PROCESSES_PER_CLIENT, ProducerConfig};
use model::partition::Partition;
use model::protocol::KafkaNet;
use model::protocol::TxnResult;
use model::{Cluster, Guarantee, Recorder, Variant, Variants};
use serde::Serialize;
use sim::{FaultPlan, NetStats, SeedOptions, Sim, TraceSummary};

use crate::spec::{
    Application, LOADER, Scenario, VERIFIER, copier_name, producer_name, queue_client_name,
    streams_instance_name,
};

/// What to run: the seed and any overrides of the scenario. Defaults: seed 0, no overrides,
/// no recorded trace.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub seed: u64,
    /// Overrides the scenario's guarantee.
    pub guarantee: Option<Guarantee>,
    /// Added to the scenario's variants.
    pub variants: Vec<Variant>,
    /// Keep every trace event (for `--trace` and the determinism check).
    pub record_trace: bool,
    /// Replace the fault plan (mix and explicit faults) with this one (used by replay of a
    /// shrunk plan and by tests).
    pub plan_override: Option<FaultPlan>,
}

/// Counts of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Virtual time at the end of the run, ms.
    pub virtual_ms: u64,
    pub messages: NetStats,
    /// Values the workload sent, and how their sends ended.
    pub sends: u64,
    pub sends_ok: u64,
    pub sends_failed: u64,
    pub sends_unknown: u64,
    /// Records in the final logs.
    pub log_records: u64,
    pub history_events: u64,
    /// How far a run that did not converge got by its heal deadline, and whether its
    /// workload outlasts the deadline (absent when the run converged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_converged: Option<crate::convergence::NotConvergedStats>,
}

/// Everything about one run.
#[derive(Debug)]
pub struct RunOutcome {
    pub scenario: String,
    pub seed: u64,
    pub guarantee: Guarantee,
    pub variants: Variants,
    pub plan: FaultPlan,
    /// What a swarm mix enabled for this seed (`None`: no swarm mix, or an overriding plan).
    pub swarm: Option<sim::SwarmDraw>,
    pub anomalies: Vec<Anomaly>,
    /// The simulation panicked (an invariant broke): the message.
    pub panic: Option<String>,
    pub trace: TraceSummary,
    pub stats: RunStats,
    pub history: History,
    /// Paths taken and targeted faults used (for a panic: until it panicked).
    pub coverage: crate::Coverage,
}

impl RunOutcome {
    /// Whether every property held.
    pub fn passed(&self) -> bool {
        self.anomalies.is_empty() && self.panic.is_none()
    }

    /// The distinct anomaly kinds found.
    pub fn kinds(&self) -> BTreeSet<checker::AnomalyKind> {
        self.anomalies.iter().map(Anomaly::kind).collect()
    }
}

/// The producer settings a guarantee stands for.
pub fn producer_config(guarantee: Guarantee) -> ProducerConfig {
    match guarantee {
        Guarantee::AtMostOnce => ProducerConfig {
            enable_idempotence: false,
            retries: 0,
            ..ProducerConfig::default()
        },
        Guarantee::AtLeastOnce => ProducerConfig {
            enable_idempotence: false,
            ..ProducerConfig::default()
        },
        Guarantee::ExactlyOnce | Guarantee::ExactlyOnceV2 => ProducerConfig::default(),
    }
}

impl Scenario {
    /// The fault plan of `seed`: the explicit faults plus the mix expanded from the seed's
    /// "faults" stream (narrowed first by its swarm draw, if it is a swarm mix), in time order.
    pub fn fault_plan(&self, seed: u64) -> FaultPlan {
        let mut faults = self.explicit_plan();
        if let Some(mix) = &self.faults.mix {
            let crash = self.crash_targets();
            let (mix, servers, clients) = match self.swarm_draw(seed) {
                Some(draw) => {
                    let drawn = |names: Vec<String>| -> Vec<String> {
                        names
                            .into_iter()
                            .filter(|n| draw.nodes.contains(n))
                            .collect()
                    };
                    let servers = drawn(self.cluster.broker_names());
                    let clients = drawn(self.client_names());
                    (mix.narrowed_to(&draw), servers, clients)
                }
                None => (mix.clone(), self.cluster.broker_names(), Vec::new()),
            };
            let targets = sim::MixTargets {
                crash: &crash,
                servers: &servers,
                clients: &clients,
            };
            let mut rng = sim::rng_stream(seed, "faults");
            let drawn = mix.expand(&mut rng, self.faults.phase_ms, targets);
            let nodes = sim::PlanNodes {
                faultable: &crash,
                all: &self.node_names(),
            };
            faults = merge_plans(faults, drawn.0, nodes, self.faults.phase_ms);
        }
        FaultPlan(faults)
    }

    /// What a swarm mix enabled for `seed` (its own "swarm" stream), or `None` without one.
    pub fn swarm_draw(&self, seed: u64) -> Option<sim::SwarmDraw> {
        let mix = self.faults.mix.as_ref().filter(|m| m.swarm)?;
        let kinds: Vec<String> = model::protocol::MESSAGE_KINDS
            .iter()
            .map(|k| k.to_string())
            .collect();
        let servers = self.cluster.broker_names();
        let clients = self.client_names();
        let crash = self.crash_targets();
        let targets = sim::MixTargets {
            crash: &crash,
            servers: &servers,
            clients: &clients,
        };
        Some(mix.swarm_draw(&mut sim::rng_stream(seed, "swarm"), &kinds, targets))
    }
}

/// Merges explicit and drawn faults; drawn crash/pause pairs that would clash with the
/// explicit plan's node lifecycles are left out, so the result stays valid.
fn merge_plans(
    explicit: Vec<sim::Fault>,
    drawn: Vec<sim::Fault>,
    nodes: sim::PlanNodes<'_>,
    phase_ms: u64,
) -> Vec<sim::Fault> {
    let mut merged = explicit;
    debug_assert!(
        merged.is_sorted_by_key(|f| f.at_ms),
        "explicit plans are validated"
    );
    for fault in drawn {
        // Where a stable sort by time would put it: after the faults at the same time.
        let at = merged.partition_point(|f| f.at_ms <= fault.at_ms);
        merged.insert(at, fault);
        if FaultPlan::validate_faults(&merged, nodes, phase_ms).is_err() {
            merged.remove(at);
        }
    }
    merged
}

/// Runs one seed of `scenario`.
pub fn run(scenario: &Scenario, options: &RunOptions) -> RunOutcome {
    let guarantee = options.guarantee.unwrap_or(scenario.guarantee);
    let mut variants = Variants(scenario.variants.iter().copied().collect());
    variants.0.extend(options.variants.iter().copied());
    let plan = options
        .plan_override
        .clone()
        .unwrap_or_else(|| scenario.fault_plan(options.seed));
    let seed_options = SeedOptions {
        record_trace: options.record_trace,
        coverage_points: model::CoveragePoint::COUNT,
        ..SeedOptions::default()
    };
    let (s, p, v) = (Arc::new(scenario.clone()), plan.clone(), variants.clone());
    // Shared with the run, so that a run that panics still reports what it gathered: the
    // history recorded so far and the network's counts.
    let recorder = Recorder::new();
    let net_stats = NetStatsSource::default();
    let (r, n) = (recorder.clone(), net_stats.clone());
    let report = sim::run_seed(options.seed, &seed_options, move |sim| {
        execute(sim, s, p, guarantee, v, r, n)
    });
    let (history, messages, virtual_ms, panic) = match report.outcome {
        Ok((history, messages, virtual_ms)) => (history, messages, virtual_ms, None),
        Err(message) => {
            let messages = net_stats
                .lock()
                .ok()
                .and_then(|source| source.as_ref().map(|stats| stats()))
                .unwrap_or_default();
            let virtual_ms = report.virtual_ns / 1_000_000;
            (recorder.take(), messages, virtual_ms, Some(message))
        }
    };
    let anomalies = if panic.is_some() {
        Vec::new()
    } else {
        let mut found = checker::check_all(&history)
            .unwrap_or_else(|e| panic!("the model recorded a malformed history: {e}"));
        if scenario.application == Application::Streams {
            let spec = scenario.streams_workload().app.spec();
            found.extend(checker::aggregate::check_aggregates(&history, &spec));
        }
        found
    };
    let mut stats = stats(&history, messages, virtual_ms);
    if history.converged == Some(false) {
        stats.not_converged = Some(crate::convergence::not_converged(scenario, &history));
    }
    let coverage = crate::Coverage::new(&report.coverage, &plan);
    RunOutcome {
        scenario: scenario.name.clone(),
        seed: options.seed,
        guarantee,
        variants,
        swarm: match options.plan_override {
            Some(_) => None,
            None => scenario.swarm_draw(options.seed),
        },
        plan,
        anomalies,
        panic,
        trace: report.trace,
        stats,
        history,
        coverage,
    }
}

fn stats(history: &History, messages: NetStats, virtual_ms: u64) -> RunStats {
    use checker::{Operation, Phase};
    let mut s = RunStats {
        virtual_ms,
        messages,
        history_events: history.ops.len() as u64,
        ..Default::default()
    };
    for op in &history.ops {
        if let Operation::Send { .. } = op.op {
            match op.phase {
                Phase::Invoke => s.sends += 1,
                Phase::Ok => s.sends_ok += 1,
                Phase::Fail => s.sends_failed += 1,
                Phase::Info => s.sends_unknown += 1,
            }
        }
    }
    s.log_records = history
        .final_logs
        .iter()
        .map(|l| l.records.len() as u64)
        .sum();
    s
}

/// Reads the run's network counts from outside the simulation (after a panic).
type NetStatsSource = Arc<std::sync::Mutex<Option<Box<dyn Fn() -> NetStats + Send>>>>;

/// The run itself, inside the simulation.
async fn execute(
    sim: Sim,
    scenario: Arc<Scenario>,
    plan: FaultPlan,
    guarantee: Guarantee,
    variants: Variants,
    recorder: Recorder,
    net_stats: NetStatsSource,
) -> (History, NetStats, u64) {
    // Brokers sync before they acknowledge, so only a variant can lose acknowledged data.
    sim.set_lose_unsynced_on_crash(true);
    let net = KafkaNet::new(&sim, scenario.network.clone());
    let stats_net = net.clone();
    *net_stats
        .lock()
        .expect("set once, before anything can panic") = Some(Box::new(move || stats_net.stats()));
    let spec = scenario.cluster_with_app_topics();
    let partitions = spec.partitions();

    let cluster_cell: model::broker::ClusterCell = Default::default();
    let mut brokers = Vec::new();
    let mut storages: Vec<Arc<BrokerStorage>> = Vec::new();
    for i in 0..spec.brokers {
        let led: Vec<_> = partitions
            .iter()
            .filter(|tp| spec.leader_index(tp) == i)
            .cloned()
            .collect();
        let (node, storage) = spawn_broker(
            &sim,
            &net,
            &model::ClusterSpec::broker_name(i),
            i,
            led,
            &variants,
            cluster_cell.clone(),
        );
        brokers.push(node);
        storages.push(storage);
    }
    let cluster = Cluster {
        spec: spec.clone(),
        brokers,
    };
    cluster_cell
        .set(cluster.clone())
        .expect("the cluster layout is set once");
    let (finished, app_nodes): AppStart = match scenario.application {
        Application::Produce => {
            let done = Completion::default();
            let producers = scenario.workload.producers;
            for p in 0..producers {
                let (sim2, net2, cluster2, recorder2, done2) = (
                    sim.clone(),
                    net.clone(),
                    cluster.clone(),
                    recorder.clone(),
                    done.clone(),
                );
                let (workload, partitions) = (scenario.workload.clone(), partitions.clone());
                let config = producer_config(guarantee);
                recorder.name_client(p as u64 + 1, producer_name(p));
                sim.add_node(&producer_name(p), move |node| {
                    let ctx = ClientContext {
                        sim: sim2.clone(),
                        node,
                        net: net2.clone(),
                        cluster: cluster2.clone(),
                        recorder: recorder2.clone(),
                        client_id: p as u64 + 1,
                    };
                    producer_program(
                        ctx,
                        config.clone(),
                        p,
                        workload.clone(),
                        partitions.clone(),
                        done2.clone(),
                    )
                });
            }
            (
                Box::pin(async move { done.wait_for(producers).await }),
                Vec::new(),
            )
        }
        Application::TransactionalCopy => start_copy(
            &sim, &net, &cluster, &recorder, &scenario, guarantee, &variants,
        ),
        Application::Streams => start_streams(
            &sim, &net, &cluster, &recorder, &scenario, guarantee, &variants,
        ),
        Application::JepsenQueue => (
            start_queue(
                &sim, &net, &cluster, &recorder, &scenario, guarantee, &variants,
            ),
            Vec::new(),
        ),
    };
    // The verifier's node must outlive its init future: madsim ends a node (and drops every
    // task spawned on it) when the init future returns.
    let verifier = sim.add_node(VERIFIER, |_| std::future::pending::<()>());

    // Fault phase, then healing: everything restarted, resumed, reconnected.
    let faults = sim.spawn_supervisor(plan.execute(sim.clone()));
    madsim::time::sleep(Duration::from_millis(scenario.faults.phase_ms)).await;
    faults.await.expect("the fault plan runs to its end");
    sim.heal_all();
    let heal_deadline = Duration::from_millis(scenario.faults.heal_deadline_ms);
    let converged = madsim::time::timeout(heal_deadline, finished).await.is_ok();
    if converged {
        // The job is done: stop the application (copiers in a group never stop by
        // themselves), so nothing writes while the verifier reads back.
        for &node in &app_nodes {
            sim.crash(node);
        }
    }

    // Read every partition back as a client would, then take the ground truth.
    recorder.name_client(0, VERIFIER);
    let consumer = Consumer::new(ClientContext {
        sim: sim.clone(),
        node: verifier,
        net: net.clone(),
        cluster: cluster.clone(),
        recorder: recorder.clone(),
        client_id: 0,
    });
    let read_deadline = sim::now_ms() + scenario.faults.heal_deadline_ms;
    let transactional = matches!(
        scenario.application,
        Application::TransactionalCopy | Application::Streams
    );
    let queue = scenario.application == Application::JepsenQueue;
    let mut consumer = consumer;
    if transactional {
        // A downstream reader of transactional output reads committed data only.
        consumer.isolation = model::protocol::IsolationLevel::ReadCommitted;
    }
    // Open queue transactions get the transaction timeout (and a little) to be decided.
    let settle_deadline = sim::now_ms() + scenario.queue_workload().txn_timeout_ms + 2_000;
    let verifier_recorder = recorder.clone();
    let reader = sim.spawn_on(verifier, async move {
        if transactional && converged {
            // Converged means settled: transactions a zombie or a crashed instance left
            // open end by their timeout. One that never ends is a hanging transaction.
            for tp in &partitions {
                consumer.wait_until_stable(tp, read_deadline).await;
            }
        }
        for (i, tp) in partitions.iter().enumerate() {
            if queue {
                // Transactional output is read back at read_committed, as Jepsen's final
                // polls do: aborted records are not reads.
                let process = VERIFIER_QUEUE_PROCESSES + i as u64;
                model::apps::queue::read_back(
                    &consumer,
                    &verifier_recorder,
                    process,
                    tp,
                    model::protocol::IsolationLevel::ReadCommitted,
                    settle_deadline,
                    read_deadline,
                )
                .await;
            } else {
                consumer.read_to_end(tp, read_deadline).await;
            }
        }
    });
    reader
        .await
        .expect("the verifier reads every partition back (its node never exits)");

    let mut history = recorder.take();
    history.converged = Some(converged);
    for storage in &storages {
        for (tp, log) in &storage.logs {
            let records = Partition::dump_with_status(log)
                .into_iter()
                .map(|(offset, value, producer_id, txn)| LogEntry {
                    offset,
                    value,
                    producer_id,
                    status: match txn {
                        None => RecordStatus::Plain,
                        Some(Some(TxnResult::Commit)) => RecordStatus::Committed,
                        Some(Some(TxnResult::Abort)) => RecordStatus::Aborted,
                        Some(None) => RecordStatus::Open,
                    },
                })
                .collect();
            history.final_logs.push(FinalLog {
                topic: tp.topic.clone(),
                partition: tp.partition,
                records,
            });
        }
    }
    for storage in &storages {
        let groups = storage.group_offsets();
        for (group, tp, offset) in groups.committed_offsets() {
            history
                .committed_offsets
                .push(checker::history::CommittedOffset {
                    group: group.to_string(),
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    offset,
                });
        }
    }
    history
        .final_logs
        .sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    // Done without a panic: let go of the network here, inside the simulation.
    net_stats.lock().expect("never poisoned").take();
    (history, net.stats(), sim::now_ms())
}

/// A started application: the wait for its work to be done, and the nodes to stop once it is.
type AppStart = (
    std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    Vec<sim::NodeId>,
);

/// Starts the transactional-copy application: the loader and the copier instances. Each
/// copier restart is a new incarnation with its own history processes. Returns the wait for
/// every instance to finish copying.
fn start_copy(
    sim: &Sim,
    net: &KafkaNet,
    cluster: &Cluster,
    recorder: &Recorder,
    scenario: &Scenario,
    guarantee: Guarantee,
    variants: &Variants,
) -> AppStart {
    use model::apps::copy::{Copier, CopyCompletion, loader_program};
    let offsets_in_txn = !variants.has(Variant::OffsetsOutsideTxn);
    let workload = scenario.copy_workload();
    let partitions = scenario
        .cluster
        .topics
        .iter()
        .find(|t| t.name == workload.input_topic)
        .expect("validated: the input topic exists")
        .partitions;
    let context = |node, client_id| ClientContext {
        sim: sim.clone(),
        node,
        net: net.clone(),
        cluster: cluster.clone(),
        recorder: recorder.clone(),
        client_id,
    };
    let loader_ctx = context(sim::NodeId(0), LOADER_CLIENT_ID);
    recorder.name_client(LOADER_CLIENT_ID, LOADER);
    let loader_workload = workload.clone();
    sim.add_node(LOADER, move |node| {
        let ctx = ClientContext {
            node,
            ..loader_ctx.clone()
        };
        loader_program(ctx, loader_workload.clone(), partitions)
    });
    let done = CopyCompletion::default();
    let exactly_once = guarantee.is_exactly_once();
    let mut copiers = Vec::new();
    for instance in 0..workload.instances {
        let base = context(sim::NodeId(0), 0);
        let (workload, done) = (workload.clone(), done.clone());
        let incarnations = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let node = sim.add_node(&copier_name(instance), move |node| {
            let client_id = next_incarnation(
                &incarnations,
                instance,
                &copier_name(instance),
                &base.recorder,
                COPIER_ROLES,
            );
            let copier = Copier {
                ctx: ClientContext {
                    node,
                    client_id,
                    ..base.clone()
                },
                workload: workload.clone(),
                instance,
                partitions,
                exactly_once,
                offsets_in_txn,
                done: done.clone(),
            };
            copier.run()
        });
        copiers.push(node);
    }
    (
        Box::pin(async move { done.wait_for(partitions as usize).await }),
        copiers,
    )
}

/// Starts the jepsen-queue application: one node per client; each restart is a new
/// incarnation with its own history processes, continuing the client's operation count.
/// Exactly-once: transactions through a transactional producer and an idempotent producer for
/// single sends; otherwise the guarantee's plain producer and non-transactional batches.
/// Returns the wait for every client to finish its operations.
fn start_queue(
    sim: &Sim,
    net: &KafkaNet,
    cluster: &Cluster,
    recorder: &Recorder,
    scenario: &Scenario,
    guarantee: Guarantee,
    variants: &Variants,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    use model::apps::queue::{ClientProgress, QueueClient, QueueCompletion, QueueMode};
    use model::protocol::IsolationLevel;
    let workload = scenario.queue_workload();
    let partitions = scenario.queue_partitions();
    let mode = QueueMode {
        transactional: guarantee.is_exactly_once(),
        producer: producer_config(guarantee),
        isolation: if variants.has(Variant::ReadUncommitted) {
            IsolationLevel::ReadUncommitted
        } else {
            IsolationLevel::ReadCommitted
        },
    };
    let done = QueueCompletion::default();
    for client in 0..workload.clients {
        let base = ClientContext {
            sim: sim.clone(),
            node: sim::NodeId(0),
            net: net.clone(),
            cluster: cluster.clone(),
            recorder: recorder.clone(),
            client_id: 0,
        };
        let (workload, partitions, mode, done) = (
            workload.clone(),
            partitions.clone(),
            mode.clone(),
            done.clone(),
        );
        let progress = Arc::new(ClientProgress::default());
        let incarnations = Arc::new(std::sync::atomic::AtomicU64::new(0));
        sim.add_node(&queue_client_name(client), move |node| {
            let incarnation = incarnations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            assert!(
                incarnation < COPIER_INCARNATIONS,
                "queue client restarted more than {COPIER_INCARNATIONS} times"
            );
            let client_id =
                COPIER_CLIENT_IDS * (client as u64 + 1) + CLIENTS_PER_INCARNATION * incarnation;
            name_incarnation(
                &base.recorder,
                client_id,
                &queue_client_name(client),
                incarnation,
                QUEUE_CLIENT_ROLES,
            );
            QueueClient {
                ctx: ClientContext {
                    node,
                    client_id,
                    ..base.clone()
                },
                workload: workload.clone(),
                client,
                incarnation,
                partitions: partitions.clone(),
                mode: mode.clone(),
                progress: progress.clone(),
                done: done.clone(),
            }
            .run()
        });
    }
    let clients = workload.clients as usize;
    Box::pin(async move { done.wait_for(clients).await })
}

/// The verifier's read-back processes in the jepsen-queue application (client id 0 is the
/// verifier's, whose consumer numbers its own calls from 0).
const VERIFIER_QUEUE_PROCESSES: u64 = PROCESSES_PER_CLIENT / 2;

/// Counts a restart of node `slot` (0-based) and returns the new incarnation's client id,
/// naming its clients in the history (`roles` for its sub-clients). Panics past
/// `COPIER_INCARNATIONS` restarts (client ids would collide).
fn next_incarnation(
    incarnations: &std::sync::atomic::AtomicU64,
    slot: u32,
    node: &str,
    recorder: &Recorder,
    roles: &[&str],
) -> u64 {
    let incarnation = incarnations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    assert!(
        incarnation < COPIER_INCARNATIONS,
        "{node} restarted more than {COPIER_INCARNATIONS} times"
    );
    let client_id = COPIER_CLIENT_IDS * (slot as u64 + 1) + CLIENTS_PER_INCARNATION * incarnation;
    name_incarnation(recorder, client_id, node, incarnation, roles);
    client_id
}

/// Names an incarnation's clients in the history: `<node>#<incarnation>` for its loop and
/// `<node>#<incarnation> <role>` for the sub-clients at client id + 1, + 2, … (`roles`).
fn name_incarnation(
    recorder: &Recorder,
    client_id: u64,
    node: &str,
    incarnation: u64,
    roles: &[&str],
) {
    let name = format!("{node}#{incarnation}");
    for (offset, role) in (1..).zip(roles) {
        recorder.name_client(client_id + offset, format!("{name} {role}"));
    }
    recorder.name_client(client_id, name);
}

/// The copier's sub-clients (`Copier::client`), and the queue client's (`QueueClient::sub_client`).
const COPIER_ROLES: &[&str] = &["consumer", "producer", "member"];
const QUEUE_CLIENT_ROLES: &[&str] = &["producer", "transactional producer", "consumer"];

/// Starts the streams application: the loader and the streams instances (restartable; each
/// incarnation names its clients). Returns the wait for every source partition to be
/// processed and committed, and the instances' nodes (stopped once done).
fn start_streams(
    sim: &Sim,
    net: &KafkaNet,
    cluster: &Cluster,
    recorder: &Recorder,
    scenario: &Scenario,
    guarantee: Guarantee,
    variants: &Variants,
) -> AppStart {
    use model::apps::streams::{StreamsInstance, StreamsProgress, streams_loader};
    let workload = scenario.streams_workload();
    let partitions = scenario.streams_partitions();
    let base = ClientContext {
        sim: sim.clone(),
        node: sim::NodeId(0),
        net: net.clone(),
        cluster: cluster.clone(),
        recorder: recorder.clone(),
        client_id: LOADER_CLIENT_ID,
    };
    recorder.name_client(LOADER_CLIENT_ID, LOADER);
    let progress = StreamsProgress::default();
    let (loader_base, loader_workload, loader_progress) =
        (base.clone(), workload.clone(), progress.clone());
    sim.add_node(LOADER, move |node| {
        let ctx = ClientContext {
            node,
            ..loader_base.clone()
        };
        streams_loader(
            ctx,
            loader_workload.clone(),
            partitions,
            loader_progress.clone(),
        )
    });
    let exactly_once = guarantee.is_exactly_once();
    let wipe = !variants.has(Variant::StoreNotWipedOnUncleanShutdown);
    let checkpoint_restored = !variants.has(Variant::CheckpointWrittenNotRestored);
    let mut nodes = Vec::new();
    for instance in 0..workload.instances {
        let (base, workload, progress) = (base.clone(), workload.clone(), progress.clone());
        let incarnations = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let state_dir: model::apps::streams::StateDir =
            sim::DurableCell::new(std::collections::BTreeMap::new());
        let node_state_dir = state_dir.clone();
        let node = sim.add_node(&streams_instance_name(instance), move |node| {
            let client_id = next_incarnation(
                &incarnations,
                instance,
                &streams_instance_name(instance),
                &base.recorder,
                COPIER_ROLES,
            );
            StreamsInstance {
                ctx: ClientContext {
                    node,
                    client_id,
                    ..base.clone()
                },
                workload: workload.clone(),
                instance,
                partitions,
                exactly_once,
                producer_per_task: guarantee == Guarantee::ExactlyOnce,
                progress: progress.clone(),
                state_dir: node_state_dir.clone(),
                wipe_after_unclean_shutdown: wipe,
                checkpoint_restored_offsets: checkpoint_restored,
            }
            .run()
        });
        sim.attach_disk(node, state_dir);
        nodes.push(node);
    }
    let sources = workload.app.topology().source_topics().len() * partitions as usize;
    (
        Box::pin(async move { progress.wait_for(sources).await }),
        nodes,
    )
}

/// History client id of the copy application's loader (the verifier is 0).
const LOADER_CLIENT_ID: u64 = 1;
/// Copier instance k's client ids start at `COPIER_CLIENT_IDS × (k + 1)`; each incarnation
/// takes `CLIENTS_PER_INCARNATION` (the loop, its consumer, its producer).
const COPIER_CLIENT_IDS: u64 = 1_000;
const CLIENTS_PER_INCARNATION: u64 = 10;
const COPIER_INCARNATIONS: u64 = COPIER_CLIENT_IDS / CLIENTS_PER_INCARNATION;
