//! An in-memory, single-threaded executor for topologies (Kafka's `TopologyTestDriver`):
//! pipe input records, read output topics, stores and changelogs. No cluster, no faults, no
//! transactions: every record is processed exactly once, so what it produces is the
//! reference a faulty run's committed output must equal.

use std::collections::{BTreeMap, VecDeque};

use super::{MemStores, StateStores, TaskId, Topology};
use crate::streams::record::{Key, StreamRecord, Value, partition_for_key};

/// Runs a topology over in-memory topics that all have the same partition count.
pub struct TopologyTestDriver {
    topology: Topology,
    partitions: u32,
    /// Every record written to each topic, per partition, in order.
    topics: BTreeMap<String, Vec<Vec<StreamRecord>>>,
    /// Tasks created on first use, with their stores.
    tasks: BTreeMap<TaskId, (super::Task, MemStores)>,
}

impl TopologyTestDriver {
    /// A driver whose topics each have `partitions` partitions (Kafka's driver has one; more
    /// let tests see per-partition tasks and stores, as the EOS test's five).
    pub fn new(topology: Topology, partitions: u32) -> Self {
        assert!(partitions > 0, "topics have at least one partition");
        TopologyTestDriver {
            topology,
            partitions,
            topics: BTreeMap::new(),
            tasks: BTreeMap::new(),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Writes `record` to `topic`, at the partition of its key, and processes everything it
    /// causes (downstream sub-topologies included) before returning.
    pub fn pipe_input(&mut self, topic: &str, record: StreamRecord) {
        let partition = partition_for_key(record.key, self.partitions);
        self.pipe_input_to(topic, partition, record);
    }

    /// Writes `record` to partition `partition` of `topic` and processes what it causes.
    pub fn pipe_input_to(&mut self, topic: &str, partition: u32, record: StreamRecord) {
        assert!(
            partition < self.partitions,
            "partition {partition} of {topic}: topics have {} partitions",
            self.partitions
        );
        // Records written but not yet processed by their readers, first in first out.
        let mut queue = VecDeque::new();
        self.append(topic, partition, record, &mut queue);
        while let Some((topic, partition, record)) = queue.pop_front() {
            self.process(&topic, partition, record, &mut queue);
        }
    }

    /// `pipe_input` for each record, in order.
    pub fn pipe_inputs(&mut self, topic: &str, records: impl IntoIterator<Item = StreamRecord>) {
        for record in records {
            self.pipe_input(topic, record);
        }
    }

    fn append(
        &mut self,
        topic: &str,
        partition: u32,
        record: StreamRecord,
        queue: &mut VecDeque<(String, u32, StreamRecord)>,
    ) {
        let partitions = self.partitions as usize;
        self.topics
            .entry(topic.to_string())
            .or_insert_with(|| vec![Vec::new(); partitions])[partition as usize]
            .push(record);
        if self.topology.sub_topology_reading(topic).is_some() {
            queue.push_back((topic.to_string(), partition, record));
        }
    }

    fn process(
        &mut self,
        topic: &str,
        partition: u32,
        record: StreamRecord,
        queue: &mut VecDeque<(String, u32, StreamRecord)>,
    ) {
        let sub_topology = self
            .topology
            .sub_topology_reading(topic)
            .expect("only records of source topics are queued");
        let id = TaskId {
            sub_topology,
            partition,
        };
        let topology = &self.topology;
        let (task, stores) = self
            .tasks
            .entry(id)
            .or_insert_with(|| (topology.create_task(id), MemStores::new()));
        let output = task.process(topic, record, stores);
        let changelogs: BTreeMap<String, String> = task
            .stores()
            .iter()
            .map(|s| (s.name.clone(), s.changelog_topic.clone()))
            .collect();
        for update in &output.store_updates {
            let changelog = &changelogs[&update.store];
            self.append(changelog, partition, update.changelog_record(), queue);
        }
        for send in &output.sends {
            let partition = send.partition(self.partitions);
            self.append(&send.topic, partition, send.record, queue);
        }
    }

    /// Everything written to `topic`, partition by partition (empty if nothing was).
    pub fn output(&self, topic: &str) -> Vec<StreamRecord> {
        self.topics
            .get(topic)
            .map(|partitions| partitions.concat())
            .unwrap_or_default()
    }

    /// Everything written to partition `partition` of `topic`.
    pub fn output_partition(&self, topic: &str, partition: u32) -> Vec<StreamRecord> {
        self.topics
            .get(topic)
            .map(|partitions| partitions[partition as usize].clone())
            .unwrap_or_default()
    }

    /// The value of `key` in `store`, from whichever task holds it (panics if several do:
    /// keys are partitioned, so one task owns each).
    pub fn store_value(&self, store: &str, key: Key) -> Option<Value> {
        let holders: Vec<(TaskId, Value)> = self
            .tasks
            .iter()
            .filter_map(|(&id, (_, stores))| stores.get(store, key).map(|v| (id, v)))
            .collect();
        assert!(
            holders.len() <= 1,
            "key {key} of store {store} is held by several tasks: {holders:?}"
        );
        holders.first().map(|&(_, v)| v)
    }

    /// The stores of task `id` (empty if it never ran).
    pub fn stores(&self, id: TaskId) -> MemStores {
        self.tasks
            .get(&id)
            .map(|(_, stores)| stores.clone())
            .unwrap_or_default()
    }

    /// Task `id`'s stores rebuilt from their changelog partitions: what a restoring task
    /// would start from. Equal to `stores(id)` when the changelog is complete.
    pub fn restored_stores(&self, id: TaskId) -> MemStores {
        let mut restored = MemStores::new();
        for store in self
            .topology
            .stores()
            .iter()
            .filter(|s| s.sub_topology == id.sub_topology)
        {
            restored.restore(
                store,
                self.output_partition(&store.changelog_topic, id.partition),
            );
        }
        restored
    }
}
