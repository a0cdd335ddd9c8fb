//! Shrinking a failing run: the fewest, weakest, earliest faults and the smallest workload
//! that still fail the same way, confirmed by replaying the result twice.
//!
//! The fault plan is minimised first (`sim::shrink::minimise`: deletion, weakening, moving
//! earlier), then the workload is halved one size knob at a time under the minimal plan,
//! within what is left of the run budget. The caller says what "the same way" is
//! (`still_fails`, usually [`shows`] of the [`target_kind`]); `eosim shrink` is a thin
//! wrapper that reports progress and writes [`ShrinkResult::scenario_toml`].

use std::sync::atomic::{AtomicBool, Ordering};

use checker::AnomalyKind;
use sim::FaultPlan;

use crate::{RunOptions, RunOutcome, Scenario};

/// The run budget `eosim shrink` uses unless told otherwise.
pub const DEFAULT_MAX_RUNS: u32 = 400;

/// How to shrink, and the failing run's settings.
#[derive(Clone, Copy)]
pub struct ShrinkOptions<'a> {
    /// The failing run: seed, guarantee and variants. Its `plan_override` and `record_trace`
    /// are ignored: every candidate brings its own plan and records no trace.
    pub run: &'a RunOptions,
    /// Budget of candidate runs (the two confirming replays are not counted).
    pub max_runs: u32,
    /// Once set (Ctrl-C), candidates are refused unrun and the smallest result so far is
    /// confirmed and returned, marked `stopped`.
    pub stop: Option<&'a AtomicBool>,
    /// Hears what each candidate tries ("3 faults", "1 producers x 1 values"), for a spinner.
    pub progress: Option<&'a dyn Fn(&str)>,
}

impl<'a> ShrinkOptions<'a> {
    /// Shrinks the run made with `run`, within [`DEFAULT_MAX_RUNS`], unstoppable and silent.
    pub fn new(run: &'a RunOptions) -> Self {
        Self {
            run,
            max_runs: DEFAULT_MAX_RUNS,
            stop: None,
            progress: None,
        }
    }
}

/// Why a run cannot be shrunk, or why its shrunk form cannot be trusted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShrinkError {
    /// Every property held: there is nothing to keep failing.
    #[error("does not fail with an anomaly: every property held")]
    Passed,
    /// The run panicked; shrinking keeps an anomaly kind, and a panic has none.
    #[error("does not fail with an anomaly: it panicked (shrinking panics is not supported yet)")]
    Panicked,
    /// The anomaly kind asked for is not among the run's findings.
    #[error("does not show `{0}`")]
    KindNotShown(AnomalyKind),
    /// The run fails, but not in the way `still_fails` asks for.
    #[error("does not fail the way the shrink predicate asks")]
    NotFailingAsAsked,
    /// The shrunk run gave different traces or findings in two replays: the simulation is
    /// not deterministic, so the result would not reproduce.
    #[error("the minimal plan did not replay the same way twice; this is a determinism bug")]
    NotReplayed,
}

/// The anomaly kind a shrink keeps: `wanted` if the run shows it, else the run's first
/// finding's kind. Refuses a run that passed or panicked.
pub fn target_kind(
    original: &RunOutcome,
    wanted: Option<AnomalyKind>,
) -> Result<AnomalyKind, ShrinkError> {
    if let Some(kind) = wanted.filter(|k| !original.kinds().contains(k)) {
        return Err(ShrinkError::KindNotShown(kind));
    }
    match wanted.or(original.anomalies.first().map(|a| a.kind())) {
        Some(kind) => Ok(kind),
        None if original.panic.is_some() => Err(ShrinkError::Panicked),
        None => Err(ShrinkError::Passed),
    }
}

/// The usual `still_fails`: the run shows an anomaly of `kind` (among any others).
pub fn shows(kind: AnomalyKind) -> impl Fn(&RunOutcome) -> bool {
    move |outcome| outcome.kinds().contains(&kind)
}

