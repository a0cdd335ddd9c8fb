//! Scripted queue workloads: each client runs a written list of operations instead of random
//! ones, for exact reproductions ("T2 writes p0 then p1, then aborts"). One operation per
//! string, so a scenario file reads like the bug report:
//!
//! - `send t0-1`: a single send of the client's next value to partition 1 of topic `t0`;
//! - `poll t0-1`: a single poll of that partition from the client's position;
//! - `txn send t0-0, poll t1-0, sleep 100, send t0-1, commit` (or `…, abort`): one
//!   transaction of sends and polls (begin, the steps in order, then commit or abort), with
//!   pauses between steps (`sleep <ms>`) to hold it open;
//! - `sleep 250`: wait that many virtual milliseconds.
//!
//! Values are the client's own (`(client + 1) × 1,000,000 + n`, n counting its sends), so the
//! checkers' explanations name them as for the random workload.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::protocol::TopicPartition;

/// One micro-op of a scripted transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptMicro {
    Send(TopicPartition),
    Poll(TopicPartition),
    /// A pause between two steps, virtual milliseconds.
    Sleep(u64),
}

/// One operation of a client's script.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ScriptOp {
    /// A single send of the client's next value (through the plain producer).
    Send(TopicPartition),
    /// A single poll from the client's position.
    Poll(TopicPartition),
    /// A transaction of sends and polls, then commit (`true`) or abort.
    Txn {
        micros: Vec<ScriptMicro>,
        commit: bool,
    },
    /// A pause, virtual milliseconds.
    Sleep { ms: u64 },
}

impl ScriptOp {
    /// The partitions the operation names.
    pub fn partitions(&self) -> Vec<&TopicPartition> {
        match self {
            ScriptOp::Send(tp) | ScriptOp::Poll(tp) => vec![tp],
            ScriptOp::Txn { micros, .. } => micros
                .iter()
                .filter_map(|m| match m {
                    ScriptMicro::Send(tp) | ScriptMicro::Poll(tp) => Some(tp),
                    ScriptMicro::Sleep(_) => None,
                })
                .collect(),
            ScriptOp::Sleep { .. } => Vec::new(),
        }
    }
}

/// `t0-1` → topic `t0`, partition 1 (the topic may itself contain `-`).
fn parse_partition(text: &str) -> Result<TopicPartition, String> {
    let (topic, partition) = text
        .rsplit_once('-')
        .ok_or_else(|| format!("{text:?} is not <topic>-<partition> (e.g. t0-1)"))?;
    let partition: u32 = partition
        .parse()
        .map_err(|_| format!("{text:?}: partition {partition:?} is not a number"))?;
    if topic.is_empty() {
        return Err(format!("{text:?} names no topic"));
    }
    Ok(TopicPartition::new(topic, partition))
}

/// `send t0-1`, `poll t0-1` or `sleep 100`.
fn parse_micro(text: &str) -> Result<ScriptMicro, String> {
    match text.split_whitespace().collect::<Vec<_>>()[..] {
        ["send", tp] => Ok(ScriptMicro::Send(parse_partition(tp)?)),
        ["poll", tp] => Ok(ScriptMicro::Poll(parse_partition(tp)?)),
        ["sleep", ms] => ms
            .parse()
            .map(ScriptMicro::Sleep)
            .map_err(|_| format!("sleep {ms:?}: not a number of milliseconds")),
        _ => Err(format!(
            "{text:?} is not a transaction step: `send <topic>-<partition>`, \
             `poll <topic>-<partition>` or `sleep <ms>`"
        )),
    }
}

/// `txn <step>, <step>, …, commit|abort`.
fn parse_txn(body: &str) -> Result<ScriptOp, String> {
    let mut parts: Vec<&str> = body.split(',').map(str::trim).collect();
    let commit = match parts.pop() {
        Some("commit") => true,
        Some("abort") => false,
        _ => return Err("a transaction ends with `commit` or `abort`".to_string()),
    };
    if parts.is_empty() {
        return Err("a transaction has at least one send or poll before its end".to_string());
    }
    let micros: Vec<ScriptMicro> = parts
        .into_iter()
        .map(parse_micro)
        .collect::<Result<_, _>>()?;
    let is_sleep = |m: Option<&ScriptMicro>| matches!(m, Some(ScriptMicro::Sleep(_)));
    if is_sleep(micros.first()) || is_sleep(micros.last()) {
        return Err("a transaction's `sleep` goes between two sends or polls".to_string());
    }
    Ok(ScriptOp::Txn { micros, commit })
}

