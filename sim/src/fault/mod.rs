//! Fault plans: explicit, serialisable lists of timed faults, and random mixes that expand
//! into such lists from the seed, so every plan can be printed, edited, replayed and shrunk.
//!
//! Each kind of fault is a struct implementing [`FaultKind`] in a module of its own family
//! (`outage`, `partition`, `message`), registered by one row of `fault_kinds!` below; a kind
//! a random mix draws also has one row in `mix_kinds!` (fault/mix.rs). Nothing else matches
//! on the kinds: validation, execution, reports, scenario bounds and the shrinker all go
//! through the trait.
//!
//! Architecture invariant: a plan that passes `validate` can be applied without panicking
//! (every node it names exists, every precondition holds at its time).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::node::Sim;
use crate::trace::{self, TraceKind};

mod isolate;
mod kind;
mod message;
mod mix;
mod outage;
mod partition;
mod plan_check;
mod point;
#[cfg(test)]
mod tests;

pub use kind::{FaultKind, FieldBound};
pub use message::{MAX_DELAY_MS, MAX_MESSAGES_PER_FAULT, MessageFilter};
pub use mix::{FaultMix, MessageKinds, MixDraw, MixKind, MixPoint, MixTargets, SwarmDraw};
pub use outage::MAX_GRACE_MS;
pub use plan_check::{Life, PlanCheck, PlanNodes};
pub use point::MAX_POINT_NTH;

/// Declares every kind of fault once, one row per kind: its module and struct (which
/// implements `FaultKind`; the struct's name is also the variant's) and its `kind` name in
/// plans (the serde tag; plan files, reports and traces depend on it) and a one-line meaning
/// (`eosim list` prints it). From the table come
/// the re-export of the struct, `FaultAction` (tagged with the name), `From<Kind> for
/// FaultAction`, `FaultAction::kind`, `KINDS` and the trait dispatch: adding a kind is its
/// module (with its `mod` line) and a row.
macro_rules! fault_kinds {
    ($( $module:ident :: $Kind:ident = $name:literal : $meaning:literal, )+) => {
        $( pub use $module::$Kind; )+

        /// One fault: any kind.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum FaultAction {
            $( #[doc = $meaning] #[serde(rename = $name)] $Kind($Kind), )+
        }

        impl FaultAction {
            /// Every kind's (name, one-line meaning), in table order.
            pub const KINDS: &'static [(&'static str, &'static str)] = &[$(($name, $meaning)),+];

            /// Its `kind` as a plan names it (the serde tag), without serialising it.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( FaultAction::$Kind(_) => $name, )+
                }
            }

            /// The kind's behaviour.
            pub fn behaviour(&self) -> &dyn FaultKind {
                match self {
                    $( FaultAction::$Kind(fault) => fault, )+
                }
            }
        }

        $(
            impl From<$Kind> for FaultAction {
                fn from(fault: $Kind) -> Self {
                    FaultAction::$Kind(fault)
                }
            }
        )+
    };
}

fault_kinds! {
    outage::Crash = "crash":
        "kill every task of a node (unsynced writes may be lost)",
    outage::Restart = "restart":
        "restart a crashed or stopped node on its durable state",
    outage::Pause = "pause":
        "freeze a node; its mailbox keeps filling and it wakes a zombie on stale beliefs",
    outage::Resume = "resume":
        "resume a paused node: expired timers fire, buffered requests are handled",
    outage::Stop = "stop":
        "clean shutdown (SIGTERM), killed after grace_ms (default 5000); restart it later",
    partition::Partition = "partition":
        "cut every link between node groups a and b, both ways",
    partition::HealPartition = "heal-partition":
        "restore every cut link",
    message::DropRequests = "drop-requests":
        "drop the next count matching requests before they reach the server",
    message::LoseAcks = "lose-acks":
        "drop the next count matching responses after their request took effect",
    message::DuplicateRequests = "duplicate-requests":
        "deliver the next count matching requests twice",
    message::DuplicateResponses = "duplicate-responses":
        "deliver the next count matching responses twice",
    message::Delay = "delay":
        "hold the next count matching messages (direction) and release them extra_ms late",
    isolate::Isolate = "isolate":
        "cut every link of one node, both ways, while it runs (undo: heal-partition)",
    point::AtPoint = "point":
        "crash (or pause) a node right after it reaches a fault point (after, nth, filters)",
}

impl FaultAction {
    /// Whether it is a targeted message fault (a rule that takes the next matching messages).
    pub fn is_targeted(&self) -> bool {
        self.behaviour().messages().is_some()
    }

    /// The message filter of a targeted fault.
    pub fn message_filter(&self) -> Option<&MessageFilter> {
        self.behaviour().messages().map(|(filter, _)| filter)
    }
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.behaviour().describe(f)
    }
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

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{} ms {}", self.at_ms, self.action)
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
        let mut plan = PlanCheck::new(plan_nodes);
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
            fault.action.behaviour().check(&mut plan).map_err(err)?;
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
            // A point fault names itself in the trace when it fires.
            sim.tag_new_point(index as u32);
        }
    }
}

/// Applies one fault now.
pub fn apply(sim: &Sim, action: &FaultAction) {
    action.behaviour().apply(sim)
}
