//! What a run reports beyond its findings: the stats a panicking run gathered before it
//! panicked, and why a run did not converge (a workload too large for the heal deadline, or a
//! system that stopped making progress).

mod common;

use common::seed;
use scenarios::run;

#[test]
fn a_panicking_run_keeps_the_stats_it_gathered() {
    // A fault phase past madsim's 3,600 s virtual-time limit (validation refuses it; built
    // directly here) makes the simulation panic after the producers have done their work.
    let mut scenario = scenarios::load("produce-retries").unwrap();
    scenario.faults.phase_ms = 3_700_000;
    scenario.faults.mix = None;
    let outcome = run(&scenario, &seed(1));
    let panic = outcome.panic.as_deref().expect("the time limit panics");
    assert!(panic.contains("time limit"), "{panic}");
    let stats = &outcome.stats;
    assert!(stats.virtual_ms >= 3_600_000, "{stats:?}");
    assert!(
        stats.messages.sent > 0 && stats.messages.delivered > 0,
        "{stats:?}"
    );
    assert_eq!(
        stats.sends, 300,
        "every value's send was recorded: {stats:?}"
    );
    assert_eq!(stats.sends_ok, 300, "{stats:?}");
    assert!(stats.history_events >= 600, "{stats:?}");
    assert_eq!(outcome.history.ops.len() as u64, stats.history_events);
}

#[test]
fn a_workload_that_outlasts_the_heal_deadline_says_so() {
    // 1,000 values 100 ms apart need 100 s; the run has 1 s + 10 s.
    let mut scenario = scenarios::load("produce-retries").unwrap();
    let scenarios::AppSpec::Produce(workload) = &mut scenario.app else {
        unreachable!("produce-retries runs the produce app")
    };
    workload.values_per_producer = 1_000;
    workload.send_interval_ms = 100;
    scenario.faults.phase_ms = 1_000;
    scenario.faults.heal_deadline_ms = 10_000;
    let outcome = run(&scenario, &seed(1));
    assert!(
        outcome
            .kinds()
            .contains(&checker::AnomalyKind::NotConverged),
        "{:?}",
        outcome.kinds()
    );
    let why = outcome
        .stats
        .not_converged
        .as_ref()
        .expect("says how far it got");
    assert!(why.workload_outlasts_deadline, "{why:?}");
    assert_eq!(
        (why.deadline_ms, why.work_expected),
        (11_000, 3_000),
        "{why:?}"
    );
    assert!(why.work_done > 0 && why.work_done < 3_000, "{why:?}");
    assert!(
        why.explanation
            .contains("the workload outlasts faults.heal_deadline_ms")
            && why.explanation.contains("needs at least 100000 ms"),
        "{}",
        why.explanation
    );
    let json = serde_json::to_value(&outcome.stats).unwrap();
    assert_eq!(json["not_converged"]["workload_outlasts_deadline"], true);
}

#[test]
fn a_run_that_stops_making_progress_is_a_liveness_failure() {
    // Every message lost: nothing is ever copied.
    let mut scenario = scenarios::load("transactional-copy").unwrap();
    scenario.network.loss = 1.0;
    scenario.faults.heal_deadline_ms = 5_000;
    let outcome = run(&scenario, &seed(1));
    let why = outcome
        .stats
        .not_converged
        .as_ref()
        .expect("did not converge");
    assert!(!why.workload_outlasts_deadline, "{why:?}");
    assert_eq!((why.work_done, why.work_expected), (0, 150), "{why:?}");
    assert!(
        why.explanation.contains("stopped making progress")
            && why.explanation.contains("liveness failure"),
        "{}",
        why.explanation
    );
}

#[test]
fn a_converged_run_reports_no_convergence_stats() {
    let outcome = run(&scenarios::load("produce-retries").unwrap(), &seed(1));
    assert!(outcome.passed());
    assert!(outcome.stats.not_converged.is_none());
    let json = serde_json::to_value(&outcome.stats).unwrap();
    assert!(json.get("not_converged").is_none(), "{json}");
}
