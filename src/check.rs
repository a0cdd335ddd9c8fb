//! `eosim check FILE`: a history's format detected (or named by `--format`), then the log and
//! transaction checkers (eosim's histories) or the linearizability checker (the others).
//! A file that does not parse is bad input (exit 2), named by file, line and column, with the
//! format it was read as and the one to pass instead.

use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser};
use eosim::checker::anomaly::policy::{self, Guarantee, Policy};
use eosim::checker::lin::{CheckOptions, Format, ModelName, Verdict};
use eosim::checker::{Anomaly, History};
use eosim::history_format::{self, AUTO, Detected, HistoryFormat};

use crate::{BadInput, JSON_HELP, emit, exit_for, help};

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The history file.
    file: std::path::PathBuf,
    /// The history's format (default: detected from its first lines).
    #[arg(long, default_value = AUTO, value_parser = format_values())]
    format: String,
    /// Linearizability model: register, cas-register, multi-register, mutex, kv, log
    /// (default: cas-register for etcd and EDN histories, kv for kv histories).
    #[arg(long)]
    model: Option<String>,
    /// Worker threads over independent partitions (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Check the history as a whole instead of per key (P-compositionality off).
    #[arg(long)]
    no_partition: bool,
    /// eosim and jepsen-kafka: the guarantee the history is judged by (docs/anomalies.md:
    /// which kinds are errors, allowed or informational under each).
    #[arg(long, default_value = "exactly-once", value_parser = parse_guarantee)]
    guarantee: Guarantee,
    /// eosim and jepsen-kafka: a g1c cycle that needs a write-write edge is an error (by
    /// default it is informational, as Jepsen's :ww-deps allows G1c: Kafka does not isolate
    /// writes). A cycle of write-read edges alone is always an error.
    #[arg(long)]
    no_ww_deps: bool,
    /// jepsen-edn: a failed CAS observed a different value (instead of not happening).
    #[arg(long)]
    failed_cas_observes: bool,
    /// Linearizability: the model's initial state as EDN (Knossos' convention: `0` for a
    /// register or cas-register, `'{:x 0 :y 0}'` for a multi-register, `'{"k" "v"}'` for
    /// kv, `false` for a mutex, `[]` for a log). Default: the model's own (nil, empty).
    #[arg(long)]
    initial: Option<String>,
    /// Give up with verdict `unknown` after this many seconds.
    #[arg(long, default_value_t = 60)]
    time_budget_s: u64,
    /// Give up with verdict `unknown` once the search's own tables (cached
    /// configurations, states, stacks) hold more than this many MiB.
    #[arg(long, default_value_t = 4096)]
    memory_budget_mb: u64,
    #[arg(long, help = JSON_HELP)]
    json: bool,
    /// Linearizability: also write a self-contained HTML page (Porcupine-style: each failing
    /// partition's operations, the longest linearizable prefix, the operation that cannot
    /// be placed).
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
}

/// `auto` and every format, each with its description (shown by `--help`).
fn format_values() -> PossibleValuesParser {
    let auto = PossibleValue::new(AUTO).help("detect it from the file's first lines");
    PossibleValuesParser::new(
        std::iter::once(auto)
            .chain(HistoryFormat::ALL.map(|f| PossibleValue::new(f.name()).help(f.description()))),
    )
}

