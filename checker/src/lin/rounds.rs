//! P-compositionality: the partitions' searches, interleaved in rounds and stopped at the
//! first partition proven not linearizable, with a report that depends on neither the thread
//! count nor timing.
//!
//! Before any search, each partition gets a cheap look ([`Model::impossible`]): the first
//! partition (in partition order) with an operation no ordering can make legal is the
//! verdict, and nothing is searched. Otherwise every unfinished partition gets the same step
//! budget per round, doubling per round, in partition order. A round ends at the first
//! partition (lowest index) shown not linearizable: the partitions after it are not searched
//! in that round (with several threads, those already running are cancelled), and the check
//! ends. Which partition that is follows from step counts alone, never from time: the
//! partitions before it searched the whole round on any thread count, and those after it are
//! reported with their counts from before the round.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::counterexample::{self, Counterexample, PartitionReport};
use super::models::{Impossible, Model, Operation, Partition};
use super::search::{MemoryBudget, Search, SearchOutcome, SearchVerdict};

pub(crate) type PartitionResult = (PartitionReport, Option<Counterexample>);

/// What stops a search besides its verdict.
#[derive(Clone, Copy)]
pub(crate) struct Limits<'a> {
    pub deadline: Option<Instant>,
    pub memory: Option<&'a MemoryBudget>,
}

/// Search steps every unfinished partition gets in the first round; each round doubles it.
/// Small, so that a violation a short search shows ends the check after a few short rounds,
/// however long the innocent partitions' searches would take; a round costs little more than
/// its steps (a round's partitions resume where they paused).
const FIRST_ROUND_STEPS: u64 = 1 << 10;

/// No partition proven illegal (yet) in this round.
const NO_VIOLATION: usize = usize::MAX;

type Members<'o, M> = Vec<Vec<&'o Operation<<M as Model>::Input, <M as Model>::Output>>>;

/// Checks every partition; one result per partition, in partition order.
pub(crate) fn check_partitions<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    partitions: &[Partition],
    limits: Limits<'_>,
    threads: usize,
) -> Vec<PartitionResult> {
    let members: Members<'_, M> = partitions
        .iter()
        .map(|partition| {
            partition
                .operations
                .iter()
                .map(|&index| &operations[index])
                .collect()
        })
        .collect();
    if let Some(results) = reject_before_search(model, partitions, &members) {
        return results;
    }
    let mut searches: Vec<Search<'_, M>> = members
        .iter()
        .map(|members| Search::new(model, members))
        .collect();
    let standings = run_rounds(&mut searches, limits, threads);
    searches
        .iter()
        .zip(partitions)
        .zip(&members)
        .zip(standings)
        .map(|(((search, partition), members), standing)| {
            let label = &partition.label;
            match standing {
                Standing::Finished => {
                    counterexample::partition_report(model, label, members, &search.outcome())
                }
                Standing::Unfinished(before) => {
                    let outcome = before.unwrap_or_else(|| search.outcome());
                    let (mut report, _) =
                        counterexample::partition_report(model, label, members, &outcome);
                    report.verdict = None;
                    report.exhausted = None;
                    (report, None)
                }
            }
        })
        .collect()
}

/// The cheap look before any search: the first partition with an operation that is never
/// legal is not linearizable, and no partition is searched.
fn reject_before_search<M: Model>(
    model: &M,
    partitions: &[Partition],
    members: &Members<'_, M>,
) -> Option<Vec<PartitionResult>> {
    let (rejected, impossible) = members
        .iter()
        .enumerate()
        .find_map(|(index, members)| Some((index, model.impossible(members)?)))?;
    let not_searched = SearchOutcome {
        verdict: SearchVerdict::Unknown,
        search_steps: 0,
        model_steps: 0,
        distinct_states: 0,
        failure: None,
    };
    let results = partitions
        .iter()
        .zip(members)
        .enumerate()
        .map(|(index, (partition, members))| {
            let label = &partition.label;
            let (mut report, _) =
                counterexample::partition_report(model, label, members, &not_searched);
            report.exhausted = None;
            if index != rejected {
                report.verdict = None;
                return (report, None);
            }
            report.verdict = Some(super::Verdict::NotLinearizable);
            let Impossible { operation, reason } = &impossible;
            let rejection = counterexample::rejection(model, label, members, *operation, reason);
            (report, Some(rejection))
        })
        .collect();
    Some(results)
}

