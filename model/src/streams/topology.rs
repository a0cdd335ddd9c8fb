//! A Kafka-Streams-like topology: the DSL, the `Processor` API, and what a runtime needs to
//! run it — sub-topologies with their source and sink topics, state stores with changelog
//! topics, and a task (one sub-topology on one input partition) that processes a record
//! against a `StateStores` and returns the records to send and the store updates to log.
//!
//! ```
//! use model::streams::topology::TopologyBuilder;
//! let b = TopologyBuilder::new();
//! let data = b.stream("data");
//! data.to("echo");
//! data.group_by_key().min("min").to_stream().to("min");
//! data.through("repartition").group_by_key().count("cnt").to_stream().to("cnt");
//! let topology = b.build("EosTest");
//! assert_eq!(topology.sub_topologies().len(), 2);
//! assert_eq!(topology.stores()[0].changelog_topic, "EosTest-min-changelog");
//! ```
//!
//! Everything is pure and synchronous (no simulation): the runtime owns consumers, producers,
//! transactions and the store contents. Processing is deterministic: stores are `BTreeMap`s,
//! a record runs through the processor graph depth-first in the order nodes were added.
//!
//! How a runtime uses it (see also ARCHITECTURE.md):
//! 1. `topology.sub_topologies()`: each has `source_topics`; a task is
//!    `TaskId { sub_topology, partition }` for each partition of its (co-partitioned) sources.
//!    `topology.internal_topics()` lists repartition and changelog topics to create, with the
//!    input's partition count.
//! 2. `topology.create_task(id)` per assigned task, and a `MemStores` per task, restored from
//!    the task's changelog partitions (`MemStores::restore`; changelog partition = task
//!    partition) at read_committed.
//! 3. For each polled record: `task.process(topic, record::unpack(value), &mut stores)`
//!    returns `ProcessOutput { sends, store_updates }`: send each `SinkRecord` to
//!    `sink.partition(partitions of sink.topic)`, each `StoreUpdate::changelog_record()` to
//!    partition `id.partition` of its store's changelog topic, in the task's transaction.
//! 4. On an aborted transaction (exactly-once), wipe the stores (`MemStores::clear`) and
//!    restore them from the committed changelog: the stores were already updated in place.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use checker::aggregate::{AggregateKind, AggregateSpec};

use super::record::{InputId, Key, StreamRecord, Value, partition_for_key};

mod join;
pub mod testing;

pub use join::JoinWindows;

/// Named state stores, as a task's processors see them: key-value stores (one value per
/// key, Kafka's `KeyValueStore`) and window stores (every record of a key, with its
/// timestamp: Kafka's `WindowStore` as a stream-stream join buffers each side).
pub trait StateStores {
    /// The value of `key` in key-value store `store`, if any.
    fn get(&self, store: &str, key: Key) -> Option<Value>;
    /// Sets `key` in key-value store `store` to `value`.
    fn put(&mut self, store: &str, key: Key, value: Value);
    /// The records of `key` in window store `store`, in the order they were added.
    fn fetch(&self, store: &str, key: Key) -> &[StreamRecord];
    /// Adds `record` to window store `store`.
    fn append(&mut self, store: &str, record: StreamRecord);
}

/// What kind of store a topology declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// One value per key; its changelog's last record of a key wins.
    KeyValue,
    /// Every record of a key (a join's buffer); its changelog holds each record once. Kept
    /// without retention: a run is short, so nothing is dropped for age.
    Window,
}

/// In-memory stores (deterministic `BTreeMap`s), for a runtime's tasks and for tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemStores {
    stores: BTreeMap<String, BTreeMap<Key, Value>>,
    windows: BTreeMap<String, BTreeMap<Key, Vec<StreamRecord>>>,
}

impl MemStores {
    pub fn new() -> Self {
        Self::default()
    }

    /// One store's contents (empty if never written).
    pub fn store(&self, name: &str) -> BTreeMap<Key, Value> {
        self.stores.get(name).cloned().unwrap_or_default()
    }

    /// Replays a changelog partition into `store`: for a key-value store the last record of
    /// a key wins; a window store gets every record back.
    pub fn restore(
        &mut self,
        store: &StoreSpec,
        changelog: impl IntoIterator<Item = StreamRecord>,
    ) {
        for record in changelog {
            match store.kind {
                StoreKind::KeyValue => self.put(&store.name, record.key, record.value),
                StoreKind::Window => self.append(&store.name, record),
            }
        }
    }

    /// Wipes every store (exactly-once after an abort or an unclean shutdown: the store may
    /// hold uncommitted updates and must be rebuilt from the committed changelog).
    pub fn clear(&mut self) {
        self.stores.clear();
        self.windows.clear();
    }

    /// Makes each of `keys` of `store` here what it is in `from`, in a key-value store and
    /// in a window store of that name: a copy of `from` that differs only in keys written
    /// since is brought level by copying those keys, not every store.
    pub fn copy_keys(&mut self, from: &MemStores, store: &str, keys: &[Key]) {
        copy_entries(&mut self.stores, &from.stores, store, keys, |v| *v);
        copy_entries(&mut self.windows, &from.windows, store, keys, Vec::clone);
    }
}

/// `MemStores::copy_keys` for one kind of store: each side's store is looked up once for
/// all keys, and made here only when a key is copied into it.
fn copy_entries<V>(
    to: &mut BTreeMap<String, BTreeMap<Key, V>>,
    from: &BTreeMap<String, BTreeMap<Key, V>>,
    store: &str,
    keys: &[Key],
    copy: impl Fn(&V) -> V,
) {
    let source = from.get(store);
    let copies_any = source.is_some_and(|s| keys.iter().any(|k| s.contains_key(k)));
    if copies_any && !to.contains_key(store) {
        to.insert(store.to_string(), BTreeMap::new());
    }
    let Some(target) = to.get_mut(store) else {
        return; // nothing to copy, nothing to remove
    };
    for &key in keys {
        match source.and_then(|s| s.get(&key)) {
            Some(value) => {
                target.insert(key, copy(value));
            }
            None => {
                target.remove(&key);
            }
        }
    }
}

