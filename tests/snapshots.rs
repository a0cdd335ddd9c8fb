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

/// README's variant table format (`eosim hunt --markdown`) for a fixed small hunt: a variant
/// caught at once, one caught at its third run, and KAFKA-15591's in the new-topic scenario. Wall times are
/// zeroed: they are the only part that depends on the machine.
#[test]
fn hunt_markdown() {
    use eosim::model::Variant;
    let options = scenarios::hunt::HuntOptions {
        jobs: 2,
        ..Default::default()
    };
    let variants = [
        Variant::NoDedup,
        Variant::OffsetsOutsideTxn,
        Variant::AcceptAnyFirstSequence,
    ];
    let command = "eosim hunt no-dedup offsets-outside-txn accept-any-first-sequence --markdown";
    let mut report = eosim::hunt_report(&variants, &options, command, |_| {}).unwrap();
    report.wall_s = 0.0;
    for row in &mut report.rows {
        row.wall_s = 0.0;
    }
    insta::assert_snapshot!("hunt_markdown", report.to_markdown());
}
