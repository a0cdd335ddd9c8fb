//! A compare-and-set register, as Knossos defines it (and Porcupine's etcd model): initially
//! `nil`; read, write, and `cas [expected new]`, which sets `new` iff the register holds
//! `expected`. A successful CAS requires the expected value; a failed CAS that counts as an
//! observation requires any other value and leaves the register unchanged.

use super::{
    Conversion, FromHistory, Impossible, Model, Operation, Semantics, failed, pair, read_result,
    unsupported, unwritten_value,
};
use crate::lin::edn::Value;
use crate::lin::history::{Completion, RawOperation};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CasInput {
    Read,
    Write(Value),
    Cas { expected: Value, new: Value },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CasOutput {
    /// The value a read returned.
    Read(Value),
    CasSucceeded,
    /// The CAS observed that the register did not hold the expected value.
    CasFailed,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct CasRegister;

impl Model for CasRegister {
    type Input = CasInput;
    type Output = CasOutput;
    type State = Value;

    fn name(&self) -> &'static str {
        "cas-register"
    }

    fn init(&self) -> Value {
        Value::Nil
    }

    fn step(&self, state: &Value, input: &CasInput, output: Option<&CasOutput>) -> Option<Value> {
        match input {
            CasInput::Read => match output {
                Some(CasOutput::Read(read)) if read != state => None,
                _ => Some(state.clone()),
            },
            CasInput::Write(value) => Some(value.clone()),
            CasInput::Cas { expected, new } => {
                let matches = expected == state;
                match output {
                    Some(CasOutput::CasFailed) if matches => None,
                    Some(CasOutput::CasFailed) => Some(state.clone()),
                    Some(_) if !matches => None,
                    _ if matches => Some(new.clone()),
                    _ => Some(state.clone()),
                }
            }
        }
    }

    fn is_read_only(&self, input: &CasInput, output: Option<&CasOutput>) -> bool {
        matches!(input, CasInput::Read)
            || matches!(
                (input, output),
                (CasInput::Cas { .. }, Some(CasOutput::CasFailed))
            )
    }

    /// Any write or CAS may set the register to what a read needs.
    fn may_enable(&self, reset: &CasInput, read: &CasInput, output: Option<&CasOutput>) -> bool {
        let written = match reset {
            CasInput::Write(value) | CasInput::Cas { new: value, .. } => value,
            CasInput::Read => return false,
        };
        match (read, output) {
            (CasInput::Read, Some(CasOutput::Read(value))) => written == value,
            (CasInput::Cas { expected, .. }, Some(CasOutput::CasFailed)) => written != expected,
            (CasInput::Cas { expected, .. }, Some(CasOutput::CasSucceeded)) => written == expected,
            _ => true,
        }
    }

    /// A read not legal in a state stays so until a write or CAS sets the register.
    fn outgrown(&self, _state: &Value, _input: &CasInput, output: Option<&CasOutput>) -> bool {
        output.is_some()
    }

    fn impossible(&self, operations: &[&Operation<CasInput, CasOutput>]) -> Option<Impossible> {
        fn writes(input: &CasInput) -> Option<&Value> {
            match input {
                CasInput::Write(value) | CasInput::Cas { new: value, .. } => Some(value),
                CasInput::Read => None,
            }
        }
        // A read of v, or a CAS that succeeded from v, needs the register to hold v.
        fn needs<'o>(input: &'o CasInput, output: Option<&'o CasOutput>) -> Option<&'o Value> {
            match (input, output) {
                (CasInput::Read, Some(CasOutput::Read(value))) => Some(value),
                (CasInput::Cas { expected, .. }, Some(CasOutput::CasSucceeded)) => Some(expected),
                _ => None,
            }
        }
        unwritten_value(operations, &Value::Nil, writes, needs)
    }

    fn describe_operation(&self, input: &CasInput, output: Option<&CasOutput>) -> String {
        match (input, output) {
            (CasInput::Read, Some(CasOutput::Read(value))) => format!("read → {value}"),
            (CasInput::Read, _) => "read → ?".to_string(),
            (CasInput::Write(value), _) => format!("write {value}"),
            (CasInput::Cas { expected, new }, output) => {
                let outcome = match output {
                    Some(CasOutput::CasFailed) => "failed",
                    Some(_) => "ok",
                    None => "?",
                };
                format!("cas {expected} → {new} ({outcome})")
            }
        }
    }

    fn describe_state(&self, state: &Value) -> String {
        state.to_string()
    }
}

impl super::InitialState for CasRegister {
    /// Any value: the register holds it.
    fn initial_state(value: &Value) -> Result<Value, String> {
        Ok(value.clone())
    }
}

impl FromHistory for CasRegister {
    fn convert(
        raw: &RawOperation,
        semantics: &Semantics,
    ) -> Result<Conversion<CasInput, CasOutput>, String> {
        let is_observed_failed_cas = raw.f == "cas" && semantics.failed_cas_is_observation;
        if failed(raw) && !is_observed_failed_cas {
            return Ok(Conversion::Dropped);
        }
        let operation = match raw.f.as_str() {
            "read" => (
                CasInput::Read,
                read_result(raw, semantics).map(CasOutput::Read),
            ),
            "write" => (CasInput::Write(raw.invoke_value.clone()), None),
            "cas" => {
                let (expected, new) = pair(&raw.invoke_value, "the :cas value [expected new]")?;
                let output = match raw.completion {
                    Completion::Ok(_) => Some(CasOutput::CasSucceeded),
                    Completion::Fail(_) => Some(CasOutput::CasFailed),
                    Completion::Unknown => None,
                };
                (CasInput::Cas { expected, new }, output)
            }
            _ => return Err(unsupported("cas-register", raw, ":read, :write or :cas")),
        };
        Ok(Conversion::Operation(operation.0, operation.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cas(expected: i64, new: i64) -> CasInput {
        CasInput::Cas {
            expected: Value::Int(expected),
            new: Value::Int(new),
        }
    }

    #[test]
    fn cas_outcomes() {
        let model = CasRegister;
        let one = Value::Int(1);
        assert_eq!(
            model.step(&one, &cas(1, 2), Some(&CasOutput::CasSucceeded)),
            Some(Value::Int(2))
        );
        assert_eq!(
            model.step(&one, &cas(3, 2), Some(&CasOutput::CasSucceeded)),
            None
        );
        assert_eq!(
            model.step(&one, &cas(3, 2), Some(&CasOutput::CasFailed)),
            Some(one.clone())
        );
        assert_eq!(
            model.step(&one, &cas(1, 2), Some(&CasOutput::CasFailed)),
            None
        );
        // Unknown outcome: the CAS does whatever the state makes it do.
        assert_eq!(model.step(&one, &cas(1, 2), None), Some(Value::Int(2)));
        assert_eq!(model.step(&one, &cas(3, 2), None), Some(one.clone()));
        assert_eq!(
            model.step(
                &Value::Nil,
                &CasInput::Read,
                Some(&CasOutput::Read(Value::Nil))
            ),
            Some(Value::Nil)
        );
        assert_eq!(
            model.step(&one, &CasInput::Read, Some(&CasOutput::Read(Value::Nil))),
            None
        );
    }
}
