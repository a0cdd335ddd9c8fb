//! The eosim command line. See the repository's DESIGN.md ("Command line") for the contract.
//! Exit codes: 0 every property held; 1 a property was violated; 2 bad input or usage;
//! 3 an inconclusive linearizability check; 130 interrupted (Ctrl-C) after reporting.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use clap::{Parser, Subcommand};
use eosim::model::{Guarantee, Variant};
use eosim::reports::{SweepReport, SweepTally};
use eosim::scenarios::{self, RunOptions};
use eosim::{SeedRange, Shard};

#[derive(Parser)]
#[command(
    name = "eosim",
    version,
    about = "Deterministic simulation and fault injection for exactly-once stream processing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct RunKnobs {
    /// Processing guarantee: at-most-once, at-least-once, exactly-once (default: the scenario's).
    #[arg(long, value_parser = parse_guarantee)]
    guarantee: Option<Guarantee>,
    /// Protocol variant to switch on (repeatable); `eosim list` names them.
    #[arg(long = "variant", value_parser = parse_variant)]
    variants: Vec<Variant>,
    /// Swarm testing: each seed enables a random subset of the fault kinds, message kinds and
    /// nodes (shown in the report) and draws its faults over it; a scenario without a fault
    /// mix gets the default one.
    #[arg(long)]
    swarm: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run one seed of a scenario and check it.
    Run(RunArgs),
    /// Run many seeds in parallel and summarise. Ctrl-C: summarise what finished, exit 130.
    Sweep {
        scenario: String,
        /// Seed range A..B (B exclusive) or A..=B; any u64 ends, iterated lazily.
        #[arg(long)]
        seeds: String,
        /// Worker threads (default: available cores; at most 8 per core, 1024 in all).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard K of N (1-based): seeds at positions ≡ K-1 (mod N).
        #[arg(long)]
        shard: Option<String>,
        #[command(flatten)]
        knobs: RunKnobs,
        #[arg(long)]
        json: bool,
        /// Write a JUnit XML report (one test case per seed) to this file.
        #[arg(long)]
        junit: Option<std::path::PathBuf>,
    },
    /// The same seeds and fault plans under each guarantee, side by side: failed runs,
    /// duplicates, losses, aborted reads, wrong aggregates, throughput and end-to-end latency
    /// in virtual time. Exit 0 once the table is made (failures under a weaker guarantee are
    /// the point), 2 on bad input, 130 on Ctrl-C (the table of the seeds that finished).
    Compare {
        scenario: String,
        /// Seed range A..B (B exclusive) or A..=B.
        #[arg(long)]
        seeds: String,
        /// Comma-separated guarantees, in table order.
        #[arg(long, default_value = "at-least-once,exactly-once")]
        guarantees: String,
        /// Protocol variant to switch on for every guarantee (repeatable).
        #[arg(long = "variant", value_parser = parse_variant)]
        variants: Vec<Variant>,
        /// Swarm testing (as for `run`): the same drawn subset under every guarantee.
        #[arg(long)]
        swarm: bool,
        /// Worker threads (default: available cores; at most 8 per core, 1024 in all).
        #[arg(long)]
        jobs: Option<usize>,
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML page with a chart per measure.
        #[arg(long)]
        html: Option<std::path::PathBuf>,
    },
    /// Merge the JSON results of a sharded sweep (`sweep --shard K/N --json`) into one. The
    /// files must be exactly the shards 1/N … N/N of one sweep, each complete (else exit 2).
    Merge {
        /// The shards' JSON files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        junit: Option<std::path::PathBuf>,
    },
    /// Run a seed again; with --check-determinism run it twice and compare the traces.
    Replay {
        scenario: String,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        check_determinism: bool,
        #[command(flatten)]
        knobs: RunKnobs,
    },
    /// Check a history file: eosim JSON Lines with the log checkers, or a Porcupine / Jepsen
    /// history for linearizability. Exit 3: inconclusive (the time budget ran out).
    Check(CheckArgs),
    /// Minimise a failing seed's fault plan to the fewest, weakest, earliest faults that still
    /// show the same anomaly kind; confirm it twice; write it as a scenario file. Ctrl-C:
    /// stop shrinking, confirm and write the smallest plan so far, exit 130.
    Shrink {
        scenario: String,
        #[arg(long)]
        seed: u64,
        #[command(flatten)]
        knobs: RunKnobs,
        /// Write the minimal scenario here (default: print it).
        #[arg(short = 'o', long = "output")]
        output: Option<std::path::PathBuf>,
        /// Budget of candidate runs.
        #[arg(long, default_value_t = scenarios::shrink::DEFAULT_MAX_RUNS)]
        max_runs: u32,
        /// The anomaly kind to keep (default: the run's first finding's kind).
        #[arg(long)]
        anomaly: Option<String>,
    },
    /// Every built-in scenario under each guarantee (and variant set) that must pass, with
    /// swarm testing off and on; fails on any failure, with the replay commands. Ctrl-C: the
    /// sweeps that finished, exit 130. See README "Soak" for the nightly size.
    Soak(SoakArgs),
    /// List built-in scenarios, guarantees, variants and anomaly kinds.
    List,
}

