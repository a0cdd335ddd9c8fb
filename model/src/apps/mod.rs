//! Applications: the workloads that run on the simulated cluster.

pub mod copy;
pub mod produce;
pub mod producer_sender;
pub mod queue;
pub mod queue_script;
pub mod record_collector;
pub mod streams;
