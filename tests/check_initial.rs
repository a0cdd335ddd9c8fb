//! `eosim check --initial`: the linearizability model starts from the given state, whatever
//! the input format (Knossos' convention: a register at 0, a multi-register at x = 0, y = 0).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn eosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(args)
        .output()
        .expect("eosim runs")
}

/// Writes `text` to a fresh file named `name` and returns its path.
fn history(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eosim-initial-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn exit(file: &Path, extra: &[&str]) -> Option<i32> {
    let mut args = vec!["check", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    eosim(&args).status.code()
}

#[test]
fn a_register_read_of_0_before_any_write_holds_only_from_0() {
    let file = history(
        "register.edn",
        "{:process 0 :type :invoke :f :read :value nil}\n\
         {:process 0 :type :ok :f :read :value 0}\n",
    );
    assert_eq!(exit(&file, &["--model", "register"]), Some(1));
    assert_eq!(
        exit(&file, &["--model", "register", "--initial", "0"]),
        Some(0)
    );
    assert_eq!(
        exit(&file, &["--model", "register", "--initial", "1"]),
        Some(1)
    );
    let txn = history(
        "multi.edn",
        "{:process 0 :type :invoke :f :txn :value [[:r :x nil] [:r :y nil]]}\n\
         {:process 0 :type :ok :f :txn :value [[:r :x 0] [:r :y 0]]}\n",
    );
    let multi = ["--model", "multi-register", "--initial"];
    assert_eq!(
        exit(&txn, &[&multi[..], &["{:x 0 :y 0}"]].concat()),
        Some(0)
    );
    assert_eq!(exit(&txn, &[&multi[..], &["{:x 0}"]].concat()), Some(1));
}

#[test]
fn porcupine_kv_histories_take_an_initial_state_too() {
    let file = history(
        "kv.txt",
        "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n\
         {:process 0, :type :ok, :f :get, :key \"1\", :value \"a\"}\n",
    );
    assert_eq!(exit(&file, &[]), Some(1));
    assert_eq!(exit(&file, &["--initial", "{\"1\" \"a\"}"]), Some(0));
    assert_eq!(exit(&file, &["--initial", "{\"1\" \"b\"}"]), Some(1));
}

#[test]
fn an_initial_state_the_model_cannot_hold_is_bad_input() {
    let file = history(
        "mutex.edn",
        "{:process 0 :type :invoke :f :acquire}\n{:process 0 :type :ok :f :acquire}\n",
    );
    for (initial, needle) in [("3", "initial state of mutex"), ("{:x", "not an EDN value")] {
        let out = eosim(&[
            "check",
            file.to_str().unwrap(),
            "--model",
            "mutex",
            "--initial",
            initial,
        ]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle), "{err}");
    }
}
