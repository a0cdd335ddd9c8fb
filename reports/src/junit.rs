//! JUnit XML for CI systems: one test case per seed (a soak: per sweep), each with its wall
//! time when it was measured and, when it failed, the failure's explanation in its message.

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

/// A `time` attribute (seconds, as JUnit readers expect), or nothing when the time is not
/// known (a result read back from JSON, which keeps no wall times: they vary run to run).
fn time_attr(seconds: Option<f64>) -> String {
    seconds.map_or(String::new(), |s| format!(" time=\"{s:.3}\""))
}

/// The sum of the known times, if any is known.
fn total_time(times: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    times
        .into_iter()
        .flatten()
        .fold(None, |sum, t| Some(sum.unwrap_or(0.0) + t))
}

/// `<?xml …?>`, `<testsuites>` and `<testsuite>` opened.
fn open_suites(out: &mut String, name: &str, tests: u64, failures: u64, time: Option<f64>) {
    let time = time_attr(time);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{tests}\" failures=\"{failures}\"{time}>"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\"{time}>",
        escape(name)
    );
}

/// A test case: passed (`failure` None) or failed with a message (the cause in a line), a
/// type (panic, safety, liveness) and a body of lines.
struct Case<'a> {
    classname: &'a str,
    name: String,
    time: Option<f64>,
    failure: Option<CaseFailure>,
}

struct CaseFailure {
    message: String,
    kind: &'static str,
    body: Vec<String>,
}

fn write_case(out: &mut String, case: &Case<'_>) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\"{}",
        escape(case.classname),
        escape(&case.name),
        time_attr(case.time)
    );
    let Some(failure) = &case.failure else {
        out.push_str("/>\n");
        return;
    };
    let _ = writeln!(
        out,
        ">\n      <failure message=\"{}\" type=\"{}\">",
        escape(&failure.message),
        failure.kind
    );
    for line in &failure.body {
        let _ = writeln!(out, "{}", escape(line));
    }
    out.push_str("      </failure>\n    </testcase>\n");
}

fn close_suites(out: &mut String) {
    out.push_str("  </testsuite>\n</testsuites>\n");
}

/// A single run as a one-case suite taking `time_s` (wall seconds, if measured); the failure's
/// message is its first finding's explanation, the body every finding's.
pub fn run_junit(report: &RunReport, time_s: Option<f64>) -> String {
    let suite = suite_name(&report.scenario, &report.guarantee, &report.variants);
    let failed = report.verdict == Verdict::Fail;
    let failure = failed.then(|| {
        let kinds: Vec<String> = report
            .anomaly_counts
            .iter()
            .map(|(k, n)| format!("{k} x{n}"))
            .collect();
        let mut body = vec![format!("kinds: {}", kinds.join(", "))];
        body.extend(report.panic.iter().map(|p| format!("panic: {p}")));
        body.extend(
            report
                .anomalies
                .iter()
                .map(|a| format!("{}: {}", a.anomaly.kind().name(), a.explanation)),
        );
        body.push(format!("replay: {}", report.replay));
        CaseFailure {
            message: run_message(report).unwrap_or_else(|| kinds.join(", ")),
            kind: failure_type(report.failure),
            body,
        }
    });
    let mut out = String::new();
    open_suites(&mut out, &suite, 1, u64::from(failed), time_s);
    let case = Case {
        classname: &suite,
        name: format!("seed {}", report.seed),
        time: time_s,
        failure,
    };
    write_case(&mut out, &case);
    close_suites(&mut out);
    out
}

/// A failed run's cause in a line: the panic, else the first finding of the kind that
/// decided the failure (as `eosim::failure_line` says it for sweeps).
fn run_message(report: &RunReport) -> Option<String> {
    let text = match &report.panic {
        Some(panic) => format!("panic: {panic}"),
        None => {
            let decisive = report
                .anomalies
                .iter()
                .find(|a| Some(Failure::of_kind(a.anomaly.kind())) == report.failure)
                .or(report.anomalies.first())?;
            format!(
                "{}: {}",
                decisive.anomaly.kind().name(),
                decisive.explanation
            )
        }
    };
    Some(
        text.lines()
            .next()
            .unwrap_or_default()
            .trim_end()
            .to_string(),
    )
}

