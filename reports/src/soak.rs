//! `eosim soak`: every built-in scenario under each run key that must pass, swarm off and on,
//! one sweep each. The report is the sweeps, their totals and the replay commands of what
//! failed.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::sweep::SweepReport;

/// The JSON result of `eosim soak` (schema version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SoakReport {
    pub schema: u32,
    /// The seeds every sweep ran, "A..=B", and the shard "K/N" if any.
    pub seeds: String,
    pub shard: Option<String>,
    /// Runs and failed runs over every sweep.
    pub runs: u64,
    pub failed: u64,
    /// The replay command of each failing sweep's first failing seed.
    pub replays: Vec<String>,
    /// One sweep per (scenario, run key, swarm setting).
    pub sweeps: Vec<SweepReport>,
    /// Stopped early (Ctrl-C). Absent from JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl SoakReport {
    pub fn new(
        seeds: &str,
        shard: Option<String>,
        sweeps: Vec<SweepReport>,
        interrupted: bool,
    ) -> Self {
        Self {
            schema: crate::run::SCHEMA_VERSION,
            seeds: seeds.to_string(),
            shard,
            runs: sweeps.iter().map(|s| s.runs).sum(),
            failed: sweeps.iter().map(|s| s.failed).sum(),
            replays: sweeps.iter().filter_map(|s| s.replay.clone()).collect(),
            interrupted: interrupted || sweeps.iter().any(|s| s.interrupted),
            sweeps,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("soak reports serialise")
    }

    /// One line per sweep, the totals, and the replay commands of failures.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let shard = self
            .shard
            .as_deref()
            .map_or(String::new(), |s| format!("  shard {s}"));
        let _ = writeln!(out, "eosim soak  seeds {}{shard}", self.seeds);
        for sweep in &self.sweeps {
            let _ = writeln!(out, "  {}", case_line(sweep));
        }
        let _ = writeln!(
            out,
            "sweeps: {}  runs: {}  failed: {}{}",
            self.sweeps.len(),
            self.runs,
            self.failed,
            if self.interrupted {
                "  (interrupted: the sweeps that finished)"
            } else {
                ""
            }
        );
        let never = self.paths_never_reached();
        if !never.is_empty() {
            let _ = writeln!(
                out,
                "paths never reached by any sweep: {}",
                never.join(", ")
            );
        }
        for replay in &self.replays {
            let _ = writeln!(out, "replay: {replay}");
        }
        out
    }

    /// Coverage points no seed of any sweep reached.
    pub fn paths_never_reached(&self) -> Vec<&str> {
        let mut reached: std::collections::BTreeMap<&str, u64> = Default::default();
        for sweep in &self.sweeps {
            for (path, seeds) in &sweep.coverage {
                *reached.entry(path.as_str()).or_default() += seeds;
            }
        }
        reached
            .into_iter()
            .filter(|(_, seeds)| *seeds == 0)
            .map(|(path, _)| path)
            .collect()
    }
}

/// One sweep of a soak on a line: scenario, run key, swarm, runs, failures and their kinds.
pub fn case_line(sweep: &SweepReport) -> String {
    let key = sweep.run_key();
    let kinds = sweep.kinds_with_seeds();
    format!(
        "{:<26} {:<36} swarm {:<3}  runs {:>7}  failed {}{}",
        sweep.scenario,
        key,
        if sweep.swarm { "on" } else { "off" },
        sweep.runs,
        sweep.failed,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        }
    )
}
