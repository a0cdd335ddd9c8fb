//! README's shown commands run as tests, so a stale example fails CI (issue 17).
//!
//! Every indented README block line `$ eosim …` is an example: the command (continued over
//! lines ending in `\`, pipes and `#` comments allowed: it runs under `sh` with the built
//! `eosim` first on `PATH`) and the lines under it, up to the next `$` line or the block's end,
//! its shown output. The shown output must appear in the real output (stdout and stderr
//! together) with these allowances, which are what README's excerpts need:
//! - whitespace is not compared (README wraps long lines), only the words in their order;
//! - `…` stands for anything (nothing, part of a line or many lines), and the shown output may
//!   start and end anywhere in the real one (an excerpt);
//! - a note after two spaces and `#` on a shown line is the reader's, not the program's.
//!
//! Examples run in a scratch folder holding a link to every file git tracks, so the files they
//! name must be shipped ones (a fresh clone in CI has nothing else), and what they write
//! (`-o minimal.toml`) stays out of the tree. A failure names the README line. The few
//! examples too slow for the suite's budget are in [`SLOW`], with the reason; they run with
//! `EOSIM_README_SLOW=1`. `EOSIM_README_BIN=target/release/eosim` runs them with a release
//! build instead of this one (the outputs must be the same: `.ci/same-traces-in-debug-and-release`). README's synopses and the commands it shows without output are
//! checked too, more loosely (options exist; the commands run without a usage error).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Examples not run by default: (the command as README shows it, why).
const SLOW: &[(&str, &str)] = &[
    (
        "eosim sweep eos-test --seeds 0..200",
        "200 eos-test seeds: 37 s in a debug build on this 2-core machine",
    ),
    (
        "eosim sweep eos-test --seeds 0..200 --guarantee at-least-once",
        "200 eos-test seeds: 43 s in a debug build on this 2-core machine",
    ),
    (
        "eosim compare eos-test --seeds 0..50 --guarantees at-least-once,exactly-once,exactly-once-v2",
        "150 eos-test runs: 26 s in a debug build on this 2-core machine",
    ),
    (
        "eosim compare scenarios/talk/eos-vs-alos-100b.toml --seeds 0..10 --guarantees at-least-once,exactly-once,exactly-once-v2",
        "30 saturated runs of 100,000 records: 55 s in a release build on this 2-core machine, \
         many minutes in a debug build",
    ),
    (
        "eosim compare scenarios/talk/eos-vs-alos-100b.toml --seeds 0..10 --guarantees at-least-once,exactly-once,exactly-once-v2 --html talk.html",
        "the same 30 saturated runs, for the page",
    ),
];

/// One README example: where it is, what it runs, what it shows.
#[derive(Debug)]
struct Example {
    /// 1-based line of README where the `$` line is.
    line: usize,
    /// The command as shown, without the `$ ` (continuation lines joined by newlines).
    command: String,
    /// The shown output lines, as in README.
    shown: Vec<String>,
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    std::fs::read_to_string(path).expect("README.md reads")
}

/// An indented code block's line (4 spaces), without the indentation.
fn block_line(line: &str) -> Option<&str> {
    line.strip_prefix("    ")
}

/// Every `$ eosim` example in `readme`, in order.
fn examples(readme: &str) -> Vec<Example> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first = block_line(lines[i]).and_then(|l| l.strip_prefix("$ "));
        let Some(first) = first.filter(|c| c.starts_with("eosim ")) else {
            i += 1;
            continue;
        };
        let line = i + 1;
        let mut command = first.to_string();
        while command.ends_with('\\') && i + 1 < lines.len() {
            i += 1;
            command.push('\n');
            command.push_str(lines[i].trim());
        }
        i += 1;
        let mut shown = Vec::new();
        while i < lines.len() && in_block(&lines, i) {
            if block_line(lines[i]).is_some_and(|l| l.starts_with("$ ")) {
                break;
            }
            shown.push(lines[i].to_string());
            i += 1;
        }
        found.push(Example {
            line,
            command,
            shown,
        });
    }
    found
}

