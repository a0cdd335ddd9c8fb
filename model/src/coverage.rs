//! The protocol paths the model marks when it takes them ("sometimes" assertions): a sweep
//! reports which of them its faults reached. Declared once, here; the engine counts them per
//! run (`sim::coverage`), and reports name them by [`CoveragePoint::name`].
//!
//! `Point::X.hit()` costs one thread-local access and an increment, changes no trace hash and
//! no behaviour.

use crate::protocol::{KafkaError, Response};

sim::coverage_points! {
    /// A protocol path of the model (README "Coverage" lists them with the scenarios that
    /// reach them).
    pub enum CoveragePoint via sim::coverage::hit {
        DedupHit = "dedup-hit":
            "a retried idempotent batch was answered as a duplicate of one already in the log",
        OutOfOrderRejected = "out-of-order-rejected":
            "a produce was refused OUT_OF_ORDER_SEQUENCE_NUMBER by the producer-state sequence check",
        UnknownProducerFirstSequence = "unknown-producer-first-sequence":
            "an empty partition refused an unknown producer's batch whose first sequence is not 0 (Kafka 4.5)",
        ClientEpochBump = "client-epoch-bump":
            "an idempotent producer bumped its own epoch (KIP-360) to get past an unresolved batch",
        TxnSendTimedOut = "txn-send-timed-out":
            "a transactional send went unanswered past the client's delivery deadline: its transaction must abort",
        TxnClientEpochBump = "txn-client-epoch-bump":
            "a transactional producer re-initialised after an abort (KIP-360 InitProducerId bump)",
        CoordinatorEpochBump = "coordinator-epoch-bump":
            "InitProducerId bumped the epoch of a transactional.id initialised before (or rotated its producer id)",
        InitFencedOngoingTxn = "init-fenced-ongoing-txn":
            "InitProducerId found the transactional.id's transaction Ongoing: fenced its producer and aborted it",
        ProducerFenced = "producer-fenced":
            "PRODUCER_FENCED or INVALID_PRODUCER_EPOCH was returned to a client",
        ConcurrentTransactions = "concurrent-transactions":
            "CONCURRENT_TRANSACTIONS was returned to a client (a transition of its transactional.id in progress)",
        StaleMarkerRejected = "stale-marker-rejected":
            "a partition refused a marker: INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED (counted as written)",
        MarkerRetried = "marker-retried":
            "WriteTxnMarkers failed or timed out for some partition and is sent again after the backoff",
        TxnTimedOut = "txn-timed-out":
            "the coordinator's timeout sweep aborted a transaction",
        CoordinatorReloaded = "coordinator-reloaded":
            "a restarted broker loaded transactional state under a higher coordinator epoch",
        RecoveredMarkersResent = "recovered-markers-resent":
            "a reloaded coordinator found transactions in PrepareCommit/PrepareAbort and sent their markers again",
        LsoHeld = "lso-held":
            "a read_committed fetch stopped at a last stable offset below the high watermark (an open transaction)",
        Rebalance = "rebalance":
            "a group moved to a new generation",
        SessionExpired = "session-expired":
            "a group member's session (or rebalance deadline) ran out and it was removed",
        GenerationRefused = "generation-refused":
            "ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID answered a TxnOffsetCommit or a heartbeat",
        ZombieCommitRefused = "zombie-commit-refused":
            "a TxnOffsetCommit was refused: fenced by producer epoch or by generation / member id",
        RestoreInterrupted = "restore-interrupted":
            "a streams task's restore was interrupted by a rebalance or a stop request",
        TaskCorrupted = "task-corrupted":
            "a streams task was closed dirty after an aborted transaction and revived",
        TaskLost = "task-lost":
            "a streams task was closed dirty after its producer was fenced or its commit refused",
        StoreWiped = "store-wiped":
            "a streams task was opened on stores without a checkpoint (left by a crash) and wiped them",
        CrashedStoresReused = "crashed-stores-reused":
            "a streams task reused the stores a crash left without a checkpoint (the KAFKA-7192 variant)",
        MarkersAbandoned = "markers-abandoned":
            "a coordinator gave up a transaction's markers on INVALID_PRODUCER_EPOCH (the KAFKA-19999 variant)",
        CheckpointKeptWhileRunning = "checkpoint-kept-while-running":
            "a streams task started processing with its restore checkpoint left in place (the KAFKA-20685 variant)",
        AbortWithoutSeek = "abort-without-seek":
            "a copier aborted a transaction and went on from its consumer position, not the committed offsets (the KAFKA-17582 variant)",
        FailedSendIgnored = "failed-send-ignored":
            "a transactional send failed and the transaction went on to commit (the KAFKA-9279 variant)",
        TimedOutSendRetried = "timed-out-send-retried":
            "an application sent a record again after its transactional send ran out of retries (the KAFKA-19176 variant)",
        ProducerStateForgotten = "producer-state-forgotten":
            "a partition opened on a non-empty log without rebuilding its producers' state (the KAFKA-5793 variant)",
        LeaderNotReady = "leader-not-ready":
            "a produce reached a partition whose leader had not taken over yet (leader_election_ms): NOT_LEADER_OR_FOLLOWER",
        ProducerIdRotated = "producer-id-rotated":
            "a transactions-v2 EndTxn at an exhausted epoch rotated the producer id (max_producer_epoch)",
        FenceAbortRotatesProducerId = "fence-abort-rotates-producer-id":
            "a fencing abort (timeout or InitProducerId) at an exhausted epoch rotated the producer id (KAFKA-20090's fix)",
        FetchInsideBatch = "fetch-inside-batch":
            "a fetch started inside a batch: the answer began below the fetch offset and the consumer dropped those records",
        PollCutBatch = "poll-cut-batch":
            "a consumer handed over fewer records than a fetch answered (max_records) and kept its position after the last one",
    }
}

