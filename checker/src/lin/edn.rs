//! A small, strict reader for the subset of EDN that Jepsen and Porcupine histories use.
//!
//! Supported: `nil`, `true`, `false`, integers (an `N` suffix is accepted when the value fits
//! in an `i64`), floats (kept as their text), strings with the usual escapes, keywords,
//! symbols, vectors, lists, maps, sets, tagged literals (`#tag form`, the tag is kept),
//! `;` comments, `#_` discards and commas as whitespace. Character literals and other
//! reader macros are rejected with an error naming the line and column.

use std::fmt;
use std::sync::Arc;

use super::LinError;

/// An EDN value. Equality is structural; floats compare by their text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    /// The float's source text: histories only compare floats for equality, if at all.
    Float(Arc<str>),
    Str(Arc<str>),
    /// Without the leading colon.
    Keyword(Arc<str>),
    Symbol(Arc<str>),
    Vector(Vec<Value>),
    List(Vec<Value>),
    /// Entries in source order.
    Map(Vec<(Value, Value)>),
    Set(Vec<Value>),
    Tagged(Arc<str>, Box<Value>),
}

impl Value {
    pub fn keyword(name: &str) -> Value {
        Value::Keyword(name.into())
    }

    pub fn as_keyword(&self) -> Option<&str> {
        match self {
            Value::Keyword(name) => Some(name),
            _ => None,
        }
    }

    /// The elements of a vector or list.
    pub fn as_sequence(&self) -> Option<&[Value]> {
        match self {
            Value::Vector(items) | Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// Looks up a keyword key in a map.
    pub fn get(&self, keyword: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(key, _)| key.as_keyword() == Some(keyword))
                .map(|(_, value)| value),
            _ => None,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Keyword(_) => "a keyword",
            Value::Symbol(_) => "a symbol",
            Value::Vector(_) => "a vector",
            Value::List(_) => "a list",
            Value::Map(_) => "a map",
            Value::Set(_) => "a set",
            Value::Tagged(..) => "a tagged literal",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn join(f: &mut fmt::Formatter<'_>, items: &[Value]) -> fmt::Result {
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        }
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Bool(value) => write!(f, "{value}"),
            Value::Int(value) => write!(f, "{value}"),
            Value::Float(text) | Value::Symbol(text) => f.write_str(text),
            Value::Str(text) => write!(f, "{text:?}"),
            Value::Keyword(name) => write!(f, ":{name}"),
            Value::Vector(items) => {
                f.write_str("[")?;
                join(f, items)?;
                f.write_str("]")
            }
            Value::List(items) => {
                f.write_str("(")?;
                join(f, items)?;
                f.write_str(")")
            }
            Value::Set(items) => {
                f.write_str("#{")?;
                join(f, items)?;
                f.write_str("}")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (index, (key, value)) in entries.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key} {value}")?;
                }
                f.write_str("}")
            }
            Value::Tagged(tag, value) => write!(f, "#{tag} {value}"),
        }
    }
}

/// A top-level form and the (1-based) line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Form {
    pub line: usize,
    pub value: Value,
}

/// Reads every top-level form of `text`.
pub fn read_all(text: &str) -> Result<Vec<Form>, LinError> {
    let mut reader = Reader::new(text);
    let mut forms = Vec::new();
    loop {
        reader.skip_whitespace_and_comments()?;
        if reader.peek().is_none() {
            return Ok(forms);
        }
        let line = reader.line;
        let value = reader.read_value()?;
        forms.push(Form { line, value });
    }
}

/// Reads a history: either one top-level vector or list whose elements are the forms, or a
/// sequence of top-level forms. Each form keeps the line it starts on.
pub fn read_spread_sequence(text: &str) -> Result<Vec<Form>, LinError> {
    let mut reader = Reader::new(text);
    reader.skip_whitespace_and_comments()?;
    let close = match reader.peek() {
        Some('[') => ']',
        Some('(') => ')',
        _ => return read_all(text),
    };
    reader.bump();
    let mut forms = Vec::new();
    loop {
        reader.skip_whitespace_and_comments()?;
        match reader.peek() {
            Some(c) if c == close => {
                reader.bump();
                break;
            }
            None => {
                return Err(reader.error(
                    &format!("{close:?} to close the history"),
                    "the end of the input",
                ));
            }
            Some(_) => {
                let line = reader.line;
                let value = reader.read_value()?;
                forms.push(Form { line, value });
            }
        }
    }
    reader.skip_whitespace_and_comments()?;
    match reader.peek() {
        None => Ok(forms),
        Some(_) => Err(reader.error(
            "the end of the input after the history",
            &reader.describe_next(),
        )),
    }
}

/// Reads exactly one form from `text` (used for single-line fields).
pub fn read_one(text: &str, line: usize) -> Result<Value, LinError> {
    let mut reader = Reader::new(text);
    reader.line = line;
    reader.skip_whitespace_and_comments()?;
    let value = reader.read_value()?;
    reader.skip_whitespace_and_comments()?;
    match reader.peek() {
        None => Ok(value),
        Some(_) => Err(reader.error("the end of the value", &reader.describe_next())),
    }
}

