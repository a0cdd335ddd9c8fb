//! Kafka's own unit tests as the model's specification: every behaviour restated in
//! docs/reference/kafka-test-vectors.md (its table rows: P, U, M, C, S and G ids) must be
//! cited by a test of the model.
//!
//! Citation convention. A test function (`#[test]`, proptests included) cites a vector
//! - by its name, which starts with the ids it restates: `fn c20_retry_of_...` cites C20,
//!   `fn p12_p26_u9_...` cites P12, P26 and U9 (no ranges: `p18_p20` is P18 and P20);
//! - or by the id in square brackets inside its body: `// [P19]`, or in an assertion
//!   message, `"[P23] after reload"`.
//!
//! Nothing else counts: not prose (`(C9)` in a doc comment, `C4:` in a message), not
//! helpers, not comments above the `#[test]`. A vector cited only by `#[ignore = "reason"]`
//! tests is ignored, with their reasons; one cited by both kinds is covered, partly
//! ignored. ARCHITECTURE.md's section on the vectors must state the count this test
//! computes, and give every (partly) ignored vector a row of its table.
//!
//! Run with `--nocapture` to see the count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const VECTORS_DOC: &str = "../docs/reference/kafka-test-vectors.md";
const ARCHITECTURE: &str = "../ARCHITECTURE.md";
const ARCHITECTURE_SECTION: &str = "## Kafka's unit tests as test vectors";
/// Where the model's tests live, relative to the crate.
const TEST_SOURCE_DIRS: [&str; 2] = ["src", "tests"];
/// This file: its parser tests hold citations that are examples, not citations.
const THIS_FILE: &str = "kafka_vectors.rs";
const VECTOR_COUNT: usize = 124;

/// A test function and the vectors it cites.
#[derive(Debug, PartialEq, Eq)]
struct TestFn {
    name: String,
    /// `Some(reason)` for `#[ignore = "reason"]`; `Some("")` for a bare `#[ignore]`.
    ignored: Option<String>,
    cites: BTreeSet<String>,
}

/// Whether `s` is a vector id as the document writes it (`P1`, `C30`, ...).
fn is_vector_id(s: &str) -> bool {
    let mut chars = s.chars();
    let prefix_ok = chars.next().is_some_and(|c| "PUMCSG".contains(c));
    let digits = chars.as_str();
    prefix_ok
        && (1..=2).contains(&digits.len())
        && !digits.starts_with('0')
        && digits.chars().all(|c| c.is_ascii_digit())
}

/// The ids of the document's table rows (`| P1 | ... |`), in document order.
fn vector_ids(doc: &str) -> Vec<String> {
    doc.lines()
        .filter_map(|line| line.strip_prefix('|'))
        .filter_map(|rest| rest.split('|').next())
        .map(str::trim)
        .filter(|cell| is_vector_id(cell))
        .map(String::from)
        .collect()
}

/// The ids a test's name starts with: `p12_p26_u9_replication` → P12, P26, U9.
fn name_citations(name: &str) -> impl Iterator<Item = String> + '_ {
    name.split('_')
        .map(str::to_ascii_uppercase)
        .take_while(|token| is_vector_id(token))
}

/// The bracketed ids on a line: `// [P19] and [U2]` → P19, U2.
fn bracket_citations(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split('[')
        .skip(1)
        .filter_map(|after| after.split_once(']'))
        .map(|(inside, _)| inside)
        .filter(|inside| is_vector_id(inside))
        .map(String::from)
}

/// Tracks braces outside string literals and comments, line by line.
#[derive(Default)]
struct BraceDepth {
    depth: i64,
    in_string: bool,
}

impl BraceDepth {
    fn feed(&mut self, line: &str) {
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (self.in_string, c) {
                (true, '\\') => {
                    chars.next();
                }
                (true, '"') | (false, '"') => self.in_string = !self.in_string,
                (true, _) => {}
                (false, '/') if chars.peek() == Some(&'/') => return,
                (false, '\'') => skip_char_literal(&mut chars),
                (false, '{') => self.depth += 1,
                (false, '}') => self.depth -= 1,
                _ => {}
            }
        }
    }
}

/// After a `'`: skips a char literal (`'{'`, `'\''`); leaves a lifetime (`'a`) alone.
fn skip_char_literal(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    let mut ahead = chars.clone();
    let literal_len = match ahead.next() {
        Some('\\') => ahead.position(|c| c == '\'').map(|i| i + 2),
        Some(_) if ahead.next() == Some('\'') => Some(2),
        _ => None,
    };
    for _ in 0..literal_len.unwrap_or(0) {
        chars.next();
    }
}

