//! Hunting a protocol variant: how fast does the harness find the bug a variant switches on?
//!
//! A variant's *catchers* are the built-in scenarios' run keys that name it and expect
//! anomalies (`[expect."exactly-once+no-dedup"] anomalies = ["duplicate"]`): declared data,
//! not a hand list. [`hunt`] runs the catchers in one fixed order — seed 0, 1, 2, …, and for
//! each seed every catcher (built-in order, then run-key order) plain, then with swarm testing —
//! until the first run that fails. Runs go to worker threads as a sweep's seeds do, but results
//! are taken in that order, so which run is first to fail (and how many runs it took) does not
//! depend on the number of workers or on timing; only a run cut off by the wall-time budget
//! does. The first failing run is shrunk ([`crate::shrink`]) and every run tried is run again
//! without the variant: the default protocol must pass all of them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use checker::AnomalyKind;
use model::Variant;

use crate::shrink::{ShrinkError, ShrinkOptions, shows, target_kind};
use crate::{RunKey, RunOptions, RunOutcome, Scenario};

/// The wall-time budget of one variant's search, unless told otherwise.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(60);

/// The most seeds one variant's search tries, unless told otherwise (each seed runs every
/// catcher twice: plain and swarm).
pub const DEFAULT_MAX_SEEDS: u64 = 10_000;

/// The shrinker's run budget in a hunt (the same as `eosim shrink`'s).
pub const DEFAULT_SHRINK_RUNS: u32 = crate::shrink::DEFAULT_MAX_RUNS;

/// A built-in scenario under a run key that expects the variant to show anomalies.
#[derive(Clone, Debug)]
pub struct Catcher {
    /// The built-in scenario's name.
    pub scenario: String,
    /// The run key (guarantee and variants) whose `[expect]` entry lists anomalies.
    pub key: RunKey,
    /// The anomaly kinds that entry expects.
    pub expected: Vec<AnomalyKind>,
    loaded: Arc<Scenario>,
    swarm: Arc<Scenario>,
}

impl Catcher {
    /// "produce-retries exactly-once+no-dedup".
    pub fn label(&self) -> String {
        format!("{} {}", self.scenario, self.key)
    }

    fn scenario(&self, swarm: bool) -> &Arc<Scenario> {
        if swarm { &self.swarm } else { &self.loaded }
    }
}

/// Every catcher of `variant`, in built-in order then run-key order. Errors name a built-in
/// scenario that does not parse (a build defect, not a user's input).
pub fn catchers(variant: Variant) -> Result<Vec<Catcher>, String> {
    let mut found = Vec::new();
    for (name, text) in crate::BUILTIN {
        let scenario = Scenario::parse(text, name).map_err(|e| e.to_string())?;
        for (key, expectation) in &scenario.expect {
            let key = RunKey::parse(key)?;
            if expectation.anomalies.is_empty() || !key.variants.contains(&variant) {
                continue;
            }
            found.push(Catcher {
                scenario: name.to_string(),
                key,
                expected: expectation.anomalies.clone(),
                loaded: Arc::new(scenario.clone()),
                swarm: Arc::new(scenario.clone().with_swarm()),
            });
        }
    }
    Ok(found)
}

/// How to hunt.
#[derive(Clone, Debug)]
pub struct HuntOptions {
    /// Wall time for the search (shrinking and the default-protocol runs come after it).
    pub budget: Duration,
    /// The most seeds to try.
    pub max_seeds: u64,
    /// The shrinker's run budget.
    pub shrink_runs: u32,
    /// Worker threads for the search and the default-protocol runs (results do not depend
    /// on it).
    pub jobs: usize,
    /// Once set (Ctrl-C), the search and the default-protocol runs stop starting runs and
    /// the shrinker returns the smallest plan so far.
    pub stop: Arc<AtomicBool>,
}

impl Default for HuntOptions {
    fn default() -> Self {
        Self {
            budget: DEFAULT_BUDGET,
            max_seeds: DEFAULT_MAX_SEEDS,
            shrink_runs: DEFAULT_SHRINK_RUNS,
            jobs: 1,
            stop: Arc::default(),
        }
    }
}

/// One run of the search: a seed, a catcher (index into the catchers) and swarm off or on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub seed: u64,
    pub catcher: usize,
    pub swarm: bool,
}

impl Attempt {
    /// The `index`-th run of the documented order over `catchers` catchers: seed by seed,
    /// each catcher plain then swarm.
    pub fn at(index: u64, catchers: usize) -> Attempt {
        let per_seed = 2 * catchers as u64;
        let within = index % per_seed;
        Attempt {
            seed: index / per_seed,
            catcher: (within / 2) as usize,
            swarm: within % 2 == 1,
        }
    }

