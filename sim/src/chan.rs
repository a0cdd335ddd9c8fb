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
//! receiver drops what is queued, in order, and makes later sends fail. `oneshot_channel` is
//! the same for `tokio::sync::oneshot` (a call's outcome).

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

/// A channel for one value: a drop-in for `tokio::sync::oneshot::channel` with the same
/// wake-ups (a call's outcome, one per call). The receiver registers its task's waker when
/// polled before the value came (a new one only if it would not wake the same task); the
/// send, or the sender's drop without one, wakes it once; a send after the receiver is gone
/// fails, and the receiver gets an error if the sender went without sending.
pub fn oneshot_channel<T>() -> (OneshotSender<T>, OneshotReceiver<T>) {
    let slot = Arc::new(RunLock::new(Slot {
        value: None,
        complete: false,
        receiver_alive: true,
        waker: None,
    }));
    (
        OneshotSender {
            slot: Some(slot.clone()),
        },
        OneshotReceiver { slot },
    )
}

struct Slot<T> {
    value: Option<T>,
    /// Sent, or the sender is gone without sending.
    complete: bool,
    receiver_alive: bool,
    /// The receiver's waker, registered by a poll that found nothing.
    waker: Option<Waker>,
}

/// The sending half of `oneshot_channel`.
pub struct OneshotSender<T> {
    /// `None` once sent.
    slot: Option<Arc<RunLock<Slot<T>>>>,
}

impl<T> OneshotSender<T> {
    /// Hands over `value` and wakes the receiver; fails (returning it) if the receiver is
    /// gone.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let slot = self.slot.take().expect("a sender sends once");
        let waker = {
            let mut slot = slot.lock();
            if !slot.receiver_alive {
                return Err(value);
            }
            slot.value = Some(value);
            slot.complete = true;
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

impl<T> Drop for OneshotSender<T> {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else {
            return; // sent
        };
        let waker = {
            let mut slot = slot.lock();
            slot.complete = true;
            slot.waker.take().filter(|_| slot.receiver_alive)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The sender of a `oneshot_channel` went without sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed;

/// The receiving half of `oneshot_channel`: a future of the value.
pub struct OneshotReceiver<T> {
    slot: Arc<RunLock<Slot<T>>>,
}

impl<T> Future for OneshotReceiver<T> {
    type Output = Result<T, Closed>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.lock();
        if slot.complete {
            return Poll::Ready(slot.value.take().ok_or(Closed));
        }
        match &mut slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for OneshotReceiver<T> {
    fn drop(&mut self) {
        let (value, waker) = {
            let mut slot = self.slot.lock();
            slot.receiver_alive = false;
            (slot.value.take(), slot.waker.take())
        };
        // Outside the lock: the value's drop may send on channels.
        drop((value, waker));
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
    fn oneshot_wakes_like_tokio() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let poll =
            |rx: &mut OneshotReceiver<u32>, cx: &mut Context<'_>| std::pin::Pin::new(rx).poll(cx);
        // A value sent before the first poll wakes nobody.
        let (tx, mut rx) = oneshot_channel();
        tx.send(1).unwrap();
        assert_eq!(count.0.load(Ordering::Relaxed), 0);
        assert_eq!(poll(&mut rx, &mut cx), Poll::Ready(Ok(1)));
        // A registered receiver is woken once by the send.
        let (tx, mut rx) = oneshot_channel();
        assert_eq!(poll(&mut rx, &mut cx), Poll::Pending);
        assert_eq!(poll(&mut rx, &mut cx), Poll::Pending);
        tx.send(2).unwrap();
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert_eq!(poll(&mut rx, &mut cx), Poll::Ready(Ok(2)));
        // A sender gone without sending wakes it too, with an error.
        let (tx, mut rx) = oneshot_channel::<u32>();
        assert_eq!(poll(&mut rx, &mut cx), Poll::Pending);
        drop(tx);
        assert_eq!(count.0.load(Ordering::Relaxed), 2);
        assert_eq!(poll(&mut rx, &mut cx), Poll::Ready(Err(Closed)));
        // A send after the receiver is gone fails and wakes nobody.
        let (tx, mut rx) = oneshot_channel();
        assert_eq!(poll(&mut rx, &mut cx), Poll::Pending);
        drop(rx);
        assert_eq!(tx.send(3), Err(3));
        assert_eq!(count.0.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn send_fails_without_receiver() {
        let (tx, rx) = unbounded_channel();
        drop(rx);
        assert_eq!(tx.send(7), Err(SendError(7)));
    }
}
