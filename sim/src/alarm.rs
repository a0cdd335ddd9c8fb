//! A re-armable wake-up for event loops that wait on "whichever comes first".
//!
//! madsim's `Sleep` registers a new timer every time it is polled while pending, and a timer
//! cannot be cancelled: a loop that re-creates or re-polls a sleep on each turn piles up
//! timers (one per message, in eosim's loops). `Alarm` registers a timer only when no earlier
//! registered timer will wake the task in time: once per distinct earlier deadline. A timer
//! that fires early (the target moved later) just makes the loop look again.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use madsim::time::Instant;

use crate::trace::now;

/// A wake-up at a settable instant. Use one per task (timers wake the task that armed them).
#[derive(Debug, Default)]
pub struct Alarm {
    target: Option<Instant>,
    /// The earliest registered timer not yet passed: it will wake the task then.
    registered: Option<Instant>,
}

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
        let mut sleep = madsim::time::sleep_until(target);
        // Polling a pending sleep registers its timer with this task's waker.
        let registered = Pin::new(&mut sleep).poll(cx).is_pending();
        if !registered {
            self.target = None;
            return Poll::Ready(());
        }
        // madsim sleeps at least 1 ms, so the timer may be later than the target.
        self.registered = Some(sleep.deadline().max(target));
        Poll::Pending
    }
}