#[derive(clap::Args)]
struct RunArgs {
    /// A built-in scenario name or a scenario file path.
    scenario: String,
    /// Seed (default: the scenario's `seed`, or 0).
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    knobs: RunKnobs,
    /// Print the JSON result instead of the text summary.
    #[arg(long)]
    json: bool,
    /// Print the event trace before the result.
    #[arg(long)]
    trace: bool,
    /// Write the recorded history (JSON Lines) to this file.
    #[arg(long)]
    history: Option<std::path::PathBuf>,
    /// Write a JUnit XML report to this file.
    #[arg(long)]
    junit: Option<std::path::PathBuf>,
    /// Write a self-contained HTML report (timeline, causal chains, offsets) to this file.
    #[arg(long)]
    html: Option<std::path::PathBuf>,
}

#[derive(clap::Args)]
struct CheckArgs {
    file: std::path::PathBuf,
    /// eosim | porcupine-etcd | porcupine-kv | jepsen-edn.
    #[arg(long, default_value = "eosim")]
    format: String,
    /// Linearizability model: register, cas-register, multi-register, mutex, kv, log
    /// (default: cas-register for etcd and EDN histories, kv for kv histories).
    #[arg(long)]
    model: Option<String>,
    /// Worker threads over independent partitions (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Check the history as a whole instead of per key (P-compositionality off).
    #[arg(long)]
    no_partition: bool,
    /// jepsen-edn: a failed CAS observed a different value (instead of not happening).
    #[arg(long)]
    failed_cas_observes: bool,
    /// Give up with verdict `unknown` after this many seconds.
    #[arg(long, default_value_t = 60)]
    time_budget_s: u64,
    /// Give up with verdict `unknown` once the search's own tables (cached
    /// configurations, states, stacks) hold more than this many MiB.
    #[arg(long, default_value_t = 4096)]
    memory_budget_mb: u64,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct SoakArgs {
    /// Seeds per scenario, run key and swarm setting.
    #[arg(long, default_value_t = 100)]
    seeds_per_scenario: u64,
    /// First seed (use a fresh range each night, e.g. from the date).
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Run only shard K of N (1-based) of every sweep.
    #[arg(long)]
    shard: Option<String>,
    /// Worker threads (default: available cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// both (default), on or off.
    #[arg(long, default_value = "both")]
    swarm: String,
    #[arg(long)]
    json: bool,
    /// Write a JUnit XML report (a test case per sweep) to this file.
    #[arg(long)]
    junit: Option<std::path::PathBuf>,
}

fn parse_guarantee(s: &str) -> Result<Guarantee, String> {
    Guarantee::from_name(s).ok_or_else(|| {
        let known: Vec<_> = Guarantee::ALL.iter().map(|g| g.name()).collect();
        format!("unknown guarantee {s:?} (known: {})", known.join(", "))
    })
}

fn parse_variant(s: &str) -> Result<Variant, String> {
    Variant::from_name(s).ok_or_else(|| {
        let known: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
        format!("unknown variant {s:?} (known: {})", known.join(", "))
    })
}

/// Bad input (a malformed scenario, range or file): reported, exit 2.
#[derive(Debug)]
struct BadInput(String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        // Every error that reaches here is about the input (files, scenarios, arguments).
        Err(e) => {
            eprintln!("eosim: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `RUST_LOG` filters tracing output (timestamps inside the simulation are virtual).
fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init();
    }
}

/// Loads a scenario; `swarm` switches swarm testing on (`--swarm`).
fn load(scenario: &str, swarm: bool) -> Result<scenarios::Scenario, BadInput> {
    let loaded = scenarios::load(scenario).map_err(|e| BadInput(e.to_string()))?;
    Ok(if swarm { loaded.with_swarm() } else { loaded })
}

/// Writes to stdout; a closed pipe (`eosim run … | head`) ends the program quietly instead of
/// panicking.
fn emit(text: &str) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("eosim: writing output: {e}");
        std::process::exit(2);
    }
}

