//! `eosim compare`: the same seeds and fault plans under each guarantee, side by side.

use std::collections::BTreeMap;
use std::fmt::Write;

use checker::{AnomalyCategory, AnomalyKind};
use serde::{Deserialize, Serialize};

use crate::failure::{Failure, PANIC_PSEUDO_KIND};

/// One seed under one guarantee: what the checkers found and what got through.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompareSeed {
    pub seed: u64,
    /// Why the seed failed; `None` when it passed.
    pub failure: Option<Failure>,
    /// Findings per anomaly kind.
    pub findings: BTreeMap<AnomalyKind, u64>,
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
    /// Findings per category (every category listed), summed over the seeds: the table's
    /// columns.
    #[serde(default)]
    pub categories: BTreeMap<AnomalyCategory, u64>,
    /// The headline figures of version 1 of the JSON, kept for its readers: findings of the
    /// duplication, loss and state categories, and of the kind aborted-read.
    pub duplicates: u64,
    pub losses: u64,
    pub aborted_reads: u64,
    pub wrong_aggregates: u64,
    /// Every kind: findings summed over the seeds (and, as in version 1, "panic": the seeds
    /// that panicked).
    pub findings: BTreeMap<String, u64>,
    /// Means over the seeds of each seed's delivered records per virtual second and of its
    /// latency percentiles (ms of virtual time).
    pub records_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
}

impl CompareRow {
    pub fn from_seeds(guarantee: &str, seeds: &[CompareSeed]) -> Self {
        let mut tally = CompareTally::default();
        for seed in seeds {
            tally.add(seed);
        }
        tally.row(guarantee)
    }

    /// Findings of one category.
    pub fn category(&self, category: AnomalyCategory) -> u64 {
        self.categories.get(&category).copied().unwrap_or(0)
    }
}

/// One guarantee's totals, gathered seed by seed (in seed order: the means add up in that
/// order), without keeping the seeds: what `compare` holds over a long seed range.
#[derive(Clone, Debug, Default)]
pub struct CompareTally {
    runs: u64,
    failed: u64,
    panicked: u64,
    findings: BTreeMap<AnomalyKind, u64>,
    records_per_s: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
}

impl CompareTally {
    pub fn add(&mut self, seed: &CompareSeed) {
        self.runs += 1;
        self.failed += u64::from(seed.failure.is_some());
        self.panicked += u64::from(seed.failure == Some(Failure::Panic));
        for (&kind, n) in &seed.findings {
            *self.findings.entry(kind).or_insert(0) += n;
        }
        self.records_per_s += seed.records_per_s;
        self.latency_p50_ms += seed.latency_p50_ms;
        self.latency_p99_ms += seed.latency_p99_ms;
    }

    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// Findings summed by category, every category listed.
    fn categories(&self) -> BTreeMap<AnomalyCategory, u64> {
        let mut totals: BTreeMap<AnomalyCategory, u64> =
            AnomalyCategory::ALL.iter().map(|&c| (c, 0)).collect();
        for (kind, n) in &self.findings {
            *totals.entry(kind.category()).or_insert(0) += n;
        }
        totals
    }

    /// Findings by kind name, with the seeds that panicked under the pseudo kind (version 1).
    fn findings_by_name(&self) -> BTreeMap<String, u64> {
        let mut findings: BTreeMap<String, u64> = self
            .findings
            .iter()
            .map(|(kind, &n)| (kind.name().to_string(), n))
            .collect();
        if self.panicked > 0 {
            findings.insert(PANIC_PSEUDO_KIND.to_string(), self.panicked);
        }
        findings
    }

