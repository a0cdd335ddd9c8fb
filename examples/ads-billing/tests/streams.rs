//! The talk's example as a Streams topology under crashes and pauses of instances and
//! brokers (a pause past the session timeout makes a zombie: the group moves its tasks,
//! then it wakes up believing it still owns them), lost acks and duplicated requests.

use std::collections::{BTreeMap, BTreeSet};

use ads_billing::streams::{AdsTraffic, BILL_SCALE, BILLING, FRAUD};
use eosim::checker::AnomalyKind;
use eosim::model::Guarantee;
use eosim::model::coverage::CoveragePoint;
use eosim::model::streams::record::{StreamRecord, unpack};
use eosim::scenarios::{RunOutcome, Simulation, SimulationBuilder};
use eosim::sim::FaultMix;

const PARTITIONS: u32 = 3;
const TRAFFIC: AdsTraffic = AdsTraffic { ads: 24 };

/// Crashes and long pauses of instances and brokers, lost acks, duplicated requests.
fn faults() -> FaultMix {
    FaultMix {
        count: 10,
        crash: 3,
        pause: 3,
        lose_acks: 3,
        duplicate_requests: 1,
        max_outage_ms: 2_500,
        ..FaultMix::default()
    }
}

fn simulation(guarantee: Guarantee) -> SimulationBuilder {
    Simulation::builder(TRAFFIC.application(PARTITIONS))
        .name("ads-billing-streams")
        .faults(faults())
        .guarantee(guarantee)
        .seeds(0..16)
}

/// Committed records of `topic`, unpacked.
fn committed(outcome: &RunOutcome, topic: &str) -> Vec<StreamRecord> {
    outcome
        .history
        .final_logs
        .iter()
        .filter(|log| *log.topic == *topic)
        .flat_map(|log| &log.records)
        .filter(|r| r.status.is_committed())
        .map(|r| unpack(r.value))
        .collect()
}

/// Every bill is for a billable click at its ad's price, no click is billed twice and no ad
/// reported twice; returns how many bills there were.
fn assert_billed_at_most_once(outcome: &RunOutcome) -> usize {
    // The loader's input, generated again from the seed's own stream.
    let mut rng = eosim::sim::rng::stream(outcome.seed, "streams-input");
    let billable = AdsTraffic::billable(&TRAFFIC.inputs(&mut rng));
    let bills = committed(outcome, BILLING);
    for bill in &bills {
        assert!(
            billable.contains(&(bill.key, bill.value)),
            "seed {}: bill {bill} is for no billable click",
            outcome.seed
        );
    }
    let mut clicks = BTreeMap::new();
    for bill in &bills {
        *clicks.entry(bill.value % BILL_SCALE).or_insert(0) += 1;
    }
    let twice: Vec<_> = clicks.iter().filter(|&(_, &n)| n > 1).collect();
    assert!(
        twice.is_empty(),
        "seed {}: billed twice: {twice:?}",
        outcome.seed
    );
    let frauds = committed(outcome, FRAUD);
    let ads: BTreeSet<u16> = frauds.iter().map(|r| r.key).collect();
    assert_eq!(
        ads.len(),
        frauds.len(),
        "seed {}: an ad reported twice",
        outcome.seed
    );
    bills.len()
}

#[test]
fn exactly_once_bills_every_click_at_most_once_through_crashes_and_zombies() {
    for guarantee in [Guarantee::ExactlyOnce, Guarantee::ExactlyOnceV2] {
        let results = simulation(guarantee).run().expect("a valid simulation");
        results.assert_all_passed();
        let bills: usize = results
            .outcomes
            .iter()
            .map(assert_billed_at_most_once)
            .sum();
        assert!(bills > 0, "{guarantee}: nothing was billed");
        // The faults reached the instances: some seed expired a paused member's session,
        // and some fenced a zombie.
        let fired =
            |point: CoveragePoint| results.outcomes.iter().any(|o| o.coverage.count(point) > 0);
        assert!(
            fired(CoveragePoint::SessionExpired),
            "{guarantee}: no session expired"
        );
        assert!(
            fired(CoveragePoint::ZombieCommitRefused) || fired(CoveragePoint::ProducerFenced),
            "{guarantee}: no zombie was fenced"
        );
    }
}

#[test]
fn at_least_once_bills_twice_and_is_caught() {
    let results = simulation(Guarantee::AtLeastOnce)
        .run()
        .expect("a valid simulation");
    let kinds = results.kinds();
    assert!(
        kinds.contains(&AnomalyKind::Duplicate) || kinds.contains(&AnomalyKind::DuplicateEffect),
        "{kinds:?}"
    );
    // The aggregate verifier, derived from the topology, caught the counts too.
    assert!(
        kinds.contains(&AnomalyKind::OutputCountMismatch),
        "{kinds:?}"
    );
    let failed = results.failures().next().expect("a failing seed");
    let explained = eosim::scenarios::builder::explain(failed);
    assert!(explained.contains("duplicate"), "{explained}");
    // Replaying the seed gives the same run.
    let again = simulation(Guarantee::AtLeastOnce)
        .build()
        .expect("a valid simulation")
        .run_seed(failed.seed);
    assert_eq!(again.trace.hash, failed.trace.hash);
}
