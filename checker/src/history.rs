//! The history vocabulary: what clients did and saw, and what the system really holds.
//!
//! On disk a history is JSON Lines: one object per line, tagged by `"type"`: `"op"` lines in
//! real-time order, then optional `"final-log"` lines (ground truth per partition) and one
//! optional `"end"` line saying whether the run converged.

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

mod canonical;
#[cfg(test)]
mod derived;
mod read;

/// A topic name, shared cheaply between the many events that name it.
pub type Topic = Arc<str>;

/// An invoke's index and its completion's, if it completed.
pub type OpPair = (usize, Option<usize>);

/// Phase of an operation (Jepsen's `:type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The client started the operation.
    Invoke,
    /// It definitely happened, with the recorded result.
    Ok,
    /// It definitely did not happen.
    Fail,
    /// Unknown: it may or may not have happened (e.g. a timeout).
    Info,
}

/// A record a poll returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolledRecord {
    pub offset: u64,
    pub value: u64,
}

/// What a client operation does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "kebab-case")]
pub enum Operation {
    /// Produce `value` to a partition; `offset` is known once acknowledged.
    Send {
        topic: Topic,
        partition: u32,
        value: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
    },
    /// Read a partition from `from_offset`; `records` are known on completion.
    Poll {
        topic: Topic,
        partition: u32,
        from_offset: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        records: Vec<PolledRecord>,
    },
    /// A transaction (or, with `transactional: false`, a non-transactional batch of steps such
    /// as the talk's do-it-yourself poll → send → commit loop). Phase `ok`: committed; `fail`:
    /// definitely aborted; `info`: outcome unknown. The invoke lists the steps the client meant
    /// to take; the completion lists what it did, with results (offsets, records).
    Txn {
        #[serde(default = "yes")]
        transactional: bool,
        /// The transactional.id (or client id) the steps ran under, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        txn_id: Option<String>,
        steps: Vec<TxnStep>,
    },
}

fn yes() -> bool {
    true
}

/// One step of a `Txn` operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum TxnStep {
    /// Produce `value`; `source` is the input record value it was derived from (lineage for
    /// the exactly-once oracle), `offset` known once acknowledged.
    Send {
        topic: Topic,
        partition: u32,
        value: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
    },
    /// Records consumed (as a `Poll` operation's).
    Poll {
        topic: Topic,
        partition: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        records: Vec<PolledRecord>,
    },
    /// Commit consumer offset `offset` (the next offset to read) of `group` for a partition,
    /// inside the transaction (sendOffsetsToTransaction) or on its own.
    CommitOffset {
        group: String,
        topic: Topic,
        partition: u32,
        offset: u64,
    },
}

impl Operation {
    pub fn partition_key(&self) -> (&str, u32) {
        match self {
            Operation::Send {
                topic, partition, ..
            }
            | Operation::Poll {
                topic, partition, ..
            } => (topic, *partition),
            Operation::Txn { .. } => ("", 0),
        }
    }
}

/// One history event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history (0-based); events are in real-time order.
    pub index: u64,
    /// The client (Jepsen's `:process`). A completion belongs to the latest invoke of the
    /// same process.
    pub process: u64,
    /// Virtual nanoseconds since the start of the run.
    pub time_ns: u64,
    pub phase: Phase,
    #[serde(flatten)]
    pub op: Operation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One record of a partition's final log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub offset: u64,
    pub value: u64,
    /// Producer id that wrote it (-1: none).
    #[serde(default = "no_producer")]
    pub producer_id: i64,
    /// Whether it belongs to a transaction and how that transaction ended.
    #[serde(default, skip_serializing_if = "RecordStatus::is_plain")]
    pub status: RecordStatus,
}

/// The transactional status of a record in the final log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordStatus {
    /// Not written in a transaction.
    #[default]
    Plain,
    Committed,
    Aborted,
    /// Its transaction never ended (a hanging transaction, if the run converged).
    Open,
}

impl RecordStatus {
    pub fn is_plain(&self) -> bool {
        *self == RecordStatus::Plain
    }

    /// Visible to a read_committed consumer.
    pub fn is_committed(&self) -> bool {
        matches!(self, RecordStatus::Plain | RecordStatus::Committed)
    }
}

