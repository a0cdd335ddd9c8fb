//! The scenario file format and its strict parser.
//!
//! Unknown keys are errors, and every error names the file, the line and column, and the
//! field (as a path such as `faults.plan[2].node`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use model::{ClusterSpec, Guarantee, Variant};
use serde::{Deserialize, Serialize};
use sim::{Fault, FaultMix, FaultPlan, NetConfig};
use toml::Spanned;

use crate::app::AppSpec;
use crate::expect::{Expectation, RunKey};
use crate::limits;
use crate::locate::{self, FieldPath};

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
    /// The application and its settings: one `[app.<name>]` table.
    pub app: AppSpec,
    #[serde(default)]
    pub network: NetConfig,
    #[serde(default)]
    pub faults: FaultsSpec,
    /// Expected outcome per run key ("exactly-once", "exactly-once+no-dedup", …).
    #[serde(default)]
    pub expect: BTreeMap<String, Expectation>,
    /// A published comparison `eosim compare` shows beside what it measured (the talk
    /// scenarios' throughput table). Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
}

/// A published throughput comparison: for some guarantees, records per second as a
/// fraction of the first guarantee `eosim compare` runs (at-least-once by default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Where the figures come from.
    pub source: String,
    /// Guarantee name → its records per second over the first guarantee's (0 < r ≤ 10).
    pub throughput_ratios: BTreeMap<String, f64>,
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
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

/// A semantic error: the field and why, with the span of its entry when the caller knows it
/// better than the field's place in the text (a plan entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub path: FieldPath,
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl Invalid {
    pub(crate) fn new(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: FieldPath::parse(path),
            message: message.into(),
            span: None,
        }
    }
}

/// `Err` naming `path` unless `min <= value <= max`.
pub(crate) fn bounded<T: PartialOrd + fmt::Display>(
    path: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), Invalid> {
    if value < min {
        return Err(Invalid::new(
            path,
            format!("must be at least {min} (is {value})"),
        ));
    }
    if value > max {
        return Err(Invalid::new(
            path,
            format!("must be at most {max} (is {value}; see scenarios::limits)"),
        ));
    }
    Ok(())
}

