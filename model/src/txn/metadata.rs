//! Per-transactional.id state of the transaction coordinator (Kafka's
//! `TransactionMetadata`, kafka-eos-protocol.md §1.3).
//!
//! Every change is two-phase, as in Kafka: a `prepare_*` method checks the transition, marks
//! it pending and returns the record to write ([`TxnTransit`]); once the record is in the
//! transaction log, `complete_transition` applies it. An illegal transition is a bug in the
//! coordinator, never a client error, so it panics: the simulation is where finding one is
//! cheap.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::protocol::{KafkaError, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TopicPartition};

/// The highest producer epoch (`Short.MAX_VALUE`): the default of the coordinator's
/// `max_producer_epoch`, which a scenario may lower to make exhaustion reachable.
pub const MAX_PRODUCER_EPOCH: i16 = i16::MAX;

/// Whether an epoch leaves no room for another bump plus a fence: Kafka rotates the producer
/// id at `Short.MAX_VALUE - 1` (32,766) so that a fence can still bump once; here at
/// `max_producer_epoch - 1`.
pub fn is_epoch_exhausted(epoch: i16, max_producer_epoch: i16) -> bool {
    epoch >= max_producer_epoch - 1
}

/// The coordinator's states of one transactional.id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxnState {
    /// No transaction open (initialised, or the last one completed and forgotten).
    Empty,
    /// A transaction is open: partitions have been added.
    Ongoing,
    /// EndTxn(commit) is logged; markers are being written.
    PrepareCommit,
    /// EndTxn(abort), a fence or a timeout is logged; markers are being written.
    PrepareAbort,
    /// Every COMMIT marker is written.
    CompleteCommit,
    /// Every ABORT marker is written.
    CompleteAbort,
    /// The transactional.id expired (never entered by this model: no expiration yet).
    Dead,
    /// In memory only: the epoch is being bumped to fence a producer, an abort follows.
    PrepareEpochFence,
}

impl TxnState {
    /// The state's id on the wire and in the log (M19).
    pub fn id(self) -> u8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    /// The states this one may be entered from (M16).
    pub fn valid_previous_states(self) -> &'static [TxnState] {
        use TxnState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            PrepareAbort => &[Ongoing, PrepareEpochFence],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            Dead => &[Empty, CompleteAbort, CompleteCommit],
            PrepareEpochFence => &[Ongoing],
        }
    }

    /// Whether the transactional.id may expire in this state (M19).
    pub fn is_expiration_allowed(self) -> bool {
        matches!(
            self,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        )
    }

    /// A transaction is decided and its markers are being written.
    pub fn is_prepare(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }

    /// The last transaction's markers are all written.
    pub fn is_complete(self) -> bool {
        matches!(self, TxnState::CompleteCommit | TxnState::CompleteAbort)
    }
}

/// One record of the transaction log: the whole state of a transactional.id after a
/// transition (Kafka's `TxnTransitMetadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnTransit {
    pub producer_id: i64,
    pub previous_producer_id: i64,
    /// Set while a TV2 commit/abort at an exhausted epoch waits to rotate the producer id.
    pub next_producer_id: i64,
    pub producer_epoch: i16,
    pub last_producer_epoch: i16,
    pub txn_timeout_ms: u64,
    pub state: TxnState,
    pub partitions: BTreeSet<TopicPartition>,
    /// When the open transaction began (`None` outside a transaction).
    pub txn_start_ms: Option<u64>,
    pub txn_last_update_ms: u64,
}

/// The coordinator's in-memory state of one transactional.id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: Arc<str>,
    pub producer_id: i64,
    /// The producer id before the last transition (KIP-360: a retry after a rotation).
    pub previous_producer_id: i64,
    pub next_producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch before the last bump, for recognising a retried bump (KIP-360) or EndTxn
    /// (TV2); `NO_PRODUCER_EPOCH` after a fence or a fresh InitProducerId.
    pub last_producer_epoch: i16,
    pub txn_timeout_ms: u64,
    pub state: TxnState,
    pub partitions: BTreeSet<TopicPartition>,
    pub txn_start_ms: Option<u64>,
    pub txn_last_update_ms: u64,
    /// A transition prepared but not yet in the log.
    pub pending_state: Option<TxnState>,
    /// The highest epoch this coordinator hands out (a setting, not logged): Kafka's
    /// `Short.MAX_VALUE` by default.
    pub max_producer_epoch: i16,
}

impl TxnMetadata {
    /// A transactional.id seen for the first time: `Empty`, with no epoch yet.
    pub fn new(
        transactional_id: Arc<str>,
        producer_id: i64,
        txn_timeout_ms: u64,
        now_ms: u64,
    ) -> Self {
        Self {
            transactional_id,
            producer_id,
            previous_producer_id: NO_PRODUCER_ID,
            next_producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            txn_timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            txn_start_ms: None,
            txn_last_update_ms: now_ms,
            pending_state: None,
            max_producer_epoch: MAX_PRODUCER_EPOCH,
        }
    }

