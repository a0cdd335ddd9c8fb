//! Why a run did not converge: a workload too large for `faults.heal_deadline_ms` (still
//! making progress when the deadline passed) or a system that stopped making progress (a
//! liveness failure). Read from the history after the run; it changes nothing in the run.

use checker::history::Op;
use checker::{History, Phase};
use serde::Serialize;

use crate::app::Progress;
use crate::spec::Scenario;

/// What a not-converged run had done by its heal deadline. Part of `RunStats` (JSON
/// `stats.not_converged`), absent for runs that converged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NotConvergedStats {
    /// Virtual time the heal deadline passed: `faults.phase_ms + faults.heal_deadline_ms`.
    pub deadline_ms: u64,
    /// What `work_done` and `work_expected` count, e.g. "values sent".
    pub work_unit: String,
    /// Units of work finished by the deadline.
    pub work_done: u64,
    /// Units of work the workload has in all.
    pub work_expected: u64,
    /// Virtual time of the last unit finished by the deadline, ms.
    pub last_progress_ms: Option<u64>,
    /// The workload outlasts the deadline: it was still making progress when the deadline
    /// passed (or its own pacing needs longer), so `not-converged` says the deadline is too
    /// short for it rather than that the system stopped.
    pub workload_outlasts_deadline: bool,
    /// One sentence for people.
    pub explanation: String,
}

/// A run that made no progress for this long before its deadline (and at least this fraction
/// of the heal deadline) stopped; one that did was still working.
const STALL_MS: u64 = 2_000;
const STALL_FRACTION_OF_HEAL: u64 = 10;

/// How far a not-converged run got. `history` is the whole run's.
pub fn not_converged(scenario: &Scenario, history: &History) -> NotConvergedStats {
    let deadline_ms = scenario.faults.phase_ms + scenario.faults.heal_deadline_ms;
    let deadline_ns = deadline_ms * 1_000_000;
    let done_ops: Vec<&Op> = history
        .ops
        .iter()
        .filter(|op| op.phase != Phase::Invoke && op.time_ns <= deadline_ns)
        .collect();
    let Progress {
        unit,
        done,
        expected,
        paced_ms,
        last_ns,
    } = scenario.app.app().progress(&done_ops);
    let last_progress_ms = last_ns.map(|ns| ns / 1_000_000);
    let stall = STALL_MS.max(scenario.faults.heal_deadline_ms / STALL_FRACTION_OF_HEAL);
    let progressing = last_progress_ms.is_some_and(|last| last + stall >= deadline_ms);
    let outlasts = done < expected && (progressing || paced_ms > deadline_ms);
    let explanation = explain(
        &Progress {
            unit,
            done,
            expected,
            paced_ms,
            last_ns,
        },
        deadline_ms,
        outlasts,
    );
    NotConvergedStats {
        deadline_ms,
        work_unit: unit.to_string(),
        work_done: done,
        work_expected: expected,
        last_progress_ms,
        workload_outlasts_deadline: outlasts,
        explanation,
    }
}

/// One sentence on a not-converged run's progress.
fn explain(progress: &Progress, deadline_ms: u64, outlasts: bool) -> String {
    let Progress {
        unit,
        done,
        expected,
        paced_ms,
        last_ns,
    } = *progress;
    let last_progress_ms = last_ns.map(|ns| ns / 1_000_000);
    if done >= expected {
        format!(
            "all {expected} {unit} were done by the deadline at {deadline_ms} ms, yet the run \
             did not finish (its completion condition — offsets committed, transactions \
             decided, every instance done — never held): a liveness failure, not a workload \
             too large for faults.heal_deadline_ms"
        )
    } else if outlasts {
        let pace = if paced_ms > deadline_ms {
            format!("; its own pacing needs at least {paced_ms} ms")
        } else {
            match last_progress_ms {
                Some(last) if done > 0 && last > 0 => {
                    format!(
                        "; at the rate so far it needs about {} ms",
                        (u128::from(last) * u128::from(expected) / u128::from(done)) as u64
                    )
                }
                _ => String::new(),
            }
        };
        format!(
            "the workload outlasts faults.heal_deadline_ms: {done} of {expected} {unit} by \
             the deadline at {deadline_ms} ms, still progressing{}{pace}; raise \
             faults.heal_deadline_ms or shrink the workload (this is not a liveness failure)",
            last_progress_ms.map_or(String::new(), |l| format!(" (the last at {l} ms)"))
        )
    } else {
        let last = match last_progress_ms {
            Some(l) => format!(
                "the last at {l} ms, nothing in the {} ms before the deadline",
                deadline_ms - l
            ),
            None => "none at all".to_string(),
        };
        format!(
            "the run stopped making progress: {done} of {expected} {unit} by the deadline at \
             {deadline_ms} ms ({last}): a liveness failure, not a workload too large for \
             faults.heal_deadline_ms"
        )
    }
}
