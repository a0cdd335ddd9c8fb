//! What a person at a terminal sees: every `--help` with examples that parse and the exit
//! codes; `check` telling history formats apart or saying which `--format` to pass (file,
//! line, column); progress on a terminal's stderr only.

use std::process::{Command, Output};

fn eosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(args)
        .output()
        .expect("eosim runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The subcommands `eosim --help` lists (but `help`).
fn subcommands() -> Vec<String> {
    let help = stdout(&eosim(&["--help"]));
    let commands = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .split("\n\n")
        .next()
        .unwrap();
    let names: Vec<String> = commands
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect();
    assert!(names.len() >= 9, "{names:?}");
    names
}

/// The lines of a help text's section `heading` (up to the next blank line).
fn section<'a>(help: &'a str, heading: &str) -> Vec<&'a str> {
    let Some(rest) = help.split(&format!("\n{heading}:\n")).nth(1) else {
        return Vec::new();
    };
    rest.split("\n\n").next().unwrap().lines().collect()
}

/// The exit codes a help text lists.
fn exit_codes(help: &str) -> Vec<u8> {
    section(help, "Exit codes")
        .iter()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The example commands of a help text.
fn examples(help: &str) -> Vec<String> {
    section(help, "Examples")
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("eosim "))
        .map(String::from)
        .collect()
}

#[test]
fn every_help_has_examples_of_itself_and_the_exit_codes() {
    let top = stdout(&eosim(&["--help"]));
    assert_eq!(exit_codes(&top), [0, 1, 2, 3, 130], "{top}");
    assert!(!examples(&top).is_empty(), "{top}");
    for name in subcommands() {
        for flag in ["--help", "-h"] {
            let out = eosim(&[&name, flag]);
            assert_eq!(out.status.code(), Some(0), "{name} {flag}");
            let help = stdout(&out);
            let own = examples(&help)
                .iter()
                .filter(|e| e.starts_with(&format!("eosim {name}")))
                .count();
            assert!(
                own >= 1,
                "`eosim {name} {flag}` has no example of itself:\n{help}"
            );
            let codes = exit_codes(&help);
            assert!(
                !codes.is_empty() && codes.iter().all(|c| [0, 1, 2, 3, 130].contains(c)),
                "`eosim {name} {flag}` lists no exit codes, or unknown ones:\n{help}"
            );
            if name != "list" {
                assert!(codes.contains(&2), "{name}: bad input exits 2:\n{help}");
            }
        }
    }
    let help = stdout(&eosim(&["help", "sweep"]));
    assert!(exit_codes(&help).contains(&130), "{help}");
}

