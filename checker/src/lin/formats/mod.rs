//! Readers for other tools' history files. Each turns a file into [`Event`]s in file order
//! (file order is real-time order) and says how the format encodes observations.

use super::LinError;
use super::edn::Value;
use super::history::{Event, EventType};

pub mod jepsen_edn;
pub mod porcupine_etcd;
pub mod porcupine_kv;

/// Reads a required keyword field of an operation map.
pub(crate) fn keyword_field<'a>(
    map: &'a Value,
    field: &str,
    line: usize,
) -> Result<&'a str, LinError> {
    match map.get(field) {
        Some(Value::Keyword(name)) => Ok(name),
        Some(other) => Err(LinError::expected(
            line,
            &format!("a keyword for :{field}"),
            &other.to_string(),
        )),
        None => Err(LinError::expected(
            line,
            &format!("a :{field} entry"),
            "none",
        )),
    }
}

/// Reads the `:type` field.
pub(crate) fn event_type(map: &Value, line: usize) -> Result<EventType, LinError> {
    let name = keyword_field(map, "type", line)?;
    EventType::from_keyword(name).ok_or_else(|| {
        LinError::expected(
            line,
            ":type :invoke, :ok, :fail or :info",
            &format!(":{name}"),
        )
    })
}

/// Builds an event from an operation map's common fields.
pub(crate) fn event_from_map(map: &Value, line: usize, kind: EventType) -> Result<Event, LinError> {
    let process = map
        .get("process")
        .cloned()
        .ok_or_else(|| LinError::expected(line, "a :process entry", "none"))?;
    let f = keyword_field(map, "f", line)?.to_string();
    Ok(Event {
        line,
        process,
        kind,
        f,
        key: map.get("key").cloned(),
        value: map.get("value").cloned().unwrap_or(Value::Nil),
    })
}
