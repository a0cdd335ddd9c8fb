//! The model's fault points, declared once: where in the protocol a plan's `point` fault
//! (`sim::fault::AtPoint`) may crash or pause the node that got there. Each is reached right
//! after its event took durable effect and before the node shows it to anyone (no answer, no
//! marker, no further write): BUGGIFY's "crash here" for the windows timed faults rarely hit.

use sim::net::MessageContent;
use sim::{NodeId, PointAction, PointEvent, Sim};

/// Declares every fault point once: variant, `component:event` name (plans name it in
/// `after`), the side that reaches it, the client decisions it offers and a one-line meaning
/// (`eosim list`); `ALL`, `name`, `side`, `decisions`, `meaning` and `from_name` derived.
macro_rules! fault_points {
    (@in_mixes) => { true };
    (@in_mixes plans_only) => { false };
    ($( $Point:ident = $name:literal on $Side:ident $(decides [$($decision:ident),*])? $(($only:ident))? : $meaning:literal, )+) => {
        /// A named event of the protocol where a point fault may fire.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
        pub enum FaultPoint {
            $( #[doc = $meaning] $Point, )+
        }

        impl FaultPoint {
            /// Every point, in table order.
            pub const ALL: &'static [FaultPoint] = &[$(FaultPoint::$Point),+];

            /// Its name in a plan's `after`.
            pub const fn name(self) -> &'static str {
                match self {
                    $( FaultPoint::$Point => $name, )+
                }
            }

            /// What has just happened when a node reaches it, in one line.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $( FaultPoint::$Point => $meaning, )+
                }
            }

            /// Which nodes reach it (a random mix aims its point faults at those).
            pub const fn side(self) -> Side {
                match self {
                    $( FaultPoint::$Point => Side::$Side, )+
                }
            }

            /// Whether random and swarm mixes draw it (`plans_only` points are for explicit
            /// plans: added after the mixes' draws were pinned, so drawing them would move
            /// every swarm trace).
            pub const fn in_mixes(self) -> bool {
                match self {
                    $( FaultPoint::$Point => fault_points!(@in_mixes $($only)?), )+
                }
            }

            /// The client decisions a plan may take here (`then`), besides crash and pause.
            pub const fn decisions(self) -> &'static [PointAction] {
                match self {
                    $( FaultPoint::$Point => &[$($(PointAction::$decision),*)?], )+
                }
            }
        }
    };
}

fault_points! {
    PrepareCommitLogged = "coordinator:prepare-commit-logged" on Brokers:
        "a transaction coordinator logged PrepareCommit (EndTxn commit durable; no marker sent, no answer yet)",
    PrepareAbortLogged = "coordinator:prepare-abort-logged" on Brokers:
        "a transaction coordinator logged PrepareAbort (EndTxn abort durable; no marker sent, no answer yet)",
    Appended = "broker:appended" on Brokers:
        "a partition leader appended and synced a produce batch (not answered yet)",
    CommitTimedOut = "client:commit-timed-out" on Clients decides [Abort]:
        "a transactional client's EndTxn(commit) attempt timed out (it retries unless a plan decides `abort`: KAFKA-17754's application)",
    ChangelogFlushed = "streams:changelog-flushed" on Clients:
        "a Streams instance's outputs and changelog records of a commit cycle are acknowledged, the transaction not yet committed (KAFKA-7192's window)",
    SendFailed = "client:send-failed" on Clients decides [Ignore] (plans_only):
        "a transactional client's send failed without fencing it (the transaction can only abort, unless a plan decides `ignore`: KAFKA-9279's application goes on and commits)",
    BeforeCommit = "client:before-commit" on Clients decides [Close] (plans_only):
        "a transactional client is about to commit (every step done, EndTxn not sent; a plan may decide `close`: the producer is closed without committing or aborting)",
}

/// The nodes that reach a fault point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Brokers,
    /// Application nodes (clients, copiers, stream instances).
    Clients,
}

impl FaultPoint {
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }

    /// Whether a plan may take `action` here: a halt anywhere, a decision where offered.
    pub fn allows(self, action: PointAction) -> bool {
        action.halts() || self.decisions().contains(&action)
    }

    /// The event of reaching this point, about what it concerns.
    pub fn event<'a>(
        self,
        partition: Option<(&'a str, u32)>,
        transactional_id: Option<&'a str>,
    ) -> PointEvent<'a> {
        PointEvent {
            point: self.name(),
            content: MessageContent {
                partition,
                transactional_id,
                ..MessageContent::default()
            },
        }
    }

    /// `node` reached this point (from synchronous code: the node's loop must `settle`
    /// before its next visible effect).
    pub fn reach(
        self,
        sim: &Sim,
        node: NodeId,
        partition: Option<(&str, u32)>,
        transactional_id: Option<&str>,
    ) {
        sim.reach(node, &self.event(partition, transactional_id));
    }
}
