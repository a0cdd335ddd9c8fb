//! Scripted workloads (`[app.jepsen-queue] script`): an exact reproduction runs as written,
//! its outcome depends only on the protocol, and a malformed script is bad input that names
//! its file, line and field.

use std::collections::BTreeSet;
use std::process::Command;

use eosim::checker::{AnomalyKind, Operation, Phase};
use eosim::model::Variant;
use eosim::scenarios::{self, RunOptions, Scenario};

const EXAMPLE: &str = "scenarios/examples/scripted-aborted-read.toml";

fn example() -> Scenario {
    let path = format!("{}/{EXAMPLE}", env!("CARGO_MANIFEST_DIR"));
    Scenario::parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap()
}

fn run(variants: &[Variant]) -> scenarios::RunOutcome {
    let options = RunOptions {
        variants: variants.to_vec(),
        ..RunOptions::default()
    };
    scenarios::run(&example(), &options)
}

/// The script's operations, in order, with the outcomes the protocol gives them (client 2's
/// first poll, client 1's aborted transaction, client 2's two polls after it), then the
/// read-back's poll of each partition.
#[test]
fn the_script_runs_as_written_and_read_committed_sees_nothing_aborted() {
    let outcome = run(&[]);
    assert!(outcome.passed(), "{:?}", outcome.anomalies);
    let history = &outcome.history;
    let done: Vec<(&str, Phase)> = history
        .ops
        .iter()
        .filter(|op| op.phase != Phase::Invoke)
        .filter_map(|op| match &op.op {
            Operation::Txn { .. } => Some(("txn", op.phase)),
            Operation::Poll { .. } => Some(("poll", op.phase)),
            _ => None,
        })
        .collect();
    assert_eq!(
        done,
        [
            ("poll", Phase::Ok),
            ("txn", Phase::Fail),
            ("poll", Phase::Ok),
            ("poll", Phase::Ok),
            ("poll", Phase::Ok),
            ("poll", Phase::Ok),
        ]
    );
}

/// At read_uncommitted the poll during the open transaction and the poll of the second
/// partition after the abort each return an aborted record.
#[test]
fn read_uncommitted_shows_the_scripted_aborted_reads() {
    let outcome = run(&[Variant::ReadUncommitted]);
    let kinds: BTreeSet<AnomalyKind> = outcome.kinds();
    assert_eq!(kinds, BTreeSet::from([AnomalyKind::AbortedRead]));
    assert_eq!(outcome.anomalies.len(), 2, "{:?}", outcome.anomalies);
}

/// A script naming a partition the workload does not have, an operation that does not parse,
/// or a list count that is not the client count: exit 2 with file, line and field.
#[test]
fn a_malformed_script_is_bad_input_naming_the_field() {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let cases = [
        (
            text.replace("\"poll t0-1\"]", "\"poll t9-1\"]"),
            "field `app.jepsen-queue.script[1][4]`: `poll t9-1` names t9-1",
        ),
        (
            text.replace("\"sleep 50\"", "\"slep 50\""),
            "field `app.jepsen-queue.script[1][0]`: \"slep 50\" is not a script operation",
        ),
        (
            text.replace("clients = 2", "clients = 3"),
            "field `app.jepsen-queue.script`: 2 operation lists for 3 clients",
        ),
    ];
    let dir = std::env::temp_dir().join(format!("eosim-scripted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (bad, expected)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad-{i}.toml"));
        std::fs::write(&path, bad).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_eosim"))
            .args(["run", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("{}:", path.display())), "{err}");
        assert!(err.contains(expected), "{err}");
    }
}
