//! A run's coverage: how often each marked path was taken (the engine's `sim::SimPoint`s, then
//! the model's `model::CoveragePoint`s, in their declared order) and how many messages each
//! targeted fault of the plan took.

use model::CoveragePoint;
use sim::{CoverageCounts, FaultPlan, SimPoint};

/// Number of coverage points: the engine's and the model's.
pub const POINT_COUNT: usize = SimPoint::COUNT + CoveragePoint::COUNT;

/// Every coverage point as (name, description): the engine's, then the model's.
pub fn points() -> impl Iterator<Item = (&'static str, &'static str)> {
    let sim = SimPoint::ALL.iter().map(|p| (p.name(), p.description()));
    let model = CoveragePoint::ALL
        .iter()
        .map(|p| (p.name(), p.description()));
    sim.chain(model)
}

/// A fault of the plan that waits for events (a targeted message fault, a point fault) and
/// how many it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultUse {
    /// Position in the plan.
    pub index: usize,
    /// The fault's kind as plans name it ("lose-acks").
    pub kind: String,
    /// The fault as the trace shows it.
    pub description: String,
    /// Messages it asked for (`count`; a point fault: 1).
    pub asked: u32,
    /// Messages it took (0: it matched no message: the filter named a message that never
    /// travelled in its window, or everything it matched was already dead; a point fault:
    /// the point was never reached by a matching node).
    pub used: u32,
}

/// The coverage of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Times each point fired, in [`points`] order (empty if the seed's thread died).
    pub counts: Vec<u64>,
    /// Every targeted fault of the plan, in plan order.
    pub message_faults: Vec<FaultUse>,
}

impl Coverage {
    /// From the engine's counters and the plan that ran.
    pub fn new(counts: &CoverageCounts, plan: &FaultPlan) -> Self {
        let message_faults = plan
            .0
            .iter()
            .enumerate()
            .filter(|(_, f)| f.action.behaviour().events_asked() > 0)
            .map(|(index, f)| FaultUse {
                index,
                kind: f.action.kind().to_string(),
                description: f.action.to_string(),
                asked: f.action.behaviour().events_asked(),
                used: counts.fault_uses.get(index).copied().unwrap_or(0),
            })
            .collect();
        Self {
            counts: counts.sim.iter().chain(&counts.app).copied().collect(),
            message_faults,
        }
    }

    /// (name, times fired) of every point, in [`points`] order.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        points()
            .map(|(name, _)| name)
            .zip(self.counts.iter().copied())
    }

    /// Times a model point fired.
    pub fn count(&self, point: CoveragePoint) -> u64 {
        self.counts
            .get(SimPoint::COUNT + point as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Times an engine point fired.
    pub fn sim_count(&self, point: SimPoint) -> u64 {
        self.counts.get(point as usize).copied().unwrap_or(0)
    }

    /// The targeted faults that matched no message.
    pub fn unmatched_faults(&self) -> impl Iterator<Item = &FaultUse> {
        self.message_faults.iter().filter(|f| f.used == 0)
    }
}
