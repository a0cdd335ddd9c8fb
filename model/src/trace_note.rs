//! The model's trace notes: model-level events folded into the run's trace
//! (`sim::trace::note`) and shown with `--trace`, each named once here — for its writer (the
//! broker, a client, the Streams runtime) and its readers (the causal chains of
//! `eosim run --html` find appends by [`TraceNote::Append`]).
//!
//! A note's name is hashed with it: renaming one changes every trace hash, so the names are
//! pinned by a test.

use sim::NodeId;

/// Declares the notes once: variant, the name the trace carries, and what its two numbers
/// hold (the variant's docs).
macro_rules! trace_notes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// A kind of note the model writes, with what its two numbers hold.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum TraceNote {
            $($(#[$doc])* $variant,)*
        }

        impl TraceNote {
            /// Every note, in declaration order.
            pub const ALL: &'static [TraceNote] = &[$(TraceNote::$variant,)*];

            /// The name the trace carries (and hashes).
            pub const fn name(self) -> &'static str {
                match self {
                    $(TraceNote::$variant => $name,)*
                }
            }
        }
    };
}

trace_notes! {
    /// Broker: a produce request's batch appended (not a duplicate): (partition trace code,
    /// base offset).
    Append = "append",
    /// Broker: a transaction marker written: (partition trace code, offset).
    Marker = "marker",
    /// Broker: a leader refused a marker: (partition trace code, `KafkaError` as a number).
    MarkerRefused = "marker-refused",
    /// Group coordinator: a group moved to a new generation: (generation, members).
    Rebalance = "rebalance",
    /// Group member: joined a generation: (generation, partitions assigned).
    Joined = "joined",
    /// Idempotent producer: bumped its epoch itself (KIP-360): (producer id, new epoch).
    EpochBump = "epoch-bump",
    /// Transactional producer: `init_transactions` answered: (producer id, epoch).
    InitTxn = "init-txn",
    /// Transactional producer: bumped its epoch after an abort of unknown outcome: (producer
    /// id, new epoch).
    BumpEpoch = "bump-epoch",
    /// Streams task: its restore was interrupted (rebalance, stop): (sub-topology, partition).
    RestoreInterrupted = "restore-interrupted",
    /// Streams task: a clean close checkpointed past what it restored (KAFKA-16017's
    /// variant): (restored offset, written offset).
    CheckpointAhead = "checkpoint-ahead",
    /// Streams task: closed dirty after an abort, to be revived: (sub-topology, partition).
    TaskCorrupted = "task-corrupted",
    /// Streams task: closed dirty as lost (fenced, or refused by the group): (sub-topology,
    /// partition).
    TaskLost = "task-lost",
}

impl TraceNote {
    /// The note a trace event's name stands for, if it is one of these.
    pub fn from_name(name: &str) -> Option<TraceNote> {
        TraceNote::ALL
            .iter()
            .copied()
            .find(|note| note.name() == name)
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
        assert_eq!(
            names,
            [
                "append",
                "marker",
                "marker-refused",
                "rebalance",
                "joined",
                "epoch-bump",
                "init-txn",
                "bump-epoch",
                "restore-interrupted",
                "checkpoint-ahead",
                "task-corrupted",
                "task-lost"
            ]
        );
        for &note in TraceNote::ALL {
            assert_eq!(TraceNote::from_name(note.name()), Some(note));
        }
        assert_eq!(TraceNote::from_name("unknown"), None);
    }
}
