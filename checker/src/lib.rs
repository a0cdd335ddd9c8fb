//! eosim's checkers and the history vocabulary they read.
//!
//! Depends on nothing of eosim's, so it can check histories that did not come from the
//! simulator. A history is a sequence of client operations (invoke, then ok | fail | info),
//! plus, when the producer of the history knows it, the ground truth (the final logs).
//!
//! Every finding is its own type with its own explanation; `Anomaly` gathers them. The kinds
//! are declared once, in `anomaly_kinds!` (`anomaly.rs`): a row per kind names its payload,
//! name, category, meaning, pass and detector, and the table's `detect` runs the detectors
//! (each `fn(&Context) -> Vec<Payload>`, `detect.rs`) in table order. `check_all` runs every
//! pass: `check_log` (duplicate, lost-write, missing, inconsistent-offsets, unexpected-write,
//! not-converged), `check_transactions` (aborted-read, torn-transaction, … lost-effect) and
//! the aggregate verifier over the history's own checks. `check_aggregates` is Kafka
//! Streams' EOS-test verifier (wrong-aggregate, output-count-mismatch) over stream records
//! packed into values by the application (decoded with the `aggregate::RecordLayout` its
//! spec gives), for a spec given by the caller.
//! `causal` explains a finding from a run's trace, given as plain steps (`causal_chains`).

pub mod aggregate;
pub mod anomaly;
pub mod causal;
mod detect;
mod facts;
pub mod history;
/// Linearizability checking (Wing–Gong–Lowe search) and readers for external histories.
pub mod lin;
pub mod log;
pub mod metrics;
mod ranges;
#[cfg(test)]
mod testkit;
pub mod txn;

pub use aggregate::{AggregateCheck, AggregateKind, AggregateSpec, StreamRecord, check_aggregates};
pub use anomaly::{Anomaly, AnomalyCategory, AnomalyKind};
pub use detect::{CheckError, check_all, findings};
pub use history::{
    CommittedOffset, FinalLog, History, HistoryError, LogEntry, Op, Operation, Phase, PolledRecord,
    RecordStatus, TxnStep,
};
pub use log::check_log;
pub use txn::check_transactions;