/// Ground truth: a consumer group's committed offset (the next offset to read) of a partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    pub group: String,
    pub topic: Topic,
    pub partition: u32,
    pub offset: u64,
}

fn no_producer() -> i64 {
    -1
}

/// Ground truth: everything a partition holds at the end of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalLog {
    pub topic: Topic,
    pub partition: u32,
    pub records: Vec<LogEntry>,
}

/// A whole history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub ops: Vec<Op>,
    /// Ground truth, when the history's producer knows it (the simulator does).
    pub final_logs: Vec<FinalLog>,
    /// Ground truth: committed consumer offsets at the end of the run.
    pub committed_offsets: Vec<CommittedOffset>,
    /// Whether the system converged (all work finished after healing). `None`: unknown.
    pub converged: Option<bool>,
    /// Who the clients are (client id → e.g. "copier-2#1"), for explanations. A process
    /// belongs to client `process / PROCESSES_PER_CLIENT`.
    pub clients: BTreeMap<u64, String>,
    /// What the aggregate verifier checks of the final logs (a Streams application's
    /// outputs, as its topology vouches for them); `check_all` runs them. Empty: none.
    pub aggregate_checks: Vec<crate::aggregate::AggregateCheck>,
}

/// Processes per client: a process id is `client id × PROCESSES_PER_CLIENT + call`.
pub const PROCESSES_PER_CLIENT: u64 = 1_000_000;

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum Line {
    Op(Op),
    FinalLog(FinalLog),
    CommittedOffset(CommittedOffset),
    Client { client: u64, name: String },
    AggregateCheck(crate::aggregate::AggregateCheck),
    End { converged: bool },
}

/// A malformed history file: which line and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{file}:{line}: {message}")]
    Malformed {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
}

impl History {
    /// Who ran `process`: its client's name, or "process <n>".
    pub fn process_name(&self, process: u64) -> String {
        match self.clients.get(&(process / PROCESSES_PER_CLIENT)) {
            Some(name) => name.clone(),
            None => format!("process {process}"),
        }
    }

    /// Appends an operation, numbering it.
    pub fn push(
        &mut self,
        process: u64,
        time_ns: u64,
        phase: Phase,
        op: Operation,
        error: Option<String>,
    ) -> u64 {
        let index = self.ops.len() as u64;
        if self.ops.len() == self.ops.capacity() {
            // A run records hundreds of events: start with room for them rather than growing
            // (and copying) through every small power of two.
            self.ops.reserve(self.ops.len().max(1024));
        }
        self.ops.push(Op {
            index,
            process,
            time_ns,
            phase,
            op,
            error,
        });
        index
    }

