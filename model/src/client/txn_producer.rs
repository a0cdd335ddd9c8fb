//! A transactional producer whose calls read like Kafka client code:
//! `init_transactions`, `begin_transaction`, `send`, `send_offsets_to_transaction`,
//! `commit_transaction`, `abort_transaction` (kafka-eos-protocol.md §1.2, KIP-98, KIP-447,
//! KIP-890 part 2).
//!
//! One request at a time (Kafka Streams' exactly-once benchmark ran with
//! max.in.flight = 1): `send` waits for its acknowledgement, retrying a timed-out attempt
//! with the same sequence number (the broker deduplicates it), so a later batch never
//! overtakes an earlier one. A send adds its partition to the transaction first
//! (AddPartitionsToTxn). Under transactions v2 every EndTxn answers with a bumped epoch, so
//! sequence numbers restart at 0 with each transaction.
//!
//! Errors: *abortable* ones (a send or a coordinator request that could not be completed)
//! leave the producer usable after `abort_transaction`; *fatal* ones (PRODUCER_FENCED, an
//! epoch or mapping the coordinator no longer knows) mean a newer instance owns the
//! transactional.id: this instance must stop. A commit whose outcome cannot be known is
//! reported as `Unknown` (it is fatal too).
//!
//! The producer records nothing in the history itself: the application records each
//! transaction as one `Operation::Txn` (see `apps::copy`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::ClientContext;
use super::txn_history::TxnHistory;
use crate::protocol::{
    GroupMetadata, KafkaError, Request, Response, TopicPartition, TxnProducer, TxnResult,
};
use checker::history::Phase;
use sim::Decision;

use crate::fault_point::FaultPoint;

mod produce_calls;
pub use produce_calls::{ProduceAnswer, ProduceCall};

/// Settings. Defaults: 10 s transaction timeout, 300 ms request timeout, 50 ms backoff, a
/// request given up (abortable) after 5 s of failed attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionalConfig {
    pub transactional_id: String,
    /// `transaction.timeout.ms`: the coordinator aborts a transaction open longer than this.
    pub txn_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub retry_backoff_ms: u64,
    /// How long one send or coordinator request keeps retrying before it becomes an
    /// abortable error (Kafka: delivery.timeout.ms / max.block.ms).
    pub request_deadline_ms: u64,
    /// Record each transaction in the run's history (one `txn` operation with its sends
    /// and committed offsets). Default true; the built-in apps record their own operations,
    /// with the inputs each output came from, and switch it off.
    pub record_history: bool,
}

impl TransactionalConfig {
    pub fn new(transactional_id: &str) -> Self {
        Self {
            transactional_id: transactional_id.to_string(),
            txn_timeout_ms: 10_000,
            request_timeout_ms: 300,
            retry_backoff_ms: 50,
            request_deadline_ms: 5_000,
            record_history: true,
        }
    }
}

/// Why a transactional call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// The current transaction cannot commit; `abort_transaction` and carry on.
    #[error("abortable: {0}")]
    Abortable(String),
    /// The producer is fenced or broken: the instance must stop.
    #[error("fatal: {0}")]
    Fatal(String),
    /// A commit whose outcome is unknown (an EndTxn attempt may have taken effect before
    /// the producer was fenced); fatal.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