/// A sweep: one test case per seed taking `time_for_seed` (wall seconds, when measured); a
/// failing case's message is the seed's explanation, its body the kinds and how to replay.
pub fn sweep_junit(
    report: &SweepReport,
    replay_for_seed: impl Fn(u64) -> String,
    time_for_seed: impl Fn(u64) -> Option<f64>,
) -> String {
    let suite = suite_name(&report.scenario, &report.guarantee, &report.variants);
    let total = total_time(report.results.iter().map(|r| time_for_seed(r.seed)));
    let mut out = String::new();
    open_suites(&mut out, &suite, report.runs, report.failed, total);
    for r in &report.results {
        let failure = (r.verdict == Verdict::Fail).then(|| {
            let kinds = r.kinds.join(", ");
            let mut body = vec![format!("kinds: {kinds}")];
            body.extend(r.explanation.clone());
            body.push(format!("replay: {}", replay_for_seed(r.seed)));
            CaseFailure {
                message: r.explanation.clone().unwrap_or(kinds),
                kind: failure_type(r.failure),
                body,
            }
        });
        let case = Case {
            classname: &suite,
            name: format!("seed {}", r.seed),
            time: time_for_seed(r.seed),
            failure,
        };
        write_case(&mut out, &case);
    }
    close_suites(&mut out);
    out
}

/// A soak as JUnit: a test suite, a test case per sweep (scenario, run key, swarm) taking
/// `time_for_sweep(i)` (wall seconds of `sweeps[i]`, when measured); a failing sweep lists
/// its failing seeds, the first one's explanation and the command that replays it.
pub fn soak_junit(
    report: &crate::SoakReport,
    time_for_sweep: impl Fn(usize) -> Option<f64>,
) -> String {
    let failing = report.sweeps.iter().filter(|s| s.failed > 0).count() as u64;
    let total = total_time((0..report.sweeps.len()).map(&time_for_sweep));
    let mut out = String::new();
    let suite = format!("soak {}", report.seeds);
    open_suites(&mut out, &suite, report.sweeps.len() as u64, failing, total);
    for (i, sweep) in report.sweeps.iter().enumerate() {
        let suite = suite_name(&sweep.scenario, &sweep.guarantee, &sweep.variants);
        let case = Case {
            classname: "soak",
            name: format!("{suite} swarm {}", if sweep.swarm { "on" } else { "off" }),
            time: time_for_sweep(i),
            failure: (sweep.failed > 0).then(|| soak_failure(sweep)),
        };
        write_case(&mut out, &case);
    }
    close_suites(&mut out);
    out
}

/// A failing soak sweep: how many seeds failed, which, why the first did and its replay.
fn soak_failure(sweep: &SweepReport) -> CaseFailure {
    let seeds: Vec<String> = sweep.failing_seeds.iter().map(u64::to_string).collect();
    let first = sweep.results.iter().find(|r| r.verdict == Verdict::Fail);
    let explanation =
        first.and_then(|r| Some(format!("seed {}: {}", r.seed, r.explanation.as_ref()?)));
    let count = format!("{} of {} seeds failed", sweep.failed, sweep.runs);
    let mut body = vec![format!("failing seeds: {}", seeds.join(" "))];
    body.extend(explanation.clone());
    body.extend(sweep.replay.as_ref().map(|r| format!("replay: {r}")));
    CaseFailure {
        message: explanation.map_or(count.clone(), |e| format!("{count}; {e}")),
        // The most telling way any of its seeds failed.
        kind: failure_type(sweep.failures.keys().min().copied()),
        body,
    }
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
            explanation: (!kinds.is_empty()).then(|| format!("{} <at> seed {seed}", kinds[0])),
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
        let xml = sweep_junit(
            &report,
            |seed| format!("replay {seed}"),
            |seed| Some(seed as f64 * 0.5),
        );
        for failure_type in ["liveness", "panic", "anomaly"] {
            assert!(xml.contains(&format!("type=\"{failure_type}\"")), "{xml}");
        }
        // Per-case times, their sum on the suite, and the explanation as the message.
        assert!(xml.contains("name=\"seed 1\" time=\"0.500\">"), "{xml}");
        assert!(xml.contains("name=\"seed 2\" time=\"1.000\"/>"), "{xml}");
        assert!(xml.contains("failures=\"0\" time=\"3.000\">"), "{xml}");
        assert!(
            xml.contains("<failure message=\"panic &lt;at&gt; seed 1\" type=\"panic\">"),
            "{xml}"
        );
        // Read back from JSON, a sweep has no times: no `time` attribute at all.
        let untimed = sweep_junit(&report, |seed| format!("replay {seed}"), |_| None);
        assert!(!untimed.contains("time="), "{untimed}");
    }
}
