//! Performance in virtual time, from a history: how many records got through and how long each
//! took from its production to its effect (for `eosim compare`).
//!
//! A record's *start* is the invoke of the first plain `Send` of its value (the producer or
//! loader that wrote it). Its *end* is the completion of the first committed (ok) transaction
//! whose send steps name it as their `source` — the moment its output became visible to a
//! read_committed consumer — or, for a workload without lineage (plain producers), the first
//! acknowledgement of its send. Records that never got that far count as not delivered.
//! Virtual time only: these figures say how the protocol spends simulated time (round trips,
//! commit intervals, retries), not how fast the simulator runs.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::{History, Operation, Phase, TxnStep};

/// What one run delivered, and when.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Delivery {
    /// Records with a start and an end.
    pub delivered: u64,
    /// Records produced whose effect never became visible.
    pub undelivered: u64,
    /// From the first start to the last end, ms of virtual time.
    pub span_ms: f64,
    /// Delivered records per virtual second over the span; for a pre-filled input (the
    /// processing starts once every input record is written, as a throughput benchmark
    /// runs), the steady rate instead: the records that took effect between the 10th- and the
    /// 90th-percentile effect, per second between the two. Neither the time records wait in
    /// the topic, nor the start-up (joining the group, fencing, restoring), nor the drain (the
    /// last instance finishing alone) is then counted, only what the processing sustains.
    pub records_per_s: f64,
    /// End-to-end latency percentiles, ms of virtual time (0 when nothing was delivered).
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
}

/// Measures a history (see the module docs for what counts). `pre_filled`: the processing
/// started only once every input record was acknowledged (records/s is then the steady rate).
pub fn delivery(history: &History, pre_filled: bool) -> Delivery {
    let Ok(pairs) = history.pairs() else {
        return Delivery::default();
    };
    let mut start_ns: BTreeMap<u64, u64> = BTreeMap::new();
    let mut acked_ns: BTreeMap<u64, u64> = BTreeMap::new();
    let mut effect_ns: BTreeMap<u64, u64> = BTreeMap::new();
    for &(invoke, completion) in &pairs {
        let invoked = &history.ops[invoke];
        let completed = completion.map(|c| &history.ops[c]);
        match &invoked.op {
            Operation::Send { value, .. } => {
                start_ns.entry(*value).or_insert(invoked.time_ns);
                if let Some(done) = completed.filter(|c| c.phase == Phase::Ok) {
                    acked_ns.entry(*value).or_insert(done.time_ns);
                }
            }
            Operation::Txn { .. } => {
                let Some(done) = completed.filter(|c| c.phase == Phase::Ok) else {
                    continue;
                };
                let Operation::Txn { steps, .. } = &done.op else {
                    continue;
                };
                for step in steps {
                    if let TxnStep::Send {
                        source: Some(source),
                        ..
                    } = step
                    {
                        let end = effect_ns.entry(*source).or_insert(done.time_ns);
                        *end = (*end).min(done.time_ns);
                    }
                }
            }
            Operation::Poll { .. } => {}
        }
    }
    // With lineage the effect is the committed output; without, the acknowledged send.
    let ends = if effect_ns.is_empty() {
        &acked_ns
    } else {
        &effect_ns
    };
    summarise(&start_ns, ends, pre_filled)
}

fn summarise(
    start_ns: &BTreeMap<u64, u64>,
    end_ns: &BTreeMap<u64, u64>,
    steady_rate: bool,
) -> Delivery {
    let mut latencies_ns: Vec<u64> = Vec::with_capacity(start_ns.len());
    // Kept only for the steady rate, which needs every effect's time in order.
    let mut effects_ns: Vec<u64> = Vec::with_capacity(if steady_rate { start_ns.len() } else { 0 });
    let (mut first, mut last) = (u64::MAX, 0);
    for (value, &start) in start_ns {
        first = first.min(start);
        if let Some(&end) = end_ns.get(value) {
            latencies_ns.push(end.saturating_sub(start));
            if steady_rate {
                effects_ns.push(end);
            }
            last = last.max(end);
        }
    }
    let delivered = latencies_ns.len() as u64;
    let mut result = Delivery {
        delivered,
        undelivered: start_ns.len() as u64 - delivered,
        ..Delivery::default()
    };
    if delivered == 0 {
        return result;
    }
    latencies_ns.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    result.span_ms = ms(last.saturating_sub(first));
    result.records_per_s = if steady_rate {
        steady_records_per_s(&mut effects_ns)
    } else {
        rate_per_s(delivered, last.saturating_sub(first))
    };
    result.latency_p50_ms = ms(percentile(&latencies_ns, 50));
    result.latency_p99_ms = ms(percentile(&latencies_ns, 99));
    result.latency_max_ms = ms(*latencies_ns.last().expect("delivered > 0"));
    result
}

/// Records per second of `count` records in `window_ns` (0 for an empty window).
fn rate_per_s(count: u64, window_ns: u64) -> f64 {
    if window_ns == 0 {
        return 0.0;
    }
    count as f64 / (window_ns as f64 / 1e9)
}