    /// Writes the history as JSON Lines.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        let mut line = |l: &Line| {
            out.push_str(&serde_json::to_string(l).expect("history serialises"));
            out.push('\n');
        };
        for op in &self.ops {
            line(&Line::Op(op.clone()));
        }
        for log in &self.final_logs {
            line(&Line::FinalLog(log.clone()));
        }
        for offset in &self.committed_offsets {
            line(&Line::CommittedOffset(offset.clone()));
        }
        for (&client, name) in &self.clients {
            line(&Line::Client {
                client,
                name: name.clone(),
            });
        }
        for check in &self.aggregate_checks {
            line(&Line::AggregateCheck(check.clone()));
        }
        if let Some(converged) = self.converged {
            line(&Line::End { converged });
        }
        out
    }

    /// Reads a JSON Lines history; `file` names it in errors. Blank lines are skipped.
    pub fn from_jsonl(mut reader: impl BufRead, file: &str) -> Result<Self, HistoryError> {
        let mut history = History::default();
        let mut topics = read::Topics::default();
        let mut buffer = String::new();
        // Bytes read so far, to guess how many ops the rest holds (`reserve_ops`).
        let mut consumed = 0;
        for i in 0.. {
            buffer.clear();
            let read = reader
                .read_line(&mut buffer)
                .map_err(|source| HistoryError::Io {
                    file: file.to_string(),
                    source,
                })?;
            if read == 0 {
                break;
            }
            consumed += read;
            // As `BufRead::lines`: a line ends at "\n" or "\r\n".
            let line = match buffer.strip_suffix('\n') {
                Some(line) => line.strip_suffix('\r').unwrap_or(line),
                None => &buffer,
            };
            if line.trim().is_empty() {
                continue;
            }
            let malformed = |message: String| HistoryError::Malformed {
                file: file.to_string(),
                line: i + 1,
                message,
            };
            let parsed = read_line(line, &mut topics).map_err(malformed)?;
            match parsed {
                Line::Op(op) => {
                    if op.index != history.ops.len() as u64 {
                        return Err(malformed(format!(
                            "field `index`: expected {} (ops are numbered in order), found {}",
                            history.ops.len(),
                            op.index
                        )));
                    }
                    if history.ops.len() == history.ops.capacity() {
                        let held = reader.fill_buf().map_or(0, |rest| rest.len());
                        reserve_ops(&mut history.ops, consumed, held);
                    }
                    history.ops.push(op);
                }
                Line::FinalLog(mut log) => {
                    log.topic = topics.get(&log.topic);
                    history.final_logs.push(log);
                }
                Line::CommittedOffset(mut offset) => {
                    offset.topic = topics.get(&offset.topic);
                    history.committed_offsets.push(offset);
                }
                Line::Client { client, name } => {
                    history.clients.insert(client, name);
                }
                Line::AggregateCheck(check) => history.aggregate_checks.push(check),
                Line::End { converged } => history.converged = Some(converged),
            }
        }
        history.validate_pairing(file)?;
        Ok(history)
    }

    /// Each completion must follow an open invoke of its process.
    fn validate_pairing(&self, file: &str) -> Result<(), HistoryError> {
        self.pairs()
            .map(|_| ())
            .map_err(|(index, message)| HistoryError::Malformed {
                file: file.to_string(),
                line: index as usize + 1,
                message,
            })
    }

    /// Pairs every invoke with its completion (if any): `(invoke index, completion index)`.
    /// Errors name the op index of a completion without an open invoke, or an invoke while
    /// the process still has one open.
    pub fn pairs(&self) -> Result<Vec<OpPair>, (u64, String)> {
        self.pair_up(|_, _| {})
    }

    /// As `pairs`, also calling `each_pair` with every invoke and its completion (if any):
    /// a completed pair when its completion comes, the others at the end in no particular
    /// order (for counting: nothing may depend on the order). The checkers learn
    /// what they must make room for in this walk, which reads every op anyway.
    pub(crate) fn pair_up(
        &self,
        mut each_pair: impl FnMut(&Op, Option<&Op>),
    ) -> Result<Vec<OpPair>, (u64, String)> {
        // Process → (invoke index, its slot in `pairs`) of its open invoke. Looked up by
        // process, never iterated (so its order is never seen): a hash map, as a simulated
        // history can have thousands of calls open at once (a sorted vector moved them all
        // on every insert and removal).
        let mut open: FxHashMap<u64, (usize, usize)> = FxHashMap::default();
        // The latest invoke (process, index, slot), kept out of `open` until another invoke
        // comes: a call completed before any other began (most calls of a history with
        // little concurrency) pairs without hashing.
        let mut latest: Option<(u64, usize, usize)> = None;
        let mut pairs = Vec::with_capacity(self.ops.len() / 2 + 1);
        for (i, op) in self.ops.iter().enumerate() {
            let latest_of_process = latest.filter(|&(process, ..)| process == op.process);
            if op.phase == Phase::Invoke {
                let still_open = match latest_of_process {
                    Some((_, invoke, _)) => Some(invoke),
                    None => open.get(&op.process).map(|&(invoke, _)| invoke),
                };
                if let Some(invoke) = still_open {
                    return Err((
                        op.index,
                        format!(
                            "process {} invokes again while op {invoke} is open",
                            op.process
                        ),
                    ));
                }
                if let Some((process, invoke, slot)) = latest.replace((op.process, i, pairs.len()))
                {
                    open.insert(process, (invoke, slot));
                }
                pairs.push((i, None));
                continue;
            }
            let opened = match latest_of_process {
                Some((_, invoke, slot)) => latest.take().map(|_| (invoke, slot)),
                None => open.remove(&op.process),
            };
            let Some((invoke, slot)) = opened else {
                return Err((
                    op.index,
                    format!("completion of process {} has no open invoke", op.process),
                ));
            };
            if std::mem::discriminant(&self.ops[invoke].op) != std::mem::discriminant(&op.op) {
                return Err((
                    op.index,
                    format!("completion's `f` differs from its invoke (op {invoke})"),
                ));
            }
            pairs[slot].1 = Some(i);
            each_pair(&self.ops[invoke], Some(op));
        }
        let still_open = open
            .values()
            .copied()
            .chain(latest.map(|(_, invoke, slot)| (invoke, slot)));
        for (invoke, _) in still_open {
            each_pair(&self.ops[invoke], None);
        }
        Ok(pairs)
    }
}

