//! Every history in checker/testdata/porcupine must get the verdict in expected.tsv.

use std::path::PathBuf;

use checker::lin::{
    CheckOptions, Format, LinReport, ModelName, PreparedHistory, Verdict, check_file,
};

/// Porcupine's test histories, vendored in this crate (MIT licence: LICENSE-porcupine.md there).
fn testdata_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/porcupine");
    assert!(
        dir.join("expected.tsv").is_file(),
        "Porcupine test histories not found at {} (vendored in checker/testdata/porcupine)",
        dir.display()
    );
    dir
}

struct Expectation {
    file: String,
    verdict: Verdict,
}

fn expectations() -> Vec<Expectation> {
    let text = std::fs::read_to_string(testdata_dir().join("expected.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            let file = fields.next().unwrap().to_string();
            let verdict = match fields.next() {
                // "empty": etcd_095.log, which must not crash and counts as linearizable.
                Some("linearizable" | "empty") => Verdict::Linearizable,
                Some("not-linearizable") => Verdict::NotLinearizable,
                other => panic!("unexpected verdict {other:?} in expected.tsv"),
            };
            Expectation { file, verdict }
        })
        .collect()
}

fn format_and_model(file: &str) -> (Format, ModelName) {
    if file.starts_with("jepsen/") {
        (Format::PorcupineEtcd, ModelName::CasRegister)
    } else {
        (Format::PorcupineKv, ModelName::Kv)
    }
}

fn check(file: &str, options: &CheckOptions) -> LinReport {
    let (format, model) = format_and_model(file);
    check_file(&testdata_dir().join(file), format, model, options)
        .unwrap_or_else(|error| panic!("{file}: {error}"))
}

#[test]
fn all_etcd_logs_get_the_expected_verdicts() {
    let etcd: Vec<_> = expectations()
        .into_iter()
        .filter(|e| e.file.starts_with("jepsen/"))
        .collect();
    // etcd_000 … etcd_102: 102 logs with a verdict and the empty etcd_095.
    assert_eq!(etcd.len(), 103);
    let mut wrong = Vec::new();
    for expectation in &etcd {
        let report = check(&expectation.file, &CheckOptions::default());
        if report.verdict != expectation.verdict {
            wrong.push(format!(
                "{}: got {}, expected {}",
                expectation.file, report.verdict, expectation.verdict
            ));
        }
        assert_eq!(
            report.verdict == Verdict::NotLinearizable,
            !report.counterexamples.is_empty()
        );
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn empty_etcd_log_is_linearizable() {
    let report = check("jepsen/etcd_095.log", &CheckOptions::default());
    assert_eq!(report.verdict, Verdict::Linearizable);
    assert_eq!(report.operations.checked, 0);
}

/// Unpartitioned for 1 and 10 clients, as Porcupine's own suite: with 50 clients the
/// unpartitioned search space (2,000 operations over 10 keys at once) is out of reach.
#[test]
fn kv_histories_get_the_expected_verdicts_with_and_without_partitioning() {
    let kv: Vec<_> = expectations()
        .into_iter()
        .filter(|e| e.file.starts_with("kv/"))
        .collect();
    assert_eq!(kv.len(), 6);
    for expectation in &kv {
        let mut modes = vec![true];
        if !expectation.file.starts_with("kv/c50") {
            modes.push(false);
        }
        for partition in modes {
            let options = CheckOptions {
                partition,
                ..CheckOptions::default()
            };
            let report = check(&expectation.file, &options);
            assert_eq!(
                report.verdict, expectation.verdict,
                "{} partition={partition}",
                expectation.file
            );
            assert_eq!(report.partitioned, partition);
            if !partition {
                assert_eq!(report.partitions.len(), 1);
            }
        }
    }
}

#[test]
fn kv_partitions_by_key() {
    let report = check("kv/c50-ok.txt", &CheckOptions::default());
    assert_eq!(report.partitions.len(), 10);
    assert!(
        report
            .partitions
            .iter()
            .all(|part| part.verdict == Some(Verdict::Linearizable))
    );
}

#[test]
fn reports_are_identical_with_one_and_two_threads() {
    for expectation in expectations() {
        let one = check(
            &expectation.file,
            &CheckOptions {
                threads: 1,
                ..CheckOptions::default()
            },
        );
        let two = check(
            &expectation.file,
            &CheckOptions {
                threads: 2,
                ..CheckOptions::default()
            },
        );
        assert_eq!(one.to_json(), two.to_json(), "{}", expectation.file);
    }
}

#[test]
fn counterexample_points_at_an_operation_of_the_file() {
    let report = check("kv/c01-bad.txt", &CheckOptions::default());
    let counterexample = &report.counterexamples[0];
    let stuck = &counterexample.stuck_operation;
    assert!(stuck.description.starts_with("get"), "{stuck:?}");
    let text = std::fs::read_to_string(testdata_dir().join("kv/c01-bad.txt")).unwrap();
    let line = text.lines().nth(stuck.complete_line.unwrap() - 1).unwrap();
    assert!(
        line.contains(":type :ok") && line.contains(":f :get"),
        "{line}"
    );
    assert!(!counterexample.states_it_could_see.is_empty());
    let rendered = report.to_string();
    assert!(
        rendered.starts_with("not-linearizable (model kv)"),
        "{rendered}"
    );
    assert!(rendered.contains("cannot place: process"), "{rendered}");
}

/// Changes the value of one `:ok :read` in a linearizable etcd log to one never written.
#[test]
fn a_mutated_read_in_a_linearizable_history_is_caught() {
    let path = testdata_dir().join("jepsen/etcd_002.log");
    let original = std::fs::read_to_string(&path).unwrap();
    let options = CheckOptions::default();
    let verdict_of = |text: &str| {
        PreparedHistory::parse(text, Format::PorcupineEtcd, &options)
            .unwrap()
            .check(ModelName::CasRegister, &options)
            .unwrap()
            .verdict
    };
    assert_eq!(verdict_of(&original), Verdict::Linearizable);
    let lines: Vec<&str> = original.lines().collect();
    let read_lines: Vec<usize> = (0..lines.len())
        .filter(|&index| lines[index].contains(":ok") && lines[index].contains(":read"))
        .collect();
    assert!(read_lines.len() > 3);
    for &index in read_lines.iter().step_by(read_lines.len() / 3) {
        let mut mutated = lines.clone();
        let replaced = lines[index]
            .rsplit_once(char::is_whitespace)
            .unwrap()
            .0
            .to_string()
            + "\t42";
        mutated[index] = &replaced;
        assert_eq!(
            verdict_of(&mutated.join("\n")),
            Verdict::NotLinearizable,
            "read on line {}",
            index + 1
        );
    }

    let kv_path = testdata_dir().join("kv/c10-ok.txt");
    let kv = std::fs::read_to_string(&kv_path).unwrap();
    let read = kv
        .lines()
        .position(|line| line.contains(":type :ok, :f :get") && !line.contains(":value \"\""))
        .unwrap();
    let mutated: Vec<String> = kv
        .lines()
        .enumerate()
        .map(|(index, line)| {
            if index == read {
                line.replace(" y\"}", " z\"}")
            } else {
                line.to_string()
            }
        })
        .collect();
    let report = checker::lin::check_str(
        &mutated.join("\n"),
        Format::PorcupineKv,
        ModelName::Kv,
        &options,
    )
    .unwrap();
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    assert_eq!(
        report.counterexamples[0].stuck_operation.complete_line,
        Some(read + 1)
    );
}