impl TxnError {
    /// The group coordinator refused the transaction's offsets because the group moved on
    /// (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS: Kafka's
    /// CommitFailedException): the caller's partitions may belong to another member now.
    pub fn is_refused_by_group(&self) -> bool {
        let TxnError::Abortable(why) = self else {
            return false;
        };
        [
            KafkaError::IllegalGeneration,
            KafkaError::UnknownMemberId,
            KafkaError::RebalanceInProgress,
        ]
        .iter()
        .any(|e| *why == e.to_string())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Uninitialized,
    Ready,
    InTransaction,
    /// A transactional call failed: only `abort_transaction` is allowed.
    AbortableError,
    Fatal,
}

/// Errors that say a newer instance owns the transactional.id.
fn is_fencing(e: KafkaError) -> bool {
    matches!(
        e,
        KafkaError::ProducerFenced
            | KafkaError::InvalidProducerEpoch
            | KafkaError::InvalidProducerIdMapping
    )
}

pub struct TransactionalProducer {
    /// Shared with the produce calls under way (`start_produce`): a call holds a count, not
    /// a copy of the context and its cluster layout.
    ctx: Arc<ClientContext>,
    config: Arc<TransactionalConfig>,
    transactional_id: Arc<str>,
    producer_id: i64,
    epoch: i16,
    state: State,
    /// Partitions (and whether the group's offsets) added to the current transaction.
    partitions: BTreeSet<TopicPartition>,
    offsets_added: bool,
    next_sequence: BTreeMap<TopicPartition, i32>,
    /// A batch of this epoch may or may not have been appended (its produce timed out, or was
    /// refused out of sequence): the sequence numbers cannot continue under this epoch.
    epoch_bump_required: bool,
    /// A plan decided that the application aborts after its commit timed out, and the abort
    /// was taken: the application's `abort_transaction` that follows has nothing left to do.
    aborted_by_decision: bool,
    /// A failed send the application is to ignore (`take_ignored_send_error`).
    send_error_ignored: bool,
    /// The history of its transactions, if it records them.
    history: Option<TxnHistory>,
}

impl TransactionalProducer {
    pub fn new(ctx: ClientContext, config: TransactionalConfig) -> Self {
        let transactional_id = Arc::from(config.transactional_id.as_str());
        let history = config.record_history.then(|| {
            TxnHistory::new(
                ctx.recorder.clone(),
                &config.transactional_id,
                ctx.client_id,
            )
        });
        Self {
            ctx: Arc::new(ctx),
            config: Arc::new(config),
            transactional_id,
            producer_id: crate::protocol::NO_PRODUCER_ID,
            epoch: crate::protocol::NO_PRODUCER_EPOCH,
            state: State::Uninitialized,
            partitions: BTreeSet::new(),
            offsets_added: false,
            next_sequence: BTreeMap::new(),
            epoch_bump_required: false,
            aborted_by_decision: false,
            send_error_ignored: false,
            history,
        }
    }

    /// The (producer id, epoch) of the current session.
    pub fn session(&self) -> (i64, i16) {
        (self.producer_id, self.epoch)
    }

    /// Whether `abort_transaction` may be called (a transaction is open, or failed).
    /// The transactional.id it holds.
    pub fn transactional_id(&self) -> &str {
        &self.transactional_id
    }

    /// Whether a transaction is open and usable (no error has made it abortable only).
    pub fn in_transaction(&self) -> bool {
        self.state == State::InTransaction
    }

    pub fn can_abort(&self) -> bool {
        matches!(self.state, State::InTransaction | State::AbortableError)
    }

    /// Whether the producer is fenced or broken: the application must replace it.
    pub fn is_fatal(&self) -> bool {
        self.state == State::Fatal
    }

    fn producer(&self) -> TxnProducer {
        TxnProducer {
            transactional_id: self.transactional_id.clone(),
            producer_id: self.producer_id,
            producer_epoch: self.epoch,
        }
    }

    fn fatal(&mut self, why: String) -> TxnError {
        self.state = State::Fatal;
        TxnError::Fatal(why)
    }

    fn require(&self, allowed: &[State], call: &str) -> Result<(), TxnError> {
        if self.state == State::Fatal {
            return Err(TxnError::Fatal(format!("{call} on a fatal producer")));
        }
        assert!(
            allowed.contains(&self.state),
            "{call} in state {:?}: the application broke the transactional API's order",
            self.state
        );
        Ok(())
    }

    /// Sends `request` to `to` until it is answered with something other than a timeout or
    /// a retriable error, or `deadline_ms` passes (`None`: retry for ever). Returns the
    /// answer, or None at the deadline; `maybe_applied` says whether an attempt timed out.
    async fn call_until_answered(
        &self,
        to: sim::NodeId,
        request: Request,
        deadline_ms: Option<u64>,
        maybe_applied: &mut bool,
    ) -> Option<Response> {
        self.call_until_answered_or_decided(to, request, deadline_ms, maybe_applied, None)
            .await
    }

    /// `call_until_answered`, where a timed-out attempt also reaches `timeout_point`: a plan
    /// may decide there that the application gives up (None, as at the deadline).
    async fn call_until_answered_or_decided(
        &self,
        to: sim::NodeId,
        request: Request,
        deadline_ms: Option<u64>,
        maybe_applied: &mut bool,
        timeout_point: Option<FaultPoint>,
    ) -> Option<Response> {
        let call = RetriedCall {
            ctx: &self.ctx,
            config: &self.config,
            to,
            deadline_ms,
            timeout_point: timeout_point.map(|point| (point, &*self.transactional_id)),
        };
        call.until_answered(request, maybe_applied).await
    }

