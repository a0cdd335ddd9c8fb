//! The history's operations as timeline bars: one lane per client, a bar from invocation to
//! completion coloured by outcome, described with Streams values decoded.

use std::collections::BTreeMap;

use checker::History;
use checker::history::{Op, Operation, Phase, PolledRecord, TxnStep};
use reports::html::{Bar, StreamValues};

/// The bars of a history and where each op landed.
pub struct Operations {
    /// Client id → lane name, in id order.
    pub clients: Vec<(u64, String)>,
    /// Bars with `lane` = position in `clients` (the caller offsets it).
    pub bars: Vec<Bar>,
    /// History index (invocation or completion) → bar.
    pub bar_of_op: BTreeMap<u64, usize>,
}

/// The most steps or records a bar's details list.
const DETAIL_ITEMS: usize = 12;

pub fn operations(history: &History, values: &StreamValues) -> Operations {
    let clients: BTreeMap<u64, String> = history
        .ops
        .iter()
        .map(|op| {
            let client = op.process / checker::history::PROCESSES_PER_CLIENT;
            (client, history.process_name(op.process))
        })
        .collect();
    let lane_of: BTreeMap<u64, usize> = clients.keys().enumerate().map(|(i, c)| (*c, i)).collect();
    let mut ops = Operations {
        clients: clients.into_iter().collect(),
        bars: Vec::new(),
        bar_of_op: BTreeMap::new(),
    };
    // A history that does not pair (a recording bug) shows no bars rather than failing.
    for (invoke, completion) in history.pairs().unwrap_or_default() {
        let start = &history.ops[invoke];
        let end = completion.map(|c| &history.ops[c]);
        let lane = lane_of[&(start.process / checker::history::PROCESSES_PER_CLIENT)];
        ops.bar_of_op.insert(start.index, ops.bars.len());
        if let Some(end) = end {
            ops.bar_of_op.insert(end.index, ops.bars.len());
        }
        ops.bars.push(bar(lane, start, end, values));
    }
    ops
}

fn bar(lane: usize, start: &Op, end: Option<&Op>, values: &StreamValues) -> Bar {
    let outcome = match end.map(|e| e.phase) {
        Some(Phase::Ok) => "ok",
        Some(Phase::Fail) => "fail",
        _ => "info",
    };
    // The completion holds the results (offsets, records); the invocation what was meant.
    let shown = end.unwrap_or(start);
    let (label, mut detail) = describe(&shown.op, values);
    let ops = match end {
        Some(end) => format!("op {} → op {} ({outcome})", start.index, end.index),
        None => format!("op {} (never completed)", start.index),
    };
    detail = format!("{ops}\n{detail}");
    if let Some(error) = end.and_then(|e| e.error.as_deref()) {
        detail.push_str(&format!("\nerror: {error}"));
    }
    Bar {
        lane,
        start: start.time_ns as f64 / 1e6,
        end: end.map(|e| e.time_ns as f64 / 1e6),
        outcome: outcome.into(),
        label,
        detail,
    }
}

/// A short label and the details of an operation.
fn describe(op: &Operation, values: &StreamValues) -> (String, String) {
    match op {
        Operation::Send {
            topic,
            partition,
            value,
            offset,
        } => (
            format!("send {}", values.show(*value)),
            format!(
                "send {} to {topic}-{partition}{}",
                values.show(*value),
                at_offset(*offset)
            ),
        ),
        Operation::Poll {
            topic,
            partition,
            from_offset,
            records,
        } => (
            format!("poll {topic}-{partition}"),
            format!(
                "poll {topic}-{partition} from offset {from_offset}: {}",
                polled(records, values)
            ),
        ),
        Operation::Txn {
            transactional,
            txn_id,
            steps,
        } => {
            let what = if *transactional { "txn" } else { "batch" };
            let mut detail = format!(
                "{what}{} with {} step(s):",
                txn_id
                    .as_deref()
                    .map(|id| format!(" {id}"))
                    .unwrap_or_default(),
                steps.len()
            );
            for step in steps.iter().take(DETAIL_ITEMS) {
                detail.push_str(&format!("\n  {}", step_text(step, values)));
            }
            if steps.len() > DETAIL_ITEMS {
                detail.push_str(&format!("\n  … {} more", steps.len() - DETAIL_ITEMS));
            }
            (format!("{what} ({})", steps.len()), detail)
        }
    }
}

