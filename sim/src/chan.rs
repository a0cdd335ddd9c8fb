//! An unbounded multi-producer, single-consumer channel for simulated code: a drop-in for
//! `tokio::sync::mpsc::unbounded_channel` with the same wake-ups, at a fraction of the cost
//! (one `RunLock` and a `VecDeque` instead of tokio's lock-free block list, semaphore
//! and atomic waker; everything in a seed runs on one thread).
//!
//! The wake-ups are tokio's, one for one, so swapping the two leaves every schedule (and so
//! every trace) unchanged: a send queues the value and wakes the receiver's registered waker,
//! taking it; a receive that finds the queue empty registers the polling task's waker (kept,
//! like tokio's, until a send or the last sender's drop takes it); dropping the last sender
//! wakes the receiver, which then receives what is queued and `None` after it; dropping the
//! receiver drops what is queued, in order, and makes later sends fail.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::run_lock::{RunLock, RunLockGuard};

struct Shared<T> {
    queue: VecDeque<T>,
    /// The receiver's waker, registered by a receive that found nothing.
    waker: Option<Waker>,
    senders: usize,
    receiver_alive: bool,
}

struct Chan<T> {
    shared: RunLock<Shared<T>>,
}

impl<T> Chan<T> {
    fn lock(&self) -> RunLockGuard<'_, Shared<T>> {
        self.shared.lock()
    }
}

/// Creates an unbounded channel.
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let chan = Arc::new(Chan {
        shared: RunLock::new(Shared {
            queue: VecDeque::new(),
            waker: None,
            senders: 1,
            receiver_alive: true,
        }),
    });
    (
        UnboundedSender { chan: chan.clone() },
        UnboundedReceiver { chan },
    )
}

/// The value of a send whose receiver is gone.
#[derive(PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> std::fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendError { .. }")
    }
}

/// The sending half. Cheap to clone.
pub struct UnboundedSender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> UnboundedSender<T> {
    /// Whether the receiver is gone (a send would fail).
    pub fn is_closed(&self) -> bool {
        !self.chan.lock().receiver_alive
    }

    /// Queues `value` and wakes the receiver; fails (returning it) if the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let waker = {
            let mut shared = self.chan.lock();
            if !shared.receiver_alive {
                return Err(SendError(value));
            }
            shared.queue.push_back(value);
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.chan.lock().senders += 1;
        Self {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut shared = self.chan.lock();
            shared.senders -= 1;
            if shared.senders > 0 {
                return;
            }
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> std::fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnboundedSender")
    }
}

/// The receiving half.
pub struct UnboundedReceiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> UnboundedReceiver<T> {
    /// The next value; `None` once every sender is gone and the queue is empty.
    pub fn recv(&mut self) -> impl Future<Output = Option<T>> + '_ {
        std::future::poll_fn(move |cx| self.poll_recv(cx))
    }

    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut shared = self.chan.lock();
        if let Some(value) = shared.queue.pop_front() {
            return Poll::Ready(Some(value));
        }
        if shared.senders == 0 {
            return Poll::Ready(None);
        }
        match &mut shared.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for UnboundedReceiver<T> {
    fn drop(&mut self) {
        let queued = {
            let mut shared = self.chan.lock();
            shared.receiver_alive = false;
            std::mem::take(&mut shared.queue)
        };
        // Outside the lock: a queued value's drop may wake tasks or send on this channel.
        drop(queued);
    }
}

impl<T> std::fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnboundedReceiver")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn wakes_like_tokio() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = unbounded_channel();
        assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
        tx.send(1).unwrap();
        tx.send(2).unwrap(); // the waker was taken by the first send
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(2)));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
        let tx2 = tx.clone();
        drop(tx);
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        tx2.send(3).unwrap();
        assert_eq!(count.0.load(Ordering::Relaxed), 2);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(3)));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
        drop(tx2); // the last sender wakes the receiver
        assert_eq!(count.0.load(Ordering::Relaxed), 3);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn send_fails_without_receiver() {
        let (tx, rx) = unbounded_channel();
        drop(rx);
        assert_eq!(tx.send(7), Err(SendError(7)));
    }
}