    /// Reaches `point` (about this transactional id) and returns what a plan decided there.
    async fn decided_at(&self, point: FaultPoint) -> Decision {
        let event = point.event(None, Some(&self.transactional_id));
        self.ctx.net.sim().at_point(self.ctx.node, &event).await
    }

    fn deadline(&self) -> Option<u64> {
        Some(sim::now_ms() + self.config.request_deadline_ms)
    }

    /// InitProducerId at the transaction coordinator, retried until answered: fences every
    /// earlier instance with this transactional.id (and aborts its open transaction).
    pub async fn init_transactions(&mut self) -> Result<(), TxnError> {
        self.require(&[State::Uninitialized], "init_transactions")?;
        let coordinator = self.ctx.cluster.txn_coordinator(&self.transactional_id);
        let request = Request::InitProducerId {
            transactional_id: Some(self.transactional_id.clone()),
            txn_timeout_ms: self.config.txn_timeout_ms,
        };
        match self
            .call_until_answered(coordinator, request, None, &mut false)
            .await
        {
            Some(Response::InitProducerId(Ok((producer_id, epoch)))) => {
                self.start_session(producer_id, epoch);
                crate::TraceNote::InitTxn.record(self.ctx.node, producer_id as u64, epoch as u64);
                Ok(())
            }
            Some(Response::InitProducerId(Err(e))) => Err(self.fatal(e.to_string())),
            other => panic!("InitProducerId answered with {other:?}"),
        }
    }

    fn start_session(&mut self, producer_id: i64, epoch: i16) {
        self.producer_id = producer_id;
        self.epoch = epoch;
        self.state = State::Ready;
        self.partitions.clear();
        self.offsets_added = false;
        self.next_sequence.clear();
        self.epoch_bump_required = false;
    }

    /// The next transaction of the same session (transactions v1: the epoch did not change),
    /// whose sequence numbers continue where this one's stopped.
    fn continue_session(&mut self) {
        self.state = State::Ready;
        self.partitions.clear();
        self.offsets_added = false;
    }

    /// KIP-360's producer-initiated epoch bump after an aborted transaction (transactions
    /// v1): InitProducerId again, retried until answered. Safe here because the abort is
    /// decided; it would fence another instance holding the transactional.id, which then
    /// had fenced this one already.
    async fn bump_epoch(&mut self) -> Result<(), TxnError> {
        let coordinator = self.ctx.cluster.txn_coordinator(&self.transactional_id);
        let request = Request::InitProducerId {
            transactional_id: Some(self.transactional_id.clone()),
            txn_timeout_ms: self.config.txn_timeout_ms,
        };
        match self
            .call_until_answered(coordinator, request, None, &mut false)
            .await
        {
            Some(Response::InitProducerId(Ok((producer_id, epoch)))) => {
                self.start_session(producer_id, epoch);
                crate::CoveragePoint::TxnClientEpochBump.hit();
                crate::TraceNote::BumpEpoch.record(self.ctx.node, producer_id as u64, epoch as u64);
                Ok(())
            }
            Some(Response::InitProducerId(Err(e))) => Err(self.fatal(e.to_string())),
            other => panic!("InitProducerId answered with {other:?}"),
        }
    }

    pub fn begin_transaction(&mut self) -> Result<(), TxnError> {
        self.require(&[State::Ready], "begin_transaction")?;
        self.state = State::InTransaction;
        if let Some(history) = &mut self.history {
            history.begin();
        }
        Ok(())
    }

    /// Sends `value` to `tp` inside the transaction and waits for its acknowledgement;
    /// returns its offset.
    pub async fn send(&mut self, tp: &TopicPartition, value: u64) -> Result<u64, TxnError> {
        self.send_batch(tp, &[value]).await
    }

    /// Sends a batch to each partition inside the transaction, all at once, as Kafka's sender
    /// drains every ready batch together: one AddPartitionsToTxn for the partitions new to
    /// the transaction, then the produce requests concurrently. Returns each batch's first
    /// offset, in order; the first error if any batch failed (the others may have been
    /// appended: the transaction is then abortable).
    pub async fn send_batches(
        &mut self,
        batches: &[(&TopicPartition, &[u64])],
    ) -> Result<Vec<u64>, TxnError> {
        self.add_to_transaction(batches.iter().map(|&(tp, _)| tp))
            .await?;
        let deadline = self.produce_deadline();
        let (calls, futures): (Vec<_>, Vec<_>) = batches
            .iter()
            .map(|&(tp, values)| self.start_produce(tp, values, deadline))
            .unzip();
        let answers = futures_util::future::join_all(futures).await;
        let mut offsets = Vec::with_capacity(batches.len());
        let (mut fenced, mut failed) = (None, None);
        for (call, answer) in calls.iter().zip(answers) {
            match self.produce_answered(call, answer) {
                ProduceAnswer::Appended(offset) => offsets.push(offset),
                ProduceAnswer::Fenced(why) => {
                    fenced.get_or_insert(why);
                }
                ProduceAnswer::Failed(why) => {
                    failed.get_or_insert(why);
                }
            }
        }
        match self.produce_failed(fenced, failed).await {
            Some(e) => Err(e),
            None => Ok(offsets),
        }
    }

