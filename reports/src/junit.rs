//! JUnit XML for CI systems: one test case per seed.

use std::fmt::Write;

use crate::failure::Failure;
use crate::run::{RunReport, Verdict};
use crate::sweep::SweepReport;

/// A failure element's `type`: why the case failed (panic, safety, liveness), or "anomaly"
/// for a report made before failures were recorded.
fn failure_type(failure: Option<Failure>) -> &'static str {
    failure.map_or("anomaly", Failure::name)
}

/// Escapes text for XML attributes and character data.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn suite_name(scenario: &str, guarantee: &str, variants: &[String]) -> String {
    let mut name = format!("{scenario} {guarantee}");
    for v in variants {
        name.push('+');
        name.push_str(v);
    }
    name
}

/// A single run as a one-case suite; the failure lists each finding's explanation.
pub fn run_junit(report: &RunReport) -> String {
    let suite = suite_name(&report.scenario, &report.guarantee, &report.variants);
    let failed = u32::from(report.verdict == Verdict::Fail);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites tests=\"1\" failures=\"{failed}\">");
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"1\" failures=\"{failed}\">",
        escape(&suite)
    );
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"seed {}\"",
        escape(&suite),
        report.seed
    );
    if report.verdict == Verdict::Pass {
        out.push_str("/>\n");
    } else {
        out.push_str(">\n");
        let kinds: Vec<String> = report
            .anomaly_counts
            .iter()
            .map(|(k, n)| format!("{k} x{n}"))
            .collect();
        let _ = writeln!(
            out,
            "      <failure message=\"{}\" type=\"{}\">",
            escape(&kinds.join(", ")),
            failure_type(report.failure)
        );
        if let Some(panic) = &report.panic {
            let _ = writeln!(out, "panic: {}", escape(panic));
        }
        for a in &report.anomalies {
            let _ = writeln!(
                out,
                "{}: {}",
                escape(a.anomaly.kind().name()),
                escape(&a.explanation)
            );
        }
        let _ = writeln!(out, "replay: {}", escape(&report.replay));
        out.push_str("      </failure>\n    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// A sweep: one test case per seed; a failing case names its anomaly kinds and how to replay.
pub fn sweep_junit(report: &SweepReport, replay_for_seed: impl Fn(u64) -> String) -> String {
    let suite = suite_name(&report.scenario, &report.guarantee, &report.variants);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" failures=\"{}\">",
        report.runs, report.failed
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">",
        escape(&suite),
        report.runs,
        report.failed
    );
    for r in &report.results {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"seed {}\"",
            escape(&suite),
            r.seed
        );
        if r.verdict == Verdict::Pass {
            out.push_str("/>\n");
        } else {
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"{}\">",
                escape(&r.kinds.join(", ")),
                failure_type(r.failure)
            );
            let _ = writeln!(out, "replay: {}", escape(&replay_for_seed(r.seed)));
            out.push_str("      </failure>\n    </testcase>\n");
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// A soak as JUnit: a test suite, a test case per sweep (scenario, run key, swarm); a failing
/// sweep lists its failing seeds and the command that replays the first.
pub fn soak_junit(report: &crate::SoakReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failing = report.sweeps.iter().filter(|s| s.failed > 0).count();
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" failures=\"{failing}\">",
        report.sweeps.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"soak {}\" tests=\"{}\" failures=\"{failing}\">",
        escape(&report.seeds),
        report.sweeps.len()
    );
    for sweep in &report.sweeps {
        let suite = suite_name(&sweep.scenario, &sweep.guarantee, &sweep.variants);
        let name = format!("{suite} swarm {}", if sweep.swarm { "on" } else { "off" });
        let _ = write!(
            out,
            "    <testcase classname=\"soak\" name=\"{}\"",
            escape(&name)
        );
        if sweep.failed == 0 {
            out.push_str("/>\n");
            continue;
        }
        let seeds: Vec<String> = sweep.failing_seeds.iter().map(u64::to_string).collect();
        // The most telling way any of its seeds failed.
        let failure = sweep.failures.keys().min().copied();
        let _ = writeln!(
            out,
            ">\n      <failure message=\"{} of {} seeds failed\" type=\"{}\">",
            sweep.failed,
            sweep.runs,
            failure_type(failure)
        );
        let _ = writeln!(out, "failing seeds: {}", seeds.join(" "));
        if let Some(replay) = &sweep.replay {
            let _ = writeln!(out, "replay: {}", escape(replay));
        }
        out.push_str("      </failure>\n    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn a_failing_case_is_typed_by_its_failure() {
        let result = |seed, failure: Option<Failure>, kinds: &[&str]| crate::SeedResult {
            seed,
            verdict: if kinds.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            failure,
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            trace_hash: "0".repeat(16),
            coverage: Default::default(),
        };
        let report = SweepReport {
            results: vec![
                result(0, Some(Failure::Liveness), &["not-converged"]),
                result(1, Some(Failure::Panic), &["panic"]),
                result(2, None, &[]),
                // Read from a report made before failures were recorded.
                result(3, None, &["duplicate"]),
            ],
            ..SweepReport::default()
        };
        let xml = sweep_junit(&report, |seed| format!("replay {seed}"));
        for failure_type in ["liveness", "panic", "anomaly"] {
            assert!(xml.contains(&format!("type=\"{failure_type}\"")), "{xml}");
        }
    }
}
