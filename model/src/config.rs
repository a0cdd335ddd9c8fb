//! The processing guarantee and the protocol variants (safeguards switched off, historical
//! bugs switched on), by name.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The processing guarantee, declared once in the checker (whose allowed-error policy judges
/// histories by it).
pub use checker::anomaly::policy::Guarantee;

/// Declares the protocol variants once, one row per variant: its doc (the bug, the anomaly it
/// produces, the fix), the variant, its kebab-case name (scenario files, the command line and
/// reports use it byte for byte) and a one-paragraph description for `eosim list`. `Variant`
/// (serde as the name), `ALL`, `name` and `description` are derived: adding a variant is a row
/// (and the code it switches).
macro_rules! variants {
    ($( $(#[$doc:meta])* $Variant:ident = $name:literal : $description:literal, )+) => {
        /// A protocol variant. Each documents the bug, the anomaly it produces, and the fix.
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        pub enum Variant {
            $( $(#[$doc])* #[serde(rename = $name)] $Variant, )+
        }

        impl Variant {
            /// Every variant, in declaration order (the order variant sets list them in).
            pub const ALL: &'static [Variant] = &[$(Variant::$Variant),+];

            /// The kebab-case name scenario files and the command line use.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Variant::$Variant => $name, )+
                }
            }

            /// One paragraph: the bug, the anomaly, the fix.
            pub const fn description(self) -> &'static str {
                match self {
                    $( Variant::$Variant => $description, )+
                }
            }
        }
    };
}

variants! {
    /// Bug: the broker ignores producer ids and sequence numbers and appends every batch, as
    /// before KIP-98. Anomaly: `duplicate` — a producer retry after a lost ack is appended a
    /// second time. Fix: per-producer state with the last 5 batches; a retry of a retained
    /// batch is answered with its original offsets (KIP-98 idempotence).
    NoDedup = "no-dedup":
        "broker appends every batch, ignoring producer id and sequence (pre-KIP-98); \
         anomaly: duplicate (a retry after a lost ack is appended twice); fix: retain \
         the last 5 batches per producer and answer retries with the original offsets",
    /// Bug: the broker acknowledges a produce before the batch is durable (synced only every
    /// 500 ms) and a crash loses the unsynced tail. Anomalies: `lost-write` (acked values
    /// vanish) and `inconsistent-offsets` (the lost offsets are reused by later writes). Fix:
    /// acknowledge only durable writes (Kafka: acks=all with min.insync.replicas ≥ 2).
    UnsyncedAcks = "unsynced-acks":
        "broker acks before the write is durable and a crash loses the unsynced tail; \
         anomalies: lost-write, inconsistent-offsets; fix: ack only durable \
         (replicated) writes",
    /// Bug: the consume-transform-produce loop commits its outputs in a transaction but its
    /// consumer offsets separately, after the commit and only every few batches, as a
    /// consumer's auto-commit would (the talk's "Error Scenario #2"). A crash in between
    /// re-processes inputs whose outputs are already committed. Anomalies:
    /// `duplicate-effect` (an input with two committed outputs), `duplicate`. Fix: commit the
    /// offsets inside the transaction (`sendOffsetsToTransaction`, KIP-98).
    OffsetsOutsideTxn = "offsets-outside-txn":
        "consumer offsets committed after the output transaction, not inside it; a \
         crash between re-processes committed inputs; anomalies: duplicate-effect, \
         duplicate; fix: sendOffsetsToTransaction",
    /// Bug: brokers do not check the producer epoch of transactional requests, so a fenced
    /// instance (a zombie that slept through its session timeout while its partitions moved
    /// to a new owner with the same transactional.id) keeps writing: its batches join the
    /// new owner's transaction and its EndTxn commits it. Anomalies: `duplicate`,
    /// `duplicate-effect` (the zombie's output next to the new owner's for the same input).
    /// Fix: `init_transactions` bumps the epoch and every partition and coordinator refuses
    /// an older one (KIP-98 fencing).
    NoZombieFencing = "no-zombie-fencing":
        "brokers ignore the producer epoch, so a fenced zombie's writes and EndTxn \
         join the new owner's transaction; anomalies: duplicate, duplicate-effect; \
         fix: epoch bump on init_transactions and epoch checks everywhere",
    /// Bug: the group coordinator accepts a TxnOffsetCommit from a member that left the group
    /// or from an old generation (KIP-447's check off). With a producer per instance,
    /// nothing else stops a zombie whose partitions were reassigned from committing its
    /// stale transaction. Anomalies: `duplicate`, `duplicate-effect`. Fix: the generation
    /// check (ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID → the zombie aborts).
    NoGenerationCheck = "no-generation-check":
        "the group coordinator accepts TxnOffsetCommit from a stale member or \
         generation, so a zombie commits a transaction for partitions that moved \
         (producer per instance); anomalies: duplicate, duplicate-effect; fix: \
         KIP-447's generation check",
    /// Bug: transactions v1 (before KIP-890 part 2): the producer epoch stays the same from
    /// one transaction to the next, so a request cannot say which transaction it belongs to.
    /// A late EndTxn (held past the client's retry) commits or aborts whatever transaction is
    /// open when it lands, and a late Produce joins the next transaction or opens one the
    /// coordinator never closes (KAFKA-17754, Jepsen's Bufstream report). Anomalies:
    /// `aborted-read` (an aborted transaction's first half committed by a stale commit),
    /// `torn-transaction`, `lost-write`, `hanging-transaction`. Fix: bump the epoch at every
    /// EndTxn and write the markers with it, so (producer id, epoch) names one transaction and
    /// stale requests are fenced (KIP-890 part 2, transaction.version = 2).
    NoTxnEpochBump = "no-txn-epoch-bump":
        "transactions v1: the producer epoch is not bumped per transaction, so a late \
         EndTxn or Produce from one transaction lands in the next (KAFKA-17754); \
         anomalies: aborted-read, torn-transaction, lost-write, hanging-transaction; \
         fix: bump the epoch at every EndTxn (KIP-890 part 2)",
    /// Bug: the downstream consumer reads at read_uncommitted (the default isolation level of
    /// Kafka's consumer), so it sees records of open and aborted transactions. Anomaly:
    /// `aborted-read`. Fix: consume transactional output at read_committed (Kafka Streams
    /// sets isolation.level = read_committed under exactly-once).
    ReadUncommitted = "read-uncommitted":
        "downstream consumers read at read_uncommitted and see records of open and \
         aborted transactions; anomaly: aborted-read; fix: isolation.level = \
         read_committed",
    /// Bug (KAFKA-7192): after an unclean shutdown under exactly-once, a Streams instance
    /// keeps its local state stores instead of wiping them and restoring from the changelog,
    /// so the stores still hold the updates of the transaction the crash aborted, and the
    /// re-processed inputs are applied a second time. Anomaly: `wrong-aggregate` (sums and
    /// counts ahead of the committed inputs). Fix: no checkpoint under exactly-once while
    /// processing; a task without one is wiped and restored from its changelog.
    StoreNotWipedOnUncleanShutdown = "store-not-wiped-on-unclean-shutdown":
        "a Streams instance keeps its local stores after an unclean shutdown under \
         exactly-once (KAFKA-7192): updates of the aborted transaction stay and the \
         re-processed inputs count twice; anomaly: wrong-aggregate; fix: wipe and \
         restore from the changelog",
    /// Bug (KAFKA-16017): a Streams task closed cleanly in the middle of restoring writes its
    /// record collector's offsets — the changelog end it had written before an abort wiped
    /// its stores — to the checkpoint instead of the offsets it restored. Opened again from
    /// that checkpoint, it believes it is fully restored and skips the rest of the changelog.
    /// Anomaly: `wrong-aggregate` (aggregates restart from partial state). Fix: forget the
    /// collector's offsets on close and checkpoint the restored ones.
    CheckpointWrittenNotRestored = "checkpoint-written-not-restored":
        "a Streams task closed cleanly mid-restore checkpoints the changelog offsets \
         it had written before an abort wiped it, not those it restored \
         (KAFKA-16017); opened again it skips the unrestored changelog; anomaly: \
         wrong-aggregate; fix: checkpoint the restored offsets",
    /// Bug (KAFKA-15591, fixed in Kafka 4.5 by apache/kafka PR 23234): a partition with no
    /// state for a producer accepts any first sequence, so a later batch that overtakes a
    /// failed first one is appended and every retry of the first is refused as out of order.
    /// Anomaly: `missing` (the first batch is given up despite idempotence). Fix: a
    /// never-written partition accepts only sequence 0 from an unknown producer. The
    /// simulated network keeps TCP's order, so the overtaking needs a retriable refusal of
    /// the first request only: NOT_LEADER_OR_FOLLOWER while the partition's leader is being
    /// elected (`[cluster] leader_election_ms`, the `new-topic` scenario).
    AcceptAnyFirstSequence = "accept-any-first-sequence":
        "a partition with no state for a producer accepts any first sequence \
         (KAFKA-15591): a batch overtaking a failed first one is appended and the \
         first one's retries are refused as out of order; anomaly: missing; fix \
         (Kafka 4.5): a never-written partition accepts only sequence 0",
    /// Bug (KAFKA-6119, Kafka 0.11; fixed by commit 3b750df1bd9): the transaction
    /// coordinator aborts a transaction that outlived `transaction.timeout.ms` at its own
    /// epoch, without fencing the producer, under transactions v1 (no per-transaction bump).
    /// The producer, paused past the timeout, wakes and goes on: its AddPartitionsToTxn starts
    /// a new transaction, its produce to a partition it had already added opens one the
    /// coordinator does not know, and its commit commits only the new part. Anomalies:
    /// `lost-write` (acknowledged sends of a committed transaction aborted), `torn-transaction`,
    /// `aborted-read`, `hanging-transaction`. Fix: the timeout abort bumps the epoch first
    /// (`prepareFenceProducerEpoch`), so the woken producer is fenced.
    TimeoutAbortKeepsEpoch = "timeout-abort-keeps-epoch":
        "transactions v1 with the coordinator aborting a timed-out transaction at its own \
         epoch (KAFKA-6119): the producer, paused past its transaction timeout, wakes and \
         commits a new transaction holding only the rest of its writes; anomalies: \
         lost-write, torn-transaction, aborted-read, hanging-transaction; fix: fence the \
         producer (epoch bump) before the timeout abort",
    /// Bug (KAFKA-19999, fixed by apache/kafka PR 21176): under transactions v2 a partition
    /// refuses a marker whose epoch is not above the producer's (KIP-1228's strict check), so
    /// a marker retried after its answer was lost — already written — is refused
    /// INVALID_PRODUCER_EPOCH, on which the coordinator stops sending the transaction's
    /// markers and never logs its completion. The transaction hangs in PREPARE_COMMIT (or
    /// PREPARE_ABORT): its producer gets CONCURRENT_TRANSACTIONS forever and partitions still
    /// waiting for a marker keep it open. Anomalies: `not-converged`, `hanging-transaction`.
    /// Fix: a marker at the producer's current epoch for a transaction the partition has
    /// already closed is an idempotent retry, answered as written.
    MarkerRetryRefused = "marker-retry-refused":
        "transactions v2's strict marker epoch check refuses a retried marker (its answer \
         was lost) and the coordinator gives up the transaction's markers (KAFKA-19999): \
         it hangs in PREPARE_COMMIT; anomalies: not-converged, hanging-transaction; fix: \
         an equal-epoch marker for a closed transaction is an idempotent retry",
    /// Bug (KAFKA-5793's lost producer state, the class KIP-360 closed): a restarted leader
    /// does not rebuild its producers' state from the log (no producer snapshot), so it knows
    /// nothing of the batches it appended before the crash. A producer's retry of a batch
    /// whose answer the crash swallowed is taken as a first batch from an unknown producer
    /// — any sequence goes — and appended a second time. Anomaly: `duplicate`. Fix: rebuild
    /// producer state from the log and snapshots on load (Kafka's `ProducerStateManager`
    /// recovery), so the retry is recognised.
    ProducerStateNotRestored = "producer-state-not-restored":
        "a restarted broker does not rebuild producer state from its log (KAFKA-5793's \
         lost state): a retry of a batch appended before the crash is appended again; \
         anomaly: duplicate; fix: rebuild producer state (dedup window, epochs) from the \
         log on load",
    /// Bug (KAFKA-20685, apache/kafka PR 22548): under exactly-once a Streams task keeps the
    /// checkpoint it wrote when its restoration ended after it starts processing, so its
    /// stores take uncommitted updates while a checkpoint says they are clean. After a crash
    /// the task trusts them instead of wiping them (KAFKA-7192's invariant broken again).
    /// Anomaly: `wrong-aggregate`. Fix: delete the checkpoint when the task turns RUNNING.
    CheckpointKeptWhileRunning = "checkpoint-kept-while-running":
        "a Streams task keeps its post-restore checkpoint while it processes under \
         exactly-once (KAFKA-20685), so after a crash its stores, holding the aborted \
         transaction's updates, are trusted, not wiped; anomaly: wrong-aggregate; fix: \
         delete the checkpoint once the task runs",
    /// Bug (KAFKA-14053, apache/kafka PR 12392): under transactions v1 a transactional
    /// producer whose send timed out aborts the transaction and begins the next one at the
    /// same epoch, while the timed-out batch is still on its way. The late batch lands after
    /// the abort marker and joins the next transaction; that transaction's own batch reuses
    /// the late one's sequence numbers and is answered as its duplicate, at an offset holding
    /// the late value. Anomalies: `lost-write`, `inconsistent-offsets`, `torn-transaction`,
    /// `early-read`. Fix: bump the epoch after an abort that leaves a batch of unknown fate
    /// (KIP-360's InitProducerId with the current epoch; KIP-890).
    NoEpochBumpAfterSendTimeout = "no-epoch-bump-after-send-timeout":
        "transactions v1 with the producer aborting a transaction whose send timed out and \
         going on at the same epoch (KAFKA-14053): the late batch joins the next \
         transaction; anomalies: lost-write, inconsistent-offsets, torn-transaction, \
         early-read; fix: bump the epoch after such an abort (KIP-360)",
    /// Bug (before KIP-447's `require_stable`, KAFKA-9346 / apache/kafka PR 7878): a consumer
    /// taking over partitions fetches the group's committed offsets while the previous
    /// owner's transaction, holding newer offsets, is still being committed; the coordinator
    /// answers with the older committed offsets and the new owner processes the inputs
    /// again, which the previous owner's commit has also covered. Anomalies:
    /// `duplicate-effect`, `duplicate`. Fix: OffsetFetch with `require_stable`, answered
    /// UNSTABLE_OFFSET_COMMIT (retried) while a transactional offset commit is pending.
    NoStableOffsetCheck = "no-stable-offset-check":
        "consumers fetch committed offsets without KIP-447's require_stable (KAFKA-9346): \
         a new owner reads the offsets from before the previous owner's pending commit \
         and re-processes its inputs; anomalies: duplicate-effect, duplicate; fix: \
         require_stable, UNSTABLE_OFFSET_COMMIT while offsets are pending",
    /// Bug (KAFKA-17582, an application's: Kafka does not rewind a consumer when its
    /// transaction aborts, by design): a consume-transform-produce loop aborts a transaction
    /// and goes on polling from its consumer's position, past the inputs of the aborted
    /// batch, whose outputs were discarded. Its next commit moves the committed offsets past
    /// them. Anomaly: `lost-effect` (inputs consumed under a committed offset with no
    /// committed output). Fix: after an abort, seek to the committed offsets (or rejoin).
    NoSeekAfterAbort = "no-seek-after-abort":
        "a copier aborts a transaction and keeps polling from its consumer position, not \
         the committed offsets (KAFKA-17582): the aborted batch's inputs are never \
         copied; anomaly: lost-effect; fix: seek to the committed offsets after an abort",
    /// Bug (KAFKA-9279, fixed by apache/kafka PR 11508): a send's failure was reported only
    /// through that send's future, and `commitTransaction` did not look at it; an
    /// application that does not check every future commits a transaction that lacks the
    /// failed record. Anomalies: `lost-write` (a send of a committed transaction that never
    /// reached the log), `torn-transaction`. Fix: a failed send puts the producer in an abortable
    /// error state, so the commit throws and the application aborts.
    CommitIgnoresFailedSends = "commit-ignores-failed-sends":
        "a failed transactional send is reported only to that send, which the \
         application does not check, and the commit goes ahead (KAFKA-9279); anomalies: \
         lost-write, torn-transaction; fix: a failed send makes the transaction abortable \
         only",
    /// Bug (KAFKA-19176, fixed by apache/kafka PR 19522; the hazard KAFKA-18579 names): a
    /// transactional send whose retries ran out surfaced as a retriable error, so the
    /// application sent the record again in the same transaction, as a new batch with new
    /// sequence numbers; the first attempt, only slow, lands too and the transaction commits
    /// both. Anomaly: `duplicate`. Fix: a send whose retries ran out is an abortable error:
    /// the application must abort.
    TimedOutSendRetried = "timed-out-send-retried":
        "a transactional send whose retries ran out reaches the application as \
         retriable and is sent again, with new sequence numbers, in the same transaction \
         (KAFKA-19176, KAFKA-18579): both copies commit; anomaly: duplicate; fix: such \
         an error is abortable",
    /// Bug (KAFKA-20090, fixed by apache/kafka PRs 21469 and 21506): under transactions v2 a
    /// transaction timed out at an exhausted epoch is fenced to the maximum epoch and aborted
    /// without rotating the producer id. Its producer's own EndTxn(abort), one epoch below,
    /// is a valid retry and hands it the maximum epoch; its next transaction can then be
    /// neither ended (the EndTxn bump overflows) nor fenced, and stays Ongoing for good.
    /// Reachable with a small `[cluster] max_producer_epoch` (the `epoch-exhaustion`
    /// scenario). Anomaly: `hanging-transaction` (its partitions' last stable offset stays
    /// below the stuck transaction's first record). Fix: rotate the producer id in every
    /// abort at an exhausted epoch, fences included.
    TimeoutAbortSkipsRotation = "timeout-abort-skips-rotation":
        "transactions v2 aborting a timed-out transaction at an exhausted epoch without \
         rotating the producer id (KAFKA-20090): the producer's retried abort hands it the \
         maximum epoch, and its next transaction can be neither ended nor fenced; \
         anomaly: hanging-transaction; fix: rotate the producer id in fencing aborts too",
    /// Bug (a client's, in many clients: dpkp/kafka-python #322 and #1214, kafka4beam/brod
    /// #95, kafka-rust #80, thomhurst/Dekaf #2074): the broker answers a fetch with whole
    /// batches, from the start of the batch holding the fetch offset, and the consumer hands
    /// the application every record of the answer, those below its position too. A poll that
    /// starts inside a batch delivers again records already consumed. Anomalies:
    /// `int-nonmonotonic-poll` (a transaction's second poll of a partition goes back below
    /// its first), `nonmonotonic-poll`, `duplicate-effect`. Fix: drop the records below the
    /// fetch offset (Kafka's `CompletedFetch.nextFetchedRecord`).
    RecordsBelowFetchOffset = "records-below-fetch-offset":
        "the consumer hands over the records of a fetched batch below its fetch offset \
         (kafka-python #322/#1214, brod #95, Dekaf #2074): a poll starting inside a batch \
         delivers consumed records again; anomaly: int-nonmonotonic-poll; fix: drop the \
         records below the fetch offset",
    /// Bug (a client's: thomhurst/Dekaf #1350, fixed by PR #1487; confluentinc/kafka-rest
    /// #433 commits past what it delivered): the consumer hands over only `max.poll.records`
    /// of a fetch answer but moves its position past the whole answer, so the rest of the
    /// batch is never delivered. Anomalies: `int-poll-skip` (a transaction's second poll of a
    /// partition jumps over records), `poll-skip`, `lost-effect`. Fix: keep the position after
    /// the last record handed over, and the rest of the answer buffered for the next poll.
    PositionPastUndeliveredRecords = "position-past-undelivered-records":
        "the consumer hands over max.poll.records of a fetch but moves its position past \
         the whole answer (Dekaf #1350, kafka-rest #433): the rest of the batch is never \
         delivered; anomaly: int-poll-skip; fix: keep the position after the last record \
         handed over",
}

impl Variant {
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of variants in force for a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Variants(pub BTreeSet<Variant>);

impl Variants {
    pub fn has(&self, v: Variant) -> bool {
        self.0.contains(&v)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|v| v.name()).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// README's variant table is the variants as declared: name and description, in order.
    #[test]
    fn the_readme_lists_every_variant_as_declared() {
        let readme = include_str!("../../README.md");
        let rows: Vec<(String, String)> = readme
            .lines()
            .skip_while(|l| *l != "| variant | the bug, its anomalies and its fix |")
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let (name, description) = l.trim_matches('|').split_once(" | ").expect("two cells");
                (name.trim().replace('`', ""), description.trim().to_string())
            })
            .collect();
        let declared: Vec<(String, String)> = Variant::ALL
            .iter()
            .map(|v| (v.name().to_string(), v.description().to_string()))
            .collect();
        assert_eq!(rows, declared);
    }

    /// `NoTxnEpochBump` → "no-txn-epoch-bump": serde's `rename_all = "kebab-case"`, which
    /// named the variants before the table did.
    fn kebab_case(variant: &str) -> String {
        let mut out = String::new();
        for (i, c) in variant.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn variant_names_are_the_kebab_case_of_the_variants_and_round_trip() {
        for &variant in Variant::ALL {
            let name = variant.name();
            assert_eq!(name, kebab_case(&format!("{variant:?}")));
            assert_eq!(Variant::from_name(name), Some(variant));
            assert_eq!(variant.to_string(), name);
            let json = serde_json::to_string(&variant).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Variant>(&json).unwrap(), variant);
        }
        assert_eq!(Variant::from_name("no_dedup"), None);
    }

    #[test]
    fn all_lists_every_variant_once_in_declaration_order() {
        // The enum and ALL come from one table, so no variant can be left out; this pins that
        // ALL is the declaration order, which variant sets (and so reports) list them in.
        for (index, &variant) in Variant::ALL.iter().enumerate() {
            assert_eq!(variant as usize, index, "{variant:?}");
        }
        let names: BTreeSet<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
        assert_eq!(names.len(), Variant::ALL.len());
    }

    #[test]
    fn every_variant_has_a_one_paragraph_description() {
        for &variant in Variant::ALL {
            let description = variant.description();
            assert!(
                description.contains("anomal") && description.contains("fix"),
                "{variant}: {description}"
            );
            assert!(!description.contains('\n'), "{variant}");
        }
    }
}
