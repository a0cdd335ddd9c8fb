//! Joins (Kafka's `KStream#join` / `leftJoin`): a stream with a table — each record looks
//! its key up in the table's store when it is processed — and two streams within a time
//! window — each side buffered in a window store (changelogged like every store), a pair
//! joined when the second of its records is processed, whichever side that is.
//!
//! Time: a record's timestamp is its input id ([`timestamp`]): a loader numbers inputs in
//! the order it writes them, so the numbering is event time and Kafka's CreateTime at once.
//! A window of `n` is `n` input ids wide. A runtime processes a task's partitions in
//! timestamp order (Kafka's `PartitionGroup`: the buffered record with the lowest timestamp
//! first), so a table's update written before a stream record is processed before it when
//! both are buffered.
//!
//! Both sides must be co-partitioned (same key, same partitioner, same partition count); a
//! side whose key may have changed is repartitioned first, as Kafka does. An output carries
//! the input id of the record whose processing made it (its lineage), so for the
//! exactly-once oracle every output is an effect of exactly one input; to keep outputs
//! unique per partition, a joiner should give distinct values for distinct pairs of one key.

use std::sync::Arc;

use super::{KStream, KTable, Lineage, ProcessorContext, StoreKind, Supplier, stateless};
use crate::streams::record::{StreamRecord, Value, timestamp};

/// How far apart two records' timestamps may be to join (Kafka's `JoinWindows`, without
/// grace: window stores keep every record, so nothing arrives too late).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinWindows {
    /// The other side's record may be up to this much older.
    pub before: u32,
    /// The other side's record may be up to this much newer.
    pub after: u32,
}

impl JoinWindows {
    /// Records at most `size` apart either way (Kafka's `JoinWindows.of`).
    pub fn of(size: u32) -> Self {
        JoinWindows {
            before: size,
            after: size,
        }
    }

    /// With `before` for how much older the other side's record may be.
    pub fn before(self, before: u32) -> Self {
        JoinWindows { before, ..self }
    }

    /// With `after` for how much newer the other side's record may be.
    pub fn after(self, after: u32) -> Self {
        JoinWindows { after, ..self }
    }

    /// Whether a record of the other side at `other` joins one of this side at `this`.
    pub fn contains(self, this: u32, other: u32) -> bool {
        let (this, other) = (u64::from(this), u64::from(other));
        other + u64::from(self.before) >= this && other <= this + u64::from(self.after)
    }

    /// The same window seen from the other side.
    fn reversed(self) -> Self {
        JoinWindows {
            before: self.after,
            after: self.before,
        }
    }
}

/// A join's value function, from this side's value and the other side's (if any).
type Joiner = Arc<dyn Fn(Value, Option<Value>) -> Option<Value> + Send + Sync>;

impl KStream {
    /// Joins each record with the table's value of its key: `joiner(record, table value)`,
    /// or nothing if the table has no value for the key (Kafka's inner stream-table join).
    /// The table's updates trigger nothing.
    pub fn join_table<F>(&self, table: &KTable, joiner: F) -> KStream
    where
        F: Fn(Value, Value) -> Value + Send + Sync + 'static,
    {
        let joiner: Joiner = Arc::new(move |v, t| t.map(|t| joiner(v, t)));
        self.table_join(table, "KSTREAM-JOIN", joiner)
    }

    /// Joins each record with the table's value of its key, or `None` if it has none:
    /// every record gives one output (Kafka's stream-table left join).
    pub fn left_join_table<F>(&self, table: &KTable, joiner: F) -> KStream
    where
        F: Fn(Value, Option<Value>) -> Value + Send + Sync + 'static,
    {
        let joiner: Joiner = Arc::new(move |v, t| Some(joiner(v, t)));
        self.table_join(table, "KSTREAM-LEFTJOIN", joiner)
    }

