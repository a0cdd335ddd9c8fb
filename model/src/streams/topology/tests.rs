use super::testing::TopologyTestDriver;
use super::*;
use crate::streams::record::Pack;

fn rec(input_id: u32, key: Key, value: Value) -> StreamRecord {
    StreamRecord::new(input_id, key, value)
}

fn values(records: &[StreamRecord]) -> Vec<(Key, Value)> {
    records.iter().map(|r| (r.key, r.value)).collect()
}

/// Kafka's EOS test topology, complex variant, written out here as the DSL's showcase.
fn eos_complex() -> Topology {
    let b = TopologyBuilder::new();
    let data = b.stream("data");
    data.to("echo");
    let grouped = data.group_by_key();
    grouped.min("min").to_stream().to("min");
    grouped.sum("sum").to_stream().to("sum");
    let repartitioned = data.through("repartition").group_by_key();
    repartitioned.max("max").to_stream().to("max");
    repartitioned.count("cnt").to_stream().to("cnt");
    b.build("EosTest")
}

#[test]
fn the_complex_eos_topology_has_two_sub_topologies_and_four_changelogged_stores() {
    let t = eos_complex();
    assert_eq!(t.application_id(), "EosTest");
    let subs = t.sub_topologies();
    assert_eq!(subs.len(), 2, "{}", t.describe());
    assert_eq!(subs[0].source_topics, ["data"]);
    assert_eq!(subs[0].sink_topics, ["echo", "min", "repartition", "sum"]);
    assert_eq!(subs[0].stores, ["min", "sum"]);
    assert_eq!(subs[1].source_topics, ["repartition"]);
    assert_eq!(subs[1].sink_topics, ["cnt", "max"]);
    assert_eq!(subs[1].stores, ["cnt", "max"]);
    assert_eq!(t.source_topics(), ["data", "repartition"]);
    assert_eq!(
        t.sink_topics(),
        ["cnt", "echo", "max", "min", "repartition", "sum"]
    );
    let stores: Vec<(&str, &str, u32)> = t
        .stores()
        .iter()
        .map(|s| (s.name.as_str(), s.changelog_topic.as_str(), s.sub_topology))
        .collect();
    assert_eq!(
        stores,
        [
            ("min", "EosTest-min-changelog", 0),
            ("sum", "EosTest-sum-changelog", 0),
            ("max", "EosTest-max-changelog", 1),
            ("cnt", "EosTest-cnt-changelog", 1),
        ]
    );
    assert!(t.repartition_topics().is_empty());
    assert_eq!(
        t.internal_topics(),
        [
            "EosTest-cnt-changelog",
            "EosTest-max-changelog",
            "EosTest-min-changelog",
            "EosTest-sum-changelog"
        ]
    );
    assert_eq!(t.sub_topology_reading("repartition"), Some(1));
    assert_eq!(t.sub_topology_reading("echo"), None);
    let text = t.describe();
    assert!(text.contains("Sub-topology: 1"), "{text}");
    assert!(
        text.contains("KSTREAM-SOURCE-0000000000 (topic: data)"),
        "{text}"
    );
}

