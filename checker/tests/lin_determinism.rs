//! The linearizability report is a pure function of the history: the same verdict, counts and
//! counterexample with one thread or several, run after run — also when several partitions
//! are illegal and the one a worker proves first (in wall time) is not the one reported.

use checker::lin::{CheckOptions, Format, LinReport, ModelName, Verdict, check_str};

/// Porcupine kv lines (file order is time) for one key, appended to `lines`.
struct Kv<'a> {
    lines: &'a mut Vec<String>,
    key: &'a str,
}

impl Kv<'_> {
    fn event(&mut self, process: usize, kind: &str, f: &str, value: Option<&str>) {
        let value = value.map_or("nil".to_string(), |value| format!("{value:?}"));
        self.lines.push(format!(
            "{{:process {process}, :type :{kind}, :f :{f}, :key {:?}, :value {value}}}",
            self.key
        ));
    }

    /// A get of `value`, invoked and returned with nothing else in between.
    fn get(&mut self, process: usize, value: &str) {
        self.event(process, "invoke", "get", None);
        self.event(process, "ok", "get", Some(value));
    }
}

/// A key on which `appends` concurrent appends run, then a get reads the first of them
/// twice: not linearizable, though every piece read was written in time and no earlier read
/// contradicts it, so no cheap look sees it; the search tries every order of the appends
/// before the get (about e·n! steps for n appends). Processes from `first_process`.
fn illegal_key(lines: &mut Vec<String>, key: &str, appends: usize, first_process: usize) {
    let mut kv = Kv { lines, key };
    let value = |index: usize| format!("{key}{index} ");
    for index in 0..appends {
        kv.event(
            first_process + index,
            "invoke",
            "append",
            Some(&value(index)),
        );
    }
    for index in 0..appends {
        kv.event(first_process + index, "ok", "append", Some(&value(index)));
    }
    kv.get(first_process + appends, &value(0).repeat(2));
}

/// A key whose appends and reads are plainly linearizable.
fn legal_key(lines: &mut Vec<String>, key: &str, appends: usize, first_process: usize) {
    let mut kv = Kv { lines, key };
    let mut written = String::new();
    for index in 0..appends {
        let value = format!("{key}{index} ");
        kv.event(first_process, "invoke", "append", Some(&value));
        kv.event(first_process, "ok", "append", Some(&value));
        written.push_str(&value);
        kv.get(first_process + 1, &written);
    }
}

/// Partitions in this order (first appearance): legal, illegal after a long search, legal,
/// illegal after a short one, illegal after a long one.
fn history() -> String {
    let mut lines = Vec::new();
    legal_key(&mut lines, "a", 20, 0);
    illegal_key(&mut lines, "b", 7, 10);
    legal_key(&mut lines, "c", 20, 30);
    illegal_key(&mut lines, "d", 3, 40);
    illegal_key(&mut lines, "e", 7, 50);
    lines.join("\n")
}

fn check(text: &str, format: Format, model: ModelName, threads: usize) -> LinReport {
    let options = CheckOptions {
        threads,
        time_budget: None,
        ..CheckOptions::default()
    };
    check_str(text, format, model, &options).unwrap()
}

/// The report with one thread, and the same report with 2, 3, 4 and 8, each run 3 times.
fn assert_same_everywhere(text: &str, format: Format, model: ModelName) -> LinReport {
    let one = check(text, format, model, 1);
    let expected = one.to_json();
    for threads in [1, 2, 3, 4, 8] {
        for run in 0..3 {
            let again = check(text, format, model, threads).to_json();
            assert_eq!(again, expected, "threads {threads}, run {run}");
        }
    }
    one
}

#[test]
fn several_illegal_keys_report_the_same_counterexample_on_any_thread_count() {
    let report = assert_same_everywhere(&history(), Format::PorcupineKv, ModelName::Kv);
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    // The short search proves "d" illegal in a round that "b" and "e" do not finish: the
    // report names "d" only, and the rounds stop there.
    let counterexamples: Vec<&str> = report
        .counterexamples
        .iter()
        .map(|counterexample| counterexample.partition.as_str())
        .collect();
    assert_eq!(counterexamples, ["d"]);
    let verdicts: Vec<(&str, Option<Verdict>)> = report
        .partitions
        .iter()
        .map(|partition| (partition.partition.as_str(), partition.verdict))
        .collect();
    assert_eq!(verdicts[3], ("d", Some(Verdict::NotLinearizable)));
    assert_eq!(verdicts[1].1, None, "b's long search was not finished");
    assert_eq!(verdicts[4].1, None, "e's long search was not finished");
}

#[test]
fn the_lowest_illegal_key_of_a_round_is_reported_whichever_finishes_first() {
    // "b" takes 445 of the first round's 1,024 steps to prove illegal, "d" (after it) a few:
    // with several threads "d" is proven first, yet "b", the lower index, is the one
    // reported (one thread never searches "d").
    let mut lines = Vec::new();
    illegal_key(&mut lines, "b", 5, 10);
    illegal_key(&mut lines, "d", 2, 40);
    let report = assert_same_everywhere(&lines.join("\n"), Format::PorcupineKv, ModelName::Kv);
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    assert_eq!(report.counterexamples.len(), 1);
    assert_eq!(report.counterexamples[0].partition, "b");
}

#[test]
fn porcupine_illegal_histories_report_the_same_on_any_thread_count() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/porcupine");
    let files = [
        ("kv/c01-bad.txt", Format::PorcupineKv, ModelName::Kv),
        ("kv/c10-bad.txt", Format::PorcupineKv, ModelName::Kv),
        ("kv/c50-bad.txt", Format::PorcupineKv, ModelName::Kv),
        (
            "jepsen/etcd_000.log",
            Format::PorcupineEtcd,
            ModelName::CasRegister,
        ),
    ];
    for (file, format, model) in files {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let report = assert_same_everywhere(&text, format, model);
        assert_eq!(report.verdict, Verdict::NotLinearizable, "{file}");
    }
}
