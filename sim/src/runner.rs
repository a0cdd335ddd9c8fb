//! Runs seeds: one seed on a fresh OS thread with its own madsim runtime, many seeds on a pool.
//!
//! A fresh thread per seed matters: madsim seeds std HashMap order only on a thread that has
//! never built one. After the run's future, every supervisor task is aborted and every node
//! killed before the runtime drops, so long sweeps keep flat memory. A panic anywhere in the
//! simulation is caught and reported as that seed's failure.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::coverage::{self, CoverageCounts};
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
    /// Number of the application's coverage points (`sim::coverage::hit` indices) to count.
    pub coverage_points: usize,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            record_trace: false,
            time_limit: Duration::from_secs(3600),
            coverage_points: 0,
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
    /// Coverage points taken and targeted faults used (`coverage`); for a panic, until it
    /// panicked (empty if the seed's thread itself died).
    pub coverage: CoverageCounts,
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
            coverage: CoverageCounts::default(),
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
    coverage::begin(options.coverage_points);
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(trace::keeping_poll_clock(async move {
            trace::begin(record);
            let value = body(run_sim.clone()).await;
            run_sim.teardown();
            // Let the killed tasks be dropped before the runtime goes (madsim leaks them
            // otherwise).
            madsim::time::sleep(Duration::from_millis(1)).await;
            value
        }))
    }));
    let virtual_ns = trace::elapsed_ns();
    let names = sim.node_names();
    let trace = trace::finish(names);
    let coverage = coverage::finish();
    drop(runtime);
    SeedReport {
        seed,
        outcome: result.map_err(|p| panic_message(p.as_ref())),
        trace,
        virtual_ns,
        coverage,
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

/// How a [`for_each_seed`] pool ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolEnd {
    /// Results handed to the sink.
    pub finished: u64,
    /// Whether `stop` ended it before the seeds ran out.
    pub interrupted: bool,
}

/// Results a pool may hold ahead of the oldest unfinished seed, per worker: bounds the
/// reorder buffer (a slow seed makes the others wait rather than pile up results).
const AHEAD_PER_WORKER: u64 = 256;

/// The shared end of a pool: the seeds still to hand out and the reorder window.
struct Feed<I> {
    seeds: I,
    /// Position of the next seed to hand out.
    next: u64,
    /// Positions below this were delivered to the sink.
    delivered: u64,
    exhausted: bool,
}

impl<I: Iterator<Item = u64>> Feed<I> {
    fn new(seeds: I) -> Self {
        Feed {
            seeds,
            next: 0,
            delivered: 0,
            exhausted: false,
        }
    }

    /// For a worker: the next seed to run and its position, once the reorder window
    /// (`window` results ahead of the oldest undelivered one) has room; `None` once `stop`
    /// is set or the seeds ran out.
    fn take(shared: &(Mutex<Self>, Condvar), stop: &AtomicBool, window: u64) -> Option<(u64, u64)> {
        let (lock, wake) = shared;
        let mut feed = lock.lock().expect("seed feed lock");
        loop {
            if stop.load(Ordering::Relaxed) || feed.exhausted {
                return None;
            }
            if feed.next < feed.delivered + window {
                break;
            }
            feed = wake
                .wait_timeout(feed, Duration::from_millis(50))
                .expect("seed feed lock")
                .0;
        }
        match feed.seeds.next() {
            Some(seed) => {
                feed.next += 1;
                Some((feed.next - 1, seed))
            }
            None => {
                feed.exhausted = true;
                wake.notify_all();
                None
            }
        }
    }
}

/// After `stop` ended a pool: hands `sink` what finished, in order, past the gaps of the
/// seeds in flight (`pending` and whatever the channel holds); returns how many.
fn hand_over_finished<R>(
    receiver: &std::sync::mpsc::Receiver<(u64, u64, R)>,
    mut pending: BTreeMap<u64, (u64, R)>,
    sink: &mut impl FnMut(u64, R),
) -> u64 {
    while let Ok((position, seed, result)) = receiver.try_recv() {
        pending.insert(position, (seed, result));
    }
    let finished = pending.len() as u64;
    for (seed, result) in pending.into_values() {
        sink(seed, result);
    }
    finished
}

