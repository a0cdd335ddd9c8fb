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

use super::{Op, Operation, Phase, PolledRecord, Topic, TxnStep};

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
    use super::*;

    /// What the derived reader makes of an op line (`None`: it refuses it).
    fn derived(line: &str) -> Option<Op> {
        match serde_json::from_str::<super::super::Line>(line).ok()? {
            super::super::Line::Op(op) => Some(op),
            _ => None,
        }
    }

    /// Every line this path reads, it reads as the derived reader does; what it refuses may
    /// be anything (the derived reader then has the last word).
    fn agrees(line: &str) {
        let fast = op(line, &mut Topics::default());
        if let Some(fast) = &fast {
            assert_eq!(Some(fast), derived(line).as_ref(), "{line}");
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
        assert!(derived(reordered).is_some());
    }
}
