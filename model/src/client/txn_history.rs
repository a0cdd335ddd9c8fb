//! A transactional producer's own history: each transaction is one `txn` operation, invoked
//! when it begins and completed when it ends, with the sends it made (and where they landed)
//! and the consumer offsets it committed, so an application written with the clients is
//! checked with no history code of its own.

use std::sync::Arc;

use checker::history::{Operation, Phase, Topic, TxnStep};

use crate::Recorder;
use crate::client::{ClientId, ProcessId};
use crate::protocol::{GroupMetadata, TopicPartition};

/// The operation of the transaction in progress.
pub(crate) struct TxnHistory {
    recorder: Recorder,
    txn_id: String,
    client_id: ClientId,
    /// The process of the transaction in progress (each transaction has its own); none
    /// before the first `begin`.
    process: Option<ProcessId>,
    steps: Vec<TxnStep>,
}

impl TxnHistory {
    pub(crate) fn new(recorder: Recorder, txn_id: &str, client_id: ClientId) -> Self {
        Self {
            recorder,
            txn_id: txn_id.to_string(),
            client_id,
            process: None,
            steps: Vec::new(),
        }
    }

    fn operation(&self, steps: Vec<TxnStep>) -> Operation {
        Operation::Txn {
            transactional: true,
            txn_id: Some(self.txn_id.clone()),
            steps,
        }
    }

    /// A transaction began: its invocation (the steps are not known yet).
    pub(crate) fn begin(&mut self) {
        self.steps.clear();
        let process = self.recorder.next_transaction_process(self.client_id);
        self.process = Some(process);
        let op = self.operation(Vec::new());
        self.recorder.record(process, Phase::Invoke, op, None);
    }

    /// `values` were sent to `tp`: at consecutive offsets from `first_offset` if known
    /// (acknowledged), else their fate is the transaction's.
    pub(crate) fn sent(&mut self, tp: &TopicPartition, values: &[u64], first_offset: Option<u64>) {
        let topic: Topic = Arc::clone(&tp.topic);
        for (i, &value) in values.iter().enumerate() {
            self.steps.push(TxnStep::Send {
                topic: topic.clone(),
                partition: tp.partition,
                value,
                source: None,
                offset: first_offset.map(|o| o + i as u64),
            });
        }
    }

    /// The consumer offsets sent to the transaction (committed with it).
    pub(crate) fn offsets(&mut self, group: &GroupMetadata, offsets: &[(TopicPartition, u64)]) {
        for (tp, offset) in offsets {
            self.steps.push(TxnStep::CommitOffset {
                group: group.group_id.to_string(),
                topic: Arc::clone(&tp.topic),
                partition: tp.partition,
                offset: *offset,
            });
        }
    }

    /// The transaction ended: `Ok` committed, `Fail` definitely aborted, `Info` unknown.
    pub(crate) fn end(&mut self, phase: Phase, error: Option<String>) {
        assert_ne!(
            phase,
            Phase::Invoke,
            "a transaction ends in ok, fail or info"
        );
        let steps = std::mem::take(&mut self.steps);
        let op = self.operation(steps);
        let process = self.process.expect("a transaction ends after it began");
        self.recorder.record(process, phase, op, error);
    }
}
