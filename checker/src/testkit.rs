//! Builders for small histories in unit tests and proptests.

use crate::history::*;

pub fn send_op(topic: &str, partition: u32, value: u64, offset: Option<u64>) -> Operation {
    Operation::Send {
        topic: topic.into(),
        partition,
        value,
        offset,
    }
}

pub fn poll_op(topic: &str, partition: u32, from_offset: u64, records: &[(u64, u64)]) -> Operation {
    Operation::Poll {
        topic: topic.into(),
        partition,
        from_offset,
        records: polled(records),
    }
}

/// (offset, value) pairs as polled records.
pub fn polled(records: &[(u64, u64)]) -> Vec<PolledRecord> {
    records
        .iter()
        .map(|&(offset, value)| PolledRecord { offset, value })
        .collect()
}

pub fn txn(steps: Vec<TxnStep>) -> Operation {
    Operation::Txn {
        transactional: true,
        txn_id: Some("tx".into()),
        steps,
    }
}

pub fn send_step(
    topic: &str,
    partition: u32,
    value: u64,
    source: Option<u64>,
    offset: Option<u64>,
) -> TxnStep {
    TxnStep::Send {
        topic: topic.into(),
        partition,
        value,
        source,
        offset,
    }
}

pub fn poll_step(topic: &str, partition: u32, records: &[(u64, u64)]) -> TxnStep {
    TxnStep::Poll {
        topic: topic.into(),
        partition,
        records: polled(records),
    }
}

pub fn commit_step(group: &str, topic: &str, partition: u32, offset: u64) -> TxnStep {
    TxnStep::CommitOffset {
        group: group.into(),
        topic: topic.into(),
        partition,
        offset,
    }
}

/// A final log from (value, status) in offset order from 0.
pub fn final_log(topic: &str, partition: u32, records: &[(u64, RecordStatus)]) -> FinalLog {
    FinalLog {
        topic: topic.into(),
        partition,
        records: records
            .iter()
            .enumerate()
            .map(|(offset, &(value, status))| LogEntry {
                offset: offset as u64,
                value,
                producer_id: 1,
                status,
            })
            .collect(),
    }
}

/// Invokes `op` on `process` and completes it with `phase` and the completed form `done`.
pub fn complete(h: &mut History, process: u64, op: Operation, phase: Phase, done: Operation) {
    let t = h.ops.len() as u64;
    h.push(process, t, Phase::Invoke, op, None);
    h.push(process, t + 1, phase, done, None);
}

/// Invokes and completes `op` unchanged.
pub fn run(h: &mut History, process: u64, phase: Phase, op: Operation) {
    complete(h, process, op.clone(), phase, op);
}

/// Every finding of `kind` in `h` (informational ones included: `detect::findings`), in the
/// order the checks report them.
pub fn findings_of(h: &History, kind: crate::AnomalyKind) -> Vec<crate::Anomaly> {
    let all = crate::detect::findings(h).expect("a well-formed test history");
    all.into_iter().filter(|a| a.kind() == kind).collect()
}
