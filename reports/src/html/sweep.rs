//! A sweep's page (`eosim sweep … --html`): the verdict over the seeds, which anomaly kinds
//! showed where in the seed range, the coverage paths and the fault kinds that found nothing
//! to act on, and the failing seeds with their replay commands and, where the caller wrote
//! them, links to their run pages. Static SVG and tables, no script.

use std::fmt::Write;

use super::escape;
use crate::sweep::SweepReport;

/// Columns of the kinds-over-seeds strip: seeds beyond it share a column.
const STRIP_COLUMNS: usize = 600;

/// What the caller adds to a sweep's results: a coverage path's description, a failing
/// seed's replay command and the run page written for it (a relative link), if any.
pub struct SweepPageLinks<'a> {
    pub describe_path: &'a dyn Fn(&str) -> Option<String>,
    pub replay: &'a dyn Fn(u64) -> String,
    pub run_page: &'a dyn Fn(u64) -> Option<String>,
}

/// The page of `report`, whose per-seed results it needs (`results`).
pub fn render_sweep_html(report: &SweepReport, links: &SweepPageLinks<'_>) -> String {
    let title = format!(
        "eosim sweep {} — seeds {}, {}{}",
        report.scenario,
        report.seeds,
        report.guarantee,
        if report.variants.is_empty() {
            String::new()
        } else {
            format!(", variants {}", report.variants.join(", "))
        }
    );
    let mut body = String::new();
    body.push_str(&verdict_line(report));
    body.push_str(&kinds_strip(report));
    body.push_str(&failing_table(report, links));
    body.push_str(&coverage_table(report, links));
    body.push_str(&unmatched_table(report));
    super::static_page(&title, &body)
}

fn verdict_line(report: &SweepReport) -> String {
    let ways: Vec<String> = report
        .failures
        .iter()
        .map(|(way, n)| format!("{way} {n}"))
        .collect();
    let (class, verdict) = if report.failed == 0 {
        ("pass", "every seed held".to_string())
    } else {
        (
            "fail",
            format!("failed {} ({})", report.failed, ways.join(", ")),
        )
    };
    format!(
        "<p class=\"{class}\"><b>{} runs{}, {verdict}</b>{}</p>",
        report.runs,
        if report.swarm {
            " with swarm testing"
        } else {
            ""
        },
        if report.interrupted {
            " — interrupted: the seeds that finished"
        } else {
            ""
        }
    )
}

/// One row per anomaly kind, one column per seed (or per group of seeds): a mark where a
/// seed showed the kind.
fn kinds_strip(report: &SweepReport) -> String {
    const LABEL_PX: usize = 190;
    const ROW_PX: usize = 18;
    let kinds: Vec<&String> = report.anomaly_counts.keys().collect();
    if kinds.is_empty() || report.results.is_empty() {
        return "<h2>Anomaly kinds over the seeds</h2><p class=\"muted\">none</p>".into();
    }
    let seeds = report.results.len();
    let per_column = seeds.div_ceil(STRIP_COLUMNS);
    let columns = seeds.div_ceil(per_column);
    let column_px = (STRIP_COLUMNS / columns).clamp(1, 12);
    let width = LABEL_PX + columns * column_px + 10;
    let height = kinds.len() * ROW_PX + 30;
    let mut svg = format!(
        "<h2>Anomaly kinds over the seeds</h2><p class=\"muted\">a column per {} seed(s), \
         in seed order; hover a mark for its seeds</p><svg id=\"kinds\" width=\"{width}\" \
         height=\"{height}\" role=\"img\" aria-label=\"anomaly kinds over the seeds\">",
        per_column
    );
    for (row, kind) in kinds.iter().enumerate() {
        let y = row * ROW_PX;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{} ({})</text>",
            y + 13,
            escape(kind),
            report.anomaly_counts[*kind]
        );
        for (column, chunk) in report.results.chunks(per_column).enumerate() {
            let showing: Vec<String> = chunk
                .iter()
                .filter(|r| r.kinds.iter().any(|k| k == *kind))
                .map(|r| r.seed.to_string())
                .collect();
            if showing.is_empty() {
                continue;
            }
            let _ = write!(
                svg,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#c0392b\">\
                 <title>seed(s) {}</title></rect>",
                LABEL_PX + column * column_px,
                y + 2,
                column_px.max(2) - 1,
                ROW_PX - 4,
                showing.join(" ")
            );
        }
    }
    let axis_y = kinds.len() * ROW_PX + 14;
    let first = report.results.first().map_or(0, |r| r.seed);
    let last = report.results.last().map_or(0, |r| r.seed);
    let _ = write!(
        svg,
        "<text x=\"{LABEL_PX}\" y=\"{axis_y}\" font-size=\"11\">seed {first}</text>\
         <text x=\"{}\" y=\"{axis_y}\" font-size=\"11\" text-anchor=\"end\">seed {last}</text></svg>",
        LABEL_PX + columns * column_px
    );
    svg
}