/// Where a partition's search stands after the rounds.
enum Standing<S> {
    Finished,
    /// Not searched to the end; reported with these counts if given (its counts from before
    /// the last round, which a partition before it ended), else with the search's own.
    Unfinished(Option<SearchOutcome<S>>),
}

/// Runs rounds until every search finished or one is shown not linearizable.
fn run_rounds<M: Model>(
    searches: &mut [Search<'_, M>],
    limits: Limits<'_>,
    threads: usize,
) -> Vec<Standing<M::State>> {
    let mut standings: Vec<Standing<M::State>> = searches
        .iter()
        .map(|_| Standing::Unfinished(None))
        .collect();
    let mut step_limit = FIRST_ROUND_STEPS;
    loop {
        let mut before = Vec::new();
        let unfinished: Vec<(usize, &mut Search<'_, M>)> = searches
            .iter_mut()
            .enumerate()
            .filter(|(index, _)| matches!(standings[*index], Standing::Unfinished(_)))
            .inspect(|(index, search)| before.push((*index, search.outcome())))
            .collect();
        if unfinished.is_empty() {
            return standings;
        }
        let (verdicts, violation) = run_round(unfinished, step_limit, limits, threads);
        for (index, verdict) in verdicts {
            if (index < violation && verdict.is_some()) || index == violation {
                standings[index] = Standing::Finished;
            }
        }
        if violation != NO_VIOLATION {
            for (index, outcome) in before.into_iter().filter(|(i, _)| *i > violation) {
                standings[index] = Standing::Unfinished(Some(outcome));
            }
            return standings;
        }
        step_limit = step_limit.saturating_mul(2);
    }
}

/// Resumes one search up to `step_limit`, unless `cancelled`. If it pauses while the searches
/// together hold more than half the memory budget, its tables are dropped: it starts again
/// next round.
fn resume_within<M: Model>(
    search: &mut Search<'_, M>,
    step_limit: u64,
    limits: Limits<'_>,
    cancelled: &dyn Fn() -> bool,
) -> Option<SearchVerdict> {
    let verdict = search.resume_unless(step_limit, limits.deadline, limits.memory, cancelled);
    if verdict.is_none()
        && let Some(budget) = limits.memory
        && budget.used() > budget.limit() / 2
    {
        search.restart(Some(budget));
    }
    verdict
}

/// One round: resumes each search, in partition order, up to `step_limit`, until one is shown
/// not linearizable. Returns (partition index, verdict if finished) of the searches that ran
/// (by index; on several threads, some after the violation may have run too: the caller
/// ignores them) and the index of the first violation, or `NO_VIOLATION`.
fn run_round<M: Model>(
    mut searches: Vec<(usize, &mut Search<'_, M>)>,
    step_limit: u64,
    limits: Limits<'_>,
    threads: usize,
) -> (Vec<(usize, Option<SearchVerdict>)>, usize) {
    let workers = threads.clamp(1, searches.len().max(1));
    if workers == 1 {
        let mut verdicts = Vec::with_capacity(searches.len());
        for (index, search) in &mut searches {
            let verdict = resume_within(search, step_limit, limits, &|| false);
            verdicts.push((*index, verdict));
            if verdict == Some(SearchVerdict::NotLinearizable) {
                return (verdicts, *index);
            }
        }
        return (verdicts, NO_VIOLATION);
    }
    let violation = AtomicUsize::new(NO_VIOLATION);
    let queue = Mutex::new(searches.into_iter());
    let mut verdicts: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| scope.spawn(|| work_through(&queue, &violation, step_limit, limits)))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    verdicts.sort_by_key(|(index, _)| *index);
    (verdicts, violation.into_inner())
}

/// One worker of a round: takes the next search from the queue (in partition order) and
/// resumes it, skipping or cancelling any after the first violation found so far.
fn work_through<'s, 'm, M: Model>(
    queue: &Mutex<std::vec::IntoIter<(usize, &'s mut Search<'m, M>)>>,
    violation: &AtomicUsize,
    step_limit: u64,
    limits: Limits<'_>,
) -> Vec<(usize, Option<SearchVerdict>)> {
    let mut done = Vec::new();
    loop {
        let next = queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .next();
        let Some((index, search)) = next else {
            return done;
        };
        let after_violation = || violation.load(Ordering::Relaxed) < index;
        if after_violation() {
            continue;
        }
        let verdict = resume_within(search, step_limit, limits, &after_violation);
        if verdict == Some(SearchVerdict::NotLinearizable) {
            violation.fetch_min(index, Ordering::Relaxed);
        }
        done.push((index, verdict));
    }
}
