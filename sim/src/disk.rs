//! Durable per-node storage that survives a crash.
//!
//! madsim has no usable power-failure model for files, so durable state lives in objects the
//! node's `init` closure captures (they outlive its tasks). Writes become durable on `sync`;
//! when the run asks for it, a crash throws away what was written but not synced.

use std::sync::Arc;

use crate::run_lock::{RunLock, RunLockGuard};

/// Storage that a node crash affects.
pub trait Crashable: Send + Sync {
    /// The node crashed: forget unsynced writes if `lose_unsynced`.
    fn crash(&self, lose_unsynced: bool);
}

/// An append-only durable log of entries.
#[derive(Debug)]
pub struct DurableLog<E> {
    inner: RunLock<LogInner<E>>,
}

#[derive(Debug)]
struct LogInner<E> {
    entries: Vec<E>,
    synced_len: usize,
}

impl<E> Default for DurableLog<E> {
    fn default() -> Self {
        Self {
            inner: RunLock::new(LogInner {
                entries: Vec::new(),
                synced_len: 0,
            }),
        }
    }
}

impl<E: Send> DurableLog<E> {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> RunLockGuard<'_, LogInner<E>> {
        self.inner.lock()
    }

    /// Appends an entry (not yet durable); returns its index.
    pub fn append(&self, entry: E) -> usize {
        let mut inner = self.lock();
        inner.entries.push(entry);
        inner.entries.len() - 1
    }

    /// Makes every appended entry durable.
    pub fn sync(&self) {
        let mut inner = self.lock();
        inner.synced_len = inner.entries.len();
    }

    /// Number of entries (synced or not).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of entries that survive a crash.
    pub fn synced_len(&self) -> usize {
        self.lock().synced_len
    }

    /// Reads the entries through a closure (no copy).
    pub fn read<R>(&self, f: impl FnOnce(&[E]) -> R) -> R {
        f(&self.lock().entries)
    }
}

impl<E: Send> Crashable for DurableLog<E> {
    fn crash(&self, lose_unsynced: bool) {
        if lose_unsynced {
            let mut inner = self.lock();
            let synced = inner.synced_len;
            inner.entries.truncate(synced);
        }
    }
}

/// A single durable value (e.g. a counter, a Streams instance's state directory). Every
/// write is durable at once (`set_synced`, `update_synced`: there is no unsynced write), so
/// the value a crash leaves is the value: one copy is kept, and a crash changes nothing.
#[derive(Debug, Default)]
pub struct DurableCell<T> {
    inner: RunLock<T>,
}

impl<T: Clone + Send + Default> DurableCell<T> {
    pub fn new(value: T) -> Arc<Self> {
        Arc::new(Self {
            inner: RunLock::new(value),
        })
    }

    pub fn get(&self) -> T {
        self.inner.lock().clone()
    }

    /// Sets the value and makes it durable at once.
    pub fn set_synced(&self, value: T) {
        *self.inner.lock() = value;
    }

    /// Reads the current value without copying it.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.inner.lock())
    }

    /// Changes the value in place and makes the change durable at once.
    pub fn update_synced(&self, change: impl FnOnce(&mut T)) {
        change(&mut self.inner.lock());
    }
}

impl<T: Clone + Send + Default> Crashable for DurableCell<T> {
    /// Nothing to lose: every write was durable.
    fn crash(&self, _lose_unsynced: bool) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synced_entries_survive_a_crash_unsynced_may_not() {
        let log = DurableLog::new();
        log.append(1);
        log.sync();
        log.append(2);
        log.crash(false);
        assert_eq!(
            log.len(),
            2,
            "a crash that keeps unsynced writes keeps both"
        );
        log.crash(true);
        assert_eq!(log.read(|e| e.to_vec()), vec![1]);
        assert_eq!(log.synced_len(), 1);
    }

    #[test]
    fn cell_rolls_back_to_synced_value() {
        let cell = DurableCell::new(5u64);
        cell.set_synced(7);
        cell.crash(true);
        assert_eq!(cell.get(), 7);
    }
}
