//! Linearizability checking: a Wing–Gong–Lowe search with memoisation of (linearized set,
//! model state), P-compositionality, operations with unknown outcomes and a time budget;
//! models behind one trait; readers for Porcupine's and Jepsen's history files.
//!
//! The entry point for a file is [`check_file`]; for operations built in memory (e.g. by the
//! simulator), [`check_operations`]. Reports are deterministic: the same input gives the
//! same verdict, counts and counterexamples whatever the thread count.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::Serialize;

pub mod bitset;
pub mod counterexample;
pub mod edn;
pub mod formats;
pub mod history;
pub mod models;
pub mod search;

pub use counterexample::{
    Budget, Counterexample, LinReport, OperationView, PartitionReport, PlacedOperation, Verdict,
};
pub use models::{
    FromHistory, Model, Operation, OperationCounts, OperationSource, Partition, Semantics,
};

/// Everything that can go wrong before a verdict. Parse errors name the line.
#[derive(Debug, thiserror::Error)]
pub enum LinError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line}, column {column}: expected {expected}, found {found}")]
    Syntax {
        line: usize,
        column: usize,
        expected: String,
        found: String,
    },
    #[error("line {line}: expected {expected}, found {found}")]
    Malformed {
        line: usize,
        expected: String,
        found: String,
    },
    /// The events do not form a history (e.g. a completion without an invocation).
    #[error("line {line}: {message}")]
    Invalid { line: usize, message: String },
    /// An operation the chosen model cannot interpret.
    #[error("line {line}: {message}")]
    Model { line: usize, message: String },
}

impl LinError {
    pub fn expected(line: usize, expected: &str, found: &str) -> LinError {
        LinError::Malformed {
            line,
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

/// History file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Porcupine's `etcd_NNN.log` Jepsen logs of a compare-and-set register.
    PorcupineEtcd,
    /// Porcupine's `cNN-*.txt` key-value histories (one EDN map per line).
    PorcupineKv,
    /// Jepsen / Knossos EDN histories.
    JepsenEdn,
}

/// Models, by their command-line names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelName {
    Register,
    CasRegister,
    MultiRegister,
    Mutex,
    Kv,
    Log,
}

macro_rules! named_enum {
    ($type:ident, $what:literal, { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $type {
            pub const ALL: &'static [$type] = &[$($type::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($type::$variant => $name),* }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = String;

            fn from_str(name: &str) -> Result<Self, String> {
                $type::ALL.iter().copied().find(|value| value.as_str() == name).ok_or_else(|| {
                    let names: Vec<&str> = $type::ALL.iter().map(|value| value.as_str()).collect();
                    format!("unknown {} {name:?} (expected one of: {})", $what, names.join(", "))
                })
            }
        }
    };
}

named_enum!(Format, "format", {
    PorcupineEtcd => "porcupine-etcd",
    PorcupineKv => "porcupine-kv",
    JepsenEdn => "jepsen-edn",
});

named_enum!(ModelName, "model", {
    Register => "register",
    CasRegister => "cas-register",
    MultiRegister => "multi-register",
    Mutex => "mutex",
    Kv => "kv",
    Log => "log",
});

/// The default time budget: long enough for every history in the test suite by orders of
/// magnitude, short enough that a pathological history does not hang CI.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(60);

/// The default memory budget, in bytes (4 GiB): far above what the test suite needs (tens of
/// megabytes), well inside a developer machine. See [`search::MemoryBudget`] for what counts.
pub const DEFAULT_MEMORY_BUDGET: usize = 4 << 30;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Worker threads over partitions. Default 1. Results do not depend on it.
    pub threads: usize,
    /// Check each partition (e.g. each key) on its own (P-compositionality). Default true.
    pub partition: bool,
    /// Give up with verdict `unknown` after this long; `None` searches until done.
    /// Default [`DEFAULT_TIME_BUDGET`].
    pub time_budget: Option<Duration>,
    /// Give up with verdict `unknown` once the searches' own structures hold more than this
    /// many bytes (see [`search::MemoryBudget`]); `None`: no limit. Paused partitions keep
    /// at most half of it: past that, a paused partition's tables are dropped and it is
    /// searched again from the start in the next round (same verdict and counts, more time).
    /// Default [`DEFAULT_MEMORY_BUDGET`].
    pub memory_budget: Option<usize>,
    /// jepsen-edn only: a `:fail :cas` observed that the register did not hold the expected
    /// value, instead of not having happened (Knossos). Default false. Porcupine's etcd logs
    /// always count it as an observation.
    pub failed_cas_is_observation: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            threads: 1,
            partition: true,
            time_budget: Some(DEFAULT_TIME_BUDGET),
            memory_budget: Some(DEFAULT_MEMORY_BUDGET),
            failed_cas_is_observation: false,
        }
    }
}

