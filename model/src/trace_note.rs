//! The broker's trace notes: model-level events folded into the run's trace
//! (`sim::trace::note`) and shown with `--trace`, named once here for their writer (the
//! broker) and their readers (the causal chains of `eosim run --html` find appends by
//! [`TraceNote::Append`]).
//!
//! A note's name is hashed with it: renaming one changes every trace hash, so the names are
//! pinned by a test. (The clients' and applications' notes — `joined`, `epoch-bump`,
//! `init-txn`, `bump-epoch`, `task-lost`, … — are still written as literals where they
//! happen.)

use sim::NodeId;

/// A kind of note the broker writes, with what its two numbers hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceNote {
    /// A produce request's batch appended (not a duplicate): (partition trace code, base
    /// offset).
    Append,
    /// A transaction marker written: (partition trace code, offset).
    Marker,
    /// A leader refused a marker: (partition trace code, `KafkaError` as a number).
    MarkerRefused,
    /// A group moved to a new generation: (generation, members).
    Rebalance,
}

impl TraceNote {
    pub const ALL: [TraceNote; 4] = [
        TraceNote::Append,
        TraceNote::Marker,
        TraceNote::MarkerRefused,
        TraceNote::Rebalance,
    ];

    /// The name the trace carries (and hashes).
    pub const fn name(self) -> &'static str {
        match self {
            TraceNote::Append => "append",
            TraceNote::Marker => "marker",
            TraceNote::MarkerRefused => "marker-refused",
            TraceNote::Rebalance => "rebalance",
        }
    }

    /// The note a trace event's name stands for, if it is one of these.
    pub fn from_name(name: &str) -> Option<TraceNote> {
        TraceNote::ALL.into_iter().find(|note| note.name() == name)
    }

    /// Records the note on `node` at the current virtual time.
    pub fn record(self, node: NodeId, a: u64, b: u64) {
        sim::trace::note(node, self.name(), a, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_hashed_strings_and_read_back() {
        // Changing one of these strings changes the trace hash of every run that writes it.
        let names: Vec<_> = TraceNote::ALL.iter().map(|n| n.name()).collect();
        assert_eq!(names, ["append", "marker", "marker-refused", "rebalance"]);
        for note in TraceNote::ALL {
            assert_eq!(TraceNote::from_name(note.name()), Some(note));
        }
        assert_eq!(TraceNote::from_name("joined"), None);
    }
}
