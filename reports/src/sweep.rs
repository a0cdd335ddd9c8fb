//! A sweep over many seeds: per-seed results and totals.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::failure::Failure;
use crate::run::Verdict;

/// One seed of a sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedResult {
    pub seed: u64,
    pub verdict: Verdict,
    /// Why the seed failed. Absent when it passed, and from reports made before it existed
    /// (`summarise` fills it in from `kinds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Distinct anomaly kinds found (sorted); for readers of version 1 also "panic" if the
    /// simulation panicked.
    pub kinds: Vec<String>,
    pub trace_hash: String,
    /// Why it failed, in a line: the first line of its first finding's explanation, or the
    /// panic message. Absent when it passed, and from reports made before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// The seed's coverage, for the sweep's totals (not listed per seed).
    #[serde(skip)]
    pub coverage: SeedCoverage,
}

/// What a sweep totals of one seed's coverage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedCoverage {
    /// Every coverage point's name and the times it fired, in one fixed order (the same for
    /// every seed of a sweep).
    pub points: Vec<(&'static str, u64)>,
    /// The kind ("lose-acks") of each targeted fault of the plan, and whether it matched a
    /// message.
    pub message_faults: Vec<(String, bool)>,
}

/// Targeted faults of one kind over a sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultKindTally {
    /// Faults of this kind in the seeds' plans.
    pub planned: u64,
    /// Those that matched no message.
    pub unmatched: u64,
    /// Seeds with at least one of this kind unmatched.
    pub seeds: u64,
}

impl FaultKindTally {
    /// Adds another part's tally (seeds are counted in one part only: shards are disjoint).
    fn add(&mut self, other: FaultKindTally) {
        self.planned += other.planned;
        self.unmatched += other.unmatched;
        self.seeds += other.seeds;
    }
}

/// The JSON result of `eosim sweep` (schema version 1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub schema: u32,
    pub scenario: String,
    pub guarantee: String,
    pub variants: Vec<String>,
    /// Swarm testing was on (`--swarm`). Absent from JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub swarm: bool,
    /// The seeds asked for, as "A..B" (B exclusive), and the shard "K/N" if any.
    pub seeds: String,
    pub shard: Option<String>,
    pub runs: u64,
    pub failed: u64,
    pub failing_seeds: Vec<u64>,
    /// Number of seeds that showed each kind.
    pub anomaly_counts: BTreeMap<String, u64>,
    /// Number of seeds that failed in each way (panic, safety, liveness). Absent when none
    /// failed, and from reports made before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<Failure, u64>,
    pub results: Vec<SeedResult>,
    /// Replays the first failing seed, if any.
    pub replay: Option<String>,
    /// Stopped early (Ctrl-C): the results are the seeds that finished, not the whole range
    /// or shard. Absent from JSON when false; `merge` refuses an interrupted shard.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Per coverage point (README "Coverage"): the seeds where it fired. Every point is
    /// listed; absent from reports made before coverage existed.
    #[serde(default)]
    pub coverage: BTreeMap<String, u64>,
    /// Per targeted fault kind: how many were planned, how many matched no message, in how
    /// many seeds. Only kinds that were planned are listed.
    #[serde(default)]
    pub unmatched_faults: BTreeMap<String, FaultKindTally>,
}

