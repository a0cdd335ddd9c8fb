//! Fault kinds end to end. `isolate` (scenarios/examples/zombie-isolated.toml): a copier cut
//! off from every node past its session timeout comes back as a zombie; exactly-once holds,
//! and with the epoch check off the zombie's retried batches leave hanging transactions.
//! `point` (scenarios/examples/coordinator-crash-after-prepare-commit.toml): the coordinator
//! crashes right after logging PrepareCommit; its recovery resends the markers.

use std::collections::BTreeSet;

use eosim::checker::AnomalyKind;
use eosim::model::Variant;
use eosim::model::coverage::CoveragePoint;
use eosim::scenarios::{self, RunOptions, Scenario};

fn example(name: &str) -> Scenario {
    let path = format!(
        "{}/scenarios/examples/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    Scenario::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap()
}

fn scenario() -> Scenario {
    example("zombie-isolated")
}

/// The anomaly kinds of each of `seeds` runs.
fn kinds_per_seed(
    variants: Vec<Variant>,
    seeds: std::ops::Range<u64>,
) -> Vec<BTreeSet<AnomalyKind>> {
    let scenario = scenario();
    seeds
        .map(|seed| {
            let options = RunOptions {
                seed,
                variants: variants.clone(),
                ..RunOptions::default()
            };
            scenarios::run(&scenario, &options).kinds()
        })
        .collect()
}

#[test]
fn an_isolated_zombie_is_fenced_under_exactly_once() {
    let failing: Vec<_> = kinds_per_seed(vec![], 0..30)
        .into_iter()
        .enumerate()
        .filter(|(_, kinds)| !kinds.is_empty())
        .collect();
    assert!(failing.is_empty(), "{failing:?}");
}

#[test]
fn without_epoch_fencing_the_isolated_zombie_leaves_hanging_transactions() {
    let runs = kinds_per_seed(vec![Variant::NoZombieFencing], 0..30);
    let hanging = BTreeSet::from([AnomalyKind::HangingTransaction]);
    assert!(
        runs.iter()
            .all(|kinds| kinds.is_empty() || *kinds == hanging),
        "{runs:?}"
    );
    assert!(
        runs.iter().filter(|kinds| **kinds == hanging).count() >= 10,
        "{runs:?}"
    );
}

/// The point fires on every seed (the first EndTxn(commit) of the run), the coordinator's
/// reload resends the prepared transaction's markers, and exactly-once holds.
#[test]
fn a_coordinator_crashed_right_after_prepare_commit_recovers_the_commit() {
    let scenario = example("coordinator-crash-after-prepare-commit");
    for seed in 0..20 {
        let outcome = scenarios::run(
            &scenario,
            &RunOptions {
                seed,
                ..RunOptions::default()
            },
        );
        assert!(
            outcome.kinds().is_empty(),
            "seed {seed}: {:?}",
            outcome.anomalies
        );
        assert_eq!(
            outcome.coverage.unmatched_faults().count(),
            0,
            "seed {seed}: never fired"
        );
        let resent = outcome
            .coverage
            .count(CoveragePoint::RecoveredMarkersResent);
        assert!(resent >= 1, "seed {seed}: the reload resent no markers");
    }
}

/// KAFKA-17754 in its published shape (scenarios/examples/kafka-17754.toml): a held
/// EndTxn(commit), the application's abort at the commit timeout, the late commit. Default
/// (transactions v2) clean; transactions v1 caught in the first seeds, with the kinds the
/// scenario expects.
#[test]
fn kafka_17754_is_caught_under_transactions_v1_only() {
    let scenario = example("kafka-17754");
    let run = |seed, variants: Vec<Variant>| {
        let options = RunOptions {
            seed,
            variants,
            ..RunOptions::default()
        };
        scenarios::run(&scenario, &options)
    };
    for seed in 0..15 {
        let outcome = run(seed, vec![]);
        assert!(
            outcome.kinds().is_empty(),
            "seed {seed}: {:?}",
            outcome.anomalies
        );
        assert_eq!(
            outcome.coverage.unmatched_faults().count(),
            0,
            "seed {seed}"
        );
    }
    let expected: BTreeSet<AnomalyKind> = scenario.expect["exactly-once+no-txn-epoch-bump"]
        .anomalies
        .iter()
        .copied()
        .collect();
    let caught: Vec<u64> = (0..15)
        .filter(|&seed| {
            let kinds = run(seed, vec![Variant::NoTxnEpochBump]).kinds();
            assert!(kinds.is_subset(&expected), "seed {seed}: {kinds:?}");
            !kinds.is_empty()
        })
        .collect();
    assert!(
        caught.len() >= 4 && caught[0] < 3,
        "caught on seeds {caught:?}"
    );
}

/// KAFKA-7192's window hit on every seed (scenarios/examples/streams-crash-before-commit.toml):
/// an instance crashes after its changelog writes, before its commit, and restarts 100 ms
/// later. Exactly-once (v1 and v2) keeps the aggregates right; with the stores kept across
/// the unclean shutdown every seed shows a wrong aggregate.
#[test]
fn a_streams_crash_before_commit_catches_unwiped_stores_on_every_seed() {
    let scenario = example("streams-crash-before-commit");
    let run = |seed, guarantee, variants: Vec<Variant>| {
        let options = RunOptions {
            seed,
            guarantee,
            variants,
            ..RunOptions::default()
        };
        scenarios::run(&scenario, &options)
    };
    for seed in 0..6 {
        for guarantee in [None, Some(eosim::model::Guarantee::ExactlyOnceV2)] {
            let outcome = run(seed, guarantee, vec![]);
            assert!(
                outcome.kinds().is_empty(),
                "seed {seed}: {:?}",
                outcome.anomalies
            );
            assert_eq!(
                outcome.coverage.unmatched_faults().count(),
                0,
                "seed {seed}"
            );
        }
        let kinds = run(seed, None, vec![Variant::StoreNotWipedOnUncleanShutdown]).kinds();
        assert_eq!(
            kinds,
            BTreeSet::from([AnomalyKind::WrongAggregate]),
            "seed {seed}"
        );
    }
}