/// The rate in the middle of the run: the records that took effect after the 10th-percentile
/// effect and by the 90th, per second between the two. The first tenth is the start-up (the
/// first commits wait for joining the group, fencing, restoring), the last the drain (one
/// instance finishing its share alone); neither is what the processing sustains.
fn steady_records_per_s(effects_ns: &mut [u64]) -> f64 {
    if effects_ns.is_empty() {
        return 0.0;
    }
    effects_ns.sort_unstable();
    let (from, to) = (percentile(effects_ns, 10), percentile(effects_ns, 90));
    let inside = effects_ns.partition_point(|&end| end <= to)
        - effects_ns.partition_point(|&end| end <= from);
    rate_per_s(inside as u64, to - from)
}

/// The nearest-rank percentile of sorted, non-empty `values`.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    assert!(!sorted.is_empty() && p <= 100);
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::PolledRecord;

    fn send(value: u64) -> Operation {
        Operation::Send {
            topic: "in".into(),
            partition: 0,
            value,
            offset: None,
        }
    }

    fn copy(values: &[u64]) -> Operation {
        let mut steps = vec![TxnStep::Poll {
            topic: "in".into(),
            partition: 0,
            records: values
                .iter()
                .map(|&value| PolledRecord { offset: 0, value })
                .collect(),
        }];
        steps.extend(values.iter().map(|&v| TxnStep::Send {
            topic: "out".into(),
            partition: 0,
            value: v,
            source: Some(v),
            offset: None,
        }));
        Operation::Txn {
            transactional: true,
            txn_id: None,
            steps,
        }
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn latency_runs_from_the_input_send_to_the_first_committed_output() {
        let mut h = History::default();
        h.push(1, 0, Phase::Invoke, send(1), None);
        h.push(1, 2 * MS, Phase::Ok, send(1), None);
        h.push(2, 0, Phase::Invoke, send(2), None);
        h.push(2, 2 * MS, Phase::Ok, send(2), None);
        h.push(3, 5 * MS, Phase::Invoke, copy(&[1, 2]), None);
        h.push(3, 9 * MS, Phase::Fail, copy(&[1, 2]), None); // aborted: no effect
        h.push(4, 10 * MS, Phase::Invoke, copy(&[1]), None);
        h.push(4, 20 * MS, Phase::Ok, copy(&[1]), None);
        let d = delivery(&h, false);
        assert_eq!((d.delivered, d.undelivered), (1, 1), "2 never committed");
        assert_eq!(d.latency_p50_ms, 20.0);
        assert_eq!(d.span_ms, 20.0);
        assert_eq!(d.records_per_s, 50.0);
    }

    #[test]
    fn a_pre_filled_input_is_measured_at_its_steady_rate() {
        let mut h = History::default();
        for v in 1..=10 {
            h.push(v, 0, Phase::Invoke, send(v), None);
            h.push(v, v * 5 * MS, Phase::Ok, send(v), None);
        }
        // Written by 50 ms; the first commit (start-up) at 100 ms, two steady commits of four
        // records at 200 and 300 ms, the drain's last record at 1000 ms.
        let commits: [(u64, &[u64]); 4] = [
            (100, &[1]),
            (200, &[2, 3, 4, 5]),
            (300, &[6, 7, 8, 9]),
            (1000, &[10]),
        ];
        for (process, (at_ms, values)) in (20..).zip(commits) {
            h.push(
                process,
                (at_ms - 10) * MS,
                Phase::Invoke,
                copy(values),
                None,
            );
            h.push(process, at_ms * MS, Phase::Ok, copy(values), None);
        }
        let whole = delivery(&h, false);
        assert_eq!(whole.span_ms, 1000.0);
        assert!((whole.records_per_s - 10.0).abs() < 1e-9);
        let steady = delivery(&h, true);
        assert_eq!(steady.span_ms, 1000.0, "the span is the same");
        assert!(
            (steady.records_per_s - 40.0).abs() < 1e-9,
            "the 8 records after the 10th-percentile effect (100 ms) and by the 90th (300 ms), \
             over 200 ms, not {}",
            steady.records_per_s
        );
        assert_eq!(steady.latency_p50_ms, whole.latency_p50_ms);
    }

    #[test]
    fn without_lineage_the_acknowledgement_is_the_end() {
        let mut h = History::default();
        for (p, v) in [(1, 10), (2, 11), (3, 12), (4, 13)] {
            h.push(p, v * MS, Phase::Invoke, send(v), None);
            h.push(p, (v + v - 9) * MS, Phase::Ok, send(v), None);
        }
        let d = delivery(&h, false);
        assert_eq!(d.delivered, 4);
        assert_eq!((d.latency_p50_ms, d.latency_p99_ms), (2.0, 4.0));
        assert_eq!(d.latency_max_ms, 4.0);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50), 50);
        assert_eq!(percentile(&values, 99), 99);
        assert_eq!(percentile(&[7], 99), 7);
    }
}
