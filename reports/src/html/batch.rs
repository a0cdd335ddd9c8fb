//! The pages of the commands that run many sweeps: a soak's (every sweep's verdict, the
//! anomaly kinds each failing sweep showed, coverage over the whole soak) and a hunt's (its
//! table, as README shows it). Static tables, no script.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::escape;
use crate::hunt::HuntReport;
use crate::soak::SoakReport;

use super::static_page as page;

/// A soak's page: a row per sweep (run key, swarm, runs, failed, the kinds it showed, the
/// replay command of its first failing seed, linked to that seed's run page when the caller
/// wrote one: `run_page(sweep index)`), and each coverage path with the seeds and sweeps
/// where it fired. `describe_path` gives a path's meaning.
pub fn render_soak_html(
    report: &SoakReport,
    describe_path: &dyn Fn(&str) -> Option<String>,
    run_page: &dyn Fn(usize) -> Option<String>,
) -> String {
    let verdict = if report.failed == 0 {
        format!(
            "<p class=\"pass\"><b>{} runs, every one held</b></p>",
            report.runs
        )
    } else {
        format!(
            "<p class=\"fail\"><b>{} runs, {} failed</b></p>",
            report.runs, report.failed
        )
    };
    let mut body = verdict;
    body.push_str(
        "<h2>Sweeps</h2><table class=\"grid\" id=\"sweeps\"><tr><th>scenario</th><th>run key</th>\
         <th>swarm</th><th>runs</th><th>failed</th><th>anomaly kinds (seeds)</th><th>replay</th></tr>",
    );
    for (i, sweep) in report.sweeps.iter().enumerate() {
        let key = sweep.run_key();
        let kinds = sweep.kinds_with_seeds();
        let class = if sweep.failed > 0 {
            " class=\"fail\""
        } else {
            ""
        };
        let replay = format!(
            "<code>{}</code>",
            escape(sweep.replay.as_deref().unwrap_or(""))
        );
        let replay = match run_page(i) {
            Some(page) => format!("{replay} <a href=\"{}\">run page</a>", escape(&page)),
            None => replay,
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{class}>{}</td><td>{}</td>\
             <td>{replay}</td></tr>",
            escape(&sweep.scenario),
            escape(&key),
            if sweep.swarm { "on" } else { "off" },
            sweep.runs,
            sweep.failed,
            escape(&kinds.join(", ")),
        );
    }
    body.push_str("</table>");
    body.push_str(&soak_coverage(report, describe_path));
    page(&format!("eosim soak — seeds {}", report.seeds), &body)
}

/// Per coverage path: the seeds where it fired over every sweep, and in how many sweeps.
fn soak_coverage(report: &SoakReport, describe_path: &dyn Fn(&str) -> Option<String>) -> String {
    let mut paths: BTreeMap<&str, (u64, usize)> = BTreeMap::new();
    for sweep in &report.sweeps {
        for (path, &seeds) in &sweep.coverage {
            let entry = paths.entry(path).or_default();
            entry.0 += seeds;
            entry.1 += usize::from(seeds > 0);
        }
    }
    let mut rows: Vec<_> = paths.into_iter().collect();
    rows.sort_by_key(|&(path, (seeds, _))| (seeds > 0, path));
    let mut html = String::from(
        "<h2>Coverage</h2><table class=\"grid\" id=\"coverage\"><tr><th>path</th>\
         <th>seeds where it fired</th><th>sweeps</th><th>meaning</th></tr>",
    );
    for (path, (seeds, sweeps)) in rows {
        let class = if seeds == 0 { " class=\"fail\"" } else { "" };
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td{class}>{seeds} of {}</td><td>{sweeps} of {}</td>\
             <td>{}</td></tr>",
            escape(path),
            report.runs,
            report.sweeps.len(),
            escape(&describe_path(path).unwrap_or_default())
        );
    }
    html.push_str("</table>");
    html
}

/// A hunt's page: the table README shows (`HuntReport::to_markdown`), as HTML.
pub fn render_hunt_html(report: &HuntReport) -> String {
    let markdown = report.to_markdown();
    let mut body = String::new();
    let mut in_table = false;
    for line in markdown.lines() {
        if let Some(row) = line.strip_prefix("| ").and_then(|l| l.strip_suffix(" |")) {
            let header = !in_table;
            if header {
                body.push_str("<table class=\"grid\" id=\"hunt\">");
                in_table = true;
            }
            let tag = if header { "th" } else { "td" };
            body.push_str("<tr>");
            for cell in row.split(" | ") {
                let _ = write!(body, "<{tag}>{}</{tag}>", inline(&cell.replace("\\|", "|")));
            }
            body.push_str("</tr>");
        } else if line.starts_with("|---") {
            continue;
        } else if !line.trim().is_empty() {
            if in_table {
                body.push_str("</table>");
                in_table = false;
            }
            let _ = write!(body, "<p>{}</p>", inline(line));
        }
    }
    if in_table {
        body.push_str("</table>");
    }
    page("eosim hunt", &body)
}

/// Markdown's `code` and **bold** of a table cell, as HTML (the rest escaped).
fn inline(text: &str) -> String {
    let mut html = String::new();
    for (i, part) in escape(text).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(html, "<code>{part}</code>");
        } else {
            let mut bold = false;
            for (j, piece) in part.split("**").enumerate() {
                if j > 0 {
                    html.push_str(if bold { "</b>" } else { "<b>" });
                    bold = !bold;
                }
                html.push_str(piece);
            }
        }
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_markdown_becomes_code_and_bold_and_the_rest_is_escaped() {
        assert_eq!(
            inline("`no-dedup` is **FAILED** <x>"),
            "<code>no-dedup</code> is <b>FAILED</b> &lt;x&gt;"
        );
    }

    #[test]
    fn a_soak_page_lists_every_sweep_and_never_reached_paths_first() {
        let sweep = |scenario: &str, failed: u64, fired: u64| crate::sweep::SweepReport {
            scenario: scenario.into(),
            guarantee: "exactly-once".into(),
            runs: 10,
            failed,
            replay: (failed > 0).then(|| format!("eosim run {scenario} --seed 3")),
            coverage: [
                ("dedup-hit".to_string(), fired),
                ("rebalance".to_string(), 0),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let report = SoakReport::new(
            "0..=9",
            None,
            vec![sweep("a", 0, 4), sweep("b", 1, 0)],
            false,
        );
        let run_page = |i: usize| (i == 1).then(|| "soak-b.html".to_string());
        let page = render_soak_html(&report, &|p| Some(format!("about {p}")), &run_page);
        assert!(
            page.contains("<a href=\"soak-b.html\">run page</a>"),
            "{page}"
        );
        assert_eq!(page.matches("<tr>").count(), 1 + 2 + 1 + 2, "{page}");
        assert!(page.contains("<code>eosim run b --seed 3</code>"));
        assert!(page.find("rebalance").unwrap() < page.find("dedup-hit").unwrap());
        assert!(page.contains("4 of 20</td><td>1 of 2"), "{page}");
    }
}
