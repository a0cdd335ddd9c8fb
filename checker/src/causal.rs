//! Causal chains: the events of a run that explain a finding about records at known offsets.
//!
//! A finding names the records it is about ([`finding_records`]); its chain holds every
//! append of those records, the request that caused each append (the one the appending node
//! answers next: a broker handles one request at a time and answers it before the next) with
//! all of that call's messages, and — unless the finding is a duplicate — the appending node's
//! crashes and restarts from then on (a write that vanished, or whose offset was reused).
//!
//! The checker reads no trace format: the caller gives each event of its trace as a
//! [`TraceStep`] (the little the chains need of it) and gets back indices into its own trace.

use std::collections::BTreeSet;

use crate::Anomaly;

/// What a causal chain needs to know of one trace event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// The node the event happened on (any numbering: only compared).
    pub node: u32,
    pub event: StepEvent,
}

/// The kinds of trace event a causal chain looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepEvent {
    /// The node appended a record at `offset` of `partition` (the caller's code for a
    /// topic-partition, as its `partition_code` gives it to [`causal_chains`]).
    Append { partition: u64, offset: u64 },
    /// The node sent the response to call `call`.
    Answer { call: u64 },
    /// Any other event of one of call `call`'s messages (a request sent; a request or
    /// response delivered, dropped, duplicated or held).
    Message { call: u64 },
    /// The node crashed or restarted.
    CrashOrRestart,
    /// Anything else.
    Other,
}

impl StepEvent {
    /// The call whose message this event is about, if any.
    fn call(self) -> Option<u64> {
        match self {
            StepEvent::Answer { call } | StepEvent::Message { call } => Some(call),
            _ => None,
        }
    }
}

/// The records a finding is about: offsets of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingRecords<'a> {
    pub topic: &'a str,
    pub partition: u32,
    pub offsets: Vec<u64>,
}

impl<'a> FindingRecords<'a> {
    pub fn new(topic: &'a str, partition: u32, offsets: Vec<u64>) -> Self {
        FindingRecords {
            topic,
            partition,
            offsets,
        }
    }
}

/// The records `anomaly` names by offset, if it names any (each payload type's
/// [`Finding::records`](crate::anomaly::Finding::records)): a duplicate's offsets, a lost
/// write's acknowledged offset, an inconsistent offset, an unexpected write's offsets, a
/// precommitted read's polled record.
pub fn finding_records(anomaly: &Anomaly) -> Option<FindingRecords<'_>> {
    anomaly.records()
}

/// Per finding (in order), the indices into `trace` of its causal chain, ascending; empty for
/// a finding that names no records by offset. `partition_code` gives a topic-partition the
/// code the trace's appends carry.
pub fn causal_chains(
    anomalies: &[Anomaly],
    trace: &[TraceStep],
    partition_code: impl Fn(&str, u32) -> u64,
) -> Vec<BTreeSet<usize>> {
    anomalies
        .iter()
        .map(|anomaly| chain(anomaly, trace, &partition_code))
        .collect()
}

/// One finding's chain.
fn chain(
    anomaly: &Anomaly,
    trace: &[TraceStep],
    partition_code: &impl Fn(&str, u32) -> u64,
) -> BTreeSet<usize> {
    let mut chain = BTreeSet::new();
    let Some(records) = finding_records(anomaly) else {
        return chain;
    };
    let partition = partition_code(records.topic, records.partition);
    // A write that vanished or whose offset was reused: the appending node's crashes matter.
    let crashes_matter = !matches!(anomaly, Anomaly::Duplicate(_));
    for append in appends_of(trace, partition, &records.offsets) {
        chain.insert(append);
        if let Some(call) = answered_next(trace, append) {
            chain.extend(messages_of_call(trace, call));
        }
        if crashes_matter {
            chain.extend(crashes_from(trace, append));
        }
    }
    chain
}

/// The indices of the appends at `offsets` of `partition`.
fn appends_of<'a>(
    trace: &'a [TraceStep],
    partition: u64,
    offsets: &'a [u64],
) -> impl Iterator<Item = usize> + 'a {
    trace
        .iter()
        .enumerate()
        .filter_map(move |(i, step)| match step.event {
            StepEvent::Append {
                partition: p,
                offset,
            } if p == partition && offsets.contains(&offset) => Some(i),
            _ => None,
        })
}

/// The call the node of the event at `at` answers next (from `at` on): the request that
/// caused an append there.
fn answered_next(trace: &[TraceStep], at: usize) -> Option<u64> {
    let node = trace[at].node;
    trace[at..].iter().find_map(|step| match step.event {
        StepEvent::Answer { call } if step.node == node => Some(call),
        _ => None,
    })
}

/// The indices of every event of call `call`'s messages.
fn messages_of_call(trace: &[TraceStep], call: u64) -> impl Iterator<Item = usize> + '_ {
    trace
        .iter()
        .enumerate()
        .filter(move |(_, step)| step.event.call() == Some(call))
        .map(|(i, _)| i)
}