    /// Sends `values` to `tp` as one batch (one produce request, consecutive offsets) inside
    /// the transaction and waits for its acknowledgement; returns the first value's offset.
    pub async fn send_batch(
        &mut self,
        tp: &TopicPartition,
        values: &[u64],
    ) -> Result<u64, TxnError> {
        assert!(!values.is_empty(), "an empty batch is never sent");
        self.add_to_transaction([tp]).await?;
        let sequence = *self.next_sequence.entry(tp.clone()).or_insert(0);
        let request = self.produce_request(tp, sequence, Arc::from(values));
        let leader = self.ctx.cluster.leader(tp);
        let deadline = self.deadline();
        let answer = self
            .call_until_answered(leader, request, deadline, &mut false)
            .await;
        if let Some(history) = &mut self.history {
            let acked = match &answer {
                Some(Response::Produce(Ok(ok))) => Some(ok.base_offset),
                _ => None,
            };
            history.sent(tp, values, acked);
        }
        match answer {
            Some(Response::Produce(Ok(ok))) => {
                let next = crate::protocol::last_sequence(sequence, values.len() + 1);
                self.next_sequence.insert(tp.clone(), next);
                Ok(ok.base_offset)
            }
            Some(Response::Produce(Err(e))) if is_fencing(e) => Err(self.on_error(e)),
            Some(Response::Produce(Err(e))) => {
                if e == KafkaError::OutOfOrderSequence {
                    self.epoch_bump_required = true;
                }
                Err(self.send_failed(e.to_string()).await)
            }
            None => {
                crate::CoveragePoint::TxnSendTimedOut.hit();
                self.epoch_bump_required = true;
                if !self.ctx.switches.exhausted_send_is_abortable {
                    // KAFKA-19176: the retries ran out and the error reaches the application
                    // as retriable; the batch's sequence numbers are spent (a send again is
                    // a new batch), and the transaction stays usable.
                    let next = crate::protocol::last_sequence(sequence, values.len() + 1);
                    self.next_sequence.insert(tp.clone(), next);
                    return Err(TxnError::Abortable(format!(
                        "produce to {tp} timed out (retriable)"
                    )));
                }
                Err(self.send_failed(format!("produce to {tp} timed out")).await)
            }
            Some(other) => panic!("produce answered with {other:?}"),
        }
    }

    /// Adds the consumed offsets to the transaction (Kafka's `sendOffsetsToTransaction`):
    /// AddOffsetsToTxn at the transaction coordinator, then TxnOffsetCommit at the group
    /// coordinator. They become the group's committed offsets when the transaction commits.
    pub async fn send_offsets_to_transaction(
        &mut self,
        offsets: &[(TopicPartition, u64)],
        group: &GroupMetadata,
    ) -> Result<(), TxnError> {
        self.require(&[State::InTransaction], "send_offsets_to_transaction")?;
        if !self.offsets_added {
            let request = Request::AddOffsetsToTxn {
                producer: self.producer(),
                group_id: group.group_id.clone(),
            };
            match self.coordinator_request(request).await? {
                Response::AddOffsetsToTxn(Ok(())) => self.offsets_added = true,
                Response::AddOffsetsToTxn(Err(e)) => return Err(self.on_error(e)),
                other => panic!("AddOffsetsToTxn answered with {other:?}"),
            }
        }
        let request = Request::TxnOffsetCommit {
            producer: self.producer(),
            group: group.clone(),
            offsets: offsets.to_vec(),
        };
        let group_coordinator = self.ctx.cluster.group_coordinator(&group.group_id);
        let deadline = self.deadline();
        match self
            .call_until_answered(group_coordinator, request, deadline, &mut false)
            .await
        {
            Some(Response::TxnOffsetCommit(Ok(()))) => {
                if let Some(history) = &mut self.history {
                    history.offsets(group, offsets);
                }
                Ok(())
            }
            Some(Response::TxnOffsetCommit(Err(e))) => Err(self.on_error(e)),
            None => {
                self.state = State::AbortableError;
                Err(TxnError::Abortable("TxnOffsetCommit timed out".into()))
            }
            Some(other) => panic!("TxnOffsetCommit answered with {other:?}"),
        }
    }

