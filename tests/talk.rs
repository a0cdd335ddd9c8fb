//! The talk's throughput setups (`scenarios/talk/`, issue 19) keep the shape of the talk's
//! table on one seed: every run passes, exactly-once-v2 never beats at-least-once (it does
//! strictly more work), per-task exactly-once is below exactly-once-v2 (a transaction per task
//! instead of one per instance), and per-task exactly-once's share of at-least-once's rate
//! grows with the record size (a transaction's fixed cost weighs less). README's table of ten
//! seeds gives the levels (67 / 77 / 83 %, the talk 68 / 75 / 82 %); one seed is what the test
//! suite affords (nine runs of 100,000 records, ~15 CPU-s in a release build).

use eosim::model::Guarantee;
use eosim::scenarios::{self, RunOptions, Scenario};

/// Steady records/s of one talk file under `guarantee`, seed 0, after checking the run held.
fn steady_rate(file: &str, guarantee: Guarantee) -> f64 {
    let path = format!("{}/scenarios/talk/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let scenario = Scenario::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"));
    assert!(scenario.input_pre_filled(), "{file}: a saturated run");
    let options = RunOptions {
        seed: 0,
        guarantee: Some(guarantee),
        ..RunOptions::default()
    };
    let outcome = scenarios::run(&scenario, &options);
    assert!(
        outcome.panic.is_none() && outcome.anomalies.is_empty(),
        "{file} under {}: {:?} {:#?}",
        guarantee.name(),
        outcome.panic,
        outcome.anomalies
    );
    let rate = eosim::compare_seed(&outcome, true).records_per_s;
    assert!(
        rate > 0.0,
        "{file} under {}: no steady rate",
        guarantee.name()
    );
    rate
}

#[test]
fn the_talks_ratios_keep_their_order_and_grow_with_the_record_size() {
    let mut eos_shares = Vec::new();
    for file in [
        "eos-vs-alos-100b.toml",
        "eos-vs-alos-500b.toml",
        "eos-vs-alos-1024b.toml",
    ] {
        let alos = steady_rate(file, Guarantee::AtLeastOnce);
        let eos = steady_rate(file, Guarantee::ExactlyOnce);
        let v2 = steady_rate(file, Guarantee::ExactlyOnceV2);
        assert!(
            eos < v2 && v2 <= alos,
            "{file}: exactly-once {eos:.0} < v2 {v2:.0} <= at-least-once {alos:.0} records/s"
        );
        eos_shares.push(eos / alos);
    }
    assert!(
        eos_shares.windows(2).all(|pair| pair[0] < pair[1]),
        "exactly-once / at-least-once grows with the record size: {eos_shares:?}"
    );
}
