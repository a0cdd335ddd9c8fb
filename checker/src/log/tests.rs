use super::*;
use crate::history::{FinalLog, LogEntry, PolledRecord, RecordStatus};
use proptest::prelude::*;
use std::collections::BTreeSet;

fn send(value: u64, offset: Option<u64>) -> Operation {
    Operation::Send {
        topic: "t".into(),
        partition: 0,
        value,
        offset,
    }
}

fn log(values: &[u64]) -> FinalLog {
    FinalLog {
        topic: "t".into(),
        partition: 0,
        records: values
            .iter()
            .enumerate()
            .map(|(o, &value)| LogEntry {
                offset: o as u64,
                value,
                producer_id: 1,
                status: RecordStatus::Plain,
            })
            .collect(),
    }
}

fn kinds(h: &History) -> Vec<AnomalyKind> {
    check_log(h).unwrap().iter().map(Anomaly::kind).collect()
}

#[test]
fn clean_history_has_no_anomaly() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Ok, send(10, Some(0)), None);
    h.push(2, 2, Phase::Invoke, send(11, None), None);
    h.push(2, 3, Phase::Ok, send(11, Some(1)), None);
    h.final_logs.push(log(&[10, 11]));
    h.converged = Some(true);
    assert_eq!(kinds(&h), vec![]);
}

#[test]
fn retried_value_appended_twice_is_a_duplicate_naming_both_offsets() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Ok, send(10, Some(1)), None);
    h.final_logs.push(log(&[10, 10]));
    let found = check_log(&h).unwrap();
    assert_eq!(found.len(), 1);
    let Anomaly::Duplicate(d) = &found[0] else {
        panic!("{found:?}")
    };
    assert_eq!(
        (d.value, d.offsets.clone(), d.sends.clone(), d.ack),
        (10, vec![0, 1], vec![0], Some(1))
    );
    assert!(found[0].explain().contains("offsets [0, 1]"));
}

#[test]
fn acked_but_absent_is_a_lost_write_and_failed_absent_is_missing() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Ok, send(10, Some(0)), None);
    h.push(2, 2, Phase::Invoke, send(11, None), None);
    h.push(2, 3, Phase::Info, send(11, None), Some("timeout".into()));
    h.push(3, 4, Phase::Invoke, send(12, None), None);
    h.final_logs.push(log(&[]));
    assert_eq!(
        kinds(&h),
        vec![
            AnomalyKind::LostWrite,
            AnomalyKind::Missing,
            AnomalyKind::Missing
        ]
    );
    let found = check_log(&h).unwrap();
    let Anomaly::Missing(m) = &found[2] else {
        panic!()
    };
    assert_eq!(m.outcome, "none");
}

#[test]
fn an_info_send_that_landed_is_fine() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Info, send(10, None), Some("timeout".into()));
    h.final_logs.push(log(&[10]));
    assert_eq!(kinds(&h), vec![]);
}

#[test]
fn ack_offset_disagreeing_with_the_log_is_inconsistent() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Ok, send(10, Some(0)), None);
    h.push(2, 2, Phase::Invoke, send(11, None), None);
    h.push(2, 3, Phase::Ok, send(11, Some(0)), None);
    h.final_logs.push(log(&[11]));
    assert_eq!(
        kinds(&h),
        vec![AnomalyKind::LostWrite, AnomalyKind::InconsistentOffsets]
    );
}

#[test]
fn unsent_value_in_the_log_is_unexpected() {
    let mut h = History::default();
    h.final_logs.push(log(&[99]));
    assert_eq!(kinds(&h), vec![AnomalyKind::UnexpectedWrite]);
}

