//! Coverage ("sometimes" assertions, as FoundationDB's `TEST()` and moonpool's `sometimes!`):
//! a per-run count of how often each marked path was taken, and of how many messages each
//! targeted fault of the plan took.
//!
//! The engine knows no application: a system under test declares its own points with
//! [`coverage_points!`](crate::coverage_points) (an enum with a kebab-case name and a one-line
//! description per variant, from one table) and marks them with `Point::X.hit()`. The engine's
//! own points are [`SimPoint`]. Counters live in a thread-local, like the trace (one run per OS
//! thread), started and collected by the runner: a hit is one thread-local access and an
//! increment (no allocation, no strings), recorded nowhere else, so it changes no trace hash
//! and no behaviour. Outside a run (unit tests) a hit does nothing.

use std::cell::RefCell;

/// Declares a table of coverage points: an enum whose variants carry a kebab-case name and a
/// one-line description (also the variant's doc), `ALL`, `COUNT`, `name`, `description`, and
/// `hit` (which calls `$hit(index)` with the variant's index in the table).
///
/// ```ignore
/// sim::coverage_points! {
///     /// Paths of my system.
///     pub enum Point via sim::coverage::hit {
///         CacheMiss = "cache-miss": "a lookup missed the cache",
///     }
/// }
/// Point::CacheMiss.hit();
/// ```
#[macro_export]
macro_rules! coverage_points {
    (
        $(#[$meta:meta])*
        $vis:vis enum $Enum:ident via $hit:path {
            $( $Variant:ident = $name:literal : $desc:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $Enum {
            $( #[doc = $desc] $Variant, )+
        }

        impl $Enum {
            /// Every point, in table order (a point's index is its position here).
            pub const ALL: &'static [$Enum] = &[$($Enum::$Variant),+];
            /// Number of points.
            pub const COUNT: usize = Self::ALL.len();

            /// The kebab-case name reports use.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $Enum::$Variant => $name, )+
                }
            }

            /// What taking this path means, in one line.
            pub const fn description(self) -> &'static str {
                match self {
                    $( $Enum::$Variant => $desc, )+
                }
            }

            /// Marks the path as taken in the current run.
            #[inline]
            pub fn hit(self) {
                $hit(self as usize)
            }
        }
    };
}

coverage_points! {
    /// The engine's own paths (the network's connection semantics).
    pub enum SimPoint via hit_sim {
        HeldRequestAfterClose = "held-request-after-close":
            "a request held at the server (delay fault) was handled after its connection was closed or replaced",
        ConnectionBroken = "connection-broken":
            "a message was lost (partition, loss, targeted drop, destination down) and broke its live connection",
        DeliveryToDownNode = "delivery-to-down-node":
            "a message reached a node that was down (or restarted since it was sent) and was refused",
    }
}

/// The counters of one run: the engine's points, the application's, and per fault of the plan
/// (by index) the messages its targeted rule took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoverageCounts {
    /// Indexed like [`SimPoint::ALL`].
    pub sim: Vec<u64>,
    /// Indexed like the application's table (as many as `SeedOptions::coverage_points`).
    pub app: Vec<u64>,
    /// Indexed by fault position in the plan (shorter when the last faults took nothing):
    /// messages the fault's targeted rule was applied to.
    pub fault_uses: Vec<u32>,
}

struct State {
    /// The engine's points, then the application's.
    points: Vec<u64>,
    fault_uses: Vec<u32>,
}

thread_local! {
    static COVERAGE: RefCell<State> = const {
        RefCell::new(State { points: Vec::new(), fault_uses: Vec::new() })
    };
}

/// Starts counting for a run on this thread, with `app_points` application points.
pub(crate) fn begin(app_points: usize) {
    COVERAGE.with(|c| {
        let mut c = c.borrow_mut();
        c.points = vec![0; SimPoint::COUNT + app_points];
        c.fault_uses = Vec::new();
    });
}

/// Ends this thread's run and returns its counters.
pub(crate) fn finish() -> CoverageCounts {
    COVERAGE.with(|c| {
        let mut c = c.borrow_mut();
        let mut points = std::mem::take(&mut c.points);
        let app = points.split_off(SimPoint::COUNT.min(points.len()));
        CoverageCounts {
            sim: points,
            app,
            fault_uses: std::mem::take(&mut c.fault_uses),
        }
    })
}

#[inline]
fn bump(slot: usize) {
    COVERAGE.with(|c| {
        if let Some(n) = c.borrow_mut().points.get_mut(slot) {
            *n += 1;
        }
    });
}

/// Marks application point `index` (its position in the application's table) as taken.
#[inline]
pub fn hit(index: usize) {
    bump(SimPoint::COUNT + index);
}

#[inline]
fn hit_sim(index: usize) {
    bump(index);
}

/// A targeted rule of plan fault `index` took a message.
pub(crate) fn fault_used(index: u32) {
    COVERAGE.with(|c| {
        let uses = &mut c.borrow_mut().fault_uses;
        let i = index as usize;
        if uses.len() <= i {
            uses.resize(i + 1, 0);
        }
        uses[i] = uses[i].saturating_add(1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_count_only_inside_a_run() {
        hit(0);
        SimPoint::ConnectionBroken.hit();
        begin(2);
        hit(1);
        hit(1);
        hit(7); // beyond the table: ignored
        SimPoint::ConnectionBroken.hit();
        fault_used(3);
        let counts = finish();
        assert_eq!(counts.sim, vec![0, 1, 0]);
        assert_eq!(counts.app, vec![0, 2]);
        assert_eq!(counts.fault_uses, vec![0, 0, 0, 1]);
        hit(1);
        assert_eq!(finish(), CoverageCounts::default());
    }

    #[test]
    fn sim_point_names_are_unique_and_kebab_case() {
        let names: std::collections::BTreeSet<_> = SimPoint::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), SimPoint::COUNT);
        for name in names {
            assert!(
                name.split('-').all(|w| !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
                "{name}"
            );
        }
    }
}
