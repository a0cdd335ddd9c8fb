//! Runs seeds: one seed on a fresh OS thread with its own madsim runtime, many seeds on a pool.
//!
//! A fresh thread per seed matters: madsim seeds std HashMap order only on a thread that has
//! never built one. After the run's future, every supervisor task is aborted and every node
//! killed before the runtime drops, so long sweeps keep flat memory. A panic anywhere in the
//! simulation is caught and reported as that seed's failure.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::node::Sim;
use crate::trace::{self, TraceSummary};

/// Options of one seed's run. Defaults: no recorded trace, a 1-hour virtual time limit.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    /// Keep every trace event (for `--trace` and the determinism check), not just the hash.
    pub record_trace: bool,
    /// Virtual time after which madsim aborts the run (a backstop; scenarios enforce their
    /// own convergence deadline and report liveness failures themselves).
    pub time_limit: Duration,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            record_trace: false,
            time_limit: Duration::from_secs(3600),
        }
    }
}

/// The outcome of one seed.
#[derive(Debug)]
pub struct SeedReport<T> {
    pub seed: u64,
    /// The run's value, or the message of the panic that ended it.
    pub outcome: Result<T, String>,
    pub trace: TraceSummary,
    /// Virtual nanoseconds the run lasted (for a panic: until it panicked; 0 if the seed's
    /// thread itself died).
    pub virtual_ns: u64,
}

/// Runs `body` as seed `seed` on a fresh OS thread and returns its result and trace.
pub fn run_seed<T, F, Fut>(seed: u64, options: &SeedOptions, body: F) -> SeedReport<T>
where
    T: Send + 'static,
    F: FnOnce(Sim) -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
{
    let options = options.clone();
    let thread = std::thread::Builder::new()
        .name(format!("seed-{seed}"))
        .spawn(move || run_on_this_thread(seed, &options, body))
        .expect("spawn seed thread");
    match thread.join() {
        Ok(report) => report,
        Err(panic) => SeedReport {
            seed,
            outcome: Err(panic_message(panic.as_ref())),
            trace: TraceSummary::default(),
            virtual_ns: 0,
        },
    }
}

fn run_on_this_thread<T, F, Fut>(seed: u64, options: &SeedOptions, body: F) -> SeedReport<T>
where
    F: FnOnce(Sim) -> Fut,
    Fut: Future<Output = T>,
{
    let mut config = madsim::Config::default();
    config.net.packet_loss_rate = 0.0;
    let mut runtime = madsim::runtime::Runtime::with_seed_and_config(seed, config);
    runtime.set_time_limit(options.time_limit);
    let sim = Sim::new(seed);
    let record = options.record_trace;
    let run_sim = sim.clone();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async move {
            trace::begin(record);
            let value = body(run_sim.clone()).await;
            run_sim.teardown();
            // Let the killed tasks be dropped before the runtime goes (madsim leaks them
            // otherwise).
            madsim::time::sleep(Duration::from_millis(1)).await;
            value
        })
    }));
    let virtual_ns = trace::elapsed_ns();
    let names = sim.node_names();
    let trace = trace::finish(names);
    drop(runtime);
    SeedReport {
        seed,
        outcome: result.map_err(|p| panic_message(p.as_ref())),
        trace,
        virtual_ns,
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Runs `run(seed)` for every seed on `jobs` worker threads and returns the results in seed
/// order. Each result depends only on its seed, never on `jobs` or scheduling. `progress` is
/// called after each finished seed with the number finished so far.
pub fn run_seeds<R, F>(
    seeds: &[u64],
    jobs: usize,
    run: F,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<R>
where
    R: Send,
    F: Fn(u64) -> R + Sync,
{
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<R>>> = Mutex::new((0..seeds.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(seeds.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    let result = run(seed);
                    slots.lock().expect("results lock")[i] = Some(result);
                    progress(finished.fetch_add(1, Ordering::Relaxed) + 1);
                }
            });
        }
    });
    slots
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every seed ran"))
        .collect()
}
