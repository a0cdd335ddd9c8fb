//! One run: the JSON record and the text summary.

use std::collections::BTreeMap;
use std::fmt::Write;

use checker::Anomaly;
use serde::{Deserialize, Serialize};

use crate::failure::{self, Failure};

/// Whether every property held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    /// A run passes when it did not fail.
    pub fn of(failure: Option<Failure>) -> Self {
        match failure {
            None => Verdict::Pass,
            Some(_) => Verdict::Fail,
        }
    }
}

/// A finding with its explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyReport {
    #[serde(flatten)]
    pub anomaly: Anomaly,
    pub explanation: String,
}

impl From<&Anomaly> for AnomalyReport {
    fn from(anomaly: &Anomaly) -> Self {
        Self {
            anomaly: anomaly.clone(),
            explanation: anomaly.explain(),
        }
    }
}

/// The JSON result of `eosim run` (schema version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema: u32,
    pub scenario: String,
    pub seed: u64,
    pub guarantee: String,
    pub variants: Vec<String>,
    pub verdict: Verdict,
    /// Why the run failed: a panic, a safety or a liveness anomaly (see [`Failure`]). Absent
    /// when it passed, and from reports made before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Every finding, in the checker's stable order.
    pub anomalies: Vec<AnomalyReport>,
    /// Number of findings per kind (and, for readers of version 1, "panic": 1 if the
    /// simulation panicked).
    pub anomaly_counts: BTreeMap<String, u64>,
    /// The message of a panic that ended the simulation (an invariant broke), if any.
    pub panic: Option<String>,
    /// Stable 64-bit hash of the event trace, 16 hex digits.
    pub trace_hash: String,
    pub trace_events: u64,
    /// The fault plan applied, in time order.
    pub faults: serde_json::Value,
    /// What a swarm mix enabled for this seed: `faults` (mix weight names), `messages`,
    /// `nodes` (message-fault targets), `crash_targets`. Absent without swarm testing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<serde_json::Value>,
    /// Counts: virtual time, messages, sends, log records.
    pub stats: serde_json::Value,
    /// The command that replays this run exactly.
    pub replay: String,
    /// Times each coverage point (a marked protocol path, README "Coverage") fired in this
    /// run, every point listed. Absent from reports made before coverage existed.
    #[serde(default)]
    pub coverage: BTreeMap<String, u64>,
    /// Targeted message faults of the plan that matched no message.
    #[serde(default)]
    pub unmatched_faults: Vec<UnmatchedFault>,
}

/// A targeted fault of the plan that took no message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmatchedFault {
    /// Position in the plan (`faults`).
    pub index: usize,
    /// The fault's kind ("lose-acks").
    pub kind: String,
    pub description: String,
}

/// A swarm draw on one line: each list as `name [a, b]`.
fn render_swarm(swarm: &serde_json::Value) -> String {
    let Some(fields) = swarm.as_object() else {
        return swarm.to_string();
    };
    let lists: Vec<String> = fields
        .iter()
        .map(|(name, items)| {
            let items: Vec<&str> = items
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            format!("{name} [{}]", items.join(", "))
        })
        .collect();
    lists.join("; ")
}

/// JSON schema version of `RunReport` and `SweepReport`.
pub const SCHEMA_VERSION: u32 = 1;

/// How many findings the text summary shows before "… and N more".
pub const TEXT_ANOMALY_LIMIT: usize = 8;

