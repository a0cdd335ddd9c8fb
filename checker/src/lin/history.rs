//! The format-independent history: events as read from a file, paired into operations.

use std::collections::BTreeMap;

use super::LinError;
use super::edn::Value;

/// What an event says about its operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Invoke,
    /// The operation took effect and returned.
    Ok,
    /// The operation definitely did not take effect.
    Fail,
    /// The outcome is unknown: it may have taken effect, or not.
    Info,
}

impl EventType {
    pub fn from_keyword(name: &str) -> Option<EventType> {
        Some(match name {
            "invoke" => EventType::Invoke,
            "ok" => EventType::Ok,
            "fail" => EventType::Fail,
            "info" => EventType::Info,
            _ => return None,
        })
    }
}

/// One line (or one map) of a history file. File order is real-time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// 1-based line where the event starts.
    pub line: usize,
    pub process: Value,
    pub kind: EventType,
    /// The operation's function, without the colon (`read`, `cas`, `append`, …).
    pub f: String,
    /// The `:key` of key-value histories.
    pub key: Option<Value>,
    pub value: Value,
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Completion {
    Ok(Value),
    Fail(Value),
    /// `:info`, or no completion before the end of the history.
    Unknown,
}

/// An invocation paired with its completion.
#[derive(Clone, Debug, PartialEq)]
pub struct RawOperation {
    pub process: Value,
    pub f: String,
    pub key: Option<Value>,
    pub invoke_value: Value,
    pub completion: Completion,
    pub invoke_line: usize,
    pub complete_line: Option<usize>,
    /// Position of the invocation among the history's events: real time.
    pub call_time: u64,
    /// Position of the completion, or `None` when the outcome is unknown (the operation
    /// stays open until after the last event).
    pub return_time: Option<u64>,
}

/// Pairs every completion with the most recent pending invocation of the same process.
/// Invocations left open at the end of the history get an unknown outcome.
pub fn pair_events(events: &[Event]) -> Result<Vec<RawOperation>, LinError> {
    let mut operations: Vec<RawOperation> = Vec::new();
    // process (as text, so any EDN value can identify one) → index of its pending operation
    let mut pending: BTreeMap<String, usize> = BTreeMap::new();
    for (time, event) in events.iter().enumerate() {
        let process = event.process.to_string();
        if event.kind == EventType::Invoke {
            if let Some(&open) = pending.get(&process) {
                return Err(LinError::Invalid {
                    line: event.line,
                    message: format!(
                        "process {process} invokes while its operation from line {} is still pending",
                        operations[open].invoke_line
                    ),
                });
            }
            pending.insert(process, operations.len());
            operations.push(RawOperation {
                process: event.process.clone(),
                f: event.f.clone(),
                key: event.key.clone(),
                invoke_value: event.value.clone(),
                completion: Completion::Unknown,
                invoke_line: event.line,
                complete_line: None,
                call_time: time as u64,
                return_time: None,
            });
            continue;
        }
        let Some(open) = pending.remove(&process) else {
            return Err(LinError::Invalid {
                line: event.line,
                message: format!(
                    "a completion for process {process}, which has no pending invocation"
                ),
            });
        };
        let operation = &mut operations[open];
        if operation.f != event.f {
            return Err(LinError::Invalid {
                line: event.line,
                message: format!(
                    "completion :{} does not match the pending :{} invoked on line {}",
                    event.f, operation.f, operation.invoke_line
                ),
            });
        }
        operation.complete_line = Some(event.line);
        match event.kind {
            EventType::Ok => {
                operation.completion = Completion::Ok(event.value.clone());
                operation.return_time = Some(time as u64);
            }
            EventType::Fail => {
                operation.completion = Completion::Fail(event.value.clone());
                operation.return_time = Some(time as u64);
            }
            EventType::Info | EventType::Invoke => {}
        }
    }
    Ok(operations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(line: usize, process: i64, kind: EventType, f: &str, value: Value) -> Event {
        Event {
            line,
            process: Value::Int(process),
            kind,
            f: f.into(),
            key: None,
            value,
        }
    }

    #[test]
    fn pairs_completions_and_leaves_info_and_dangling_open() {
        let events = vec![
            event(1, 0, EventType::Invoke, "write", Value::Int(1)),
            event(2, 1, EventType::Invoke, "read", Value::Nil),
            event(3, 0, EventType::Info, "write", Value::Int(1)),
            event(4, 1, EventType::Ok, "read", Value::Int(1)),
            event(5, 2, EventType::Invoke, "read", Value::Nil),
        ];
        let operations = pair_events(&events).unwrap();
        assert_eq!(operations.len(), 3);
        assert_eq!(operations[0].completion, Completion::Unknown);
        assert_eq!(operations[0].return_time, None);
        assert_eq!(operations[0].complete_line, Some(3));
        assert_eq!(operations[1].completion, Completion::Ok(Value::Int(1)));
        assert_eq!(
            (operations[1].call_time, operations[1].return_time),
            (1, Some(3))
        );
        assert_eq!(operations[2].completion, Completion::Unknown);
    }

    #[test]
    fn rejects_orphan_completions_mismatches_and_double_invokes() {
        let orphan = [event(7, 0, EventType::Ok, "read", Value::Nil)];
        assert!(matches!(
            pair_events(&orphan),
            Err(LinError::Invalid { line: 7, .. })
        ));
        let mismatch = [
            event(1, 0, EventType::Invoke, "read", Value::Nil),
            event(2, 0, EventType::Ok, "write", Value::Int(1)),
        ];
        assert!(matches!(
            pair_events(&mismatch),
            Err(LinError::Invalid { line: 2, .. })
        ));
        let double = [
            event(1, 0, EventType::Invoke, "read", Value::Nil),
            event(2, 0, EventType::Invoke, "read", Value::Nil),
        ];
        assert!(matches!(
            pair_events(&double),
            Err(LinError::Invalid { line: 2, .. })
        ));
    }
}
