//! Scripted workloads (`[app.jepsen-queue] script`): an exact reproduction runs as written,
//! its outcome depends only on the protocol, and a malformed script is bad input that names
//! its file, line and field.

use std::collections::BTreeSet;
use std::process::Command;

use eosim::checker::history::RecordStatus;
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

/// KAFKA-9279 written with a client decision (scenarios/examples/kafka-9279.toml): the
/// application ignores a failed send and commits, losing it; without the decision the
/// transaction aborts and every property holds.
#[test]
fn ignoring_a_failed_send_commits_a_torn_transaction_and_not_ignoring_it_aborts() {
    let path = format!(
        "{}/scenarios/examples/kafka-9279.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let decided = Scenario::parse(&text, &path).unwrap();
    let outcome = scenarios::run(&decided, &RunOptions::default());
    assert_eq!(
        outcome.kinds(),
        BTreeSet::from([AnomalyKind::LostWrite, AnomalyKind::TornTransaction])
    );
    let point = text
        .find("[[faults.plan]]\nat_ms = 0\nkind = \"point\"")
        .unwrap();
    let expect = text.find("[expect").unwrap();
    let undecided = format!("{}{}", &text[..point], &text[expect..]);
    let outcome = scenarios::run(
        &Scenario::parse(&undecided, &path).unwrap(),
        &RunOptions::default(),
    );
    assert!(outcome.passed(), "{:?}", outcome.anomalies);
}

/// `then = "close"` at `client:before-commit`: the first transaction is recorded as not
/// committed, its record ends aborted (the next producer's init_transactions aborts it), and
/// the next transaction commits.
#[test]
fn closing_without_committing_leaves_the_transaction_to_be_aborted() {
    let text = r#"
name = "close-without-commit"
[cluster]
brokers = 3
topics = [{ name = "t0", partitions = 2 }]
[app.jepsen-queue]
clients = 1
script = [["txn send t0-0, commit", "sleep 100", "txn send t0-1, commit"]]
[faults]
phase_ms = 50
heal_deadline_ms = 30000
[[faults.plan]]
at_ms = 0
kind = "point"
after = "client:before-commit"
node = "client-1"
then = "close"
"#;
    let scenario = Scenario::parse(text, "close.toml").unwrap();
    let outcome = scenarios::run(&scenario, &RunOptions::default());
    assert!(outcome.passed(), "{:?}", outcome.anomalies);
    let txns: Vec<(Phase, Option<&str>)> = (outcome.history.ops.iter())
        .filter(|op| op.phase != Phase::Invoke && matches!(op.op, Operation::Txn { .. }))
        .map(|op| (op.phase, op.error.as_deref()))
        .collect();
    assert_eq!(
        txns,
        [
            (
                Phase::Fail,
                Some("the application closed the producer without committing")
            ),
            (Phase::Ok, None),
        ]
    );
    let aborted = (outcome.history.final_logs.iter())
        .find(|log| log.partition == 0)
        .expect("t0-0's final log");
    let statuses: Vec<RecordStatus> = aborted.records.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [RecordStatus::Aborted],
        "t0-0 holds only the closed transaction's record, aborted"
    );
}

/// Content filters on responses: a response is matched by the request it answers. Client 1
/// commits one transaction and aborts the next; a `lose-acks` of EndTxn answers filtered on
/// `result = "commit"` takes the commit's answer (the client retries it, and transactions v2
/// recognises the retry), one filtered on a transactional id no client has takes nothing.
#[test]
fn a_response_is_matched_by_the_content_of_its_request() {
    let text = |filter: &str| {
        format!(
            r#"
name = "response-filter"
[cluster]
brokers = 3
topics = [{{ name = "t0", partitions = 2 }}]
[app.jepsen-queue]
clients = 1
script = [["txn send t0-0, commit", "txn send t0-1, abort", "poll t0-0", "poll t0-1"]]
[faults]
phase_ms = 2000
heal_deadline_ms = 30000
[[faults.plan]]
at_ms = 0
kind = "lose-acks"
message = "end-txn"
{filter}
count = 1
"#
        )
    };
    let used = |filter: &str| {
        let scenario = Scenario::parse(&text(filter), "filter.toml").unwrap();
        let outcome = scenarios::run(&scenario, &RunOptions::default());
        assert!(outcome.passed(), "{filter}: {:?}", outcome.anomalies);
        outcome.coverage.message_faults[0].used
    };
    assert_eq!(used("result = \"commit\""), 1);
    assert_eq!(used("result = \"abort\""), 1);
    assert_eq!(used("transactional_id = \"queue-9\""), 0);
}
