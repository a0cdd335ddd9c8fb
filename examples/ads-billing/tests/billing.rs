//! The ads-billing app under crashes and pauses of billers and brokers, lost acks and
//! duplicated requests. (No zombie here: partitions are assigned statically, so no successor
//! takes over while a biller is paused; a restarted biller fences its dead predecessor.)

use std::collections::BTreeMap;

use ads_billing::{AdsBilling, BILLING, FRAUD, Loop, click_id};
use eosim::checker::{AnomalyKind, RecordStatus};
use eosim::model::Guarantee;
use eosim::scenarios::{RunOutcome, Simulation, SimulationBuilder};
use eosim::sim::FaultMix;

const PARTITIONS: u32 = 2;

fn workload(billing_loop: Loop) -> AdsBilling {
    AdsBilling {
        partitions: PARTITIONS,
        ads: 16,
        fraud_ads: 4,
        clicks_per_ad: 3,
        billing_loop,
    }
}

/// Crashes and pauses of billers and brokers, lost acks, duplicated requests.
fn faults() -> FaultMix {
    FaultMix {
        count: 10,
        crash: 3,
        pause: 2,
        lose_acks: 3,
        duplicate_requests: 1,
        max_outage_ms: 1_500,
        ..FaultMix::default()
    }
}

fn simulation(billing_loop: Loop, guarantee: Guarantee) -> SimulationBuilder {
    let mut builder = Simulation::builder(workload(billing_loop))
        .name("ads-billing")
        .faults(faults())
        .guarantee(guarantee)
        .seeds(0..24);
    for topic in ["displays", "clicks", BILLING, FRAUD] {
        builder = builder.topic(topic, PARTITIONS);
    }
    builder
}

/// How many committed outputs (billing and fraud) each click has.
fn outputs_per_click(outcome: &RunOutcome) -> BTreeMap<u64, usize> {
    let mut count = BTreeMap::new();
    for log in &outcome.history.final_logs {
        if *log.topic != *BILLING && *log.topic != *FRAUD {
            continue;
        }
        for record in &log.records {
            if record.status != RecordStatus::Aborted {
                *count.entry(click_id(record.value)).or_default() += 1;
            }
        }
    }
    count
}

#[test]
fn transactional_billing_bills_every_click_exactly_once() {
    let results = simulation(Loop::Transactional, Guarantee::ExactlyOnce)
        .run()
        .expect("a valid simulation");
    results.assert_all_passed();
    // The faults reached the billers: some seed restarted one mid-run.
    let restarted = results.outcomes.iter().any(|o| {
        o.history
            .clients
            .values()
            .any(|name| name.starts_with("biller") && name.ends_with("#1"))
    });
    assert!(restarted, "no biller was restarted in any seed");
    let clicks = workload(Loop::Transactional).clicks() as usize;
    for outcome in &results.outcomes {
        let outputs = outputs_per_click(outcome);
        assert_eq!(
            outputs.len(),
            clicks,
            "seed {}: a click without output",
            outcome.seed
        );
        assert!(
            outputs.values().all(|&n| n == 1),
            "seed {}: a click billed twice: {outputs:?}",
            outcome.seed
        );
    }
}

#[test]
fn do_it_yourself_billing_bills_twice_and_is_caught() {
    let results = simulation(Loop::DoItYourself, Guarantee::AtLeastOnce)
        .run()
        .expect("a valid simulation");
    assert!(
        results.kinds().contains(&AnomalyKind::Duplicate),
        "{:?}",
        results.kinds()
    );
    let failed = results.failures().next().expect("a failing seed");
    let explained = eosim::scenarios::builder::explain(failed);
    assert!(explained.contains("duplicate"), "{explained}");
    // Replaying the seed gives the same run.
    let again = simulation(Loop::DoItYourself, Guarantee::AtLeastOnce)
        .build()
        .unwrap()
        .run_seed(failed.seed);
    assert_eq!(again.trace.hash, failed.trace.hash);
}
