//! `eosim compare`: the same seeds and fault plans under each guarantee, side by side.

use std::collections::BTreeMap;
use std::fmt::Write;

use checker::{AnomalyCategory, AnomalyKind};
use serde::{Deserialize, Serialize};

use crate::failure::{Failure, PANIC_PSEUDO_KIND};
use crate::html::escape;

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

/// Failing seeds a row lists (the first ones, in seed order).
pub const FAILING_SEEDS_LISTED: usize = 20;

/// One seed's measures under one guarantee: the page draws each as a dot.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CompareSample {
    pub seed: u64,
    pub failed: bool,
    pub records_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
}

/// A five-number summary of a measure over the seeds (nearest-rank quartiles).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
}

impl Quantiles {
    /// The summary of `values` (sorted here); None when there are none.
    pub fn of(mut values: Vec<f64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let index = (q * values.len() as f64).ceil() as usize;
            values[index.clamp(1, values.len()) - 1]
        };
        Some(Self {
            min: values[0],
            q1: rank(0.25),
            median: rank(0.5),
            q3: rank(0.75),
            max: values[values.len() - 1],
        })
    }
}

/// How each measure spreads over the seeds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub records_per_s: Quantiles,
    pub latency_p50_ms: Quantiles,
    pub latency_p99_ms: Quantiles,
}

impl Spread {
    fn of(samples: &[CompareSample]) -> Option<Self> {
        let measure = |f: fn(&CompareSample) -> f64| Quantiles::of(samples.iter().map(f).collect());
        Some(Self {
            records_per_s: measure(|s| s.records_per_s)?,
            latency_p50_ms: measure(|s| s.latency_p50_ms)?,
            latency_p99_ms: measure(|s| s.latency_p99_ms)?,
        })
    }
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
    /// Each measure's spread over the seeds (absent without runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<Spread>,
    /// The first failing seeds (at most `FAILING_SEEDS_LISTED`), in seed order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing_seeds: Vec<u64>,
    /// Every seed's measures, in seed order: the page's dots (not in the JSON, which stays
    /// small over long ranges).
    #[serde(skip)]
    pub samples: Vec<CompareSample>,
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
    samples: Vec<CompareSample>,
}

impl CompareTally {
    pub fn add(&mut self, seed: &CompareSeed) {
        self.samples.push(CompareSample {
            seed: seed.seed,
            failed: seed.failure.is_some(),
            records_per_s: seed.records_per_s,
            latency_p50_ms: seed.latency_p50_ms,
            latency_p99_ms: seed.latency_p99_ms,
        });
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
            spread: Spread::of(&self.samples),
            failing_seeds: self
                .samples
                .iter()
                .filter(|s| s.failed)
                .map(|s| s.seed)
                .take(FAILING_SEEDS_LISTED)
                .collect(),
            samples: self.samples.clone(),
        }
    }
}

/// A published throughput comparison: each guarantee's records per second as a fraction of
/// the first guarantee's, and where the figures come from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThroughputReference {
    pub source: String,
    /// Guarantee name → records per second relative to the first guarantee compared.
    pub throughput_ratios: BTreeMap<String, f64>,
}

/// The cost model a comparison ran under: which kind, and every cost knob that is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// "none" (a message takes its drawn latency), "per-message" (fixed costs per message,
    /// record and sync; nothing shared) or "shared-resources" (links, handler threads, disks
    /// and client CPUs that queue).
    pub kind: String,
    /// Each cost knob that is not zero ("network.link_mbit_per_s" → 1000), by name.
    pub parameters: BTreeMap<String, u64>,
}

