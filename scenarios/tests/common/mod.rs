//! What the scenario-parsing tests share: minimal scenarios of each application and helpers
//! that parse them and look at the error.
#![allow(dead_code)] // each test file uses its own part

use scenarios::{RunOptions, Scenario};

/// Line 3 is the app's table (empty: its defaults), line 5 `brokers`, line 6 `topics`;
/// sections go after it.
pub const PRODUCE: &str = r#"
name = "s"
[app.produce]
[cluster]
brokers = 2
topics = [{ name = "t", partitions = 2 }]
"#;

pub const COPY: &str = r#"
name = "c"
[app.transactional-copy]
[cluster]
brokers = 1
topics = [{ name = "input", partitions = 2 }, { name = "output", partitions = 2 }]
"#;

pub const QUEUE: &str = r#"
name = "q"
[app.jepsen-queue]
[cluster]
brokers = 2
topics = [{ name = "t", partitions = 2 }]
"#;

pub const STREAMS: &str = r#"
name = "e"
[app.streams]
[cluster]
brokers = 3
topics = [{ name = "data", partitions = 5 }]
"#;

/// The error `text` is rejected with, as printed.
pub fn err(text: &str) -> String {
    Scenario::parse(text, "bad.toml").unwrap_err().to_string()
}

/// `text` is rejected with an error naming `bad.toml:line:` and `field`.
#[track_caller]
pub fn rejects(text: &str, line: usize, field: &str) -> String {
    let e = err(text);
    assert!(
        e.starts_with(&format!("bad.toml:{line}:")),
        "line {line}: {e}"
    );
    assert!(e.contains(&format!("field `{field}`")), "{field}: {e}");
    e
}

/// `base` with `section` (e.g. "[app.produce]\nproducers = 9") appended: its first key is
/// on line 8. An app table replaces the base's empty one (line 3 becomes a comment, so the
/// lines keep their numbers).
pub fn with(base: &str, section: &str) -> String {
    let app_table = section
        .split_once("[app.")
        .and_then(|(_, s)| s.split_once(']'));
    match app_table {
        Some((app, _)) => {
            let base = base.replacen(&format!("[app.{app}]\n"), "# app below\n", 1);
            format!("{base}{section}\n")
        }
        None => format!("{base}{section}\n"),
    }
}

#[track_caller]
pub fn accepts(text: &str) {
    if let Err(e) = Scenario::parse(text, "good.toml") {
        panic!("{e}");
    }
}

/// Run options for `seed`, everything else by default.
pub fn seed(seed: u64) -> RunOptions {
    RunOptions {
        seed,
        ..Default::default()
    }
}
