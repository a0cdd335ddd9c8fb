#![doc = "placeholder"]
/// Linearizability checking (Wing–Gong–Lowe search) and readers for external histories.
pub mod lin;
