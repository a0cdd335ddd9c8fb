//! The history formats `eosim check` reads, told apart by a file's first lines, and error
//! messages that name the file, line and column and the `--format` to pass.

use checker::lin::{Format, LinError};

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryFormat {
    /// eosim's JSON Lines (`eosim run --history`), for the log and transaction checkers.
    Eosim,
    /// Jepsen's Kafka queue histories (`jepsen.tests.kafka`), for the same checkers.
    JepsenKafka,
    /// A Porcupine or Jepsen history, for the linearizability checker.
    Lin(Format),
}

/// The `--format` value that asks for detection.
pub const AUTO: &str = "auto";

impl HistoryFormat {
    pub const ALL: [HistoryFormat; 5] = [
        HistoryFormat::Eosim,
        HistoryFormat::JepsenKafka,
        HistoryFormat::Lin(Format::PorcupineEtcd),
        HistoryFormat::Lin(Format::PorcupineKv),
        HistoryFormat::Lin(Format::JepsenEdn),
    ];

    /// The `--format` name.
    pub fn name(self) -> &'static str {
        match self {
            HistoryFormat::Eosim => "eosim",
            HistoryFormat::JepsenKafka => "jepsen-kafka",
            HistoryFormat::Lin(format) => format.as_str(),
        }
    }

    pub fn from_name(name: &str) -> Option<HistoryFormat> {
        HistoryFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// What it is, for `--help` and error messages.
    pub fn description(self) -> &'static str {
        match self {
            HistoryFormat::Eosim => "eosim's JSON Lines, written by `eosim run --history FILE`",
            HistoryFormat::JepsenKafka => {
                "Jepsen's Kafka queue histories (jepsen.tests.kafka: :txn, :send, :poll ops)"
            }
            HistoryFormat::Lin(Format::PorcupineEtcd) => {
                "Porcupine's etcd logs (Jepsen's log lines)"
            }
            HistoryFormat::Lin(Format::PorcupineKv) => {
                "Porcupine's key-value histories, one EDN map per line"
            }
            HistoryFormat::Lin(Format::JepsenEdn) => {
                "Jepsen / Knossos EDN histories (a vector of maps, or one map per line)"
            }
        }
    }

    /// How its first line looks.
    pub fn sample(self) -> &'static str {
        match self {
            HistoryFormat::Eosim => r#"{"type":"op","index":0,"process":1,"phase":"invoke",…}"#,
            HistoryFormat::JepsenKafka => {
                "{:type :invoke, :f :txn, :value [[:send 9 3] [:poll]], :process 0, …}"
            }
            HistoryFormat::Lin(Format::PorcupineEtcd) => "INFO jepsen.util - 0 :invoke :read nil",
            HistoryFormat::Lin(Format::PorcupineKv) => {
                r#"{:process 0, :type :invoke, :f :get, :key "1", :value nil}"#
            }
            HistoryFormat::Lin(Format::JepsenEdn) => {
                "[{:process 0, :type :invoke, :f :read, :value nil} …]"
            }
        }
    }
}

/// A format told from a file's first lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detected {
    pub format: HistoryFormat,
    /// The line it was told from (1-based).
    pub line: usize,
    /// What gave it away.
    pub because: &'static str,
}

/// A file whose format could not be told: where it starts and what it starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undetected {
    pub line: usize,
    pub column: usize,
    /// The start of what was found there.
    pub found: String,
    /// The format it looks closest to, and why.
    pub closest: Option<(HistoryFormat, &'static str)>,
    /// What else to say about it.
    pub note: Option<&'static str>,
}