fn exit_for(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn options(seed: u64, knobs: &RunKnobs, record_trace: bool) -> RunOptions {
    RunOptions {
        seed,
        guarantee: knobs.guarantee,
        variants: knobs.variants.clone(),
        record_trace,
        plan_override: None,
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run(args) => run(args),
        Command::Sweep {
            scenario,
            seeds,
            jobs,
            shard,
            knobs,
            json,
            junit,
        } => sweep(
            &scenario,
            &seeds,
            jobs,
            shard,
            &knobs,
            json,
            junit.as_deref(),
        ),
        Command::Merge { files, json, junit } => merge(&files, json, junit.as_deref()),
        Command::Compare {
            scenario,
            seeds,
            guarantees,
            variants,
            swarm,
            jobs,
            json,
            html,
        } => compare(
            &scenario,
            &seeds,
            &guarantees,
            (variants, swarm),
            jobs,
            json,
            html.as_deref(),
        ),
        Command::Replay {
            scenario,
            seed,
            check_determinism,
            knobs,
        } => replay(&scenario, seed, check_determinism, &knobs),
        Command::Check(args) => check(args),
        Command::Shrink {
            scenario,
            seed,
            knobs,
            output,
            max_runs,
            anomaly,
        } => shrink(
            &scenario,
            seed,
            &knobs,
            output.as_deref(),
            max_runs,
            anomaly.as_deref(),
        ),
        Command::Soak(args) => soak(args),
        Command::List => list(),
    }
}

/// Runs one seed; writes what was asked for (HTML, trace, history, JUnit) and the report.
fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let RunArgs {
        scenario,
        seed,
        knobs,
        json,
        trace,
        history,
        junit,
        html,
    } = args;
    let loaded = load(&scenario, knobs.swarm)?;
    let seed = seed.or(loaded.seed).unwrap_or(0);
    let outcome = scenarios::run(&loaded, &options(seed, &knobs, trace || html.is_some()));
    if let Some(path) = &html {
        write_file(path, &eosim::html_report(&outcome, &scenario))?;
    }
    if let Some(events) = outcome.trace.recorded.as_ref().filter(|_| trace) {
        let mut text = String::new();
        for e in events {
            text.push_str(&outcome.trace.render(e));
            text.push('\n');
        }
        emit(&text);
    }
    if let Some(path) = history {
        std::fs::write(&path, outcome.history.to_jsonl())
            .with_context(|| format!("writing the history to {}", path.display()))?;
    }
    let report = eosim::report(&outcome, &scenario);
    if let Some(path) = junit {
        write_file(&path, &eosim::reports::junit::run_junit(&report))?;
    }
    emit(&if json {
        report.to_json() + "\n"
    } else {
        report.to_text()
    });
    Ok(exit_for(report.passed()))
}

/// Checks a history file: eosim's own format with the log checkers, the others for
/// linearizability within the budgets.
fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    if args.format == "eosim" {
        return check_history(&args.file, args.json);
    }
    if args.memory_budget_mb == 0 {
        return Err(BadInput("--memory-budget-mb must be at least 1".into()).into());
    }
    let options = eosim::checker::lin::CheckOptions {
        threads: args.threads.max(1),
        partition: !args.no_partition,
        time_budget: Some(std::time::Duration::from_secs(args.time_budget_s)),
        memory_budget: Some(
            usize::try_from(args.memory_budget_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
        ),
        failed_cas_is_observation: args.failed_cas_observes,
    };
    check_linearizability(
        &args.file,
        &args.format,
        args.model.as_deref(),
        &options,
        args.json,
    )
}

