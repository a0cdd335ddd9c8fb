//! The fast path of the JSON Lines reader, for the `op` lines that make up almost all of a
//! history.
//!
//! `Op` flattens an internally tagged `Operation`, so serde's derived reader buffers every
//! field of a line into an intermediate tree, and again for each `txn` step, and allocates a
//! topic string per event. This reads an op line straight into one flat struct whose fields
//! are the union of every operation's and step's, borrowing the strings from the line, and
//! shares one `Topic` per topic name. Whatever it does not take, the derived reader reads
//! (`History::from_jsonl` tries this first): a line of another type, one whose first key is
//! not `"type":"op"`, and any line this path finds wrong, so errors are the derived reader's,
//! word for word. It accepts only what the derived reader accepts and reads it the same way
//! (a test holds the two equal on every kind of op and step, and on near misses).

use std::borrow::Cow;

use serde::Deserialize;

use super::{FinalLog, LogEntry, Op, Operation, Phase, PolledRecord, Topic, TxnStep};

/// How an op line written by `History::to_jsonl` starts.
pub(super) const OP_PREFIX: &str = "{\"type\":\"op\",";

/// Every field an op line may carry (unknown ones are ignored, as the derived reader does).
#[derive(Deserialize)]
struct FlatOp<'a> {
    index: u64,
    process: u64,
    time_ns: u64,
    phase: Phase,
    f: OpKind,
    #[serde(borrow, default)]
    topic: Option<Cow<'a, str>>,
    #[serde(default)]
    partition: Option<u32>,
    #[serde(default)]
    value: Option<u64>,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default)]
    from_offset: Option<u64>,
    /// `None` when absent; `null` is refused, as by the derived reader.
    #[serde(default, deserialize_with = "present")]
    records: Option<Vec<PolledRecord>>,
    #[serde(default, deserialize_with = "present")]
    transactional: Option<bool>,
    #[serde(default)]
    txn_id: Option<String>,
    #[serde(borrow, default, deserialize_with = "present")]
    steps: Option<Vec<FlatStep<'a>>>,
    #[serde(default)]
    error: Option<String>,
}

/// Every field a `txn` step may carry.
#[derive(Deserialize)]
struct FlatStep<'a> {
    step: StepKind,
    #[serde(borrow, default)]
    topic: Option<Cow<'a, str>>,
    #[serde(default)]
    partition: Option<u32>,
    #[serde(default)]
    value: Option<u64>,
    #[serde(default)]
    source: Option<u64>,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    records: Option<Vec<PolledRecord>>,
    #[serde(default)]
    group: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum OpKind {
    Send,
    Poll,
    Txn,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum StepKind {
    Send,
    Poll,
    CommitOffset,
}

/// A field that, when present, holds a `T` (not `null`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The history's topics, one shared `Topic` per name.
#[derive(Default)]
pub(super) struct Topics {
    names: Vec<Topic>,
}

impl Topics {
    pub(super) fn get(&mut self, name: &str) -> Topic {
        if let Some(topic) = self.names.iter().find(|t| ***t == *name) {
            return topic.clone();
        }
        let topic: Topic = name.into();
        self.names.push(topic.clone());
        topic
    }
}

/// How a final-log line written by `History::to_jsonl` starts.
const FINAL_LOG_PREFIX: &str = "{\"type\":\"final-log\",";

/// A final-log line's fields, read directly: the derived reader buffers a tagged line's
/// every field into an intermediate tree first, and a final log's line holds a whole
/// partition's records. `kind` takes the tag again, so a line with a second `type` key is
/// refused here (as a duplicate field) and left to the derived reader.
#[derive(Deserialize)]
struct FlatFinalLog<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    topic: Cow<'a, str>,
    partition: u32,
    records: Vec<LogEntry>,
}

/// The final log on `line`, if this path can read it; `None` sends the line to the derived
/// reader.
pub(super) fn final_log(line: &str, topics: &mut Topics) -> Option<FinalLog> {
    if !line.starts_with(FINAL_LOG_PREFIX) {
        return None;
    }
    let flat: FlatFinalLog = serde_json::from_str(line).ok()?;
    (flat.kind == "final-log").then(|| FinalLog {
        topic: topics.get(&flat.topic),
        partition: flat.partition,
        records: flat.records,
    })
}