/// Tells a history's format from its first significant line (blank lines and `;` comments
/// skipped). `Ok(None)`: the file holds nothing but those, which every format reads as an
/// empty history.
pub fn detect(text: &str) -> Result<Option<Detected>, Undetected> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some((index, line_text)) = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with(';'))
    else {
        return Ok(None);
    };
    let line = index + 1;
    let content = line_text.trim_start();
    let detected = |(format, because)| {
        Ok(Some(Detected {
            format,
            line,
            because,
        }))
    };
    if let Some(found) = format_of_line(content, line) {
        return detected(kafka_or(found, text));
    }
    let column = line_text.chars().count() - content.chars().count() + 1;
    let mut undetected = Undetected {
        line,
        column,
        found: content.chars().take(40).collect(),
        closest: closest(content),
        note: None,
    };
    if let Some(rest) = content.strip_prefix(['[', '(']) {
        match first_element(rest, text, index) {
            Element::EdnMap => {
                return detected(kafka_or(
                    (
                        HistoryFormat::Lin(Format::JepsenEdn),
                        "an EDN vector of operation maps",
                    ),
                    text,
                ));
            }
            Element::JsonObject => {
                undetected.closest = None;
                undetected.note = Some(
                    "it is a JSON array; eosim's format is JSON Lines: one object per line, \
                     without the enclosing [ ] (`jq -c '.[]'` converts an array)",
                );
            }
            Element::Other => {}
        }
    }
    Err(undetected)
}

/// The format a line (`content`, from its first non-blank character) shows on its own, and
/// what gives it away.
fn format_of_line(content: &str, line: usize) -> Option<(HistoryFormat, &'static str)> {
    if content.starts_with('{') && content[1..].trim_start().starts_with('"') {
        return Some((HistoryFormat::Eosim, "a JSON object"));
    }
    if content
        .split_whitespace()
        .take(2)
        .eq(["INFO", "jepsen.util"])
    {
        return Some((
            HistoryFormat::Lin(Format::PorcupineEtcd),
            "a line `INFO jepsen.util - …`",
        ));
    }
    if !content.starts_with("{:") {
        return None;
    }
    Some(if is_porcupine_kv_line(content, line) {
        (
            HistoryFormat::Lin(Format::PorcupineKv),
            "an EDN map with exactly :process :type :f :key :value",
        )
    } else {
        (
            HistoryFormat::Lin(Format::JepsenEdn),
            "an EDN operation map",
        )
    })
}

/// How many significant lines of a Jepsen EDN history are looked at for a Kafka operation.
const KAFKA_LOOKAHEAD: usize = 50;

/// `found`, unless it is Jepsen EDN whose first lines hold a Kafka client operation
/// (`:f :send`, `:poll`, `:assign`, `:subscribe`, or a `:txn` of `:send` / `:poll` micro-ops):
/// then Jepsen Kafka (the line it was told from stays the first line's).
fn kafka_or(found: (HistoryFormat, &'static str), text: &str) -> (HistoryFormat, &'static str) {
    if found.0 != HistoryFormat::Lin(Format::JepsenEdn) {
        return found;
    }
    let kafka = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            (
                i + 1,
                l.trim_start_matches(|c: char| c.is_whitespace() || "[(,".contains(c)),
            )
        })
        .filter(|(_, l)| l.starts_with("{:"))
        .take(KAFKA_LOOKAHEAD)
        .any(|(line, l)| {
            checker::lin::edn::read_one(l.trim_end_matches([']', ')', ',']), line)
                .is_ok_and(|map| checker::txn::jepsen_kafka::is_kafka_op(&map))
        });
    if kafka {
        (
            HistoryFormat::JepsenKafka,
            "EDN operation maps with Jepsen Kafka's :f (:txn of :send/:poll, :send, :poll, :assign)",
        )
    } else {
        found
    }
}

/// Porcupine's kv lines are maps of exactly these keys, in this order.
fn is_porcupine_kv_line(content: &str, line: usize) -> bool {
    let Ok(checker::lin::edn::Value::Map(entries)) = checker::lin::edn::read_one(content, line)
    else {
        return false;
    };
    let keys: Vec<_> = entries.iter().map(|(k, _)| k.as_keyword()).collect();
    keys == [
        Some("process"),
        Some("type"),
        Some("f"),
        Some("key"),
        Some("value"),
    ]
}

