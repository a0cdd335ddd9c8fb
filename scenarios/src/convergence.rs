//! Why a run did not converge: a workload too large for `faults.heal_deadline_ms` (still
//! making progress when the deadline passed) or a system that stopped making progress (a
//! liveness failure). Read from the history after the run; it changes nothing in the run.

use std::collections::BTreeSet;

use checker::history::{Op, TxnStep};
use checker::{History, Operation, Phase};
use serde::Serialize;

use crate::spec::{Application, Scenario};

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

/// The steps of the transactions among `ops` that completed (`Ok`), each with its
/// transaction's time.
fn committed_steps<'a>(
    ops: impl Iterator<Item = &'a Op>,
) -> impl Iterator<Item = (u64, &'a TxnStep)> {
    ops.filter(|op| op.phase == Phase::Ok).flat_map(|op| {
        match &op.op {
            Operation::Txn { steps, .. } => steps.as_slice(),
            _ => &[],
        }
        .iter()
        .map(move |step| (op.time_ns, step))
    })
}

/// How far a not-converged run got. `history` is the whole run's.
pub fn not_converged(scenario: &Scenario, history: &History) -> NotConvergedStats {
    let deadline_ms = scenario.faults.phase_ms + scenario.faults.heal_deadline_ms;
    let deadline_ns = deadline_ms * 1_000_000;
    let client = |process: u64| process / checker::history::PROCESSES_PER_CLIENT;
    let done_ops = history
        .ops
        .iter()
        .filter(|op| op.phase != Phase::Invoke && op.time_ns <= deadline_ns);
    let mut last_ns = None;
    let mut note = |t: u64| last_ns = Some(last_ns.map_or(t, |l: u64| l.max(t)));
    let (unit, done, expected, paced_ms) = match scenario.application {
        Application::Produce => {
            let w = &scenario.workload;
            let mut done = 0;
            for op in done_ops {
                if matches!(op.op, Operation::Send { .. }) && client(op.process) != 0 {
                    done += 1;
                    note(op.time_ns);
                }
            }
            let expected = u64::from(w.producers) * u64::from(w.values_per_producer);
            let paced = u64::from(w.values_per_producer) * w.send_interval_ms;
            (
                "values sent (acknowledged, failed or unknown)",
                done,
                expected,
                paced,
            )
        }
        Application::TransactionalCopy => {
            let w = scenario.copy_workload();
            let mut copied = BTreeSet::new();
            for (time_ns, step) in committed_steps(done_ops) {
                if let TxnStep::Send {
                    topic,
                    partition,
                    value,
                    ..
                } = step
                    && **topic == *w.output_topic
                    && copied.insert((*partition, *value))
                {
                    note(time_ns);
                }
            }
            (
                "input values copied",
                copied.len() as u64,
                u64::from(w.values),
                0,
            )
        }
        Application::JepsenQueue => {
            let w = scenario.queue_workload();
            let mut done = 0;
            for op in done_ops.filter(|op| client(op.process) != 0) {
                done += 1;
                note(op.time_ns);
            }
            let expected = u64::from(w.clients) * u64::from(w.ops_per_client);
            ("client operations completed", done, expected, 0)
        }
        Application::Streams => {
            let w = scenario.streams_workload();
            let input = w.app.input_topic();
            let mut consumed = BTreeSet::new();
            for (time_ns, step) in committed_steps(done_ops) {
                if let TxnStep::Poll {
                    topic,
                    partition,
                    records,
                } = step
                    && **topic == *input
                {
                    for r in records {
                        if consumed.insert((*partition, r.offset)) {
                            note(time_ns);
                        }
                    }
                }
            }
            (
                "input records processed in committed cycles",
                consumed.len() as u64,
                u64::from(w.records),
                0,
            )
        }
    };
    let last_progress_ms = last_ns.map(|ns| ns / 1_000_000);
    let stall = STALL_MS.max(scenario.faults.heal_deadline_ms / STALL_FRACTION_OF_HEAL);
    let progressing = last_progress_ms.is_some_and(|last| last + stall >= deadline_ms);
    let outlasts = done < expected && (progressing || paced_ms > deadline_ms);
    let explanation = if done >= expected {
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
    };
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
