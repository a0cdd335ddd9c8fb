//! An append-only log (eosim's own model; Knossos has none). Initially empty.
//!
//! - `append`: invoke `:value v`, ok `:value offset` — legal iff `offset` is the log's length;
//!   the log then ends with `v`. With an unknown outcome it appends at the end.
//! - `read`: invoke `:value [from limit]` (`limit` may be `nil`, or the value may be just
//!   `from`), ok `:value [v …]` — legal iff the values are exactly the entries from offset
//!   `from` up to `from + limit` or the end of the log, whichever comes first (a fetch).

use super::{Conversion, FromHistory, Model, Semantics, failed, unsupported};
use crate::lin::edn::Value;
use crate::lin::history::{Completion, RawOperation};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LogInput {
    Append(Value),
    Read { from: u64, limit: Option<u64> },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LogOutput {
    Appended { offset: u64 },
    Read(Vec<Value>),
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Log;

impl Model for Log {
    type Input = LogInput;
    type Output = LogOutput;
    /// The entries, offset = index.
    type State = Vec<Value>;

    fn name(&self) -> &'static str {
        "log"
    }

    fn init(&self) -> Vec<Value> {
        Vec::new()
    }

    fn step(
        &self,
        log: &Vec<Value>,
        input: &LogInput,
        output: Option<&LogOutput>,
    ) -> Option<Vec<Value>> {
        match (input, output) {
            (LogInput::Append(value), output) => {
                if let Some(LogOutput::Appended { offset }) = output
                    && *offset != log.len() as u64
                {
                    return None;
                }
                let mut next = log.clone();
                next.push(value.clone());
                Some(next)
            }
            (LogInput::Read { from, limit }, Some(LogOutput::Read(values))) => {
                let start = (*from).min(log.len() as u64) as usize;
                let end = limit.map_or(log.len(), |limit| {
                    start.saturating_add(limit as usize).min(log.len())
                });
                (log[start..end] == values[..]).then(|| log.clone())
            }
            (LogInput::Read { .. }, _) => Some(log.clone()),
        }
    }

    fn is_read_only(&self, input: &LogInput, _output: Option<&LogOutput>) -> bool {
        matches!(input, LogInput::Read { .. })
    }

    fn describe_operation(&self, input: &LogInput, output: Option<&LogOutput>) -> String {
        match (input, output) {
            (LogInput::Append(value), Some(LogOutput::Appended { offset })) => {
                format!("append {value} → offset {offset}")
            }
            (LogInput::Append(value), _) => format!("append {value} → ?"),
            (LogInput::Read { from, limit }, output) => {
                let limit = limit.map_or("∞".to_string(), |limit| limit.to_string());
                match output {
                    Some(LogOutput::Read(values)) => format!(
                        "read from {from} limit {limit} → {}",
                        Value::Vector(values.clone())
                    ),
                    _ => format!("read from {from} limit {limit} → ?"),
                }
            }
        }
    }

    fn describe_state(&self, log: &Vec<Value>) -> String {
        Value::Vector(log.clone()).to_string()
    }
}

fn offset(value: &Value, what: &str) -> Result<u64, String> {
    match value {
        Value::Int(offset) if *offset >= 0 => Ok(*offset as u64),
        other => Err(format!(
            "expected {what} as a non-negative integer, found {other}"
        )),
    }
}

fn read_range(value: &Value) -> Result<(u64, Option<u64>), String> {
    match value.as_sequence() {
        Some([from, Value::Nil]) => Ok((offset(from, "the read's start offset")?, None)),
        Some([from, limit]) => Ok((
            offset(from, "the read's start offset")?,
            Some(offset(limit, "the read's limit")?),
        )),
        _ => Ok((
            offset(value, "the read's [from limit] or start offset")?,
            None,
        )),
    }
}

impl super::InitialState for Log {
    /// A vector of entries, offset = index.
    fn initial_state(value: &Value) -> Result<Vec<Value>, String> {
        value
            .as_sequence()
            .map(<[Value]>::to_vec)
            .ok_or_else(|| format!("a vector of entries such as [1 2], found {value}"))
    }
}

impl FromHistory for Log {
    fn convert(
        raw: &RawOperation,
        _semantics: &Semantics,
    ) -> Result<Conversion<LogInput, LogOutput>, String> {
        if failed(raw) {
            return Ok(Conversion::Dropped);
        }
        let completed = match &raw.completion {
            Completion::Ok(value) => Some(value),
            _ => None,
        };
        match raw.f.as_str() {
            "append" => {
                let output = completed
                    .map(|value| offset(value, "the appended offset"))
                    .transpose()?;
                let output = output.map(|offset| LogOutput::Appended { offset });
                Ok(Conversion::Operation(
                    LogInput::Append(raw.invoke_value.clone()),
                    output,
                ))
            }
            "read" => {
                let (from, limit) = read_range(&raw.invoke_value)?;
                let output = match completed {
                    Some(value) => match value.as_sequence() {
                        Some(values) => Some(LogOutput::Read(values.to_vec())),
                        None => {
                            return Err(format!(
                                "expected the values read as a vector, found {value}"
                            ));
                        }
                    },
                    None => None,
                };
                Ok(Conversion::Operation(
                    LogInput::Read { from, limit },
                    output,
                ))
            }
            _ => Err(unsupported("log", raw, ":append or :read")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(from: u64, limit: Option<u64>, values: &[i64]) -> (LogInput, LogOutput) {
        (
            LogInput::Read { from, limit },
            LogOutput::Read(values.iter().map(|&v| Value::Int(v)).collect()),
        )
    }

    #[test]
    fn append_returns_the_offset_and_read_returns_the_range() {
        let model = Log;
        let appended = |offset| LogOutput::Appended { offset };
        let log = model
            .step(
                &model.init(),
                &LogInput::Append(Value::Int(10)),
                Some(&appended(0)),
            )
            .unwrap();
        assert!(
            model
                .step(&log, &LogInput::Append(Value::Int(11)), Some(&appended(0)))
                .is_none()
        );
        let log = model
            .step(&log, &LogInput::Append(Value::Int(11)), None)
            .unwrap();
        let log = model
            .step(&log, &LogInput::Append(Value::Int(12)), Some(&appended(2)))
            .unwrap();
        for (from, limit, values, legal) in [
            (0, None, &[10, 11, 12][..], true),
            (1, Some(1), &[11][..], true),
            (1, Some(5), &[11, 12][..], true),
            (1, Some(1), &[11, 12][..], false),
            (3, None, &[][..], true),
            (9, None, &[][..], true),
            (0, None, &[10, 11][..], false),
        ] {
            let (input, output) = read(from, limit, values);
            assert_eq!(
                model.step(&log, &input, Some(&output)).is_some(),
                legal,
                "{input:?} {output:?}"
            );
        }
    }
}