/// What a history that opens with `[` or `(` holds first.
enum Element {
    /// A map of keywords, or nothing (the closing bracket): Jepsen's EDN.
    EdnMap,
    /// A JSON object: a JSON array, which no format is.
    JsonObject,
    Other,
}

/// The first element after an opening bracket: on the rest of its line (`rest`) or on the
/// following lines of `text` (after line `index`, 0-based).
fn first_element(rest: &str, text: &str, index: usize) -> Element {
    let next = std::iter::once(rest)
        .chain(text.lines().skip(index + 1))
        .map(|l| l.trim_start_matches(|c: char| c.is_whitespace() || c == ','))
        .find(|t| !t.is_empty());
    match next {
        Some(t) if t.starts_with("{:") || t.starts_with([']', ')']) => Element::EdnMap,
        Some(t) if t.starts_with('{') && t[1..].trim_start().starts_with('"') => {
            Element::JsonObject
        }
        _ => Element::Other,
    }
}

/// The format a line that none starts like resembles most, and why.
fn closest(content: &str) -> Option<(HistoryFormat, &'static str)> {
    if content.contains("jepsen.util") {
        Some((
            HistoryFormat::Lin(Format::PorcupineEtcd),
            "it mentions jepsen.util, but its lines must start `INFO jepsen.util -`",
        ))
    } else if content.contains(":invoke") || content.contains(":type") || content.contains(":f ") {
        Some((
            HistoryFormat::Lin(Format::JepsenEdn),
            "it has Jepsen keywords such as :invoke, but no `{:…}` maps",
        ))
    } else if content.contains("\"type\"") || content.contains("\"phase\"") {
        Some((
            HistoryFormat::Eosim,
            "it has eosim's JSON keys, but its lines must be `{\"…\": …}` objects",
        ))
    } else {
        None
    }
}

impl Undetected {
    /// The error for `file`: where, what was found, every format and which to pass.
    pub fn message(&self, file: &str) -> String {
        let mut text = format!(
            "{file}:{}:{}: cannot tell the history's format: it starts with {:?}, as none of \
             the formats eosim reads does",
            self.line, self.column, self.found
        );
        text.push_str("\n  the formats (--format NAME):");
        text.push_str(&format_list());
        if let Some(note) = self.note {
            text.push_str(&format!("\n  {note}"));
        }
        match self.closest {
            Some((format, why)) => text.push_str(&format!(
                "\n  it looks closest to {} ({why}); if it is one, pass it:\n  \
                 eosim check {file} --format {}",
                format.name(),
                format.name()
            )),
            None => text.push_str(&format!(
                "\n  pass the one it is: eosim check {file} --format NAME"
            )),
        }
        text
    }
}

/// Every format, a line each: name, description and how its first line looks.
pub fn format_list() -> String {
    let mut text = String::new();
    for format in HistoryFormat::ALL {
        text.push_str(&format!(
            "\n    {:<15} {}, e.g. {}",
            format.name(),
            format.description(),
            format.sample()
        ));
    }
    text
}

/// Where a linearizability parse error is: line and column (the column of the line's first
/// character when the error names only the line), and the message without them.
pub fn locate_lin_error(error: &LinError, text: &str) -> Option<(usize, usize, String)> {
    let (line, column, message) = match error {
        LinError::Syntax {
            line,
            column,
            expected,
            found,
        } => (
            *line,
            Some(*column),
            format!("expected {expected}, found {found}"),
        ),
        LinError::Malformed {
            line,
            expected,
            found,
        } => (*line, None, format!("expected {expected}, found {found}")),
        LinError::Invalid { line, message } | LinError::Model { line, message } => {
            (*line, None, message.clone())
        }
        LinError::Io { .. } | LinError::Initial { .. } => return None,
    };
    Some((
        line,
        column.unwrap_or_else(|| first_column(text, line)),
        message,
    ))
}

