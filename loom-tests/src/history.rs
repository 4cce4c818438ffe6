//! Recording what threads did to an array: each operation with its call and return.
//!
//! A [`ThreadLog`] wraps the array's methods: it stamps the call, runs the method, stamps
//! the return and keeps an [`Event`]. Logs of all threads are merged into a [`History`]
//! that the [`checker`](crate::checker) judges.
//!
//! Two kinds of stamps, because "operation `a` returned before operation `b` was called"
//! means different things on real threads and under loom:
//!
//! - **Real threads** ([`ThreadLog::real`]): one global `std` atomic counter, bumped with
//!   an `AcqRel` read-modify-write at every call and return. All bumps are in one
//!   modification order, and each one synchronizes with the one before it, so a return
//!   stamped before a call really happened before it.
//! - **Loom** ([`ThreadLog::causal`]): loom runs one thread at a time, but its memory
//!   model lets a thread that runs later still read older values unless a happens-before
//!   edge orders them, so the schedule order is not a precedence order. Causal logs carry
//!   vector clocks advanced only by program order, [`fork`](ThreadLog::fork) (spawn) and
//!   [`join`](ThreadLog::join): an operation precedes another only if its return is in
//!   the other's causal past. The logs use no loom primitives, so recording adds no
//!   synchronization that the model could lean on.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use snapstate::{Error, SnapshotArray, SnapshotId, SnapshotPin};

/// Most threads a causal log tracks (loom allows 5, main included).
pub const MAX_THREADS: usize = 8;

/// An operation on an array, with values reduced to `u64` keys (see [`Keyed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `set_state(idx, value)`.
    Set {
        /// The node.
        idx: usize,
        /// The key of the value written.
        value: u64,
    },
    /// `snap()`.
    Snap,
    /// `fetch_state(idx, snap)`.
    Fetch {
        /// The node.
        idx: usize,
        /// The snapshot id asked for.
        snap: u64,
    },
    /// `current_state(idx)`.
    Current {
        /// The node.
        idx: usize,
    },
    /// `advance(idx, value)`.
    Advance {
        /// The node.
        idx: usize,
        /// The key of the value reported.
        value: u64,
    },
    /// `compact(before)`.
    Compact {
        /// The id passed.
        before: u64,
    },
    /// `pin(snap)`.
    Pin {
        /// The snapshot id to pin.
        snap: u64,
    },
    /// Dropping a pin of `snap`.
    Unpin {
        /// The pinned snapshot id.
        snap: u64,
    },
}

/// What an operation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `set_state` returned `Ok(())`.
    Done,
    /// `snap()` returned this id.
    Snap(u64),
    /// A read returned a value with this key.
    Value(u64),
    /// `fetch_state`, `compact` or `pin` returned [`Error::SnapshotNotTaken`].
    NotTaken,
    /// `fetch_state` or `pin` returned [`Error::Compacted`] naming this oldest readable id.
    Compacted(u64),
    /// `advance` returned whether it raised the node.
    Raised(bool),
    /// `compact` returned this floor.
    Floor(u64),
    /// `pin` returned a pin.
    Pinned,
}

/// The [`Ret`] of a refused read, compaction or pin.
///
/// # Panics
///
/// On [`Error::IndexOutOfBounds`] (the test passed a bad index) or a future variant.
fn refused(what: &str, e: &Error) -> Ret {
    match e {
        Error::SnapshotNotTaken { .. } => Ret::NotTaken,
        Error::Compacted { oldest, .. } => Ret::Compacted(oldest.get()),
        e => panic!("{what}: {e}"),
    }
}

/// When an event happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// A tick of one global clock (real threads).
    Tick(u64),
    /// A vector clock (loom models): one counter per thread.
    Vector([u32; MAX_THREADS]),
}

