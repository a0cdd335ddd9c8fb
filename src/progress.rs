//! Progress of long runs (`sweep`, `compare`, `shrink`, `soak`) on stderr: done of total,
//! rate, ETA and failures so far. Drawn only when stderr is a terminal, so it never mixes
//! into piped output, logs or `--json` (which goes to stdout anyway); `--quiet` hides it there
//! too.
//!
//! ```text
//! sweep [======>         ] 4,096/10,000 seeds · 3 failed · 812 seeds/s · ETA 7s · seeds 17, 212, 918, …
//! ```
//!
//! Up to the ETA the line fits 80 columns; the details after it are cut to the terminal's width.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

/// Set by `--quiet`: every progress line made afterwards draws nothing.
static HIDE_ALL: AtomicBool = AtomicBool::new(false);

/// No progress line from now on (`--quiet`), terminal or not.
pub fn hide_all() {
    HIDE_ALL.store(true, Ordering::Relaxed);
}

/// A progress line on stderr, or nothing when stderr is not a terminal (or `--quiet`).
pub struct Progress {
    bar: ProgressBar,
    /// The failures so far as the line says them (read when the line is drawn).
    failed_text: Arc<Mutex<String>>,
    failures: RefCell<Failures>,
    /// What the line says after the failures (the case a soak is on).
    context: RefCell<String>,
}

/// What a count of work is in: seeds, shrink's candidate runs, or hunt's variants.
#[derive(Clone, Copy)]
pub enum Unit {
    Seeds,
    Runs,
    Variants,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Seeds => "seeds",
            Unit::Runs => "runs",
            Unit::Variants => "variants",
        }
    }
}

impl Progress {
    /// `len` units of work for `command`; shown only if stderr is a terminal. `eta_is_bound`:
    /// the work may end early (a shrink's run budget), so the ETA is an upper bound.
    pub fn new(command: &str, len: u128, unit: Unit, eta_is_bound: bool) -> Progress {
        if HIDE_ALL.load(Ordering::Relaxed) || !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX));
        let progress = Progress::with_bar(bar);
        progress
            .bar
            .set_style(style(unit, eta_is_bound, progress.failed_text.clone()));
        progress.bar.set_prefix(command.to_string());
        progress.bar.enable_steady_tick(Duration::from_millis(200));
        progress
    }

    /// Progress that draws nothing.
    pub fn hidden() -> Progress {
        Progress::with_bar(ProgressBar::hidden())
    }

    fn with_bar(bar: ProgressBar) -> Progress {
        Progress {
            bar,
            failed_text: Arc::new(Mutex::new(Failures::default().to_string())),
            failures: RefCell::default(),
            context: RefCell::default(),
        }
    }

    /// One seed done (`failed`: it failed).
    pub fn seed_done(&self, seed: u64, failed: bool) {
        self.bar.inc(1);
        if failed {
            self.failures.borrow_mut().add(seed);
            self.redraw_message();
        }
    }

    /// `n` units done in all, `failed` saying the failures so far and `details` anything
    /// else (cut to the terminal's width).
    pub fn set(&self, n: u64, failed: String, details: String) {
        *self.failed_text.lock().expect("not poisoned") = failed;
        self.bar.set_position(n);
        self.bar.set_message(details);
    }

    /// Says what the run is on now, after the failures (a soak's case).
    pub fn set_context(&self, context: String) {
        *self.context.borrow_mut() = context;
        self.redraw_message();
    }

    fn redraw_message(&self) {
        let failures = self.failures.borrow();
        *self.failed_text.lock().expect("not poisoned") = failures.to_string();
        let details: Vec<String> = [failures.seeds_text(), self.context.borrow().clone()]
            .into_iter()
            .filter(|text| !text.is_empty())
            .collect();
        self.bar.set_message(if details.is_empty() {
            String::new()
        } else {
            format!("· {}", details.join(" · "))
        });
    }

    /// Prints a line on stderr, above the progress line if there is one.
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Removes the progress line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `command [bar] done/total unit · failed · rate · ETA · details`.
fn style(unit: Unit, eta_is_bound: bool, failed_text: Arc<Mutex<String>>) -> ProgressStyle {
    let name = unit.name();
    let eta_label = if eta_is_bound { "ETA ≤" } else { "ETA" };
    let template = format!(
        "{{prefix:.bold}} [{{bar:16}}] {{human_pos}}/{{human_len}} {name} · {{failed}} · \
         {{rate}} · {eta_label} {{eta_text}} {{wide_msg}}"
    );
    ProgressStyle::with_template(&template)
        .expect("the template is valid")
        .progress_chars("=> ")
        .with_key(
            "failed",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&failed_text.lock().expect("not poisoned"));
            },
        )
        .with_key(
            "rate",
            move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate_text(state.per_sec(), name));
            },
        )
        .with_key(
            "eta_text",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let remaining = state.len().unwrap_or(0).saturating_sub(state.pos());
                let _ = w.write_str(&eta_text(remaining, state.pos(), state.per_sec()));
            },
        )
}

