//! Point faults: crash or pause a node right after it reaches a named fault point of the
//! model ("coordinator:prepare-commit-logged"), armed from the fault's time, with filters.
//! The engine side is `crate::point`; the model declares the points and their names.

use std::fmt;

use serde::{Deserialize, Serialize};

use rand::Rng;
use rand::seq::SliceRandom;

use super::kind::{FaultKind, FieldBound};
use super::mix::MixDraw;
use super::outage::resolve;
use super::plan_check::{Life, PlanCheck};
use super::{Fault, FaultAction};
use crate::net::ContentFilter;
use crate::node::{NodeState, Sim};
use crate::point::{PointAction, PointRule};

/// `nth` of a point fault: 1..=1,000,000.
pub const MAX_POINT_NTH: u32 = 1_000_000;
/// `down_ms` of a point fault: 1..=600,000 ms.
pub const MAX_POINT_DOWN_MS: u64 = 600_000;

/// After the `nth` event at fault point `after` that matches the filters, `then` (crash or
/// pause) the node that reached it. Until the healing phase undoes it, the node's life is
/// unknown to the plan: no later fault may crash, restart, pause or resume it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtPoint {
    /// The fault point, `component:event` (`eosim list` names the model's points).
    pub after: String,
    /// Only when this node reaches it (default: any faultable node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// What happens to the node (default crash).
    #[serde(default)]
    pub then: PointAction,
    /// Fire at the n-th matching event after the fault's time (default 1: the next).
    #[serde(default = "first", skip_serializing_if = "is_first")]
    pub nth: u32,
    /// Only events about this partition, `topic-index` (e.g. "events-0").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Only events about this transactional id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactional_id: Option<String>,
    /// Restart (crash) or resume (pause) the node this long after it halted (default: the
    /// healing phase does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_ms: Option<u64>,
}

fn first() -> u32 {
    1
}

fn is_first(nth: &u32) -> bool {
    *nth == 1
}

impl FaultKind for AtPoint {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let node = self.node.as_deref().unwrap_or("the node");
        match self.then {
            PointAction::Abort => write!(f, "{node} aborts after {}", self.after)?,
            PointAction::Close => {
                write!(f, "{node} closes without committing after {}", self.after)?
            }
            PointAction::Ignore => write!(f, "{node} ignores the error after {}", self.after)?,
            halt => write!(f, "{} {node} after {}", halt.name(), self.after)?,
        }
        if self.nth > 1 {
            write!(f, " #{}", self.nth)?;
        }
        if let Some(down_ms) = self.down_ms {
            write!(f, " for {down_ms} ms")?;
        }
        for filter in [&self.partition, &self.transactional_id]
            .into_iter()
            .flatten()
        {
            write!(f, " [{filter}]")?;
        }
        Ok(())
    }

    /// The node (or, without one, every faultable node) must be running; afterwards it may
    /// be down, so the plan leaves it alone.
    fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String> {
        if self
            .after
            .split_once(':')
            .is_none_or(|(a, b)| a.is_empty() || b.is_empty())
        {
            return Err(format!(
                "fault point {:?} is not `component:event`",
                self.after
            ));
        }
        match &self.node {
            // A decision halts nothing: the node's life goes on.
            Some(node) if !self.then.halts() => plan.known(node),
            None if !self.then.halts() => Ok(()),
            Some(node) => {
                let running = [Life::Running];
                plan.transition(node, &running, Life::AtPoint, "arm a point fault on")
            }
            None => {
                plan.all_running_at_point();
                Ok(())
            }
        }
    }

    fn apply(&self, sim: &Sim) {
        let undo = self.down_ms.map(|down_ms| undo_after(sim, down_ms));
        sim.arm_point(PointRule {
            point: self.after.clone(),
            node: self.node.as_deref().map(|n| resolve(sim, n)),
            filter: ContentFilter {
                partition: self.partition.clone(),
                transactional_id: self.transactional_id.clone(),
                ..ContentFilter::default()
            },
            remaining: self.nth,
            action: self.then,
            undo,
            fault: None,
        });
    }

    fn point(&self) -> Option<(&str, PointAction)> {
        Some((&self.after, self.then))
    }

    fn events_asked(&self) -> u32 {
        1
    }

    fn bounds(&self) -> Vec<FieldBound> {
        let nth = FieldBound {
            field: "nth",
            value: self.nth.into(),
            min: 1,
            max: MAX_POINT_NTH.into(),
        };
        let down = self.down_ms.map(|down_ms| FieldBound {
            field: "down_ms",
            value: down_ms,
            min: 1,
            max: MAX_POINT_DOWN_MS,
        });
        std::iter::once(nth).chain(down).collect()
    }

    /// A pause instead of a crash (the node keeps its memory).
    fn weaker(&self, faults: &[Fault], index: usize) -> Vec<Vec<Fault>> {
        if self.then != PointAction::Crash {
            return Vec::new();
        }
        let mut weaker = faults.to_vec();
        weaker[index].action = FaultAction::from(AtPoint {
            then: PointAction::Pause,
            ..self.clone()
        });
        vec![weaker]
    }
}

/// A supervisor task (spawned when the fault is armed, from the plan's task) that waits for
/// the halt and undoes it `down_ms` later, if the node is still halted in the same life (the
/// healing phase may have undone it first).
fn undo_after(sim: &Sim, down_ms: u64) -> crate::point::UndoSender {
    let (undo, mut halted) = crate::chan::unbounded_channel();
    let task_sim = sim.clone();
    sim.spawn_supervisor(async move {
        let Some((node, state, life)) = halted.recv().await else {
            return;
        };
        madsim::time::sleep(std::time::Duration::from_millis(down_ms)).await;
        if task_sim.state(node) != state || task_sim.incarnation(node) != life {
            return;
        }
        match state {
            NodeState::Crashed => task_sim.restart(node),
            _ => task_sim.resume(node),
        }
    });
    undo
}

/// A mix's point fault: a point and a node that reaches it (idle at the drawn time, and left
/// alone by the plan afterwards), crashed or paused at one of its first three arrivals.
pub(super) fn draw_point(draw: &mut MixDraw<'_, '_>) -> Vec<Fault> {
    let Some(point) = draw.points.choose(&mut *draw.rng).copied() else {
        return Vec::new();
    };
    let only = draw.mix.targets.as_ref();
    let nodes: Vec<&String> = (point.nodes.iter())
        .filter(|n| only.is_none_or(|t| t.contains(n)))
        .collect();
    let Some(node) = nodes.choose(&mut *draw.rng).copied() else {
        return Vec::new();
    };
    let then = if draw.rng.gen_bool(0.5) {
        PointAction::Crash
    } else {
        PointAction::Pause
    };
    let nth = draw.rng.gen_range(1..=3);
    if !draw.reserve(node) {
        return Vec::new();
    }
    let fault = AtPoint {
        after: point.name.to_string(),
        node: Some(node.clone()),
        then,
        nth,
        partition: None,
        transactional_id: None,
        down_ms: None,
    };
    draw.fault(fault.into())
}
