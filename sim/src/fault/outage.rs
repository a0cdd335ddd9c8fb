//! Node outages: crash and restart, pause and resume, clean stop (restarted like a crash).
//! Each checks the node's life along the plan (`PlanCheck`): restart only what crashed or
//! stopped, resume only what paused, crash or pause only what runs.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::kind::{FaultKind, FieldBound};
use super::mix::MixDraw;
use super::plan_check::{Life, PlanCheck};
use super::{Fault, FaultAction};
use crate::node::{NodeId, STOP_GRACE_MS, Sim};

/// `grace_ms` of a stop: at most 600,000 ms.
pub const MAX_GRACE_MS: u64 = 600_000;

pub(super) fn resolve(sim: &Sim, name: &str) -> NodeId {
    sim.node_id(name)
        .unwrap_or_else(|| panic!("fault names unknown node {name:?}"))
}

/// Kill every task of the node (unsynced writes may be lost).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    pub node: String,
}

impl FaultKind for Crash {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "crash {}", self.node)
    }

    fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String> {
        let from = [Life::Running, Life::Paused];
        plan.transition(&self.node, &from, Life::Crashed, "crash")
    }

    fn apply(&self, sim: &Sim) {
        sim.crash(resolve(sim, &self.node))
    }

    /// crash … restart → pause … resume (the node keeps its memory); a crash the plan never
    /// restarts becomes a pause (the healing phase restarts a crashed node, resumes a paused
    /// one).
    fn weaker(&self, faults: &[Fault], index: usize) -> Vec<Vec<Fault>> {
        let node = &self.node;
        let restart = faults[index..].iter().position(
            |f| matches!(&f.action, FaultAction::Restart(Restart { node: n }) if n == node),
        );
        let mut weaker = faults.to_vec();
        weaker[index].action = Pause { node: node.clone() }.into();
        if let Some(offset) = restart {
            weaker[index + offset].action = Resume { node: node.clone() }.into();
        }
        vec![weaker]
    }
}

/// Restart a crashed (or stopped) node on its durable state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    pub node: String,
}

impl FaultKind for Restart {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "restart {}", self.node)
    }

    fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String> {
        let from = [Life::Crashed, Life::Stopped];
        plan.transition(&self.node, &from, Life::Running, "restart")
    }

    fn apply(&self, sim: &Sim) {
        sim.restart(resolve(sim, &self.node))
    }
}

/// Freeze a node: it becomes a zombie acting on stale beliefs when resumed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub node: String,
}

impl FaultKind for Pause {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pause {}", self.node)
    }

    fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String> {
        plan.transition(&self.node, &[Life::Running], Life::Paused, "pause")
    }

    fn apply(&self, sim: &Sim) {
        sim.pause(resolve(sim, &self.node))
    }
}

/// Resume a paused node: its expired timers fire, its buffered requests are handled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub node: String,
}

impl FaultKind for Resume {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "resume {}", self.node)
    }

    fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String> {
        plan.transition(&self.node, &[Life::Paused], Life::Running, "resume")
    }

    fn apply(&self, sim: &Sim) {
        sim.resume(resolve(sim, &self.node))
    }
}

/// Ask a node to shut down cleanly (SIGTERM); it is killed if it has not finished after
/// `grace_ms` (default 5,000). Restart it like a crashed node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    pub node: String,
    #[serde(default = "default_stop_grace_ms")]
    pub grace_ms: u64,
}

fn default_stop_grace_ms() -> u64 {
    STOP_GRACE_MS
}

impl FaultKind for Stop {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stop {}", self.node)
    }

    fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String> {
        plan.transition(&self.node, &[Life::Running], Life::Stopped, "stop")
    }

    fn apply(&self, sim: &Sim) {
        sim.stop(resolve(sim, &self.node), self.grace_ms)
    }

    fn bounds(&self) -> Vec<FieldBound> {
        vec![FieldBound {
            field: "grace_ms",
            value: self.grace_ms,
            min: 0,
            max: MAX_GRACE_MS,
        }]
    }
}

/// A mix's crash: a crash target crashed, restarted when the outage ends.
pub(super) fn draw_crash(draw: &mut MixDraw<'_, '_>) -> Vec<Fault> {
    draw_outage(draw, |node| {
        (Crash { node: node.clone() }.into(), Restart { node }.into())
    })
}

/// A mix's pause: a crash target paused, resumed when the outage ends.
pub(super) fn draw_pause(draw: &mut MixDraw<'_, '_>) -> Vec<Fault> {
    draw_outage(draw, |node| {
        (Pause { node: node.clone() }.into(), Resume { node }.into())
    })
}

/// A mix's stop: a crash target stopped cleanly, restarted when the outage ends.
pub(super) fn draw_stop(draw: &mut MixDraw<'_, '_>) -> Vec<Fault> {
    draw_outage(draw, |node| {
        let stop = Stop {
            node: node.clone(),
            grace_ms: STOP_GRACE_MS,
        };
        (stop.into(), Restart { node }.into())
    })
}

/// The outage's two faults, or none if no allowed target is idle at the drawn time.
fn draw_outage(
    draw: &mut MixDraw<'_, '_>,
    pair: impl FnOnce(String) -> (FaultAction, FaultAction),
) -> Vec<Fault> {
    let Some((node, end_ms)) = draw.outage() else {
        return Vec::new();
    };
    let (down, up) = pair(node);
    vec![
        Fault {
            at_ms: end_ms,
            action: up,
        },
        Fault {
            at_ms: draw.at_ms,
            action: down,
        },
    ]
}