    /// The same, under a coordinator whose highest epoch is `max_producer_epoch`.
    pub fn with_max_producer_epoch(mut self, max_producer_epoch: i16) -> Self {
        assert!(
            max_producer_epoch >= 2,
            "no room to bump and fence below epoch 2"
        );
        self.max_producer_epoch = max_producer_epoch;
        self
    }

    /// Whether the current epoch leaves no room for another bump plus a fence.
    pub fn is_producer_epoch_exhausted(&self) -> bool {
        is_epoch_exhausted(self.producer_epoch, self.max_producer_epoch)
    }

    /// Whether the epoch can still be bumped at all (false only at the maximum, which only
    /// the `timeout-abort-skips-rotation` variant lets a producer hold).
    pub fn can_bump_epoch(&self) -> bool {
        self.producer_epoch < self.max_producer_epoch
    }

    /// The state a log record describes (recovery).
    pub fn from_log(transactional_id: Arc<str>, record: &TxnTransit) -> Self {
        let mut metadata = Self::new(
            transactional_id,
            record.producer_id,
            record.txn_timeout_ms,
            0,
        );
        metadata.apply(record);
        metadata
    }

    /// A transition is prepared and not yet written.
    pub fn has_pending_transition(&self) -> bool {
        self.pending_state.is_some()
    }

    /// The current state as a record, to be changed by a `prepare_*` method.
    fn snapshot(&self) -> TxnTransit {
        TxnTransit {
            producer_id: self.producer_id,
            previous_producer_id: self.producer_id,
            next_producer_id: self.next_producer_id,
            producer_epoch: self.producer_epoch,
            last_producer_epoch: self.last_producer_epoch,
            txn_timeout_ms: self.txn_timeout_ms,
            state: self.state,
            partitions: self.partitions.clone(),
            txn_start_ms: self.txn_start_ms,
            txn_last_update_ms: self.txn_last_update_ms,
        }
    }

    /// Checks and marks a transition pending (M17, M18: panics if illegal).
    pub fn prepare_transition(&mut self, transit: TxnTransit) -> TxnTransit {
        assert!(
            self.pending_state.is_none(),
            "{}: preparing {:?} while {:?} is pending",
            self.transactional_id,
            transit.state,
            self.pending_state
        );
        assert!(
            transit.state.valid_previous_states().contains(&self.state),
            "{}: illegal transition {:?} -> {:?}",
            self.transactional_id,
            self.state,
            transit.state
        );
        self.pending_state = Some(transit.state);
        transit
    }

    /// Applies a prepared transition once its record is in the log.
    pub fn complete_transition(&mut self, transit: &TxnTransit) {
        assert_eq!(
            self.pending_state,
            Some(transit.state),
            "{}: completing a transition that was not prepared",
            self.transactional_id
        );
        self.pending_state = None;
        self.apply(transit);
    }

    fn apply(&mut self, transit: &TxnTransit) {
        self.producer_id = transit.producer_id;
        self.previous_producer_id = transit.previous_producer_id;
        self.next_producer_id = transit.next_producer_id;
        self.producer_epoch = transit.producer_epoch;
        self.last_producer_epoch = transit.last_producer_epoch;
        self.txn_timeout_ms = transit.txn_timeout_ms;
        self.state = transit.state;
        self.partitions = transit.partitions.clone();
        self.txn_start_ms = transit.txn_start_ms;
        self.txn_last_update_ms = transit.txn_last_update_ms;
    }

    /// InitProducerId from Empty/Complete*: bump the epoch (M1, M2, M10–M13). With an expected
    /// epoch (KIP-360): the current one (or none yet) bumps and remembers it; the last one is a
    /// retry of a bump that succeeded and returns the current epoch unchanged; any other is
    /// fenced. Panics at an exhausted epoch: the caller rotates the producer id instead (M3).
    pub fn prepare_increment_producer_epoch(
        &mut self,
        txn_timeout_ms: u64,
        expected_epoch: Option<i16>,
        now_ms: u64,
    ) -> Result<TxnTransit, KafkaError> {
        assert!(
            !self.is_producer_epoch_exhausted(),
            "{}: epochs of producer {} exhausted; rotate the producer id",
            self.transactional_id,
            self.producer_epoch
        );
        let bumped = self.producer_epoch + 1;
        let (epoch, last_epoch) = match expected_epoch {
            None => (bumped, NO_PRODUCER_EPOCH),
            Some(expected)
                if self.producer_epoch == NO_PRODUCER_EPOCH || expected == self.producer_epoch =>
            {
                (bumped, self.producer_epoch)
            }
            Some(expected) if expected == self.last_producer_epoch => {
                (self.producer_epoch, self.last_producer_epoch)
            }
            Some(_) => return Err(KafkaError::ProducerFenced),
        };
        let transit = TxnTransit {
            producer_epoch: epoch,
            last_producer_epoch: last_epoch,
            txn_timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            txn_start_ms: None,
            txn_last_update_ms: now_ms,
            ..self.snapshot()
        };
        Ok(self.prepare_transition(transit))
    }