impl Stamp {
    /// Whether this stamp (a return) is before `later` (a call): the operation that
    /// returned here precedes the one called there.
    ///
    /// # Panics
    ///
    /// If the two stamps are of different kinds (a history mixes real and causal logs).
    pub fn precedes(&self, later: &Stamp) -> bool {
        match (self, later) {
            (Stamp::Tick(a), Stamp::Tick(b)) => a < b,
            (Stamp::Vector(a), Stamp::Vector(b)) => a.iter().zip(b).all(|(x, y)| x <= y),
            _ => panic!("a history mixes real-time and causal stamps"),
        }
    }
}

/// One completed operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The thread that performed it (a label for reports).
    pub thread: usize,
    /// What was called.
    pub op: Op,
    /// What it returned.
    pub ret: Ret,
    /// Stamped just before the call.
    pub call: Stamp,
    /// Stamped just after the return.
    pub done: Stamp,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |s: &Stamp| match s {
            Stamp::Tick(t) => t.to_string(),
            Stamp::Vector(v) => format!("{v:?}"),
        };
        write!(
            f,
            "t{} {:?} -> {:?}  [{} .. {}]",
            self.thread,
            self.op,
            self.ret,
            at(&self.call),
            at(&self.done)
        )
    }
}

/// All operations of one run on one array of `nodes` nodes, all starting at key 0.
#[derive(Clone, Debug)]
pub struct History {
    /// Number of nodes of the array.
    pub nodes: usize,
    /// The operations, in any order.
    pub events: Vec<Event>,
}

impl History {
    /// A history of `events` on an array of `nodes` nodes.
    pub fn new(nodes: usize, events: Vec<Event>) -> Self {
        History { nodes, events }
    }

    /// Merges the logs of several threads.
    pub fn from_logs(nodes: usize, logs: impl IntoIterator<Item = ThreadLog>) -> Self {
        let events = logs.into_iter().flat_map(|l| l.events).collect();
        History { nodes, events }
    }

    /// Whether some two operations of different threads overlap in time.
    pub fn has_overlap(&self) -> bool {
        self.events.iter().enumerate().any(|(i, a)| {
            self.events[i + 1..].iter().any(|b| {
                a.thread != b.thread && !a.done.precedes(&b.call) && !b.done.precedes(&a.call)
            })
        })
    }
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "history on {} node(s):", self.nodes)?;
        for e in &self.events {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// A value type whose states the checker can compare: each value maps to a `u64` key,
/// and `T::default()` maps to 0 (the spec's initial state).
pub trait Keyed: Clone + Send + Sync + 'static {
    /// The key of this value; distinct values written in a test should have distinct keys.
    fn key(&self) -> u64;
}

impl Keyed for u64 {
    fn key(&self) -> u64 {
        *self
    }
}

/// Something that behaves like a `SnapshotArray<u64>`: lets a stress test drive the real
/// array and, as a control, a deliberately broken one through the same recorder.
pub trait Subject: Sync {
    /// `set_state(idx, value)`.
    fn set(&self, idx: usize, value: u64);
    /// `snap()`, as a number.
    fn snap(&self) -> u64;
    /// `fetch_state(idx, snap)`; `None` for a snapshot not taken yet.
    fn fetch(&self, idx: usize, snap: u64) -> Option<u64>;
    /// `current_state(idx)`.
    fn current(&self, idx: usize) -> u64;
}

impl Subject for SnapshotArray<u64> {
    fn set(&self, idx: usize, value: u64) {
        self.set_state(idx, value)
            .expect("set_state on a valid index");
    }

    fn snap(&self) -> u64 {
        SnapshotArray::snap(self).get()
    }

    fn fetch(&self, idx: usize, snap: u64) -> Option<u64> {
        match self.fetch_state(idx, SnapshotId::from(snap)) {
            Ok(v) => Some(v),
            Err(Error::SnapshotNotTaken { .. }) => None,
            Err(e) => panic!("fetch_state({idx}, {snap}): {e}"),
        }
    }

