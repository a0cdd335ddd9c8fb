//! eosim as a library: run a built-in or file scenario from your own tests.
//!
//! ```no_run
//! let outcome = eosim::run("produce-retries", 7).expect("scenario loads");
//! assert!(outcome.passed(), "{}", eosim::report(&outcome, "produce-retries").to_text());
//! ```

use std::collections::BTreeSet;

pub mod history_format;
mod html;
mod hunt;
pub mod interrupt;
pub mod merge;
pub mod progress;
pub mod seeds;

pub use html::{html_report, lin_html_report};
pub use hunt::{hunt_report, hunt_report_with, hunt_row};
pub use merge::merge_shards;
pub use seeds::{SeedRange, Shard};

/// The global allocator (feature `mimalloc`, on by default; see Cargo.toml).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use checker;
pub use model;
pub use reports;
pub use scenarios;
pub use sim;

use model::{Guarantee, Variant};
use reports::{AnomalyReport, Failure, RunReport, SeedResult, Verdict};
use scenarios::{RunOptions, RunOutcome, ScenarioError};

/// Runs seed `seed` of a built-in scenario (by name) or a scenario file (by path), with the
/// scenario's own guarantee and variants.
pub fn run(scenario: &str, seed: u64) -> Result<RunOutcome, ScenarioError> {
    let loaded = scenarios::load(scenario)?;
    Ok(scenarios::run(
        &loaded,
        &RunOptions {
            seed,
            ..RunOptions::default()
        },
    ))
}

/// The soak's cases: every built-in scenario with each run key its `[expect]` says must pass
/// (no anomaly), in built-in order.
pub fn soak_cases() -> Result<Vec<(&'static str, scenarios::RunKey)>, String> {
    let mut cases = Vec::new();
    for (name, text) in scenarios::BUILTIN {
        let scenario = scenarios::Scenario::parse(text, name).map_err(|e| e.to_string())?;
        for (key, expectation) in &scenario.expect {
            if expectation.anomalies.is_empty() {
                cases.push((*name, scenarios::RunKey::parse(key)?));
            }
        }
    }
    Ok(cases)
}

/// The command that replays a run exactly.
pub fn replay_command(
    scenario: &str,
    seed: u64,
    guarantee: Guarantee,
    variants: &BTreeSet<Variant>,
    swarm: bool,
) -> String {
    let mut cmd = format!("eosim run {scenario} --seed {seed} --guarantee {guarantee}");
    for v in variants {
        cmd.push_str(&format!(" --variant {v}"));
    }
    if swarm {
        cmd.push_str(" --swarm");
    }
    cmd
}

/// The JSON/text record of one run. `scenario_arg` is how the user named the scenario (a
/// built-in name or a path), for the replay command.
pub fn report(outcome: &RunOutcome, scenario_arg: &str) -> RunReport {
    let failure = failure(outcome);
    RunReport {
        schema: reports::run::SCHEMA_VERSION,
        scenario: outcome.scenario.clone(),
        seed: outcome.seed,
        guarantee: outcome.guarantee.to_string(),
        variants: outcome
            .variants
            .names()
            .into_iter()
            .map(String::from)
            .collect(),
        verdict: Verdict::of(failure),
        failure,
        anomalies: outcome.anomalies.iter().map(AnomalyReport::from).collect(),
        anomaly_counts: RunReport::count_kinds(&outcome.anomalies, failure),
        panic: outcome.panic.clone(),
        trace_hash: outcome.trace.hash_hex(),
        trace_events: outcome.trace.events,
        faults: serde_json::to_value(&outcome.plan).expect("plans serialise"),
        swarm: outcome
            .swarm
            .as_ref()
            .map(|draw| serde_json::to_value(draw).expect("swarm draws serialise")),
        stats: serde_json::to_value(&outcome.stats).expect("stats serialise"),
        replay: replay_command(
            scenario_arg,
            outcome.seed,
            outcome.guarantee,
            &outcome.variants.0,
            outcome.swarm.is_some(),
        ),
        coverage: outcome
            .coverage
            .named()
            .map(|(name, n)| (name.to_string(), n))
            .collect(),
        unmatched_faults: outcome
            .coverage
            .unmatched_faults()
            .map(|f| reports::UnmatchedFault {
                index: f.index,
                kind: f.kind.clone(),
                description: f.description.clone(),
            })
            .collect(),
    }
}

