//! `eosim hunt`: hunts each variant asked for (`scenarios::hunt`) and turns the outcomes into
//! the report records `reports::hunt` renders.

use std::collections::BTreeSet;
use std::time::Instant;

use model::Variant;
use reports::failure::{Failure, kind_names};
use reports::{CaughtBy, HuntReport, HuntRow, ShrunkRow};
use scenarios::hunt::{Attempt, Catch, Catcher, HuntOptions, HuntOutcome, hunt};

/// Hunts `variants` in order; `on_row` hears each variant's row as it is done. Stops starting
/// variants once `options.stop` is set (the report is then marked interrupted).
pub fn hunt_report(
    variants: &[Variant],
    options: &HuntOptions,
    command: &str,
    on_row: impl FnMut(&HuntRow),
) -> Result<HuntReport, String> {
    hunt_report_with(variants, options, command, |_| {}, on_row)
}

/// [`hunt_report`], with `on_start` told each variant as its hunt begins (a progress line
/// names it: one variant's search may take its whole budget).
pub fn hunt_report_with(
    variants: &[Variant],
    options: &HuntOptions,
    command: &str,
    mut on_start: impl FnMut(Variant),
    mut on_row: impl FnMut(&HuntRow),
) -> Result<HuntReport, String> {
    let started = Instant::now();
    let mut rows = Vec::new();
    for &variant in variants {
        if options.stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        on_start(variant);
        let row = hunt_row(&hunt(variant, options)?);
        on_row(&row);
        rows.push(row);
    }
    Ok(HuntReport {
        schema: 1,
        command: command.to_string(),
        budget_s: options.budget.as_secs(),
        max_seeds: options.max_seeds,
        shrink_runs: options.shrink_runs,
        wall_s: started.elapsed().as_secs_f64(),
        interrupted: options.stop.load(std::sync::atomic::Ordering::Relaxed),
        rows,
    })
}

/// One variant's outcome as a report row.
pub fn hunt_row(outcome: &HuntOutcome) -> HuntRow {
    let catch = outcome.result.as_ref().ok();
    let shrunk = catch.and_then(|c| c.shrunk.as_ref().ok());
    HuntRow {
        variant: outcome.variant.to_string(),
        caught: catch.is_some(),
        seeds_to_first_catch: catch.map(|_| outcome.runs),
        wall_s: outcome.wall.as_secs_f64(),
        shrunk_faults: shrunk.map(|s| s.faults),
        anomaly_kinds: catch.map_or(Vec::new(), |c| {
            kind_names(c.kinds.iter().copied(), panic_failure(c.panic.is_some()))
        }),
        default_clean: (outcome.default_runs > 0).then_some(outcome.default_failures.is_empty()),
        catchers: outcome.catchers.iter().map(Catcher::label).collect(),
        runs: outcome.runs,
        caught_by: catch.map(|c| caught_by(&outcome.catchers, c)),
        shrunk: shrunk.map(|s| ShrunkRow {
            target: s.target.to_string(),
            faults: s.faults,
            workload: s.workload.clone(),
            kinds: s.kinds.iter().map(|k| k.to_string()).collect(),
            explanation: s.explanation.clone(),
            runs: s.runs,
        }),
        shrink_error: catch.and_then(|c| c.shrunk.as_ref().err().map(|e| e.to_string())),
        reason: outcome.result.as_ref().err().map(|e| e.to_string()),
        default_runs: outcome.default_runs,
        default_failures: outcome
            .default_failures
            .iter()
            .map(|f| {
                let kinds = kind_names(f.kinds.iter().copied(), panic_failure(f.panicked));
                let replay = replay(&outcome.catchers, f.attempt, Some(outcome.variant));
                format!("{replay}  ({})", kinds.join(", "))
            })
            .collect(),
    }
}

fn panic_failure(panicked: bool) -> Option<Failure> {
    panicked.then_some(Failure::Panic)
}

fn caught_by(catchers: &[Catcher], catch: &Catch) -> CaughtBy {
    let catcher = &catchers[catch.attempt.catcher];
    CaughtBy {
        scenario: catcher.scenario.clone(),
        run_key: catcher.key.to_string(),
        seed: catch.attempt.seed,
        swarm: catch.attempt.swarm,
        faults: catch.faults,
        workload: catch.workload.clone(),
        replay: replay(catchers, catch.attempt, None),
    }
}

/// The command that replays an attempt, without `without` if given.
fn replay(catchers: &[Catcher], attempt: Attempt, without: Option<Variant>) -> String {
    let catcher = &catchers[attempt.catcher];
    let variants: BTreeSet<Variant> = catcher
        .key
        .variants
        .iter()
        .copied()
        .filter(|v| Some(*v) != without)
        .collect();
    crate::replay_command(
        &catcher.scenario,
        attempt.seed,
        catcher.key.guarantee,
        &variants,
        attempt.swarm,
    )
}