/// The line's item: through the reader's fast paths where they take it, else the derived
/// reader (whose error message it gives).
fn read_line(line: &str, topics: &mut read::Topics) -> Result<Line, String> {
    if let Some(op) = canonical::op(line, topics) {
        return Ok(Line::Op(op));
    }
    if let Some(log) = canonical::final_log(line, topics) {
        return Ok(Line::FinalLog(log));
    }
    if let Some(op) = read::op(line, topics) {
        return Ok(Line::Op(op));
    }
    if let Some(log) = read::final_log(line, topics) {
        return Ok(Line::FinalLog(log));
    }
    serde_json::from_str::<Line>(line).map_err(|e| e.to_string())
}

/// Room for the ops still to come, when `ops` (`consumed` bytes read) is full and the reader
/// holds `held` bytes more: as many as those bytes make at the ops' average length so far, and
/// a little, when that is more than doubling would give. A reader over text in memory holds
/// all of it, so the ops vector is allocated about once, where growing it copied every op
/// (and touched fresh memory) at each doubling; a reader over a file holds a buffer's worth,
/// and the vector doubles as before.
fn reserve_ops(ops: &mut Vec<Op>, consumed: usize, held: usize) {
    let average = (consumed / ops.len().max(1)).max(1);
    let guess = held / average;
    ops.reserve((guess + guess / 16).max(ops.len()).max(1024));
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Invoke => "invoke",
            Phase::Ok => "ok",
            Phase::Fail => "fail",
            Phase::Info => "info",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(value: u64, offset: Option<u64>) -> Operation {
        Operation::Send {
            topic: "t".into(),
            partition: 0,
            value,
            offset,
        }
    }

    #[test]
    fn jsonl_round_trip() {
        let mut h = History::default();
        h.push(1, 10, Phase::Invoke, send(7, None), None);
        h.push(1, 20, Phase::Ok, send(7, Some(0)), None);
        h.final_logs.push(FinalLog {
            topic: "t".into(),
            partition: 0,
            records: vec![LogEntry {
                offset: 0,
                value: 7,
                producer_id: 3,
                status: RecordStatus::Plain,
            }],
        });
        h.converged = Some(true);
        let text = h.to_jsonl();
        let back = History::from_jsonl(text.as_bytes(), "h.jsonl").unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn malformed_line_names_file_line_and_field() {
        let text = "{\"type\":\"op\",\"index\":0,\"process\":1,\"time_ns\":0,\"phase\":\"invoke\",\"f\":\"send\",\"topic\":\"t\",\"partition\":0,\"value\":1}\n{\"type\":\"op\",\"index\":1,\"process\":1,\"time_ns\":0,\"phase\":\"okay\",\"f\":\"send\",\"topic\":\"t\",\"partition\":0,\"value\":1}\n";
        let err = History::from_jsonl(text.as_bytes(), "h.jsonl")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("h.jsonl:2: "), "{err}");
        assert!(err.contains("okay"), "{err}");
    }

    #[test]
    fn completion_without_invoke_is_rejected() {
        let mut h = History::default();
        h.push(1, 20, Phase::Ok, send(7, Some(0)), None);
        let err = History::from_jsonl(h.to_jsonl().as_bytes(), "h")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no open invoke"), "{err}");
    }
}