/// The indices of the crashes and restarts of the node of the event at `at`, from `at` on.
fn crashes_from(trace: &[TraceStep], at: usize) -> impl Iterator<Item = usize> + '_ {
    let node = trace[at].node;
    trace
        .iter()
        .enumerate()
        .skip(at)
        .filter(move |(_, step)| step.node == node && step.event == StepEvent::CrashOrRestart)
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::{Duplicate, LostWrite, Missing};

    const PARTITION: u64 = 7;
    const BROKER: u32 = 1;
    const CLIENT: u32 = 2;

    fn code(topic: &str, partition: u32) -> u64 {
        assert_eq!((topic, partition), ("events", 0));
        PARTITION
    }

    fn step(node: u32, event: StepEvent) -> TraceStep {
        TraceStep { node, event }
    }

    /// The broker appended at `offset` of `partition`.
    fn append(partition: u64, offset: u64) -> TraceStep {
        step(BROKER, StepEvent::Append { partition, offset })
    }

    fn duplicate(offsets: Vec<u64>) -> Anomaly {
        Anomaly::Duplicate(Duplicate {
            topic: "events".into(),
            partition: 0,
            value: 5,
            offsets,
            sends: vec![1],
            ack: None,
            acked_offset: None,
            writers: vec![],
            reprocessed: false,
        })
    }

    fn lost_write(acked_offset: Option<u64>) -> Anomaly {
        Anomaly::LostWrite(LostWrite {
            topic: "events".into(),
            partition: 0,
            value: 5,
            send: 1,
            ack: 2,
            acked_offset,
        })
    }

    /// A client's call 1 appended at offset 0 and answered; its retry, call 2 (the ack was
    /// lost), appended again at offset 1; then the broker crashed and restarted.
    fn retried_produce() -> Vec<TraceStep> {
        use StepEvent::*;
        vec![
            step(CLIENT, Message { call: 1 }), // 0 request sent
            step(BROKER, Message { call: 1 }), // 1 delivered
            append(PARTITION, 0),              // 2
            step(BROKER, Answer { call: 1 }),  // 3
            step(BROKER, Message { call: 1 }), // 4 response dropped
            step(CLIENT, Message { call: 2 }), // 5 retry sent
            step(BROKER, Message { call: 2 }), // 6 delivered
            append(9, 1),                      // 7 another partition
            append(PARTITION, 1),              // 8
            step(CLIENT, Other),               // 9
            step(BROKER, Answer { call: 2 }),  // 10
            step(CLIENT, Message { call: 2 }), // 11 response delivered
            step(CLIENT, CrashOrRestart),      // 12 not the broker
            step(BROKER, CrashOrRestart),      // 13
            step(BROKER, CrashOrRestart),      // 14
        ]
    }

    #[test]
    fn a_duplicate_is_explained_by_both_appends_and_their_calls_without_crashes() {
        let chains = causal_chains(&[duplicate(vec![0, 1])], &retried_produce(), code);
        let expected: BTreeSet<usize> = [0, 1, 2, 3, 4, 5, 6, 8, 10, 11].into();
        assert_eq!(chains, vec![expected]);
    }

    #[test]
    fn a_lost_write_is_explained_by_its_append_its_call_and_the_crashes_after_it() {
        let chains = causal_chains(&[lost_write(Some(1))], &retried_produce(), code);
        let expected: BTreeSet<usize> = [5, 6, 8, 10, 11, 13, 14].into();
        assert_eq!(chains, vec![expected]);
    }

    #[test]
    fn findings_without_offsets_have_empty_chains_in_their_place() {
        let missing = Anomaly::Missing(Missing {
            topic: "events".into(),
            partition: 0,
            value: 5,
            send: 1,
            completion: None,
            outcome: "none".into(),
            error: None,
        });
        let chains = causal_chains(
            &[missing, lost_write(None), duplicate(vec![1])],
            &retried_produce(),
            code,
        );
        assert_eq!(chains.len(), 3);
        assert!(chains[0].is_empty() && chains[1].is_empty());
        assert_eq!(chains[2], [5, 6, 8, 10, 11].into());
    }

    #[test]
    fn an_append_never_answered_has_no_cause_but_is_in_the_chain() {
        let trace = vec![append(PARTITION, 3)];
        assert_eq!(
            causal_chains(&[duplicate(vec![3])], &trace, code),
            vec![[0].into()]
        );
    }

    #[test]
    fn finding_records_name_the_partition_and_offsets() {
        let lost = lost_write(Some(4));
        assert_eq!(
            finding_records(&lost).unwrap(),
            FindingRecords {
                topic: "events",
                partition: 0,
                offsets: vec![4]
            }
        );
        assert_eq!(finding_records(&lost_write(None)), None);
    }
}
