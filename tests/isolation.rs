//! The `isolate` fault end to end (scenarios/examples/zombie-isolated.toml): a copier cut
//! off from every node past its session timeout comes back as a zombie. Exactly-once holds;
//! with the epoch check off the zombie's retried batches leave hanging transactions.

use std::collections::BTreeSet;

use eosim::checker::AnomalyKind;
use eosim::model::Variant;
use eosim::scenarios::{self, RunOptions, Scenario};

fn scenario() -> Scenario {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/examples/zombie-isolated.toml"
    );
    Scenario::parse(&std::fs::read_to_string(path).unwrap(), path).unwrap()
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