/// `eosim list`: built-in scenarios, guarantees and variants.
fn list() -> anyhow::Result<ExitCode> {
    println!("built-in scenarios:");
    for (name, text) in scenarios::BUILTIN {
        let s = scenarios::Scenario::parse(text, name).map_err(|e| BadInput(e.to_string()))?;
        println!("  {name:<20} {}", s.description);
    }
    println!("guarantees:");
    for g in Guarantee::ALL {
        println!("  {g}");
    }
    println!("variants:");
    for v in Variant::ALL {
        println!("  {:<20} {}", v.name(), v.description());
    }
    println!("anomaly kinds (category: meaning):");
    for k in eosim::checker::AnomalyKind::ALL {
        println!("  {:<22} {}: {}", k.name(), k.category(), k.meaning());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Installs the Ctrl-C handler of a long run; returns the flag it sets.
fn interruptible() -> anyhow::Result<Arc<AtomicBool>> {
    Ok(eosim::interrupt::install().map_err(BadInput)?)
}

/// The exit code of a long run: 130 if Ctrl-C ended it (after its report), else by verdict.
fn exit_after(interrupted: bool, passed: bool) -> ExitCode {
    if interrupted {
        ExitCode::from(eosim::interrupt::EXIT_CODE)
    } else {
        exit_for(passed)
    }
}

/// A progress bar on a terminal, nothing otherwise.
fn progress_bar(len: u128) -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX))
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// A seed range, a shard and a worker count from the command line (bad ones: exit 2).
fn seed_plan(
    seeds: &str,
    shard: Option<&str>,
    jobs: Option<usize>,
) -> Result<(SeedRange, Option<Shard>, usize), BadInput> {
    let range = SeedRange::parse(seeds).map_err(BadInput)?;
    let shard = shard.map(Shard::parse).transpose().map_err(BadInput)?;
    let jobs = eosim::worker_count(jobs).map_err(BadInput)?;
    Ok((range, shard, jobs))
}

/// The replay command of `seed` in a sweep report (guarantee and variants by name).
fn sweep_replay(report: &SweepReport, scenario: &str, seed: u64) -> String {
    let guarantee = Guarantee::from_name(&report.guarantee).expect("reports name known guarantees");
    let variants = report
        .variants
        .iter()
        .filter_map(|v| Variant::from_name(v))
        .collect();
    eosim::replay_command(scenario, seed, guarantee, &variants, report.swarm)
}

/// Runs every seed under each guarantee and tabulates them. A worker runs one seed under
/// every guarantee, so an interrupted comparison has the same seeds in every row.
fn compare(
    scenario: &str,
    seeds: &str,
    guarantees: &str,
    (variants, swarm): (Vec<Variant>, bool),
    jobs: Option<usize>,
    json: bool,
    html: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let loaded = Arc::new(load(scenario, swarm)?);
    let (range, _, jobs) = seed_plan(seeds, None, jobs)?;
    let guarantees: Vec<Guarantee> = guarantees
        .split(',')
        .map(|g| parse_guarantee(g.trim()).map_err(BadInput))
        .collect::<Result<_, _>>()?;
    let mut variant_names: Vec<String> = loaded.variants.iter().map(|v| v.to_string()).collect();
    variant_names.extend(variants.iter().map(|v| v.to_string()));
    let stop = interruptible()?;
    let mut tallies = vec![eosim::reports::CompareTally::default(); guarantees.len()];
    let (run_scenario, run_guarantees) = (loaded.clone(), guarantees.clone());
    let end = eosim::sim::for_each_seed(
        range.seeds(None),
        jobs,
        move |seed| {
            run_guarantees
                .iter()
                .map(|&guarantee| {
                    let knobs = RunKnobs {
                        guarantee: Some(guarantee),
                        variants: variants.clone(),
                        swarm,
                    };
                    eosim::compare_seed(&scenarios::run(
                        &run_scenario,
                        &options(seed, &knobs, false),
                    ))
                })
                .collect::<Vec<_>>()
        },
        &stop,
        |_, per_guarantee| {
            for (tally, seed) in tallies.iter_mut().zip(&per_guarantee) {
                tally.add(seed);
            }
        },
    );
    let rows = guarantees
        .iter()
        .zip(&tallies)
        .map(|(guarantee, tally)| tally.row(guarantee.name()))
        .collect();
    let report = eosim::reports::CompareReport {
        schema: 1,
        scenario: loaded.name.clone(),
        variants: variant_names,
        seeds: seeds.to_string(),
        rows,
        interrupted: end.interrupted,
    };
    if let Some(path) = html {
        write_file(path, &eosim::reports::compare::render_compare_html(&report))?;
    }
    emit(&if json {
        report.to_json() + "\n"
    } else {
        report.to_text()
    });
    Ok(exit_after(end.interrupted, true))
}