/// Reads the file, settles its format and checks it.
pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let bytes = std::fs::read(&args.file).map_err(|e| BadInput(format!("{name}: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| not_text(&name, e.as_bytes(), &e))?;
    let (format, detected) = if args.format == AUTO {
        match history_format::detect(&text) {
            Ok(Some(found)) => (found.format, Some(found)),
            // Nothing but blank lines: an empty history in any format; eosim's as before.
            Ok(None) => (HistoryFormat::Eosim, None),
            Err(undetected) => return Err(BadInput(undetected.message(&name)).into()),
        }
    } else {
        let format = HistoryFormat::from_name(&args.format).expect("clap checked --format");
        (format, None)
    };
    let source = Source {
        name: &name,
        text: &text,
        format,
        detected,
    };
    if args.html.is_some() && !matches!(format, HistoryFormat::Lin(_)) {
        let format = format.name();
        return Err(BadInput(format!(
            "--html draws linearizability checks only; {name} is a {format} history (for a \
             run's page: eosim run <scenario> --seed N --html FILE)"
        ))
        .into());
    }
    match format {
        HistoryFormat::Eosim => {
            let history = read_eosim(&source)?;
            report_findings(&source, &history, &judging(&args), args.json)
        }
        HistoryFormat::JepsenKafka => {
            let history = read_jepsen_kafka(&source)?;
            report_findings(&source, &history, &judging(&args), args.json)
        }
        HistoryFormat::Lin(lin_format) => {
            let options = lin_options(&args)?;
            let model = match args.model.as_deref() {
                Some(m) => m.parse().map_err(BadInput)?,
                None if lin_format == Format::PorcupineKv => ModelName::Kv,
                None => ModelName::CasRegister,
            };
            let html = args.html.as_deref();
            check_linearizability(&source, lin_format, model, &options, args.json, html)
        }
    }
}

/// A file that is not UTF-8 text (a binary, a compressed history): where the first bad byte
/// is, and the formats eosim reads, all of them text.
fn not_text(name: &str, bytes: &[u8], error: &std::string::FromUtf8Error) -> BadInput {
    let at = error.utf8_error().valid_up_to();
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    // Characters, not bytes, before the bad byte on its line (what an editor's column says).
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    let compressed = if bytes.starts_with(&[0x1f, 0x8b]) {
        " (it starts as gzip does: decompress it first)"
    } else {
        ""
    };
    BadInput(format!(
        "{name}:{line}:{column}: not a text file: byte 0x{:02x} is not UTF-8{compressed}\n  \
         eosim reads these history formats, all text (--format NAME):{}",
        bytes[at],
        history_format::format_list()
    ))
}

/// A history's text, its name and how its format was settled, for messages.
struct Source<'a> {
    name: &'a str,
    text: &'a str,
    format: HistoryFormat,
    /// `None`: `--format` named it.
    detected: Option<Detected>,
}

impl Source<'_> {
    /// A parse error at `line`, `column`: where, what, the format it was read as and, if it
    /// looks like another, that one.
    fn parse_error(&self, line: usize, column: usize, message: &str) -> BadInput {
        let (name, format) = (self.name, self.format.name());
        let mut text = format!("{name}:{line}:{column}: {message}");
        match (self.detected, history_format::detect(self.text)) {
            (Some(found), _) => text.push_str(&format!(
                "\n  read as {format}, detected from line {} ({}); if it is another format, \
                 pass --format {}",
                found.line,
                found.because,
                HistoryFormat::ALL.map(HistoryFormat::name).join(" | ")
            )),
            (None, Ok(Some(other))) if other.format != self.format => text.push_str(&format!(
                "\n  read as --format {format}, but line {} looks like {} ({}): try\n  \
                 eosim check {name} --format {}",
                other.line,
                other.format.name(),
                other.because,
                other.format.name()
            )),
            (None, Ok(_)) => text.push_str(&format!("\n  read as --format {format}")),
            (None, Err(_)) => text.push_str(&format!(
                "\n  read as --format {format}; its start looks like none of the formats \
                 (`eosim check --help` lists them)"
            )),
        }
        BadInput(text)
    }
}