/// Failing seeds: kinds, why, the replay command and the run page's link when written.
fn failing_table(report: &SweepReport, links: &SweepPageLinks<'_>) -> String {
    let failing: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.failure.is_some())
        .collect();
    let mut html = format!("<h2>Failing seeds ({})</h2>", failing.len());
    if failing.is_empty() {
        html.push_str("<p class=\"muted\">none</p>");
        return html;
    }
    html.push_str(
        "<table class=\"grid\" id=\"failing\"><tr><th>seed</th><th>kinds</th><th>why</th>\
         <th>replay</th></tr>",
    );
    for r in failing {
        let seed = match (links.run_page)(r.seed) {
            Some(page) => format!("<a href=\"{}\">{}</a>", escape(&page), r.seed),
            None => r.seed.to_string(),
        };
        let _ = write!(
            html,
            "<tr><td>{seed}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&r.kinds.join(", ")),
            escape(r.explanation.as_deref().unwrap_or("")),
            escape(&(links.replay)(r.seed))
        );
    }
    html.push_str("</table>");
    html
}

/// Every coverage path with the seeds where it fired (never reached ones first).
fn coverage_table(report: &SweepReport, links: &SweepPageLinks<'_>) -> String {
    let mut paths: Vec<(&String, &u64)> = report.coverage.iter().collect();
    paths.sort_by_key(|&(name, &seeds)| (seeds > 0, name.clone()));
    let mut html = String::from(
        "<h2>Coverage</h2><table class=\"grid\" id=\"coverage\"><tr><th>path</th>\
         <th>seeds where it fired</th><th>meaning</th></tr>",
    );
    for (name, seeds) in paths {
        let class = if *seeds == 0 { " class=\"fail\"" } else { "" };
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td{class}>{seeds} of {}</td><td>{}</td></tr>",
            escape(name),
            report.runs,
            escape(&(links.describe_path)(name).unwrap_or_default())
        );
    }
    html.push_str("</table>");
    html
}

/// Targeted fault kinds, and how many of their faults found no message to act on.
fn unmatched_table(report: &SweepReport) -> String {
    if report.unmatched_faults.is_empty() {
        return String::new();
    }
    let mut html = String::from(
        "<h2>Targeted faults</h2><table class=\"grid\"><tr><th>kind</th><th>planned</th>\
         <th>matched no message</th><th>in seeds</th></tr>",
    );
    for (kind, tally) in &report.unmatched_faults {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(kind),
            tally.planned,
            tally.unmatched,
            tally.seeds
        );
    }
    html.push_str("</table>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Failure;
    use crate::run::Verdict;
    use crate::sweep::SeedResult;

    fn result(seed: u64, kinds: &[&str]) -> SeedResult {
        SeedResult {
            seed,
            verdict: if kinds.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            failure: (!kinds.is_empty()).then_some(Failure::Safety),
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            trace_hash: "0".repeat(16),
            explanation: (!kinds.is_empty()).then(|| format!("{} <why>", kinds[0])),
            coverage: Default::default(),
        }
    }

    #[test]
    fn the_page_marks_each_kind_where_it_showed_and_links_failing_seeds() {
        let report = SweepReport {
            scenario: "s".into(),
            seeds: "0..3".into(),
            runs: 3,
            failed: 2,
            anomaly_counts: [("duplicate".to_string(), 2), ("lost-write".to_string(), 1)]
                .into_iter()
                .collect(),
            results: vec![
                result(0, &["duplicate"]),
                result(1, &[]),
                result(2, &["duplicate", "lost-write"]),
            ],
            coverage: [("dedup-hit".to_string(), 0), ("rebalance".to_string(), 2)]
                .into_iter()
                .collect(),
            ..SweepReport::default()
        };
        let links = SweepPageLinks {
            describe_path: &|p| Some(format!("about {p}")),
            replay: &|seed| format!("eosim run s --seed {seed}"),
            run_page: &|seed| (seed == 0).then(|| "run-0.html".to_string()),
        };
        let page = render_sweep_html(&report, &links);
        // Three marks: duplicate at seeds 0 and 2, lost-write at 2.
        assert_eq!(page.matches("<rect").count(), 3, "{page}");
        assert!(page.contains("<a href=\"run-0.html\">0</a>"), "{page}");
        assert!(page.contains("<code>eosim run s --seed 2</code>"));
        assert!(page.contains("duplicate &lt;why&gt;"), "escaped");
        // The path never reached comes first, marked.
        let dedup = page.find("dedup-hit").unwrap();
        assert!(dedup < page.find("rebalance").unwrap());
        assert!(page.contains("about rebalance"));
    }

    #[test]
    fn many_seeds_share_columns() {
        let results: Vec<SeedResult> = (0..3000).map(|s| result(s, &["duplicate"])).collect();
        let report = SweepReport {
            runs: 3000,
            failed: 3000,
            anomaly_counts: [("duplicate".to_string(), 3000)].into_iter().collect(),
            results,
            ..SweepReport::default()
        };
        let links = SweepPageLinks {
            describe_path: &|_| None,
            replay: &|seed| seed.to_string(),
            run_page: &|_| None,
        };
        let page = render_sweep_html(&report, &links);
        assert_eq!(
            page.matches("<rect").count(),
            STRIP_COLUMNS,
            "5 seeds a column"
        );
        assert!(page.contains("a column per 5 seed(s)"));
    }
}