/// Merges shard results; the replay command names the scenario as the results do.
fn merge(
    files: &[std::path::PathBuf],
    json: bool,
    junit: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let mut texts = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
        texts.push((file.display().to_string(), text));
    }
    if texts.iter().any(|(_, text)| is_soak_result(text)) {
        return merge_soaks(texts, json, junit);
    }
    let mut parts = Vec::new();
    for (name, text) in texts {
        let part: SweepReport = serde_json::from_str(&text)
            .map_err(|e| BadInput(format!("{name}: not a sweep result: {e}")))?;
        parts.push((name, part));
    }
    let mut merged = eosim::merge_shards(parts).map_err(BadInput)?;
    let scenario = merged.scenario.clone();
    merged.replay = merged
        .failing_seeds
        .first()
        .map(|&s| sweep_replay(&merged, &scenario, s));
    if let Some(path) = junit {
        write_file(
            path,
            &eosim::reports::junit::sweep_junit(&merged, |s| sweep_replay(&merged, &scenario, s)),
        )?;
    }
    emit(&if json {
        merged.to_json() + "\n"
    } else {
        merged.to_text()
    });
    Ok(exit_for(merged.failed == 0))
}

/// Whether a result file is a soak's (it lists sweeps) rather than one sweep's.
fn is_soak_result(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.get("sweeps").is_some())
}

/// Merges the shards of a soak: every sweep merged with its shards from the other files.
fn merge_soaks(
    texts: Vec<(String, String)>,
    json: bool,
    junit: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let mut parts = Vec::new();
    for (name, text) in texts {
        let part: eosim::reports::SoakReport = serde_json::from_str(&text)
            .map_err(|e| BadInput(format!("{name}: not a soak result: {e}")))?;
        parts.push((name, part));
    }
    let merged = eosim::merge::merge_soak_shards(parts).map_err(BadInput)?;
    if let Some(path) = junit {
        write_file(path, &eosim::reports::junit::soak_junit(&merged))?;
    }
    emit(&if json {
        merged.to_json() + "\n"
    } else {
        merged.to_text()
    });
    Ok(exit_for(merged.failed == 0))
}

fn sweep(
    scenario: &str,
    seeds: &str,
    jobs: Option<usize>,
    shard: Option<String>,
    knobs: &RunKnobs,
    json: bool,
    junit: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let loaded = Arc::new(load(scenario, knobs.swarm)?);
    let (range, shard_kn, jobs) = seed_plan(seeds, shard.as_deref(), jobs)?;
    let stop = interruptible()?;
    let bar = progress_bar(range.shard_len(shard_kn));
    let report = sweep_report(
        SweepCase {
            loaded,
            scenario,
            knobs,
        },
        (seeds, &range, shard.as_deref()),
        jobs,
        json || junit.is_some(),
        &stop,
        |runs| bar.set_position(runs),
    );
    bar.finish_and_clear();
    if let Some(path) = junit {
        write_file(
            path,
            &eosim::reports::junit::sweep_junit(&report, |s| sweep_replay(&report, scenario, s)),
        )?;
    }
    emit(&if json {
        report.to_json() + "\n"
    } else {
        report.to_text()
    });
    Ok(exit_after(report.interrupted, report.failed == 0))
}

