//! A key-value store of strings with get / put / append (Porcupine's kv model): every key
//! initially holds ""; get is legal iff it returns the key's value; put sets it; append
//! concatenates. Keys are independent, so histories partition by key.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{
    Conversion, FromHistory, Impossible, Model, Operation, Partition, Semantics, failed,
    read_result, unsupported,
};
use crate::lin::edn::Value;
use crate::lin::history::RawOperation;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvInput {
    Get { key: Arc<str> },
    Put { key: Arc<str>, value: Arc<str> },
    Append { key: Arc<str>, value: Arc<str> },
}

impl KvInput {
    pub fn key(&self) -> &Arc<str> {
        match self {
            KvInput::Get { key } | KvInput::Put { key, .. } | KvInput::Append { key, .. } => key,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

/// The store: (key, value) pairs sorted by key; keys absent hold "". The smallest key sits
/// inline, so a partition's state (one key) is built without allocating a vector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KvState {
    first: Option<(Arc<str>, Text)>,
    /// The other keys, in order, all greater than `first`'s.
    rest: Vec<(Arc<str>, Text)>,
}

impl KvState {
    /// The value `key` holds ("" if never written).
    pub fn value(&self, key: &str) -> String {
        self.get(key).map_or_else(String::new, Text::to_string)
    }

    fn entries(&self) -> impl Iterator<Item = &(Arc<str>, Text)> {
        self.first.iter().chain(&self.rest)
    }

    fn get(&self, key: &str) -> Option<&Text> {
        match &self.first {
            Some((first, text)) if **first == *key => Some(text),
            _ => self
                .rest
                .binary_search_by(|(known, _)| (**known).cmp(key))
                .ok()
                .map(|index| &self.rest[index].1),
        }
    }

    fn with(&self, key: &Arc<str>, update: impl FnOnce(Option<&Text>) -> Text) -> KvState {
        match &self.first {
            None => KvState {
                first: Some((key.clone(), update(None))),
                rest: Vec::new(),
            },
            Some((first, text)) if first == key => KvState {
                first: Some((first.clone(), update(Some(text)))),
                rest: self.rest.clone(),
            },
            Some(_) => {
                let mut entries: Vec<(Arc<str>, Text)> = self.entries().cloned().collect();
                match entries.binary_search_by(|(known, _)| known.cmp(key)) {
                    Ok(index) => entries[index].1 = update(Some(&entries[index].1)),
                    Err(index) => entries.insert(index, (key.clone(), update(None))),
                }
                let rest = entries.split_off(1);
                KvState {
                    first: entries.pop(),
                    rest,
                }
            }
        }
    }
}

impl Model for Kv {
    type Input = KvInput;
    /// The value a get returned.
    type Output = Arc<str>;
    type State = KvState;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> KvState {
        KvState::default()
    }

    fn step(&self, state: &KvState, input: &KvInput, output: Option<&Arc<str>>) -> Option<KvState> {
        match input {
            KvInput::Get { .. } => self
                .read_is_legal(state, input, output)
                .then(|| state.clone()),
            KvInput::Put { key, value } => Some(state.with(key, |_| Text::new(value.clone()))),
            KvInput::Append { key, value } => Some(state.with(key, |current| {
                current.map_or_else(
                    || Text::new(value.clone()),
                    |text| text.append(value.clone()),
                )
            })),
        }
    }

    fn partition(&self, operations: &[Operation<KvInput, Arc<str>>]) -> Vec<Partition> {
        partition_by_first_appearance(
            operations
                .iter()
                .map(|operation| operation.input.key().to_string()),
        )
    }

    fn is_read_only(&self, input: &KvInput, _output: Option<&Arc<str>>) -> bool {
        matches!(input, KvInput::Get { .. })
    }

    fn read_is_legal(&self, state: &KvState, input: &KvInput, output: Option<&Arc<str>>) -> bool {
        match (input, output) {
            (KvInput::Get { key }, Some(read)) => state
                .get(key)
                .map_or(read.is_empty(), |value| value.equals(read)),
            _ => true,
        }
    }

    fn resets(&self, input: &KvInput) -> bool {
        matches!(input, KvInput::Put { .. })
    }

    /// A put makes its value the key's, which appends can only lengthen.
    fn may_enable(&self, reset: &KvInput, read: &KvInput, output: Option<&Arc<str>>) -> bool {
        match (reset, read, output) {
            (KvInput::Put { key, value }, KvInput::Get { key: read_key }, Some(read)) => {
                key == read_key && read.starts_with(&**value)
            }
            _ => true,
        }
    }

    /// Appends only lengthen a key's value: a get of a value that the key's value is not a
    /// prefix of is never legal again without a put.
    fn outgrown(&self, state: &KvState, input: &KvInput, output: Option<&Arc<str>>) -> bool {
        match (input, output) {
            (KvInput::Get { key }, Some(read)) => state
                .get(key)
                .is_some_and(|value| !value.is_prefix_of(read.as_bytes())),
            _ => false,
        }
    }

    /// The earliest-returning get (by return, then index) of a value no puts and appends
    /// invoked before it returned make, or that contradicts the last operation before it in
    /// real time (`kv_order`).
    fn impossible(&self, operations: &[&Operation<KvInput, Arc<str>>]) -> Option<Impossible> {
        let unwritten = unwritten_get(operations);
        let contradicted = super::kv_order::contradicted_get(operations);
        [unwritten, contradicted]
            .into_iter()
            .flatten()
            .min_by_key(|(ret, impossible)| (*ret, impossible.operation))
            .map(|(_, impossible)| impossible)
    }

    fn describe_operation(&self, input: &KvInput, output: Option<&Arc<str>>) -> String {
        match input {
            KvInput::Get { key } => match output {
                Some(value) => format!("get {key:?} → {value:?}"),
                None => format!("get {key:?} → ?"),
            },
            KvInput::Put { key, value } => format!("put {key:?} {value:?}"),
            KvInput::Append { key, value } => format!("append {key:?} {value:?}"),
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        let entries: Vec<String> = state
            .entries()
            .map(|(key, value)| format!("{key:?} {:?}", value.to_string()))
            .collect();
        format!("{{{}}}", entries.join(", "))
    }
}

/// The earliest-returning get (by return, then index) of a value that no sequence of a put
/// and appends of its key, all invoked before it returned, makes.
fn unwritten_get(operations: &[&Operation<KvInput, Arc<str>>]) -> Option<(u64, Impossible)> {
    let writes = Writes::new(operations);
    let mut reachable = Vec::new();
    let (ret, operation) = operations
        .iter()
        .enumerate()
        .filter_map(
            |(index, operation)| match (&operation.input, &operation.output) {
                (KvInput::Get { key }, Some(read)) => {
                    let ret = operation.ret?;
                    let possible = writes.can_make(key, read.as_bytes(), ret, &mut reachable);
                    (!possible).then_some((ret, index))
                }
                _ => None,
            },
        )
        .min()?;
    let key = operations[operation].input.key();
    let reason = format!(
        "no sequence of the puts and appends of key {key:?} invoked before it returned makes the value it read"
    );
    Some((ret, Impossible { operation, reason }))
}

/// A partition's writes, for [`Kv::impossible`]: per key, the values put and appended, each
/// with its earliest call (looked up only: the maps' order is never seen).
struct Writes<'o> {
    keys: FxHashMap<&'o str, KeyWrites<'o>>,
}

#[derive(Default)]
struct KeyWrites<'o> {
    puts: FxHashMap<&'o [u8], u64>,
    appends: FxHashMap<&'o [u8], u64>,
    /// The distinct lengths of the values put, and of those appended (non-empty), ascending.
    put_lengths: Vec<usize>,
    append_lengths: Vec<usize>,
}

impl<'o> Writes<'o> {
    fn new(operations: &[&'o Operation<KvInput, Arc<str>>]) -> Self {
        let mut keys: FxHashMap<&str, KeyWrites> = FxHashMap::default();
        for operation in operations {
            let (key, value, put) = match &operation.input {
                KvInput::Get { .. } => continue,
                KvInput::Put { key, value } => (key, value, true),
                KvInput::Append { key, value } => (key, value, false),
            };
            let writes = keys.entry(key).or_default();
            let (values, lengths) = if put {
                (&mut writes.puts, &mut writes.put_lengths)
            } else {
                (&mut writes.appends, &mut writes.append_lengths)
            };
            let call = values.entry(value.as_bytes()).or_insert(operation.call);
            *call = (*call).min(operation.call);
            if let Err(at) = lengths.binary_search(&value.len()) {
                lengths.insert(at, value.len());
            }
        }
        for writes in keys.values_mut() {
            writes.append_lengths.retain(|&length| length > 0);
        }
        Writes { keys }
    }

    /// Whether some put (or none) followed by appends, all invoked by `ret`, makes `read`:
    /// which prefixes of `read` they can make, in `reachable` (reused between calls).
    fn can_make(&self, key: &str, read: &[u8], ret: u64, reachable: &mut Vec<bool>) -> bool {
        if read.is_empty() {
            return true;
        }
        let Some(writes) = self.keys.get(key) else {
            return false;
        };
        let invoked = |values: &FxHashMap<&[u8], u64>, value: &[u8]| {
            values.get(value).is_some_and(|&call| call <= ret)
        };
        reachable.clear();
        reachable.resize(read.len() + 1, false);
        reachable[0] = true;
        for &length in writes.put_lengths.iter().filter(|&&l| l <= read.len()) {
            reachable[length] |= invoked(&writes.puts, &read[..length]);
        }
        for start in 0..read.len() {
            if !reachable[start] {
                continue;
            }
            for &length in &writes.append_lengths {
                let end = start + length;
                if end <= read.len() && invoked(&writes.appends, &read[start..end]) {
                    reachable[end] = true;
                }
            }
        }
        reachable[read.len()]
    }
}

/// A string built by appends, shared between states: an append is O(1) (a new piece pointing
/// at the old text) instead of a copy, and the text's hash is kept, so interning a state costs
/// O(keys) rather than O(characters).
#[derive(Clone, Debug)]
pub struct Text(Arc<Piece>);

#[derive(Debug)]
struct Piece {
    prefix: Option<Arc<Piece>>,
    piece: Arc<str>,
    /// Length in bytes of the whole text.
    len: usize,
    /// Polynomial hash of the whole text's bytes: extending it needs only the new piece.
    hash: u64,
}

const HASH_BASE: u64 = 0x100_0000_01b3;

impl Text {
    pub fn new(piece: Arc<str>) -> Text {
        Text::extend(None, piece)
    }