impl CostModel {
    /// Its one-line description: the kind, then the knobs.
    pub fn describe(&self) -> String {
        let knobs: Vec<String> = self
            .parameters
            .iter()
            .map(|(name, value)| format!("{name} = {value}"))
            .collect();
        if knobs.is_empty() {
            self.kind.clone()
        } else {
            format!("{} ({})", self.kind, knobs.join(", "))
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
    /// The cost model the runs' virtual time was measured under (absent in reports written
    /// before it was recorded).
    #[serde(default)]
    pub cost_model: CostModel,
    /// A published comparison to set beside the measured one (the scenario's `[reference]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ThroughputReference>,
    /// Stopped early (Ctrl-C): the rows cover the seeds that finished under every guarantee.
    /// Absent from JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// records/s is the steady rate (the input was written before processing started:
    /// `checker::metrics::delivery`'s `pre_filled`). Absent from JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub steady_rate: bool,
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
        let _ = writeln!(out, "cost model: {}", self.cost_model.describe());
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
        if self.steady_rate {
            out.push_str(
                "(the input was written before processing started: records/s is the steady \
                 rate, the records that took effect between the 10th- and the 90th-percentile \
                 effect over the time between them)\n",
            );
        }
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

/// The compare page: the table; the published comparison beside the measured one, if the
/// scenario has one; per measure (records per virtual second, latency p50 and p99) each
/// guarantee's spread over the seeds as a box with a dot per seed; one bar chart per
/// finding measure; the failing seeds with the commands that replay them (`replay(guarantee,
/// seed)`). Static SVG, no script, no network.
pub fn render_compare_html(report: &CompareReport, replay: impl Fn(&str, u64) -> String) -> String {
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
    if let Some(reference) = &report.reference {
        body.push_str(&reference_table(reference, rows));
    }
    body.push_str("<h2>Spread over the seeds</h2>");
    body.push_str(&spread_chart(
        "delivered records per virtual second",
        rows,
        (|s| s.records_per_s, |q| q.records_per_s),
    ));
    body.push_str(&spread_chart(
        "end-to-end latency p50, virtual ms",
        rows,
        (|s| s.latency_p50_ms, |q| q.latency_p50_ms),
    ));
    body.push_str(&spread_chart(
        "end-to-end latency p99, virtual ms",
        rows,
        (|s| s.latency_p99_ms, |q| q.latency_p99_ms),
    ));
    body.push_str("<h2>Findings</h2>");
    body.push_str(&bar_chart("failed runs", rows, |r| r.failed as f64));
    for &category in AnomalyCategory::ALL {
        let title = format!("{category} findings");
        body.push_str(&bar_chart(&title, rows, |r| r.category(category) as f64));
    }
    body.push_str(&failing_seeds_section(rows, &replay));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>eosim compare \
         {}</title><style>body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; }} \
         .chart {{ display: inline-block; margin: 0 2em 1.5em 0; vertical-align: top; }} \
         .chart h3, h2 {{ font-size: 1em; }} table {{ border-collapse: collapse; }} \
         td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }} \
         code {{ font-size: 12px; }}</style></head><body>{body}</body></html>\n",
        escape(&report.scenario)
    )
}

/// The published ratios beside the measured ones (mean records per second of each row over
/// the first row's).
fn reference_table(reference: &ThroughputReference, rows: &[CompareRow]) -> String {
    let base = rows.first().map_or(0.0, |r| r.records_per_s);
    let mut html = format!(
        "<h2>Throughput against the published figures</h2><p>{}</p><table id=\"reference\">\
         <tr><th>guarantee</th><th>measured, of {}</th><th>published</th></tr>",
        escape(&reference.source),
        escape(rows.first().map_or("-", |r| r.guarantee.as_str()))
    );
    for row in rows {
        let measured = if base > 0.0 {
            format!("{:.0} %", 100.0 * row.records_per_s / base)
        } else {
            "-".to_string()
        };
        let published = reference
            .throughput_ratios
            .get(&row.guarantee)
            .map_or("-".to_string(), |r| format!("{:.0} %", 100.0 * r));
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{measured}</td><td>{published}</td></tr>",
            escape(&row.guarantee)
        );
    }
    html.push_str("</table>");
    html
}

/// A measure of the spread charts: a seed's value, and its quantiles in a `Spread`.
type Measure = (fn(&CompareSample) -> f64, fn(&Spread) -> Quantiles);

/// One row per guarantee on a shared axis: the box from the first to the third quartile
/// with the median (the row's `spread`), whiskers to the extremes, and a dot per seed (red: a
/// failing seed), spread vertically by seed so equal values stay visible. `measure` picks a
/// seed's value, `summary` the same measure's quantiles in a spread.
fn spread_chart(title: &str, rows: &[CompareRow], (measure, summary): Measure) -> String {
    const LEFT_PX: f64 = 110.0;
    const PLOT_PX: f64 = 480.0;
    const ROW_PX: f64 = 34.0;
    let max = rows
        .iter()
        .flat_map(|r| r.samples.iter().map(measure))
        .fold(0.0_f64, f64::max);
    let scale_max = nice_ceiling(max);
    let x = |v: f64| LEFT_PX + PLOT_PX * v / scale_max;
    let height = ROW_PX * rows.len() as f64 + 24.0;
    let mut svg = format!(
        "<div class=\"chart spread\"><h3>{}</h3><svg width=\"{:.0}\" height=\"{height:.0}\" \
         role=\"img\" aria-label=\"{}\">",
        escape(title),
        LEFT_PX + PLOT_PX + 30.0,
        escape(title)
    );
    for tick in 0..=4 {
        let value = scale_max * f64::from(tick) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"0\" y2=\"{1:.0}\" stroke=\"#eee\"/>\
             <text x=\"{0:.1}\" y=\"{2:.0}\" font-size=\"11\" text-anchor=\"middle\">{3}</text>",
            x(value),
            height - 16.0,
            height - 3.0,
            short_number(value)
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let top = ROW_PX * i as f64 + 4.0;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.0}\" font-size=\"12\">{}</text>",
            top + 17.0,
            escape(&row.guarantee)
        );
        if let Some(spread) = &row.spread {
            svg.push_str(&box_and_whiskers(&summary(spread), top, &x));
        }
        for (n, sample) in row.samples.iter().enumerate() {
            let jitter = (n % 7) as f64 * 3.0;
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.2\" fill=\"{}\" fill-opacity=\"0.7\">\
                 <title>seed {}: {}</title></circle>",
                x(measure(sample)),
                top + 6.0 + jitter,
                if sample.failed { "#c0392b" } else { "#2b6fd9" },
                sample.seed,
                short_number(measure(sample))
            );
        }
    }
    svg.push_str("</svg></div>");
    svg
}

