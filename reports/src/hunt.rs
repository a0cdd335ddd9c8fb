//! `eosim hunt`: per protocol variant, how fast its catchers find it (runs to the first
//! failing one, wall time), how small the failure shrinks, and whether the default protocol
//! passes the same runs. Rendered as text, JSON or a Markdown table (README's variant table).

use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// The JSON result of `eosim hunt` (schema version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HuntReport {
    pub schema: u32,
    /// The command that made it, as the Markdown's lead line shows it.
    pub command: String,
    /// Wall-time budget of each variant's search, seconds.
    pub budget_s: u64,
    /// The most seeds a search tries.
    pub max_seeds: u64,
    /// The shrinker's run budget.
    pub shrink_runs: u32,
    /// Wall time of the whole hunt, seconds.
    pub wall_s: f64,
    /// One row per variant, in declaration order.
    pub rows: Vec<HuntRow>,
    /// Stopped early (Ctrl-C). Absent from JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// One variant's hunt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HuntRow {
    pub variant: String,
    /// A run failed under the variant.
    pub caught: bool,
    /// Runs of the search up to and including the first failing one, in the documented
    /// order (seed 0, 1, …; each catcher plain, then swarm). Null when not caught.
    pub seeds_to_first_catch: Option<u64>,
    /// Wall time of this variant's hunt (search, shrink, default runs), seconds.
    pub wall_s: f64,
    /// Faults of the shrunk failure. Null when not caught or not shrunk.
    pub shrunk_faults: Option<usize>,
    /// Anomaly kinds of the first failing run (with "panic" if it panicked).
    pub anomaly_kinds: Vec<String>,
    /// The default protocol passed every run of the search. Null when nothing ran.
    pub default_clean: Option<bool>,
    /// The variant's catchers: "scenario run-key".
    pub catchers: Vec<String>,
    /// Runs of the search (all of them when not caught).
    pub runs: u64,
    /// The first failing run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caught_by: Option<CaughtBy>,
    /// The shrunk failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrunk: Option<ShrunkRow>,
    /// Why the catch was not shrunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrink_error: Option<String>,
    /// Why the variant was not caught.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Runs made without the variant (the search's runs, fewer only after Ctrl-C).
    pub default_runs: u64,
    /// The replay command of each run the default protocol failed, with its kinds.
    pub default_failures: Vec<String>,
}

/// The run that caught a variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtBy {
    pub scenario: String,
    pub run_key: String,
    pub seed: u64,
    pub swarm: bool,
    /// Faults and workload of the failing run.
    pub faults: usize,
    pub workload: String,
    pub replay: String,
}

/// A caught run shrunk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrunkRow {
    /// The anomaly kind kept.
    pub target: String,
    pub faults: usize,
    pub workload: String,
    /// The kinds the shrunk run shows.
    pub kinds: Vec<String>,
    /// The first line of the shrunk run's first finding of the target kind.
    pub explanation: String,
    /// Candidate runs the shrinker made.
    pub runs: u32,
}

impl HuntRow {
    /// The variant has a catcher, was caught, and the default protocol passed the same runs.
    pub fn held(&self) -> bool {
        self.catchers.is_empty() || (self.caught && self.default_clean == Some(true))
    }
}

impl HuntReport {
    /// Every variant with a catcher caught, and the default protocol clean on the same runs.
    pub fn held(&self) -> bool {
        self.rows.iter().all(HuntRow::held)
    }

    /// Runs the default protocol failed, over every variant.
    pub fn default_failures(&self) -> usize {
        self.rows.iter().map(|r| r.default_failures.len()).sum()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("hunt reports serialise")
    }

