//! Times the linearizability checker on Porcupine's test histories, single-threaded, parsing
//! excluded (as in Porcupine's reference figures), and prints the figures beside Porcupine's.
//!
//!     cargo bench -p eosim-checker --bench linearizability [-- ROUNDS] [CASE]
//!
//! Each figure is the minimum over ROUNDS runs (default 7): the least disturbed by other load.
//! Beside the wall-clock figure, the time on CPU (Linux; on a shared machine, time spent
//! waiting for a core is noise). CASE runs only the cases whose name contains it. The
//! allocator is the eosim binary's (mimalloc), so the figures are those of `eosim check`.
//!
//! Porcupine is not run here: its column is QUOTED from testdata/porcupine/FORMATS.md (the
//! footnote says which measurement), and "vs quoted" divides by it. The one ratio measured in
//! this run is the last line's: kv c50-bad over kv c50-ok (an illegal history ends early).

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::on_cpu;

use checker::lin::{CheckOptions, Format, LinReport, ModelName, PreparedHistory};

/// The eosim binary's allocator, so that the figures are those of `eosim check`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Case {
    name: String,
    histories: Vec<PreparedHistory>,
    model: ModelName,
    options: CheckOptions,
    /// Porcupine (Go, one thread) on the same histories, quoted from FORMATS.md: the time
    /// and the footnote naming the measurement.
    porcupine: Option<(Duration, usize)>,
}

fn testdata_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/porcupine");
    assert!(
        dir.is_dir(),
        "Porcupine test histories not found at {}",
        dir.display()
    );
    dir
}

fn prepare(file: &str, format: Format, options: &CheckOptions) -> PreparedHistory {
    let text = std::fs::read_to_string(testdata_dir().join(file)).unwrap();
    PreparedHistory::parse(&text, format, options).unwrap_or_else(|error| panic!("{file}: {error}"))
}

fn cases() -> Vec<Case> {
    let partitioned = CheckOptions {
        threads: 1,
        partition: true,
        time_budget: None,
        ..CheckOptions::default()
    };
    let unpartitioned = CheckOptions {
        partition: false,
        ..partitioned.clone()
    };
    let etcd = |number: u32| {
        prepare(
            &format!("jepsen/etcd_{number:03}.log"),
            Format::PorcupineEtcd,
            &partitioned,
        )
    };
    let case =
        |name: &str, histories, model, options: &CheckOptions, porcupine_ms: Option<f64>| Case {
            name: name.to_string(),
            histories,
            model,
            options: options.clone(),
            // Footnote 2 for the one figure of the newest Porcupine (issue 16), 1 otherwise.
            porcupine: porcupine_ms.map(|ms| {
                let source = if name.contains("c50-bad") { 2 } else { 1 };
                (Duration::from_secs_f64(ms / 1e3), source)
            }),
        };
    vec![
        case(
            "etcd, all 102 logs",
            (0..=102).map(etcd).collect(),
            ModelName::CasRegister,
            &partitioned,
            Some(299.0),
        ),
        case(
            "etcd_002",
            vec![etcd(2)],
            ModelName::CasRegister,
            &partitioned,
            Some(113.0),
        ),
        case(
            "etcd_007",
            vec![etcd(7)],
            ModelName::CasRegister,
            &partitioned,
            Some(76.0),
        ),
        case(
            "etcd_057",
            vec![etcd(57)],
            ModelName::CasRegister,
            &partitioned,
            Some(37.0),
        ),
        case(
            "etcd_099",
            vec![etcd(99)],
            ModelName::CasRegister,
            &partitioned,
            Some(35.0),
        ),
        case(
            "kv c50-ok partitioned",
            vec![prepare("kv/c50-ok.txt", Format::PorcupineKv, &partitioned)],
            ModelName::Kv,
            &partitioned,
            Some(112.0),
        ),
        case(
            "kv c50-bad partitioned",
            vec![prepare("kv/c50-bad.txt", Format::PorcupineKv, &partitioned)],
            ModelName::Kv,
            &partitioned,
            Some(8.3),
        ),
        case(
            "kv c10-ok unpartitioned",
            vec![prepare(
                "kv/c10-ok.txt",
                Format::PorcupineKv,
                &unpartitioned,
            )],
            ModelName::Kv,
            &unpartitioned,
            Some(1660.0),
        ),
        case(
            "kv c10-bad unpartitioned",
            vec![prepare(
                "kv/c10-bad.txt",
                Format::PorcupineKv,
                &unpartitioned,
            )],
            ModelName::Kv,
            &unpartitioned,
            None,
        ),
    ]
}

