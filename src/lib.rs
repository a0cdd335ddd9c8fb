//! eosim as a library: run a built-in or file scenario from your own tests.
//!
//! ```no_run
//! let outcome = eosim::run("produce-retries", 7).expect("scenario loads");
//! assert!(outcome.passed(), "{}", eosim::report(&outcome, "produce-retries").to_text());
//! ```

use std::collections::BTreeSet;

pub use checker;
pub use model;
pub use reports;
pub use scenarios;
pub use sim;

use model::{Guarantee, Variant};
use reports::{AnomalyReport, RunReport, SeedResult, Verdict};
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

/// The command that replays a run exactly.
pub fn replay_command(
    scenario: &str,
    seed: u64,
    guarantee: Guarantee,
    variants: &BTreeSet<Variant>,
) -> String {
    let mut cmd = format!("eosim run {scenario} --seed {seed} --guarantee {guarantee}");
    for v in variants {
        cmd.push_str(&format!(" --variant {v}"));
    }
    cmd
}

/// The JSON/text record of one run. `scenario_arg` is how the user named the scenario (a
/// built-in name or a path), for the replay command.
pub fn report(outcome: &RunOutcome, scenario_arg: &str) -> RunReport {
    let mut counts = RunReport::count_kinds(&outcome.anomalies);
    if outcome.panic.is_some() {
        counts.insert("panic".to_string(), 1);
    }
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
        verdict: if outcome.passed() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        anomalies: outcome.anomalies.iter().map(AnomalyReport::from).collect(),
        anomaly_counts: counts,
        panic: outcome.panic.clone(),
        trace_hash: outcome.trace.hash_hex(),
        trace_events: outcome.trace.events,
        faults: serde_json::to_value(&outcome.plan).expect("plans serialise"),
        stats: serde_json::to_value(&outcome.stats).expect("stats serialise"),
        replay: replay_command(
            scenario_arg,
            outcome.seed,
            outcome.guarantee,
            &outcome.variants.0,
        ),
    }
}

/// The per-seed line of a sweep.
pub fn seed_result(outcome: &RunOutcome) -> SeedResult {
    let mut kinds: Vec<String> = outcome
        .kinds()
        .into_iter()
        .map(|k| k.name().to_string())
        .collect();
    if outcome.panic.is_some() {
        kinds.push("panic".to_string());
    }
    SeedResult {
        seed: outcome.seed,
        verdict: if outcome.passed() {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        kinds,
        trace_hash: outcome.trace.hash_hex(),
    }
}

/// A seed range "A..B" (B exclusive).
pub fn parse_seed_range(text: &str) -> Result<std::ops::Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("seed range {text:?} is not of the form A..B"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|e| format!("seed range {text:?}: {s:?}: {e}"))
    };
    let (a, b) = (parse(a)?, parse(b)?);
    if a >= b {
        return Err(format!("seed range {text:?} is empty (B is exclusive)"));
    }
    Ok(a..b)
}

/// A shard "K/N" (1-based K): the seeds whose position in the range is K-1 modulo N.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("shard {text:?} is not of the form K/N"))?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|e| format!("shard {text:?}: {e}"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|e| format!("shard {text:?}: {e}"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {text:?}: need 1 <= K <= N"));
    }
    Ok((k, n))
}

/// The seeds of `range` that belong to `shard` (all of them without a shard).
pub fn shard_seeds(range: std::ops::Range<u64>, shard: Option<(u64, u64)>) -> Vec<u64> {
    match shard {
        None => range.collect(),
        Some((k, n)) => range
            .enumerate()
            .filter(|(i, _)| *i as u64 % n == k - 1)
            .map(|(_, s)| s)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_and_shards() {
        assert_eq!(parse_seed_range("3..6").unwrap(), 3..6);
        assert!(parse_seed_range("6..6").is_err());
        assert!(parse_seed_range("x..6").is_err());
        let all: Vec<u64> = (0..10).collect();
        let mut union: Vec<u64> = (1..=3)
            .flat_map(|k| shard_seeds(0..10, Some((k, 3))))
            .collect();
        union.sort();
        assert_eq!(union, all, "shards are disjoint and cover the range");
        assert_eq!(shard_seeds(0..10, Some((2, 3))), vec![1, 4, 7]);
        assert!(parse_shard("0/4").is_err());
        assert!(parse_shard("5/4").is_err());
    }
}
