//! The eosim command line. See the repository's DESIGN.md ("Command line") for the contract.
//! Exit codes (0 held, 1 violated, 2 bad input, 3 inconclusive, 130 interrupted) are declared
//! in `help.rs`, which every `--help` shows with examples.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use clap::{Parser, Subcommand};
use eosim::model::{Guarantee, Variant};
use eosim::progress::{Progress, Unit};
use eosim::reports::{SweepReport, SweepTally};
use eosim::scenarios::{self, RunOptions};
use eosim::{SeedRange, Shard};

mod check;
mod help;

#[derive(Parser)]
#[command(
    name = "eosim",
    version,
    about = "Deterministic simulation and fault injection for exactly-once stream processing",
    after_help = help::top()
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Draw no progress line (one is drawn on stderr only when it is a terminal; messages and
    /// errors still go there).
    #[arg(short, long, global = true)]
    quiet: bool,
}

const SCENARIO_HELP: &str =
    "A built-in scenario name (`eosim list` names them) or a scenario file path";
const JSON_HELP: &str = "Print the result as JSON on stdout instead of the text summary";

#[derive(clap::Args, Clone)]
struct RunKnobs {
    /// Processing guarantee (default: the scenario's); `eosim list` names them.
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
    #[command(after_help = help::run())]
    Run(RunArgs),
    /// Run many seeds in parallel and summarise.
    ///
    /// Progress (seeds/s, failures so far, ETA) is drawn on stderr when it is a terminal.
    /// Ctrl-C: summarise the seeds that finished.
    #[command(after_help = help::sweep())]
    Sweep {
        #[arg(help = SCENARIO_HELP)]
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
        #[arg(long, help = JSON_HELP)]
        json: bool,
        /// Write a JUnit XML report (one test case per seed) to this file.
        #[arg(long)]
        junit: Option<std::path::PathBuf>,
        /// Write the sweep's HTML page to this file (anomaly kinds over the seeds, coverage,
        /// failing seeds), and beside it the run pages of its first failing seeds.
        #[arg(long)]
        html: Option<std::path::PathBuf>,
    },
    /// The same seeds and fault plans under each guarantee, side by side.
    ///
    /// Per guarantee: failed runs, duplicates, losses, aborted reads, wrong aggregates,
    /// throughput and end-to-end latency in virtual time. Progress is drawn on stderr when it
    /// is a terminal. Ctrl-C: the table of the seeds that finished.
    #[command(after_help = help::compare())]
    Compare {
        #[arg(help = SCENARIO_HELP)]
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
        #[arg(long, help = JSON_HELP)]
        json: bool,
        /// Also write a self-contained HTML page with a chart per measure.
        #[arg(long)]
        html: Option<std::path::PathBuf>,
    },
    /// Merge the JSON results of a sharded sweep or soak into one.
    ///
    /// The files (of `sweep --shard K/N --json` or `soak --shard K/N --json`) must be exactly
    /// the shards 1/N … N/N of one sweep or soak, each complete.
    #[command(after_help = help::merge())]
    Merge {
        /// The shards' JSON files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        #[arg(long, help = JSON_HELP)]
        json: bool,
        /// Write a JUnit XML report of the merged result to this file.
        #[arg(long)]
        junit: Option<std::path::PathBuf>,
    },
    /// Run a seed again; with --check-determinism run it twice and compare the traces.
    #[command(after_help = help::replay())]
    Replay {
        #[arg(help = SCENARIO_HELP)]
        scenario: String,
        /// The seed to run (a sweep's or soak's replay command names it).
        #[arg(long)]
        seed: u64,
        /// Run the seed twice and compare the traces event by event.
        #[arg(long)]
        check_determinism: bool,
        #[command(flatten)]
        knobs: RunKnobs,
    },
    /// Check a history file: eosim's own, or a Porcupine / Jepsen one for linearizability.
    ///
    /// eosim's JSON Lines histories (`run --history`) go to the log and transaction checkers;
    /// Porcupine and Jepsen histories to the linearizability checker. The format is detected
    /// from the file's first lines unless --format names it.
    #[command(after_help = help::check())]
    Check(check::CheckArgs),
    /// Minimise a failing seed's faults and workload; write them as a scenario file.
    ///
    /// The fewest, weakest, earliest faults and the smallest workload that still show the same
    /// anomaly kind, confirmed by two replays. Progress (runs of the budget, those still
    /// failing, faults left) is drawn on stderr when it is a terminal. Ctrl-C: stop shrinking,
    /// confirm and write the smallest plan so far.
    #[command(after_help = help::shrink())]
    Shrink {
        #[arg(help = SCENARIO_HELP)]
        scenario: String,
        /// The failing seed.
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
    /// Sweep every built-in scenario under each guarantee that must pass.
    ///
    /// Each guarantee (and variant set) whose `[expect]` lists no anomaly, with swarm testing
    /// off and on; fails on any failure, with the replay commands. Progress over all sweeps is
    /// drawn on stderr when it is a terminal. Ctrl-C: the sweeps that finished. See README
    /// "Soak" for the nightly size.
    #[command(after_help = help::soak())]
    Soak(SoakArgs),
    /// Hunt protocol variants: how fast their catchers find each one, and how small it shrinks.
    ///
    /// A variant's catchers are the built-in scenarios' `[expect]` keys that name it with
    /// anomalies. They run seed 0, 1, 2, …, each catcher plain then with swarm testing, until the
    /// first failing run in that order (the same whatever --jobs); that run is shrunk, and every
    /// run tried is run again without the variant: the default protocol must pass them all.
    /// Progress is drawn on stderr when it is a terminal. Ctrl-C: report what finished.
    #[command(after_help = help::hunt())]
    Hunt(HuntArgs),
    /// List built-in scenarios, guarantees, variants and anomaly kinds.
    #[command(after_help = help::list())]
    List,
}

#[derive(clap::Args)]
struct HuntArgs {
    /// Variants to hunt (`eosim list` names them).
    #[arg(value_parser = parse_variant, required_unless_present = "all", conflicts_with = "all")]
    variants: Vec<Variant>,
    /// Hunt every variant, in declaration order.
    #[arg(long)]
    all: bool,
    /// Wall-time budget of each variant's search, seconds (shrinking and the default-protocol
    /// runs come after it).
    #[arg(long, default_value_t = scenarios::hunt::DEFAULT_BUDGET.as_secs())]
    budget_s: u64,
    /// The most seeds a search tries (each runs every catcher plain and swarm).
    #[arg(long, default_value_t = scenarios::hunt::DEFAULT_MAX_SEEDS)]
    max_seeds: u64,
    /// The shrinker's budget of candidate runs per catch.
    #[arg(long, default_value_t = scenarios::hunt::DEFAULT_SHRINK_RUNS)]
    shrink_runs: u32,
    /// Worker threads (default: available cores); results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    #[arg(long, help = JSON_HELP, conflicts_with = "markdown")]
    json: bool,
    /// Print the Markdown table (README's variant table) instead of the text summary.
    #[arg(long)]
    markdown: bool,
    /// Write the hunt's table as an HTML page to this file.
    #[arg(long)]
    html: Option<std::path::PathBuf>,
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
    #[arg(long, help = JSON_HELP)]
    json: bool,
    /// Print the event trace before the result (to stderr with --json, so that stdout stays
    /// one JSON document).
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
    #[arg(long, help = JSON_HELP)]
    json: bool,
    /// Write a JUnit XML report (a test case per sweep) to this file.
    #[arg(long)]
    junit: Option<std::path::PathBuf>,
    /// Write the soak's HTML page to this file (every sweep, the kinds failing ones showed,
    /// coverage over the whole soak).
    #[arg(long)]
    html: Option<std::path::PathBuf>,
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
    if cli.quiet {
        eosim::progress::hide_all();
    }
    match dispatch(cli.command) {
        Ok(code) => code,
        // Every error that reaches here is about the input (files, scenarios, arguments).
        Err(e) => {
            eprintln!("eosim: {e:#}");
            help::BAD_INPUT.into()
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
        std::process::exit(help::BAD_INPUT.code.into());
    }
}

fn exit_for(passed: bool) -> ExitCode {
    if passed {
        help::HELD.into()
    } else {
        help::VIOLATED.into()
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
            html,
        } => sweep(
            &scenario,
            &seeds,
            jobs,
            shard,
            &knobs,
            SweepOutputs {
                json,
                junit: junit.as_deref(),
                html: html.as_deref(),
            },
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
        Command::Check(args) => check::check(args),
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
        Command::Hunt(args) => hunt(args),
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
    // Host time, outside the simulation: JUnit's `time` of the case.
    let started = std::time::Instant::now();
    let outcome = scenarios::run(&loaded, &options(seed, &knobs, trace || html.is_some()));
    let wall_s = started.elapsed().as_secs_f64();
    if let Some(path) = &html {
        write_file(path, &eosim::html_report(&outcome, &scenario))?;
    }
    if let Some(events) = outcome.trace.recorded.as_ref().filter(|_| trace) {
        let mut text = String::new();
        for e in events {
            text.push_str(&outcome.trace.render(e));
            text.push('\n');
        }
        if json {
            eprint!("{text}");
        } else {
            emit(&text);
        }
    }
    if let Some(path) = history {
        std::fs::write(&path, outcome.history.to_jsonl())
            .with_context(|| format!("writing the history to {}", path.display()))?;
    }
    let report = eosim::report(&outcome, &scenario);
    if let Some(path) = junit {
        write_file(
            &path,
            &eosim::reports::junit::run_junit(&report, Some(wall_s)),
        )?;
    }
    emit(&if json {
        report.to_json() + "\n"
    } else {
        report.to_text()
    });
    Ok(exit_for(report.passed()))
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
    println!("fault kinds (a plan's `kind`):");
    for (name, meaning) in eosim::sim::FaultAction::KINDS {
        println!("  {name:<20} {meaning}");
    }
    println!("fault points (a point fault's `after`):");
    for point in eosim::model::fault_point::FaultPoint::ALL {
        let decisions: Vec<&str> = point.decisions().iter().map(|d| d.name()).collect();
        let offers = if decisions.is_empty() {
            String::new()
        } else {
            format!(" [then: crash, pause, {}]", decisions.join(", "))
        };
        let drawn = if point.in_mixes() {
            ""
        } else {
            " (explicit plans only)"
        };
        println!("  {:<34} {}{offers}{drawn}", point.name(), point.meaning());
    }
    println!("anomaly kinds (category: meaning):");
    for k in eosim::checker::AnomalyKind::ALL {
        println!("  {:<22} {}: {}", k.name(), k.category(), k.meaning());
    }
    Ok(help::HELD.into())
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
        help::INTERRUPTED.into()
    } else {
        exit_for(passed)
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
    // Every variant in force, for the failing seeds' replay commands on the page.
    let all_variants: std::collections::BTreeSet<Variant> =
        loaded.variants.iter().chain(&variants).copied().collect();
    let stop = interruptible()?;
    let progress = Progress::new("compare", range.len(), Unit::Seeds, false);
    let (tallies, end) = compare_tallies(
        &loaded,
        &range,
        (&guarantees, variants, swarm),
        jobs,
        &stop,
        &progress,
    );
    progress.finish();
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
        cost_model: compare_cost_model(&loaded),
        reference: compare_reference(&loaded),
        interrupted: end.interrupted,
        steady_rate: loaded.input_pre_filled(),
    };
    if let Some(path) = html {
        let replay = |guarantee: &str, seed: u64| {
            let guarantee =
                Guarantee::from_name(guarantee).expect("a row is named by its guarantee");
            eosim::replay_command(scenario, seed, guarantee, &all_variants, swarm)
        };
        write_file(
            path,
            &eosim::reports::compare::render_compare_html(&report, replay),
        )?;
    }
    emit(&if json {
        report.to_json() + "\n"
    } else {
        report.to_text()
    });
    Ok(exit_after(end.interrupted, true))
}

/// The cost model `compare` names: the scenario's kind and parameters.
fn compare_cost_model(loaded: &scenarios::Scenario) -> eosim::reports::CostModel {
    let (kind, parameters) = loaded.cost_model();
    eosim::reports::CostModel {
        kind: kind.to_string(),
        parameters,
    }
}

/// The published figures a scenario's `[reference]` gives, shown beside the measured ones.
fn compare_reference(loaded: &scenarios::Scenario) -> Option<eosim::reports::ThroughputReference> {
    loaded
        .reference
        .as_ref()
        .map(|r| eosim::reports::ThroughputReference {
            source: r.source.clone(),
            throughput_ratios: r.throughput_ratios.clone(),
        })
}

/// Runs every seed of `range` under each guarantee (a worker runs one seed under all of
/// them) and tallies them per guarantee; `progress` hears each seed and the failures so far.
fn compare_tallies(
    loaded: &Arc<scenarios::Scenario>,
    range: &SeedRange,
    (guarantees, variants, swarm): (&[Guarantee], Vec<Variant>, bool),
    jobs: usize,
    stop: &Arc<AtomicBool>,
    progress: &Progress,
) -> (Vec<eosim::reports::CompareTally>, eosim::sim::PoolEnd) {
    let mut tallies = vec![eosim::reports::CompareTally::default(); guarantees.len()];
    let mut failed = vec![0u64; guarantees.len()];
    let (run_scenario, run_guarantees) = (loaded.clone(), guarantees.to_vec());
    let pre_filled = loaded.input_pre_filled();
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
                    eosim::compare_seed(
                        &scenarios::run(&run_scenario, &options(seed, &knobs, false)),
                        pre_filled,
                    )
                })
                .collect::<Vec<_>>()
        },
        stop,
        |_, per_guarantee| {
            for (i, seed) in per_guarantee.iter().enumerate() {
                tallies[i].add(seed);
                failed[i] += u64::from(seed.failure.is_some());
            }
            // `3 | 0 failed · at-least-once | exactly-once`: the counts fit a narrow terminal.
            let counts: Vec<String> = failed.iter().map(u64::to_string).collect();
            let names: Vec<&str> = guarantees.iter().map(|g| g.name()).collect();
            let done = tallies.first().map_or(0, |t| t.runs());
            progress.set(
                done,
                format!("{} failed", counts.join(" | ")),
                format!("· {}", names.join(" | ")),
            );
        },
    );
    (tallies, end)
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
            // Shards' JSON keeps no wall times (they vary run to run): no `time`.
            &eosim::reports::junit::sweep_junit(
                &merged,
                |s| sweep_replay(&merged, &scenario, s),
                |_| None,
            ),
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
        write_file(path, &eosim::reports::junit::soak_junit(&merged, |_| None))?;
    }
    emit(&if json {
        merged.to_json() + "\n"
    } else {
        merged.to_text()
    });
    Ok(exit_for(merged.failed == 0))
}

