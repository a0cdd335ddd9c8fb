//! docs/json-schema.md cannot drift: every command's `--json` is run (through the built
//! binary) and held to the document's rows — a field marked *always* present, every field of a
//! type its row allows, no field without a row, `schema` first — and every row is seen in some
//! output but the few optional ones these runs cannot reach. `--json` stays one JSON document
//! whatever other flags are given (`--trace`, `--junit`, `--history`, `--html`).

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};

use serde_json::Value;

const DOC: &str = include_str!("../docs/json-schema.md");

fn eosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(args)
        .output()
        .expect("eosim runs")
}

fn scratch(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("eosim-json-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_str().unwrap().to_string()
}

fn testdata(path: &str) -> String {
    format!("{}/checker/testdata/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// One documented field.
#[derive(Debug)]
struct Row {
    /// Alternatives: `int`, `[string]`, `{string: int}`, `"pass"`, a section name, …
    types: Vec<String>,
    always: bool,
}

/// The document: per section (`run`, `check (history)`, …) its rows by path.
struct Schema {
    sections: BTreeMap<String, BTreeMap<String, Row>>,
}

impl Schema {
    fn parse(doc: &str) -> Schema {
        let mut sections = BTreeMap::new();
        for part in doc.split("\n## ").skip(1) {
            let (heading, body) = part.split_once('\n').unwrap();
            let rows: BTreeMap<String, Row> = body
                .lines()
                .filter(|l| l.starts_with("| `"))
                .map(|l| parse_row(heading, l))
                .collect();
            sections.insert(heading.trim().to_string(), rows);
        }
        Schema { sections }
    }

    fn rows(&self, section: &str) -> &BTreeMap<String, Row> {
        self.sections
            .get(section)
            .unwrap_or_else(|| panic!("docs/json-schema.md has no section `## {section}`"))
    }
}

/// `| \`path\` | type | present | meaning |`; a `\|` inside a cell separates alternatives.
fn parse_row(section: &str, line: &str) -> (String, Row) {
    let cells: Vec<String> = line
        .replace("\\|", "\u{0}")
        .split('|')
        .map(|c| c.trim().replace('\u{0}', "|"))
        .collect();
    assert!(cells.len() >= 5, "{section}: malformed row {line:?}");
    let path = cells[1].trim_matches('`').to_string();
    let types = cells[2].split('|').map(|t| t.trim().to_string()).collect();
    let always = match cells[3].as_str() {
        "always" => true,
        "optional" => false,
        other => panic!("{section} `{path}`: present is always or optional, not {other:?}"),
    };
    (path, Row { types, always })
}

/// Holds outputs to the schema, remembering which rows it has seen.
struct Checker<'a> {
    schema: &'a Schema,
    seen: BTreeSet<(String, String)>,
    errors: Vec<String>,
}

impl Checker<'_> {
    /// `value` as a document of `section`; `what` names the command in errors.
    fn document(&mut self, section: &str, what: &str, value: &Value) {
        self.object(section, what, "", value);
    }

    /// An object whose fields are the rows `prefix.field` (`field` at the root).
    fn object(&mut self, section: &str, what: &str, prefix: &str, value: &Value) {
        let Some(fields) = value.as_object() else {
            self.errors
                .push(format!("{what}: `{prefix}` is not an object: {value}"));
            return;
        };
        let child = |key: &str| {
            if prefix.is_empty() {
                key.to_string()
            } else {
                format!("{prefix}.{key}")
            }
        };
        let rows = self.schema.rows(section);
        let open = rows.contains_key(&child("*"));
        if open {
            self.seen.insert((section.to_string(), child("*")));
        }
        for (key, field) in fields {
            let path = child(key);
            match rows.get(&path) {
                Some(row) => self.field(section, what, &path, row, field),
                None if open => {}
                None => self.errors.push(format!(
                    "{what}: field `{path}` is not in docs/json-schema.md ({section})"
                )),
            }
        }
        let missing: Vec<String> = rows
            .iter()
            .filter(|(path, row)| row.always && is_child(prefix, path))
            .filter(|(path, _)| !fields.contains_key(path.rsplit('.').next().unwrap()))
            .map(|(path, _)| path.clone())
            .collect();
        for path in missing {
            self.errors.push(format!(
                "{what}: `{path}` is documented as always present but missing"
            ));
        }
    }

    fn field(&mut self, section: &str, what: &str, path: &str, row: &Row, value: &Value) {
        self.seen.insert((section.to_string(), path.to_string()));
        let Some(ty) = row.types.iter().find(|t| matches(self.schema, t, value)) else {
            self.errors.push(format!(
                "{what}: `{path}` is {value}, not of type {}",
                row.types.join(" | ")
            ));
            return;
        };
        match (ty.as_str(), value) {
            ("object", _) => self.object(section, what, path, value),
            ("[object]", Value::Array(items)) => {
                for item in items {
                    self.object(section, what, &format!("{path}[]"), item);
                }
            }
            (t, Value::Array(items)) if self.is_section(&t[1..t.len() - 1]) => {
                for item in items {
                    self.document(&t[1..t.len() - 1], what, item);
                }
            }
            (t, _) if self.is_section(t) => self.document(t, what, value),
            _ => {}
        }
    }

    fn is_section(&self, name: &str) -> bool {
        self.schema.sections.contains_key(name)
    }
}

/// Whether `path` is a direct field of the object at `prefix`.
fn is_child(prefix: &str, path: &str) -> bool {
    let rest = if prefix.is_empty() {
        Some(path)
    } else {
        path.strip_prefix(prefix).and_then(|r| r.strip_prefix('.'))
    };
    rest.is_some_and(|r| !r.contains('.') && !r.contains("[]") && r != "*")
}

/// Whether `value` has the shape of type `ty` (objects are walked by the caller).
fn matches(schema: &Schema, ty: &str, value: &Value) -> bool {
    match ty {
        "any" => true,
        "int" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "bool" => value.is_boolean(),
        "null" => value.is_null(),
        "object" => value.is_object(),
        t if t.starts_with('"') => value.as_str() == Some(t.trim_matches('"')),
        t if t.starts_with('[') => value.as_array().is_some_and(|items| {
            let inner = &t[1..t.len() - 1];
            items.iter().all(|item| matches(schema, inner, item))
        }),
        t if t.starts_with("{string: ") => value.as_object().is_some_and(|fields| {
            let inner = &t["{string: ".len()..t.len() - 1];
            fields.values().all(|item| matches(schema, inner, item))
        }),
        t if schema.sections.contains_key(t) => value.is_object(),
        t => panic!("docs/json-schema.md: unknown type {t:?}"),
    }
}

/// Runs `args` (which include `--json`), expects `code`, and returns stdout parsed — failing
/// unless stdout is exactly one JSON document with `schema` first.
fn json_of(args: &[&str], code: i32) -> Value {
    let out = eosim(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(code),
        "eosim {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("{\n  \"schema\": 1,"),
        "eosim {}: `schema` is not first: {}",
        args.join(" "),
        &stdout[..stdout.len().min(200)]
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "eosim {}: stdout is not one JSON document: {e}",
            args.join(" ")
        )
    })
}

