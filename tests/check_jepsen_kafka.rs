//! `eosim check` on Jepsen Kafka histories: Jepsen's names for the anomalies of a
//! hand-written history (checker/testdata/jepsen-kafka/), a clean one, and bad input.

use std::process::{Command, Output};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/checker/testdata/jepsen-kafka");

fn eosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(args)
        .output()
        .expect("eosim runs")
}

fn kinds(report: &serde_json::Value, list: &str) -> Vec<String> {
    report[list]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["kind"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn jepsen_kafka_anomalies_come_with_jepsens_names() {
    let file = format!("{DIR}/anomalies.edn");
    for format in ["jepsen-kafka", "auto"] {
        let out = eosim(&["check", &file, "--format", format, "--json"]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            kinds(&report, "anomalies"),
            [
                "aborted-read",
                "nonmonotonic-send",
                "precommitted-read",
                "int-poll-skip",
                "int-nonmonotonic-poll",
                "int-nonmonotonic-send",
                "g1c"
            ]
        );
        assert_eq!(kinds(&report, "informational"), ["int-send-skip"]);
    }
    // Under at-least-once the non-monotonic send of process 5 is allowed.
    let out = eosim(&["check", &file, "--guarantee", "at-least-once"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("6 anomalies"), "{text}");
    assert!(
        text.contains("allowed under at-least-once (docs/anomalies.md), 1:"),
        "{text}"
    );
}

#[test]
fn a_clean_jepsen_kafka_history_passes() {
    let out = eosim(&["check", &format!("{DIR}/clean.edn")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.ends_with("14 ops, 0 anomalies\n"), "{text}");
}

#[test]
fn bad_jepsen_kafka_input_names_file_line_and_field() {
    let dir = std::env::temp_dir().join(format!("eosim-jk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.edn");
    std::fs::write(
        &file,
        "{:type :invoke, :f :txn, :value [[:send 0 1]], :process 0}\n\
         {:type :ok, :f :txn, :value [[:send 0 [0 \"one\"]]], :process 0}\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = eosim(&["check", path, "--format", "jepsen-kafka"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("{path}:2:")), "{err}");
    assert!(err.contains(":value"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