    /// InitProducerId at an exhausted epoch: a new producer id at epoch 0 (M4). Panics while a
    /// transaction is open or being decided (M9).
    pub fn prepare_producer_id_rotation(
        &mut self,
        new_producer_id: i64,
        txn_timeout_ms: u64,
        now_ms: u64,
        record_last_epoch: bool,
    ) -> TxnTransit {
        assert!(
            !matches!(
                self.state,
                TxnState::Ongoing | TxnState::PrepareCommit | TxnState::PrepareAbort
            ),
            "{}: rotating the producer id in {:?}",
            self.transactional_id,
            self.state
        );
        let transit = TxnTransit {
            producer_id: new_producer_id,
            producer_epoch: 0,
            last_producer_epoch: if record_last_epoch {
                self.producer_epoch
            } else {
                NO_PRODUCER_EPOCH
            },
            txn_timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            txn_start_ms: None,
            txn_last_update_ms: now_ms,
            ..self.snapshot()
        };
        self.prepare_transition(transit)
    }

    /// Fences the current producer of an Ongoing transaction: epoch + 1, never returned to a
    /// client (M5; panics at the maximum epoch, M6). Follow with `adopt_epoch_fence` and
    /// an abort.
    pub fn prepare_fence_producer_epoch(&mut self) -> TxnTransit {
        assert!(
            self.can_bump_epoch(),
            "{}: fencing epoch {} would overflow",
            self.transactional_id,
            self.producer_epoch
        );
        let transit = TxnTransit {
            producer_epoch: self.producer_epoch + 1,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            state: TxnState::PrepareEpochFence,
            ..self.snapshot()
        };
        self.prepare_transition(transit)
    }

    /// Takes the fenced epoch into memory so the abort is written under it (Kafka's
    /// `endTransaction` on a pending PrepareEpochFence).
    pub fn adopt_epoch_fence(&mut self, fence: &TxnTransit) {
        assert_eq!(self.pending_state, Some(TxnState::PrepareEpochFence));
        self.pending_state = None;
        self.producer_epoch = fence.producer_epoch;
        self.last_producer_epoch = NO_PRODUCER_EPOCH;
    }

    /// Ongoing → PrepareCommit/PrepareAbort. With `bump_epoch` (TV2) the epoch is bumped here
    /// and the old one remembered, so a retried EndTxn is recognised (M7); at an exhausted
    /// epoch the bump uses the last epoch and `next_producer_id` is rotated to on completion (M8).
    pub fn prepare_abort_or_commit(
        &mut self,
        state: TxnState,
        bump_epoch: bool,
        next_producer_id: i64,
        now_ms: u64,
    ) -> TxnTransit {
        assert!(state.is_prepare(), "{state:?} is not a decision");
        let (epoch, last_epoch) = if bump_epoch {
            assert!(self.can_bump_epoch(), "epoch overflow");
            (self.producer_epoch + 1, self.producer_epoch)
        } else {
            (self.producer_epoch, self.last_producer_epoch)
        };
        let transit = TxnTransit {
            next_producer_id,
            producer_epoch: epoch,
            last_producer_epoch: last_epoch,
            state,
            txn_last_update_ms: now_ms,
            ..self.snapshot()
        };
        self.prepare_transition(transit)
    }

    /// Empty/Ongoing/Complete* → Ongoing with the added partitions; a new transaction starts
    /// its clock (M15).
    pub fn prepare_add_partitions(
        &mut self,
        partitions: &[TopicPartition],
        now_ms: u64,
    ) -> TxnTransit {
        let starts_new_txn = matches!(
            self.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        );
        let mut all = if starts_new_txn {
            BTreeSet::new()
        } else {
            self.partitions.clone()
        };
        all.extend(partitions.iter().cloned());
        let transit = TxnTransit {
            state: TxnState::Ongoing,
            partitions: all,
            txn_start_ms: if starts_new_txn {
                Some(now_ms)
            } else {
                self.txn_start_ms
            },
            txn_last_update_ms: now_ms,
            ..self.snapshot()
        };
        self.prepare_transition(transit)
    }

    /// Prepare* → Complete* once every marker is written; a pending producer-id rotation
    /// (TV2 at an exhausted epoch) happens here: new id, epoch 0, last epoch kept (M8, M14).
    pub fn prepare_complete(&mut self, now_ms: u64) -> TxnTransit {
        let state = match self.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort => TxnState::CompleteAbort,
            other => panic!("{}: completing from {other:?}", self.transactional_id),
        };
        let (producer_id, epoch) = if self.next_producer_id != NO_PRODUCER_ID {
            (self.next_producer_id, 0)
        } else {
            (self.producer_id, self.producer_epoch)
        };
        let transit = TxnTransit {
            producer_id,
            next_producer_id: NO_PRODUCER_ID,
            producer_epoch: epoch,
            state,
            partitions: BTreeSet::new(),
            txn_last_update_ms: now_ms,
            ..self.snapshot()
        };
        self.prepare_transition(transit)
    }
}

#[cfg(test)]
mod tests;
