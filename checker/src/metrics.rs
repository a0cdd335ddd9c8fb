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
    /// Delivered records per virtual second over the span.
    pub records_per_s: f64,
    /// End-to-end latency percentiles, ms of virtual time (0 when nothing was delivered).
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
}

/// Measures a history (see the module docs for what counts).
pub fn delivery(history: &History) -> Delivery {
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
    summarise(&start_ns, ends)
}

fn summarise(start_ns: &BTreeMap<u64, u64>, end_ns: &BTreeMap<u64, u64>) -> Delivery {
    let mut latencies_ns: Vec<u64> = Vec::with_capacity(start_ns.len());
    let (mut first, mut last) = (u64::MAX, 0);
    for (value, &start) in start_ns {
        first = first.min(start);
        if let Some(&end) = end_ns.get(value) {
            latencies_ns.push(end.saturating_sub(start));
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
    result.records_per_s = if result.span_ms > 0.0 {
        delivered as f64 / (result.span_ms / 1e3)
    } else {
        0.0
    };
    result.latency_p50_ms = ms(percentile(&latencies_ns, 50));
    result.latency_p99_ms = ms(percentile(&latencies_ns, 99));
    result.latency_max_ms = ms(*latencies_ns.last().expect("delivered > 0"));
    result
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
        let d = delivery(&h);
        assert_eq!((d.delivered, d.undelivered), (1, 1), "2 never committed");
        assert_eq!(d.latency_p50_ms, 20.0);
        assert_eq!(d.span_ms, 20.0);
        assert_eq!(d.records_per_s, 50.0);
    }

    #[test]
    fn without_lineage_the_acknowledgement_is_the_end() {
        let mut h = History::default();
        for (p, v) in [(1, 10), (2, 11), (3, 12), (4, 13)] {
            h.push(p, v * MS, Phase::Invoke, send(v), None);
            h.push(p, (v + v - 9) * MS, Phase::Ok, send(v), None);
        }
        let d = delivery(&h);
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
