//! Porcupine's `kv/cNN-*.txt` format: one EDN map per line, exactly
//! `{:process int, :type :invoke|:ok, :f :get|:put|:append, :key string, :value string|nil}`.
//! `:invoke :get` has `:value nil`; every other value is a string.

use super::event_from_map;
use crate::lin::LinError;
use crate::lin::edn::{self, Value};
use crate::lin::history::{Event, EventType};
use crate::lin::models::Semantics;

pub const SEMANTICS: Semantics = Semantics {
    nil_read_is_unknown: false,
    failed_cas_is_observation: false,
};

const FIELDS: [&str; 5] = ["process", "type", "f", "key", "value"];

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
    let map = edn::read_one(text, line)?;
    let Value::Map(entries) = &map else {
        return Err(LinError::expected(
            line,
            "an operation map {:process … :value …}",
            map.kind(),
        ));
    };
    let keys: Vec<String> = entries.iter().map(|(key, _)| key.to_string()).collect();
    let expected_keys: Vec<String> = FIELDS.iter().map(|field| format!(":{field}")).collect();
    if keys != expected_keys {
        return Err(LinError::expected(
            line,
            &format!("the keys {}", expected_keys.join(" ")),
            &keys.join(" "),
        ));
    }
    if !matches!(map.get("process"), Some(Value::Int(_))) {
        return Err(LinError::expected(
            line,
            "an integer :process",
            &map.get("process").unwrap_or(&Value::Nil).to_string(),
        ));
    }
    let kind = super::event_type(&map, line)?;
    if !matches!(kind, EventType::Invoke | EventType::Ok) {
        return Err(LinError::expected(
            line,
            ":type :invoke or :ok",
            &format!(":{kind:?}").to_lowercase(),
        ));
    }
    let event = event_from_map(&map, line, kind)?;
    if !matches!(event.f.as_str(), "get" | "put" | "append") {
        return Err(LinError::expected(
            line,
            ":f :get, :put or :append",
            &format!(":{}", event.f),
        ));
    }
    if !matches!(event.key, Some(Value::Str(_))) {
        return Err(LinError::expected(
            line,
            "a string :key",
            &event.key.clone().unwrap_or(Value::Nil).to_string(),
        ));
    }
    let value_is_nil = event.value == Value::Nil;
    let nil_expected = kind == EventType::Invoke && event.f == "get";
    if value_is_nil != nil_expected || !(value_is_nil || matches!(event.value, Value::Str(_))) {
        let expected = if nil_expected {
            ":value nil"
        } else {
            "a string :value"
        };
        return Err(LinError::expected(line, expected, &event.value.to_string()));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_exact_shape() {
        let text = "{:process 3, :type :invoke, :f :get, :key \"7\", :value nil}\n\
                    {:process 3, :type :ok, :f :get, :key \"7\", :value \"x 3 0 y\"}";
        let events = parse(text).unwrap();
        assert_eq!(events[1].value, Value::Str("x 3 0 y".into()));
        assert_eq!(events[1].key, Some(Value::Str("7".into())));
    }

    #[test]
    fn rejects_anything_else_naming_the_line() {
        for (text, needle) in [
            (
                "{:process 3, :type :invoke, :f :get, :key \"7\"}",
                "the keys",
            ),
            (
                "{:process 3, :type :fail, :f :get, :key \"7\", :value nil}",
                ":invoke or :ok",
            ),
            (
                "{:process 3, :type :ok, :f :cas, :key \"7\", :value \"a\"}",
                ":f :get, :put or :append",
            ),
            (
                "{:process 3, :type :ok, :f :get, :key 7, :value \"a\"}",
                "a string :key",
            ),
            (
                "{:process 3, :type :ok, :f :get, :key \"7\", :value nil}",
                "a string :value",
            ),
            (
                "{:process 3, :type :invoke, :f :put, :key \"7\", :value 5}",
                "a string :value",
            ),
            ("[1 2]", "an operation map"),
            ("{:process 3, :type :ok", "line 2, column"),
        ] {
            let message = parse(&format!("\n{text}")).unwrap_err().to_string();
            assert!(message.starts_with("line 2"), "{message}");
            assert!(message.contains(needle), "{message} lacks {needle}");
        }
    }
}
