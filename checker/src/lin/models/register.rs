//! A read/write register, as Knossos defines it: initially `nil`; a read of `v` is legal iff
//! the register holds `v` (a read whose value is unknown always is); a write sets it.

use super::{
    Conversion, FromHistory, Impossible, Model, Operation, Semantics, failed, read_result,
    unsupported, unwritten_value,
};
use crate::lin::edn::Value;
use crate::lin::history::RawOperation;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterInput {
    Read,
    Write(Value),
}

/// The model; its output is the value a read returned.
#[derive(Clone, Copy, Debug, Default)]
pub struct Register;

impl Model for Register {
    type Input = RegisterInput;
    type Output = Value;
    type State = Value;

    fn name(&self) -> &'static str {
        "register"
    }

    fn init(&self) -> Value {
        Value::Nil
    }

    fn step(&self, state: &Value, input: &RegisterInput, output: Option<&Value>) -> Option<Value> {
        match input {
            RegisterInput::Read => match output {
                Some(read) if read != state => None,
                _ => Some(state.clone()),
            },
            RegisterInput::Write(value) => Some(value.clone()),
        }
    }

    fn is_read_only(&self, input: &RegisterInput, _output: Option<&Value>) -> bool {
        matches!(input, RegisterInput::Read)
    }

    /// Only a write of the value read may make a read legal.
    fn may_enable(
        &self,
        reset: &RegisterInput,
        _read: &RegisterInput,
        output: Option<&Value>,
    ) -> bool {
        match (reset, output) {
            (RegisterInput::Write(value), Some(read)) => value == read,
            (RegisterInput::Read, _) => false,
            (_, None) => true,
        }
    }

    /// A read not legal in a state stays so until a write sets the register.
    fn outgrown(&self, _state: &Value, _input: &RegisterInput, output: Option<&Value>) -> bool {
        output.is_some()
    }

    fn impossible(&self, operations: &[&Operation<RegisterInput, Value>]) -> Option<Impossible> {
        fn writes(input: &RegisterInput) -> Option<&Value> {
            match input {
                RegisterInput::Write(value) => Some(value),
                RegisterInput::Read => None,
            }
        }
        fn needs<'o>(input: &RegisterInput, output: Option<&'o Value>) -> Option<&'o Value> {
            match input {
                RegisterInput::Read => output,
                RegisterInput::Write(_) => None,
            }
        }
        unwritten_value(operations, &Value::Nil, writes, needs)
    }

    fn describe_operation(&self, input: &RegisterInput, output: Option<&Value>) -> String {
        match (input, output) {
            (RegisterInput::Read, Some(value)) => format!("read → {value}"),
            (RegisterInput::Read, None) => "read → ?".to_string(),
            (RegisterInput::Write(value), _) => format!("write {value}"),
        }
    }

    fn describe_state(&self, state: &Value) -> String {
        state.to_string()
    }
}

impl super::InitialState for Register {
    /// Any value: the register holds it.
    fn initial_state(value: &Value) -> Result<Value, String> {
        Ok(value.clone())
    }
}

impl FromHistory for Register {
    fn convert(
        raw: &RawOperation,
        semantics: &Semantics,
    ) -> Result<Conversion<RegisterInput, Value>, String> {
        if failed(raw) {
            return Ok(Conversion::Dropped);
        }
        match raw.f.as_str() {
            "read" => Ok(Conversion::Operation(
                RegisterInput::Read,
                read_result(raw, semantics),
            )),
            "write" => Ok(Conversion::Operation(
                RegisterInput::Write(raw.invoke_value.clone()),
                None,
            )),
            _ => Err(unsupported("register", raw, ":read or :write")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_must_match_and_unknown_reads_match_anything() {
        let register = Register;
        let state = register
            .step(&register.init(), &RegisterInput::Write(Value::Int(3)), None)
            .unwrap();
        assert_eq!(state, Value::Int(3));
        assert!(
            register
                .step(&state, &RegisterInput::Read, Some(&Value::Int(3)))
                .is_some()
        );
        assert!(
            register
                .step(&state, &RegisterInput::Read, Some(&Value::Int(4)))
                .is_none()
        );
        assert!(
            register
                .step(&state, &RegisterInput::Read, Some(&Value::Nil))
                .is_none()
        );
        assert!(register.step(&state, &RegisterInput::Read, None).is_some());
    }
}