    /// A block per variant, then the totals.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "eosim hunt  budget {} s per variant, at most {} seeds, shrink budget {} runs\n",
            self.budget_s, self.max_seeds, self.shrink_runs
        );
        for row in &self.rows {
            out.push_str(&row_text(row));
        }
        let with_catcher: Vec<&HuntRow> = self
            .rows
            .iter()
            .filter(|r| !r.catchers.is_empty())
            .collect();
        let _ = writeln!(
            out,
            "variants: {}  caught: {} of {} with a catcher  default clean: {} of {}  wall {:.1} s{}",
            self.rows.len(),
            with_catcher.iter().filter(|r| r.caught).count(),
            with_catcher.len(),
            with_catcher
                .iter()
                .filter(|r| r.default_clean == Some(true))
                .count(),
            with_catcher.len(),
            self.wall_s,
            if self.interrupted {
                "  (interrupted)"
            } else {
                ""
            }
        );
        if self.default_failures() > 0 {
            let _ = writeln!(
                out,
                "DEFAULT PROTOCOL FAILED {} run(s): a bug in the protocol as it should be, not in a variant",
                self.default_failures()
            );
        }
        out
    }

    /// The Markdown table README shows: a lead line with the command and budgets, a row per
    /// variant, and the total wall time.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "`{}` (budget {} s per variant, at most {} seeds, shrink budget {} runs):\n\n",
            self.command, self.budget_s, self.max_seeds, self.shrink_runs
        );
        out.push_str(
            "| variant | caught by (first failing run) | runs to first catch | shrunk faults | \
             shrunk workload | anomalies (first failing run) | first finding, shrunk | \
             default protocol, same runs | wall s |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|---|---|\n");
        for row in &self.rows {
            out.push_str(&row_markdown(row));
        }
        let _ = writeln!(
            out,
            "\nTotal wall time {:.1} s{}.",
            self.wall_s,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
        out
    }
}

/// One variant as text: how it was caught, shrunk and checked without it, or why not.
fn row_text(row: &HuntRow) -> String {
    let mut out = String::new();
    let Some(by) = &row.caught_by else {
        let reason = row.reason.as_deref().unwrap_or("not caught");
        let _ = writeln!(
            out,
            "{}  NOT CAUGHT: {reason} ({} runs, {:.1} s)",
            row.variant, row.runs, row.wall_s
        );
        if !row.catchers.is_empty() {
            let _ = writeln!(out, "  catchers: {}", row.catchers.join(", "));
        }
        out.push_str(&default_text(row));
        return out;
    };
    let _ = writeln!(
        out,
        "{}  caught by {} {} seed {}{} after {} run(s), {:.1} s",
        row.variant,
        by.scenario,
        by.run_key,
        by.seed,
        if by.swarm { " (swarm)" } else { "" },
        row.runs,
        row.wall_s
    );
    let _ = writeln!(out, "  anomalies: {}", row.anomaly_kinds.join(", "));
    match (&row.shrunk, &row.shrink_error) {
        (Some(s), _) => {
            let _ = writeln!(
                out,
                "  shrunk: {} -> {} fault(s), {} -> {} (`{}`, {} runs)\n  first finding: {}",
                by.faults, s.faults, by.workload, s.workload, s.target, s.runs, s.explanation
            );
        }
        (None, error) => {
            let _ = writeln!(
                out,
                "  not shrunk: {}",
                error.as_deref().unwrap_or("unknown")
            );
        }
    }
    out.push_str(&default_text(row));
    let _ = writeln!(out, "  replay: {}", by.replay);
    out
}

/// The default protocol's verdict on a variant's runs, loud when it failed.
fn default_text(row: &HuntRow) -> String {
    match row.default_clean {
        None => String::new(),
        Some(true) => format!(
            "  default protocol: clean on the same {} run(s)\n",
            row.default_runs
        ),
        Some(false) => {
            let mut out = format!(
                "  DEFAULT PROTOCOL FAILED {} of the same {} run(s):\n",
                row.default_failures.len(),
                row.default_runs
            );
            for failure in &row.default_failures {
                let _ = writeln!(out, "    {failure}");
            }
            out
        }
    }
}

