//! The HTML page of a run (`eosim run --html`): the run's report, a timeline of its recorded
//! trace, each finding's causal chain and the final logs with the offsets findings point at.
//!
//! The causal chains are `checker::causal`'s; this module reads the engine's trace for it
//! (`trace_step`: appends by their typed note, `model::TraceNote::Append`) and fills the
//! plain records `reports::html` draws.

use std::collections::BTreeSet;

use checker::causal::{StepEvent, TraceStep, causal_chains, finding_records};
use model::TraceNote;
use reports::html::{ChainStep, PartitionView, Timeline, TimelineEvent, render_run_html};
use scenarios::RunOutcome;
use sim::NodeId;
use sim::trace::{TraceEvent, TraceKind, TraceSummary};

/// The HTML page of a run. The run must have been made with a recorded trace
/// (`RunOptions::record_trace`); without one the timeline is empty.
pub fn html_report(outcome: &RunOutcome, scenario_arg: &str) -> String {
    let report = crate::report(outcome, scenario_arg);
    let events = outcome.trace.recorded.as_deref().unwrap_or(&[]);
    let chains = chains_of(outcome, events);
    // The timeline highlights the first finding's chain.
    let highlighted = chains.first().cloned().unwrap_or_default();
    let timeline = timeline(outcome, events, &highlighted);
    let chain_steps: Vec<Vec<ChainStep>> = chains
        .iter()
        .map(|chain| chain_steps(&outcome.trace, events, chain))
        .collect();
    render_run_html(&report, &timeline, &chain_steps, &partition_views(outcome))
}

/// Per finding, the indices of its causal chain's events in `events`.
fn chains_of(outcome: &RunOutcome, events: &[TraceEvent]) -> Vec<BTreeSet<usize>> {
    let steps: Vec<TraceStep> = events.iter().map(trace_step).collect();
    causal_chains(
        &outcome.anomalies,
        &steps,
        model::protocol::partition_trace_code,
    )
}

/// A trace event as a causal chain sees it.
fn trace_step(event: &TraceEvent) -> TraceStep {
    let step = match &event.kind {
        TraceKind::Note { what, a, b } if TraceNote::from_name(what) == Some(TraceNote::Append) => {
            StepEvent::Append {
                partition: *a,
                offset: *b,
            }
        }
        TraceKind::Send {
            call,
            response: true,
            ..
        } => StepEvent::Answer { call: *call },
        TraceKind::Send { call, .. }
        | TraceKind::Deliver { call, .. }
        | TraceKind::Drop { call, .. }
        | TraceKind::Duplicate { call, .. }
        | TraceKind::Delay { call, .. } => StepEvent::Message { call: *call },
        TraceKind::Crash | TraceKind::Restart => StepEvent::CrashOrRestart,
        _ => StepEvent::Other,
    };
    TraceStep {
        node: event.node.0,
        event: step,
    }
}

/// Every recorded event on its node's lane; those in `highlighted` marked.
fn timeline(
    outcome: &RunOutcome,
    events: &[TraceEvent],
    highlighted: &BTreeSet<usize>,
) -> Timeline {
    let trace = &outcome.trace;
    let events = events
        .iter()
        .enumerate()
        .map(|(j, e)| timeline_event(trace, e, highlighted.contains(&j)))
        .collect();
    Timeline {
        nodes: trace.node_names.clone(),
        events,
        end_ms: outcome.stats.virtual_ms as f64,
    }
}

fn timeline_event(trace: &TraceSummary, e: &TraceEvent, highlight: bool) -> TimelineEvent {
    let (kind, message) = timeline_kind(&e.kind);
    TimelineEvent {
        at_ms: e.at_ns as f64 / 1e6,
        node: e.node.0 as usize,
        kind: kind.to_string(),
        text: trace.render(e).trim().to_string(),
        peer: message.map(|m| m.peer.0 as usize),
        call: message.map(|m| m.call),
        response: message.is_some_and(|m| m.response),
        highlight,
    }
}

/// What the timeline draws of a message event: the line to the other end.
#[derive(Clone, Copy)]
struct MessageEnds {
    peer: NodeId,
    call: u64,
    response: bool,
}

