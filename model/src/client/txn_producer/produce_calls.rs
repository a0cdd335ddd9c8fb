//! A transaction's produce requests in phases, for a sender that keeps several under way and
//! handles each answer as it comes (background sending's lanes, one per broker): add the
//! partitions to the transaction, start each call (it owns what it needs, so the producer is
//! free meanwhile), take each answer, and end with the failure, if any. `send_batches` is
//! these phases with every call awaited together.

use std::future::Future;
use std::sync::Arc;

use super::{RetriedCall, State, TransactionalProducer, TxnError, is_fencing};
use crate::protocol::{KafkaError, RecordBatch, Request, Response, TopicPartition};

/// A produce call under way: its partition, records and sequence number.
#[derive(Debug)]
pub struct ProduceCall {
    pub tp: TopicPartition,
    values: Arc<[u64]>,
    sequence: i32,
}

/// How a produce call ended, for the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProduceAnswer {
    /// Appended at this first offset.
    Appended(u64),
    /// A newer instance owns the transactional id: the producer is fatal.
    Fenced(String),
    /// Not appended (or unknown: it timed out); the transaction can only abort.
    Failed(String),
}

impl TransactionalProducer {
    /// AddPartitionsToTxn for those of `tps` new to the transaction (nothing if none is).
    pub async fn add_to_transaction<'a>(
        &mut self,
        tps: impl IntoIterator<Item = &'a TopicPartition>,
    ) -> Result<(), TxnError> {
        self.require(&[State::InTransaction], "send")?;
        let mut new: Vec<TopicPartition> = Vec::new();
        for tp in tps {
            if !self.partitions.contains(tp) && !new.contains(tp) {
                new.push(tp.clone());
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let request = Request::AddPartitionsToTxn {
            producer: self.producer(),
            partitions: new.clone(),
        };
        match self.coordinator_request(request).await? {
            Response::AddPartitionsToTxn(Ok(())) => {
                self.partitions.extend(new);
                Ok(())
            }
            Response::AddPartitionsToTxn(Err(e)) => Err(self.on_error(e)),
            other => panic!("AddPartitionsToTxn answered with {other:?}"),
        }
    }

    /// Starts the produce request of `values` to `tp` (already in the transaction; the
    /// partition's previous batch answered) at the partition's next sequence number, given up
    /// at `deadline_ms`. The call owns what it needs.
    pub fn start_produce(
        &self,
        tp: &TopicPartition,
        values: &[u64],
        deadline_ms: Option<u64>,
    ) -> (
        ProduceCall,
        impl Future<Output = Option<Response>> + Send + 'static,
    ) {
        assert!(!values.is_empty(), "an empty batch is never sent");
        assert!(
            self.partitions.contains(tp),
            "{tp} is not in the transaction"
        );
        let sequence = self.next_sequence.get(tp).copied().unwrap_or(0);
        let values: Arc<[u64]> = Arc::from(values);
        let request = self.produce_request(tp, sequence, values.clone());
        let (ctx, config) = (self.ctx.clone(), self.config.clone());
        let to = ctx.cluster.leader(tp);
        let call = async move {
            let call = RetriedCall {
                ctx: &ctx,
                config: &config,
                to,
                deadline_ms,
                timeout_point: None,
            };
            call.until_answered(request, &mut false).await
        };
        let pending = ProduceCall {
            tp: tp.clone(),
            values,
            sequence,
        };
        (pending, call)
    }

    /// Takes a produce call's answer (`None`: given up at its deadline): the partition's
    /// sequence moves on if it was appended; an answer that leaves the batch's fate unknown
    /// requires an epoch bump before the sequence numbers can continue.
    pub fn produce_answered(
        &mut self,
        call: &ProduceCall,
        answer: Option<Response>,
    ) -> ProduceAnswer {
        let acked = match &answer {
            Some(Response::Produce(Ok(ok))) => Some(ok.base_offset),
            _ => None,
        };
        if let Some(history) = &mut self.history {
            history.sent(&call.tp, &call.values, acked);
        }
        match answer {
            Some(Response::Produce(Ok(ok))) => {
                let next = crate::protocol::last_sequence(call.sequence, call.values.len() + 1);
                self.next_sequence.insert(call.tp.clone(), next);
                ProduceAnswer::Appended(ok.base_offset)
            }
            Some(Response::Produce(Err(e))) if is_fencing(e) => {
                ProduceAnswer::Fenced(e.to_string())
            }
            Some(Response::Produce(Err(e))) => {
                if e == KafkaError::OutOfOrderSequence {
                    self.epoch_bump_required = true;
                }
                ProduceAnswer::Failed(e.to_string())
            }
            None => {
                crate::CoveragePoint::TxnSendTimedOut.hit();
                self.epoch_bump_required = true;
                ProduceAnswer::Failed(format!("produce to {} timed out", call.tp))
            }
            Some(other) => panic!("produce answered with {other:?}"),
        }
    }

    /// The transaction's error after failed produce calls: fatal if any was fenced (whatever
    /// the others said), else abortable (`send_failed`: a plan may have the application
    /// ignore it). `None` if nothing failed.
    pub async fn produce_failed(
        &mut self,
        fenced: Option<String>,
        failed: Option<String>,
    ) -> Option<TxnError> {
        if let Some(why) = fenced {
            return Some(self.fatal(why));
        }
        match failed {
            Some(why) => Some(self.send_failed(why).await),
            None => None,
        }
    }

    /// The produce request of `values` to `tp` in the transaction, at `sequence`.
    pub(super) fn produce_request(
        &self,
        tp: &TopicPartition,
        sequence: i32,
        values: Arc<[u64]>,
    ) -> Request {
        Request::Produce {
            tp: tp.clone(),
            batch: RecordBatch {
                producer_id: self.producer_id,
                producer_epoch: self.epoch,
                base_sequence: sequence,
                values,
                transactional: true,
            },
        }
    }

    /// When calls started now are given up.
    pub fn produce_deadline(&self) -> Option<u64> {
        self.deadline()
    }
}
