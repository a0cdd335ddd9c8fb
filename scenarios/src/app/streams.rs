//! The streams app: a Kafka-Streams-like application (Kafka's EOS system test, word count)
//! on restartable streams instances in a consumer group, fed by a loader. Its topology's
//! sink, repartition and changelog topics are created with its input topic's partition count.
//! Settings: `[app.streams]`.

use std::collections::BTreeSet;

use checker::{Anomaly, History, Op, TxnStep};
use model::apps::streams::{
    StateDir, StreamsInstance, StreamsProgress, StreamsWorkload, streams_loader,
};
use model::cluster::TopicSpec;
use model::{ClusterSpec, Guarantee, Variant};

use super::{
    App, AppEnv, AppNodes, BackgroundLoad, BuiltinApp, ClientId, Incarnations, Progress, ReadBack,
    Started, half, topic_partitions,
};
use crate::limits;
use crate::spec::{Invalid, LOADER, Scenario, bounded, validate_session};

/// Node name of streams instance `k` (0-based).
pub fn streams_instance_name(k: u32) -> String {
    format!("instance-{}", k + 1)
}

/// A streams instance incarnation's sub-clients.
const INSTANCE_ROLES: &[&str] = &["consumer", "producer", "member"];

/// Partitions of the streams app's input topic in `cluster` (default 5, as Kafka's test).
pub fn streams_partitions(streams: &StreamsWorkload, cluster: &ClusterSpec) -> u32 {
    topic_partitions(cluster, streams.app.input_topic())
        .unwrap_or(model::streams::eos_test::PARTITIONS)
}

impl App for StreamsWorkload {
    fn nodes(&self) -> AppNodes {
        AppNodes {
            restartable: (0..self.instances).map(streams_instance_name).collect(),
            other: vec![LOADER.to_string()],
        }
    }

    fn extra_topics(&self, cluster: &ClusterSpec) -> Vec<TopicSpec> {
        let partitions = streams_partitions(self, cluster);
        let topology = self.app.topology();
        let mut names = topology.source_topics();
        names.extend(topology.sink_topics());
        names.extend(topology.internal_topics());
        names
            .into_iter()
            .map(|name| TopicSpec { name, partitions })
            .collect()
    }

    fn start(&self, env: &AppEnv) -> Started {
        let partitions = streams_partitions(self, &env.cluster.spec);
        env.recorder.name_client(ClientId::LOADER, LOADER);
        let progress = StreamsProgress::default();
        let (loader_env, loader_workload, loader_progress) =
            (env.clone(), self.clone(), progress.clone());
        env.sim.add_node(LOADER, move |node| {
            streams_loader(
                loader_env.client_context(node, ClientId::LOADER),
                loader_workload.clone(),
                partitions,
                loader_progress.clone(),
            )
        });
        let nodes = (0..self.instances)
            .map(|instance| start_instance(self, env, instance, partitions, &progress))
            .collect();
        let sources = self.app.topology().source_topics().len() * partitions as usize;
        Started {
            done: Box::pin(async move { progress.wait_for(sources).await }),
            stop_when_done: nodes,
        }
    }

    fn read_back(&self) -> ReadBack {
        ReadBack::Committed
    }

    fn extra_checks(&self, history: &History) -> Vec<Anomaly> {
        checker::aggregate::check_aggregates(history, &self.app.spec())
    }

    fn progress(&self, done_ops: &[&Op]) -> Progress {
        let input = self.app.input_topic();
        let mut consumed = BTreeSet::new();
        let mut last_ns = None;
        for (time_ns, step) in super::queue::committed_steps(done_ops) {
            if let TxnStep::Poll {
                topic,
                partition,
                records,
            } = step
                && **topic == *input
            {
                for r in records {
                    if consumed.insert((*partition, r.offset)) {
                        last_ns = last_ns.max(Some(time_ns));
                    }
                }
            }
        }
        Progress {
            unit: "input records processed in committed cycles",
            done: consumed.len() as u64,
            expected: u64::from(self.records),
            paced_ms: 0,
            last_ns,
        }
    }
}