    pub fn row(&self, guarantee: &str) -> CompareRow {
        let categories = self.categories();
        let in_category = |c: AnomalyCategory| categories[&c];
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
            duplicates: in_category(AnomalyCategory::Duplication),
            losses: in_category(AnomalyCategory::Loss),
            aborted_reads: self
                .findings
                .get(&AnomalyKind::AbortedRead)
                .copied()
                .unwrap_or(0),
            wrong_aggregates: in_category(AnomalyCategory::State),
            records_per_s: mean(self.records_per_s),
            latency_p50_ms: mean(self.latency_p50_ms),
            latency_p99_ms: mean(self.latency_p99_ms),
            findings: self.findings_by_name(),
            categories,
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
        out.push_str(&table_line(
            ["guarantee", "runs", "failed"].map(str::to_string),
            AnomalyCategory::ALL.iter().map(|c| c.name().to_string()),
            ["records/s", "vs 1st", "p50 ms", "p99 ms"].map(str::to_string),
        ));
        let base = self.rows.first().map_or(0.0, |r| r.records_per_s);
        for r in &self.rows {
            let ratio = if base > 0.0 {
                format!("{:.0}%", 100.0 * r.records_per_s / base)
            } else {
                "-".to_string()
            };
            out.push_str(&table_line(
                [
                    r.guarantee.clone(),
                    r.runs.to_string(),
                    r.failed.to_string(),
                ],
                AnomalyCategory::ALL
                    .iter()
                    .map(|&c| r.category(c).to_string()),
                [
                    format!("{:.1}", r.records_per_s),
                    ratio,
                    format!("{:.1}", r.latency_p50_ms),
                    format!("{:.1}", r.latency_p99_ms),
                ],
            ));
        }
        out.push_str(
            "(findings by category, summed over the seeds; records/s and latency: means of \
             per-seed figures, virtual time)\n",
        );
        out
    }
}

/// One line of the compare table: the run columns, a column per anomaly category (as wide as
/// its name), the delivery columns.
fn table_line(
    runs: [String; 3],
    categories: impl Iterator<Item = String>,
    delivery: [String; 4],
) -> String {
    let [guarantee, n, failed] = runs;
    let mut line = format!("{guarantee:<15} {n:>5} {failed:>7}");
    for (cell, category) in categories.zip(AnomalyCategory::ALL) {
        let _ = write!(
            line,
            " {cell:>width$}",
            width = category.name().len().max(6)
        );
    }
    let [rate, ratio, p50, p99] = delivery;
    let _ = writeln!(line, " {rate:>10} {ratio:>7} {p50:>8} {p99:>8}");
    line
}

/// The compare page: the table and one bar chart per measure (failed runs, findings of each
/// anomaly category, records per virtual second, p99 latency), one bar per guarantee. Static
/// SVG, no script, no network.
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
    let rows = &report.rows;
    body.push_str(&bar_chart("failed runs", rows, |r| r.failed as f64));
    for &category in AnomalyCategory::ALL {
        let title = format!("{category} findings");
        body.push_str(&bar_chart(&title, rows, |r| r.category(category) as f64));
    }
    body.push_str(&bar_chart(
        "delivered records per virtual second",
        rows,
        |r| r.records_per_s,
    ));
    body.push_str(&bar_chart(
        "end-to-end latency p99, virtual ms",
        rows,
        |r| r.latency_p99_ms,
    ));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>eosim compare \
         {}</title><style>body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; }} \
         .chart {{ display: inline-block; margin: 0 2em 1.5em 0; vertical-align: top; }} \
         .chart h2 {{ font-size: 1em; }}</style></head><body>{body}</body></html>\n",
        escape(&report.scenario)
    )
}

