//! Snapshots of the text and JSON reports for fixed seeds. They guard the formats and,
//! through the trace hash, determinism across builds and machines.

use eosim::model::Guarantee;
use eosim::scenarios::{self, RunOptions};

fn report(seed: u64, guarantee: Guarantee) -> eosim::reports::RunReport {
    let scenario = scenarios::load("produce-retries").unwrap();
    let outcome = scenarios::run(
        &scenario,
        &RunOptions {
            seed,
            guarantee: Some(guarantee),
            ..Default::default()
        },
    );
    eosim::report(&outcome, "produce-retries")
}

#[test]
fn exactly_once_report() {
    let r = report(5, Guarantee::ExactlyOnce);
    insta::assert_snapshot!("exactly_once_seed5_text", r.to_text());
    insta::assert_snapshot!("exactly_once_seed5_json", r.to_json());
}

#[test]
fn at_least_once_report() {
    let r = report(5, Guarantee::AtLeastOnce);
    insta::assert_snapshot!("at_least_once_seed5_text", r.to_text());
}

#[test]
fn at_most_once_report() {
    let r = report(5, Guarantee::AtMostOnce);
    insta::assert_snapshot!("at_most_once_seed5_text", r.to_text());
}

/// One seed of the Jepsen-style queue workload under transactions v1 (KAFKA-17754): the
/// held EndTxn commits the next, aborted transaction's first half.
#[test]
fn jepsen_queue_no_txn_epoch_bump_report() {
    let scenario = scenarios::load("jepsen-queue").unwrap();
    let outcome = scenarios::run(
        &scenario,
        &RunOptions {
            seed: 3,
            variants: vec![eosim::model::Variant::NoTxnEpochBump],
            ..Default::default()
        },
    );
    let r = eosim::report(&outcome, "jepsen-queue");
    insta::assert_snapshot!("jepsen_queue_no_txn_epoch_bump_seed3_text", r.to_text());
}