/// Adds streams instance `instance` (restartable; each incarnation names its clients) with
/// its state directory on the node's disk.
fn start_instance(
    streams: &StreamsWorkload,
    env: &AppEnv,
    instance: u32,
    partitions: u32,
    progress: &StreamsProgress,
) -> sim::NodeId {
    let exactly_once = env.guarantee.is_exactly_once();
    let producer_per_task = env.guarantee == Guarantee::ExactlyOnce;
    let wipe = !env.variants.has(Variant::StoreNotWipedOnUncleanShutdown);
    let checkpoint_restored = !env.variants.has(Variant::CheckpointWrittenNotRestored);
    let (env2, workload, progress) = (env.clone(), streams.clone(), progress.clone());
    let incarnations = Incarnations::new(instance, streams_instance_name(instance), INSTANCE_ROLES);
    let state_dir: StateDir = sim::DurableCell::new(std::collections::BTreeMap::new());
    let node_state_dir = state_dir.clone();
    let node = env
        .sim
        .add_node(&streams_instance_name(instance), move |node| {
            let (_, client) = incarnations.next(&env2.recorder);
            StreamsInstance {
                ctx: env2.client_context(node, client),
                workload: workload.clone(),
                instance,
                partitions,
                exactly_once,
                producer_per_task,
                progress: progress.clone(),
                state_dir: node_state_dir.clone(),
                wipe_after_unclean_shutdown: wipe,
                checkpoint_restored_offsets: checkpoint_restored,
            }
            .run()
        });
    env.sim.attach_disk(node, state_dir);
    node
}

impl BuiltinApp for StreamsWorkload {
    const NAME: &'static str = "streams";

    fn validate(&self, scenario: &Scenario) -> Result<(), Invalid> {
        const AT: &str = "app.streams";
        bounded(
            &format!("{AT}.instances"),
            self.instances,
            1,
            limits::MAX_STREAMS_INSTANCES,
        )?;
        scenario.bounded_workload(
            &format!("{AT}.records"),
            self.records,
            limits::MAX_STREAMS_RECORDS,
        )?;
        if self.keys == 0 || self.keys > limits::MAX_STREAMS_KEYS {
            return Err(Invalid::new(
                &format!("{AT}.keys"),
                format!("must be in 1..={} (12-bit keys)", limits::MAX_STREAMS_KEYS),
            ));
        }
        bounded(
            &format!("{AT}.commit_interval_ms"),
            self.commit_interval_ms,
            1,
            limits::MAX_COMMIT_INTERVAL_MS,
        )?;
        bounded(
            &format!("{AT}.commit_interval_records"),
            self.commit_interval_records,
            0,
            limits::MAX_COMMIT_INTERVAL_RECORDS,
        )?;
        bounded(
            &format!("{AT}.txn_timeout_ms"),
            self.txn_timeout_ms,
            1,
            limits::MAX_TXN_TIMEOUT_MS,
        )?;
        validate_session(&format!("{AT}.session_timeout_ms"), self.session_timeout_ms)?;
        bounded(
            &format!("{AT}.max_input_pause_ms"),
            self.max_input_pause_ms,
            0,
            limits::MAX_INPUT_PAUSE_MS,
        )
    }

    fn smaller(&self) -> Vec<Self> {
        half(self.records)
            .map(|records| Self {
                records,
                ..self.clone()
            })
            .into_iter()
            .collect()
    }

    fn size(&self) -> String {
        format!("{} records, {} instances", self.records, self.instances)
    }

    fn background_load(&self, scenario: &Scenario) -> BackgroundLoad {
        let sources = self.app.topology().source_topics().len() as u64;
        BackgroundLoad {
            members: u64::from(self.instances),
            tasks: sources * u64::from(streams_partitions(self, &scenario.cluster)),
        }
    }
}
