//! A re-armable wake-up for event loops that wait on "whichever comes first".
//!
//! madsim's `Sleep` registers a new timer every time it is polled while pending, and a timer
//! cannot be cancelled: a loop that re-creates or re-polls a sleep on each turn piles up
//! timers (one per message, in eosim's loops). `Alarm` registers a timer only when no earlier
//! registered timer will wake the task in time: once per distinct earlier deadline. A timer
//! that fires early (the target moved later) just makes the loop look again.
//!
//! It registers through one `Sleep` kept for its lifetime and reset to each new deadline: a
//! fresh `sleep_until` per registration looks the runtime up and clones and drops its handles
//! (eight atomic reference-count changes), for the same timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::time::Duration;

use madsim::time::{Instant, Sleep};

use crate::trace::now;

/// A wake-up at a settable instant. Use one per task (timers wake the task that armed them).
#[derive(Debug, Default)]
pub struct Alarm {
    target: Option<Instant>,
    /// The earliest registered timer not yet passed: it will wake the task then.
    registered: Option<Instant>,
    /// The sleep that registers the timers, made at the first registration.
    sleep: Option<Sleep>,
}

/// madsim's shortest sleep: `sleep_until` never waits less.
const MIN_SLEEP: Duration = Duration::from_millis(1);

impl Alarm {
    pub fn new() -> Self {
        Self::default()
    }

    /// When to fire next (`None`: not at all).
    pub fn set(&mut self, target: Option<Instant>) {
        self.target = target;
    }

    /// Resolves when the target instant has come (never, without a target).
    pub fn fired(&mut self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| self.poll_fired(cx))
    }

    pub(crate) fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(target) = self.target else {
            return Poll::Pending;
        };
        let now = now();
        if now >= target {
            self.target = None;
            return Poll::Ready(());
        }
        if self.registered.is_some_and(|r| r > now && r <= target) {
            return Poll::Pending; // an earlier timer will wake us; we look again then
        }
        // The deadline `sleep_until(target)` would give: madsim sleeps at least 1 ms, so the
        // timer may be later than the target.
        let deadline = target.max(now + MIN_SLEEP);
        let sleep = self
            .sleep
            .get_or_insert_with(|| madsim::time::sleep_until(deadline));
        Pin::new(&mut *sleep).reset(deadline);
        // Polling a pending sleep registers its timer with this task's waker.
        let registered = Pin::new(sleep).poll(cx).is_pending();
        if !registered {
            self.target = None;
            return Poll::Ready(());
        }
        self.registered = Some(deadline);
        Poll::Pending
    }
}
