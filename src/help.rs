//! The text after each subcommand's `--help`: examples and exit codes. Every exit code's
//! meaning is written here once ([`HELD`] … [`INTERRUPTED`]); `main` exits with these codes.

use clap::builder::StyledStr;
use clap::builder::styling::{AnsiColor, Style};

/// An exit code and what it means.
#[derive(Clone, Copy)]
pub struct Exit {
    pub code: u8,
    pub meaning: &'static str,
}

pub const HELD: Exit = Exit {
    code: 0,
    meaning: "every property held",
};
pub const VIOLATED: Exit = Exit {
    code: 1,
    meaning: "a property was violated: the output names the seed and the command that replays it",
};
pub const BAD_INPUT: Exit = Exit {
    code: 2,
    meaning: "bad input or usage: a malformed scenario, history, seed range or flag (the message \
              names the file, line and column)",
};
pub const INCONCLUSIVE: Exit = Exit {
    code: 3,
    meaning: "inconclusive: the time or memory budget ran out before a verdict",
};
pub const INTERRUPTED: Exit = Exit {
    code: eosim::interrupt::EXIT_CODE,
    meaning: "interrupted by Ctrl-C, after reporting (and writing the files of) what finished",
};

impl Exit {
    /// The same code with a meaning particular to one subcommand.
    const fn meaning(self, meaning: &'static str) -> Exit {
        Exit { meaning, ..self }
    }
}

/// An example: what it does (a comment line) and the command.
type Example = (&'static str, &'static str);

/// `Examples:` and `Exit codes:` sections, headed as clap heads its own sections.
fn after_help(examples: &[Example], exits: &[Exit]) -> StyledStr {
    let heading = Style::new().bold().underline();
    let comment = Style::new().fg_color(Some(AnsiColor::BrightBlack.into()));
    let mut text = format!("{heading}Examples:{heading:#}\n");
    for (what, command) in examples {
        text.push_str(&format!("  {comment}# {what}{comment:#}\n  {command}\n"));
    }
    text.push_str(&format!("\n{heading}Exit codes:{heading:#}\n"));
    for exit in exits {
        text.push_str(&format!("  {:<4} {}\n", exit.code, exit.meaning));
    }
    StyledStr::from(text)
}

/// `eosim --help`: the commands in the order one meets them, and every exit code.
pub fn top() -> StyledStr {
    after_help(
        &[
            ("what there is to run", "eosim list"),
            ("one seed, checked", "eosim run produce-retries --seed 3"),
            (
                "a thousand seeds on every core",
                "eosim sweep produce-retries --seeds 0..1000",
            ),
            (
                "the smallest fault plan that still fails",
                "eosim shrink produce-retries --seed 3 --guarantee at-least-once -o minimal.toml",
            ),
            (
                "more on one command (or: eosim sweep --help)",
                "eosim help sweep",
            ),
        ],
        &[HELD, VIOLATED, BAD_INPUT, INCONCLUSIVE, INTERRUPTED],
    )
}

pub fn run() -> StyledStr {
    after_help(
        &[
            (
                "one seed under the scenario's own guarantee",
                "eosim run produce-retries --seed 3",
            ),
            (
                "the same seed under a weaker guarantee fails with duplicates (exit 1)",
                "eosim run produce-retries --seed 3 --guarantee at-least-once --json",
            ),
            (
                "a historical bug switched back on, with the HTML report (timeline, causal chains)",
                "eosim run jepsen-queue --seed 59 --variant no-txn-epoch-bump --html report.html",
            ),
            (
                "a scenario file, e.g. one written by `eosim shrink`",
                "eosim run minimal.toml",
            ),
        ],
        &[HELD, VIOLATED, BAD_INPUT],
    )
}

pub fn sweep() -> StyledStr {
    after_help(
        &[
            (
                "a thousand seeds on every core",
                "eosim sweep produce-retries --seeds 0..1000",
            ),
            (
                "swarm testing under a weaker guarantee",
                "eosim sweep transactional-copy --seeds 0..500 --swarm --guarantee at-least-once",
            ),
            (
                "shard 2 of 4 (one CI job of four); `eosim merge` joins the shards",
                "eosim sweep produce-retries --seeds 0..100000 --shard 2/4 --json > shard-2.json",
            ),
        ],
        &[HELD, VIOLATED, BAD_INPUT, INTERRUPTED],
    )
}

