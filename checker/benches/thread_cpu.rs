//! This thread's time on CPU, for the benches' "on CPU" columns.

use std::time::Duration;

/// This thread's time on CPU so far, from the thread CPU clock (nanoseconds).
/// `/proc/thread-self/schedstat`, read before, moves only at scheduler ticks on this machine's
/// kernel (1.3–4 ms), too coarse for checks of a few milliseconds.
pub fn on_cpu() -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is given, which outlives the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    let seconds = u64::try_from(now.tv_sec).ok()?;
    let nanos = u32::try_from(now.tv_nsec).ok()?;
    (status == 0).then(|| Duration::new(seconds, nanos))
}