    fn current(&self, idx: usize) -> u64 {
        self.current_state(idx)
            .expect("current_state on a valid index")
    }
}

#[derive(Debug)]
enum Clock {
    Real(Arc<AtomicU64>),
    Causal { me: usize, vc: [u32; MAX_THREADS] },
}

/// The operations one thread performed, recorded as it performs them.
///
/// Each method calls the array's method of the same name and records it, except
/// [`unpin`](Self::unpin), which records dropping a [`SnapshotPin`].
#[derive(Debug)]
pub struct ThreadLog {
    thread: usize,
    clock: Clock,
    events: Vec<Event>,
}

impl ThreadLog {
    /// A log stamped by the shared real-time `clock`.
    pub fn real(clock: Arc<AtomicU64>, thread: usize) -> Self {
        ThreadLog {
            thread,
            clock: Clock::Real(clock),
            events: Vec::new(),
        }
    }

    /// The causal log of the first thread of a loom model (thread 0, usually main).
    pub fn causal() -> Self {
        ThreadLog {
            thread: 0,
            clock: Clock::Causal {
                me: 0,
                vc: [0; MAX_THREADS],
            },
            events: Vec::new(),
        }
    }

    /// The log of a thread about to be spawned by this one, as thread number `child`:
    /// everything this thread did so far precedes everything the child does.
    ///
    /// # Panics
    ///
    /// On a real-time log, or if `child >= MAX_THREADS`.
    pub fn fork(&mut self, child: usize) -> ThreadLog {
        let Clock::Causal { me, vc } = &mut self.clock else {
            panic!("fork is for causal logs");
        };
        assert!(child < MAX_THREADS && child != *me);
        vc[*me] += 1;
        ThreadLog {
            thread: child,
            clock: Clock::Causal { me: child, vc: *vc },
            events: Vec::new(),
        }
    }

    /// Takes over the log of a thread this one has joined: everything the child did
    /// precedes what this thread does next.
    ///
    /// # Panics
    ///
    /// On a real-time log.
    pub fn join(&mut self, child: ThreadLog) {
        let (Clock::Causal { me, vc }, Clock::Causal { vc: theirs, .. }) =
            (&mut self.clock, &child.clock)
        else {
            panic!("join is for causal logs");
        };
        for (mine, theirs) in vc.iter_mut().zip(theirs) {
            *mine = (*mine).max(*theirs);
        }
        vc[*me] += 1;
        self.events.extend(child.events);
    }

    fn stamp(&mut self) -> Stamp {
        match &mut self.clock {
            // AcqRel: every stamp is an RMW on one counter, so stamps are totally ordered
            // and each synchronizes with the previous one: a return stamped before a call
            // happens-before that call.
            Clock::Real(c) => Stamp::Tick(c.fetch_add(1, Ordering::AcqRel)),
            Clock::Causal { me, vc } => {
                vc[*me] += 1;
                Stamp::Vector(*vc)
            }
        }
    }

    fn record<R>(&mut self, op: Op, f: impl FnOnce() -> R, ret: impl FnOnce(&R) -> Ret) -> R {
        let call = self.stamp();
        let out = f();
        let done = self.stamp();
        self.events.push(Event {
            thread: self.thread,
            op,
            ret: ret(&out),
            call,
            done,
        });
        out
    }

    /// `array.set_state(idx, value)`, recorded.
    ///
    /// # Panics
    ///
    /// If `set_state` fails (the test passed a bad index).
    pub fn set<T: Keyed>(&mut self, array: &SnapshotArray<T>, idx: usize, value: T) {
        let op = Op::Set {
            idx,
            value: value.key(),
        };
        self.record(op, || array.set_state(idx, value), |_| Ret::Done)
            .expect("set_state on a valid index");
    }