    /// A request to the transaction coordinator, retried up to the request deadline.
    async fn coordinator_request(&mut self, request: Request) -> Result<Response, TxnError> {
        let coordinator = self.ctx.cluster.txn_coordinator(&self.transactional_id);
        let deadline = self.deadline();
        match self
            .call_until_answered(coordinator, request, deadline, &mut false)
            .await
        {
            Some(response) => Ok(response),
            None => {
                self.state = State::AbortableError;
                Err(TxnError::Abortable(
                    "transaction coordinator unreachable".into(),
                ))
            }
        }
    }

    fn on_error(&mut self, e: KafkaError) -> TxnError {
        if is_fencing(e) {
            return self.fatal(e.to_string());
        }
        self.state = State::AbortableError;
        TxnError::Abortable(e.to_string())
    }

    /// A send failed without fencing the producer: the transaction can only abort
    /// (KAFKA-9279's fix), unless the `commit-ignores-failed-sends` variant or a plan's
    /// decision at `client:send-failed` reports the failure to the send alone and lets the
    /// transaction go on (see `take_ignored_send_error`).
    async fn send_failed(&mut self, why: String) -> TxnError {
        let ignored = !self.ctx.switches.failed_send_aborts_transaction
            || self.decided_at(FaultPoint::SendFailed).await == Decision::Ignore;
        if ignored {
            crate::CoveragePoint::FailedSendIgnored.hit();
            self.send_error_ignored = true;
        } else {
            self.state = State::AbortableError;
        }
        TxnError::Abortable(why)
    }

    /// Whether the last failed send was to be ignored (the variant or a plan's `ignore`):
    /// the application goes on with its transaction. Reading it clears it.
    pub fn take_ignored_send_error(&mut self) -> bool {
        std::mem::take(&mut self.send_error_ignored)
    }

    /// Commits: EndTxn(COMMIT), retried until the coordinator answers. Ok means the
    /// transaction is decided as committed (its markers follow).
    pub async fn commit_transaction(&mut self) -> Result<(), TxnError> {
        self.require(&[State::InTransaction], "commit_transaction")?;
        let result = self.end_transaction(TxnResult::Commit).await;
        if let Some(history) = &mut self.history {
            match &result {
                Ok(()) => history.end(Phase::Ok, None),
                // The coordinator answered with an error: definitely not committed.
                Err(e @ (TxnError::Abortable(_) | TxnError::Fatal(_))) => {
                    history.end(Phase::Fail, Some(e.to_string()))
                }
                Err(e @ TxnError::Unknown(_)) => history.end(Phase::Info, Some(e.to_string())),
            }
        }
        result
    }

    /// Aborts: EndTxn(ABORT), retried until the coordinator answers.
    pub async fn abort_transaction(&mut self) -> Result<(), TxnError> {
        self.require(
            &[State::InTransaction, State::AbortableError],
            "abort_transaction",
        )?;
        let result = if std::mem::take(&mut self.aborted_by_decision) {
            self.state = State::Ready;
            Ok(())
        } else {
            self.end_transaction(TxnResult::Abort).await
        };
        if let Some(history) = &mut self.history {
            // Aborted, or fenced: either way it never commits.
            history.end(Phase::Fail, result.as_ref().err().map(|e| e.to_string()));
        }
        result
    }