/// The function name on a `fn` line (`fn name(`, `pub fn name<T>(`), if it is one.
fn fn_name(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    let rest = ["fn ", "pub fn ", "pub(crate) fn ", "async fn "]
        .iter()
        .find_map(|prefix| trimmed.strip_prefix(prefix))?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

/// The reason of an `#[ignore = "reason"]` attribute, `""` for a bare `#[ignore]`.
fn ignore_reason(attribute: &str) -> Option<String> {
    let rest = attribute.trim().strip_prefix("#[ignore")?;
    let reason = rest
        .split_once('"')
        .and_then(|(_, quoted)| quoted.rsplit_once('"'))
        .map_or("", |(reason, _)| reason);
    Some(reason.to_string())
}

/// Every test function of a source file, with what it cites.
fn test_fns(source: &str) -> Vec<TestFn> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    // Attribute and comment lines directly above the current line.
    let mut attributes: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[") || trimmed.starts_with("//") {
            attributes.push(trimmed);
            i += 1;
            continue;
        }
        let is_test = attributes.iter().any(|a| a.starts_with("#[test]"));
        if let (true, Some(name)) = (is_test, fn_name(line)) {
            let (test, body_end) = read_test_fn(name, &attributes, &lines, i);
            found.push(test);
            i = body_end;
        } else {
            i += 1;
        }
        attributes.clear();
    }
    found
}

/// Reads the test function whose `fn` line is `lines[start]`; returns it and the index of
/// the first line after its body.
fn read_test_fn(name: &str, attributes: &[&str], lines: &[&str], start: usize) -> (TestFn, usize) {
    let mut cites: BTreeSet<String> = name_citations(name).collect();
    let mut depth = BraceDepth::default();
    let mut opened = false;
    let mut end = start;
    while end < lines.len() {
        let line = lines[end];
        cites.extend(bracket_citations(line));
        depth.feed(line);
        opened |= depth.depth > 0;
        end += 1;
        if opened && depth.depth <= 0 {
            break;
        }
    }
    let ignored = attributes.iter().find_map(|a| ignore_reason(a));
    let test = TestFn {
        name: name.to_string(),
        ignored,
        cites,
    };
    (test, end)
}

/// Every `.rs` file under `dir`, sorted, skipping this file.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    let mut files = Vec::new();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_none_or(|n| n != THIS_FILE)
        {
            files.push(path);
        }
    }
    files
}

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every test function of the model, with the file it is in.
fn model_tests() -> Vec<(PathBuf, TestFn)> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    TEST_SOURCE_DIRS
        .iter()
        .flat_map(|dir| rust_files(&crate_dir.join(dir)))
        .flat_map(|path| {
            let source = std::fs::read_to_string(&path).expect("a readable source file");
            let relative = path
                .strip_prefix(crate_dir)
                .expect("inside the crate")
                .into();
            test_fns(&source)
                .into_iter()
                .map(move |test| (PathBuf::clone(&relative), test))
        })
        .collect()
}

/// How each vector is cited.
#[derive(Debug, Default)]
struct Coverage {
    /// Vectors a test that runs cites.
    running: BTreeSet<String>,
    /// Vector → reasons of the ignored tests that cite it.
    ignored: BTreeMap<String, Vec<String>>,
}

impl Coverage {
    fn of(tests: &[(PathBuf, TestFn)]) -> Self {
        let mut coverage = Coverage::default();
        for (_, test) in tests {
            for id in &test.cites {
                match &test.ignored {
                    None => {
                        coverage.running.insert(id.clone());
                    }
                    Some(reason) => coverage
                        .ignored
                        .entry(id.clone())
                        .or_default()
                        .push(reason.clone()),
                }
            }
        }
        coverage
    }

    fn covered(&self, id: &str) -> bool {
        self.running.contains(id)
    }

    /// Vectors only ignored tests cite, in `order`, with the reasons.
    fn only_ignored<'a>(&'a self, order: &'a [String]) -> Vec<(&'a String, &'a Vec<String>)> {
        self.ignored_in(order, false)
    }

    /// Covered vectors that an ignored test cites too (a part Kafka asserts is not
    /// modelled), in `order`, with the reasons.
    fn partly_ignored<'a>(&'a self, order: &'a [String]) -> Vec<(&'a String, &'a Vec<String>)> {
        self.ignored_in(order, true)
    }

    fn ignored_in<'a>(
        &'a self,
        order: &'a [String],
        covered: bool,
    ) -> Vec<(&'a String, &'a Vec<String>)> {
        order
            .iter()
            .filter(|id| self.covered(id) == covered)
            .filter_map(|id| self.ignored.get(id).map(|reasons| (id, reasons)))
            .collect()
    }

    /// "N of 124 vectors covered, M ignored", then each ignored and partly ignored vector
    /// with its reasons, in document order.
    fn summary(&self, order: &[String]) -> String {
        let list = |entries: Vec<(&String, &Vec<String>)>| {
            entries
                .iter()
                .map(|(id, reasons)| format!("\n  {id}: {}", dedup(reasons).join(" / ")))
                .collect::<String>()
        };
        let ignored = self.only_ignored(order);
        let partly = self.partly_ignored(order);
        format!(
            "{} of {} vectors covered, {} ignored:{}\ncovered, with a part ignored ({}):{}",
            self.running.len(),
            order.len(),
            ignored.len(),
            list(ignored.clone()),
            partly.len(),
            list(partly),
        )
    }
}

