//! Renderings of eosim results: a one-screen text summary and JSON with a stable schema
//! (documented field by field in docs/json-schema.md, which `tests/json_schema.rs` holds to
//! the outputs: a field added here needs its row there).
//!
//! Depends only on `checker`: the caller converts its run outcome into these plain records,
//! so reports can render results from any source.

pub mod compare;
pub mod failure;
pub mod html;
pub mod hunt;
pub mod junit;
pub mod run;
pub mod soak;
pub mod sweep;

pub use compare::{
    CompareReport, CompareRow, CompareSeed, CompareTally, CostModel, ThroughputReference,
};
pub use failure::Failure;
pub use hunt::{CaughtBy, HuntReport, HuntRow, ShrunkRow};
pub use run::{AnomalyReport, RunReport, UnmatchedFault, Verdict};
pub use soak::SoakReport;
pub use sweep::{FaultKindTally, SeedCoverage, SeedResult, SweepReport, SweepTally};

/// How report headers show a run's variants: comma-separated, `-` for none.
pub(crate) fn variants_label(variants: &[String]) -> String {
    if variants.is_empty() {
        "-".to_string()
    } else {
        variants.join(",")
    }
}
