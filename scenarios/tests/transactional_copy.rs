//! The transactional copy end to end: exactly-once survives instance and broker crashes on
//! every seed of a sweep; the DIY at-least-once loop duplicates on some seed.

use checker::{AnomalyKind, RecordStatus};
use model::Guarantee;
use scenarios::{RunOptions, run};

fn sweep(guarantee: Guarantee, seeds: std::ops::Range<u64>) -> Vec<scenarios::RunOutcome> {
    let scenario = scenarios::load("transactional-copy").unwrap();
    seeds
        .map(|seed| {
            run(
                &scenario,
                &RunOptions {
                    seed,
                    guarantee: Some(guarantee),
                    ..Default::default()
                },
            )
        })
        .collect()
}

#[test]
fn exactly_once_copies_every_value_once_through_crashes() {
    for outcome in sweep(Guarantee::ExactlyOnce, 0..24) {
        assert!(
            outcome.passed(),
            "seed {}: {:?} {:?}",
            outcome.seed,
            outcome.anomalies,
            outcome.panic
        );
        let crashes = outcome
            .plan
            .0
            .iter()
            .filter(|f| matches!(&f.action, sim::FaultAction::Crash(sim::fault::Crash { node }) if node.starts_with("copier")))
            .count();
        let output: Vec<_> = outcome
            .history
            .final_logs
            .iter()
            .filter(|l| &*l.topic == "output")
            .flat_map(|l| &l.records)
            .filter(|r| r.status == RecordStatus::Committed)
            .collect();
        assert_eq!(
            output.len(),
            150,
            "seed {} ({crashes} copier crashes)",
            outcome.seed
        );
        let committed: u64 = outcome
            .history
            .committed_offsets
            .iter()
            .map(|c| c.offset)
            .sum();
        assert_eq!(committed, 150, "every input offset committed");
    }
}

#[test]
fn at_least_once_duplicates_after_an_instance_crash_on_some_seed() {
    let outcomes = sweep(Guarantee::AtLeastOnce, 0..24);
    assert!(
        outcomes
            .iter()
            .any(|o| o.kinds().contains(&AnomalyKind::Duplicate)),
        "no seed duplicated"
    );
    for o in &outcomes {
        assert!(o.panic.is_none(), "seed {}: {:?}", o.seed, o.panic);
    }
}