/// Optional rows no run below reaches (Ctrl-C, exhausted budgets, a shrink that failed, …):
/// the one list to extend, deliberately, when a row cannot be reached cheaply.
const UNREACHED: &[(&str, &str)] = &[
    ("sweep", "interrupted"),
    ("soak", "interrupted"),
    ("compare", "interrupted"),
    ("hunt", "interrupted"),
    ("hunt", "rows[].shrink_error"),
    ("check (linearizability)", "partitions[].exhausted"),
    (
        "check (linearizability)",
        "counterexamples[].rejected_before_search",
    ),
];

#[test]
fn every_json_output_matches_docs_json_schema() {
    let schema = Schema::parse(DOC);
    let mut checker = Checker {
        schema: &schema,
        seen: BTreeSet::new(),
        errors: Vec::new(),
    };
    let history = scratch("history.jsonl");
    let (junit, html) = (scratch("run.xml"), scratch("run.html"));
    // Every flag that writes elsewhere at once: stdout stays one JSON document.
    let run = json_of(
        &[
            "run",
            "produce-retries",
            "--seed",
            "3",
            "--guarantee",
            "at-least-once",
            "--swarm",
            "--json",
            "--trace",
            "--history",
            &history,
            "--junit",
            &junit,
            "--html",
            &html,
        ],
        1,
    );
    checker.document("run", "run", &run);
    let pass = json_of(&["run", "produce-retries", "--seed", "3", "--json"], 0);
    checker.document("run", "run (pass)", &pass);

    let sweep_args = [
        "sweep",
        "produce-retries",
        "--seeds",
        "0..4",
        "--guarantee",
        "at-least-once",
        "--swarm",
        "--json",
    ];
    let sweep = json_of(&sweep_args, 1);
    checker.document("sweep", "sweep", &sweep);
    let mut shards = Vec::new();
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let mut args = sweep_args.to_vec();
        args.extend(["--shard", &shard, "--junit", &junit]);
        let file = scratch(&format!("shard-{k}.json"));
        std::fs::write(&file, json_of(&args, 1).to_string()).unwrap();
        shards.push(file);
    }
    let merged = json_of(&["merge", "--json", &shards[0], &shards[1]], 1);
    checker.document("sweep", "merge (sweep shards)", &merged);

    let compare = json_of(
        &["compare", "produce-retries", "--seeds", "0..2", "--json"],
        0,
    );
    checker.document("compare", "compare", &compare);
    // A scenario with a published reference whose exactly-once seed fails (KAFKA-9279's
    // application decision): the optional rows `reference` and `failing_seeds`.
    let example = format!(
        "{}/scenarios/examples/kafka-9279.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let with_reference = std::fs::read_to_string(example).unwrap()
        + "\n[reference]\nsource = \"a test\"\nthroughput_ratios = { \"exactly-once\" = 0.5 }\n";
    let file = scratch("kafka-9279-with-reference.toml");
    std::fs::write(&file, with_reference).unwrap();
    let failing = json_of(&["compare", &file, "--seeds", "0..1", "--json"], 0);
    assert_eq!(
        failing["rows"][1]["failing_seeds"],
        serde_json::json!([0]),
        "{failing}"
    );
    checker.document("compare", "compare (failing, with a reference)", &failing);
    // Input written before processing (`preload_input`): the optional `steady_rate`.
    let preloaded = "name = \"preloaded\"\nguarantee = \"exactly-once\"\n\
        [cluster]\nbrokers = 3\ntopics = [{ name = \"data\", partitions = 2 }]\n\
        [app.streams]\ninstances = 2\nrecords = 40\npreload_input = true\n[faults]\nphase_ms = 0\n";
    let file = scratch("preloaded.toml");
    std::fs::write(&file, preloaded).unwrap();
    let steady = json_of(&["compare", &file, "--seeds", "0..1", "--json"], 0);
    assert_eq!(steady["steady_rate"], serde_json::json!(true), "{steady}");
    checker.document("compare", "compare (input written first)", &steady);

    let check = json_of(&["check", &history, "--json"], 1);
    checker.document("check (history)", "check (eosim history)", &check);
    // Under at-least-once one finding is allowed: all three lists have members.
    let kafka = json_of(
        &[
            "check",
            &testdata("jepsen-kafka/anomalies.edn"),
            "--guarantee",
            "at-least-once",
            "--json",
        ],
        1,
    );
    checker.document("check (history)", "check (jepsen-kafka)", &kafka);
    for (file, code) in [
        ("porcupine/jepsen/etcd_000.log", 1),
        ("porcupine/kv/c01-ok.txt", 0),
    ] {
        let lin = json_of(&["check", &testdata(file), "--json"], code);
        checker.document("check (linearizability)", file, &lin);
    }

    let soak = json_of(
        &[
            "soak",
            "--seeds-per-scenario",
            "1",
            "--swarm",
            "off",
            "--json",
        ],
        0,
    );
    checker.document("soak", "soak", &soak);

    let hunt = json_of(
        &[
            "hunt",
            "no-dedup",
            "no-generation-check",
            "--max-seeds",
            "1",
            "--shrink-runs",
            "5",
            "--json",
        ],
        1,
    );
    checker.document("hunt", "hunt", &hunt);

    assert!(
        checker.errors.is_empty(),
        "the outputs and docs/json-schema.md disagree:\n  {}",
        checker.errors.join("\n  ")
    );
    let unseen: Vec<String> = schema
        .sections
        .iter()
        .filter(|(section, _)| *section != "merge")
        .flat_map(|(section, rows)| rows.keys().map(move |path| (section.clone(), path.clone())))
        .filter(|key| !checker.seen.contains(key))
        .filter(|(s, p)| !UNREACHED.contains(&(s.as_str(), p.as_str())))
        .map(|(s, p)| format!("{s}: `{p}`"))
        .collect();
    assert!(
        unseen.is_empty(),
        "documented fields no output had (a renamed or removed field?):\n  {}",
        unseen.join("\n  ")
    );
}

