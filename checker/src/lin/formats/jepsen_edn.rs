//! Jepsen / Knossos histories in EDN: a vector or sequence of operation maps with `:process`,
//! `:type` (`:invoke`, `:ok`, `:fail`, `:info`), `:f` and `:value` (and `:key` for the kv
//! model). Other keys are ignored, and so are operations of the `:nemesis` process.
//!
//! Semantics as in Knossos: a `:fail` did not happen; an `:info` may or may not have; a read
//! of `nil` is a read whose value is unknown. Whether a failed CAS instead observed that the
//! register did not hold the expected value is a flag.

use super::{event_from_map, event_type};
use crate::lin::LinError;
use crate::lin::edn::{self, Value};
use crate::lin::history::Event;
use crate::lin::models::Semantics;

pub fn semantics(failed_cas_is_observation: bool) -> Semantics {
    Semantics {
        nil_read_is_unknown: true,
        failed_cas_is_observation,
    }
}

pub fn parse(text: &str) -> Result<Vec<Event>, LinError> {
    let mut events = Vec::new();
    for form in edn::read_spread_sequence(text)? {
        if !matches!(form.value, Value::Map(_)) {
            return Err(LinError::expected(
                form.line,
                "an operation map",
                form.value.kind(),
            ));
        }
        if form.value.get("process").and_then(Value::as_keyword) == Some("nemesis") {
            continue;
        }
        let kind = event_type(&form.value, form.line)?;
        events.push(event_from_map(&form.value, form.line, kind)?);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lin::history::EventType;

    #[test]
    fn reads_vectors_and_sequences_ignoring_nemesis_and_extra_keys() {
        let vector = "[{:process 0, :type :invoke, :f :write, :value 3, :time 12}\n\
                      {:process :nemesis, :type :info, :f :start, :value nil}\n\
                      {:process 0, :type :ok, :f :write, :value 3}]";
        let events = parse(vector).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            (events[1].line, events[1].kind, events[1].value.clone()),
            (3, EventType::Ok, Value::Int(3))
        );
        let sequence =
            "{:process 0 :type :invoke :f :read}\n{:process 0 :type :ok :f :read :value 3}";
        let events = parse(sequence).unwrap();
        assert_eq!(events[0].value, Value::Nil);
        assert_eq!(events[1].line, 2);
    }

    #[test]
    fn malformed_operations_name_the_line() {
        for (text, needle) in [
            (
                "{:process 0 :type :invoke :f :read}\n{:type :ok :f :read}",
                "a :process entry",
            ),
            (
                "{:process 0 :type :invoke :f :read}\n{:process 0 :type :done :f :read}",
                ":type :invoke, :ok, :fail or :info",
            ),
            (
                "{:process 0 :type :invoke :f :read}\n{:process 0 :type :ok :f \"read\"}",
                "a keyword for :f",
            ),
            (
                "{:process 0 :type :invoke :f :read}\n[1]",
                "an operation map",
            ),
            (
                "{:process 0 :type :invoke :f :read}\n{:process 0 :type",
                "line 2, column",
            ),
        ] {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.starts_with("line 2"), "{message}");
            assert!(message.contains(needle), "{message} lacks {needle}");
        }
    }
}
