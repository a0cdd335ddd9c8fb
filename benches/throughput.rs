//! Throughput and memory of the engine, in release builds (`cargo bench --bench throughput`).
//!
//! Reports, all measured in this run on this machine:
//! - the baseline: raw madsim request/response round trips (the same loop as the
//!   project's stand-alone madsim-baseline tool: one seed per fresh thread, no fault layer, no protocol);
//! - `produce-retries` (exactly-once, its default fault mix): seeds/s and simulated
//!   messages/s, one core, in `EOSIM_BENCH_ROUNDS` rounds (default 5) interleaved with the
//!   baseline, medians reported (the machine's speed drifts within a run);
//! - a long produce run (3 producers × 3,000 values) for steady-state messages/s;
//! - resident memory before and after a sweep of `EOSIM_BENCH_MEMORY_SEEDS` seeds (default
//!   10,000) on one worker.
//!
//! - the checker: `check_all` in-process on a generated 600k-op consume-transform-produce
//!   history (`checker/benches/history_gen.rs`), in history events (ops) per second.
//!
//! Messages are requests + responses handed to the network, as in the baseline.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[path = "../checker/benches/history_gen.rs"]
mod history_gen;

use eosim::model::Guarantee;
use eosim::scenarios::{self, RunOptions, Scenario};

/// The madsim-baseline loop: CLIENTS nodes make REQUESTS round trips each to one server.
fn baseline_seed(seed: u64, clients: usize, requests: usize) -> usize {
    use madsim::net::Endpoint;
    use madsim::runtime::{Handle, Runtime};
    let mut cfg = madsim::Config::default();
    cfg.net.send_latency = Duration::from_micros(100)..Duration::from_micros(500);
    let rt = Runtime::with_seed_and_config(seed, cfg);
    rt.block_on(async move {
        let h = Handle::current();
        let server_addr: SocketAddr = "10.0.0.1:9000".parse().unwrap();
        let server = h.create_node().name("server").ip(server_addr.ip()).build();
        server.spawn(async move {
            let ep = Endpoint::bind(server_addr).await.unwrap();
            loop {
                let (payload, from) = ep.recv_from_raw(1).await.unwrap();
                let n = *payload.downcast::<u64>().unwrap();
                ep.send_to_raw(from, 2, Box::new(n + 1)).await.unwrap();
            }
        });
        let mut joins = Vec::new();
        for c in 0..clients {
            let ip = format!("10.0.1.{}", c + 1);
            let node = h
                .create_node()
                .name(format!("client-{c}"))
                .ip(ip.parse().unwrap())
                .build();
            joins.push(node.spawn(async move {
                let ep = Endpoint::bind(format!("{ip}:1").parse::<SocketAddr>().unwrap())
                    .await
                    .unwrap();
                let mut sum = 0u64;
                for i in 0..requests as u64 {
                    ep.send_to_raw(server_addr, 1, Box::new(i)).await.unwrap();
                    let (resp, _) = ep.recv_from_raw(2).await.unwrap();
                    sum += *resp.downcast::<u64>().unwrap();
                }
                sum
            }));
        }
        for j in joins {
            j.await.unwrap();
        }
        for c in 0..clients {
            h.kill(format!("client-{c}"));
        }
        h.kill("server");
        madsim::time::sleep(Duration::from_millis(1)).await;
    });
    clients * requests * 2
}

/// CPU seconds this process has used (user + system, every thread, the seeds' exited ones
/// included), from the process CPU clock: on a shared machine a rate per CPU second is
/// steadier than one per wall second. Nanosecond resolution: `/proc/self/stat`'s clock ticks
/// (10 ms) quantised the checker line (about 0.12 s) to a few possible values 8 % apart.
fn cpu_seconds() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is given, which outlives the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "the process CPU clock is readable");
    now.tv_sec as f64 + now.tv_nsec as f64 / 1e9
}

/// (messages per wall second, messages per CPU second)
fn baseline(seeds: std::ops::Range<u64>) -> (f64, f64) {
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let mut messages = 0;
    for seed in seeds {
        messages += std::thread::spawn(move || baseline_seed(seed, 4, 2500))
            .join()
            .unwrap();
    }
    (
        messages as f64 / start.elapsed().as_secs_f64(),
        messages as f64 / (cpu_seconds() - cpu),
    )
}

