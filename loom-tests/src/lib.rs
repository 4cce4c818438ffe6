//! Verification of the `snapstate` core: loom models, and linearizability checks of
//! recorded histories.
//!
//! This crate is not published. It holds:
//!
//! - [`history`]: recording the call and return of each operation a thread performs on a
//!   [`SnapshotArray`](snapstate::SnapshotArray), either against one global clock (real
//!   threads) or with vector clocks built from spawn and join (loom models, where the
//!   schedule order is not a happens-before order).
//! - [`spec`]: the sequential specification of the array (the classic single-threaded
//!   solution) as a state machine.
//! - [`checker`]: a Wing-Gong-Lowe linearizability checker over a *whole* history.
//!   `snap()` is a global operation, so a history cannot be split per node and checked in
//!   pieces; the checker searches for one total order of all operations.
//! - `harness` (only under `--cfg snapstate_loom`): runs a loom model with an explicit preemption
//!   bound and reports its iteration count and time.
//!
//! The loom models themselves are in `tests/models.rs`; the real-thread stress test is
//! `tests/linearizability.rs`. The README's "Loom" and "Linearizability" sections give the
//! commands.
//!
//! # Examples
//!
//! A history that exhibits the trap of the design notes (a snapshot that changed after
//! `snap()` returned it) is rejected:
//!
//! ```
//! use snapstate_loom_tests::checker::check;
//! use snapstate_loom_tests::history::{Event, History, Op, Ret, Stamp};
//!
//! let ev = |thread, op, ret, call, done| Event {
//!     thread,
//!     op,
//!     ret,
//!     call: Stamp::Tick(call),
//!     done: Stamp::Tick(done),
//! };
//! let trap = History::new(
//!     1,
//!     vec![
//!         // A writer's set_state(0, 7) spans the whole run ...
//!         ev(1, Op::Set { idx: 0, value: 7 }, Ret::Done, 0, 9),
//!         // ... while snap() returns 0, a read of snapshot 0 sees the old state,
//!         ev(0, Op::Snap, Ret::Snap(0), 1, 2),
//!         ev(0, Op::Fetch { idx: 0, snap: 0 }, Ret::Value(0), 3, 4),
//!         // and a read of the same snapshot after the writer returned sees the new one.
//!         ev(0, Op::Fetch { idx: 0, snap: 0 }, Ret::Value(7), 10, 11),
//!     ],
//! );
//! assert!(check(&trap).is_err());
//! ```

pub mod checker;
#[cfg(snapstate_loom)]
pub mod harness;
pub mod history;
pub mod spec;