pub fn compare() -> StyledStr {
    after_help(
        &[
            (
                "at-least-once beside exactly-once over 100 seeds",
                "eosim compare produce-retries --seeds 0..100",
            ),
            (
                "three guarantees, with an HTML page of charts",
                "eosim compare word-count --seeds 0..20 \
                 --guarantees at-most-once,at-least-once,exactly-once --html compare.html",
            ),
        ],
        &[
            HELD.meaning(
                "the table was made (failures under a weaker guarantee are the point, not an error)",
            ),
            BAD_INPUT,
            INTERRUPTED,
        ],
    )
}

pub fn merge() -> StyledStr {
    after_help(
        &[
            (
                "the four shards of one sweep",
                "eosim merge shard-1.json shard-2.json shard-3.json shard-4.json",
            ),
            (
                "the shards of a soak, with one JUnit report",
                "eosim merge soak-1.json soak-2.json --junit soak.xml",
            ),
        ],
        &[
            HELD,
            VIOLATED,
            BAD_INPUT.meaning(
                "bad input: a file that is not a result, or files that are not exactly the \
                 shards 1/N … N/N of one sweep (the message names them)",
            ),
        ],
    )
}

pub fn replay() -> StyledStr {
    after_help(
        &[
            (
                "run a seed twice and compare the traces event by event",
                "eosim replay produce-retries --seed 3 --check-determinism",
            ),
            (
                "the replay command a failing sweep printed",
                "eosim replay produce-retries --seed 3 --guarantee at-least-once",
            ),
        ],
        &[
            HELD,
            VIOLATED.meaning(
                "a property was violated, or with --check-determinism the two traces differ",
            ),
            BAD_INPUT,
        ],
    )
}

pub fn check() -> StyledStr {
    after_help(
        &[
            (
                "a history written by `eosim run … --history history.jsonl` (format detected)",
                "eosim check history.jsonl",
            ),
            (
                "a Porcupine etcd log: linearizability of a compare-and-set register",
                "eosim check etcd_000.log",
            ),
            (
                "a Jepsen EDN history of a plain register, as JSON",
                "eosim check history.edn --format jepsen-edn --model register --json",
            ),
            (
                "a large key-value history on 4 threads, with a shorter budget",
                "eosim check c50-ok.txt --format porcupine-kv --threads 4 --time-budget-s 10",
            ),
        ],
        &[
            HELD.meaning("every property held (linearizable)"),
            VIOLATED.meaning("a property was violated (not linearizable: the operation that cannot be placed is shown)"),
            BAD_INPUT,
            INCONCLUSIVE,
        ],
    )
}

pub fn shrink() -> StyledStr {
    after_help(
        &[
            (
                "shrink a failing seed and save it as a scenario",
                "eosim shrink produce-retries --seed 3 --guarantee at-least-once -o minimal.toml",
            ),
            ("replay the result", "eosim run minimal.toml"),
            (
                "keep a particular anomaly kind, within 100 candidate runs",
                "eosim shrink jepsen-queue --seed 59 --variant no-txn-epoch-bump \
                 --anomaly aborted-read --max-runs 100",
            ),
        ],
        &[
            VIOLATED.meaning(
                "the shrunk failure was written (it fails, which is the point); also when the \
                 shrunk plan did not replay the same way twice (a determinism bug, said so)",
            ),
            BAD_INPUT.meaning(
                "bad input: a malformed scenario or flag, or a seed that does not fail (or not \
                 with the anomaly asked for)",
            ),
            INTERRUPTED.meaning(
                "interrupted by Ctrl-C: the smallest plan found so far is confirmed and written",
            ),
        ],
    )
}

pub fn soak() -> StyledStr {
    after_help(
        &[
            (
                "100 seeds of every must-pass case, swarm off and on",
                "eosim soak",
            ),
            (
                "a nightly run on fresh seeds, with a JUnit report",
                "eosim soak --seeds-per-scenario 1000 --first-seed 20250601000 --junit soak.xml",
            ),
            (
                "shard 1 of 8; `eosim merge soak-*.json` joins them",
                "eosim soak --shard 1/8 --json > soak-1.json",
            ),
        ],
        &[HELD, VIOLATED, BAD_INPUT, INTERRUPTED],
    )
}

pub fn hunt() -> StyledStr {
    after_help(
        &[
            (
                "how fast one variant is caught, shrunk, and the default clean on the same runs",
                "eosim hunt no-dedup",
            ),
            (
                "every variant, as README's variant table",
                "eosim hunt --all --markdown",
            ),
            (
                "every variant as JSON, 30 s per variant at most",
                "eosim hunt --all --json --budget-s 30",
            ),
        ],
        &[
            HELD.meaning(
                "every variant that has a catcher was caught, and the default protocol passed \
                 the same runs (a variant without a catcher is reported, not a failure)",
            ),
            VIOLATED.meaning(
                "a variant with a catcher was not caught within the budget, or the default \
                 protocol failed one of its runs (a serious finding: the replay command is shown)",
            ),
            BAD_INPUT.meaning("bad input: an unknown variant, or a zero budget or seed cap"),
            INTERRUPTED,
        ],
    )
}