/// Runs seeds one after another on this core; returns (seeds/s, messages/s, messages per CPU
/// second).
fn eosim_rate(scenario: &Scenario, seeds: std::ops::Range<u64>) -> (f64, f64, f64) {
    let count = seeds.end - seeds.start;
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let mut messages = 0;
    for seed in seeds {
        let outcome = scenarios::run(
            scenario,
            &RunOptions {
                seed,
                guarantee: Some(Guarantee::ExactlyOnce),
                ..Default::default()
            },
        );
        assert!(
            outcome.passed(),
            "seed {seed} failed: {:?}",
            outcome.anomalies
        );
        messages += outcome.stats.messages.sent;
    }
    let secs = start.elapsed().as_secs_f64();
    (
        count as f64 / secs,
        messages as f64 / secs,
        messages as f64 / (cpu_seconds() - cpu),
    )
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn main() {
    let seeds = env_u64("EOSIM_BENCH_SEEDS", 2_000);
    let memory_seeds = env_u64("EOSIM_BENCH_MEMORY_SEEDS", 10_000);
    let rounds = env_u64("EOSIM_BENCH_ROUNDS", 5).clamp(1, seeds.max(1));
    let baseline_seeds = env_u64("EOSIM_BENCH_BASELINE_SEEDS", 100).max(rounds);

    // The machine's speed drifts within a run (shared cores, frequency changes), so the
    // baseline and produce-retries are measured in interleaved rounds, each round's ratio
    // from back-to-back measurements, and the medians reported. Round r runs the r-th slice
    // of the seeds, so every seed runs once.
    let produce = scenarios::load("produce-retries").unwrap();
    let (mut base_rates, mut seed_rates, mut msg_rates, mut cpu_rates, mut ratios) =
        (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let slice = |total: u64| total * round / rounds..total * (round + 1) / rounds;
        let (_, base_cpu) = baseline(slice(baseline_seeds));
        let (seeds_per_s, msgs_per_s, msgs_per_cpu) = eosim_rate(&produce, slice(seeds));
        println!(
            "round {}/{rounds}: baseline {base_cpu:>8.0} msgs/CPU-s; produce-retries {msgs_per_cpu:>8.0} msgs/CPU-s, {msgs_per_s:>8.0} msgs/s, {seeds_per_s:.1} seeds/s ({:.0}% of baseline)",
            round + 1,
            100.0 * msgs_per_cpu / base_cpu
        );
        base_rates.push(base_cpu);
        seed_rates.push(seeds_per_s);
        msg_rates.push(msgs_per_s);
        cpu_rates.push(msgs_per_cpu);
        ratios.push(msgs_per_cpu / base_cpu);
    }
    let base_cpu = median(base_rates);
    let seeds_per_s = median(seed_rates);
    println!(
        "baseline (raw madsim round trips, 4 clients x 2500), median of {rounds}: {base_cpu:>8.0} msgs/CPU-s"
    );
    println!(
        "produce-retries exactly-once ({seeds} seeds, 1 core), median of {rounds}: {:>8.0} msgs/CPU-s {:>8.0} msgs/s  {seeds_per_s:.1} seeds/s ({:.2} ms/seed; {:.0}% of baseline per CPU-s)",
        median(cpu_rates),
        median(msg_rates),
        1e3 / seeds_per_s,
        100.0 * median(ratios)
    );

    let mut long = produce.clone();
    let scenarios::AppSpec::Produce(workload) = &mut long.app else {
        unreachable!("produce-retries runs the produce app")
    };
    workload.values_per_producer = 3_000;
    workload.send_interval_ms = 1;
    let (_, long_msgs, long_cpu) = eosim_rate(&long, 0..20);
    println!(
        "long produce run (3 x 3000 values, 20 seeds, 1 core):      {long_msgs:>8.0} msgs/s {long_cpu:>8.0} msgs/CPU-s  ({:.0}% of baseline per CPU-s)",
        100.0 * long_cpu / base_cpu
    );

    // Issue 4's per-seed budget: eos-test with 10,000 input records and its default fault
    // mix, wall time per seed on one core (target ≤ 0.5 s).
    let mut eos = scenarios::load("eos-test").unwrap();
    let scenarios::AppSpec::Streams(workload) = &mut eos.app else {
        unreachable!("eos-test runs the streams app")
    };
    workload.records = 10_000;
    let eos_seeds = env_u64("EOSIM_BENCH_EOS_SEEDS", 10);
    let start = Instant::now();
    let cpu_start = cpu_seconds();
    let passed = (0..eos_seeds)
        .filter(|&seed| {
            scenarios::run(
                &eos,
                &RunOptions {
                    seed,
                    ..Default::default()
                },
            )
            .passed()
        })
        .count();
    let wall = start.elapsed().as_secs_f64() / eos_seeds as f64;
    let cpu = (cpu_seconds() - cpu_start) / eos_seeds as f64;
    // The machine's speed swings by 10-20 % over hours, and the absolute figure with it; in
    // units of this run's baseline (the CPU time of that many raw madsim messages) it does not.
    println!(
        "eos-test, 10,000 records, default faults ({eos_seeds} seeds):     {wall:.3} s/seed wall, {cpu:.3} CPU-s/seed ({passed}/{eos_seeds} passed; as much CPU as {:.0}k baseline messages)",
        cpu * base_cpu / 1e3
    );

    checker_rate();

    let before = rss_kib();
    let list: Vec<u64> = (0..memory_seeds).collect();
    let start = Instant::now();
    eosim::sim::run_seeds(
        &list,
        1,
        |seed| {
            scenarios::run(
                &produce,
                &RunOptions {
                    seed,
                    ..Default::default()
                },
            )
            .passed()
        },
        &|_| {},
    );
    let after = rss_kib();
    println!(
        "memory over {memory_seeds} seeds: rss {before} KiB -> {after} KiB ({:+} KiB) in {:.1} s",
        after as i64 - before as i64,
        start.elapsed().as_secs_f64()
    );
}

/// The checker line: `check_all` on a generated 600k-op history, best of 3 (issue 16's
/// target: at least 5 M events/s).
fn checker_rate() {
    let history = history_gen::consume_transform_produce(history_gen::INPUTS_FOR_600K_OPS);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let cpu = cpu_seconds();
        let found = eosim::checker::check_all(&history).expect("the generated history pairs up");
        assert!(found.is_empty(), "a clean history, found {found:?}");
        best = best.min(cpu_seconds() - cpu);
    }
    println!(
        "checker (check_all, {} events, best of 3):   {:>8.2} M events/CPU-s",
        history.ops.len(),
        history.ops.len() as f64 / best / 1e6
    );
}
