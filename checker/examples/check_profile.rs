//! A small driver for profiling `check_all` (the log and transaction checkers) on saved
//! histories, and for comparing its findings before and after a change:
//!
//!     cargo run --release -p eosim-checker --example check_profile -- [--rounds N] [--dump] FILE...
//!     valgrind --tool=callgrind target/release/examples/check_profile --rounds 10 FILE...
//!
//! Parses every FILE (eosim JSON Lines, e.g. from `eosim run --history`) once, then checks
//! each ROUNDS times (default 1). With --dump, prints each file's findings as JSON, one line
//! per file, to diff against the output of another build.
//!
//! The allocator is the eosim binary's (mimalloc), as for `eosim check FILE`: how the kernel
//! hands out and zeroes fresh pages is a good part of a check's time, and differs by allocator.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let usage = "usage: check_profile [--rounds N] [--dump] FILE...";
    let (mut rounds, mut dump, mut files) = (1, false, Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => rounds = args.next().and_then(|n| n.parse().ok()).expect(usage),
            "--dump" => dump = true,
            _ => files.push(arg),
        }
    }
    assert!(!files.is_empty(), "{usage}");
    let histories: Vec<(String, checker::History)> = files
        .into_iter()
        .map(|file| {
            let reader = std::io::BufReader::new(std::fs::File::open(&file).expect("readable"));
            let history = checker::History::from_jsonl(reader, &file).expect("a history");
            (file, history)
        })
        .collect();
    let start = std::time::Instant::now();
    let mut findings = 0;
    for _ in 0..rounds {
        for (file, history) in &histories {
            let found = checker::check_all(history);
            if let Ok(found) = &found {
                findings += found.len();
            }
            if dump {
                let found = found
                    .map(|found| {
                        let explained: Vec<String> = found.iter().map(|a| a.explain()).collect();
                        (found, explained)
                    })
                    .map_err(|e| e.to_string());
                println!(
                    "{file}\t{}",
                    serde_json::to_string(&found).expect("serialises")
                );
            }
        }
    }
    eprintln!(
        "{} histories x {rounds} rounds: {findings} findings, {:.2} ms per history check",
        histories.len(),
        1e3 * start.elapsed().as_secs_f64() / (rounds * histories.len()) as f64
    );
}
