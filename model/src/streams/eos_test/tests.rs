use std::collections::BTreeMap;

use super::*;
use crate::streams::record::Pack;
use crate::streams::topology::testing::TopologyTestDriver;
use checker::anomaly::Divergence;
use checker::history::{CommittedOffset, FinalLog, History, LogEntry, RecordStatus};
use checker::{Anomaly, AnomalyKind, check_aggregates};

fn generate(seed: u64, count: usize) -> Vec<GeneratedRecord> {
    EosTestGenerator::new().generate(&mut sim::rng::stream(seed, "eos-test"), count)
}

/// Runs `topology` over `inputs` of `topic` (5 partitions) in the test driver.
fn drive(topology: Topology, topic: &str, inputs: &[GeneratedRecord]) -> TopologyTestDriver {
    let mut d = TopologyTestDriver::new(topology, PARTITIONS);
    for g in inputs {
        d.pipe_input_to(topic, g.partition, g.record);
    }
    d
}

/// The ground truth of a clean run: `topics` as the driver wrote them, every record
/// committed, and the group's offsets at the end of each of `inputs`.
fn history_of(d: &TopologyTestDriver, topics: &[&str], inputs: &[&str], group: &str) -> History {
    let mut h = History::default();
    for topic in topics {
        for partition in 0..PARTITIONS {
            let records = d.output_partition(topic, partition);
            h.final_logs.push(final_log(topic, partition, &records));
        }
    }
    for topic in inputs {
        for partition in 0..PARTITIONS {
            h.committed_offsets.push(CommittedOffset {
                group: group.into(),
                topic: (*topic).into(),
                partition,
                offset: d.output_partition(topic, partition).len() as u64,
            });
        }
    }
    h
}

fn final_log(topic: &str, partition: u32, records: &[StreamRecord]) -> FinalLog {
    FinalLog {
        topic: topic.into(),
        partition,
        records: records
            .iter()
            .enumerate()
            .map(|(offset, r)| LogEntry {
                offset: offset as u64,
                value: r.pack(),
                producer_id: 1,
                status: RecordStatus::Committed,
            })
            .collect(),
    }
}

#[test]
fn the_generator_is_a_function_of_its_rng() {
    let a = generate(7, 500);
    assert_eq!(a, generate(7, 500));
    assert_ne!(a, generate(8, 500));
    for (i, g) in a.iter().enumerate() {
        assert_eq!(g.record.input_id, i as u32 + 1);
        assert!(g.record.key < KEY_LIMIT);
        assert!((0..VALUE_LIMIT).contains(&g.record.value));
        assert!(g.pause_ms < MAX_PAUSE_MS);
        assert_eq!(g.partition, partition_for_key(g.record.key, PARTITIONS));
    }
    let few = EosTestGenerator::new()
        .with_keys(3)
        .with_partitions(2)
        .generate(&mut sim::rng::stream(1, "eos-test"), 100);
    assert!(few.iter().all(|g| g.record.key < 3 && g.partition < 2));
}

#[test]
#[should_panic(expected = "keys must be in 1..=4096, not 0")]
fn zero_keys_panics() {
    let _ = EosTestGenerator::new().with_keys(0);
}

#[test]
fn the_simple_app_restates_kafkas_verifier_partition_by_partition() {
    let inputs = generate(3, 3000);
    let d = drive(eos_test_topology(), DATA, &inputs);
    assert_eq!(eos_test_topology().sub_topologies().len(), 1);
    for p in 0..PARTITIONS {
        let data = d.output_partition(DATA, p);
        assert!(!data.is_empty());
        // echo-p is data-p; min-p and sum-p have one update per data-p record, same key.
        assert_eq!(d.output_partition(ECHO, p), data);
        for topic in [MIN, SUM] {
            let out = d.output_partition(topic, p);
            let keys: Vec<(u32, Key)> = out.iter().map(|r| (r.input_id, r.key)).collect();
            let due: Vec<(u32, Key)> = data.iter().map(|r| (r.input_id, r.key)).collect();
            assert_eq!(keys, due, "{topic}-{p}");
        }
    }
    let h = history_of(&d, &[DATA, ECHO, MIN, SUM], &[DATA], APPLICATION_ID);
    assert_eq!(check_aggregates(&h, &eos_test_spec(false)), vec![]);
}

