//! Network partitions: cut every link between two groups of nodes, heal every cut.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::kind::FaultKind;
use super::outage::resolve;
use super::plan_check::PlanCheck;
use crate::node::Sim;

/// Cut all links between the two groups, both ways.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub a: Vec<String>,
    pub b: Vec<String>,
}

impl FaultKind for Partition {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "partition {:?} | {:?}", self.a, self.b)
    }

    /// Known nodes, each named once (so a side never lists more nodes than there are), and a
    /// node on each side.
    fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String> {
        let mut named = std::collections::BTreeSet::new();
        for node in self.a.iter().chain(&self.b) {
            plan.known(node)?;
            if !named.insert(node) {
                return Err(format!("{node:?} is named twice"));
            }
        }
        if self.a.is_empty() || self.b.is_empty() {
            return Err("both sides of a partition need a node".into());
        }
        Ok(())
    }

    fn apply(&self, sim: &Sim) {
        let a: Vec<_> = self.a.iter().map(|n| resolve(sim, n)).collect();
        let b: Vec<_> = self.b.iter().map(|n| resolve(sim, n)).collect();
        sim.partition(&a, &b);
    }
}

/// Restore every cut link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealPartition {}

impl FaultKind for HealPartition {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("heal partition")
    }

    fn check(&self, _: &mut PlanCheck<'_>) -> Result<(), String> {
        Ok(())
    }

    fn apply(&self, sim: &Sim) {
        sim.heal_partitions()
    }
}