/// Bad input prints no half document: stdout is empty, the message is on stderr, exit 2.
#[test]
fn bad_input_with_json_leaves_stdout_empty() {
    for args in [
        &["run", "no-such-scenario", "--json"][..],
        &["sweep", "produce-retries", "--seeds", "9..3", "--json"],
        &["check", "/no/such/history.jsonl", "--json"],
        &[
            "compare",
            "produce-retries",
            "--seeds",
            "0..2",
            "--guarantees",
            "sometimes",
            "--json",
        ],
        &["merge", "/no/such/shard.json", "--json"],
        &["hunt", "no-such-variant", "--json"],
        &["soak", "--swarm", "maybe", "--json"],
    ] {
        let out = eosim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

/// The checker above fails on what it should: a made-up field, a missing one, a wrong type.
#[test]
fn the_schema_check_catches_drift() {
    let schema = Schema::parse(DOC);
    let mut checker = Checker {
        schema: &schema,
        seen: BTreeSet::new(),
        errors: Vec::new(),
    };
    let mut compare = serde_json::json!({
        "schema": 1, "scenario": "s", "variants": [], "seeds": "0..1",
        "cost_model": { "kind": "none", "parameters": {} },
        "rows": [{
            "guarantee": "exactly-once", "runs": 1, "failed": 0, "categories": {},
            "findings": {}, "duplicates": 0, "losses": 0, "aborted_reads": 0,
            "wrong_aggregates": 0, "records_per_s": 1.5, "latency_p50_ms": 1.0,
            "latency_p99_ms": 2.0
        }]
    });
    checker.document("compare", "good", &compare);
    assert!(checker.errors.is_empty(), "{:?}", checker.errors);
    compare["rows"][0]["surprise"] = 1.into();
    compare["rows"][0]
        .as_object_mut()
        .unwrap()
        .remove("latency_p99_ms");
    compare["runs"] = "many".into();
    compare["seeds"] = 3.into();
    checker.document("compare", "bad", &compare);
    let errors = checker.errors.join("\n");
    for expected in [
        "`rows[].surprise` is not in docs",
        "`rows[].latency_p99_ms` is documented as always present but missing",
        "field `runs` is not in docs",
        "`seeds` is 3, not of type string",
    ] {
        assert!(errors.contains(expected), "{expected}: {errors}");
    }
}