/// One variant as a Markdown table row.
fn row_markdown(row: &HuntRow) -> String {
    let default = match row.default_clean {
        None => "—".to_string(),
        Some(true) => format!("clean ({})", runs(row.default_runs)),
        Some(false) => format!(
            "**FAILED {} of {}**",
            row.default_failures.len(),
            row.default_runs
        ),
    };
    let Some(by) = &row.caught_by else {
        let reason = row.reason.as_deref().unwrap_or("not caught");
        return format!(
            "| `{}` | not caught: {} | — ({}) | — | — | — | — | {default} | {:.1} |\n",
            row.variant,
            cell(reason),
            runs(row.runs),
            row.wall_s
        );
    };
    let (faults, workload, finding) = match &row.shrunk {
        Some(s) => (
            format!("{} (of {})", s.faults, by.faults),
            format!("{} (of {})", s.workload, by.workload),
            format!("`{}`: {}", s.target, s.explanation),
        ),
        None => (
            format!("not shrunk (of {})", by.faults),
            by.workload.clone(),
            row.shrink_error.clone().unwrap_or_default(),
        ),
    };
    format!(
        "| `{}` | {} `{}` seed {}{} | {} | {faults} | {} | {} | {} | {default} | {:.1} |\n",
        row.variant,
        by.scenario,
        by.run_key,
        by.seed,
        if by.swarm { " swarm" } else { "" },
        row.runs,
        cell(&workload),
        row.anomaly_kinds.join(", "),
        cell(&finding),
        row.wall_s
    )
}

/// "1 run", "3 runs".
fn runs(n: u64) -> String {
    if n == 1 {
        "1 run".to_string()
    } else {
        format!("{n} runs")
    }
}

/// Text made safe for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caught_row() -> HuntRow {
        HuntRow {
            variant: "no-dedup".into(),
            caught: true,
            seeds_to_first_catch: Some(1),
            wall_s: 0.1,
            shrunk_faults: Some(1),
            anomaly_kinds: vec!["duplicate".into()],
            default_clean: Some(true),
            catchers: vec!["produce-retries exactly-once+no-dedup".into()],
            runs: 1,
            caught_by: Some(CaughtBy {
                scenario: "produce-retries".into(),
                run_key: "exactly-once+no-dedup".into(),
                seed: 0,
                swarm: false,
                faults: 13,
                workload: "3 producers x 100 values".into(),
                replay: "eosim run produce-retries --seed 0 --variant no-dedup".into(),
            }),
            shrunk: Some(ShrunkRow {
                target: "duplicate".into(),
                faults: 1,
                workload: "1 producers x 1 values".into(),
                kinds: vec!["duplicate".into()],
                explanation: "a | b".into(),
                runs: 38,
            }),
            shrink_error: None,
            reason: None,
            default_runs: 1,
            default_failures: Vec::new(),
        }
    }

    fn report(rows: Vec<HuntRow>) -> HuntReport {
        HuntReport {
            schema: 1,
            command: "eosim hunt no-dedup".into(),
            budget_s: 60,
            max_seeds: 10,
            shrink_runs: 400,
            wall_s: 0.1,
            rows,
            interrupted: false,
        }
    }

    #[test]
    fn a_default_protocol_failure_is_loud_and_fails_the_hunt() {
        let mut row = caught_row();
        row.default_clean = Some(false);
        row.default_failures =
            vec!["eosim run produce-retries --seed 0 --guarantee exactly-once  (duplicate)".into()];
        let failed = report(vec![row]);
        assert!(!failed.held());
        assert!(
            failed
                .to_text()
                .contains("DEFAULT PROTOCOL FAILED 1 of the same 1 run(s)")
        );
        assert!(
            failed
                .to_text()
                .contains("    eosim run produce-retries --seed 0")
        );
        assert!(failed.to_markdown().contains("**FAILED 1 of 1**"));
        assert!(report(vec![caught_row()]).held());
    }

    #[test]
    fn a_variant_without_a_catcher_does_not_fail_the_hunt_but_one_not_caught_does() {
        let no_catcher = HuntRow {
            caught: false,
            catchers: Vec::new(),
            caught_by: None,
            default_clean: None,
            reason: Some("no catcher".into()),
            ..caught_row()
        };
        assert!(report(vec![caught_row(), no_catcher.clone()]).held());
        let missed = HuntRow {
            catchers: vec!["zombie-fencing-v2 exactly-once+no-generation-check".into()],
            reason: Some("not caught within the budget of 60 s".into()),
            ..no_catcher
        };
        let text = report(vec![missed.clone()]).to_text();
        assert!(
            text.contains("NOT CAUGHT: not caught within the budget"),
            "{text}"
        );
        assert!(!report(vec![missed]).held());
    }

    #[test]
    fn markdown_cells_escape_pipes() {
        let markdown = report(vec![caught_row()]).to_markdown();
        assert!(markdown.contains("`duplicate`: a \\| b"), "{markdown}");
    }
}