impl StateStores for MemStores {
    fn get(&self, store: &str, key: Key) -> Option<Value> {
        self.stores.get(store)?.get(&key).copied()
    }

    fn put(&mut self, store: &str, key: Key, value: Value) {
        // The store's name is copied only when the store is first written.
        match self.stores.get_mut(store) {
            Some(s) => {
                s.insert(key, value);
            }
            None => {
                self.stores
                    .insert(store.to_string(), BTreeMap::from([(key, value)]));
            }
        }
    }

    fn fetch(&self, store: &str, key: Key) -> &[StreamRecord] {
        self.windows
            .get(store)
            .and_then(|w| w.get(&key))
            .map_or(&[], Vec::as_slice)
    }

    fn append(&mut self, store: &str, record: StreamRecord) {
        // The store's name is copied only when the store is first written.
        if !self.windows.contains_key(store) {
            self.windows.insert(store.to_string(), BTreeMap::new());
        }
        let window = self.windows.get_mut(store).expect("inserted above");
        window.entry(record.key).or_default().push(record);
    }
}

/// A task: sub-topology `sub_topology` on input partition `partition` (Kafka's "0_3").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId {
    pub sub_topology: u32,
    pub partition: u32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.sub_topology, self.partition)
    }
}

/// A record a task sends to a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkRecord {
    pub topic: String,
    pub record: StreamRecord,
}

impl SinkRecord {
    /// The partition it goes to: Kafka's default partitioner over its key.
    pub fn partition(&self, partitions: u32) -> u32 {
        partition_for_key(self.record.key, partitions)
    }
}

/// A write to a state store, to be logged to the store's changelog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreUpdate {
    pub store: String,
    pub key: Key,
    pub value: Value,
    /// The input whose processing wrote it.
    pub input_id: InputId,
}

impl StoreUpdate {
    /// The changelog record: (input id, key, new value), unique per changelog partition.
    pub fn changelog_record(&self) -> StreamRecord {
        StreamRecord::new(self.input_id, self.key, self.value)
    }
}

/// What processing one record produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessOutput {
    /// Records to send, in the order the sinks received them.
    pub sends: Vec<SinkRecord>,
    /// Store writes, in order (already applied to the `StateStores` passed in).
    pub store_updates: Vec<StoreUpdate>,
}

/// A processor: handles one record at a time, forwarding records to its children and reading
/// and writing the state stores it was connected to. One instance per task.
pub trait Processor: Send {
    fn process(&mut self, record: StreamRecord, ctx: &mut ProcessorContext<'_>);
}

/// What a processor may do while handling a record.
pub struct ProcessorContext<'a> {
    task: TaskId,
    topic: &'a str,
    input_id: InputId,
    processor: &'a str,
    connected: &'a [String],
    stores: &'a mut dyn StateStores,
    updates: &'a mut Vec<StoreUpdate>,
    forwarded: Vec<StreamRecord>,
}

impl ProcessorContext<'_> {
    /// Passes `record` to every child of this processor (after `process` returns, in order,
    /// each record depth-first through the children: Kafka's order, as long as a processor
    /// does not read a store its children write).
    pub fn forward(&mut self, record: StreamRecord) {
        self.forwarded.push(record);
    }

    /// The value of `key` in `store`; panics if the processor is not connected to `store`.
    pub fn get(&self, store: &str, key: Key) -> Option<Value> {
        self.assert_connected(store);
        self.stores.get(store, key)
    }

    /// Writes `key` = `value` to `store` (logged for its changelog with the current input
    /// id); panics if the processor is not connected to `store`.
    pub fn put(&mut self, store: &str, key: Key, value: Value) {
        self.assert_connected(store);
        self.stores.put(store, key, value);
        self.log(store, key, value);
    }

    /// Adds (current input id, `key`, `value`) to window store `store` (logged for its
    /// changelog as that same record); panics if the processor is not connected to `store`.
    pub fn window_append(&mut self, store: &str, key: Key, value: Value) {
        self.assert_connected(store);
        let record = StreamRecord::new(self.input_id, key, value);
        self.stores.append(store, record);
        self.log(store, key, value);
    }

    /// The records of `key` in window store `store`, oldest first; panics if the processor
    /// is not connected to `store`.
    pub fn window_fetch(&self, store: &str, key: Key) -> &[StreamRecord] {
        self.assert_connected(store);
        self.stores.fetch(store, key)
    }

    fn log(&mut self, store: &str, key: Key, value: Value) {
        self.updates.push(StoreUpdate {
            store: store.to_string(),
            key,
            value,
            input_id: self.input_id,
        });
    }

    pub fn task_id(&self) -> TaskId {
        self.task
    }

    /// The topic the record being processed was read from.
    pub fn topic(&self) -> &str {
        self.topic
    }

    /// The input id of the record being processed.
    pub fn input_id(&self) -> InputId {
        self.input_id
    }

    fn assert_connected(&self, store: &str) {
        assert!(
            self.connected.iter().any(|s| s == store),
            "processor {} used store {store}, which it is not connected to (connected: {:?})",
            self.processor,
            self.connected
        );
    }
}

/// Makes a processor per task.
type Supplier = Arc<dyn Fn() -> Box<dyn Processor> + Send + Sync>;

/// A topic as the builder knows it: a user topic, or an internal one named
/// `<application id>-<suffix>` once the application id is known.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TopicRef {
    User(String),
    Internal(String),
}

