//! The HTML page of a run (`eosim run --html`): the run's report, a timeline of its history
//! and recorded trace (`operations`: a lane per client; `trace_view`: a lane per node, faults
//! as spans), each finding's causal chain — and its cause when that is not the write itself
//! (`cause`) — and the final logs with the offsets findings point at. Streams values are shown
//! decoded with the application's record layout.
//!
//! The causal chains are `checker::causal`'s; this module reads the engine's trace for it
//! (`trace_step`: appends by their typed note, `model::TraceNote::Append`) and fills the
//! plain records `reports::html` draws.

mod cause;
mod lin;
mod operations;
mod trace_view;

pub use lin::lin_html_report;

use std::collections::{BTreeMap, BTreeSet};

use checker::causal::{StepEvent, TraceStep, causal_chains, finding_records};
use checker::history::RecordStatus;
use model::TraceNote;
use reports::html::{
    ChainStep, FindingView, Lane, PartitionView, StreamValues, Timeline, render_run_html,
};
use scenarios::RunOutcome;
use sim::trace::{TraceEvent, TraceKind};

use operations::Operations;
use trace_view::{NodeLanes, Words};

/// The HTML page of a run. The run must have been made with a recorded trace
/// (`RunOptions::record_trace`); without one the timeline shows operations only.
pub fn html_report(outcome: &RunOutcome, scenario_arg: &str) -> String {
    let report = crate::report(outcome, scenario_arg);
    let events = outcome.trace.recorded.as_deref().unwrap_or(&[]);
    let values = stream_values(&outcome.history);
    let chains = chains_of(outcome, events);
    let causes: Vec<cause::Cause> = outcome
        .anomalies
        .iter()
        .map(|a| cause::cause_of(a, &outcome.trace, events, &outcome.history))
        .collect();
    let ops = operations::operations(&outcome.history, &values);
    let chained: BTreeSet<usize> = chains
        .iter()
        .chain(causes.iter().map(|c| &c.events))
        .flatten()
        .copied()
        .collect();
    let words = Words::new(&outcome.trace, &outcome.history.final_logs);
    let (timeline, mark_of) = timeline(outcome, &words, events, &ops, &chained);
    let findings: Vec<FindingView> = outcome
        .anomalies
        .iter()
        .zip(chains.iter().zip(&causes))
        .map(|(anomaly, (chain, cause))| {
            let steps = |set: &BTreeSet<usize>| chain_steps(&words, events, set);
            let marks = |set: &BTreeSet<usize>| {
                set.iter().filter_map(|j| mark_of.get(j).copied()).collect()
            };
            FindingView {
                explanation: values.rewrite(&anomaly.explain()),
                chain: steps(chain),
                cause: steps(&cause.events),
                cause_note: cause.note.clone(),
                marks: marks(chain),
                cause_marks: marks(&cause.events),
                bars: finding_bars(anomaly, &outcome.history, &ops),
            }
        })
        .collect();
    render_run_html(
        &report,
        &timeline,
        &findings,
        &partition_views(outcome, &values),
    )
}

/// How the run's values are shown: decoded with the record layout a Streams application
/// handed the checker with its aggregate checks, plain otherwise.
fn stream_values(history: &checker::History) -> StreamValues {
    match history.aggregate_checks.first() {
        Some(check) => StreamValues::packed(check.layout),
        None => StreamValues::plain(),
    }
}

/// The timeline: the supervisor's lane (the plan's faults), then each node's lane followed
/// by the lanes of the clients it runs; and trace index → mark for the kept events.
fn timeline(
    outcome: &RunOutcome,
    words: &Words<'_>,
    events: &[TraceEvent],
    ops: &Operations,
    chained: &BTreeSet<usize>,
) -> (Timeline, BTreeMap<usize, usize>) {
    let trace = &outcome.trace;
    let (lanes, node_lanes, client_lanes) = lanes(&trace.node_names, &ops.clients);
    let end_ms = outcome.stats.virtual_ms as f64;
    let (marks, mark_of) = trace_view::marks(words, events, &node_lanes, chained);
    let bars = ops
        .bars
        .iter()
        .cloned()
        .map(|mut bar| {
            bar.lane = client_lanes[bar.lane];
            bar
        })
        .collect();
    let timeline = Timeline {
        unit: "ms".into(),
        end: end_ms,
        lanes,
        bars,
        spans: trace_view::spans(trace, events, &node_lanes, end_ms),
        marks,
    };
    (timeline, mark_of)
}

