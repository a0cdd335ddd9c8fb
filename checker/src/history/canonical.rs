//! The fastest path of the JSON Lines reader: an op or final-log line exactly as
//! `History::to_jsonl` writes it, read by hand. serde_json reads a line key by key, asking at each one which field it
//! is, and skips every string twice (to find its end, then to copy or borrow it); a line in
//! the writer's own form has its keys in a known order, no spaces and, but for topics and
//! errors, nothing but integers, so it is read in one pass with no look-up.
//!
//! It reads only that form: keys in the writer's order, no whitespace, integers without sign,
//! fraction, exponent or leading zero that fit their field, strings without escapes or
//! control characters. Anything else (another key order, `null`, a field the writer would
//! not write) sends the line on to the serde paths (`read::op`, then the derived reader), so
//! what it reads, the derived reader reads alike, and errors are the derived reader's, word
//! for word (tests hold this on every kind of op and step, on near misses, and on random
//! histories written and read back).

use super::read::Topics;
use super::{FinalLog, LogEntry, Op, Operation, Phase, PolledRecord, RecordStatus, TxnStep};

/// A position in one line, read from the left.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    /// Steps over `literal`, if the line goes on with it.
    fn eat(&mut self, literal: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(literal)?;
        Some(())
    }

    /// Whether the line goes on with `literal` (then stepped over).
    fn next_is(&mut self, literal: &str) -> bool {
        self.eat(literal).is_some()
    }

    /// An integer as JSON writes a non-negative one: `0`, or digits without a leading zero.
    fn u64(&mut self) -> Option<u64> {
        let bytes = self.rest.as_bytes();
        let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && bytes[0] == b'0') {
            return None;
        }
        let mut value: u64 = 0;
        for &digit in &bytes[..digits] {
            value = value
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
        }
        self.rest = &self.rest[digits..];
        Some(value)
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u64()?).ok()
    }

    /// A signed integer as JSON writes one (`-0` left to the serde paths).
    fn i64(&mut self) -> Option<i64> {
        if self.next_is("-") {
            let magnitude = self.u64().filter(|&m| m != 0)?;
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(self.u64()?).ok()
        }
    }

    /// A string without escapes or control characters (which the serde paths read).
    fn str(&mut self) -> Option<&'a str> {
        let body = self.rest.strip_prefix('"')?;
        let end = body
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        if body.as_bytes()[end] != b'"' {
            return None;
        }
        self.rest = &body[end + 1..];
        Some(&body[..end])
    }

    fn bool(&mut self) -> Option<bool> {
        if self.next_is("true") {
            Some(true)
        } else if self.next_is("false") {
            Some(false)
        } else {
            None
        }
    }

    /// `,"key":` and the integer after it, if the line goes on with that key.
    fn optional_u64(&mut self, key: &str) -> Option<Option<u64>> {
        if self.next_is(key) {
            self.u64().map(Some)
        } else {
            Some(None)
        }
    }

    /// `[{"offset":…,"value":…},…]`.
    fn records(&mut self) -> Option<Vec<PolledRecord>> {
        self.eat("[")?;
        let mut records = Vec::new();
        if self.next_is("]") {
            return Some(records);
        }
        loop {
            self.eat("{\"offset\":")?;
            let offset = self.u64()?;
            self.eat(",\"value\":")?;
            let value = self.u64()?;
            self.eat("}")?;
            records.push(PolledRecord { offset, value });
            if self.next_is("]") {
                return Some(records);
            }
            self.eat(",")?;
        }
    }

    /// `,"records":[…]`, if the line goes on with it (the writer leaves out an empty list).
    fn optional_records(&mut self) -> Option<Vec<PolledRecord>> {
        if self.next_is(",\"records\":") {
            self.records()
        } else {
            Some(Vec::new())
        }
    }
}

/// The op on `line` if it is in the writer's form; `None` sends it to the serde paths.
pub(super) fn op(line: &str, topics: &mut Topics) -> Option<Op> {
    let mut at = Cursor { rest: line };
    at.eat("{\"type\":\"op\",\"index\":")?;
    let index = at.u64()?;
    at.eat(",\"process\":")?;
    let process = at.u64()?;
    at.eat(",\"time_ns\":")?;
    let time_ns = at.u64()?;
    at.eat(",\"phase\":")?;
    let phase = match at.str()? {
        "invoke" => Phase::Invoke,
        "ok" => Phase::Ok,
        "fail" => Phase::Fail,
        "info" => Phase::Info,
        _ => return None,
    };
    at.eat(",\"f\":")?;
    let op = match at.str()? {
        "send" => send(&mut at, topics)?,
        "poll" => poll(&mut at, topics)?,
        "txn" => txn(&mut at, topics)?,
        _ => return None,
    };
    let error = match at.next_is(",\"error\":") {
        true => Some(at.str()?.to_string()),
        false => None,
    };
    at.eat("}")?;
    at.rest.is_empty().then_some(Op {
        index,
        process,
        time_ns,
        phase,
        op,
        error,
    })
}