impl TopicRef {
    fn resolve(&self, application_id: &str) -> String {
        match self {
            TopicRef::User(name) => name.clone(),
            TopicRef::Internal(suffix) => format!("{application_id}-{suffix}"),
        }
    }
}

#[derive(Clone)]
enum NodeKind<T> {
    Source {
        topic: T,
    },
    Processor {
        supplier: Supplier,
        stores: Vec<String>,
    },
    Sink {
        topic: T,
    },
}

#[derive(Clone)]
struct Node<T> {
    name: String,
    kind: NodeKind<T>,
    children: Vec<usize>,
}

#[derive(Default)]
struct BuilderState {
    nodes: Vec<Node<TopicRef>>,
    /// Stores in creation order.
    stores: Vec<(String, StoreKind)>,
    /// Outputs the aggregate verifier can check, found while building: (input topic,
    /// output topic, what the output holds per input).
    checks: Vec<(TopicRef, TopicRef, AggregateKind)>,
}

/// What a stream's records are, as far as the aggregate verifier can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Lineage {
    /// Exactly the records of a topic, one per input, unchanged.
    Verbatim(TopicRef),
    /// One update per record of a topic: the running aggregate of its key.
    Aggregate(TopicRef, AggregateKind),
    /// Anything else (mapped, filtered, joined, a closure's aggregate): not verified.
    Derived,
}

impl BuilderState {
    fn add(&mut self, parent: Option<usize>, prefix: &str, kind: NodeKind<TopicRef>) -> usize {
        let index = self.nodes.len();
        self.add_named(parent, format!("{prefix}-{index:010}"), kind)
    }

    fn add_named(
        &mut self,
        parent: Option<usize>,
        name: String,
        kind: NodeKind<TopicRef>,
    ) -> usize {
        assert!(
            self.nodes.iter().all(|n| n.name != name),
            "two processors are named {name}"
        );
        let index = self.nodes.len();
        self.nodes.push(Node {
            name,
            kind,
            children: Vec::new(),
        });
        if let Some(parent) = parent {
            self.nodes[parent].children.push(index);
        }
        index
    }

    fn add_store(&mut self, name: &str, kind: StoreKind) {
        assert!(!name.is_empty(), "a store needs a name");
        assert!(
            !self.stores.iter().any(|(s, _)| s == name),
            "store {name} is declared twice"
        );
        self.stores.push((name.to_string(), kind));
    }

    /// The source node of `topic`, created on first use (reading a topic twice in the DSL
    /// shares one source, as a stream branched in two would).
    fn source(&mut self, topic: TopicRef) -> usize {
        let existing = self
            .nodes
            .iter()
            .position(|n| matches!(&n.kind, NodeKind::Source { topic: t } if *t == topic));
        existing.unwrap_or_else(|| self.add(None, "KSTREAM-SOURCE", NodeKind::Source { topic }))
    }
}

/// Builds a topology (Kafka's `StreamsBuilder`). Streams, grouped streams and tables are
/// cheap handles into the builder; use them any number of times to branch.
#[derive(Clone, Default)]
pub struct TopologyBuilder {
    state: Rc<RefCell<BuilderState>>,
}

impl TopologyBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stream of records of `topic`.
    pub fn stream(&self, topic: &str) -> KStream {
        assert!(!topic.is_empty(), "a topic needs a name");
        let node = self
            .state
            .borrow_mut()
            .source(TopicRef::User(topic.to_string()));
        KStream {
            state: self.state.clone(),
            node,
            key_changed: false,
            lineage: Lineage::Verbatim(TopicRef::User(topic.to_string())),
        }
    }

    /// The table of `topic`'s latest value per key (Kafka's `StreamsBuilder.table`),
    /// materialized in key-value store `store` (logged to `<app>-<store>-changelog`). Its
    /// updates stream on as records arrive; a stream joins it with `join_table`.
    pub fn table(&self, topic: &str, store: &str) -> KTable {
        let source = self.stream(topic);
        let store_name = store.to_string();
        let supplier: Supplier = Arc::new(move || {
            let store = store_name.clone();
            Box::new(FnProcessor(
                move |r: StreamRecord, ctx: &mut ProcessorContext<'_>| {
                    ctx.put(&store, r.key, r.value);
                    ctx.forward(r);
                },
            ))
        });
        let node = source.add_stateful(
            "KTABLE-SOURCE",
            supplier,
            &[store],
            Some(StoreKind::KeyValue),
        );
        KTable {
            state: self.state.clone(),
            node,
            store: store.to_string(),
            lineage: source.lineage,
        }
    }

    /// The topology of application `application_id` (which names the internal topics:
    /// `<app>-<store>-changelog`, `<app>-<name>-repartition`).
    pub fn build(&self, application_id: &str) -> Topology {
        assert!(!application_id.is_empty(), "an application needs an id");
        Topology::new(application_id, &self.state.borrow())
    }
}

/// A record stream (Kafka's `KStream`).
#[derive(Clone)]
pub struct KStream {
    state: Rc<RefCell<BuilderState>>,
    node: usize,
    /// Whether an operator may have changed keys since the last source: grouping then
    /// repartitions, as Kafka does.
    key_changed: bool,
    lineage: Lineage,
}

/// A processor made from a closure.
struct FnProcessor<F>(F);

impl<F: FnMut(StreamRecord, &mut ProcessorContext<'_>) + Send> Processor for FnProcessor<F> {
    fn process(&mut self, record: StreamRecord, ctx: &mut ProcessorContext<'_>) {
        (self.0)(record, ctx)
    }
}

/// A stateless operator: `f` maps a record to the records it forwards.
fn stateless<F>(f: F) -> Supplier
where
    F: Fn(StreamRecord) -> Vec<StreamRecord> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    Arc::new(move || {
        let f = f.clone();
        Box::new(FnProcessor(
            move |record, ctx: &mut ProcessorContext<'_>| {
                for out in f(record) {
                    ctx.forward(out);
                }
            },
        ))
    })
}