/// Every example parses as written: its flags exist and their values are accepted (checked
/// by appending `--help`, which clap answers once the arguments before it parse), and the
/// scenarios it names are built in.
#[test]
fn every_example_in_the_help_parses() {
    let list = stdout(&eosim(&["list"]));
    let scenarios: Vec<&str> = list
        .split("built-in scenarios:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let mut helps = vec![stdout(&eosim(&["--help"]))];
    helps.extend(subcommands().iter().map(|n| stdout(&eosim(&[n, "--help"]))));
    let mut checked = 0;
    for example in helps.iter().flat_map(|h| examples(h)) {
        // A shell redirection is not an argument.
        let command = example.split(" > ").next().unwrap();
        let mut args: Vec<&str> = command.split_whitespace().skip(1).collect();
        if args[0] != "help" {
            args.push("--help");
        }
        let out = eosim(&args);
        assert_eq!(out.status.code(), Some(0), "`{example}`: {}", stderr(&out));
        if ["run", "sweep", "compare", "replay", "shrink"].contains(&args[0])
            && !args[1].ends_with(".toml")
        {
            assert!(
                scenarios.contains(&args[1]),
                "`{example}`: no scenario {}",
                args[1]
            );
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked} examples");
}

fn testdata(path: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("checker/testdata/porcupine")
        .join(path);
    assert!(path.exists(), "{} is missing", path.display());
    path.to_str().unwrap().to_string()
}

fn scratch(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("eosim-terminal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn check_detects_every_format_without_being_told() {
    let etcd = eosim(&["check", &testdata("jepsen/etcd_000.log")]);
    assert_eq!(etcd.status.code(), Some(1), "{}", stderr(&etcd));
    assert!(stdout(&etcd).contains("not-linearizable (model cas-register)"));

    let kv = eosim(&["check", &testdata("kv/c01-ok.txt")]);
    assert_eq!(kv.status.code(), Some(0), "{}", stderr(&kv));
    assert!(stdout(&kv).contains("linearizable (model kv)"));

    let edn = scratch(
        "register.edn",
        "; a Jepsen history\n[{:process 0, :type :invoke, :f :write, :value 3}\n \
         {:process 0, :type :ok, :f :write, :value 3}\n \
         {:process 1, :type :invoke, :f :read, :value nil}\n \
         {:process 1, :type :ok, :f :read, :value 3}]\n",
    );
    let out = eosim(&["check", &edn, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let history = scratch("history.jsonl", "");
    let run = eosim(&[
        "run",
        "produce-retries",
        "--seed",
        "3",
        "--history",
        &history,
    ]);
    assert_eq!(run.status.code(), Some(0));
    let out = eosim(&["check", &history]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ops, 0 anomalies"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_names_file_line_column_and_the_format_to_pass() {
    // Nothing any format starts with: every format is listed, and the place is named.
    let file = scratch("notes.txt", "\n   hello world\n");
    let out = eosim(&["check", &file]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("{file}:2:4: cannot tell")), "{err}");
    for format in ["eosim", "porcupine-etcd", "porcupine-kv", "jepsen-edn"] {
        assert!(err.contains(&format!("\n    {format} ")), "{format}: {err}");
    }
    assert!(err.contains("--format NAME"), "{err}");
    assert!(!err.contains("at line 1 column"), "{err}");

    // Jepsen's log without the INFO prefix looks closest to EDN: that is the one to pass.
    let file = scratch("raw.log", "0\t:invoke\t:read\tnil\n");
    let err = stderr(&eosim(&["check", &file]));
    assert!(
        err.contains(&format!("eosim check {file} --format jepsen-edn")),
        "{err}"
    );

    // The wrong --format: the error says where, and which format the file looks like.
    let etcd = testdata("jepsen/etcd_000.log");
    let out = eosim(&["check", &etcd, "--format", "eosim"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("{etcd}:1:1: ")), "{err}");
    assert!(err.contains("--format porcupine-etcd"), "{err}");
    assert!(!err.contains("at line 1 column"), "{err}");
    let kv = testdata("kv/c01-ok.txt");
    let err = stderr(&eosim(&["check", &kv, "--format", "porcupine-etcd"]));
    assert!(err.contains(&format!("{kv}:1:1: ")), "{err}");
    assert!(err.contains("--format porcupine-kv"), "{err}");

    // A detected history that breaks further down: its line and column, and how it was read.
    let good = r#"{"type":"op","index":0,"process":1,"time_ns":0,"phase":"invoke","f":"send","topic":"t","partition":0,"value":1}"#;
    let file = scratch(
        "broken.jsonl",
        &format!("{good}\n\n{{\"type\":\"op\",,}}\n"),
    );
    let out = eosim(&["check", &file]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("{file}:3:14: ")), "{err}");
    assert!(err.contains("detected from line 1"), "{err}");

    // An unknown --format is refused by name, with the ones there are.
    let out = eosim(&["check", &file, "--format", "csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("jepsen-edn"), "{}", stderr(&out));
}

/// Piped stderr gets no progress line, and `--json` stdout stays one JSON document.
#[test]
fn no_progress_off_a_terminal_and_none_in_json() {
    let out = eosim(&[
        "sweep",
        "produce-retries",
        "--seeds",
        "0..4",
        "--guarantee",
        "at-least-once",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(!err.contains("ETA") && !err.contains("seeds/s"), "{err}");
    serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("stdout is JSON");
}

/// On a terminal (a pseudo-terminal made by util-linux `script`, where there is one), sweep
/// draws done/total, failures so far, seeds/s and the ETA on stderr.
#[test]
fn progress_on_a_terminal_shows_failures_rate_and_eta() {
    // util-linux's `script` (its flags, not BSD's).
    let util_linux = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("util-linux"));
    if !util_linux {
        eprintln!("skipped: no util-linux `script` to make a pseudo-terminal");
        return;
    }
    let command = format!(
        "{} sweep produce-retries --seeds 0..12 --guarantee at-least-once --jobs 1 >/dev/null",
        env!("CARGO_BIN_EXE_eosim")
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("script runs");
    let seen = stdout(&out);
    for part in ["/12 seeds", "failed", "seeds/s", "ETA"] {
        assert!(seen.contains(part), "no {part:?} in {seen:?}");
    }
}
