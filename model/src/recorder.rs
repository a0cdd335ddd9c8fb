//! Records client calls into the checker's history vocabulary, with virtual timestamps.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use checker::history::{History, Operation, Phase};

use crate::client::ClientId;

/// Shared by every client of a run. Cheap to clone.
#[derive(Clone, Default)]
pub struct Recorder {
    history: Arc<Mutex<History>>,
    /// Transactions recorded so far per client id (see `next_transaction_process`).
    transactions: Arc<Mutex<BTreeMap<ClientId, u64>>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an event now; returns its index.
    pub fn record(
        &self,
        process: crate::client::ProcessId,
        phase: Phase,
        op: Operation,
        error: Option<String>,
    ) -> u64 {
        let process = process.get();
        let time_ns = sim::trace::elapsed_ns();
        self.history
            .lock()
            .expect("history lock")
            .push(process, time_ns, phase, op, error)
    }

    /// Replaces the operation of invoke `index`: one recorded before its content was known
    /// (a Streams transaction whose records leave while it still processes).
    pub fn amend(&self, index: u64, op: Operation) {
        let mut history = self.history.lock().expect("history lock");
        let event = &mut history.ops[index as usize];
        assert_eq!(event.phase, Phase::Invoke, "only an invoke is amended");
        event.op = op;
    }

    /// Adds `steps` to transaction invoke `index` (a Streams cycle whose records leave
    /// while it still processes records its steps as they go on the wire).
    pub fn extend_invoke(&self, index: u64, steps: Vec<checker::history::TxnStep>) {
        let mut history = self.history.lock().expect("history lock");
        let event = &mut history.ops[index as usize];
        assert_eq!(event.phase, Phase::Invoke, "only an invoke is extended");
        match &mut event.op {
            Operation::Txn {
                steps: recorded, ..
            } => recorded.extend(steps),
            other => panic!("steps added to a {other:?}"),
        }
    }

    /// Names client `client_id` (its processes) for explanations, e.g. "copier-2#1".
    pub fn name_client(&self, client_id: ClientId, name: impl Into<String>) {
        self.history
            .lock()
            .expect("history lock")
            .clients
            .insert(client_id.get(), name.into());
    }

    /// The process of client `client_id`'s next recorded transaction. Transactions take
    /// the last quarter of the client's processes, counted across every transactional
    /// producer of the client (a replacement after fencing goes on where the fenced one
    /// stopped), so they never collide with the calls its other clients number from 0.
    pub fn next_transaction_process(&self, client_id: ClientId) -> crate::client::ProcessId {
        let band = checker::history::PROCESSES_PER_CLIENT / 4;
        let mut counts = self.transactions.lock().expect("transactions lock");
        let n = counts.entry(client_id).or_default();
        assert!(
            *n < band,
            "client {client_id:?} recorded more than {band} transactions"
        );
        *n += 1;
        client_id.process(3 * band + (*n - 1))
    }

    /// Takes the history recorded so far.
    pub fn take(&self) -> History {
        std::mem::take(&mut *self.history.lock().expect("history lock"))
    }

    /// Number of events recorded.
    pub fn len(&self) -> usize {
        self.history.lock().expect("history lock").ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