/// Checks every history of the case once; returns the time, the time on CPU and the reports.
fn run(case: &Case) -> (Duration, Option<Duration>, Vec<LinReport>) {
    let (start, start_on_cpu) = (Instant::now(), on_cpu());
    let reports: Vec<LinReport> = case
        .histories
        .iter()
        .map(|history| history.check(case.model, &case.options).unwrap())
        .collect();
    let elapsed_on_cpu = start_on_cpu.zip(on_cpu()).map(|(start, end)| end - start);
    (start.elapsed(), elapsed_on_cpu, reports)
}

/// Footnotes of the quoted Porcupine figures (see FORMATS.md).
const SOURCES: [&str; 2] = [
    "porcupine (quoted from FORMATS.md): Go 1.19, one thread, 2-vCPU x86-64 VM",
    "porcupine (quoted from FORMATS.md, measured 2026-12-05 for issue 16): newest Porcupine (2026-06-26, state hashing), Go 1.19, one thread",
];

/// Runs a case `rounds` times; returns the best time, the best time on CPU and the last reports.
fn best_of(case: &Case, rounds: usize) -> (Duration, Duration, Vec<LinReport>) {
    let mut best = Duration::MAX;
    let mut best_on_cpu = Duration::MAX;
    let mut reports = Vec::new();
    for _ in 0..rounds {
        let (elapsed, elapsed_on_cpu, run_reports) = run(case);
        best = best.min(elapsed);
        if let Some(elapsed_on_cpu) = elapsed_on_cpu {
            best_on_cpu = best_on_cpu.min(elapsed_on_cpu);
        }
        reports = run_reports;
    }
    (best, best_on_cpu, reports)
}

fn main() {
    // `cargo bench` passes "--bench"; a bare number is the round count.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args.iter().find_map(|arg| arg.parse().ok()).unwrap_or(7);
    let filter = args
        .iter()
        .find(|arg| !arg.starts_with('-') && arg.parse::<usize>().is_err());
    println!("linearizability checker, one thread, parse excluded, minimum of {rounds} runs\n");
    println!(
        "{:<26} {:>10} {:>25} {:>10} {:>13} {:>12} {:>10}",
        "case",
        "eosim",
        "porcupine (quoted) [n]",
        "vs quoted",
        "search steps",
        "model steps",
        "on CPU"
    );
    let mut kv_c50 = [None, None];
    for case in cases() {
        if filter.is_some_and(|filter| !case.name.contains(filter.as_str())) {
            continue;
        }
        let (best, best_on_cpu, reports) = best_of(&case, rounds);
        let search_steps: u64 = reports.iter().map(|report| report.search_steps).sum();
        let model_steps: u64 = reports.iter().map(|report| report.model_steps).sum();
        let (porcupine, ratio) = match case.porcupine {
            Some((reference, source)) => (
                format!("{:.1} ms quoted [{source}]", reference.as_secs_f64() * 1e3),
                format!("{:.2}", best.as_secs_f64() / reference.as_secs_f64()),
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<26} {:>7.1} ms {:>25} {:>10} {:>13} {:>12} {:>7.1} ms",
            case.name,
            best.as_secs_f64() * 1e3,
            porcupine,
            ratio,
            search_steps,
            model_steps,
            best_on_cpu.as_secs_f64() * 1e3
        );
        if case.name.starts_with("kv c50-") {
            kv_c50[usize::from(case.name.contains("bad"))] = Some((best, best_on_cpu));
        }
    }
    println!(
        "\nPorcupine is not run by this bench: its column is quoted from FORMATS.md, not measured;"
    );
    println!("only the eosim column and the c50-bad / c50-ok ratio below are measured here.");
    for (number, source) in SOURCES.iter().enumerate() {
        println!("  [{}] {source}", number + 1);
    }
    if let [Some((ok, ok_on_cpu)), Some((bad, bad_on_cpu))] = kv_c50 {
        println!(
            "measured in this run: kv c50-bad / kv c50-ok = {:.3} (on CPU {:.3}); target <= 0.25",
            bad.as_secs_f64() / ok.as_secs_f64(),
            bad_on_cpu.as_secs_f64() / ok_on_cpu.as_secs_f64()
        );
    }
}