/// Whether line `i` belongs to the indented block above it: indented, or blank with the
/// block going on after it.
fn in_block(lines: &[&str], i: usize) -> bool {
    if lines[i].trim().is_empty() {
        return lines[i + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| block_line(l).is_some());
    }
    block_line(lines[i]).is_some()
}

/// The words of `text` joined by single spaces, with a shown line's reader notes (two spaces,
/// `#`) dropped when `notes` is set.
fn words(text: &str, notes: bool) -> String {
    let mut all = Vec::new();
    for line in text.lines() {
        let line = match line.find("  # ") {
            Some(at) if notes => &line[..at],
            _ => line,
        };
        all.extend(line.split_whitespace());
    }
    all.join(" ")
}

/// Where the shown output first departs from `real`: the shown piece (between `…`s) that is
/// not found after the pieces before it, or `None` when it all matches. A piece starts and
/// ends at word boundaries unless a `…` is glued to it (`(…)`), so `failed: 8` does not match
/// `failed: 84`.
fn first_missing_piece(shown: &str, real: &str) -> Option<String> {
    let real = format!(" {} ", words(real, false));
    let shown = words(shown, true);
    let pieces: Vec<&str> = shown.split('…').collect();
    let mut from = 0;
    for (index, raw) in pieces.iter().enumerate() {
        let piece = raw.trim();
        if piece.is_empty() {
            continue;
        }
        let glued_left = index > 0 && !raw.starts_with(' ');
        let glued_right = index + 1 < pieces.len() && !raw.ends_with(' ');
        let pattern = format!(
            "{}{piece}{}",
            if glued_left { "" } else { " " },
            if glued_right { "" } else { " " }
        );
        match real[from..].find(&pattern) {
            // The closing space may open the next piece.
            Some(at) => from += at + pattern.len() - usize::from(!glued_right),
            None => return Some(piece.to_string()),
        }
    }
    None
}

/// A scratch folder with a link to every file git tracks (what a clone has: an example that
/// uses a file nobody committed fails here too), or, outside a git checkout, to every
/// top-level entry of the repository but `target`.
/// `name` keeps the folders of tests running at once apart.
fn workdir(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("eosim-readme-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    match tracked_files(root) {
        Some(files) => {
            for file in files {
                let link = dir.join(&file);
                std::fs::create_dir_all(link.parent().unwrap()).unwrap();
                std::os::unix::fs::symlink(root.join(&file), link).unwrap();
            }
        }
        None => {
            for entry in std::fs::read_dir(root).unwrap() {
                let entry = entry.unwrap();
                if entry.file_name() != "target" {
                    std::os::unix::fs::symlink(entry.path(), dir.join(entry.file_name())).unwrap();
                }
            }
        }
    }
    dir
}

/// The files git tracks under `root`, relative to it; `None` without git or a checkout.
fn tracked_files(root: &Path) -> Option<Vec<PathBuf>> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|out| out.status.success())?;
    let list = String::from_utf8(out.stdout).ok()?;
    let files: Vec<PathBuf> = list
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .filter(|f| root.join(f).exists())
        .collect();
    (!files.is_empty()).then_some(files)
}

/// The `eosim` the examples run: this build's, or the one `EOSIM_README_BIN` names (e.g. a
/// release build's, `target/release/eosim`: README's figures are measured with it).
fn eosim_bin() -> PathBuf {
    // Made absolute: the examples run in another folder.
    std::env::var_os("EOSIM_README_BIN")
        .map(|bin| std::fs::canonicalize(&bin).expect("EOSIM_README_BIN names a file"))
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_eosim")))
}