/// Where a sweep's results go besides the summary on stdout.
struct SweepOutputs<'a> {
    json: bool,
    junit: Option<&'a std::path::Path>,
    html: Option<&'a std::path::Path>,
}

fn sweep(
    scenario: &str,
    seeds: &str,
    jobs: Option<usize>,
    shard: Option<String>,
    knobs: &RunKnobs,
    outputs: SweepOutputs<'_>,
) -> anyhow::Result<ExitCode> {
    let SweepOutputs { json, junit, html } = outputs;
    let loaded = Arc::new(load(scenario, knobs.swarm)?);
    let (range, shard_kn, jobs) = seed_plan(seeds, shard.as_deref(), jobs)?;
    let stop = interruptible()?;
    let progress = Progress::new("sweep", range.shard_len(shard_kn), Unit::Seeds, false);
    let keep = Keep {
        results: json || junit.is_some() || html.is_some(),
        times: junit.is_some(),
    };
    let (report, times) = sweep_report(
        SweepCase {
            loaded: loaded.clone(),
            scenario,
            knobs,
        },
        (seeds, &range, shard.as_deref()),
        (jobs, keep),
        &stop,
        &progress,
    );
    progress.finish();
    if let Some(path) = junit {
        write_file(
            path,
            &eosim::reports::junit::sweep_junit(
                &report,
                |s| sweep_replay(&report, scenario, s),
                |s| times.of(s),
            ),
        )?;
    }
    if let Some(path) = html {
        write_sweep_html(path, &report, (&loaded, scenario, knobs))?;
    }
    emit(&if json {
        report.to_json() + "\n"
    } else {
        report.to_text()
    });
    Ok(exit_after(report.interrupted, report.failed == 0))
}