/// The final log on `line` if it is in the writer's form; `None` sends it to the serde paths.
pub(super) fn final_log(line: &str, topics: &mut Topics) -> Option<FinalLog> {
    let mut at = Cursor { rest: line };
    at.eat("{\"type\":\"final-log\",\"topic\":")?;
    let topic = topics.get(at.str()?);
    at.eat(",\"partition\":")?;
    let partition = at.u32()?;
    at.eat(",\"records\":[")?;
    let mut records = Vec::new();
    if !at.next_is("]") {
        loop {
            records.push(log_entry(&mut at)?);
            if at.next_is("]") {
                break;
            }
            at.eat(",")?;
        }
    }
    at.eat("}")?;
    at.rest.is_empty().then_some(FinalLog {
        topic,
        partition,
        records,
    })
}

/// `{"offset":…,"value":…,"producer_id":…}`, and `"status"` unless it is plain.
fn log_entry(at: &mut Cursor) -> Option<LogEntry> {
    at.eat("{\"offset\":")?;
    let offset = at.u64()?;
    at.eat(",\"value\":")?;
    let value = at.u64()?;
    at.eat(",\"producer_id\":")?;
    let producer_id = at.i64()?;
    let status = match at.next_is(",\"status\":") {
        false => RecordStatus::Plain,
        true => match at.str()? {
            "committed" => RecordStatus::Committed,
            "aborted" => RecordStatus::Aborted,
            "open" => RecordStatus::Open,
            _ => return None,
        },
    };
    at.eat("}")?;
    Some(LogEntry {
        offset,
        value,
        producer_id,
        status,
    })
}

fn send(at: &mut Cursor, topics: &mut Topics) -> Option<Operation> {
    at.eat(",\"topic\":")?;
    let topic = topics.get(at.str()?);
    at.eat(",\"partition\":")?;
    let partition = at.u32()?;
    at.eat(",\"value\":")?;
    let value = at.u64()?;
    let offset = at.optional_u64(",\"offset\":")?;
    Some(Operation::Send {
        topic,
        partition,
        value,
        offset,
    })
}

fn poll(at: &mut Cursor, topics: &mut Topics) -> Option<Operation> {
    at.eat(",\"topic\":")?;
    let topic = topics.get(at.str()?);
    at.eat(",\"partition\":")?;
    let partition = at.u32()?;
    at.eat(",\"from_offset\":")?;
    let from_offset = at.u64()?;
    let records = at.optional_records()?;
    Some(Operation::Poll {
        topic,
        partition,
        from_offset,
        records,
    })
}

fn txn(at: &mut Cursor, topics: &mut Topics) -> Option<Operation> {
    at.eat(",\"transactional\":")?;
    let transactional = at.bool()?;
    let txn_id = match at.next_is(",\"txn_id\":") {
        true => Some(at.str()?.to_string()),
        false => None,
    };
    at.eat(",\"steps\":[")?;
    let mut steps = Vec::new();
    if !at.next_is("]") {
        loop {
            steps.push(step(at, topics)?);
            if at.next_is("]") {
                break;
            }
            at.eat(",")?;
        }
    }
    Some(Operation::Txn {
        transactional,
        txn_id,
        steps,
    })
}

fn step(at: &mut Cursor, topics: &mut Topics) -> Option<TxnStep> {
    at.eat("{\"step\":")?;
    let step = match at.str()? {
        "send" => {
            let (topic, partition) = topic_and_partition(at, topics)?;
            at.eat(",\"value\":")?;
            let value = at.u64()?;
            let source = at.optional_u64(",\"source\":")?;
            let offset = at.optional_u64(",\"offset\":")?;
            TxnStep::Send {
                topic,
                partition,
                value,
                source,
                offset,
            }
        }
        "poll" => {
            let (topic, partition) = topic_and_partition(at, topics)?;
            let records = at.optional_records()?;
            TxnStep::Poll {
                topic,
                partition,
                records,
            }
        }
        "commit-offset" => {
            at.eat(",\"group\":")?;
            let group = at.str()?.to_string();
            let (topic, partition) = topic_and_partition(at, topics)?;
            at.eat(",\"offset\":")?;
            let offset = at.u64()?;
            TxnStep::CommitOffset {
                group,
                topic,
                partition,
                offset,
            }
        }
        _ => return None,
    };
    at.eat("}")?;
    Some(step)
}