fn lin_options(args: &CheckArgs) -> Result<CheckOptions, BadInput> {
    if args.memory_budget_mb == 0 {
        return Err(BadInput("--memory-budget-mb must be at least 1".into()));
    }
    Ok(CheckOptions {
        threads: args.threads.max(1),
        partition: !args.no_partition,
        time_budget: Some(std::time::Duration::from_secs(args.time_budget_s)),
        memory_budget: Some(
            usize::try_from(args.memory_budget_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
        ),
        failed_cas_is_observation: args.failed_cas_observes,
        initial: args
            .initial
            .as_deref()
            .map(|text| {
                eosim::checker::lin::edn::read_one(text, 1)
                    .map_err(|e| BadInput(format!("--initial {text:?}: not an EDN value: {e}")))
            })
            .transpose()?,
    })
}

fn check_linearizability(
    source: &Source<'_>,
    format: Format,
    model: ModelName,
    options: &CheckOptions,
    json: bool,
    html: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let name = source.name;
    let report =
        eosim::checker::lin::check_str(source.text, format, model, options).map_err(|e| {
            match history_format::locate_lin_error(&e, source.text) {
                Some((line, column, message)) => source.parse_error(line, column, &message),
                None => BadInput(format!("{name}: {e}")),
            }
        })?;
    if let Some(path) = html {
        let page = eosim::lin_html_report(name, source.text, format, model, options, &report)?;
        crate::write_file(path, &page)?;
    }
    emit(&if json {
        let out = LinJson {
            schema: CHECK_SCHEMA,
            checker: "linearizability",
            file: name,
            format: source.format.name(),
            report: &report,
        };
        serde_json::to_string_pretty(&out)? + "\n"
    } else {
        format!("{name}: {report}\n")
    });
    Ok(match report.verdict {
        Verdict::Linearizable => help::HELD.into(),
        Verdict::NotLinearizable => help::VIOLATED.into(),
        Verdict::Unknown => help::INCONCLUSIVE.into(),
    })
}

/// The allowed-error policy `--guarantee` and `--no-ww-deps` ask for.
fn judging(args: &CheckArgs) -> Policy {
    Policy {
        guarantee: args.guarantee,
        ww_deps_allowed: !args.no_ww_deps,
    }
}

fn parse_guarantee(s: &str) -> Result<Guarantee, String> {
    Guarantee::from_name(s).ok_or_else(|| {
        let known: Vec<_> = Guarantee::ALL.iter().map(|g| g.name()).collect();
        format!("unknown guarantee {s:?} (known: {})", known.join(", "))
    })
}

/// Reads an eosim JSON Lines history.
fn read_eosim(source: &Source<'_>) -> Result<History, BadInput> {
    use eosim::checker::history::HistoryError;
    History::from_jsonl(source.text.as_bytes(), source.name).map_err(|e| match e {
        HistoryError::Malformed { line, message, .. } => {
            let (message, column) = history_format::split_json_position(&message);
            let column = column.unwrap_or_else(|| history_format::first_column(source.text, line));
            source.parse_error(line, column, &message)
        }
        other => BadInput(other.to_string()),
    })
}

/// Reads a Jepsen Kafka history.
fn read_jepsen_kafka(source: &Source<'_>) -> Result<History, BadInput> {
    eosim::checker::txn::jepsen_kafka::read(source.text).map_err(|e| {
        match history_format::locate_lin_error(&e, source.text) {
            Some((line, column, message)) => source.parse_error(line, column, &message),
            None => BadInput(format!("{}: {e}", source.name)),
        }
    })
}

/// A history's findings sorted by what `policy` makes of them.
struct Judged {
    errors: Vec<Anomaly>,
    allowed: Vec<Anomaly>,
    informational: Vec<Anomaly>,
}

fn judge(findings: Vec<Anomaly>, policy: &Policy) -> Judged {
    let mut judged = Judged {
        errors: Vec::new(),
        allowed: Vec::new(),
        informational: Vec::new(),
    };
    for finding in findings {
        match policy.judge(&finding) {
            policy::Verdict::Error => judged.errors.push(finding),
            policy::Verdict::Allowed => judged.allowed.push(finding),
            policy::Verdict::Informational => judged.informational.push(finding),
        }
    }
    judged
}

/// Runs the log and transaction checkers and reports their findings as `policy` judges
/// them: errors (exit 1), allowed under the guarantee, informational.
fn report_findings(
    source: &Source<'_>,
    history: &History,
    policy: &Policy,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let name = source.name;
    let findings =
        eosim::checker::findings(history).map_err(|e| BadInput(format!("{name}: {e}")))?;
    let judged = judge(findings, policy);
    if json {
        let out = HistoryJson {
            schema: CHECK_SCHEMA,
            checker: "history",
            file: name,
            format: source.format.name(),
            verdict: if judged.errors.is_empty() {
                "pass"
            } else {
                "fail"
            },
            ops: history.ops.len(),
            guarantee: policy.guarantee.name(),
            anomalies: reports(&judged.errors),
            allowed: reports(&judged.allowed),
            informational: reports(&judged.informational),
        };
        emit(&(serde_json::to_string_pretty(&out)? + "\n"));
    } else {
        emit(&findings_text(name, history, policy, &judged));
    }
    Ok(exit_for(judged.errors.is_empty()))
}

/// The version of `eosim check --json` (both shapes: `checker` says which), docs/json-schema.md.
pub const CHECK_SCHEMA: u32 = 1;

/// `eosim check --json` of an eosim or Jepsen Kafka history.
#[derive(serde::Serialize)]
struct HistoryJson<'a> {
    schema: u32,
    /// `history` here, `linearizability` in [`LinJson`].
    checker: &'static str,
    file: &'a str,
    /// The format read: detected, or named by `--format`.
    format: &'static str,
    verdict: &'static str,
    ops: usize,
    /// The guarantee the findings were judged under.
    guarantee: &'static str,
    /// The errors under `guarantee` (exit 1 when any).
    anomalies: Vec<eosim::reports::AnomalyReport>,
    /// Findings `guarantee` allows (docs/anomalies.md).
    allowed: Vec<eosim::reports::AnomalyReport>,
    /// Findings allowed under every guarantee.
    informational: Vec<eosim::reports::AnomalyReport>,
}

