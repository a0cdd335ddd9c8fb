//! A small driver for profiling the linearizability checker on one history:
//!
//!     cargo run --release -p eosim-checker --example lin_profile -- FILE FORMAT MODEL [ROUNDS] [--no-partition] [--threads N] [--json]
//!     perf record -g target/release/examples/lin_profile ...
//!
//! Checks the history ROUNDS times (default 20), parse excluded, and prints each partition's
//! counts and the best time, wall-clock and on-CPU (Linux; the machine is shared, and time
//! spent waiting for a core is noise). With --json, prints the report instead, to compare
//! reports before and after a change.

use std::time::{Duration, Instant};

use checker::lin::{CheckOptions, Format, ModelName, PreparedHistory};

/// The eosim binary's allocator, as in the benches.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: lin_profile FILE FORMAT MODEL [ROUNDS] [--no-partition] [--threads N] [--json]";
    let [file, format, model, rest @ ..] = args.as_slice() else {
        panic!("{usage}");
    };
    let format: Format = format.parse().expect(usage);
    let model: ModelName = model.parse().expect(usage);
    let (mut rounds, mut threads, mut partition, mut json) = (20, 1, true, false);
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--no-partition" => partition = false,
            "--json" => json = true,
            "--threads" => threads = rest.next().and_then(|n| n.parse().ok()).expect(usage),
            number => rounds = number.parse().expect(usage),
        }
    }
    let options = CheckOptions {
        threads,
        partition,
        time_budget: None,
        ..CheckOptions::default()
    };
    let text = std::fs::read_to_string(file).expect("readable history");
    let history = PreparedHistory::parse(&text, format, &options).expect("parsable history");
    let mut best = Duration::MAX;
    let mut best_on_cpu = Duration::MAX;
    let mut report = None;
    for _ in 0..rounds {
        let (start, start_on_cpu) = (Instant::now(), on_cpu());
        report = Some(history.check(model, &options).expect("checkable history"));
        best = best.min(start.elapsed());
        if let (Some(before), Some(after)) = (start_on_cpu, on_cpu()) {
            best_on_cpu = best_on_cpu.min(after - before);
        }
    }
    let report = report.expect("at least one round");
    if json {
        println!("{}", report.to_json());
        return;
    }
    for partition in &report.partitions {
        println!(
            "{:>8} {:>5} ops {:>9} search steps {:>9} model steps {:>8} states",
            partition.partition,
            partition.operations,
            partition.search_steps,
            partition.model_steps,
            partition.distinct_states
        );
    }
    println!(
        "{:?}: {} search steps, {} model steps, best {:.1} ms, on CPU {:.1} ms",
        report.verdict,
        report.search_steps,
        report.model_steps,
        best.as_secs_f64() * 1e3,
        best_on_cpu.as_secs_f64() * 1e3
    );
}

#[path = "../benches/thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::on_cpu;