fn box_and_whiskers(q: &Quantiles, top: f64, x: &impl Fn(f64) -> f64) -> String {
    let mid = top + 15.0;
    format!(
        "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{mid:.1}\" y2=\"{mid:.1}\" stroke=\"#555\"/>\
         <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"22\" fill=\"#d98c2b\" \
         fill-opacity=\"0.25\" stroke=\"#d98c2b\"><title>min {} · q1 {} · median {} · q3 {} · \
         max {}</title></rect><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" \
         stroke=\"#a0521a\" stroke-width=\"2\"/>",
        x(q.min),
        x(q.max),
        x(q.q1),
        top + 4.0,
        (x(q.q3) - x(q.q1)).max(1.0),
        short_number(q.min),
        short_number(q.q1),
        short_number(q.median),
        short_number(q.q3),
        short_number(q.max),
        x(q.median),
        x(q.median),
        top + 4.0,
        top + 26.0
    )
}

/// The smallest of 1, 2 or 5 × 10^k at or above `value` (an axis end); 1 for nothing.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&end| end >= value)
        .unwrap_or(10.0 * magnitude)
}

fn short_number(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1}k", value / 1000.0)
    } else if value.fract() == 0.0 || value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Each guarantee's failing seeds (the first `FAILING_SEEDS_LISTED`) with their replay
/// commands.
fn failing_seeds_section(rows: &[CompareRow], replay: &impl Fn(&str, u64) -> String) -> String {
    let mut html = String::from(
        "<h2>Failing seeds</h2><table id=\"failing\"><tr><th>guarantee</th>\
         <th>failed</th><th>replay (the first failing seeds)</th></tr>",
    );
    for row in rows {
        let commands: Vec<String> = row
            .failing_seeds
            .iter()
            .map(|&seed| format!("<code>{}</code>", escape(&replay(&row.guarantee, seed))))
            .collect();
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{} of {}</td><td>{}</td></tr>",
            escape(&row.guarantee),
            row.failed,
            row.runs,
            if commands.is_empty() {
                "none".to_string()
            } else {
                commands.join("<br>")
            }
        );
    }
    html.push_str("</table>");
    html
}

/// One horizontal bar per guarantee, scaled to the largest value.
fn bar_chart(title: &str, rows: &[CompareRow], measure: impl Fn(&CompareRow) -> f64) -> String {
    const BAR_PX: f64 = 260.0;
    const ROW_PX: usize = 26;
    let max = rows.iter().map(&measure).fold(0.0_f64, f64::max);
    let height = ROW_PX * rows.len() + 6;
    let mut svg = format!(
        "<div class=\"chart\"><h3>{}</h3><svg width=\"460\" height=\"{height}\" \
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
            cost_model: CostModel {
                kind: "shared-resources".into(),
                parameters: [("network.link_mbit_per_s".to_string(), 1000)].into(),
            },
            reference: None,
            interrupted: false,
            steady_rate: false,
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
        assert!(
            text.contains("cost model: shared-resources (network.link_mbit_per_s = 1000)"),
            "{text}"
        );
        // Everything but the per-seed samples (the page's dots) survives the JSON.
        let parsed: CompareReport = serde_json::from_str(&report.to_json()).unwrap();
        let mut without_samples = report.clone();
        for row in &mut without_samples.rows {
            row.samples.clear();
        }
        assert_eq!(parsed, without_samples);
        assert!(report.to_json().contains("\"duplication\": 7"));
        assert!(!text.contains("steady rate") && !report.to_json().contains("steady_rate"));
        let steady = CompareReport {
            steady_rate: true,
            ..report.clone()
        };
        assert!(steady.to_text().contains("records/s is the steady rate"));
        assert!(steady.to_json().contains("\"steady_rate\": true"));
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
            cost_model: CostModel {
                kind: "none".into(),
                ..CostModel::default()
            },
            reference: None,
            interrupted: false,
            steady_rate: false,
        };
        let page = render_compare_html(&report, |g, seed| format!("replay {g} {seed}"));
        // Three spread charts (a box per guarantee), failed runs and a bar chart per category
        // (a bar per guarantee).
        let bar_charts = 1 + AnomalyCategory::ALL.len();
        assert_eq!(page.matches("<svg").count(), 3 + bar_charts);
        assert_eq!(page.matches("<rect").count(), 2 * 3 + 2 * bar_charts);
        // A dot per seed and guarantee on each spread chart; the failing seed's command.
        assert_eq!(page.matches("<circle").count(), 3 * 2);
        assert!(
            page.contains("<code>replay at-least-once 0</code>"),
            "{page}"
        );
        assert!(page.contains("s&lt;x&gt;") && !page.contains("s<x>"));
        assert!(
            page.contains("cost model: none"),
            "the page names the cost model"
        );
        assert!(!page.contains("<script"), "static page");
        // duplication: the at-least-once bar is the full width, exactly-once's is empty.
        assert!(page.contains("width=\"260.0\"") && page.contains("width=\"0.0\""));
    }
}
