//! Records client calls into the checker's history vocabulary, with virtual timestamps.

use std::sync::{Arc, Mutex};

use checker::history::{History, Operation, Phase};

/// Shared by every client of a run. Cheap to clone.
#[derive(Clone, Default)]
pub struct Recorder {
    history: Arc<Mutex<History>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an event now; returns its index.
    pub fn record(&self, process: u64, phase: Phase, op: Operation, error: Option<String>) -> u64 {
        let time_ns = sim::trace::elapsed_ns();
        self.history
            .lock()
            .expect("history lock")
            .push(process, time_ns, phase, op, error)
    }

    /// Names client `client_id` (its processes) for explanations, e.g. "copier-2#1".
    pub fn name_client(&self, client_id: u64, name: impl Into<String>) {
        self.history
            .lock()
            .expect("history lock")
            .clients
            .insert(client_id, name.into());
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
