//! The report of a check: verdict, counts and counterexamples, as JSON (serde) and text.

use std::fmt;

use serde::Serialize;

use super::models::{Model, Operation, OperationCounts};
use super::search::{Failure, SearchOutcome, SearchVerdict};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Linearizable,
    NotLinearizable,
    /// The time or memory budget ran out before a verdict.
    Unknown,
}

/// Which budget ran out, for a partition whose verdict is `unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Budget {
    Time,
    Memory,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "not-linearizable",
            Verdict::Unknown => "unknown",
        }
    }

    /// A violation anywhere decides; otherwise any unfinished part leaves it unknown.
    pub fn combine(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut combined = Verdict::Linearizable;
        for verdict in verdicts {
            match verdict {
                Verdict::NotLinearizable => return Verdict::NotLinearizable,
                Verdict::Unknown => combined = Verdict::Unknown,
                Verdict::Linearizable => {}
            }
        }
        combined
    }
}

impl From<SearchVerdict> for Verdict {
    fn from(verdict: SearchVerdict) -> Self {
        match verdict {
            SearchVerdict::Linearizable => Verdict::Linearizable,
            SearchVerdict::NotLinearizable => Verdict::NotLinearizable,
            SearchVerdict::Unknown | SearchVerdict::OutOfMemory => Verdict::Unknown,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operation as the report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OperationView {
    pub process: String,
    pub description: String,
    /// 1-based line of the invocation in the history file.
    pub invoke_line: usize,
    /// Line of the completion; `None` if the history never completed it.
    pub complete_line: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlacedOperation {
    pub operation: OperationView,
    pub state_after: String,
}

/// Why one partition is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Counterexample {
    pub partition: String,
    /// The longest linearizable prefix the search found, in linearization order.
    pub linearizable_prefix: Vec<PlacedOperation>,
    /// The operation that cannot be placed after that prefix (nor after any other ordering).
    pub stuck_operation: OperationView,
    /// States in which it was tried and could not have returned what it returned.
    pub states_it_could_see: Vec<String>,
    /// Whether there were more such states than listed (the list is capped).
    pub more_states: bool,
    /// Set when a cheap look before the search rejected the operation (see
    /// `Model::impossible`): why it is never legal. The prefix and states are empty then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_before_search: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionReport {
    pub partition: String,
    pub operations: usize,
    /// `None` (JSON `null`) when the search of this partition was stopped because another
    /// partition had already been shown not linearizable.
    pub verdict: Option<Verdict>,
    /// For an `unknown` verdict: the budget that ran out (absent from JSON otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exhausted: Option<Budget>,
    pub search_steps: u64,
    pub model_steps: u64,
    pub distinct_states: usize,
}

/// The result of a linearizability check. Contains nothing that depends on timing or on
/// the thread count, so equal inputs give byte-identical JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinReport {
    pub verdict: Verdict,
    pub model: String,
    /// Whether the history was split into independent parts (P-compositionality).
    pub partitioned: bool,
    pub operations: OperationCounts,
    /// Operations tried by the search, over all partitions (Porcupine's "model steps").
    pub search_steps: u64,
    /// Calls into the model, over all partitions (distinct (state, operation) pairs).
    pub model_steps: u64,
    pub partitions: Vec<PartitionReport>,
    /// One per non-linearizable partition, in partition order.
    pub counterexamples: Vec<Counterexample>,
}

/// The version of `eosim check`'s JSON report (a linearizability check), first in it.
pub const LIN_REPORT_SCHEMA: u32 = 1;

impl LinReport {
    /// The report as JSON, its `schema` version first.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Versioned<'a> {
            schema: u32,
            #[serde(flatten)]
            report: &'a LinReport,
        }
        let versioned = Versioned {
            schema: LIN_REPORT_SCHEMA,
            report: self,
        };
        serde_json::to_string_pretty(&versioned)
            .expect("the report holds only strings, numbers and lists")
    }
}

pub fn view<M: Model>(model: &M, operation: &Operation<M::Input, M::Output>) -> OperationView {
    OperationView {
        process: operation.source.process.clone(),
        description: model.describe_operation(&operation.input, operation.output.as_ref()),
        invoke_line: operation.source.invoke_line,
        complete_line: operation.source.complete_line,
    }
}

/// Describes one partition's search in report terms.
pub fn partition_report<M: Model>(
    model: &M,
    label: &str,
    operations: &[&Operation<M::Input, M::Output>],
    outcome: &SearchOutcome<M::State>,
) -> (PartitionReport, Option<Counterexample>) {
    let report = PartitionReport {
        partition: label.to_string(),
        operations: operations.len(),
        verdict: Some(outcome.verdict.into()),
        exhausted: match outcome.verdict {
            SearchVerdict::Unknown => Some(Budget::Time),
            SearchVerdict::OutOfMemory => Some(Budget::Memory),
            _ => None,
        },
        search_steps: outcome.search_steps,
        model_steps: outcome.model_steps,
        distinct_states: outcome.distinct_states,
    };
    let counterexample = outcome
        .failure
        .as_ref()
        .map(|failure| counterexample(model, label, operations, failure));
    (report, counterexample)
}

