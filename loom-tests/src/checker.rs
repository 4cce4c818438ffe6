//! A Wing-Gong-Lowe linearizability checker for whole histories.
//!
//! A history is linearizable if its operations can be put in one total order that
//! (a) keeps every operation that returned before another was called ahead of it, and
//! (b) replayed on the sequential [`State`] returns exactly what each operation returned.
//!
//! The search (Wing and Gong, with Lowe's memoisation): repeatedly pick a *minimal*
//! pending operation (every operation that precedes it is already placed), apply it to
//! the sequential state, and keep going if its return matches; backtrack otherwise. A
//! `(placed set, state)` pair already explored is never explored again, which keeps small
//! histories cheap even when many operations overlap.
//!
//! The history is checked whole. For this object per-node decomposition is unsound:
//! `snap()` touches every node at once, and a history whose projections on each node are
//! all linearizable may still show a cut no single instant had (a test below has one).

use std::collections::HashSet;
use std::fmt;

use crate::history::History;
use crate::spec::State;

/// Most operations one history may hold (the placed set is a `u128`).
pub const MAX_OPS: usize = 128;

/// Why a history was rejected.
#[derive(Debug)]
pub enum CheckError {
    /// The history has more than [`MAX_OPS`] operations.
    TooLarge {
        /// How many it has.
        ops: usize,
    },
    /// No total order explains the history.
    NotLinearizable {
        /// The longest prefix of a valid order the search found, as event indices.
        longest_prefix: Vec<usize>,
        /// `(placed set, state)` pairs explored.
        explored: usize,
    },
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::TooLarge { ops } => {
                write!(f, "history of {ops} operations exceeds {MAX_OPS}")
            }
            CheckError::NotLinearizable {
                longest_prefix,
                explored,
            } => write!(
                f,
                "not linearizable ({explored} states explored; longest valid prefix: events {longest_prefix:?})"
            ),
        }
    }
}

impl std::error::Error for CheckError {}

struct Search<'h> {
    history: &'h History,
    /// `preds[i]`: the events that must be placed before event `i`.
    preds: Vec<u128>,
    all: u128,
    seen: HashSet<(u128, State)>,
    order: Vec<usize>,
    longest: Vec<usize>,
}

impl Search<'_> {
    fn run(&mut self, placed: u128, state: &State) -> bool {
        if placed == self.all {
            return true;
        }
        for (i, e) in self.history.events.iter().enumerate() {
            let bit = 1u128 << i;
            if placed & bit != 0 || self.preds[i] & !placed != 0 {
                continue;
            }
            let mut next = state.clone();
            if next.step(&e.op) != Some(e.ret) {
                continue;
            }
            if !self.seen.insert((placed | bit, next.clone())) {
                continue;
            }
            self.order.push(i);
            if self.order.len() > self.longest.len() {
                self.longest.clone_from(&self.order);
            }
            if self.run(placed | bit, &next) {
                return true;
            }
            self.order.pop();
        }
        false
    }
}

/// Checks `history` against the sequential specification.
///
/// Returns a witness order (event indices in linearization order) if the history is
/// linearizable.
///
/// # Errors
///
/// [`CheckError::NotLinearizable`] if no order explains it; [`CheckError::TooLarge`]
/// past [`MAX_OPS`] operations.
///
/// # Examples
///
/// ```
/// use snapstate_loom_tests::checker::check;
/// use snapstate_loom_tests::history::{Event, History, Op, Ret, Stamp};
///
/// // A set that overlaps a snap may land on either side of it.
/// let ev = |thread, op, ret, call, done| Event {
///     thread, op, ret, call: Stamp::Tick(call), done: Stamp::Tick(done),
/// };
/// let h = History::new(1, vec![
///     ev(1, Op::Set { idx: 0, value: 3 }, Ret::Done, 0, 3),
///     ev(0, Op::Snap, Ret::Snap(0), 1, 2),
///     ev(0, Op::Fetch { idx: 0, snap: 0 }, Ret::Value(3), 4, 5),
/// ]);
/// assert_eq!(check(&h).unwrap(), vec![0, 1, 2]);
/// ```
pub fn check(history: &History) -> Result<Vec<usize>, CheckError> {
    let n = history.events.len();
    if n > MAX_OPS {
        return Err(CheckError::TooLarge { ops: n });
    }
    let preds = history
        .events
        .iter()
        .map(|b| {
            history
                .events
                .iter()
                .enumerate()
                .filter(|(_, a)| a.done.precedes(&b.call))
                .fold(0u128, |m, (j, _)| m | 1 << j)
        })
        .collect();
    let mut search = Search {
        history,
        preds,
        all: if n == MAX_OPS { !0 } else { (1u128 << n) - 1 },
        seen: HashSet::new(),
        order: Vec::with_capacity(n),
        longest: Vec::new(),
    };
    if search.run(0, &State::new(history.nodes)) {
        Ok(search.order)
    } else {
        Err(CheckError::NotLinearizable {
            longest_prefix: search.longest,
            explored: search.seen.len(),
        })
    }
}

/// Checks `history` and panics with the whole history printed if it is not linearizable.
///
/// # Panics
///
/// If the history is not linearizable (or too large to check).
pub fn assert_linearizable(history: &History) {
    if let Err(e) = check(history) {
        panic!("{e}\n{history}");
    }
}

#[cfg(test)]
mod tests;
