//! The streams app: a Kafka-Streams-like application (Kafka's EOS system test, word count)
//! on restartable streams instances in a consumer group, fed by a loader. Its topology's
//! sink, repartition and changelog topics are created with its input topic's partition count.
//! Settings: `[app.streams]`.

use std::collections::BTreeSet;

use checker::aggregate::AggregateCheck;
use checker::{Op, TxnStep};
pub use model::apps::streams::{Input, StreamsConfig};
use model::apps::streams::{
    StateDir, StreamsDefinition, StreamsInstance, StreamsProgress, StreamsWorkload, streams_loader,
};
use model::cluster::TopicSpec;
use model::streams::topology::Topology;
use model::{ClusterSpec, Guarantee};

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
    builtin_application(streams).partitions_in(cluster)
}

/// The nodes of `instances` streams instances and their loader.
fn instance_nodes(instances: u32) -> AppNodes {
    AppNodes {
        restartable: (0..instances).map(streams_instance_name).collect(),
        other: vec![LOADER.to_string()],
    }
}

/// A streams application under simulation: a topology written with the DSL
/// (`model::streams::topology`), the input its loader writes, and how its instances run.
/// Its instances are restartable group members (a crash, pause or stop hits them; a paused
/// one comes back a zombie), each task's stores changelogged; the guarantee is the run's.
/// Judged by the exactly-once oracle (every output's and changelog record's lineage) and
/// the aggregate verifier over what the topology's DSL vouches for
/// (`Topology::aggregate_spec`), with nothing to write by hand.
///
/// ```ignore
/// let b = TopologyBuilder::new();
/// b.stream("clicks").group_by_key().count("clicks-per-ad").to_stream().to("click-counts");
/// let app = StreamsApplication::new(b.build("ads"), |rng| vec![Input::new("clicks", 7, 1)])
///     .instances(3);
/// Simulation::builder(app).seeds(0..20).run().assert_all_passed();
/// ```
#[derive(Clone)]
pub struct StreamsApplication {
    definition: StreamsDefinition,
    config: StreamsConfig,
    partitions: Option<u32>,
    /// Input records the loader writes, if known without running the generator.
    expected_inputs: Option<u64>,
}

impl StreamsApplication {
    /// `topology` fed with what `input` generates (from the run's `streams-input` random
    /// stream; the count must not depend on it). Defaults: `StreamsConfig::default()` (3
    /// instances, commit every 100 ms), 5 partitions per topic (or the cluster's, for a
    /// topic it declares).
    pub fn new<F>(topology: Topology, input: F) -> Self
    where
        F: Fn(&mut dyn rand::RngCore) -> Vec<Input> + Send + Sync + 'static,
    {
        StreamsApplication {
            definition: StreamsDefinition::from_inputs(topology, input),
            config: StreamsConfig::default(),
            partitions: None,
            expected_inputs: None,
        }
    }

    /// With these configs (instances, commit interval, timeouts, loader pacing).
    pub fn config(self, config: StreamsConfig) -> Self {
        StreamsApplication { config, ..self }
    }

    /// With `instances` streams instances (default 3).
    pub fn instances(mut self, instances: u32) -> Self {
        self.config.instances = instances;
        self
    }

    /// Every topic of the topology with `partitions` partitions (default: the cluster's
    /// partition count of its first external input topic, else 5).
    pub fn partitions(self, partitions: u32) -> Self {
        StreamsApplication {
            partitions: Some(partitions),
            ..self
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.definition.topology
    }

    fn partitions_in(&self, cluster: &ClusterSpec) -> u32 {
        self.partitions
            .or_else(|| {
                let inputs = self.definition.external_inputs();
                inputs.iter().find_map(|t| topic_partitions(cluster, t))
            })
            .unwrap_or(model::streams::eos_test::PARTITIONS)
    }

    fn expected_inputs(&self) -> u64 {
        self.expected_inputs.unwrap_or_else(|| {
            let mut rng = sim::rng::stream(0, "streams-input");
            let partitions = self
                .partitions
                .unwrap_or(model::streams::eos_test::PARTITIONS);
            (self.definition.input)(&mut rng, partitions).len() as u64
        })
    }
}

/// The built-in application a scenario file's `[app.streams]` runs.
pub fn builtin_application(workload: &StreamsWorkload) -> StreamsApplication {
    StreamsApplication {
        definition: workload.app.definition(workload),
        config: workload.config(),
        partitions: None,
        expected_inputs: Some(u64::from(workload.records)),
    }
}

impl App for StreamsApplication {
    fn nodes(&self) -> AppNodes {
        instance_nodes(self.config.instances)
    }

    fn extra_topics(&self, cluster: &ClusterSpec) -> Vec<TopicSpec> {
        let partitions = self.partitions_in(cluster);
        let topology = &self.definition.topology;
        let mut names = topology.source_topics();
        names.extend(topology.sink_topics());
        names.extend(topology.internal_topics());
        names
            .into_iter()
            .map(|name| TopicSpec { name, partitions })
            .collect()
    }

