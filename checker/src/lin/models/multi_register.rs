//! Registers under several keys, read and written in transactions, as Knossos's
//! multi-register defines it: `:f :txn`, `:value [[:read k v] [:write k v] …]` (`:r` and `:w`
//! are accepted too); every key initially holds `nil`; a read of `nil` is a read whose value
//! is unknown. Transactions touching disjoint keys are independent, so histories partition
//! into groups of keys connected by transactions.

use std::collections::BTreeMap;

use super::{
    Conversion, FromHistory, Model, Operation, Partition, Semantics, failed, observed_value,
    unsupported,
};
use crate::lin::edn::Value;
use crate::lin::history::RawOperation;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MicroOp {
    /// `None`: the value read is unknown.
    Read {
        key: Value,
        value: Option<Value>,
    },
    Write {
        key: Value,
        value: Value,
    },
}

impl MicroOp {
    fn key(&self) -> &Value {
        match self {
            MicroOp::Read { key, .. } | MicroOp::Write { key, .. } => key,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct MultiRegister;

/// Keys absent from the map hold `nil`.
pub type MultiRegisterState = BTreeMap<Value, Value>;

impl Model for MultiRegister {
    /// The transaction as completed: reads carry the values they returned.
    type Input = Vec<MicroOp>;
    type Output = ();
    type State = MultiRegisterState;

    fn name(&self) -> &'static str {
        "multi-register"
    }

    fn init(&self) -> MultiRegisterState {
        MultiRegisterState::new()
    }

    fn step(
        &self,
        state: &MultiRegisterState,
        txn: &Vec<MicroOp>,
        _output: Option<&()>,
    ) -> Option<MultiRegisterState> {
        let mut next = state.clone();
        for micro in txn {
            match micro {
                MicroOp::Read {
                    key,
                    value: Some(read),
                } => {
                    if next.get(key).unwrap_or(&Value::Nil) != read {
                        return None;
                    }
                }
                MicroOp::Read { value: None, .. } => {}
                MicroOp::Write { key, value } => {
                    next.insert(key.clone(), value.clone());
                }
            }
        }
        Some(next)
    }

    fn partition(&self, operations: &[Operation<Vec<MicroOp>, ()>]) -> Vec<Partition> {
        partition_by_connected_keys(operations)
    }

    fn is_read_only(&self, txn: &Vec<MicroOp>, _output: Option<&()>) -> bool {
        txn.iter()
            .all(|micro| matches!(micro, MicroOp::Read { .. }))
    }

    fn describe_operation(&self, txn: &Vec<MicroOp>, _output: Option<&()>) -> String {
        let parts: Vec<String> = txn
            .iter()
            .map(|micro| match micro {
                MicroOp::Read {
                    key,
                    value: Some(value),
                } => format!("[:read {key} {value}]"),
                MicroOp::Read { key, value: None } => format!("[:read {key} ?]"),
                MicroOp::Write { key, value } => format!("[:write {key} {value}]"),
            })
            .collect();
        format!("txn [{}]", parts.join(" "))
    }

    fn describe_state(&self, state: &MultiRegisterState) -> String {
        let entries: Vec<String> = state
            .iter()
            .map(|(key, value)| format!("{key} {value}"))
            .collect();
        format!("{{{}}}", entries.join(", "))
    }
}

/// Connected components of the "share a key" relation, ordered by their first operation.
fn partition_by_connected_keys(operations: &[Operation<Vec<MicroOp>, ()>]) -> Vec<Partition> {
    let mut key_ids: BTreeMap<&Value, usize> = BTreeMap::new();
    let mut parent: Vec<usize> = Vec::new();
    fn root(parent: &mut [usize], mut node: usize) -> usize {
        while parent[node] != node {
            parent[node] = parent[parent[node]];
            node = parent[node];
        }
        node
    }
    let mut first_key_of_operation = Vec::with_capacity(operations.len());
    for operation in operations {
        let mut first: Option<usize> = None;
        for micro in &operation.input {
            let next_id = key_ids.len();
            let id = *key_ids.entry(micro.key()).or_insert(next_id);
            if id == parent.len() {
                parent.push(id);
            }
            if let Some(first) = first {
                let (a, b) = (root(&mut parent, first), root(&mut parent, id));
                parent[a.max(b)] = a.min(b);
            } else {
                first = Some(id);
            }
        }
        first_key_of_operation.push(first);
    }
    let mut keys_of_root: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (key, &id) in &key_ids {
        keys_of_root
            .entry(root(&mut parent, id))
            .or_default()
            .push(key.to_string());
    }
    let mut labels = Vec::with_capacity(operations.len());
    for first in first_key_of_operation {
        labels.push(match first {
            Some(id) => keys_of_root[&root(&mut parent, id)].join(" "),
            None => "(empty transactions)".to_string(),
        });
    }
    super::kv::partition_by_first_appearance(labels.into_iter())
}

fn micro_op(value: &Value) -> Result<MicroOp, String> {
    let Some([f, key, micro_value]) = value.as_sequence() else {
        return Err(format!(
            "expected a micro-operation [f key value], found {value}"
        ));
    };
    match f.as_keyword() {
        Some("read" | "r") => {
            let value = (*micro_value != Value::Nil).then(|| micro_value.clone());
            Ok(MicroOp::Read {
                key: key.clone(),
                value,
            })
        }
        Some("write" | "w") => Ok(MicroOp::Write {
            key: key.clone(),
            value: micro_value.clone(),
        }),
        _ => Err(format!(
            "expected :read or :write in a micro-operation, found {f}"
        )),
    }
}

impl super::InitialState for MultiRegister {
    /// A map of key to value, e.g. `{:x 0 :y 0}`; keys it omits hold `nil`.
    fn initial_state(value: &Value) -> Result<MultiRegisterState, String> {
        match value {
            Value::Map(entries) => Ok(entries.iter().cloned().collect()),
            other => Err(format!(
                "a map of key to value such as {{:x 0 :y 0}}, found {other}"
            )),
        }
    }
}

impl FromHistory for MultiRegister {
    fn convert(
        raw: &RawOperation,
        _semantics: &Semantics,
    ) -> Result<Conversion<Vec<MicroOp>, ()>, String> {
        if failed(raw) {
            return Ok(Conversion::Dropped);
        }
        if raw.f != "txn" {
            return Err(unsupported("multi-register", raw, ":txn"));
        }
        let value = observed_value(raw);
        let Some(micro_ops) = value.as_sequence() else {
            return Err(format!(
                "expected the :txn value to be a vector of micro-operations, found {value}"
            ));
        };
        let txn = micro_ops
            .iter()
            .map(micro_op)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Conversion::Operation(txn, Some(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lin::models::OperationSource;

    fn key(name: &str) -> Value {
        Value::keyword(name)
    }

    fn txn_on(keys: &[&str]) -> Operation<Vec<MicroOp>, ()> {
        let input = keys
            .iter()
            .map(|name| MicroOp::Write {
                key: key(name),
                value: Value::Int(1),
            })
            .collect();
        let source = OperationSource {
            process: "0".into(),
            invoke_line: 1,
            complete_line: None,
        };
        Operation {
            input,
            output: Some(()),
            call: 0,
            ret: Some(1),
            source,
        }
    }

    #[test]
    fn transactions_read_their_own_writes_and_check_reads() {
        let model = MultiRegister;
        let txn = vec![
            MicroOp::Read {
                key: key("x"),
                value: None,
            },
            MicroOp::Write {
                key: key("x"),
                value: Value::Int(2),
            },
            MicroOp::Read {
                key: key("x"),
                value: Some(Value::Int(2)),
            },
        ];
        let state = model.step(&model.init(), &txn, None).unwrap();
        let stale = vec![MicroOp::Read {
            key: key("x"),
            value: Some(Value::Int(1)),
        }];
        assert!(model.step(&state, &stale, None).is_none());
    }

    #[test]
    fn partitions_by_connected_keys() {
        let history = [
            txn_on(&["x"]),
            txn_on(&["y"]),
            txn_on(&["z", "x"]),
            txn_on(&["y"]),
        ];
        let partitions = MultiRegister.partition(&history);
        let summary: Vec<(&str, &[usize])> = partitions
            .iter()
            .map(|part| (part.label.as_str(), part.operations.as_slice()))
            .collect();
        assert_eq!(summary, vec![(":x :z", &[0, 2][..]), (":y", &[1, 3][..])]);
    }
}