/// Run pages written beside a sweep's page: its first failing seeds'.
const SWEEP_RUN_PAGES: usize = 10;

/// The sweep's page at `path`, and beside it (`<stem>-seed-<N>.html`) the run pages of the
/// first failing seeds, each run again with its trace recorded.
fn write_sweep_html(
    path: &std::path::Path,
    report: &SweepReport,
    (loaded, scenario, knobs): (&scenarios::Scenario, &str, &RunKnobs),
) -> anyhow::Result<()> {
    let stem = path
        .file_stem()
        .map_or("sweep".into(), |s| s.to_string_lossy().into_owned());
    let page_name = |seed: u64| format!("{stem}-seed-{seed}.html");
    let written: Vec<u64> = report
        .results
        .iter()
        .filter(|r| r.failure.is_some())
        .map(|r| r.seed)
        .take(SWEEP_RUN_PAGES)
        .collect();
    for &seed in &written {
        write_run_page(
            &path.with_file_name(page_name(seed)),
            loaded,
            scenario,
            seed,
            knobs,
        )?;
    }
    let descriptions = coverage_descriptions();
    let links = eosim::reports::html::SweepPageLinks {
        describe_path: &|name| descriptions.get(name).map(|d| d.to_string()),
        replay: &|seed| sweep_replay(report, scenario, seed),
        run_page: &|seed| written.contains(&seed).then(|| page_name(seed)),
    };
    write_file(
        path,
        &eosim::reports::html::render_sweep_html(report, &links),
    )
}