/// What one sweep runs: a loaded scenario, how the user named it (for replay commands) and
/// the knobs.
struct SweepCase<'a> {
    loaded: Arc<scenarios::Scenario>,
    scenario: &'a str,
    knobs: &'a RunKnobs,
}

/// Runs the seeds of `range` (its shard, if any) and tallies them; per-seed results are kept
/// only if `keep_results` (JSON, JUnit). `progress` hears the runs so far; `stop` (Ctrl-C)
/// ends it early, marked `interrupted`.
fn sweep_report(
    case: SweepCase<'_>,
    (seeds, range, shard): (&str, &SeedRange, Option<&str>),
    jobs: usize,
    keep_results: bool,
    stop: &Arc<AtomicBool>,
    mut progress: impl FnMut(u64),
) -> SweepReport {
    let SweepCase {
        loaded,
        scenario,
        knobs,
    } = case;
    let shard_kn = shard.map(|s| Shard::parse(s).expect("parsed by seed_plan"));
    let mut tally = SweepTally::new(keep_results);
    let (run_scenario, run_knobs) = (loaded.clone(), knobs.clone());
    let end = eosim::sim::for_each_seed(
        range.seeds(shard_kn),
        jobs,
        move |seed| {
            eosim::seed_result(&scenarios::run(
                &run_scenario,
                &options(seed, &run_knobs, false),
            ))
        },
        stop,
        |_, result| {
            tally.add(result);
            progress(tally.runs());
        },
    );
    let guarantee = knobs.guarantee.unwrap_or(loaded.guarantee);
    let mut variants: BTreeSet<Variant> = loaded.variants.iter().copied().collect();
    variants.extend(knobs.variants.iter().copied());
    let mut report = tally.report(SweepReport {
        schema: eosim::reports::run::SCHEMA_VERSION,
        scenario: loaded.name.clone(),
        guarantee: guarantee.to_string(),
        variants: variants.iter().map(|v| v.to_string()).collect(),
        swarm: knobs.swarm,
        seeds: seeds.to_string(),
        shard: shard.map(str::to_string),
        runs: 0,
        failed: 0,
        failing_seeds: Vec::new(),
        anomaly_counts: Default::default(),
        interrupted: end.interrupted,
        ..SweepReport::default()
    });
    report.replay = report
        .failing_seeds
        .first()
        .map(|&s| eosim::replay_command(scenario, s, guarantee, &variants, knobs.swarm));
    report
}

/// Every built-in scenario under each run key that must pass (its `[expect]` lists no
/// anomaly), with swarm testing off and on: one sweep each over the same seeds.
fn soak(args: SoakArgs) -> anyhow::Result<ExitCode> {
    let seeds = soak_seeds(args.first_seed, args.seeds_per_scenario)?;
    let (range, _, jobs) = seed_plan(&seeds, args.shard.as_deref(), args.jobs)?;
    let stop = interruptible()?;
    let cases = eosim::soak_cases().map_err(BadInput)?;
    let swarms: &[bool] = match args.swarm.as_str() {
        "both" => &[false, true],
        "off" => &[false],
        "on" => &[true],
        other => return Err(BadInput(format!("--swarm is both, on or off, not {other:?}")).into()),
    };
    let mut sweeps = Vec::new();
    'cases: for (name, key) in &cases {
        for &swarm in swarms {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break 'cases;
            }
            let knobs = RunKnobs {
                guarantee: Some(key.guarantee),
                variants: key.variants.iter().copied().collect(),
                swarm,
            };
            let loaded = Arc::new(load(name, swarm)?);
            let case = SweepCase {
                loaded,
                scenario: name,
                knobs: &knobs,
            };
            let report = sweep_report(
                case,
                (&seeds, &range, args.shard.as_deref()),
                jobs,
                args.json || args.junit.is_some(),
                &stop,
                |_| {},
            );
            if !args.json {
                eprintln!("{}", eosim::reports::soak::case_line(&report));
            }
            sweeps.push(report);
        }
    }
    let interrupted = stop.load(std::sync::atomic::Ordering::Relaxed);
    let report = eosim::reports::SoakReport::new(&seeds, args.shard.clone(), sweeps, interrupted);
    if let Some(path) = &args.junit {
        write_file(path, &eosim::reports::junit::soak_junit(&report))?;
    }
    emit(&if args.json {
        report.to_json() + "\n"
    } else {
        report.to_text()
    });
    Ok(exit_after(report.interrupted, report.failed == 0))
}

