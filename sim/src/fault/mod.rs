//! Fault plans: explicit, serialisable lists of timed faults, and random mixes that expand
//! into such lists from the seed, so every plan can be printed, edited, replayed and shrunk.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::net::{Direction, MessageRule, RuleAction};
use crate::node::{NodeId, Sim};
use crate::trace::{self, TraceKind};

/// Which messages a targeted fault applies to. Every field is optional: absent means any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageFilter {
    /// Sending node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Receiving node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Message kind, as the model labels it (e.g. "produce").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultAction {
    /// Kill every task of the node (unsynced writes may be lost).
    Crash {
        node: String,
    },
    /// Restart a crashed node on its durable state.
    Restart {
        node: String,
    },
    /// Freeze a node: it becomes a zombie acting on stale beliefs when resumed.
    Pause {
        node: String,
    },
    Resume {
        node: String,
    },
    /// Ask a node to shut down cleanly (SIGTERM); it is killed if it has not finished after
    /// `grace_ms` (default 5,000). Restart it like a crashed node.
    Stop {
        node: String,
        #[serde(default = "default_stop_grace_ms")]
        grace_ms: u64,
    },
    /// Cut all links between the two groups, both ways.
    Partition {
        a: Vec<String>,
        b: Vec<String>,
    },
    /// Restore every cut link.
    HealPartition,
    /// Drop the next `count` matching requests before they reach the server.
    DropRequests {
        #[serde(flatten)]
        filter: MessageFilter,
        count: u32,
    },
    /// Lost ack: drop the next `count` matching responses, after their request took effect.
    LoseAcks {
        #[serde(flatten)]
        filter: MessageFilter,
        count: u32,
    },
    /// Deliver the next `count` matching requests twice.
    DuplicateRequests {
        #[serde(flatten)]
        filter: MessageFilter,
        count: u32,
    },
    /// Deliver the next `count` matching responses twice (duplicate ack).
    DuplicateResponses {
        #[serde(flatten)]
        filter: MessageFilter,
        count: u32,
    },
    /// Hold the next `count` matching messages and release them `extra_ms` late (after the
    /// sender timed out and retried).
    Delay {
        #[serde(flatten)]
        filter: MessageFilter,
        direction: Direction,
        extra_ms: u64,
        count: u32,
    },
}

fn default_stop_grace_ms() -> u64 {
    crate::node::STOP_GRACE_MS
}

/// A fault at a virtual time of the fault phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Milliseconds since the start of the run.
    pub at_ms: u64,
    #[serde(flatten)]
    pub action: FaultAction,
}

/// An explicit fault plan, in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultPlan(pub Vec<Fault>);

/// Why a plan cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("fault {index} ({what}): {reason}")]
pub struct PlanError {
    /// Position in the plan (0-based).
    pub index: usize,
    pub what: String,
    pub reason: String,
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let filter = |f: &mut fmt::Formatter<'_>, m: &MessageFilter| {
            write!(
                f,
                "{} {}->{}",
                m.message.as_deref().unwrap_or("any"),
                m.from.as_deref().unwrap_or("*"),
                m.to.as_deref().unwrap_or("*")
            )
        };
        match self {
            FaultAction::Crash { node } => write!(f, "crash {node}"),
            FaultAction::Restart { node } => write!(f, "restart {node}"),
            FaultAction::Pause { node } => write!(f, "pause {node}"),
            FaultAction::Resume { node } => write!(f, "resume {node}"),
            FaultAction::Stop { node, .. } => write!(f, "stop {node}"),
            FaultAction::Partition { a, b } => write!(f, "partition {a:?} | {b:?}"),
            FaultAction::HealPartition => write!(f, "heal partition"),
            FaultAction::DropRequests { filter: m, count } => {
                write!(f, "drop {count} request(s) ")?;
                filter(f, m)
            }
            FaultAction::LoseAcks { filter: m, count } => {
                write!(f, "lose {count} ack(s) ")?;
                filter(f, m)
            }
            FaultAction::DuplicateRequests { filter: m, count } => {
                write!(f, "duplicate {count} request(s) ")?;
                filter(f, m)
            }
            FaultAction::DuplicateResponses { filter: m, count } => {
                write!(f, "duplicate {count} response(s) ")?;
                filter(f, m)
            }
            FaultAction::Delay {
                filter: m,
                direction,
                extra_ms,
                count,
            } => {
                write!(f, "hold {count} {direction:?}(s) +{extra_ms} ms ")?;
                filter(f, m)
            }
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{} ms {}", self.at_ms, self.action)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Life {
    Running,
    Crashed,
    Paused,
    /// Asked to stop (it may still be shutting down).
    Stopped,
}

/// The nodes a plan may name: `faultable` ones may crash, pause or stop; message filters
/// and partitions may name any of `all` (clients too).
#[derive(Clone, Copy, Debug)]
pub struct PlanNodes<'a> {
    pub faultable: &'a [String],
    pub all: &'a [String],
}

impl<'a> PlanNodes<'a> {
    /// The same nodes for both.
    pub fn only(nodes: &'a [String]) -> Self {
        Self {
            faultable: nodes,
            all: nodes,
        }
    }
}

impl FaultPlan {
    /// Checks that the plan is possible: known nodes, times in order and within the fault
    /// phase, preconditions respected (restart only what crashed, resume only what paused,
    /// crash or pause only what runs), positive counts. `nodes` lists the faultable nodes,
    /// which are also the only ones message filters and partitions may name.
    pub fn validate(&self, nodes: &[String], fault_phase_ms: u64) -> Result<(), PlanError> {
        Self::validate_faults(&self.0, PlanNodes::only(nodes), fault_phase_ms)
    }

