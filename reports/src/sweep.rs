//! A sweep over many seeds: per-seed results and totals.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::run::Verdict;

/// One seed of a sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedResult {
    pub seed: u64,
    pub verdict: Verdict,
    /// Distinct anomaly kinds found (sorted); "panic" if the simulation panicked.
    pub kinds: Vec<String>,
    pub trace_hash: String,
}

/// The JSON result of `eosim sweep` (schema version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub schema: u32,
    pub scenario: String,
    pub guarantee: String,
    pub variants: Vec<String>,
    /// The seeds asked for, as "A..B" (B exclusive), and the shard "K/N" if any.
    pub seeds: String,
    pub shard: Option<String>,
    pub runs: u64,
    pub failed: u64,
    pub failing_seeds: Vec<u64>,
    /// Number of seeds that showed each kind.
    pub anomaly_counts: BTreeMap<String, u64>,
    pub results: Vec<SeedResult>,
    /// Replays the first failing seed, if any.
    pub replay: Option<String>,
}

impl SweepReport {
    /// Totals from per-seed results.
    pub fn summarise(mut self) -> Self {
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
        let mut merged = parts.next().ok_or("nothing to merge")?;
        for part in parts {
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

    pub fn to_text(&self) -> String {
        let mut out = String::new();
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
            let more = if self.failing_seeds.len() > 20 {
                " …"
            } else {
                ""
            };
            let _ = writeln!(out, "failing seeds: {}{more}", shown.join(" "));
        }
        if let Some(replay) = &self.replay {
            let _ = writeln!(out, "replay: {replay}");
        }
        out
    }
}
