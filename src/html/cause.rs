//! A finding's cause when it is not the write itself, read from the trace with the model's
//! vocabulary (its notes and message labels, `model::protocol`); the checker's causal chain
//! stops at the write's own path.
//!
//! - An acknowledged write lost to an abort (`lost-write`): the transaction marker that ended
//!   the write's transaction, the WriteTxnMarkers call that wrote it, and the EndTxn request
//!   the coordinator was handling when it sent that call — under transactions v1 a late
//!   EndTxn of an earlier transaction (KAFKA-17754).
//! - An aggregate further along than its inputs allow (`wrong-aggregate`): the crashes of
//!   the nodes that ran the input partition's task before the transaction that wrote the
//!   wrong update (a store reused after an unclean shutdown keeps an aborted transaction's
//!   effects; the history does not record the aborted attempt itself).

use std::collections::{BTreeMap, BTreeSet};

use checker::anomaly::WrongAggregate;
use checker::history::{Operation, RecordStatus, TxnStep};
use checker::{Anomaly, History};
use model::TraceNote;
use sim::trace::{TraceEvent, TraceKind, TraceSummary};

/// The request labels the cause follows (`sim::Message::label` of the model's requests).
const END_TXN: &str = "end-txn";
const WRITE_TXN_MARKERS: &str = "write-txn-markers";

/// A cause: the trace events and a sentence.
#[derive(Debug, Default, PartialEq)]
pub struct Cause {
    pub events: BTreeSet<usize>,
    pub note: Option<String>,
}

/// The cause of `anomaly`, if it is one this module explains.
pub fn cause_of(
    anomaly: &Anomaly,
    trace: &TraceSummary,
    events: &[TraceEvent],
    history: &History,
) -> Cause {
    if let Anomaly::WrongAggregate(wrong) = anomaly {
        return aggregate_cause(wrong, trace, events, history);
    }
    let final_logs = &history.final_logs;
    let Anomaly::LostWrite(lost) = anomaly else {
        return Cause::default();
    };
    let Some(offset) = lost.acked_offset else {
        return Cause::default();
    };
    let code = model::protocol::partition_trace_code(&lost.topic, lost.partition);
    // The last append at the acknowledged offset (a crash may have reused it since).
    let Some(append) = events
        .iter()
        .rposition(|e| is_note(e, TraceNote::Append, code, |o| o == offset))
    else {
        return Cause::default();
    };
    let Some(marker) = (append..events.len())
        .find(|&j| is_note(&events[j], TraceNote::Marker, code, |o| o > offset))
    else {
        return Cause::default();
    };
    let mut cause = Cause::default();
    cause.events.insert(marker);
    let marker_node = events[marker].node;
    let status = final_logs
        .iter()
        .find(|log| *log.topic == *lost.topic && log.partition == lost.partition)
        .and_then(|log| log.records.iter().find(|r| r.offset == offset))
        .map(|r| r.status);
    let which = if status == Some(RecordStatus::Aborted) {
        "the abort marker"
    } else {
        "the marker"
    };
    let marker_offset = note_offset(&events[marker]);
    let mut note = format!(
        "{which} at offset {marker_offset} of {}-{} ended offset {offset}'s transaction",
        lost.topic, lost.partition
    );
    // A remote leader writes a marker while handling WriteTxnMarkers; the coordinator sends
    // it while handling an EndTxn (or writes a local marker directly then).
    let handled = last_request_delivered(events, marker, marker_node.0);
    let end_txn = match handled {
        Some((j, call, WRITE_TXN_MARKERS)) => {
            cause.events.extend(messages_of(events, call));
            let sent = (0..j).rev().find(|&k| is_request_send(&events[k], call));
            sent.and_then(|k| last_request_delivered(events, k, events[k].node.0))
        }
        other => other,
    };
    if let Some((_, call, END_TXN)) = end_txn {
        cause.events.extend(messages_of(events, call));
        note.push_str(&end_txn_sentence(trace, events, call, append));
    }
    cause.note = Some(note);
    cause
}

fn is_note(event: &TraceEvent, note: TraceNote, code: u64, offset: impl Fn(u64) -> bool) -> bool {
    matches!(event.kind, TraceKind::Note { what, a, b } if what == note.name() && a == code && offset(b))
}

fn note_offset(event: &TraceEvent) -> u64 {
    match event.kind {
        TraceKind::Note { b, .. } => b,
        _ => 0,
    }
}

/// The last request delivered to `node` before trace index `before`: (index, call, label).
fn last_request_delivered(
    events: &[TraceEvent],
    before: usize,
    node: u32,
) -> Option<(usize, u64, &'static str)> {
    (0..before).rev().find_map(|j| match events[j].kind {
        TraceKind::Deliver {
            call,
            label,
            response: false,
            ..
        } if events[j].node.0 == node => Some((j, call, label)),
        _ => None,
    })
}

fn is_request_send(event: &TraceEvent, wanted: u64) -> bool {
    matches!(event.kind, TraceKind::Send { call, response: false, .. } if call == wanted)
}

