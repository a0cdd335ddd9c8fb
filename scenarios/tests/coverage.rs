//! Coverage ("sometimes" assertions): a few seeds of the built-in scenarios reach the protocol
//! paths their faults are there to exercise, and never reach paths that cannot occur under
//! their settings. Kept small enough for a debug build.

use model::{CoveragePoint, Guarantee, Variant};
use scenarios::{Coverage, RunOptions, run};
use sim::SimPoint;

/// Per point, the seeds (of those run) where it fired; and the fault uses of every seed.
struct Totals {
    seeds: Vec<Coverage>,
}

impl Totals {
    fn of(scenario: &str, seeds: u64, guarantee: Option<Guarantee>, variants: &[Variant]) -> Self {
        let loaded = scenarios::load(scenario).expect("built in");
        let seeds = (0..seeds)
            .map(|seed| {
                let outcome = run(
                    &loaded,
                    &RunOptions {
                        seed,
                        guarantee,
                        variants: variants.to_vec(),
                        ..RunOptions::default()
                    },
                );
                assert!(
                    outcome.panic.is_none(),
                    "{scenario} seed {seed}: {:?}",
                    outcome.panic
                );
                assert_eq!(
                    outcome.coverage.counts.len(),
                    scenarios::coverage::POINT_COUNT
                );
                outcome.coverage
            })
            .collect();
        Totals { seeds }
    }

    fn reached(&self, point: CoveragePoint) -> bool {
        self.seeds.iter().any(|c| c.count(point) > 0)
    }

    fn reached_sim(&self, point: SimPoint) -> bool {
        self.seeds.iter().any(|c| c.sim_count(point) > 0)
    }

    fn describe(&self) -> String {
        let mut out = String::new();
        for (i, (name, _)) in scenarios::coverage::points().enumerate() {
            let n: u64 = self.seeds.iter().map(|c| c.counts[i]).sum();
            out.push_str(&format!("{name}={n} "));
        }
        out
    }
}

#[test]
fn idempotent_producers_reach_dedup_and_never_a_transactional_path() {
    let t = Totals::of("produce-retries", 3, None, &[]);
    let all = t.describe();
    assert!(t.reached(CoveragePoint::DedupHit), "{all}");
    assert!(t.reached_sim(SimPoint::ConnectionBroken), "{all}");
    for point in [
        CoveragePoint::TxnTimedOut,
        CoveragePoint::Rebalance,
        CoveragePoint::TaskLost,
        CoveragePoint::StaleMarkerRejected,
        CoveragePoint::LsoHeld,
    ] {
        assert!(
            !t.reached(point),
            "{point:?} without transactions or groups: {all}"
        );
    }
    // Every planned targeted fault is accounted for with what it asked.
    assert!(t.seeds.iter().any(|c| !c.message_faults.is_empty()));
    for f in t.seeds.iter().flat_map(|c| &c.message_faults) {
        assert!(f.used <= f.asked, "{f:?}");
    }
}

#[test]
fn at_least_once_producers_are_never_deduplicated_nor_fenced() {
    // Without idempotence there is no producer id: no dedup, no sequence check, no epochs.
    let t = Totals::of("produce-retries", 3, Some(Guarantee::AtLeastOnce), &[]);
    let all = t.describe();
    for point in [
        CoveragePoint::DedupHit,
        CoveragePoint::OutOfOrderRejected,
        CoveragePoint::ClientEpochBump,
        CoveragePoint::ProducerFenced,
        CoveragePoint::CoordinatorEpochBump,
    ] {
        assert!(!t.reached(point), "{point:?} under at-least-once: {all}");
    }
    assert!(t.reached_sim(SimPoint::ConnectionBroken), "{all}");
}

#[test]
fn streams_eos_reaches_rebalances_and_lost_tasks() {
    let t = Totals::of("eos-test", 2, None, &[]);
    let all = t.describe();
    assert!(t.reached(CoveragePoint::Rebalance), "{all}");
    assert!(t.reached(CoveragePoint::TaskLost), "{all}");
    assert!(t.reached(CoveragePoint::CoordinatorEpochBump), "{all}");
    assert!(
        !t.reached(CoveragePoint::CrashedStoresReused),
        "only its variant: {all}"
    );
}

#[test]
fn zombie_fencing_reaches_rebalance_and_refuses_the_zombies_commit() {
    let t = Totals::of("zombie-fencing", 2, None, &[]);
    let all = t.describe();
    assert!(t.reached(CoveragePoint::Rebalance), "{all}");
    assert!(t.reached(CoveragePoint::SessionExpired), "{all}");
    assert!(t.reached(CoveragePoint::GenerationRefused), "{all}");
    assert!(t.reached(CoveragePoint::ZombieCommitRefused), "{all}");
}

#[test]
fn jepsen_queue_without_the_per_txn_bump_reaches_open_transactions_and_held_requests() {
    let t = Totals::of("jepsen-queue", 2, None, &[Variant::NoTxnEpochBump]);
    let all = t.describe();
    assert!(t.reached(CoveragePoint::LsoHeld), "{all}");
    assert!(t.reached(CoveragePoint::ConcurrentTransactions), "{all}");
    assert!(t.reached_sim(SimPoint::HeldRequestAfterClose), "{all}");
    assert!(
        !t.reached(CoveragePoint::Rebalance),
        "the queue has no groups: {all}"
    );
    assert!(
        !t.reached(CoveragePoint::TaskCorrupted),
        "no streams tasks: {all}"
    );
}