/// A shrunk failing run.
#[derive(Debug)]
pub struct ShrinkResult {
    /// The scenario with the smallest workload found (still with its own fault settings:
    /// [`ShrinkResult::scenario_toml`] puts the plan in).
    pub scenario: Scenario,
    /// The minimal fault plan.
    pub plan: FaultPlan,
    /// Candidate runs made, within the budget.
    pub runs: u32,
    /// The shrunk run (`scenario` under `plan`), replayed twice with the same trace and
    /// findings.
    pub outcome: RunOutcome,
    /// `ShrinkOptions::stop` cut the shrinking short.
    pub stopped: bool,
}

/// Shrinks `original`, a failing run of `scenario` made with `options.run`, while
/// `still_fails` holds of the candidate runs; confirms the result by replaying it twice.
pub fn shrink(
    scenario: &Scenario,
    original: &RunOutcome,
    options: &ShrinkOptions<'_>,
    mut still_fails: impl FnMut(&RunOutcome) -> bool,
) -> Result<ShrinkResult, ShrinkError> {
    if original.anomalies.is_empty() {
        return Err(target_kind(original, None).expect_err("a run without findings has no target"));
    }
    if !still_fails(original) {
        return Err(ShrinkError::NotFailingAsAsked);
    }
    let minimal = minimise_plan(scenario, original, options, &mut still_fails);
    let (smallest, runs) = smallest_workload(
        scenario,
        &minimal.plan,
        minimal.runs,
        options,
        &mut still_fails,
    );
    let outcome = replay_twice(&smallest, &minimal.plan, options.run, &mut still_fails)?;
    Ok(ShrinkResult {
        scenario: smallest,
        plan: minimal.plan,
        runs,
        outcome,
        stopped: stopped(options),
    })
}

fn stopped(options: &ShrinkOptions<'_>) -> bool {
    options.stop.is_some_and(|s| s.load(Ordering::Relaxed))
}

fn report_progress(options: &ShrinkOptions<'_>, what: &str) {
    if let Some(progress) = options.progress {
        progress(what);
    }
}

/// One run of `scenario` under `plan`, otherwise as the failing run.
fn run_with_plan(scenario: &Scenario, plan: &FaultPlan, run: &RunOptions) -> RunOutcome {
    let options = RunOptions {
        record_trace: false,
        plan_override: Some(plan.clone()),
        ..run.clone()
    };
    crate::run(scenario, &options)
}

/// The fewest, weakest, earliest faults of the original plan that still fail.
fn minimise_plan(
    scenario: &Scenario,
    original: &RunOutcome,
    options: &ShrinkOptions<'_>,
    still_fails: &mut impl FnMut(&RunOutcome) -> bool,
) -> sim::shrink::Shrunk {
    let (faultable, all) = (scenario.crash_targets(), scenario.node_names());
    sim::shrink::minimise(
        &original.plan,
        sim::PlanNodes {
            faultable: &faultable,
            all: &all,
        },
        scenario.faults.phase_ms,
        options.max_runs,
        |plan| {
            // After a stop every candidate is refused unrun: the minimiser ends with the
            // smallest plan that failed so far.
            if stopped(options) {
                return false;
            }
            let outcome = run_with_plan(scenario, plan, options.run);
            report_progress(options, &format!("{} faults", plan.0.len()));
            still_fails(&outcome)
        },
    )
}

/// Halves one workload size knob at a time while the plan still fails, within what is left of
/// the budget (`runs` made so far). Returns the smallest scenario and the runs made in all.
fn smallest_workload(
    scenario: &Scenario,
    plan: &FaultPlan,
    mut runs: u32,
    options: &ShrinkOptions<'_>,
    still_fails: &mut impl FnMut(&RunOutcome) -> bool,
) -> (Scenario, u32) {
    let mut smallest = scenario.clone();
    'smaller: while runs < options.max_runs && !stopped(options) {
        for candidate in smallest.smaller_workloads(plan) {
            if runs >= options.max_runs || stopped(options) {
                break 'smaller;
            }
            runs += 1;
            report_progress(options, &candidate.workload_size());
            if still_fails(&run_with_plan(&candidate, plan, options.run)) {
                smallest = candidate;
                continue 'smaller;
            }
        }
        break;
    }
    (smallest, runs)
}