#[test]
fn without_ground_truth_polls_stand_in_for_the_log() {
    let mut h = History::default();
    let poll = |records: Vec<PolledRecord>| Operation::Poll {
        topic: "t".into(),
        partition: 0,
        from_offset: 0,
        records,
    };
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.push(1, 1, Phase::Ok, send(10, Some(0)), None);
    h.push(1, 2, Phase::Invoke, send(11, None), None);
    h.push(1, 3, Phase::Ok, send(11, Some(1)), None);
    h.push(2, 4, Phase::Invoke, poll(vec![]), None);
    h.push(
        2,
        5,
        Phase::Ok,
        poll(vec![
            PolledRecord {
                offset: 1,
                value: 11,
            },
            PolledRecord {
                offset: 2,
                value: 11,
            },
        ]),
        None,
    );
    // 10 was acked at 0 and polls reached past it without seeing it: lost. 11 twice: duplicate.
    assert_eq!(
        kinds(&h),
        vec![AnomalyKind::Duplicate, AnomalyKind::LostWrite]
    );
}

#[test]
fn unconverged_run_lists_open_invocations() {
    let mut h = History::default();
    h.push(1, 0, Phase::Invoke, send(10, None), None);
    h.final_logs.push(log(&[10]));
    h.converged = Some(false);
    let found = check_log(&h).unwrap();
    assert_eq!(
        found,
        vec![Anomaly::NotConverged(NotConverged { open_ops: vec![0] })]
    );
}

/// What one intended value went through, for the generator.
#[derive(Clone, Debug)]
struct Fate {
    outcome: Phase,
    appended_times: usize,
}

fn fate() -> impl Strategy<Value = Fate> {
    (
        prop_oneof![
            Just(Phase::Ok),
            Just(Phase::Fail),
            Just(Phase::Info),
            Just(Phase::Invoke)
        ],
        0usize..3,
    )
        .prop_map(|(outcome, appended_times)| Fate {
            outcome,
            appended_times,
        })
}

proptest! {
    /// Random fates of values against a brute-force oracle that recounts occurrences in the
    /// final log with plain loops.
    #[test]
    fn log_checks_agree_with_a_brute_force_oracle(fates in proptest::collection::vec(fate(), 0..12), foreign in 0usize..3, order_seed in any::<u64>()) {
        // Build the final log: each value appended `appended_times` times, plus foreign values,
        // shuffled deterministically.
        let mut entries: Vec<u64> = Vec::new();
        for (i, f) in fates.iter().enumerate() {
            for _ in 0..f.appended_times { entries.push(i as u64); }
        }
        for j in 0..foreign { entries.push(1000 + j as u64); }
        let mut state = order_seed | 1;
        for i in (1..entries.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            entries.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut h = History::default();
        for (i, f) in fates.iter().enumerate() {
            let value = i as u64;
            h.push(i as u64, 0, Phase::Invoke, send(value, None), None);
            let first_offset = entries.iter().position(|&v| v == value).map(|o| o as u64);
            match f.outcome {
                Phase::Invoke => {}
                Phase::Ok => { h.push(i as u64, 1, Phase::Ok, send(value, first_offset), None); }
                other => { h.push(i as u64, 1, other, send(value, None), None); }
            }
        }
        h.final_logs.push(log(&entries));

        let mut expected: Vec<(AnomalyKind, u64)> = Vec::new();
        let count = |v: u64| entries.iter().filter(|&&e| e == v).count();
        for v in entries.iter().copied().collect::<BTreeSet<_>>() {
            if count(v) > 1 { expected.push((AnomalyKind::Duplicate, v)); }
        }
        for (i, f) in fates.iter().enumerate() {
            if f.outcome == Phase::Ok && count(i as u64) == 0 { expected.push((AnomalyKind::LostWrite, i as u64)); }
        }
        for (i, f) in fates.iter().enumerate() {
            if f.outcome != Phase::Ok && count(i as u64) == 0 { expected.push((AnomalyKind::Missing, i as u64)); }
        }
        for j in 0..foreign { expected.push((AnomalyKind::UnexpectedWrite, 1000 + j as u64)); }

        let got: Vec<(AnomalyKind, u64)> = check_log(&h).unwrap().iter().map(|a| {
            let value = match a {
                Anomaly::Duplicate(d) => d.value,
                Anomaly::LostWrite(l) => l.value,
                Anomaly::Missing(m) => m.value,
                Anomaly::UnexpectedWrite(u) => u.value,
                other => panic!("unexpected finding {other:?}"),
            };
            (a.kind(), value)
        }).collect();
        prop_assert_eq!(got, expected);
    }
}