/// Runs `command` under `sh` in `dir` with the built `eosim` first on `PATH`: stdout and stderr
/// together, and the exit code (`None` when a signal ended it).
fn run(command: &str, dir: &Path) -> (String, Option<i32>) {
    let bin = eosim_bin();
    let bin = bin.parent().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{{ {command}\n}} 2>&1"))
        .current_dir(dir)
        .env("PATH", std::env::join_paths(dirs).unwrap())
        .env_remove("EOSIM_SCREENSHOTS")
        .output()
        .expect("sh runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

/// `command` as [`SLOW`] names it: its words, without a trailing `#` comment.
fn command_key(command: &str) -> String {
    let command = words(command, false);
    command.split(" # ").next().unwrap_or_default().to_string()
}

fn slow_reason(command: &str) -> Option<&'static str> {
    let key = command_key(command);
    SLOW.iter()
        .find(|(slow, _)| *slow == key)
        .map(|&(_, why)| why)
}

/// What is wrong with `example` (its README line named), or `None` when its output matches.
fn check(example: &Example, dir: &Path) -> Option<String> {
    let (real, code) = run(&example.command, dir);
    // eosim's exit codes are 0, 1 and 2; anything else (a panic's 101, a signal) is a crash,
    // which no example shows.
    if !matches!(code, Some(0..=2)) {
        return Some(format!(
            "README.md:{}: `{}` crashed (exit {code:?}):\n{}",
            example.line,
            example.command,
            excerpt(&real)
        ));
    }
    let shown = example.shown.join("\n");
    let missing = first_missing_piece(&shown, &real)?;
    Some(format!(
        "README.md:{}: `{}`: its shown output is not what it prints; first part not found: \
         `{missing}`\n--- shown ---\n{shown}\n--- printed ---\n{}",
        example.line,
        example.command,
        excerpt(&real)
    ))
}

/// `text`, or its first and last lines when it is long (a `--trace` prints thousands).
fn excerpt(text: &str) -> String {
    const HEAD: usize = 40;
    const TAIL: usize = 20;
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= HEAD + TAIL {
        return text.to_string();
    }
    let skipped = lines.len() - HEAD - TAIL;
    format!(
        "{}\n[… {skipped} lines …]\n{}",
        lines[..HEAD].join("\n"),
        lines[lines.len() - TAIL..].join("\n")
    )
}

#[test]
fn every_readme_example_prints_what_readme_shows() {
    let all = examples(&readme());
    assert!(all.len() >= 10, "README examples found: {all:#?}");
    let with_slow = std::env::var_os("EOSIM_README_SLOW").is_some();
    let dir = workdir("examples");
    let mut stale = Vec::new();
    for example in &all {
        if slow_reason(&example.command).is_some() && !with_slow {
            continue;
        }
        stale.extend(check(example, &dir));
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        stale.is_empty(),
        "{} README example(s) stale:\n\n{}",
        stale.len(),
        stale.join("\n\n")
    );
}

#[test]
fn every_slow_example_is_still_in_readme() {
    let readme = readme();
    let all = examples(&readme);
    let bare = bare_commands(&readme);
    for (slow, _) in SLOW {
        assert!(
            all.iter().any(|e| command_key(&e.command) == *slow)
                || bare.iter().any(|(_, c)| command_key(c) == *slow),
            "SLOW names `{slow}`, which README no longer shows"
        );
    }
}

#[test]
fn the_matcher_allows_wrapping_ellipses_and_notes_and_nothing_else() {
    let real =
        "head\nverdict: FAIL (duplicate ×2)\n  - duplicate: value 7 at offsets [1, 4] of p-0\ntail";
    let wrapped =
        "verdict: FAIL (duplicate ×2)\n  - duplicate: value 7\n      at offsets [1, 4] of p-0";
    assert_eq!(first_missing_piece(wrapped, real), None);
    assert_eq!(first_missing_piece("head\n…\ntail  # a note", real), None);
    assert_eq!(first_missing_piece("value 7 at … [1, 4] …", real), None);
    assert_eq!(
        first_missing_piece("value 7 at offsets [1, 5]", real).as_deref(),
        Some("value 7 at offsets [1, 5]")
    );
    // Whole words: a shown number is not the start of a longer one.
    assert_eq!(
        first_missing_piece("value 7 at offsets [1, 4] of p", real).as_deref(),
        Some("value 7 at offsets [1, 4] of p")
    );
    assert_eq!(first_missing_piece("FAIL (dup…", real), None);
    assert_eq!(first_missing_piece("…plicate ×2)", real), None);
    assert_eq!(
        first_missing_piece("FAIL (dup", real).as_deref(),
        Some("FAIL (dup")
    );
    // Order counts: a piece is looked for after the one before it.
    assert_eq!(
        first_missing_piece("tail … head", real).as_deref(),
        Some("head")
    );
}

#[test]
fn examples_are_read_with_their_continuations_and_outputs() {
    let text = "prose\n\n    $ eosim a \\\n        | grep b   # note\n    out 1\n\n    out 2\n    $ eosim c\n\nprose\n";
    let found = examples(text);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].line, 3);
    assert_eq!(found[0].command, "eosim a \\\n| grep b   # note");
    assert_eq!(found[0].shown, ["    out 1", "", "    out 2"]);
    assert_eq!(found[1].command, "eosim c");
    assert!(found[1].shown.is_empty());
}