    async fn end_transaction(&mut self, result: TxnResult) -> Result<(), TxnError> {
        if self.partitions.is_empty() && !self.offsets_added {
            // Nothing reached the coordinator: Kafka ends such a transaction locally.
            self.state = State::Ready;
            return Ok(());
        }
        let coordinator = self.ctx.cluster.txn_coordinator(&self.transactional_id);
        let request = Request::EndTxn {
            producer: self.producer(),
            result,
        };
        let mut maybe_applied = false;
        // KAFKA-17754's application: a plan may decide it aborts once a commit timed out.
        let timeout_point = (result == TxnResult::Commit).then_some(FaultPoint::CommitTimedOut);
        let answer = self
            .call_until_answered_or_decided(
                coordinator,
                request,
                None,
                &mut maybe_applied,
                timeout_point,
            )
            .await;
        match answer {
            None => Box::pin(self.abort_after_commit_timeout()).await,
            Some(Response::EndTxn(Ok((producer_id, epoch)))) => {
                if (producer_id, epoch) != (self.producer_id, self.epoch) {
                    // Transactions v2: every transaction has its own epoch.
                    self.start_session(producer_id, epoch);
                } else if self.epoch_bump_required
                    && self.ctx.switches.epoch_bump_after_unknown_send
                {
                    // Transactions v1 after an abort with a batch of unknown fate.
                    assert_eq!(
                        result,
                        TxnResult::Abort,
                        "a commit needs every send acknowledged"
                    );
                    return self.bump_epoch().await;
                } else {
                    // Under `no-epoch-bump-after-send-timeout` (KAFKA-14053) the batch of
                    // unknown fate may still land, in the next transaction.
                    self.epoch_bump_required = false;
                    self.continue_session();
                }
                Ok(())
            }
            Some(Response::EndTxn(Err(e))) if maybe_applied && is_fencing(e) => {
                self.state = State::Fatal;
                Err(TxnError::Unknown(format!(
                    "{e} after an EndTxn attempt that may have taken effect"
                )))
            }
            Some(Response::EndTxn(Err(e))) => Err(self.fatal(e.to_string())),
            other => panic!("EndTxn answered with {other:?}"),
        }
    }
}

impl TransactionalProducer {
    /// The application aborts after its commit timed out (a plan's decision; Kafka's advice
    /// is never to, KAFKA-17754): EndTxn(abort) in place of the commit's retries. Taken, the
    /// transaction is aborted (Abortable, and the application's `abort_transaction` has
    /// nothing left to do); refused, the timed-out commit may have landed first: unknown.
    async fn abort_after_commit_timeout(&mut self) -> Result<(), TxnError> {
        match self.end_transaction(TxnResult::Abort).await {
            Ok(()) => {
                self.aborted_by_decision = true;
                self.state = State::AbortableError;
                Err(TxnError::Abortable(
                    "EndTxn(commit) timed out; the application aborted instead".into(),
                ))
            }
            Err(e) => {
                self.state = State::Fatal;
                Err(TxnError::Unknown(format!(
                    "EndTxn(commit) timed out; the application's abort failed: {e}"
                )))
            }
        }
    }
}

/// A request sent until it is answered with something other than a timeout or a retriable
/// error, or its deadline passes; borrowing no producer, so calls of one producer can be
/// under way while it handles another's answer (`produce_calls`).
struct RetriedCall<'a> {
    ctx: &'a ClientContext,
    config: &'a TransactionalConfig,
    to: sim::NodeId,
    /// `None`: retry for ever.
    deadline_ms: Option<u64>,
    /// Where a timed-out attempt asks a plan whether the application gives up, and about
    /// which transactional id.
    timeout_point: Option<(FaultPoint, &'a str)>,
}

impl RetriedCall<'_> {
    /// The answer, or None at the deadline or a plan's abort; `maybe_applied` says whether
    /// an attempt timed out.
    async fn until_answered(&self, request: Request, maybe_applied: &mut bool) -> Option<Response> {
        let (ctx, config) = (self.ctx, self.config);
        let timeout = Duration::from_millis(config.request_timeout_ms);
        loop {
            match ctx
                .net
                .call(ctx.node, self.to, request.clone(), timeout)
                .await
            {
                Ok(response) if !response_is_retriable(&response) => return Some(response),
                Ok(_) => {}
                Err(_) => {
                    *maybe_applied = true;
                    if let Some((point, transactional_id)) = self.timeout_point {
                        let event = point.event(None, Some(transactional_id));
                        if ctx.net.sim().at_point(ctx.node, &event).await == Decision::Abort {
                            return None;
                        }
                    }
                }
            }
            if self.deadline_ms.is_some_and(|d| sim::now_ms() >= d) {
                return None;
            }
            madsim::time::sleep(Duration::from_millis(config.retry_backoff_ms)).await;
        }
    }
}

fn response_is_retriable(response: &Response) -> bool {
    let error = match response {
        Response::Produce(Err(e)) => *e,
        Response::InitProducerId(Err(e))
        | Response::AddPartitionsToTxn(Err(e))
        | Response::AddOffsetsToTxn(Err(e))
        | Response::EndTxn(Err(e))
        | Response::TxnOffsetCommit(Err(e))
        | Response::OffsetCommit(Err(e)) => *e,
        _ => return false,
    };
    error.is_retriable() && error != KafkaError::OutOfOrderSequence
}