pub fn list() -> StyledStr {
    after_help(
        &[(
            "scenarios, guarantees, variants and anomaly kinds",
            "eosim list",
        )],
        &[HELD.meaning("always")],
    )
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand clap knows (walked from the command tree, so a new one cannot be
    /// forgotten), with its path: `eosim sweep`.
    fn every_command(command: &clap::Command, path: &str, out: &mut Vec<(String, clap::Command)>) {
        for sub in command.get_subcommands() {
            let path = format!("{path} {}", sub.get_name());
            out.push((path.clone(), sub.clone()));
            every_command(sub, &path, out);
        }
    }

    #[test]
    fn every_subcommand_ends_its_help_with_examples_of_itself_and_exit_codes() {
        let mut root = crate::Cli::command();
        root.build();
        let mut commands = Vec::new();
        every_command(&root, "eosim", &mut commands);
        // clap's own `help` subcommand (and its mirror of ours) is not ours to document.
        commands.retain(|(path, _)| path != "eosim help" && !path.starts_with("eosim help "));
        assert!(commands.len() >= 10, "{}", commands.len());
        for (path, mut command) in commands {
            for help in [
                command.render_long_help().to_string(),
                command.render_help().to_string(),
            ] {
                let examples = help
                    .split("Examples:\n")
                    .nth(1)
                    .unwrap_or_else(|| panic!("`{path} --help` has no Examples:\n{help}"));
                assert!(
                    examples
                        .lines()
                        .map(str::trim)
                        .any(|l| l == path || l.starts_with(&format!("{path} "))),
                    "`{path} --help` has no example of itself:\n{help}"
                );
                let codes: Vec<u8> = help
                    .split("Exit codes:\n")
                    .nth(1)
                    .unwrap_or_else(|| panic!("`{path} --help` has no Exit codes:\n{help}"))
                    .lines()
                    .map_while(|l| l.split_whitespace().next()?.parse().ok())
                    .collect();
                assert!(!codes.is_empty(), "`{path} --help` lists no exit code");
                if path != "eosim list" {
                    assert!(codes.contains(&2), "`{path}`: bad input exits 2:\n{help}");
                }
            }
        }
    }
}

#[cfg(test)]
mod completeness {
    use clap::CommandFactory;

    /// Every subcommand's arguments: (command, the flag's spellings — `--output`, `-o`;
    /// none for a positional —, whether it has help).
    fn flags() -> Vec<(String, Vec<String>, bool)> {
        let mut out = Vec::new();
        for sub in crate::Cli::command().get_subcommands() {
            for arg in sub.get_arguments() {
                let spellings = arg
                    .get_long()
                    .map(|l| format!("--{l}"))
                    .into_iter()
                    .chain(arg.get_short().map(|c| format!("-{c}")))
                    .collect();
                out.push((
                    sub.get_name().to_string(),
                    spellings,
                    arg.get_help().is_some(),
                ));
            }
        }
        out
    }

    #[test]
    fn every_argument_says_what_it_is() {
        let silent: Vec<String> = flags()
            .into_iter()
            .filter(|(_, _, helped)| !helped)
            .map(|(command, flag, _)| format!("{command} {}", flag.join("/")))
            .collect();
        assert!(silent.is_empty(), "arguments without help: {silent:?}");
    }

    /// README's "Command line" synopsis names every subcommand and each of its flags.
    #[test]
    fn readme_synopsis_has_every_command_and_flag() {
        let readme = include_str!("../README.md");
        let synopsis = readme
            .split("\n## Command line\n")
            .nth(1)
            .expect("README has a Command line section")
            .split("\n\n")
            .map(|block| block.trim_start_matches('\n'))
            .find(|block| block.starts_with("    eosim "))
            .expect("a synopsis block");
        let mut missing = Vec::new();
        for (command, flag, _) in flags() {
            let lines: Vec<&str> = synopsis
                .lines()
                .filter(|l| l.trim_start().starts_with(&format!("eosim {command}")))
                .collect();
            if flag.is_empty() {
                continue;
            }
            let named = lines.iter().any(|l| {
                l.split(|c: char| !(c.is_alphanumeric() || c == '-'))
                    .any(|word| flag.iter().any(|f| f == word))
            });
            if !named {
                missing.push(format!("eosim {command} {}", flag.join("/")));
            }
        }
        assert!(missing.is_empty(), "README's synopsis lacks: {missing:?}");
    }
}