/// The lanes in page order, each node's lane, each client's lane. A client runs on the node
/// its name starts with ("copier-3#0 producer" on "copier-3"); others go last.
fn lanes(node_names: &[String], clients: &[(u64, String)]) -> (Vec<Lane>, NodeLanes, Vec<usize>) {
    let lane = |name: &str, group: &str| Lane {
        name: name.to_string(),
        group: group.into(),
    };
    let node_of = |client: &str| {
        let base = operations::node_name_of(client);
        node_names
            .iter()
            .skip(1)
            .position(|n| n == base)
            .map(|n| n + 1)
    };
    let mut lanes = vec![lane("faults", "faults")];
    let mut node_lanes = vec![0; node_names.len()];
    let mut client_lanes = vec![usize::MAX; clients.len()];
    for (node, name) in node_names.iter().enumerate().skip(1) {
        node_lanes[node] = lanes.len();
        lanes.push(lane(name, "node"));
        for (c, (_, client)) in clients.iter().enumerate() {
            if client == name {
                // A client named as its node (the loader, the verifier) shares its lane.
                client_lanes[c] = node_lanes[node];
            } else if node_of(client) == Some(node) {
                client_lanes[c] = lanes.len();
                lanes.push(lane(client, "process"));
            }
        }
    }
    for (c, (_, client)) in clients.iter().enumerate() {
        if client_lanes[c] == usize::MAX {
            client_lanes[c] = lanes.len();
            lanes.push(lane(client, "process"));
        }
    }
    (lanes, NodeLanes { lanes: node_lanes }, client_lanes)
}

/// The bars of the operations a finding names in its explanation or that wrote or read the
/// records it is about.
fn finding_bars(
    anomaly: &checker::Anomaly,
    history: &checker::History,
    ops: &Operations,
) -> Vec<usize> {
    let mut named = operations::named_ops(&anomaly.explain());
    if let checker::Anomaly::WrongAggregate(wrong) = anomaly {
        // The transaction that wrote the wrong update and those that read its input.
        let (p, output, input) = (wrong.partition, wrong.output_offset, wrong.input_offset);
        named.extend(operations::ops_touching(
            history,
            &wrong.output_topic,
            p,
            &[output],
        ));
        named.extend(operations::ops_touching(
            history,
            &wrong.input_topic,
            p,
            &[input],
        ));
    }
    if let Some(records) = finding_records(anomaly) {
        named.extend(operations::ops_touching(
            history,
            records.topic,
            records.partition,
            &records.offsets,
        ));
    }
    // Not the verifier's read-back: it reads every record at the end.
    let bars: BTreeSet<usize> = named
        .iter()
        .filter(|&&op| {
            history
                .ops
                .get(op as usize)
                .is_none_or(|op| !model::client::ClientId::of_process(op.process).is_verifier())
        })
        .filter_map(|op| ops.bar_of_op.get(op).copied())
        .collect();
    bars.into_iter().collect()
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

/// A causal chain's events, described with node and partition names.
fn chain_steps(
    words: &Words<'_>,
    events: &[TraceEvent],
    chain: &BTreeSet<usize>,
) -> Vec<ChainStep> {
    let trace = words.trace();
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
                text: words.describe(&e.kind),
            }
        })
        .collect()
}