/// A run of a built-in scenario that reaches a coverage path: (path, scenario, run key, seed).
/// Preferably under a run key that must pass; a path of a buggy protocol only under its
/// variant. `client-epoch-bump` is reached only where the broker forgot a producer's
/// sequence (`unsynced-acks`: a crash loses the acknowledged tail), and `txn-client-epoch-bump` only under transactions v1 (`no-txn-epoch-bump`: under
/// v2 every EndTxn bumps the epoch, so the client never has to), with an outage longer than
/// the client's delivery deadline (long-outages).
const REACHED_BY: &[(&str, &str, &str, u64)] = &[
    (
        "held-request-after-close",
        "eos-test-rebalance",
        "exactly-once",
        3,
    ),
    ("connection-broken", "eos-test-complex", "exactly-once", 0),
    (
        "delivery-to-down-node",
        "eos-test-complex",
        "exactly-once",
        1,
    ),
    ("dedup-hit", "eos-test-complex", "exactly-once", 0),
    (
        "out-of-order-rejected",
        "produce-retries",
        "exactly-once",
        2,
    ),
    (
        "unknown-producer-first-sequence",
        "new-topic",
        "exactly-once",
        4,
    ),
    (
        "client-epoch-bump",
        "produce-retries",
        "exactly-once+unsynced-acks",
        0,
    ),
    ("txn-send-timed-out", "long-outages", "exactly-once", 1),
    (
        "txn-client-epoch-bump",
        "long-outages",
        "exactly-once+no-txn-epoch-bump",
        1,
    ),
    (
        "coordinator-epoch-bump",
        "eos-test-complex",
        "exactly-once",
        0,
    ),
    (
        "init-fenced-ongoing-txn",
        "eos-test-failure-recovery",
        "exactly-once",
        2,
    ),
    (
        "producer-fenced",
        "eos-test-failure-recovery",
        "exactly-once",
        2,
    ),
    (
        "concurrent-transactions",
        "eos-test-complex",
        "exactly-once-v2",
        1,
    ),
    (
        "stale-marker-rejected",
        "eos-test-complex",
        "exactly-once-v2",
        26,
    ),
    ("marker-retried", "eos-test-complex", "exactly-once", 1),
    ("txn-timed-out", "long-outages", "exactly-once", 42),
    (
        "coordinator-reloaded",
        "eos-test-complex",
        "exactly-once",
        1,
    ),
    (
        "recovered-markers-resent",
        "eos-test-complex",
        "exactly-once-v2",
        26,
    ),
    ("lso-held", "eos-test-complex", "exactly-once", 0),
    ("rebalance", "eos-test-complex", "exactly-once", 0),
    ("session-expired", "eos-test-complex", "exactly-once", 3),
    ("generation-refused", "eos-test-complex", "exactly-once", 3),
    (
        "zombie-commit-refused",
        "eos-test-complex",
        "exactly-once",
        3,
    ),
    ("restore-interrupted", "eos-test-complex", "exactly-once", 3),
    ("task-corrupted", "eos-test-rebalance", "exactly-once", 0),
    ("task-lost", "eos-test-complex", "exactly-once", 3),
    (
        "store-wiped",
        "eos-test-failure-recovery",
        "exactly-once",
        0,
    ),
    (
        "crashed-stores-reused",
        "eos-test-failure-recovery",
        "exactly-once+store-not-wiped-on-unclean-shutdown",
        0,
    ),
    (
        "markers-abandoned",
        "txn-timeouts",
        "exactly-once+marker-retry-refused",
        0,
    ),
    (
        "checkpoint-kept-while-running",
        "eos-test",
        "exactly-once+checkpoint-kept-while-running",
        5,
    ),
    (
        "abort-without-seek",
        "copy-outages",
        "exactly-once+no-seek-after-abort",
        0,
    ),
    (
        "failed-send-ignored",
        "long-outages",
        "exactly-once+commit-ignores-failed-sends",
        1,
    ),
    (
        "timed-out-send-retried",
        "long-outages",
        "exactly-once+timed-out-send-retried",
        0,
    ),
    (
        "producer-state-forgotten",
        "produce-retries",
        "exactly-once+producer-state-not-restored",
        3,
    ),
    ("leader-not-ready", "new-topic", "exactly-once", 0),
    ("producer-id-rotated", "epoch-exhaustion", "exactly-once", 0),
    (
        "fence-abort-rotates-producer-id",
        "epoch-exhaustion",
        "exactly-once",
        0,
    ),
    ("fetch-inside-batch", "queue-batches", "exactly-once", 0),
    ("poll-cut-batch", "queue-batches", "exactly-once", 0),
];

#[test]
fn every_coverage_path_is_reached_by_a_builtin_scenario() {
    let declared: Vec<&str> = scenarios::coverage::points().map(|(n, _)| n).collect();
    let listed: Vec<&str> = REACHED_BY.iter().map(|row| row.0).collect();
    assert_eq!(listed, declared, "one row per path, in declaration order");
    // Each distinct run once: rows sharing (scenario, key, seed) share its coverage.
    let mut runs: std::collections::BTreeMap<(&str, &str, u64), Coverage> = Default::default();
    for (index, &(path, scenario, key, seed)) in REACHED_BY.iter().enumerate() {
        let coverage = runs.entry((scenario, key, seed)).or_insert_with(|| {
            let run_key = scenarios::RunKey::parse(key).expect("a valid run key");
            let options = RunOptions {
                seed,
                guarantee: Some(run_key.guarantee),
                variants: run_key.variants.into_iter().collect(),
                ..RunOptions::default()
            };
            let outcome = run(&scenarios::load(scenario).expect("built in"), &options);
            assert!(outcome.panic.is_none(), "{scenario} {key} seed {seed}");
            outcome.coverage
        });
        assert!(
            coverage.counts[index] > 0,
            "{path} not reached by `eosim run {scenario} --seed {seed}` under {key}"
        );
    }
}