    fn table_join(&self, table: &KTable, prefix: &str, joiner: Joiner) -> KStream {
        assert!(
            std::rc::Rc::ptr_eq(&self.state, &table.state),
            "a stream joins a table of its own topology"
        );
        let stream = self.co_partitioned();
        let store = table.store.clone();
        let supplier = stateless_with_context(move |r, ctx| {
            joiner(r.value, ctx.get(&store, r.key))
                .into_iter()
                .map(|v| r.with_value(v))
                .collect()
        });
        let node = stream.add_stateful(prefix, supplier, &[&table.store], None);
        stream.below(node)
    }

    /// Joins each record with every record of `other` of the same key whose timestamp is
    /// within `windows`: `joiner(this value, other value)` (Kafka's inner stream-stream
    /// join). Each side is buffered in a window store, `KSTREAM-JOINTHIS-<n>-store` and
    /// `KSTREAM-JOINOTHER-<n>-store`, logged to their changelogs.
    pub fn join<F>(&self, other: &KStream, windows: JoinWindows, joiner: F) -> KStream
    where
        F: Fn(Value, Value) -> Value + Send + Sync + 'static,
    {
        assert!(
            std::rc::Rc::ptr_eq(&self.state, &other.state),
            "two streams join within one topology"
        );
        let (this, other) = (self.co_partitioned(), other.co_partitioned());
        let index = self.state.borrow().nodes.len();
        let this_store = format!("KSTREAM-JOINTHIS-{index:010}-store");
        let other_store = format!("KSTREAM-JOINOTHER-{index:010}-store");
        let stores = [this_store.as_str(), other_store.as_str()];
        let joiner = Arc::new(joiner);
        let this_joiner = joiner.clone();
        let this_side = window_side(&this_store, &other_store, windows, move |t, o| {
            this_joiner(t, o)
        });
        let other_side = window_side(
            &other_store,
            &this_store,
            windows.reversed(),
            move |o, t| joiner(t, o),
        );
        let this_node = this.add_stateful(
            "KSTREAM-JOINTHIS",
            this_side,
            &stores,
            Some(StoreKind::Window),
        );
        let other_node = other.add_stateful("KSTREAM-JOINOTHER", other_side, &stores, None);
        let merged = this.below(this_node).child(
            "KSTREAM-MERGE",
            stateless(|r: StreamRecord| vec![r]),
            false,
        );
        self.state.borrow_mut().nodes[other_node]
            .children
            .push(merged.node);
        merged
    }

    /// This stream, repartitioned by key if an operator may have changed keys (a join needs
    /// both sides partitioned by the key they join on).
    fn co_partitioned(&self) -> KStream {
        if self.key_changed {
            self.repartition()
        } else {
            self.clone()
        }
    }

    /// The stream of `node`'s output, a processor added below this stream.
    fn below(&self, node: usize) -> KStream {
        KStream {
            state: self.state.clone(),
            node,
            key_changed: self.key_changed,
            lineage: Lineage::Derived,
        }
    }
}

/// One side of a windowed join: buffers the record in `own`, then joins it with the records
/// of its key in `other` within `windows`, oldest first.
fn window_side<F>(own: &str, other: &str, windows: JoinWindows, joiner: F) -> Supplier
where
    F: Fn(Value, Value) -> Value + Send + Sync + 'static,
{
    let (own, other) = (own.to_string(), other.to_string());
    stateless_with_context(move |r, ctx| {
        ctx.window_append(&own, r.key, r.value);
        let at = timestamp(&r);
        ctx.window_fetch(&other, r.key)
            .iter()
            .filter(|o| windows.contains(at, timestamp(o)))
            .map(|o| r.with_value(joiner(r.value, o.value)))
            .collect()
    })
}

/// A processor that maps a record, with access to its stores, to the records it forwards.
fn stateless_with_context<F>(f: F) -> Supplier
where
    F: Fn(StreamRecord, &mut ProcessorContext<'_>) -> Vec<StreamRecord> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    Arc::new(move || {
        let f = f.clone();
        Box::new(super::FnProcessor(
            move |record, ctx: &mut ProcessorContext<'_>| {
                for out in f(record, ctx) {
                    ctx.forward(out);
                }
            },
        ))
    })
}

#[cfg(test)]
mod tests;
