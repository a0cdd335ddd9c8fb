//! A key-value store of strings with get / put / append (Porcupine's kv model): every key
//! initially holds ""; get is legal iff it returns the key's value; put sets it; append
//! concatenates. Keys are independent, so histories partition by key.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Conversion, FromHistory, Model, Operation, Partition, Semantics, failed, read_result, unsupported};
use crate::lin::edn::Value;
use crate::lin::history::RawOperation;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvInput {
    Get { key: Arc<str> },
    Put { key: Arc<str>, value: Arc<str> },
    Append { key: Arc<str>, value: Arc<str> },
}

impl KvInput {
    pub fn key(&self) -> &Arc<str> {
        match self {
            KvInput::Get { key } | KvInput::Put { key, .. } | KvInput::Append { key, .. } => key,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

/// Keys absent from the map hold "".
pub type KvState = BTreeMap<Arc<str>, Arc<str>>;

impl Model for Kv {
    type Input = KvInput;
    /// The value a get returned.
    type Output = Arc<str>;
    type State = KvState;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> KvState {
        KvState::new()
    }

    fn step(&self, state: &KvState, input: &KvInput, output: Option<&Arc<str>>) -> Option<KvState> {
        match input {
            KvInput::Get { key } => {
                let current = state.get(key).map_or("", |value| value);
                match output {
                    Some(read) if **read != *current => None,
                    _ => Some(state.clone()),
                }
            }
            KvInput::Put { key, value } => {
                let mut next = state.clone();
                next.insert(key.clone(), value.clone());
                Some(next)
            }
            KvInput::Append { key, value } => {
                let mut next = state.clone();
                let current = next.entry(key.clone()).or_insert_with(|| "".into());
                *current = format!("{current}{value}").into();
                Some(next)
            }
        }
    }

    fn partition(&self, operations: &[Operation<KvInput, Arc<str>>]) -> Vec<Partition> {
        partition_by_first_appearance(operations.iter().map(|operation| operation.input.key().to_string()))
    }

    fn describe_operation(&self, input: &KvInput, output: Option<&Arc<str>>) -> String {
        match input {
            KvInput::Get { key } => match output {
                Some(value) => format!("get {key:?} → {value:?}"),
                None => format!("get {key:?} → ?"),
            },
            KvInput::Put { key, value } => format!("put {key:?} {value:?}"),
            KvInput::Append { key, value } => format!("append {key:?} {value:?}"),
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        let entries: Vec<String> = state.iter().map(|(key, value)| format!("{key:?} {value:?}")).collect();
        format!("{{{}}}", entries.join(", "))
    }
}

/// Groups operation indices by label, parts ordered by their first operation.
pub fn partition_by_first_appearance(labels: impl Iterator<Item = String>) -> Vec<Partition> {
    let mut part_of_label: BTreeMap<String, usize> = BTreeMap::new();
    let mut partitions: Vec<Partition> = Vec::new();
    for (index, label) in labels.enumerate() {
        let part = *part_of_label.entry(label.clone()).or_insert_with(|| {
            partitions.push(Partition { label, operations: Vec::new() });
            partitions.len() - 1
        });
        partitions[part].operations.push(index);
    }
    partitions
}

/// A key as text: strings as they are, anything else in EDN notation.
fn key_text(value: &Value) -> Arc<str> {
    match value {
        Value::Str(text) => text.clone(),
        other => other.to_string().into(),
    }
}

fn string_value(value: &Value, f: &str) -> Result<Arc<str>, String> {
    match value {
        Value::Str(text) => Ok(text.clone()),
        other => Err(format!("expected a string :value for :{f}, found {}", other.kind())),
    }
}

impl FromHistory for Kv {
    fn convert(raw: &RawOperation, semantics: &Semantics) -> Result<Conversion<KvInput, Arc<str>>, String> {
        if failed(raw) {
            return Ok(Conversion::Dropped);
        }
        let Some(key) = &raw.key else {
            return Err("the kv model needs a :key in every operation".to_string());
        };
        let key = key_text(key);
        match raw.f.as_str() {
            "get" => {
                let output = read_result(raw, semantics).map(|value| string_value(&value, "get")).transpose()?;
                Ok(Conversion::Operation(KvInput::Get { key }, output))
            }
            "put" => {
                let value = string_value(&raw.invoke_value, "put")?;
                Ok(Conversion::Operation(KvInput::Put { key, value }, None))
            }
            "append" => {
                let value = string_value(&raw.invoke_value, "append")?;
                Ok(Conversion::Operation(KvInput::Append { key, value }, None))
            }
            _ => Err(unsupported("kv", raw, ":get, :put or :append")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_concatenates_and_get_compares() {
        let kv = Kv;
        let key: Arc<str> = "k".into();
        let get = KvInput::Get { key: key.clone() };
        assert!(kv.step(&kv.init(), &get, Some(&"".into())).is_some());
        let state = kv.step(&kv.init(), &KvInput::Append { key: key.clone(), value: "ab".into() }, None).unwrap();
        let state = kv.step(&state, &KvInput::Append { key: key.clone(), value: "c".into() }, None).unwrap();
        assert!(kv.step(&state, &get, Some(&"abc".into())).is_some());
        assert!(kv.step(&state, &get, Some(&"ab".into())).is_none());
        let state = kv.step(&state, &KvInput::Put { key, value: "z".into() }, None).unwrap();
        assert!(kv.step(&state, &get, Some(&"z".into())).is_some());
    }

    #[test]
    fn partitions_by_key_in_order_of_first_appearance() {
        let labels = ["b", "a", "b", "c", "a"].map(String::from);
        let partitions = partition_by_first_appearance(labels.into_iter());
        let summary: Vec<(&str, &[usize])> =
            partitions.iter().map(|part| (part.label.as_str(), part.operations.as_slice())).collect();
        assert_eq!(summary, vec![("b", &[0, 2][..]), ("a", &[1, 4][..]), ("c", &[3][..])]);
    }
}