    /// `validate` for faults not (yet) in a plan (callers that try many candidate plans need
    /// not clone one per try), with message filters and partitions over every node.
    pub fn validate_faults(
        faults: &[Fault],
        plan_nodes: PlanNodes<'_>,
        fault_phase_ms: u64,
    ) -> Result<(), PlanError> {
        let PlanNodes {
            faultable,
            all: nodes,
        } = plan_nodes;
        let mut life: BTreeMap<&str, Life> = faultable
            .iter()
            .map(|n| (n.as_str(), Life::Running))
            .collect();
        let mut last_at = 0;
        for (index, fault) in faults.iter().enumerate() {
            let err = |reason: String| PlanError {
                index,
                what: fault.action.to_string(),
                reason,
            };
            if fault.at_ms < last_at {
                return Err(err(format!(
                    "at_ms {} is before the previous fault's {last_at}",
                    fault.at_ms
                )));
            }
            if fault.at_ms > fault_phase_ms {
                return Err(err(format!(
                    "at_ms {} is after the fault phase ends ({fault_phase_ms} ms)",
                    fault.at_ms
                )));
            }
            last_at = fault.at_ms;
            let mut node_in =
                |name: &str, allowed: &[Life], next: Life, verb: &str| -> Result<(), PlanError> {
                    let state = life.get_mut(name).ok_or_else(|| {
                        err(if nodes.iter().any(|n| n == name) {
                            format!(
                                "{name:?} cannot crash, pause or stop (the nodes that can: {})",
                                faultable.join(", ")
                            )
                        } else {
                            format!("unknown node {name:?} (nodes: {})", nodes.join(", "))
                        })
                    })?;
                    if !allowed.contains(state) {
                        let now = match state {
                            Life::Running => "running",
                            Life::Crashed => "crashed",
                            Life::Paused => "paused",
                            Life::Stopped => "stopped",
                        };
                        return Err(err(format!(
                            "cannot {verb} {name}: it is {now} at that time"
                        )));
                    }
                    *state = next;
                    Ok(())
                };
            match &fault.action {
                FaultAction::Crash { node } => {
                    node_in(node, &[Life::Running, Life::Paused], Life::Crashed, "crash")?
                }
                FaultAction::Restart { node } => node_in(
                    node,
                    &[Life::Crashed, Life::Stopped],
                    Life::Running,
                    "restart",
                )?,
                FaultAction::Stop { node, .. } => {
                    node_in(node, &[Life::Running], Life::Stopped, "stop")?
                }
                FaultAction::Pause { node } => {
                    node_in(node, &[Life::Running], Life::Paused, "pause")?
                }
                FaultAction::Resume { node } => {
                    node_in(node, &[Life::Paused], Life::Running, "resume")?
                }
                FaultAction::Partition { a, b } => {
                    for name in a.iter().chain(b) {
                        if !nodes.contains(name) {
                            return Err(err(format!(
                                "unknown node {name:?} (nodes: {})",
                                nodes.join(", ")
                            )));
                        }
                    }
                    if a.is_empty() || b.is_empty() {
                        return Err(err("both sides of a partition need a node".into()));
                    }
                }
                FaultAction::HealPartition => {}
                FaultAction::DropRequests { filter, count }
                | FaultAction::LoseAcks { filter, count }
                | FaultAction::DuplicateRequests { filter, count }
                | FaultAction::DuplicateResponses { filter, count }
                | FaultAction::Delay { filter, count, .. } => {
                    if *count == 0 {
                        return Err(err("count must be at least 1".into()));
                    }
                    for name in filter.from.iter().chain(&filter.to) {
                        if !nodes.contains(name) && name != "supervisor" {
                            return Err(err(format!(
                                "unknown node {name:?} (nodes: {})",
                                nodes.join(", ")
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs the plan on the supervisor: each fault at its time. Returns when the last fault
    /// has been applied. The plan must have been validated.
    pub async fn execute(self, sim: Sim) {
        for (index, fault) in self.0.into_iter().enumerate() {
            let now_ms = crate::now_ms();
            if fault.at_ms > now_ms {
                madsim::time::sleep(Duration::from_millis(fault.at_ms - now_ms)).await;
            }
            tracing::info!(index, fault = %fault.action, "fault");
            trace::record(
                crate::node::SUPERVISOR,
                TraceKind::Fault {
                    index: index as u32,
                    description: fault.action.to_string(),
                },
            );
            apply(&sim, &fault.action);
            if fault.action.is_targeted() {
                // Its rule counts the messages it takes (`coverage`).
                sim.tag_new_rule(index as u32);
            }
        }
    }
}

impl FaultAction {
    /// Its `kind` as a plan names it (the serde tag), without serialising it.
    pub fn kind(&self) -> &'static str {
        match self {
            FaultAction::Crash { .. } => "crash",
            FaultAction::Restart { .. } => "restart",
            FaultAction::Pause { .. } => "pause",
            FaultAction::Resume { .. } => "resume",
            FaultAction::Stop { .. } => "stop",
            FaultAction::Partition { .. } => "partition",
            FaultAction::HealPartition => "heal-partition",
            FaultAction::DropRequests { .. } => "drop-requests",
            FaultAction::LoseAcks { .. } => "lose-acks",
            FaultAction::DuplicateRequests { .. } => "duplicate-requests",
            FaultAction::DuplicateResponses { .. } => "duplicate-responses",
            FaultAction::Delay { .. } => "delay",
        }
    }

    /// Whether it is a targeted message fault (a rule that takes the next matching messages).
    pub fn is_targeted(&self) -> bool {
        matches!(
            self,
            FaultAction::DropRequests { .. }
                | FaultAction::LoseAcks { .. }
                | FaultAction::DuplicateRequests { .. }
                | FaultAction::DuplicateResponses { .. }
                | FaultAction::Delay { .. }
        )
    }

    /// How many messages a targeted fault asks for (0 for the others).
    pub fn message_count(&self) -> u32 {
        match self {
            FaultAction::DropRequests { count, .. }
            | FaultAction::LoseAcks { count, .. }
            | FaultAction::DuplicateRequests { count, .. }
            | FaultAction::DuplicateResponses { count, .. }
            | FaultAction::Delay { count, .. } => *count,
            _ => 0,
        }
    }
}

fn resolve(sim: &Sim, name: &str) -> NodeId {
    sim.node_id(name)
        .unwrap_or_else(|| panic!("fault names unknown node {name:?}"))
}

fn rule(
    sim: &Sim,
    filter: &MessageFilter,
    direction: Direction,
    action: RuleAction,
    count: u32,
) -> MessageRule {
    MessageRule {
        direction,
        from: filter.from.as_deref().map(|n| resolve(sim, n)),
        to: filter.to.as_deref().map(|n| resolve(sim, n)),
        label: filter.message.clone(),
        action,
        remaining: count,
        fault: None,
    }
}

/// Applies one fault now.
pub fn apply(sim: &Sim, action: &FaultAction) {
    match action {
        FaultAction::Crash { node } => sim.crash(resolve(sim, node)),
        FaultAction::Restart { node } => sim.restart(resolve(sim, node)),
        FaultAction::Pause { node } => sim.pause(resolve(sim, node)),
        FaultAction::Resume { node } => sim.resume(resolve(sim, node)),
        FaultAction::Stop { node, grace_ms } => sim.stop(resolve(sim, node), *grace_ms),
        FaultAction::Partition { a, b } => {
            let a: Vec<_> = a.iter().map(|n| resolve(sim, n)).collect();
            let b: Vec<_> = b.iter().map(|n| resolve(sim, n)).collect();
            sim.partition(&a, &b);
        }
        FaultAction::HealPartition => sim.heal_partitions(),
        FaultAction::DropRequests { filter, count } => sim.add_rule(rule(
            sim,
            filter,
            Direction::Request,
            RuleAction::Drop,
            *count,
        )),
        FaultAction::LoseAcks { filter, count } => sim.add_rule(rule(
            sim,
            filter,
            Direction::Response,
            RuleAction::Drop,
            *count,
        )),
        FaultAction::DuplicateRequests { filter, count } => sim.add_rule(rule(
            sim,
            filter,
            Direction::Request,
            RuleAction::Duplicate,
            *count,
        )),
        FaultAction::DuplicateResponses { filter, count } => sim.add_rule(rule(
            sim,
            filter,
            Direction::Response,
            RuleAction::Duplicate,
            *count,
        )),
        FaultAction::Delay {
            filter,
            direction,
            extra_ms,
            count,
        } => sim.add_rule(rule(
            sim,
            filter,
            *direction,
            RuleAction::Delay {
                extra_ms: *extra_ms,
            },
            *count,
        )),
    }
}

/// A random fault mix: how many faults of which kinds, expanded from the seed into an
/// explicit plan. Weights are relative; a kind with weight 0 never occurs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultMix {
    /// Number of faults to draw (default 8). A crash or pause counts once; its restart or
    /// resume follows automatically.
    pub count: u32,
    /// Weight of crash + restart of a node in `crash_targets` (default 1).
    pub crash: u32,
    /// Weight of pause + resume (default 0).
    pub pause: u32,
    /// Weight of a clean stop (SIGTERM) + restart of a node in `crash_targets` (default 0).
    /// A node whose application ignores stop requests is killed after the grace period.
    pub stop: u32,
    /// Weight of dropped requests (default 1).
    pub drop_requests: u32,
    /// Weight of lost acks (default 3).
    pub lose_acks: u32,
    /// Weight of duplicated requests (default 1).
    pub duplicate_requests: u32,
    /// Weight of duplicated responses (default 1).
    pub duplicate_responses: u32,
    /// Weight of held-and-released-late messages (default 1).
    pub delay: u32,
    /// Longest crash or pause, ms (default 2000).
    pub max_outage_ms: u64,
    /// Shortest crash or pause, ms (default 1). A pause longer than a group's session
    /// timeout makes a zombie: the group moves on while the paused instance sleeps.
    pub min_outage_ms: u64,
    /// Restrict crashes and pauses to these nodes (default: every crash target).
    pub targets: Option<Vec<String>>,
    /// Largest `count` of one message fault (default 3).
    pub max_messages: u32,
    /// Largest extra delay of a held message, ms (default 3000).
    pub max_delay_ms: u64,
    /// Restrict message faults to this message kind, or to these kinds (one drawn per
    /// fault), e.g. `message = "produce"` or `message = ["end-txn", "produce"]` (default: any).
    pub message: Option<MessageKinds>,
    /// Swarm testing (Groce et al., ISSTA 2012; default false): each seed first draws which
    /// fault kinds, which message kinds and which nodes are enabled, each with probability
    /// 1/2 (at least one of each), then expands the mix over what it drew. An enabled kind
    /// keeps its weight (at least 1: swarm reaches kinds the mix leaves at 0). Seeds thereby
    /// concentrate on a few kinds of trouble each, which finds bugs a uniform mix dilutes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub swarm: bool,
}

/// Declares the kinds of fault a mix draws once: each variant with its weight field in
/// `FaultMix` (whose name is the kind's name in `[faults.mix]` and in swarm reports), in draw
/// order. `MixKind::ALL`, `name`, `FaultMix::weight` and `weight_mut` derive from the list.
macro_rules! mix_kinds {
    ($($(#[$doc:meta])* $kind:ident => $field:ident,)*) => {
        /// The kinds of fault a mix draws, in the order their weights are laid out for the
        /// draw (the order is part of every seed's plan: a new kind goes last).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
        pub enum MixKind {
            $($(#[$doc])* $kind,)*
        }

        impl MixKind {
            /// Every kind, in draw order.
            pub const ALL: &'static [MixKind] = &[$(MixKind::$kind,)*];

            /// The name of its weight in `[faults.mix]` (and in swarm reports).
            pub fn name(self) -> &'static str {
                match self {
                    $(MixKind::$kind => stringify!($field),)*
                }
            }
        }

        impl FaultMix {
            /// The weight of one kind of fault.
            pub fn weight(&self, kind: MixKind) -> u32 {
                match kind {
                    $(MixKind::$kind => self.$field,)*
                }
            }

            fn weight_mut(&mut self, kind: MixKind) -> &mut u32 {
                match kind {
                    $(MixKind::$kind => &mut self.$field,)*
                }
            }
        }
    };
}

mix_kinds! {
    /// Crash a crash target, restart it later.
    Crash => crash,
    /// Pause a crash target, resume it later.
    Pause => pause,
    DropRequests => drop_requests,
    LoseAcks => lose_acks,
    DuplicateRequests => duplicate_requests,
    DuplicateResponses => duplicate_responses,
    Delay => delay,
    /// Stop a crash target cleanly, restart it later (drawn last: mixes from before stops
    /// existed expand as they did).
    Stop => stop,
}

impl MixKind {
    /// A node outage (a crash, pause or stop, undone later), rather than a message fault.
    fn is_outage(self) -> bool {
        matches!(self, MixKind::Crash | MixKind::Pause | MixKind::Stop)
    }
}

/// Who a mix's faults may aim at: servers (requests to them, responses from them), clients
/// (requests from them, responses to them), and the nodes that may crash, pause or stop.
#[derive(Clone, Copy, Debug)]
pub struct MixTargets<'a> {
    pub crash: &'a [String],
    pub servers: &'a [String],
    pub clients: &'a [String],
}

/// What a swarm mix enabled for one seed: shown in the run's report, so a plan is explained
/// and can be reproduced by hand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SwarmDraw {
    /// Enabled fault kinds (mix weight names).
    pub faults: Vec<&'static str>,
    /// Message kinds message faults may target.
    pub messages: Vec<String>,
    /// Nodes message faults may aim at (servers and clients).
    pub nodes: Vec<String>,
    /// Nodes that may crash, pause or stop.
    pub crash_targets: Vec<String>,
}

impl fmt::Display for SwarmDraw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "faults [{}] messages [{}] nodes [{}] crash targets [{}]",
            self.faults.join(", "),
            self.messages.join(", "),
            self.nodes.join(", "),
            self.crash_targets.join(", ")
        )
    }
}

/// Each item with probability 1/2, at least one (drawn uniformly) if the list has any.
/// How many kinds (the first of `MixKind::ALL`) a swarm draw takes as one subset, as it did
/// when swarm testing came; a kind declared after them is drawn last (`swarm_draw`).
const SWARM_KINDS_DRAWN_FIRST: usize = 8;
const _: () = assert!(MixKind::ALL.len() >= SWARM_KINDS_DRAWN_FIRST);

fn swarm_subset<T: Clone>(rng: &mut impl Rng, items: &[T]) -> Vec<T> {
    let mut chosen: Vec<T> = items
        .iter()
        .filter(|_| rng.gen_bool(0.5))
        .cloned()
        .collect();
    if chosen.is_empty()
        && let Some(one) = items.choose(rng)
    {
        chosen.push(one.clone());
    }
    chosen
}

/// The message kinds a mix's message faults may target: one (`"produce"`) or several
/// (`["end-txn", "produce"]`), never none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageKinds(pub Vec<String>);

impl MessageKinds {
    pub fn one(kind: &str) -> Self {
        Self(vec![kind.to_string()])
    }

    /// The kind of one fault: the only one, or one drawn from `rng` (no draw for a single
    /// kind, so a one-kind mix expands as it did when it took only one).
    fn draw(&self, rng: &mut impl Rng) -> String {
        match self.0.as_slice() {
            [one] => one.clone(),
            many => many.choose(rng).expect("never empty").clone(),
        }
    }
}

impl Serialize for MessageKinds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for MessageKinds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Kinds;
        impl<'de> serde::de::Visitor<'de> for Kinds {
            type Value = MessageKinds;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message kind or a non-empty list of message kinds")
            }

            fn visit_str<E: serde::de::Error>(self, kind: &str) -> Result<MessageKinds, E> {
                Ok(MessageKinds::one(kind))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<MessageKinds, A::Error> {
                let mut kinds = Vec::new();
                while let Some(kind) = seq.next_element::<String>()? {
                    kinds.push(kind);
                }
                if kinds.is_empty() {
                    return Err(serde::de::Error::custom(
                        "an empty list of message kinds (leave `message` out for any kind)",
                    ));
                }
                Ok(MessageKinds(kinds))
            }
        }
        deserializer.deserialize_any(Kinds)
    }
}

impl Default for FaultMix {
    fn default() -> Self {
        Self {
            count: 8,
            crash: 1,
            pause: 0,
            stop: 0,
            drop_requests: 1,
            lose_acks: 3,
            duplicate_requests: 1,
            duplicate_responses: 1,
            delay: 1,
            max_outage_ms: 2_000,
            min_outage_ms: 1,
            targets: None,
            max_messages: 3,
            max_delay_ms: 3_000,
            message: None,
            swarm: false,
        }
    }
}

impl FaultMix {
    /// A swarm mix's draw for one seed (from its own stream, `rng`): which fault kinds (every
    /// kind, weight 0 included), which of `message_kinds` (within `message`, if the mix
    /// restricts it), which message-fault nodes and which crash targets (within `targets`)
    /// are enabled.
    pub fn swarm_draw(
        &self,
        rng: &mut impl Rng,
        message_kinds: &[String],
        targets: MixTargets<'_>,
    ) -> SwarmDraw {
        let kinds: Vec<&'static str> = MixKind::ALL.iter().map(|k| k.name()).collect();
        let messages: Vec<String> = match &self.message {
            Some(MessageKinds(only)) => only.clone(),
            None => message_kinds.to_vec(),
        };
        let nodes: Vec<String> = targets
            .servers
            .iter()
            .chain(targets.clients)
            .cloned()
            .collect();
        let crash: Vec<String> = targets
            .crash
            .iter()
            .filter(|n| self.targets.as_ref().is_none_or(|t| t.contains(n)))
            .cloned()
            .collect();
        // Kinds declared since swarm testing came are drawn after everything else, each on
        // its own coin: appending a kind to `mix_kinds!` then changes no earlier draw, and
        // every swarm seed's plan stays what its replay command says.
        let (first, later) = kinds.split_at(SWARM_KINDS_DRAWN_FIRST);
        let mut draw = SwarmDraw {
            faults: swarm_subset(rng, first),
            messages: swarm_subset(rng, &messages),
            nodes: swarm_subset(rng, &nodes),
            crash_targets: swarm_subset(rng, &crash),
        };
        draw.faults
            .extend(later.iter().filter(|_| rng.gen_bool(0.5)).copied());
        draw
    }

    /// The plain mix a swarm draw stands for: enabled kinds at their weight (at least 1), the
    /// others at 0, message faults on the drawn kinds, outages on the drawn targets.
    pub fn narrowed_to(&self, draw: &SwarmDraw) -> FaultMix {
        let mut mix = self.clone();
        mix.swarm = false;
        for &kind in MixKind::ALL {
            let on = draw.faults.contains(&kind.name());
            *mix.weight_mut(kind) = if on { self.weight(kind).max(1) } else { 0 };
        }
        mix.message = (!draw.messages.is_empty()).then(|| MessageKinds(draw.messages.clone()));
        mix.targets = Some(draw.crash_targets.clone());
        mix
    }

    /// Draws an explicit plan over `[0, fault_phase_ms)`. Message faults aim at one node of
    /// `targets.servers` or `targets.clients` (requests to a server or from a client,
    /// responses from a server or to a client); outages at `targets.crash`. The result is
    /// valid: a node is never crashed twice without a restart between. (A swarm mix is
    /// narrowed with `swarm_draw` and `narrowed_to` first; `expand` ignores `swarm`.)
    pub fn expand(
        &self,
        rng: &mut impl Rng,
        fault_phase_ms: u64,
        targets: MixTargets<'_>,
    ) -> FaultPlan {
        let total: u32 = MixKind::ALL.iter().map(|&k| self.weight(k)).sum();
        let mut faults = Vec::new();
        // Nodes busy with an outage until this time (no overlapping crash/pause per node).
        let mut busy_until: BTreeMap<&str, u64> = BTreeMap::new();
        if total == 0 || fault_phase_ms == 0 {
            return FaultPlan(faults);
        }
        // A mix without clients draws its node among the servers alone, as it always did.
        let message_nodes: Vec<&String> = targets.servers.iter().chain(targets.clients).collect();
        for _ in 0..self.count {
            let at_ms = rng.gen_range(0..fault_phase_ms);
            let kind = self.draw_kind(rng, total);
            let node = message_nodes.choose(rng).map(|n| (*n).clone());
            let message = if kind.is_outage() {
                None
            } else {
                self.message.as_ref().map(|kinds| kinds.draw(rng))
            };
            let client = node.as_ref().is_some_and(|n| targets.clients.contains(n));
            // Requests travel towards a server (from a client); responses back.
            let (towards, back) = if client {
                (
                    MessageFilter {
                        from: node.clone(),
                        to: None,
                        message: message.clone(),
                    },
                    MessageFilter {
                        from: None,
                        to: node,
                        message,
                    },
                )
            } else {
                (
                    MessageFilter {
                        from: None,
                        to: node.clone(),
                        message: message.clone(),
                    },
                    MessageFilter {
                        from: node,
                        to: None,
                        message,
                    },
                )
            };
            let count = rng.gen_range(1..=self.max_messages.max(1));
            let action = match kind {
                MixKind::Crash | MixKind::Pause | MixKind::Stop => {
                    let Some((down, up, end)) = self.draw_outage(
                        rng,
                        kind,
                        at_ms,
                        fault_phase_ms,
                        targets.crash,
                        &mut busy_until,
                    ) else {
                        continue;
                    };
                    faults.push(Fault {
                        at_ms: end,
                        action: up,
                    });
                    down
                }
                MixKind::DropRequests => FaultAction::DropRequests {
                    filter: towards,
                    count,
                },
                MixKind::LoseAcks => FaultAction::LoseAcks {
                    filter: back,
                    count,
                },
                MixKind::DuplicateRequests => FaultAction::DuplicateRequests {
                    filter: towards,
                    count,
                },
                MixKind::DuplicateResponses => FaultAction::DuplicateResponses {
                    filter: back,
                    count,
                },
                MixKind::Delay => {
                    let (direction, filter) = if rng.gen_bool(0.5) {
                        (Direction::Request, towards)
                    } else {
                        (Direction::Response, back)
                    };
                    let extra_ms = rng.gen_range(1..=self.max_delay_ms.max(1));
                    FaultAction::Delay {
                        filter,
                        direction,
                        extra_ms,
                        count,
                    }
                }
            };
            faults.push(Fault { at_ms, action });
        }
        // Stable sort: a restart drawn at the same millisecond as its crash stays after it.
        faults.sort_by_key(|f| f.at_ms);
        FaultPlan(faults)
    }

    /// One kind, by weight (`total` is the sum of the weights).
    fn draw_kind(&self, rng: &mut impl Rng, total: u32) -> MixKind {
        let mut pick = rng.gen_range(0..total);
        for &kind in MixKind::ALL {
            let weight = self.weight(kind);
            if pick < weight {
                return kind;
            }
            pick -= weight;
        }
        unreachable!("weights sum to total")
    }

    /// An outage of one allowed, idle crash target: (the fault, the one that undoes it, when
    /// it is undone), or `None` if no target is free at `at_ms`.
    fn draw_outage<'t>(
        &self,
        rng: &mut impl Rng,
        kind: MixKind,
        at_ms: u64,
        fault_phase_ms: u64,
        crash_targets: &'t [String],
        busy_until: &mut BTreeMap<&'t str, u64>,
    ) -> Option<(FaultAction, FaultAction, u64)> {
        let allowed: Vec<&String> = crash_targets
            .iter()
            .filter(|n| self.targets.as_ref().is_none_or(|t| t.contains(n)))
            .collect();
        let node = *allowed.choose(rng)?;
        if busy_until.get(node.as_str()).is_some_and(|&t| t >= at_ms) {
            return None;
        }
        let shortest = self.min_outage_ms.max(1);
        let outage = rng.gen_range(shortest..=self.max_outage_ms.max(shortest));
        let end = (at_ms + outage).min(fault_phase_ms);
        busy_until.insert(node, end);
        let node = node.clone();
        let (down, up) = match kind {
            MixKind::Crash => (
                FaultAction::Crash { node: node.clone() },
                FaultAction::Restart { node },
            ),
            MixKind::Stop => (
                FaultAction::Stop {
                    node: node.clone(),
                    grace_ms: crate::node::STOP_GRACE_MS,
                },
                FaultAction::Restart { node },
            ),
            MixKind::Pause => (
                FaultAction::Pause { node: node.clone() },
                FaultAction::Resume { node },
            ),
            other => unreachable!("{other:?} is not an outage"),
        };
        Some((down, up, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<String> {
        vec!["broker-1".into(), "broker-2".into()]
    }

    /// Every node may crash and serves; no clients.
    fn targets(nodes: &[String]) -> MixTargets<'_> {
        MixTargets {
            crash: nodes,
            servers: nodes,
            clients: &[],
        }
    }

    /// `kind` names each action as its serde tag does (one of each action).
    #[test]
    fn kind_is_the_serde_tag() {
        let filter = MessageFilter::default();
        let node = || "broker-1".to_string();
        let actions = [
            FaultAction::Crash { node: node() },
            FaultAction::Restart { node: node() },
            FaultAction::Pause { node: node() },
            FaultAction::Resume { node: node() },
            FaultAction::Stop {
                node: node(),
                grace_ms: 1,
            },
            FaultAction::Partition {
                a: vec![node()],
                b: vec![node()],
            },
            FaultAction::HealPartition,
            FaultAction::DropRequests {
                filter: filter.clone(),
                count: 1,
            },
            FaultAction::LoseAcks {
                filter: filter.clone(),
                count: 1,
            },
            FaultAction::DuplicateRequests {
                filter: filter.clone(),
                count: 1,
            },
            FaultAction::DuplicateResponses {
                filter: filter.clone(),
                count: 1,
            },
            FaultAction::Delay {
                filter,
                direction: Direction::Request,
                extra_ms: 1,
                count: 1,
            },
        ];
        for action in actions {
            let tag = serde_json::to_value(&action).unwrap()["kind"].clone();
            assert_eq!(tag, action.kind(), "{action:?}");
        }
    }

    #[test]
    fn restart_without_crash_is_rejected_with_reason() {
        let plan = FaultPlan(vec![Fault {
            at_ms: 5,
            action: FaultAction::Restart {
                node: "broker-1".into(),
            },
        }]);
        let err = plan.validate(&nodes(), 1000).unwrap_err();
        assert_eq!(err.index, 0);
        assert!(err.reason.contains("it is running"), "{err}");
    }

    #[test]
    fn unknown_node_and_late_fault_are_rejected() {
        let plan = FaultPlan(vec![Fault {
            at_ms: 5,
            action: FaultAction::Crash {
                node: "broker-9".into(),
            },
        }]);
        assert!(
            plan.validate(&nodes(), 1000)
                .unwrap_err()
                .reason
                .contains("unknown node")
        );
        let plan = FaultPlan(vec![Fault {
            at_ms: 5000,
            action: FaultAction::Crash {
                node: "broker-1".into(),
            },
        }]);
        assert!(
            plan.validate(&nodes(), 1000)
                .unwrap_err()
                .reason
                .contains("after the fault phase")
        );
    }

    #[test]
    fn double_crash_is_rejected_but_crash_restart_crash_is_fine() {
        let crash = |at_ms| Fault {
            at_ms,
            action: FaultAction::Crash {
                node: "broker-1".into(),
            },
        };
        let restart = |at_ms| Fault {
            at_ms,
            action: FaultAction::Restart {
                node: "broker-1".into(),
            },
        };
        assert!(
            FaultPlan(vec![crash(1), crash(2)])
                .validate(&nodes(), 100)
                .is_err()
        );
        assert!(
            FaultPlan(vec![crash(1), restart(2), crash(3)])
                .validate(&nodes(), 100)
                .is_ok()
        );
    }

    #[test]
    fn a_stopped_node_can_restart_but_not_stop_or_crash_again() {
        let at = |at_ms, action| Fault { at_ms, action };
        let node = || "broker-1".to_string();
        let stop = || FaultAction::Stop {
            node: node(),
            grace_ms: 100,
        };
        let ok = FaultPlan(vec![
            at(1, stop()),
            at(2, FaultAction::Restart { node: node() }),
            at(3, stop()),
        ]);
        assert!(ok.validate(&nodes(), 100).is_ok());
        let twice = FaultPlan(vec![at(1, stop()), at(2, stop())]);
        let err = twice.validate(&nodes(), 100).unwrap_err();
        assert!(
            err.reason.contains("cannot stop broker-1: it is stopped"),
            "{err}"
        );
        let crash = FaultPlan(vec![
            at(1, stop()),
            at(2, FaultAction::Crash { node: node() }),
        ]);
        assert!(crash.validate(&nodes(), 100).is_err());
    }

    #[test]
    fn a_stop_parses_with_a_default_grace_period() {
        let fault: Fault =
            toml::from_str("at_ms = 5\nkind = \"stop\"\nnode = \"broker-1\"").unwrap();
        assert_eq!(
            fault.action,
            FaultAction::Stop {
                node: "broker-1".into(),
                grace_ms: crate::node::STOP_GRACE_MS
            }
        );
    }

    #[test]
    fn a_mix_without_stops_draws_as_before_and_stops_come_with_restarts() {
        // (That existing mixes draw exactly as before stops existed is guarded by the
        // scenario snapshots, which pin their trace hashes.)
        let before = FaultMix::default().expand(
            &mut crate::rng::stream(3, "faults"),
            10_000,
            targets(&nodes()),
        );
        assert!(
            before
                .0
                .iter()
                .all(|f| !matches!(f.action, FaultAction::Stop { .. }))
        );
        let mix = FaultMix {
            count: 30,
            crash: 0,
            stop: 1,
            ..FaultMix::default()
        };
        let plan = mix.expand(
            &mut crate::rng::stream(3, "faults"),
            10_000,
            targets(&nodes()),
        );
        plan.validate(&nodes(), 10_000).unwrap();
        let stops = plan
            .0
            .iter()
            .filter(|f| matches!(f.action, FaultAction::Stop { .. }))
            .count();
        let restarts = plan
            .0
            .iter()
            .filter(|f| matches!(f.action, FaultAction::Restart { .. }))
            .count();
        assert!(stops > 0);
        assert_eq!(stops, restarts);
    }

    #[test]
    fn a_list_of_message_kinds_spreads_faults_over_them() {
        let mix = FaultMix {
            count: 60,
            crash: 0,
            message: Some(MessageKinds(vec!["end-txn".into(), "produce".into()])),
            ..FaultMix::default()
        };
        let plan = mix.expand(
            &mut crate::rng::stream(1, "faults"),
            10_000,
            targets(&nodes()),
        );
        let kinds: std::collections::BTreeSet<String> = plan
            .0
            .iter()
            .filter_map(|f| match &f.action {
                FaultAction::Delay { filter, .. }
                | FaultAction::LoseAcks { filter, .. }
                | FaultAction::DropRequests { filter, .. }
                | FaultAction::DuplicateRequests { filter, .. }
                | FaultAction::DuplicateResponses { filter, .. } => filter.message.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            vec!["end-txn", "produce"]
        );
    }

    #[test]
    fn expanded_mixes_are_valid_and_reproducible() {
        let mix = FaultMix {
            count: 40,
            pause: 1,
            ..FaultMix::default()
        };
        for seed in 0..200 {
            let plan = mix.expand(
                &mut crate::rng::stream(seed, "faults"),
                10_000,
                targets(&nodes()),
            );
            plan.validate(&nodes(), 10_000)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let again = mix.expand(
                &mut crate::rng::stream(seed, "faults"),
                10_000,
                targets(&nodes()),
            );
            assert_eq!(plan, again);
        }
    }

    fn every_message_kind() -> Vec<String> {
        ["produce", "fetch", "end-txn", "heartbeat"]
            .map(String::from)
            .to_vec()
    }

    /// The servers (every node may crash) and clients the swarm tests draw from.
    fn swarm_universe() -> (Vec<String>, Vec<String>) {
        (nodes(), vec!["client-1".to_string()])
    }

    /// The swarm draws of seeds 0..500, digested and pinned: a swarm seed's replay command
    /// must keep drawing the same plan, also when a kind is appended to `mix_kinds!` (drawn
    /// last, `SWARM_KINDS_DRAWN_FIRST`). A change of this digest is a change of every swarm
    /// seed: make it a decision.
    #[test]
    fn swarm_draws_are_pinned() {
        let (servers, clients) = swarm_universe();
        let targets = MixTargets {
            crash: &servers,
            servers: &servers,
            clients: &clients,
        };
        let mix = FaultMix {
            swarm: true,
            ..FaultMix::default()
        };
        let mut digest = String::new();
        for seed in 0..500 {
            let draw = mix.swarm_draw(
                &mut crate::rng::stream(seed, "swarm"),
                &every_message_kind(),
                targets,
            );
            digest.push_str(&format!("{draw:?};"));
        }
        let hash = xxhash_rust::xxh3::xxh3_64(digest.as_bytes());
        assert_eq!(format!("{hash:016x}"), "5cfd933ce45fa144");
    }

    /// Swarm draws: at least one of each list, only what the universe offers, the same for
    /// the same stream, and over many seeds every fault kind (weight 0 included) and every
    /// node, clients too, is drawn; the narrowed mix's plan uses only what was drawn.
    #[test]
    fn swarm_draws_subsets_and_the_narrowed_plan_stays_inside_them() {
        let (servers, clients) = swarm_universe();
        let targets = MixTargets {
            crash: &servers,
            servers: &servers,
            clients: &clients,
        };
        let mix = FaultMix {
            swarm: true,
            count: 20,
            ..FaultMix::default()
        };
        let mut seen_kinds = std::collections::BTreeSet::new();
        let mut seen_nodes = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let draw = mix.swarm_draw(
                &mut crate::rng::stream(seed, "swarm"),
                &every_message_kind(),
                targets,
            );
            let again = mix.swarm_draw(
                &mut crate::rng::stream(seed, "swarm"),
                &every_message_kind(),
                targets,
            );
            assert_eq!(draw, again);
            assert!(!draw.faults.is_empty() && !draw.messages.is_empty());
            assert!(!draw.nodes.is_empty() && !draw.crash_targets.is_empty());
            seen_kinds.extend(draw.faults.iter().copied());
            seen_nodes.extend(draw.nodes.iter().cloned());
            let narrowed = mix.narrowed_to(&draw);
            let drawn_servers: Vec<String> = servers
                .iter()
                .filter(|n| draw.nodes.contains(n))
                .cloned()
                .collect();
            let drawn_clients: Vec<String> = clients
                .iter()
                .filter(|n| draw.nodes.contains(n))
                .cloned()
                .collect();
            let plan = narrowed.expand(
                &mut crate::rng::stream(seed, "faults"),
                10_000,
                MixTargets {
                    crash: &servers,
                    servers: &drawn_servers,
                    clients: &drawn_clients,
                },
            );
            let every_node: Vec<String> = servers.iter().chain(&clients).cloned().collect();
            plan.validate(&every_node, 10_000).unwrap();
            for fault in &plan.0 {
                let (name, filter) = match &fault.action {
                    FaultAction::Crash { node }
                    | FaultAction::Pause { node }
                    | FaultAction::Stop { node, .. } => {
                        assert!(draw.crash_targets.contains(node), "{fault:?} {draw:?}");
                        continue;
                    }
                    FaultAction::Restart { .. } | FaultAction::Resume { .. } => continue,
                    FaultAction::DropRequests { filter, .. } => ("drop_requests", filter),
                    FaultAction::LoseAcks { filter, .. } => ("lose_acks", filter),
                    FaultAction::DuplicateRequests { filter, .. } => ("duplicate_requests", filter),
                    FaultAction::DuplicateResponses { filter, .. } => {
                        ("duplicate_responses", filter)
                    }
                    FaultAction::Delay { filter, .. } => ("delay", filter),
                    other => panic!("a mix never draws {other:?}"),
                };
                assert!(draw.faults.contains(&name), "{fault:?} {draw:?}");
                let message = filter
                    .message
                    .as_ref()
                    .expect("swarm names the message kind");
                assert!(draw.messages.contains(message), "{fault:?} {draw:?}");
                let node = filter
                    .to
                    .as_ref()
                    .or(filter.from.as_ref())
                    .expect("aimed at a node");
                assert!(draw.nodes.contains(node), "{fault:?} {draw:?}");
                if clients.contains(node) {
                    // Clients receive no requests and send no responses: a fault aimed at
                    // one takes its requests (from) or its responses (to).
                    let requests = matches!(name, "drop_requests" | "duplicate_requests")
                        || matches!(
                            &fault.action,
                            FaultAction::Delay {
                                direction: Direction::Request,
                                ..
                            }
                        );
                    assert_eq!(filter.from.is_some(), requests, "{fault:?}");
                }
            }
        }
        let all: std::collections::BTreeSet<&str> = MixKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(seen_kinds, all, "pause and stop (weight 0) are drawn too");
        assert!(seen_nodes.contains("client-1"));
    }

    /// Without clients (every mix but a swarm draw's) message faults aim at servers:
    /// requests to them, never from a node. (That such mixes expand exactly as before swarm
    /// existed is pinned by the snapshot tests' trace hashes.)
    #[test]
    fn without_clients_message_faults_aim_at_servers() {
        let servers = nodes();
        let plan = FaultMix::default().expand(
            &mut crate::rng::stream(5, "faults"),
            10_000,
            targets(&servers),
        );
        assert!(plan.0.iter().all(|f| match &f.action {
            FaultAction::DropRequests { filter, .. }
            | FaultAction::DuplicateRequests { filter, .. } => filter.from.is_none(),
            _ => true,
        }));
    }
}