#[test]
fn the_complex_app_passes_the_complex_verifier() {
    let inputs = generate(4, 3000);
    let d = drive(eos_test_complex_topology(), DATA, &inputs);
    let topology = eos_test_complex_topology();
    assert_eq!(topology.sub_topologies().len(), 2);
    assert_eq!(topology.source_topics(), [DATA, REPARTITION]);
    let h = history_of(
        &d,
        &[DATA, ECHO, MIN, SUM, REPARTITION, MAX, CNT],
        &[DATA, REPARTITION],
        APPLICATION_ID,
    );
    assert_eq!(check_aggregates(&h, &eos_test_spec(true)), vec![]);
    // Brute force over the whole input: the last count and max per key.
    let mut count: BTreeMap<Key, Value> = BTreeMap::new();
    let mut max: BTreeMap<Key, Value> = BTreeMap::new();
    for g in &inputs {
        *count.entry(g.record.key).or_default() += 1;
        let m = max.entry(g.record.key).or_insert(i32::MIN);
        *m = (*m).max(g.record.value);
    }
    for (&key, &c) in &count {
        assert_eq!(d.store_value(CNT, key), Some(c));
        assert_eq!(d.store_value(MAX, key), Some(max[&key]));
    }
}

#[test]
fn re_processing_an_input_is_caught_by_the_verifier() {
    // At-least-once after a crash: the task processes input #10 again against state that
    // already holds it (the data topic itself holds it once).
    let inputs = generate(5, 200);
    let mut replayed = inputs.clone();
    let again = inputs[9];
    replayed.insert(
        inputs
            .iter()
            .rposition(|g| g.partition == again.partition)
            .unwrap()
            + 1,
        again,
    );
    let d = drive(eos_test_topology(), DATA, &replayed);
    let mut h = history_of(&d, &[ECHO, MIN, SUM], &[], APPLICATION_ID);
    let clean = drive(eos_test_topology(), DATA, &inputs);
    let truth = history_of(&clean, &[DATA], &[DATA], APPLICATION_ID);
    h.final_logs.extend(truth.final_logs);
    h.committed_offsets = truth.committed_offsets;
    let found = check_aggregates(&h, &eos_test_spec(false));
    let kinds: Vec<(AnomalyKind, String)> = found
        .iter()
        .map(|a| {
            let topic = match a {
                Anomaly::WrongAggregate(w) => w.output_topic.clone(),
                Anomaly::OutputCountMismatch(m) => m.output_topic.clone(),
                _ => unreachable!(),
            };
            (a.kind(), topic)
        })
        .collect();
    // Each output has one record too many at the end; the sum counts input #10 twice.
    let count = AnomalyKind::OutputCountMismatch;
    let wrong = AnomalyKind::WrongAggregate;
    assert_eq!(
        kinds,
        [
            (count, ECHO.to_string()),
            (count, MIN.to_string()),
            (count, SUM.to_string()),
        ]
    );
    for a in &found {
        if let Anomaly::OutputCountMismatch(m) = a {
            assert_eq!(m.repeated_inputs, [10], "{}", m.explain());
        }
    }
    // Replayed earlier (mid-partition): the sum diverges at the replay, and says how.
    let mut replayed = inputs.clone();
    let at = inputs
        .iter()
        .position(|g| g.partition == again.partition && g.record.input_id > 10)
        .unwrap();
    replayed.insert(at, again);
    let d = drive(eos_test_topology(), DATA, &replayed);
    let mut h = history_of(&d, &[SUM], &[], APPLICATION_ID);
    h.final_logs
        .extend(history_of(&clean, &[DATA], &[], APPLICATION_ID).final_logs);
    h.committed_offsets = history_of(&clean, &[], &[DATA], APPLICATION_ID).committed_offsets;
    let spec = AggregateSpec::new().check(DATA, SUM, AggregateKind::Sum, APPLICATION_ID);
    let found = check_aggregates(&h, &spec);
    assert_eq!(
        found.iter().map(Anomaly::kind).collect::<Vec<_>>(),
        [count, wrong]
    );
    let Anomaly::WrongAggregate(w) = &found[1] else {
        unreachable!()
    };
    assert!(
        matches!(w.divergence, Divergence::Reprocessed { .. }),
        "{}",
        w.explain()
    );
    assert_eq!(w.actual.input_id, 10);
}

