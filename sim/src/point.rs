//! Fault points (FoundationDB's BUGGIFY, turmoil's barriers): named events the model
//! announces — "coordinator:prepare-commit-logged", "broker:appended" — where an armed fault
//! crashes or pauses the node that reached them, right there.
//!
//! A plan arms a point fault (`fault::point::AtPoint`) with filters (node, partition,
//! transactional id, n-th match). The model announces an event with [`Sim::reach`] from
//! synchronous code and, before the node does anything anyone else can see (a reply, a
//! marker, a write), calls [`Sim::settle`]; async code does both with [`Sim::at_point`].
//! `reach` only decides (a fired fault becomes the node's pending halt); `settle` applies it:
//! a crash never returns (the task is dropped with its node, so nothing after the point takes
//! effect: no reply leaves, no later write lands), a pause freezes the task at that await
//! until the node is resumed, and a client decision (`abort`) is returned for the node to
//! take — where Kafka leaves a choice to the application.
//!
//! Architecture invariant: `reach` and `settle` have no effect and take no lock when no point
//! fault was armed in the run (one atomic load), so points change no trace hash of a plan
//! without point faults and cost a seed nothing.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use crate::net::{ContentFilter, MessageContent};
use crate::node::{NodeId, NodeState, Sim};
use crate::trace::{self, TraceKind};

/// An event the model announces at a fault point, with what it concerns (for filters: the
/// same fields a message's content has).
#[derive(Clone, Copy, Debug, Default)]
pub struct PointEvent<'a> {
    /// The point's name, `component:event` (the model declares them).
    pub point: &'static str,
    /// The partition, transactional id, … it concerns.
    pub content: MessageContent<'a>,
}

/// What a fired point fault does to the node that reached the point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointAction {
    /// Crash it there (the healing phase restarts it).
    #[default]
    Crash,
    /// Pause it there (the healing phase resumes it): a zombie frozen mid-protocol.
    Pause,
    /// A client decision where Kafka leaves the choice to the application: abort the
    /// transaction instead of going on (e.g. after a commit timed out). Only at points that
    /// offer it (the model's `FaultPoint::decisions`), as the two below.
    Abort,
    /// A client decision: close the producer without committing or aborting its open
    /// transaction (it stays open until the coordinator's timeout or the next
    /// `init_transactions` aborts it).
    Close,
    /// A client decision: ignore an error (e.g. a failed send) and go on with the
    /// transaction.
    Ignore,
}

impl PointAction {
    /// Its name in a plan's `then`.
    pub fn name(self) -> &'static str {
        match self {
            PointAction::Crash => "crash",
            PointAction::Pause => "pause",
            PointAction::Abort => "abort",
            PointAction::Close => "close",
            PointAction::Ignore => "ignore",
        }
    }

    /// What a node decides when it is a decision, not a halt.
    pub fn decision(self) -> Option<Decision> {
        match self {
            PointAction::Crash | PointAction::Pause => None,
            PointAction::Abort => Some(Decision::Abort),
            PointAction::Close => Some(Decision::Close),
            PointAction::Ignore => Some(Decision::Ignore),
        }
    }

    /// Whether it halts the node (a crash or a pause), rather than deciding for it.
    pub fn halts(self) -> bool {
        matches!(self, PointAction::Crash | PointAction::Pause)
    }
}

/// What the node does after `settle`: go on, or take the decision a point fault made for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Continue,
    /// Abort the transaction instead of going on.
    Abort,
    /// Close without committing or aborting.
    Close,
    /// Ignore the error and go on.
    Ignore,
}

/// Tells the task that undoes a halt which node was left in which state, in which life.
pub type UndoSender = crate::chan::UnboundedSender<(NodeId, NodeState, u32)>;