/// Runs `seed` again with its trace recorded and writes its run page to `path`.
fn write_run_page(
    path: &std::path::Path,
    loaded: &scenarios::Scenario,
    scenario: &str,
    seed: u64,
    knobs: &RunKnobs,
) -> anyhow::Result<()> {
    let outcome = scenarios::run(loaded, &options(seed, knobs, true));
    write_file(path, &eosim::html_report(&outcome, scenario))
}

/// Every coverage path's one-line meaning, by name (for the batch pages' coverage tables).
fn coverage_descriptions() -> std::collections::BTreeMap<&'static str, &'static str> {
    scenarios::coverage::points().collect()
}

/// What one sweep runs: a loaded scenario, how the user named it (for replay commands) and
/// the knobs.
struct SweepCase<'a> {
    loaded: Arc<scenarios::Scenario>,
    scenario: &'a str,
    knobs: &'a RunKnobs,
}

/// What a sweep keeps of each seed besides the totals: its result (JSON, JUnit) and its wall
/// time (JUnit).
#[derive(Clone, Copy)]
struct Keep {
    results: bool,
    times: bool,
}

/// Each seed's wall time in seconds, in seed order (as a sweep finishes them): 16 bytes a
/// seed, and only kept for JUnit. Host time, outside every simulation; never in the JSON, which
/// stays the same run to run.
#[derive(Default)]
struct SeedTimes(Vec<(u64, f32)>);

