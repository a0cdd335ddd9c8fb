//! The scenario file format and its strict parser.
//!
//! Unknown keys are errors, and every error names the file, the line and column, and the
//! field (as a path such as `faults.plan[2].node`).

use std::collections::BTreeMap;
use std::fmt;

use model::apps::copy::CopyWorkload;
use model::apps::produce::ProduceWorkload;
use model::apps::queue::QueueWorkload;
use model::apps::streams::StreamsWorkload;
use model::{ClusterSpec, Guarantee, Variant};
use serde::{Deserialize, Serialize};
use sim::{Fault, FaultMix, FaultPlan, NetConfig};
use toml::Spanned;

use crate::expect::{Expectation, RunKey};

/// Which application runs on the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Application {
    /// Producers send unique values to a topic (the talk's "Error Scenario #1").
    Produce,
    /// Copier instances copy a pre-filled input topic to an output topic (Kafka's
    /// transactions system test): the DIY poll/send/commit loop under at-least-once (and
    /// at-most-once), the transactional loop under exactly-once. Keys in `[copy]`.
    TransactionalCopy,
    /// Jepsen's queue workload: client processes do random sends, polls and transactions of
    /// both over the partitions of the topics. Keys in `[queue]`.
    JepsenQueue,
    /// A Kafka-Streams-like application (Kafka's EOS system test) on streams instances in a
    /// consumer group. Keys in `[streams]`; the topology's topics are created from the
    /// `data` topic's partition count.
    Streams,
}

/// The fault schedule: a fault phase with an explicit plan and/or a random mix, then a
/// healing phase in which the system must finish its work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsSpec {
    /// Length of the fault phase, ms (default 5,000). Every fault happens inside it.
    #[serde(default = "default_phase_ms")]
    pub phase_ms: u64,
    /// Time allowed to converge after healing, ms (default 60,000); longer is a liveness
    /// failure (`not-converged`).
    #[serde(default = "default_heal_deadline_ms")]
    pub heal_deadline_ms: u64,
    /// A random mix, expanded from the seed into explicit faults.
    #[serde(default)]
    pub mix: Option<FaultMix>,
    /// Explicit faults (merged with the mix's, in time order).
    #[serde(default)]
    pub plan: Vec<Spanned<Fault>>,
}

fn default_phase_ms() -> u64 {
    5_000
}

fn default_heal_deadline_ms() -> u64 {
    60_000
}

impl Default for FaultsSpec {
    fn default() -> Self {
        Self {
            phase_ms: default_phase_ms(),
            heal_deadline_ms: default_heal_deadline_ms(),
            mix: None,
            plan: Vec::new(),
        }
    }
}

/// A whole scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub application: Application,
    /// Default processing guarantee (`--guarantee` overrides it). Default: exactly-once.
    #[serde(default = "default_guarantee")]
    pub guarantee: Guarantee,
    /// Protocol variants in force (`--variant` adds to them).
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// The seed `eosim run` uses when `--seed` is not given (a shrunk reproduction records
    /// the seed it fails with). Default: none (seed 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub cluster: ClusterSpec,
    /// The produce application's workload.
    #[serde(default)]
    pub workload: ProduceWorkload,
    /// The transactional-copy application's workload (only with that application).
    #[serde(default)]
    pub copy: Option<CopyWorkload>,
    /// The jepsen-queue application's workload (only with that application).
    #[serde(default)]
    pub queue: Option<QueueWorkload>,
    /// The streams application's workload (only with that application).
    #[serde(default)]
    pub streams: Option<StreamsWorkload>,
    #[serde(default)]
    pub network: NetConfig,
    #[serde(default)]
    pub faults: FaultsSpec,
    /// Expected outcome per run key ("exactly-once", "exactly-once+no-dedup", …).
    #[serde(default)]
    pub expect: BTreeMap<String, Expectation>,
}

fn default_guarantee() -> Guarantee {
    Guarantee::ExactlyOnce
}

/// A scenario that cannot be used: where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// The field, as a path (`faults.plan[2].node`), when known.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// 1-based (line, column) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