/// Where serde_json put a JSON Lines error: eosim's reader parses each line on its own, so
/// serde's message ends `at line 1 column C`. Returns the message without it and C.
pub fn split_json_position(message: &str) -> (String, Option<usize>) {
    if let Some((head, tail)) = message.rsplit_once(" at line ")
        && let Some((_, column)) = tail.split_once(" column ")
        && let Ok(column) = column.trim().parse()
    {
        return (head.to_string(), Some(column));
    }
    (message.to_string(), None)
}

/// The column of line `line`'s first non-blank character (1 if there is none).
pub fn first_column(text: &str, line: usize) -> usize {
    let Some(l) = text.lines().nth(line.saturating_sub(1)) else {
        return 1;
    };
    l.chars().take_while(|c| c.is_whitespace()).count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detected(text: &str) -> &'static str {
        detect(text)
            .unwrap_or_else(|e| panic!("{}", e.message("f")))
            .expect("not empty")
            .format
            .name()
    }

    #[test]
    fn tells_every_format_from_its_first_line() {
        let eosim = r#"{"type":"op","index":0,"process":2000000,"time_ns":2000868}"#;
        assert_eq!(detected(&format!("\n{eosim}\n")), "eosim");
        assert_eq!(detected("{ \"type\": \"end\" }"), "eosim");
        assert_eq!(
            detected("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"),
            "porcupine-etcd"
        );
        assert_eq!(
            detected("{:process 0, :type :invoke, :f :append, :key \"0\", :value \"x\"}\n"),
            "porcupine-kv"
        );
        assert_eq!(
            detected("{:type :invoke, :f :read, :value nil, :process 0, :time 1}\n"),
            "jepsen-edn"
        );
        assert_eq!(
            detected("; a comment\n[{:process 0 :type :invoke :f :read}\n]"),
            "jepsen-edn"
        );
        assert_eq!(detected("[\n  {:process 0 :type :invoke}]"), "jepsen-edn");
        assert_eq!(detected("()"), "jepsen-edn");
        let kafka = "{:type :invoke, :f :txn, :value [[:send 9 3] [:poll]], :process 0}";
        assert_eq!(detected(kafka), "jepsen-kafka");
        let later = format!("{{:process :nemesis, :type :info, :f :start, :value nil}}\n{kafka}\n");
        assert_eq!(detected(&later), "jepsen-kafka");
        assert_eq!(detected(&format!("[{kafka}\n]")), "jepsen-kafka");
        let elle = "{:type :invoke, :f :txn, :value [[:append 9 3] [:r 9 nil]], :process 0}";
        assert_eq!(detected(elle), "jepsen-edn");
        assert_eq!(detect("\n  \n"), Ok(None));
    }

    #[test]
    fn an_unknown_start_names_line_column_formats_and_the_closest() {
        let e = detect("\n  hello world\n").unwrap_err();
        assert_eq!((e.line, e.column, e.closest), (2, 3, None));
        let message = e.message("h.txt");
        assert!(message.starts_with("h.txt:2:3: cannot tell"), "{message}");
        for format in HistoryFormat::ALL {
            assert!(message.contains(format.name()), "{message}");
        }
        assert!(message.contains("--format NAME"), "{message}");

        let e = detect("0 :invoke :read nil").unwrap_err();
        assert_eq!(e.closest.unwrap().0.name(), "jepsen-edn");
        assert!(e.message("x").contains("eosim check x --format jepsen-edn"));

        let e = detect("[\n {\"type\": \"op\"}]").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message("a.json").contains("JSON Lines"));
    }

    #[test]
    fn json_positions_come_off_serde_messages() {
        assert_eq!(
            split_json_position("expected value at line 1 column 7"),
            ("expected value".to_string(), Some(7))
        );
        assert_eq!(
            split_json_position("field `index`: expected 1"),
            ("field `index`: expected 1".to_string(), None)
        );
        assert_eq!(first_column("a\n   b", 2), 4);
    }
}