/// Runs the shrunk scenario twice: it must still fail, with the same trace and findings.
fn replay_twice(
    scenario: &Scenario,
    plan: &FaultPlan,
    run: &RunOptions,
    still_fails: &mut impl FnMut(&RunOutcome) -> bool,
) -> Result<RunOutcome, ShrinkError> {
    let first = run_with_plan(scenario, plan, run);
    let second = run_with_plan(scenario, plan, run);
    let same = first.trace.hash == second.trace.hash && first.anomalies == second.anomalies;
    if still_fails(&first) && same {
        Ok(first)
    } else {
        Err(ShrinkError::NotReplayed)
    }
}

impl ShrinkResult {
    /// The shrunk run as a scenario file: the smallest workload, the minimal plan as explicit
    /// faults (no random mix), the seed, guarantee and variants it ran with, and an `[expect]`
    /// entry listing every kind it shows (a regression test of exactly this outcome). Named
    /// and described after the original and `target`, the kind it was shrunk for.
    pub fn scenario_toml(&self, target: AnomalyKind) -> Result<String, toml::ser::Error> {
        let outcome = &self.outcome;
        let seed = outcome.seed;
        let mut doc = toml::Value::try_from(&self.scenario)?;
        let table = doc.as_table_mut().expect("a scenario is a table");
        let name = format!("{}-seed{seed}-{target}", self.scenario.name);
        let description = format!(
            "{} (shrunk from seed {seed}: shows {target})",
            self.scenario.description
        );
        table.insert("name".into(), toml::Value::String(name));
        table.insert("description".into(), toml::Value::String(description));
        table.insert(
            "guarantee".into(),
            toml::Value::String(outcome.guarantee.to_string()),
        );
        table.insert("seed".into(), toml::Value::Integer(seed as i64));
        table.insert("variants".into(), strings(outcome.variants.names()));
        let faults = table
            .get_mut("faults")
            .and_then(toml::Value::as_table_mut)
            .expect("scenarios have [faults]");
        faults.remove("mix");
        faults.insert("plan".into(), toml::Value::try_from(&outcome.plan)?);
        table.insert("expect".into(), self.expect_table());
        toml::to_string(&doc)
    }

    /// `[expect]` with the shrunk run's key and every kind it shows.
    fn expect_table(&self) -> toml::Value {
        let key = crate::RunKey {
            guarantee: self.outcome.guarantee,
            variants: self.outcome.variants.0.clone(),
        };
        let mut entry = toml::map::Map::new();
        entry.insert("anomalies".into(), strings(self.outcome.kinds()));
        let mut expect = toml::map::Map::new();
        expect.insert(key.to_string(), toml::Value::Table(entry));
        toml::Value::Table(expect)
    }
}