fn topic_and_partition(at: &mut Cursor, topics: &mut Topics) -> Option<(super::Topic, u32)> {
    at.eat(",\"topic\":")?;
    let topic = topics.get(at.str()?);
    at.eat(",\"partition\":")?;
    Some((topic, at.u32()?))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::derived;
    use super::*;
    use crate::history::History;

    /// Whatever this path reads, the derived reader reads alike.
    fn agrees(line: &str) {
        if let Some(fast) = op(line, &mut Topics::default()) {
            assert_eq!(Some(fast), derived::op(line), "{line}");
        }
    }

    /// The op lines `History::to_jsonl` writes for `ops`.
    fn written(ops: Vec<(Phase, Operation, Option<String>)>) -> Vec<String> {
        let mut history = History::default();
        for (process, (phase, operation, error)) in ops.into_iter().enumerate() {
            history.push(
                process as u64 * 7,
                1_000 + process as u64,
                phase,
                operation,
                error,
            );
        }
        history.to_jsonl().lines().map(str::to_string).collect()
    }

    const HEAD: &str = r#"{"type":"op","index":3,"process":7,"time_ns":9,"phase":"ok","#;

    #[test]
    fn the_writers_lines_are_read_here_and_near_misses_are_refused_or_read_alike() {
        let bodies = [
            r#""f":"send","topic":"t","partition":1,"value":5}"#,
            r#""f":"send","topic":"t","partition":1,"value":5,"offset":4,"error":"x"}"#,
            r#""f":"poll","topic":"t","partition":0,"from_offset":2}"#,
            r#""f":"poll","topic":"t","partition":0,"from_offset":2,"records":[{"offset":2,"value":8},{"offset":3,"value":0}]}"#,
            r#""f":"txn","transactional":true,"steps":[]}"#,
            r#""f":"txn","transactional":false,"txn_id":"c-1","steps":[{"step":"send","topic":"o","partition":2,"value":1,"source":7,"offset":3},{"step":"poll","topic":"i","partition":0,"records":[{"offset":0,"value":7}]},{"step":"commit-offset","group":"g","topic":"i","partition":0,"offset":1}]}"#,
        ];
        for body in bodies {
            let line = format!("{HEAD}{body}");
            assert!(op(&line, &mut Topics::default()).is_some(), "{line}");
            agrees(&line);
        }
        let near_misses = [
            r#""f":"send","topic":"t","partition":1}"#,
            r#""f":"send","topic":"t","partition":1,"value":null}"#,
            r#""f":"send","topic":"t","partition":1,"value":05}"#,
            r#""f":"send","topic":"t","partition":1,"value":5.0}"#,
            r#""f":"send","topic":"t","partition":1,"value":-5}"#,
            r#""f":"send","topic":"t","partition":1,"value":18446744073709551616}"#,
            r#""f":"send","topic":"t","partition":4294967296,"value":5}"#,
            r#""f":"send","topic":"t\u0031","partition":1,"value":5}"#,
            r#""f":"send","topic":"t","partition":1,"value":5,"offset":null}"#,
            r#""f":"send","topic":"t","partition":1,"value":5,"value":6}"#,
            r#""f":"send","topic":"t","partition":1,"value":5,"extra":[1]}"#,
            r#""f":"send","partition":1,"topic":"t","value":5}"#,
            r#""f":"send", "topic":"t","partition":1,"value":5}"#,
            r#""f":"poll","topic":"t","partition":0,"from_offset":2,"records":null}"#,
            r#""f":"poll","topic":"t","partition":0,"from_offset":2,"records":[]}"#,
            r#""f":"poll","topic":"t","partition":0,"from_offset":2,"records":[{"value":8,"offset":2}]}"#,
            r#""f":"txn","steps":[]}"#,
            r#""f":"txn","transactional":null,"steps":[]}"#,
            r#""f":"txn","transactional":true,"steps":null}"#,
            r#""f":"txn","transactional":true,"steps":[{"step":"send","topic":"o","partition":2}]}"#,
            r#""f":"txn","transactional":true,"steps":[{"step":"commit-offset","topic":"i","partition":0,"offset":1}]}"#,
            r#""f":"txn","transactional":true,"steps":[{"step":"skip","topic":"i","partition":0}]}"#,
            r#""f":"txn","transactional":true,"steps":[{"step":"poll","topic":"i","partition":0},]}"#,
            r#""f":"append","topic":"t","partition":1,"value":5}"#,
            r#""f":"send","topic":"t","partition":1,"value":5}x"#,
            r#""f":"send","topic":"t","partition":1,"value":5,"error":"a\"b"}"#,
        ];
        for body in near_misses {
            agrees(&format!("{HEAD}{body}"));
        }
        for line in [
            r#"{"type":"op","index":3,"process":7,"time_ns":9,"phase":"okay","f":"send","topic":"t","partition":1,"value":5}"#,
            r#"{"type":"op","process":7,"time_ns":9,"phase":"ok","f":"send","topic":"t","partition":1,"value":5}"#,
            r#"{"index":3,"type":"op","process":7,"time_ns":9,"phase":"ok","f":"send","topic":"t","partition":1,"value":5}"#,
        ] {
            agrees(line);
        }
    }

    fn final_log_agrees(line: &str) {
        if let Some(fast) = final_log(line, &mut Topics::default()) {
            assert_eq!(Some(fast), derived::final_log(line), "{line}");
        }
    }

    #[test]
    fn the_writers_final_logs_are_read_here_and_near_misses_are_refused_or_read_alike() {
        let line = r#"{"type":"final-log","topic":"t","partition":2,"records":[{"offset":0,"value":5,"producer_id":3},{"offset":1,"value":6,"producer_id":-1,"status":"aborted"},{"offset":2,"value":7,"producer_id":-9223372036854775808,"status":"open"}]}"#;
        assert!(final_log(line, &mut Topics::default()).is_some());
        final_log_agrees(line);
        let near_misses = [
            r#"{"type":"final-log","topic":"t","partition":2,"records":[]}"#,
            r#"{"type":"final-log","type":"op","topic":"t","partition":2,"records":[]}"#,
            r#"{"type":"final-log","topic":"t","partition":2}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":null}"#,
            r#"{"type":"final-log","topic":"t","partition":-2,"records":[]}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":[{"offset":0}]}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":[{"offset":0,"value":1}]}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":[{"offset":0,"value":1,"producer_id":-0}]}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":[{"offset":0,"value":1,"producer_id":-9223372036854775809}]}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":[{"offset":0,"value":1,"producer_id":1,"status":"plain"}]}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":[{"offset":0,"value":1,"producer_id":1,"status":"gone"}]}"#,
            r#"{"type":"final-log","topic":"t","partition":2,"records":[],"extra":{"a":[1]}}"#,
            r#"{"type":"final-log","topic":"t\u0031","partition":2,"records":[],"partition":3}"#,
        ];
        for line in near_misses {
            final_log_agrees(line);
        }
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("t".to_string()),
            Just("input".to_string()),
            Just("tö-ü".to_string()),
            Just("a\"b".to_string()),
            Just("c\\d".to_string()),
            Just("e\u{1}f".to_string()),
            Just(String::new()),
        ]
    }

    fn number() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..12, Just(u64::MAX), any::<u64>()]
    }

    fn records() -> impl Strategy<Value = Vec<PolledRecord>> {
        prop::collection::vec(
            (number(), number()).prop_map(|(offset, value)| PolledRecord { offset, value }),
            0..3,
        )
    }

    fn step() -> impl Strategy<Value = TxnStep> {
        let partition = prop_oneof![0u32..3, Just(u32::MAX)];
        prop_oneof![
            (
                name(),
                partition.clone(),
                number(),
                prop::option::of(number()),
                prop::option::of(number())
            )
                .prop_map(|(topic, partition, value, source, offset)| TxnStep::Send {
                    topic: topic.into(),
                    partition,
                    value,
                    source,
                    offset,
                }),
            (name(), partition.clone(), records()).prop_map(|(topic, partition, records)| {
                TxnStep::Poll {
                    topic: topic.into(),
                    partition,
                    records,
                }
            }),
            (name(), name(), partition, number()).prop_map(|(group, topic, partition, offset)| {
                TxnStep::CommitOffset {
                    group,
                    topic: topic.into(),
                    partition,
                    offset,
                }
            }),
        ]
    }

    fn operation() -> impl Strategy<Value = Operation> {
        let partition = prop_oneof![0u32..3, Just(u32::MAX)];
        prop_oneof![
            (
                name(),
                partition.clone(),
                number(),
                prop::option::of(number())
            )
                .prop_map(|(topic, partition, value, offset)| Operation::Send {
                    topic: topic.into(),
                    partition,
                    value,
                    offset,
                }),
            (name(), partition, number(), records()).prop_map(
                |(topic, partition, from_offset, records)| Operation::Poll {
                    topic: topic.into(),
                    partition,
                    from_offset,
                    records,
                }
            ),
            (
                any::<bool>(),
                prop::option::of(name()),
                prop::collection::vec(step(), 0..4)
            )
                .prop_map(|(transactional, txn_id, steps)| Operation::Txn {
                    transactional,
                    txn_id,
                    steps,
                }),
        ]
    }

    fn phase() -> impl Strategy<Value = Phase> {
        prop_oneof![
            Just(Phase::Invoke),
            Just(Phase::Ok),
            Just(Phase::Fail),
            Just(Phase::Info)
        ]
    }

    fn status() -> impl Strategy<Value = RecordStatus> {
        prop_oneof![
            Just(RecordStatus::Plain),
            Just(RecordStatus::Committed),
            Just(RecordStatus::Aborted),
            Just(RecordStatus::Open)
        ]
    }

    fn log_entries() -> impl Strategy<Value = Vec<LogEntry>> {
        let producer = prop_oneof![-1i64..3, Just(i64::MIN), Just(i64::MAX), any::<i64>()];
        let entry = (number(), number(), producer, status()).prop_map(
            |(offset, value, producer_id, status)| LogEntry {
                offset,
                value,
                producer_id,
                status,
            },
        );
        prop::collection::vec(entry, 0..4)
    }

    /// `line` with each edit applied: at a position, the character there removed (edit 0) or
    /// one of a few JSON-ish insertions (`third` is the third: a sign or a separator).
    fn edited(line: &str, edits: &[(prop::sample::Index, usize)], third: &str) -> String {
        let mut edited = line.to_string();
        for (at, edit) in edits {
            let mut at = at.index(edited.len() + 1);
            while !edited.is_char_boundary(at) {
                at -= 1;
            }
            let insert = ["", " ", "0", third, "null", "\"x\":1,"][*edit];
            if *edit == 0 && at < edited.len() {
                edited.remove(at);
            } else {
                edited.insert_str(at, insert);
            }
        }
        edited
    }

    proptest! {
        /// Random final logs as the writer writes them read back as they were (unless the
        /// topic needs an escape), and edits of them read as the derived reader reads them.
        #[test]
        fn written_final_logs_read_back_and_edits_agree_with_the_derived_reader(
            topic in name(),
            partition in prop_oneof![0u32..3, Just(u32::MAX)],
            records in log_entries(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..6), 1..4),
        ) {
            let log = FinalLog { topic: topic.into(), partition, records };
            let mut history = History::default();
            history.final_logs.push(log.clone());
            let line = history.to_jsonl();
            let line = line.trim_end();
            let read = final_log(line, &mut Topics::default());
            prop_assert_eq!(read.is_some(), !line.contains('\\'), "{}", line);
            if let Some(read) = read {
                prop_assert_eq!(&read, &log);
                final_log_agrees(line);
            }
            final_log_agrees(&edited(line, &edits, "-"));
        }
    }

    proptest! {
        /// Random ops as the writer writes them: this path reads each back as it was (or, for
        /// a string with an escape or a control character, leaves it to the serde paths), and
        /// every cut or edit of a line it reads, it reads as the derived reader does.
        #[test]
        fn written_lines_read_back_and_edits_agree_with_the_derived_reader(
            ops in prop::collection::vec((phase(), operation(), prop::option::of(name())), 1..4),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..6), 1..4),
        ) {
            let lines = written(ops.clone());
            for (line, (phase, operation, error)) in lines.iter().zip(ops) {
                let read = op(line, &mut Topics::default());
                let plain = !line.contains('\\');
                prop_assert_eq!(read.is_some(), plain, "{}", line);
                if let Some(read) = read {
                    prop_assert_eq!((read.phase, &read.op, &read.error), (phase, &operation, &error));
                    agrees(line);
                }
                agrees(&edited(line, &edits, ","));
            }
        }
    }
}