/// Every event of call `call`'s messages.
fn messages_of(events: &[TraceEvent], wanted: u64) -> impl Iterator<Item = usize> + '_ {
    events
        .iter()
        .enumerate()
        .filter_map(move |(j, e)| match e.kind {
            TraceKind::Send { call, .. }
            | TraceKind::Deliver { call, .. }
            | TraceKind::Drop { call, .. }
            | TraceKind::Duplicate { call, .. }
            | TraceKind::Delay { call, .. }
                if call == wanted =>
            {
                Some(j)
            }
            _ => None,
        })
}

/// ", written for EndTxn request #413 from client-4, sent at 1234.5 ms — before the write
/// was appended (3890.2 ms): a late EndTxn of an earlier transaction".
fn end_txn_sentence(
    trace: &TraceSummary,
    events: &[TraceEvent],
    call: u64,
    append: usize,
) -> String {
    let Some(sent) = events.iter().find(|e| is_request_send(e, call)) else {
        return format!(", written for EndTxn request #{call}");
    };
    let from = trace
        .node_names
        .get(sent.node.0 as usize)
        .map_or("?", String::as_str);
    let (sent_ms, append_ms) = (sent.at_ns as f64 / 1e6, events[append].at_ns as f64 / 1e6);
    let mut text =
        format!(", written for EndTxn request #{call} from {from}, sent at {sent_ms:.3} ms");
    if sent_ms < append_ms {
        text.push_str(&format!(
            " — before the write was appended ({append_ms:.3} ms): a late EndTxn of an \
             earlier transaction"
        ));
    }
    text
}

/// A wrong aggregate's cause: the crashes of the nodes that ran the input partition's task
/// before the transaction that wrote the wrong update (a store reused after an unclean
/// shutdown holds the effects of the transaction the crash aborted).
fn aggregate_cause(
    wrong: &WrongAggregate,
    trace: &TraceSummary,
    events: &[TraceEvent],
    history: &History,
) -> Cause {
    let p = wrong.partition;
    let written =
        super::operations::ops_touching(history, &wrong.output_topic, p, &[wrong.output_offset]);
    let Some(writer) = written
        .iter()
        .filter_map(|&i| history.ops.get(i as usize))
        .find(|op| matches!(op.op, Operation::Txn { .. }))
    else {
        return Cause::default();
    };
    let until = writer.time_ns;
    // The nodes whose clients polled the input partition before it, with their first poll.
    let mut owners: BTreeMap<u32, u64> = BTreeMap::new();
    for op in history.ops.iter().filter(|op| op.time_ns < until) {
        if polls(&op.op, &wrong.input_topic, p)
            && let Some(node) = node_of_client(trace, &history.process_name(op.process))
        {
            owners.entry(node).or_insert(op.time_ns);
        }
    }
    let mut cause = Cause::default();
    let mut crashed = Vec::new();
    for (&node, &from) in &owners {
        let crashes = events.iter().enumerate().filter(|(_, e)| {
            e.node.0 == node && e.kind == TraceKind::Crash && (from..until).contains(&e.at_ns)
        });
        for (j, e) in crashes {
            cause.events.insert(j);
            if let Some(up) = (j..events.len())
                .find(|&k| events[k].node.0 == node && events[k].kind == TraceKind::Restart)
            {
                cause.events.insert(up);
            }
            crashed.push(format!(
                "{} crashed at {:.3} ms",
                node_name(trace, node),
                e.at_ns as f64 / 1e6
            ));
        }
    }
    if !crashed.is_empty() {
        cause.note = Some(format!(
            "{}-{p}'s task ran on a node that crashed before the transaction that wrote this \
             update (op {}, {:.3} ms): {}; a store reused after such an unclean shutdown \
             holds the effects of the transaction the crash aborted",
            wrong.input_topic,
            writer.index,
            until as f64 / 1e6,
            crashed.join(", ")
        ));
    }
    cause
}

/// Whether `op` polled `topic`-`partition` (alone or in a transaction).
fn polls(op: &Operation, topic: &str, partition: u32) -> bool {
    match op {
        Operation::Poll {
            topic: t,
            partition: q,
            ..
        } => &**t == topic && *q == partition,
        Operation::Txn { steps, .. } => steps.iter().any(|step| {
            matches!(step, TxnStep::Poll { topic: t, partition: q, .. }
                if &**t == topic && *q == partition)
        }),
        Operation::Send { .. } => false,
    }
}

/// The node a client runs on: the one its name starts with ("instance-2#1 consumer").
fn node_of_client(trace: &TraceSummary, client: &str) -> Option<u32> {
    let base = super::operations::node_name_of(client);
    trace
        .node_names
        .iter()
        .position(|n| n == base)
        .map(|n| n as u32)
}

fn node_name(trace: &TraceSummary, node: u32) -> &str {
    trace
        .node_names
        .get(node as usize)
        .map_or("?", String::as_str)
}