    /// The run's options: the catcher's run key, without `without` if given.
    fn options(&self, key: &RunKey, without: Option<Variant>) -> RunOptions {
        RunOptions {
            seed: self.seed,
            guarantee: Some(key.guarantee),
            variants: key
                .variants
                .iter()
                .copied()
                .filter(|v| Some(*v) != without)
                .collect(),
            ..RunOptions::default()
        }
    }
}

/// Why a variant was not caught.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotCaught {
    /// No built-in scenario's `[expect]` names the variant with anomalies.
    NoCatcher,
    /// The wall-time budget ran out first.
    Budget(Duration),
    /// Every seed up to the cap passed.
    SeedCap(u64),
    /// Ctrl-C.
    Interrupted,
}

impl std::fmt::Display for NotCaught {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotCaught::NoCatcher => f.write_str(
                "no catcher: no built-in scenario's [expect] names this variant with anomalies",
            ),
            NotCaught::Budget(budget) => {
                write!(f, "not caught within the budget of {} s", budget.as_secs())
            }
            NotCaught::SeedCap(seeds) => write!(f, "not caught in {seeds} seeds (the cap)"),
            NotCaught::Interrupted => f.write_str("interrupted (Ctrl-C) before a catch"),
        }
    }
}

/// The first failing run and what shrinking made of it.
#[derive(Debug)]
pub struct Catch {
    pub attempt: Attempt,
    /// The anomaly kinds the failing run showed.
    pub kinds: BTreeSet<AnomalyKind>,
    /// The failing run panicked: the message.
    pub panic: Option<String>,
    /// Faults and workload of the failing run.
    pub faults: usize,
    pub workload: String,
    pub shrunk: Result<Shrunk, ShrinkError>,
}

/// A shrunk catch.
#[derive(Debug)]
pub struct Shrunk {
    /// The kind shrinking kept (the failing run's first finding's).
    pub target: AnomalyKind,
    pub faults: usize,
    pub workload: String,
    /// The kinds the shrunk run shows.
    pub kinds: BTreeSet<AnomalyKind>,
    /// The first line of the shrunk run's first finding of the target kind.
    pub explanation: String,
    /// Candidate runs the shrinker made.
    pub runs: u32,
}

/// A run the default protocol failed: a serious finding.
#[derive(Clone, Debug)]
pub struct DefaultFailure {
    pub attempt: Attempt,
    /// The kinds it showed ("panic" is not a kind: see `panicked`).
    pub kinds: BTreeSet<AnomalyKind>,
    pub panicked: bool,
}

/// What hunting one variant found.
#[derive(Debug)]
pub struct HuntOutcome {
    pub variant: Variant,
    pub catchers: Vec<Catcher>,
    /// Runs of the search, the failing one included.
    pub runs: u64,
    /// Either the first failing run, or why there is none.
    pub result: Result<Catch, NotCaught>,
    /// The same runs without the variant: those that failed.
    pub default_failures: Vec<DefaultFailure>,
    /// The default-protocol runs made (fewer than `runs` only after Ctrl-C).
    pub default_runs: u64,
    /// Wall time of the whole hunt of this variant: search, shrink and default runs.
    pub wall: Duration,
}

impl HuntOutcome {
    /// Caught, shrunk, and the default protocol passed the same runs.
    pub fn held(&self) -> bool {
        self.result.is_ok() && self.default_failures.is_empty()
    }
}

/// Hunts `variant` in its catchers (see the module docs for the order).
pub fn hunt(variant: Variant, options: &HuntOptions) -> Result<HuntOutcome, String> {
    hunt_among(variant, catchers(variant)?, options)
}

/// [`hunt`] over the given catchers.
fn hunt_among(
    variant: Variant,
    catchers: Vec<Catcher>,
    options: &HuntOptions,
) -> Result<HuntOutcome, String> {
    // Host time, outside every simulation: the report's wall time (no run reads it).
    let started = Instant::now();
    let (runs, found) = if catchers.is_empty() {
        (0, Err(NotCaught::NoCatcher))
    } else {
        search(&catchers, options)
    };
    let result = found.map(|attempt| catch(&catchers, attempt, options));
    let (default_runs, default_failures) = default_runs(&catchers, variant, runs, options);
    Ok(HuntOutcome {
        variant,
        catchers,
        runs,
        result,
        default_failures,
        default_runs,
        wall: started.elapsed(),
    })
}

