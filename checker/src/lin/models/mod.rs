//! Sequential specifications behind one small trait, and the conversion of paired history
//! operations into each model's typed operations.

use std::hash::Hash;

use rustc_hash::FxHashMap;

use super::LinError;
use super::edn::Value;
use super::history::{Completion, RawOperation};

pub mod cas_register;
pub mod initial;
pub mod kv;
mod kv_order;
pub mod log;
pub mod multi_register;
pub mod mutex;
pub mod register;

pub use cas_register::CasRegister;
pub use initial::{InitialState, Initially};
pub use kv::Kv;
pub use log::Log;
pub use multi_register::MultiRegister;
pub use mutex::Mutex;
pub use register::Register;

/// Where an operation came from, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationSource {
    pub process: String,
    pub invoke_line: usize,
    pub complete_line: Option<usize>,
}

/// One operation of a history, typed for a model.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation<I, O> {
    pub input: I,
    /// `None` when the result is unknown: any result the model produces is accepted.
    pub output: Option<O>,
    /// Invocation time; any totally ordered clock (file position, virtual nanoseconds).
    pub call: u64,
    /// Completion time, or `None` when the operation may take effect at any point after its
    /// invocation, or never.
    pub ret: Option<u64>,
    pub source: OperationSource,
}

/// A subset of a history that can be checked on its own (P-compositionality).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Names the part in reports, e.g. the key.
    pub label: String,
    /// Indices into the history, in history order.
    pub operations: Vec<usize>,
}

/// A sequential specification. Models are deterministic: one state in, at most one out.
pub trait Model: Sync {
    /// Compared and hashed by the search to find operations with unknown outcomes that do
    /// the same (the same input: a model's step is a function of state, input and output).
    type Input: Sync + Eq + Hash;
    type Output: Sync;
    type State: Clone + Eq + Hash + Send;

    /// The name used on the command line and in reports.
    fn name(&self) -> &'static str;

    fn init(&self) -> Self::State;

    /// Applies one operation; `None` if it cannot have returned `output` in `state`.
    /// With `output == None` (unknown result) the operation takes its normal effect.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// True if the operation never changes the state wherever it is legal (a read, or a CAS
    /// that observed a mismatch). The search linearizes such an operation as soon as it is
    /// legal and never tries alternatives to it: doing it first loses no linearization.
    /// Answering false is always safe, only slower. Default false.
    fn is_read_only(&self, _input: &Self::Input, _output: Option<&Self::Output>) -> bool {
        false
    }

    /// For a read-only operation: whether it is legal in `state`. The default asks `step`;
    /// models override it to spare building a copy of the state only to drop it.
    fn read_is_legal(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> bool {
        self.step(state, input, output).is_some()
    }

    /// Whether an operation may undo what others built, for [`Model::outgrown`] (a put, which
    /// sets a key whatever it held; an append only lengthens it). The default true is always
    /// safe.
    fn resets(&self, _input: &Self::Input) -> bool {
        true
    }

    /// For an operation that [`Model::resets`]: whether a sequence that starts with it may
    /// make the read `read` → `output` legal, for [`Model::outgrown`] (a put of another key,
    /// or of a value the value read does not start with, cannot). The default true is always
    /// safe.
    fn may_enable(
        &self,
        _reset: &Self::Input,
        _read: &Self::Input,
        _output: Option<&Self::Output>,
    ) -> bool {
        true
    }

    /// For a read-only operation with a known output that is not legal in `state`: true if no
    /// sequence of operations that do not [`Model::resets`] leads from `state` to a state
    /// where it is legal (a key-value store whose value is not a prefix of the value read
    /// never reaches it by appends). The search gives up a configuration where such a read
    /// is not legal and none of the unlinearized operations invoked before the read returned
    /// resets the state in a way that [`Model::may_enable`] it: nothing can make the read
    /// legal before it returns. Must be sound: the default false never gives up.
    fn outgrown(
        &self,
        _state: &Self::State,
        _input: &Self::Input,
        _output: Option<&Self::Output>,
    ) -> bool {
        false
    }

    /// Splits a history into independently checkable parts. The default keeps it whole.
    fn partition(&self, operations: &[Operation<Self::Input, Self::Output>]) -> Vec<Partition> {
        vec![whole_history(operations.len())]
    }

    /// A cheap look at one partition before its search: an operation that no ordering of the
    /// partition can make legal (e.g. a read of a value nothing wrote), the earliest-returning
    /// such one if several. Must be sound: answer only for a partition that is surely not
    /// linearizable. The default finds none (the search decides).
    fn impossible(
        &self,
        _operations: &[&Operation<Self::Input, Self::Output>],
    ) -> Option<Impossible> {
        None
    }

    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String;

    fn describe_state(&self, state: &Self::State) -> String;
}

/// An operation that no ordering of its partition can make legal (see [`Model::impossible`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Impossible {
    /// Index into the partition's operations.
    pub operation: usize,
    /// Why, in a sentence for the report.
    pub reason: String,
}

