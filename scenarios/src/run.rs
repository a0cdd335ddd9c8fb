//! Turns a scenario into a simulated run and checks it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use checker::{Anomaly, FinalLog, History, LogEntry, RecordStatus};
use model::broker::{BrokerStorage, spawn_broker};
use model::client::consumer::Consumer;
use model::client::{PROCESSES_PER_CLIENT, ProducerConfig};
use model::partition::Partition;
use model::protocol::TxnResult;
use model::protocol::{IsolationLevel, KafkaNet};
use model::{Cluster, Guarantee, Recorder, Variant, Variants};
use serde::Serialize;
use sim::{FaultPlan, NetStats, SeedOptions, Sim, TraceSummary};

use crate::app::{AppEnv, ClientId, ReadBack, Started};
use crate::spec::{Scenario, VERIFIER};
use model::fault_point::{FaultPoint, Side};

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
            let point_nodes = self.point_nodes(&crash);
            let points = mix_points(&point_nodes);
            let targets = sim::MixTargets {
                crash: &crash,
                servers: &servers,
                clients: &clients,
                points: &points,
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
            points: &[],
        };
        Some(mix.swarm_draw(&mut sim::rng_stream(seed, "swarm"), &kinds, targets))
    }
}

/// Merges explicit and drawn faults; drawn crash/pause pairs that would clash with the
/// explicit plan's node lifecycles are left out, so the result stays valid.
impl Scenario {
    /// Each fault point of the model with the crash targets on its side (brokers reach the
    /// coordinator's and the leader's points, application nodes the clients').
    fn point_nodes(&self, crash: &[String]) -> Vec<(&'static str, Vec<String>)> {
        let brokers = self.cluster.broker_names();
        FaultPoint::ALL
            .iter()
            .filter(|point| point.in_mixes())
            .map(|point| {
                let on_brokers = point.side() == Side::Brokers;
                let nodes = (crash.iter())
                    .filter(|n| brokers.contains(n) == on_brokers)
                    .cloned()
                    .collect();
                (point.name(), nodes)
            })
            .collect()
    }
}