/// Runs attempts in order until the first failure, the budget, the seed cap or a stop.
/// Returns the runs taken in order (the failing one included) and the failing attempt.
fn search(catchers: &[Catcher], options: &HuntOptions) -> (u64, Result<Attempt, NotCaught>) {
    // Host time for the `--budget-s` limit, outside every simulation: it decides only when
    // to stop starting runs (the module doc says which results it can change).
    let started = Instant::now();
    let total = options.max_seeds.saturating_mul(2 * catchers.len() as u64);
    let local_stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(catchers.to_vec());
    let run = move |index: u64| {
        let attempt = Attempt::at(index, shared.len());
        let catcher = &shared[attempt.catcher];
        let outcome = crate::run(
            catcher.scenario(attempt.swarm),
            &attempt.options(&catcher.key, None),
        );
        !outcome.passed()
    };
    let (mut taken, mut end) = (0u64, None);
    sim::for_each_seed(0..total, options.jobs, run, &local_stop, |index, failed| {
        if end.is_some() || index != taken {
            return; // after the end, or past a gap left by runs abandoned at the stop
        }
        taken += 1;
        if failed {
            end = Some(Ok(Attempt::at(index, catchers.len())));
        } else if options.stop.load(Ordering::Relaxed) {
            end = Some(Err(NotCaught::Interrupted));
        } else if started.elapsed() >= options.budget {
            end = Some(Err(NotCaught::Budget(options.budget)));
        }
        if end.is_some() {
            local_stop.store(true, Ordering::Relaxed);
        }
    });
    let end = end.unwrap_or(Err(if options.stop.load(Ordering::Relaxed) {
        NotCaught::Interrupted
    } else {
        NotCaught::SeedCap(options.max_seeds)
    }));
    (taken, end)
}

/// Runs the failing attempt again (the search kept no outcome) and shrinks it.
fn catch(catchers: &[Catcher], attempt: Attempt, options: &HuntOptions) -> Catch {
    let catcher = &catchers[attempt.catcher];
    let scenario = catcher.scenario(attempt.swarm);
    let run = attempt.options(&catcher.key, None);
    let original = crate::run(scenario, &run);
    Catch {
        attempt,
        kinds: original.kinds(),
        panic: original.panic.clone(),
        faults: original.plan.0.len(),
        workload: scenario.workload_size(),
        shrunk: shrink_catch(scenario, &original, &run, options),
    }
}

fn shrink_catch(
    scenario: &Scenario,
    original: &RunOutcome,
    run: &RunOptions,
    options: &HuntOptions,
) -> Result<Shrunk, ShrinkError> {
    let target = target_kind(original, None)?;
    let shrink_options = ShrinkOptions {
        max_runs: options.shrink_runs,
        stop: Some(options.stop.as_ref()),
        ..ShrinkOptions::new(run)
    };
    let shrunk = crate::shrink::shrink(scenario, original, &shrink_options, shows(target))?;
    let explanation = shrunk
        .outcome
        .anomalies
        .iter()
        .find(|a| a.kind() == target)
        .map(|a| first_line(&a.explain()))
        .unwrap_or_default();
    Ok(Shrunk {
        target,
        faults: shrunk.plan.0.len(),
        workload: shrunk.scenario.workload_size(),
        kinds: shrunk.outcome.kinds(),
        explanation,
        runs: shrunk.runs,
    })
}

/// The first line of an explanation, without trailing space.
fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// Runs the first `runs` attempts again without `variant`; returns the runs made and those
/// that failed, in order.
fn default_runs(
    catchers: &[Catcher],
    variant: Variant,
    runs: u64,
    options: &HuntOptions,
) -> (u64, Vec<DefaultFailure>) {
    let shared = Arc::new(catchers.to_vec());
    let run = move |index: u64| {
        let attempt = Attempt::at(index, shared.len());
        let catcher = &shared[attempt.catcher];
        let scenario = without_variant(catcher.scenario(attempt.swarm), variant);
        let outcome = crate::run(&scenario, &attempt.options(&catcher.key, Some(variant)));
        DefaultFailure {
            attempt,
            kinds: outcome.kinds(),
            panicked: outcome.panic.is_some(),
        }
    };
    let (mut made, mut failures) = (0u64, Vec::new());
    let end = sim::for_each_seed(
        0..runs,
        options.jobs,
        run,
        &options.stop,
        |index, result| {
            if index == made {
                made += 1;
            }
            if result.panicked || !result.kinds.is_empty() {
                failures.push(result);
            }
        },
    );
    if !end.interrupted {
        made = runs;
    }
    (made, failures)
}