/// For register-like models: the earliest-returning operation (with a known outcome) that
/// needs the register to hold a value that neither `initial` is nor any operation invoked
/// before it returned writes (`needs` and `writes` say what an operation needs and writes).
pub(crate) fn unwritten_value<'o, I: 'o, O: 'o>(
    operations: &[&'o Operation<I, O>],
    initial: &Value,
    writes: impl Fn(&'o I) -> Option<&'o Value>,
    needs: impl Fn(&'o I, Option<&'o O>) -> Option<&'o Value>,
) -> Option<Impossible> {
    // A value's earliest writer's call (looked up only: the order of the map is never seen).
    let mut first_write: FxHashMap<&Value, u64> = FxHashMap::default();
    for operation in operations {
        if let Some(value) = writes(&operation.input) {
            let call = first_write.entry(value).or_insert(operation.call);
            *call = (*call).min(operation.call);
        }
    }
    // A call at the same time as a return counts as concurrent (as in the search).
    let (_, operation, value) = operations
        .iter()
        .enumerate()
        .filter_map(|(index, operation)| {
            let ret = operation.ret?;
            let value = needs(&operation.input, operation.output.as_ref())?;
            let written =
                value == initial || first_write.get(value).is_some_and(|&call| call <= ret);
            (!written).then_some((ret, index, value))
        })
        .min_by_key(|&(ret, index, _)| (ret, index))?;
    let reason = if first_write.contains_key(value) {
        format!("nothing invoked before it returned writes {value}")
    } else {
        format!("nothing writes {value}")
    };
    Some(Impossible { operation, reason })
}

/// The single partition holding every operation.
pub fn whole_history(operation_count: usize) -> Partition {
    Partition {
        label: "all".to_string(),
        operations: (0..operation_count).collect(),
    }
}

/// How a history format encodes what it observed; set by the format reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Semantics {
    /// Knossos: a read that returned `nil` is a read whose value is unknown. Porcupine's etcd
    /// logs: `nil` is the value read (the key did not exist).
    pub nil_read_is_unknown: bool,
    /// A `:fail :cas` observed that the register did not hold the expected value (etcd),
    /// instead of being an operation that did not happen (Knossos).
    pub failed_cas_is_observation: bool,
}

/// What a model makes of one history operation.
pub enum Conversion<I, O> {
    /// The operation did not happen (a `:fail` the model does not observe).
    Dropped,
    Operation(I, Option<O>),
}

/// Models that can be built from the generic history vocabulary.
pub trait FromHistory: Model {
    /// Converts one operation; `Err` names what the model expected instead.
    fn convert(
        raw: &RawOperation,
        semantics: &Semantics,
    ) -> Result<Conversion<Self::Input, Self::Output>, String>;
}

/// Counts of what the conversion kept and dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct OperationCounts {
    /// Operations handed to the search.
    pub checked: usize,
    /// … of which completed with a known result.
    pub completed: usize,
    /// … of which have an unknown outcome (`:info` or never completed).
    pub indeterminate: usize,
    /// … of which failed and count as an observation (e.g. an etcd `:fail :cas`).
    pub failed_observations: usize,
    /// Failed operations left out because they did not happen.
    pub failed_dropped: usize,
}

/// An operation typed for model `M`.
pub type ModelOperation<M> = Operation<<M as Model>::Input, <M as Model>::Output>;

/// Converts a paired history into a model's operations.
pub fn convert_history<M: FromHistory>(
    raw_operations: &[RawOperation],
    semantics: &Semantics,
) -> Result<(Vec<ModelOperation<M>>, OperationCounts), LinError> {
    let mut operations = Vec::with_capacity(raw_operations.len());
    let mut counts = OperationCounts::default();
    for raw in raw_operations {
        let conversion = M::convert(raw, semantics).map_err(|message| LinError::Model {
            line: raw.complete_line.unwrap_or(raw.invoke_line),
            message,
        })?;
        let Conversion::Operation(input, output) = conversion else {
            counts.failed_dropped += 1;
            continue;
        };
        counts.checked += 1;
        match raw.completion {
            Completion::Ok(_) => counts.completed += 1,
            Completion::Fail(_) => counts.failed_observations += 1,
            Completion::Unknown => counts.indeterminate += 1,
        }
        operations.push(Operation {
            input,
            output,
            call: raw.call_time,
            ret: raw.return_time,
            source: OperationSource {
                process: raw.process.to_string(),
                invoke_line: raw.invoke_line,
                complete_line: raw.complete_line,
            },
        });
    }
    Ok((operations, counts))
}

/// The value an operation is known by: the completion's when it completed (Knossos replaces
/// the invocation's value with the completion's), else the invocation's.
pub fn observed_value(raw: &RawOperation) -> &Value {
    match &raw.completion {
        Completion::Ok(value) | Completion::Fail(value) => value,
        Completion::Unknown => &raw.invoke_value,
    }
}

/// A read's result: `None` (unknown) for a pending read or, under Knossos semantics, `nil`.
pub fn read_result(raw: &RawOperation, semantics: &Semantics) -> Option<Value> {
    match &raw.completion {
        Completion::Ok(Value::Nil) if semantics.nil_read_is_unknown => None,
        Completion::Ok(value) => Some(value.clone()),
        Completion::Fail(_) | Completion::Unknown => None,
    }
}

/// The error text for an operation function a model does not know.
pub fn unsupported(model: &str, raw: &RawOperation, supported: &str) -> String {
    format!(
        "the {model} model has no :{} operation (expected {supported})",
        raw.f
    )
}

/// Extracts a `[a b]` pair.
pub fn pair(value: &Value, what: &str) -> Result<(Value, Value), String> {
    match value.as_sequence() {
        Some([first, second]) => Ok((first.clone(), second.clone())),
        _ => Err(format!(
            "expected {what} as a two-element vector, found {value}"
        )),
    }
}

/// True when the raw operation is a `:fail` (it did not happen, unless observed).
pub fn failed(raw: &RawOperation) -> bool {
    matches!(raw.completion, Completion::Fail(_))
}