impl KStream {
    fn child(&self, prefix: &str, supplier: Supplier, key_changed: bool) -> KStream {
        let kind = NodeKind::Processor {
            supplier,
            stores: Vec::new(),
        };
        let node = self.state.borrow_mut().add(Some(self.node), prefix, kind);
        KStream {
            state: self.state.clone(),
            node,
            key_changed,
            lineage: Lineage::Derived,
        }
    }

    /// Adds a processor below this stream connected to `stores`: declared here as stores
    /// of kind `declare` (a name declared twice panics), or, with `None`, declared already
    /// (a join reads a table's store).
    fn add_stateful(
        &self,
        prefix: &str,
        supplier: Supplier,
        stores: &[&str],
        declare: Option<StoreKind>,
    ) -> usize {
        let mut state = self.state.borrow_mut();
        for store in stores {
            match declare {
                Some(kind) => state.add_store(store, kind),
                None => assert!(
                    state.stores.iter().any(|(s, _)| s == store),
                    "store {store} is not declared"
                ),
            }
        }
        let stores = stores.iter().map(|s| s.to_string()).collect();
        state.add(
            Some(self.node),
            prefix,
            NodeKind::Processor { supplier, stores },
        )
    }

    /// Maps each record to a new key and value (marks the stream for repartitioning).
    pub fn map<F>(&self, f: F) -> KStream
    where
        F: Fn(Key, Value) -> (Key, Value) + Send + Sync + 'static,
    {
        let supplier = stateless(move |r: StreamRecord| {
            let (key, value) = f(r.key, r.value);
            vec![StreamRecord::new(r.input_id, key, value)]
        });
        self.child("KSTREAM-MAP", supplier, true)
    }

    /// Maps each value, keeping the key.
    pub fn map_values<F>(&self, f: F) -> KStream
    where
        F: Fn(Value) -> Value + Send + Sync + 'static,
    {
        let supplier = stateless(move |r: StreamRecord| vec![r.with_value(f(r.value))]);
        self.child("KSTREAM-MAPVALUES", supplier, self.key_changed)
    }

    /// Keeps the records for which `f` holds.
    pub fn filter<F>(&self, f: F) -> KStream
    where
        F: Fn(Key, Value) -> bool + Send + Sync + 'static,
    {
        let supplier = stateless(
            move |r: StreamRecord| {
                if f(r.key, r.value) { vec![r] } else { vec![] }
            },
        );
        self.child("KSTREAM-FILTER", supplier, self.key_changed)
    }

    /// Maps each record to any number of records (marks the stream for repartitioning).
    /// Each carries the input id of the record it came from; to keep values unique per
    /// partition, two records of one input should differ in key or value.
    pub fn flat_map<F>(&self, f: F) -> KStream
    where
        F: Fn(Key, Value) -> Vec<(Key, Value)> + Send + Sync + 'static,
    {
        let supplier = stateless(move |r: StreamRecord| {
            f(r.key, r.value)
                .into_iter()
                .map(|(key, value)| StreamRecord::new(r.input_id, key, value))
                .collect()
        });
        self.child("KSTREAM-FLATMAP", supplier, true)
    }

    /// Maps each value to any number of values, keeping the key.
    pub fn flat_map_values<F>(&self, f: F) -> KStream
    where
        F: Fn(Value) -> Vec<Value> + Send + Sync + 'static,
    {
        let supplier = stateless(move |r: StreamRecord| {
            f(r.value).into_iter().map(|v| r.with_value(v)).collect()
        });
        self.child("KSTREAM-FLATMAPVALUES", supplier, self.key_changed)
    }

    /// Re-keys each record (marks the stream for repartitioning).
    pub fn select_key<F>(&self, f: F) -> KStream
    where
        F: Fn(Key, Value) -> Key + Send + Sync + 'static,
    {
        let supplier = stateless(move |r: StreamRecord| {
            vec![StreamRecord::new(r.input_id, f(r.key, r.value), r.value)]
        });
        self.child("KSTREAM-KEY-SELECT", supplier, true)
    }

    /// A user processor named `name`, made per task by `supplier`, connected to `stores`
    /// (created here; each store belongs to one processor). Its output may have new keys, so
    /// grouping it repartitions (as Kafka's `process`).
    pub fn process<P, F>(&self, name: &str, supplier: F, stores: &[&str]) -> KStream
    where
        P: Processor + 'static,
        F: Fn() -> P + Send + Sync + 'static,
    {
        let stores: Vec<String> = stores.iter().map(|s| s.to_string()).collect();
        let node = {
            let mut state = self.state.borrow_mut();
            for store in &stores {
                state.add_store(store, StoreKind::KeyValue);
            }
            let supplier: Supplier = Arc::new(move || Box::new(supplier()));
            state.add_named(
                Some(self.node),
                name.to_string(),
                NodeKind::Processor { supplier, stores },
            )
        };
        KStream {
            state: self.state.clone(),
            node,
            key_changed: true,
            lineage: Lineage::Derived,
        }
    }

    /// Writes the stream to `topic` (partitioned by key).
    pub fn to(&self, topic: &str) {
        self.sink(TopicRef::User(topic.to_string()));
    }

    fn sink(&self, topic: TopicRef) {
        let mut state = self.state.borrow_mut();
        match &self.lineage {
            Lineage::Verbatim(input) => {
                state
                    .checks
                    .push((input.clone(), topic.clone(), AggregateKind::Echo))
            }
            Lineage::Aggregate(input, kind) => {
                state.checks.push((input.clone(), topic.clone(), *kind))
            }
            Lineage::Derived => {}
        }
        state.add(Some(self.node), "KSTREAM-SINK", NodeKind::Sink { topic });
    }