/// Reads and checks a history file.
pub fn check_file(
    path: &Path,
    format: Format,
    model: ModelName,
    options: &CheckOptions,
) -> Result<LinReport, LinError> {
    let text = std::fs::read_to_string(path).map_err(|source| LinError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    check_str(&text, format, model, options)
}

/// Checks a history given as text.
pub fn check_str(
    text: &str,
    format: Format,
    model: ModelName,
    options: &CheckOptions,
) -> Result<LinReport, LinError> {
    let prepared = PreparedHistory::parse(text, format, options)?;
    prepared.check(model, options)
}

/// Reads a history file into events, in file order.
pub fn parse_events(text: &str, format: Format) -> Result<Vec<history::Event>, LinError> {
    match format {
        Format::PorcupineEtcd => formats::porcupine_etcd::parse(text),
        Format::PorcupineKv => formats::porcupine_kv::parse(text),
        Format::JepsenEdn => formats::jepsen_edn::parse(text),
    }
}

/// A history read and paired, ready to be checked against any model (parsing excluded from
/// timings, as Porcupine's reference figures exclude it).
#[derive(Clone, Debug)]
pub struct PreparedHistory {
    pub operations: Vec<history::RawOperation>,
    pub semantics: Semantics,
}

impl PreparedHistory {
    pub fn parse(text: &str, format: Format, options: &CheckOptions) -> Result<Self, LinError> {
        let events = parse_events(text, format)?;
        let semantics = match format {
            Format::PorcupineEtcd => formats::porcupine_etcd::SEMANTICS,
            Format::PorcupineKv => formats::porcupine_kv::SEMANTICS,
            Format::JepsenEdn => formats::jepsen_edn::semantics(options.failed_cas_is_observation),
        };
        Ok(PreparedHistory {
            operations: history::pair_events(&events)?,
            semantics,
        })
    }

    pub fn check(&self, model: ModelName, options: &CheckOptions) -> Result<LinReport, LinError> {
        match model {
            ModelName::Register => self.check_with(&models::Register, options),
            ModelName::CasRegister => self.check_with(&models::CasRegister, options),
            ModelName::MultiRegister => self.check_with(&models::MultiRegister, options),
            ModelName::Mutex => self.check_with(&models::Mutex, options),
            ModelName::Kv => self.check_with(&models::Kv, options),
            ModelName::Log => self.check_with(&models::Log, options),
        }
    }

    fn check_with<M: FromHistory>(
        &self,
        model: &M,
        options: &CheckOptions,
    ) -> Result<LinReport, LinError> {
        let (operations, counts) = models::convert_history::<M>(&self.operations, &self.semantics)?;
        Ok(check_operations(model, &operations, counts, options))
    }
}

/// Checks typed operations against a model. `counts` is reported as given (build it with
/// [`models::convert_history`], or count what you dropped yourself).
pub fn check_operations<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    counts: OperationCounts,
    options: &CheckOptions,
) -> LinReport {
    let partitions = if options.partition {
        model.partition(operations)
    } else {
        vec![models::whole_history(operations.len())]
    };
    // A budget too long to add to the clock (`--time-budget-s 18446744073709551615`) is
    // no deadline at all.
    let deadline = options
        .time_budget
        .and_then(|budget| Instant::now().checked_add(budget));
    let memory = options.memory_budget.map(search::MemoryBudget::new);
    let results = check_partitions(
        model,
        operations,
        &partitions,
        Limits {
            deadline,
            memory: memory.as_ref(),
        },
        options.threads,
    );
    let (partition_reports, counterexamples): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    LinReport {
        verdict: Verdict::combine(partition_reports.iter().filter_map(|report| report.verdict)),
        model: model.name().to_string(),
        partitioned: options.partition,
        operations: counts,
        search_steps: partition_reports
            .iter()
            .map(|report| report.search_steps)
            .sum(),
        model_steps: partition_reports
            .iter()
            .map(|report| report.model_steps)
            .sum(),
        partitions: partition_reports,
        counterexamples: counterexamples.into_iter().flatten().collect(),
    }
}