/// One horizontal bar per guarantee, scaled to the largest value.
fn bar_chart(title: &str, rows: &[CompareRow], measure: impl Fn(&CompareRow) -> f64) -> String {
    const BAR_PX: f64 = 260.0;
    const ROW_PX: usize = 26;
    let max = rows.iter().map(&measure).fold(0.0_f64, f64::max);
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
    use AnomalyKind::*;

    /// A seed that found `findings` (a pass without any).
    fn seed(findings: &[(AnomalyKind, u64)], rate: f64) -> CompareSeed {
        CompareSeed {
            seed: 0,
            failure: Failure::of_run(false, findings.iter().map(|&(k, _)| k)),
            findings: findings.iter().copied().collect(),
            records_per_s: rate,
            latency_p50_ms: 10.0,
            latency_p99_ms: 20.0,
        }
    }

    #[test]
    fn rows_sum_findings_by_category_and_average_the_rates() {
        let row = CompareRow::from_seeds(
            "at-least-once",
            &[
                seed(&[(Duplicate, 2), (DuplicateEffect, 2)], 100.0),
                seed(&[(Missing, 1), (Unseen, 1), (AbortedRead, 3)], 300.0),
                seed(&[(TornTransaction, 1), (NotConverged, 1)], 300.0),
                seed(&[], 100.0),
            ],
        );
        assert_eq!((row.runs, row.failed), (4, 3));
        assert_eq!(row.category(AnomalyCategory::Duplication), 4);
        assert_eq!(row.category(AnomalyCategory::Loss), 2);
        assert_eq!(row.category(AnomalyCategory::Isolation), 4);
        assert_eq!(row.category(AnomalyCategory::Liveness), 1);
        assert_eq!(row.category(AnomalyCategory::State), 0);
        assert_eq!(row.categories.len(), AnomalyCategory::ALL.len());
        // Version 1's headline figures.
        assert_eq!((row.duplicates, row.losses, row.aborted_reads), (4, 2, 3));
        assert_eq!(row.findings["duplicate-effect"], 2);
        assert_eq!(row.records_per_s, 200.0);
    }

    #[test]
    fn a_panic_fails_a_seed_and_keeps_its_version_1_pseudo_kind() {
        let panicked = CompareSeed {
            failure: Some(Failure::Panic),
            ..seed(&[], 1.0)
        };
        let row = CompareRow::from_seeds("exactly-once", &[panicked.clone(), panicked]);
        assert_eq!(row.failed, 2);
        assert_eq!(row.findings[PANIC_PSEUDO_KIND], 2);
        assert!(row.categories.values().all(|&n| n == 0));
    }

    #[test]
    fn the_table_has_a_column_per_category_and_throughput_relative_to_the_first() {
        let report = CompareReport {
            schema: 1,
            scenario: "s".into(),
            variants: vec![],
            seeds: "0..2".into(),
            rows: vec![
                CompareRow::from_seeds("at-least-once", &[seed(&[(Duplicate, 7)], 200.0)]),
                CompareRow::from_seeds("exactly-once", &[seed(&[], 150.0)]),
            ],
            interrupted: false,
        };
        let text = report.to_text();
        let header = text.lines().find(|l| l.starts_with("guarantee")).unwrap();
        for category in AnomalyCategory::ALL {
            assert!(header.contains(category.name()), "{header}");
        }
        let at_least = text
            .lines()
            .find(|l| l.starts_with("at-least-once"))
            .unwrap();
        // Right-aligned under its header.
        let column_end = header.find("duplication").unwrap() + "duplication".len();
        assert_eq!(&at_least[column_end - 1..column_end], "7", "{text}");
        let exactly = text
            .lines()
            .find(|l| l.starts_with("exactly-once"))
            .unwrap();
        assert!(exactly.contains("75%"), "{exactly}");
        let parsed: CompareReport = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(parsed, report);
        assert!(report.to_json().contains("\"duplication\": 7"));
    }

    #[test]
    fn the_page_has_a_chart_per_measure_with_a_bar_per_guarantee() {
        let report = CompareReport {
            schema: 1,
            scenario: "s<x>".into(),
            variants: vec![],
            seeds: "0..2".into(),
            rows: vec![
                CompareRow::from_seeds("at-least-once", &[seed(&[(Duplicate, 3)], 200.0)]),
                CompareRow::from_seeds("exactly-once", &[seed(&[], 100.0)]),
            ],
            interrupted: false,
        };
        let page = render_compare_html(&report);
        let charts = 3 + AnomalyCategory::ALL.len();
        assert_eq!(page.matches("<svg").count(), charts);
        assert_eq!(page.matches("<rect").count(), 2 * charts);
        assert!(page.contains("s&lt;x&gt;") && !page.contains("s<x>"));
        assert!(!page.contains("<script"), "static page");
        // duplication: the at-least-once bar is the full width, exactly-once's is empty.
        assert!(page.contains("width=\"260.0\"") && page.contains("width=\"0.0\""));
    }
}
