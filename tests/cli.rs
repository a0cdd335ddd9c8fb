//! The command-line contract: outputs, JSON fields, exit codes (0 held, 1 violated, 2 bad input).

use std::process::{Command, Output};

fn eosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(args)
        .output()
        .expect("eosim runs")
}

/// A fresh folder for one test's files.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eosim-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn run_json_has_the_documented_fields_and_exit_codes() {
    let pass = eosim(&["run", "produce-retries", "--seed", "3", "--json"]);
    assert_eq!(
        pass.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pass.stderr)
    );
    let v = json(&pass);
    for field in [
        "scenario",
        "seed",
        "guarantee",
        "variants",
        "verdict",
        "anomalies",
        "trace_hash",
        "faults",
        "stats",
        "replay",
    ] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["guarantee"], "exactly-once");
    assert_eq!(v["trace_hash"].as_str().unwrap().len(), 16);

    let fail = eosim(&[
        "run",
        "produce-retries",
        "--seed",
        "3",
        "--guarantee",
        "at-least-once",
        "--json",
    ]);
    assert_eq!(fail.status.code(), Some(1));
    let v = json(&fail);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["anomalies"][0]["kind"], "duplicate");
    assert_eq!(
        v["replay"],
        "eosim run produce-retries --seed 3 --guarantee at-least-once"
    );
}