    /// `array.snap()`, recorded.
    pub fn snap<T: Keyed>(&mut self, array: &SnapshotArray<T>) -> SnapshotId {
        self.record(Op::Snap, || array.snap(), |s| Ret::Snap(s.get()))
    }

    /// `array.fetch_state(idx, snap)`, recorded; `None` for `SnapshotNotTaken` and
    /// `Compacted`.
    ///
    /// # Panics
    ///
    /// On any other error (the test passed a bad index).
    pub fn fetch<T: Keyed>(
        &mut self,
        array: &SnapshotArray<T>,
        idx: usize,
        snap: u64,
    ) -> Option<T> {
        let op = Op::Fetch { idx, snap };
        let out = self.record(
            op,
            || array.fetch_state(idx, SnapshotId::from(snap)),
            |r| match r {
                Ok(v) => Ret::Value(v.key()),
                Err(e) => refused(&format!("fetch_state({idx}, {snap})"), e),
            },
        );
        out.ok()
    }

    /// `pin.fetch_state(idx)`, recorded as a read of the pinned snapshot.
    ///
    /// # Panics
    ///
    /// If the read fails (a bad index, or a pin that did not keep its snapshot).
    pub fn fetch_pinned<T: Keyed>(&mut self, pin: &SnapshotPin<'_, T>, idx: usize) -> T {
        let op = Op::Fetch {
            idx,
            snap: pin.id().get(),
        };
        let out = self.record(
            op,
            || pin.fetch_state(idx),
            |r| match r {
                Ok(v) => Ret::Value(v.key()),
                Err(e) => refused(&format!("pinned fetch_state({idx})"), e),
            },
        );
        out.unwrap_or_else(|e| panic!("a pinned snapshot was not readable: {e}"))
    }

    /// `array.advance(idx, value)`, recorded; whether it raised the node.
    ///
    /// # Panics
    ///
    /// If `advance` fails (the test passed a bad index).
    pub fn advance<T: Keyed + Ord>(
        &mut self,
        array: &SnapshotArray<T>,
        idx: usize,
        value: T,
    ) -> bool {
        let op = Op::Advance {
            idx,
            value: value.key(),
        };
        self.record(
            op,
            || array.advance(idx, value).expect("advance on a valid index"),
            |&raised| Ret::Raised(raised),
        )
    }

    /// `array.compact(before)`, recorded; the floor, or `None` for `SnapshotNotTaken`.
    ///
    /// # Panics
    ///
    /// On any other error (`compact` has none today).
    pub fn compact<T: Keyed>(&mut self, array: &SnapshotArray<T>, before: u64) -> Option<u64> {
        let out = self.record(
            Op::Compact { before },
            || array.compact(SnapshotId::from(before)),
            |r| match r {
                Ok(floor) => Ret::Floor(floor.get()),
                Err(e) => refused(&format!("compact({before})"), e),
            },
        );
        out.ok().map(SnapshotId::get)
    }

