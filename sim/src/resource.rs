//! Shared resources in virtual time, for the cost model: a network link, a disk, a pool of
//! request-handler threads. Each is a pool of identical servers taking work first come, first
//! served: a job that arrives while every server is busy waits for the first one to free up.
//!
//! A job is booked when it is known (a message when it is sent, a request when the broker
//! reads it), in that order, and it holds its server from its start to its end; nothing runs
//! in real time and nothing is random. Booking in send order is an approximation where a later
//! booking would have arrived earlier (a message with a shorter drawn latency): it queues
//! behind what was booked before it, as if the resource served in the order work was handed to
//! it. With the default of no servers a resource costs nothing (`Servers::none`).

use std::collections::BTreeMap;
use std::ops::Add;
use std::time::Duration;

/// A pool of identical servers, each free from a point in time on (`T`: an `Instant` in a
/// run, a `Duration` since some start in unit tests).
#[derive(Clone, Debug, Default)]
pub struct Servers<T> {
    /// When each server is free again; `None`: never used.
    free_at: Vec<Option<T>>,
}

impl<T: Copy + Ord + Add<Duration, Output = T>> Servers<T> {
    /// `n` servers (0: the resource is not modelled and `serve` costs nothing).
    pub fn new(n: usize) -> Self {
        Self {
            free_at: vec![None; n],
        }
    }

    /// A resource that is not modelled.
    pub fn none() -> Self {
        Self::new(0)
    }

    /// Whether the resource is modelled (it has servers).
    pub fn is_modelled(&self) -> bool {
        !self.free_at.is_empty()
    }

    /// Books `work` arriving at `arrival` on the server that frees up first (the lowest index
    /// among equals); returns when the work is done. Without servers: `arrival`.
    pub fn serve(&mut self, arrival: T, work: Duration) -> T {
        let Some(server) = self
            .free_at
            .iter_mut()
            .min_by_key(|free| free.map(|t| t.max(arrival)))
        else {
            return arrival;
        };
        let start = server.map_or(arrival, |free| free.max(arrival));
        let done = start + work;
        *server = Some(done);
        done
    }
}

/// One server whose jobs are fitted into time, not queued in booking order: each takes the
/// earliest idle gap at or after its arrival that is long enough (a network link). A link is
/// booked out of time order — an answer when its service time is known, ahead of its
/// leaving; a replicated write's traffic when the broker reads it — and `Servers`' one
/// free-from point would make every later booking wait behind a future one, even one due
/// long after it: a chain that grows by a service time per booking. Busy spans are kept
/// merged and sorted; `forget_before` drops those no arrival can reach any more.
#[derive(Clone, Debug)]
pub struct Calendar<T> {
    /// Busy spans, start → end: disjoint, none touching another (touching ones are merged).
    busy: BTreeMap<T, T>,
}

impl<T> Default for Calendar<T> {
    fn default() -> Self {
        Self {
            busy: BTreeMap::new(),
        }
    }
}

impl<T: Copy + Ord + Add<Duration, Output = T>> Calendar<T> {
    /// Books `work` arriving at `arrival` into the earliest gap that fits it; returns when the
    /// work is done. Zero work takes no time and books nothing.
    pub fn serve(&mut self, arrival: T, work: Duration) -> T {
        if work.is_zero() {
            return arrival;
        }
        let mut start = arrival;
        if let Some((_, &end)) = self.busy.range(..=start).next_back() {
            start = start.max(end);
        }
        while let Some((_, &end)) =
            (self.busy.range(start..).next()).filter(|&(&s, _)| s < start + work)
        {
            start = end;
        }
        let end = start + work;
        self.insert(start, end);
        end
    }

    /// Marks `start..end` busy (it overlaps nothing), merged with the spans it touches.
    fn insert(&mut self, mut start: T, mut end: T) {
        if let Some((&before, &before_end)) = self.busy.range(..start).next_back() {
            assert!(before_end <= start, "busy spans overlap");
            if before_end == start {
                self.busy.remove(&before);
                start = before;
            }
        }
        if let Some(after_end) = self.busy.remove(&end) {
            end = after_end;
        }
        self.busy.insert(start, end);
    }