/// `reasons` without repeats, in first-seen order.
fn dedup(reasons: &[String]) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    reasons
        .iter()
        .map(String::as_str)
        .filter(|r| seen.insert(*r))
        .collect()
}

#[test]
fn every_kafka_vector_is_cited_by_a_model_test() {
    let ids = vector_ids(&read(VECTORS_DOC));
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), VECTOR_COUNT, "the document's table rows");
    assert_eq!(unique.len(), ids.len(), "ids are unique");
    let tests = model_tests();
    let coverage = Coverage::of(&tests);
    println!("{}", coverage.summary(&ids));

    let uncited: Vec<&String> = ids
        .iter()
        .filter(|id| !coverage.covered(id) && !coverage.ignored.contains_key(*id))
        .collect();
    assert!(uncited.is_empty(), "vectors no test cites: {uncited:?}");
    let unknown: Vec<String> = tests
        .iter()
        .flat_map(|(file, t)| t.cites.iter().map(move |id| (file, &t.name, id)))
        .filter(|(_, _, id)| !unique.contains(id))
        .map(|(file, name, id)| format!("{}::{name} cites {id}", file.display()))
        .collect();
    assert!(unknown.is_empty(), "citations of no vector: {unknown:?}");
    let unexplained: Vec<&str> = tests
        .iter()
        .filter(|(_, t)| !t.cites.is_empty() && t.ignored.as_deref() == Some(""))
        .map(|(_, t)| t.name.as_str())
        .collect();
    assert!(
        unexplained.is_empty(),
        "ignored without a reason: {unexplained:?}"
    );
}

#[test]
fn architecture_states_the_count_and_explains_every_ignored_vector() {
    let ids = vector_ids(&read(VECTORS_DOC));
    let coverage = Coverage::of(&model_tests());
    let architecture = read(ARCHITECTURE);
    let section = architecture
        .split_once(ARCHITECTURE_SECTION)
        .map(|(_, rest)| rest.split("\n## ").next().unwrap_or(rest))
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has a section {ARCHITECTURE_SECTION:?}"));
    let count = format!(
        "{} of {} covered, {} ignored",
        coverage.running.len(),
        ids.len(),
        coverage.only_ignored(&ids).len()
    );
    assert!(section.contains(&count), "the section states {count:?}");
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with('|')).collect();
    let unexplained: Vec<&String> = coverage
        .ignored
        .keys()
        .filter(|id| !rows.iter().any(|row| row_cites(row, id)))
        .collect();
    assert!(
        unexplained.is_empty(),
        "no row in the table for {unexplained:?}"
    );
}

/// Whether a table row's first cell names `id` (`| C27 |`, `| S7, S10 |`).
fn row_cites(row: &str, id: &str) -> bool {
    row.trim_start_matches('|')
        .split('|')
        .next()
        .is_some_and(|cell| cell.split([',', ' ']).any(|token| token == id))
}

// ---- The parser itself ----

#[test]
fn ids_are_read_from_the_first_cell_of_table_rows_only() {
    let doc = "| # | input |\n|---|---|\n| P1 | x |\n| C30 | y |\nP2 in prose\n| P01 | no |";
    assert_eq!(vector_ids(doc), ["P1", "C30"]);
}

#[test]
fn a_test_cites_by_its_name_prefix_and_by_brackets_in_its_body() {
    let source = r#"
/// [C1] above the test: not a citation.
#[test]
fn c2_p3_something_u4() {
    let s = "{ [M5] }"; // [G6]
    // C7 in prose, (S8), [X9]
}

fn helper() {
    // [U10] in a helper
}

#[test]
#[ignore = "not modelled: a reason"]
fn s14_expiration() {}
"#;
    let tests = test_fns(source);
    assert_eq!(tests.len(), 2);
    let ids = |t: &TestFn| t.cites.iter().cloned().collect::<Vec<_>>();
    assert_eq!(ids(&tests[0]), ["C2", "G6", "M5", "P3"]);
    assert_eq!(tests[0].ignored, None);
    assert_eq!(ids(&tests[1]), ["S14"]);
    assert_eq!(tests[1].ignored.as_deref(), Some("not modelled: a reason"));
}

#[test]
fn braces_in_strings_comments_and_char_literals_do_not_end_a_body() {
    let source = "#[test]\nfn p1_x() {\n    let _ = ('}', \"}\"); // }\n    // [P2]\n}\n";
    let tests = test_fns(source);
    assert_eq!(tests[0].cites, BTreeSet::from(["P1".into(), "P2".into()]));
}

#[test]
fn rows_name_ids_in_their_first_cell() {
    assert!(row_cites("| S7, S10 | append fails |", "S10"));
    assert!(!row_cites("| S7 | S10 in the text |", "S10"));
}