/// README's indented block lines that start with `eosim ` (no `$`, no output shown), outside
/// the blocks of `$` examples (whose output may start with `eosim run …`): (README line, the
/// line without a trailing `#` note).
fn bare_commands(readme: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_example = false;
    for (i, line) in readme.lines().enumerate() {
        let Some(code) = block_line(line) else {
            if !line.trim().is_empty() {
                in_example = false;
            }
            continue;
        };
        in_example |= code.starts_with("$ ");
        if let Some(command) = code.strip_prefix("eosim ").filter(|_| !in_example) {
            let command = command.split("  #").next().unwrap_or_default().trim();
            found.push((i + 1, format!("eosim {command}")));
        }
    }
    found
}

/// A synopsis (`eosim run <scenario> [--seed N] …`) rather than a command to run.
fn is_synopsis(command: &str) -> bool {
    command.contains('[') || command.contains('<') || command == "eosim list"
}

/// The options a synopsis or a `--help` text names (`--seed`, `-o`): words starting with `-`,
/// up to the first character that is not a letter, digit or `-`.
fn options(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '|' | ','))
        .filter(|w| w.starts_with('-') && w.len() > 1)
        .map(|w| {
            let end = w[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(w.len(), |at| at + 1);
            w[..end].to_string()
        })
        .filter(|w| w.len() > 1 && w != "--")
        .collect()
}

/// The options `eosim <subcommand> --help` lists (its option lines only, not its examples).
fn help_options(subcommand: &str) -> std::collections::BTreeSet<String> {
    let out = Command::new(eosim_bin())
        .args([subcommand, "--help"])
        .output()
        .expect("eosim runs");
    let help = String::from_utf8_lossy(&out.stdout);
    help.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .flat_map(|l| options(l.split("  ").next().unwrap_or_default()))
        .collect()
}

/// Every README synopsis names only options its command has (`src/help.rs` holds the other
/// direction: the "Command line" synopses name every option).
#[test]
fn readme_synopses_name_only_options_their_commands_have() {
    let mut wrong = Vec::new();
    let mut synopses = 0;
    for (line, synopsis) in bare_commands(&readme()) {
        if !is_synopsis(&synopsis) {
            continue;
        }
        synopses += 1;
        let subcommand = synopsis.split_whitespace().nth(1).unwrap();
        let has = help_options(subcommand);
        for option in options(&synopsis).difference(&has) {
            wrong.push(format!(
                "README.md:{line}: `eosim {subcommand}` has no option {option}"
            ));
        }
    }
    assert!(synopses >= 10, "synopses found: {synopses}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// README's commands shown without output (the HTML report's) still run: no usage error
/// (exit 2), no crash. Those in [`SLOW`] only with `EOSIM_README_SLOW=1`.
#[test]
fn readme_commands_without_output_still_run() {
    let with_slow = std::env::var_os("EOSIM_README_SLOW").is_some();
    let commands: Vec<(usize, String)> = bare_commands(&readme())
        .into_iter()
        .filter(|(_, c)| !is_synopsis(c) && (with_slow || slow_reason(c).is_none()))
        .collect();
    assert!(commands.len() >= 4, "commands found: {commands:?}");
    let dir = workdir("commands");
    let mut wrong = Vec::new();
    for (line, command) in &commands {
        let (out, code) = run(command, &dir);
        if !matches!(code, Some(0 | 1)) {
            wrong.push(format!(
                "README.md:{line}: `{command}` exit {code:?}:\n{}",
                excerpt(&out)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