    pub fn append(&self, piece: Arc<str>) -> Text {
        Text::extend(Some(self.0.clone()), piece)
    }

    fn extend(prefix: Option<Arc<Piece>>, piece: Arc<str>) -> Text {
        let (mut hash, mut power) = (0u64, 1u64);
        for &byte in piece.as_bytes() {
            hash = hash.wrapping_mul(HASH_BASE).wrapping_add(u64::from(byte));
            power = power.wrapping_mul(HASH_BASE);
        }
        let (prefix_len, prefix_hash) = prefix
            .as_ref()
            .map_or((0, 0), |prefix| (prefix.len, prefix.hash));
        Text(Arc::new(Piece {
            len: prefix_len + piece.len(),
            hash: prefix_hash.wrapping_mul(power).wrapping_add(hash),
            prefix,
            piece,
        }))
    }

    fn pieces(&self) -> impl Iterator<Item = &str> {
        std::iter::successors(Some(&*self.0), |piece| piece.prefix.as_deref())
            .map(|piece| &*piece.piece)
    }

    /// Compares with a string without building the text: pieces from the end.
    pub fn equals(&self, text: &str) -> bool {
        self.0.len == text.len() && self.same_as(text.as_bytes())
    }

    /// Whether `text` starts with this text.
    pub fn is_prefix_of(&self, text: &[u8]) -> bool {
        self.0.len <= text.len() && self.same_as(&text[..self.0.len])
    }

