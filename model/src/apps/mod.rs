//! Applications: the workloads that run on the simulated cluster.

pub mod produce;