#[test]
fn the_no_dedup_variant_makes_exactly_once_fail_with_duplicates() {
    let out = eosim(&[
        "run",
        "produce-retries",
        "--seed",
        "3",
        "--variant",
        "no-dedup",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["variants"][0], "no-dedup");
    assert!(v["anomaly_counts"]["duplicate"].as_u64().unwrap() > 0);
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = scratch_dir("cli");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "name = \"x\"\n[app.produce]\n[cluster]\nbrokers = 1\ntopics = []\nshards = 3\n",
    )
    .unwrap();
    let out = eosim(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:6:1") && err.contains("shards"),
        "{err}"
    );

    let out = eosim(&["run", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("produce-retries"));

    let out = eosim(&["run", "produce-retries", "--guarantee", "twice"]);
    assert_eq!(out.status.code(), Some(2));

    let out = eosim(&["sweep", "produce-retries", "--seeds", "5..5"]);
    assert_eq!(out.status.code(), Some(2));

    let history = dir.join("h.jsonl");
    std::fs::write(&history, "{\"type\":\"op\",\"index\":0}\n").unwrap();
    let out = eosim(&["check", history.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("h.jsonl:1"));
}

#[test]
fn sweep_results_do_not_depend_on_the_number_of_jobs() {
    let one = json(&eosim(&[
        "sweep",
        "produce-retries",
        "--seeds",
        "0..12",
        "--guarantee",
        "at-least-once",
        "--jobs",
        "1",
        "--json",
    ]));
    let two = json(&eosim(&[
        "sweep",
        "produce-retries",
        "--seeds",
        "0..12",
        "--guarantee",
        "at-least-once",
        "--jobs",
        "2",
        "--json",
    ]));
    assert_eq!(one, two);
    assert_eq!(one["runs"], 12);
    assert!(
        one["failed"].as_u64().unwrap() >= 10,
        "at-least-once duplicates on most seeds"
    );
    assert!(one["failing_seeds"].is_array());
    assert!(one["anomaly_counts"]["duplicate"].as_u64().unwrap() >= 10);
}

#[test]
fn replay_checks_determinism_and_prints_the_hash() {
    let out = eosim(&[
        "replay",
        "produce-retries",
        "--seed",
        "11",
        "--check-determinism",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("determinism: ok"), "{text}");
}

#[test]
fn history_written_by_run_is_checked_the_same_by_check() {
    let dir = scratch_dir("hist");
    let file = dir.join("h.jsonl");
    let run = eosim(&[
        "run",
        "produce-retries",
        "--seed",
        "3",
        "--guarantee",
        "at-least-once",
        "--json",
        "--history",
        file.to_str().unwrap(),
    ]);
    let run_kinds = json(&run)["anomaly_counts"].clone();
    let check = eosim(&["check", file.to_str().unwrap(), "--json"]);
    assert_eq!(check.status.code(), Some(1));
    let anomalies = json(&check)["anomalies"].as_array().unwrap().len() as u64;
    assert_eq!(
        anomalies,
        run_kinds
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>()
    );
}

/// A Streams run's history carries its topology's aggregate checks: `check` on the saved
/// file finds the same wrong aggregates as the run.
#[test]
fn a_streams_history_is_checked_for_its_aggregates_again() {
    let dir = scratch_dir("streams-hist");
    let file = dir.join("h.jsonl");
    let run = eosim(&[
        "run",
        "eos-test",
        "--seed",
        "5",
        "--variant",
        "store-not-wiped-on-unclean-shutdown",
        "--json",
        "--history",
        file.to_str().unwrap(),
    ]);
    let run_counts = json(&run)["anomaly_counts"].clone();
    assert!(
        run_counts["wrong-aggregate"].as_u64() > Some(0),
        "{run_counts}"
    );
    let check = eosim(&["check", file.to_str().unwrap(), "--json"]);
    assert_eq!(check.status.code(), Some(1));
    let wrong = json(&check)["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "wrong-aggregate")
        .count() as u64;
    assert_eq!(Some(wrong), run_counts["wrong-aggregate"].as_u64());
}

/// `--json` output stays one JSON document whatever else is asked (the trace goes to
/// stderr), and `check`'s JSON names its schema, for histories and for linearizability.
#[test]
fn json_stays_valid_with_trace_and_check_names_its_schema() {
    let out = eosim(&["run", "produce-retries", "--seed", "1", "--json", "--trace"]);
    assert_eq!(json(&out)["schema"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("fault #0"));
    let dir = scratch_dir("schema");
    let file = dir.join("h.jsonl");
    let _ = eosim(&[
        "run",
        "produce-retries",
        "--seed",
        "1",
        "--history",
        file.to_str().unwrap(),
    ]);
    let history = eosim(&["check", file.to_str().unwrap(), "--json"]);
    assert_eq!(json(&history)["schema"], 1);
    let etcd = testdata("jepsen/etcd_000.log");
    let lin = eosim(&["check", &etcd, "--json"]);
    assert_eq!(json(&lin)["schema"], 1);
}

#[test]
fn trace_prints_events() {
    let out = eosim(&["run", "produce-retries", "--seed", "1", "--trace"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("send request") && text.contains("fault #0"),
        "{}",
        &text[..text.len().min(500)]
    );
}

fn testdata(path: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("checker/testdata/porcupine")
        .join(path);
    assert!(
        dir.exists(),
        "test data missing at {} (vendored in checker/testdata/porcupine)",
        dir.display()
    );
    dir.to_str().unwrap().to_string()
}

#[test]
fn check_reads_porcupine_histories_with_verdict_exit_codes() {
    let bad = eosim(&[
        "check",
        &testdata("jepsen/etcd_000.log"),
        "--format",
        "porcupine-etcd",
    ]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(String::from_utf8_lossy(&bad.stdout).contains("cannot place"));
    let good = eosim(&[
        "check",
        &testdata("jepsen/etcd_002.log"),
        "--format",
        "porcupine-etcd",
        "--json",
    ]);
    assert_eq!(good.status.code(), Some(0));
    let v = json(&good);
    assert_eq!(v["verdict"], "linearizable");
    assert_eq!(v["model"], "cas-register");
    let kv = eosim(&[
        "check",
        &testdata("kv/c10-bad.txt"),
        "--format",
        "porcupine-kv",
        "--threads",
        "2",
    ]);
    assert_eq!(kv.status.code(), Some(1));
}

#[test]
fn check_rejects_malformed_or_mismatched_input_with_exit_2() {
    let out = eosim(&[
        "check",
        &testdata("kv/c01-ok.txt"),
        "--format",
        "porcupine-etcd",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = eosim(&[
        "check",
        &testdata("kv/c01-ok.txt"),
        "--format",
        "porcupine-kv",
        "--model",
        "queue",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = eosim(&["check", &testdata("kv/c01-ok.txt"), "--format", "csv"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn shrink_cuts_a_failing_plan_to_a_few_faults_that_fail_the_same_way() {
    let dir = scratch_dir("shrink");
    let file = dir.join("minimal.toml");
    let out = eosim(&[
        "shrink",
        "produce-retries",
        "--seed",
        "0",
        "--variant",
        "no-dedup",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let faults = text.matches("[[faults.plan]]").count();
    assert!((1..=3).contains(&faults), "{faults} faults:\n{text}");
    assert!(!text.contains("[faults.mix]"));
    // The workload shrinks too: one value from one producer is enough for a duplicate.
    assert!(
        text.contains("producers = 1") && text.contains("values_per_producer = 1"),
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("workload 3 producers x 100 values -> 1 producers x 1 values"),
        "{stderr}"
    );
    let run = eosim(&["run", file.to_str().unwrap(), "--seed", "0", "--json"]);
    assert_eq!(run.status.code(), Some(1));
    let v = json(&run);
    assert!(v["anomaly_counts"]["duplicate"].as_u64().unwrap() >= 1);
    let again = eosim(&["run", file.to_str().unwrap(), "--seed", "0", "--json"]);
    assert_eq!(json(&again)["trace_hash"], v["trace_hash"]);

    let passing = eosim(&["shrink", "produce-retries", "--seed", "0"]);
    assert_eq!(
        passing.status.code(),
        Some(2),
        "a passing seed cannot be shrunk"
    );
}

#[test]
fn sharded_sweeps_merge_into_the_unsharded_sweep() {
    let dir = scratch_dir("shards");
    let common = [
        "sweep",
        "produce-retries",
        "--seeds",
        "0..40",
        "--guarantee",
        "at-least-once",
        "--json",
    ];
    let whole = json(&eosim(&common));
    let mut files = Vec::new();
    for k in 1..=4 {
        let shard = format!("{k}/4");
        let mut args = common.to_vec();
        args.extend(["--shard", &shard]);
        let out = eosim(&args);
        let part = json(&out);
        assert_eq!(part["runs"], 10);
        let file = dir.join(format!("shard-{k}.json"));
        std::fs::write(&file, &out.stdout).unwrap();
        files.push(file.to_str().unwrap().to_string());
    }
    let mut args = vec!["merge", "--json"];
    args.extend(files.iter().map(String::as_str));
    let merged = eosim(&args);
    assert_eq!(
        merged.status.code(),
        Some(1),
        "at-least-once fails on some seeds"
    );
    let merged = json(&merged);
    for field in [
        "runs",
        "failed",
        "failing_seeds",
        "anomaly_counts",
        "failures",
        "results",
        "replay",
        "coverage",
        "unmatched_faults",
    ] {
        assert_eq!(merged[field], whole[field], "{field}");
    }
    assert!(
        merged["coverage"]["connection-broken"].as_u64() > Some(0),
        "{}",
        merged["coverage"]
    );
    // A shard given twice is refused.
    let out = eosim(&["merge", &files[0], &files[0]]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn junit_reports_one_case_per_seed() {
    let dir = scratch_dir("junit");
    let file = dir.join("sweep.xml");
    let out = eosim(&[
        "sweep",
        "produce-retries",
        "--seeds",
        "0..6",
        "--guarantee",
        "at-least-once",
        "--junit",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&file).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert_eq!(xml.matches("<testcase ").count(), 6);
    // The failure's message is its explanation, not only its kind; every case has a time.
    assert!(
        xml.contains("<failure message=\"duplicate: value "),
        "{xml}"
    );
    assert_eq!(xml.matches("\" time=\"").count(), 6 + 2, "{xml}");
    assert!(xml.contains("replay: eosim run produce-retries --seed"));
    let run = dir.join("run.xml");
    let out = eosim(&[
        "run",
        "produce-retries",
        "--seed",
        "3",
        "--junit",
        run.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let xml = std::fs::read_to_string(&run).unwrap();
    assert!(
        xml.contains("failures=\"0\"") && xml.contains("name=\"seed 3\" time=\""),
        "{xml}"
    );
}

#[test]
fn compare_puts_each_guarantee_on_a_row_and_json_matches_the_table() {
    let args = ["compare", "transactional-copy", "--seeds", "0..4"];
    let text = eosim(&args);
    assert_eq!(text.status.code(), Some(0));
    let table = String::from_utf8_lossy(&text.stdout).to_string();
    let row = |g: &str| {
        table
            .lines()
            .find(|l| l.starts_with(g))
            .unwrap_or_else(|| panic!("no {g} row in\n{table}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (alo, eos) = (row("at-least-once"), row("exactly-once"));
    let out = eosim(&[&args[..], &["--json"]].concat());
    let v = json(&out);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (printed, json_row) in [(&alo, &rows[0]), (&eos, &rows[1])] {
        assert_eq!(printed[1], json_row["runs"].to_string());
        assert_eq!(printed[2], json_row["failed"].to_string());
        assert_eq!(printed[3], json_row["duplicates"].to_string());
        // A column per anomaly category, in the table's order.
        for (i, category) in eosim::checker::AnomalyCategory::ALL.iter().enumerate() {
            let total = &json_row["categories"][category.name()];
            assert_eq!(printed[3 + i], total.to_string(), "{category}");
        }
    }
    assert_eq!(rows[1]["failed"], 0, "exactly-once passes: {table}");
    assert!(rows[0]["records_per_s"].as_f64().unwrap() > 0.0);
    let bad = eosim(&[
        "compare",
        "transactional-copy",
        "--seeds",
        "0..2",
        "--guarantees",
        "twice",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Starts eosim with stdout and stderr in files of `dir`; once `ready` holds for what it has
/// written to stderr (polled every 50 ms, at most 60 s), waits `after` and sends SIGINT (the
/// `kill` command: no signal crate needed). Returns the exit code, stdout, stderr and how long
/// the process took to end after the signal.
fn interrupt(
    args: &[&str],
    dir: &std::path::Path,
    ready: impl Fn(&str) -> bool,
    after: std::time::Duration,
) -> (Option<i32>, String, String, std::time::Duration) {
    use std::time::{Duration, Instant};
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(args)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("eosim starts");
    let started = Instant::now();
    while !ready(&std::fs::read_to_string(&err_path).unwrap_or_default()) {
        if started.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!(
                "eosim was never ready for SIGINT: {}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(after);
    assert!(
        child.try_wait().unwrap().is_none(),
        "eosim ended before SIGINT: {}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("the kill command runs");
    assert!(kill.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("eosim did not end within 60 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code(),
        std::fs::read_to_string(&out_path).unwrap(),
        std::fs::read_to_string(&err_path).unwrap(),
        sent.elapsed(),
    )
}

#[test]
fn ctrl_c_on_a_sweep_over_every_u64_reports_what_finished_and_exits_130() {
    let dir = scratch_dir("ctrl-c-sweep");
    let junit = dir.join("sweep.xml");
    // 2^64 - 1 seeds: it must start at once (no seed list up front) and stop when asked.
    let (code, stdout, stderr, took) = interrupt(
        &[
            "sweep",
            "produce-retries",
            "--seeds",
            "0..18446744073709551615",
            "--json",
            "--junit",
            junit.to_str().unwrap(),
        ],
        &dir,
        |_| true,
        std::time::Duration::from_secs(3),
    );
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(took.as_secs() < 20, "took {took:?} to stop");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    assert_eq!(v["interrupted"], true);
    let runs = v["runs"].as_u64().unwrap();
    assert!(runs > 0, "no seed finished in 3 s: {stdout}");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len() as u64, runs);
    // What finished is reported in seed order; the totals are over those seeds only.
    assert!(
        results
            .windows(2)
            .all(|w| w[0]["seed"].as_u64() < w[1]["seed"].as_u64())
    );
    assert_eq!(results[0]["seed"], 0);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count() as u64, runs);
    // The text summary says so too.
    let (code, stdout, _, _) = interrupt(
        &[
            "sweep",
            "produce-retries",
            "--seeds",
            "5..=18446744073709551615",
        ],
        &dir,
        |_| true,
        std::time::Duration::from_secs(2),
    );
    assert_eq!(code, Some(130));
    assert!(
        stdout.contains("interrupted: the totals cover the") && stdout.contains("runs: "),
        "{stdout}"
    );
}

#[test]
fn ctrl_c_on_compare_tabulates_the_seeds_that_finished_and_exits_130() {
    let dir = scratch_dir("ctrl-c-compare");
    let (code, stdout, stderr, _) = interrupt(
        &[
            "compare",
            "produce-retries",
            "--seeds",
            "0..=18446744073709551615",
            "--json",
        ],
        &dir,
        |_| true,
        std::time::Duration::from_secs(3),
    );
    assert_eq!(code, Some(130), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    assert_eq!(v["interrupted"], true);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["runs"].as_u64().unwrap() > 0, "{stdout}");
    assert_eq!(
        rows[0]["runs"], rows[1]["runs"],
        "the same seeds in every row"
    );
}

#[test]
fn ctrl_c_on_shrink_writes_the_smallest_plan_so_far_and_exits_130() {
    let dir = scratch_dir("ctrl-c-shrink");
    let file = dir.join("minimal.toml");
    // eos-test-rebalance with 20,000 records: its shrink takes seconds (about 3.7 s in a
    // release build), so it is still going when SIGINT comes half a second after it started
    // minimising. With the built-in's 2,000 records the whole shrink took 0.5 s, and the
    // test raced it.
    let builtin = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/builtin/eos-test-rebalance.toml"
    ))
    .unwrap();
    assert!(
        builtin.contains("\nrecords = 2000\n"),
        "the built-in's workload changed"
    );
    let scenario = dir.join("eos-test-rebalance-20k.toml");
    std::fs::write(
        &scenario,
        builtin.replace("\nrecords = 2000\n", "\nrecords = 20000\n"),
    )
    .unwrap();
    let (code, _, stderr, _) = interrupt(
        &[
            "shrink",
            scenario.to_str().unwrap(),
            "--seed",
            "0",
            "--guarantee",
            "at-least-once",
            "-o",
            file.to_str().unwrap(),
        ],
        &dir,
        |err| err.contains("shrinking seed 0"),
        std::time::Duration::from_millis(500),
    );
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: the plan above is the smallest found"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("[[faults.plan]]"), "{text}");
    // The written plan still fails the same way.
    let run = eosim(&["run", file.to_str().unwrap(), "--json"]);
    assert_eq!(run.status.code(), Some(1));
}

#[test]
fn seed_ranges_reach_the_ends_of_u64_without_overflow() {
    let out = eosim(&[
        "sweep",
        "produce-retries",
        "--seeds",
        "18446744073709551613..=18446744073709551615",
        "--json",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seeds: Vec<u64> = json(&out)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [u64::MAX - 2, u64::MAX - 1, u64::MAX]);
    let out = eosim(&[
        "sweep",
        "produce-retries",
        "--seeds",
        "18446744073709551614..18446744073709551615",
        "--shard",
        "1/3",
        "--json",
    ]);
    assert_eq!(json(&out)["runs"], 1);
    for bad in ["0..18446744073709551616", "7..7", "8..=7", "1..2..3"] {
        let out = eosim(&["sweep", "produce-retries", "--seeds", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("seed range"),
            "{bad}"
        );
    }
}

#[test]
fn zero_or_absurd_jobs_are_refused_with_exit_2() {
    for jobs in ["0", "1025", "100000"] {
        for command in ["sweep", "compare"] {
            let out = eosim(&[
                command,
                "produce-retries",
                "--seeds",
                "0..2",
                "--jobs",
                jobs,
            ]);
            assert_eq!(out.status.code(), Some(2), "{command} --jobs {jobs}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(&format!("--jobs {jobs}")), "{err}");
        }
    }
    let ok = eosim(&["sweep", "produce-retries", "--seeds", "0..2", "--jobs", "1"]);
    assert_eq!(ok.status.code(), Some(0));
}

#[test]
fn merge_refuses_shards_that_do_not_make_up_one_whole_sweep() {
    let dir = scratch_dir("merge-gaps");
    let shard = |k: u64, n: u64, extra: &[&str]| {
        let spec = format!("{k}/{n}");
        let mut args = vec![
            "sweep",
            "produce-retries",
            "--seeds",
            "0..8",
            "--shard",
            &spec,
            "--json",
        ];
        args.extend(extra);
        let out = eosim(&args);
        let file = dir.join(format!("shard-{k}-of-{n}-{}.json", extra.join("-")));
        std::fs::write(&file, &out.stdout).unwrap();
        file.to_str().unwrap().to_string()
    };
    let merge = |files: &[&str]| {
        let out = eosim(&[&["merge"][..], files].concat());
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (s1, s2, s3, s4) = (
        shard(1, 4, &[]),
        shard(2, 4, &[]),
        shard(3, 4, &[]),
        shard(4, 4, &[]),
    );
    assert_eq!(merge(&[&s1, &s2, &s3, &s4]).0, Some(0), "all four merge");
    // Missing shards are named.
    let (code, err) = merge(&[&s1, &s3]);
    assert_eq!(code, Some(2));
    assert!(err.contains("missing shard(s) 2/4, 4/4"), "{err}");
    // A shard twice.
    let (code, err) = merge(&[&s1, &s2, &s2, &s3, &s4]);
    assert_eq!(code, Some(2));
    assert!(err.contains("duplicate shard 2/4"), "{err}");
    // Another shard count.
    let half = shard(2, 2, &[]);
    let (code, err) = merge(&[&s1, &half]);
    assert_eq!(code, Some(2));
    assert!(err.contains("mismatched shard counts"), "{err}");
    // Another guarantee.
    let other = shard(2, 4, &["--guarantee", "at-least-once"]);
    let (code, err) = merge(&[&s1, &other, &s3, &s4]);
    assert_eq!(code, Some(2));
    assert!(err.contains("another sweep"), "{err}");
    // A shard file with a seed cut out, and one marked interrupted.
    let mut cut: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&s2).unwrap()).unwrap();
    cut["results"].as_array_mut().unwrap().pop();
    let cut_file = dir.join("cut.json");
    std::fs::write(&cut_file, cut.to_string()).unwrap();
    let (code, err) = merge(&[&s1, cut_file.to_str().unwrap(), &s3, &s4]);
    assert_eq!(code, Some(2));
    assert!(err.contains("incomplete: seed 5 is missing"), "{err}");
    let mut stopped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&s2).unwrap()).unwrap();
    stopped["interrupted"] = true.into();
    let stopped_file = dir.join("stopped.json");
    std::fs::write(&stopped_file, stopped.to_string()).unwrap();
    let (code, err) = merge(&[&s1, stopped_file.to_str().unwrap(), &s3, &s4]);
    assert_eq!(code, Some(2));
    assert!(err.contains("was interrupted"), "{err}");
}

#[test]
fn check_takes_huge_time_budgets_and_stops_at_its_memory_budget() {
    let out = eosim(&[
        "check",
        &testdata("jepsen/etcd_002.log"),
        "--format",
        "porcupine-etcd",
        "--time-budget-s",
        "18446744073709551615",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A write of 99, then forty concurrent writes, during which a read of 0 and a read of 99
    // after it: 99 cannot come back, but only a search of ~2^40 configurations shows it,
    // stopped by a 1 MiB budget. (A read of a value never written is rejected before any
    // search: checker::lin's cheap look.)
    let dir = scratch_dir("memory-budget");
    let file = dir.join("hard.edn");
    let mut history = String::new();
    history.push_str("{:process 98 :type :invoke :f :write :value 99}\n");
    history.push_str("{:process 98 :type :ok :f :write :value 99}\n");
    for p in 0..40 {
        history.push_str(&format!(
            "{{:process {p} :type :invoke :f :write :value {p}}}\n"
        ));
    }
    for read in [0, 99] {
        history.push_str("{:process 99 :type :invoke :f :read :value nil}\n");
        history.push_str(&format!(
            "{{:process 99 :type :ok :f :read :value {read}}}\n"
        ));
    }
    for p in 0..40 {
        history.push_str(&format!(
            "{{:process {p} :type :ok :f :write :value {p}}}\n"
        ));
    }
    std::fs::write(&file, history).unwrap();
    let out = eosim(&[
        "check",
        file.to_str().unwrap(),
        "--format",
        "jepsen-edn",
        "--model",
        "register",
        "--memory-budget-mb",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unknown") && text.contains("memory budget exhausted"),
        "{text}"
    );
    let zero = eosim(&[
        "check",
        file.to_str().unwrap(),
        "--format",
        "jepsen-edn",
        "--memory-budget-mb",
        "0",
    ]);
    assert_eq!(zero.status.code(), Some(2));
}

/// `soak` runs every built-in scenario under each run key that must pass, swarm off and on,
/// passes on fresh seeds, and its shards merge into the unsharded soak (a missing shard is
/// refused).
#[test]
fn soak_covers_every_must_pass_key_swarm_off_and_on_and_its_shards_merge() {
    let dir = scratch_dir("soak");
    let common = [
        "soak",
        "--seeds-per-scenario",
        "2",
        "--first-seed",
        "8800000",
        "--json",
    ];
    let out = eosim(&common);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let whole = json(&out);
    let cases = eosim::soak_cases().unwrap();
    let sweeps = whole["sweeps"].as_array().unwrap();
    assert_eq!(sweeps.len(), 2 * cases.len());
    assert!(cases.iter().any(|(name, _)| *name == "eos-test-rebalance"));
    for (i, (name, key)) in cases.iter().enumerate() {
        for (j, swarm) in [false, true].into_iter().enumerate() {
            let sweep = &sweeps[2 * i + j];
            assert_eq!(sweep["guarantee"], key.guarantee.name(), "{name}");
            assert_eq!(sweep["swarm"].as_bool().unwrap_or(false), swarm, "{name}");
            assert_eq!(sweep["runs"], 2);
        }
    }
    assert_eq!(whole["runs"], 4 * cases.len() as u64);
    let mut files = Vec::new();
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let mut args = common.to_vec();
        args.extend(["--shard", &shard]);
        let file = dir.join(format!("soak-{k}.json"));
        std::fs::write(&file, eosim(&args).stdout).unwrap();
        files.push(file.to_str().unwrap().to_string());
    }
    let merged = eosim(&["merge", "--json", &files[0], &files[1]]);
    assert_eq!(merged.status.code(), Some(0));
    assert_eq!(json(&merged)["sweeps"], whole["sweeps"]);
    let one = eosim(&["merge", &files[0]]);
    assert_eq!(one.status.code(), Some(2), "a missing shard is refused");
}

/// `hunt --json`: a row per variant with the documented fields; a variant not caught within
/// the seed cap is reported (caught false, with the reason) and fails the hunt (exit 1).
#[test]
fn hunt_json_rows_have_the_documented_fields() {
    let args = [
        "hunt",
        "no-dedup",
        "no-generation-check",
        "--max-seeds",
        "1",
        "--json",
    ];
    let out = eosim(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v["schema"], 1);
    assert_eq!(
        v["command"],
        "eosim hunt no-dedup no-generation-check --max-seeds 1 --json"
    );
    assert!(v["wall_s"].as_f64().unwrap() >= 0.0);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let caught = &rows[0];
    for field in [
        "variant",
        "caught",
        "seeds_to_first_catch",
        "wall_s",
        "shrunk_faults",
        "anomaly_kinds",
        "default_clean",
    ] {
        assert!(caught.get(field).is_some(), "{field} missing: {caught}");
    }
    assert_eq!(caught["variant"], "no-dedup");
    assert_eq!(caught["caught"], true);
    assert_eq!(caught["seeds_to_first_catch"], 1);
    assert!(caught["shrunk_faults"].as_u64().unwrap() <= 3);
    assert_eq!(caught["anomaly_kinds"], serde_json::json!(["duplicate"]));
    assert_eq!(caught["default_clean"], true);
    assert_eq!(caught["caught_by"]["scenario"], "produce-retries");
    assert_eq!(
        caught["caught_by"]["replay"],
        "eosim run produce-retries --seed 0 --guarantee exactly-once --variant no-dedup"
    );
    let missing = &rows[1];
    assert_eq!(missing["caught"], false);
    assert!(missing["seeds_to_first_catch"].is_null());
    assert_eq!(missing["default_clean"], true);
    assert!(
        missing["reason"]
            .as_str()
            .unwrap()
            .contains("not caught in 1 seeds"),
        "{missing}"
    );
}

/// A variant with a catcher that is not caught within the seed cap fails the hunt (exit 1);
/// an unknown variant or a zero budget is bad input (exit 2).
#[test]
fn hunt_exits_1_when_not_caught_and_2_on_bad_input() {
    let out = eosim(&["hunt", "no-generation-check", "--max-seeds", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOT CAUGHT: not caught in 1 seeds"), "{text}");
    assert!(
        text.contains("default protocol: clean on the same 2 run(s)"),
        "{text}"
    );

    let out = eosim(&["hunt", "no-such-variant"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown variant \"no-such-variant\"") && err.contains("no-dedup"),
        "{err}"
    );
    assert_eq!(eosim(&["hunt"]).status.code(), Some(2));
    assert_eq!(
        eosim(&["hunt", "--all", "--budget-s", "0"]).status.code(),
        Some(2)
    );
    assert_eq!(eosim(&["hunt", "no-dedup", "--all"]).status.code(), Some(2));
}