#[test]
fn echo_min_sum_max_cnt_follow_each_key_input_by_input() {
    let mut d = TopologyTestDriver::new(eos_complex(), 1);
    d.pipe_inputs(
        "data",
        [
            rec(1, 7, 5),
            rec(2, 8, 9),
            rec(3, 7, 3),
            rec(4, 7, 4),
            rec(5, 8, 1),
        ],
    );
    assert_eq!(
        values(&d.output("echo")),
        [(7, 5), (8, 9), (7, 3), (7, 4), (8, 1)]
    );
    assert_eq!(
        values(&d.output("min")),
        [(7, 5), (8, 9), (7, 3), (7, 3), (8, 1)]
    );
    assert_eq!(
        values(&d.output("sum")),
        [(7, 5), (8, 9), (7, 8), (7, 12), (8, 10)]
    );
    assert_eq!(
        values(&d.output("max")),
        [(7, 5), (8, 9), (7, 5), (7, 5), (8, 9)]
    );
    assert_eq!(
        values(&d.output("cnt")),
        [(7, 1), (8, 1), (7, 2), (7, 3), (8, 2)]
    );
    // Every update carries the input that caused it.
    let ids: Vec<u32> = d.output("cnt").iter().map(|r| r.input_id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    assert_eq!(d.store_value("sum", 7), Some(12));
    assert_eq!(d.store_value("cnt", 8), Some(2));
    assert_eq!(d.store_value("cnt", 9), None);
}

#[test]
fn changelogs_log_every_store_write_and_restore_the_stores() {
    let mut d = TopologyTestDriver::new(eos_complex(), 3);
    for id in 1..=60u32 {
        d.pipe_input("data", rec(id, (id % 7) as Key, (id * 37 % 101) as Value));
    }
    for sub_topology in 0..2 {
        for partition in 0..3 {
            let id = TaskId {
                sub_topology,
                partition,
            };
            assert_eq!(d.restored_stores(id), d.stores(id), "task {id}");
        }
    }
    // One changelog record per input per store, unique per partition.
    for store in ["min", "sum", "max", "cnt"] {
        let log = d.output(&format!("EosTest-{store}-changelog"));
        assert_eq!(log.len(), 60, "{store}");
        let mut packed: Vec<u64> = log.iter().map(|r| r.pack()).collect();
        packed.sort();
        packed.dedup();
        assert_eq!(packed.len(), 60, "{store}");
    }
}

#[test]
fn a_changed_key_is_repartitioned_before_grouping() {
    let b = TopologyBuilder::new();
    b.stream("in")
        .map(|k, v| (k % 2, v))
        .group_by_key()
        .sum("parity-sum")
        .to_stream()
        .to("out");
    let t = b.build("app");
    assert_eq!(t.sub_topologies().len(), 2, "{}", t.describe());
    assert_eq!(t.repartition_topics(), ["app-parity-sum-repartition"]);
    assert_eq!(
        t.internal_topics(),
        ["app-parity-sum-changelog", "app-parity-sum-repartition"]
    );
    assert_eq!(
        t.sub_topologies()[1].source_topics,
        ["app-parity-sum-repartition"]
    );
    let mut d = TopologyTestDriver::new(t, 4);
    d.pipe_inputs("in", [rec(1, 3, 10), rec(2, 4, 20), rec(3, 5, 1)]);
    let mut out = values(&d.output("out"));
    out.sort();
    assert_eq!(out, [(0, 20), (1, 10), (1, 11)]);
    // Without a key change there is no repartition.
    let b = TopologyBuilder::new();
    b.stream("in")
        .map_values(|v| v * 2)
        .filter(|_, v| v > 0)
        .group_by_key()
        .count("c")
        .to_stream()
        .to("out");
    assert_eq!(b.build("app").sub_topologies().len(), 1);
}

#[test]
fn group_by_and_explicit_repartition_name_their_topics() {
    let b = TopologyBuilder::new();
    let s = b.stream("in");
    s.group_by(|_, v| (v % 3) as Key)
        .reduce("r", |a, v| a.max(v))
        .to_stream()
        .to("out");
    s.repartition().to("copy");
    let t = b.build("app");
    assert_eq!(
        t.repartition_topics(),
        [
            "app-KSTREAM-REPARTITION-0000000006-repartition",
            "app-r-repartition"
        ]
    );
    assert_eq!(t.sub_topologies().len(), 3, "{}", t.describe());
    let mut d = TopologyTestDriver::new(t, 1);
    d.pipe_inputs("in", [rec(1, 0, 4), rec(2, 0, 7), rec(3, 0, 1)]);
    // Keys 4 % 3 = 1, 7 % 3 = 1, 1 % 3 = 1: a running max of 4, 7, 1.
    assert_eq!(values(&d.output("out")), [(1, 4), (1, 7), (1, 7)]);
    assert_eq!(values(&d.output("copy")), [(0, 4), (0, 7), (0, 1)]);
}

#[test]
fn stateless_operators_keep_lineage_and_order() {
    let b = TopologyBuilder::new();
    let s = b.stream("in");
    s.filter(|k, _| k != 0)
        .map_values(|v| v + 1)
        .flat_map_values(|v| vec![v, -v])
        .to("a");
    s.flat_map(|k, v| (0..k).map(|i| (i, v)).collect())
        .select_key(|k, _| k + 100)
        .to("b");
    let mut d = TopologyTestDriver::new(b.build("app"), 1);
    d.pipe_inputs("in", [rec(1, 0, 10), rec(2, 2, 20)]);
    assert_eq!(d.output("a"), [rec(2, 2, 21), rec(2, 2, -21)]);
    assert_eq!(d.output("b"), [rec(2, 100, 20), rec(2, 101, 20)]);
}

#[test]
fn one_record_runs_depth_first_through_branches_in_order() {
    let b = TopologyBuilder::new();
    let s = b.stream("in").flat_map_values(|v| vec![v, v + 1]);
    s.to("x");
    s.map_values(|v| v * 10).to("x");
    let t = b.build("app");
    let mut task = t.create_task(TaskId {
        sub_topology: 0,
        partition: 0,
    });
    let out = task.process("in", rec(1, 0, 1), &mut MemStores::new());
    let sent: Vec<Value> = out.sends.iter().map(|s| s.record.value).collect();
    // Record 1 through both branches, then record 2.
    assert_eq!(sent, [1, 10, 2, 20]);
    assert!(out.store_updates.is_empty());
}

/// A user processor: forwards a record only if its value beats the key's best so far,
/// keeping the best in a store and a count of suppressed records in the processor itself.
struct NewHighs {
    suppressed: u32,
}

impl Processor for NewHighs {
    fn process(&mut self, record: StreamRecord, ctx: &mut ProcessorContext<'_>) {
        let best = ctx.get("highs", record.key);
        if best.is_none_or(|b| record.value > b) {
            ctx.put("highs", record.key, record.value);
            ctx.forward(record);
        } else {
            self.suppressed += 1;
            ctx.forward(record.with_value(-(self.suppressed as Value)));
        }
    }
}

#[test]
fn user_processors_use_their_stores_and_context() {
    let b = TopologyBuilder::new();
    b.stream("in")
        .process("new-highs", || NewHighs { suppressed: 0 }, &["highs"])
        .to("out");
    let t = b.build("app");
    assert_eq!(t.stores()[0].changelog_topic, "app-highs-changelog");
    let mut task = t.create_task(TaskId {
        sub_topology: 0,
        partition: 2,
    });
    assert_eq!(task.id().to_string(), "0_2");
    assert_eq!(task.source_topics(), ["in"]);
    assert_eq!(task.stores()[0].name, "highs");
    let mut stores = MemStores::new();
    let out: Vec<ProcessOutput> = [rec(1, 5, 3), rec(2, 5, 2), rec(3, 5, 8)]
        .into_iter()
        .map(|r| task.process("in", r, &mut stores))
        .collect();
    let sent: Vec<StreamRecord> = out
        .iter()
        .flat_map(|o| o.sends.iter().map(|s| s.record))
        .collect();
    assert_eq!(sent, [rec(1, 5, 3), rec(2, 5, -1), rec(3, 5, 8)]);
    let updates: Vec<StoreUpdate> = out.into_iter().flat_map(|o| o.store_updates).collect();
    assert_eq!(
        updates,
        [
            StoreUpdate {
                store: "highs".into(),
                key: 5,
                value: 3,
                input_id: 1
            },
            StoreUpdate {
                store: "highs".into(),
                key: 5,
                value: 8,
                input_id: 3
            },
        ]
    );
    assert_eq!(updates[1].changelog_record(), rec(3, 5, 8));
    assert_eq!(stores.store("highs"), BTreeMap::from([(5, 8)]));
}

struct Snoop;

impl Processor for Snoop {
    fn process(&mut self, record: StreamRecord, ctx: &mut ProcessorContext<'_>) {
        ctx.get("other", record.key);
    }
}

#[test]
#[should_panic(expected = "processor snoop used store other, which it is not connected to")]
fn a_processor_using_a_store_it_is_not_connected_to_panics() {
    let b = TopologyBuilder::new();
    b.stream("in").process("snoop", || Snoop, &[]);
    b.stream("in2").group_by_key().count("other");
    let t = b.build("app");
    let mut task = t.create_task(TaskId {
        sub_topology: 0,
        partition: 0,
    });
    task.process("in", rec(1, 1, 1), &mut MemStores::new());
}

#[test]
#[should_panic(expected = "reads [\"in\"], not out")]
fn processing_a_topic_the_task_does_not_read_panics() {
    let b = TopologyBuilder::new();
    b.stream("in").to("out");
    let mut task = b.build("app").create_task(TaskId {
        sub_topology: 0,
        partition: 0,
    });
    task.process("out", rec(1, 1, 1), &mut MemStores::new());
}

#[test]
#[should_panic(expected = "store s is declared twice")]
fn two_stores_with_one_name_panic() {
    let b = TopologyBuilder::new();
    b.stream("in").group_by_key().count("s");
    b.stream("in").group_by_key().sum("s");
}

#[test]
#[should_panic(expected = "sub-topology 0 both reads and writes topic in")]
fn a_sub_topology_writing_its_own_input_panics() {
    let b = TopologyBuilder::new();
    b.stream("in").map_values(|v| v + 1).to("in");
    b.build("app");
}

#[test]
#[should_panic(expected = "sum overflows i32")]
fn an_overflowing_sum_panics() {
    let b = TopologyBuilder::new();
    b.stream("in").group_by_key().sum("s").to_stream().to("out");
    let mut d = TopologyTestDriver::new(b.build("app"), 1);
    d.pipe_inputs("in", [rec(1, 1, i32::MAX), rec(2, 1, 1)]);
}

#[test]
fn a_task_is_sendable_and_a_topology_shareable() {
    fn send<T: Send>() {}
    fn share<T: Send + Sync>() {}
    send::<Task>();
    share::<Topology>();
}

/// The Streams runtime keeps its state directory's copy of a task's stores level by copying
/// the keys written since the last save (`MemStores::copy_keys`), both store kinds.
#[test]
fn copying_the_written_keys_brings_a_copy_level() {
    let mut live = MemStores::new();
    live.put("kv", 1, 10);
    live.append("win", rec(1, 1, 5));
    let mut copy = live.clone();
    live.put("kv", 1, 11);
    live.put("kv", 2, 20);
    live.put("other", 3, 30);
    live.append("win", rec(2, 1, 6));
    live.append("win", rec(3, 4, 7));
    for (store, keys) in [("kv", &[1, 2][..]), ("other", &[3]), ("win", &[1, 4])] {
        copy.copy_keys(&live, store, keys);
    }
    assert_eq!(copy, live);
    // A key that is in neither copy stays absent; a store neither has is not made.
    copy.copy_keys(&live, "kv", &[9]);
    copy.copy_keys(&live, "none", &[1]);
    assert_eq!(copy, live);
}
