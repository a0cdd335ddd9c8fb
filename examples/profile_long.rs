//! A long produce run for profilers: `cargo run --release --example profile_long [SEEDS]`.
//! Prints simulated messages per second and the share of time the log checker takes.
fn main() {
    let mut s = eosim::scenarios::load("produce-retries").unwrap();
    let eosim::scenarios::AppSpec::Produce(workload) = &mut s.app else {
        unreachable!("produce-retries runs the produce app")
    };
    workload.values_per_producer = 3_000;
    workload.send_interval_ms = 1;
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let mut msgs = 0;
    let mut check = std::time::Duration::ZERO;
    let start = std::time::Instant::now();
    for seed in 0..seeds {
        let o = eosim::scenarios::run(
            &s,
            &eosim::scenarios::RunOptions {
                seed,
                ..Default::default()
            },
        );
        msgs += o.stats.messages.sent;
        let t = std::time::Instant::now();
        let _ = eosim::checker::check_all(&o.history);
        check += t.elapsed();
    }
    let total = start.elapsed() - check;
    println!(
        "{:.0} msgs/s; log checker {:.1}% of a run",
        msgs as f64 / total.as_secs_f64(),
        100.0 * check.as_secs_f64() / total.as_secs_f64()
    );
}