impl SweepReport {
    /// The run key: "exactly-once", "exactly-once+no-dedup", …
    pub fn run_key(&self) -> String {
        std::iter::once(self.guarantee.as_str())
            .chain(self.variants.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("+")
    }

    /// Each anomaly kind with the seeds that showed it: "duplicate 3".
    pub fn kinds_with_seeds(&self) -> Vec<String> {
        self.anomaly_counts
            .iter()
            .map(|(kind, seeds)| format!("{kind} {seeds}"))
            .collect()
    }
}

/// Failing seeds a text-only sweep remembers (the summary shows 20 and "…").
const FAILING_SEEDS_SHOWN: usize = 20;

/// One seed's result in 24 bytes: the tally keeps these, not [`SeedResult`]s (about 100 bytes
/// and three allocations each), when per-seed results are wanted (JSON, JUnit).
#[derive(Clone, Copy, Debug)]
struct CompactResult {
    seed: u64,
    trace_hash: u64,
    /// Bit i: the tally's i-th kind name. The verdict and the failure follow from the names
    /// (`Failure::of_kind_names`).
    kinds: u64,
}

/// A sweep's totals, gathered seed by seed. Without per-seed results it holds a fixed amount
/// of memory however many seeds run (totals, counts per kind, the first failing seeds); with
/// them, 24 bytes a seed, turned into [`SeedResult`]s only when the report is made.
#[derive(Clone, Debug, Default)]
pub struct SweepTally {
    keep_results: bool,
    runs: u64,
    failed: u64,
    /// Kind names, in order of first appearance; a result's bit i is kind i.
    kinds: Vec<String>,
    anomaly_counts: BTreeMap<String, u64>,
    failures: BTreeMap<Failure, u64>,
    first_failing: Vec<u64>,
    results: Vec<CompactResult>,
    /// Failing seeds' explanations (kept with the results): few seeds fail in a sweep that
    /// should pass, and a sweep that fails everywhere keeps one line per seed.
    explanations: BTreeMap<u64, String>,
    /// Results whose fields do not fit the compact form (a trace hash that is not 16 hex
    /// digits, more than 64 kinds, a verdict or failure its kinds do not give): kept whole.
    odd: BTreeMap<u64, SeedResult>,
    /// Per coverage point, the seeds where it fired (fixed: one counter per point, in the
    /// order of the first seed's points).
    coverage: Vec<(&'static str, u64)>,
    /// Per targeted fault kind (a handful).
    faults: BTreeMap<String, FaultKindTally>,
}

impl SweepTally {
    /// `keep_results`: whether the report will list every seed (JSON, JUnit).
    pub fn new(keep_results: bool) -> Self {
        SweepTally {
            keep_results,
            ..SweepTally::default()
        }
    }

    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// Adds the next seed's result (seeds in increasing order, as the sweep runs them).
    pub fn add(&mut self, mut result: SeedResult) {
        self.runs += 1;
        self.add_coverage(&std::mem::take(&mut result.coverage));
        if let Some(failure) = result.failure {
            *self.failures.entry(failure).or_insert(0) += 1;
        }
        if result.verdict == Verdict::Fail {
            self.failed += 1;
            if self.keep_results || self.first_failing.len() <= FAILING_SEEDS_SHOWN {
                self.first_failing.push(result.seed);
            }
        }
        let mut bits = 0u64;
        let mut fits = result.verdict == Verdict::of(result.failure)
            && result.failure == Failure::of_kind_names(result.kinds.iter().map(String::as_str));
        for kind in &result.kinds {
            *self.anomaly_counts.entry(kind.clone()).or_insert(0) += 1;
            let index = match self.kinds.iter().position(|k| k == kind) {
                Some(index) => index,
                None => {
                    self.kinds.push(kind.clone());
                    self.kinds.len() - 1
                }
            };
            match 1u64.checked_shl(index as u32) {
                Some(bit) => bits |= bit,
                None => fits = false,
            }
        }
        if !self.keep_results {
            return;
        }
        // Exactly the 16 lowercase hex digits `{:016x}` gives back.
        let hash = Some(&result.trace_hash)
            .filter(|h| h.len() == 16 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .and_then(|h| u64::from_str_radix(h, 16).ok());
        // Kinds are listed sorted in a result: the compact form gives them back sorted.
        let sorted = result.kinds.windows(2).all(|w| w[0] < w[1]);
        match hash {
            Some(trace_hash) if fits && sorted => {
                if let Some(explanation) = result.explanation {
                    self.explanations.insert(result.seed, explanation);
                }
                self.results.push(CompactResult {
                    seed: result.seed,
                    trace_hash,
                    kinds: bits,
                })
            }
            _ => {
                self.odd.insert(result.seed, result);
            }
        }
    }

    fn add_coverage(&mut self, seed: &SeedCoverage) {
        if self.coverage.is_empty() {
            self.coverage = seed.points.iter().map(|&(name, _)| (name, 0)).collect();
        }
        for (total, &(name, n)) in self.coverage.iter_mut().zip(&seed.points) {
            debug_assert_eq!(total.0, name, "every seed lists the points in one order");
            total.1 += u64::from(n > 0);
        }
        let mut unmatched_kinds: Vec<&String> = Vec::new();
        for (kind, matched) in &seed.message_faults {
            let tally = self.faults.entry(kind.clone()).or_default();
            tally.planned += 1;
            if !matched {
                tally.unmatched += 1;
                if !unmatched_kinds.contains(&kind) {
                    unmatched_kinds.push(kind);
                    tally.seeds += 1;
                }
            }
        }
    }

    /// The report: `header` gives scenario, guarantee, variants, seeds, shard and replay;
    /// its totals and results are replaced by the tally's.
    pub fn report(self, header: SweepReport) -> SweepReport {
        let kinds = &self.kinds;
        let mut odd = self.odd;
        let mut explanations = self.explanations;
        let mut results = Vec::with_capacity(if self.keep_results {
            self.results.len() + odd.len()
        } else {
            0
        });
        for compact in &self.results {
            while let Some(entry) = odd.first_entry().filter(|e| *e.key() < compact.seed) {
                results.push(entry.remove());
            }
            let mut names: Vec<String> = (0..kinds.len())
                .filter(|&i| compact.kinds & (1 << i) != 0)
                .map(|i| kinds[i].clone())
                .collect();
            names.sort();
            let failure = Failure::of_kind_names(names.iter().map(String::as_str));
            results.push(SeedResult {
                coverage: SeedCoverage::default(),
                seed: compact.seed,
                verdict: Verdict::of(failure),
                failure,
                kinds: names,
                trace_hash: format!("{:016x}", compact.trace_hash),
                explanation: explanations.remove(&compact.seed),
            });
        }
        results.extend(odd.into_values());
        SweepReport {
            runs: self.runs,
            failed: self.failed,
            failing_seeds: self.first_failing,
            anomaly_counts: self.anomaly_counts,
            failures: self.failures,
            results,
            coverage: self
                .coverage
                .into_iter()
                .map(|(name, n)| (name.to_string(), n))
                .collect(),
            unmatched_faults: self.faults,
            ..header
        }
    }
}

impl SweepReport {
    /// Totals from per-seed results (a failing result from before `failure` existed gets it
    /// from its kinds).
    pub fn summarise(mut self) -> Self {
        for r in &mut self.results {
            if r.failure.is_none() && r.verdict == Verdict::Fail {
                r.failure = Failure::of_kind_names(r.kinds.iter().map(String::as_str));
            }
        }
        self.failures = BTreeMap::new();
        for failure in self.results.iter().filter_map(|r| r.failure) {
            *self.failures.entry(failure).or_insert(0) += 1;
        }
        self.runs = self.results.len() as u64;
        self.failing_seeds = self
            .results
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .map(|r| r.seed)
            .collect();
        self.failed = self.failing_seeds.len() as u64;
        self.anomaly_counts.clear();
        for r in &self.results {
            for k in &r.kinds {
                *self.anomaly_counts.entry(k.clone()).or_insert(0) += 1;
            }
        }
        self
    }