/// Each final log's records, flagged where a finding points.
fn partition_views(outcome: &RunOutcome, values: &StreamValues) -> Vec<PartitionView> {
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
                    .map(|r| {
                        let status = match r.status {
                            RecordStatus::Plain => "",
                            RecordStatus::Committed => " (committed)",
                            RecordStatus::Aborted => " (aborted)",
                            RecordStatus::Open => " (open transaction)",
                        };
                        let value = format!("{}{status}", values.show(r.value));
                        (r.offset, value, flagged.contains(&r.offset))
                    })
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
    use sim::NodeId;

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

    #[test]
    fn clients_get_lanes_under_their_nodes_and_a_namesake_shares_its_node_s() {
        let nodes: Vec<String> = ["supervisor", "broker-1", "copier-1", "verifier"]
            .map(String::from)
            .into();
        let clients: Vec<(u64, String)> = vec![
            (0, "verifier".into()),
            (1000, "copier-1#0".into()),
            (1001, "copier-1#0 producer".into()),
            (5, "stranger".into()),
        ];
        let (lanes, node_lanes, client_lanes) = lanes(&nodes, &clients);
        let names: Vec<&str> = lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "faults",
                "broker-1",
                "copier-1",
                "copier-1#0",
                "copier-1#0 producer",
                "verifier",
                "stranger"
            ]
        );
        assert_eq!(node_lanes.lanes, [0, 1, 2, 5]);
        assert_eq!(client_lanes, [5, 3, 4, 6]);
    }

    fn page_run(name: &str, seed: u64, variant: model::Variant) -> RunOutcome {
        let scenario = scenarios::load(name).unwrap();
        let options = scenarios::RunOptions {
            seed,
            variants: vec![variant],
            record_trace: true,
            ..scenarios::RunOptions::default()
        };
        scenarios::run(&scenario, &options)
    }

    #[test]
    fn a_lost_write_s_cause_is_the_late_end_txn_whose_abort_marker_took_it() {
        let outcome = page_run("jepsen-queue", 20, model::Variant::NoTxnEpochBump);
        let events = outcome.trace.recorded.as_deref().unwrap();
        let lost = outcome
            .anomalies
            .iter()
            .find(|a| matches!(a, checker::Anomaly::LostWrite(_)))
            .expect("seed 20 loses a write");
        let cause = cause::cause_of(lost, &outcome.trace, events, &outcome.history);
        let note = cause.note.expect("a cause");
        assert!(
            note.starts_with("the abort marker at offset 48 of t1-0")
                && note.contains("EndTxn request #413 from client-4")
                && note.ends_with("a late EndTxn of an earlier transaction"),
            "{note}"
        );
        let labels: BTreeSet<&str> = cause
            .events
            .iter()
            .filter_map(|&j| match events[j].kind {
                TraceKind::Deliver { label, .. } | TraceKind::Delay { label, .. } => Some(label),
                _ => None,
            })
            .collect();
        assert_eq!(labels, BTreeSet::from(["end-txn", "write-txn-markers"]));
    }

    #[test]
    fn a_wrong_aggregate_s_cause_is_the_crash_of_the_node_that_ran_its_task() {
        let outcome = page_run(
            "eos-test",
            5,
            model::Variant::StoreNotWipedOnUncleanShutdown,
        );
        let events = outcome.trace.recorded.as_deref().unwrap();
        let wrong = &outcome.anomalies[0];
        assert_eq!(wrong.kind().name(), "wrong-aggregate");
        let cause = cause::cause_of(wrong, &outcome.trace, events, &outcome.history);
        let note = cause.note.expect("a cause");
        assert!(note.contains("instance-2 crashed at 1109.000 ms"), "{note}");
        let kinds: Vec<&TraceKind> = cause.events.iter().map(|&j| &events[j].kind).collect();
        assert_eq!(kinds, [&TraceKind::Crash, &TraceKind::Restart]);
    }

    #[test]
    fn the_page_lists_every_finding_with_streams_values_decoded() {
        let scenario = scenarios::load("eos-test").unwrap();
        let options = scenarios::RunOptions {
            seed: 1,
            guarantee: Some(model::Guarantee::AtLeastOnce),
            record_trace: true,
            ..scenarios::RunOptions::default()
        };
        let outcome = scenarios::run(&scenario, &options);
        assert!(
            outcome.anomalies.len() > 50,
            "more than the old page showed"
        );
        let page = html_report(&outcome, "eos-test");
        let start = page.find("application/json\">").unwrap() + "application/json\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        let data: serde_json::Value =
            serde_json::from_str(&page[start..end].replace("<\\/", "</")).unwrap();
        let findings = data["findings"].as_array().unwrap();
        assert_eq!(findings.len(), outcome.anomalies.len());
        let explanation = findings[0]["explanation"].as_str().unwrap();
        assert!(
            explanation.starts_with("value ⟨input ") && explanation.contains(", key "),
            "{explanation}"
        );
    }
}
