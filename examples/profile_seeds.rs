//! Many short produce-retries seeds for profilers: `cargo run --release --example profile_seeds [SEEDS]`.
fn main() {
    let mut s = eosim::scenarios::load("produce-retries").unwrap();
    // EOSIM_PROFILE_VALUES: values per producer (default: the scenario's 100), e.g. 1 to see
    // the fixed cost of a seed.
    if let Some(values) = std::env::var("EOSIM_PROFILE_VALUES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let eosim::scenarios::AppSpec::Produce(workload) = &mut s.app else {
            unreachable!("produce-retries runs the produce app")
        };
        workload.values_per_producer = values;
    }
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let start = std::time::Instant::now();
    let mut msgs = 0;
    for seed in 0..seeds {
        msgs += eosim::scenarios::run(
            &s,
            &eosim::scenarios::RunOptions {
                seed,
                ..Default::default()
            },
        )
        .stats
        .messages
        .sent;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:.0} msgs/s, {:.2} ms/seed",
        msgs as f64 / secs,
        1e3 * secs / seeds as f64
    );
}
