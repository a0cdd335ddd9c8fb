//! eosim's deterministic engine.
//!
//! Everything here runs on madsim's seeded runtime and knows nothing about Kafka: named nodes
//! that crash, restart, pause and resume; a typed request/response network with per-link FIFO
//! delivery and targeted faults (lost acks, duplicates, late delivery, partitions); durable
//! per-node disks; explicit, serialisable fault plans and seeded random fault mixes; an event
//! trace with a stable hash; and a runner that executes one seed per fresh OS thread.
//!
//! Invariant: a run is a pure function of its seed and inputs. Simulated code must not use OS
//! randomness, OS time, OS threads, or iterate a std `HashMap`/`HashSet`.

#[cfg(not(madsim))]
compile_error!(
    "eosim-sim must be built with `--cfg madsim` (the workspace's .cargo/config.toml sets it; \
     a RUSTFLAGS environment variable replaces that setting, so unset RUSTFLAGS)"
);

pub mod alarm;
pub mod chan;
pub mod coverage;
pub mod disk;
pub mod fault;
pub mod net;
pub mod node;
pub mod point;
pub mod resource;
pub mod rng;
pub mod run_lock;
pub mod runner;
pub mod shrink;
pub mod trace;

pub use alarm::Alarm;
pub use coverage::{CoverageCounts, SimPoint};
pub use disk::{Crashable, DurableCell, DurableLog};
pub use fault::{
    Fault, FaultAction, FaultKind, FaultMix, FaultPlan, MessageFilter, MessageKinds, MixKind,
    MixPoint, MixTargets, PlanError, PlanNodes, SwarmDraw,
};
/// The simulator an app's programs run on: `madsim::time::sleep` for simulated time.
pub use madsim;
pub use net::{CallError, Incoming, Message, Net, NetConfig, NetStats, ReplyTo};
pub use node::{NodeId, NodeState, STOP_GRACE_MS, Sim, StopSignal};
pub use point::{Decision, PointAction, PointEvent};
pub use resource::{Calendar, Servers};
pub use rng::stream as rng_stream;
pub use run_lock::{RunLock, RunLockGuard};
pub use runner::{PoolEnd, SeedOptions, SeedReport, for_each_seed, run_seed, run_seeds};
pub use trace::{TraceEvent, TraceKind, TraceSummary};

/// Virtual time since the start of the current run, in milliseconds.
pub fn now_ms() -> u64 {
    trace::elapsed_ns() / 1_000_000
}
