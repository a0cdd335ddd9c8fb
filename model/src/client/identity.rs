//! Who is who in a history: the client ids of the apps' clients and their restarts.
//!
//! A history process is `client id × PROCESSES_PER_CLIENT + call`, so every client's calls
//! are told apart and named in reports. The numbering is fixed (histories, reports and trace
//! hashes depend on it): the verifier is 0, a loader 1, a producer `p` (0-based) `p + 1`,
//! and incarnation `i` of restartable node `k` (0-based) `1,000 × (k + 1) + 10 × i`, its
//! sub-clients (consumer, producer, member, …) the next ids after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Recorder;

/// Calls per client before two clients' process ids would collide.
pub use checker::history::PROCESSES_PER_CLIENT;

/// A client's id in the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(u64);

/// A history process: one call of one client (`client id × PROCESSES_PER_CLIENT + call`), so
/// that concurrent calls keep Jepsen's one-open-operation-per-process rule. Made only by
/// [`ClientId::process`]; the history stores its number (`get`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessId(u64);

impl ProcessId {
    /// The number the history records.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The client that made the call.
    pub fn client(self) -> ClientId {
        ClientId(self.0 / PROCESSES_PER_CLIENT)
    }
}

/// Ids a restartable node's slot spans: `SLOT_SPAN × (slot + 1)` onwards.
const SLOT_SPAN: u64 = 1_000;
/// Ids an incarnation spans: its own and its sub-clients'.
const INCARNATION_SPAN: u64 = 10;
/// Restarts of one node before its ids would run into the next slot's.
pub const MAX_INCARNATIONS: u64 = SLOT_SPAN / INCARNATION_SPAN;

impl ClientId {
    /// The verifier, which reads every partition back after the run.
    pub const VERIFIER: ClientId = ClientId(0);
    /// An app's loader (writes its input before the run).
    pub const LOADER: ClientId = ClientId(1);

    /// Producer `p` (0-based) of an app without restarts or loader.
    pub fn producer(p: u32) -> Self {
        ClientId(u64::from(p) + 1)
    }

    /// Incarnation `incarnation` (0 = first start) of restartable node `slot` (0-based).
    pub fn incarnation(slot: u32, incarnation: u64) -> Self {
        assert!(
            incarnation < MAX_INCARNATIONS,
            "a node restarted more than {MAX_INCARNATIONS} times: client ids would collide"
        );
        ClientId(SLOT_SPAN * (u64::from(slot) + 1) + INCARNATION_SPAN * incarnation)
    }

    /// The sub-client `role` (1-based: 1 = first role) of this incarnation.
    pub fn sub_client(self, role: u64) -> Self {
        assert!(
            (1..INCARNATION_SPAN).contains(&role),
            "an incarnation has at most {} sub-clients",
            INCARNATION_SPAN - 1
        );
        ClientId(self.0 + role)
    }

    /// The client a history process belongs to.
    pub fn of_process(process: u64) -> Self {
        ClientId(process / PROCESSES_PER_CLIENT)
    }

    pub fn is_verifier(self) -> bool {
        self == Self::VERIFIER
    }

    /// Its call number `call` (0-based) as a history process.
    pub fn process(self, call: u64) -> ProcessId {
        assert!(
            call < PROCESSES_PER_CLIENT,
            "client {} made more than {PROCESSES_PER_CLIENT} calls: process ids would collide",
            self.0
        );
        ProcessId(self.0 * PROCESSES_PER_CLIENT + call)
    }

    /// The number histories name the client by (`History::clients`).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Counts the starts of one restartable node and names each incarnation's clients in the
/// history: `<node>#<incarnation>` for its main loop, `<node>#<incarnation> <role>` for its
/// sub-clients.
#[derive(Clone)]
pub struct Incarnations {
    slot: u32,
    node: String,
    roles: &'static [&'static str],
    started: Arc<AtomicU64>,
}

impl Incarnations {
    /// For node `node`, restartable slot `slot` (0-based), whose incarnations have the
    /// sub-clients `roles` (at ids +1, +2, …).
    pub fn new(slot: u32, node: impl Into<String>, roles: &'static [&'static str]) -> Self {
        Self {
            slot,
            node: node.into(),
            roles,
            started: Arc::default(),
        }
    }

    /// Counts a start; returns its incarnation number and client id, named in `recorder`.
    pub fn next(&self, recorder: &Recorder) -> (u64, ClientId) {
        let incarnation = self.started.fetch_add(1, Ordering::Relaxed);
        let id = ClientId::incarnation(self.slot, incarnation);
        let name = format!("{}#{incarnation}", self.node);
        for (role, role_name) in (1..).zip(self.roles) {
            recorder.name_client(id.sub_client(role), format!("{name} {role_name}"));
        }
        recorder.name_client(id, name);
        (incarnation, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numbering_is_the_one_histories_were_recorded_with() {
        assert_eq!(ClientId::VERIFIER.get(), 0);
        assert_eq!(ClientId::LOADER.get(), 1);
        assert_eq!(ClientId::producer(2).get(), 3);
        assert_eq!(ClientId::incarnation(0, 0).get(), 1_000);
        assert_eq!(ClientId::incarnation(2, 3).get(), 3_030);
        assert_eq!(ClientId::incarnation(2, 3).sub_client(2).get(), 3_032);
        let process = ClientId::incarnation(1, 1).process(17);
        assert_eq!(process.get(), 2_010_000_017);
        assert_eq!(process.client(), ClientId::incarnation(1, 1));
        assert_eq!(
            ClientId::of_process(process.get()),
            ClientId::incarnation(1, 1)
        );
        assert!(ClientId::of_process(5).is_verifier());
    }

    #[test]
    #[should_panic(expected = "client ids would collide")]
    fn too_many_restarts_are_refused_before_ids_collide() {
        ClientId::incarnation(0, MAX_INCARNATIONS);
    }

    #[test]
    fn incarnations_count_starts_and_name_their_clients() {
        let recorder = Recorder::new();
        let copier = Incarnations::new(1, "copier-2", &["consumer", "producer"]);
        assert_eq!(copier.next(&recorder), (0, ClientId::incarnation(1, 0)));
        assert_eq!(
            copier.clone().next(&recorder),
            (1, ClientId::incarnation(1, 1))
        );
        let history = recorder.take();
        let name = |id: u64| history.clients.get(&id).cloned();
        assert_eq!(name(2_010).as_deref(), Some("copier-2#1"));
        assert_eq!(name(2_012).as_deref(), Some("copier-2#1 producer"));
    }
}