fn counterexample<M: Model>(
    model: &M,
    label: &str,
    operations: &[&Operation<M::Input, M::Output>],
    failure: &Failure<M::State>,
) -> Counterexample {
    Counterexample {
        partition: label.to_string(),
        linearizable_prefix: failure
            .prefix
            .iter()
            .map(|(index, state)| PlacedOperation {
                operation: view(model, operations[*index]),
                state_after: model.describe_state(state),
            })
            .collect(),
        stuck_operation: view(model, operations[failure.stuck]),
        states_it_could_see: failure
            .rejecting_states
            .iter()
            .map(|state| model.describe_state(state))
            .collect(),
        more_states: failure.more_rejecting_states,
        rejected_before_search: None,
    }
}

/// The counterexample of a partition rejected before its search: `operation` (an index into
/// `operations`) is never legal, for `reason`.
pub fn rejection<M: Model>(
    model: &M,
    label: &str,
    operations: &[&Operation<M::Input, M::Output>],
    operation: usize,
    reason: &str,
) -> Counterexample {
    Counterexample {
        partition: label.to_string(),
        linearizable_prefix: Vec::new(),
        stuck_operation: view(model, operations[operation]),
        states_it_could_see: Vec::new(),
        more_states: false,
        rejected_before_search: Some(reason.to_string()),
    }
}

impl fmt::Display for OperationView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = match self.complete_line {
            Some(complete) => format!("lines {}–{complete}", self.invoke_line),
            None => format!("line {}–(never completed)", self.invoke_line),
        };
        write!(
            f,
            "process {}: {} ({lines})",
            self.process, self.description
        )
    }
}

/// How many prefix operations the text shows before the stuck one: the tail explains it.
const PREFIX_TAIL_SHOWN: usize = 10;

impl fmt::Display for LinReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = &self.operations;
        writeln!(f, "{} (model {})", self.verdict, self.model)?;
        writeln!(
            f,
            "operations: {} checked ({} completed, {} indeterminate, {} failed but observed), {} failed and dropped",
            counts.checked,
            counts.completed,
            counts.indeterminate,
            counts.failed_observations,
            counts.failed_dropped
        )?;
        let partitioning = if self.partitioned {
            "partitioned"
        } else {
            "not partitioned"
        };
        writeln!(
            f,
            "search: {} partition(s), {partitioning}; {} search steps, {} model steps",
            self.partitions.len(),
            self.search_steps,
            self.model_steps
        )?;
        for partition in self
            .partitions
            .iter()
            .filter(|p| p.verdict == Some(Verdict::Unknown))
        {
            let budget = match partition.exhausted {
                Some(Budget::Memory) => "memory",
                _ => "time",
            };
            writeln!(
                f,
                "partition {}: unknown ({budget} budget exhausted)",
                partition.partition
            )?;
        }
        let stopped = self
            .partitions
            .iter()
            .filter(|p| p.verdict.is_none())
            .count();
        if stopped > 0 {
            writeln!(
                f,
                "{stopped} partition(s) not searched to the end: a violation was found elsewhere first"
            )?;
        }
        for counterexample in &self.counterexamples {
            write_counterexample(f, counterexample)?;
        }
        Ok(())
    }
}

fn write_counterexample(
    f: &mut fmt::Formatter<'_>,
    counterexample: &Counterexample,
) -> fmt::Result {
    let prefix = &counterexample.linearizable_prefix;
    writeln!(
        f,
        "\npartition {}: not linearizable",
        counterexample.partition
    )?;
    if let Some(reason) = &counterexample.rejected_before_search {
        writeln!(f, "  never legal: {}", counterexample.stuck_operation)?;
        return writeln!(f, "  {reason} (found before searching)");
    }
    writeln!(
        f,
        "  longest linearizable prefix: {} operation(s)",
        prefix.len()
    )?;
    let hidden = prefix.len().saturating_sub(PREFIX_TAIL_SHOWN);
    if hidden > 0 {
        writeln!(f, "    … {hidden} earlier operation(s)")?;
    }
    for placed in &prefix[hidden..] {
        writeln!(f, "    {}  ⇒ {}", placed.operation, placed.state_after)?;
    }
    writeln!(f, "  cannot place: {}", counterexample.stuck_operation)?;
    let more = if counterexample.more_states {
        ", …"
    } else {
        ""
    };
    writeln!(
        f,
        "  states it was tried in, none of which allows it: {}{more}",
        counterexample.states_it_could_see.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_dominate_and_unknown_beats_linearizable() {
        use Verdict::*;
        assert_eq!(
            Verdict::combine([Linearizable, Unknown, NotLinearizable]),
            NotLinearizable
        );
        assert_eq!(Verdict::combine([Linearizable, Unknown]), Unknown);
        assert_eq!(Verdict::combine([]), Linearizable);
        assert_eq!(
            serde_json::to_string(&NotLinearizable).unwrap(),
            "\"not-linearizable\""
        );
    }
}
