//! Porcupine's `jepsen/etcd_NNN.log` format: one compare-and-set register, one event per line,
//! `INFO jepsen.util - <process> <type> <f> <value>`, fields separated by tabs or spaces.
//!
//! Semantics (checker/testdata/porcupine/FORMATS.md): `nil` read is the value read; a
//! `:fail :cas` observed that the register did not hold the expected value; a
//! `:fail :read :timed-out` and every `:info` have an unknown outcome.

use crate::lin::LinError;
use crate::lin::edn::{self, Value};
use crate::lin::history::{Event, EventType};
use crate::lin::models::Semantics;

pub const SEMANTICS: Semantics = Semantics {
    nil_read_is_unknown: false,
    failed_cas_is_observation: true,
};

const LINE_SHAPE: &str =
    "\"INFO jepsen.util - <process> <:invoke|:ok|:fail|:info> <:read|:write|:cas> <value>\"";

/// Reads every non-blank line as an event.
pub fn parse(text: &str) -> Result<Vec<Event>, LinError> {
    let mut events = Vec::new();
    for (index, line_text) in text.lines().enumerate() {
        if !line_text.trim().is_empty() {
            events.push(parse_line(line_text, index + 1)?);
        }
    }
    Ok(events)
}

fn parse_line(text: &str, line: usize) -> Result<Event, LinError> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() < 7 || fields[0..3] != ["INFO", "jepsen.util", "-"] {
        return Err(LinError::expected(line, LINE_SHAPE, &format!("{text:?}")));
    }
    let process: i64 = fields[3].parse().map_err(|_| {
        LinError::expected(line, "an integer process id", &format!("{:?}", fields[3]))
    })?;
    let kind = keyword(fields[4], line).and_then(|name| {
        EventType::from_keyword(name)
            .ok_or_else(|| unexpected(line, ":invoke, :ok, :fail or :info", fields[4]))
    })?;
    let f = keyword(fields[5], line)?;
    // The value's own column would mislead: report the line only.
    let value = edn::read_one(&fields[6..].join(" "), line).map_err(|error| match error {
        LinError::Syntax {
            expected, found, ..
        } => LinError::Malformed {
            line,
            expected,
            found,
        },
        other => other,
    })?;
    let kind = check_body(kind, f, &value, line)?;
    Ok(Event {
        line,
        process: Value::Int(process),
        kind,
        f: f.to_string(),
        key: None,
        value,
    })
}

fn keyword(field: &str, line: usize) -> Result<&str, LinError> {
    field
        .strip_prefix(':')
        .ok_or_else(|| unexpected(line, "a keyword", field))
}

fn unexpected(line: usize, expected: &str, found: &str) -> LinError {
    LinError::expected(line, expected, &format!("{found:?}"))
}

/// Accepts exactly the bodies FORMATS.md lists; returns the event type to use (a timed-out
/// failed read is indeterminate, not failed).
fn check_body(kind: EventType, f: &str, value: &Value, line: usize) -> Result<EventType, LinError> {
    let is_int = matches!(value, Value::Int(_));
    let is_pair = matches!(value.as_sequence(), Some([Value::Int(_), Value::Int(_)]));
    let timed_out = value.as_keyword() == Some("timed-out");
    let accepted = match (kind, f) {
        (EventType::Invoke, "read") => *value == Value::Nil,
        (EventType::Invoke | EventType::Ok, "write") => is_int,
        (EventType::Invoke | EventType::Ok | EventType::Fail, "cas") => is_pair,
        (EventType::Ok, "read") => is_int || *value == Value::Nil,
        (EventType::Fail, "read") => {
            if timed_out {
                return Ok(EventType::Info);
            }
            false
        }
        (EventType::Info, "read" | "write" | "cas") => timed_out,
        _ => false,
    };
    if accepted {
        return Ok(kind);
    }
    let expected = match f {
        "read" => "nil for :invoke, nil or an integer for :ok, :timed-out for :fail or :info",
        "write" => "an integer for :invoke and :ok, :timed-out for :info",
        "cas" => "[int int] for :invoke, :ok and :fail, :timed-out for :info",
        _ => return Err(unexpected(line, ":read, :write or :cas", &format!(":{f}"))),
    };
    Err(LinError::expected(
        line,
        &format!(":{f} value: {expected}"),
        &value.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_body_shape() {
        let text = "INFO  jepsen.util - 4\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 4\t:ok\t:read\t3\n\
                    \n\
                    INFO  jepsen.util - 2\t:invoke\t:cas\t[2 4]\n\
                    INFO  jepsen.util - 2\t:fail\t:cas\t[2 4]\n\
                    INFO  jepsen.util - 1\t:invoke\t:read\tnil\n\
                    INFO  jepsen.util - 1\t:fail\t:read\t:timed-out\n";
        let events = parse(text).unwrap();
        assert_eq!(events.len(), 6);
        assert_eq!(events[1].value, Value::Int(3));
        assert_eq!(events[2].line, 4);
        assert_eq!(events[3].kind, EventType::Fail);
        assert_eq!(
            events[3].value,
            Value::Vector(vec![Value::Int(2), Value::Int(4)])
        );
        assert_eq!(events[5].kind, EventType::Info);
    }

    #[test]
    fn malformed_lines_name_the_line_and_the_expectation() {
        for (text, needle) in [
            (
                "INFO jepsen.util - 4 :ok :read",
                "expected \"INFO jepsen.util",
            ),
            (
                "WARN jepsen.util - 4 :ok :read 1",
                "expected \"INFO jepsen.util",
            ),
            ("INFO jepsen.util - x :ok :read 1", "an integer process id"),
            (
                "INFO jepsen.util - 1 :done :read 1",
                ":invoke, :ok, :fail or :info",
            ),
            ("INFO jepsen.util - 1 :ok :cas [1]", "[int int]"),
            ("INFO jepsen.util - 1 :ok :inc 1", ":read, :write or :cas"),
            ("INFO jepsen.util - 1 :ok :read [1", "expected ']' to close"),
        ] {
            let message = parse(&format!("\n{text}")).unwrap_err().to_string();
            assert!(message.starts_with("line 2"), "{message}");
            assert!(message.contains(needle), "{message} lacks {needle}");
        }
    }
}