    fn start(&self, env: &AppEnv) -> Started {
        let partitions = self.partitions_in(&env.cluster.spec);
        env.recorder.name_client(ClientId::LOADER, LOADER);
        let progress = StreamsProgress::default();
        let (loader_env, definition, config, loader_progress) = (
            env.clone(),
            self.definition.clone(),
            self.config,
            progress.clone(),
        );
        env.sim.add_node(LOADER, move |node| {
            streams_loader(
                loader_env.client_context(node, ClientId::LOADER),
                definition.clone(),
                config,
                partitions,
                loader_progress.clone(),
            )
        });
        let nodes = (0..self.config.instances)
            .map(|instance| start_instance(self, env, instance, partitions, &progress))
            .collect();
        let sources = self.definition.topology.source_topics().len() * partitions as usize;
        Started {
            done: Box::pin(async move { progress.wait_for(sources).await }),
            stop_when_done: nodes,
        }
    }

    fn read_back(&self) -> ReadBack {
        ReadBack::Committed
    }

    fn aggregate_checks(&self) -> Vec<AggregateCheck> {
        self.definition.topology.aggregate_spec().checks.clone()
    }

    fn progress(&self, done_ops: &[&Op]) -> Progress {
        let inputs = self.definition.external_inputs();
        let mut consumed = BTreeSet::new();
        let mut last_ns = None;
        for (time_ns, step) in super::queue::committed_steps(done_ops) {
            if let TxnStep::Poll {
                topic,
                partition,
                records,
            } = step
                && inputs.iter().any(|t| **t == **topic)
            {
                for r in records {
                    if consumed.insert((topic.clone(), *partition, r.offset)) {
                        last_ns = last_ns.max(Some(time_ns));
                    }
                }
            }
        }
        Progress {
            unit: "input records processed in committed cycles",
            done: consumed.len() as u64,
            expected: self.expected_inputs(),
            paced_ms: 0,
            last_ns,
        }
    }
}

/// The built-in streams app runs as its [`StreamsApplication`].
impl App for StreamsWorkload {
    fn nodes(&self) -> AppNodes {
        // Asked for per seed (fault targets): no topology built for it.
        instance_nodes(self.instances)
    }

    fn extra_topics(&self, cluster: &ClusterSpec) -> Vec<TopicSpec> {
        builtin_application(self).extra_topics(cluster)
    }

    fn start(&self, env: &AppEnv) -> Started {
        builtin_application(self).start(env)
    }

    fn read_back(&self) -> ReadBack {
        ReadBack::Committed
    }

    fn aggregate_checks(&self) -> Vec<AggregateCheck> {
        builtin_application(self).aggregate_checks()
    }

    fn progress(&self, done_ops: &[&Op]) -> Progress {
        builtin_application(self).progress(done_ops)
    }
}

/// Adds streams instance `instance` (restartable; each incarnation names its clients) with
/// its state directory on the node's disk.
fn start_instance(
    app: &StreamsApplication,
    env: &AppEnv,
    instance: u32,
    partitions: u32,
    progress: &StreamsProgress,
) -> sim::NodeId {
    let exactly_once = env.guarantee.is_exactly_once();
    let producer_per_task = env.guarantee == Guarantee::ExactlyOnce;
    let (env2, definition, config, progress) = (
        env.clone(),
        app.definition.clone(),
        app.config,
        progress.clone(),
    );
    let incarnations = Incarnations::new(instance, streams_instance_name(instance), INSTANCE_ROLES);
    let state_dir: StateDir = sim::DurableCell::new(std::collections::BTreeMap::new());
    let node_state_dir = state_dir.clone();
    let node = env
        .sim
        .add_node(&streams_instance_name(instance), move |node| {
            let (_, client) = incarnations.next(&env2.recorder);
            StreamsInstance {
                ctx: env2.client_context(node, client),
                definition: definition.clone(),
                config,
                instance,
                partitions,
                exactly_once,
                producer_per_task,
                progress: progress.clone(),
                state_dir: node_state_dir.clone(),
            }
            .run()
        });
    env.sim.attach_disk(node, state_dir);
    node
}

/// `app.streams.records` over `keys`: a key's sum of raw inputs must fit in an i32
/// (`limits::MAX_STREAMS_RECORDS_PER_KEY`). Only for the topologies whose generator draws
/// keys: word count ignores `keys`, and a word's count stays far below an i32's range.
fn validate_records_per_key(workload: &StreamsWorkload) -> Result<(), Invalid> {
    if !workload.app.draws_keys() {
        return Ok(());
    }
    let most = limits::MAX_STREAMS_RECORDS_PER_KEY.saturating_mul(u32::from(workload.keys));
    if workload.records <= most {
        return Ok(());
    }
    Err(Invalid::new(
        "app.streams.records",
        format!(
            "at most {} records per key (is {} records over {} keys): a key's sum of raw \
             inputs must fit in an i32",
            limits::MAX_STREAMS_RECORDS_PER_KEY,
            workload.records,
            workload.keys
        ),
    ))
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
        validate_records_per_key(self)?;
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
        bounded(
            &format!("{AT}.request_timeout_ms"),
            self.request_timeout_ms,
            1,
            limits::MAX_REQUEST_TIMEOUT_MS,
        )?;
        bounded(
            &format!("{AT}.producer_batch_bytes"),
            self.producer_batch_bytes,
            0,
            limits::MAX_PRODUCER_BATCH_BYTES,
        )?;
        bounded(
            &format!("{AT}.producer_buffer_bytes"),
            self.producer_buffer_bytes,
            1,
            limits::MAX_PRODUCER_BUFFER_BYTES,
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
