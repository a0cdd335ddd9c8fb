//! A generic minimiser over fault plans: the smallest, weakest, earliest plan that still
//! breaks the same property.
//!
//! Strategies, repeated until nothing changes or the run budget is spent:
//! 1. delete faults (delta debugging: halves, then quarters, … then single faults); a crash or
//!    pause whose restart or resume is deleted with it is repaired by dropping the orphan;
//! 2. weaken faults: a crash/restart pair becomes a pause/resume pair, a message count drops
//!    to 1, a hold gets shorter;
//! 3. move faults earlier (halving their time, keeping the plan's order).
//!
//! A candidate is kept only if `still_fails` says it breaks the same property; the caller
//! decides what "same" means (eosim: the same anomaly kind).

use crate::fault::{Fault, FaultPlan, PlanCheck, PlanNodes};

/// The minimised plan and how many runs it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shrunk {
    pub plan: FaultPlan,
    /// Candidate runs made (the budget caps it).
    pub runs: u32,
}

/// Minimises `plan` while `still_fails(candidate)` holds, within `max_runs` candidate runs.
/// `nodes` are the nodes the plan may name (those that may crash or pause, and every node a
/// message fault may aim at: clients too, as swarm draws them), `phase_ms` the fault phase:
/// candidates that would be invalid plans are repaired or skipped, never run.
pub fn minimise(
    plan: &FaultPlan,
    nodes: PlanNodes<'_>,
    phase_ms: u64,
    max_runs: u32,
    mut still_fails: impl FnMut(&FaultPlan) -> bool,
) -> Shrunk {
    let mut best = plan.clone();
    let mut runs = 0;
    let mut try_candidate = |candidate: FaultPlan, best: &mut FaultPlan, runs: &mut u32| -> bool {
        if *runs >= max_runs || candidate == *best {
            return false;
        }
        let candidate = repair(candidate, nodes);
        if FaultPlan::validate_faults(&candidate.0, nodes, phase_ms).is_err() || candidate == *best
        {
            return false;
        }
        *runs += 1;
        if still_fails(&candidate) {
            *best = candidate;
            true
        } else {
            false
        }
    };
    loop {
        let before = best.clone();
        delete_faults(&mut best, &mut runs, &mut try_candidate);
        weaken_faults(&mut best, &mut runs, &mut try_candidate);
        move_earlier(&mut best, &mut runs, &mut try_candidate);
        if best == before || runs >= max_runs {
            return Shrunk { plan: best, runs };
        }
    }
}

type Try<'a> = dyn FnMut(FaultPlan, &mut FaultPlan, &mut u32) -> bool + 'a;

/// Delta debugging by deletion: remove chunks of decreasing size.
fn delete_faults(best: &mut FaultPlan, runs: &mut u32, try_candidate: &mut Try<'_>) {
    let mut chunk = best.0.len().div_ceil(2).max(1);
    loop {
        let mut start = 0;
        while start < best.0.len() {
            let mut faults = best.0.clone();
            let end = (start + chunk).min(faults.len());
            faults.drain(start..end);
            if !try_candidate(FaultPlan(faults), best, runs) {
                start += chunk;
            }
        }
        if chunk == 1 {
            return;
        }
        chunk = chunk.div_ceil(2);
    }
}

/// Weaker forms of each fault.
fn weaken_faults(best: &mut FaultPlan, runs: &mut u32, try_candidate: &mut Try<'_>) {
    let mut index = 0;
    while index < best.0.len() {
        for weaker in weaker_forms(&best.0, index) {
            if try_candidate(weaker, best, runs) {
                break;
            }
        }
        index += 1;
    }
}

fn weaker_forms(faults: &[Fault], index: usize) -> Vec<FaultPlan> {
    let fault = faults[index].action.behaviour();
    fault
        .weaker(faults, index)
        .into_iter()
        .map(FaultPlan)
        .collect()
}

/// Each fault earlier: halfway to its predecessor's time.
fn move_earlier(best: &mut FaultPlan, runs: &mut u32, try_candidate: &mut Try<'_>) {
    for index in 0..best.0.len() {
        let floor = if index == 0 {
            0
        } else {
            best.0[index - 1].at_ms
        };
        let at = best.0[index].at_ms;
        if at <= floor {
            continue;
        }
        let mut faults = best.0.clone();
        faults[index].at_ms = floor + (at - floor) / 2;
        try_candidate(FaultPlan(faults), best, runs);
    }
}