    /// Writes the stream to the user topic `topic` and reads it back: a repartition through
    /// a topic the user created (Kafka's `through`); what follows is a new sub-topology.
    pub fn through(&self, topic: &str) -> KStream {
        self.to(topic);
        let node = self
            .state
            .borrow_mut()
            .source(TopicRef::User(topic.to_string()));
        KStream {
            state: self.state.clone(),
            node,
            key_changed: false,
            lineage: Lineage::Verbatim(TopicRef::User(topic.to_string())),
        }
    }

    /// Repartitions by key through an internal topic
    /// `<app>-KSTREAM-REPARTITION-<n>-repartition`; what follows is a new sub-topology.
    pub fn repartition(&self) -> KStream {
        let index = self.state.borrow().nodes.len();
        self.repartition_through(format!("KSTREAM-REPARTITION-{index:010}-repartition"))
    }

    fn repartition_through(&self, suffix: String) -> KStream {
        let topic = TopicRef::Internal(suffix);
        self.sink(topic.clone());
        let node = self.state.borrow_mut().source(topic.clone());
        KStream {
            state: self.state.clone(),
            node,
            key_changed: false,
            lineage: Lineage::Verbatim(topic),
        }
    }

    /// Groups by the current key. If an operator may have changed keys, the aggregation
    /// reads through a repartition topic `<app>-<store>-repartition` (Kafka does the same).
    pub fn group_by_key(&self) -> KGroupedStream {
        KGroupedStream {
            stream: self.clone(),
        }
    }

    /// Groups by a new key computed from each record (a `select_key`, so repartitioned).
    pub fn group_by<F>(&self, f: F) -> KGroupedStream
    where
        F: Fn(Key, Value) -> Key + Send + Sync + 'static,
    {
        self.select_key(f).group_by_key()
    }
}

/// A stream grouped by key, ready to aggregate (Kafka's `KGroupedStream`). Every input emits
/// one update (no caching: Kafka's EOS test sets `statestore.cache.max.bytes=0`).
#[derive(Clone)]
pub struct KGroupedStream {
    stream: KStream,
}

/// How a store's aggregate starts and absorbs a value.
enum Fold {
    /// Start from `init`, then `f(aggregate, value)`.
    Aggregate {
        init: Value,
        f: Arc<dyn Fn(Value, Value) -> Value + Send + Sync>,
    },
    /// Start from the first value, then `f(aggregate, value)`.
    Reduce(Arc<dyn Fn(Value, Value) -> Value + Send + Sync>),
}

impl Fold {
    fn aggregate(init: Value, f: impl Fn(Value, Value) -> Value + Send + Sync + 'static) -> Self {
        Fold::Aggregate {
            init,
            f: Arc::new(f),
        }
    }

    fn next(&self, aggregate: Option<Value>, value: Value) -> Value {
        match (self, aggregate) {
            (Fold::Aggregate { init, f }, aggregate) => f(aggregate.unwrap_or(*init), value),
            (Fold::Reduce(_), None) => value,
            (Fold::Reduce(f), Some(aggregate)) => f(aggregate, value),
        }
    }
}

impl KGroupedStream {
    /// Aggregates per key into store `store`: starts at `init`, then `f(aggregate, value)`.
    pub fn aggregate<F>(&self, store: &str, init: Value, f: F) -> KTable
    where
        F: Fn(Value, Value) -> Value + Send + Sync + 'static,
    {
        self.fold(store, Fold::aggregate(init, f), None)
    }

    /// Reduces per key into store `store`: the first value, then `f(aggregate, value)`.
    pub fn reduce<F>(&self, store: &str, f: F) -> KTable
    where
        F: Fn(Value, Value) -> Value + Send + Sync + 'static,
    {
        self.fold(store, Fold::Reduce(Arc::new(f)), None)
    }

    /// Counts records per key (1, 2, 3, …); panics past `i32::MAX`.
    pub fn count(&self, store: &str) -> KTable {
        let fold = Fold::aggregate(0, |count, _| {
            count.checked_add(1).expect("count overflows i32")
        });
        self.fold(store, fold, Some(AggregateKind::Count))
    }

    /// Sums values per key (init 0); panics on `i32` overflow (fine for up to 100,000 inputs
    /// below 10,000 per key).
    pub fn sum(&self, store: &str) -> KTable {
        let fold = Fold::aggregate(0, |sum, v| sum.checked_add(v).expect("sum overflows i32"));
        self.fold(store, fold, Some(AggregateKind::Sum))
    }

    /// Minimum value per key (init `i32::MAX`, as Kafka's EOS test).
    pub fn min(&self, store: &str) -> KTable {
        let fold = Fold::aggregate(i32::MAX, |min, v| min.min(v));
        self.fold(store, fold, Some(AggregateKind::Min))
    }

    /// Maximum value per key (init `i32::MIN`, as Kafka's EOS test).
    pub fn max(&self, store: &str) -> KTable {
        let fold = Fold::aggregate(i32::MIN, |max, v| max.max(v));
        self.fold(store, fold, Some(AggregateKind::Max))
    }

    /// The aggregate in `store`; `kind` names it for the verifier (`None`: a closure's).
    fn fold(&self, store: &str, fold: Fold, kind: Option<AggregateKind>) -> KTable {
        let source = if self.stream.key_changed {
            self.stream
                .repartition_through(format!("{store}-repartition"))
        } else {
            self.stream.clone()
        };
        let lineage = match (&source.lineage, kind) {
            (Lineage::Verbatim(input), Some(kind)) => Lineage::Aggregate(input.clone(), kind),
            _ => Lineage::Derived,
        };
        let fold = Arc::new(fold);
        let store_name = store.to_string();
        let supplier: Supplier = Arc::new(move || {
            let (fold, store) = (fold.clone(), store_name.clone());
            Box::new(FnProcessor(
                move |r: StreamRecord, ctx: &mut ProcessorContext<'_>| {
                    let next = fold.next(ctx.get(&store, r.key), r.value);
                    ctx.put(&store, r.key, next);
                    ctx.forward(r.with_value(next));
                },
            ))
        });
        let node = source.add_stateful(
            "KSTREAM-AGGREGATE",
            supplier,
            &[store],
            Some(StoreKind::KeyValue),
        );
        KTable {
            state: source.state.clone(),
            node,
            store: store.to_string(),
            lineage,
        }
    }
}