impl RunReport {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// Counts per kind from a run's findings and failure, as `anomaly_counts` lists them.
    pub fn count_kinds(anomalies: &[Anomaly], failure: Option<Failure>) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for name in failure::kind_names(anomalies.iter().map(Anomaly::kind), failure) {
            *counts.entry(name).or_insert(0) += 1;
        }
        counts
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// The one-screen summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write_verdict(&mut out);
        self.write_faults(&mut out);
        if let Some(swarm) = &self.swarm {
            let _ = writeln!(out, "swarm: {}", render_swarm(swarm));
        }
        self.write_stats(&mut out);
        let _ = writeln!(
            out,
            "trace: {} ({} events)",
            self.trace_hash, self.trace_events
        );
        self.write_anomalies(&mut out);
        let _ = writeln!(out, "replay: {}", self.replay);
        out
    }

    /// The run's header line, the verdict and any panic.
    fn write_verdict(&self, out: &mut String) {
        let variants = crate::variants_label(&self.variants);
        let _ = writeln!(
            out,
            "eosim run {}  seed {}  guarantee {}  variants {}",
            self.scenario, self.seed, self.guarantee, variants
        );
        // The failure type first (panic, safety, liveness), as JSON's `failure` says it.
        let failure = self.failure.map_or("", |f| f.name());
        let verdict = match (self.verdict, &self.panic) {
            (_, Some(_)) => format!("FAIL {failure} (the simulation panicked)"),
            (Verdict::Pass, None) => "PASS (every property held)".to_string(),
            (Verdict::Fail, None) => {
                let counts: Vec<String> = self
                    .anomaly_counts
                    .iter()
                    .map(|(k, n)| format!("{k} ×{n}"))
                    .collect();
                format!("FAIL {failure} ({})", counts.join(", "))
            }
        };
        let _ = writeln!(out, "verdict: {verdict}");
        if let Some(panic) = &self.panic {
            let _ = writeln!(out, "panic: {panic}");
        }
    }

    /// The plan's faults (the first [`TEXT_FAULT_LIMIT`]) and the targeted ones that matched
    /// no message.
    fn write_faults(&self, out: &mut String) {
        let faults = self
            .faults
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let _ = writeln!(out, "faults: {} in the plan", faults.len());
        for fault in faults.iter().take(TEXT_FAULT_LIMIT) {
            let _ = writeln!(out, "  {}", render_fault(fault));
        }
        if faults.len() > TEXT_FAULT_LIMIT {
            let _ = writeln!(
                out,
                "  … and {} more (--json lists all)",
                faults.len() - TEXT_FAULT_LIMIT
            );
        }
        for f in &self.unmatched_faults {
            let _ = writeln!(
                out,
                "  fault #{} matched no message: {}",
                f.index, f.description
            );
        }
    }

    /// The counts on one line, why a run did not converge, and the coverage reached.
    fn write_stats(&self, out: &mut String) {
        let _ = writeln!(out, "stats: {}", compact_stats(&self.stats));
        // A run that did not converge says how far it got and whether its workload simply
        // outlasts the heal deadline (`stats.not_converged`, filled by the scenario runner).
        if let Some(why) = self
            .stats
            .get(NOT_CONVERGED)
            .and_then(|n| n.get("explanation"))
            .and_then(|e| e.as_str())
        {
            let _ = writeln!(out, "not converged: {why}");
        }
        if !self.coverage.is_empty() {
            let reached = self.coverage.values().filter(|&&n| n > 0).count();
            let _ = writeln!(
                out,
                "coverage: {reached} of {} paths reached (--json lists them)",
                self.coverage.len()
            );
        }
    }

    /// The first [`TEXT_ANOMALY_LIMIT`] findings with their explanations.
    fn write_anomalies(&self, out: &mut String) {
        if self.anomalies.is_empty() {
            return;
        }
        let _ = writeln!(out, "anomalies:");
        for a in self.anomalies.iter().take(TEXT_ANOMALY_LIMIT) {
            let _ = writeln!(out, "  - {}: {}", a.anomaly.kind(), a.explanation);
        }
        if self.anomalies.len() > TEXT_ANOMALY_LIMIT {
            let _ = writeln!(
                out,
                "  … and {} more (--json lists all)",
                self.anomalies.len() - TEXT_ANOMALY_LIMIT
            );
        }
    }
}

/// How many faults the text summary lists.
pub const TEXT_FAULT_LIMIT: usize = 16;