/// Marks the paths a broker's answer to a client shows (errors returned to clients).
pub(crate) fn on_response(response: &Response) {
    use KafkaError::*;
    let error = match response {
        Response::Produce(Err(e)) => e,
        Response::InitProducerId(Err(e))
        | Response::AddPartitionsToTxn(Err(e))
        | Response::AddOffsetsToTxn(Err(e))
        | Response::EndTxn(Err(e))
        | Response::OffsetCommit(Err(e)) => e,
        Response::TxnOffsetCommit(Err(e)) => {
            if matches!(
                e,
                ProducerFenced | InvalidProducerEpoch | IllegalGeneration | UnknownMemberId
            ) {
                CoveragePoint::ZombieCommitRefused.hit();
            }
            if matches!(e, IllegalGeneration | UnknownMemberId) {
                CoveragePoint::GenerationRefused.hit();
            }
            e
        }
        Response::Heartbeat(Err(e @ (IllegalGeneration | UnknownMemberId))) => {
            CoveragePoint::GenerationRefused.hit();
            e
        }
        _ => return,
    };
    match error {
        ProducerFenced | InvalidProducerEpoch => CoveragePoint::ProducerFenced.hit(),
        ConcurrentTransactions => CoveragePoint::ConcurrentTransactions.hit(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_kebab_case_and_described() {
        let all = CoveragePoint::ALL
            .iter()
            .map(|p| p.name())
            .chain(sim::SimPoint::ALL.iter().map(|p| p.name()));
        let mut seen = std::collections::BTreeSet::new();
        for name in all {
            assert!(seen.insert(name), "{name} is declared twice");
            assert!(
                name.split('-').all(|w| !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
                "{name} is not kebab-case"
            );
        }
        for p in CoveragePoint::ALL {
            assert!(
                !p.description().is_empty() && !p.description().contains('\n'),
                "{p:?}"
            );
        }
        assert_eq!(
            CoveragePoint::ALL[3] as usize,
            3,
            "a point's index is its position"
        );
    }
}