/// The timeline's name for an event's kind, and the message it is about, if any.
fn timeline_kind(kind: &TraceKind) -> (&'static str, Option<MessageEnds>) {
    let message = |peer: &NodeId, call: &u64, response: &bool| {
        Some(MessageEnds {
            peer: *peer,
            call: *call,
            response: *response,
        })
    };
    match kind {
        TraceKind::Send {
            to, call, response, ..
        } => ("send", message(to, call, response)),
        TraceKind::Deliver {
            from,
            call,
            response,
            ..
        } => ("deliver", message(from, call, response)),
        TraceKind::Drop {
            to, call, response, ..
        } => ("drop", message(to, call, response)),
        TraceKind::Duplicate {
            to, call, response, ..
        } => ("duplicate", message(to, call, response)),
        TraceKind::Delay {
            to, call, response, ..
        } => ("hold", message(to, call, response)),
        TraceKind::Crash => ("crash", None),
        TraceKind::Restart => ("restart", None),
        TraceKind::Pause => ("pause", None),
        TraceKind::Resume => ("resume", None),
        TraceKind::Stop => ("stop", None),
        TraceKind::Stopped { .. } => ("stopped", None),
        TraceKind::Fault { .. } => ("fault", None),
        TraceKind::Heal => ("heal", None),
        TraceKind::Note { .. } => ("note", None),
    }
}

/// A causal chain's events, described with node names.
fn chain_steps(
    trace: &TraceSummary,
    events: &[TraceEvent],
    chain: &BTreeSet<usize>,
) -> Vec<ChainStep> {
    chain
        .iter()
        .map(|&j| {
            let e = &events[j];
            ChainStep {
                at_ms: e.at_ns as f64 / 1e6,
                node: trace
                    .node_names
                    .get(e.node.0 as usize)
                    .cloned()
                    .unwrap_or_default(),
                text: trace.describe(&e.kind),
            }
        })
        .collect()
}

/// Each final log's records, flagged where a finding points.
fn partition_views(outcome: &RunOutcome) -> Vec<PartitionView> {
    outcome
        .history
        .final_logs
        .iter()
        .map(|log| {
            let flagged = flagged_offsets(&outcome.anomalies, &log.topic, log.partition);
            PartitionView {
                name: format!("{}-{}", log.topic, log.partition),
                records: log
                    .records
                    .iter()
                    .map(|r| (r.offset, r.value, flagged.contains(&r.offset)))
                    .collect(),
            }
        })
        .collect()
}

/// Offsets the findings point at, in one partition.
fn flagged_offsets(anomalies: &[checker::Anomaly], topic: &str, partition: u32) -> BTreeSet<u64> {
    anomalies
        .iter()
        .filter_map(finding_records)
        .filter(|records| records.topic == topic && records.partition == partition)
        .flat_map(|records| records.offsets)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: TraceKind) -> TraceEvent {
        TraceEvent {
            at_ns: 0,
            node: NodeId(3),
            kind,
        }
    }

    #[test]
    fn appends_are_read_by_their_typed_note_and_answers_by_their_response() {
        let append = event(TraceKind::Note {
            what: TraceNote::Append.name(),
            a: 11,
            b: 4,
        });
        assert_eq!(
            trace_step(&append),
            TraceStep {
                node: 3,
                event: StepEvent::Append {
                    partition: 11,
                    offset: 4
                }
            }
        );
        let marker = event(TraceKind::Note {
            what: TraceNote::Marker.name(),
            a: 11,
            b: 4,
        });
        assert_eq!(trace_step(&marker).event, StepEvent::Other);
        let send = |response| TraceKind::Send {
            to: NodeId(1),
            call: 9,
            label: "produce",
            response,
            content: 0,
        };
        assert_eq!(
            trace_step(&event(send(true))).event,
            StepEvent::Answer { call: 9 }
        );
        assert_eq!(
            trace_step(&event(send(false))).event,
            StepEvent::Message { call: 9 }
        );
        assert_eq!(
            trace_step(&event(TraceKind::Restart)).event,
            StepEvent::CrashOrRestart
        );
    }

    #[test]
    fn a_duplicate_s_chain_holds_both_appends_of_its_value() {
        let scenario = scenarios::load("produce-retries").unwrap();
        let options = scenarios::RunOptions {
            seed: 0,
            variants: vec![model::Variant::NoDedup],
            record_trace: true,
            ..scenarios::RunOptions::default()
        };
        let outcome = scenarios::run(&scenario, &options);
        let events = outcome.trace.recorded.as_deref().unwrap();
        let chains = chains_of(&outcome, events);
        let checker::Anomaly::Duplicate(duplicate) = &outcome.anomalies[0] else {
            panic!("seed 0 under no-dedup finds duplicates first");
        };
        let appended: Vec<u64> = chains[0]
            .iter()
            .filter_map(|&j| match events[j].kind {
                TraceKind::Note { what, b, .. } if what == TraceNote::Append.name() => Some(b),
                _ => None,
            })
            .collect();
        assert_eq!(appended, duplicate.offsets);
        assert!(
            chains[0].len() > appended.len(),
            "the calls that caused the appends"
        );
    }
}
