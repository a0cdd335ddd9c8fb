//! On a terminal every long command — sweep, compare, shrink, soak, hunt — draws done/total,
//! the failures so far, a rate and the ETA on stderr; off a terminal none of it, and `--json`
//! stdout stays one document.

use std::process::Command;

fn eosim() -> &'static str {
    env!("CARGO_BIN_EXE_eosim")
}

/// util-linux's `script` (its flags, not BSD's) makes the pseudo-terminal; without it the
/// terminal half is skipped (the JSON half still runs).
fn has_script() -> bool {
    Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("util-linux"))
}

/// What a terminal saw of `args` with stdout thrown away: the progress lines, colours removed.
fn terminal_stderr(args: &str) -> String {
    // A wide terminal: the details after the ETA are cut to its width.
    let command = format!("stty rows 50 cols 200; {} {args} >/dev/null", eosim());
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("script runs");
    let seen = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    let mut plain = String::new();
    let mut escape = false;
    for c in seen.chars() {
        match (escape, c) {
            (false, '\u{1b}') => escape = true,
            (true, c) if c.is_ascii_alphabetic() => escape = false,
            (true, _) => {}
            (false, c) => plain.push(c),
        }
    }
    plain
}

/// Each command with the words its progress line must show.
const COMMANDS: [(&str, &[&str]); 5] = [
    (
        "sweep produce-retries --seeds 0..8 --guarantee at-least-once --jobs 1",
        &["/8 seeds", "failed", "seeds/s", "ETA"],
    ),
    (
        "compare produce-retries --seeds 0..4 --jobs 1",
        &["/4 seeds", "failed", "seeds/s", "ETA"],
    ),
    (
        "shrink produce-retries --seed 3 --guarantee at-least-once --max-runs 12",
        &["/12 runs", "still fail", "runs/s", "ETA ≤", "fewest faults"],
    ),
    (
        "soak --seeds-per-scenario 1 --swarm off",
        &["seeds", "no failures", "seeds/s", "ETA"],
    ),
    (
        "hunt no-dedup --max-seeds 2 --shrink-runs 4",
        &["/1 variants", "not held", "variants/s", "ETA", "no-dedup"],
    ),
];

#[test]
fn every_long_command_shows_failures_rate_and_eta_on_a_terminal() {
    if !has_script() {
        eprintln!("skipped: no util-linux `script` to make a pseudo-terminal");
        return;
    }
    for (args, words) in COMMANDS {
        let seen = terminal_stderr(args);
        for word in words {
            assert!(seen.contains(word), "eosim {args}: no {word:?} in {seen:?}");
        }
    }
}

/// `--quiet` (before or after the subcommand) hides the line on a terminal too.
#[test]
fn quiet_hides_progress_on_a_terminal() {
    if !has_script() {
        eprintln!("skipped: no util-linux `script` to make a pseudo-terminal");
        return;
    }
    for args in [
        "--quiet sweep produce-retries --seeds 0..4 --guarantee at-least-once",
        "sweep produce-retries --seeds 0..4 --guarantee at-least-once -q",
    ] {
        let seen = terminal_stderr(args);
        assert!(
            !seen.contains("ETA") && !seen.contains("seeds/s"),
            "eosim {args}: {seen:?}"
        );
    }
}

#[test]
fn no_progress_off_a_terminal() {
    for (args, _) in COMMANDS {
        if args.starts_with("shrink") {
            continue; // no --json
        }
        let mut argv: Vec<&str> = args.split_whitespace().collect();
        argv.push("--json");
        let out = Command::new(eosim()).args(&argv).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("ETA") && !err.contains("/s ·"),
            "eosim {args}: {err}"
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("eosim {args} --json: {e}"));
    }
}