fn mix_points<'a>(point_nodes: &'a [(&'static str, Vec<String>)]) -> Vec<sim::MixPoint<'a>> {
    (point_nodes.iter())
        .map(|(name, nodes)| sim::MixPoint { name, nodes })
        .collect()
}

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
        found.extend(scenario.app.app().extra_checks(&history));
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

/// The run itself, inside the simulation: cluster → app → fault phase → healing → read-back
/// → ground truth.
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
    *net_stats
        .lock()
        .expect("set once, before anything can panic") = Some(Box::new(net.stats_reader()));
    let (cluster, storages) =
        start_brokers(&sim, &net, scenario.cluster_with_app_topics(), &variants);
    let env = AppEnv {
        sim: sim.clone(),
        net: net.clone(),
        cluster,
        recorder: recorder.clone(),
        guarantee,
        variants,
    };
    let app = scenario.app.app();
    let started = app.start(&env);
    // The verifier's node must outlive its init future: madsim ends a node (and drops every
    // task spawned on it) when the init future returns.
    let verifier = sim.add_node(VERIFIER, |_| std::future::pending::<()>());
    let converged = fault_phase_then_heal(&sim, plan, &scenario.faults, started).await;
    let read_deadline = sim::now_ms() + scenario.faults.heal_deadline_ms;
    read_back(&env, verifier, app.read_back(), converged, read_deadline).await;
    let mut history = recorder.take();
    history.converged = Some(converged);
    add_ground_truth(&mut history, &storages);
    history.aggregate_checks = app.aggregate_checks();
    (history, net.stats(), sim::now_ms())
}

/// Starts one broker per `spec.brokers`, each leading its share of the partitions; returns
/// the cluster and the brokers' storage (the ground truth).
fn start_brokers(
    sim: &Sim,
    net: &KafkaNet,
    spec: model::ClusterSpec,
    variants: &Variants,
) -> (Cluster, Vec<Arc<BrokerStorage>>) {
    let partitions = spec.partitions();
    let settings = model::broker::BrokerSettings::from_variants(variants)
        .with_max_producer_epoch(spec.max_producer_epoch);
    let cluster_cell: model::broker::ClusterCell = Default::default();
    let mut brokers = Vec::new();
    let mut storages = Vec::new();
    for i in 0..spec.brokers {
        let led: Vec<_> = partitions
            .iter()
            .filter(|tp| spec.leader_index(tp) == i)
            .cloned()
            .collect();
        let name = model::ClusterSpec::broker_name(i);
        let (node, storage) = spawn_broker(sim, net, &name, i, led, settings, cluster_cell.clone());
        brokers.push(node);
        storages.push(storage);
    }
    let cluster = Cluster::new(spec, brokers).with_leader_elections(sim.seed());
    cluster_cell
        .set(cluster.clone())
        .expect("the cluster layout is set once");
    (cluster, storages)
}

/// Runs the fault plan through the fault phase, heals everything, and waits for the app's
/// work until the heal deadline; once done, stops the nodes the app asked to stop (so nothing
/// writes while the verifier reads back). Returns whether the run converged.
async fn fault_phase_then_heal(
    sim: &Sim,
    plan: FaultPlan,
    faults: &crate::spec::FaultsSpec,
    started: Started,
) -> bool {
    let run_plan = sim.spawn_supervisor(plan.execute(sim.clone()));
    madsim::time::sleep(Duration::from_millis(faults.phase_ms)).await;
    run_plan.await.expect("the fault plan runs to its end");
    sim.heal_all();
    let heal_deadline = Duration::from_millis(faults.heal_deadline_ms);
    let converged = madsim::time::timeout(heal_deadline, started.done)
        .await
        .is_ok();
    if converged {
        for &node in &started.stop_when_done {
            sim.crash(node);
        }
    }
    converged
}

/// Reads every partition back on the verifier's node as the app's `read_back` says.
async fn read_back(
    env: &AppEnv,
    verifier: sim::NodeId,
    how: ReadBack,
    converged: bool,
    deadline_ms: u64,
) {
    env.recorder.name_client(ClientId::VERIFIER, VERIFIER);
    let mut consumer = Consumer::new(env.client_context(verifier, ClientId::VERIFIER));
    let partitions = env.cluster.spec.partitions();
    let recorder = env.recorder.clone();
    // Open queue transactions get the transaction timeout (and a little) to be decided.
    let now_ms = sim::now_ms();
    let reader = env.sim.spawn_on(verifier, async move {
        match how {
            ReadBack::Everything => {}
            ReadBack::Committed => {
                // A downstream reader of transactional output reads committed data only.
                consumer.isolation = IsolationLevel::ReadCommitted;
                if converged {
                    // Converged means settled: transactions a zombie or a crashed instance
                    // left open end by their timeout. One that never ends is hanging.
                    for tp in &partitions {
                        consumer.wait_until_stable(tp, deadline_ms).await;
                    }
                }
            }
            ReadBack::QueuePolls { settle_ms } => {
                read_back_queue_polls(
                    &consumer,
                    &recorder,
                    &partitions,
                    now_ms + settle_ms,
                    deadline_ms,
                )
                .await;
                return;
            }
        }
        for tp in &partitions {
            consumer.read_to_end(tp, deadline_ms).await;
        }
    });
    reader
        .await
        .expect("the verifier reads every partition back (its node never exits)");
}

/// The verifier's read-back processes in the jepsen-queue app (the verifier's own consumer
/// numbers its calls from 0).
const VERIFIER_QUEUE_PROCESSES: u64 = PROCESSES_PER_CLIENT / 2;

/// Jepsen's final polls: each partition read at read_committed as a recorded poll operation
/// (aborted records are not reads), once open transactions had until `settle_ms`.
async fn read_back_queue_polls(
    consumer: &Consumer,
    recorder: &Recorder,
    partitions: &[model::TopicPartition],
    settle_ms: u64,
    deadline_ms: u64,
) {
    for (i, tp) in partitions.iter().enumerate() {
        let process = ClientId::VERIFIER.process(VERIFIER_QUEUE_PROCESSES + i as u64);
        model::apps::queue::read_back(
            consumer,
            recorder,
            process,
            tp,
            IsolationLevel::ReadCommitted,
            settle_ms,
            deadline_ms,
        )
        .await;
    }
}

/// Adds the brokers' final logs (with each record's transaction status) and committed
/// consumer offsets to `history`.
fn add_ground_truth(history: &mut History, storages: &[Arc<BrokerStorage>]) {
    for storage in storages {
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
    for storage in storages {
        for (group, tp, offset) in storage.group_offsets().committed_offsets() {
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
}