impl SeedTimes {
    fn of(&self, seed: u64) -> Option<f64> {
        let i = self.0.binary_search_by_key(&seed, |&(s, _)| s).ok()?;
        Some(f64::from(self.0[i].1))
    }
}

/// Runs the seeds of `range` (its shard, if any) and tallies them; per-seed results and wall
/// times are kept as `keep` says. `progress` hears each seed; `stop` (Ctrl-C) ends it early,
/// marked `interrupted`.
fn sweep_report(
    case: SweepCase<'_>,
    (seeds, range, shard): (&str, &SeedRange, Option<&str>),
    (jobs, keep): (usize, Keep),
    stop: &Arc<AtomicBool>,
    progress: &Progress,
) -> (SweepReport, SeedTimes) {
    let SweepCase {
        loaded,
        scenario,
        knobs,
    } = case;
    let shard_kn = shard.map(|s| Shard::parse(s).expect("parsed by seed_plan"));
    let mut tally = SweepTally::new(keep.results);
    let mut times = SeedTimes::default();
    let (run_scenario, run_knobs) = (loaded.clone(), knobs.clone());
    let end = eosim::sim::for_each_seed(
        range.seeds(shard_kn),
        jobs,
        move |seed| {
            let started = std::time::Instant::now();
            let result = eosim::seed_result(&scenarios::run(
                &run_scenario,
                &options(seed, &run_knobs, false),
            ));
            (result, started.elapsed().as_secs_f32())
        },
        stop,
        |_, (result, wall_s)| {
            progress.seed_done(result.seed, result.failure.is_some());
            if keep.times {
                times.0.push((result.seed, wall_s));
            }
            tally.add(result);
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
    (report, times)
}

/// `eosim hunt`: the library's hunt (`eosim::hunt_report`) with progress and Ctrl-C.
fn hunt(args: HuntArgs) -> anyhow::Result<ExitCode> {
    if args.budget_s == 0 || args.max_seeds == 0 {
        return Err(BadInput("--budget-s and --max-seeds must be at least 1".into()).into());
    }
    let variants = if args.all {
        Variant::ALL.to_vec()
    } else {
        args.variants.clone()
    };
    let options = scenarios::hunt::HuntOptions {
        budget: std::time::Duration::from_secs(args.budget_s),
        max_seeds: args.max_seeds,
        shrink_runs: args.shrink_runs,
        jobs: eosim::worker_count(args.jobs).map_err(BadInput)?,
        stop: interruptible()?,
    };
    let command = std::iter::once("eosim".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let progress = Progress::new("hunt", variants.len() as u128, Unit::Variants, false);
    // Done and not held so far, shared by the two callbacks.
    let counts = std::cell::Cell::new((0u64, 0u64));
    let report = eosim::hunt_report_with(
        &variants,
        &options,
        &command,
        |variant| {
            let (done, missed) = counts.get();
            progress.set(
                done,
                format!("{missed} not held"),
                format!("· hunting {variant}"),
            );
        },
        |row| {
            let (done, missed) = counts.get();
            counts.set((done + 1, missed + u64::from(!row.held())));
            let (done, missed) = counts.get();
            progress.set(
                done,
                format!("{missed} not held"),
                format!("· {} done", row.variant),
            );
        },
    );
    progress.finish();
    let report = report.map_err(BadInput)?;
    if let Some(path) = &args.html {
        write_file(path, &eosim::reports::html::render_hunt_html(&report))?;
    }
    emit(&if args.json {
        report.to_json() + "\n"
    } else if args.markdown {
        report.to_markdown()
    } else {
        report.to_text()
    });
    if report.default_failures() > 0 {
        eprintln!(
            "eosim hunt: the DEFAULT PROTOCOL failed {} run(s); the replay commands are above",
            report.default_failures()
        );
    }
    Ok(exit_after(report.interrupted, report.held()))
}

/// Every built-in scenario under each run key that must pass (its `[expect]` lists no
/// anomaly), with swarm testing off and on: one sweep each over the same seeds.
fn soak(args: SoakArgs) -> anyhow::Result<ExitCode> {
    let seeds = soak_seeds(args.first_seed, args.seeds_per_scenario)?;
    let (range, shard, jobs) = seed_plan(&seeds, args.shard.as_deref(), args.jobs)?;
    let stop = interruptible()?;
    let cases = eosim::soak_cases().map_err(BadInput)?;
    let swarms: &[bool] = match args.swarm.as_str() {
        "both" => &[false, true],
        "off" => &[false],
        "on" => &[true],
        other => return Err(BadInput(format!("--swarm is both, on or off, not {other:?}")).into()),
    };
    let total = range.shard_len(shard) * (cases.len() * swarms.len()) as u128;
    let progress = Progress::new("soak", total, Unit::Seeds, false);
    let sweeps = soak_sweeps(
        &args,
        (&seeds, &range),
        jobs,
        (&cases, swarms),
        &stop,
        &progress,
    );
    progress.finish();
    let (sweeps, times) = sweeps?;
    let interrupted = stop.load(std::sync::atomic::Ordering::Relaxed);
    let report = eosim::reports::SoakReport::new(&seeds, args.shard.clone(), sweeps, interrupted);
    if let Some(path) = &args.junit {
        let junit = eosim::reports::junit::soak_junit(&report, |i| times.get(i).copied());
        write_file(path, &junit)?;
    }
    if let Some(path) = &args.html {
        write_soak_html(path, &report)?;
    }
    emit(&if args.json {
        report.to_json() + "\n"
    } else {
        report.to_text()
    });
    Ok(exit_after(report.interrupted, report.failed == 0))
}

/// The soak's page at `path`, and beside it (`<stem>-<sweep index>-seed-<N>.html`) the run
/// page of each failing sweep's first failing seed, run again with its trace.
fn write_soak_html(
    path: &std::path::Path,
    report: &eosim::reports::SoakReport,
) -> anyhow::Result<()> {
    let stem = path
        .file_stem()
        .map_or("soak".into(), |s| s.to_string_lossy().into_owned());
    let mut pages = std::collections::BTreeMap::new();
    for (i, sweep) in report.sweeps.iter().enumerate() {
        let Some(&seed) = sweep.failing_seeds.first() else {
            continue;
        };
        let knobs = RunKnobs {
            guarantee: Guarantee::from_name(&sweep.guarantee),
            variants: sweep
                .variants
                .iter()
                .filter_map(|v| Variant::from_name(v))
                .collect(),
            swarm: sweep.swarm,
        };
        let loaded = load(&sweep.scenario, sweep.swarm)?;
        let name = format!("{stem}-{i}-seed-{seed}.html");
        write_run_page(
            &path.with_file_name(&name),
            &loaded,
            &sweep.scenario,
            seed,
            &knobs,
        )?;
        pages.insert(i, name);
    }
    let descriptions = coverage_descriptions();
    let describe = |name: &str| descriptions.get(name).map(|d| d.to_string());
    let run_page = |i: usize| pages.get(&i).cloned();
    let page = eosim::reports::html::render_soak_html(report, &describe, &run_page);
    write_file(path, &page)
}

/// The soak's sweeps, one per case and swarm setting, until done or stopped, with each one's
/// wall time in seconds (for JUnit); each one's line printed as it ends (not with --json).
fn soak_sweeps(
    args: &SoakArgs,
    (seeds, range): (&str, &SeedRange),
    jobs: usize,
    (cases, swarms): (&[(&str, scenarios::RunKey)], &[bool]),
    stop: &Arc<AtomicBool>,
    progress: &Progress,
) -> Result<(Vec<SweepReport>, Vec<f64>), BadInput> {
    let (mut sweeps, mut times) = (Vec::new(), Vec::new());
    for (name, key) in cases {
        for &swarm in swarms {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok((sweeps, times));
            }
            progress.set_context(format!(
                "{name} {key} swarm {}",
                if swarm { "on" } else { "off" }
            ));
            let knobs = RunKnobs {
                guarantee: Some(key.guarantee),
                variants: key.variants.iter().copied().collect(),
                swarm,
            };
            let case = SweepCase {
                loaded: Arc::new(load(name, swarm)?),
                scenario: name,
                knobs: &knobs,
            };
            let keep = Keep {
                results: args.json || args.junit.is_some(),
                times: false,
            };
            // Host time, outside the simulation: the JUnit case's `time`.
            let started = std::time::Instant::now();
            let (report, _) = sweep_report(
                case,
                (seeds, range, args.shard.as_deref()),
                (jobs, keep),
                stop,
                progress,
            );
            times.push(started.elapsed().as_secs_f64());
            if !args.json {
                progress.println(&eosim::reports::soak::case_line(&report));
            }
            sweeps.push(report);
        }
    }
    Ok((sweeps, times))
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
    Ok(help::VIOLATED.into())
}

/// `eosim shrink`: the library's shrinker (`scenarios::shrink`) with progress, Ctrl-C and
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
        return Ok(help::INTERRUPTED.into());
    }
    let wanted = anomaly.map(parse_anomaly_kind).transpose()?;
    let target = target_kind(&original, wanted)
        .map_err(|e| BadInput(format!("seed {seed} of {scenario} {e}")))?;
    eprintln!(
        "shrinking seed {seed}: {} faults, target anomaly `{target}`",
        original.plan.0.len()
    );
    let progress = Progress::new("shrink", max_runs.into(), Unit::Runs, true);
    let watch = ShrinkWatch::new(&progress, original.plan.0.len());
    let heard = |what: &str| watch.candidate(what);
    let shrink_options = ShrinkOptions {
        max_runs,
        stop: Some(&stop),
        progress: Some(&heard),
        ..ShrinkOptions::new(&failing_run)
    };
    let still_fails = shows(target);
    let result = scenarios::shrink::shrink(&loaded, &original, &shrink_options, |outcome| {
        watch.verdict(outcome, still_fails(outcome))
    });
    progress.finish();
    let shrunk = match result {
        Ok(shrunk) => shrunk,
        Err(e @ ShrinkError::NotReplayed) => {
            println!("shrink: {e}");
            return Ok(help::VIOLATED.into());
        }
        Err(e) => return Err(BadInput(format!("seed {seed} of {scenario} {e}")).into()),
    };
    let command = shrink_command(scenario, seed, knobs, anomaly);
    write_shrunk(&command, seed, &loaded, &original, &shrunk, target, output)?;
    // Read again rather than `shrunk.stopped`: a Ctrl-C during the confirming replays counts.
    if interrupted() {
        eprintln!("interrupted: the plan above is the smallest found before Ctrl-C");
        return Ok(help::INTERRUPTED.into());
    }
    Ok(help::VIOLATED.into())
}

