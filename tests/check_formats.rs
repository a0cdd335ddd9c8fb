//! `eosim check` without `--format` on every history in checker/testdata (and an eosim and a
//! Jepsen EDN one made here): the format is detected (`--json` says which) and the verdict is
//! the one expected.tsv records. Input that is no history — text of no format, JSON that is
//! not a history, a binary or gzip file — exits 2 naming every format and how to pass one.

use std::process::{Command, Output};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/checker/testdata");

/// Every format `check --format` takes (but `auto`).
const FORMATS: [&str; 5] = [
    "eosim",
    "jepsen-kafka",
    "porcupine-etcd",
    "porcupine-kv",
    "jepsen-edn",
];

fn eosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(args)
        .output()
        .expect("eosim runs")
}

fn scratch(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("eosim-check-formats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

/// `check FILE --json` with the format detected: (exit code, format read, verdict).
fn detected(file: &str) -> (i32, String, String) {
    let out = eosim(&["check", file, "--json"]);
    let code = out.status.code().unwrap();
    assert_ne!(code, 2, "{file}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    (
        code,
        v["format"].as_str().unwrap().to_string(),
        v["verdict"].as_str().unwrap().to_string(),
    )
}

/// Every Porcupine history, listed with its verdict in expected.tsv, is detected as its
/// directory's format and gets that verdict, with the exit code the verdict has.
#[test]
fn every_porcupine_history_is_detected_and_judged_as_expected() {
    let expected = std::fs::read_to_string(format!("{TESTDATA}/porcupine/expected.tsv")).unwrap();
    let mut checked = 0;
    for line in expected.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let mut cells = line.split('\t');
        let (file, verdict) = (cells.next().unwrap(), cells.next().unwrap());
        let format = match file.split('/').next().unwrap() {
            "jepsen" => "porcupine-etcd",
            "kv" => "porcupine-kv",
            other => panic!("expected.tsv: a file in {other}/"),
        };
        let path = format!("{TESTDATA}/porcupine/{file}");
        let (code, read_as, got) = detected(&path);
        // An empty file has no format to detect: an empty history, which holds (read as
        // eosim's, the default).
        if verdict == "empty" {
            assert_eq!((code, got.as_str()), (0, "pass"), "{file}");
            continue;
        }
        assert_eq!(
            (read_as.as_str(), got.as_str()),
            (format, verdict),
            "{file}"
        );
        let want = if verdict == "linearizable" { 0 } else { 1 };
        assert_eq!(code, want, "{file}");
        checked += 1;
    }
    assert!(checked >= 100, "{checked} histories");
}

#[test]
fn jepsen_kafka_eosim_and_edn_histories_are_detected() {
    let kafka = |name: &str| format!("{TESTDATA}/jepsen-kafka/{name}");
    assert_eq!(
        detected(&kafka("anomalies.edn")),
        (1, "jepsen-kafka".into(), "fail".into())
    );
    assert_eq!(
        detected(&kafka("clean.edn")),
        (0, "jepsen-kafka".into(), "pass".into())
    );

    let history = scratch("history.jsonl", b"");
    let run = eosim(&[
        "run",
        "produce-retries",
        "--seed",
        "3",
        "--history",
        &history,
    ]);
    assert_eq!(run.status.code(), Some(0));
    assert_eq!(detected(&history), (0, "eosim".into(), "pass".into()));

    let edn = scratch(
        "register.edn",
        b"[{:process 0, :type :invoke, :f :write, :value 3}\n \
          {:process 0, :type :ok, :f :write, :value 3}\n \
          {:process 1, :type :invoke, :f :read, :value nil}\n \
          {:process 1, :type :ok, :f :read, :value 4}]\n",
    );
    assert_eq!(
        detected(&edn),
        (1, "jepsen-edn".into(), "not-linearizable".into())
    );
}

/// What is no history exits 2 with the file, line and column, every format, and how to pass
/// one.
#[test]
fn input_of_no_format_exits_2_naming_the_formats() {
    let gzip = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
    let cases: [(&str, &[u8], &str); 5] = [
        ("prose.txt", b"\n   hello world\n", ":2:4: cannot tell"),
        // A JSON object reads as eosim's JSON Lines, which say what they lack.
        ("object.json", b"{\"a\": 1}\n", ":1:8: missing field `type`"),
        ("array.json", b"[1, 2, 3]\n", ":1:1: cannot tell"),
        ("binary.dat", b"ab\ncd\xff\xfe", ":2:3: not a text file"),
        ("history.jsonl.gz", &gzip, "decompress it first"),
    ];
    for (name, bytes, says) in cases {
        let file = scratch(name, bytes);
        let out = eosim(&["check", &file]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with(&format!("eosim: {file}:")), "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
        for format in FORMATS {
            assert!(err.contains(format), "{name}: {format}: {err}");
        }
        assert!(err.contains("--format"), "{name}: {err}");
        assert!(
            !err.contains("at line 1 column"),
            "{name}: serde's words: {err}"
        );
    }
}