/// "@461 ms crash node=broker-3" from a fault's JSON form.
fn render_fault(fault: &serde_json::Value) -> String {
    let at = fault.get("at_ms").and_then(|v| v.as_u64()).unwrap_or(0);
    let kind = fault.get("kind").and_then(|v| v.as_str()).unwrap_or("?");
    let mut rest = Vec::new();
    if let Some(map) = fault.as_object() {
        for (k, v) in map.iter().filter(|(k, _)| *k != "at_ms" && *k != "kind") {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            rest.push(format!("{k}={v}"));
        }
    }
    format!("@{at:>5} ms {kind} {}", rest.join(" "))
}

/// The stats entry of a run that did not converge (its explanation gets a line of its own).
const NOT_CONVERGED: &str = "not_converged";

/// `key=value` pairs of a flat or nested JSON object, on one line (without `not_converged`'s
/// explanation, which the summary prints on its own line).
fn compact_stats(stats: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    let mut stats = stats.clone();
    if let Some(n) = stats.get_mut(NOT_CONVERGED).and_then(|n| n.as_object_mut()) {
        n.remove("explanation");
    }
    flatten("", &stats, &mut parts);
    parts.join(" ")
}

fn flatten(prefix: &str, value: &serde_json::Value, parts: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, parts);
            }
        }
        other => parts.push(format!("{prefix}={other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(stats: serde_json::Value) -> RunReport {
        RunReport {
            swarm: None,
            schema: SCHEMA_VERSION,
            scenario: "s".into(),
            seed: 1,
            guarantee: "exactly-once".into(),
            variants: vec![],
            verdict: Verdict::Fail,
            failure: Some(Failure::Liveness),
            anomalies: vec![],
            anomaly_counts: Default::default(),
            panic: None,
            trace_hash: "0".repeat(16),
            trace_events: 0,
            faults: serde_json::json!([]),
            stats,
            replay: "eosim run s".into(),
            coverage: Default::default(),
            unmatched_faults: vec![],
        }
    }

    #[test]
    fn a_run_that_did_not_converge_says_why_on_a_line_of_its_own() {
        let text = report(serde_json::json!({
            "virtual_ms": 13017,
            "not_converged": {
                "work_done": 390,
                "work_expected": 3000,
                "workload_outlasts_deadline": true,
                "explanation": "the workload outlasts faults.heal_deadline_ms: 390 of 3000",
            },
        }))
        .to_text();
        assert!(
            text.contains(
                "\nnot converged: the workload outlasts faults.heal_deadline_ms: 390 of 3000\n"
            ),
            "{text}"
        );
        let stats = text.lines().find(|l| l.starts_with("stats:")).unwrap();
        assert!(
            stats.contains("not_converged.work_done=390") && !stats.contains("explanation"),
            "{stats}"
        );
        let converged = report(serde_json::json!({ "virtual_ms": 1 })).to_text();
        assert!(!converged.contains("not converged"), "{converged}");
    }

    #[test]
    fn the_failure_is_written_for_a_failed_run_only_and_old_reports_read_without_it() {
        let failed = report(serde_json::json!({}));
        let json = failed.to_json();
        assert!(json.contains("\"failure\": \"liveness\""), "{json}");
        let passed = RunReport {
            verdict: Verdict::Pass,
            failure: None,
            ..failed.clone()
        };
        let json = passed.to_json();
        assert!(!json.contains("failure"), "{json}");
        // A version 1 report from before the field: it reads as no failure recorded.
        let mut old: serde_json::Value = serde_json::from_str(&failed.to_json()).unwrap();
        old.as_object_mut().unwrap().remove("failure");
        let old: RunReport = serde_json::from_value(old).unwrap();
        assert_eq!(old.failure, None);
    }

    #[test]
    fn a_panic_is_counted_under_its_version_1_pseudo_kind() {
        let counts = RunReport::count_kinds(&[], Some(Failure::Panic));
        assert_eq!(counts, BTreeMap::from([("panic".to_string(), 1)]));
        assert!(RunReport::count_kinds(&[], None).is_empty());
        assert_eq!(Verdict::of(None), Verdict::Pass);
        assert_eq!(Verdict::of(Some(Failure::Safety)), Verdict::Fail);
    }
}
