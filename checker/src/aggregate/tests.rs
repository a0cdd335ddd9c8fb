use super::*;
use crate::anomaly::AnomalyKind;
use crate::history::{CommittedOffset, FinalLog, RecordStatus};
use proptest::prelude::*;

const GROUP: &str = "EosTest";

fn rec(input_id: u32, key: u16, value: i32) -> StreamRecord {
    StreamRecord::new(input_id, key, value)
}

/// `r` packed as `layout` says: the tests' own encoder (the packing is the application's;
/// the checker only decodes).
fn encode(layout: RecordLayout, r: StreamRecord) -> u64 {
    (u64::from(r.input_id) << (32 + layout.key_bits))
        | (u64::from(r.key) << 32)
        | u64::from(r.value as u32)
}

fn pack(r: StreamRecord) -> u64 {
    encode(RecordLayout::LEGACY, r)
}

/// A final log of committed records at offsets 0, 1, 2, …
fn log(topic: &str, partition: u32, records: &[StreamRecord]) -> FinalLog {
    log_with(
        topic,
        partition,
        &records
            .iter()
            .map(|r| (*r, RecordStatus::Committed))
            .collect::<Vec<_>>(),
    )
}

fn log_with(topic: &str, partition: u32, records: &[(StreamRecord, RecordStatus)]) -> FinalLog {
    let packed: Vec<(u64, RecordStatus)> = records.iter().map(|&(r, s)| (pack(r), s)).collect();
    crate::testkit::final_log(topic, partition, &packed)
}

fn committed(topic: &str, partition: u32, offset: u64) -> CommittedOffset {
    CommittedOffset {
        group: GROUP.into(),
        topic: topic.into(),
        partition,
        offset,
    }
}

fn spec(kind: AggregateKind) -> AggregateSpec {
    AggregateSpec::new().check("data", "out", kind, GROUP)
}

/// A history with `inputs` in data-0 (all committed by the group) and `outputs` in out-0.
fn history(inputs: &[StreamRecord], outputs: &[StreamRecord]) -> History {
    History {
        final_logs: vec![log("data", 0, inputs), log("out", 0, outputs)],
        committed_offsets: vec![committed("data", 0, inputs.len() as u64)],
        ..History::default()
    }
}

/// The correct output for `inputs` under `kind`.
fn correct(kind: AggregateKind, inputs: &[StreamRecord]) -> Vec<StreamRecord> {
    expected_updates(kind, inputs)
        .iter()
        .map(|e| rec(e.input_id, e.key, i32::try_from(e.value).unwrap()))
        .collect()
}

fn kinds(found: &[Anomaly]) -> Vec<AnomalyKind> {
    found.iter().map(Anomaly::kind).collect()
}

