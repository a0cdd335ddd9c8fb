//! A long produce run for profilers: `cargo run --release --example profile_long`.
fn main() {
    let mut s = eosim::scenarios::load("produce-retries").unwrap();
    s.workload.values_per_producer = 3_000;
    s.workload.send_interval_ms = 1;
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let mut msgs = 0;
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
    }
    println!("{} msgs/s", msgs as f64 / start.elapsed().as_secs_f64());
}