/// Runs `run(seed)` for every seed of `seeds` on `jobs` worker threads and hands each result
/// to `sink` on the calling thread, in the order of `seeds`. Each result depends only on its
/// seed, never on `jobs` or scheduling.
///
/// `seeds` is consumed lazily (a worker takes the next seed when it is free), so a range of
/// 2^64 seeds costs no memory up front; results wait in a reorder buffer of at most
/// 256 × `jobs` entries. Once `stop` is set no new seed starts; the call returns after
/// handing over, still in order, every result already finished (with gaps where seeds were
/// in flight). Seeds in flight are abandoned: their threads finish in the background and
/// their results are dropped (a process that exits then does not wait for them).
pub fn for_each_seed<R, F, I>(
    seeds: I,
    jobs: usize,
    run: F,
    stop: &Arc<AtomicBool>,
    mut sink: impl FnMut(u64, R),
) -> PoolEnd
where
    R: Send + 'static,
    F: Fn(u64) -> R + Send + Sync + 'static,
    I: Iterator<Item = u64> + Send + 'static,
{
    let jobs = jobs.max(1);
    let window = AHEAD_PER_WORKER * jobs as u64;
    let feed = Arc::new((Mutex::new(Feed::new(seeds)), Condvar::new()));
    let run = Arc::new(run);
    let (sender, receiver) = std::sync::mpsc::channel::<(u64, u64, R)>();
    for worker in 0..jobs {
        let (feed, run, stop, sender) = (feed.clone(), run.clone(), stop.clone(), sender.clone());
        std::thread::Builder::new()
            .name(format!("seed-worker-{worker}"))
            .spawn(move || {
                while let Some((position, seed)) = Feed::take(&feed, &stop, window) {
                    let result = run(seed);
                    if sender.send((position, seed, result)).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn seed worker");
    }
    drop(sender);
    let mut pending: BTreeMap<u64, (u64, R)> = BTreeMap::new();
    let mut delivered = 0u64;
    let interrupted = loop {
        if stop.load(Ordering::Relaxed) {
            break true;
        }
        match receiver.recv_timeout(Duration::from_millis(50)) {
            Ok((position, seed, result)) => {
                pending.insert(position, (seed, result));
                while let Some((seed, result)) = pending.remove(&delivered) {
                    sink(seed, result);
                    delivered += 1;
                }
                let (lock, wake) = &*feed;
                lock.lock().expect("seed feed lock").delivered = delivered;
                wake.notify_all();
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            // Every worker is gone: the seeds ran out.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break false,
        }
    };
    let mut finished = delivered;
    if interrupted {
        finished += hand_over_finished(&receiver, pending, &mut sink);
        feed.1.notify_all();
    }
    PoolEnd {
        finished,
        interrupted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_hands_results_over_in_seed_order_whatever_the_jobs() {
        let never = Arc::new(AtomicBool::new(false));
        for jobs in [1, 3, 8] {
            let mut seen = Vec::new();
            // Later seeds finish first: the order must still be the seeds'.
            let end = for_each_seed(
                (0..50u64).rev(),
                jobs,
                |seed| {
                    std::thread::sleep(Duration::from_micros(seed * 20));
                    seed * 2
                },
                &never,
                |seed, result| seen.push((seed, result)),
            );
            let expected: Vec<(u64, u64)> = (0..50u64).rev().map(|s| (s, s * 2)).collect();
            assert_eq!(seen, expected, "jobs {jobs}");
            assert_eq!(
                end,
                PoolEnd {
                    finished: 50,
                    interrupted: false
                }
            );
        }
    }

    #[test]
    fn a_pool_over_every_u64_starts_at_once_and_stops_when_asked() {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let mut seen = Vec::new();
        let end = for_each_seed(
            0..=u64::MAX,
            2,
            move |seed| {
                if seed == 1000 {
                    flag.store(true, Ordering::Relaxed);
                }
                seed
            },
            &stop,
            |seed, _| seen.push(seed),
        );
        assert!(end.interrupted);
        assert_eq!(end.finished, seen.len() as u64);
        assert!(seen.len() >= 900, "{}", seen.len());
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order");
    }
}