    /// Combines shard reports of one sweep (same scenario, guarantee, variants and seed range)
    /// into the report of the whole sweep. Errors if they do not belong together or overlap.
    pub fn merge(parts: Vec<SweepReport>) -> Result<SweepReport, String> {
        let mut parts = parts.into_iter();
        let complete = |part: SweepReport| {
            if part.interrupted {
                return Err(format!(
                    "shard {:?} was interrupted: it does not hold all its seeds",
                    part.shard
                ));
            }
            Ok(part)
        };
        let mut merged = complete(parts.next().ok_or("nothing to merge")?)?;
        for part in parts {
            let part = complete(part)?;
            let same = (&part.scenario, &part.guarantee, &part.variants, &part.seeds)
                == (
                    &merged.scenario,
                    &merged.guarantee,
                    &merged.variants,
                    &merged.seeds,
                );
            if !same {
                return Err(format!(
                    "shard {:?} is of another sweep ({} {} {:?} seeds {}) than {} {} {:?} seeds {}",
                    part.shard,
                    part.scenario,
                    part.guarantee,
                    part.variants,
                    part.seeds,
                    merged.scenario,
                    merged.guarantee,
                    merged.variants,
                    merged.seeds
                ));
            }
            merged.results.extend(part.results);
            // Totals over seeds: a shard's add up.
            for (point, n) in part.coverage {
                *merged.coverage.entry(point).or_insert(0) += n;
            }
            for (kind, t) in part.unmatched_faults {
                merged.unmatched_faults.entry(kind).or_default().add(t);
            }
        }
        merged.results.sort_by_key(|r| r.seed);
        if let Some(w) = merged.results.windows(2).find(|w| w[0].seed == w[1].seed) {
            return Err(format!("seed {} appears in two shards", w[0].seed));
        }
        merged.shard = None;
        merged.replay = None;
        Ok(merged.summarise())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// The one-screen summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write_totals(&mut out);
        self.write_coverage(&mut out);
        if let Some(replay) = &self.replay {
            let _ = writeln!(out, "replay: {replay}");
        }
        out
    }