#[test]
fn lines_encode_up_to_four_vocabulary_words() {
    let line = encode_line(&["hello", "kafka", "hello", "streams"]);
    assert_eq!(decode_line(line), [5, 4, 5, 1]);
    assert_eq!(line_text(line), "hello kafka hello streams");
    assert_eq!(decode_line(encode_line(&[])), Vec::<Key>::new());
    assert_eq!(word_key("once"), Some(10));
    assert_eq!(word_key("nope"), None);
    // The top byte's high bit makes the value negative; decoding does not care.
    let mut words = ["all"; 4];
    words[3] = VOCABULARY[15];
    assert_eq!(decode_line(encode_line(&words)), [0, 0, 0, 15]);
}

#[test]
#[should_panic(expected = "\"gibberish\" is not in the vocabulary")]
fn an_unknown_word_panics() {
    encode_line(&["gibberish"]);
}

#[test]
fn word_count_counts_every_word_through_a_repartition() {
    let topology = word_count_topology();
    assert_eq!(
        topology.sub_topologies().len(),
        2,
        "{}",
        topology.describe()
    );
    assert_eq!(
        topology.internal_topics(),
        ["wordcount-counts-changelog", "wordcount-counts-repartition"]
    );
    let mut generator = LineGenerator::new();
    let mut rng = sim::rng::stream(9, "lines");
    let lines: Vec<GeneratedRecord> = (0..500).map(|_| generator.next_line(&mut rng)).collect();
    let d = drive(topology, LINES, &lines);
    // The talk's example, by brute force: the final count of each word.
    let mut counts: BTreeMap<Key, Value> = BTreeMap::new();
    for g in &lines {
        for word in decode_line(g.record.value) {
            *counts.entry(word).or_default() += 1;
        }
    }
    let mut last: BTreeMap<Key, Value> = BTreeMap::new();
    for r in d.output(WORD_COUNTS) {
        let previous = last.insert(r.key, r.value).unwrap_or(0);
        assert_eq!(r.value, previous + 1, "counts of a word go up one by one");
    }
    assert_eq!(last, counts);
    // Word records stay unique per partition even when a line repeats a word.
    let words = "wordcount-counts-repartition";
    for p in 0..PARTITIONS {
        let mut packed: Vec<u64> = d
            .output_partition(words, p)
            .iter()
            .map(|r| r.pack())
            .collect();
        let n = packed.len();
        packed.sort();
        packed.dedup();
        assert_eq!(packed.len(), n);
    }
    let h = history_of(
        &d,
        &[words, WORD_COUNTS],
        &[words],
        WORD_COUNT_APPLICATION_ID,
    );
    assert_eq!(check_aggregates(&h, &word_count_spec()), vec![]);
}

#[test]
fn the_talks_sentence_counts_hello_twice() {
    let mut d = TopologyTestDriver::new(word_count_topology(), 1);
    d.pipe_input(
        LINES,
        StreamRecord::new(1, 0, encode_line(&["hello", "world"])),
    );
    d.pipe_input(
        LINES,
        StreamRecord::new(2, 0, encode_line(&["hello", "kafka"])),
    );
    let counts: Vec<(&str, Value)> = d
        .output(WORD_COUNTS)
        .iter()
        .map(|r| (VOCABULARY[r.key as usize], r.value))
        .collect();
    assert_eq!(
        counts,
        [("hello", 1), ("world", 1), ("hello", 2), ("kafka", 1)]
    );
}

#[test]
fn the_spec_derived_from_the_dsl_is_kafkas_verifier() {
    // The hand-written specs restate EosTestDriver.verify; the topologies derive theirs.
    assert_eq!(eos_test_topology().aggregate_spec(), &eos_test_spec(false));
    assert_eq!(
        eos_test_complex_topology().aggregate_spec(),
        &eos_test_spec(true)
    );
    assert_eq!(word_count_topology().aggregate_spec(), &word_count_spec());
}