/// What the shrink progress line says: candidate runs of the budget, how many of them still
/// failed, the fewest faults that still fail and what the latest candidate tried.
struct ShrinkWatch<'a> {
    progress: &'a Progress,
    runs: std::cell::Cell<u64>,
    /// Verdicts heard, the original run's first (not a candidate).
    verdicts: std::cell::Cell<u64>,
    still_failing: std::cell::Cell<u64>,
    fewest_faults: std::cell::Cell<usize>,
    trying: std::cell::RefCell<String>,
}

impl<'a> ShrinkWatch<'a> {
    fn new(progress: &'a Progress, faults: usize) -> Self {
        ShrinkWatch {
            progress,
            runs: Default::default(),
            verdicts: Default::default(),
            still_failing: Default::default(),
            fewest_faults: faults.into(),
            trying: Default::default(),
        }
    }

    /// A candidate run, described by the shrinker ("3 faults", "1 producers x 1 values").
    fn candidate(&self, what: &str) {
        self.runs.set(self.runs.get() + 1);
        *self.trying.borrow_mut() = what.to_string();
        self.redraw();
    }

    /// A run's verdict (`fails`: it still fails as wanted); passed on.
    fn verdict(&self, outcome: &scenarios::RunOutcome, fails: bool) -> bool {
        self.verdicts.set(self.verdicts.get() + 1);
        if fails && self.verdicts.get() > 1 {
            self.still_failing.set(self.still_failing.get() + 1);
            let faults = outcome.plan.0.len().min(self.fewest_faults.get());
            self.fewest_faults.set(faults);
        }
        self.redraw();
        fails
    }

