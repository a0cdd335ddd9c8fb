//! Times the post-run part of a simulated seed on saved histories: `check_all` (which runs
//! the aggregate verifier over the history's own `aggregate_checks`, as for a Streams app)
//! and dropping the History, as the sweep worker does after each seed. Parsing is not timed.
//!
//!     cargo run --release -p eosim-checker --example seed_check -- [--rounds N] FILE...
//!     SEED_CHECK_FILES="a.jsonl b.jsonl" cargo run --release -p eosim-checker --example seed_check
//!     valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*seed_check::check_and_drop*' \
//!         target/release/examples/seed_check --rounds 1 FILE...
//!
//! Each round checks a fresh clone of each history (cloned outside the timed part), so the
//! drop is timed too. Prints per round the on-CPU and wall milliseconds per history, then
//! their medians.
//! Without files (neither arguments nor SEED_CHECK_FILES) it has nothing to time and says so.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

#[path = "../benches/thread_cpu.rs"]
mod thread_cpu;

/// This thread's time on CPU so far, or zero where unknown.
fn on_cpu() -> Duration {
    thread_cpu::on_cpu().unwrap_or_default()
}

/// What a seed does after its run: check, then drop the history. Not inlined, so callgrind
/// can count just this (`--toggle-collect`).
#[inline(never)]
fn check_and_drop(history: checker::History) -> usize {
    let found = checker::check_all(&history).expect("the history pairs up");
    drop(history);
    found.len()
}

fn main() {
    let usage = "usage: seed_check [--rounds N] FILE... (or SEED_CHECK_FILES)";
    let (mut rounds, mut files) = (5, Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => rounds = args.next().and_then(|n| n.parse().ok()).expect(usage),
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        let listed = std::env::var("SEED_CHECK_FILES").unwrap_or_default();
        files.extend(listed.split_whitespace().map(String::from));
    }
    if files.is_empty() {
        eprintln!("no histories to time; {usage}");
        return;
    }
    let histories: Vec<checker::History> = files
        .iter()
        .map(|file| {
            let reader = std::io::BufReader::new(std::fs::File::open(file).expect("readable"));
            checker::History::from_jsonl(reader, file).expect("a history")
        })
        .collect();
    let (mut on_cpu_per_round, mut wall_per_round) = (Vec::new(), Vec::new());
    let mut findings = 0;
    for _ in 0..rounds {
        let (mut spent, mut wall) = (Duration::ZERO, Duration::ZERO);
        for history in &histories {
            let fresh = history.clone();
            let (start, start_wall) = (on_cpu(), std::time::Instant::now());
            findings += check_and_drop(fresh);
            spent += on_cpu() - start;
            wall += start_wall.elapsed();
        }
        let per_history = |time: Duration| 1e3 * time.as_secs_f64() / histories.len() as f64;
        let (ms, wall_ms) = (per_history(spent), per_history(wall));
        eprintln!("round: {ms:.2} ms on CPU, {wall_ms:.2} ms wall per history");
        on_cpu_per_round.push(ms);
        wall_per_round.push(wall_ms);
    }
    // On-CPU time comes in scheduler ticks where the thread is not switched out: the wall
    // clock is the finer figure on an idle machine.
    let median = |mut times: Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    eprintln!(
        "{} histories x {rounds} rounds: {findings} findings; median {:.2} ms on CPU, {:.2} ms wall per history",
        histories.len(),
        median(on_cpu_per_round),
        median(wall_per_round)
    );
}