    /// Forgets the spans that end at or before `now` (no arrival is earlier than now).
    pub fn forget_before(&mut self, now: T) {
        while let Some(entry) = self.busy.first_entry() {
            if *entry.get() > now {
                break;
            }
            entry.remove();
        }
    }
}

/// How long `bytes` take at `mbit_per_s` megabits per second (10^6 bit/s), rounded up to the
/// nanosecond; zero without a rate.
pub fn transfer_time(bytes: u64, mbit_per_s: u64) -> Duration {
    if mbit_per_s == 0 {
        return Duration::ZERO;
    }
    // bits / (mbit/s × 10^6) seconds = bits × 1000 / mbit ns.
    Duration::from_nanos((bytes * 8 * 1_000).div_ceil(mbit_per_s))
}

/// How long `bytes` take at `mb_per_s` megabytes per second (10^6 B/s); zero without a rate.
pub fn write_time(bytes: u64, mb_per_s: u64) -> Duration {
    if mb_per_s == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos((bytes * 1_000).div_ceil(mb_per_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn two_jobs_at_once_on_one_server_the_second_waits() {
        let mut link = Servers::new(1);
        assert_eq!(link.serve(us(0), us(10)), us(10));
        assert_eq!(link.serve(us(0), us(10)), us(20), "queued behind the first");
        assert_eq!(link.serve(us(50), us(10)), us(60), "idle again: no wait");
    }

    #[test]
    fn a_pool_serves_as_many_jobs_at_once_as_it_has_servers() {
        let mut threads = Servers::new(2);
        assert_eq!(threads.serve(us(0), us(10)), us(10));
        assert_eq!(threads.serve(us(0), us(10)), us(10), "the second thread");
        assert_eq!(threads.serve(us(0), us(10)), us(20), "both busy: waits");
        assert_eq!(
            threads.serve(us(5), us(1)),
            us(11),
            "the first thread to free up"
        );
    }

    #[test]
    fn a_calendar_fits_a_job_into_an_earlier_gap_than_a_job_booked_before_it() {
        let mut link = Calendar::default();
        // An answer booked ahead of time, due at 1,000 µs.
        assert_eq!(link.serve(us(1_000), us(10)), us(1_010));
        // Booked later but arriving earlier: it goes first, in the gap before.
        assert_eq!(link.serve(us(0), us(10)), us(10));
        // A job that does not fit before the next span goes after it.
        assert_eq!(link.serve(us(995), us(10)), us(1_020));
        // Arriving inside a busy span, it waits for the span's end.
        assert_eq!(link.serve(us(5), us(5)), us(15));
        assert_eq!(
            link.busy.len(),
            2,
            "touching spans merge: 0..15 and 995..1020"
        );
        link.forget_before(us(15));
        assert_eq!(link.busy.len(), 1, "0..15 can no longer be reached");
        assert_eq!(
            link.serve(us(2_000), Duration::ZERO),
            us(2_000),
            "no work, no wait"
        );
    }

    #[test]
    fn a_calendar_in_time_order_serves_as_one_server() {
        let (mut link, mut server) = (Calendar::default(), Servers::new(1));
        for (arrival, work) in [(0, 5), (1, 5), (3, 1), (20, 2), (21, 9), (21, 1)] {
            assert_eq!(
                link.serve(us(arrival), us(work)),
                server.serve(us(arrival), us(work))
            );
        }
    }

    #[test]
    fn without_servers_nothing_is_charged() {
        let mut none = Servers::none();
        assert!(!none.is_modelled());
        assert_eq!(none.serve(us(7), us(1_000)), us(7));
        assert_eq!(none.serve(us(7), us(1_000)), us(7));
    }

    #[test]
    fn rates_convert_bytes_to_time() {
        // 1 Gbit/s: 125 bytes per microsecond.
        assert_eq!(transfer_time(125_000, 1_000), us(1_000));
        assert_eq!(transfer_time(1, 1_000), Duration::from_nanos(8));
        assert_eq!(transfer_time(1_000, 0), Duration::ZERO);
        // 100 MB/s: 100 bytes per microsecond.
        assert_eq!(write_time(1_000_000, 100), us(10_000));
        assert_eq!(write_time(1_000, 0), Duration::ZERO);
    }
}