    fn redraw(&self) {
        self.progress.set(
            self.runs.get(),
            format!("{} still fail", self.still_failing.get()),
            format!(
                "· fewest faults {} · trying {}",
                self.fewest_faults.get(),
                self.trying.borrow()
            ),
        );
    }
}

/// The `eosim shrink` command line that shrinks `seed` as asked (every flag that changes
/// what it shrinks), for the shrunk file's header.
fn shrink_command(scenario: &str, seed: u64, knobs: &RunKnobs, anomaly: Option<&str>) -> String {
    let mut command = format!("eosim shrink {scenario} --seed {seed}");
    if let Some(guarantee) = knobs.guarantee {
        command.push_str(&format!(" --guarantee {guarantee}"));
    }
    for variant in &knobs.variants {
        command.push_str(&format!(" --variant {variant}"));
    }
    if knobs.swarm {
        command.push_str(" --swarm");
    }
    if let Some(kind) = anomaly {
        command.push_str(&format!(" --anomaly {kind}"));
    }
    command
}

/// Writes the shrunk scenario to `output` (default: stdout), headed by the command that made
/// it, and says on stderr how far it shrank.
fn write_shrunk(
    command: &str,
    seed: u64,
    loaded: &scenarios::Scenario,
    original: &scenarios::RunOutcome,
    shrunk: &scenarios::shrink::ShrinkResult,
    target: eosim::checker::AnomalyKind,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let text = format!(
        "# Shrunk by `{command}`: {} fault(s) that still show `{target}`.\n\
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