fn strings<T: ToString>(items: impl IntoIterator<Item = T>) -> toml::Value {
    toml::Value::Array(
        items
            .into_iter()
            .map(|item| toml::Value::String(item.to_string()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Variant;

    fn produce_retries() -> Scenario {
        crate::load("produce-retries").expect("a built-in scenario")
    }

    /// Seed 0 of produce-retries: duplicates without broker deduplication, none with it.
    fn no_dedup_seed_0() -> RunOptions {
        RunOptions {
            seed: 0,
            variants: vec![Variant::NoDedup],
            ..RunOptions::default()
        }
    }

    fn options(run: &RunOptions, max_runs: u32) -> ShrinkOptions<'_> {
        ShrinkOptions {
            max_runs,
            ..ShrinkOptions::new(run)
        }
    }

    #[test]
    fn a_failing_run_shrinks_to_fewer_faults_and_a_smaller_workload_that_fail_the_same_way() {
        let scenario = produce_retries();
        let run = no_dedup_seed_0();
        let original = crate::run(&scenario, &run);
        let target = target_kind(&original, None).expect("seed 0 fails under no-dedup");
        assert_eq!(target, AnomalyKind::Duplicate);

        let shrunk = shrink(&scenario, &original, &options(&run, 120), shows(target)).unwrap();

        assert!(
            !shrunk.plan.0.is_empty() && shrunk.plan.0.len() < original.plan.0.len(),
            "{} -> {} faults",
            original.plan.0.len(),
            shrunk.plan.0.len()
        );
        assert!(shrunk.runs <= 120 && !shrunk.stopped);
        assert_eq!(shrunk.outcome.plan, shrunk.plan);
        assert!(shrunk.outcome.kinds().contains(&AnomalyKind::Duplicate));
        // One value from one producer is enough for a duplicate.
        assert_eq!(scenario.workload_size(), "3 producers x 100 values");
        assert_eq!(shrunk.scenario.workload_size(), "1 producers x 1 values");
    }

    #[test]
    fn the_shrunk_scenario_file_replays_the_shrunk_run() {
        let scenario = produce_retries();
        let run = no_dedup_seed_0();
        let original = crate::run(&scenario, &run);
        let shrunk = shrink(
            &scenario,
            &original,
            &options(&run, 30),
            shows(AnomalyKind::Duplicate),
        )
        .unwrap();

        let text = shrunk.scenario_toml(AnomalyKind::Duplicate).unwrap();
        let file = Scenario::parse(&text, "shrunk.toml").expect("the file parses");

        assert_eq!(file.name, "produce-retries-seed0-duplicate");
        assert!(file.faults.mix.is_none());
        assert_eq!(file.explicit_plan(), shrunk.plan.0);
        assert_eq!(file.expect.len(), 1, "{text}");
        let again = crate::run(
            &file,
            &RunOptions {
                seed: file.seed.expect("the file records its seed"),
                ..RunOptions::default()
            },
        );
        assert_eq!(again.trace.hash, shrunk.outcome.trace.hash);
        assert_eq!(again.anomalies, shrunk.outcome.anomalies);
    }

    #[test]
    fn a_passing_run_is_refused() {
        let scenario = produce_retries();
        let run = RunOptions::default();
        let passing = crate::run(&scenario, &run);
        assert!(passing.passed(), "seed 0 passes with deduplication");

        assert_eq!(target_kind(&passing, None), Err(ShrinkError::Passed));
        let refused = shrink(&scenario, &passing, &options(&run, 10), |_| true).unwrap_err();
        assert_eq!(refused, ShrinkError::Passed);
        assert_eq!(
            refused.to_string(),
            "does not fail with an anomaly: every property held"
        );
    }

    #[test]
    fn a_kind_the_run_does_not_show_or_a_predicate_it_fails_is_refused() {
        let scenario = produce_retries();
        let run = no_dedup_seed_0();
        let original = crate::run(&scenario, &run);

        assert_eq!(
            target_kind(&original, Some(AnomalyKind::AbortedRead)),
            Err(ShrinkError::KindNotShown(AnomalyKind::AbortedRead))
        );
        let refused = shrink(
            &scenario,
            &original,
            &options(&run, 10),
            shows(AnomalyKind::AbortedRead),
        );
        assert_eq!(refused.unwrap_err(), ShrinkError::NotFailingAsAsked);
    }

    #[test]
    fn a_stop_refuses_every_candidate_and_confirms_the_original_plan() {
        let scenario = produce_retries();
        let run = no_dedup_seed_0();
        let original = crate::run(&scenario, &run);
        let stop = AtomicBool::new(true);
        let tried = std::cell::Cell::new(0);
        let progress = |_: &str| tried.set(tried.get() + 1);
        let options = ShrinkOptions {
            stop: Some(&stop),
            progress: Some(&progress),
            ..options(&run, 50)
        };

        let shrunk = shrink(
            &scenario,
            &original,
            &options,
            shows(AnomalyKind::Duplicate),
        )
        .unwrap();

        assert!(shrunk.stopped);
        assert_eq!(tried.get(), 0, "no candidate ran");
        assert_eq!(shrunk.plan, original.plan);
        assert_eq!(shrunk.scenario, scenario);
        assert_eq!(shrunk.outcome.trace.hash, original.trace.hash);
    }
}