/// `eosim check --json` of a linearizability check: the checker's report, headed by what
/// the history check's JSON heads with.
#[derive(serde::Serialize)]
struct LinJson<'a> {
    schema: u32,
    checker: &'static str,
    file: &'a str,
    format: &'static str,
    #[serde(flatten)]
    report: &'a eosim::checker::lin::LinReport,
}

fn reports(list: &[Anomaly]) -> Vec<eosim::reports::AnomalyReport> {
    list.iter()
        .map(eosim::reports::AnomalyReport::from)
        .collect()
}

fn findings_text(name: &str, history: &History, policy: &Policy, judged: &Judged) -> String {
    let mut text = format!(
        "{name}: {} ops, {} anomalies\n",
        history.ops.len(),
        judged.errors.len()
    );
    // Errors are listed in full; allowed and informational findings (a transactional
    // workload's int-send-skips are many) up to `SHOWN`, the rest counted.
    const SHOWN: usize = 20;
    let mut list = |heading: Option<String>, findings: &[Anomaly]| {
        if findings.is_empty() {
            return;
        }
        let shown = if heading.is_some() { SHOWN } else { usize::MAX };
        if let Some(heading) = heading {
            text.push_str(&format!("{heading}\n"));
        }
        for a in findings.iter().take(shown) {
            text.push_str(&format!("  - {}: {}\n", a.kind(), a.explain()));
        }
        if findings.len() > shown {
            let more = findings.len() - shown;
            text.push_str(&format!("  … and {more} more (--json lists every one)\n"));
        }
    };
    list(None, &judged.errors);
    let allowed = format!(
        "allowed under {} (docs/anomalies.md), {}:",
        policy.guarantee,
        judged.allowed.len()
    );
    list(Some(allowed), &judged.allowed);
    let info = format!(
        "informational (allowed under every guarantee), {}:",
        judged.informational.len()
    );
    list(Some(info), &judged.informational);
    text
}
