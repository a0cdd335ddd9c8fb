//! A consumer that reads a partition from an offset.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use checker::history::{Operation, Phase, PolledRecord};

use super::ClientContext;
use crate::client::ProcessId;
use crate::protocol::{FetchOk, IsolationLevel, Request, Response, TopicPartition};

/// A fetch that got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("fetch failed: {0}")]
pub struct PollError(pub String);

/// Defaults: 500 records per fetch, 300 ms request timeout, 50 ms backoff, polls at
/// read_uncommitted.
pub struct Consumer {
    ctx: ClientContext,
    calls: AtomicU64,
    pub max_records: u32,
    /// What `poll` and `read_to_end` may see.
    pub isolation: IsolationLevel,
    pub request_timeout: Duration,
    pub retry_backoff: Duration,
}

impl Consumer {
    pub fn new(ctx: ClientContext) -> Self {
        Self {
            ctx,
            calls: AtomicU64::new(0),
            max_records: 500,
            isolation: IsolationLevel::ReadUncommitted,
            request_timeout: Duration::from_millis(300),
            retry_backoff: Duration::from_millis(50),
        }
    }

    fn process(&self) -> ProcessId {
        self.ctx
            .client_id
            .process(self.calls.fetch_add(1, Ordering::Relaxed))
    }

    /// One fetch from `offset`: records and the high watermark. Recorded as a poll.
    pub async fn poll(
        &self,
        tp: &TopicPartition,
        offset: u64,
    ) -> Result<(Vec<(u64, u64)>, u64), PollError> {
        let process = self.process();
        let op = |records: Vec<PolledRecord>| Operation::Poll {
            topic: tp.topic.clone(),
            partition: tp.partition,
            from_offset: offset,
            records,
        };
        self.ctx
            .recorder
            .record(process, Phase::Invoke, op(Vec::new()), None);
        let leader = self.ctx.cluster.leader(tp);
        let request = Request::Fetch {
            tp: tp.clone(),
            offset,
            max_records: self.max_records,
            isolation: self.isolation,
        };
        let result = match self
            .ctx
            .net
            .call(self.ctx.node, leader, request, self.request_timeout)
            .await
        {
            Ok(Response::Fetch(Ok(fetched))) => Ok((fetched.records, fetched.high_watermark)),
            Ok(Response::Fetch(Err(e))) => Err(PollError(e.to_string())),
            Ok(other) => panic!("fetch answered with {other:?}"),
            Err(e) => Err(PollError(e.to_string())),
        };
        match &result {
            Ok((records, _)) => {
                let polled = records
                    .iter()
                    .map(|&(offset, value)| PolledRecord { offset, value })
                    .collect();
                self.ctx
                    .recorder
                    .record(process, Phase::Ok, op(polled), None);
            }
            // A read has no effect, so a failed one definitely did nothing.
            Err(e) => {
                self.ctx
                    .recorder
                    .record(process, Phase::Fail, op(Vec::new()), Some(e.0.clone()));
            }
        }
        result
    }

    /// Reads `tp` from offset 0 to its end, retrying failed fetches until `deadline` (virtual
    /// ms since the start of the run). Returns the records, or None at the deadline.
    pub async fn read_to_end(
        &self,
        tp: &TopicPartition,
        deadline_ms: u64,
    ) -> Option<Vec<(u64, u64)>> {
        let mut offset = 0;
        let mut all = Vec::new();
        loop {
            if sim::now_ms() >= deadline_ms {
                return None;
            }
            match self.poll(tp, offset).await {
                Ok((records, high_watermark)) => {
                    // Nothing below the high watermark but control batches (markers).
                    if records.is_empty() {
                        return Some(all);
                    }
                    if let Some(&(last, _)) = records.last() {
                        offset = last + 1;
                    }
                    all.extend(records);
                    if offset >= high_watermark {
                        return Some(all);
                    }
                }
                Err(_) => madsim::time::sleep(self.retry_backoff).await,
            }
        }
    }
}

impl Consumer {
    /// Waits until `tp` has no open transaction (its last stable offset reached the high
    /// watermark) or `deadline_ms` passes; returns whether it settled. Not recorded.
    pub async fn wait_until_stable(&self, tp: &TopicPartition, deadline_ms: u64) -> bool {
        loop {
            if let Ok(f) = self.fetch(tp, 0, 1, IsolationLevel::ReadCommitted).await
                && f.last_stable_offset >= f.high_watermark
            {
                return true;
            }
            if sim::now_ms() >= deadline_ms {
                return false;
            }
            madsim::time::sleep(STABLE_POLL_INTERVAL).await;
        }
    }
}

/// How often `wait_until_stable` looks again.
pub const STABLE_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Group-offset calls and unrecorded fetches, for applications that record what they
/// consume as steps of their own `Operation::Txn` (see `apps::copy`).
impl Consumer {
    /// One fetch of up to `max_records` from `offset` at `isolation`, not recorded.
    pub async fn fetch(
        &self,
        tp: &TopicPartition,
        offset: u64,
        max_records: u32,
        isolation: IsolationLevel,
    ) -> Result<FetchOk, PollError> {
        let request = Request::Fetch {
            tp: tp.clone(),
            offset,
            max_records,
            isolation,
        };
        let leader = self.ctx.cluster.leader(tp);
        match self.request(leader, request).await? {
            Response::Fetch(result) => result.map_err(|e| PollError(e.to_string())),
            other => panic!("fetch answered with {other:?}"),
        }
    }

    /// One call to `to`; a timeout or closed connection becomes a `PollError`.
    async fn request(&self, to: sim::NodeId, request: Request) -> Result<Response, PollError> {
        self.ctx
            .net
            .call(self.ctx.node, to, request, self.request_timeout)
            .await
            .map_err(|e| PollError(e.to_string()))
    }

    /// The group's committed offsets of `partitions` (Kafka's `committed`), one OffsetFetch
    /// with `require_stable` (KIP-447: refused while a transactional commit is pending).
    pub async fn committed(
        &self,
        group_id: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, Option<u64>)>, PollError> {
        let request = Request::OffsetFetch {
            group_id: Arc::from(group_id),
            partitions: partitions.to_vec(),
            // KIP-447 (KAFKA-9346); off under the `no-stable-offset-check` variant.
            require_stable: self.ctx.switches.require_stable_offsets,
        };
        let coordinator = self.ctx.cluster.group_coordinator(group_id);
        match self.request(coordinator, request).await? {
            Response::OffsetFetch(result) => result.map_err(|e| PollError(e.to_string())),
            other => panic!("OffsetFetch answered with {other:?}"),
        }
    }

    /// Commits `offsets` (the next offsets to read) for the group, outside any transaction
    /// (Kafka's `commitSync`, one attempt). An error leaves the outcome unknown.
    pub async fn commit_sync(
        &self,
        group_id: &str,
        offsets: &[(TopicPartition, u64)],
    ) -> Result<(), PollError> {
        let request = Request::OffsetCommit {
            group_id: Arc::from(group_id),
            offsets: offsets.to_vec(),
        };
        let coordinator = self.ctx.cluster.group_coordinator(group_id);
        match self.request(coordinator, request).await? {
            Response::OffsetCommit(result) => result.map_err(|e| PollError(e.to_string())),
            other => panic!("OffsetCommit answered with {other:?}"),
        }
    }
}
