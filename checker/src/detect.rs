//! What every detector is given, and the passes that run them.
//!
//! A detector is `fn(&Context) -> Vec<Payload>` (or, for kinds found jointly in one pass,
//! `Vec<Anomaly>`), registered in a row of `anomaly_kinds!` (`anomaly.rs`); the table's
//! derived `detect` runs the rows of a pass in table order, so the report order is the table
//! order. The context holds the history paired and flattened once, and the indexes several
//! detectors share, each built on first use: a history that needs none of them builds none.

use std::cell::OnceCell;

use crate::anomaly::policy::{Policy, Verdict};
use crate::anomaly::{Anomaly, NonmonotonicPoll, Pass, PollSkip, detect};
use crate::facts::{Facts, Room};
use crate::history::{History, OpPair};
use crate::log::Views;
use crate::txn::effects::Effects;
use crate::txn::internal::InternalOrder;
use crate::txn::{KnownRecords, Truth};

/// A detector's view of one history.
pub(crate) struct Context<'c, 'h> {
    pub history: &'h History,
    /// Each invoke's index with its completion's.
    pub pairs: &'c [OpPair],
    pub facts: &'c Facts<'h>,
    /// The final logs indexed by value and by offset.
    pub truth: Truth<'c, 'h>,
    log_views: OnceCell<Views<'c, 'h>>,
    effects: OnceCell<Effects>,
    poll_scan: OnceCell<(Vec<PollSkip>, Vec<NonmonotonicPoll>)>,
    known_records: OnceCell<KnownRecords<'h>>,
    internal_order: OnceCell<InternalOrder>,
}

impl<'c, 'h> Context<'c, 'h> {
    pub fn new(history: &'h History, pairs: &'c [OpPair], facts: &'c Facts<'h>) -> Self {
        Context {
            history,
            pairs,
            facts,
            truth: Truth::new(facts),
            log_views: OnceCell::new(),
            effects: OnceCell::new(),
            poll_scan: OnceCell::new(),
            known_records: OnceCell::new(),
            internal_order: OnceCell::new(),
        }
    }

    /// Every partition as the log checks see it (`log.rs`).
    pub fn log_views(&self) -> &Views<'c, 'h> {
        self.log_views
            .get_or_init(|| crate::log::build_views(self.history, self.facts))
    }

    /// Committed outputs attributed to their inputs (the exactly-once oracle's view).
    pub fn effects(&self) -> &Effects {
        self.effects
            .get_or_init(|| Effects::new(self.facts, &self.truth))
    }

    /// The per-process poll scan's poll skips and non-monotonic polls: one scan finds both.
    pub fn poll_scan(&self) -> &(Vec<PollSkip>, Vec<NonmonotonicPoll>) {
        self.poll_scan.get_or_init(|| crate::txn::scan_polls(self))
    }

    /// Per partition without a final log, the records a consumer should see
    /// (`txn::known_without_truth`; `txn::known_between` asks it).
    pub fn known_records(&self) -> &KnownRecords<'h> {
        self.known_records
            .get_or_init(|| crate::txn::known_without_truth(self.facts, &self.truth))
    }

    /// The order inside each operation: its polls' and its transaction's sends'
    /// (`txn::internal`: int-poll-skip, int-nonmonotonic-poll, int-send-skip,
    /// int-nonmonotonic-send from one scan).
    pub fn internal_order(&self) -> &InternalOrder {
        self.internal_order
            .get_or_init(|| crate::txn::internal::scan(self))
    }
}

/// Why a history cannot be checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Its invokes and completions do not pair up (a completion without an open invoke, a
    /// second invoke while one is open, a completion of another kind).
    #[error("op {index}: {message}")]
    Unpaired { index: u64, message: String },
}

/// Runs the detectors of the passes `wanted` accepts over `history`, pairing it once.
pub(crate) fn run_passes(
    history: &History,
    wanted: impl Fn(Pass) -> bool,
) -> Result<Vec<Anomaly>, CheckError> {
    let mut room = Room::default();
    let pairs = history
        .pair_up(|invoke, completion| room.count(invoke, completion))
        .map_err(|(index, message)| CheckError::Unpaired { index, message })?;
    let facts = Facts::with_room(history, &pairs, room);
    Ok(detect(&Context::new(history, &pairs, &facts), wanted))
}

/// Every detector's findings, in table order (the log checks, the transaction checks and the
/// aggregate verifier over the history's own `aggregate_checks`, then any kind added since: a
/// new kind goes last), informational ones included (`policy::Verdict::Informational`:
/// int-send-skip, and g1c cycles that need a write-write edge). Errors if the history's
/// invokes and completions do not pair up.
pub fn findings(history: &History) -> Result<Vec<Anomaly>, CheckError> {
    run_passes(history, |_| true)
}

/// Every finding that is not informational under the default policy (`Policy::default()`:
/// informational findings are allowed under every guarantee) — what a run's checks report.
pub fn check_all(history: &History) -> Result<Vec<Anomaly>, CheckError> {
    let policy = Policy::default();
    let mut found = findings(history)?;
    found.retain(|a| policy.judge(a) != Verdict::Informational);
    Ok(found)
}
