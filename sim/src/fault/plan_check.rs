//! What a fault checks itself against when a plan is validated (or repaired by the
//! shrinker): the nodes the plan may name and the life of each faultable node so far.

use std::collections::BTreeMap;

/// The life of a faultable node at one point of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    Running,
    Crashed,
    Paused,
    /// Asked to stop (it may still be shutting down).
    Stopped,
    /// Armed with a point fault: crashed or paused if the point was reached, else running.
    AtPoint,
}

impl Life {
    fn name(self) -> &'static str {
        match self {
            Life::Running => "running",
            Life::Crashed => "crashed",
            Life::Paused => "paused",
            Life::Stopped => "stopped",
            Life::AtPoint => "armed with a point fault (it may be down)",
        }
    }
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

/// A plan's nodes and each faultable node's life up to the fault being checked.
pub struct PlanCheck<'a> {
    nodes: PlanNodes<'a>,
    life: BTreeMap<&'a str, Life>,
}

impl<'a> PlanCheck<'a> {
    /// Every faultable node running, as at the start of a run.
    pub fn new(nodes: PlanNodes<'a>) -> Self {
        let life = nodes
            .faultable
            .iter()
            .map(|n| (n.as_str(), Life::Running))
            .collect();
        Self { nodes, life }
    }

    /// Moves faultable `node` from one of `from` to `to`; the error says why it cannot
    /// (`verb` names the fault: "crash", "restart", …).
    pub fn transition(
        &mut self,
        node: &str,
        from: &[Life],
        to: Life,
        verb: &str,
    ) -> Result<(), String> {
        let nodes = self.nodes;
        let state = self.life.get_mut(node).ok_or_else(|| {
            if nodes.all.iter().any(|n| n == node) {
                format!(
                    "{node:?} cannot crash, pause or stop (the nodes that can: {})",
                    nodes.faultable.join(", ")
                )
            } else {
                unknown(node, nodes.all)
            }
        })?;
        if !from.contains(state) {
            return Err(format!(
                "cannot {verb} {node}: it is {} at that time",
                state.name()
            ));
        }
        *state = to;
        Ok(())
    }

    /// A point fault without a node may halt any running faultable node.
    pub fn all_running_at_point(&mut self) {
        for life in self.life.values_mut() {
            if *life == Life::Running {
                *life = Life::AtPoint;
            }
        }
    }

    /// Checks that a fault may name `node` (any node of the scenario, clients too).
    pub fn known(&self, node: &str) -> Result<(), String> {
        if self.nodes.all.iter().any(|n| n == node) {
            Ok(())
        } else {
            Err(unknown(node, self.nodes.all))
        }
    }
}

fn unknown(node: &str, all: &[String]) -> String {
    format!("unknown node {node:?} (nodes: {})", all.join(", "))
}