    /// `array.pin(snap)`, recorded; `None` if it was refused.
    ///
    /// # Panics
    ///
    /// On an error other than `SnapshotNotTaken` and `Compacted`.
    pub fn pin<'a, T: Keyed>(
        &mut self,
        array: &'a SnapshotArray<T>,
        snap: u64,
    ) -> Option<SnapshotPin<'a, T>> {
        let out = self.record(
            Op::Pin { snap },
            || array.pin(SnapshotId::from(snap)),
            |r| match r {
                Ok(_) => Ret::Pinned,
                Err(e) => refused(&format!("pin({snap})"), e),
            },
        );
        out.ok()
    }

    /// Drops `pin`, recorded.
    pub fn unpin<T: Keyed>(&mut self, pin: SnapshotPin<'_, T>) {
        let snap = pin.id().get();
        self.record(Op::Unpin { snap }, || drop(pin), |_| Ret::Done);
    }

    /// `array.current_state(idx)`, recorded.
    ///
    /// # Panics
    ///
    /// If the index is bad.
    pub fn current<T: Keyed>(&mut self, array: &SnapshotArray<T>, idx: usize) -> T {
        let op = Op::Current { idx };
        self.record(
            op,
            || {
                array
                    .current_state(idx)
                    .expect("current_state on a valid index")
            },
            |v| Ret::Value(v.key()),
        )
    }

    /// Performs `op` on `subject`, recorded, and returns what it returned.
    ///
    /// # Panics
    ///
    /// On an operation a [`Subject`] does not offer (`advance`, `compact`, pins: call
    /// this log's method of that name instead).
    pub fn apply(&mut self, subject: &impl Subject, op: Op) -> Ret {
        self.record(
            op,
            || match op {
                Op::Set { idx, value } => {
                    subject.set(idx, value);
                    Ret::Done
                }
                Op::Snap => Ret::Snap(subject.snap()),
                Op::Fetch { idx, snap } => {
                    subject.fetch(idx, snap).map_or(Ret::NotTaken, Ret::Value)
                }
                Op::Current { idx } => Ret::Value(subject.current(idx)),
                op => panic!("{op:?} is not an operation of a Subject"),
            },
            |r| *r,
        )
    }

    /// The events recorded so far (and joined from children), in program order per thread.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Ends the log as a history of an array of `nodes` nodes.
    pub fn into_history(self, nodes: usize) -> History {
        History::new(nodes, self.events)
    }
}

// Not under loom: these use the array outside a loom model.
#[cfg(all(test, not(snapstate_loom)))]
mod tests {
    use super::*;

    #[test]
    fn causal_stamps_order_only_through_program_order_fork_and_join() {
        let array: SnapshotArray = SnapshotArray::new(1);
        let mut main = ThreadLog::causal();
        main.set(&array, 0, 1);
        let mut a = main.fork(1);
        let mut b = main.fork(2);
        a.set(&array, 0, 2);
        b.snap(&array);
        main.current(&array, 0);
        main.join(a);
        main.join(b);
        main.fetch(&array, 0, 0);
        let h = main.into_history(1);
        let find = |op: fn(&Op) -> bool| h.events.iter().find(|e| op(&e.op)).unwrap();
        let first = find(|o| matches!(o, Op::Set { value: 1, .. }));
        let in_a = find(|o| matches!(o, Op::Set { value: 2, .. }));
        let in_b = find(|o| matches!(o, Op::Snap));
        let mid = find(|o| matches!(o, Op::Current { .. }));
        let last = find(|o| matches!(o, Op::Fetch { .. }));
        // Before the forks: precedes both children.
        assert!(first.done.precedes(&in_a.call) && first.done.precedes(&in_b.call));
        // Siblings, and main between fork and join: concurrent.
        for (x, y) in [(in_a, in_b), (in_a, mid), (in_b, mid)] {
            assert!(!x.done.precedes(&y.call) && !y.done.precedes(&x.call));
        }
        // After the joins: preceded by both children.
        assert!(in_a.done.precedes(&last.call) && in_b.done.precedes(&last.call));
        assert!(h.has_overlap());
    }

    #[test]
    fn real_stamps_follow_the_global_clock() {
        let clock = Arc::new(AtomicU64::new(0));
        let array: SnapshotArray = SnapshotArray::new(2);
        let mut a = ThreadLog::real(clock.clone(), 0);
        let mut b = ThreadLog::real(clock, 1);
        a.set(&array, 1, 5);
        assert_eq!(b.current(&array, 1), 5);
        assert_eq!(b.fetch(&array, 1, 0), None);
        let s = a.snap(&array).get();
        assert_eq!(b.fetch(&array, 1, s), Some(5));
        let h = History::from_logs(2, [a, b]);
        assert_eq!(h.events.len(), 5);
        assert!(!h.has_overlap(), "these calls ran one after another");
        assert!(h.events[0].done.precedes(&h.events[2].call));
    }
}