struct Reader<'a> {
    text: &'a str,
    position: usize,
    line: usize,
    line_start: usize,
    /// Collections currently open: bounded so hostile input cannot overflow the stack.
    depth: usize,
}

/// Deeper nesting is an error; histories nest a few levels.
const MAX_DEPTH: usize = 256;

/// Characters that end a token (besides whitespace).
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';')
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            text,
            position: 0,
            line: 1,
            line_start: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.position..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.position += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.line_start = self.position;
        }
        Some(c)
    }

    fn column(&self) -> usize {
        self.text[self.line_start..self.position].chars().count() + 1
    }

    fn error(&self, expected: &str, found: &str) -> LinError {
        LinError::Syntax {
            line: self.line,
            column: self.column(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    fn describe_next(&self) -> String {
        match self.peek() {
            None => "the end of the input".to_string(),
            Some(c) => format!("{c:?}"),
        }
    }

    fn skip_whitespace_and_comments(&mut self) -> Result<(), LinError> {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ',' {
                self.bump();
            } else if c == ';' {
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                }
            } else if self.text[self.position..].starts_with("#_") {
                self.bump();
                self.bump();
                self.nested(|reader| {
                    reader.skip_whitespace_and_comments()?;
                    reader.read_value()
                })?;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn read_value(&mut self) -> Result<Value, LinError> {
        let Some(c) = self.peek() else {
            return Err(self.error("a value", "the end of the input"));
        };
        match c {
            '[' => self.read_sequence(']').map(Value::Vector),
            '(' => self.read_sequence(')').map(Value::List),
            '{' => self.read_map(),
            '"' => self.read_string(),
            '#' => self.read_dispatch(),
            ':' => {
                self.bump();
                let token = self.read_token();
                if token.is_empty() {
                    return Err(self.error("a keyword name after ':'", &self.describe_next()));
                }
                Ok(Value::Keyword(token.into()))
            }
            ')' | ']' | '}' => Err(self.error("a value", &format!("{c:?}"))),
            '\\' => Err(self.error("a value (character literals are not supported)", "'\\'")),
            _ => self.read_atom(),
        }
    }

    fn read_token(&mut self) -> &'a str {
        let start = self.position;
        while let Some(c) = self.peek() {
            if is_delimiter(c) {
                break;
            }
            self.bump();
        }
        &self.text[start..self.position]
    }

    fn read_sequence(&mut self, close: char) -> Result<Vec<Value>, LinError> {
        self.nested(|reader| reader.read_items(close))
    }

    /// Runs a reading step one nesting level deeper.
    fn nested<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, LinError>,
    ) -> Result<T, LinError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(
                &format!("at most {MAX_DEPTH} nested forms"),
                "deeper nesting",
            ));
        }
        self.depth += 1;
        let result = read(self);
        self.depth -= 1;
        result
    }

    fn read_items(&mut self, close: char) -> Result<Vec<Value>, LinError> {
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_whitespace_and_comments()?;
            match self.peek() {
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                None => {
                    return Err(self.error(
                        &format!("{close:?} to close the collection"),
                        "the end of the input",
                    ));
                }
                Some(_) => items.push(self.read_value()?),
            }
        }
    }

    fn read_map(&mut self) -> Result<Value, LinError> {
        let items = self.read_sequence('}')?;
        if items.len() % 2 != 0 {
            return Err(self.error(
                "a map with an even number of forms",
                "a key without a value",
            ));
        }
        let mut entries = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(key), Some(value)) = (items.next(), items.next()) {
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }

    fn read_dispatch(&mut self) -> Result<Value, LinError> {
        self.bump();
        match self.peek() {
            Some('{') => self.read_sequence('}').map(Value::Set),
            Some(c) if c.is_alphabetic() => {
                let tag = self.read_token();
                self.skip_whitespace_and_comments()?;
                let value = self.nested(Self::read_value)?;
                Ok(Value::Tagged(tag.into(), Box::new(value)))
            }
            _ => Err(self.error("'{' or a tag after '#'", &self.describe_next())),
        }
    }

    fn read_string(&mut self) -> Result<Value, LinError> {
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("'\"' to close the string", "the end of the input")),
                Some('"') => return Ok(Value::Str(text.into())),
                Some('\\') => text.push(self.read_escape()?),
                Some(c) => text.push(c),
            }
        }
    }

    fn read_escape(&mut self) -> Result<char, LinError> {
        match self.bump() {
            Some('n') => Ok('\n'),
            Some('t') => Ok('\t'),
            Some('r') => Ok('\r'),
            Some('"') => Ok('"'),
            Some('\\') => Ok('\\'),
            Some('u') => {
                let start = self.position;
                for _ in 0..4 {
                    self.bump();
                }
                let digits = self.text.get(start..self.position).unwrap_or("");
                u32::from_str_radix(digits, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.error("four hex digits after \\u", &format!("{digits:?}")))
            }
            Some(c) => Err(self.error(
                "an escape (\\n \\t \\r \\\" \\\\ \\uXXXX)",
                &format!("\\{c}"),
            )),
            None => Err(self.error("an escape", "the end of the input")),
        }
    }

    fn read_atom(&mut self) -> Result<Value, LinError> {
        let token = self.read_token();
        if token.is_empty() {
            return Err(self.error("a value", &self.describe_next()));
        }
        let starts_numeric = token.starts_with(|c: char| c.is_ascii_digit())
            || (token.len() > 1
                && token.starts_with(['-', '+'])
                && token[1..].starts_with(|c: char| c.is_ascii_digit()));
        if starts_numeric {
            return self.parse_number(token);
        }
        Ok(match token {
            "nil" => Value::Nil,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::Symbol(token.into()),
        })
    }

    fn parse_number(&self, token: &str) -> Result<Value, LinError> {
        let integer_text = token.strip_suffix('N').unwrap_or(token);
        let digits = integer_text
            .strip_prefix(['-', '+'])
            .unwrap_or(integer_text);
        if digits.chars().all(|c| c.is_ascii_digit()) {
            return integer_text
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| self.error("an integer that fits in 64 bits", &format!("{token:?}")));
        }
        let float_text = token.strip_suffix('M').unwrap_or(token);
        if float_text.parse::<f64>().is_ok() {
            return Ok(Value::Float(token.into()));
        }
        Err(self.error("a number", &format!("{token:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Value {
        read_one(text, 1).unwrap()
    }

    #[test]
    fn reads_an_operation_map() {
        let value = read("{:process 3, :type :ok, :f :cas, :value [1 2], :key \"7\"}");
        assert_eq!(value.get("process"), Some(&Value::Int(3)));
        assert_eq!(value.get("type"), Some(&Value::keyword("ok")));
        assert_eq!(
            value.get("value"),
            Some(&Value::Vector(vec![Value::Int(1), Value::Int(2)]))
        );
        assert_eq!(value.get("key"), Some(&Value::Str("7".into())));
        assert_eq!(value.get("missing"), None);
    }

    #[test]
    fn reads_atoms_sets_tags_and_skips_comments() {
        assert_eq!(read("nil"), Value::Nil);
        assert_eq!(read("-12"), Value::Int(-12));
        assert_eq!(read("12N"), Value::Int(12));
        assert_eq!(read("1.5"), Value::Float("1.5".into()));
        assert_eq!(read("\"a\\\"b\\u0041\""), Value::Str("a\"bA".into()));
        assert_eq!(
            read("#{1 2}"),
            Value::Set(vec![Value::Int(1), Value::Int(2)])
        );
        assert_eq!(read("#_ 5 ; comment\n 7"), Value::Int(7));
        assert_eq!(
            read("#inst \"x\""),
            Value::Tagged("inst".into(), Box::new(Value::Str("x".into())))
        );
        assert_eq!(read("foo/bar"), Value::Symbol("foo/bar".into()));
    }

    #[test]
    fn reports_line_column_and_expectation() {
        let error = read_all("{:a 1}\n{:b [1 2}").unwrap_err();
        let LinError::Syntax {
            line,
            expected,
            found,
            ..
        } = error
        else {
            panic!("expected a syntax error, got {error:?}");
        };
        assert_eq!(line, 2);
        assert_eq!(found, "'}'");
        assert_eq!(expected, "a value");
        assert!(matches!(
            read_all("{:a}"),
            Err(LinError::Syntax { line: 1, .. })
        ));
        assert!(matches!(
            read_all("\"open"),
            Err(LinError::Syntax { line: 1, .. })
        ));
        assert!(matches!(
            read_all("99999999999999999999"),
            Err(LinError::Syntax { .. })
        ));
        assert!(matches!(read_all("\\a"), Err(LinError::Syntax { .. })));
        for deep in ["[", "#t ", "#_"] {
            assert!(
                matches!(
                    read_all(&deep.repeat(100_000)),
                    Err(LinError::Syntax { .. })
                ),
                "{deep}"
            );
        }
    }

    #[test]
    fn spreads_a_top_level_vector_keeping_lines() {
        let forms = read_spread_sequence("[{:a 1}\n {:a 2}]").unwrap();
        assert_eq!(
            forms.iter().map(|form| form.line).collect::<Vec<_>>(),
            vec![1, 2]
        );
        let forms = read_spread_sequence("{:a 1}\n\n{:a 2}").unwrap();
        assert_eq!(
            forms.iter().map(|form| form.line).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert!(matches!(
            read_spread_sequence("[{:a 1}"),
            Err(LinError::Syntax { .. })
        ));
        assert!(matches!(
            read_spread_sequence("[] 5"),
            Err(LinError::Syntax { .. })
        ));
    }

    #[test]
    fn display_round_trips() {
        let text = "{:f :txn, :value [[:r :x nil] [:w \"y\" 2]], :s #{1}}";
        assert_eq!(read(&read(text).to_string()), read(text));
    }
}
