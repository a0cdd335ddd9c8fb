//! `eosim compare`: the same seeds and fault plans under each guarantee, side by side.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// One seed under one guarantee: what the checkers found and what got through.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompareSeed {
    pub seed: u64,
    pub passed: bool,
    /// Findings per anomaly kind.
    pub findings: BTreeMap<String, u64>,
    /// Records delivered per virtual second (see `checker::metrics`).
    pub records_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
}

/// One guarantee's totals over the seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    pub guarantee: String,
    pub runs: u64,
    /// Runs with any finding (or a panic).
    pub failed: u64,
    /// Findings summed over the seeds.
    pub duplicates: u64,
    pub losses: u64,
    pub aborted_reads: u64,
    pub wrong_aggregates: u64,
    /// Every kind: findings summed over the seeds.
    pub findings: BTreeMap<String, u64>,
    /// Means over the seeds of each seed's delivered records per virtual second and of its
    /// latency percentiles (ms of virtual time).
    pub records_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
}

/// Kinds counted as duplicates, losses, aborted reads and wrong aggregates.
const DUPLICATE_KINDS: &[&str] = &["duplicate", "duplicate-effect"];
const LOSS_KINDS: &[&str] = &["lost-write", "missing", "lost-effect"];
const ABORTED_READ_KINDS: &[&str] = &["aborted-read"];
const WRONG_AGGREGATE_KINDS: &[&str] = &["wrong-aggregate", "output-count-mismatch"];

impl CompareRow {
    pub fn from_seeds(guarantee: &str, seeds: &[CompareSeed]) -> Self {
        let mut findings: BTreeMap<String, u64> = BTreeMap::new();
        for s in seeds {
            for (kind, n) in &s.findings {
                *findings.entry(kind.clone()).or_insert(0) += n;
            }
        }
        let sum = |kinds: &[&str]| kinds.iter().filter_map(|k| findings.get(*k)).sum();
        let mean = |f: fn(&CompareSeed) -> f64| {
            if seeds.is_empty() {
                0.0
            } else {
                seeds.iter().map(f).sum::<f64>() / seeds.len() as f64
            }
        };
        Self {
            guarantee: guarantee.to_string(),
            runs: seeds.len() as u64,
            failed: seeds.iter().filter(|s| !s.passed).count() as u64,
            duplicates: sum(DUPLICATE_KINDS),
            losses: sum(LOSS_KINDS),
            aborted_reads: sum(ABORTED_READ_KINDS),
            wrong_aggregates: sum(WRONG_AGGREGATE_KINDS),
            records_per_s: mean(|s| s.records_per_s),
            latency_p50_ms: mean(|s| s.latency_p50_ms),
            latency_p99_ms: mean(|s| s.latency_p99_ms),
            findings,
        }
    }
}

/// The JSON result of `eosim compare` (schema version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    pub schema: u32,
    pub scenario: String,
    pub variants: Vec<String>,
    /// "A..B", B exclusive.
    pub seeds: String,
    pub rows: Vec<CompareRow>,
}

impl CompareReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("compare reports serialise")
    }

    /// The side-by-side table; throughput relative to the first row.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let variants = if self.variants.is_empty() {
            "-".to_string()
        } else {
            self.variants.join(",")
        };
        let _ = writeln!(
            out,
            "eosim compare {}  seeds {}  variants {variants}",
            self.scenario, self.seeds
        );
        let _ = writeln!(
            out,
            "{:<15} {:>5} {:>7} {:>10} {:>7} {:>13} {:>16} {:>10} {:>7} {:>8} {:>8}",
            "guarantee",
            "runs",
            "failed",
            "duplicates",
            "losses",
            "aborted-reads",
            "wrong-aggregates",
            "records/s",
            "vs 1st",
            "p50 ms",
            "p99 ms"
        );
        let base = self.rows.first().map_or(0.0, |r| r.records_per_s);
        for r in &self.rows {
            let ratio = if base > 0.0 {
                format!("{:.0}%", 100.0 * r.records_per_s / base)
            } else {
                "-".to_string()
            };
            let _ = writeln!(
                out,
                "{:<15} {:>5} {:>7} {:>10} {:>7} {:>13} {:>16} {:>10.1} {:>7} {:>8.1} {:>8.1}",
                r.guarantee,
                r.runs,
                r.failed,
                r.duplicates,
                r.losses,
                r.aborted_reads,
                r.wrong_aggregates,
                r.records_per_s,
                ratio,
                r.latency_p50_ms,
                r.latency_p99_ms
            );
        }
        out.push_str(
            "(findings summed over the seeds; records/s and latency: means of per-seed figures, \
             virtual time)\n",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(passed: bool, findings: &[(&str, u64)], rate: f64) -> CompareSeed {
        CompareSeed {
            seed: 0,
            passed,
            findings: findings.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            records_per_s: rate,
            latency_p50_ms: 10.0,
            latency_p99_ms: 20.0,
        }
    }

    #[test]
    fn rows_sum_findings_by_family_and_average_the_rates() {
        let row = CompareRow::from_seeds(
            "at-least-once",
            &[
                seed(false, &[("duplicate", 2), ("duplicate-effect", 2)], 100.0),
                seed(false, &[("missing", 1), ("aborted-read", 3)], 300.0),
                seed(true, &[], 200.0),
            ],
        );
        assert_eq!((row.runs, row.failed), (3, 2));
        assert_eq!((row.duplicates, row.losses, row.aborted_reads), (4, 1, 3));
        assert_eq!(row.records_per_s, 200.0);
    }

    #[test]
    fn the_table_puts_each_guarantee_on_a_row_with_throughput_relative_to_the_first() {
        let report = CompareReport {
            schema: 1,
            scenario: "s".into(),
            variants: vec![],
            seeds: "0..2".into(),
            rows: vec![
                CompareRow::from_seeds("at-least-once", &[seed(true, &[], 200.0)]),
                CompareRow::from_seeds("exactly-once", &[seed(true, &[], 150.0)]),
            ],
        };
        let text = report.to_text();
        assert!(text.contains("at-least-once"), "{text}");
        let exactly = text
            .lines()
            .find(|l| l.starts_with("exactly-once"))
            .unwrap();
        assert!(exactly.contains("75%"), "{exactly}");
        let parsed: CompareReport = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(parsed, report);
    }
}