impl TryFrom<String> for ScriptOp {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let text = text.trim();
        if let Some(body) = text.strip_prefix("txn ") {
            return parse_txn(body);
        }
        match text.split_whitespace().collect::<Vec<_>>()[..] {
            ["send", tp] => Ok(ScriptOp::Send(parse_partition(tp)?)),
            ["poll", tp] => Ok(ScriptOp::Poll(parse_partition(tp)?)),
            ["sleep", ms] => ms
                .parse()
                .map(|ms| ScriptOp::Sleep { ms })
                .map_err(|_| format!("sleep {ms:?}: not a number of milliseconds")),
            _ => Err(format!(
                "{text:?} is not a script operation: `send <topic>-<partition>`, \
                 `poll <topic>-<partition>`, `txn <send|poll …>, …, commit|abort` or `sleep <ms>`"
            )),
        }
    }
}

impl fmt::Display for ScriptMicro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptMicro::Send(tp) => write!(f, "send {tp}"),
            ScriptMicro::Poll(tp) => write!(f, "poll {tp}"),
            ScriptMicro::Sleep(ms) => write!(f, "sleep {ms}"),
        }
    }
}

impl fmt::Display for ScriptOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptOp::Send(tp) => write!(f, "send {tp}"),
            ScriptOp::Poll(tp) => write!(f, "poll {tp}"),
            ScriptOp::Sleep { ms } => write!(f, "sleep {ms}"),
            ScriptOp::Txn { micros, commit } => {
                f.write_str("txn ")?;
                for micro in micros {
                    write!(f, "{micro}, ")?;
                }
                f.write_str(if *commit { "commit" } else { "abort" })
            }
        }
    }
}

impl From<ScriptOp> for String {
    fn from(op: ScriptOp) -> String {
        op.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(text: &str) -> Result<ScriptOp, String> {
        ScriptOp::try_from(text.to_string())
    }

    #[test]
    fn every_form_parses_and_prints_back() {
        for text in [
            "send t0-1",
            "poll my-topic-12",
            "sleep 250",
            "txn send t0-0, poll t1-0, send t0-1, commit",
            "txn send t0-0, sleep 100, send t0-1, abort",
            "txn send t0-0, abort",
        ] {
            assert_eq!(op(text).unwrap().to_string(), text);
        }
        assert_eq!(
            op("poll my-topic-12").unwrap(),
            ScriptOp::Poll(TopicPartition::new("my-topic", 12))
        );
    }

    #[test]
    fn malformed_operations_say_what_is_wrong() {
        let cases = [
            ("send t0", "not <topic>-<partition>"),
            ("send t0-x", "is not a number"),
            ("send -1", "names no topic"),
            ("txn send t0-0", "ends with `commit` or `abort`"),
            ("txn commit", "at least one send or poll"),
            ("txn fetch t0-0, commit", "is not a transaction step"),
            (
                "txn sleep 5, send t0-0, commit",
                "goes between two sends or polls",
            ),
            (
                "txn send t0-0, sleep 5, commit",
                "goes between two sends or polls",
            ),
            ("sleep soon", "not a number of milliseconds"),
            ("begin", "is not a script operation"),
        ];
        for (text, why) in cases {
            let error = op(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn an_operation_names_its_partitions() {
        let txn = op("txn send t0-0, sleep 3, poll t1-1, commit").unwrap();
        let names: Vec<String> = txn.partitions().iter().map(|tp| tp.to_string()).collect();
        assert_eq!(names, ["t0-0", "t1-1"]);
        assert!(op("sleep 5").unwrap().partitions().is_empty());
    }
}