/// A table: the latest value per key, materialized in a key-value store (Kafka's `KTable`:
/// an aggregate, or a topic read as a table).
#[derive(Clone)]
pub struct KTable {
    state: Rc<RefCell<BuilderState>>,
    node: usize,
    /// The key-value store that holds it (a stream's `join_table` reads it).
    store: String,
    lineage: Lineage,
}

impl KTable {
    /// The stream of its updates: one (key, new value) per input, with the input's id.
    pub fn to_stream(&self) -> KStream {
        KStream {
            state: self.state.clone(),
            node: self.node,
            key_changed: false,
            lineage: self.lineage.clone(),
        }
    }

    /// The store that holds it.
    pub fn store_name(&self) -> &str {
        &self.store
    }
}

/// A state store and where it is logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSpec {
    pub name: String,
    pub kind: StoreKind,
    /// `<application id>-<store>-changelog`; partition p logs task p's store.
    pub changelog_topic: String,
    pub sub_topology: u32,
}

/// A connected part of the topology: what one task runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubTopology {
    pub id: u32,
    /// Topics it reads (co-partitioned: a task reads partition p of each).
    pub source_topics: Vec<String>,
    /// Topics it writes (besides changelogs).
    pub sink_topics: Vec<String>,
    /// Its stores' names.
    pub stores: Vec<String>,
}

/// A built topology: immutable, cheap to clone and share between instances.
#[derive(Clone)]
pub struct Topology {
    inner: Arc<TopologyInner>,
}

struct TopologyInner {
    application_id: String,
    nodes: Vec<Node<String>>,
    /// Sub-topology of each node.
    node_sub_topology: Vec<u32>,
    sub_topologies: Vec<SubTopology>,
    stores: Vec<StoreSpec>,
    repartition_topics: Vec<String>,
    /// What the aggregate verifier checks of the outputs the DSL can vouch for.
    aggregate_spec: AggregateSpec,
}

