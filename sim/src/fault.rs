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

impl FaultPlan {
    /// Checks that the plan is possible: known nodes, times in order and within the fault
    /// phase, preconditions respected (restart only what crashed, resume only what paused,
    /// crash or pause only what runs), positive counts. `nodes` lists the faultable nodes.
    pub fn validate(&self, nodes: &[String], fault_phase_ms: u64) -> Result<(), PlanError> {
        Self::validate_faults(&self.0, nodes, fault_phase_ms)
    }

    /// `validate` for faults not (yet) in a plan: callers that try many candidate plans
    /// need not clone one per try.
    pub fn validate_faults(
        faults: &[Fault],
        nodes: &[String],
        fault_phase_ms: u64,
    ) -> Result<(), PlanError> {
        let mut life: BTreeMap<&str, Life> =
            nodes.iter().map(|n| (n.as_str(), Life::Running)).collect();
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
                        err(format!(
                            "unknown node {name:?} (nodes: {})",
                            nodes.join(", ")
                        ))
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
                            return Err(err(format!("unknown node {name:?}")));
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
                            return Err(err(format!("unknown node {name:?}")));
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
        }
    }
}

impl FaultMix {
    /// Draws an explicit plan over `[0, fault_phase_ms)`. `crash_targets` may crash or pause;
    /// `message_nodes` are the servers message faults aim at: requests *to* one of them, responses *from* one. The result is valid:
    /// a node is never crashed twice without a restart between.
    pub fn expand(
        &self,
        rng: &mut impl Rng,
        fault_phase_ms: u64,
        crash_targets: &[String],
        message_nodes: &[String],
    ) -> FaultPlan {
        // Stop comes last: a mix without stops draws exactly as it did before stops existed.
        let kinds: [(u32, u8); 8] = [
            (self.crash, 0),
            (self.pause, 1),
            (self.drop_requests, 2),
            (self.lose_acks, 3),
            (self.duplicate_requests, 4),
            (self.duplicate_responses, 5),
            (self.delay, 6),
            (self.stop, 7),
        ];
        let total: u32 = kinds.iter().map(|k| k.0).sum();
        let mut faults = Vec::new();
        // Nodes busy with an outage until this time (no overlapping crash/pause per node).
        let mut busy_until: BTreeMap<&str, u64> = BTreeMap::new();
        if total == 0 || fault_phase_ms == 0 {
            return FaultPlan(faults);
        }
        for _ in 0..self.count {
            let at_ms = rng.gen_range(0..fault_phase_ms);
            let mut pick = rng.gen_range(0..total);
            let kind = kinds
                .iter()
                .find(|(w, _)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .map(|k| k.1)
                .expect("weights sum to total");
            // Requests are aimed at the node (`to`), responses come from it (`from`).
            let node = message_nodes.choose(rng).cloned();
            let outage_kind = matches!(kind, 0 | 1 | 7);
            let message = if !outage_kind {
                self.message.as_ref().map(|kinds| kinds.draw(rng))
            } else {
                None
            };
            let towards = MessageFilter {
                from: None,
                to: node.clone(),
                message: message.clone(),
            };
            let back = MessageFilter {
                from: node,
                to: None,
                message,
            };
            let count = rng.gen_range(1..=self.max_messages.max(1));
            let action = match kind {
                0 | 1 | 7 => {
                    let allowed: Vec<&String> = crash_targets
                        .iter()
                        .filter(|n| self.targets.as_ref().is_none_or(|t| t.contains(n)))
                        .collect();
                    let Some(&node) = allowed.choose(rng) else {
                        continue;
                    };
                    if busy_until.get(node.as_str()).is_some_and(|&t| t >= at_ms) {
                        continue;
                    }
                    let shortest = self.min_outage_ms.max(1);
                    let outage = rng.gen_range(shortest..=self.max_outage_ms.max(shortest));
                    let end = (at_ms + outage).min(fault_phase_ms);
                    busy_until.insert(node, end);
                    let (down, up) = if kind == 0 {
                        (
                            FaultAction::Crash { node: node.clone() },
                            FaultAction::Restart { node: node.clone() },
                        )
                    } else if kind == 7 {
                        (
                            FaultAction::Stop {
                                node: node.clone(),
                                grace_ms: crate::node::STOP_GRACE_MS,
                            },
                            FaultAction::Restart { node: node.clone() },
                        )
                    } else {
                        (
                            FaultAction::Pause { node: node.clone() },
                            FaultAction::Resume { node: node.clone() },
                        )
                    };
                    faults.push(Fault {
                        at_ms: end,
                        action: up,
                    });
                    down
                }
                2 => FaultAction::DropRequests {
                    filter: towards,
                    count,
                },
                3 => FaultAction::LoseAcks {
                    filter: back,
                    count,
                },
                4 => FaultAction::DuplicateRequests {
                    filter: towards,
                    count,
                },
                5 => FaultAction::DuplicateResponses {
                    filter: back,
                    count,
                },
                _ => {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<String> {
        vec!["broker-1".into(), "broker-2".into()]
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
            &nodes(),
            &nodes(),
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
            &nodes(),
            &nodes(),
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
            &nodes(),
            &nodes(),
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
                &nodes(),
                &nodes(),
            );
            plan.validate(&nodes(), 10_000)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let again = mix.expand(
                &mut crate::rng::stream(seed, "faults"),
                10_000,
                &nodes(),
                &nodes(),
            );
            assert_eq!(plan, again);
        }
    }
}