fn step_text(step: &TxnStep, values: &StreamValues) -> String {
    match step {
        TxnStep::Send {
            topic,
            partition,
            value,
            source,
            offset,
        } => format!(
            "send {} to {topic}-{partition}{}{}",
            values.show(*value),
            at_offset(*offset),
            source
                .map(|s| format!(" (from {})", values.show(s)))
                .unwrap_or_default()
        ),
        TxnStep::Poll {
            topic,
            partition,
            records,
        } => format!("poll {topic}-{partition}: {}", polled(records, values)),
        TxnStep::CommitOffset {
            group,
            topic,
            partition,
            offset,
        } => format!("commit {group} {topic}-{partition} at {offset}"),
    }
}

fn at_offset(offset: Option<u64>) -> String {
    offset
        .map(|o| format!(" at offset {o}"))
        .unwrap_or_default()
}

fn polled(records: &[PolledRecord], values: &StreamValues) -> String {
    let mut text = format!("{} record(s)", records.len());
    for r in records.iter().take(DETAIL_ITEMS / 2) {
        text.push_str(&format!("\n    {}: {}", r.offset, values.show(r.value)));
    }
    if records.len() > DETAIL_ITEMS / 2 {
        text.push_str(&format!(
            "\n    … {} more",
            records.len() - DETAIL_ITEMS / 2
        ));
    }
    text
}

/// The node a client runs on, by name: the part before its incarnation or role
/// ("copier-3#0 producer" runs on "copier-3").
pub fn node_name_of(client: &str) -> &str {
    client.split(['#', ' ']).next().unwrap_or(client)
}

/// The history indices an explanation names ("op 12", "ops 3, 4 and 9", "op 7)").
pub fn named_ops(explanation: &str) -> Vec<u64> {
    let mut named = Vec::new();
    let words: Vec<&str> = explanation.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let word = word.trim_start_matches('(');
        if word != "op" && word != "ops" {
            continue;
        }
        for next in &words[i + 1..] {
            let number = next.trim_end_matches([',', ')', ':', ';', '.']);
            match number.parse::<u64>() {
                Ok(n) => named.push(n),
                Err(_) if *next == "and" => continue,
                Err(_) => break,
            }
            if number.len() != next.len() && !next.ends_with(',') {
                break;
            }
        }
    }
    named
}

/// The history indices of the operations that wrote or read `offsets` of a partition.
pub fn ops_touching(history: &History, topic: &str, partition: u32, offsets: &[u64]) -> Vec<u64> {
    let hit = |t: &str, p: u32, offset: Option<u64>| {
        t == topic && p == partition && offset.is_some_and(|o| offsets.contains(&o))
    };
    let polled = |t: &str, p: u32, records: &[PolledRecord]| {
        records.iter().any(|r| hit(t, p, Some(r.offset)))
    };
    history
        .ops
        .iter()
        .filter(|op| op.phase != Phase::Invoke)
        .filter(|op| match &op.op {
            Operation::Send {
                topic,
                partition,
                offset,
                ..
            } => hit(topic, *partition, *offset),
            Operation::Poll {
                topic,
                partition,
                records,
                ..
            } => polled(topic, *partition, records),
            Operation::Txn { steps, .. } => steps.iter().any(|step| match step {
                TxnStep::Send {
                    topic,
                    partition,
                    offset,
                    ..
                } => hit(topic, *partition, *offset),
                TxnStep::Poll {
                    topic,
                    partition,
                    records,
                } => polled(topic, *partition, records),
                TxnStep::CommitOffset { .. } => false,
            }),
        })
        .map(|op| op.index)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_name_ops_singly_and_in_lists() {
        assert_eq!(
            named_ops("value 5 was acknowledged (send op 348, ack op 355) but"),
            vec![348, 355]
        );
        assert_eq!(
            named_ops("written by ops 3, 4 and 9: the same"),
            vec![3, 4, 9]
        );
        assert_eq!(named_ops("transaction op 241 (queue-3) sent"), vec![241]);
        assert_eq!(named_ops("no operation here, 12 ops"), Vec::<u64>::new());
    }
}