impl Topology {
    fn new(application_id: &str, state: &BuilderState) -> Topology {
        let nodes: Vec<Node<String>> = state
            .nodes
            .iter()
            .map(|n| resolve_node(n, application_id))
            .collect();
        let node_sub_topology = sub_topology_of_nodes(&nodes);
        let count = node_sub_topology.iter().max().map_or(0, |m| m + 1);
        let sub_topologies: Vec<SubTopology> = (0..count)
            .map(|id| describe_sub_topology(id, &nodes, &node_sub_topology))
            .collect();
        assert_no_cycles(&sub_topologies);
        let stores = state
            .stores
            .iter()
            .map(|(name, kind)| StoreSpec {
                name: name.clone(),
                kind: *kind,
                changelog_topic: format!("{application_id}-{name}-changelog"),
                sub_topology: sub_topologies
                    .iter()
                    .find(|s| s.stores.contains(name))
                    .unwrap_or_else(|| panic!("store {name} is connected to no processor"))
                    .id,
            })
            .collect();
        let repartition_topics: BTreeSet<String> = state
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Sink {
                    topic: t @ TopicRef::Internal(_),
                } => Some(t.resolve(application_id)),
                _ => None,
            })
            .collect();
        Topology {
            inner: Arc::new(TopologyInner {
                application_id: application_id.to_string(),
                nodes,
                node_sub_topology,
                sub_topologies,
                stores,
                repartition_topics: repartition_topics.into_iter().collect(),
                aggregate_spec: aggregate_spec(application_id, state),
            }),
        }
    }

    /// What the aggregate verifier (`checker::aggregate::check_aggregates`) checks of this
    /// topology's outputs, derived from the DSL: a topic written only by a stream that is
    /// another topic's records unchanged (`echo`: `to`, `through`, a repartition), or the
    /// updates of a `count`, `sum`, `min` or `max` over such a stream, holds one record per
    /// input. Filtered, mapped, joined streams and closures' aggregates are not checked
    /// (the exactly-once oracle still judges their lineage).
    pub fn aggregate_spec(&self) -> &AggregateSpec {
        &self.inner.aggregate_spec
    }

    /// The application id (Kafka's `application.id`): the consumer group, and the prefix of
    /// internal topics and transactional ids.
    pub fn application_id(&self) -> &str {
        &self.inner.application_id
    }

    /// Sub-topologies, numbered in the order their first node was added.
    pub fn sub_topologies(&self) -> &[SubTopology] {
        &self.inner.sub_topologies
    }

    /// Every topic some sub-topology reads, sorted (the group's subscription).
    pub fn source_topics(&self) -> Vec<String> {
        let topics: BTreeSet<&String> = self
            .inner
            .sub_topologies
            .iter()
            .flat_map(|s| &s.source_topics)
            .collect();
        topics.into_iter().cloned().collect()
    }

    /// Every topic some sub-topology writes, sorted (repartition topics included, changelogs
    /// not).
    pub fn sink_topics(&self) -> Vec<String> {
        let topics: BTreeSet<&String> = self
            .inner
            .sub_topologies
            .iter()
            .flat_map(|s| &s.sink_topics)
            .collect();
        topics.into_iter().cloned().collect()
    }

    /// The state stores, in declaration order.
    pub fn stores(&self) -> &[StoreSpec] {
        &self.inner.stores
    }

    /// Internal repartition topics (`<app>-…-repartition`), sorted.
    pub fn repartition_topics(&self) -> &[String] {
        &self.inner.repartition_topics
    }

    /// Topics the runtime must create besides the user's: repartition and changelog topics,
    /// sorted. Give them the input topics' partition count.
    pub fn internal_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.inner.repartition_topics.clone();
        topics.extend(self.inner.stores.iter().map(|s| s.changelog_topic.clone()));
        topics.sort();
        topics
    }

    /// The sub-topology that reads `topic`, if any.
    pub fn sub_topology_reading(&self, topic: &str) -> Option<u32> {
        self.inner
            .sub_topologies
            .iter()
            .find(|s| s.source_topics.iter().any(|t| t == topic))
            .map(|s| s.id)
    }

    /// A task: the sub-topology's processors, fresh (empty processor state), for one
    /// partition. Its stores are the caller's (`StateStores`), so they survive the task.
    pub fn create_task(&self, id: TaskId) -> Task {
        assert!(
            (id.sub_topology as usize) < self.inner.sub_topologies.len(),
            "task {id}: the topology has {} sub-topologies",
            self.inner.sub_topologies.len()
        );
        let processors = self
            .inner
            .nodes
            .iter()
            .zip(&self.inner.node_sub_topology)
            .map(|(node, &sub)| match &node.kind {
                NodeKind::Processor { supplier, .. } if sub == id.sub_topology => Some(supplier()),
                _ => None,
            })
            .collect();
        Task {
            id,
            topology: self.inner.clone(),
            processors,
            pending: Vec::new(),
            forwarded: Vec::new(),
        }
    }

    /// A text description (Kafka's `TopologyDescription`): sub-topologies, their nodes and
    /// children, stores.
    pub fn describe(&self) -> String {
        let inner = &self.inner;
        let mut out = format!("Topology {}:\n", inner.application_id);
        for sub in &inner.sub_topologies {
            out.push_str(&format!("  Sub-topology: {}\n", sub.id));
            for (index, node) in inner.nodes.iter().enumerate() {
                if inner.node_sub_topology[index] != sub.id {
                    continue;
                }
                let what = match &node.kind {
                    NodeKind::Source { topic } => format!("(topic: {topic})"),
                    NodeKind::Sink { topic } => format!("(topic: {topic})"),
                    NodeKind::Processor { stores, .. } => format!("(stores: {stores:?})"),
                };
                let children: Vec<&str> = node
                    .children
                    .iter()
                    .map(|&c| inner.nodes[c].name.as_str())
                    .collect();
                out.push_str(&format!(
                    "    {} {what} --> {}\n",
                    node.name,
                    if children.is_empty() {
                        "none".to_string()
                    } else {
                        children.join(", ")
                    }
                ));
            }
        }
        for store in &inner.stores {
            out.push_str(&format!(
                "  Store {} (changelog {}, sub-topology {})\n",
                store.name, store.changelog_topic, store.sub_topology
            ));
        }
        out
    }
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The verifier's checks of the outputs the DSL vouches for, in the order they were
/// declared; a topic with more than one writer is not checked (its records interleave).
fn aggregate_spec(application_id: &str, state: &BuilderState) -> AggregateSpec {
    let writers = |topic: &TopicRef| {
        state
            .nodes
            .iter()
            .filter(|n| matches!(&n.kind, NodeKind::Sink { topic: t } if t == topic))
            .count()
    };
    let mut spec = AggregateSpec::for_layout(super::record::LAYOUT);
    for (input, output, kind) in &state.checks {
        if writers(output) == 1 {
            spec = spec.check(
                &input.resolve(application_id),
                &output.resolve(application_id),
                *kind,
                application_id,
            );
        }
    }
    spec
}

fn resolve_node(node: &Node<TopicRef>, application_id: &str) -> Node<String> {
    let kind = match &node.kind {
        NodeKind::Source { topic } => NodeKind::Source {
            topic: topic.resolve(application_id),
        },
        NodeKind::Sink { topic } => NodeKind::Sink {
            topic: topic.resolve(application_id),
        },
        NodeKind::Processor { supplier, stores } => NodeKind::Processor {
            supplier: supplier.clone(),
            stores: stores.clone(),
        },
    };
    Node {
        name: node.name.clone(),
        kind,
        children: node.children.clone(),
    }
}

/// Connected components over parent → child edges and shared stores (Kafka's node groups),
/// numbered by their first node.
fn sub_topology_of_nodes(nodes: &[Node<String>]) -> Vec<u32> {
    let mut parent: Vec<usize> = (0..nodes.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    fn union(parent: &mut [usize], a: usize, b: usize) {
        let (ra, rb) = (root(parent, a), root(parent, b));
        // The smaller index is the root, so numbering by root follows creation order.
        parent[ra.max(rb)] = ra.min(rb);
    }
    let mut store_owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, node) in nodes.iter().enumerate() {
        for &child in &node.children {
            union(&mut parent, index, child);
        }
        if let NodeKind::Processor { stores, .. } = &node.kind {
            for store in stores {
                let owner = *store_owner.entry(store).or_insert(index);
                union(&mut parent, owner, index);
            }
        }
    }
    let mut numbers: BTreeMap<usize, u32> = BTreeMap::new();
    (0..nodes.len())
        .map(|i| {
            let r = root(&mut parent, i);
            let next = numbers.len() as u32;
            *numbers.entry(r).or_insert(next)
        })
        .collect()
}