/// Drops faults whose precondition no longer holds (a restart of a node that is not down, a
/// resume of one not paused), so deleting a crash also deletes its restart. The check is the
/// plan validator's own (`FaultKind::check`), so the two never disagree.
pub fn repair(plan: FaultPlan, nodes: PlanNodes<'_>) -> FaultPlan {
    let mut check = PlanCheck::new(nodes);
    let kept = plan
        .0
        .into_iter()
        .filter(|fault| fault.action.behaviour().check(&mut check).is_ok())
        .collect();
    FaultPlan(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{Crash, FaultAction, LoseAcks, MessageFilter, Pause, Restart};

    fn crash(at_ms: u64, node: &str) -> Fault {
        Fault {
            at_ms,
            action: Crash { node: node.into() }.into(),
        }
    }
    fn restart(at_ms: u64, node: &str) -> Fault {
        Fault {
            at_ms,
            action: Restart { node: node.into() }.into(),
        }
    }
    fn lose(at_ms: u64, count: u32) -> Fault {
        Fault {
            at_ms,
            action: LoseAcks {
                filter: MessageFilter::default(),
                count,
            }
            .into(),
        }
    }

    fn targets() -> PlanNodes<'static> {
        static NODES: std::sync::LazyLock<Vec<String>> =
            std::sync::LazyLock::new(|| vec!["a".into(), "b".into()]);
        PlanNodes::only(&NODES)
    }

    #[test]
    fn finds_the_one_fault_that_matters_and_weakens_and_moves_it() {
        let plan = FaultPlan(vec![
            crash(10, "a"),
            lose(20, 3),
            restart(30, "a"),
            crash(40, "b"),
            lose(50, 2),
            restart(60, "b"),
        ]);
        // "Fails" iff some lose-acks fault is present.
        let shrunk = minimise(&plan, targets(), 100, 500, |p| {
            p.0.iter()
                .any(|f| matches!(f.action, FaultAction::LoseAcks(_)))
        });
        assert_eq!(shrunk.plan.0.len(), 1);
        assert_eq!(
            shrunk.plan.0[0].action,
            LoseAcks {
                filter: MessageFilter::default(),
                count: 1
            }
            .into()
        );
        assert_eq!(shrunk.plan.0[0].at_ms, 0, "moved as early as it goes");
    }

    #[test]
    fn a_crash_that_matters_is_weakened_to_a_pause() {
        let plan = FaultPlan(vec![lose(5, 1), crash(10, "a"), restart(30, "a")]);
        // "Fails" iff node a is ever taken down (crash or pause).
        let down = |p: &FaultPlan| {
            p.0.iter().any(|f| matches!(&f.action, FaultAction::Crash(Crash { node }) | FaultAction::Pause(Pause { node }) if node == "a"))
        };
        let shrunk = minimise(&plan, targets(), 100, 500, down);
        // The healing phase resumes the node, so the resume can go too.
        assert_eq!(
            shrunk.plan.0,
            vec![Fault {
                at_ms: 0,
                action: Pause { node: "a".into() }.into()
            }]
        );
        // If it must be a crash, it stays a crash.
        let crashed = |p: &FaultPlan| {
            p.0.iter()
                .any(|f| matches!(&f.action, FaultAction::Crash(Crash { node }) if node == "a"))
        };
        let shrunk = minimise(&plan, targets(), 100, 500, crashed);
        assert_eq!(shrunk.plan.0, vec![crash(0, "a")]);
    }

    #[test]
    fn the_budget_is_respected_and_the_result_still_fails() {
        let plan = FaultPlan((0..20).map(|i| lose(i * 3, 2)).collect());
        let mut calls = 0;
        let shrunk = minimise(&plan, targets(), 100, 7, |p| {
            calls += 1;
            p.0.len() >= 3
        });
        assert!(shrunk.runs <= 7 && calls <= 7);
        assert!(shrunk.plan.0.len() >= 3);
    }

    #[test]
    fn repair_drops_orphaned_restarts() {
        let plan = FaultPlan(vec![restart(1, "a"), crash(2, "b"), restart(3, "b")]);
        assert_eq!(
            repair(plan, targets()).0,
            vec![crash(2, "b"), restart(3, "b")]
        );
    }

    /// A swarm plan aims message faults at clients, which cannot crash: the shrinker still
    /// tries (and keeps) candidates with them.
    #[test]
    fn faults_aimed_at_clients_are_shrunk_too() {
        let faultable = vec!["a".to_string()];
        let all = vec!["a".to_string(), "client-1".to_string()];
        let nodes = PlanNodes {
            faultable: &faultable,
            all: &all,
        };
        let at_client = |at_ms, count| Fault {
            at_ms,
            action: LoseAcks {
                filter: MessageFilter {
                    to: Some("client-1".into()),
                    ..MessageFilter::default()
                },
                count,
            }
            .into(),
        };
        let plan = FaultPlan(vec![crash(10, "a"), at_client(20, 3), restart(30, "a")]);
        let shrunk = minimise(&plan, nodes, 100, 500, |p| {
            p.0.iter().any(|f| f.action.is_targeted())
        });
        assert_eq!(shrunk.plan.0, vec![at_client(0, 1)]);
    }

    /// A stop is undone by a restart, as the validator says: repair keeps both.
    #[test]
    fn repair_keeps_a_stop_and_its_restart() {
        let stop = Fault {
            at_ms: 1,
            action: crate::fault::Stop {
                node: "a".into(),
                grace_ms: 10,
            }
            .into(),
        };
        let plan = FaultPlan(vec![stop.clone(), restart(2, "a")]);
        assert_eq!(repair(plan, targets()).0, vec![stop, restart(2, "a")]);
    }
}