impl Scenario {
    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, ScenarioError> {
        let error = |span: Option<std::ops::Range<usize>>,
                     field: Option<String>,
                     message: String| ScenarioError {
            file: file.to_string(),
            position: span.map(|s| position(text, s.start)),
            field,
            message,
        };
        let deserializer = toml::Deserializer::parse(text)
            .map_err(|e| error(e.span(), None, e.message().to_string()))?;
        let scenario: Scenario = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let field = (path != "." && !path.is_empty()).then_some(path);
            error(inner.span(), field, inner.message().trim().to_string())
        })?;
        scenario
            .validate()
            .map_err(|(span, field, message)| error(span, Some(field), message))?;
        Ok(scenario)
    }

    /// Names of the nodes a fault may crash or pause.
    pub fn crash_targets(&self) -> Vec<String> {
        let mut names = self.cluster.broker_names();
        if self.application == Application::TransactionalCopy {
            names.extend((0..self.copy_workload().instances).map(copier_name));
        }
        if self.application == Application::Streams {
            names.extend((0..self.streams_workload().instances).map(streams_instance_name));
        }
        if self.application == Application::JepsenQueue && self.queue_workload().crash_clients {
            names.extend((0..self.queue_workload().clients).map(queue_client_name));
        }
        names
    }

    /// Names of every node a message fault may name.
    pub fn node_names(&self) -> Vec<String> {
        let mut names = self.cluster.broker_names();
        match self.application {
            Application::Produce => {
                names.extend((0..self.workload.producers).map(producer_name));
            }
            Application::TransactionalCopy => {
                names.extend((0..self.copy_workload().instances).map(copier_name));
                names.push(LOADER.to_string());
            }
            Application::JepsenQueue => {
                names.extend((0..self.queue_workload().clients).map(queue_client_name));
            }
            Application::Streams => {
                names.extend((0..self.streams_workload().instances).map(streams_instance_name));
                names.push(LOADER.to_string());
            }
        }
        names.push(VERIFIER.to_string());
        names
    }

    /// The copy workload (defaults when `[copy]` is absent).
    pub fn copy_workload(&self) -> CopyWorkload {
        self.copy.clone().unwrap_or_default()
    }

    /// The streams workload (defaults when `[streams]` is absent).
    pub fn streams_workload(&self) -> StreamsWorkload {
        self.streams.clone().unwrap_or_default()
    }

    /// The cluster with the streams application's topics added (sinks, repartition and
    /// changelog topics, each with the `data` topic's partitions); other applications' as is.
    pub fn cluster_with_app_topics(&self) -> ClusterSpec {
        let mut spec = self.cluster.clone();
        if self.application != Application::Streams {
            return spec;
        }
        let partitions = self.streams_partitions();
        let topology = self.streams_workload().app.topology();
        let mut names = topology.source_topics();
        names.extend(topology.sink_topics());
        names.extend(topology.internal_topics());
        for name in names {
            if !spec.topics.iter().any(|t| t.name == name) {
                spec.topics
                    .push(model::cluster::TopicSpec { name, partitions });
            }
        }
        spec
    }

    /// Partitions of the streams application's input topic (default 5, as Kafka's test).
    pub fn streams_partitions(&self) -> u32 {
        let input = self.streams_workload().app.input_topic();
        self.cluster
            .topics
            .iter()
            .find(|t| t.name == input)
            .map_or(model::streams::eos_test::PARTITIONS, |t| t.partitions)
    }

    /// The queue workload (defaults when `[queue]` is absent).
    pub fn queue_workload(&self) -> QueueWorkload {
        self.queue.clone().unwrap_or_default()
    }

    /// The partitions the queue workload uses: those of its topics (default: every topic).
    pub fn queue_partitions(&self) -> Vec<model::TopicPartition> {
        let topics = self.queue_workload().topics;
        self.cluster
            .partitions()
            .into_iter()
            .filter(|tp| topics.is_empty() || topics.iter().any(|t| **t == *tp.topic))
            .collect()
    }

    /// Candidates for workload shrinking: each a copy with one size knob halved (producers,
    /// values per producer; copy values and instances; queue clients and operations per
    /// client), largest cut first; only candidates that still validate with `plan` (e.g. the
    /// plan's nodes still exist).
    pub fn smaller_workloads(&self, plan: &FaultPlan) -> Vec<Scenario> {
        let half = |n: u32, floor: u32| (n > floor).then(|| (n / 2).max(floor));
        let mut out = Vec::new();
        let mut push = |candidate: Scenario| {
            if candidate.validate().is_ok()
                && validate_plan_nodes(
                    plan,
                    &candidate.crash_targets(),
                    &candidate.node_names(),
                    candidate.faults.phase_ms,
                )
                .is_ok()
            {
                out.push(candidate);
            }
        };
        match self.application {
            Application::Produce => {
                if let Some(n) = half(self.workload.values_per_producer, 1) {
                    let mut c = self.clone();
                    c.workload.values_per_producer = n;
                    push(c);
                }
                if let Some(n) = half(self.workload.producers, 1) {
                    let mut c = self.clone();
                    c.workload.producers = n;
                    push(c);
                }
            }
            Application::TransactionalCopy => {
                let copy = self.copy_workload();
                if let Some(n) = half(copy.values, 1) {
                    let mut c = self.clone();
                    c.copy = Some(CopyWorkload {
                        values: n,
                        ..copy.clone()
                    });
                    push(c);
                }
                if let Some(n) = half(copy.instances, 1) {
                    let mut c = self.clone();
                    c.copy = Some(CopyWorkload {
                        instances: n,
                        ..copy
                    });
                    push(c);
                }
            }
            Application::Streams => {
                let streams = self.streams_workload();
                if let Some(n) = half(streams.records, 1) {
                    let mut c = self.clone();
                    c.streams = Some(StreamsWorkload {
                        records: n,
                        ..streams
                    });
                    push(c);
                }
            }
            Application::JepsenQueue => {
                let queue = self.queue_workload();
                if let Some(n) = half(queue.ops_per_client, 1) {
                    let mut c = self.clone();
                    c.queue = Some(QueueWorkload {
                        ops_per_client: n,
                        ..queue.clone()
                    });
                    push(c);
                }
                if let Some(n) = half(queue.clients, 1) {
                    let mut c = self.clone();
                    c.queue = Some(QueueWorkload {
                        clients: n,
                        ..queue
                    });
                    push(c);
                }
            }
        }
        out
    }

    /// One line on the workload's size, for shrink's progress output.
    pub fn workload_size(&self) -> String {
        match self.application {
            Application::Produce => format!(
                "{} producers x {} values",
                self.workload.producers, self.workload.values_per_producer
            ),
            Application::TransactionalCopy => {
                let c = self.copy_workload();
                format!("{} values, {} instances", c.values, c.instances)
            }
            Application::JepsenQueue => {
                let q = self.queue_workload();
                format!("{} clients x {} ops", q.clients, q.ops_per_client)
            }
            Application::Streams => {
                let w = self.streams_workload();
                format!("{} records, {} instances", w.records, w.instances)
            }
        }
    }

    /// The explicit part of the plan, without spans.
    pub fn explicit_plan(&self) -> Vec<Fault> {
        self.faults
            .plan
            .iter()
            .map(|f| f.get_ref().clone())
            .collect()
    }

    fn validate_queue(&self) -> Result<(), (Option<std::ops::Range<usize>>, String, String)> {
        let field = |f: &str, m: String| Err((None, f.to_string(), m));
        let queue = self.queue_workload();
        if queue.clients == 0 {
            return field("queue.clients", "must be at least 1".into());
        }
        if queue.clients > 900 {
            return field("queue.clients", "must be at most 900".into());
        }
        if queue.ops_per_client == 0 {
            return field("queue.ops_per_client", "must be at least 1".into());
        }
        if queue.ops_per_client > 100_000 {
            return field("queue.ops_per_client", "must be at most 100000".into());
        }
        if queue.max_txn_len == 0 {
            return field("queue.max_txn_len", "must be at least 1".into());
        }
        if queue.op_interval_ms == 0 {
            return field(
                "queue.op_interval_ms",
                "must be at least 1 (simulated sleeps are whole milliseconds)".into(),
            );
        }
        if queue.max_poll_records == 0 {
            return field("queue.max_poll_records", "must be at least 1".into());
        }
        if queue.txn_timeout_ms == 0 {
            return field("queue.txn_timeout_ms", "must be positive".into());
        }
        for (i, topic) in queue.topics.iter().enumerate() {
            if !self.cluster.topics.iter().any(|t| t.name == *topic) {
                return field(
                    &format!("queue.topics[{i}]"),
                    format!("{topic:?} is not a topic of cluster.topics"),
                );
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), (Option<std::ops::Range<usize>>, String, String)> {
        let field = |f: &str, m: String| Err((None, f.to_string(), m));
        if self.name.trim().is_empty() {
            return field("name", "must not be empty".into());
        }
        if self.cluster.brokers == 0 {
            return field(
                "cluster.brokers",
                "a cluster needs at least one broker".into(),
            );
        }
        if self.cluster.topics.is_empty() {
            return field("cluster.topics", "at least one topic is needed".into());
        }
        for (i, t) in self.cluster.topics.iter().enumerate() {
            if t.partitions == 0 {
                return field(
                    &format!("cluster.topics[{i}].partitions"),
                    "must be at least 1".into(),
                );
            }
            if self.cluster.topics[..i].iter().any(|o| o.name == t.name) {
                return field(
                    &format!("cluster.topics[{i}].name"),
                    format!("topic {:?} is declared twice", t.name),
                );
            }
        }
        match self.application {
            Application::Streams => {
                if self.copy.is_some() {
                    return field(
                        "copy",
                        "only for application = \"transactional-copy\"".into(),
                    );
                }
            }
            Application::Produce => {
                if self.workload.producers == 0 {
                    return field("workload.producers", "must be at least 1".into());
                }
                if self.copy.is_some() {
                    return field(
                        "copy",
                        "only for application = \"transactional-copy\"".into(),
                    );
                }
            }
            Application::JepsenQueue => {
                if self.copy.is_some() {
                    return field(
                        "copy",
                        "only for application = \"transactional-copy\"".into(),
                    );
                }
                self.validate_queue()?;
            }
            Application::TransactionalCopy => {
                let copy = self.copy_workload();
                if copy.instances == 0 {
                    return field("copy.instances", "must be at least 1".into());
                }
                if copy.values == 0 {
                    return field("copy.values", "must be at least 1".into());
                }
                if copy.commit_every == 0 {
                    return field("copy.commit_every", "must be at least 1".into());
                }
                let partitions = |name: &str| {
                    self.cluster
                        .topics
                        .iter()
                        .find(|t| t.name == name)
                        .map(|t| t.partitions)
                };
                let Some(input) = partitions(&copy.input_topic) else {
                    return field("copy.input_topic", "not a topic of cluster.topics".into());
                };
                match partitions(&copy.output_topic) {
                    None => {
                        return field("copy.output_topic", "not a topic of cluster.topics".into());
                    }
                    Some(output) if output != input || copy.output_topic == copy.input_topic => {
                        return field(
                            "copy.output_topic",
                            "must be another topic with as many partitions as the input".into(),
                        );
                    }
                    Some(_) => {}
                }
            }
        }
        if self.queue.is_some() && self.application != Application::JepsenQueue {
            return field("queue", "only for application = \"jepsen-queue\"".into());
        }
        if self.streams.is_some() && self.application != Application::Streams {
            return field("streams", "only for application = \"streams\"".into());
        }
        if self.application == Application::Streams {
            let w = self.streams_workload();
            if w.instances == 0 || w.instances > 90 {
                return field("streams.instances", "must be in 1..=90".into());
            }
            if w.records == 0 || w.records > 500_000 {
                return field("streams.records", "must be in 1..=500000".into());
            }
            if w.keys == 0 || w.keys > 4096 {
                return field("streams.keys", "must be in 1..=4096 (12-bit keys)".into());
            }
            if w.commit_interval_ms == 0 {
                return field("streams.commit_interval_ms", "must be positive".into());
            }
        }
        if let Some(mix) = &self.faults.mix
            && let Some(kinds) = &mix.message
            && let Some(bad) = kinds
                .0
                .iter()
                .find(|k| !MESSAGE_KINDS.contains(&k.as_str()))
        {
            return field(
                "faults.mix.message",
                format!(
                    "unknown message kind {bad:?} (known: {})",
                    MESSAGE_KINDS.join(", ")
                ),
            );
        }
        if self.network.latency_min_us > self.network.latency_max_us {
            return field(
                "network.latency_min_us",
                "must not exceed latency_max_us".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.network.loss) {
            return field(
                "network.loss",
                "must be a probability between 0 and 1".into(),
            );
        }
        if self.faults.heal_deadline_ms == 0 {
            return field("faults.heal_deadline_ms", "must be positive".into());
        }
        if let Some(mix) = &self.faults.mix {
            if mix.min_outage_ms > mix.max_outage_ms {
                return field(
                    "faults.mix.min_outage_ms",
                    format!("must not exceed max_outage_ms ({})", mix.max_outage_ms),
                );
            }
            let targets = self.crash_targets();
            if let Some(unknown) = mix.targets.iter().flatten().find(|t| !targets.contains(t)) {
                return field(
                    "faults.mix.targets",
                    format!(
                        "{unknown:?} cannot be crashed or paused (nodes that can: {})",
                        targets.join(", ")
                    ),
                );
            }
        }
        let plan = sim::FaultPlan(self.explicit_plan());
        if let Err(e) = validate_plan_nodes(
            &plan,
            &self.crash_targets(),
            &self.node_names(),
            self.faults.phase_ms,
        ) {
            let span = self.faults.plan.get(e.index).map(|s| s.span());
            return Err((
                span,
                format!("faults.plan[{}]", e.index),
                format!("impossible fault ({}): {}", e.what, e.reason),
            ));
        }
        for key in self.expect.keys() {
            if let Err(m) = RunKey::parse(key) {
                return field(&format!("expect.{key}"), m);
            }
        }
        Ok(())
    }
}

/// Validates node lifecycles against the crash targets and message filters against all nodes.
fn validate_plan_nodes(
    plan: &sim::FaultPlan,
    crash_targets: &[String],
    all_nodes: &[String],
    phase_ms: u64,
) -> Result<(), sim::PlanError> {
    plan.validate(crash_targets, phase_ms)?;
    for (index, fault) in plan.0.iter().enumerate() {
        use sim::FaultAction::*;
        let names: Vec<&String> = match &fault.action {
            DropRequests { filter, .. }
            | LoseAcks { filter, .. }
            | DuplicateRequests { filter, .. }
            | DuplicateResponses { filter, .. }
            | Delay { filter, .. } => filter.from.iter().chain(filter.to.iter()).collect(),
            Partition { a, b } => a.iter().chain(b.iter()).collect(),
            _ => Vec::new(),
        };
        let message = match &fault.action {
            DropRequests { filter, .. }
            | LoseAcks { filter, .. }
            | DuplicateRequests { filter, .. }
            | DuplicateResponses { filter, .. }
            | Delay { filter, .. } => filter.message.as_deref(),
            _ => None,
        };
        if let Some(kind) = message.filter(|k| !MESSAGE_KINDS.contains(k)) {
            return Err(sim::PlanError {
                index,
                what: fault.action.to_string(),
                reason: format!(
                    "unknown message kind {kind:?} (known: {})",
                    MESSAGE_KINDS.join(", ")
                ),
            });
        }
        if let Some(unknown) = names.into_iter().find(|n| !all_nodes.contains(n)) {
            return Err(sim::PlanError {
                index,
                what: fault.action.to_string(),
                reason: format!("unknown node {unknown:?} (nodes: {})", all_nodes.join(", ")),
            });
        }
    }
    Ok(())
}

/// Node name of producer `p` (0-based).
pub fn producer_name(p: u32) -> String {
    format!("producer-{}", p + 1)
}

/// Node name of queue client `k` (0-based).
pub fn queue_client_name(k: u32) -> String {
    format!("client-{}", k + 1)
}

/// The message kinds a fault may name (the model's request and response labels).
pub const MESSAGE_KINDS: &[&str] = &[
    "produce",
    "fetch",
    "init-producer-id",
    "add-partitions-to-txn",
    "add-offsets-to-txn",
    "end-txn",
    "write-txn-markers",
    "txn-offset-commit",
    "offset-commit",
    "offset-fetch",
    "join-group",
    "heartbeat",
    "leave-group",
];

/// Node name of streams instance `k` (0-based).
pub fn streams_instance_name(k: u32) -> String {
    format!("instance-{}", k + 1)
}

/// Node name of copier instance `k` (0-based).
pub fn copier_name(k: u32) -> String {
    format!("copier-{}", k + 1)
}

/// The node that writes the copy application's input.
pub const LOADER: &str = "loader";

/// The node that reads every partition after healing.
pub const VERIFIER: &str = "verifier";
