//! Isolation: one node cut off from every other node, both ways, while it keeps running (a
//! pulled cable, a host firewalled off). Its connections break like any lossy stream; its
//! clients time out and reconnect elsewhere; an isolated group member is a zombie that still
//! believes it owns its partitions. Undone by `heal-partition` (every cut healed) or by the
//! healing phase.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::kind::FaultKind;
use super::outage::resolve;
use super::plan_check::PlanCheck;
use crate::node::{NodeId, SUPERVISOR, Sim};

/// Cut every link between `node` and the other nodes (the supervisor excepted), both ways.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Isolate {
    pub node: String,
}

impl FaultKind for Isolate {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "isolate {}", self.node)
    }

    /// Any node of the scenario, clients too.
    fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String> {
        plan.known(&self.node)
    }

    fn apply(&self, sim: &Sim) {
        let node = resolve(sim, &self.node);
        let others: Vec<NodeId> = (0..sim.node_names().len() as u32)
            .map(NodeId)
            .filter(|&other| other != node && other != SUPERVISOR)
            .collect();
        sim.partition(&[node], &others);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Fault, FaultAction, FaultPlan, PlanNodes};
    use super::*;

    #[test]
    fn parses_describes_and_checks_its_node() {
        let fault: Fault = toml::from_str("at_ms = 5\nkind = \"isolate\"\nnode = \"b\"").unwrap();
        assert_eq!(
            fault.action,
            FaultAction::Isolate(Isolate { node: "b".into() })
        );
        assert_eq!(fault.to_string(), "@5 ms isolate b");
        let nodes = ["a".to_string(), "b".to_string()];
        let plan = FaultPlan(vec![fault]);
        assert!(FaultPlan::validate_faults(&plan.0, PlanNodes::only(&nodes), 10).is_ok());
        let unknown = FaultPlan::validate_faults(&plan.0, PlanNodes::only(&nodes[..1]), 10);
        assert!(unknown.unwrap_err().reason.contains("unknown node \"b\""));
    }

    /// Every link of the node is cut both ways, the others' links and the supervisor's
    /// are not, and heal-partition restores them.
    #[test]
    fn cuts_every_link_of_the_node_and_heal_restores_them() {
        let report = crate::run_seed(1, &crate::SeedOptions::default(), |sim| async move {
            let names = ["a", "b", "c"];
            let ids: Vec<NodeId> = names
                .iter()
                .map(|name| sim.add_node(name, |_| async {}))
                .collect();
            super::super::apply(&sim, &Isolate { node: "b".into() }.into());
            let cut = sim.lock().cut_links.clone();
            super::super::apply(&sim, &super::super::HealPartition {}.into());
            (ids, cut, sim.lock().cut_links.is_empty())
        });
        let (ids, cut, healed) = report.outcome.unwrap();
        let (a, b, c) = (ids[0], ids[1], ids[2]);
        let expected = [(a, b), (b, a), (b, c), (c, b)].into_iter().collect();
        assert_eq!(cut, expected);
        assert!(healed);
    }
}
