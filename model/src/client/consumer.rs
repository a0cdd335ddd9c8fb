//! A consumer that reads a partition from an offset.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use checker::history::{Operation, Phase, PolledRecord};

use super::ClientContext;
use crate::client::ClientSwitches;
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
            Ok(Response::Fetch(Ok(fetched))) => {
                let fetched = deliver(fetched, offset, self.max_records, &self.ctx.switches);
                Ok((fetched.records, fetched.high_watermark))
            }
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

/// What one fetch hands the application: the records at and above the fetch offset, at most
/// `max_records` of them (Kafka's `max.poll.records`), and where the consumer's position
/// goes next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// (offset, value) in offset order.
    pub records: Vec<(u64, u64)>,
    /// The next offset to fetch: past the last record handed over, or the fetch offset if
    /// none was.
    pub next_offset: u64,
    pub high_watermark: u64,
    pub last_stable_offset: u64,
}

/// The consumer's side of a fetch answer. The broker answers with whole batches from the
/// one holding `offset` (`Partition::fetch_isolated`), so the answer may start below the
/// fetch offset and hold more than `max_records`. Kafka's consumer drops the records below
/// its position (`CompletedFetch.nextFetchedRecord`: `record.offset() >= nextFetchOffset`),
/// hands over at most `max.poll.records` and keeps its position after the last record it
/// handed over (the rest stays buffered for the next poll).
///
/// Two client bugs of this step are variants: keeping the records below the fetch offset
/// (`records-below-fetch-offset`: they are delivered again) and moving the position past
/// the whole answer though only `max_records` were handed over
/// (`position-past-undelivered-records`: the rest are never delivered).
pub fn deliver(
    fetched: FetchOk,
    offset: u64,
    max_records: u32,
    switches: &ClientSwitches,
) -> Fetched {
    let FetchOk {
        mut records,
        high_watermark,
        last_stable_offset,
    } = fetched;
    let past_answer = records.last().map(|&(last, _)| last + 1);
    // The answer is in offset order: what lies below the fetch offset is a prefix.
    let below = records.partition_point(|&(o, _)| o < offset);
    if below > 0 {
        crate::CoveragePoint::FetchInsideBatch.hit();
        if switches.drops_records_below_fetch_offset {
            records.drain(..below);
        }
    }
    if records.len() > max_records as usize {
        crate::CoveragePoint::PollCutBatch.hit();
        records.truncate(max_records as usize);
    }
    let past_delivered = records.last().map(|&(last, _)| last + 1);
    let next_offset = if switches.position_follows_delivered_records {
        past_delivered
    } else {
        past_answer
    };
    Fetched {
        records,
        next_offset: next_offset.map_or(offset, |next| next.max(offset)),
        high_watermark,
        last_stable_offset,
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
    ) -> Result<Fetched, PollError> {
        let request = Request::Fetch {
            tp: tp.clone(),
            offset,
            max_records,
            isolation,
        };
        let leader = self.ctx.cluster.leader(tp);
        match self.request(leader, request).await? {
            Response::Fetch(result) => result
                .map(|fetched| deliver(fetched, offset, max_records, &self.ctx.switches))
                .map_err(|e| PollError(e.to_string())),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A broker's answer to a fetch from offset 6: the batch 4..=8 whole, then 9.
    fn answer() -> FetchOk {
        FetchOk {
            records: (4..=9).map(|o| (o, 100 + o)).collect(),
            high_watermark: 10,
            last_stable_offset: 10,
        }
    }

    fn offsets(fetched: &Fetched) -> Vec<u64> {
        fetched.records.iter().map(|r| r.0).collect()
    }

    #[test]
    fn the_consumer_drops_records_below_its_position_and_keeps_the_rest_for_later() {
        let fetched = deliver(answer(), 6, 2, &ClientSwitches::default());
        assert_eq!(offsets(&fetched), vec![6, 7]);
        assert_eq!(fetched.next_offset, 8, "after the last record handed over");
        let all = deliver(answer(), 6, 10, &ClientSwitches::default());
        assert_eq!(offsets(&all), vec![6, 7, 8, 9]);
        assert_eq!(all.next_offset, 10);
        // Nothing handed over: the position stays.
        let nothing = deliver(answer(), 6, 0, &ClientSwitches::default());
        assert!(nothing.records.is_empty());
        assert_eq!(nothing.next_offset, 6);
        let empty = FetchOk {
            records: Vec::new(),
            ..answer()
        };
        assert_eq!(
            deliver(empty, 6, 2, &ClientSwitches::default()).next_offset,
            6
        );
    }

    #[test]
    fn records_below_fetch_offset_variant_delivers_consumed_records_again() {
        let switches = ClientSwitches {
            drops_records_below_fetch_offset: false,
            ..ClientSwitches::default()
        };
        let fetched = deliver(answer(), 6, 2, &switches);
        assert_eq!(
            offsets(&fetched),
            vec![4, 5],
            "below the position: already consumed"
        );
        assert_eq!(
            fetched.next_offset, 6,
            "stuck: the position never moves back"
        );
        // From a batch boundary the bug shows nothing.
        let at_boundary = deliver(answer(), 4, 2, &switches);
        assert_eq!(offsets(&at_boundary), vec![4, 5]);
        assert_eq!(at_boundary.next_offset, 6);
    }

    #[test]
    fn position_past_undelivered_records_variant_skips_the_rest_of_the_answer() {
        let switches = ClientSwitches {
            position_follows_delivered_records: false,
            ..ClientSwitches::default()
        };
        let fetched = deliver(answer(), 6, 2, &switches);
        assert_eq!(offsets(&fetched), vec![6, 7]);
        assert_eq!(fetched.next_offset, 10, "8 and 9 are never handed over");
        // When everything fits, the bug shows nothing.
        let all = deliver(answer(), 6, 10, &switches);
        assert_eq!(all.next_offset, 10);
    }
}