type PartitionResult = (PartitionReport, Option<Counterexample>);

/// What stops a search besides its verdict.
#[derive(Clone, Copy)]
struct Limits<'a> {
    deadline: Option<Instant>,
    memory: Option<&'a search::MemoryBudget>,
}

/// Search steps every unfinished partition gets in the first round; each round doubles it.
const FIRST_ROUND_STEPS: u64 = 1 << 16;

/// Searches the partitions in rounds: each round gives every unfinished partition the same
/// step budget (doubling per round), on up to `threads` threads. After the first round in
/// which some partition is shown not linearizable, the others stop: that is how a hard but
/// innocent partition cannot hide an easy violation. Rounds are counted in search steps,
/// never in time, so which partitions finish — and so the whole report — does not depend on
/// the thread count or on scheduling.
fn check_partitions<M: Model>(
    model: &M,
    operations: &[Operation<M::Input, M::Output>],
    partitions: &[Partition],
    limits: Limits<'_>,
    threads: usize,
) -> Vec<PartitionResult> {
    let members: Vec<Vec<&Operation<M::Input, M::Output>>> = partitions
        .iter()
        .map(|partition| {
            partition
                .operations
                .iter()
                .map(|&index| &operations[index])
                .collect()
        })
        .collect();
    let mut searches: Vec<search::Search<'_, M>> = members
        .iter()
        .map(|members| search::Search::new(model, members))
        .collect();
    let mut finished: Vec<bool> = vec![false; partitions.len()];
    let mut step_limit = FIRST_ROUND_STEPS;
    loop {
        let unfinished: Vec<(usize, &mut search::Search<'_, M>)> = searches
            .iter_mut()
            .enumerate()
            .filter(|(index, _)| !finished[*index])
            .collect();
        if unfinished.is_empty() {
            break;
        }
        let mut violation_found = false;
        for (index, verdict) in run_round(unfinished, step_limit, limits, threads) {
            finished[index] = verdict.is_some();
            violation_found |= verdict == Some(search::SearchVerdict::NotLinearizable);
        }
        if violation_found {
            break;
        }
        step_limit = step_limit.saturating_mul(2);
    }
    searches
        .iter()
        .zip(partitions)
        .zip(&members)
        .zip(&finished)
        .map(|(((search, partition), members), &finished)| {
            let outcome = search.outcome();
            let (mut report, counterexample) =
                counterexample::partition_report(model, &partition.label, members, &outcome);
            if !finished {
                report.verdict = None;
                report.exhausted = None;
            }
            (report, counterexample)
        })
        .collect()
}

/// Resumes one search up to `step_limit`. If it pauses while the searches together hold
/// more than half the memory budget, its tables are dropped: it starts again next round.
fn resume_within<M: Model>(
    search: &mut search::Search<'_, M>,
    step_limit: u64,
    limits: Limits<'_>,
) -> Option<search::SearchVerdict> {
    let verdict = search.resume(step_limit, limits.deadline, limits.memory);
    if verdict.is_none()
        && let Some(budget) = limits.memory
        && budget.used() > budget.limit() / 2
    {
        search.restart(Some(budget));
    }
    verdict
}

/// Resumes each search up to `step_limit`; returns (partition index, verdict if finished).
fn run_round<M: Model>(
    mut searches: Vec<(usize, &mut search::Search<'_, M>)>,
    step_limit: u64,
    limits: Limits<'_>,
    threads: usize,
) -> Vec<(usize, Option<search::SearchVerdict>)> {
    let workers = threads.clamp(1, searches.len().max(1));
    if workers == 1 {
        return searches
            .iter_mut()
            .map(|(index, search)| (*index, resume_within(search, step_limit, limits)))
            .collect();
    }
    let queue = std::sync::Mutex::new(searches.into_iter());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let next = queue
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .next();
                        let Some((index, search)) = next else { break };
                        done.push((index, resume_within(search, step_limit, limits)));
                    }
                    done
                })
            })
            .collect();
        let mut results: Vec<_> = handles
            .into_iter()
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        results.sort_by_key(|(index, _)| *index);
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(*format));
        }
        for model in ModelName::ALL {
            assert_eq!(model.as_str().parse::<ModelName>(), Ok(*model));
        }
        let error = "queue".parse::<ModelName>().unwrap_err();
        assert!(
            error.contains("cas-register") && error.contains("\"queue\""),
            "{error}"
        );
    }

    #[test]
    fn jepsen_edn_cas_register_follows_knossos_and_the_flag() {
        // The failed CAS expected 5 while the register held 1: fine either way. A failed
        // CAS of the value it held is a violation only when failures are observations.
        let history = "[{:process 0 :type :invoke :f :write :value 1}
                        {:process 0 :type :ok :f :write :value 1}
                        {:process 1 :type :invoke :f :cas :value [1 2]}
                        {:process 1 :type :fail :f :cas :value [1 2]}
                        {:process 2 :type :invoke :f :read :value nil}
                        {:process 2 :type :ok :f :read :value 1}]";
        let knossos = CheckOptions::default();
        let report =
            check_str(history, Format::JepsenEdn, ModelName::CasRegister, &knossos).unwrap();
        assert_eq!(report.verdict, Verdict::Linearizable);
        assert_eq!(report.operations.failed_dropped, 1);
        let observing = CheckOptions {
            failed_cas_is_observation: true,
            ..CheckOptions::default()
        };
        let report = check_str(
            history,
            Format::JepsenEdn,
            ModelName::CasRegister,
            &observing,
        )
        .unwrap();
        assert_eq!(report.verdict, Verdict::NotLinearizable);
        assert_eq!(report.counterexamples[0].stuck_operation.invoke_line, 3);
    }

    #[test]
    fn jepsen_edn_info_may_or_may_not_have_happened() {
        let history = "{:process 0 :type :invoke :f :acquire}
                       {:process 0 :type :info :f :acquire}
                       {:process 1 :type :invoke :f :acquire}
                       {:process 1 :type :ok :f :acquire}";
        let report = check_str(
            history,
            Format::JepsenEdn,
            ModelName::Mutex,
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(report.verdict, Verdict::Linearizable);
        assert_eq!(report.operations.indeterminate, 1);
        let doubled = history.replace(":info", ":ok");
        let report = check_str(
            &doubled,
            Format::JepsenEdn,
            ModelName::Mutex,
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(report.verdict, Verdict::NotLinearizable);
    }

    #[test]
    fn budgets_too_large_for_the_clock_mean_no_budget() {
        let history = "{:process 0 :type :invoke :f :write :value 1}
                       {:process 0 :type :ok :f :write :value 1}";
        let options = CheckOptions {
            time_budget: Some(Duration::MAX),
            memory_budget: Some(usize::MAX),
            ..CheckOptions::default()
        };
        let report = check_str(history, Format::JepsenEdn, ModelName::Register, &options).unwrap();
        assert_eq!(report.verdict, Verdict::Linearizable);
    }

    #[test]
    fn a_small_memory_budget_gives_unknown_naming_the_budget() {
        // Forty concurrent writes and a read of a value never written: a long search.
        let mut history = String::new();
        for p in 0..40 {
            history.push_str(&format!(
                "{{:process {p} :type :invoke :f :write :value {p}}}\n"
            ));
        }
        history.push_str("{:process 99 :type :invoke :f :read :value nil}\n");
        history.push_str("{:process 99 :type :ok :f :read :value 99}\n");
        for p in 0..40 {
            history.push_str(&format!(
                "{{:process {p} :type :ok :f :write :value {p}}}\n"
            ));
        }
        let options = CheckOptions {
            time_budget: None,
            memory_budget: Some(1 << 20),
            ..CheckOptions::default()
        };
        let report = check_str(&history, Format::JepsenEdn, ModelName::Register, &options).unwrap();
        assert_eq!(report.verdict, Verdict::Unknown);
        assert_eq!(report.partitions[0].exhausted, Some(Budget::Memory));
        assert!(
            report.to_string().contains("memory budget exhausted"),
            "{report}"
        );
        assert!(report.to_json().contains("\"exhausted\": \"memory\""));
    }

    #[test]
    fn model_mismatch_names_the_line() {
        let history = "{:process 0 :type :invoke :f :cas :value [1 2]}";
        let error = check_str(
            history,
            Format::JepsenEdn,
            ModelName::Register,
            &CheckOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 1: the register model has no :cas operation (expected :read or :write)"
        );
    }

    #[test]
    fn missing_file_is_an_error_not_a_panic() {
        let error = check_file(
            Path::new("/nonexistent/history.edn"),
            Format::JepsenEdn,
            ModelName::Register,
            &CheckOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(error, LinError::Io { .. }));
    }

    #[test]
    fn multi_register_and_log_histories_check() {
        let txns = "{:process 0 :type :invoke :f :txn :value [[:w :x 1] [:w :y 1]]}
                    {:process 0 :type :ok :f :txn :value [[:w :x 1] [:w :y 1]]}
                    {:process 1 :type :invoke :f :txn :value [[:r :x nil] [:r :y nil]]}
                    {:process 1 :type :ok :f :txn :value [[:r :x 1] [:r :y nil]]}";
        let report = check_str(
            txns,
            Format::JepsenEdn,
            ModelName::MultiRegister,
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(report.verdict, Verdict::Linearizable);
        let torn = txns.replace("[[:r :x 1] [:r :y nil]]", "[[:r :x 1] [:r :y 2]]");
        let report = check_str(
            &torn,
            Format::JepsenEdn,
            ModelName::MultiRegister,
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(report.verdict, Verdict::NotLinearizable);

        let log = "{:process 0 :type :invoke :f :append :value \"a\"}
                   {:process 1 :type :invoke :f :append :value \"b\"}
                   {:process 0 :type :ok :f :append :value 1}
                   {:process 1 :type :ok :f :append :value 0}
                   {:process 0 :type :invoke :f :read :value [0 nil]}
                   {:process 0 :type :ok :f :read :value [\"b\" \"a\"]}";
        let report = check_str(
            log,
            Format::JepsenEdn,
            ModelName::Log,
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(report.verdict, Verdict::Linearizable);
        let reordered = log.replace("[\"b\" \"a\"]", "[\"a\" \"b\"]");
        let report = check_str(
            &reordered,
            Format::JepsenEdn,
            ModelName::Log,
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(report.verdict, Verdict::NotLinearizable);
    }
}
