//! Jepsen Kafka histories (`jepsen.tests.kafka`, the queue workload of the Redpanda, Kafka and
//! Bufstream suites) read as eosim histories, for the same log and transaction checks. EDN, a
//! vector of operation maps or one per line (Jepsen's `history.edn`):
//!
//! ```text
//! {:type :invoke, :f :txn, :value [[:send 9 3] [:poll]], :process 0, :time 123, :index 0}
//! {:type :ok, :f :txn, :value [[:send 9 [12 3]] [:poll {9 [[10 1] [11 2]]}]], :process 0, …}
//! ```
//!
//! - `:txn`, `:send` and `:poll` ops (micro-ops `[:send k v]`, completed as `[:send k [offset
//!   v]]` with a `nil` offset when unknown, and `[:poll]`, completed as `[:poll {k [[offset v]
//!   …] …}]`) become transactional `txn` operations, as Jepsen's checker treats every op as a
//!   transaction; an `:info` or `:fail` completion without results keeps the invoke's sends.
//! - A key k becomes partition 0 of topic `k` (keys are integers, keywords or strings).
//! - `:assign` and `:subscribe` reset the process's consumer positions: each becomes an empty
//!   non-transactional `txn` completed `info` (which the per-process poll scan reads as a
//!   rewind), as Jepsen's scan starts afresh after them. Jepsen also allows poll-skip and
//!   nonmonotonic-poll outright under subscribe; eosim's policy has no such switch.
//! - `:crash`, `:debug-topic-partitions` and the `:nemesis` process's ops are skipped; so is
//!   `:rebalance-log` (Jepsen skips int-poll checks of a key rebalanced inside the op: eosim
//!   does not yet).
//! - `:time` (nanoseconds) is the op's time; `:index` is not read (eosim numbers ops in file
//!   order).
//!
//! Bad input is an error naming the line and the field, never a panic.

use std::collections::BTreeMap;

use crate::history::{History, Operation, Phase, PolledRecord, Topic, TxnStep};
use crate::lin::LinError;
use crate::lin::edn::{self, Value};

/// The `:f` values of a Kafka history's client operations.
const CLIENT_FS: [&str; 5] = ["txn", "send", "poll", "assign", "subscribe"];
/// The `:f` values read and skipped.
const SKIPPED_FS: [&str; 2] = ["crash", "debug-topic-partitions"];

/// Whether an operation map is one of a Jepsen Kafka history's: `:f` is `:send`, `:poll`,
/// `:assign` or `:subscribe`, or `:txn` with a `:send` or `:poll` micro-op first (an Elle
/// list-append `:txn` has `:append` and `:r`).
pub fn is_kafka_op(map: &Value) -> bool {
    match map.get("f").and_then(Value::as_keyword) {
        Some("txn") => map
            .get("value")
            .and_then(Value::as_sequence)
            .and_then(|mops| mops.first())
            .and_then(Value::as_sequence)
            .and_then(|mop| mop.first())
            .and_then(Value::as_keyword)
            .is_some_and(|f| f == "send" || f == "poll"),
        Some(f) => CLIENT_FS[1..].contains(&f),
        None => false,
    }
}

/// Reads a Jepsen Kafka history.
pub fn read(text: &str) -> Result<History, LinError> {
    let mut reader = Reader::default();
    for form in edn::read_spread_sequence(text)? {
        reader.op(&form.value, form.line)?;
    }
    Ok(reader.history)
}

#[derive(Default)]
struct Reader {
    history: History,
    /// Per process, the `:f` of its open invoke and the line it is on.
    open: BTreeMap<u64, (String, usize)>,
    /// One shared name per key.
    topics: BTreeMap<String, Topic>,
    time_ns: u64,
}

/// An error at `line` about `field`.
fn bad(line: usize, field: &str, expected: &str, found: &Value) -> LinError {
    LinError::expected(
        line,
        &format!("{expected} for :{field}"),
        &found.to_string(),
    )
}

impl Reader {
    fn op(&mut self, map: &Value, line: usize) -> Result<(), LinError> {
        if !matches!(map, Value::Map(_)) {
            return Err(LinError::expected(line, "an operation map", map.kind()));
        }
        let process = match map.get("process") {
            Some(p) if p.as_keyword() == Some("nemesis") => return Ok(()),
            Some(Value::Int(p)) if *p >= 0 => *p as u64,
            Some(other) => return Err(bad(line, "process", "a process number", other)),
            None => return Err(LinError::expected(line, "a :process entry", "none")),
        };
        let phase = phase(map, line)?;
        let f = crate::lin::formats::keyword_field(map, "f", line)?;
        if SKIPPED_FS.contains(&f) {
            return Ok(());
        }
        if !CLIENT_FS.contains(&f) {
            return Err(bad(
                line,
                "f",
                "one of :txn :send :poll :assign :subscribe :crash :debug-topic-partitions",
                map.get("f").expect("read above"),
            ));
        }
        if let Some(time) = map.get("time") {
            match time {
                Value::Int(t) if *t >= 0 => self.time_ns = self.time_ns.max(*t as u64),
                other => return Err(bad(line, "time", "a time in nanoseconds", other)),
            }
        }
        self.pair(process, phase, f, line)?;
        let (op, phase, error) = if f == "assign" || f == "subscribe" {
            let completion = (phase != Phase::Invoke).then(|| format!("{f}: positions reset"));
            let phase = if phase == Phase::Invoke {
                phase
            } else {
                Phase::Info
            };
            let op = Operation::Txn {
                transactional: false,
                txn_id: Some(f.to_string()),
                steps: Vec::new(),
            };
            (op, phase, completion)
        } else {
            let steps = self.steps(map.get("value").unwrap_or(&Value::Nil), line)?;
            let op = Operation::Txn {
                transactional: true,
                txn_id: None,
                steps,
            };
            let error = map.get("error").map(Value::to_string);
            (op, phase, error.filter(|_| phase != Phase::Invoke))
        };
        self.history.push(process, self.time_ns, phase, op, error);
        Ok(())
    }