fn wrong(found: &[Anomaly]) -> &WrongAggregate {
    found
        .iter()
        .find_map(|a| match a {
            Anomaly::WrongAggregate(w) => Some(w),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no wrong-aggregate in {found:?}"))
}

fn mismatch(found: &[Anomaly]) -> &OutputCountMismatch {
    found
        .iter()
        .find_map(|a| match a {
            Anomaly::OutputCountMismatch(m) => Some(m),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no output-count-mismatch in {found:?}"))
}

/// Keys 1 and 2 interleaved: 1:5, 2:7, 1:3, 1:9, 2:1.
fn five_inputs() -> Vec<StreamRecord> {
    vec![
        rec(1, 1, 5),
        rec(2, 2, 7),
        rec(3, 1, 3),
        rec(4, 1, 9),
        rec(5, 2, 1),
    ]
}

#[test]
fn the_legacy_layout_decodes_input_id_key_and_value() {
    // Input id 0xABCDE, key 0xFED, value -2: the hex digits line up with the fields.
    let legacy = RecordLayout::LEGACY;
    assert_eq!(
        legacy.decode(0xabcd_efed_ffff_fffe),
        rec(0xABCDE, 0xFED, -2)
    );
    assert_eq!(legacy.decode(0), rec(0, 0, 0));
    assert_eq!(
        legacy.decode(0xFFFF_FFFF_7FFF_FFFF),
        rec((1 << 20) - 1, (1 << 12) - 1, i32::MAX)
    );
    assert_eq!(legacy.lineage(7 | legacy.hop_flag), 7);
}

#[test]
fn another_layout_moves_the_key_boundary() {
    let wide_ids = RecordLayout {
        input_id_bits: 24,
        key_bits: 8,
        hop_flag: 1 << 23,
    };
    assert_eq!(
        wide_ids.decode(0xabcd_efed_ffff_fffe),
        rec(0xABCDEF, 0xED, -2)
    );
    // A malformed layout (from a history file) decodes without panicking.
    let odd = RecordLayout {
        input_id_bits: 0,
        key_bits: 64,
        hop_flag: 0,
    };
    assert_eq!(odd.decode(u64::MAX).input_id, 0);
}

#[test]
fn a_check_is_verified_with_its_own_layout_and_old_lines_read_as_legacy() {
    let layout = RecordLayout {
        input_id_bits: 24,
        key_bits: 8,
        hop_flag: 1 << 23,
    };
    // Input ids beyond 20 bits: only a 24-bit layout holds them.
    let inputs = [rec(1 << 21, 7, 5), rec((1 << 21) + 1, 7, 3)];
    let outputs = correct(AggregateKind::Sum, &inputs);
    let packed = |records: &[StreamRecord]| -> Vec<(u64, RecordStatus)> {
        let committed = |r: &StreamRecord| (encode(layout, *r), RecordStatus::Committed);
        records.iter().map(committed).collect()
    };
    let mut h = History {
        final_logs: vec![
            crate::testkit::final_log("data", 0, &packed(&inputs)),
            crate::testkit::final_log("out", 0, &packed(&outputs)),
        ],
        committed_offsets: vec![committed("data", 0, 2)],
        ..History::default()
    };
    let spec = AggregateSpec::for_layout(layout).check("data", "out", AggregateKind::Sum, GROUP);
    assert_eq!(spec.checks[0].layout, layout);
    assert_eq!(check_aggregates(&h, &spec), vec![]);
    // Decoded with the legacy layout the same records are other records.
    let legacy = AggregateSpec::new().check("data", "out", AggregateKind::Sum, GROUP);
    assert!(!check_aggregates(&h, &legacy).is_empty());
    // The history line names a layout that is not the legacy one, and reads back with it.
    h.aggregate_checks = spec.checks.clone();
    let text = h.to_jsonl();
    assert!(text.contains(r#""layout":{"input_id_bits":24,"key_bits":8,"hop_flag":8388608}"#));
    let again = History::from_jsonl(text.as_bytes(), "h.jsonl").unwrap();
    assert_eq!(again.aggregate_checks, spec.checks);
    // A legacy check writes no layout, and a line without one reads as legacy.
    h.aggregate_checks = legacy.checks.clone();
    let text = h.to_jsonl();
    assert!(text.contains(r#""group":"EosTest"}"#), "{text}");
    let again = History::from_jsonl(text.as_bytes(), "h.jsonl").unwrap();
    assert_eq!(again.aggregate_checks[0].layout, RecordLayout::LEGACY);
}

#[test]
fn running_aggregates_per_key_restate_kafkas_verifier() {
    let inputs = five_inputs();
    let values = |kind| -> Vec<i64> {
        expected_updates(kind, &inputs)
            .iter()
            .map(|e| e.value)
            .collect()
    };
    assert_eq!(values(AggregateKind::Echo), [5, 7, 3, 9, 1]);
    assert_eq!(values(AggregateKind::Min), [5, 7, 3, 3, 1]);
    assert_eq!(values(AggregateKind::Sum), [5, 7, 8, 17, 8]);
    assert_eq!(values(AggregateKind::Max), [5, 7, 5, 9, 7]);
    assert_eq!(values(AggregateKind::Count), [1, 1, 2, 3, 2]);
}

#[test]
fn correct_outputs_of_every_kind_pass() {
    let inputs = five_inputs();
    for kind in [
        AggregateKind::Echo,
        AggregateKind::Min,
        AggregateKind::Sum,
        AggregateKind::Max,
        AggregateKind::Count,
    ] {
        let h = history(&inputs, &correct(kind, &inputs));
        assert_eq!(check_aggregates(&h, &spec(kind)), vec![], "{kind}");
    }
}

#[test]
fn inputs_at_or_beyond_the_committed_offset_are_not_due_yet() {
    let inputs = five_inputs();
    let mut h = history(&inputs, &correct(AggregateKind::Sum, &inputs[..3]));
    h.committed_offsets = vec![committed("data", 0, 3)];
    assert_eq!(check_aggregates(&h, &spec(AggregateKind::Sum)), vec![]);
    // Near miss: an output for input 4 (offset 3, not committed) is the effect of an input
    // processed without its offset being committed.
    let mut h = history(&inputs, &correct(AggregateKind::Sum, &inputs[..4]));
    h.committed_offsets = vec![committed("data", 0, 3)];
    let found = check_aggregates(&h, &spec(AggregateKind::Sum));
    assert_eq!(kinds(&found), [AnomalyKind::OutputCountMismatch]);
    let m = mismatch(&found);
    assert_eq!((m.inputs, m.outputs, m.committed_offset), (3, 4, 3));
    assert_eq!(m.unknown_inputs, [4]);
    assert!(
        m.explain().contains("more outputs than inputs"),
        "{}",
        m.explain()
    );
}

#[test]
fn aborted_records_are_neither_inputs_nor_outputs_and_offsets_count_markers() {
    // data-0: input 1, an aborted input 9, input 2 (offset 2), then offset 3 is past the end
    // (a marker's offset in a real log): committed offset 4 covers inputs 1 and 2.
    let inputs = [
        (rec(1, 1, 5), RecordStatus::Committed),
        (rec(9, 1, 100), RecordStatus::Aborted),
        (rec(2, 1, 3), RecordStatus::Committed),
    ];
    let outputs = [
        (rec(1, 1, 5), RecordStatus::Committed),
        (rec(9, 1, 105), RecordStatus::Aborted),
        (rec(1, 1, 5), RecordStatus::Aborted),
        (rec(2, 1, 8), RecordStatus::Committed),
    ];
    let h = History {
        final_logs: vec![log_with("data", 0, &inputs), log_with("out", 0, &outputs)],
        committed_offsets: vec![committed("data", 0, 4)],
        ..History::default()
    };
    assert_eq!(check_aggregates(&h, &spec(AggregateKind::Sum)), vec![]);
    // Near miss: the aborted update read as committed (an aborted read downstream).
    let mut h = h;
    h.final_logs[1].records[1].status = RecordStatus::Committed;
    let found = check_aggregates(&h, &spec(AggregateKind::Sum));
    assert_eq!(
        kinds(&found),
        [
            AnomalyKind::OutputCountMismatch,
            AnomalyKind::WrongAggregate
        ]
    );
    assert_eq!(wrong(&found).divergence, Divergence::UnknownInput);
    assert_eq!(mismatch(&found).unknown_inputs, [9]);
}

#[test]
fn a_duplicated_output_is_a_count_mismatch_and_a_repeat() {
    let inputs = five_inputs();
    let mut outputs = correct(AggregateKind::Min, &inputs);
    outputs.insert(2, outputs[1]);
    let found = check_aggregates(&history(&inputs, &outputs), &spec(AggregateKind::Min));
    assert_eq!(
        kinds(&found),
        [
            AnomalyKind::OutputCountMismatch,
            AnomalyKind::WrongAggregate
        ]
    );
    assert_eq!(mismatch(&found).repeated_inputs, [2]);
    let w = wrong(&found);
    assert_eq!((w.index, w.output_offset, w.input_offset), (2, 2, 2));
    assert_eq!((w.expected_input_id, w.key, w.expected_value), (3, 1, 3));
    assert_eq!(w.actual, rec(2, 2, 7));
    assert_eq!(w.key_inputs, [1, 3]);
    assert_eq!(w.divergence, Divergence::Repeated { earlier_index: 1 });
    let text = w.explain();
    assert!(text.contains("out-0 output #2"), "{text}");
    assert!(text.contains("re-processing"), "{text}");
}

#[test]
fn a_sum_that_counts_an_input_twice_is_state_ahead() {
    // The store already held input 3's effect when input 3 was processed (e.g. state restored
    // from an aborted transaction's changelog writes): 5 + 3 + 3.
    let inputs = five_inputs();
    let mut outputs = correct(AggregateKind::Sum, &inputs);
    outputs[2] = rec(3, 1, 11);
    let found = check_aggregates(&history(&inputs, &outputs), &spec(AggregateKind::Sum));
    assert_eq!(kinds(&found), [AnomalyKind::WrongAggregate]);
    let w = wrong(&found);
    assert_eq!((w.index, w.expected_value), (2, 8));
    assert_eq!(w.divergence, Divergence::StateAhead);
    assert!(w.explain().contains("double-counting"), "{}", w.explain());
}

#[test]
fn a_min_that_forgot_an_earlier_input_is_state_behind() {
    // Input 4 (key 1, value 9) processed against a store that lost input 3's update (min 5).
    let inputs = five_inputs();
    let mut outputs = correct(AggregateKind::Min, &inputs);
    outputs[3] = rec(4, 1, 5);
    let found = check_aggregates(&history(&inputs, &outputs), &spec(AggregateKind::Min));
    let w = wrong(&found);
    assert_eq!((w.index, w.expected_value), (3, 3));
    assert_eq!(w.divergence, Divergence::StateBehind);
    assert!(
        w.explain().contains("lost or stale state"),
        "{}",
        w.explain()
    );
}

#[test]
fn a_lost_output_is_a_count_mismatch_and_a_skip() {
    let inputs = five_inputs();
    let mut outputs = correct(AggregateKind::Count, &inputs);
    outputs.remove(1);
    let found = check_aggregates(&history(&inputs, &outputs), &spec(AggregateKind::Count));
    assert_eq!(mismatch(&found).missing_inputs, [2]);
    assert!(mismatch(&found).explain().contains("fewer outputs"));
    assert_eq!(
        wrong(&found).divergence,
        Divergence::Skipped { later_index: 2 }
    );
}

#[test]
fn a_shorter_output_with_a_correct_prefix_is_only_a_count_mismatch() {
    let inputs = five_inputs();
    let outputs = correct(AggregateKind::Echo, &inputs[..4]);
    let found = check_aggregates(&history(&inputs, &outputs), &spec(AggregateKind::Echo));
    assert_eq!(kinds(&found), [AnomalyKind::OutputCountMismatch]);
    assert_eq!(mismatch(&found).missing_inputs, [5]);
}

#[test]
fn re_processing_a_prefix_against_restored_state_is_reprocessed() {
    // At-least-once: the task crashed after writing outputs and changelog for inputs 1..=4
    // but with offsets committed only through input 2; it restored the store (which holds
    // inputs 1..=4) and processed inputs 3 and 4 again: 17 + 3 = 20.
    let inputs = five_inputs();
    let mut outputs = correct(AggregateKind::Sum, &inputs[..4]);
    outputs.push(rec(3, 1, 20));
    let found = check_aggregates(&history(&inputs, &outputs), &spec(AggregateKind::Sum));
    let w = wrong(&found);
    assert_eq!(w.index, 4);
    assert_eq!(w.divergence, Divergence::Reprocessed { earlier_index: 2 });
    assert!(w.explain().contains("processed again"), "{}", w.explain());
}

#[test]
fn an_echo_with_another_value_is_corrupted() {
    let inputs = five_inputs();
    let mut outputs = correct(AggregateKind::Echo, &inputs);
    outputs[0] = rec(1, 1, 6);
    let found = check_aggregates(&history(&inputs, &outputs), &spec(AggregateKind::Echo));
    assert_eq!(wrong(&found).divergence, Divergence::Corrupted);
}

#[test]
fn a_group_without_committed_offsets_has_no_inputs_due() {
    let inputs = five_inputs();
    let mut h = history(&inputs, &[]);
    h.committed_offsets.clear();
    assert_eq!(check_aggregates(&h, &spec(AggregateKind::Sum)), vec![]);
    let mut h = history(&inputs, &correct(AggregateKind::Sum, &inputs[..1]));
    h.committed_offsets[0].group = "another-group".into();
    let found = check_aggregates(&h, &spec(AggregateKind::Sum));
    assert_eq!(kinds(&found), [AnomalyKind::OutputCountMismatch]);
    assert_eq!(mismatch(&found).committed_offset, 0);
}

#[test]
fn partitions_are_verified_separately_and_named() {
    let inputs = five_inputs();
    let mut h = history(&inputs, &correct(AggregateKind::Max, &inputs));
    h.final_logs.push(log("data", 3, &inputs[..2]));
    h.final_logs
        .push(log("out", 3, &correct(AggregateKind::Max, &inputs[..1])));
    h.committed_offsets.push(committed("data", 3, 2));
    let found = check_aggregates(&h, &spec(AggregateKind::Max));
    assert_eq!(kinds(&found), [AnomalyKind::OutputCountMismatch]);
    assert_eq!(mismatch(&found).partition, 3);
    assert!(mismatch(&found).explain().contains("out-3"));
}

#[test]
fn anomaly_kinds_have_kebab_case_names() {
    assert_eq!(
        AnomalyKind::from_name("wrong-aggregate"),
        Some(AnomalyKind::WrongAggregate)
    );
    assert_eq!(
        AnomalyKind::from_name("output-count-mismatch"),
        Some(AnomalyKind::OutputCountMismatch)
    );
}

// ---- proptests against a brute-force oracle ----

const KINDS: [AggregateKind; 5] = [
    AggregateKind::Echo,
    AggregateKind::Min,
    AggregateKind::Sum,
    AggregateKind::Max,
    AggregateKind::Count,
];

/// The running aggregate due for input `i`, recomputed from scratch over the earlier inputs
/// of its key (no shared state with `expected_updates`).
fn oracle_value(kind: AggregateKind, inputs: &[StreamRecord], i: usize) -> i64 {
    let key = inputs[i].key;
    let values: Vec<i64> = inputs[..=i]
        .iter()
        .filter(|r| r.key == key)
        .map(|r| i64::from(r.value))
        .collect();
    match kind {
        AggregateKind::Echo => values[values.len() - 1],
        AggregateKind::Min => *values.iter().min().unwrap(),
        AggregateKind::Sum => values.iter().sum(),
        AggregateKind::Max => *values.iter().max().unwrap(),
        AggregateKind::Count => values.len() as i64,
    }
}

fn oracle_outputs(kind: AggregateKind, inputs: &[StreamRecord]) -> Vec<StreamRecord> {
    (0..inputs.len())
        .map(|i| {
            let value = i32::try_from(oracle_value(kind, inputs, i)).unwrap();
            inputs[i].with_value(value)
        })
        .collect()
}

/// Inputs with unique ids 1.., few keys (so aggregates build up), values 0..10000.
fn inputs_strategy() -> impl Strategy<Value = Vec<StreamRecord>> {
    prop::collection::vec((0u16..4, 0i32..10_000), 0..40).prop_map(|kv| {
        kv.into_iter()
            .enumerate()
            .map(|(i, (key, value))| rec(i as u32 + 1, key, value))
            .collect()
    })
}

/// How to corrupt a correct output.
#[derive(Clone, Debug)]
enum Corruption {
    Duplicate(prop::sample::Index),
    Drop(prop::sample::Index),
    Perturb(prop::sample::Index, i32),
    /// At-least-once replay: after `end`, the inputs from `start` are processed again
    /// against the state that already holds them, and processing continues from there.
    Replay(prop::sample::Index, prop::sample::Index),
}

fn corruption_strategy() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Corruption::Duplicate),
        any::<prop::sample::Index>().prop_map(Corruption::Drop),
        (any::<prop::sample::Index>(), (1i32..50).prop_union(-50..0))
            .prop_map(|(i, d)| Corruption::Perturb(i, d)),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| Corruption::Replay(a, b)),
    ]
}

/// Processes `inputs` in order, then re-processes `inputs[start..end]` once more against the
/// same state (what a restart from an old committed offset with a restored store does), then
/// the rest.
fn replayed_outputs(
    kind: AggregateKind,
    inputs: &[StreamRecord],
    start: usize,
    end: usize,
) -> Vec<StreamRecord> {
    let order: Vec<StreamRecord> = inputs[..end]
        .iter()
        .chain(&inputs[start..end])
        .chain(&inputs[end..])
        .copied()
        .collect();
    oracle_outputs(kind, &order)
}

fn corrupt(
    kind: AggregateKind,
    inputs: &[StreamRecord],
    outputs: &mut Vec<StreamRecord>,
    corruption: &Corruption,
) {
    let n = outputs.len();
    match corruption {
        Corruption::Duplicate(i) => {
            let i = i.index(n);
            outputs.insert(i + 1, outputs[i]);
        }
        Corruption::Drop(i) => {
            outputs.remove(i.index(n));
        }
        Corruption::Perturb(i, delta) => {
            let i = i.index(n);
            outputs[i].value += delta;
        }
        Corruption::Replay(a, b) => {
            let (x, y) = (a.index(n), b.index(n));
            let (start, end) = (x.min(y), x.max(y) + 1);
            *outputs = replayed_outputs(kind, inputs, start, end);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn decoding_inverts_the_layouts_encoding(
        input_id in 0u32..1 << 20,
        key in 0u16..1 << 12,
        value in any::<i32>(),
        raw in any::<u64>(),
    ) {
        let legacy = RecordLayout::LEGACY;
        let r = rec(input_id, key, value);
        prop_assert_eq!(legacy.decode(encode(legacy, r)), r);
        prop_assert_eq!(encode(legacy, legacy.decode(raw)), raw);
    }

    #[test]
    fn verdicts_agree_with_a_brute_force_oracle(
        kind_index in 0usize..5,
        inputs in inputs_strategy(),
        corruption in proptest::option::of(corruption_strategy()),
    ) {
        let kind = KINDS[kind_index];
        let truth = oracle_outputs(kind, &inputs);
        let mut outputs = truth.clone();
        if let (Some(c), false) = (&corruption, inputs.is_empty()) {
            corrupt(kind, &inputs, &mut outputs, c);
        }
        let found = check_aggregates(&history(&inputs, &outputs), &spec(kind));
        // The oracle: a count mismatch iff the lengths differ; a wrong aggregate iff a shared
        // position differs, at the first such position.
        let first_difference = truth.iter().zip(&outputs).position(|(t, o)| t != o);
        let mut due = Vec::new();
        if truth.len() != outputs.len() {
            due.push(AnomalyKind::OutputCountMismatch);
        }
        if first_difference.is_some() {
            due.push(AnomalyKind::WrongAggregate);
        }
        prop_assert_eq!(kinds(&found), due);
        if let Some(index) = first_difference {
            prop_assert_eq!(wrong(&found).index, index);
        }
        // Every corruption of a non-empty input is caught, and read the right way.
        if let (Some(c), false) = (&corruption, inputs.is_empty()) {
            prop_assert!(!found.is_empty(), "{:?} not caught", c);
            let divergence = first_difference.map(|_| wrong(&found).divergence.clone());
            match (c, divergence) {
                (Corruption::Duplicate(_), Some(d)) => {
                    prop_assert!(matches!(d, Divergence::Repeated { .. }), "{:?}", d)
                }
                (Corruption::Drop(_), Some(d)) => {
                    prop_assert!(matches!(d, Divergence::Skipped { .. }), "{:?}", d)
                }
                (Corruption::Replay(..), Some(d)) => prop_assert!(
                    matches!(d, Divergence::Repeated { .. } | Divergence::Reprocessed { .. }),
                    "{:?}",
                    d
                ),
                (Corruption::Perturb(..), Some(d)) => prop_assert!(
                    matches!(
                        d,
                        Divergence::StateAhead | Divergence::StateBehind | Divergence::Corrupted
                    ),
                    "{:?}",
                    d
                ),
                // A dropped or duplicated last output leaves every shared position right.
                (_, None) => prop_assert!(kinds(&found) == [AnomalyKind::OutputCountMismatch]),
            }
        }
    }
}

#[test]
fn a_repartition_hop_flag_in_the_input_id_still_matches_its_input() {
    let input = StreamRecord::new(7, 3, 40);
    let due = expected_updates(AggregateKind::Echo, &[input]);
    let (layout, hop) = (RecordLayout::LEGACY, RecordLayout::LEGACY.hop_flag);
    let hopped = StreamRecord::new(7 | hop, 3, 40);
    assert!(due[0].matches(hopped, layout));
    assert!(!due[0].matches(StreamRecord::new(8 | hop, 3, 40), layout));
}

#[test]
fn a_history_carries_its_aggregate_checks_and_check_all_runs_them() {
    let inputs = [rec(1, 7, 5), rec(2, 7, 3)];
    // The second output repeats the first: the sum lacks input 2.
    let mut h = history(&inputs, &[rec(1, 7, 5), rec(2, 7, 5)]);
    // (No sends are recorded here, so the log checks call every record unexpected.)
    let without = crate::check_all(&h).unwrap();
    assert!(!kinds(&without).contains(&AnomalyKind::WrongAggregate));
    h.aggregate_checks = spec(AggregateKind::Sum).checks;
    let found = crate::check_all(&h).unwrap();
    assert_eq!(found[..without.len()], without[..]);
    assert_eq!(
        kinds(&found[without.len()..]),
        [AnomalyKind::WrongAggregate]
    );
    // Written and read back (`eosim run --history`, then `eosim check`): the same findings.
    let again = History::from_jsonl(h.to_jsonl().as_bytes(), "h.jsonl").unwrap();
    assert_eq!(again.aggregate_checks, h.aggregate_checks);
    assert_eq!(crate::check_all(&again).unwrap(), found);
}