/// The soak's seed range: `first..first + n`, refused if it leaves u64.
fn soak_seeds(first: u64, n: u64) -> Result<String, BadInput> {
    if n == 0 {
        return Err(BadInput("--seeds-per-scenario must be at least 1".into()));
    }
    let last = first
        .checked_add(n - 1)
        .ok_or_else(|| BadInput(format!("--first-seed {first} + {n} seeds passes 2^64")))?;
    Ok(format!("{first}..={last}"))
}

fn replay(
    scenario: &str,
    seed: u64,
    check_determinism: bool,
    knobs: &RunKnobs,
) -> anyhow::Result<ExitCode> {
    let loaded = load(scenario, knobs.swarm)?;
    let first = scenarios::run(&loaded, &options(seed, knobs, check_determinism));
    let report = eosim::report(&first, scenario);
    emit(&report.to_text());
    if !check_determinism {
        return Ok(exit_for(report.passed()));
    }
    let second = scenarios::run(&loaded, &options(seed, knobs, true));
    let (a, b) = (
        first.trace.recorded.as_deref().unwrap_or(&[]),
        second.trace.recorded.as_deref().unwrap_or(&[]),
    );
    if first.trace.hash == second.trace.hash && a == b {
        println!(
            "determinism: ok, two runs gave trace hash {} ({} events)",
            first.trace.hash_hex(),
            first.trace.events
        );
        return Ok(exit_for(report.passed()));
    }
    println!(
        "determinism: VIOLATED: trace hashes {} and {}",
        first.trace.hash_hex(),
        second.trace.hash_hex()
    );
    if let Some(i) = eosim::sim::trace::first_difference(a, b) {
        println!("first difference at event {i}:");
        println!(
            "  run 1: {}",
            a.get(i)
                .map_or("(end of trace)".to_string(), |e| first.trace.render(e))
        );
        println!(
            "  run 2: {}",
            b.get(i)
                .map_or("(end of trace)".to_string(), |e| second.trace.render(e))
        );
    }
    Ok(ExitCode::from(1))
}

fn check_linearizability(
    file: &std::path::Path,
    format: &str,
    model: Option<&str>,
    options: &eosim::checker::lin::CheckOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use eosim::checker::lin::{Format, ModelName, Verdict};
    let format: Format = format
        .parse()
        .map_err(|e: String| BadInput(format!("{e}, or eosim")))?;
    let model: ModelName = match model {
        Some(m) => m.parse().map_err(BadInput)?,
        None if format == Format::PorcupineKv => ModelName::Kv,
        None => ModelName::CasRegister,
    };
    let name = file.display().to_string();
    let report = eosim::checker::lin::check_file(file, format, model, options)
        .map_err(|e| BadInput(format!("{name}: {e}")))?;
    emit(&if json {
        report.to_json() + "\n"
    } else {
        format!("{name}: {report}\n")
    });
    Ok(match report.verdict {
        Verdict::Linearizable => ExitCode::SUCCESS,
        Verdict::NotLinearizable => ExitCode::from(1),
        Verdict::Unknown => ExitCode::from(3),
    })
}

/// Checks an eosim history file with the log and transaction checkers.
fn check_history(file: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let name = file.display().to_string();
    let reader = std::fs::File::open(file).map_err(|e| BadInput(format!("{name}: {e}")))?;
    let history = eosim::checker::History::from_jsonl(std::io::BufReader::new(reader), &name)
        .map_err(|e| BadInput(e.to_string()))?;
    let anomalies =
        eosim::checker::check_all(&history).map_err(|e| BadInput(format!("{name}: {e}")))?;
    if json {
        let reports: Vec<_> = anomalies
            .iter()
            .map(eosim::reports::AnomalyReport::from)
            .collect();
        let verdict = if anomalies.is_empty() { "pass" } else { "fail" };
        let out = serde_json::json!({ "file": name, "verdict": verdict, "ops": history.ops.len(), "anomalies": reports });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{name}: {} ops, {} anomalies",
            history.ops.len(),
            anomalies.len()
        );
        for a in &anomalies {
            println!("  - {}: {}", a.kind(), a.explain());
        }
    }
    Ok(exit_for(anomalies.is_empty()))
}

