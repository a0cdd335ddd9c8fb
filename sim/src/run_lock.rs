//! `RunLock`: a lock for state that belongs to one run, without atomic instructions.
//!
//! Everything a seed's run does happens on the one OS thread that runs its madsim runtime
//! (`runner`), yet the state its tasks share must be `Send + Sync` (madsim's `spawn` wants
//! `Send` futures). A `std::sync::Mutex` pays for that with two atomic read-modify-writes per
//! lock (its lock and unlock), about 20 ns each on the machines eosim runs on; the engine takes
//! a dozen such locks per message (network state, the world, channels, disks), a large share of
//! a message's cost. A `RunLock` is bound to the thread that made it: locking it checks the
//! thread (one thread-local address) and a plain flag, and panics anywhere else, so no two
//! threads ever reach its contents and it needs no atomics.
//!
//! It is a lock, not a re-entrant one: locking it while its guard lives panics ("locked
//! twice"), where a `Mutex` would deadlock. A panic while it is held does not poison it.

use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

thread_local! {
    /// Its address tells this thread from every other live thread (each has its own copy).
    static THREAD_MARK: u8 = const { 0 };
}

/// An identity of the calling thread, unique among the threads alive at the same time.
fn this_thread() -> usize {
    THREAD_MARK.with(|mark| mark as *const u8 as usize)
}

/// A lock usable only on the thread that made it (the run's thread).
pub struct RunLock<T> {
    owner: usize,
    locked: Cell<bool>,
    value: UnsafeCell<T>,
}

// SAFETY: `locked` and `value` are reached only through `lock` and `get_mut`. `lock` checks
// first that the caller is the owner thread, so among threads alive at once only that one
// ever touches them (a thread that later reuses the owner's address starts after the owner
// ended, so their accesses cannot overlap either); `get_mut` needs `&mut self`, which no other
// thread can hold meanwhile. The guard is neither `Send` nor `Sync`, so it stays on the owner
// thread. Moving the lock to another thread moves `T`, hence `T: Send`, as for a `Mutex`.
unsafe impl<T: Send> Send for RunLock<T> {}
// SAFETY: as above: a shared reference on another thread can reach neither field.
unsafe impl<T: Send> Sync for RunLock<T> {}

impl<T> RunLock<T> {
    /// A lock owned by the calling thread.
    pub fn new(value: T) -> Self {
        Self {
            owner: this_thread(),
            locked: Cell::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Locks it. Panics on another thread than the one that made it, or if it is locked
    /// already (a guard of it is alive).
    pub fn lock(&self) -> RunLockGuard<'_, T> {
        assert!(
            self.owner == this_thread(),
            "a RunLock was used outside the thread of the run that made it"
        );
        assert!(!self.locked.replace(true), "a RunLock was locked twice");
        RunLockGuard {
            lock: self,
            not_send: PhantomData,
        }
    }

    /// The value, through an exclusive reference (no lock needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: Default> Default for RunLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> std::fmt::Debug for RunLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunLock { .. }")
    }
}

/// Access to a `RunLock`'s value while it is locked; unlocks when dropped.
pub struct RunLockGuard<'a, T> {
    lock: &'a RunLock<T>,
    /// Keeps the guard on the owner thread (not `Send`, not `Sync`).
    not_send: PhantomData<*mut ()>,
}

impl<T> Deref for RunLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only on the owner thread while `locked` is set, and only
        // one guard exists at a time: no other reference to the value is alive.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for RunLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for RunLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn locks_and_unlocks() {
        let lock = RunLock::new(1);
        *lock.lock() += 1;
        assert_eq!(*lock.lock(), 2);
        assert_eq!(lock.into_inner(), 2);
    }

    #[test]
    #[should_panic(expected = "locked twice")]
    fn locking_twice_panics() {
        let lock = RunLock::new(0);
        let _first = lock.lock();
        let _second = lock.lock();
    }

    #[test]
    fn another_thread_cannot_lock_it() {
        let lock = Arc::new(RunLock::new(0));
        let other = lock.clone();
        let result = std::thread::spawn(move || *other.lock()).join();
        assert!(result.is_err(), "the other thread's lock must panic");
        assert_eq!(*lock.lock(), 0);
    }

    #[test]
    fn a_panic_while_locked_unlocks_it() {
        let lock = RunLock::new(0);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut guard = lock.lock();
            *guard = 5;
            panic!("inside");
        }));
        assert!(result.is_err());
        assert_eq!(*lock.lock(), 5);
    }
}
