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
        let mut tally = CompareTally::default();
        for seed in seeds {
            tally.add(seed);
        }
        tally.row(guarantee)
    }
}

/// One guarantee's totals, gathered seed by seed (in seed order: the means add up in that
/// order), without keeping the seeds: what `compare` holds over a long seed range.
#[derive(Clone, Debug, Default)]
pub struct CompareTally {
    runs: u64,
    failed: u64,
    findings: BTreeMap<String, u64>,
    records_per_s: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
}

impl CompareTally {
    pub fn add(&mut self, seed: &CompareSeed) {
        self.runs += 1;
        self.failed += u64::from(!seed.passed);
        for (kind, n) in &seed.findings {
            *self.findings.entry(kind.clone()).or_insert(0) += n;
        }
        self.records_per_s += seed.records_per_s;
        self.latency_p50_ms += seed.latency_p50_ms;
        self.latency_p99_ms += seed.latency_p99_ms;
    }

    pub fn runs(&self) -> u64 {
        self.runs
    }

    pub fn row(&self, guarantee: &str) -> CompareRow {
        let findings = self.findings.clone();
        let sum = |kinds: &[&str]| kinds.iter().filter_map(|k| findings.get(*k)).sum();
        let mean = |total: f64| {
            if self.runs == 0 {
                0.0
            } else {
                total / self.runs as f64
            }
        };
        CompareRow {
            guarantee: guarantee.to_string(),
            runs: self.runs,
            failed: self.failed,
            duplicates: sum(DUPLICATE_KINDS),
            losses: sum(LOSS_KINDS),
            aborted_reads: sum(ABORTED_READ_KINDS),
            wrong_aggregates: sum(WRONG_AGGREGATE_KINDS),
            records_per_s: mean(self.records_per_s),
            latency_p50_ms: mean(self.latency_p50_ms),
            latency_p99_ms: mean(self.latency_p99_ms),
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
    /// Stopped early (Ctrl-C): the rows cover the seeds that finished under every guarantee.
    /// Absent from JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl CompareReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("compare reports serialise")
    }

    /// The side-by-side table; throughput relative to the first row.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let variants = crate::variants_label(&self.variants);
        let _ = writeln!(
            out,
            "eosim compare {}  seeds {}  variants {variants}",
            self.scenario, self.seeds
        );
        if self.interrupted {
            let runs = self.rows.first().map_or(0, |r| r.runs);
            let _ = writeln!(
                out,
                "interrupted: {runs} seed(s) finished under every guarantee"
            );
        }
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

/// A figure of one guarantee's row.
type Measure = fn(&CompareRow) -> f64;

/// The compare page: the table and one bar chart per measure (failed runs, duplicates, losses,
/// aborted reads, wrong aggregates, records per virtual second, p99 latency), one bar per
/// guarantee. Static SVG, no script, no network.
pub fn render_compare_html(report: &CompareReport) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>eosim compare {}</h1><p>seeds {}, variants {}</p><pre id=\"table\">{}</pre>",
        escape(&report.scenario),
        escape(&report.seeds),
        escape(&if report.variants.is_empty() {
            "-".to_string()
        } else {
            report.variants.join(", ")
        }),
        escape(&report.to_text())
    );
    let charts: [(&str, Measure); 7] = [
        ("failed runs", |r| r.failed as f64),
        ("duplicates", |r| r.duplicates as f64),
        ("losses", |r| r.losses as f64),
        ("aborted reads", |r| r.aborted_reads as f64),
        ("wrong aggregates", |r| r.wrong_aggregates as f64),
        ("delivered records per virtual second", |r| r.records_per_s),
        ("end-to-end latency p99, virtual ms", |r| r.latency_p99_ms),
    ];
    for (title, measure) in charts {
        body.push_str(&bar_chart(title, &report.rows, measure));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>eosim compare \
         {}</title><style>body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; }} \
         .chart {{ display: inline-block; margin: 0 2em 1.5em 0; vertical-align: top; }} \
         .chart h2 {{ font-size: 1em; }}</style></head><body>{body}</body></html>\n",
        escape(&report.scenario)
    )
}

/// One horizontal bar per guarantee, scaled to the largest value.
fn bar_chart(title: &str, rows: &[CompareRow], measure: Measure) -> String {
    const BAR_PX: f64 = 260.0;
    const ROW_PX: usize = 26;
    let max = rows.iter().map(measure).fold(0.0_f64, f64::max);
    let height = ROW_PX * rows.len() + 6;
    let mut svg = format!(
        "<div class=\"chart\"><h2>{}</h2><svg width=\"460\" height=\"{height}\" \
         role=\"img\" aria-label=\"{}\">",
        escape(title),
        escape(title)
    );
    for (i, row) in rows.iter().enumerate() {
        let value = measure(row);
        let width = if max > 0.0 { BAR_PX * value / max } else { 0.0 };
        let y = i * ROW_PX + 4;
        let label = if value.fract() == 0.0 {
            format!("{value:.0}")
        } else {
            format!("{value:.1}")
        };
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>\
             <rect x=\"110\" y=\"{y}\" width=\"{width:.1}\" height=\"18\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{label}</text>",
            y + 14,
            escape(&row.guarantee),
            if i == 0 { "#d98c2b" } else { "#2b6fd9" },
            114.0 + width,
            y + 14
        );
    }
    svg.push_str("</svg></div>");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
            interrupted: false,
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

    #[test]
    fn the_page_has_a_chart_per_measure_with_a_bar_per_guarantee() {
        let report = CompareReport {
            schema: 1,
            scenario: "s<x>".into(),
            variants: vec![],
            seeds: "0..2".into(),
            rows: vec![
                CompareRow::from_seeds("at-least-once", &[seed(false, &[("duplicate", 3)], 200.0)]),
                CompareRow::from_seeds("exactly-once", &[seed(true, &[], 100.0)]),
            ],
            interrupted: false,
        };
        let page = render_compare_html(&report);
        assert_eq!(page.matches("<svg").count(), 7);
        assert_eq!(page.matches("<rect").count(), 14);
        assert!(page.contains("s&lt;x&gt;") && !page.contains("s<x>"));
        assert!(!page.contains("<script"), "static page");
        // duplicates: the at-least-once bar is the full width, exactly-once's is empty.
        assert!(page.contains("width=\"260.0\"") && page.contains("width=\"0.0\""));
    }
}
