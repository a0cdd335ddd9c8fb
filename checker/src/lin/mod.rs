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
mod rounds;
pub mod search;

pub use counterexample::{
    Budget, Counterexample, LinReport, OperationView, PartitionReport, PlacedOperation, Verdict,
};
pub use models::{
    FromHistory, Impossible, InitialState, Initially, Model, Operation, OperationCounts,
    OperationSource, Partition, Semantics,
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
    /// `CheckOptions::initial` is not a state of the model.
    #[error("the initial state of {model}: expected {message}")]
    Initial {
        model: &'static str,
        message: String,
    },
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
    /// The model's initial state, as an EDN value (Knossos' convention: `0` for a register,
    /// `{:x 0 :y 0}` for a multi-register; see each model's `InitialState`). `None`: the
    /// model's own (`nil`, empty). Default `None`.
    pub initial: Option<edn::Value>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            threads: 1,
            partition: true,
            time_budget: Some(DEFAULT_TIME_BUDGET),
            memory_budget: Some(DEFAULT_MEMORY_BUDGET),
            failed_cas_is_observation: false,
            initial: None,
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

    fn check_with<M: FromHistory + InitialState>(
        &self,
        model: &M,
        options: &CheckOptions,
    ) -> Result<LinReport, LinError>
    where
        M::State: Sync,
    {
        let (operations, counts) = models::convert_history::<M>(&self.operations, &self.semantics)?;
        let Some(initial) = &options.initial else {
            return Ok(check_operations(model, &operations, counts, options));
        };
        let state = M::initial_state(initial).map_err(|message| LinError::Initial {
            model: model.name(),
            message,
        })?;
        let model = Initially { model, state };
        Ok(check_operations(&model, &operations, counts, options))
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
    let results = rounds::check_partitions(
        model,
        operations,
        &partitions,
        rounds::Limits {
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

    /// The verdict of `history` (jepsen-edn) for `model` from `initial` (EDN; `None`: the
    /// model's own).
    fn from_initial(history: &str, model: ModelName, initial: Option<&str>) -> Verdict {
        let options = CheckOptions {
            initial: initial.map(|text| edn::read_one(text, 1).unwrap()),
            ..CheckOptions::default()
        };
        check_str(history, Format::JepsenEdn, model, &options)
            .unwrap()
            .verdict
    }

    #[test]
    fn an_initial_state_makes_reads_of_it_legal_and_others_not() {
        // A read of 0 before any write: only a register that starts at 0 returns it.
        let read = "{:process 0 :type :invoke :f :read :value nil}
                    {:process 0 :type :ok :f :read :value 0}
                    {:process 0 :type :invoke :f :write :value 1}
                    {:process 0 :type :ok :f :write :value 1}";
        for model in [ModelName::Register, ModelName::CasRegister] {
            assert_eq!(from_initial(read, model, None), Verdict::NotLinearizable);
            assert_eq!(from_initial(read, model, Some("0")), Verdict::Linearizable);
            assert_eq!(
                from_initial(read, model, Some("2")),
                Verdict::NotLinearizable
            );
        }
        // Knossos' multi-register test convention: x = 0, y = 0.
        let txn = "{:process 0 :type :invoke :f :txn :value [[:r :x nil] [:r :y nil]]}
                   {:process 0 :type :ok :f :txn :value [[:r :x 0] [:r :y 0]]}";
        let model = ModelName::MultiRegister;
        assert_eq!(from_initial(txn, model, None), Verdict::NotLinearizable);
        assert_eq!(
            from_initial(txn, model, Some("{:x 0 :y 0}")),
            Verdict::Linearizable
        );
        assert_eq!(
            from_initial(txn, model, Some("{:x 0 :y 1}")),
            Verdict::NotLinearizable
        );
        // A mutex that starts held can be released first, and not acquired.
        let release = "{:process 0 :type :invoke :f :release}
                       {:process 0 :type :ok :f :release}";
        assert_eq!(
            from_initial(release, ModelName::Mutex, None),
            Verdict::NotLinearizable
        );
        assert_eq!(
            from_initial(release, ModelName::Mutex, Some("true")),
            Verdict::Linearizable
        );
    }

    #[test]
    fn an_initial_state_the_model_cannot_hold_is_an_error() {
        let history = "{:process 0 :type :invoke :f :release}\n{:process 0 :type :ok :f :release}";
        let options = CheckOptions {
            initial: Some(edn::Value::Int(3)),
            ..CheckOptions::default()
        };
        let error = check_str(history, Format::JepsenEdn, ModelName::Mutex, &options)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("initial state of mutex: expected true"),
            "{error}"
        );
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
        // A write of 99, then forty concurrent writes, during which a read of 0 and a read
        // of 99 after it: 99 cannot come back, but only a long search shows it.
        let mut history = String::new();
        history.push_str("{:process 98 :type :invoke :f :write :value 99}\n");
        history.push_str("{:process 98 :type :ok :f :write :value 99}\n");
        for p in 0..40 {
            history.push_str(&format!(
                "{{:process {p} :type :invoke :f :write :value {p}}}\n"
            ));
        }
        for read in [0, 99] {
            history.push_str("{:process 99 :type :invoke :f :read :value nil}\n");
            history.push_str(&format!(
                "{{:process 99 :type :ok :f :read :value {read}}}\n"
            ));
        }
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
    fn a_read_of_a_value_never_written_is_rejected_before_the_search() {
        // Forty concurrent writes and a read of a value never written: without the cheap
        // look, a long search.
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
        let report = check_str(
            &history,
            Format::JepsenEdn,
            ModelName::Register,
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(report.verdict, Verdict::NotLinearizable);
        assert_eq!(report.search_steps, 0);
        let counterexample = &report.counterexamples[0];
        assert_eq!(counterexample.stuck_operation.invoke_line, 41);
        assert_eq!(
            counterexample.rejected_before_search.as_deref(),
            Some("nothing writes 99")
        );
        assert!(
            report
                .to_string()
                .contains("nothing writes 99 (found before searching)"),
            "{report}"
        );
        // Written, but only after the read returned: the same.
        let late = history.clone()
            + "{:process 97 :type :invoke :f :write :value 99}\n"
            + "{:process 97 :type :ok :f :write :value 99}\n";
        let report = check_str(
            &late,
            Format::JepsenEdn,
            ModelName::Register,
            &CheckOptions::default(),
        )
        .unwrap();
        assert_eq!(report.verdict, Verdict::NotLinearizable);
        assert_eq!(
            report.counterexamples[0].rejected_before_search.as_deref(),
            Some("nothing invoked before it returned writes 99")
        );
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