/// `scenario` without `variant` among its own variants (the run key's are left out by
/// [`Attempt::options`]).
fn without_variant(scenario: &Scenario, variant: Variant) -> Scenario {
    let mut plain = scenario.clone();
    plain.variants.retain(|v| *v != variant);
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_seed_by_seed_each_catcher_plain_then_swarm() {
        let order: Vec<(u64, usize, bool)> = (0..6)
            .map(|i| Attempt::at(i, 2))
            .map(|a| (a.seed, a.catcher, a.swarm))
            .collect();
        assert_eq!(
            order,
            [
                (0, 0, false),
                (0, 0, true),
                (0, 1, false),
                (0, 1, true),
                (1, 0, false),
                (1, 0, true)
            ]
        );
    }

    #[test]
    fn catchers_come_from_the_builtin_expectations() {
        let labels =
            |v| -> Vec<String> { catchers(v).unwrap().iter().map(Catcher::label).collect() };
        assert_eq!(
            labels(Variant::NoDedup),
            ["produce-retries exactly-once+no-dedup"]
        );
        // eos-test's `exactly-once+no-generation-check` expects no anomaly: not a catcher.
        assert_eq!(
            labels(Variant::NoGenerationCheck),
            ["zombie-fencing-v2 exactly-once+no-generation-check"]
        );
        assert_eq!(
            labels(Variant::AcceptAnyFirstSequence),
            ["new-topic exactly-once+accept-any-first-sequence"]
        );
    }

    /// Every variant is a real bug that some built-in scenario shows (issue 14: all caught).
    #[test]
    fn every_variant_has_a_catcher() {
        for &variant in Variant::ALL {
            assert!(
                !catchers(variant).unwrap().is_empty(),
                "{variant} has no catcher"
            );
        }
    }

    fn options(jobs: usize) -> HuntOptions {
        HuntOptions {
            jobs,
            shrink_runs: 120,
            ..HuntOptions::default()
        }
    }

    #[test]
    fn no_dedup_is_caught_at_once_shrunk_small_and_the_default_passes_the_same_run() {
        let outcome = hunt(Variant::NoDedup, &options(2)).unwrap();
        let catch = outcome.result.as_ref().expect("caught");
        assert_eq!(outcome.runs, 1, "seed 0 of produce-retries fails plain");
        assert_eq!(
            catch.attempt,
            Attempt {
                seed: 0,
                catcher: 0,
                swarm: false
            }
        );
        assert!(catch.kinds.contains(&AnomalyKind::Duplicate));
        let shrunk = catch.shrunk.as_ref().expect("shrunk");
        assert_eq!(shrunk.target, AnomalyKind::Duplicate);
        assert!(shrunk.faults <= 3, "{} faults", shrunk.faults);
        assert!(!shrunk.explanation.is_empty() && !shrunk.explanation.contains('\n'));
        assert_eq!(
            (outcome.default_runs, outcome.default_failures.len()),
            (1, 0)
        );
        assert!(outcome.held());
    }

    /// The first failing run in the documented order, whatever the number of workers.
    #[test]
    fn the_catch_does_not_depend_on_the_workers() {
        let hunt_with = |jobs| {
            let outcome = hunt(Variant::NoZombieFencing, &options(jobs)).unwrap();
            (outcome.runs, outcome.result.map(|c| c.attempt).ok())
        };
        let one = hunt_with(1);
        assert!(
            one.0 > 1,
            "the first run passes, so the order matters: {one:?}"
        );
        assert_eq!(hunt_with(2), one);
        assert_eq!(hunt_with(4), one);
    }

    #[test]
    fn a_variant_without_a_catcher_is_reported_as_such() {
        let outcome = hunt_among(Variant::AcceptAnyFirstSequence, Vec::new(), &options(1)).unwrap();
        assert_eq!(outcome.result.unwrap_err(), NotCaught::NoCatcher);
        assert_eq!((outcome.runs, outcome.default_runs), (0, 0));
    }

    #[test]
    fn a_seed_cap_ends_a_search_that_finds_nothing() {
        let outcome = hunt(
            Variant::NoZombieFencing,
            &HuntOptions {
                max_seeds: 1,
                ..options(2)
            },
        )
        .unwrap();
        assert_eq!(outcome.result.unwrap_err(), NotCaught::SeedCap(1));
        // Seed 0 of every catcher (zombie-fencing, jepsen-queue), plain and swarm.
        let runs = 2 * catchers(Variant::NoZombieFencing).unwrap().len() as u64;
        assert_eq!((outcome.runs, outcome.default_runs), (runs, runs));
    }
}