impl Scenario {
    /// Parses and validates a scenario file's bytes: at most `limits::MAX_FILE_BYTES`, UTF-8
    /// (an error names the line and column of the first invalid byte), then `parse`.
    pub fn parse_bytes(bytes: &[u8], file: &str) -> Result<Self, ScenarioError> {
        if bytes.len() as u64 > limits::MAX_FILE_BYTES {
            return Err(ScenarioError {
                file: file.to_string(),
                position: Some((1, 1)),
                field: None,
                message: format!(
                    "the file is larger than {} bytes, the most a scenario file may have",
                    limits::MAX_FILE_BYTES
                ),
            });
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::parse(text, file),
            Err(e) => {
                let valid = e.valid_up_to();
                let prefix = std::str::from_utf8(&bytes[..valid]).expect("valid up to here");
                let lossy = String::from_utf8_lossy(bytes);
                let comment = locate::comment_note(&lossy, valid);
                let bad: Vec<String> = bytes[valid..]
                    .iter()
                    .take(e.error_len().unwrap_or(bytes.len() - valid).max(1))
                    .map(|b| format!("0x{b:02x}"))
                    .collect();
                Err(ScenarioError {
                    file: file.to_string(),
                    position: Some(position(prefix, valid)),
                    field: locate::field_at(&lossy, valid).map(|p| p.to_string()),
                    message: format!(
                        "invalid UTF-8 at byte {valid} ({}{}){comment}; scenario files are UTF-8 \
                         text",
                        bad.join(" "),
                        if e.error_len().is_none() {
                            ", a truncated character"
                        } else {
                            ""
                        }
                    ),
                })
            }
        }
    }

    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, ScenarioError> {
        // Every error names a line and column (the file's start if nothing better is known)
        // and, where one can be told, the field.
        let error = |span: Option<Range<usize>>, field: Option<FieldPath>, message: String| {
            let field = field.filter(|f| !f.is_empty());
            let span = span.or_else(|| field.as_ref().and_then(|f| locate::span_of(text, f)));
            let field =
                field.or_else(|| span.as_ref().and_then(|s| locate::field_at(text, s.start)));
            ScenarioError {
                file: file.to_string(),
                position: Some(span.map_or((1, 1), |s| position(text, s.start))),
                field: field.map(|f| f.to_string()),
                message,
            }
        };
        let deserializer = toml::Deserializer::parse(text).map_err(|e| {
            let mut message = e.message().trim().to_string();
            if let Some(span) = e.span() {
                message.push_str(locate::comment_note(text, span.start));
            }
            error(e.span(), None, message)
        })?;
        let scenario: Scenario = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let mut path = FieldPath::from_serde(e.path());
            let inner = e.into_inner();
            let message = app_table_message(&path, inner.message().trim());
            // "missing field `x`" is raised by the table that lacks it: name the field.
            if let Some(missing) = message
                .strip_prefix("missing field `")
                .and_then(|m| m.split('`').next())
            {
                let table = locate::span_of(text, &path);
                path = path.key(missing);
                return error(table.or(inner.span()), Some(path), message);
            }
            error(inner.span(), Some(path), message)
        })?;
        scenario
            .validate()
            .map_err(|e| error(e.span, Some(e.path), e.message))?;
        Ok(scenario)
    }

    /// Validates a scenario built in code (no file text: errors name the field only).
    pub fn validate_built(&self) -> Result<(), ScenarioError> {
        self.validate().map_err(|e| ScenarioError {
            file: format!("<scenario {:?} built in code>", self.name),
            position: None,
            field: Some(e.path.to_string()).filter(|f| !f.is_empty()),
            message: e.message,
        })
    }

    /// Names of the nodes a fault may crash or pause.
    pub fn crash_targets(&self) -> Vec<String> {
        let mut names = self.cluster.broker_names();
        names.extend(self.app.app().nodes().restartable);
        names
    }

    /// The scenario with swarm testing switched on (`--swarm`): its mix becomes a swarm mix;
    /// a scenario without a mix gets the default one (8 faults), as a swarm mix.
    pub fn with_swarm(mut self) -> Self {
        self.faults.mix.get_or_insert_with(FaultMix::default).swarm = true;
        self
    }

    /// The application's client nodes (every node but the brokers and the verifier): swarm
    /// message faults aim at requests from them and responses to them.
    pub fn client_names(&self) -> Vec<String> {
        let brokers = self.cluster.broker_names();
        self.node_names()
            .into_iter()
            .filter(|n| !brokers.contains(n) && n != VERIFIER)
            .collect()
    }

    /// Names of every node a message fault may name.
    pub fn node_names(&self) -> Vec<String> {
        let nodes = self.app.app().nodes();
        let mut names = self.cluster.broker_names();
        names.extend(nodes.restartable);
        names.extend(nodes.other);
        names.push(VERIFIER.to_string());
        names
    }

    /// Whether the app processes only once its whole input is written (a Streams app with
    /// `preload_input`): `compare` then measures the steady rate (`checker::metrics::Delivery::records_per_s`).
    pub fn input_pre_filled(&self) -> bool {
        matches!(&self.app, AppSpec::Streams(w) if w.preload_input)
    }

    /// The cost model this scenario runs under: "none" (every message takes its drawn
    /// latency), "per-message" (fixed costs per message, record and sync, nothing shared) or
    /// "shared-resources" (links, handler threads, disks or client CPUs that queue), and
    /// every cost knob set, by its field name (a Streams app's background sending among
    /// them: it decides when output takes the links).
    pub fn cost_model(&self) -> (&'static str, BTreeMap<String, u64>) {
        let (n, c) = (&self.network, &self.cluster);
        let knobs = [
            ("network.message_overhead_us", n.message_overhead_us),
            ("network.record_bytes", n.record_bytes),
            ("network.transfer_us_per_kib", n.transfer_us_per_kib),
            ("network.link_mbit_per_s", n.link_mbit_per_s),
            ("network.message_bytes", n.message_bytes),
            ("network.client_message_us", n.client_message_us),
            ("network.client_record_us", n.client_record_us),
            ("cluster.sync_us", c.sync_us),
            ("cluster.request_threads", u64::from(c.request_threads)),
            ("cluster.request_us", c.request_us),
            ("cluster.request_record_us", c.request_record_us),
            ("cluster.disk_mb_per_s", c.disk_mb_per_s),
            // 1 (the default, no followers) is left out with the zeros below.
            (
                "cluster.replication_factor",
                if c.replication_factor > 1 {
                    u64::from(c.replication_factor)
                } else {
                    0
                },
            ),
            (
                "cluster.non_idempotent_acks_leader",
                u64::from(c.non_idempotent_acks_leader),
            ),
        ];
        // A Streams producer's background sending decides when its bytes take the links.
        // So does fetching every input at once: it decides how fast input arrives.
        let sending = match &self.app {
            AppSpec::Streams(w) => [
                ("app.streams.producer_batch_bytes", w.producer_batch_bytes),
                (
                    "app.streams.producer_buffer_bytes",
                    // The buffer matters only to background sending.
                    if w.producer_batch_bytes > 0 {
                        w.producer_buffer_bytes
                    } else {
                        0
                    },
                ),
                (
                    "app.streams.fetch_all_at_once",
                    u64::from(w.fetch_all_at_once),
                ),
            ],
            _ => [("", 0); 3],
        };
        let set: BTreeMap<String, u64> = knobs
            .into_iter()
            .chain(sending)
            .filter(|&(_, value)| value > 0)
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        let kind = if n.shares_resources() || c.request_threads > 0 {
            "shared-resources"
        } else if set.keys().any(|k| k != "network.record_bytes") {
            "per-message"
        } else {
            "none"
        };
        (kind, set)
    }

    /// The cluster with the app's own topics added (e.g. the streams app's sink,
    /// repartition and changelog topics); a topic the cluster has already is kept as is.
    pub fn cluster_with_app_topics(&self) -> ClusterSpec {
        let mut spec = self.cluster.clone();
        for topic in self.app.app().extra_topics(&self.cluster) {
            if !spec.topics.iter().any(|t| t.name == topic.name) {
                spec.topics.push(topic);
            }
        }
        spec
    }

    /// Candidates for workload shrinking: each a copy with one size knob of the app cut
    /// (largest cut first); only candidates that still validate with `plan` (e.g. the plan's
    /// nodes still exist).
    pub fn smaller_workloads(&self, plan: &FaultPlan) -> Vec<Scenario> {
        self.app
            .smaller()
            .into_iter()
            .map(|app| Scenario {
                app,
                ..self.clone()
            })
            .filter(|candidate| {
                candidate.validate().is_ok()
                    && validate_plan_nodes(
                        plan,
                        &candidate.crash_targets(),
                        &candidate.node_names(),
                        candidate.faults.phase_ms,
                    )
                    .is_ok()
            })
            .collect()
    }

    /// One line on the workload's size, for shrink's progress output.
    pub fn workload_size(&self) -> String {
        self.app.size()
    }

    /// The explicit part of the plan, without spans.
    pub fn explicit_plan(&self) -> Vec<Fault> {
        self.faults
            .plan
            .iter()
            .map(|f| f.get_ref().clone())
            .collect()
    }

    /// The workload bound `max`, a tenth of it on a lossy network (`network.loss` above 0).
    pub(crate) fn workload_bound(&self, max: u64) -> u64 {
        if self.network.loss > 0.0 {
            max / limits::LOSSY_WORKLOAD_DIVISOR
        } else {
            max
        }
    }

    /// " (a tenth of … on a lossy network)" when `workload_bound` divided.
    pub(crate) fn lossy_note(&self) -> &'static str {
        if self.network.loss > 0.0 {
            " on a lossy network (network.loss > 0: lost messages break connections and every \
             call in flight is retried)"
        } else {
            ""
        }
    }

    /// `bounded(path, value, 1, max)`, saying so when a lossy network's tenth of `max` is
    /// what `value` passes.
    pub(crate) fn bounded_workload(&self, path: &str, value: u32, max: u32) -> Result<(), Invalid> {
        let bound = self.workload_bound(u64::from(max));
        if u64::from(value) > bound && bound < u64::from(max) {
            return Err(Invalid::new(
                path,
                format!("must be at most {bound}{} (is {value})", self.lossy_note()),
            ));
        }
        bounded(path, value, 1, max)
    }

    fn validate_cluster(&self) -> Result<(), Invalid> {
        if self.cluster.brokers == 0 {
            return Err(Invalid::new(
                "cluster.brokers",
                "a cluster needs at least one broker",
            ));
        }
        bounded(
            "cluster.brokers",
            self.cluster.brokers,
            1,
            limits::MAX_BROKERS,
        )?;
        if self.cluster.topics.is_empty() && self.app.app().extra_topics(&self.cluster).is_empty() {
            return Err(Invalid::new(
                "cluster.topics",
                "at least one topic is needed (the app creates none)",
            ));
        }
        if self.cluster.topics.len() > limits::MAX_TOPICS {
            return Err(Invalid::new(
                "cluster.topics",
                format!(
                    "{} topics; at most {} (see scenarios::limits)",
                    self.cluster.topics.len(),
                    limits::MAX_TOPICS
                ),
            ));
        }
        self.validate_topics()?;
        bounded(
            "cluster.sync_us",
            self.cluster.sync_us,
            0,
            limits::MAX_SYNC_US,
        )?;
        self.validate_broker_resources()?;
        bounded(
            "cluster.leader_election_ms",
            self.cluster.leader_election_ms,
            0,
            limits::MAX_LEADER_ELECTION_MS,
        )?;
        bounded(
            "cluster.max_producer_epoch",
            self.cluster.max_producer_epoch,
            limits::MIN_MAX_PRODUCER_EPOCH,
            i16::MAX,
        )
    }

    /// The brokers' shared resources (handler threads, their costs, the disk).
    fn validate_broker_resources(&self) -> Result<(), Invalid> {
        let c = &self.cluster;
        bounded(
            "cluster.request_threads",
            c.request_threads,
            0,
            limits::MAX_REQUEST_THREADS,
        )?;
        bounded(
            "cluster.request_us",
            c.request_us,
            0,
            limits::MAX_REQUEST_US,
        )?;
        bounded(
            "cluster.request_record_us",
            c.request_record_us,
            0,
            limits::MAX_REQUEST_RECORD_US,
        )?;
        bounded(
            "cluster.disk_mb_per_s",
            c.disk_mb_per_s,
            0,
            limits::MAX_DISK_MB_PER_S,
        )?;
        // A partition has at most one replica per broker.
        bounded(
            "cluster.replication_factor",
            c.replication_factor,
            1,
            c.brokers,
        )
    }

    /// Each topic's name and partition count, and no topic declared twice.
    fn validate_topics(&self) -> Result<(), Invalid> {
        for (i, t) in self.cluster.topics.iter().enumerate() {
            let chars = t.name.chars().count();
            if chars == 0 || chars > limits::MAX_TOPIC_NAME_CHARS {
                return Err(Invalid::new(
                    &format!("cluster.topics[{i}].name"),
                    format!(
                        "a topic name has 1..={} characters (this one {chars})",
                        limits::MAX_TOPIC_NAME_CHARS
                    ),
                ));
            }
            bounded(
                &format!("cluster.topics[{i}].partitions"),
                t.partitions,
                1,
                limits::MAX_PARTITIONS_PER_TOPIC,
            )?;
            if self.cluster.topics[..i].iter().any(|o| o.name == t.name) {
                return Err(Invalid::new(
                    &format!("cluster.topics[{i}].name"),
                    format!("topic {:?} is declared twice", t.name),
                ));
            }
        }
        Ok(())
    }

    fn validate_network(&self) -> Result<(), Invalid> {
        let n = &self.network;
        bounded(
            "network.latency_max_us",
            n.latency_max_us,
            0,
            limits::MAX_LATENCY_US,
        )?;
        if n.latency_min_us > n.latency_max_us {
            return Err(Invalid::new(
                "network.latency_min_us",
                format!("must not exceed latency_max_us ({})", n.latency_max_us),
            ));
        }
        if !(0.0..=1.0).contains(&n.loss) {
            return Err(Invalid::new(
                "network.loss",
                "must be a probability between 0 and 1",
            ));
        }
        bounded(
            "network.message_overhead_us",
            n.message_overhead_us,
            0,
            limits::MAX_MESSAGE_OVERHEAD_US,
        )?;
        bounded(
            "network.record_bytes",
            n.record_bytes,
            0,
            limits::MAX_RECORD_BYTES,
        )?;
        bounded(
            "network.transfer_us_per_kib",
            n.transfer_us_per_kib,
            0,
            limits::MAX_TRANSFER_US_PER_KIB,
        )?;
        bounded(
            "network.link_mbit_per_s",
            n.link_mbit_per_s,
            0,
            limits::MAX_LINK_MBIT_PER_S,
        )?;
        bounded(
            "network.message_bytes",
            n.message_bytes,
            0,
            limits::MAX_MESSAGE_BYTES,
        )?;
        bounded(
            "network.client_message_us",
            n.client_message_us,
            0,
            limits::MAX_CLIENT_MESSAGE_US,
        )?;
        bounded(
            "network.client_record_us",
            n.client_record_us,
            0,
            limits::MAX_CLIENT_RECORD_US,
        )
    }

    fn validate_faults(&self) -> Result<(), Invalid> {
        let faults = &self.faults;
        bounded("faults.phase_ms", faults.phase_ms, 0, limits::MAX_PHASE_MS)?;
        if faults.heal_deadline_ms == 0 {
            return Err(Invalid::new("faults.heal_deadline_ms", "must be positive"));
        }
        bounded(
            "faults.heal_deadline_ms",
            faults.heal_deadline_ms,
            1,
            limits::MAX_HEAL_DEADLINE_MS,
        )?;
        self.validate_plan_sizes()?;
        match &faults.mix {
            Some(mix) => self.validate_mix(mix),
            None => Ok(()),
        }
    }

    /// The explicit plan: how many faults, and each one's counts and durations.
    fn validate_plan_sizes(&self) -> Result<(), Invalid> {
        let faults = &self.faults;
        if faults.plan.len() > limits::MAX_PLAN_FAULTS {
            return Err(Invalid {
                span: faults.plan.get(limits::MAX_PLAN_FAULTS).map(|f| f.span()),
                ..Invalid::new(
                    &format!("faults.plan[{}]", limits::MAX_PLAN_FAULTS),
                    format!(
                        "{} explicit faults; at most {} (see scenarios::limits)",
                        faults.plan.len(),
                        limits::MAX_PLAN_FAULTS
                    ),
                )
            });
        }
        for (i, fault) in faults.plan.iter().enumerate() {
            for bound in fault.get_ref().action.behaviour().bounds() {
                let path = format!("faults.plan[{i}].{}", bound.field);
                bounded(&path, bound.value, bound.min, bound.max)?;
            }
        }
        Ok(())
    }

    /// The mix's count, weights, durations, message kinds and targets.
    fn validate_mix(&self, mix: &FaultMix) -> Result<(), Invalid> {
        bounded("faults.mix.count", mix.count, 0, limits::MAX_MIX_COUNT)?;
        for &kind in sim::MixKind::ALL {
            bounded(
                &format!("faults.mix.{}", kind.name()),
                mix.weight(kind),
                0,
                limits::MAX_MIX_WEIGHT,
            )?;
        }
        bounded(
            "faults.mix.max_outage_ms",
            mix.max_outage_ms,
            0,
            limits::MAX_OUTAGE_MS,
        )?;
        if mix.min_outage_ms > mix.max_outage_ms {
            return Err(Invalid::new(
                "faults.mix.min_outage_ms",
                format!("must not exceed max_outage_ms ({})", mix.max_outage_ms),
            ));
        }
        bounded(
            "faults.mix.max_messages",
            mix.max_messages,
            0,
            limits::MAX_MESSAGES_PER_FAULT,
        )?;
        bounded(
            "faults.mix.max_delay_ms",
            mix.max_delay_ms,
            0,
            limits::MAX_DELAY_MS,
        )?;
        if let Some(kinds) = &mix.message {
            validate_mix_messages(kinds)?;
        }
        if let Some(list) = &mix.targets {
            validate_mix_targets(list, &self.crash_targets())?;
        }
        Ok(())
    }

    /// Group members and streams tasks keep sending while the run lasts: bound the estimate.
    fn validate_background(&self) -> Result<(), Invalid> {
        let crate::app::BackgroundLoad { members, tasks } = self.app.background_load(self);
        if members == 0 && tasks == 0 {
            return Ok(());
        }
        let (phase, heal) = (self.faults.phase_ms, self.faults.heal_deadline_ms);
        let seconds = (phase + heal).div_ceil(1_000);
        let estimate = seconds
            * (members * limits::BACKGROUND_MSGS_PER_MEMBER_S
                + tasks * limits::BACKGROUND_MSGS_PER_STREAMS_TASK_S);
        if estimate > limits::MAX_BACKGROUND_MESSAGES {
            let field = if heal >= phase {
                "faults.heal_deadline_ms"
            } else {
                "faults.phase_ms"
            };
            return Err(Invalid::new(
                field,
                format!(
                    "too long for this many group members ({members}) and streams tasks \
                     ({tasks}): phase_ms + heal_deadline_ms = {} ms of heartbeats and fetches \
                     is about {estimate} messages, more than {} (see \
                     scenarios::limits::MAX_BACKGROUND_MESSAGES); shorten the fault phase or \
                     the heal deadline, or use fewer instances or partitions",
                    phase + heal,
                    limits::MAX_BACKGROUND_MESSAGES
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn validate(&self) -> Result<(), Invalid> {
        self.validate_header()?;
        self.validate_cluster()?;
        self.app.validate(self)?;
        self.validate_total_partitions()?;
        self.validate_network()?;
        self.validate_faults()?;
        self.validate_background()?;
        self.validate_plan_lifecycles()?;
        for key in self.expect.keys() {
            if let Err(m) = RunKey::parse(key) {
                return Err(Invalid {
                    path: FieldPath::parse("expect").key(key),
                    message: m,
                    span: None,
                });
            }
        }
        self.validate_reference()
    }

    /// A reference names known guarantees with ratios in (0, 10].
    fn validate_reference(&self) -> Result<(), Invalid> {
        let Some(reference) = &self.reference else {
            return Ok(());
        };
        for (name, &ratio) in &reference.throughput_ratios {
            let path = FieldPath::parse("reference.throughput_ratios").key(name);
            let invalid = |message: String| Invalid {
                path: path.clone(),
                message,
                span: None,
            };
            if Guarantee::from_name(name).is_none() {
                let known: Vec<_> = Guarantee::ALL.iter().map(|g| g.name()).collect();
                return Err(invalid(format!(
                    "unknown guarantee {name:?} (known: {})",
                    known.join(", ")
                )));
            }
            if !(ratio > 0.0 && ratio <= 10.0) {
                return Err(invalid(format!("must be in (0, 10] (is {ratio})")));
            }
        }
        Ok(())
    }

    /// Name and description.
    fn validate_header(&self) -> Result<(), Invalid> {
        if self.name.trim().is_empty() {
            return Err(Invalid::new("name", "must not be empty"));
        }
        if self.name.chars().count() > limits::MAX_NAME_CHARS {
            return Err(Invalid::new(
                "name",
                format!("at most {} characters", limits::MAX_NAME_CHARS),
            ));
        }
        if self.description.chars().count() > limits::MAX_DESCRIPTION_CHARS {
            return Err(Invalid::new(
                "description",
                format!("at most {} characters", limits::MAX_DESCRIPTION_CHARS),
            ));
        }
        Ok(())
    }

    /// Every partition of the cluster's topics and the app's own, in all.
    fn validate_total_partitions(&self) -> Result<(), Invalid> {
        let topics = self.cluster_with_app_topics().topics;
        let partitions: u64 = topics.iter().map(|t| u64::from(t.partitions)).sum();
        if partitions <= limits::MAX_TOTAL_PARTITIONS {
            return Ok(());
        }
        let own: Vec<String> = topics
            .into_iter()
            .skip(self.cluster.topics.len())
            .map(|t| t.name)
            .collect();
        let with = if own.is_empty() {
            String::new()
        } else {
            format!(" with the app's own topics ({})", own.join(", "))
        };
        Err(Invalid::new(
            "cluster.topics",
            format!(
                "{partitions} partitions in all{with}; at most {}",
                limits::MAX_TOTAL_PARTITIONS
            ),
        ))
    }

    /// The explicit plan restarts only what crashed, names known nodes and kinds.
    fn validate_plan_lifecycles(&self) -> Result<(), Invalid> {
        let plan = sim::FaultPlan(self.explicit_plan());
        validate_plan_nodes(
            &plan,
            &self.crash_targets(),
            &self.node_names(),
            self.faults.phase_ms,
        )
        .map_err(|e| Invalid {
            span: self.faults.plan.get(e.index).map(|s| s.span()),
            ..Invalid::new(
                &format!("faults.plan[{}]", e.index),
                format!("impossible fault ({}): {}", e.what, e.reason),
            )
        })
    }
}

/// The mix's message kinds: a bounded list of known kinds.
fn validate_mix_messages(kinds: &sim::MessageKinds) -> Result<(), Invalid> {
    if kinds.0.len() > limits::MAX_LIST_ENTRIES {
        return Err(Invalid::new(
            "faults.mix.message",
            format!(
                "{} kinds listed; at most {}",
                kinds.0.len(),
                limits::MAX_LIST_ENTRIES
            ),
        ));
    }
    if let Some((i, bad)) = kinds
        .0
        .iter()
        .enumerate()
        .find(|(_, k)| !MESSAGE_KINDS.contains(&k.as_str()))
    {
        // A single kind is a string, a list names the entry.
        let path = if kinds.0.len() == 1 {
            "faults.mix.message".to_string()
        } else {
            format!("faults.mix.message[{i}]")
        };
        return Err(Invalid::new(
            &path,
            format!(
                "unknown message kind {bad:?} (known: {})",
                MESSAGE_KINDS.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The mix's targets: a bounded list of nodes that can be crashed.
fn validate_mix_targets(list: &[String], targets: &[String]) -> Result<(), Invalid> {
    if list.len() > limits::MAX_LIST_ENTRIES {
        return Err(Invalid::new(
            "faults.mix.targets",
            format!(
                "{} targets listed; at most {}",
                list.len(),
                limits::MAX_LIST_ENTRIES
            ),
        ));
    }
    if let Some((i, unknown)) = list.iter().enumerate().find(|(_, t)| !targets.contains(t)) {
        return Err(Invalid::new(
            &format!("faults.mix.targets[{i}]"),
            format!(
                "{unknown:?} cannot be crashed or paused (nodes that can: {})",
                targets.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Says what `[app]` takes where serde's words for an enum table would puzzle: a missing app
/// and several apps. Other messages as they are.
fn app_table_message(path: &FieldPath, message: &str) -> String {
    let names = AppSpec::BUILTIN_NAMES.join(", ");
    if message == "missing field `app`" {
        return format!(
            "missing field `app`: a scenario runs one app, [app.<name>] with <name> one of {names}"
        );
    }
    let is_app = path.to_string() == "app";
    if is_app && message.contains("wanted exactly 1 element") {
        return format!("exactly one app table, [app.<name>] with <name> one of {names}");
    }
    message.to_string()
}

/// A consumer group member's session must outlast its heartbeat interval (the member asserts
/// it), and is bounded like every duration.
pub(crate) fn validate_session(path: &str, session_timeout_ms: u64) -> Result<(), Invalid> {
    let heartbeat = model::client::GroupConfig::new("").heartbeat_interval_ms;
    if session_timeout_ms <= heartbeat {
        return Err(Invalid::new(
            path,
            format!(
                "must exceed the members' heartbeat interval of {heartbeat} ms (is \
                 {session_timeout_ms})"
            ),
        ));
    }
    bounded(
        path,
        session_timeout_ms,
        heartbeat + 1,
        limits::MAX_SESSION_TIMEOUT_MS,
    )
}

/// Validates node lifecycles against the crash targets and message filters against all nodes.
fn validate_plan_nodes(
    plan: &sim::FaultPlan,
    crash_targets: &[String],
    all_nodes: &[String],
    phase_ms: u64,
) -> Result<(), sim::PlanError> {
    let nodes = sim::PlanNodes {
        faultable: crash_targets,
        all: all_nodes,
    };
    sim::FaultPlan::validate_faults(&plan.0, nodes, phase_ms)?;
    for (index, fault) in plan.0.iter().enumerate() {
        if let Some(reason) = fault.action.behaviour().point().and_then(point_refusal) {
            return Err(sim::PlanError {
                index,
                what: fault.action.to_string(),
                reason,
            });
        }
        let message = fault
            .action
            .message_filter()
            .and_then(|filter| filter.message.as_deref());
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
    }
    Ok(())
}

/// Why a point fault's point or action is impossible: an unknown point, or a decision the
/// point does not offer.
fn point_refusal((name, then): (&str, sim::PointAction)) -> Option<String> {
    let Some(point) = FaultPoint::from_name(name) else {
        let known: Vec<&str> = FaultPoint::ALL.iter().map(|p| p.name()).collect();
        return Some(format!(
            "unknown fault point {name:?} (known: {})",
            known.join(", ")
        ));
    };
    (!point.allows(then)).then(|| {
        format!(
            "{name} offers no `{}` decision (only crash and pause{})",
            then.name(),
            point
                .decisions()
                .iter()
                .map(|d| format!(", {}", d.name()))
                .collect::<String>()
        )
    })
}

/// The message kinds a fault may name (the model's request and response labels).
pub use model::protocol::MESSAGE_KINDS;

/// The fault points a point fault may wait for (the model declares them).
pub use model::fault_point::FaultPoint;

/// The node that writes the copy application's input.
pub const LOADER: &str = "loader";

/// The node that reads every partition after healing.
pub const VERIFIER: &str = "verifier";