/// `eosim shrink`: the library's shrinker (`scenarios::shrink`) with a spinner, Ctrl-C and
/// the minimal scenario written out.
fn shrink(
    scenario: &str,
    seed: u64,
    knobs: &RunKnobs,
    output: Option<&std::path::Path>,
    max_runs: u32,
    anomaly: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use eosim::scenarios::shrink::{ShrinkError, ShrinkOptions, shows, target_kind};
    let loaded = load(scenario, knobs.swarm)?;
    let stop = interruptible()?;
    let interrupted = || stop.load(std::sync::atomic::Ordering::Relaxed);
    let failing_run = options(seed, knobs, false);
    let original = scenarios::run(&loaded, &failing_run);
    if interrupted() {
        eprintln!("interrupted before shrinking started: nothing to write");
        return Ok(ExitCode::from(eosim::interrupt::EXIT_CODE));
    }
    let wanted = anomaly.map(parse_anomaly_kind).transpose()?;
    let target = target_kind(&original, wanted)
        .map_err(|e| BadInput(format!("seed {seed} of {scenario} {e}")))?;
    eprintln!(
        "shrinking seed {seed}: {} faults, target anomaly `{target}`",
        original.plan.0.len()
    );
    let bar = spinner();
    let progress = |what: &str| {
        bar.set_message(what.to_string());
        bar.tick();
    };
    let shrink_options = ShrinkOptions {
        max_runs,
        stop: Some(&stop),
        progress: Some(&progress),
        ..ShrinkOptions::new(&failing_run)
    };
    let shrunk = match scenarios::shrink::shrink(&loaded, &original, &shrink_options, shows(target))
    {
        Ok(shrunk) => shrunk,
        Err(e @ ShrinkError::NotReplayed) => {
            bar.finish_and_clear();
            println!("shrink: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(BadInput(format!("seed {seed} of {scenario} {e}")).into()),
    };
    bar.finish_and_clear();
    write_shrunk(scenario, seed, &loaded, &original, &shrunk, target, output)?;
    // Read again rather than `shrunk.stopped`: a Ctrl-C during the confirming replays counts.
    if interrupted() {
        eprintln!("interrupted: the plan above is the smallest found before Ctrl-C");
        return Ok(ExitCode::from(eosim::interrupt::EXIT_CODE));
    }
    Ok(ExitCode::from(1))
}

/// Writes the shrunk scenario to `output` (default: stdout), headed by the command that made
/// it, and says on stderr how far it shrank.
fn write_shrunk(
    scenario: &str,
    seed: u64,
    loaded: &scenarios::Scenario,
    original: &scenarios::RunOutcome,
    shrunk: &scenarios::shrink::ShrinkResult,
    target: eosim::checker::AnomalyKind,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let text = format!(
        "# Shrunk by `eosim shrink {scenario} --seed {seed}`: {} fault(s) that still show `{target}`.\n\
         # Reproduce: eosim run <this file>   (it records seed {seed})\n{}",
        shrunk.plan.0.len(),
        shrunk.scenario_toml(target).context("writing TOML")?
    );
    match output {
        Some(path) => write_file(path, &text)?,
        None => emit(&text),
    }
    eprintln!(
        "shrunk {} -> {} fault(s), workload {} -> {}, in {} runs; replayed twice: \
         `{target}`, trace {}",
        original.plan.0.len(),
        shrunk.plan.0.len(),
        loaded.workload_size(),
        shrunk.scenario.workload_size(),
        shrunk.runs,
        shrunk.outcome.trace.hash_hex()
    );
    if let Some(path) = output {
        eprintln!("reproduce: eosim run {}", path.display());
    }
    Ok(())
}

fn parse_anomaly_kind(name: &str) -> Result<eosim::checker::AnomalyKind, BadInput> {
    eosim::checker::AnomalyKind::from_name(name)
        .ok_or_else(|| BadInput(format!("unknown anomaly kind {name:?}")))
}

/// A spinner on a terminal, nothing otherwise.
fn spinner() -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    }
}
