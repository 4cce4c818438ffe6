//! The sequential specification of a `SnapshotArray`: the classic single-threaded
//! solution, as a state machine over [`Op`]s.
//!
//! - `set(i, v)`: node `i` becomes `v`.
//! - `snap()`: records every node's state and returns the number of earlier snaps.
//! - `fetch(i, s)`: node `i` in snapshot `s`, or `NotTaken` if fewer than `s + 1` snaps
//!   have happened.
//! - `current(i)`: node `i`'s state.

use crate::history::{Op, Ret};

/// The state of the sequential array: current values and every snapshot taken.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Each node's current value key.
    pub current: Vec<u64>,
    /// Each snapshot, in id order: every node's value key at that snap.
    pub snaps: Vec<Vec<u64>>,
}

impl State {
    /// `nodes` nodes at 0 and no snapshot.
    pub fn new(nodes: usize) -> Self {
        State {
            current: vec![0; nodes],
            snaps: Vec::new(),
        }
    }

    /// Applies `op` and returns what the sequential array would return, or `None` if the
    /// operation is invalid on this array (an index out of range: such a history is never
    /// linearizable, since the recorder only keeps successful calls).
    pub fn step(&mut self, op: &Op) -> Option<Ret> {
        Some(match *op {
            Op::Set { idx, value } => {
                *self.current.get_mut(idx)? = value;
                Ret::Done
            }
            Op::Snap => {
                self.snaps.push(self.current.clone());
                Ret::Snap(self.snaps.len() as u64 - 1)
            }
            Op::Fetch { idx, snap } => {
                match usize::try_from(snap).ok().and_then(|s| self.snaps.get(s)) {
                    Some(values) => Ret::Value(*values.get(idx)?),
                    None => {
                        self.current.get(idx)?;
                        Ret::NotTaken
                    }
                }
            }
            Op::Current { idx } => Ret::Value(*self.current.get(idx)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_the_classic_solution() {
        let mut s = State::new(2);
        assert_eq!(s.step(&Op::Fetch { idx: 0, snap: 0 }), Some(Ret::NotTaken));
        assert_eq!(s.step(&Op::Set { idx: 1, value: 4 }), Some(Ret::Done));
        assert_eq!(s.step(&Op::Snap), Some(Ret::Snap(0)));
        assert_eq!(s.step(&Op::Set { idx: 1, value: 7 }), Some(Ret::Done));
        assert_eq!(s.step(&Op::Fetch { idx: 1, snap: 0 }), Some(Ret::Value(4)));
        assert_eq!(s.step(&Op::Fetch { idx: 0, snap: 0 }), Some(Ret::Value(0)));
        assert_eq!(s.step(&Op::Current { idx: 1 }), Some(Ret::Value(7)));
        assert_eq!(s.step(&Op::Snap), Some(Ret::Snap(1)));
        assert_eq!(s.step(&Op::Fetch { idx: 1, snap: 1 }), Some(Ret::Value(7)));
        assert_eq!(s.step(&Op::Fetch { idx: 1, snap: 2 }), Some(Ret::NotTaken));
        assert_eq!(s.step(&Op::Current { idx: 2 }), None);
        assert_eq!(s.step(&Op::Fetch { idx: 5, snap: 0 }), None);
    }
}