/// Why a run failed (`None`: it passed).
pub fn failure(outcome: &RunOutcome) -> Option<Failure> {
    Failure::of_run(outcome.panic.is_some(), outcome.kinds())
}

/// One seed's line of `eosim compare`: its findings per kind and its delivery in virtual time
/// (`pre_filled`: the scenario's input is written before processing starts,
/// `Scenario::input_pre_filled`).
pub fn compare_seed(outcome: &RunOutcome, pre_filled: bool) -> reports::CompareSeed {
    let mut findings = std::collections::BTreeMap::new();
    for anomaly in &outcome.anomalies {
        *findings.entry(anomaly.kind()).or_insert(0) += 1;
    }
    let delivery = checker::metrics::delivery(&outcome.history, pre_filled);
    reports::CompareSeed {
        seed: outcome.seed,
        failure: failure(outcome),
        findings,
        records_per_s: delivery.records_per_s,
        latency_p50_ms: delivery.latency_p50_ms,
        latency_p99_ms: delivery.latency_p99_ms,
    }
}

/// The per-seed line of a sweep.
pub fn seed_result(outcome: &RunOutcome) -> SeedResult {
    let failure = failure(outcome);
    SeedResult {
        seed: outcome.seed,
        verdict: Verdict::of(failure),
        failure,
        kinds: reports::failure::kind_names(outcome.kinds(), failure),
        trace_hash: outcome.trace.hash_hex(),
        explanation: failure.map(|_| failure_line(outcome)),
        coverage: seed_coverage(&outcome.coverage),
    }
}

/// A failed run's cause in one line: the panic message, else the first line of the
/// explanation of its first finding of the kind that decided its failure (a safety finding
/// before a liveness one): what JUnit and `sweep --json` show per failing seed.
pub fn failure_line(outcome: &RunOutcome) -> String {
    let decisive = failure(outcome).and_then(|f| {
        outcome
            .anomalies
            .iter()
            .find(|a| Failure::of_kind(a.kind()) == f)
    });
    let text = match (&outcome.panic, decisive) {
        (Some(panic), _) => format!("panic: {panic}"),
        (None, Some(anomaly)) => format!("{}: {}", anomaly.kind(), anomaly.explain()),
        (None, None) => "failed without a finding".to_string(),
    };
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// What a sweep totals of a run's coverage.
pub fn seed_coverage(coverage: &scenarios::Coverage) -> reports::SeedCoverage {
    reports::SeedCoverage {
        points: coverage.named().collect(),
        message_faults: coverage
            .message_faults
            .iter()
            .map(|f| (f.kind.clone(), f.used > 0))
            .collect(),
    }
}

/// The most worker threads `--jobs` accepts per available core: seeds are CPU-bound, so more
/// threads than cores only add memory; a few times over leaves room for machines whose
/// reported parallelism is below what a user knows they have.
pub const MAX_JOBS_PER_CORE: usize = 8;

/// The most worker threads `--jobs` accepts on any machine.
pub const MAX_JOBS: usize = 1024;

/// Checks a `--jobs` value (default: the available cores): at least 1, at most
/// [`MAX_JOBS_PER_CORE`] × the available cores and never above [`MAX_JOBS`].
pub fn worker_count(jobs: Option<usize>) -> Result<usize, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let most = (cores * MAX_JOBS_PER_CORE).min(MAX_JOBS);
    match jobs {
        None => Ok(cores.min(most)),
        Some(0) => Err("--jobs 0: at least one worker is needed".to_string()),
        Some(n) if n > most => Err(format!(
            "--jobs {n} is too many: at most {most} ({MAX_JOBS_PER_CORE} per available core, \
             {cores} core(s) here, and never above {MAX_JOBS})"
        )),
        Some(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_at_least_one_and_a_bounded_multiple_of_the_cores() {
        assert!(worker_count(Some(0)).is_err());
        assert_eq!(worker_count(Some(1)), Ok(1));
        assert!(worker_count(Some(MAX_JOBS + 1)).is_err());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(worker_count(None).unwrap() >= 1);
        assert!(worker_count(Some(cores * MAX_JOBS_PER_CORE + 1)).is_err());
    }
}