fn describe_sub_topology(id: u32, nodes: &[Node<String>], sub_of: &[u32]) -> SubTopology {
    let mut sub = SubTopology {
        id,
        source_topics: Vec::new(),
        sink_topics: Vec::new(),
        stores: Vec::new(),
    };
    for (node, _) in nodes.iter().zip(sub_of).filter(|&(_, &s)| s == id) {
        match &node.kind {
            NodeKind::Source { topic } => sub.source_topics.push(topic.clone()),
            NodeKind::Sink { topic } => sub.sink_topics.push(topic.clone()),
            NodeKind::Processor { stores, .. } => sub.stores.extend(stores.iter().cloned()),
        }
    }
    for list in [
        &mut sub.source_topics,
        &mut sub.sink_topics,
        &mut sub.stores,
    ] {
        list.sort();
        list.dedup();
    }
    assert!(
        !sub.source_topics.is_empty(),
        "sub-topology {id} reads no topic (every stream starts at a source)"
    );
    sub
}

/// A sub-topology that writes a topic it reads would feed itself forever.
fn assert_no_cycles(subs: &[SubTopology]) {
    for sub in subs {
        for topic in &sub.sink_topics {
            assert!(
                !sub.source_topics.contains(topic),
                "sub-topology {} both reads and writes topic {topic}",
                sub.id
            );
        }
    }
}

/// One sub-topology's processors for one partition. Processor state (if a user processor
/// keeps any) lives here; store state lives in the `StateStores` passed to `process`.
pub struct Task {
    id: TaskId,
    topology: Arc<TopologyInner>,
    /// The processor of each node of this sub-topology (`None`: another sub-topology's
    /// node, a source or a sink).
    processors: Vec<Option<Box<dyn Processor>>>,
    /// `process`'s work lists, kept empty between records so that each record reuses their
    /// room instead of allocating its own.
    pending: Vec<(usize, StreamRecord)>,
    forwarded: Vec<StreamRecord>,
}

impl Task {
    pub fn id(&self) -> TaskId {
        self.id
    }

    fn sub_topology(&self) -> &SubTopology {
        &self.topology.sub_topologies[self.id.sub_topology as usize]
    }

    /// The topics this task reads (partition `id().partition` of each).
    pub fn source_topics(&self) -> &[String] {
        &self.sub_topology().source_topics
    }

    /// The stores this task writes, with their changelog topics.
    pub fn stores(&self) -> Vec<&StoreSpec> {
        let id = self.id.sub_topology;
        self.topology
            .stores
            .iter()
            .filter(|s| s.sub_topology == id)
            .collect()
    }

    /// Processes one record read from `topic`: runs it depth-first through the processor
    /// graph, applying store writes to `stores` as it goes. Returns the records to send and
    /// the store updates to log, both in order. Panics if the task does not read `topic`.
    pub fn process(
        &mut self,
        topic: &str,
        record: StreamRecord,
        stores: &mut dyn StateStores,
    ) -> ProcessOutput {
        let mut output = ProcessOutput::default();
        self.process_into(topic, record, stores, &mut output);
        output
    }

    /// `process`, adding the records to send and the store updates to `output`'s (a runtime
    /// that processes many records reuses one output's room).
    pub fn process_into(
        &mut self,
        topic: &str,
        record: StreamRecord,
        stores: &mut dyn StateStores,
        output: &mut ProcessOutput,
    ) {
        let source = self.source_node(&self.topology, topic);
        // The fields apart: the topology is read while processors run (no count taken on
        // it per record).
        let Task {
            id,
            topology,
            processors,
            pending: spare_pending,
            forwarded: spare_forwarded,
        } = self;
        let topology: &TopologyInner = topology;
        // (node, record) still to run, last first: children are pushed in reverse so the
        // first child runs (with everything it forwards) before the second.
        let mut pending = std::mem::take(spare_pending);
        pending.clear(); // a processor that panicked may have left some
        push_children(&mut pending, &topology.nodes[source].children, &[record]);
        while let Some((index, record)) = pending.pop() {
            let node = &topology.nodes[index];
            match &node.kind {
                NodeKind::Source { .. } => {
                    unreachable!("source {} has a parent", node.name)
                }
                NodeKind::Sink { topic } => output.sends.push(SinkRecord {
                    topic: topic.clone(),
                    record,
                }),
                NodeKind::Processor {
                    stores: connected, ..
                } => {
                    let processor = processors[index]
                        .as_mut()
                        .unwrap_or_else(|| panic!("task {} has no processor {}", id, node.name));
                    let mut ctx = ProcessorContext {
                        task: *id,
                        topic,
                        input_id: record.input_id,
                        processor: &node.name,
                        connected,
                        stores: &mut *stores,
                        updates: &mut output.store_updates,
                        forwarded: std::mem::take(spare_forwarded),
                    };
                    processor.process(record, &mut ctx);
                    let mut forwarded = std::mem::take(&mut ctx.forwarded);
                    push_children(&mut pending, &node.children, &forwarded);
                    forwarded.clear();
                    *spare_forwarded = forwarded;
                }
            }
        }
        *spare_pending = pending;
    }

    fn source_node(&self, topology: &TopologyInner, topic: &str) -> usize {
        topology
            .nodes
            .iter()
            .zip(&topology.node_sub_topology)
            .position(|(n, &sub)| {
                sub == self.id.sub_topology
                    && matches!(&n.kind, NodeKind::Source { topic: t } if t == topic)
            })
            .unwrap_or_else(|| {
                panic!(
                    "task {} reads {:?}, not {topic}",
                    self.id,
                    self.source_topics()
                )
            })
    }
}

/// Queues every record for every child, so that popping runs them record by record, each
/// record through the children in order.
fn push_children(
    pending: &mut Vec<(usize, StreamRecord)>,
    children: &[usize],
    records: &[StreamRecord],
) {
    for &record in records.iter().rev() {
        for &child in children.iter().rev() {
            pending.push((child, record));
        }
    }
}

#[cfg(test)]
mod tests;