    /// Compares with bytes of the same length, pieces from the end.
    fn same_as(&self, bytes: &[u8]) -> bool {
        let mut end = bytes.len();
        for piece in self.pieces() {
            let start = end - piece.len();
            if &bytes[start..end] != piece.as_bytes() {
                return false;
            }
            end = start;
        }
        true
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pieces: Vec<&str> = self.pieces().collect();
        pieces.iter().rev().try_for_each(|piece| f.write_str(piece))
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.0.len == other.0.len && self.0.hash == other.0.hash && same_bytes(&self.0, &other.0)
    }
}

/// Compares two texts of equal length from their ends, piece by piece, without building
/// either. Stops early where both reach the same piece: the search builds every text from an
/// interned state's text, so two equal texts usually share all but their last piece.
fn same_bytes(mut left: &Piece, mut right: &Piece) -> bool {
    // Bytes of the current piece not compared yet: `piece[..left_open]`. The bytes still to
    // compare are the prefix's and these, as many on both sides.
    let (mut left_open, mut right_open) = (left.piece.len(), right.piece.len());
    loop {
        if left_open == left.piece.len()
            && right_open == right.piece.len()
            && std::ptr::eq(left, right)
        {
            return true;
        }
        if left_open == 0 {
            let Some(prefix) = left.prefix.as_deref() else {
                return true; // nothing left on either side
            };
            (left, left_open) = (prefix, prefix.piece.len());
            continue;
        }
        if right_open == 0 {
            let Some(prefix) = right.prefix.as_deref() else {
                return true;
            };
            (right, right_open) = (prefix, prefix.piece.len());
            continue;
        }
        let common = left_open.min(right_open);
        let left_bytes = &left.piece.as_bytes()[left_open - common..left_open];
        let right_bytes = &right.piece.as_bytes()[right_open - common..right_open];
        if left_bytes != right_bytes {
            return false;
        }
        left_open -= common;
        right_open -= common;
    }
}

impl Eq for Text {}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl Drop for Piece {
    /// Unlinks long chains iteratively: the default recursive drop could overflow the stack
    /// on a key appended to hundreds of thousands of times. `Arc::into_inner` costs one
    /// atomic operation where `try_unwrap` costs two when the prefix is shared (the usual case:
    /// a search drops a piece per step it finds a known state, and every state at the end).
    fn drop(&mut self) {
        let mut next = self.prefix.take();
        while let Some(piece) = next {
            next = Arc::into_inner(piece).and_then(|mut unique| unique.prefix.take());
        }
    }
}

/// Groups operation indices by label, parts ordered by their first operation.
pub fn partition_by_first_appearance(labels: impl Iterator<Item = String>) -> Vec<Partition> {
    let mut part_of_label: BTreeMap<String, usize> = BTreeMap::new();
    let mut partitions: Vec<Partition> = Vec::new();
    for (index, label) in labels.enumerate() {
        let part = *part_of_label.entry(label.clone()).or_insert_with(|| {
            partitions.push(Partition {
                label,
                operations: Vec::new(),
            });
            partitions.len() - 1
        });
        partitions[part].operations.push(index);
    }
    partitions
}

/// A key as text: strings as they are, anything else in EDN notation.
fn key_text(value: &Value) -> Arc<str> {
    match value {
        Value::Str(text) => text.clone(),
        other => other.to_string().into(),
    }
}

fn string_value(value: &Value, f: &str) -> Result<Arc<str>, String> {
    match value {
        Value::Str(text) => Ok(text.clone()),
        other => Err(format!(
            "expected a string :value for :{f}, found {}",
            other.kind()
        )),
    }
}

impl super::InitialState for Kv {
    /// A map of key to value, both strings, e.g. `{"1" "a"}`; keys it omits hold "".
    fn initial_state(value: &Value) -> Result<KvState, String> {
        let Value::Map(entries) = value else {
            return Err(format!(
                "a map of string key to string value, found {value}"
            ));
        };
        let mut state = KvState::default();
        for (key, text) in entries {
            let (Value::Str(key), Value::Str(text)) = (key, text) else {
                return Err(format!(
                    "a map of string key to string value, found {key} {text}"
                ));
            };
            state = state.with(key, |_| Text::new(text.clone()));
        }
        Ok(state)
    }
}

impl FromHistory for Kv {
    fn convert(
        raw: &RawOperation,
        semantics: &Semantics,
    ) -> Result<Conversion<KvInput, Arc<str>>, String> {
        if failed(raw) {
            return Ok(Conversion::Dropped);
        }
        let Some(key) = &raw.key else {
            return Err("the kv model needs a :key in every operation".to_string());
        };
        let key = key_text(key);
        match raw.f.as_str() {
            "get" => {
                let output = read_result(raw, semantics)
                    .map(|value| string_value(&value, "get"))
                    .transpose()?;
                Ok(Conversion::Operation(KvInput::Get { key }, output))
            }
            "put" => {
                let value = string_value(&raw.invoke_value, "put")?;
                Ok(Conversion::Operation(KvInput::Put { key, value }, None))
            }
            "append" => {
                let value = string_value(&raw.invoke_value, "append")?;
                Ok(Conversion::Operation(KvInput::Append { key, value }, None))
            }
            _ => Err(unsupported("kv", raw, ":get, :put or :append")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_concatenates_and_get_compares() {
        let kv = Kv;
        let key: Arc<str> = "k".into();
        let get = KvInput::Get { key: key.clone() };
        assert!(kv.step(&kv.init(), &get, Some(&"".into())).is_some());
        let state = kv
            .step(
                &kv.init(),
                &KvInput::Append {
                    key: key.clone(),
                    value: "ab".into(),
                },
                None,
            )
            .unwrap();
        let state = kv
            .step(
                &state,
                &KvInput::Append {
                    key: key.clone(),
                    value: "c".into(),
                },
                None,
            )
            .unwrap();
        assert!(kv.step(&state, &get, Some(&"abc".into())).is_some());
        assert!(kv.step(&state, &get, Some(&"ab".into())).is_none());
        let state = kv
            .step(
                &state,
                &KvInput::Put {
                    key,
                    value: "z".into(),
                },
                None,
            )
            .unwrap();
        assert!(kv.step(&state, &get, Some(&"z".into())).is_some());
    }

    #[test]
    fn texts_built_differently_are_equal_and_hash_alike() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let appended = Text::new("ab".into()).append("c".into()).append("".into());
        let put = Text::new("abc".into());
        assert_eq!(appended, put);
        let hasher = BuildHasherDefault::<rustc_hash::FxHasher>::default();
        assert_eq!(hasher.hash_one(&appended), hasher.hash_one(&put));
        assert_ne!(appended, Text::new("abd".into()));
        assert_eq!(appended.to_string(), "abc");
        assert!(appended.equals("abc") && !appended.equals("abcd") && !appended.equals("abd"));
        let mut long = Text::new("x".into());
        for _ in 0..200_000 {
            long = long.append("y".into());
        }
        drop(long);
    }

    #[test]
    fn texts_compare_by_content_whatever_their_pieces() {
        // Every way of building short texts from pieces, some sharing a prefix: equality
        // must agree with comparing the strings.
        let shared = Text::new("x".into()).append("y".into());
        let mut texts = Vec::new();
        for content in ["", "a", "ab", "abc", "abd", "xyab", "xyabc"] {
            for split in 0..=content.len() {
                let (head, tail) = content.split_at(split);
                texts.push(Text::new(head.into()).append(tail.into()));
                texts.push(shared.append(head.into()).append(tail.into()));
                texts.push(Text::new("".into()).append(head.into()).append(tail.into()));
            }
        }
        for left in &texts {
            for right in &texts {
                assert_eq!(
                    left == right,
                    left.to_string() == right.to_string(),
                    "{left} vs {right}"
                );
            }
        }
    }

    #[test]
    fn partitions_by_key_in_order_of_first_appearance() {
        let labels = ["b", "a", "b", "c", "a"].map(String::from);
        let partitions = partition_by_first_appearance(labels.into_iter());
        let summary: Vec<(&str, &[usize])> = partitions
            .iter()
            .map(|part| (part.label.as_str(), part.operations.as_slice()))
            .collect();
        assert_eq!(
            summary,
            vec![("b", &[0, 2][..]), ("a", &[1, 4][..]), ("c", &[3][..])]
        );
    }
}
