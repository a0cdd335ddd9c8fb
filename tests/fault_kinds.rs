//! Fault kinds end to end, each on its example scenario (scenarios/examples/):
//! - `isolate` (zombie-isolated): a copier cut off from every node past its session timeout
//!   comes back as a zombie; exactly-once holds, and with the epoch check off the zombie's
//!   retried batches leave hanging transactions;
//! - `point` (coordinator-crash-after-prepare-commit): the coordinator crashes right after
//!   logging PrepareCommit; its recovery resends the markers;
//! - content filter + point decision (kafka-17754): KAFKA-17754 in its published shape;
//! - `point` with `down_ms` (streams-crash-before-commit): KAFKA-7192's window on every seed.

use std::collections::BTreeSet;

use eosim::checker::AnomalyKind;
use eosim::model::coverage::CoveragePoint;
use eosim::model::{Guarantee, Variant};
use eosim::scenarios::{self, RunOptions, RunOutcome, Scenario};

fn example(name: &str) -> Scenario {
    let path = format!(
        "{}/scenarios/examples/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    Scenario::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap()
}

fn run(
    scenario: &Scenario,
    seed: u64,
    guarantee: Option<Guarantee>,
    variants: &[Variant],
) -> RunOutcome {
    let options = RunOptions {
        seed,
        guarantee,
        variants: variants.to_vec(),
        ..RunOptions::default()
    };
    scenarios::run(scenario, &options)
}

/// Every property held and every fault of the plan that waits for an event got it.
fn assert_held_with_every_fault_taken(outcome: &RunOutcome, seed: u64) {
    assert!(
        outcome.kinds().is_empty(),
        "seed {seed}: {:?}",
        outcome.anomalies
    );
    let untaken: Vec<_> = outcome.coverage.unmatched_faults().collect();
    assert!(untaken.is_empty(), "seed {seed}: {untaken:?}");
}

#[test]
fn an_isolated_zombie_is_fenced_under_exactly_once() {
    let scenario = example("zombie-isolated");
    for seed in 0..30 {
        let outcome = run(&scenario, seed, None, &[]);
        assert!(
            outcome.kinds().is_empty(),
            "seed {seed}: {:?}",
            outcome.anomalies
        );
    }
}

#[test]
fn without_epoch_fencing_the_isolated_zombie_leaves_hanging_transactions() {
    let scenario = example("zombie-isolated");
    let hanging = BTreeSet::from([AnomalyKind::HangingTransaction]);
    let runs: Vec<_> = (0..30)
        .map(|seed| run(&scenario, seed, None, &[Variant::NoZombieFencing]).kinds())
        .collect();
    assert!(
        runs.iter()
            .all(|kinds| kinds.is_empty() || *kinds == hanging),
        "{runs:?}"
    );
    let caught = runs.iter().filter(|kinds| **kinds == hanging).count();
    assert!(caught >= 10, "{runs:?}");
}

/// The point fires on every seed (the first EndTxn(commit) of the run), the coordinator's
/// reload resends the prepared transaction's markers, and exactly-once holds.
#[test]
fn a_coordinator_crashed_right_after_prepare_commit_recovers_the_commit() {
    let scenario = example("coordinator-crash-after-prepare-commit");
    for seed in 0..20 {
        let outcome = run(&scenario, seed, None, &[]);
        assert_held_with_every_fault_taken(&outcome, seed);
        let resent = outcome
            .coverage
            .count(CoveragePoint::RecoveredMarkersResent);
        assert!(resent >= 1, "seed {seed}: the reload resent no markers");
    }
}

/// KAFKA-17754 in its published shape: a held EndTxn(commit), the application's abort at
/// the commit timeout, the late commit. Default (transactions v2) clean; transactions v1
/// caught in the first seeds, with the kinds the scenario expects.
#[test]
fn kafka_17754_is_caught_under_transactions_v1_only() {
    let scenario = example("kafka-17754");
    for seed in 0..15 {
        assert_held_with_every_fault_taken(&run(&scenario, seed, None, &[]), seed);
    }
    let expected: BTreeSet<AnomalyKind> = scenario.expect["exactly-once+no-txn-epoch-bump"]
        .anomalies
        .iter()
        .copied()
        .collect();
    let caught: Vec<u64> = (0..15)
        .filter(|&seed| {
            let kinds = run(&scenario, seed, None, &[Variant::NoTxnEpochBump]).kinds();
            assert!(kinds.is_subset(&expected), "seed {seed}: {kinds:?}");
            !kinds.is_empty()
        })
        .collect();
    assert!(
        caught.len() >= 4 && caught[0] < 3,
        "caught on seeds {caught:?}"
    );
}

/// KAFKA-7192's window hit on every seed: an instance crashes after its changelog writes,
/// before its commit, and restarts 100 ms later. Exactly-once (v1 and v2) keeps the
/// aggregates right; with the stores kept across the unclean shutdown every seed shows a
/// wrong aggregate.
#[test]
fn a_streams_crash_before_commit_catches_unwiped_stores_on_every_seed() {
    let scenario = example("streams-crash-before-commit");
    for seed in 0..6 {
        for guarantee in [None, Some(Guarantee::ExactlyOnceV2)] {
            assert_held_with_every_fault_taken(&run(&scenario, seed, guarantee, &[]), seed);
        }
        let unwiped = [Variant::StoreNotWipedOnUncleanShutdown];
        let kinds = run(&scenario, seed, None, &unwiped).kinds();
        assert_eq!(
            kinds,
            BTreeSet::from([AnomalyKind::WrongAggregate]),
            "seed {seed}"
        );
    }
}