    /// The sweep's header line, runs and failures, seeds per anomaly kind and the first 20
    /// failing seeds.
    fn write_totals(&self, out: &mut String) {
        let variants = crate::variants_label(&self.variants);
        let shard = self
            .shard
            .as_deref()
            .map(|s| format!(" shard {s}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "eosim sweep {}  seeds {}{shard}  guarantee {}  variants {}",
            self.scenario, self.seeds, self.guarantee, variants
        );
        if self.interrupted {
            let _ = writeln!(
                out,
                "interrupted: the totals cover the {} seed(s) that finished",
                self.runs
            );
        }
        let _ = writeln!(out, "runs: {}  failed: {}", self.runs, self.failed);
        for (kind, n) in &self.anomaly_counts {
            let _ = writeln!(out, "  {kind}: {n} seed(s)");
        }
        if !self.failing_seeds.is_empty() {
            let shown: Vec<String> = self
                .failing_seeds
                .iter()
                .take(20)
                .map(u64::to_string)
                .collect();
            let more = if self.failed > 20 { " …" } else { "" };
            let _ = writeln!(out, "failing seeds: {}{more}", shown.join(" "));
        }
    }

    /// The paths no seed reached and the targeted faults that matched no message.
    fn write_coverage(&self, out: &mut String) {
        if !self.coverage.is_empty() {
            let never: Vec<&str> = self
                .coverage
                .iter()
                .filter(|(_, n)| **n == 0)
                .map(|(name, _)| name.as_str())
                .collect();
            let never = if never.is_empty() {
                "none".to_string()
            } else {
                never.join(", ")
            };
            let _ = writeln!(out, "paths never reached: {never}");
        }
        let unmatched: Vec<String> = self
            .unmatched_faults
            .iter()
            .filter(|(_, t)| t.unmatched > 0)
            .map(|(kind, t)| {
                format!(
                    "{kind} {} of {} (in {} seed(s))",
                    t.unmatched, t.planned, t.seeds
                )
            })
            .collect();
        if !unmatched.is_empty() {
            let _ = writeln!(
                out,
                "faults that matched no message: {}",
                unmatched.join(", ")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(seed: u64, kinds: &[&str]) -> SeedResult {
        let failure = Failure::of_kind_names(kinds.iter().copied());
        SeedResult {
            seed,
            verdict: Verdict::of(failure),
            failure,
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            trace_hash: format!("{:016x}", seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            explanation: failure.map(|f| format!("seed {seed} failed: {}", f.name())),
            coverage: SeedCoverage::default(),
        }
    }

    fn header() -> SweepReport {
        SweepReport {
            schema: 1,
            scenario: "s".into(),
            guarantee: "exactly-once".into(),
            seeds: "0..100".into(),
            ..SweepReport::default()
        }
    }

    #[test]
    fn a_tally_gives_the_report_summarise_gives() {
        let results: Vec<SeedResult> = (0..100)
            .map(|seed| match seed % 7 {
                0 => result(seed, &["duplicate", "missing"]),
                3 => result(seed, &["lost-write"]),
                4 => result(seed, &["not-converged"]),
                5 => SeedResult {
                    trace_hash: "not-hex".into(),
                    ..result(seed, &["panic"])
                },
                _ => result(seed, &[]),
            })
            .collect();
        let expected = SweepReport {
            results: results.clone(),
            ..header()
        }
        .summarise();
        let mut tally = SweepTally::new(true);
        for r in results.iter().cloned() {
            tally.add(r);
        }
        assert_eq!(tally.report(header()), expected);
        // Without per-seed results: the same totals and text, no results.
        let mut tally = SweepTally::new(false);
        for r in results {
            tally.add(r);
        }
        let report = tally.report(header());
        assert!(report.results.is_empty());
        assert_eq!(
            (report.runs, report.failed, &report.anomaly_counts),
            (expected.runs, expected.failed, &expected.anomaly_counts)
        );
        assert_eq!(report.failures, expected.failures);
        assert_eq!(
            expected.failures,
            BTreeMap::from([
                (Failure::Panic, 14),
                (Failure::Safety, 29),
                (Failure::Liveness, 14)
            ])
        );
        assert_eq!(report.to_text(), expected.to_text());
    }

    #[test]
    fn a_result_from_before_failures_gets_its_failure_from_its_kinds() {
        let mut old: serde_json::Value = serde_json::to_value(SweepReport {
            results: vec![
                result(0, &["panic"]),
                result(1, &["not-converged"]),
                result(2, &[]),
            ],
            ..header()
        })
        .unwrap();
        for r in old["results"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("failure");
        }
        let old: SweepReport = serde_json::from_value(old).unwrap();
        assert!(old.results.iter().all(|r| r.failure.is_none()));
        let merged = SweepReport::merge(vec![old]).unwrap();
        let failures: Vec<Option<Failure>> = merged.results.iter().map(|r| r.failure).collect();
        assert_eq!(
            failures,
            [Some(Failure::Panic), Some(Failure::Liveness), None]
        );
        assert_eq!(merged.failures.values().sum::<u64>(), 2);
    }

    #[test]
    fn coverage_totals_count_seeds_and_merge_adds_shards() {
        let with = |seed, counts: [u64; 2], faults: &[(&str, bool)]| SeedResult {
            coverage: SeedCoverage {
                points: vec![("a", counts[0]), ("b", counts[1])],
                message_faults: faults.iter().map(|&(k, m)| (k.to_string(), m)).collect(),
            },
            ..result(seed, &[])
        };
        let mut tally = SweepTally::new(false);
        tally.add(with(
            0,
            [3, 0],
            &[("lose-acks", false), ("lose-acks", false)],
        ));
        tally.add(with(1, [1, 0], &[("lose-acks", true), ("delay", false)]));
        let report = tally.report(header());
        assert_eq!(
            report.coverage,
            BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 0)])
        );
        let lose = report.unmatched_faults["lose-acks"];
        assert_eq!((lose.planned, lose.unmatched, lose.seeds), (3, 2, 1));
        let text = report.to_text();
        assert!(text.contains("\npaths never reached: b\n"), "{text}");
        assert!(
            text.contains("faults that matched no message: delay 1 of 1 (in 1 seed(s)), lose-acks 2 of 3 (in 1 seed(s))"),
            "{text}"
        );
        let shard = |seeds: std::ops::Range<u64>| SweepReport {
            shard: Some("x".into()),
            results: seeds.map(|s| result(s, &[])).collect(),
            ..report.clone()
        };
        let merged = SweepReport::merge(vec![shard(0..2), shard(2..4)]).unwrap();
        assert_eq!(merged.coverage["a"], 4);
        assert_eq!(merged.unmatched_faults["lose-acks"].unmatched, 4);
    }
}
