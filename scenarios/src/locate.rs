//! Where in a scenario file a field is: field paths (`faults.plan[2].count`), their spans in
//! the TOML text, and the field at a byte offset, so that every error names file, line,
//! column and field — semantic ones found after parsing and syntax errors included.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a field path: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A field, as a path from the document's root: `cluster.topics[0].partitions`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Segment>);

/// The prefix of the keys `serde_spanned::Spanned` deserializes through
/// (`$__serde_spanned_private_value`, `…_start`, `…_end`).
const SERDE_SPANNED_PRIVATE: &str = "$__serde_spanned_private_";

impl FieldPath {
    /// Parses the dotted form (`faults.plan[2].count`). Keys holding a dot or a bracket
    /// cannot be written this way: build those with `key`.
    pub fn parse(path: &str) -> Self {
        let mut segments = Vec::new();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_string()));
            }
            while let Some(open) = rest.strip_prefix('[') {
                let Some(close) = open.find(']') else { break };
                match open[..close].parse() {
                    Ok(index) => segments.push(Segment::Index(index)),
                    Err(_) => segments.push(Segment::Key(open[..close].to_string())),
                }
                rest = &open[close + 1..];
            }
        }
        Self(segments)
    }

    /// This path with `key` appended.
    pub fn key(mut self, key: &str) -> Self {
        self.0.push(Segment::Key(key.to_string()));
        self
    }

    /// From serde_path_to_error's path (without `serde_spanned`'s private keys). An enum variant with fields below it is a TOML key
    /// (`[app.produce]`: the `produce` variant of `app`); a unit variant at the leaf (a
    /// string value) and unknown steps are not.
    pub fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment as S;
        let segments: Vec<&S> = path.iter().collect();
        Self(
            segments
                .iter()
                .enumerate()
                .filter_map(|(i, s)| match s {
                    S::Seq { index } => Some(Segment::Index(*index)),
                    // A `Spanned` value (a plan fault keeps its position) wraps its contents
                    // in a private key: not a field of the file.
                    S::Map { key } if key.starts_with(SERDE_SPANNED_PRIVATE) => None,
                    S::Map { key } => Some(Segment::Key(key.clone())),
                    S::Enum { variant } if i + 1 < segments.len() => {
                        Some(Segment::Key(variant.clone()))
                    }
                    S::Enum { .. } | S::Unknown => None,
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The span that best shows `path` in `text`: the key of the field if the file sets it, else
/// the nearest enclosing table or array entry the file has (a field left at its default is
/// shown where its section is). `None` only if the text is not TOML or sets none of it.
pub fn span_of(text: &str, path: &FieldPath) -> Option<Range<usize>> {
    let (root, _) = DeTable::parse_recoverable(text);
    let mut best = None;
    let mut table: &DeTable<'_> = root.get_ref();
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    for segment in &path.0 {
        match segment {
            Segment::Key(key) => {
                let current = match value.map(Spanned::get_ref) {
                    None => table,
                    Some(DeValue::Table(t)) => t,
                    Some(_) => break,
                };
                let Some((k, v)) = current
                    .iter()
                    .find(|(k, _)| k.get_ref().as_ref() == key.as_str())
                else {
                    break;
                };
                best = Some(k.span());
                table = current;
                value = Some(v);
            }
            Segment::Index(index) => {
                let Some(DeValue::Array(items)) = value.map(Spanned::get_ref) else {
                    break;
                };
                let Some(item) = items.get(*index) else { break };
                best = Some(item.span());
                value = Some(item);
            }
        }
    }
    best
}

/// The field at byte `offset` of `text`, for errors that know where but not which field
/// (syntax errors, invalid UTF-8): the innermost key of the parsed document whose entry holds
/// the offset, else the key written on that line under its table header.
pub fn field_at(text: &str, offset: usize) -> Option<FieldPath> {
    if comment_at(text, offset) == Some(true) {
        return None;
    }
    let (root, _) = DeTable::parse_recoverable(text);
    let mut path = FieldPath::default();
    if descend(root.get_ref(), offset, &mut path) {
        return Some(path);
    }
    field_on_line(text, offset)
}

/// Appends to `path` the innermost entry of `table` holding `offset`; whether there is one.
fn descend(table: &DeTable<'_>, offset: usize, path: &mut FieldPath) -> bool {
    for (key, value) in table.iter() {
        let (k, v) = (key.span(), value.span());
        let holds = |r: &Range<usize>| r.start <= offset && offset <= r.end;
        if !(holds(&k) || holds(&v)) {
            continue;
        }
        path.0.push(Segment::Key(key.get_ref().to_string()));
        descend_value(value.get_ref(), offset, path);
        return true;
    }
    false
}

fn descend_value(value: &DeValue<'_>, offset: usize, path: &mut FieldPath) {
    match value {
        DeValue::Table(t) => {
            descend(t, offset, path);
        }
        DeValue::Array(items) => {
            if let Some(i) = items
                .iter()
                .position(|it| it.span().start <= offset && offset <= it.span().end)
            {
                path.0.push(Segment::Index(i));
                descend_value(items[i].get_ref(), offset, path);
            }
        }
        _ => {}
    }
}

/// The field a line names: `key = …` under the last `[table]` / `[[array]]` header above it
/// (the header itself on a header line). A plain reading of the text, for text the TOML
/// parser gave up on.
fn field_on_line(text: &str, offset: usize) -> Option<FieldPath> {
    let offset = text.floor_char_boundary(offset);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut table = FieldPath::default();
    let mut arrays: Vec<(String, usize)> = Vec::new();
    let header = |line: &str, table: &mut FieldPath, arrays: &mut Vec<(String, usize)>| {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = name.trim().to_string();
            let n = match arrays.iter_mut().find(|(a, _)| *a == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    arrays.push((name.clone(), 0));
                    0
                }
            };
            let mut path = FieldPath::parse(&name);
            path.0.push(Segment::Index(n));
            *table = path;
            true
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            *table = FieldPath::parse(name.trim());
            true
        } else {
            false
        }
    };
    for line in text[..line_start].lines() {
        header(line, &mut table, &mut arrays);
    }
    let line = text[line_start..].lines().next().unwrap_or("");
    if header(line, &mut table, &mut arrays) {
        return (!table.is_empty()).then_some(table);
    }
    // `key = …`, or a bare key still missing its `= value`.
    let key = match line.split_once('=') {
        Some((k, _)) => Some(k.trim().trim_matches(|c| c == '"' || c == '\'')),
        None => Some(line.trim()).filter(|k| {
            k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        }),
    }
    .filter(|k| !k.is_empty() && !k.starts_with('#'));
    match key {
        Some(key) => {
            let mut path = table;
            path.0.extend(FieldPath::parse(key).0);
            Some(path)
        }
        None => (!table.is_empty()).then_some(table),
    }
}

/// Whether byte `offset` of `text` is inside a comment (after a `#` outside quotes on its
/// line): `Some(true)` for a comment line, which belongs to no field, `Some(false)` for a
/// comment after a value.
pub fn comment_at(text: &str, offset: usize) -> Option<bool> {
    let offset = text.floor_char_boundary(offset);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let mut quoted = None;
    for (i, c) in before.char_indices() {
        match (quoted, c) {
            (None, '#') => return Some(before[..i].trim().is_empty()),
            (None, '"' | '\'') => quoted = Some(c),
            (Some(q), _) if c == q => quoted = None,
            _ => {}
        }
    }
    None
}

/// What an error at byte `offset` adds when it lies in a comment.
pub fn comment_note(text: &str, offset: usize) -> &'static str {
    match comment_at(text, offset) {
        Some(true) => " in a comment line (which belongs to no field)",
        Some(false) => " in the comment after the value",
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"s\"\n[cluster]\nbrokers = 2\ntopics = [{ name = \"t\", partitions = 0 }]\n[[faults.plan]]\nat_ms = 1\n[[faults.plan]]\nat_ms = 2\n";

    fn line_of(range: Range<usize>) -> usize {
        TEXT[..range.start].matches('\n').count() + 1
    }

    #[test]
    fn paths_parse_and_print() {
        for p in ["cluster.topics[0].partitions", "faults.plan[12]", "name"] {
            assert_eq!(FieldPath::parse(p).to_string(), p);
        }
    }

    #[test]
    fn a_set_field_is_found_at_its_key_and_a_default_one_at_its_section() {
        let span = |p: &str| span_of(TEXT, &FieldPath::parse(p)).map(line_of);
        assert_eq!(span("cluster.brokers"), Some(3));
        assert_eq!(span("cluster.topics[0].partitions"), Some(4));
        assert_eq!(span("faults.plan[1].at_ms"), Some(8));
        assert_eq!(span("cluster.sync_us"), Some(2), "the [cluster] header");
        assert_eq!(span("copy.values"), None, "no [copy] section");
    }

    #[test]
    fn the_field_at_an_offset() {
        let at = |needle: &str| field_at(TEXT, TEXT.find(needle).unwrap()).map(|p| p.to_string());
        assert_eq!(at("2\n").as_deref(), Some("cluster.brokers"));
        assert_eq!(at("at_ms = 2").as_deref(), Some("faults.plan[1].at_ms"));
        let bare = "[faults.mix]\nvari\n";
        assert_eq!(
            field_at(bare, bare.find("vari").unwrap())
                .unwrap()
                .to_string(),
            "faults.mix.vari"
        );
        assert_eq!(comment_at("a = 1 # x\n", 8), Some(false));
        assert_eq!(comment_at("  # x = 1\n", 6), Some(true));
        assert_eq!(comment_at("a = \"#\" x\n", 8), None);
        assert_eq!(field_at("[cluster]\n# x\n", 12), None, "a comment line");
        let broken = "[cluster]\nbrokers = 2\n[faults]\nphase_ms = 1\x01\n";
        assert_eq!(
            field_at(broken, broken.find('\x01').unwrap())
                .unwrap()
                .to_string(),
            "faults.phase_ms"
        );
    }
}