/// An armed point fault.
#[derive(Clone, Debug)]
pub struct PointRule {
    pub point: String,
    /// Only this node's events (default: any node's).
    pub node: Option<NodeId>,
    /// Only events about this content (partition, transactional id).
    pub filter: ContentFilter,
    /// Matching events still to let pass before it fires (1: the next one).
    pub remaining: u32,
    pub action: PointAction,
    /// Told (the halted state, the node's life) when the fault halts its node, by a
    /// supervisor task that undoes the halt later (`AtPoint::down_ms`); none: the healing
    /// phase undoes it.
    pub undo: Option<UndoSender>,
    /// The plan fault it came from, for the trace (set by `FaultPlan::execute`).
    pub fault: Option<u32>,
}

impl PointRule {
    fn matches(&self, node: NodeId, event: &PointEvent<'_>) -> bool {
        self.point == event.point
            && self.node.is_none_or(|n| n == node)
            && self.filter.matches(&event.content)
    }
}

impl Sim {
    /// Arms a point fault.
    pub fn arm_point(&self, rule: PointRule) {
        self.lock().point_rules.push(rule);
        self.points_armed.store(true, Ordering::Relaxed);
    }

    /// Whether any point fault was armed in this run (the fast path of `reach` and `settle`).
    fn points_armed(&self) -> bool {
        self.points_armed.load(Ordering::Relaxed)
    }

    /// Marks the point fault armed last, if untagged, as plan fault `index`'s.
    pub(crate) fn tag_new_point(&self, index: u32) {
        if let Some(rule) = self.lock().point_rules.last_mut()
            && rule.fault.is_none()
        {
            rule.fault = Some(index);
        }
    }

    /// `node` reached a fault point. If an armed fault fires on it, the fault becomes the
    /// node's pending halt, applied by its next `settle`.
    pub fn reach(&self, node: NodeId, event: &PointEvent<'_>) {
        if !self.points_armed() {
            return;
        }
        let mut world = self.lock();
        if world.point_rules.is_empty() {
            return;
        }
        let Some(index) = world
            .point_rules
            .iter()
            .position(|r| r.matches(node, event))
        else {
            return;
        };
        let rule = &mut world.point_rules[index];
        rule.remaining -= 1;
        if rule.remaining > 0 {
            return;
        }
        let rule = world.point_rules.remove(index);
        world.nodes[node.0 as usize].pending_halt = Some((rule.action, rule.undo));
        drop(world);
        if let Some(fault) = rule.fault {
            crate::coverage::fault_used(fault);
        }
        let verb = rule.action.name();
        trace::record(
            node,
            TraceKind::Fault {
                index: rule.fault.unwrap_or(u32::MAX),
                description: format!("{verb} at {}", rule.point),
            },
        );
    }

    /// Applies what a point fault that fired on `node` decided: a crash never returns, a
    /// pause returns when the node is resumed, a decision is returned for the node to take.
    /// Call it before the node's next visible effect after any `reach`.
    pub async fn settle(&self, node: NodeId) -> Decision {
        if !self.points_armed() {
            return Decision::Continue;
        }
        let (halt, state) = {
            let mut world = self.lock();
            let entry = &mut world.nodes[node.0 as usize];
            (entry.pending_halt.take(), entry.state)
        };
        let Some((action, undo)) = halt else {
            return Decision::Continue;
        };
        if let Some(decision) = action.decision() {
            return decision;
        }
        let halted = match action {
            PointAction::Crash => NodeState::Crashed,
            PointAction::Pause if state == NodeState::Running => NodeState::Paused,
            _ => return Decision::Continue,
        };
        match halted {
            NodeState::Crashed => self.crash(node),
            _ => self.pause(node),
        }
        if let Some(undo) = undo {
            // The supervisor's task may be gone with the run's end; nothing to undo then.
            let _ = undo.send((node, halted, self.incarnation(node)));
        }
        match halted {
            // Dropped with the node: nothing after the point takes effect.
            NodeState::Crashed => std::future::pending::<()>().await,
            // Frozen here: a paused node's tasks are polled again only after its resume.
            _ => madsim::task::yield_now().await,
        }
        Decision::Continue
    }

    /// `reach` and `settle`, for async code.
    pub async fn at_point(&self, node: NodeId, event: &PointEvent<'_>) -> Decision {
        self.reach(node, event);
        self.settle(node).await
    }
}