/// The op on `line`, if this path can read it; `None` sends the line to the derived reader.
pub(super) fn op(line: &str, topics: &mut Topics) -> Option<Op> {
    if !line.starts_with(OP_PREFIX) {
        return None;
    }
    let flat: FlatOp = serde_json::from_str(line).ok()?;
    let op = match flat.f {
        OpKind::Send => Operation::Send {
            topic: topics.get(flat.topic.as_deref()?),
            partition: flat.partition?,
            value: flat.value?,
            offset: flat.offset,
        },
        OpKind::Poll => Operation::Poll {
            topic: topics.get(flat.topic.as_deref()?),
            partition: flat.partition?,
            from_offset: flat.from_offset?,
            records: flat.records.unwrap_or_default(),
        },
        OpKind::Txn => Operation::Txn {
            transactional: flat.transactional.unwrap_or(true),
            txn_id: flat.txn_id,
            steps: flat
                .steps?
                .into_iter()
                .map(|s| step(s, topics))
                .collect::<Option<_>>()?,
        },
    };
    Some(Op {
        index: flat.index,
        process: flat.process,
        time_ns: flat.time_ns,
        phase: flat.phase,
        op,
        error: flat.error,
    })
}

fn step(flat: FlatStep, topics: &mut Topics) -> Option<TxnStep> {
    let topic = topics.get(flat.topic.as_deref()?);
    let partition = flat.partition?;
    Some(match flat.step {
        StepKind::Send => TxnStep::Send {
            topic,
            partition,
            value: flat.value?,
            source: flat.source,
            offset: flat.offset,
        },
        StepKind::Poll => TxnStep::Poll {
            topic,
            partition,
            records: flat.records.unwrap_or_default(),
        },
        StepKind::CommitOffset => TxnStep::CommitOffset {
            group: flat.group?,
            topic,
            partition,
            offset: flat.offset?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::derived;
    use super::*;

    /// Every line this path reads, it reads as the derived reader does; what it refuses may
    /// be anything (the derived reader then has the last word).
    fn agrees(line: &str) {
        let fast = op(line, &mut Topics::default());
        if let Some(fast) = &fast {
            assert_eq!(Some(fast), derived::op(line).as_ref(), "{line}");
        }
    }

    const HEAD: &str = r#"{"type":"op","index":3,"process":7,"time_ns":9,"phase":"ok","#;

    #[test]
    fn every_kind_of_op_and_step_reads_as_the_derived_reader_reads_it() {
        let bodies = [
            r#""f":"send","topic":"t","partition":1,"value":5}"#,
            r#""f":"send","topic":"t","partition":1,"value":5,"offset":4,"error":"x"}"#,
            r#""f":"poll","topic":"t","partition":0,"from_offset":2}"#,
            r#""f":"poll","topic":"t\u0031","partition":0,"from_offset":2,"records":[{"offset":2,"value":8}]}"#,
            r#""f":"txn","steps":[]}"#,
            r#""f":"txn","transactional":false,"txn_id":"c-1","steps":[{"step":"send","topic":"o","partition":2,"value":1,"source":7,"offset":3},{"step":"poll","topic":"i","partition":0,"records":[{"offset":0,"value":7}]},{"step":"commit-offset","group":"g","topic":"i","partition":0,"offset":1}]}"#,
        ];
        for body in bodies {
            let line = format!("{HEAD}{body}");
            assert!(op(&line, &mut Topics::default()).is_some(), "{line}");
            agrees(&line);
        }
    }

    #[test]
    fn near_misses_are_refused_or_read_alike() {
        let bodies = [
            r#""f":"send","topic":"t","partition":1}"#,
            r#""f":"send","topic":"t","partition":1,"value":null}"#,
            r#""f":"send","topic":null,"partition":1,"value":5}"#,
            r#""f":"send","topic":"t","partition":1,"value":5,"offset":null}"#,
            r#""f":"poll","topic":"t","partition":0,"from_offset":2,"records":null}"#,
            r#""f":"poll","topic":"t","partition":0}"#,
            r#""f":"txn","steps":null}"#,
            r#""f":"txn","transactional":null,"steps":[]}"#,
            r#""f":"txn","steps":[{"step":"send","topic":"o","partition":2}]}"#,
            r#""f":"txn","steps":[{"step":"commit-offset","topic":"i","partition":0,"offset":1}]}"#,
            r#""f":"txn","steps":[{"step":"skip","topic":"i","partition":0}]}"#,
            r#""f":"send","topic":"t","partition":1,"value":5,"value":6}"#,
            r#""f":"send","topic":"t","partition":1,"value":5,"extra":[1]}"#,
            r#""f":"append","topic":"t","partition":1,"value":5}"#,
            r#""f":"send","topic":"t","partition":-1,"value":5}"#,
        ];
        for body in bodies {
            agrees(&format!("{HEAD}{body}"));
        }
        agrees(
            r#"{"type":"op","index":3,"process":7,"time_ns":9,"phase":"okay","f":"send","topic":"t","partition":1,"value":5}"#,
        );
        agrees(
            r#"{"type":"op","process":7,"time_ns":9,"phase":"ok","f":"send","topic":"t","partition":1,"value":5}"#,
        );
    }

    /// Every final-log line this path reads, it reads as the derived reader does.
    fn final_log_agrees(line: &str) {
        if let Some(fast) = final_log(line, &mut Topics::default()) {
            assert_eq!(Some(fast), derived::final_log(line), "{line}");
        }
    }

    #[test]
    fn final_logs_read_as_the_derived_reader_reads_them() {
        let line = r#"{"type":"final-log","topic":"t","partition":2,"records":[{"offset":0,"value":5,"producer_id":3},{"offset":1,"value":6,"producer_id":3,"status":"aborted"},{"offset":2,"value":7}]}"#;
        assert!(final_log(line, &mut Topics::default()).is_some());
        final_log_agrees(line);
        let near_misses = [
            r#"{"type":"final-log","type":"op","topic":"t","partition":2,"records":[]}"#,
            r#"{"type":"final-log","topic":"t","partition":2}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":null}"#,
            r#"{"type":"final-log","topic":"t","partition":-2,"records":[]}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":[{"offset":0}]}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":[{"offset":0,"value":1,"status":"gone"}]}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":[],"extra":{"a":[1]}}"#,
            r#"{"type":"final-log","topic":"t\u0031","partition":2,"records":[],"partition":3}"#,
        ];
        for line in near_misses {
            final_log_agrees(line);
        }
    }

    proptest::proptest! {
        /// Final-log lines built from random fields, in random key orders, some missing,
        /// doubled, `null` or of the wrong type: whatever the fast path reads, the derived
        /// reader reads alike.
        #[test]
        fn final_log_lines_agree_with_the_derived_reader(
            fields in proptest::collection::vec((0usize..6, 0usize..4), 0..8),
            records in proptest::collection::vec(
                (0u64..5, 0u64..5, proptest::option::of(-1i64..3), 0usize..6), 0..4),
        ) {
            let records: Vec<String> = records
                .iter()
                .map(|&(offset, value, producer, status)| {
                    let mut r = format!(r#"{{"offset":{offset},"value":{value}"#);
                    if let Some(p) = producer {
                        r += &format!(r#","producer_id":{p}"#);
                    }
                    let statuses = ["", "plain", "committed", "aborted", "open", "torn"];
                    if status > 0 {
                        r += &format!(r#","status":"{}""#, statuses[status]);
                    }
                    r + "}"
                })
                .collect();
            let records = format!("[{}]", records.join(","));
            let mut line = String::from(r#"{"type":"final-log""#);
            for (field, shape) in fields {
                let name = ["topic", "partition", "records", "type", "other", "partition"][field];
                let value = match (name, shape) {
                    (_, 0) => "null".to_string(),
                    ("topic", _) => r#""t""#.to_string(),
                    ("partition", 1) => "1".to_string(),
                    ("partition", _) => "-1".to_string(),
                    ("records", _) => records.clone(),
                    ("type", 1) => r#""final-log""#.to_string(),
                    ("type", _) => r#""op""#.to_string(),
                    _ => "[1,{}]".to_string(),
                };
                line += &format!(r#","{name}":{value}"#);
            }
            line += "}";
            final_log_agrees(&line);
            let complete = format!(r#"{{"type":"final-log","topic":"t","partition":1,"records":{records}}}"#);
            final_log_agrees(&complete);
            proptest::prop_assert_eq!(
                final_log(&complete, &mut Topics::default()).is_some(),
                derived::final_log(&complete).is_some()
            );
        }
    }

    #[test]
    fn a_topic_is_shared_between_the_events_that_name_it() {
        let mut topics = Topics::default();
        let line = format!(r#"{HEAD}"f":"send","topic":"t","partition":1,"value":5}}"#);
        let (Some(a), Some(b)) = (op(&line, &mut topics), op(&line, &mut topics)) else {
            panic!("both read");
        };
        let (Operation::Send { topic: a, .. }, Operation::Send { topic: b, .. }) = (a.op, b.op)
        else {
            panic!("sends");
        };
        assert!(std::sync::Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn lines_of_other_types_or_key_orders_go_to_the_derived_reader() {
        assert!(op(r#"{"type":"end","converged":true}"#, &mut Topics::default()).is_none());
        let reordered = r#"{"index":3,"type":"op","process":7,"time_ns":9,"phase":"ok","f":"send","topic":"t","partition":1,"value":5}"#;
        assert!(op(reordered, &mut Topics::default()).is_none());
        assert!(derived::op(reordered).is_some());
    }
}