    /// Checks that an invoke opens and a completion closes the process's operation.
    fn pair(&mut self, process: u64, phase: Phase, f: &str, line: usize) -> Result<(), LinError> {
        let invalid = |message: String| Err(LinError::Invalid { line, message });
        match (phase, self.open.get(&process)) {
            (Phase::Invoke, Some((_, at))) => invalid(format!(
                "field :process: process {process} invokes again while its op of line {at} \
                 is open"
            )),
            (Phase::Invoke, None) => {
                self.open.insert(process, (f.to_string(), line));
                Ok(())
            }
            (_, Some((open, at))) if open != f => invalid(format!(
                "field :f: :{f} completes process {process}'s :{open} of line {at}"
            )),
            (_, Some(_)) => {
                self.open.remove(&process);
                Ok(())
            }
            (_, None) => invalid(format!(
                "field :process: a completion of process {process}, which has no open invoke"
            )),
        }
    }

    /// The micro-ops of `:value` as steps.
    fn steps(&mut self, value: &Value, line: usize) -> Result<Vec<TxnStep>, LinError> {
        let Some(mops) = value.as_sequence() else {
            return Err(bad(line, "value", "a vector of micro-ops", value));
        };
        let mut steps = Vec::new();
        for mop in mops {
            let parts = mop.as_sequence().unwrap_or_default();
            match (parts.first().and_then(Value::as_keyword), parts.len()) {
                (Some("send"), 3) => steps.push(self.send(&parts[1], &parts[2], line)?),
                (Some("poll"), 1) => {}
                (Some("poll"), 2) => self.polls(&parts[1], line, &mut steps)?,
                _ => {
                    return Err(bad(
                        line,
                        "value",
                        "micro-ops [:send k v], [:send k [offset v]], [:poll] or [:poll {k \
                         [[offset v] …]}]",
                        mop,
                    ));
                }
            }
        }
        Ok(steps)
    }

    fn send(&mut self, key: &Value, sent: &Value, line: usize) -> Result<TxnStep, LinError> {
        let (offset, value) = match sent.as_sequence() {
            Some([offset, value]) => (optional_number(offset, line)?, number(value, line)?),
            Some(_) => return Err(bad(line, "value", "[offset value] in a send", sent)),
            None => (None, number(sent, line)?),
        };
        Ok(TxnStep::Send {
            topic: self.topic(key, line)?,
            partition: 0,
            value,
            source: None,
            offset,
        })
    }

    fn polls(
        &mut self,
        polled: &Value,
        line: usize,
        steps: &mut Vec<TxnStep>,
    ) -> Result<(), LinError> {
        let Value::Map(entries) = polled else {
            return Err(bad(
                line,
                "value",
                "a map of key to [[offset value] …] in a poll",
                polled,
            ));
        };
        for (key, pairs) in entries {
            let Some(pairs) = pairs.as_sequence() else {
                return Err(bad(line, "value", "[[offset value] …] in a poll", pairs));
            };
            let mut records = Vec::with_capacity(pairs.len());
            for pair in pairs {
                let Some([offset, value]) = pair.as_sequence() else {
                    return Err(bad(line, "value", "[offset value] in a poll", pair));
                };
                records.push(PolledRecord {
                    offset: number(offset, line)?,
                    value: number(value, line)?,
                });
            }
            steps.push(TxnStep::Poll {
                topic: self.topic(key, line)?,
                partition: 0,
                records,
            });
        }
        Ok(())
    }

    /// The topic of a key: its name as written (an integer, keyword or string).
    fn topic(&mut self, key: &Value, line: usize) -> Result<Topic, LinError> {
        let name = match key {
            Value::Int(k) => k.to_string(),
            Value::Keyword(k) | Value::Str(k) | Value::Symbol(k) => k.to_string(),
            other => {
                return Err(bad(
                    line,
                    "value",
                    "a key (integer, keyword or string)",
                    other,
                ));
            }
        };
        Ok(self
            .topics
            .entry(name.clone())
            .or_insert_with(|| name.into())
            .clone())
    }
}

fn phase(map: &Value, line: usize) -> Result<Phase, LinError> {
    let name = crate::lin::formats::keyword_field(map, "type", line)?;
    Ok(match name {
        "invoke" => Phase::Invoke,
        "ok" => Phase::Ok,
        "fail" => Phase::Fail,
        "info" => Phase::Info,
        _ => {
            return Err(bad(
                line,
                "type",
                ":invoke, :ok, :fail or :info",
                map.get("type").expect("read above"),
            ));
        }
    })
}

/// A value or offset: a non-negative integer.
fn number(value: &Value, line: usize) -> Result<u64, LinError> {
    match value {
        Value::Int(n) if *n >= 0 => Ok(*n as u64),
        other => Err(bad(
            line,
            "value",
            "a non-negative integer offset or value",
            other,
        )),
    }
}

fn optional_number(value: &Value, line: usize) -> Result<Option<u64>, LinError> {
    match value {
        Value::Nil => Ok(None),
        other => number(other, line).map(Some),
    }
}

#[cfg(test)]
mod tests;