/// `812 seeds/s`, `3.2 runs/s`, `0.45 seeds/s`.
pub fn rate_text(per_sec: f64, unit: &str) -> String {
    match per_sec {
        r if !r.is_finite() || r <= 0.0 => format!("? {unit}/s"),
        r if r >= 100.0 => format!("{r:.0} {unit}/s"),
        r if r >= 10.0 => format!("{r:.1} {unit}/s"),
        r => format!("{r:.2} {unit}/s"),
    }
}

/// The time left for `remaining` units at `per_sec`: `12s`, `3m 07s`, `2h 05m`, `4d 02h`,
/// `> 1,000 years`; `?` before the first unit is done.
pub fn eta_text(remaining: u64, done: u64, per_sec: f64) -> String {
    if remaining == 0 {
        return "0s".to_string();
    }
    if done == 0 || !per_sec.is_finite() || per_sec <= 0.0 {
        return "?".to_string();
    }
    let secs = remaining as f64 / per_sec;
    const YEAR: f64 = 365.0 * 86_400.0;
    if secs >= 1000.0 * YEAR {
        return "> 1,000 years".to_string();
    }
    if secs >= YEAR {
        return format!("{:.0} years", secs / YEAR);
    }
    let s = secs.ceil() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Failures so far: how many, and the first few seeds.
#[derive(Default)]
pub struct Failures {
    count: u64,
    seeds: Vec<u64>,
}

/// How many failing seeds the progress line names.
const SEEDS_NAMED: usize = 3;

impl Failures {
    pub fn add(&mut self, seed: u64) {
        self.count += 1;
        if self.seeds.len() < SEEDS_NAMED {
            self.seeds.push(seed);
        }
    }

    /// The first failing seeds: `seed 17`, `seeds 17, 212, 918, …`; empty if none.
    pub fn seeds_text(&self) -> String {
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        let more = if self.count > self.seeds.len() as u64 {
            ", …"
        } else {
            ""
        };
        match self.count {
            0 => String::new(),
            1 => format!("seed {}", seeds[0]),
            _ => format!("seeds {}{more}", seeds.join(", ")),
        }
    }
}

impl std::fmt::Display for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.count {
            0 => f.write_str("no failures"),
            n => write!(f, "{n} failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_reads_as_a_duration_and_never_overflows() {
        assert_eq!(eta_text(10, 0, 0.0), "?");
        assert_eq!(eta_text(0, 5, 1.0), "0s");
        assert_eq!(eta_text(12, 1, 1.0), "12s");
        assert_eq!(eta_text(187, 1, 1.0), "3m 07s");
        assert_eq!(eta_text(7500, 1, 1.0), "2h 05m");
        assert_eq!(eta_text(3 * 86_400 + 7200, 1, 1.0), "3d 02h");
        assert_eq!(eta_text(u64::MAX, 1, 1000.0), "> 1,000 years");
        assert_eq!(eta_text(10 * 365 * 86_400, 1, 1.0), "10 years");
    }

    #[test]
    fn rates_keep_a_few_digits() {
        assert_eq!(rate_text(812.4, "seeds"), "812 seeds/s");
        assert_eq!(rate_text(31.25, "runs"), "31.2 runs/s");
        assert_eq!(rate_text(0.456, "seeds"), "0.46 seeds/s");
        assert_eq!(rate_text(0.0, "seeds"), "? seeds/s");
    }

    #[test]
    fn failures_name_the_first_seeds() {
        let mut f = Failures::default();
        assert_eq!(
            (f.to_string(), f.seeds_text()),
            ("no failures".into(), String::new())
        );
        f.add(17);
        assert_eq!(
            (f.to_string(), f.seeds_text()),
            ("1 failed".into(), "seed 17".into())
        );
        for seed in [212, 918, 1000] {
            f.add(seed);
        }
        assert_eq!(f.to_string(), "4 failed");
        assert_eq!(f.seeds_text(), "seeds 17, 212, 918, …");
    }

    #[test]
    fn hidden_progress_takes_calls_and_draws_nothing() {
        let p = Progress::hidden();
        p.seed_done(3, true);
        p.set_context("a case".into());
        p.set(5, "failed".into(), "details".into());
        p.finish();
    }
}
