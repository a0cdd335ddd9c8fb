//! What every kind of fault provides. A kind is a serialisable struct (its fields are the
//! plan's fields) implementing [`FaultKind`], registered by one row of `fault_kinds!`
//! (fault/mod.rs); the plan checker, the executor, reports, scenario validation and the
//! shrinker reach it only through this trait.

use std::fmt;

use super::Fault;
use super::message::MessageFilter;
use super::plan_check::PlanCheck;
use crate::node::Sim;

/// One numeric field of a fault with the range a scenario may give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldBound {
    /// The field's name in a plan (`count`, `extra_ms`, …).
    pub field: &'static str,
    pub value: u64,
    pub min: u64,
    pub max: u64,
}

/// A kind of fault.
pub trait FaultKind {
    /// The fault as a report line says it ("crash broker-1", "lose 2 ack(s) produce *->b").
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// Checks the fault at its place in a plan (the nodes it names, its precondition, its
    /// counts) and records what it changes in `plan`; the error says why it is impossible.
    fn check(&self, plan: &mut PlanCheck<'_>) -> Result<(), String>;

    /// Applies it to the running simulation, now. Only validated faults are applied.
    fn apply(&self, sim: &Sim);

    /// For a targeted message fault (a rule that takes the next matching messages): which
    /// messages and how many. Default: not a message fault.
    fn messages(&self) -> Option<(&MessageFilter, u32)> {
        None
    }

    /// The fault point it waits for and what it does there, if it is a point fault (the
    /// model knows the points and which decisions each offers).
    fn point(&self) -> Option<(&str, crate::point::PointAction)> {
        None
    }

    /// How many events it waits to take (messages, or a point's one firing); 0 for a fault
    /// that acts when applied. Coverage reports the ones that took none.
    fn events_asked(&self) -> u32 {
        self.messages().map_or(0, |(_, count)| count)
    }

    /// Its numeric fields and their bounds, for scenario validation. Default: none.
    fn bounds(&self) -> Vec<FieldBound> {
        Vec::new()
    }

    /// Weaker forms of the plan `faults` with this fault (at `index`) weakened, most
    /// promising first, for the shrinker. Default: none.
    fn weaker(&self, faults: &[Fault], index: usize) -> Vec<Vec<Fault>> {
        let _ = (faults, index);
        Vec::new()
    }
}
